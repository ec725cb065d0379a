//! The Linux IPVS least-connection family: `lc`, `wlc` (IPVS's default scheduler), `sed`
//! and `nq`. Each scans the destination list in order and keeps the first minimum of a
//! per-destination cost, compared by cross-multiplication; they differ in the cost.

use super::min_tree::{INDEX_MIN, MinTree};
use super::{AlgorithmInfo, Backend, Balancer, Explanation, PoolView, RequestInfo};
use crate::engine::SimTime;
use std::cmp::Ordering;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[
    AlgorithmInfo {
        name: "ipvs-wlc",
        aliases: &["lvs-wlc", "ipvs-weighted-least-connection"],
        summary: "IPVS wlc (ipvsadm's default): least (active·256 + inactive)/weight by cross-multiplication, first in list order wins ties",
        source: "Linux IPVS net/netfilter/ipvs/ip_vs_wlc.c (ip_vs_wlc_schedule); ip_vs_dest_conn_overhead in include/net/ip_vs.h",
        params: &[],
        build: |_, _| Box::new(IpvsLeastConn::new(Rule::Wlc)),
    },
    AlgorithmInfo {
        name: "ipvs-lc",
        aliases: &["lvs-lc", "ipvs-least-connection"],
        summary: "IPVS lc: least active·256 + inactive, weights ignored except 0, first in list order wins ties",
        source: "Linux IPVS net/netfilter/ipvs/ip_vs_lc.c (ip_vs_lc_schedule); ip_vs_dest_conn_overhead in include/net/ip_vs.h",
        params: &[],
        build: |_, _| Box::new(IpvsLeastConn::new(Rule::Lc)),
    },
    AlgorithmInfo {
        name: "ipvs-sed",
        aliases: &["lvs-sed", "shortest-expected-delay"],
        summary: "IPVS sed (shortest expected delay): least (active + 1)/weight by cross-multiplication, first in list order wins ties",
        source: "Linux IPVS net/netfilter/ipvs/ip_vs_sed.c (ip_vs_sed_schedule, ip_vs_sed_dest_overhead)",
        params: &[],
        build: |_, _| Box::new(IpvsLeastConn::new(Rule::Sed)),
    },
    AlgorithmInfo {
        name: "ipvs-nq",
        aliases: &["lvs-nq", "never-queue"],
        summary: "IPVS nq (never queue): the first backend with no active connection, else as sed",
        source: "Linux IPVS net/netfilter/ipvs/ip_vs_nq.c (ip_vs_nq_schedule, ip_vs_nq_dest_overhead)",
        params: &[],
        build: |_, _| Box::new(IpvsLeastConn::new(Rule::Nq)),
    },
];

/// Which IPVS scheduler of the family.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// `ip_vs_lc.c`: minimum overhead, weight ignored except 0.
    Lc,
    /// `ip_vs_wlc.c`: minimum overhead / weight.
    Wlc,
    /// `ip_vs_sed.c`: minimum (active + 1) / weight.
    Sed,
    /// `ip_vs_nq.c`: first idle, else as sed.
    Nq,
}

/// A cost `num/den` compared as IPVS compares it, by cross-multiplication
/// (`a.num·b.den` against `b.num·a.den`, here in 128 bits so nothing overflows); `den = 0`
/// means "not a candidate" and is larger than every cost. Equality is equality of the
/// ratios, so the tree's "first of the equal" is IPVS's "first wins ties".
#[derive(Copy, Clone, Debug)]
pub(super) struct Cost {
    num: u64,
    den: u64,
}

/// The cost of a backend that is not a candidate.
const OUT: Cost = Cost { num: 0, den: 0 };

impl Ord for Cost {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        // Equal weights (always for lc) order as their numerators: no products. Two
        // non-candidates are both `OUT`, equal either way.
        if self.den == other.den {
            return self.num.cmp(&other.num);
        }
        match (self.den, other.den) {
            (0, 0) => Ordering::Equal,
            (0, _) => Ordering::Greater,
            (_, 0) => Ordering::Less,
            _ => (u128::from(self.num) * u128::from(other.den))
                .cmp(&(u128::from(other.num) * u128::from(self.den))),
        }
    }
}

