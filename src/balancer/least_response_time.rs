//! Least response time, in the two forms the textbooks give: send each request to the
//! backend with the lowest average observed response time ("fastest response"), or with the
//! lowest product of active requests and average response time (Citrix NetScaler
//! `LEASTRESPONSETIME`, F5 "Fastest" style). Both share the per-backend response-time
//! tracking defined here: an exponentially time-decayed mean of the response times of
//! successful responses, kept per backend id. This file also holds [`PerBackend`], the
//! id-keyed per-backend state table that `peak_ewma.rs` reuses.

use super::RequestInfo;
use super::min_tree::{INDEX_MIN, MinTree};
use super::{AlgorithmInfo, Balancer, Outcome, ParamDef, ParamKind, ParamValue, PoolView};
use crate::engine::SimTime;

/// The `decay` parameter shared by both entries.
const DECAY: ParamDef = ParamDef {
    key: "decay",
    kind: ParamKind::Duration {
        min: SimTime(1),
        max: SimTime::from_secs(3600),
    },
    default: ParamValue::Duration(SimTime::from_secs(10)),
    doc: "time constant τ of the decayed mean response time: an old average keeps weight exp(-Δt/τ)",
};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[
    AlgorithmInfo {
        name: "least-response-time",
        aliases: &["lrt", "fastest"],
        summary: "lowest time-decayed mean response time (successful responses); ties by fewest in flight, then pool order",
        source: "textbook \"fastest response time\"; response timing as Citrix NetScaler LEASTRESPONSETIME (TTFB of HTTP 200 responses)",
        params: &[DECAY],
        build: |p, _| Box::new(LeastResponseTime::new(false, p.duration("decay"))),
    },
    AlgorithmInfo {
        name: "least-response-time-conns",
        aliases: &["lrt-conns"],
        summary: "lowest (in flight + 1) × mean response time; ties by fewest in flight, then pool order",
        source: "Citrix NetScaler LEASTRESPONSETIME (active transactions × TTFB) / F5 BIG-IP Fastest",
        params: &[DECAY],
        build: |p, _| Box::new(LeastResponseTime::new(true, p.duration("decay"))),
    },
];

// ---------------------------------------------------------------------------------------
// Per-backend state keyed by id (shared with peak_ewma.rs)
// ---------------------------------------------------------------------------------------

/// Per-backend state aligned with the pool's indices and keyed by backend id.
///
/// `slots[i]` belongs to `pool.backends[i]`. [`sync`](PerBackend::sync) realigns it with a
/// pool whose membership changed: backends still present keep their state (whatever their
/// new index), new ones get fresh state, and the state of backends that left is dropped, so
/// a backend that comes back starts afresh. Realigning only allocates when the pool grows
/// beyond any size seen before; checking an unchanged pool is free while its epoch stays
/// the same, else one pass over the ids.
#[derive(Clone, Debug)]
pub(super) struct PerBackend<T> {
    slots: Vec<(u32, T)>,
    spare: Vec<(u32, T)>,
    /// The epoch of the pool last aligned with (the same epoch has the same ids).
    epoch: u64,
}

impl<T: Copy> PerBackend<T> {
    /// An empty table.
    pub(super) fn new() -> Self {
        PerBackend {
            slots: Vec::new(),
            spare: Vec::new(),
            epoch: super::NO_EPOCH,
        }
    }

    /// Realigns with `pool` if its ids differ from the table's, creating the state of new
    /// backends with `fresh`. Returns true if anything changed.
    pub(super) fn sync(&mut self, pool: &PoolView<'_>, mut fresh: impl FnMut() -> T) -> bool {
        if pool.epoch() == self.epoch {
            return false;
        }
        self.epoch = pool.epoch();
        let aligned = self.slots.len() == pool.len()
            && self
                .slots
                .iter()
                .zip(pool.backends)
                .all(|(s, b)| s.0 == b.id);
        if aligned {
            return false;
        }
        // Both lists are sorted by id: merge.
        self.spare.clear();
        let mut old = 0;
        for b in pool.backends {
            while old < self.slots.len() && self.slots[old].0 < b.id {
                old += 1;
            }
            let state = match self.slots.get(old) {
                Some(&(id, s)) if id == b.id => s,
                _ => fresh(),
            };
            self.spare.push((b.id, state));
        }
        std::mem::swap(&mut self.slots, &mut self.spare);
        true
    }

