//! Join the shortest queue: scan every eligible backend and send the request to one with
//! the fewest requests in flight from this load balancer, ties broken uniformly at random.
//! The full-information baseline that power-of-d and join-idle-queue approximate.

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
/// real balancer knows without probing). A pick is one pass over the pool: the minimum is
/// tracked with reservoir sampling, so when `k` backends tie at the minimum each is
/// chosen with probability `1/k`, with one draw per tie met and no allocation. Weights are
/// ignored except that weight 0 (like unavailability) makes a backend ineligible. No
/// parameters.
#[derive(Clone, Debug)]
pub struct JoinShortestQueue {
    rng: SimRng,
}

impl JoinShortestQueue {
    /// JSQ drawing its tie-breaks from `rng`.
    pub fn new(rng: SimRng) -> Self {
        JoinShortestQueue { rng }
    }
}

/// The eligible backend with the fewest in flight, ties by reservoir sampling: on the
/// `k`-th backend found at the current minimum, `below(k) == 0` makes it the candidate.
pub(super) fn shortest_queue(backends: &[Backend], rng: &mut SimRng) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut tied: u64 = 0;
    for (i, b) in backends.iter().enumerate() {
        if !b.eligible() {
            continue;
        }
        match best {
            Some(c) if b.in_flight > backends[c].in_flight => {}
            Some(c) if b.in_flight == backends[c].in_flight => {
                tied += 1;
                if rng.below(tied) == 0 {
                    best = Some(i);
                }
            }
            _ => {
                best = Some(i);
                tied = 1;
            }
        }
    }
    best
}

impl Balancer for JoinShortestQueue {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        shortest_queue(pool.backends, &mut self.rng)
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
}
