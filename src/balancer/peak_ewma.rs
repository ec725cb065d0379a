//! Peak-EWMA with power-of-two-choices selection, as Finagle's `p2cPeakEwma` and tower's
//! (linkerd2-proxy's) `PeakEwma` + `p2c` balancer: each backend's load is a latency
//! estimate that jumps to any higher response time at once and decays back towards lower
//! ones with time constant τ, multiplied by the requests in flight plus one; each request
//! compares two distinct random backends and goes to the less loaded.

use super::least_response_time::PerBackend;
use super::{
    AlgorithmInfo, Balancer, EligibleSet, Outcome, ParamDef, ParamKind, ParamValue, PoolView,
    RequestInfo,
};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "peak-ewma",
    aliases: &["p2c-peak-ewma", "ewma"],
    summary: "two distinct random backends, the lower peak-EWMA latency × (in flight + 1) wins (Finagle p2cPeakEwma; tower/linkerd with default_rtt)",
    source: "Finagle finagle-core/.../loadbalancer/PeakEwma.scala + p2c/P2CPick.scala; tower tower/src/load/peak_ewma.rs",
    params: &[
        ParamDef {
            key: "decay",
            kind: ParamKind::Duration {
                min: SimTime(1),
                max: SimTime::from_secs(3600),
            },
            default: ParamValue::Duration(SimTime::from_secs(10)),
            doc: "time constant τ of the latency estimate (Finagle decayTime, tower decay; 10 s in both)",
        },
        ParamDef {
            key: "default_rtt",
            kind: ParamKind::Duration {
                min: SimTime::ZERO,
                max: SimTime::from_secs(3600),
            },
            default: ParamValue::Duration(SimTime::ZERO),
            doc: "initial estimate: 0 = Finagle (unmeasured busy backends get a huge penalty); > 0 = tower/linkerd (linkerd uses 30ms)",
        },
    ],
    build: |p, rng| {
        Box::new(PeakEwma::new(
            p.duration("decay"),
            p.duration("default_rtt"),
            rng,
        ))
    },
}];

/// Finagle's penalty for a backend with requests in flight but no latency yet:
/// `Long.MaxValue >> 16` = 2^47 − 1 ns (about 39 hours), exactly representable in `f64`.
pub const PENALTY: f64 = (i64::MAX >> 16) as f64;

/// The peak-EWMA cost model of one backend.
///
/// Follows `Metric` in Finagle's `PeakEwma.scala` and `RttEstimate` in tower's
/// `tower/src/load/peak_ewma.rs`. State: `cost` (ns), `stamp` (time of the last update).
///
/// * [`observe`](Self::observe) of a response time `r` at `t`: `w = exp(−(t − stamp)/τ)`;
///   `cost = r` if `r > cost` (the peak is adopted at once), else `cost·w + r·(1 − w)`;
///   `stamp = t`. Time running backwards counts as no time (Finagle's `max(t − stamp, 0)`).
/// * [`load`](Self::load) at `t` with `pending` requests in flight first observes `r = 0`
///   (pure decay, which also moves `stamp`), then returns `Penalty + pending` if `cost == 0`
///   and `pending > 0` (Finagle only: see [`PENALTY`]), else `cost·(pending + 1)`.
///
/// With `default_rtt == 0` the cost starts at 0 (Finagle); with `default_rtt > 0` it starts
/// at that estimate and the penalty branch is off (tower, whose load is always
/// `estimate·(pending + 1)`). The decay is computed in `f64` nanoseconds from the integer
/// time difference.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct PeakEwmaCost {
    /// Latency estimate in nanoseconds.
    cost: f64,
    /// Time of the last observation (including the pure-decay ones of `load`).
    stamp: SimTime,
    /// Time constant τ in nanoseconds.
    tau_ns: f64,
    /// Finagle's penalty for unmeasured busy backends (only when `default_rtt == 0`).
    penalty: bool,
}

