//! Least connections, plain and weighted: send each request to the backend with the fewest
//! requests in flight from this load balancer (per unit of weight, when weighted), breaking
//! ties with smooth weighted round robin as nginx `least_conn` does, and skipping backends
//! that nginx's passive health checks (`max_fails`/`fail_timeout`) have taken out.
//!
//! nginx `least_conn` runs on the round-robin peer state, so it shares the passive checks
//! and their tunables with `weighted-round-robin`: this file reuses [`PassivePeers`],
//! [`PassiveChecks`] and [`swrr_step`] from `smooth_wrr.rs` (see there for the failure
//! rules, the whole-second clock and why retries are the owner's job).

use super::least_conn_index::LcIndex;
use super::smooth_wrr::{PASSIVE_PARAMS, PassiveChecks, PassivePeers, swrr_step, whole_seconds};
use super::{
    AlgorithmInfo, Backend, Balancer, NO_EPOCH, Outcome, OutcomeKind, PassiveChange, PoolView,
    RequestInfo,
};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[
    AlgorithmInfo {
        name: "least-connections",
        aliases: &["least-conn", "lc"],
        summary: "fewest requests in flight from this LB; ties broken round-robin (nginx least_conn with weights ignored); nginx max_fails/fail_timeout",
        source: "nginx src/http/modules/ngx_http_upstream_least_conn_module.c",
        params: PASSIVE_PARAMS,
        build: |p, _| {
            Box::new(LeastConnections::with_checks(
                false,
                PassiveChecks::from_params(p),
            ))
        },
    },
    AlgorithmInfo {
        name: "weighted-least-connections",
        aliases: &["wlc", "weighted-least-conn", "nginx-least-conn"],
        summary: "fewest in flight per unit of weight, ties by smooth WRR among the tied (nginx least_conn); nginx max_fails/fail_timeout",
        source: "nginx src/http/modules/ngx_http_upstream_least_conn_module.c",
        params: PASSIVE_PARAMS,
        build: |p, _| {
            Box::new(LeastConnections::with_checks(
                true,
                PassiveChecks::from_params(p),
            ))
        },
    },
];

/// Fewest in-flight requests (per unit of weight), ties broken by smooth WRR, with nginx's
/// passive health checks.
///
/// Follows `ngx_http_upstream_get_least_conn_peer` in nginx
/// `src/http/modules/ngx_http_upstream_least_conn_module.c`: among the backends that are
/// eligible and not *unavailable* (the same filter as
/// [`SmoothWeightedRoundRobin`](super::SmoothWeightedRoundRobin): `fails ≥ max_fails`
/// within `fail_timeout`), it finds the one minimising `in_flight / weight`, compared
/// exactly by cross multiplication with the *configured* weights
/// (`p.in_flight * best.weight < best.in_flight * p.weight`, the first in pool order wins).
/// If several backends tie at that minimum it runs one step of smooth weighted round robin
/// (`swrr_step`, as in `ngx_http_upstream_round_robin.c`) over just the tied backends, from
/// the first tied one, with their *effective* weights (each recovering one unit per pass
/// after failures), and returns its winner; the round-robin current weights persist across
/// picks, so repeated ties rotate. A unique minimum is returned without that step, so it
/// neither moves the current weights nor recovers effective weight (as in nginx). Either
/// way the chosen backend opens a new observation window if its last one has expired.
/// With every `in_flight` equal this reduces exactly to `SmoothWeightedRoundRobin`.
///
/// Failures are counted in [`on_response`](Balancer::on_response) exactly as for
/// `SmoothWeightedRoundRobin` (nginx uses `ngx_http_upstream_free_round_robin_peer`):
/// refused connections and timeouts only, `effective_weight -= weight / max_fails`. All
/// backends unavailable ⇒ `None` (nginx 502). A single-backend pool takes the plain
/// round-robin path (`peers->single`): picked whenever eligible, no failure accounting.
///
/// `weighted == false` (scenario name `least-connections`) treats every weight as 1: plain
/// least connections with round-robin tie-breaking (a failure then drops the effective
/// weight from 1 to 0 with the default `max_fails = 1`). `weighted == true`
/// (`weighted-least-connections`) is nginx `least_conn` with its configured weights.
/// Parameters: `max_fails` (default 1) and `fail_timeout` (default 10 s), nginx's
/// defaults. The current weights start at 0 and are reset when the pool changes; the
/// passive-check state is kept per backend id.
///
/// In a pool of [`INDEX_MIN`] backends or more whose owner reports in-flight changes, the
/// pick uses an ordered index ([`LcIndex`]: O(log n)) while every usable backend adds the
/// same effective weight per step (no failure being counted, weights equal or ignored),
/// and the scan above otherwise; both make the same choices and leave the same state.
#[derive(Clone, Debug)]
pub struct LeastConnections {
    /// Whether to divide in-flight counts by the configured weights.
    weighted: bool,
    /// In-flight counts ignored: every pick is a smooth-WRR step over every usable
    /// backend (nginx's round robin, [`SmoothWeightedRoundRobin`](super::SmoothWeightedRoundRobin)).
    flat: bool,
    /// Smooth-WRR `current_weight` per backend, for tie-breaking (while the index is in
    /// use, the index holds them).
    pub(super) current: Vec<i64>,
    /// `effective_weight`, `fails`, `checked`, `accessed` per backend.
    pub(super) peers: PassivePeers,
    /// The ordered index, when its premise holds.
    index: LcIndex,
    /// The epoch the per-backend state was last synced with.
    synced: u64,
    /// The epoch whose weights are unequal (no index for it).
    uneven: u64,
    /// A failure was counted: scan until every backend is clean again.
    dirty: bool,
}

