//! Least connections, plain and weighted: send each request to the backend with the fewest
//! requests in flight from this load balancer (per unit of weight, when weighted), breaking
//! ties with smooth weighted round robin as nginx `least_conn` does.

use super::smooth_wrr::swrr_step;
use super::{AlgorithmInfo, Backend, Balancer, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[
    AlgorithmInfo {
        name: "least-connections",
        aliases: &["least-conn", "lc"],
        summary: "fewest requests in flight from this LB; ties broken round-robin (nginx least_conn with weights ignored)",
        source: "nginx src/http/modules/ngx_http_upstream_least_conn_module.c",
        params: &[],
        build: |_, _| Box::new(LeastConnections::new(false)),
    },
    AlgorithmInfo {
        name: "weighted-least-connections",
        aliases: &["wlc", "weighted-least-conn", "nginx-least-conn"],
        summary: "fewest in flight per unit of weight, ties by smooth WRR among the tied (nginx least_conn)",
        source: "nginx src/http/modules/ngx_http_upstream_least_conn_module.c",
        params: &[],
        build: |_, _| Box::new(LeastConnections::new(true)),
    },
];

/// Fewest in-flight requests (per unit of weight), ties broken by smooth WRR.
///
/// Follows `ngx_http_upstream_get_least_conn_peer` in nginx
/// `src/http/modules/ngx_http_upstream_least_conn_module.c`: among eligible backends it
/// finds the one minimising `in_flight / weight`, compared exactly by cross multiplication
/// (`p.in_flight * best.weight < best.in_flight * p.weight`, the first in pool order wins).
/// If several backends tie at that minimum it runs one step of smooth weighted round robin
/// (`swrr_step`, as in `ngx_http_upstream_round_robin.c`) over just the tied backends and
/// returns its winner; the round-robin current weights persist across picks, so repeated
/// ties rotate. With every `in_flight` equal this reduces exactly to
/// [`SmoothWeightedRoundRobin`](super::SmoothWeightedRoundRobin).
///
/// `weighted == false` (scenario name `least-connections`) treats every weight as 1: plain
/// least connections with round-robin tie-breaking. `weighted == true`
/// (`weighted-least-connections`) is nginx `least_conn` with its configured weights. There
/// are no other parameters; the current weights start at 0 and are reset when the pool
/// changes.
#[derive(Clone, Debug)]
pub struct LeastConnections {
    /// Whether to divide in-flight counts by the configured weights.
    weighted: bool,
    /// Smooth-WRR `current_weight` per backend, for tie-breaking.
    current: Vec<i64>,
}

impl LeastConnections {
    /// Least connections; `weighted` selects weighted (nginx `least_conn`) or plain.
    pub fn new(weighted: bool) -> Self {
        LeastConnections {
            weighted,
            current: Vec::new(),
        }
    }

    fn reset(&mut self, len: usize) {
        self.current.clear();
        self.current.resize(len, 0);
    }
}

/// The weight used for both the load ratio and the tie-break rotation.
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
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        if self.current.len() != pool.len() {
            self.reset(pool.len());
        }
        let weighted = self.weighted;
        let backends = pool.backends;

        // First pass: the least loaded eligible backend, and whether any other ties it.
        let mut best: Option<usize> = None;
        let mut many = false;
        for (i, p) in backends.iter().enumerate() {
            if !p.eligible() {
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
        if !many {
            return Some(first);
        }

        // Second pass: smooth WRR over the tied backends only (they all come at or after
        // `first`, since `first` is the first backend at the minimum).
        let min = backends[first];
        let tied = backends
            .iter()
            .enumerate()
            .skip(first)
            .filter(|(_, p)| p.eligible() && equally_loaded(p, &min, weighted))
            .map(|(i, p)| (i, weight_of(p, weighted) as i64));
        swrr_step(&mut self.current, tied)
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.reset(pool.len());
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
}