impl PeakEwmaCost {
    /// A fresh estimate created at `now` with time constant `decay` (at least 1 ns) and
    /// initial estimate `default_rtt` (0: Finagle semantics with the penalty).
    pub fn new(now: SimTime, decay: SimTime, default_rtt: SimTime) -> Self {
        PeakEwmaCost {
            cost: default_rtt.as_nanos() as f64,
            stamp: now,
            tau_ns: decay.as_nanos().max(1) as f64,
            penalty: default_rtt == SimTime::ZERO,
        }
    }

    /// Feeds the response time `rtt` observed at `now` into the estimate.
    pub fn observe(&mut self, now: SimTime, rtt: SimTime) {
        self.observe_ns(now, rtt.as_nanos() as f64);
    }

    fn observe_ns(&mut self, now: SimTime, r: f64) {
        let dt = now.saturating_sub(self.stamp).as_nanos() as f64;
        let w = (-dt / self.tau_ns).exp();
        self.cost = if r > self.cost {
            r
        } else {
            self.cost * w + r * (1.0 - w)
        };
        self.stamp = now;
    }

    /// The load at `now` with `pending` requests in flight (decays the estimate first).
    pub fn load(&mut self, now: SimTime, pending: u32) -> f64 {
        self.observe_ns(now, 0.0);
        if self.penalty && self.cost == 0.0 && pending > 0 {
            PENALTY + f64::from(pending)
        } else {
            self.cost * (f64::from(pending) + 1.0)
        }
    }

    /// The current estimate in nanoseconds (as of the last update; no decay applied). The
    /// balancer reads it through [`load`](Self::load); this is for tests and `lblab trace`.
    pub fn cost_ns(&self) -> f64 {
        self.cost
    }
}

/// Peak-EWMA load with a power-of-two-choices pick.
///
/// Follows Finagle's `Balancers.p2cPeakEwma` (`finagle-core/.../loadbalancer/PeakEwma.scala`
/// for the load, `p2c/P2CPick.scala` `pick` for the choice) and tower's
/// `tower/src/load/peak_ewma.rs` as used by linkerd2-proxy. Each backend has a
/// [`PeakEwmaCost`]; `pending` is this load balancer's in-flight count from the pool.
///
/// A pick draws two **distinct** eligible backends uniformly (`a = below(m)`,
/// `b = below(m − 1)`, `b += 1` if `b ≥ a`, as `P2CPick`), queries `load` of `a` then `b`
/// (each query decays that backend's estimate to `now`), and returns `a` if its load is
/// strictly lower, else `b`: ties go to the second node, as in Finagle. A single eligible
/// backend is returned without drawing or querying. Finagle also prefers the node with
/// the better health status; here unhealthy backends are simply not eligible. Weights are
/// ignored except that weight 0 is ineligible (as `p2cPeakEwma`).
///
/// Every finished request is observed, successful or not, with the load balancer's own
/// response time (`Outcome::rtt`): Finagle times every request (`Metric.end` runs on
/// success and failure) and tower's `Handle` records the time when dropped either way.
///
/// Defaults: `decay` = **10 s** (`p2cPeakEwma` `decayTime`; linkerd2-proxy also uses 10 s),
/// `default_rtt` = **0** (Finagle: the cost starts at 0 and an unmeasured backend with
/// requests in flight costs [`PENALTY`]` + pending`, so new backends get one probe request
/// at a time until they are measured). `default_rtt > 0` gives tower/linkerd semantics
/// (linkerd2-proxy uses 30 ms): the estimate starts there and decays, and there is no
/// penalty. State is keyed by backend id; a new backend's estimate is created when the
/// balancer first sees it (with `stamp` = that time), and is dropped when it leaves the
/// pool.
#[derive(Clone, Debug)]
pub struct PeakEwma {
    decay: SimTime,
    default_rtt: SimTime,
    rng: SimRng,
    costs: PerBackend<PeakEwmaCost>,
    /// Indices of eligible backends, kept while the pool's epoch stays the same.
    eligible: EligibleSet,
}

