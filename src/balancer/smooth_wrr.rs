//! nginx's smooth weighted round robin: every backend gets a share of requests proportional
//! to its weight, and the heavy backends' turns are spread out instead of bunched (weights
//! 5,1,1 give `a a b a c a a`, not `a a a a a b c`).
//!
//! The single step of the algorithm, [`swrr_step`], is shared with
//! [`LeastConnections`](super::LeastConnections), which (like nginx `least_conn`) runs it
//! over the set of backends tied for the fewest connections.

use super::{AlgorithmInfo, Balancer, PoolView, RequestInfo};
use crate::engine::SimTime;

/// One step of smooth weighted round robin over `candidates`, given as
/// `(index, effective_weight)` pairs in list order.
///
/// For each candidate `current[index] += weight`; the candidate with the largest
/// `current` (strict `>`, so the first one wins ties) is chosen and has the sum of the
/// candidates' weights subtracted from its `current`. Entries of `current` that are not
/// candidates are left alone. Returns `None` (changing nothing) if there are no
/// candidates. Every `index` must be `< current.len()`.
///
/// This is the loop body of `ngx_http_upstream_get_peer` in nginx
/// `src/http/ngx_http_upstream_round_robin.c`, without the failure bookkeeping
/// (`effective_weight` is always the configured weight here).
pub(crate) fn swrr_step(
    current: &mut [i64],
    candidates: impl Iterator<Item = (usize, i64)>,
) -> Option<usize> {
    let mut total: i64 = 0;
    let mut best: Option<usize> = None;
    for (i, weight) in candidates {
        current[i] += weight;
        total += weight;
        match best {
            Some(b) if current[i] <= current[b] => {}
            _ => best = Some(i),
        }
    }
    let b = best?;
    current[b] -= total;
    Some(b)
}

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "weighted-round-robin",
    aliases: &[
        "wrr",
        "smooth-wrr",
        "nginx-wrr",
        "nginx-weighted-round-robin",
    ],
    summary: "nginx smooth weighted round robin: weights 5,1,1 give a a b a c a a",
    source: "nginx src/http/ngx_http_upstream_round_robin.c (ngx_http_upstream_get_peer)",
    params: &[],
    build: |_, _| Box::new(SmoothWeightedRoundRobin::new()),
}];

/// Smooth weighted round robin, as nginx does it.
///
/// Follows `ngx_http_upstream_get_peer` in nginx
/// `src/http/ngx_http_upstream_round_robin.c`: each backend keeps a `current_weight`
/// (starting at 0) and an `effective_weight` (here always its configured weight: this
/// model has no passive failure accounting). On each pick, every eligible backend, in pool
/// order, adds its effective weight to its current weight; the one with the largest current
/// weight wins (the first on ties) and has the total of the eligible weights subtracted.
/// Weights 5,1,1 give `a a b a c a a` and then repeat; with all backends eligible the current
/// weights always sum to zero after a pick. Ineligible backends (down, or weight 0) keep
/// their current weight untouched until they return, as in nginx.
///
/// Defaults: no parameters; all current weights start at 0 and are reset to 0 whenever the
/// pool changes (nginx resets them when the upstream is reconfigured).
#[derive(Clone, Debug, Default)]
pub struct SmoothWeightedRoundRobin {
    /// `current_weight` per backend, indexed like the pool.
    current: Vec<i64>,
}

impl SmoothWeightedRoundRobin {
    /// A balancer with all current weights at zero.
    pub fn new() -> Self {
        SmoothWeightedRoundRobin {
            current: Vec::new(),
        }
    }

    fn reset(&mut self, len: usize) {
        self.current.clear();
        self.current.resize(len, 0);
    }
}

