//! Services that call services: call paths against closed forms (a tandem of an M/M/∞ web
//! tier and an M/M/1 app tier; the maximum and minimum of exponential fan-out calls), exact
//! counts of retries multiplying across tiers, and the errors a broken call graph gets.

use lblab::metrics::M;
use lblab::metrics::slices::{S, SliceRow};

use crate::support::{assert_matches, parse, problem_at, run, values};

/// The per-replication values of column `c` of slice `name`.
fn slice(a: &lblab::metrics::Aggregate, name: &str, c: S) -> Vec<f64> {
    a.reps
        .iter()
        .map(|r| {
            r.slices
                .iter()
                .find(|s: &&SliceRow| s.name == name)
                .unwrap_or_else(|| panic!("no slice {name}"))
                .get(c)
        })
        .collect()
}

/// A scenario: open-loop clients at `rate`, a 20 s warm-up (none with `warmup = false`),
/// then `body`.
pub(crate) fn scenario_w(
    rate: &str,
    duration: &str,
    replications: u32,
    warmup: bool,
    body: &str,
) -> lblab::scenario::Scenario {
    let warmup = if warmup { "20s" } else { "0s" };
    let text = format!(
        "[scenario]\nname = \"t\"\nseed = 7\nduration = \"{duration}\"\nwarmup = \"{warmup}\"\nreplications = {replications}\n\n[clients]\nmode = \"open\"\nrate = \"{rate}\"\n\n{body}"
    );
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn scenario(
    rate: &str,
    duration: &str,
    replications: u32,
    body: &str,
) -> lblab::scenario::Scenario {
    scenario_w(rate, duration, replications, true, body)
}

/// Web (ample workers: M/M/∞, whose departures are Poisson) calls app (one worker:
/// M/M/1 at λ = 100/s, μ = 125/s). A client waits E[web work] + 1/(μ − λ) = 5 + 40 ms.
#[test]
fn tandem_of_an_infinite_server_tier_and_an_mm1_tier() {
    let s = scenario(
        "100/s",
        "5000s",
        8,
        r#"
[[classes]]
service = { dist = "exponential", mean = "5ms" }
calls = ["app"]

[[servers]]
name = "web"
count = 1
slots = 10000

[[servers]]
name = "app"
count = 1
slots = 1

[[services]]
name = "web"

[[services]]
name = "app"
work = { dist = "exponential", mean = "8ms" }
"#,
    );
    let a = run(&s);
    let (lambda, mu) = (100.0, 125.0);
    assert_matches(
        "app sojourn, M/M/1 (ms)",
        &slice(&a, "app", S::LatencyMean),
        1e3 / (mu - lambda),
        0.0,
        0.05,
    );
    assert_matches(
        "client latency = web work + app sojourn (ms)",
        &values(&a, M::LatencyMean),
        5.0 + 1e3 / (mu - lambda),
        0.0,
        0.05,
    );
    assert_matches(
        "app queue wait, M/M/1 (ms)",
        &slice(&a, "app", S::WaitMean),
        1e3 * lambda / (mu * (mu - lambda)),
        0.0,
        0.06,
    );
    // The latency broken down by hop: web's own time is its work, app's its sojourn.
    let hop = |service: &str| -> Vec<f64> {
        a.reps
            .iter()
            .map(|r| {
                r.hops
                    .iter()
                    .find(|h| h.service == service)
                    .expect("hop")
                    .self_ms_per_client_request
            })
            .collect()
    };
    assert_matches("web's own time (ms)", &hop("web"), 5.0, 0.0, 0.03);
    assert_matches(
        "app's own time (ms)",
        &hop("app"),
        1e3 / (mu - lambda),
        0.0,
        0.05,
    );
}

/// Three parallel calls to services with exponential work of mean m and ample workers:
/// waiting for all takes E[max] = m·(1 + 1/2 + 1/3); waiting for the first takes m/3.
#[test]
fn fan_out_waits_for_the_max_or_the_min() {
    let body = |wait_for: u32| {
        format!(
            r#"
[[classes]]
service = {{ dist = "constant", value = "1ms" }}
calls = ["a", "b", "c"]
parallel = true
wait_for = {wait_for}

[[servers]]
name = "gw"
slots = 100000
[[servers]]
name = "a"
slots = 100000
[[servers]]
name = "b"
slots = 100000
[[servers]]
name = "c"
slots = 100000

[[services]]
name = "gw"
[[services]]
name = "a"
work = {{ dist = "exponential", mean = "10ms" }}
[[services]]
name = "b"
work = {{ dist = "exponential", mean = "10ms" }}
[[services]]
name = "c"
work = {{ dist = "exponential", mean = "10ms" }}
"#
        )
    };
    let all = run(&scenario("200/s", "300s", 6, &body(3)));
    assert_matches(
        "fan-out to 3, wait for all: 1 + 10·H3 (ms)",
        &values(&all, M::LatencyMean),
        1.0 + 10.0 * (1.0 + 0.5 + 1.0 / 3.0),
        0.0,
        0.02,
    );
    let first = run(&scenario("200/s", "300s", 6, &body(1)));
    assert_matches(
        "fan-out to 3, wait for the first: 1 + 10/3 (ms)",
        &values(&first, M::LatencyMean),
        1.0 + 10.0 / 3.0,
        0.0,
        0.02,
    );
}

/// A three-service scenario to break: web → app → db.
pub(crate) const GOOD: &str = r#"[scenario]
duration = "10s"

[clients]
rate = "100/s"

[[classes]]
name = "read"
service = "1ms"
calls = ["app"]

[classes.hops.app]
work = "2ms"
calls = [{ to = "db", timeout = "100ms" }]

[[servers]]
name = "web"
count = 2

[[servers]]
name = "app"
count = 2

[[servers]]
name = "db"
count = 1

[[services]]
name = "web"

[[services]]
name = "app"

[[services]]
name = "db"
work = "3ms"
"#;

/// Replaces `from` with `to` in GOOD; the problem at `path` is on `line` and says each of
/// `needles` (message or hint); the rendered error names the file and line.
fn broken(from: &str, to: &str, path: &str, line: usize, needles: &[&str]) {
    assert!(GOOD.contains(from), "{from}");
    let e = match parse(&GOOD.replacen(from, to, 1)) {
        Ok(_) => panic!("replacing {from:?} with {to:?} should be an error"),
        Err(e) => e,
    };
    let p = e
        .problems
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no problem at {path}: {e}"));
    let (l, _) = e.line_col(p).unwrap_or_else(|| panic!("no position: {e}"));
    assert_eq!(l, line, "{e}");
    let text = format!("{} {}", p.message, p.hint.clone().unwrap_or_default());
    for n in needles {
        assert!(text.contains(n), "{path}: {text:?} lacks {n:?}");
    }
    assert!(e.to_string().contains(&format!("test.toml:{line}:")), "{e}");
}

#[test]
fn the_good_call_graph_parses() {
    let s = parse(GOOD).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.world.services.len(), 3);
    let hops = &s.world.classes[0].hops;
    assert_eq!(hops[0].calls[0].to, 1);
    assert_eq!(hops[1].calls[0].to, 2);
    assert!(hops[2].work.is_some(), "db's default work fills the hop");
}

