//! Join the shortest queue: scan every eligible backend and send the request to one with
//! the fewest requests in flight from this load balancer, ties broken uniformly at random.
//! The full-information baseline that power-of-d and join-idle-queue approximate.

use super::min_tree::{INDEX_MIN, MinTree};
use super::{AlgorithmInfo, Backend, Balancer, PoolView, RequestInfo};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "join-shortest-queue",
    aliases: &["jsq"],
    summary: "full scan: fewest in flight from this LB, ties uniformly at random; weights ignored",
    source: "Winston 1977 (J. Appl. Prob. 14); Gupta, Harchol-Balter, Sigman, Whitt 2007 (JSQ with PS servers)",
    params: &[],
    build: |_, rng| Box::new(JoinShortestQueue::new(rng)),
}];

/// Join the shortest queue over all eligible backends.
///
/// The classical JSQ policy: each arrival joins the server with the fewest jobs. Winston,
/// "Optimality of the shortest line discipline" (J. Appl. Prob. 14, 1977) shows that for
/// identical exponential FCFS servers and Poisson arrivals it maximises the number of
/// jobs served by any time; Gupta, Harchol-Balter, Sigman and Whitt, "Analysis of
/// join-the-shortest-queue routing for web server farms" (Performance Evaluation 64, 2007)
/// analyse it for processor-sharing servers, the usual model of a web server, and find it
/// near-optimal and nearly insensitive to the job-size distribution. With a single
/// dispatcher that sees every queue exactly, JSQ never queues a job at a busy server while
/// another is idle, so its delay approaches that of a central queue (M/M/c) from above; it
/// stays above M/M/c because a job waiting behind a long one cannot move to a server that
/// frees up later (no jockeying).
///
/// Here the queue length is this load balancer's own in-flight count per backend (what a
/// real balancer knows without probing). When `k` backends tie at the minimum one draw
/// `below(k)` chooses among them (the `j`-th tied backend in pool order for a draw of
/// `j`), so each is chosen with probability `1/k`; a unique minimum draws nothing. A pool
/// of [`INDEX_MIN`] backends or more whose owner reports in-flight changes keeps them in a
/// [`MinTree`] (the minimum, its count and the `j`-th tied backend in O(log n)); smaller
/// pools are scanned; both choose the same backend for the same draw. Weights are ignored
/// except that weight 0 (like unavailability) makes a backend ineligible. No parameters.
#[derive(Clone, Debug)]
pub struct JoinShortestQueue {
    rng: SimRng,
    /// In-flight count per eligible backend (`OUT` for the others), in large tracked pools.
    tree: MinTree<u64>,
}

/// The tree key of a backend that is not a candidate.
const OUT: u64 = u64::MAX;

impl JoinShortestQueue {
    /// JSQ drawing its tie-breaks from `rng`.
    pub fn new(rng: SimRng) -> Self {
        JoinShortestQueue {
            rng,
            tree: MinTree::new(OUT),
        }
    }
}

/// The eligible backend with the fewest in flight; when `k` tie, the `below(k)`-th of them
/// in pool order.
pub(super) fn shortest_queue(backends: &[Backend], rng: &mut SimRng) -> Option<usize> {
    let (mut min, mut tied) = (u32::MAX, 0u64);
    for b in backends.iter().filter(|b| b.eligible()) {
        if b.in_flight < min {
            (min, tied) = (b.in_flight, 1);
        } else if b.in_flight == min {
            tied += 1;
        }
    }
    let mut k = match tied {
        0 => return None,
        1 => 0,
        _ => rng.below(tied),
    };
    for (i, b) in backends.iter().enumerate() {
        if b.eligible() && b.in_flight == min {
            if k == 0 {
                return Some(i);
            }
            k -= 1;
        }
    }
    None
}

