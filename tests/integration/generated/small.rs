//! Small valid scenarios built from the documented keys (docs/scenario-reference.md).

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

#[derive(Clone, Debug)]
enum Dist {
    Constant(u32),
    Exponential(u32),
    Uniform(u32, u32),
    Lognormal(u32, u32),
    Pareto(u32, u32),
    Empirical,
    Mixture(Box<Dist>, Box<Dist>),
}

impl Dist {
    /// Its keys, as in an inline table (times in microseconds).
    fn keys(&self) -> String {
        match self {
            Dist::Constant(v) => format!("dist = \"constant\", value = \"{v}us\""),
            Dist::Exponential(m) => format!("dist = \"exponential\", mean = \"{}us\"", m + 1),
            Dist::Uniform(a, b) => {
                format!("dist = \"uniform\", min = \"{a}us\", max = \"{}us\"", a + b)
            }
            Dist::Lognormal(m, r) => format!(
                "dist = \"lognormal\", median = \"{}us\", p99 = \"{}us\"",
                m + 1,
                (m + 1) * (r + 2)
            ),
            Dist::Pareto(a, m) => format!(
                "dist = \"bounded-pareto\", alpha = {}.5, min = \"{}us\", max = \"{}ms\"",
                a,
                m + 1,
                m + 100
            ),
            Dist::Empirical => {
                "dist = \"empirical\", file = \"trace.csv\", column = \"ms\", unit = \"ms\"".into()
            }
            Dist::Mixture(a, b) => format!(
                "dist = \"mixture\", parts = [{{ weight = 0.25, {} }}, {{ weight = 0.75, {} }}]",
                a.keys(),
                b.keys()
            ),
        }
    }

    fn inline(&self) -> String {
        match self {
            Dist::Constant(v) => format!("\"{v}us\""),
            d => format!("{{ {} }}", d.keys()),
        }
    }
}

/// The trace the generated `empirical` distributions read, beside the scenario.
pub(super) const TRACE: &str = "ms,other\n0.5,1\n2,1\n1.25,1\n3ms,1\n";

fn dist() -> impl Strategy<Value = Dist> {
    let leaf = prop_oneof![
        (0u32..20_000).prop_map(Dist::Constant),
        (0u32..20_000).prop_map(Dist::Exponential),
        (0u32..5_000, 0u32..5_000).prop_map(|(a, b)| Dist::Uniform(a, b)),
        (0u32..5_000, 0u32..20).prop_map(|(m, r)| Dist::Lognormal(m, r)),
        (0u32..3, 0u32..1000).prop_map(|(a, m)| Dist::Pareto(a, m)),
        Just(Dist::Empirical),
    ];
    leaf.prop_recursive(2, 4, 2, |inner| {
        (inner.clone(), inner).prop_map(|(a, b)| Dist::Mixture(Box::new(a), Box::new(b)))
    })
}

#[derive(Clone, Debug)]
struct Group {
    count: u32,
    slots: u32,
    queue: Option<u32>,
    speed_tenths: u32,
    weight: u32,
}

#[derive(Clone, Debug)]
pub(super) struct Gen {
    seed: u64,
    duration_ms: u32,
    warmup_pct: Option<u32>,
    replications: u32,
    /// `Some((users, think))`: closed loop; else open at `rate` per second.
    closed: Option<(u32, Dist)>,
    rate: u32,
    timeout_ms: Option<u32>,
    classes: Vec<Dist>,
    groups: Vec<Group>,
    algorithm: Index,
    /// `(retries, upstream_timeout in ms)`.
    lb: Option<(u32, Option<u32>)>,
    /// `(target group, kind, at in ms)`.
    failure: Option<(Index, Index, u32)>,
    /// HAProxy-style active checks every so many ms.
    health: Option<u32>,
}