impl PartialOrd for Cost {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Cost {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Cost {}

/// `ip_vs_dest_conn_overhead`: `(activeconns << 8) + inactconns`, with `activeconns` the
/// backend's in-flight count and `inactconns` 0 (lblab has no inactive count). In 64 bits:
/// the kernel's `int` would overflow past 8 388 607 active connections.
#[inline]
fn overhead(active: u32) -> u64 {
    u64::from(active) << 8
}

impl Rule {
    /// The cost this rule minimises for a backend with `active` connections and weight
    /// `weight` (> 0): numerator and denominator.
    #[inline]
    fn cost(self, active: u32, weight: u32) -> Cost {
        let w = u64::from(weight);
        match self {
            Rule::Lc => Cost {
                num: overhead(active),
                den: 1,
            },
            Rule::Wlc => Cost {
                num: overhead(active),
                den: w,
            },
            Rule::Sed => Cost {
                num: u64::from(active) + 1,
                den: w,
            },
            // An idle backend is returned at once: cost 0, below every sed cost (≥ 1/w).
            Rule::Nq if active == 0 => Cost { num: 0, den: w },
            Rule::Nq => Cost {
                num: u64::from(active) + 1,
                den: w,
            },
        }
    }

    /// The backend's cost, or [`OUT`] if IPVS skips it (here: not
    /// [`eligible`](Backend::eligible), IPVS's overloaded or weight 0).
    #[inline]
    fn cost_of(self, b: &Backend) -> Cost {
        if b.eligible() {
            self.cost(b.in_flight, b.weight)
        } else {
            OUT
        }
    }
}

/// The kernel's scan, transcribed loop for loop (the reference the index is checked
/// against). `lc`: the first minimum of the overhead among dests with weight ≠ 0
/// (`doh < loh`, strict). `wlc`/`sed`: the first eligible dest seeds `least`, a later one
/// replaces it iff `loh·w_d > doh·w_least`. `nq`: the first eligible dest with
/// `activeconns == 0` at once, else as `sed`.
pub(super) fn scan(rule: Rule, backends: &[Backend]) -> Option<usize> {
    let mut least: Option<(usize, u64)> = None;
    for (i, d) in backends.iter().enumerate() {
        if !d.eligible() {
            continue;
        }
        let doh = match rule {
            Rule::Lc | Rule::Wlc => overhead(d.in_flight),
            Rule::Sed | Rule::Nq => u64::from(d.in_flight) + 1,
        };
        if rule == Rule::Nq && d.in_flight == 0 {
            return Some(i);
        }
        let better = match least {
            None => true,
            Some((_, loh)) if rule == Rule::Lc => doh < loh,
            Some((l, loh)) => {
                u128::from(loh) * u128::from(d.weight)
                    > u128::from(doh) * u128::from(backends[l].weight)
            }
        };
        if better {
            least = Some((i, doh));
        }
    }
    least.map(|(i, _)| i)
}

/// The Linux IPVS schedulers `lc`, `wlc`, `sed` and `nq`.
///
/// Transcribed from `net/netfilter/ipvs/` (`ip_vs_lc.c` `ip_vs_lc_schedule`,
/// `ip_vs_wlc.c` `ip_vs_wlc_schedule`, `ip_vs_sed.c` `ip_vs_sed_schedule`, `ip_vs_nq.c`
/// `ip_vs_nq_schedule`; the overhead is `ip_vs_dest_conn_overhead` in
/// `include/net/ip_vs.h`):
///
/// * **lc**: the minimum of `overhead = (activeconns << 8) + inactconns` over the
///   destinations with weight ≠ 0, strict `<`, so the first minimum in list order. The
///   weight's value is otherwise ignored. (The comment in `ip_vs_lc.c` still says `<< 5`;
///   the code uses `<< 8`.)
/// * **wlc** (ipvsadm's default scheduler, `DEF_SCHED "wlc"`): the first eligible
///   destination seeds `least`; a later one replaces it iff `loh·w_d > doh·w_least` (64-bit
///   products in the kernel), so the minimum of `overhead/weight`, the first of equals.
///   E.g. `a` weight 1 with 1 active against `b` weight 3 with 2 active: 256·3 > 512·1, `b`;
///   `b` weight 2 instead: 512 = 512, `a` stays.
/// * **sed** (shortest expected delay): as `wlc` with overhead `activeconns + 1`
///   (inactive connections ignored).
/// * **nq** (never queue): the **first** eligible destination with `activeconns == 0` is
///   returned at once, even if listed after a busier one with a better ratio; otherwise
///   `sed`.
///
/// How lblab maps the kernel's counters: `activeconns` is the backend's
/// [`in_flight`](Backend::in_flight), this load balancer's own count of requests
/// (connections) in flight to it, and `inactconns` is **0**, since lblab has no separate
/// inactive count. For TCP connections in ESTABLISHED, which IPVS counts as active, this is
/// exact; UDP flows, which IPVS counts as inactive for their whole life (so that `sed`
/// and `nq` see a UDP-only backend as idle and `lc`/`wlc` weigh a UDP flow 1/256 of a TCP
/// connection), and TCP connections in their handshake or closing states are not
/// distinguished. A destination IPVS skips (flag `OVERLOAD`, or weight 0) is a backend
/// that is not [`eligible`](Backend::eligible): unavailable or weight 0. Not modelled:
/// `u_threshold`/`l_threshold` (the `OVERLOAD` hysteresis), persistence templates. Costs
/// are computed in 64 bits and compared in 128 (the kernel's `int` overhead would overflow
/// past 8 388 607 active connections).
///
/// Cost per pick: in a pool of [`INDEX_MIN`] backends or more whose owner reports
/// in-flight changes, a tournament tree ([`MinTree`], first of equals) keyed by the cost
/// answers in O(1) and is updated in O(log n) per in-flight change; smaller pools run the
/// kernel's scan ([`scan`]). Both choose the same backend (checked by
/// `index_agrees_with_scan`). No parameters.
#[derive(Clone, Debug)]
pub struct IpvsLeastConn {
    rule: Rule,
    /// Per backend: its cost, [`OUT`] if not eligible (large tracked pools only).
    tree: MinTree<Cost>,
}

impl IpvsLeastConn {
    /// The scheduler `rule`.
    pub fn new(rule: Rule) -> Self {
        IpvsLeastConn {
            rule,
            tree: MinTree::first_only(OUT),
        }
    }
}

impl Balancer for IpvsLeastConn {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        if !pool.tracked() || pool.len() < INDEX_MIN {
            return scan(self.rule, pool.backends);
        }
        if self.tree.epoch != pool.epoch() {
            let (b, rule) = (pool.backends, self.rule);
            self.tree
                .build(pool.epoch(), b.len(), |j| rule.cost_of(&b[j]));
        }
        self.tree.min()?;
        let i = self.tree.nth_min(0);
        debug_assert!(pool.backends[i].eligible());
        Some(i)
    }

