//! Envoy's `ROUND_ROBIN` policy: plain rotation from a random starting index when every
//! healthy host has the same weight, and an earliest-deadline-first (EDF) schedule when
//! weights differ, so a host of weight `w` is due every `1/w` units of virtual time
//! (weights 5,1,1 give `a a a a b c a`). The schedule starts at a per-balancer random
//! point, as Envoy does so that many proxies do not all start on the same host.

use super::edf::Edf;
use super::{AlgorithmInfo, Balancer, PoolView, RequestInfo};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "envoy-round-robin",
    aliases: &["edf", "envoy-rr"],
    summary: "Envoy ROUND_ROBIN: rotation from a random start if weights are equal, else EDF (deadline += 1/weight)",
    source: "Envoy source/extensions/load_balancing_policies/round_robin/round_robin_lb.h, source/common/upstream/edf_scheduler.h",
    params: &[],
    build: |_, rng| Box::new(EnvoyRoundRobin::new(rng)),
}];

/// Envoy round robin: equal weights rotate, unequal weights use EDF.
///
/// Follows `RoundRobinLoadBalancer` (`source/extensions/load_balancing_policies/round_robin/
/// round_robin_lb.h`) on `EdfLoadBalancerBase` (`.../common/load_balancer_impl.cc`:
/// `refresh`, `chooseHostOnce`) and `EdfScheduler` (`source/common/upstream/
/// edf_scheduler.h`). The balancer draws one 64-bit `seed` when it is built (Envoy's
/// `seed_(random_.random())`). Hosts are the eligible backends in pool order (Envoy's
/// healthy hosts of priority 0).
///
/// * If all hosts have the same weight, or there is at most one host, a pick returns
///   `hosts[rr_index++ % n]`; `rr_index` starts at `seed` and, as in Envoy (whose
///   `rr_indexes_.insert` never overwrites), keeps counting across pool changes.
/// * Otherwise an EDF scheduler holds one entry per host with deadline `current_time +
///   1/weight`; a pick pops the earliest deadline (ties by insertion order), sets
///   `current_time` to it, and re-inserts the host with its weight at that moment.
///   The scheduler is built with `createWithPicks(hosts, seed mod 2³² mod 429496729)`:
///   with `W = Σ(w+1e−13)` and `P` the pick count, host `i` starts at deadline
///   `(⌊(wᵢ+1e−13)·P/W⌋ + 1)/(wᵢ+1e−13)` (one fewer pick if rounding overshoots), the clock
///   at the latest emulated pick time, and the remaining `< n` picks are executed. With
///   0 seed picks, weights 5,1,1 give `a a a a b c a` repeated; 4,2,1 give
///   `a b a a c b a`; 3,2,1 give `a b a c b a`.
///
/// Every pool change rebuilds the schedule over the eligible backends (Envoy rebuilds its
/// schedulers on every host-set update, weight changes included), with the same seed, so
/// the schedule restarts from the same emulated point. Envoy's panic mode (routing to all
/// hosts when too few are healthy), priorities, localities and slow start are not
/// modelled: only eligible backends are ever picked.
///
/// Defaults: no parameters (Envoy's `RoundRobin` config has only slow start and locality
/// options); the seed comes from the [`SimRng`] passed to [`new`](EnvoyRoundRobin::new).
#[derive(Clone, Debug)]
pub struct EnvoyRoundRobin {
    seed: u64,
    rr_index: u64,
    /// Whether the host list reflects the last pool seen.
    built: bool,
    /// Length of the pool the host list was built from.
    pool_len: usize,
    /// Pool indices of the eligible backends, in pool order.
    hosts: Vec<usize>,
    /// Their ids, to detect a stale list.
    host_ids: Vec<u32>,
    /// Their weights when the schedule was built.
    weights: Vec<f64>,
    /// Whether the EDF scheduler is in use (weights differ and there are ≥ 2 hosts).
    weighted: bool,
    edf: Edf,
}

impl EnvoyRoundRobin {
    /// A balancer whose seed is one draw from `rng`.
    pub fn new(mut rng: SimRng) -> Self {
        Self::with_seed(rng.next_u64())
    }

    /// A balancer with the given seed: the round-robin index starts at `seed` and the EDF
    /// schedule emulates `(seed as u32) % 429496729` picks.
    pub(crate) fn with_seed(seed: u64) -> Self {
        EnvoyRoundRobin {
            seed,
            rr_index: seed,
            built: false,
            pool_len: 0,
            hosts: Vec::new(),
            host_ids: Vec::new(),
            weights: Vec::new(),
            weighted: false,
            edf: Edf::default(),
        }
    }