impl Balancer for SmoothWeightedRoundRobin {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        if self.current.len() != pool.len() {
            self.reset(pool.len());
        }
        let candidates = pool
            .backends
            .iter()
            .enumerate()
            .filter(|(_, b)| b.eligible())
            .map(|(i, b)| (i, i64::from(b.weight)));
        swrr_step(&mut self.current, candidates)
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.reset(pool.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{letter, sequence, weighted};

    #[test]
    fn nginx_sequence_5_1_1() {
        let b = weighted(&[5, 1, 1]);
        assert_eq!(
            sequence(&mut SmoothWeightedRoundRobin::new(), &b, 21),
            "aabacaaaabacaaaabacaa"
        );
    }

    #[test]
    fn sequences_for_other_weights() {
        let mut w = SmoothWeightedRoundRobin::new();
        assert_eq!(
            sequence(&mut w, &weighted(&[4, 2, 1]), 14),
            "abacabaabacaba"
        );
        let mut w = SmoothWeightedRoundRobin::new();
        assert_eq!(sequence(&mut w, &weighted(&[3, 2, 1]), 12), "abacbaabacba");
        let mut w = SmoothWeightedRoundRobin::new();
        assert_eq!(sequence(&mut w, &weighted(&[1, 1, 1]), 6), "abcabc");
    }

    #[test]
    fn current_weight_trace_5_1_1() {
        let b = weighted(&[5, 1, 1]);
        let view = PoolView::new(&b);
        let mut w = SmoothWeightedRoundRobin::new();
        let expected: [(char, [i64; 3]); 7] = [
            ('a', [-2, 1, 1]),
            ('a', [-4, 2, 2]),
            ('b', [1, -4, 3]),
            ('a', [-1, -3, 4]),
            ('c', [4, -2, -2]),
            ('a', [2, -1, -1]),
            ('a', [0, 0, 0]),
        ];
        for (who, cw) in expected {
            let got = letter(w.pick(SimTime::ZERO, &view, &RequestInfo::default()));
            assert_eq!((got, w.current.as_slice()), (who, cw.as_slice()));
            assert_eq!(w.current.iter().sum::<i64>(), 0);
        }
    }

    #[test]
    fn current_weights_sum_to_zero_with_all_eligible() {
        let b = weighted(&[7, 3, 0, 2, 9, 1]);
        // Weight 0 is ineligible and never touched, so the sum over all stays 0.
        let view = PoolView::new(&b);
        let mut w = SmoothWeightedRoundRobin::new();
        let mut counts = [0u32; 6];
        for _ in 0..22 * 10 {
            let i = w
                .pick(SimTime::ZERO, &view, &RequestInfo::default())
                .unwrap();
            counts[i] += 1;
            assert_eq!(w.current.iter().sum::<i64>(), 0);
        }
        // Exactly proportional over whole cycles of Σweight = 22 picks.
        assert_eq!(counts, [70, 30, 0, 20, 90, 10]);
    }

    #[test]
    fn skips_ineligible_and_returns_none_when_nothing_is_eligible() {
        let mut b = weighted(&[5, 1, 1]);
        b[0].available = false;
        let mut w = SmoothWeightedRoundRobin::new();
        assert_eq!(sequence(&mut w, &b, 4), "bcbc");
        b[1].available = false;
        b[2].weight = 0;
        assert_eq!(sequence(&mut w, &b, 2), "--");
        assert_eq!(sequence(&mut w, &[], 2), "--");
    }

    #[test]
    fn pool_change_resets_current_weights() {
        let b = weighted(&[5, 1, 1]);
        let mut w = SmoothWeightedRoundRobin::new();
        assert_eq!(sequence(&mut w, &b, 3), "aab");
        w.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(w.current, [0, 0, 0]);
        assert_eq!(sequence(&mut w, &b, 7), "aabacaa");
        // A pool of a different length without a notification also resets.
        let b4 = weighted(&[1, 1, 1, 1]);
        assert_eq!(sequence(&mut w, &b4, 4), "abcd");
    }

    #[test]
    fn step_over_a_subset_leaves_others_alone() {
        let mut current = [10, 0, 0, 0];
        let picks: Vec<Option<usize>> = (0..3)
            .map(|_| swrr_step(&mut current, [(1, 2), (3, 1)].into_iter()))
            .collect();
        // One full cycle (Σweight = 3 picks) returns the subset to zero.
        assert_eq!(picks, [Some(1), Some(3), Some(1)]);
        assert_eq!(current, [10, 0, 0, 0]);
        assert_eq!(swrr_step(&mut current, std::iter::empty()), None);
    }
}