    /// The state of the backend at `index` (after a [`sync`](PerBackend::sync)).
    #[inline]
    pub(super) fn get(&self, index: usize) -> &T {
        &self.slots[index].1
    }

    /// The state of the backend at `index`, mutably.
    #[inline]
    pub(super) fn get_mut(&mut self, index: usize) -> &mut T {
        &mut self.slots[index].1
    }

    /// The state of backend `id`, if tracked.
    pub(super) fn by_id(&self, id: u32) -> Option<&T> {
        self.slots
            .binary_search_by_key(&id, |s| s.0)
            .ok()
            .map(|i| &self.slots[i].1)
    }

    /// Number of backends tracked.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }
}

// ---------------------------------------------------------------------------------------
// Decayed mean response time
// ---------------------------------------------------------------------------------------

/// An exponentially time-decayed mean of response times (peak-EWMA without the peak).
///
/// A sample `r` at time `t` updates the mean as `avg = avg·w + r·(1 − w)` with
/// `w = exp(−(t − stamp)/τ)`, then sets `stamp = t`: each sample's weight is the fraction of
/// the time constant that elapsed since the previous one, which is the right weighting for
/// the unevenly spaced samples a load balancer sees (two samples at the same instant: the
/// second has weight 0). The first sample seeds the mean (`avg = r`) rather than being
/// averaged with the empty state, as an EWMA is usually initialised; before it the mean is
/// 0. Unlike peak-EWMA the mean does not decay between samples: with no news it keeps its
/// last value.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub(super) struct DecayedMean {
    /// Mean response time in nanoseconds (0 until the first sample).
    avg_ns: f64,
    /// Time of the last sample.
    stamp: SimTime,
    /// Whether any sample was seen.
    seen: bool,
}

impl DecayedMean {
    /// Adds the sample `rtt` observed at `now`; `tau_ns` is the time constant in ns.
    pub(super) fn observe(&mut self, now: SimTime, rtt: SimTime, tau_ns: f64) {
        let r = rtt.as_nanos() as f64;
        if self.seen {
            let dt = now.saturating_sub(self.stamp).as_nanos() as f64;
            let w = (-dt / tau_ns).exp();
            self.avg_ns = self.avg_ns * w + r * (1.0 - w);
        } else {
            self.avg_ns = r;
            self.seen = true;
        }
        self.stamp = now;
    }

    /// The mean in nanoseconds (0 if never observed).
    #[inline]
    pub(super) fn mean_ns(&self) -> f64 {
        self.avg_ns
    }
}

// ---------------------------------------------------------------------------------------
// The balancer
// ---------------------------------------------------------------------------------------

