//! nginx `ip_hash`: the first three octets of the client's IPv4 address pick a peer by a
//! weighted walk, so a whole /24 sticks to one backend; an unusable peer is skipped by
//! rehashing, and after too many misses nginx falls back to smooth weighted round robin.
//! Also a variant hashing all four octets (`ip-hash-full`).
//!
//! The weighted walk, the retry limit and the round-robin fallback are shared with nginx
//! `hash` ([`key_hash`](super::key_hash)).

use super::least_conn::INDEX_MIN;
use super::least_conn_index::LcIndex;
use super::smooth_wrr::swrr_step;
use super::weights::Cumulative;
use super::{AlgorithmInfo, Backend, Balancer, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[
    AlgorithmInfo {
        name: "ip-hash",
        aliases: &["nginx-ip-hash"],
        summary: "nginx ip_hash: the client's /24 (first 3 octets) picks a peer; up to 20 rehashes past down peers, then SWRR",
        source: "nginx src/http/modules/ngx_http_upstream_ip_hash_module.c (ngx_http_upstream_get_ip_hash_peer)",
        params: &[],
        build: |_, _| Box::new(IpHash::new(3)),
    },
    AlgorithmInfo {
        name: "ip-hash-full",
        aliases: &[],
        summary: "nginx ip_hash over all 4 octets of the IPv4 address (nginx hashes the whole address only for IPv6)",
        source: "nginx src/http/modules/ngx_http_upstream_ip_hash_module.c (variant: full IPv4 address)",
        params: &[],
        build: |_, _| Box::new(IpHash::new(4)),
    },
];

/// Hash iterations nginx allows after the first before falling back to round robin:
/// `if (++tries > 20) return get_rr_peer(...)`, so at most 21 iterations in all.
pub(super) const MAX_TRIES: u32 = 20;

/// nginx `peers->total_weight`: the sum of the weights of *all* peers, usable or not
/// (`down` peers count too, as in `ngx_http_upstream_init_round_robin`).
pub(super) fn total_weight(backends: &[Backend]) -> u64 {
    backends.iter().map(|b| u64::from(b.weight)).sum()
}

/// Each peer's end offset in nginx's weight walk (every peer counted), kept while the
/// pool's epoch stays the same, so that finding the peer an offset lands on is a division
/// when every peer has the same weight (O(1)), else a binary search ([`Cumulative`]),
/// rather than nginx's `while (w >= peer->weight) { w -= peer->weight; peer = peer->next; }`
/// over the list: the same peer either way.
#[derive(Clone, Debug)]
pub(super) struct WeightOffsets {
    epoch: u64,
    ends: Cumulative,
}

impl Default for WeightOffsets {
    fn default() -> Self {
        WeightOffsets {
            epoch: super::NO_EPOCH,
            ends: Cumulative::default(),
        }
    }
}

impl WeightOffsets {
    /// The offsets of `pool` (rebuilt only when its epoch changed).
    pub(super) fn of(&mut self, pool: &PoolView<'_>) -> &Self {
        if self.epoch != pool.epoch() {
            self.epoch = pool.epoch();
            self.ends.fill(pool.backends.iter().map(|b| b.weight));
        }
        self
    }

    /// The offsets of `backends`, built afresh (`explain`, tests).
    pub(super) fn from_backends(backends: &[Backend]) -> Self {
        let mut w = WeightOffsets::default();
        w.ends.fill(backends.iter().map(|b| b.weight));
        w
    }

    /// nginx `peers->total_weight`.
    #[inline]
    pub(super) fn total(&self) -> u64 {
        self.ends.total()
    }

    /// The peer that weight offset `w < total` lands on (never a weight-0 peer).
    #[inline]
    pub(super) fn peer_at(&self, w: u64) -> usize {
        self.ends.at(w)
    }
}

/// The hash-and-rehash walk both nginx hash modules share: iteration `k` (from 0) takes
/// `hash(k)`, lands on the peer at offset `hash % total_weight` ([`WeightOffsets`]) and
/// tells `step`; the first eligible peer wins, with its hash. `None` (fall back to round
/// robin) when the total weight is 0 or after `1 + MAX_TRIES` iterations without an
/// eligible peer.
pub(super) fn rehash_walk(
    backends: &[Backend],
    offsets: &WeightOffsets,
    mut hash: impl FnMut(u32) -> u64,
    mut step: impl FnMut(u64, usize),
) -> Option<(usize, u64)> {
    let total = offsets.total();
    if total == 0 {
        return None;
    }
    for k in 0..=MAX_TRIES {
        let h = hash(k);
        let p = offsets.peer_at(h % total);
        step(h, p);
        if backends[p].eligible() {
            return Some((p, h));
        }
    }
    None
}

/// The smooth-WRR fallback of nginx's hash modules (`get_rr_peer`,
/// `ngx_http_upstream_get_round_robin_peer`): one step over every eligible peer with its
/// configured weight, from its own current weights. In a pool of
/// [`INDEX_MIN`] backends or more whose owner keeps epochs and whose eligible peers all have
/// the same weight, the step
/// goes through a flat [`LcIndex`] (a rotation, O(1); the same choice and current
/// weights); a pool with unequal weights is scanned.
#[derive(Clone, Debug)]
pub(super) struct RoundRobinFallback {
    /// `current_weight` per backend, indexed like the pool (the index holds the eligible
    /// peers' while it is built).
    pub(super) current: Vec<i64>,
    /// The index, in large pools with equal weights.
    pub(super) flat: LcIndex,
    /// The epoch whose eligible weights are unequal (scanned).
    uneven: u64,
}

impl Default for RoundRobinFallback {
    fn default() -> Self {
        RoundRobinFallback {
            current: Vec::new(),
            flat: LcIndex::default(),
            uneven: super::NO_EPOCH,
        }
    }
}

impl RoundRobinFallback {
    /// Resets every current weight to 0 for a pool of `len` backends.
    pub(super) fn reset(&mut self, len: usize) {
        self.flat.invalidate();
        self.current.clear();
        self.current.resize(len, 0);
    }

    /// The index's current weights go back to `current` (before a step over them that
    /// does not go through the index).
    pub(super) fn hand_back(&mut self) {
        self.flat.hand_back(&mut self.current);
    }

    /// One smooth-WRR step over the eligible backends.
    pub(super) fn pick(&mut self, pool: &PoolView<'_>) -> Option<usize> {
        if self.current.len() != pool.len() {
            self.reset(pool.len());
        }
        let epoch = pool.epoch();
        if pool.tracked() && pool.len() >= INDEX_MIN && epoch != self.uneven {
            if self.flat.epoch != epoch {
                // Eligibility may have changed: the current weights go back first.
                self.hand_back();
                let mut eligible = pool.backends.iter().filter(|b| b.eligible());
                let w = eligible.next().map_or(1, |b| b.weight);
                if eligible.any(|b| b.weight != w) {
                    self.uneven = epoch;
                    return swrr_all(pool.backends, &mut self.current);
                }
                self.flat
                    .build(pool, &self.current, i64::from(w), true, |_, b| b.eligible());
            }
            return self.flat.pick();
        }
        self.hand_back();
        swrr_all(pool.backends, &mut self.current)
    }
}

/// nginx's round-robin fallback: one SWRR step over every eligible peer.
pub(super) fn swrr_all(backends: &[Backend], current: &mut [i64]) -> Option<usize> {
    swrr_step(
        current,
        backends
            .iter()
            .enumerate()
            .filter(|(_, b)| b.eligible())
            .map(|(i, b)| (i, i64::from(b.weight))),
    )
}

/// nginx's ip_hash over `key` (the address bytes it hashes): `Some((peer, hash))` with the
/// final hash value, or `None` when nginx would fall back to round robin (fewer than two
/// peers, or no usable peer within `1 + MAX_TRIES` hash iterations).
fn ip_hash_peer(backends: &[Backend], offsets: &WeightOffsets, key: &[u8]) -> Option<(usize, u64)> {
    ip_hash_steps(backends, offsets, key, |_, _| {})
}

/// [`ip_hash_peer`], telling `step` each iteration's hash and the peer it lands on (for
/// `explain`; a no-op closure costs the pick nothing).
fn ip_hash_steps(
    backends: &[Backend],
    offsets: &WeightOffsets,
    key: &[u8],
    step: impl FnMut(u64, usize),
) -> Option<(usize, u64)> {
    if backends.len() < 2 {
        return None;
    }
    // Each iteration goes on from the previous hash (a rehash).
    let mut hash: u64 = 89;
    let next = |_| {
        for &byte in key {
            hash = (hash * 113 + u64::from(byte)) % 6271;
        }
        hash
    };
    rehash_walk(backends, offsets, next, step)
}

/// nginx `ip_hash`, or the same over the whole IPv4 address.
///
/// Follows `ngx_http_upstream_get_ip_hash_peer` in nginx
/// `src/http/modules/ngx_http_upstream_ip_hash_module.c`. The key is the first 3 octets of
/// the client's IPv4 address (`octets = 3`, scenario name `ip-hash`) or all 4
/// (`octets = 4`, `ip-hash-full`: an extension — nginx hashes the whole address only for
/// IPv6, 16 bytes; for IPv4 it always uses the /24). Starting from `hash = 89`, each
/// iteration runs `hash = (hash * 113 + byte) % 6271` over the key bytes, then walks the
/// peer list with `w = hash % total_weight`, where `total_weight` counts *every* peer in
/// the pool, eligible or not, subtracting weights to find the peer. If that peer is not
/// eligible (down, or weight 0 — a weight-0 peer is never landed on), the next iteration
/// continues from the current hash (a rehash). After `1 + 20` iterations without an
/// eligible peer (nginx: `if (++tries > 20)` fall back), or if the pool has fewer than two
/// peers, the pick is one step of smooth weighted round robin ([`swrr_step`]) over the
/// eligible peers, with current weights kept by this balancer and reset on pool changes.
///
/// Vectors (lb-semantics §2, run on nginx 1.31.5; three weight-1 peers): 192.168.1.10 → b
/// (hash 154), 192.168.1.200 → b (same /24), 10.0.0.1 → a (2565), 10.0.1.1 → b (2566); with
/// b down: 192.168.1.10 → c (rehash 5654), 10.0.0.1 → a, 10.0.1.1 → c (2321).
///
/// Defaults: no parameters. Not modelled: nginx's per-request `tried` bitmap and saved
/// hash for retries of the same request (every pick here is a first attempt), passive
/// `max_fails` accounting (availability comes from the pool) and `max_conns`.
#[derive(Clone, Debug)]
pub struct IpHash {
    /// Number of leading address octets hashed (3 like nginx, or 4).
    octets: usize,
    fallback: RoundRobinFallback,
    offsets: WeightOffsets,
}

impl IpHash {
    /// ip_hash over the first `octets` (3 or 4) octets of the client address.
    pub fn new(octets: usize) -> Self {
        IpHash {
            octets: octets.clamp(1, 4),
            fallback: RoundRobinFallback::default(),
            offsets: WeightOffsets::default(),
        }
    }
}

impl Balancer for IpHash {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        let addr = req.client_ip.to_be_bytes();
        let offsets = self.offsets.of(pool);
        match ip_hash_peer(pool.backends, offsets, &addr[..self.octets]) {
            Some((p, _)) => Some(p),
            None => self.fallback.pick(pool),
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.fallback.reset(pool.len());
    }

    /// `ip_hash(a.b.c) = h; h % n = i → #i+1`, every rehash past a down peer, or the
    /// round-robin fallback.
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let addr = req.client_ip.to_be_bytes();
        let key = &addr[..self.octets];
        let text: Vec<String> = key.iter().map(u8::to_string).collect();
        let mut steps = Vec::new();
        let offsets = WeightOffsets::from_backends(pool.backends);
        let found = ip_hash_steps(pool.backends, &offsets, key, |h, p| steps.push((h, p)));
        let head = format!("ip_hash({}) = ", text.join("."));
        Some(super::Explanation::note(hash_note(
            &head,
            pool.backends,
            &steps,
            found.is_some(),
        )))
    }
}