    /// A balancer whose schedule starts after `picks` emulated picks (and whose rotation
    /// index starts at `picks`), for reproducing Envoy's vectors.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn with_seed_picks(picks: u32) -> Self {
        Self::with_seed(u64::from(picks))
    }

    /// Envoy's `refresh`: the host list and, if weights differ, a fresh EDF scheduler.
    fn rebuild(&mut self, pool: &PoolView<'_>) {
        self.hosts.clear();
        self.host_ids.clear();
        self.weights.clear();
        for (i, b) in pool.backends.iter().enumerate() {
            if b.eligible() {
                self.hosts.push(i);
                self.host_ids.push(b.id);
                self.weights.push(f64::from(b.weight));
            }
        }
        let equal = self.weights.windows(2).all(|w| w[0] == w[1]);
        self.weighted = !equal && self.hosts.len() > 1;
        if self.weighted {
            let weights = &self.weights;
            self.edf.rebuild_with_picks(
                0..weights.len() as u32,
                |h| weights[h as usize],
                self.seed as u32,
            );
        } else {
            self.edf = Edf::default();
        }
        self.pool_len = pool.len();
        self.built = true;
    }

    fn choose(&mut self, pool: &PoolView<'_>) -> Option<usize> {
        if self.hosts.is_empty() {
            return None;
        }
        let h = if self.weighted {
            let hosts = &self.hosts;
            let weights = &self.weights;
            // The weight at re-insertion is the backend's weight now (Envoy's hostWeight).
            self.edf.pick_and_add(|h| {
                let h = h as usize;
                pool.backends
                    .get(hosts[h])
                    .filter(|b| b.weight > 0)
                    .map_or(weights[h], |b| f64::from(b.weight))
            })? as usize
        } else {
            let n = self.hosts.len() as u64;
            let h = (self.rr_index % n) as usize;
            self.rr_index = self.rr_index.wrapping_add(1);
            h
        };
        Some(h)
    }

    /// True if host `h` is still what the pool holds at its index, and eligible.
    fn valid(&self, pool: &PoolView<'_>, h: usize) -> bool {
        pool.backends
            .get(self.hosts[h])
            .is_some_and(|b| b.eligible() && b.id == self.host_ids[h])
    }
}

