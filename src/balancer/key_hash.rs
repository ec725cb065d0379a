//! nginx `hash $key` without `consistent`: a CRC32 of the request key picks a peer by a
//! weighted walk modulo the total weight (Cache::Memcached compatible); an unusable peer is
//! skipped by rehashing with a numeric prefix, and nginx falls back to smooth weighted round
//! robin after too many misses or when there is no key. Any change of the pool remaps most
//! keys (modulo hashing).

use super::hashfn::{self, crc32_update, decimal};
use super::ip_hash::{RoundRobinFallback, WeightOffsets, rehash_walk};
use super::{AlgorithmInfo, Backend, Balancer, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "hash",
    aliases: &["key-hash", "nginx-hash"],
    summary: "nginx hash $key (not consistent): CRC32 of the key modulo the total weight; rehash past down peers, SWRR without a key",
    source: "nginx src/http/modules/ngx_http_upstream_hash_module.c (ngx_http_upstream_get_hash_peer)",
    params: &[hashfn::HASH_ON],
    build: |p, _| Box::new(KeyHash::new(p.word("hash_on"))),
}];

/// nginx's non-consistent `hash` over `key`: `Some((peer, hash))` with the accumulated hash,
/// or `None` when nginx would fall back to round robin (empty key, fewer than two peers, or
/// no usable peer within `1 + MAX_TRIES` iterations).
fn hash_peer(backends: &[Backend], offsets: &WeightOffsets, key: &[u8]) -> Option<(usize, u32)> {
    hash_steps(backends, offsets, key, |_, _| {})
}

/// [`hash_peer`], telling `step` each iteration's running hash and the peer it lands on
/// (for `explain`; a no-op closure costs the pick nothing).
fn hash_steps(
    backends: &[Backend],
    offsets: &WeightOffsets,
    key: &[u8],
    step: impl FnMut(u64, usize),
) -> Option<(usize, u32)> {
    if backends.len() < 2 || key.is_empty() {
        return None;
    }
    let mut hash: u32 = 0;
    let next = |rehash: u32| {
        // ((crc32([REHASH] KEY) >> 16) & 0x7fff) + PREV_HASH, REHASH omitted the first time.
        let mut crc = 0xffff_ffff;
        if rehash > 0 {
            let mut buf = [0u8; 20];
            crc = crc32_update(crc, decimal(u64::from(rehash), &mut buf));
        }
        crc = crc32_update(crc, key) ^ 0xffff_ffff;
        hash = hash.wrapping_add((crc >> 16) & 0x7fff);
        u64::from(hash)
    };
    // The hash is a u32 (nginx's `hash` variable), so the u64 round trip is lossless.
    rehash_walk(backends, offsets, next, step).map(|(p, h)| (p, h as u32))
}

/// nginx `hash $key` (without `consistent`).
///
/// Follows `ngx_http_upstream_get_hash_peer` in nginx
/// `src/http/modules/ngx_http_upstream_hash_module.c`. Iteration `k` computes
/// `h_k = (crc32(prefix_k ‖ key) >> 16) & 0x7fff` with zlib's CRC-32, where `prefix_k` is
/// empty for `k = 0` and the decimal text of `k` afterwards, adds it to a running 32-bit
/// `hash`, and walks the peer list with `w = hash % total_weight` (all peers' weights,
/// eligible or not) subtracting weights. If the peer found is not eligible (down, or
/// weight 0, which is never landed on) the next iteration rehashes; after `1 + 20`
/// iterations (nginx: `if (++tries > 20)` fall back), with fewer than two peers, or with an
/// empty key, the pick is one step of smooth weighted round robin over the eligible peers,
/// with current weights kept here and reset on pool changes.
///
/// The key is chosen by `hash_on` ([`hashfn::HASH_ON`], default `key`): the request key's
/// decimal text (like `hash $request_uri`), the client address as a dotted quad
/// (`hash $remote_addr`) or the client id. A request without a key under `hash_on = "key"`
/// is nginx's empty key: round robin. Vectors (lb-semantics §2, run on nginx 1.31.5; three
/// equal peers): key `/a` → b, `/b` → c.
///
/// Not modelled: the per-request `tried` bitmap and running hash for retries of the same
/// request (every pick is a first attempt), passive `max_fails` accounting and
/// `max_conns`.
#[derive(Clone, Debug)]
pub struct KeyHash {
    /// What to hash: `key`, `ip` or `client`.
    hash_on: &'static str,
    fallback: RoundRobinFallback,
    offsets: WeightOffsets,
}

impl KeyHash {
    /// nginx `hash` over what `hash_on` names (`key`, `ip` or `client`).
    pub fn new(hash_on: &'static str) -> Self {
        KeyHash {
            hash_on,
            fallback: RoundRobinFallback::default(),
            offsets: WeightOffsets::default(),
        }
    }
}

