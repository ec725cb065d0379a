//! HAProxy `balance first`: fill servers in id order. The first server with a free
//! connection slot (fewer than `maxconn` requests in flight) gets the request, so traffic
//! packs onto as few servers as possible and the others can idle or be powered down.

use super::min_tree::{INDEX_MIN, MinTree};
use super::{AlgorithmInfo, Balancer, ParamDef, ParamKind, ParamValue, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "haproxy-first",
    aliases: &["first"],
    summary: "HAProxy balance first: the first server in id order with fewer than maxconn in flight (weights ignored)",
    source: "HAProxy src/lb_fas.c (fas_get_next_server)",
    params: &[ParamDef {
        key: "maxconn",
        kind: ParamKind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: ParamValue::Int(10),
        doc: "per-server connection limit (HAProxy server `maxconn`), the same for every server",
    }],
    build: |p, _| Box::new(First::new(p.int("maxconn") as u32)),
}];

/// HAProxy `balance first` (first available server).
///
/// Follows `fas_get_next_server` in HAProxy `src/lb_fas.c`: usable servers are kept in a
/// tree ordered by numeric id (`puid`, by default the declaration order; here the backend
/// id, i.e. pool order) and a request goes to the first one that is not saturated, i.e.
/// whose `served` count is below its `maxconn`. `served` is this load balancer's in-flight
/// count. Weights are ignored except that weight 0, like being down, makes a backend
/// ineligible (it is not in HAProxy's tree).
///
/// `maxconn` applies to every server (default 10; HAProxy needs a `maxconn` for `first`
/// to make sense — without one the first server takes everything). When every eligible
/// server is at `maxconn`, HAProxy would queue the request in the backend until a slot
/// frees up; this model has no backend queue, so it returns the eligible backend with the
/// fewest requests in flight instead (the lowest id on ties).
///
/// A pool of [`INDEX_MIN`] backends or more whose owner reports in-flight changes keeps
/// each backend's [`key`] (free, or saturated with its load) in a [`MinTree`] that finds
/// the first of equal keys: the first free backend, or with every backend saturated the
/// least loaded, lowest id first, which is the scan's choice either way; O(1) per pick and
/// O(log n) per in-flight change.
#[derive(Clone, Debug)]
pub struct First {
    maxconn: u32,
    tree: MinTree<u64>,
}

/// The tree key of a backend that is not a candidate.
const OUT: u64 = u64::MAX;

impl First {
    /// `balance first` with the given per-server `maxconn` (0 is treated as 1).
    pub fn new(maxconn: u32) -> Self {
        First {
            maxconn: maxconn.max(1),
            tree: MinTree::first_only(OUT),
        }
    }
}

/// 0 for a server with a free slot, `1 + in flight` for a saturated one, [`OUT`] when not
/// eligible: the least key is the first free server, else the least loaded.
#[inline]
fn key(maxconn: u32, eligible: bool, in_flight: u32) -> u64 {
    match eligible {
        false => OUT,
        true if in_flight < maxconn => 0,
        true => 1 + u64::from(in_flight),
    }
}