impl Balancer for EnvoyRoundRobin {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        if !self.built || self.pool_len != pool.len() {
            self.rebuild(pool);
        }
        match self.choose(pool) {
            Some(h) if self.valid(pool, h) => Some(self.hosts[h]),
            got => {
                if got.is_none() && !pool.backends.iter().any(|b| b.eligible()) {
                    return None;
                }
                // The pool changed without notice: rebuild from it.
                self.rebuild(pool);
                self.choose(pool).map(|h| self.hosts[h])
            }
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.rebuild(pool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::edf::MAX_SEED_PICKS;
    use crate::balancer::testutil::{counts, rng, sequence, weighted, weighted_available};

    fn seq(picks: u32, weights: &[u32], n: usize) -> String {
        sequence(
            &mut EnvoyRoundRobin::with_seed_picks(picks),
            &weighted(weights),
            n,
        )
    }

    #[test]
    fn envoy_edf_vectors() {
        assert_eq!(seq(0, &[5, 1, 1], 14), "aaaabcaaaaabca");
        assert_eq!(seq(1, &[5, 1, 1], 14), "aaabcaaaaabcaa");
        assert_eq!(seq(0, &[4, 2, 1], 7), "abaacba");
        assert_eq!(seq(0, &[3, 2, 1], 6), "abacba");
    }

    #[test]
    fn edf_repeats_over_several_cycles() {
        assert_eq!(seq(0, &[5, 1, 1], 35), "aaaabca".repeat(5));
        assert_eq!(seq(0, &[4, 2, 1], 28), "abaacba".repeat(4));
        assert_eq!(seq(0, &[3, 2, 1], 24), "abacba".repeat(4));
    }

    #[test]
    fn seed_picks_continue_the_fresh_schedule() {
        // createWithPicks(P) must be where a fresh scheduler is after P picks.
        let w = [5u32, 1, 1];
        let long = seq(0, &w, 60);
        for p in [1u32, 2, 3, 6, 7, 8, 20, 33] {
            assert_eq!(seq(p, &w, 20), long[p as usize..p as usize + 20], "p = {p}");
        }
        // Envoy only promises "very similar" state: entries whose deadlines tie (or
        // nearly tie, 1e-13 apart) may come out in another order, so with these weights
        // the emulated schedule can swap neighbouring picks but keeps every host's share.
        let w = [7u32, 3, 2, 5];
        let long = seq(0, &w, 120);
        for p in [1u32, 4, 17, 34, 40] {
            let got = seq(p, &w, 68);
            let want = &long[p as usize..p as usize + 68];
            for host in ['a', 'b', 'c', 'd'] {
                let g = got.matches(host).count() as i64;
                let x = want.matches(host).count() as i64;
                assert!((g - x).abs() <= 1, "p = {p}: {got} vs {want}");
            }
        }
        assert_eq!(seq(4, &w, 30), long[4..34]);
    }

    #[test]
    fn large_seed_is_reduced_and_keeps_proportions() {
        // (u32::MAX as seed) % 429496729 = 5 picks; the rr index would be u32::MAX.
        let w = [5u32, 1, 1];
        let mut lb = EnvoyRoundRobin::with_seed(u64::from(u32::MAX));
        assert_eq!(u32::MAX % MAX_SEED_PICKS, 5);
        assert_eq!(sequence(&mut lb, &weighted(&w), 14), seq(5, &w, 14));
        // A huge emulated pick count still gives exact shares per 7 picks.
        let mut lb = EnvoyRoundRobin::with_seed(400_000_003);
        let c = counts(&mut lb, &weighted(&w), 7 * 1000);
        assert!((4999..=5001).contains(&c[0]), "{c:?}");
    }

    #[test]
    fn equal_weights_rotate_from_the_seed() {
        assert_eq!(seq(0, &[2, 2, 2], 7), "abcabca");
        assert_eq!(seq(1, &[2, 2, 2], 7), "bcabcab");
        let mut lb = EnvoyRoundRobin::with_seed(u64::MAX);
        // u64::MAX % 3 = 0, then the index wraps to 0: a, a, b.
        assert_eq!(sequence(&mut lb, &weighted(&[1, 1, 1]), 3), "aab");
    }

    #[test]
    fn seed_is_drawn_from_the_rng() {
        let mut r = rng();
        let seed = r.next_u64();
        let b = weighted(&[1, 1, 1, 1, 1]);
        let got = sequence(&mut EnvoyRoundRobin::new(rng()), &b, 10);
        let want = sequence(&mut EnvoyRoundRobin::with_seed(seed), &b, 10);
        assert_eq!(got, want);
        assert_eq!(got.chars().next(), Some((b'a' + (seed % 5) as u8) as char));
    }

    #[test]
    fn skips_ineligible_and_returns_none_when_nothing_is_eligible() {
        // Eligible: b (1) and d (2): unequal, so EDF over [1, 2].
        let b = weighted_available(&[(5, false), (1, true), (0, true), (2, true)]);
        let s = sequence(&mut EnvoyRoundRobin::with_seed_picks(0), &b, 9);
        assert_eq!(s, "dbddbddbd");
        let b = weighted_available(&[(1, false), (0, true)]);
        assert_eq!(
            sequence(&mut EnvoyRoundRobin::with_seed_picks(0), &b, 2),
            "--"
        );
        assert_eq!(
            sequence(&mut EnvoyRoundRobin::with_seed_picks(0), &[], 2),
            "--"
        );
    }

    #[test]
    fn pool_change_rebuilds_over_eligible_backends() {
        let mut b = weighted(&[1, 1, 1]);
        let mut lb = EnvoyRoundRobin::with_seed_picks(0);
        assert_eq!(sequence(&mut lb, &b, 4), "abca");
        // c goes down: rotation over [a, b] with the index carried on (4 % 2 = 0).
        b[2].available = false;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut lb, &b, 3), "aba");
        // Weights become unequal: EDF restarts from the seed's point (0 picks).
        b[2].available = true;
        b[0].weight = 5;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut lb, &b, 7), "aaaabca");
        // A pool of another length without notice is picked up too.
        let b4 = weighted(&[1, 3]);
        assert_eq!(sequence(&mut lb, &b4, 4), "bbab");
    }

    #[test]
    fn single_host_and_empty_pools() {
        assert_eq!(seq(7, &[9], 3), "aaa");
        let b = weighted_available(&[(3, false), (4, true)]);
        assert_eq!(
            sequence(&mut EnvoyRoundRobin::with_seed_picks(3), &b, 2),
            "bb"
        );
    }
}