/// Least response time: the eligible backend with the lowest average response time, or the
/// lowest `(in_flight + 1) × average`.
///
/// There is no single open-source reference; the two forms follow the textbook and the
/// commercial products' documentation:
///
/// * `conns == false` (`least-response-time`, aliases `lrt`, `fastest`): the lowest
///   average observed response time ("fastest response").
/// * `conns == true` (`least-response-time-conns`, alias `lrt-conns`): Citrix NetScaler's
///   `LEASTRESPONSETIME` method ("Least response time method" in the Citrix ADC load
///   balancing documentation) chooses the lowest *active transactions × TTFB*; F5 BIG-IP
///   "Fastest" likewise combines outstanding requests with response speed. NetScaler's
///   literal product makes every idle service score 0 whatever its speed (it then breaks
///   ties round robin); the reading chosen here is **(in_flight + 1) × average**, the cost
///   of the request about to be added, so idle servers are still ranked by speed (the same
///   reading as peak-EWMA's `cost·(pending + 1)`). With the documentation's example
///   (services with 3, 7 and 0 active and TTFB 2 s, 1 s, 2 s) the first requests still go
///   to the idle service.
///
/// Ties (equal scores) go to the backend with the fewest requests in flight, then to the
/// lowest pool index (NetScaler uses round robin among ties; a fixed order keeps the
/// deterministic rule simple).
///
/// **Response time** is the load balancer's own measurement (`Outcome::rtt`), averaged by
/// [`DecayedMean`] with time constant `decay` (default **10 s**, Finagle's peak-EWMA
/// default, so the two families are comparable). Only successful responses (`ok`) update
/// the average: the products time only good responses (NetScaler computes TTFB from HTTP
/// 200 responses), because an erroring server answers fast and would otherwise attract
/// ever more traffic. Failures are left to health checking.
///
/// **Warm-up:** a backend never observed has average 0, so it scores lowest and takes
/// requests until its first successful response is timed (in the `conns` form only while
/// the others score above 0, i.e. always once they have been observed). This is how such
/// balancers warm up — and why a freshly added server gets a burst of traffic under them.
/// State is keyed by backend id; a backend removed from the pool loses its average, and if
/// it comes back it is new again. Backends that are merely unavailable keep theirs.
#[derive(Clone, Debug)]
pub struct LeastResponseTime {
    /// Multiply the average by `in_flight + 1`.
    conns: bool,
    /// Time constant of the decayed mean, in nanoseconds.
    tau_ns: f64,
    /// Decayed mean response time per backend.
    means: PerBackend<DecayedMean>,
    /// Large tracked pools: `(score, in_flight)` per eligible backend (`OUT` for the
    /// others), the score as its `f64` bits (scores are never negative, so the bits order
    /// as the numbers do): the scan's order, score then in-flight count.
    tree: MinTree<(u64, u32)>,
    /// A backend's in-flight change not yet in the tree: the owner reports a completion's
    /// in-flight change just before its response, and both then go into the tree at once.
    pending: Option<(usize, u32)>,
}

/// The tree entry of a backend that is not a candidate.
const OUT: (u64, u32) = (u64::MAX, u32::MAX);

impl LeastResponseTime {
    /// Least response time; `conns` selects the `(in_flight + 1) × average` form; `decay`
    /// is the time constant of the average (clamped to at least 1 ns).
    pub fn new(conns: bool, decay: SimTime) -> Self {
        LeastResponseTime {
            conns,
            tau_ns: decay.as_nanos().max(1) as f64,
            means: PerBackend::new(),
            tree: MinTree::first_only(OUT),
            pending: None,
        }
    }

    /// Puts the pending in-flight change into the tree.
    #[inline]
    fn flush(&mut self) {
        if let Some((i, f)) = self.pending.take()
            && self.tree.built()
            && i < self.tree.len()
            && self.tree.get(i) != OUT
        {
            let e = self.entry(i, f);
            self.tree.set(i, e);
        }
    }

    /// The score of a backend with mean `avg` (ns) and `in_flight` requests.
    #[inline]
    fn score(&self, avg: f64, in_flight: u32) -> f64 {
        if self.conns {
            (f64::from(in_flight) + 1.0) * avg
        } else {
            avg
        }
    }

    /// The tree entry of backend `i` with `in_flight` requests.
    #[inline]
    fn entry(&self, i: usize, in_flight: u32) -> (u64, u32) {
        let score = self.score(self.means.get(i).mean_ns(), in_flight);
        debug_assert!(score >= 0.0);
        (score.to_bits(), in_flight)
    }
}