/// The arithmetic of nginx's modulo hashes (`ip_hash`, `hash`): `head` then each
/// iteration's `hash % total = w → #peer`, rehashes marked, and the round-robin fallback
/// if no iteration found a usable peer.
pub(super) fn hash_note(
    head: &str,
    backends: &[Backend],
    steps: &[(u64, usize)],
    found: bool,
) -> String {
    if backends.len() < 2 || steps.is_empty() {
        return "fewer than two peers: round robin".to_string();
    }
    let total = total_weight(backends);
    let equal = backends.iter().all(|b| b.weight == 1);
    let of = if equal {
        format!("{total}")
    } else {
        format!("{total} (total weight)")
    };
    let shown = steps.len().min(4);
    let mut parts = Vec::new();
    for (k, &(h, p)) in steps.iter().take(shown).enumerate() {
        let what = if k == 0 {
            head.to_string()
        } else {
            "rehash ".to_string()
        };
        let out = if backends[p].eligible() { "" } else { " (out)" };
        parts.push(format!(
            "{what}{h}, {h} % {of} = {} → #{}{out}",
            h % total,
            p + 1
        ));
    }
    if steps.len() > shown {
        parts.push(format!("… {} more rehashes", steps.len() - shown));
    }
    if !found {
        parts.push("no usable peer in 21 tries: round robin".to_string());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{letter, weighted, weighted_available};

    /// The walk over offsets built afresh for `b`.
    fn ip_hash_peer(b: &[Backend], key: &[u8]) -> Option<(usize, u64)> {
        super::ip_hash_peer(b, &WeightOffsets::from_backends(b), key)
    }

    fn ip(a: u8, b: u8, c: u8, d: u8) -> u32 {
        u32::from_be_bytes([a, b, c, d])
    }

    fn pick(lb: &mut IpHash, backends: &[Backend], client_ip: u32) -> char {
        let req = RequestInfo {
            client_ip,
            ..RequestInfo::default()
        };
        letter(lb.pick(SimTime::ZERO, &PoolView::new(backends), &req))
    }

    #[test]
    fn nginx_vectors_all_up() {
        let b = weighted(&[1, 1, 1]);
        assert_eq!(ip_hash_peer(&b, &[192, 168, 1]), Some((1, 154)));
        assert_eq!(ip_hash_peer(&b, &[10, 0, 0]), Some((0, 2565)));
        assert_eq!(ip_hash_peer(&b, &[10, 0, 1]), Some((1, 2566)));
        let mut lb = IpHash::new(3);
        assert_eq!(pick(&mut lb, &b, ip(192, 168, 1, 10)), 'b');
        assert_eq!(pick(&mut lb, &b, ip(192, 168, 1, 200)), 'b');
        assert_eq!(pick(&mut lb, &b, ip(10, 0, 0, 1)), 'a');
        assert_eq!(pick(&mut lb, &b, ip(10, 0, 1, 1)), 'b');
    }

    #[test]
    fn nginx_vectors_with_b_down() {
        let b = weighted_available(&[(1, true), (1, false), (1, true)]);
        assert_eq!(ip_hash_peer(&b, &[192, 168, 1]), Some((2, 5654)));
        assert_eq!(ip_hash_peer(&b, &[10, 0, 0]), Some((0, 2565)));
        assert_eq!(ip_hash_peer(&b, &[10, 0, 1]), Some((2, 2321)));
        let mut lb = IpHash::new(3);
        assert_eq!(pick(&mut lb, &b, ip(192, 168, 1, 10)), 'c');
        assert_eq!(pick(&mut lb, &b, ip(10, 0, 0, 1)), 'a');
        assert_eq!(pick(&mut lb, &b, ip(10, 0, 1, 1)), 'c');
    }

    fn note(lb: &IpHash, backends: &[Backend], client_ip: u32) -> String {
        let req = RequestInfo {
            client_ip,
            ..RequestInfo::default()
        };
        lb.explain(SimTime::ZERO, &PoolView::new(backends), &req)
            .unwrap()
            .note
    }

    #[test]
    fn explain_shows_the_nginx_vectors_arithmetic() {
        let lb = IpHash::new(3);
        let b = weighted(&[1, 1, 1]);
        assert_eq!(
            note(&lb, &b, ip(192, 168, 1, 10)),
            "ip_hash(192.168.1) = 154, 154 % 3 = 1 → #2"
        );
        assert_eq!(
            note(&lb, &b, ip(10, 0, 0, 1)),
            "ip_hash(10.0.0) = 2565, 2565 % 3 = 0 → #1"
        );
        // b down: 154 lands on it, the rehash 5654 % 3 = 2 on c.
        let b = weighted_available(&[(1, true), (1, false), (1, true)]);
        assert_eq!(
            note(&lb, &b, ip(192, 168, 1, 10)),
            "ip_hash(192.168.1) = 154, 154 % 3 = 1 → #2 (out); rehash 5654, 5654 % 3 = 2 → #3"
        );
    }

    #[test]
    fn full_address_variant() {
        // [model] values from the same recurrence over 4 bytes.
        let b = weighted(&[1, 1, 1]);
        assert_eq!(ip_hash_peer(&b, &[192, 168, 1, 10]), Some((1, 4870)));
        assert_eq!(ip_hash_peer(&b, &[192, 168, 1, 200]), Some((2, 5060)));
        assert_eq!(ip_hash_peer(&b, &[10, 0, 0, 1]), Some((0, 1380)));
        let mut lb = IpHash::new(4);
        // Unlike ip-hash, two addresses of one /24 may go to different peers.
        assert_eq!(pick(&mut lb, &b, ip(192, 168, 1, 10)), 'b');
        assert_eq!(pick(&mut lb, &b, ip(192, 168, 1, 200)), 'c');
        let down = weighted_available(&[(1, true), (1, false), (1, true)]);
        assert_eq!(ip_hash_peer(&down, &[192, 168, 1, 10]), Some((2, 2513)));
    }

    #[test]
    fn weights_and_total_weight_count_every_peer() {
        // total_weight = 4 + 1 + 1 = 6; hash 154 % 6 = 4 ⇒ offset 4 lands on b.
        let b = weighted(&[4, 1, 1]);
        assert_eq!(ip_hash_peer(&b, &[192, 168, 1]), Some((1, 154)));
        // A down peer still counts in total_weight: with a down, the same hash lands on b
        // directly (154 % 6 = 4 is past a's 4 units).
        let b = weighted_available(&[(4, false), (1, true), (1, true)]);
        assert_eq!(ip_hash_peer(&b, &[192, 168, 1]), Some((1, 154)));
        // A weight-0 peer is never landed on: 154 % 2 = 0 ⇒ a; 2565 % 2 = 1 ⇒ c.
        let b = weighted(&[1, 0, 1]);
        assert_eq!(ip_hash_peer(&b, &[192, 168, 1]), Some((0, 154)));
        assert_eq!(ip_hash_peer(&b, &[10, 0, 0]), Some((2, 2565)));
    }

    #[test]
    fn twenty_one_iterations_then_round_robin() {
        // Ten peers, only a and j up. 10.0.200.x needs 21 iterations to land on j [model];
        // 10.0.89.x would need 22, so nginx falls back to SWRR, whose first pick is a.
        let mut spec = vec![(1, false); 10];
        spec[0].1 = true;
        spec[9].1 = true;
        let b = weighted_available(&spec);
        assert_eq!(ip_hash_peer(&b, &[10, 0, 200]), Some((9, 909)));
        assert_eq!(ip_hash_peer(&b, &[10, 0, 89]), None);
        let mut lb = IpHash::new(3);
        assert_eq!(pick(&mut lb, &b, ip(10, 0, 200, 7)), 'j');
        // Fallback SWRR over {a, j} alternates a, j, a, ...
        let fallback: String = (0..4)
            .map(|_| pick(&mut lb, &b, ip(10, 0, 89, 1)))
            .collect();
        assert_eq!(fallback, "ajaj");
    }

    #[test]
    fn small_pools_and_nothing_eligible() {
        // Fewer than two peers: round robin (the only peer, if usable).
        let mut lb = IpHash::new(3);
        assert_eq!(pick(&mut lb, &weighted(&[3]), ip(1, 2, 3, 4)), 'a');
        assert_eq!(pick(&mut lb, &weighted_available(&[(3, false)]), 1), '-');
        assert_eq!(pick(&mut lb, &[], 1), '-');
        let none = weighted_available(&[(1, false), (0, true), (2, false)]);
        assert_eq!(pick(&mut lb, &none, ip(10, 0, 0, 1)), '-');
        // Everything down but one: rehashing (or the fallback) always finds it.
        let one = weighted_available(&[(1, false), (1, false), (1, true)]);
        for d in 0..=255 {
            assert_eq!(pick(&mut lb, &one, ip(172, 16, d, 1)), 'c');
        }
    }

    #[test]
    fn stickiness_and_spread() {
        // Each /24 always maps to the same peer; over many /24s the peers share them
        // by weight. 3 peers weights 1,1,2 over 4096 subnets: p = 1/4, 1/4, 1/2,
        // sd = sqrt(4096·p·(1−p)) ≈ 27.7, 27.7, 32; allow 5 sd.
        let b = weighted(&[1, 1, 2]);
        let mut lb = IpHash::new(3);
        let mut counts = [0f64; 3];
        for s in 0..4096u32 {
            let (x, y) = ((s >> 8) as u8, s as u8);
            let first = pick(&mut lb, &b, ip(100, x, y, 1));
            assert_eq!(pick(&mut lb, &b, ip(100, x, y, 254)), first);
            counts[(first as u8 - b'a') as usize] += 1.0;
        }
        for (c, p) in counts.iter().zip([0.25f64, 0.25, 0.5]) {
            let sd = (4096.0 * p * (1.0 - p)).sqrt();
            assert!((c - 4096.0 * p).abs() < 5.0 * sd, "{counts:?}");
        }
    }

    #[test]
    fn offsets_land_where_nginx_walks() {
        // nginx's walk, literally, against the binary search, for every offset of pools
        // with weight-0 peers among them.
        // Equal weights (1, 3) take the division, the others the search.
        let mut r = crate::balancer::testutil::rng();
        let pools = [1usize, 2, 7, 100].into_iter().flat_map(|n| {
            let random: Vec<u32> = (0..n).map(|_| r.below(4) as u32).collect();
            [random, vec![1; n], vec![3; n]]
        });
        for ws in pools {
            let b = weighted(&ws);
            let off = WeightOffsets::from_backends(&b);
            assert_eq!(off.total(), total_weight(&b));
            let equal = ws.iter().all(|&w| w == ws[0] && w > 0);
            assert_eq!(off.ends.uniform != 0, equal, "{ws:?}");
            for w0 in 0..off.total() {
                let (mut w, mut p) = (w0, 0);
                while w >= u64::from(b[p].weight) {
                    w -= u64::from(b[p].weight);
                    p += 1;
                }
                assert_eq!(off.peer_at(w0), p, "weights {ws:?} offset {w0}");
            }
        }
    }
}