impl PeakEwma {
    /// Peak-EWMA P2C with time constant `decay` and initial estimate `default_rtt`
    /// (0 for Finagle semantics), drawing from `rng`.
    pub fn new(decay: SimTime, default_rtt: SimTime, rng: SimRng) -> Self {
        PeakEwma {
            decay,
            default_rtt,
            rng,
            costs: PerBackend::new(),
            eligible: EligibleSet::default(),
        }
    }

    fn sync(&mut self, now: SimTime, pool: &PoolView<'_>) {
        let (decay, default_rtt) = (self.decay, self.default_rtt);
        self.costs
            .sync(pool, || PeakEwmaCost::new(now, decay, default_rtt));
    }
}

impl Balancer for PeakEwma {
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        _req: &RequestInfo,
    ) -> Option<super::Explanation> {
        (self.costs.len() == pool.len() && !pool.is_empty()).then(|| {
            let c = (0..pool.len())
                .map(|i| {
                    let ms = self.costs.get(i).cost_ns() * 1e-6;
                    (pool.backends[i].id, format!("{ms:.2}ms"))
                })
                .collect();
            super::Explanation::per_backend("peak EWMA (at last update)", c)
        })
    }

    fn pick(&mut self, now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        self.sync(now, pool);
        let backends = pool.backends;
        let m = self.eligible.of(pool).len();
        match m {
            0 => return None,
            1 => return Some(self.eligible.nth(0)),
            _ => {}
        }
        let a = self.rng.below(m as u64) as usize;
        let mut b = self.rng.below(m as u64 - 1) as usize;
        if b >= a {
            b += 1;
        }
        let (a, b) = (self.eligible.nth(a), self.eligible.nth(b));
        let load_a = self.costs.get_mut(a).load(now, backends[a].in_flight);
        let load_b = self.costs.get_mut(b).load(now, backends[b].in_flight);
        Some(if load_a < load_b { a } else { b })
    }

    fn on_response(&mut self, now: SimTime, pool: &PoolView<'_>, index: usize, outcome: Outcome) {
        self.sync(now, pool);
        if index < self.costs.len() {
            self.costs.get_mut(index).observe(now, outcome.rtt);
        }
    }

    fn on_pool_change(&mut self, now: SimTime, pool: &PoolView<'_>) {
        self.sync(now, pool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::Backend;
    use crate::balancer::testutil::{counts, in_flight, rng};

    const MS: f64 = 1e6;

    fn ms(x: u64) -> SimTime {
        SimTime::from_millis(x)
    }

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    fn pick(lb: &mut PeakEwma, now: SimTime, b: &[Backend]) -> Option<usize> {
        lb.pick(now, &PoolView::new(b), &RequestInfo::default())
    }

    fn respond(lb: &mut PeakEwma, now: SimTime, b: &[Backend], i: usize, rtt: SimTime) {
        lb.on_response(now, &PoolView::new(b), i, Outcome::new(true, rtt));
    }

    #[test]
    fn tower_compound_decay_vector() {
        // tower peak_ewma.rs `compound_decay`: τ = 1 s, default RTT 20 ms.
        let mut c = PeakEwmaCost::new(SimTime::ZERO, SimTime::from_secs(1), ms(20));
        assert_eq!(c.load(SimTime::ZERO, 0), 20.0 * MS);
        // t = 0.1: request #1 sent. 20·e^-0.1·2 = 36.193 ms > 20 ms.
        let l = c.load(ms(100), 1);
        assert!(l > 20.0 * MS, "{l}");
        assert!(close(l, 20.0 * MS * (-0.1f64).exp() * 2.0, 1e-12), "{l}");
        // t = 0.2: #2 sent. 20·e^-0.2·3 = 49.124 ms > 40 ms.
        let l = c.load(ms(200), 2);
        assert!(l > 40.0 * MS, "{l}");
        assert!(close(l, 20.0 * MS * (-0.2f64).exp() * 3.0, 1e-12), "{l}");
        // t = 0.3: #1 completes after 200 ms, a peak: 200·2 = 400 ms.
        c.observe(ms(300), ms(200));
        assert_eq!(c.load(ms(300), 1), 400.0 * MS);
        // t = 0.4: #2 completes after 200 ms: 200 ms.
        c.observe(ms(400), ms(200));
        assert!(close(c.load(ms(400), 0), 200.0 * MS, 1e-12));
        // Then it decays: < 100 ms after 1 s more, < 0.1 ms after 10 s more.
        assert!(c.load(ms(1400), 0) < 100.0 * MS);
        assert!(c.load(ms(11_400), 0) < 0.1 * MS);
    }

    #[test]
    fn tower_default_decay_vector() {
        // tower `default_decay`: τ = 1 s, default 10 ms decays with no traffic.
        let mut c = PeakEwmaCost::new(SimTime::ZERO, SimTime::from_secs(1), ms(10));
        assert_eq!(c.load(SimTime::ZERO, 0), 10.0 * MS);
        let l = c.load(ms(100), 0);
        assert!(9.0 * MS < l && l < 10.0 * MS, "{l}");
        let l = c.load(ms(200), 0);
        assert!(8.0 * MS < l && l < 9.0 * MS, "{l}");
        // Never the penalty in tower mode, even once the estimate underflows to 0.
        let l = c.load(SimTime::from_secs(3600), 3);
        assert_eq!(l, 0.0);
    }

    #[test]
    fn finagle_vectors() {
        let tau = SimTime::from_secs(10);
        // 100 ms, then 20 ms 0.1 s later: 100·e^-0.01 + 20·(1 − e^-0.01) = 99.204 ms.
        let mut c = PeakEwmaCost::new(SimTime::ZERO, tau, SimTime::ZERO);
        c.observe(SimTime::ZERO, ms(100));
        assert_eq!(c.cost_ns(), 100.0 * MS);
        c.observe(ms(100), ms(20));
        let w = (-0.01f64).exp();
        assert!(close(
            c.cost_ns(),
            (100.0 * w + 20.0 * (1.0 - w)) * MS,
            1e-12
        ));
        assert!(
            (c.cost_ns() / MS - 99.204).abs() < 0.0005,
            "{}",
            c.cost_ns()
        );

        // A 100 ms peak decayed 10 s: 100/e = 36.788 ms; with 2 pending 3× = 110.364 ms.
        let mut c = PeakEwmaCost::new(SimTime::ZERO, tau, SimTime::ZERO);
        c.observe(SimTime::ZERO, ms(100));
        let l0 = c.load(SimTime::from_secs(10), 0);
        assert!(close(l0, 100.0 * MS / std::f64::consts::E, 1e-12), "{l0}");
        assert!((l0 / MS - 36.788).abs() < 0.0005, "{l0}");
        let l2 = c.load(SimTime::from_secs(10), 2);
        assert!(close(l2, 3.0 * l0, 1e-15), "{l2}");
        assert!((l2 / MS - 110.364).abs() < 0.0005, "{l2}");

        // Cost 0 with 1 pending: Penalty + 1; with none: 0.
        assert_eq!(PENALTY, 140_737_488_355_327.0);
        let mut c = PeakEwmaCost::new(SimTime::ZERO, tau, SimTime::ZERO);
        assert_eq!(c.load(SimTime::from_secs(5), 1), PENALTY + 1.0);
        assert_eq!(c.load(SimTime::from_secs(5), 4), PENALTY + 4.0);
        assert_eq!(c.load(SimTime::from_secs(5), 0), 0.0);
    }

    #[test]
    fn peaks_are_adopted_and_lower_samples_averaged() {
        let mut c = PeakEwmaCost::new(SimTime::ZERO, SimTime::from_secs(10), SimTime::ZERO);
        c.observe(ms(10), ms(50));
        c.observe(ms(20), ms(500));
        assert_eq!(c.cost_ns(), 500.0 * MS);
        // Same instant, lower sample: weight 0.
        c.observe(ms(20), ms(1));
        assert_eq!(c.cost_ns(), 500.0 * MS);
        // Time running backwards counts as none.
        c.observe(ms(5), ms(1));
        assert_eq!(c.cost_ns(), 500.0 * MS);
    }

    #[test]
    fn picks_the_faster_of_two() {
        let b = in_flight(&[0, 0]);
        let mut lb = PeakEwma::new(SimTime::from_secs(10), SimTime::ZERO, rng());
        respond(&mut lb, SimTime::ZERO, &b, 0, ms(100));
        respond(&mut lb, SimTime::ZERO, &b, 1, ms(10));
        assert_eq!(counts(&mut lb, &b, 1000), [0, 1000]);
        // Until b is more than 10× busier: 10·(f + 1) vs 100.
        assert_eq!(counts(&mut lb, &in_flight(&[0, 8]), 100), [0, 100]);
        assert_eq!(counts(&mut lb, &in_flight(&[0, 10]), 100), [100, 0]);
    }

    #[test]
    fn two_distinct_choices_over_three() {
        // Costs 100, 10, 50 ms, all idle: a never wins; b wins whenever sampled (2/3);
        // c wins in the pair {a, c} (1/3). 30_000 picks: sd of Binomial(30000, 1/3) =
        // 81.6; tolerance 5 sd.
        let b = in_flight(&[0, 0, 0]);
        let mut lb = PeakEwma::new(SimTime::from_secs(10), SimTime::ZERO, rng());
        for (i, r) in [(0, 100), (1, 10), (2, 50)] {
            respond(&mut lb, SimTime::ZERO, &b, i, ms(r));
        }
        let n = 30_000;
        let c = counts(&mut lb, &b, n);
        assert_eq!(c[0], 0, "{c:?}");
        let sd = (n as f64 * (1.0 / 3.0) * (2.0 / 3.0)).sqrt();
        assert!((f64::from(c[2]) - n as f64 / 3.0).abs() < 5.0 * sd, "{c:?}");
    }

    #[test]
    fn ties_go_to_the_second_draw() {
        // Finagle P2CPick: `if (nodeA.load < nodeB.load) nodeA else nodeB`. All fresh and
        // idle: every load is 0, so the second draw always wins.
        let b = in_flight(&[0, 0, 0, 0, 0]);
        let mut lb = PeakEwma::new(SimTime::from_secs(10), SimTime::ZERO, rng());
        let mut reference = rng();
        for k in 0..200 {
            let i = reference.below(5);
            let mut j = reference.below(4);
            if j >= i {
                j += 1;
            }
            assert_eq!(pick(&mut lb, ms(k), &b), Some(j as usize));
        }
    }

    #[test]
    fn a_slow_backends_peak_decays_away() {
        // τ = 1 s. a spikes to 1 s at t = 0, then answers in 10 ms every 10 ms; b answers
        // in 50 ms. a's cost is 10 + 990·e^(−t/τ) ms, below b's 50 ms from
        // t = τ·ln(990/40) = 3.2088 s: b wins every pick until 3.20 s, a from 3.21 s.
        let b = in_flight(&[0, 0]);
        let mut lb = PeakEwma::new(SimTime::from_secs(1), SimTime::ZERO, rng());
        respond(&mut lb, SimTime::ZERO, &b, 0, ms(1000));
        respond(&mut lb, SimTime::ZERO, &b, 1, ms(50));
        let mut first_a = None;
        for k in 1..=500u64 {
            let t = ms(10 * k);
            respond(&mut lb, t, &b, 0, ms(10));
            respond(&mut lb, t, &b, 1, ms(50));
            let want = 10.0 + 990.0 * (-t.as_secs_f64()).exp();
            assert!(close(lb.costs.get(0).cost_ns() / MS, want, 1e-9));
            let got = pick(&mut lb, t, &b);
            match first_a {
                None if got == Some(0) => first_a = Some(t),
                None => assert_eq!(got, Some(1)),
                Some(_) => assert_eq!(got, Some(0), "t={t}"),
            }
        }
        assert_eq!(first_a, Some(ms(3210)));
    }

    #[test]
    fn finagle_penalty_for_unmeasured_busy_backends() {
        // a measured at 1 s; b never measured. Idle b costs 0 and wins; with one request
        // in flight it costs Penalty + 1 and loses to anything measured.
        let mut lb = PeakEwma::new(SimTime::from_secs(10), SimTime::ZERO, rng());
        let idle = in_flight(&[0, 0]);
        respond(&mut lb, SimTime::ZERO, &idle, 0, SimTime::from_secs(1));
        assert_eq!(counts(&mut lb, &idle, 100), [0, 100]);
        assert_eq!(counts(&mut lb, &in_flight(&[50, 1]), 100), [100, 0]);
    }

    #[test]
    fn tower_mode_starts_at_default_rtt() {
        // default_rtt 30 ms (linkerd): an unmeasured backend costs 30·(f + 1), no penalty.
        let mut lb = PeakEwma::new(SimTime::from_secs(10), ms(30), rng());
        let b = in_flight(&[0, 0]);
        respond(&mut lb, SimTime::ZERO, &b, 0, ms(40));
        // a: 40·2 = 80 vs b: 30·3 = 90 → a; a: 40·2 = 80 vs b: 30·2 = 60 → b.
        assert_eq!(counts(&mut lb, &in_flight(&[1, 2]), 100), [100, 0]);
        assert_eq!(counts(&mut lb, &in_flight(&[1, 1]), 100), [0, 100]);
        assert_eq!(lb.costs.get(1).cost_ns(), 30.0 * MS);
    }

    #[test]
    fn never_picks_ineligible() {
        let mut lb = PeakEwma::new(SimTime::from_secs(10), SimTime::ZERO, rng());
        let mut b = in_flight(&[0, 0, 5, 7, 6]);
        for (i, r) in [(0, 1), (1, 1), (2, 500), (3, 400), (4, 300)] {
            respond(&mut lb, SimTime::ZERO, &b, i, ms(r));
        }
        b[0].available = false;
        b[1].weight = 0;
        let c = counts(&mut lb, &b, 1000);
        assert_eq!((c[0], c[1]), (0, 0), "{c:?}");
        // One eligible backend: returned without drawing.
        b[2].available = false;
        b[4].available = false;
        let before = lb.rng.clone().next_u64();
        assert_eq!(counts(&mut lb, &b, 10), [0, 0, 0, 10, 0]);
        assert_eq!(lb.rng.clone().next_u64(), before);
        b[3].available = false;
        assert_eq!(pick(&mut lb, ms(1), &b), None);
        assert_eq!(pick(&mut lb, ms(1), &[]), None);
    }

    #[test]
    fn state_follows_ids_across_pool_changes() {
        let mut lb = PeakEwma::new(SimTime::from_secs(10), SimTime::ZERO, rng());
        let b = in_flight(&[0, 0, 0]);
        for (i, r) in [(0, 10), (1, 20), (2, 30)] {
            respond(&mut lb, SimTime::ZERO, &b, i, ms(r));
        }
        // Remove id 0: ids 1 and 2 move to indices 0 and 1 with their costs.
        let rest: Vec<Backend> = b[1..].to_vec();
        lb.on_pool_change(ms(1), &PoolView::new(&rest));
        assert_eq!(lb.costs.get(0).cost_ns(), 20.0 * MS);
        assert_eq!(lb.costs.get(1).cost_ns(), 30.0 * MS);
        assert_eq!(counts(&mut lb, &rest, 100), [100, 0]);
        // Id 0 returns (noticed lazily by pick): fresh cost 0, so it wins whenever it is
        // sampled (2/3 of picks); id 2 (30 ms) never does.
        let c = counts(&mut lb, &b, 100);
        assert_eq!(c[2], 0, "{c:?}");
        assert!(c[0] > c[1], "{c:?}");
        assert_eq!(lb.costs.get(0).cost_ns(), 0.0);
        // A response reported against a pool the balancer has not seen yet still lands on
        // the right id.
        let only_c: Vec<Backend> = b[2..].to_vec();
        respond(&mut lb, ms(2), &only_c, 0, ms(900));
        assert_eq!(lb.costs.get(0).cost_ns(), 900.0 * MS);
    }
}
