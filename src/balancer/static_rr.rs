//! HAProxy `balance static-rr`: a precomputed server map, walked cyclically. Each usable
//! server appears in the map in proportion to its weight (weights divided by their GCD), and
//! the map spreads the heavy servers' turns (weights 5,1,1 give `a a a b a a c`). The same
//! map serves HAProxy's map-based hashing (`balance source` without `hash-type consistent`,
//! see [`source_hash`](super::source_hash)), which is why [`build_map`] and [`ServerMap`]
//! are shared.

use super::{AlgorithmInfo, Backend, Balancer, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "static-rr",
    aliases: &["haproxy-static-rr"],
    summary: "HAProxy static-rr: a precomputed weighted map (5,1,1 gives a a a b a a c) walked cyclically",
    source: "HAProxy src/lb_map.c (recalc_server_map, map_get_server_rr)",
    params: &[],
    build: |_, _| Box::new(StaticRoundRobin::new()),
}];

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Fills `map` with HAProxy's server map for `backends`: pool indices, one per slot.
///
/// Follows `recalc_server_map` (and the weight reduction of `init_server_map`) in HAProxy
/// `src/lb_map.c`. The usable servers are the eligible backends; their weights are divided
/// by their greatest common divisor, giving effective weights `e_i` and a map of length
/// `T = Σ e_i`. Every server starts with `wscore = 0`; for each slot, every usable server
/// (in pool order) adds `e_i` to its `wscore` and scores `v = (wscore + T) div T`; the first
/// server with the largest `v` takes the slot and has `T` subtracted from its `wscore`.
/// Weights 5,1,1 give `a a a b a a c`; 10,20,30 (reduced to 1,2,3) give `a c b c b c`.
///
/// HAProxy takes the GCD over every configured server, up or down; taking it over the usable
/// servers only gives the same picks, because a map built from weights `k·e_i` is the map
/// for `e_i` repeated `k` times (every `wscore` and `T` scale by `k`, every `v` is unchanged),
/// so walking it and `map[h % T]` both see the same servers. The map is empty when nothing
/// is eligible. Cost `O(T · n)`, as in HAProxy (whose weights are at most 256).
pub(super) fn build_map(backends: &[Backend], map: &mut Vec<usize>) {
    map.clear();
    let g = backends
        .iter()
        .filter(|b| b.eligible())
        .fold(0u64, |g, b| gcd(g, u64::from(b.weight)));
    if g == 0 {
        return;
    }
    // (pool index, effective weight, wscore) of each usable server, in pool order.
    let mut usable: Vec<(usize, i64, i64)> = backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.eligible())
        .map(|(i, b)| (i, (u64::from(b.weight) / g) as i64, 0))
        .collect();
    let total: i64 = usable.iter().map(|u| u.1).sum();
    map.reserve(total as usize);
    for _ in 0..total {
        let mut best: Option<usize> = None;
        let mut max = 0i64;
        for (j, u) in usable.iter_mut().enumerate() {
            u.2 += u.1;
            // Integer division truncating toward zero, as in C.
            let v = (u.2 + total) / total;
            if best.is_none() || v > max {
                max = v;
                best = Some(j);
            }
        }
        let b = best.expect("at least one usable server");
        map.push(usable[b].0);
        usable[b].2 -= total;
    }
}

/// A HAProxy server map together with what it was built from, so that a stale map (the pool
/// changed without an [`on_pool_change`](Balancer::on_pool_change)) is noticed and rebuilt.
#[derive(Clone, Debug, Default)]
pub(super) struct ServerMap {
    /// Pool index per slot (see [`build_map`]).
    slots: Vec<usize>,
    /// Backend id of each pool index when the map was built.
    ids: Vec<u32>,
    /// Number of distinct usable servers in the map (HAProxy `tot_used`).
    usable: usize,
    /// Whether the map has been built at all.
    built: bool,
}

impl ServerMap {
    /// An empty map that builds itself on first use.
    pub(super) fn new() -> Self {
        ServerMap::default()
    }

    /// Rebuilds the map for `backends`.
    pub(super) fn rebuild(&mut self, backends: &[Backend]) {
        build_map(backends, &mut self.slots);
        self.ids.clear();
        self.ids.extend(backends.iter().map(|b| b.id));
        self.usable = backends.iter().filter(|b| b.eligible()).count();
        self.built = true;
    }