/// Pools smaller than this are scanned: a scan of a few backends is cheaper than the
/// index's bookkeeping.
pub const INDEX_MIN: usize = 64;

impl LeastConnections {
    /// Least connections with nginx's default passive checks; `weighted` selects weighted
    /// (nginx `least_conn`) or plain.
    pub fn new(weighted: bool) -> Self {
        Self::with_checks(weighted, PassiveChecks::default())
    }

    /// Least connections with the given passive-check tunables.
    pub fn with_checks(weighted: bool, checks: PassiveChecks) -> Self {
        LeastConnections {
            weighted,
            flat: false,
            current: Vec::new(),
            peers: PassivePeers::new(checks, weighted),
            index: LcIndex::default(),
            synced: NO_EPOCH,
            uneven: NO_EPOCH,
            dirty: false,
        }
    }

    /// nginx's smooth weighted round robin with the given passive checks: least
    /// connections with every backend equally loaded, whatever its in-flight count.
    pub(super) fn smooth_wrr(checks: PassiveChecks) -> Self {
        LeastConnections {
            flat: true,
            ..Self::with_checks(true, checks)
        }
    }

    /// The pick through the index, if its premise holds for `pool` (building it first if
    /// needed); `None` to scan instead.
    #[inline]
    fn indexed_pick(&mut self, pool: &PoolView<'_>, now_s: u64) -> Option<Option<usize>> {
        if !pool.tracked() || pool.len() < INDEX_MIN || self.dirty {
            return None;
        }
        let epoch = pool.epoch();
        if epoch != self.synced {
            // The index's current weights go back first: a change of ids or weights
            // resets them, one of availability keeps them (as the scan would).
            self.index.hand_back(&mut self.current);
            self.sync(pool);
            self.synced = epoch;
        }
        if self.index.epoch != epoch && (self.uneven == epoch || !self.build_index(pool, now_s)) {
            return None;
        }
        let chosen = self.index.pick();
        if let Some(i) = chosen {
            debug_assert!(
                self.flat
                    || pool
                        .backends
                        .iter()
                        .filter(|b| b.eligible())
                        .all(|b| b.in_flight >= pool.backends[i].in_flight),
                "an in-flight change was not reported"
            );
            self.peers.chosen(i, now_s);
        }
        Some(chosen)
    }