#[test]
fn a_broken_call_graph_is_reported_where_it_is_written() {
    // An unknown service, with a suggestion.
    broken(
        "calls = [\"app\"]",
        "calls = [\"ap\"]",
        "classes[0].calls[0]",
        10,
        &["no service named \"ap\"", "did you mean `app`?"],
    );
    // A cycle, named.
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\n\n[classes.hops.db]\ncalls = [\"web\"]",
        "classes[0]",
        7,
        &["calls in a cycle: web → app → db → web"],
    );
    // A fan-out waiting for more calls than it makes.
    broken(
        "calls = [\"app\"]",
        "calls = [\"app\"]\nparallel = true\nwait_for = 2",
        "classes[0].wait_for",
        12,
        &["at most the number of calls (1), found 2"],
    );
    // wait_for without parallel.
    broken(
        "calls = [\"app\"]",
        "calls = [\"app\"]\nwait_for = 1",
        "classes[0].wait_for",
        11,
        &["in parallel"],
    );
    // A service with no servers that take traffic.
    broken(
        "name = \"db\"\ncount = 1",
        "name = \"db\"\ncount = 1\nweight = 0",
        "classes[0]",
        7,
        &["calls service \"db\", which has no servers to take it"],
    );
    // A called service without work for this class.
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"",
        "classes[0]",
        7,
        &["no work is given", "[classes.hops.db]"],
    );
    // A group that serves no service, and one that serves two.
    broken(
        "[[services]]\nname = \"db\"",
        "[[services]]\nname = \"db\"\ngroups = [\"app\"]",
        "services[2].groups",
        36,
        &["already serves another service"],
    );
    // A hop for a service the class never calls.
    broken(
        "calls = [{ to = \"db\", timeout = \"100ms\" }]",
        "calls = []\n\n[classes.hops.db]\nwork = \"1ms\"",
        "classes[0].hops.db",
        7,
        &["never calls \"db\""],
    );
    // An L4 edge cannot send classes to different services by path.
    let two_entries = GOOD.replace(
        "[[servers]]\nname = \"web\"",
        "[lb]\nlayer = \"l4\"\n\n[[classes]]\nname = \"direct\"\nentry = \"app\"\nservice = \"1ms\"\n\n[[servers]]\nname = \"web\"",
    );
    let e = parse(
        &two_entries
            .replacen("name = \"read\"\n", "name = \"read\"\nshare = 0.5\n", 1)
            .replacen("name = \"direct\"\n", "name = \"direct\"\nshare = 0.5\n", 1),
    )
    .expect_err("l4 routing by path");
    assert!(
        e.problems
            .iter()
            .any(|p| p.path == "classes[1].entry" && p.message.contains("cannot route by path")),
        "{e}"
    );
    // Internal tiers have no HA topology.
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\nlb = { topology = \"active-passive\" }",
        "services[2].lb.topology",
        37,
        &["belong to the edge tier"],
    );
    // An internal tier may be layer 4, and then it cannot retry on statuses.
    let l4 = GOOD.replace(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\nlb = { layer = \"l4\" }",
    );
    parse(&l4).unwrap_or_else(|e| panic!("{e}"));
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\nlb = { layer = \"l4\", retries = 1, retry_on = [\"5xx\"] }",
        "services[2].lb.layer",
        37,
        &["layer-4 load balancer cannot do this", "5xx"],
    );
    // A reused section reader reports its keys under the service.
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\nlb = { nodes = 0 }",
        "services[2].lb.nodes",
        37,
        &["expected"],
    );
}