    /// Rebuilds the map if it was built for a pool of another shape, or is empty although
    /// something is eligible now (cheap checks; the slot itself is checked in [`at`]).
    ///
    /// [`at`]: ServerMap::at
    pub(super) fn refresh(&mut self, backends: &[Backend]) {
        let stale = !self.built
            || self.ids.len() != backends.len()
            || (self.slots.is_empty() && backends.iter().any(|b| b.eligible()));
        if stale {
            self.rebuild(backends);
        }
    }

    /// The map length `T` (HAProxy `tot_weight`); 0 when nothing is usable.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Number of usable servers in the map (HAProxy `tot_used`).
    pub(super) fn usable(&self) -> usize {
        self.usable
    }

    /// The pool index in slot `k`, if that backend is still the one the map was built for
    /// and is still eligible; `None` means the map is stale and must be rebuilt.
    pub(super) fn at(&self, backends: &[Backend], k: usize) -> Option<usize> {
        let i = *self.slots.get(k)?;
        let b = backends.get(i)?;
        (self.ids.get(i) == Some(&b.id) && b.eligible()).then_some(i)
    }
}

/// HAProxy `balance static-rr`: a weighted server map walked cyclically.
///
/// Follows HAProxy `src/lb_map.c`: `recalc_server_map` builds the map (see [`build_map`]:
/// weights divided by their GCD, map length `T = Σ w/gcd`, heavier servers' turns spread
/// out) and `map_get_server_rr` walks it from a persistent position `rr_idx`, starting at
/// slot 0 and wrapping at `T`. Any change of availability, weight or membership rebuilds the
/// map (HAProxy flags `LB_MAP_RECALC` and rebuilds before the next pick); as in HAProxy the
/// position is kept across rebuilds and reset to 0 only if it falls outside the new map.
/// Vectors (lb-semantics §3, run on HAProxy 3.5-dev): 5,1,1 → `aaabaac`; 4,2,1 → `aababac`;
/// 3,2,1 → `aababc`; 10,20,30 → `acbcbc`.
///
/// Differences from HAProxy: there are no backup servers (HAProxy uses them only when no
/// active server is usable) and no `maxconn` saturation, so every slot of the map is
/// usable and no slot is skipped. Weights are used as configured (HAProxy limits them to
/// 0–256 and, for static algorithms, only allows switching a server between 0% and 100% at
/// run time; here any weight change simply rebuilds the map). No parameters.
#[derive(Clone, Debug, Default)]
pub struct StaticRoundRobin {
    map: ServerMap,
    /// HAProxy `lbprm.map.rr_idx`: the next slot to use.
    pos: usize,
}

impl StaticRoundRobin {
    /// A balancer whose map is built on the first pick (or pool change).
    pub fn new() -> Self {
        StaticRoundRobin::default()
    }
}

impl Balancer for StaticRoundRobin {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        let backends = pool.backends;
        self.map.refresh(backends);
        for _ in 0..2 {
            let t = self.map.len();
            if t == 0 {
                return None;
            }
            if self.pos >= t {
                self.pos = 0;
            }
            if let Some(i) = self.map.at(backends, self.pos) {
                self.pos += 1;
                return Some(i);
            }
            // The pool changed under us without a notification: rebuild and retry once.
            self.map.rebuild(backends);
        }
        unreachable!("a freshly built map holds only eligible backends")
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.map.rebuild(pool.backends);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{sequence, weighted, weighted_available};

    fn map_letters(backends: &[Backend]) -> String {
        let mut map = Vec::new();
        build_map(backends, &mut map);
        map.iter().map(|&i| (b'a' + i as u8) as char).collect()
    }

    #[test]
    fn haproxy_maps() {
        // lb-semantics §3 static-rr vectors [run].
        assert_eq!(map_letters(&weighted(&[5, 1, 1])), "aaabaac");
        assert_eq!(map_letters(&weighted(&[4, 2, 1])), "aababac");
        assert_eq!(map_letters(&weighted(&[3, 2, 1])), "aababc");
        // 10,20,30 reduce by their GCD to 1,2,3: a map of 6 slots.
        assert_eq!(map_letters(&weighted(&[10, 20, 30])), "acbcbc");
        assert_eq!(map_letters(&weighted(&[1, 1, 1])), "abc");
        assert_eq!(map_letters(&weighted(&[7])), "a");
        assert_eq!(map_letters(&weighted(&[])), "");
    }