pub(super) fn small() -> impl Strategy<Value = Gen> {
    let group = (
        1u32..6,
        1u32..5,
        prop::option::of(0u32..50),
        1u32..30,
        0u32..4,
    )
        .prop_map(|(count, slots, queue, speed_tenths, weight)| Group {
            count,
            slots,
            queue,
            speed_tenths,
            weight,
        });
    let head = (
        any::<u64>(),
        100u32..3_000,
        prop::option::of(0u32..90),
        1u32..4,
        prop::option::of((1u32..40, dist())),
        1u32..3_000,
        prop::option::of(1u32..2_000),
    );
    let body = (
        prop::collection::vec(dist(), 1..4),
        prop::collection::vec(group, 1..4),
        any::<Index>(),
        prop::option::of((0u32..4, prop::option::of(1u32..500))),
        prop::option::of((any::<Index>(), any::<Index>(), 0u32..3_000)),
        prop::option::of(10u32..2_000),
    );
    (head, body).prop_map(
        |(
            (seed, duration_ms, warmup_pct, replications, closed, rate, timeout_ms),
            (classes, groups, algorithm, lb, failure, health),
        )| Gen {
            seed,
            duration_ms,
            warmup_pct,
            replications,
            closed,
            rate,
            timeout_ms,
            classes,
            groups,
            algorithm,
            lb,
            failure,
            health,
        },
    )
}

/// The algorithms `lblab list algorithms` names (each with its default parameters).
pub(super) fn algorithms() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let o = super::lblab(&["list", "algorithms", "--format", "json"]);
        let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
        let names: Vec<String> = v
            .as_array()
            .expect("an array")
            .iter()
            .map(|a| a["name"].as_str().expect("a name").to_string())
            .collect();
        assert!(names.len() >= 20, "{names:?}");
        names
    })
}

impl Gen {
    pub(super) fn toml(&self) -> String {
        let mut s = format!(
            "[scenario]\nname = \"generated\"\nseed = {}\nduration = \"{}ms\"\nreplications = {}\n",
            self.seed >> 1,
            self.duration_ms,
            self.replications
        );
        if let Some(p) = self.warmup_pct {
            s += &format!("warmup = \"{}ms\"\n", self.duration_ms * p / 100);
        }
        s += "\n[clients]\n";
        match &self.closed {
            Some((users, think)) => {
                s += &format!(
                    "mode = \"closed\"\nusers = {users}\nthink = {}\n",
                    think.inline()
                )
            }
            None => s += &format!("rate = \"{}/s\"\n", self.rate),
        }
        if let Some(t) = self.timeout_ms {
            s += &format!("timeout = \"{t}ms\"\n");
        }
        // Shares that sum to 1 exactly: halves, then the rest.
        let n = self.classes.len();
        for (i, d) in self.classes.iter().enumerate() {
            s += &format!("\n[[classes]]\nname = \"c{i}\"\n");
            if n > 1 {
                let share = if i + 1 == n {
                    0.5f64.powi(i as i32)
                } else {
                    0.5f64.powi(i as i32 + 1)
                };
                s += &format!("share = {share}\n");
            }
            s += &format!("service = {}\n", d.inline());
        }
        for (i, g) in self.groups.iter().enumerate() {
            // At least two servers of weight 1 in the first group: every algorithm (and
            // power-of-d's d = 2) has a choice.
            let (count, weight) = if i == 0 {
                (g.count.max(2), 1)
            } else {
                (g.count, g.weight)
            };
            s += &format!(
                "\n[[servers]]\nname = \"g{i}\"\ncount = {count}\nslots = {}\nspeed = {}\nweight = {weight}\n",
                g.slots,
                f64::from(g.speed_tenths) / 10.0,
            );
            if let Some(q) = g.queue {
                s += &format!("queue = {q}\n");
            }
        }
        let algs = algorithms();
        s += &format!(
            "\n[balancer]\nalgorithm = \"{}\"\n",
            algs[self.algorithm.index(algs.len())]
        );
        if let Some((retries, upstream)) = self.lb {
            s += &format!("\n[lb]\nretries = {retries}\n");
            if let Some(u) = upstream {
                s += &format!("upstream_timeout = \"{u}ms\"\n");
            }
        }
        if let Some((target, kind, at)) = &self.failure {
            let kinds = [
                "kind = \"crash\"",
                "kind = \"hang\"",
                "kind = \"slow\"\nfactor = 4",
                "kind = \"errors\"\nrate = 0.5",
                "kind = \"flap\"\nup = \"200ms\"\ndown = \"100ms\"",
                "kind = \"drain\"\ndelay = \"300ms\"",
            ];
            s += &format!(
                "\n[[failures]]\ntarget = \"g{}\"\n{}\nat = \"{at}ms\"\n",
                target.index(self.groups.len()),
                kinds[kind.index(kinds.len())]
            );
        }
        if let Some(inter) = self.health {
            s += &format!("\n[health.active]\ninter = \"{inter}ms\"\nrise = 2\nfall = 2\n");
        }
        s
    }
}