    /// Builds the index if every usable backend is clean (full effective weight, not
    /// counting towards `max_fails`) and the weights are equal or ignored.
    fn build_index(&mut self, pool: &PoolView<'_>, now_s: u64) -> bool {
        let weighted = self.weighted;
        let mut w = None;
        for b in pool.backends.iter().filter(|b| b.eligible()) {
            let bw = weight_of(b, weighted) as i64;
            match w {
                None => w = Some(bw),
                Some(x) if x != bw => {
                    self.uneven = pool.epoch();
                    return false;
                }
                _ => {}
            }
        }
        if !self.clean(pool, now_s) {
            self.dirty = true;
            return false;
        }
        self.index
            .build(pool, &self.current, w.unwrap_or(1), self.flat, |_, b| {
                b.eligible()
            });
        true
    }

    /// Every eligible backend is usable now and stays so without a new failure, with its
    /// full effective weight.
    fn clean(&self, pool: &PoolView<'_>, now_s: u64) -> bool {
        let max_fails = self.peers.config().max_fails;
        pool.backends.iter().enumerate().all(|(i, b)| {
            !b.eligible() || {
                let p = &self.peers.peers[i];
                p.effective == p.weight
                    && (max_fails == 0 || p.fails < max_fails)
                    && self.peers.usable(i, b, now_s)
            }
        })
    }

    /// nginx's scan over every backend (see the type's documentation).
    fn scan_pick(&mut self, now: SimTime, pool: &PoolView<'_>) -> Option<usize> {
        self.sync(pool);
        if pool.len() == 1 {
            // nginx `peers->single`: the plain round-robin path; only `down` counts.
            return pool.backends[0].eligible().then_some(0);
        }
        let weighted = self.weighted;
        let backends = pool.backends;
        let now_s = whole_seconds(now);
        let flat = self.flat;
        let Self { current, peers, .. } = self;
        if flat {
            // nginx's round robin: every usable backend, in pool order, adds its effective
            // weight to its current weight (and recovers one unit of it).
            let candidates = backends.iter().enumerate().filter_map(|(i, b)| {
                if peers.usable(i, b, now_s) {
                    Some((i, peers.pass(i)))
                } else {
                    None
                }
            });
            let best = swrr_step(current, candidates)?;
            peers.chosen(best, now_s);
            return Some(best);
        }

        // First pass: the least loaded usable backend, and whether any other ties it.
        let mut best: Option<usize> = None;
        let mut many = false;
        for (i, p) in backends.iter().enumerate() {
            if !peers.usable(i, p, now_s) {
                continue;
            }
            match best {
                Some(b) if !less_loaded(p, &backends[b], weighted) => {
                    if equally_loaded(p, &backends[b], weighted) {
                        many = true;
                    }
                }
                _ => {
                    best = Some(i);
                    many = false;
                }
            }
        }
        let first = best?;
        let chosen = if many {
            // Second pass: smooth WRR with effective weights over the tied usable backends
            // only (they all come at or after `first`, the first backend at the minimum).
            let min = backends[first];
            let tied = backends
                .iter()
                .enumerate()
                .skip(first)
                .filter_map(|(i, p)| {
                    if peers.usable(i, p, now_s) && equally_loaded(p, &min, weighted) {
                        Some((i, peers.pass(i)))
                    } else {
                        None
                    }
                });
            swrr_step(current, tied)?
        } else {
            // A unique minimum: nginx subtracts a total of 0, so nothing moves.
            first
        };
        peers.chosen(chosen, now_s);
        Some(chosen)
    }

    /// The current weights as a scan would see them (the index's, while it holds them).
    pub(super) fn current_weights(&self) -> Vec<i64> {
        let mut c = self.current.clone();
        self.index.materialize(&mut c);
        c
    }