    fn wants_in_flight(&self) -> bool {
        true
    }

    fn on_in_flight(&mut self, index: usize, in_flight: u32) {
        if self.tree.built() && index < self.tree.len() {
            let old = self.tree.get(index);
            if old.den != 0 {
                // The denominator is the weight (1 for lc): unchanged by in-flight counts.
                let weight = u32::try_from(old.den).unwrap_or(u32::MAX);
                self.tree.set(index, self.rule.cost(in_flight, weight));
            }
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, _pool: &PoolView<'_>) {
        self.tree.invalidate();
    }

    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        _req: &RequestInfo,
    ) -> Option<Explanation> {
        let label = match self.rule {
            Rule::Lc => "overhead = active·256 (inactive 0)",
            Rule::Wlc => "overhead/weight, overhead = active·256 (inactive 0)",
            Rule::Sed => "(active + 1)/weight",
            Rule::Nq => "(active + 1)/weight; the first idle backend wins at once",
        };
        let values = pool
            .backends
            .iter()
            .filter(|b| b.eligible())
            .map(|b| {
                let c = self.rule.cost(b.in_flight, b.weight);
                let v = match self.rule {
                    Rule::Lc => c.num.to_string(),
                    Rule::Nq if b.in_flight == 0 => "idle".to_string(),
                    _ => super::show_ratio(c.num, c.den),
                };
                (b.id, v)
            })
            .collect();
        Some(Explanation::per_backend(label, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{backends, index_agrees_with_scan, loaded, sequence};

    fn one(rule: Rule, b: &[Backend]) -> String {
        sequence(&mut IpvsLeastConn::new(rule), b, 1)
    }

    #[test]
    fn reference_vectors() {
        // lc: a 1 active, b 300 inactive, c 255 inactive → c (256 / 300 / 255). lblab has
        // no inactive count, so the vector is checked on the overhead the kernel compares.
        let oh = [256u64, 300, 255];
        let lc_first_min = (0..3).min_by_key(|&i| (oh[i], i)).unwrap();
        assert_eq!(lc_first_min, 2);
        // The same ordering with active connections only: a 1 active beats b 2 active; an
        // idle c beats both.
        assert_eq!(one(Rule::Lc, &loaded(&[(1, 1), (1, 2), (1, 0)])), "c");
        // wlc: a w1 1 active, b w3 2 active → b (256·3 = 768 > 512·1).
        assert_eq!(one(Rule::Wlc, &loaded(&[(1, 1), (3, 2)])), "b");
        // wlc: a w1 1 active, b w2 2 active → a (exact tie keeps the first).
        assert_eq!(one(Rule::Wlc, &loaded(&[(1, 1), (2, 2)])), "a");
        // a w1 idle, b w10 1 active: wlc a / sed b ((0+1)·10 > (1+1)·1) / nq a (idle).
        let b = loaded(&[(1, 0), (10, 1)]);
        assert_eq!(one(Rule::Wlc, &b), "a");
        assert_eq!(one(Rule::Sed, &b), "b");
        assert_eq!(one(Rule::Nq, &b), "a");
        // nq: a w10 2 active, b w1 idle → b (idle wins even though listed later).
        let b = loaded(&[(10, 2), (1, 0)]);
        assert_eq!(one(Rule::Nq, &b), "b");
        assert_eq!(one(Rule::Sed, &b), "a", "sed alone: 3/10 < 1/1");
        // UDP: a 500 inactive, b idle: nq a / wlc b. lblab counts no inactive flows, so a
        // UDP-loaded backend looks idle to every rule here: a then b by list order.
        let b = loaded(&[(1, 0), (1, 0)]);
        for rule in [Rule::Lc, Rule::Wlc, Rule::Sed, Rule::Nq] {
            assert_eq!(one(rule, &b), "a", "{rule:?}");
        }
    }

    #[test]
    fn lc_ignores_weights_except_zero() {
        // b has weight 100 but more connections: lc takes a; wlc takes b (2/100 < 1/1).
        let b = loaded(&[(1, 1), (100, 2)]);
        assert_eq!(one(Rule::Lc, &b), "a");
        assert_eq!(one(Rule::Wlc, &b), "b");
        // Weight 0 and unavailable are skipped by every rule, even when idle.
        let b = backends(&[(0, 0, true), (1, 0, false), (1, 5, true), (2, 7, true)]);
        assert_eq!(one(Rule::Lc, &b), "c");
        assert_eq!(one(Rule::Wlc, &b), "d", "7/2 < 5/1");
        assert_eq!(one(Rule::Sed, &b), "d", "8/2 < 6/1");
        assert_eq!(one(Rule::Nq, &b), "d");
        let none = backends(&[(0, 0, true), (1, 0, false)]);
        for rule in [Rule::Lc, Rule::Wlc, Rule::Sed, Rule::Nq] {
            assert_eq!(one(rule, &none), "-");
            assert_eq!(one(rule, &[]), "-");
        }
    }

    #[test]
    fn first_in_list_order_wins_every_tie() {
        // Equal ratios 2/1 = 4/2 = 6/3: the first of them (b) for wlc; sed (3/1, 5/2, 7/3)
        // has a unique minimum, d.
        let b = loaded(&[(1, 3), (1, 2), (2, 4), (3, 6)]);
        assert_eq!(one(Rule::Wlc, &b), "b");
        assert_eq!(one(Rule::Sed, &b), "d");
        // Several idle: nq and every other rule take the first idle one.
        let b = loaded(&[(5, 1), (1, 0), (9, 0)]);
        assert_eq!(one(Rule::Nq, &b), "b");
        assert_eq!(one(Rule::Lc, &b), "b");
        assert_eq!(one(Rule::Wlc, &b), "b");
        // sed prefers the heavier idle backend: 1/9 < 1/1.
        assert_eq!(one(Rule::Sed, &b), "c");
    }

    #[test]
    fn a_pool_in_flight_sequence() {
        // Counting each pick in flight: wlc over weights 3, 1 fills a to 3 before b gets
        // its first (ties to a), then keeps the 3:1 ratio.
        let mut lb = IpvsLeastConn::new(Rule::Wlc);
        let mut b = loaded(&[(3, 0), (1, 0)]);
        let mut got = String::new();
        for _ in 0..8 {
            let i = lb
                .pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::default())
                .unwrap();
            b[i].in_flight += 1;
            got.push((b'a' + i as u8) as char);
        }
        // a (0/3 = 0/1, tie: a), b (1/3 > 0/1), a (1/3 < 1/1), a (2/3 < 1), a? 3/3 = 1/1 tie: a.
        assert_eq!(got, "abaaabaa");
    }

    #[test]
    fn the_tree_chooses_as_the_scan() {
        for (rule, seed) in [(Rule::Lc, 1), (Rule::Wlc, 2), (Rule::Sed, 3), (Rule::Nq, 4)] {
            for n in [INDEX_MIN, 300] {
                let picks = index_agrees_with_scan(
                    || Box::new(IpvsLeastConn::new(rule)),
                    n,
                    |r| r.below(4) as u32,
                    0,
                    100_000,
                    seed,
                );
                assert!(picks > 40_000, "{rule:?}: {picks}");
            }
        }
    }
}