impl Balancer for KeyHash {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        let mut buf = [0u8; 20];
        let key = hashfn::request_text(req, self.hash_on, &mut buf).unwrap_or(&[]);
        let offsets = self.offsets.of(pool);
        match hash_peer(pool.backends, offsets, key) {
            Some((p, _)) => Some(p),
            None => self.fallback.pick(pool),
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.fallback.reset(pool.len());
    }

    /// `hash("key") = h; h % n = i → #i+1` (h the running sum of `(crc32 >> 16) & 0x7fff`),
    /// every rehash past a down peer, or the round-robin fallback.
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let mut buf = [0u8; 20];
        let Some(key) = hashfn::request_text(req, self.hash_on, &mut buf) else {
            return Some(super::Explanation::note("no key: round robin"));
        };
        let mut steps = Vec::new();
        let offsets = WeightOffsets::from_backends(pool.backends);
        let found = hash_steps(pool.backends, &offsets, key, |h, p| steps.push((h, p)));
        let head = format!(
            "hash(\"{}\") = (crc32 >> 16) & 0x7fff = ",
            String::from_utf8_lossy(key)
        );
        Some(super::Explanation::note(super::ip_hash::hash_note(
            &head,
            pool.backends,
            &steps,
            found.is_some(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{letter, sequence, weighted, weighted_available};

    /// The walk over offsets built afresh for `b`.
    fn hash_peer(b: &[Backend], key: &[u8]) -> Option<(usize, u32)> {
        super::hash_peer(b, &WeightOffsets::from_backends(b), key)
    }

    fn pick(lb: &mut KeyHash, backends: &[Backend], req: RequestInfo) -> char {
        letter(lb.pick(SimTime::ZERO, &PoolView::new(backends), &req))
    }

    #[test]
    fn nginx_vectors() {
        // lb-semantics §2 [run]: three equal peers.
        let b = weighted(&[1, 1, 1]);
        assert_eq!(hash_peer(&b, b"/a"), Some((1, 26992)));
        assert_eq!(hash_peer(&b, b"/b"), Some((2, 28793)));
        // The first iteration is Cache::Memcached's (crc32(key) >> 16) & 0x7fff.
        assert_eq!((hashfn::crc32(b"/a") >> 16) & 0x7fff, 26992);
    }

    #[test]
    fn rehash_past_down_peers() {
        // b down: `/a` lands on b (26992 % 3 = 1), rehashes with prefix "1":
        // h_1 = (crc32("1/a") >> 16) & 0x7fff = 29249, hash = 56241, 56241 % 3 = 0 ⇒ a.
        let b = weighted_available(&[(1, true), (1, false), (1, true)]);
        assert_eq!(hash_peer(&b, b"/a"), Some((0, 56241)));
        assert_eq!((hashfn::crc32(b"1/a") >> 16) & 0x7fff, 29249);
        // `/b` was on c: unaffected.
        assert_eq!(hash_peer(&b, b"/b"), Some((2, 28793)));
    }

    #[test]
    fn weights_and_total_weight() {
        // Weights 5,1,1: total 7; 26992 % 7 = 0 ⇒ a; 28793 % 7 = 2 ⇒ a.
        let b = weighted(&[5, 1, 1]);
        assert_eq!(hash_peer(&b, b"/a"), Some((0, 26992)));
        assert_eq!(hash_peer(&b, b"/b"), Some((0, 28793)));
        assert_eq!(hash_peer(&b, b"42"), Some((1, 12836)));
        // Weight 0 is never landed on: total 2, 26992 % 2 = 0 ⇒ a; 27327 % 2 = 1 ⇒ c.
        let b = weighted(&[1, 0, 1]);
        assert_eq!(hash_peer(&b, b"/a"), Some((0, 26992)));
        assert_eq!(hash_peer(&b, b"7"), Some((2, 27327)));
    }

    #[test]
    fn twenty_one_iterations_then_round_robin() {
        // Ten peers, only a and j up [model]: key "951" lands on j at the 21st iteration;
        // key "217" finds nothing in 21, so the pick is SWRR over {a, j}: a, j, a, ...
        let mut spec = vec![(1, false); 10];
        spec[0].1 = true;
        spec[9].1 = true;
        let b = weighted_available(&spec);
        assert_eq!(hash_peer(&b, b"951"), Some((9, 350_989)));
        assert_eq!(hash_peer(&b, b"217"), None);
        let mut lb = KeyHash::new("key");
        assert_eq!(pick(&mut lb, &b, RequestInfo::keyed(951)), 'j');
        let fallback: String = (0..4)
            .map(|_| pick(&mut lb, &b, RequestInfo::keyed(217)))
            .collect();
        assert_eq!(fallback, "ajaj");
    }

    #[test]
    fn hash_on_chooses_the_key_text() {
        let b = weighted(&[1, 1, 1]);
        let mut lb = KeyHash::new("key");
        // Request key 7 hashes the text "7" (27327 % 3 = 0 ⇒ a); 42 ⇒ c.
        assert_eq!(pick(&mut lb, &b, RequestInfo::keyed(7)), 'a');
        assert_eq!(pick(&mut lb, &b, RequestInfo::keyed(42)), 'c');
        // hash_on = "client": the client id's text.
        let mut lb = KeyHash::new("client");
        let req = RequestInfo {
            client: 42,
            ..RequestInfo::default()
        };
        assert_eq!(pick(&mut lb, &b, req), 'c');
        // hash_on = "ip": the dotted quad.
        let mut lb = KeyHash::new("ip");
        let req = RequestInfo {
            client_ip: u32::from_be_bytes([10, 0, 0, 1]),
            ..RequestInfo::default()
        };
        let expected = hash_peer(&b, b"10.0.0.1").map(|(p, _)| p);
        assert_eq!(lb.pick(SimTime::ZERO, &PoolView::new(&b), &req), expected);
    }

    #[test]
    fn no_key_means_round_robin() {
        // The default request has no key: nginx's empty key ⇒ SWRR (5,1,1 ⇒ aabacaa).
        let mut lb = KeyHash::new("key");
        assert_eq!(sequence(&mut lb, &weighted(&[5, 1, 1]), 7), "aabacaa");
        assert_eq!(hash_peer(&weighted(&[1, 1]), b""), None);
    }

    #[test]
    fn small_pools_and_nothing_eligible() {
        let mut lb = KeyHash::new("key");
        assert_eq!(pick(&mut lb, &weighted(&[2]), RequestInfo::keyed(1)), 'a');
        assert_eq!(pick(&mut lb, &[], RequestInfo::keyed(1)), '-');
        let none = weighted_available(&[(1, false), (0, true), (2, false)]);
        assert_eq!(pick(&mut lb, &none, RequestInfo::keyed(1)), '-');
        let one = weighted_available(&[(1, false), (1, false), (1, true)]);
        for k in 0..500 {
            assert_eq!(pick(&mut lb, &one, RequestInfo::keyed(k)), 'c');
        }
    }

    #[test]
    fn keys_spread_by_weight() {
        // Over 6000 keys with weights 1,2,3: p = 1/6, 1/3, 1/2; sd = sqrt(6000·p·(1−p))
        // ≈ 28.9, 36.5, 38.7; allow 5 sd.
        let b = weighted(&[1, 2, 3]);
        let mut lb = KeyHash::new("key");
        let mut counts = [0f64; 3];
        for k in 0..6000 {
            counts[(pick(&mut lb, &b, RequestInfo::keyed(k)) as u8 - b'a') as usize] += 1.0;
        }
        for (c, p) in counts.iter().zip([1.0f64 / 6.0, 1.0 / 3.0, 0.5]) {
            let sd = (6000.0 * p * (1.0 - p)).sqrt();
            assert!((c - 6000.0 * p).abs() < 5.0 * sd, "{counts:?}");
        }
    }

    #[test]
    fn explain_note_follows_the_nginx_vectors() {
        let note = |b: &[Backend], key: &[u8]| {
            let mut steps = Vec::new();
            let found = hash_steps(b, &WeightOffsets::from_backends(b), key, |h, p| {
                steps.push((h, p))
            });
            crate::balancer::ip_hash::hash_note("", b, &steps, found.is_some())
        };
        assert_eq!(
            note(&weighted(&[1, 1, 1]), b"/a"),
            "26992, 26992 % 3 = 1 → #2"
        );
        let down = weighted_available(&[(1, true), (1, false), (1, true)]);
        assert_eq!(
            note(&down, b"/a"),
            "26992, 26992 % 3 = 1 → #2 (out); rehash 56241, 56241 % 3 = 0 → #1"
        );
        // Weighted 5, 1, 1: the modulo is over the total weight 7.
        assert_eq!(
            note(&weighted(&[5, 1, 1]), b"/b"),
            "28793, 28793 % 7 (total weight) = 2 → #1"
        );
    }

    #[test]
    fn the_round_robin_fallback_index_chooses_as_the_scan() {
        use crate::balancer::least_conn::INDEX_MIN;
        use crate::balancer::testutil::index_agrees_with_scan;
        // Keyless requests (one in four) take the round-robin fallback.
        for (rare, seed) in [(0, 5), (300, 6)] {
            let picks = index_agrees_with_scan(
                || Box::new(KeyHash::new("key")),
                2 * INDEX_MIN,
                |r| if rare > 0 && r.below(rare) == 0 { 2 } else { 1 },
                0,
                200_000,
                seed,
            );
            assert!(picks > 90_000, "{picks}");
        }
    }
}