#[test]
fn a_session_store_service_is_called_first_at_the_entry() {
    let shared = GOOD.to_string() + "\n[sessions]\nstate = \"shared\"\nstore = \"db\"\n";
    let s = parse(&shared).unwrap_or_else(|e| panic!("{e}"));
    let entry = &s.world.classes[0].hops[0];
    let to: Vec<usize> = entry.calls.iter().map(|c| c.to).collect();
    assert_eq!(
        to,
        [2, 1],
        "the lookup (db) comes before the class's own call (app)"
    );
    assert_eq!(s.world.sessions.store_latency, None);
    // Under tokens the store is named but not called.
    let token = shared.replace("state = \"shared\"", "state = \"token\"");
    let s = parse(&token).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.world.classes[0].hops[0].calls.len(), 1);
}

#[test]
fn a_broken_session_store_is_reported_where_it_is_written() {
    let with = |sessions: &str| GOOD.to_string() + "\n[sessions]\n" + sessions;
    let problem = |text: &str, path: &str, needle: &str| {
        let (e, _) = problem_at(text, path, needle);
        assert!(e.to_string().contains("test.toml:"), "{e}");
    };
    problem(
        &with("state = \"shared\"\nstore = \"dbb\"\n"),
        "sessions.store",
        "did you mean `db`?",
    );
    problem(
        &with("state = \"shared\"\nstore = \"db\"\nstore_latency = \"1ms\"\n"),
        "sessions.store_latency",
        "give one",
    );
    problem(
        &with("state = \"shared\"\nstore = \"db\"\n")
            .replace("calls = [\"app\"]", "calls = [\"app\"]\nparallel = true"),
        "classes[0].parallel",
        "session store lookup is the first call",
    );
    problem(
        &with("state = \"shared\"\nstore = \"web\"\n"),
        "classes[0]",
        "web → web",
    );
    // Without services, the store cannot be one.
    let one = "[scenario]\nduration = \"10s\"\n[clients]\nrate = \"10/s\"\n[[classes]]\nservice = \"1ms\"\n[[servers]]\nname = \"a\"\n[sessions]\nstate = \"shared\"\nstore = \"redis\"\n";
    problem(one, "sessions.store", "no [[services]]");
}

/// Web calls the database directly for one class, and through app for the other; the
/// database is partitioned from app alone between 20 s and 40 s.
fn partitioned(from: &str) -> lblab::scenario::Scenario {
    scenario_w(
        "100/s",
        "60s",
        2,
        false,
        &format!(
            r#"[[classes]]
name = "direct"
share = 0.5
service = "1ms"
calls = [{{ to = "db", timeout = "500ms" }}]

[[classes]]
name = "via-app"
share = 0.5
service = "1ms"
calls = ["app"]

[classes.hops.app]
work = "1ms"
calls = [{{ to = "db", timeout = "500ms" }}]

[[servers]]
name = "web"
count = 2
slots = 64

[[servers]]
name = "app"
count = 2
slots = 64

[[servers]]
name = "db"
count = 1

[[services]]
name = "web"

[[services]]
name = "app"

[[services]]
name = "db"
work = "1ms"
health = {{ active = {{ check = "http", inter = "1s" }} }}

[[failures]]
target = "db-1"
kind = "partition"
{from}
at = "20s"
duration = "20s"
"#
        ),
    )
}