    /// The passive-check tunables.
    pub fn checks(&self) -> PassiveChecks {
        self.peers.config()
    }

    fn reset(&mut self, len: usize) {
        self.current.clear();
        self.current.resize(len, 0);
    }

    /// Syncs the per-backend state with `pool` (a pool changed without notice resets the
    /// current weights, as a notified change does).
    fn sync(&mut self, pool: &PoolView<'_>) {
        if self.peers.sync(pool) || self.current.len() != pool.len() {
            self.reset(pool.len());
        }
    }
}

/// The configured weight used for the load ratio (1 for every backend when unweighted).
#[inline]
fn weight_of(b: &Backend, weighted: bool) -> u64 {
    if weighted { u64::from(b.weight) } else { 1 }
}

/// True if `p` carries strictly less load per unit of weight than `q`.
#[inline]
fn less_loaded(p: &Backend, q: &Backend, weighted: bool) -> bool {
    u64::from(p.in_flight) * weight_of(q, weighted)
        < u64::from(q.in_flight) * weight_of(p, weighted)
}

/// True if `p` and `q` carry exactly the same load per unit of weight.
#[inline]
fn equally_loaded(p: &Backend, q: &Backend, weighted: bool) -> bool {
    u64::from(p.in_flight) * weight_of(q, weighted)
        == u64::from(q.in_flight) * weight_of(p, weighted)
}

impl Balancer for LeastConnections {
    fn pick(&mut self, now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        if let Some(chosen) = self.indexed_pick(pool, whole_seconds(now)) {
            return chosen;
        }
        self.index.hand_back(&mut self.current);
        let chosen = self.scan_pick(now, pool);
        if self.dirty && pool.tracked() && self.clean(pool, whole_seconds(now)) {
            self.dirty = false;
        }
        chosen
    }

    fn wants_in_flight(&self) -> bool {
        !self.flat
    }

    #[inline]
    fn on_in_flight(&mut self, index: usize, in_flight: u32) {
        if self.index.built() {
            self.index.set_in_flight(index, in_flight);
        }
    }

    /// Weighted: each usable backend's `in_flight/weight` (`50/5=10`), the smallest wins;
    /// ties go to smooth WRR. Unweighted: the in-flight counts already shown, so only the
    /// backends nginx's passive checks keep out are named.
    fn explain(
        &self,
        now: SimTime,
        pool: &PoolView<'_>,
        _req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let now_s = whole_seconds(now);
        let synced = self.current.len() == pool.len() && self.peers.peers.len() == pool.len();
        let usable =
            |i: usize, b: &Backend| b.eligible() && (!synced || self.peers.usable(i, b, now_s));
        let values: Vec<(u32, String)> = pool
            .backends
            .iter()
            .enumerate()
            .filter_map(|(i, b)| match (usable(i, b), self.weighted) {
                (true, true) => Some((
                    b.id,
                    super::show_ratio(u64::from(b.in_flight), u64::from(b.weight)),
                )),
                (true, false) => None,
                (false, _) => b
                    .eligible()
                    .then(|| (b.id, "max_fails: skipped".to_string())),
            })
            .collect();
        let label = if self.weighted {
            "in_flight/weight, lowest wins"
        } else {
            "nginx passive check"
        };
        (!values.is_empty()).then(|| super::Explanation::per_backend(label, values))
    }

    fn on_response(&mut self, now: SimTime, pool: &PoolView<'_>, index: usize, outcome: Outcome) {
        if self.peers.sync_at(pool, index) {
            self.index.invalidate();
            self.reset(pool.len());
        }
        if index < pool.len() {
            if matches!(outcome.kind, OutcomeKind::Refused | OutcomeKind::TimedOut) {
                // A failure may lower an effective weight or take a backend out: scan.
                self.index.hand_back(&mut self.current);
                self.dirty = true;
            }
            self.peers.complete(now, pool.len() == 1, index, outcome);
        }
    }