impl Balancer for LeastResponseTime {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        self.means.sync(pool, DecayedMean::default);
        if pool.tracked() && pool.len() >= INDEX_MIN {
            self.flush();
            if self.tree.epoch != pool.epoch() {
                let mut tree = std::mem::replace(&mut self.tree, MinTree::first_only(OUT));
                let b = pool.backends;
                tree.build(pool.epoch(), b.len(), |j| {
                    if b[j].eligible() {
                        self.entry(j, b[j].in_flight)
                    } else {
                        OUT
                    }
                });
                self.tree = tree;
            }
            self.tree.min()?;
            return Some(self.tree.nth_min(0));
        }
        let mut best: Option<(usize, f64, u32)> = None;
        for (i, b) in pool.backends.iter().enumerate() {
            if !b.eligible() {
                continue;
            }
            let score = self.score(self.means.get(i).mean_ns(), b.in_flight);
            let better = match best {
                None => true,
                Some((_, s, f)) => score < s || (score == s && b.in_flight < f),
            };
            if better {
                best = Some((i, score, b.in_flight));
            }
        }
        best.map(|(i, _, _)| i)
    }

    fn on_response(&mut self, now: SimTime, pool: &PoolView<'_>, index: usize, outcome: Outcome) {
        if !outcome.ok {
            return;
        }
        if self.means.sync(pool, DecayedMean::default) {
            self.tree.invalidate();
        }
        if index < self.means.len() {
            self.means
                .get_mut(index)
                .observe(now, outcome.rtt, self.tau_ns);
            if self.pending.is_none_or(|(i, _)| i != index) {
                self.flush();
                self.pending = Some((index, pool.backends[index].in_flight));
            }
            self.flush();
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.means.sync(pool, DecayedMean::default);
        self.tree.invalidate();
        self.pending = None;
    }

    fn wants_in_flight(&self) -> bool {
        true
    }

    fn on_in_flight(&mut self, index: usize, in_flight: u32) {
        if self.tree.built() {
            if self.pending.is_some_and(|(i, _)| i != index) {
                self.flush();
            }
            self.pending = Some((index, in_flight));
        }
    }

    /// Each eligible backend's mean (`unseen` = 0 before its first timed success), or its
    /// score `(in_flight+1)×mean` in the `conns` form: the smallest wins.
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        _req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let ms = |ns: f64| format!("{}ms", super::show_num(ns * 1e-6, 2));
        let values = pool
            .backends
            .iter()
            .filter(|b| b.eligible())
            .map(|b| {
                let m = self.means.by_id(b.id).copied().unwrap_or_default();
                let avg = if m.mean_ns() == 0.0 {
                    "unseen 0ms".to_string()
                } else {
                    ms(m.mean_ns())
                };
                let v = if self.conns {
                    let score = (f64::from(b.in_flight) + 1.0) * m.mean_ns();
                    format!("({}+1)×{avg}={}", b.in_flight, ms(score))
                } else {
                    avg
                };
                (b.id, v)
            })
            .collect();
        let label = if self.conns {
            "(in_flight+1)×mean response time, lowest wins"
        } else {
            "mean response time, lowest wins"
        };
        Some(super::Explanation::per_backend(label, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::Backend;
    use crate::balancer::testutil::{in_flight, sequence};

    const MS: u64 = 1_000_000;

    fn ms(x: u64) -> SimTime {
        SimTime(x * MS)
    }

    fn ok(rtt: SimTime) -> Outcome {
        Outcome::new(true, rtt)
    }

    /// Reports a successful response with `rtt` from backend `i` at `now`.
    fn respond(lb: &mut LeastResponseTime, now: SimTime, b: &[Backend], i: usize, rtt: SimTime) {
        lb.on_response(now, &PoolView::new(b), i, ok(rtt));
    }

    fn rel_eq(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn decayed_mean_vectors() {
        let tau = 10e9; // 10 s
        let mut m = DecayedMean::default();
        assert_eq!(m.mean_ns(), 0.0);
        // The first sample seeds the mean.
        m.observe(SimTime::ZERO, ms(100), tau);
        assert_eq!(m.mean_ns(), 100.0 * MS as f64);
        // 20 ms, 0.1 s later: 100·e^-0.01 + 20·(1 − e^-0.01) = 99.204 ms (as peak-EWMA,
        // since 20 < 100).
        m.observe(ms(100), ms(20), tau);
        let want = 100.0 * (-0.01f64).exp() + 20.0 * (1.0 - (-0.01f64).exp());
        assert!(rel_eq(m.mean_ns() / MS as f64, want, 1e-12), "{m:?}");
        assert!((m.mean_ns() / MS as f64 - 99.204).abs() < 0.0005, "{m:?}");
        // No peak: a larger sample is averaged in, not adopted. 10 s later, 300 ms:
        // 99.204·e^-1 + 300·(1 − e^-1) = 226.131 ms.
        m.observe(SimTime(100 * MS + 10_000 * MS), ms(300), tau);
        let want2 = want * (-1f64).exp() + 300.0 * (1.0 - (-1f64).exp());
        assert!(rel_eq(m.mean_ns() / MS as f64, want2, 1e-12), "{m:?}");
        assert!((m.mean_ns() / MS as f64 - 226.131).abs() < 0.0005, "{m:?}");
        // A second sample at the same instant has weight 0.
        let before = m.mean_ns();
        m.observe(SimTime(100 * MS + 10_000 * MS), ms(1), tau);
        assert_eq!(m.mean_ns(), before);
        // Time running backwards (never in a simulation) counts as no time.
        m.observe(SimTime::ZERO, ms(1), tau);
        assert_eq!(m.mean_ns(), before);
    }

    #[test]
    fn picks_the_fastest_and_unobserved_first() {
        let b = in_flight(&[0, 0, 0]);
        let mut lb = LeastResponseTime::new(false, SimTime::from_secs(10));
        // Nothing observed: all 0, ties to the lowest index.
        assert_eq!(sequence(&mut lb, &b, 2), "aa");
        respond(&mut lb, ms(1), &b, 0, ms(30));
        // a is now slower than the unobserved b and c (warm-up: unobserved first).
        assert_eq!(sequence(&mut lb, &b, 2), "bb");
        respond(&mut lb, ms(2), &b, 1, ms(50));
        assert_eq!(sequence(&mut lb, &b, 2), "cc");
        respond(&mut lb, ms(3), &b, 2, ms(10));
        assert_eq!(sequence(&mut lb, &b, 3), "ccc");
        // Plain LRT ignores load: c stays the choice with 9 in flight.
        let busy = in_flight(&[0, 0, 9]);
        assert_eq!(sequence(&mut lb, &busy, 2), "cc");
    }

    #[test]
    fn errors_do_not_update_the_average() {
        let b = in_flight(&[0, 0]);
        let mut lb = LeastResponseTime::new(false, SimTime::from_secs(10));
        respond(&mut lb, ms(1), &b, 0, ms(50));
        respond(&mut lb, ms(1), &b, 1, ms(60));
        assert_eq!(sequence(&mut lb, &b, 1), "a");
        // b fails fast many times: still 60 ms, a still preferred.
        for t in 2..100 {
            let fail = Outcome::new(false, SimTime(1000));
            lb.on_response(ms(t), &PoolView::new(&b), 1, fail);
        }
        assert_eq!(lb.means.get(1).mean_ns(), 60.0 * MS as f64);
        assert_eq!(sequence(&mut lb, &b, 1), "a");
    }

    #[test]
    fn ties_go_to_fewest_in_flight_then_lowest_index() {
        let mut lb = LeastResponseTime::new(false, SimTime::from_secs(10));
        let b = in_flight(&[4, 2, 2, 3]);
        for i in 0..4 {
            respond(&mut lb, ms(1), &b, i, ms(20));
        }
        assert_eq!(sequence(&mut lb, &b, 2), "bb");
        let mut lb = LeastResponseTime::new(true, SimTime::from_secs(10));
        // Scores (f+1)·avg: a 2·30 = 60, b 3·20 = 60, c 6·10 = 60, d 1·60 = 60: all tie;
        // d has the fewest in flight.
        let b = in_flight(&[1, 2, 5, 0]);
        for (i, r) in [(0, 30), (1, 20), (2, 10), (3, 60)] {
            respond(&mut lb, ms(1), &b, i, ms(r));
        }
        assert_eq!(sequence(&mut lb, &b, 2), "dd");
    }

    #[test]
    fn netscaler_documentation_example() {
        // Citrix ADC "Least response time method": services with 3, 7 and 0 active
        // transactions and TTFB 2 s, 1 s, 2 s. NetScaler's active × TTFB sends requests
        // 1–6 to 3, 3, 3, 1 (tie with 3, round robin), 3, 2. With (active + 1) × TTFB the
        // scores start at 8, 8, 2: c takes three requests (scores 2, 4, 6); then a, b and
        // c tie at 8 and a wins (3 in flight like c, fewer than b's 7; lower index than
        // c); then c (8, fewer in flight than b); then b twice (8, then 9 < 10).
        let mut lb = LeastResponseTime::new(true, SimTime::from_secs(10));
        let mut b = in_flight(&[3, 7, 0]);
        for (i, r) in [(0, 2), (1, 1), (2, 2)] {
            respond(&mut lb, SimTime::ZERO, &b, i, SimTime::from_secs(r));
        }
        let mut got = String::new();
        for _ in 0..7 {
            let i = lb
                .pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::default())
                .expect("eligible");
            b[i].in_flight += 1;
            got.push((b'a' + i as u8) as char);
        }
        assert_eq!(got, "cccacbb");
    }

    #[test]
    fn conns_form_ranks_idle_servers_by_speed() {
        let mut lb = LeastResponseTime::new(true, SimTime::from_secs(10));
        let idle = in_flight(&[0, 0]);
        respond(&mut lb, ms(1), &idle, 0, ms(40));
        respond(&mut lb, ms(1), &idle, 1, ms(10));
        // Both idle: 40 vs 10 → b (a literal active × TTFB would tie at 0).
        assert_eq!(sequence(&mut lb, &idle, 1), "b");
        // b with 3 in flight: 4·10 = 40 = 1·40, tie → a (fewer in flight).
        assert_eq!(sequence(&mut lb, &in_flight(&[0, 3]), 1), "a");
        // b with 2 in flight: 30 < 40 → b.
        assert_eq!(sequence(&mut lb, &in_flight(&[0, 2]), 1), "b");
        // a with 1, b with 4: 80 vs 50 → b.
        assert_eq!(sequence(&mut lb, &in_flight(&[1, 4]), 1), "b");
    }

    #[test]
    fn average_follows_a_slowing_server() {
        // a answers in 10 ms, b in 20 ms; then a slows to 50 ms. Samples every 10 ms:
        // a's mean is 50 − 40·e^(−t/τ), which passes 20 ms at t = τ·ln(4/3) = 2.877 s.
        let tau = SimTime::from_secs(10);
        let mut lb = LeastResponseTime::new(false, tau);
        let b = in_flight(&[0, 0]);
        respond(&mut lb, SimTime::ZERO, &b, 0, ms(10));
        respond(&mut lb, SimTime::ZERO, &b, 1, ms(20));
        let mut first_b = None;
        for k in 1..=1000u64 {
            let t = ms(10 * k);
            respond(&mut lb, t, &b, 0, ms(50));
            respond(&mut lb, t, &b, 1, ms(20));
            let want = 50.0 - 40.0 * (-(t.as_secs_f64()) / 10.0).exp();
            let got = lb.means.get(0).mean_ns() / MS as f64;
            assert!(rel_eq(got, want, 1e-9), "t={t} {got} {want}");
            let pick = lb.pick(t, &PoolView::new(&b), &RequestInfo::default());
            if pick == Some(1) && first_b.is_none() {
                first_b = Some(t);
            }
        }
        assert_eq!(first_b, Some(ms(2880)));
    }

    #[test]
    fn never_picks_ineligible() {
        let mut lb = LeastResponseTime::new(true, SimTime::from_secs(10));
        let mut b = in_flight(&[0, 0, 0, 0]);
        for (i, r) in [(0, 5), (1, 6), (2, 50), (3, 40)] {
            respond(&mut lb, ms(1), &b, i, ms(r));
        }
        b[0].available = false;
        b[1].weight = 0;
        assert_eq!(sequence(&mut lb, &b, 2), "dd");
        b[3].available = false;
        assert_eq!(sequence(&mut lb, &b, 2), "cc");
        b[2].available = false;
        assert_eq!(sequence(&mut lb, &b, 2), "--");
        assert_eq!(sequence(&mut lb, &[], 2), "--");
        // Down backends keep their averages: a comes back at 5 ms.
        b[0].available = true;
        b[2].available = true;
        assert_eq!(sequence(&mut lb, &b, 1), "a");
    }

    #[test]
    fn state_follows_ids_and_resets_when_a_backend_leaves() {
        let mut lb = LeastResponseTime::new(false, SimTime::from_secs(10));
        let b = in_flight(&[0, 0, 0]);
        for (i, r) in [(0, 30), (1, 10), (2, 20)] {
            respond(&mut lb, ms(1), &b, i, ms(r));
        }
        assert_eq!(sequence(&mut lb, &b, 1), "b");
        // Remove id 0: ids 1, 2 now at indices 0, 1 and keep their means.
        let without_a: Vec<Backend> = b[1..].to_vec();
        lb.on_pool_change(ms(2), &PoolView::new(&without_a));
        assert_eq!(lb.means.get(0).mean_ns(), 10.0 * MS as f64);
        assert_eq!(sequence(&mut lb, &without_a, 1), "a");
        // Remove id 1 without telling the balancer: pick realigns by itself.
        let only_c: Vec<Backend> = b[2..].to_vec();
        assert_eq!(sequence(&mut lb, &only_c, 1), "a");
        assert_eq!(lb.means.get(0).mean_ns(), 20.0 * MS as f64);
        // Ids 0 and 1 come back: new, unobserved, tried first (id 0 at the lowest index).
        lb.on_pool_change(ms(3), &PoolView::new(&b));
        assert_eq!(lb.means.get(0).mean_ns(), 0.0);
        assert_eq!(lb.means.get(1).mean_ns(), 0.0);
        assert_eq!(lb.means.get(2).mean_ns(), 20.0 * MS as f64);
        assert_eq!(sequence(&mut lb, &b, 1), "a");
    }

    #[test]
    fn per_backend_sync_does_not_allocate_for_an_unchanged_pool() {
        let b = in_flight(&[0, 0, 0, 0]);
        let view = PoolView::new(&b);
        let mut t: PerBackend<u32> = PerBackend::new();
        let mut n = 0;
        assert!(t.sync(&view, || {
            n += 1;
            n
        }));
        assert_eq!((0..4).map(|i| *t.get(i)).collect::<Vec<_>>(), [1, 2, 3, 4]);
        let caps = (t.slots.capacity(), t.spare.capacity());
        assert!(!t.sync(&view, || unreachable!()));
        assert_eq!((t.slots.capacity(), t.spare.capacity()), caps);
    }
    #[test]
    fn the_tree_chooses_as_the_scan() {
        use crate::balancer::testutil::index_agrees_with_scan;
        // Random response times (and some failures, which leave the mean alone); backends
        // leave and come back, unobserved ones score 0 and tie on in-flight counts.
        for (conns, n, seed) in [(false, INDEX_MIN, 1), (true, INDEX_MIN, 2), (true, 300, 3)] {
            let picks = index_agrees_with_scan(
                || Box::new(LeastResponseTime::new(conns, SimTime::from_secs(10))),
                n,
                |r| r.below(3) as u32,
                20,
                200_000,
                seed,
            );
            assert!(picks > 90_000, "{picks}");
        }
    }
}