impl Balancer for JoinShortestQueue {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        if !pool.tracked() || pool.len() < INDEX_MIN {
            return shortest_queue(pool.backends, &mut self.rng);
        }
        if self.tree.epoch != pool.epoch() {
            let b = pool.backends;
            self.tree.build(pool.epoch(), b.len(), |j| {
                if b[j].eligible() {
                    u64::from(b[j].in_flight)
                } else {
                    OUT
                }
            });
        }
        let (min, tied) = self.tree.min()?;
        let k = if tied > 1 {
            self.rng.below(u64::from(tied)) as u32
        } else {
            0
        };
        let i = self.tree.nth_min(k);
        debug_assert_eq!(u64::from(pool.backends[i].in_flight), min);
        Some(i)
    }

    fn wants_in_flight(&self) -> bool {
        true
    }

    fn on_in_flight(&mut self, index: usize, in_flight: u32) {
        if self.tree.built() && index < self.tree.len() && self.tree.get(index) != OUT {
            self.tree.set(index, u64::from(in_flight));
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, _pool: &PoolView<'_>) {
        self.tree.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{backends, counts, in_flight, loaded, rng, sequence};

    #[test]
    fn unique_minimum_is_always_chosen() {
        assert_eq!(
            sequence(
                &mut JoinShortestQueue::new(rng()),
                &in_flight(&[4, 2, 7, 3]),
                5
            ),
            "bbbbb"
        );
        // Weights are ignored: b has the fewest in flight though a has weight 9.
        assert_eq!(
            sequence(
                &mut JoinShortestQueue::new(rng()),
                &loaded(&[(9, 2), (1, 1)]),
                3
            ),
            "bbb"
        );
    }

    #[test]
    fn always_a_global_minimum_as_loads_change() {
        // Random loads; every pick must be at the minimum over eligible backends.
        let mut draws = rng();
        let mut lb = JoinShortestQueue::new(rng());
        for _ in 0..2000 {
            let spec: Vec<(u32, u32, bool)> = (0..6)
                .map(|_| {
                    (
                        draws.below(3) as u32,
                        draws.below(4) as u32,
                        draws.below(5) != 0,
                    )
                })
                .collect();
            let b = backends(&spec);
            let min = b.iter().filter(|x| x.eligible()).map(|x| x.in_flight).min();
            let got = lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::default());
            match (got, min) {
                (Some(i), Some(m)) => {
                    assert!(b[i].eligible() && b[i].in_flight == m, "{i} from {b:?}")
                }
                (None, None) => {}
                _ => panic!("{got:?} from {b:?}"),
            }
        }
    }

    #[test]
    fn ties_are_uniform() {
        // Four of six tied at the minimum: Binomial(40000, 1/4), sd = 86.6; 5 sd.
        let b = in_flight(&[1, 3, 1, 1, 2, 1]);
        let n = 40_000;
        let c = counts(&mut JoinShortestQueue::new(rng()), &b, n);
        assert_eq!((c[1], c[4]), (0, 0), "{c:?}");
        let sd = (n as f64 * 0.25 * 0.75).sqrt();
        for i in [0, 2, 3, 5] {
            assert!((f64::from(c[i]) - n as f64 / 4.0).abs() < 5.0 * sd, "{c:?}");
        }
    }

    #[test]
    fn skips_ineligible() {
        // Idle a is down and idle b has weight 0: d (1) beats c (5).
        let b = backends(&[(1, 0, false), (0, 0, true), (1, 5, true), (1, 1, true)]);
        assert_eq!(sequence(&mut JoinShortestQueue::new(rng()), &b, 3), "ddd");
        let b = backends(&[(1, 0, false), (0, 0, true)]);
        assert_eq!(sequence(&mut JoinShortestQueue::new(rng()), &b, 2), "--");
        assert_eq!(sequence(&mut JoinShortestQueue::new(rng()), &[], 2), "--");
    }

    #[test]
    fn no_draw_without_a_tie() {
        // With a unique minimum the stream is untouched.
        let mut r = rng();
        assert_eq!(shortest_queue(&in_flight(&[3, 1, 2]), &mut r), Some(1));
        assert_eq!(r.next_u64(), rng().next_u64());
    }

    #[test]
    fn the_tree_chooses_as_the_scan() {
        use crate::balancer::testutil::index_agrees_with_scan;
        // Same draws, same choices, with ties common (a few in flight each) and backends
        // leaving and coming back (weight 0 or unavailable).
        for (n, seed) in [(INDEX_MIN, 1), (300, 2)] {
            let picks = index_agrees_with_scan(
                || Box::new(JoinShortestQueue::new(rng())),
                n,
                |r| r.below(3) as u32,
                0,
                200_000,
                seed,
            );
            assert!(picks > 90_000, "{picks}");
        }
    }
}