    #[test]
    fn multiplied_weights_repeat_the_reduced_map() {
        // Why the GCD may be taken over usable servers only: without the reduction, the
        // map for k·w is the map for w repeated k times.
        let reduced = map_letters(&weighted(&[5, 1, 1]));
        let wscore_map = |ws: &[i64]| -> String {
            let t: i64 = ws.iter().sum();
            let mut sc = vec![0i64; ws.len()];
            (0..t)
                .map(|_| {
                    let (mut best, mut max) = (0, i64::MIN);
                    for (j, w) in ws.iter().enumerate() {
                        sc[j] += w;
                        let v = (sc[j] + t) / t;
                        if v > max {
                            (best, max) = (j, v);
                        }
                    }
                    sc[best] -= t;
                    (b'a' + best as u8) as char
                })
                .collect()
        };
        assert_eq!(wscore_map(&[5, 1, 1]), reduced);
        assert_eq!(wscore_map(&[15, 3, 3]), reduced.repeat(3));
    }

    #[test]
    fn picks_walk_the_map_cyclically() {
        let mut s = StaticRoundRobin::new();
        assert_eq!(
            sequence(&mut s, &weighted(&[5, 1, 1]), 14),
            "aaabaacaaabaac"
        );
        let mut s = StaticRoundRobin::new();
        assert_eq!(
            sequence(&mut s, &weighted(&[4, 2, 1]), 14),
            "aababacaababac"
        );
        let mut s = StaticRoundRobin::new();
        assert_eq!(sequence(&mut s, &weighted(&[3, 2, 1]), 12), "aababcaababc");
        let mut s = StaticRoundRobin::new();
        assert_eq!(
            sequence(&mut s, &weighted(&[10, 20, 30]), 12),
            "acbcbcacbcbc"
        );
    }

    #[test]
    fn down_and_zero_weight_servers_are_left_out_of_the_map() {
        // b down: the map is rebuilt over a (5) and c (1).
        let b = weighted_available(&[(5, true), (1, false), (1, true)]);
        assert_eq!(map_letters(&b), "aaaaac");
        let mut s = StaticRoundRobin::new();
        assert_eq!(sequence(&mut s, &b, 12), "aaaaacaaaaac");
        // Weight 0 takes no traffic.
        let b = weighted(&[2, 0, 1]);
        assert_eq!(map_letters(&b), "aac");
        // Nothing eligible: no map, no pick.
        let b = weighted_available(&[(1, false), (0, true)]);
        let mut s = StaticRoundRobin::new();
        assert_eq!(sequence(&mut s, &b, 3), "---");
        assert_eq!(sequence(&mut s, &[], 2), "--");
    }

    #[test]
    fn pool_change_rebuilds_the_map_and_keeps_the_position() {
        let mut b = weighted(&[5, 1, 1]);
        let mut s = StaticRoundRobin::new();
        s.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut s, &b, 4), "aaab");
        // c goes down: the new map is `aaaaab` (5,1); HAProxy keeps rr_idx = 4.
        b[2].available = false;
        s.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut s, &b, 8), "abaaaaab");
        // Weights change to 1,1 (c still down): map `ab`, rr_idx 6 is out of range ⇒ 0.
        b[0].weight = 1;
        s.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut s, &b, 4), "abab");
    }

    #[test]
    fn unannounced_pool_changes_are_noticed() {
        let mut s = StaticRoundRobin::new();
        let b = weighted(&[1, 1, 1]);
        assert_eq!(sequence(&mut s, &b, 2), "ab");
        // A pool of another length, without on_pool_change: rebuilt lazily (map `ab`; the
        // position 2 is out of range, so the walk restarts at slot 0).
        let b2 = weighted(&[1, 1]);
        assert_eq!(sequence(&mut s, &b2, 3), "aba");
        // The slot's backend went down without a notification: rebuilt, never picked.
        let mut b3 = weighted(&[1, 1]);
        b3[1].available = false;
        assert_eq!(sequence(&mut s, &b3, 3), "aaa");
    }
}