    fn poll_passive(&mut self) -> Option<PassiveChange> {
        self.peers.take_change()
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.peers.sync(pool);
        self.reset(pool.len());
        self.index.invalidate();
        self.synced = pool.epoch();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{loaded, sequence};

    #[test]
    fn weighted_textbook_examples() {
        // Ratios 10, 10, 9: C.
        let b = loaded(&[(5, 50), (3, 30), (2, 18)]);
        assert_eq!(sequence(&mut LeastConnections::new(true), &b, 3), "ccc");
        // Ratios 1, 1.5, 1.33: A.
        let b = loaded(&[(5, 5), (2, 3), (3, 4)]);
        assert_eq!(sequence(&mut LeastConnections::new(true), &b, 3), "aaa");
    }

    #[test]
    fn unweighted_ignores_weights() {
        // Raw counts 5, 3, 4: B, whatever the weights say.
        let b = loaded(&[(5, 5), (2, 3), (3, 4)]);
        assert_eq!(sequence(&mut LeastConnections::new(false), &b, 3), "bbb");
    }

    #[test]
    fn all_idle_weighted_is_smooth_wrr() {
        let b = loaded(&[(5, 0), (1, 0), (1, 0)]);
        let mut lc = LeastConnections::new(true);
        assert_eq!(sequence(&mut lc, &b, 14), "aabacaaaabacaa");
        assert_eq!(lc.current, [0, 0, 0]);
    }

    #[test]
    fn all_idle_unweighted_is_plain_rotation() {
        let b = loaded(&[(5, 0), (1, 0), (1, 0)]);
        assert_eq!(sequence(&mut LeastConnections::new(false), &b, 6), "abcabc");
    }

    #[test]
    fn unweighted_ties_rotate() {
        let b = loaded(&[(1, 2), (1, 1), (1, 1)]);
        let mut lc = LeastConnections::new(false);
        assert_eq!(sequence(&mut lc, &b, 6), "bcbcbc");
        // The tie-break state only moved for the tied backends.
        assert_eq!(lc.current, [0, 0, 0]);
    }

    #[test]
    fn weighted_ties_use_weights_among_the_tied_set() {
        // Ratios: a 4/2 = 2, b 2/1 = 2, c 9/3 = 3. a and b tie; SWRR with weights 2,1.
        let b = loaded(&[(2, 4), (1, 2), (3, 9)]);
        let mut lc = LeastConnections::new(true);
        assert_eq!(sequence(&mut lc, &b, 6), "abaaba");
    }

    #[test]
    fn rotation_state_persists_across_changing_loads() {
        let mut lc = LeastConnections::new(false);
        let tied = loaded(&[(1, 0), (1, 0)]);
        assert_eq!(sequence(&mut lc, &tied, 1), "a");
        // A unique minimum does not touch the rotation state.
        let b_lower = loaded(&[(1, 1), (1, 0)]);
        assert_eq!(sequence(&mut lc, &b_lower, 1), "b");
        // Back to a tie: the rotation continues with b.
        assert_eq!(sequence(&mut lc, &tied, 3), "bab");
    }

    #[test]
    fn never_picks_ineligible() {
        let mut b = loaded(&[(1, 0), (0, 0), (1, 5), (1, 0)]);
        b[0].available = false;
        // a is down and b has weight 0, though both are idle: d (0) beats c (5).
        assert_eq!(sequence(&mut LeastConnections::new(true), &b, 3), "ddd");
        assert_eq!(sequence(&mut LeastConnections::new(false), &b, 3), "ddd");
        b[3].available = false;
        assert_eq!(sequence(&mut LeastConnections::new(false), &b, 2), "cc");
        b[2].available = false;
        assert_eq!(sequence(&mut LeastConnections::new(true), &b, 2), "--");
        assert_eq!(sequence(&mut LeastConnections::new(true), &[], 2), "--");
    }

    #[test]
    fn large_counts_do_not_overflow() {
        let b = loaded(&[(u32::MAX, u32::MAX), (u32::MAX - 1, u32::MAX - 1), (1, 2)]);
        // a and b both have ratio exactly 1; c has 2.
        let mut lc = LeastConnections::new(true);
        let s = sequence(&mut lc, &b, 4);
        assert!(s.chars().all(|c| c == 'a' || c == 'b'), "{s}");
    }

    // -----------------------------------------------------------------------------------
    // Passive checks: the same filter and effective weights as smooth WRR (§1, §2)
    // -----------------------------------------------------------------------------------

    use crate::balancer::smooth_wrr::driver::{ms_from, responders, serve};
    use crate::balancer::testutil::{letter, weighted};
    use crate::balancer::{OutcomeKind, RequestInfo};

    fn secs(s: u64) -> SimTime {
        SimTime::from_secs(s)
    }

    fn outcome(kind: OutcomeKind) -> Outcome {
        Outcome::of(kind, SimTime::MILLISECOND)
    }

    /// Sequential requests keep every in-flight count at 0, so all tie and least_conn is
    /// smooth WRR: the [run] closed-port vectors of §1 hold for both variants where the
    /// weights allow (plain least connections weighs every backend 1).
    #[test]
    fn closed_port_vectors() {
        let cases: [(&[u32], usize, &str, &str); 3] = [
            (&[1, 1, 1], 9, "abCabababa", "ababababa"),
            (&[5, 1, 1], 14, "aabaCaaaaaabaaa", "aabaaaaaaabaaa"),
            (&[1, 1, 5], 8, "Cabababab", "abababab"),
        ];
        for (weights, n, attempts, expected) in cases {
            let b = weighted(weights);
            let mut lc = LeastConnections::new(true);
            let got = serve(&mut lc, &b, &[2], ms_from(SimTime::ZERO, n as u64));
            assert_eq!(
                (got.as_str(), responders(&got).as_str()),
                (attempts, expected)
            );
        }
        let b = weighted(&[1, 1, 1]);
        let mut lc = LeastConnections::new(false);
        let got = serve(&mut lc, &b, &[2], ms_from(SimTime::ZERO, 9));
        assert_eq!(responders(&got), "ababababa");
    }

    /// [model] recovery vector of §1, through least_conn's tie step.
    #[test]
    fn recovery_after_fail_timeout_5_1_1() {
        let b = weighted(&[5, 1, 1]);
        let view = PoolView::new(&b);
        let mut lc = LeastConnections::new(true);
        assert_eq!(serve(&mut lc, &b, &[0], [SimTime::ZERO]), "Ab");
        let mut picks = String::new();
        let mut effective = Vec::new();
        let mut fails = Vec::new();
        for _ in 0..12 {
            let i = lc.pick(secs(11), &view, &RequestInfo::default());
            picks.push(letter(i));
            effective.push(lc.peers.peers[0].effective);
            lc.on_response(secs(11), &view, i.unwrap(), outcome(OutcomeKind::Success));
            fails.push(lc.peers.peers[0].fails);
        }
        assert_eq!(picks, "cbcaabaacaaa");
        assert_eq!(effective, [1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5]);
        assert_eq!(fails, [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn unavailable_backends_are_skipped_before_comparing_loads() {
        // a is idle but failed: b (2 in flight) beats c (3); once a's window has passed
        // it is the least loaded again.
        let b = loaded(&[(1, 0), (1, 2), (1, 3)]);
        let view = PoolView::new(&b);
        for weighted in [false, true] {
            let mut lc = LeastConnections::new(weighted);
            lc.on_response(SimTime::ZERO, &view, 0, outcome(OutcomeKind::TimedOut));
            assert_eq!(sequence(&mut lc, &b, 2), "bb");
            let at_11 = lc.pick(secs(11), &view, &RequestInfo::default());
            assert_eq!(at_11, Some(0));
        }
    }

    #[test]
    fn a_unique_minimum_skips_the_swrr_step_and_its_recovery() {
        let b = weighted(&[5, 1]);
        let mut lc = LeastConnections::new(true);
        assert_eq!(serve(&mut lc, &b, &[0], [SimTime::ZERO]), "Ab");
        let current = lc.current.clone();
        // At t = 11 a is idle and b busy: a is the unique minimum, picked without the
        // round-robin step, so its effective weight stays 0 and nothing else moves; the
        // pick opens a new window, and the success clears `fails`.
        let busy_b = loaded(&[(5, 0), (1, 3)]);
        let view = PoolView::new(&busy_b);
        assert_eq!(lc.pick(secs(11), &view, &RequestInfo::default()), Some(0));
        assert_eq!(lc.current, current);
        let a = lc.peers.peers[0];
        assert_eq!((a.effective, a.checked, a.fails), (0, 11, 1));
        lc.on_response(secs(11), &view, 0, outcome(OutcomeKind::Success));
        assert_eq!(lc.peers.peers[0].fails, 0);
        // Back to a tie: the step uses the effective weight (0, then ramping).
        let idle = PoolView::new(&b);
        let mut eff = Vec::new();
        for _ in 0..6 {
            lc.pick(secs(11), &idle, &RequestInfo::default());
            eff.push(lc.peers.peers[0].effective);
        }
        assert_eq!(eff, [1, 2, 3, 4, 5, 5]);
    }

    #[test]
    fn unweighted_failure_drops_the_unit_weight() {
        let b = loaded(&[(7, 0), (1, 0), (1, 0)]);
        let view = PoolView::new(&b);
        let mut lc = LeastConnections::new(false);
        lc.on_response(SimTime::ZERO, &view, 0, outcome(OutcomeKind::Refused));
        let a = lc.peers.peers[0];
        // Weight 1 (not the configured 7): 1 − 1/1 = 0.
        assert_eq!((a.weight, a.effective, a.fails), (1, 0, 1));
        assert_eq!(sequence(&mut lc, &b, 4), "bcbc");
        lc.pick(secs(11), &view, &RequestInfo::default());
        assert_eq!(lc.peers.peers[0].effective, 1);
    }

    #[test]
    fn all_unavailable_and_single_backend() {
        let b = weighted(&[1, 1]);
        let mut lc = LeastConnections::new(true);
        assert_eq!(serve(&mut lc, &b, &[0, 1], [SimTime::ZERO]), "AB-");
        assert_eq!(sequence(&mut lc, &b, 2), "--");
        let view = PoolView::new(&b);
        assert!(lc.pick(secs(11), &view, &RequestInfo::default()).is_some());
        // A single backend ignores max_fails and has `fails` cleared on every completion.
        let one = weighted(&[2]);
        let mut lc = LeastConnections::new(true);
        assert_eq!(
            serve(&mut lc, &one, &[0], ms_from(SimTime::ZERO, 3)),
            "A-A-A-"
        );
        assert_eq!(lc.peers.peers[0].fails, 0);
    }

    #[test]
    fn max_fails_zero_and_http_errors_never_exclude() {
        let b = weighted(&[1, 1, 1]);
        let checks = PassiveChecks {
            max_fails: 0,
            fail_timeout: secs(10),
        };
        let mut lc = LeastConnections::with_checks(true, checks);
        assert_eq!(lc.checks(), checks);
        let got = serve(&mut lc, &b, &[2], ms_from(SimTime::ZERO, 8));
        assert_eq!(got, "abCabCabaCb");
        // Default checks: HTTP 5xx statuses are answers, not failures.
        let mut lc = LeastConnections::new(true);
        let view = PoolView::new(&b);
        for _ in 0..3 {
            lc.on_response(SimTime::ZERO, &view, 0, outcome(OutcomeKind::Status(502)));
        }
        assert_eq!(lc.peers.peers[0].fails, 0);
        assert_eq!(sequence(&mut lc, &b, 3), "abc");
    }
}