impl Balancer for First {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        if pool.tracked() && pool.len() >= INDEX_MIN {
            if self.tree.epoch != pool.epoch() {
                let b = pool.backends;
                let m = self.maxconn;
                self.tree.build(pool.epoch(), b.len(), |j| {
                    key(m, b[j].eligible(), b[j].in_flight)
                });
            }
            self.tree.min()?;
            return Some(self.tree.nth_min(0));
        }
        let mut least: Option<usize> = None;
        for (i, b) in pool.backends.iter().enumerate() {
            if !b.eligible() {
                continue;
            }
            if b.in_flight < self.maxconn {
                return Some(i);
            }
            if least.is_none_or(|l| b.in_flight < pool.backends[l].in_flight) {
                least = Some(i);
            }
        }
        // Everything is full: HAProxy would queue in the backend; take the least loaded.
        least
    }

    fn wants_in_flight(&self) -> bool {
        true
    }

    fn on_in_flight(&mut self, index: usize, in_flight: u32) {
        // A backend out of the tree (`OUT`) is not eligible and stays out.
        if self.tree.built() && index < self.tree.len() && self.tree.get(index) != OUT {
            let k = key(self.maxconn, true, in_flight);
            self.tree.set(index, k);
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, _pool: &PoolView<'_>) {
        self.tree.invalidate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{backends, in_flight, sequence};

    /// Picks `n` times, counting each pick in flight (nothing completes).
    fn fill(lb: &mut First, b: &mut [crate::balancer::Backend], n: usize) -> String {
        let mut s = String::new();
        for _ in 0..n {
            let got = lb.pick(SimTime::ZERO, &PoolView::new(b), &RequestInfo::default());
            s.push(crate::balancer::testutil::letter(got));
            if let Some(i) = got {
                b[i].in_flight += 1;
            }
        }
        s
    }

    #[test]
    fn fills_the_first_server_up_to_maxconn_before_the_next() {
        let mut b = in_flight(&[0, 0, 0]);
        let mut lb = First::new(3);
        assert_eq!(fill(&mut lb, &mut b, 9), "aaabbbccc");
        // All full: least loaded, lowest id on ties.
        assert_eq!(fill(&mut lb, &mut b, 4), "abca");
        // In flight now 5,4,4. Completions bring a below maxconn: it is first again.
        b[0].in_flight = 2;
        assert_eq!(fill(&mut lb, &mut b, 1), "a");
    }

    #[test]
    fn maxconn_2_with_in_flight_2_1_0_picks_b() {
        let b = in_flight(&[2, 1, 0]);
        assert_eq!(sequence(&mut First::new(2), &b, 3), "bbb");
    }

    #[test]
    fn weights_are_ignored() {
        let b = backends(&[(1, 0, true), (100, 0, true)]);
        assert_eq!(sequence(&mut First::new(10), &b, 3), "aaa");
    }

    #[test]
    fn skips_ineligible() {
        // a down, b weight 0: c is the first usable server although both are idle.
        let b = backends(&[(1, 0, false), (0, 0, true), (1, 5, true), (1, 0, true)]);
        assert_eq!(sequence(&mut First::new(10), &b, 2), "cc");
        assert_eq!(sequence(&mut First::new(5), &b, 2), "dd");
        let none = backends(&[(1, 0, false), (0, 0, true)]);
        assert_eq!(sequence(&mut First::new(5), &none, 2), "--");
        assert_eq!(sequence(&mut First::new(5), &[], 2), "--");
    }

    #[test]
    fn all_full_gives_the_least_loaded() {
        let b = in_flight(&[3, 2, 5, 2]);
        assert_eq!(sequence(&mut First::new(2), &b, 2), "bb");
        let mut b = backends(&[(1, 7, true), (1, 1, false), (1, 4, true)]);
        assert_eq!(sequence(&mut First::new(1), &b, 1), "c");
        b[0].in_flight = 4;
        assert_eq!(sequence(&mut First::new(1), &b, 1), "a");
    }

    #[test]
    fn default_maxconn_is_10() {
        let info = crate::balancer::lookup("first").expect("alias resolves");
        assert_eq!(info.name, "haproxy-first");
        let mut lb = (info.build)(
            &crate::balancer::Params::defaults(info.params),
            crate::balancer::testutil::rng(),
        );
        let b = in_flight(&[9, 0]);
        assert_eq!(sequence(lb.as_mut(), &b, 1), "a");
        let b = in_flight(&[10, 0]);
        assert_eq!(sequence(lb.as_mut(), &b, 1), "b");
    }

    #[test]
    fn the_tree_chooses_as_the_scan() {
        use crate::balancer::testutil::index_agrees_with_scan;
        for (n, maxconn, seed) in [(INDEX_MIN, 2, 1), (200, 1, 2), (100, 1000, 3)] {
            let picks = index_agrees_with_scan(
                || Box::new(First::new(maxconn)),
                n,
                |r| r.below(3) as u32,
                0,
                100_000,
                seed,
            );
            assert!(picks > 45_000, "{picks}");
        }
    }
}