#[test]
fn a_partition_from_one_service_cuts_only_its_calls() {
    let r = run(&partitioned("from = [\"app\"]"));
    // Calls from app vanish and time out: the via-app class fails for the 20 s (1000 of
    // its ≈ 3000 requests), the direct class not at all...
    for rep in &r.reps {
        let errs = |class: &str| {
            rep.slices
                .iter()
                .find(|s| s.name == class)
                .expect("class")
                .get(S::Errors)
        };
        assert_eq!(errs("direct"), 0.0);
        assert!(
            (900.0..1100.0).contains(&errs("via-app")),
            "{}",
            errs("via-app")
        );
        // ...and the database's own tier, which still reaches it, never marks it down.
        assert!(
            rep.health.iter().all(|h| h.tier != "db"),
            "{:?}",
            rep.health
        );
    }
    // Cut from everyone, both classes fail and the database's tier notices.
    let r = run(&partitioned(""));
    for rep in &r.reps {
        assert!(
            rep.health
                .iter()
                .any(|h| h.tier == "db" && h.state == "down")
        );
    }
}

#[test]
fn a_partition_from_an_unknown_service_is_reported() {
    broken(
        "[[services]]\nname = \"db\"",
        "[[failures]]\ntarget = \"db-1\"\nkind = \"partition\"\nfrom = [\"ap\"]\nat = \"1s\"\n\n[[services]]\nname = \"db\"",
        "failures[0].from[0]",
        37,
        &["no service named \"ap\"", "did you mean `app`?"],
    );
    broken(
        "[[services]]\nname = \"db\"",
        "[[failures]]\ntarget = \"db-1\"\nkind = \"crash\"\nfrom = [\"app\"]\nat = \"1s\"\n\n[[services]]\nname = \"db\"",
        "failures[0].from",
        37,
        &["unknown key"],
    );
}

#[test]
fn offered_work_per_service_follows_the_call_plan() {
    // three-tier: 500/s, 20% writes of 35 ms each on one primary with 4 workers: 87.5%;
    // 80% reads at the replicas (2 × 8 workers): 500 · 0.8 · E[lognormal median 4 ms, p99
    // 20 ms] / 16; app: every request, 6 ms over 6 × 16 workers.
    let path = crate::support::root().join("scenarios/three-tier.toml");
    let s = lblab::scenario::load(&path, &[], &|p| std::fs::read_to_string(p))
        .unwrap_or_else(|e| panic!("{e}"));
    let loads = s.world.service_loads(500.0);
    let get = |n: &str| loads.iter().find(|(s, _)| s == n).unwrap().1;
    assert!((get("db-primary") - 0.875).abs() < 1e-9);
    assert!((get("app") - 500.0 * 0.006 / 96.0).abs() < 1e-9);
    assert!((get("web") - 500.0 * 0.002 / 128.0).abs() < 1e-9);
    let sigma = (20.0f64 / 4.0).ln() / 2.326_347_874;
    let replica_mean = 0.004 * (sigma * sigma / 2.0).exp();
    assert!((get("db-replica") - 500.0 * 0.8 * replica_mean / 16.0).abs() < 1e-3);
}

/// Each tier reports on its own interval: an internal tier with fresh reports balances
/// well even when the edge's reports are stale (one shared interval would give it the
/// edge's 10 s and herd every call onto one server).
#[test]
fn each_tier_has_its_own_report_interval() {
    let run_with = |interval: &str| {
        let s = scenario(
            "200/s",
            "120s",
            2,
            &format!(
                r#"[lb]
view = "reported"
report_interval = "10s"

[[classes]]
service = "1ms"
calls = ["app"]

[[servers]]
name = "web"
count = 1
slots = 1000

[[servers]]
name = "app"
count = 4
slots = 1

[balancer]
algorithm = "least-connections"
max_fails = 0

[[services]]
name = "web"

[[services]]
name = "app"
work = {{ dist = "exponential", mean = "10ms" }}
lb = {{ view = "reported", report_interval = "{interval}" }}
"#
            ),
        );
        let a = run(&s);
        slice(&a, "app", S::LatencyMean)
    };
    let fresh = run_with("100ms");
    let stale = run_with("10s");
    for (f, st) in fresh.iter().zip(&stale) {
        assert!(
            *st > 5.0 * f,
            "app latency {st:.1} ms (10 s reports) vs {f:.1} ms (100 ms)"
        );
    }
}
