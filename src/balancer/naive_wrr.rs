//! The textbook's naive weighted round robin: each server in turn receives as many
//! consecutive requests as its weight (weights 5,3,2 give `A A A A A B B B C C`, then
//! repeat). It gives the same shares as the smooth variants but in bursts, which is
//! exactly what it is useful for in a course: compare it with nginx's smooth WRR, HAProxy's
//! roundrobin or Envoy's EDF to see why real load balancers interleave.

use super::{AlgorithmInfo, Balancer, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "naive-weighted-round-robin",
    aliases: &["blocks-wrr", "textbook-wrr"],
    summary: "textbook weighted round robin in blocks: weights 5,3,2 give A A A A A B B B C C (bursty; not what nginx, HAProxy or Envoy do)",
    source: "textbook weighted round robin (no production load balancer uses this order)",
    params: &[],
    build: |_, _| Box::new(NaiveWeightedRoundRobin::new()),
}];

/// Naive (block) weighted round robin, as textbooks present it.
///
/// This is the naive order found in textbooks, **not** what nginx, HAProxy or Envoy do:
/// the servers are visited in pool order and each receives `weight` consecutive requests
/// before the turn passes to the next, so weights 5,3,2 give `A A A A A B B B C C` and then
/// repeat. Over a whole cycle of Σweight requests it shares the weights of the smooth
/// variants ([`SmoothWeightedRoundRobin`](super::SmoothWeightedRoundRobin), HAProxy
/// `roundrobin`, Envoy's EDF) but not their order: a heavy server gets its whole share as
/// one burst, which is useful in a course to show the bursts that the smooth algorithms
/// avoid.
///
/// Ineligible backends (down, or weight 0) are skipped when their turn comes. The
/// position (current backend and how many requests it has had in this turn) is kept across
/// picks; if a backend's weight drops below what it has already had in this turn, the turn
/// passes on. Any pool change resets to the start of the cycle (the first backend, with a
/// fresh turn). Defaults: no parameters.
#[derive(Clone, Debug, Default)]
pub struct NaiveWeightedRoundRobin {
    /// Index of the backend whose turn it is.
    pos: usize,
    /// Requests it has received in this turn.
    served: u32,
    /// Pool length the position refers to.
    len: usize,
}

impl NaiveWeightedRoundRobin {
    /// A balancer at the start of the cycle.
    pub fn new() -> Self {
        NaiveWeightedRoundRobin::default()
    }

    fn reset(&mut self, len: usize) {
        self.pos = 0;
        self.served = 0;
        self.len = len;
    }
}

impl Balancer for NaiveWeightedRoundRobin {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        let n = pool.len();
        if n == 0 {
            return None;
        }
        if self.len != n || self.pos >= n {
            self.reset(n);
        }
        // At most one full lap past the current backend (whose turn may be used up).
        for _ in 0..=n {
            let b = &pool.backends[self.pos];
            if b.eligible() && self.served < b.weight {
                self.served += 1;
                return Some(self.pos);
            }
            self.pos = (self.pos + 1) % n;
            self.served = 0;
        }
        None
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.reset(pool.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{sequence, weighted, weighted_available};

    #[test]
    fn textbook_blocks_5_3_2() {
        let b = weighted(&[5, 3, 2]);
        let mut lb = NaiveWeightedRoundRobin::new();
        assert_eq!(sequence(&mut lb, &b, 10), "aaaaabbbcc");
        assert_eq!(sequence(&mut lb, &b, 20), "aaaaabbbcc".repeat(2));
    }

    #[test]
    fn other_weights() {
        let mut lb = NaiveWeightedRoundRobin::new();
        assert_eq!(
            sequence(&mut lb, &weighted(&[5, 1, 1]), 14),
            "aaaaabcaaaaabc"
        );
        let mut lb = NaiveWeightedRoundRobin::new();
        assert_eq!(sequence(&mut lb, &weighted(&[1, 1, 1]), 6), "abcabc");
    }

    #[test]
    fn skips_ineligible_and_returns_none_when_nothing_is_eligible() {
        let b = weighted_available(&[(2, true), (3, false), (0, true), (1, true)]);
        let mut lb = NaiveWeightedRoundRobin::new();
        assert_eq!(sequence(&mut lb, &b, 9), "aadaadaad");
        let none = weighted_available(&[(2, false), (0, true)]);
        assert_eq!(sequence(&mut lb, &none, 2), "--");
        assert_eq!(sequence(&mut lb, &[], 2), "--");
    }

    #[test]
    fn position_is_kept_across_picks_and_reset_by_pool_changes() {
        let mut b = weighted(&[3, 2]);
        let mut lb = NaiveWeightedRoundRobin::new();
        assert_eq!(sequence(&mut lb, &b, 4), "aaab");
        // Without a pool change the turn continues where it was.
        assert_eq!(sequence(&mut lb, &b, 2), "ba");
        // b goes down: a pool change restarts the cycle at a, with a fresh turn.
        b[1].available = false;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut lb, &b, 4), "aaaa");
        b[1].available = true;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut lb, &b, 5), "aaabb");
        // A pool of another length without notice also restarts.
        assert_eq!(sequence(&mut lb, &weighted(&[1, 2, 1]), 4), "abbc");
    }

    #[test]
    fn lowered_weight_ends_the_turn() {
        let mut b = weighted(&[4, 1]);
        let mut lb = NaiveWeightedRoundRobin::new();
        assert_eq!(sequence(&mut lb, &b, 3), "aaa");
        b[0].weight = 2;
        // Same length, no notification: a has had 3 >= 2, so the turn passes to b.
        assert_eq!(sequence(&mut lb, &b, 4), "baab");
    }
}
