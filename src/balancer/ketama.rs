//! nginx `hash $key consistent`: a ketama ring of CRC-32 points, 160 per unit of weight,
//! built over every configured server (down ones included). A key goes to the first point
//! at or after its CRC-32; if that point's server cannot take it, the next points are tried,
//! and after 21 points nginx falls back to smooth weighted round robin. Removing a server
//! moves only the keys it owned; adding one to `n` moves about `1/(n+1)` of them.

use std::collections::BTreeMap;

use super::hashfn::{self, HASH_ON};
use super::ip_hash::{RoundRobinFallback, swrr_all};
use super::ring_index::{KeysAhead, RingIndex};
use super::smooth_wrr::swrr_step;
use super::{
    AlgorithmInfo, Backend, Balancer, ParamDef, ParamKind, ParamValue, PoolSnapshot, PoolView,
    RequestInfo,
};
use crate::engine::SimTime;

/// nginx's points per unit of weight (`npoints = peer->weight * 160`).
const NGINX_POINTS_PER_WEIGHT: i64 = 160;

/// Ring points nginx tries (the first, then 20 advances) before it falls back to round robin.
const MAX_POINT_TRIES: usize = 21;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "ketama",
    aliases: &["consistent-hash", "ring-hash", "nginx-hash-consistent"],
    summary: "nginx hash $key consistent: ketama ring of CRC-32 points (160 per unit of weight), next point clockwise",
    source: "nginx src/http/modules/ngx_http_upstream_hash_module.c (ngx_http_upstream_update_chash, ngx_http_upstream_get_chash_peer)",
    params: &[
        HASH_ON,
        ParamDef {
            key: "points_per_weight",
            kind: ParamKind::Int {
                min: 1,
                max: 100_000,
            },
            default: ParamValue::Int(NGINX_POINTS_PER_WEIGHT),
            doc: "ring points per unit of server weight (nginx: 160, fixed)",
        },
    ],
    build: |p, _rng| {
        Box::new(Ketama::new(
            p.word("hash_on"),
            p.int("points_per_weight") as u32,
        ))
    },
}];

/// A ketama ring as nginx builds it, over a list of `(server string, weight)` entries.
///
/// Entry `i` of the list is the peer at pool index `i`. Points remember the *server string*
/// they came from, as nginx's points do (`point->server`): at pick time every eligible peer
/// whose string equals the point's takes part in an SWRR step (nginx's handling of a name
/// that resolves to several addresses). Peers with equal strings form a group; `owner`
/// stores a point's group.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ring {
    /// `(hash, server group)` of each point, ascending by hash, without duplicate hashes
    /// (side by side: a lookup reads one line).
    points: Vec<(u32, u32)>,
    /// Where each range of the hash space starts among `points`.
    index: RingIndex,
    /// Group `g` has members `members[start[g]..start[g + 1]]` (entry indices, list order).
    start: Vec<u32>,
    members: Vec<u32>,
}

/// The CRC-32 state after `host ‖ "\0" ‖ port` of a server string, split as nginx does:
/// `unix:path` has no port; otherwise the port is the run of digits after the last `:`
/// (if the string ends in one), else there is none.
fn base_state(server: &str) -> u32 {
    let s = server.as_bytes();
    let (host, port): (&[u8], &[u8]) = if s.len() >= 5 && s[..5].eq_ignore_ascii_case(b"unix:") {
        (&s[5..], &[])
    } else {
        let digits = s.iter().rev().take_while(|c| c.is_ascii_digit()).count();
        match s.len().checked_sub(digits + 1) {
            Some(colon) if s[colon] == b':' => (&s[..colon], &s[colon + 1..]),
            _ => (s, &[]),
        }
    };
    let st = hashfn::crc32_update(0xffff_ffff, host);
    let st = hashfn::crc32_update(st, b"\0");
    hashfn::crc32_update(st, port)
}

impl Ring {
    /// Builds the ring of `servers` (`(server string, weight)`), `points_per_weight` points
    /// per unit of weight, like `ngx_http_upstream_update_chash`: point `j` of a server is
    /// `crc32(host ‖ "\0" ‖ port ‖ le32(point_{j−1}))` with `point_{−1} = 0`; points are
    /// sorted and duplicate hashes dropped (the lowest group is kept).
    pub(crate) fn build(servers: &[(&str, u32)], points_per_weight: u32) -> Ring {
        // Group entries by server string, numbering groups in order of first appearance.
        let mut group_of: BTreeMap<&str, u32> = BTreeMap::new();
        let mut group = Vec::with_capacity(servers.len());
        for &(name, _) in servers {
            let next = group_of.len() as u32;
            group.push(*group_of.entry(name).or_insert(next));
        }
        let groups = group_of.len();
        let mut start = vec![0u32; groups + 1];
        for &g in &group {
            start[g as usize + 1] += 1;
        }
        for g in 0..groups {
            start[g + 1] += start[g];
        }
        let mut fill = start.clone();
        let mut members = vec![0u32; servers.len()];
        for (i, &g) in group.iter().enumerate() {
            members[fill[g as usize] as usize] = i as u32;
            fill[g as usize] += 1;
        }

        let total: usize = servers
            .iter()
            .map(|&(_, w)| w as usize * points_per_weight as usize)
            .sum();
        let mut points: Vec<(u32, u32)> = Vec::with_capacity(total);
        for (&(name, weight), &g) in servers.iter().zip(&group) {
            let base = base_state(name);
            let mut prev = 0u32;
            for _ in 0..u64::from(weight) * u64::from(points_per_weight) {
                prev = hashfn::crc32_update(base, &prev.to_le_bytes()) ^ 0xffff_ffff;
                points.push((prev, g));
            }
        }
        points.sort_unstable();
        points.dedup_by_key(|p| p.0);
        Ring {
            index: RingIndex::build(&points, |p| p.0),
            points,
            start,
            members,
        }
    }

    /// Number of points.
    pub(crate) fn len(&self) -> usize {
        self.points.len()
    }

    /// The hash of point `i`.
    pub(crate) fn hash(&self, i: usize) -> u32 {
        self.points[i].0
    }

    /// The server group of point `i`.
    pub(crate) fn owner(&self, i: usize) -> u32 {
        self.points[i].1
    }

    /// Index of the first point with hash `≥ h` (`len()` if none: lookups wrap), as
    /// `ngx_http_upstream_find_chash_point`'s binary search finds it, in expected O(1).
    pub(crate) fn find(&self, h: u32) -> usize {
        self.index.find(&self.points, |p| p.0, h)
    }

    /// Starts loading what [`find`](Ring::find) will read for `h`, and for the key told
    /// before it (`previous`): the two stages of [`KeysAhead`].
    pub(crate) fn hint(&self, h: u32, previous: Option<u32>) {
        self.index.hint(&self.points, h, previous);
    }

    /// The ring part of [`pick`](Ring::pick) when every group has one member (a step
    /// over one backend leaves the current weights alone): the first eligible backend from
    /// the first point `≥ h` on, trying [`MAX_POINT_TRIES`] points; `None` (the caller
    /// falls back to round robin) after that or on an empty ring. Groups are numbered in
    /// order of first appearance, so with one member each, group `g` is entry `g`.
    pub(crate) fn pick_on_ring(&self, h: u32, backends: &[Backend]) -> Option<usize> {
        let n = self.len();
        debug_assert!(self.start.windows(2).all(|g| g[1] - g[0] == 1));
        let mut i = self.find(h);
        for _ in 0..MAX_POINT_TRIES.min(n) {
            if i == n {
                i = 0;
            }
            let m = self.owner(i) as usize;
            if backends[m].eligible() {
                return Some(m);
            }
            i += 1;
        }
        None
    }

    /// The peer for key hash `h` over `backends` (entry `i` of the ring is `backends[i]`),
    /// as `ngx_http_upstream_get_chash_peer`: from the first point `≥ h`, run an SWRR step
    /// over the eligible peers of the point's server; if there are none, advance one point;
    /// after [`MAX_POINT_TRIES`] points, or on an empty ring, SWRR over every eligible peer.
    /// `current` holds the SWRR current weights, indexed like `backends`.
    pub(crate) fn pick(&self, h: u32, backends: &[Backend], current: &mut [i64]) -> Option<usize> {
        let n = self.len();
        if n > 0 {
            let first = self.find(h);
            for t in 0..MAX_POINT_TRIES {
                let g = self.owner((first + t) % n) as usize;
                let group = &self.members[self.start[g] as usize..self.start[g + 1] as usize];
                let candidates = group
                    .iter()
                    .map(|&m| m as usize)
                    .filter(|&m| backends[m].eligible())
                    .map(|m| (m, i64::from(backends[m].weight)));
                if let Some(i) = swrr_step(current, candidates) {
                    return Some(i);
                }
            }
        }
        swrr_all(backends, current)
    }
}

/// nginx `hash $key consistent` (ketama consistent hashing).
///
/// Follows nginx `src/http/modules/ngx_http_upstream_hash_module.c`:
/// `ngx_http_upstream_update_chash` builds the ring and `ngx_http_upstream_get_chash_peer`
/// picks (see [`Ring`]). The server string of backend `id` is
/// [`hashfn::server_address`] (`10.0.0.1:80` for id 0), written as in `server 10.0.0.1:80;`.
///
/// * Ring: built from **all** backends in the pool, down ones included (nginx builds it from
///   the configuration and skips unusable peers at pick time), `weight × points_per_weight`
///   points each (weight 0 gives none). It is rebuilt when the membership or a weight
///   changes, not when only availability changes; a rebuild also resets the SWRR current
///   weights, as reconfiguring an nginx upstream does.
/// * Key: `crc32` of [`hashfn::request_text`] under `hash_on`. No key (or fewer than two
///   backends) ⇒ plain SWRR, as nginx does for an empty key or a single peer.
/// * Pick: first point `≥ crc32(key)` (wrapping); SWRR step over the eligible backends with
///   that point's server string; else the next point; after 21 points (the first plus 20
///   advances, `hp->tries > 20`) SWRR over all eligible backends. The SWRR current weights
///   are shared between the ring steps and the fallback, as they are nginx's per-peer
///   `current_weight`.
///
/// Not modelled: the per-request `tried` bitmap (a retry here is a fresh pick, so it may hit
/// the same backend again), `max_fails` (availability stands for it) and `max_conns`.
///
/// Defaults: `hash_on = "key"`, `points_per_weight = 160`.
#[derive(Clone, Debug)]
pub struct Ketama {
    hash_on: &'static str,
    points_per_weight: u32,
    ring: Ring,
    /// The pool the ring was built from (ids and weights; eligibility does not matter).
    built_from: PoolSnapshot,
    /// nginx's round-robin fallback, whose current weights ring steps share.
    rr: RoundRobinFallback,
    /// Every ring group has one member, so a ring step leaves the current weights as they
    /// were (a step over one backend adds and takes back its weight).
    singles: bool,
    /// Keys told ahead and their hashes (`hash_on = "key"` only).
    ahead: KeysAhead,
}

impl Ketama {
    /// An empty balancer; the ring is built on the first pool it sees.
    pub fn new(hash_on: &'static str, points_per_weight: u32) -> Self {
        Ketama {
            hash_on,
            points_per_weight: points_per_weight.max(1),
            ring: Ring::default(),
            built_from: PoolSnapshot::new(false),
            rr: RoundRobinFallback::default(),
            singles: true,
            ahead: KeysAhead::default(),
        }
    }

    /// Rebuilds the ring if the pool's ids or weights differ from the ones it was built
    /// from (no allocation when they match).
    fn sync(&mut self, pool: &PoolView<'_>) {
        if !self.built_from.update(pool) {
            return;
        }
        let names: Vec<String> = pool
            .backends
            .iter()
            .map(|b| hashfn::server_address(b.id))
            .collect();
        let servers: Vec<(&str, u32)> = names
            .iter()
            .zip(pool.backends)
            .map(|(n, b)| (n.as_str(), b.weight))
            .collect();
        self.ring = Ring::build(&servers, self.points_per_weight);
        self.singles = self.ring.start.windows(2).all(|g| g[1] - g[0] <= 1);
        self.rr.reset(pool.len());
    }
}

impl Balancer for Ketama {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        self.sync(pool);
        // A key told ahead was hashed then (only under `hash_on = "key"`, so it has text).
        let mut buf = [0u8; 20];
        let h = match req.key.and_then(|k| self.ahead.hash_of(k)) {
            Some(h) => Some(h),
            None => hashfn::request_text(req, self.hash_on, &mut buf).map(hashfn::crc32),
        };
        match h {
            // A ring step over one backend leaves the current weights alone (it adds the
            // backend's weight and takes it back), wherever they are kept; only its last
            // resort, the fallback, needs them.
            Some(h) if pool.len() >= 2 && self.singles => self
                .ring
                .pick_on_ring(h, pool.backends)
                .or_else(|| self.rr.pick(pool)),
            // Steps over groups of several change the current weights: the index hands
            // them back first.
            Some(h) if pool.len() >= 2 => {
                self.rr.hand_back();
                self.ring.pick(h, pool.backends, &mut self.rr.current)
            }
            _ => self.rr.pick(pool),
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.sync(pool);
    }

    /// At 1,024 servers the ring is 1.3 MB: a key's point is seldom in cache.
    fn wants_key_hints(&self) -> bool {
        self.hash_on == "key"
    }

    fn hint_key(&mut self, key: u64) {
        if !self.wants_key_hints() {
            return;
        }
        let mut buf = [0u8; 20];
        let req = RequestInfo::keyed(key);
        if let Some(text) = hashfn::request_text(&req, self.hash_on, &mut buf) {
            let h = hashfn::crc32(text);
            let previous = self.ahead.tell(key, h);
            self.ring.hint(h, previous);
        }
    }

    /// `crc32("key") = h → ring point p (k of N) → #i`: the key's point and the first ring
    /// point at or after it (wrapping), whose server takes the request if it is up.
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let mut buf = [0u8; 20];
        let text = match hashfn::request_text(req, self.hash_on, &mut buf) {
            Some(t) if pool.len() >= 2 => t,
            _ => {
                return Some(super::Explanation::note(
                    "no key (or one peer): round robin",
                ));
            }
        };
        let n = self.ring.len();
        if n == 0 || self.rr.current.len() != pool.len() {
            return None;
        }
        let h = hashfn::crc32(text);
        let k = self.ring.find(h) % n;
        let g = self.ring.owner(k) as usize;
        let members =
            &self.ring.members[self.ring.start[g] as usize..self.ring.start[g + 1] as usize];
        let owners: Vec<String> = members.iter().map(|m| format!("#{}", m + 1)).collect();
        let wrap = if self.ring.find(h) == n {
            " (wrapped)"
        } else {
            ""
        };
        Some(super::Explanation::note(format!(
            "crc32(\"{}\") = {h} → ring point {} ({} of {n}{wrap}) → {}",
            String::from_utf8_lossy(text),
            self.ring.hash(k),
            k + 1,
            owners.join("/")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::least_conn::INDEX_MIN;
    use crate::balancer::testutil::{letter, weighted, weighted_available};

    /// In a large pool with equal weights, requests without a key go through the ordered
    /// index; it must choose as nginx's scan does (one SWRR step over every eligible
    /// backend, the current weights kept across availability changes), with keyed picks
    /// in between (a ring step over one backend leaves the current weights alone). Keyed
    /// picks must be those of a twin fed untracked views, whose keyed picks walk the ring
    /// with `Ring::pick` (no index, no shortcut for one-member groups), with a third of
    /// the pool down on average so that some walks are long.
    #[test]
    fn the_round_robin_fallback_index_chooses_as_the_scan() {
        let n = 2 * INDEX_MIN;
        let mut pool: Vec<Backend> = (0..n as u32)
            .map(|id| Backend {
                id,
                weight: 2,
                in_flight: 0,
                available: true,
            })
            .collect();
        let mut lb = Ketama::new("key", 160);
        let mut twin = Ketama::new("key", 160);
        let mut current = vec![0i64; n];
        let mut rng = crate::engine::SimRng::from_seed_u64(9);
        let mut epoch = 1;
        let (mut keyless, mut keyed) = (0, 0);
        // Keys hashing into the top 2^-16 of the space, past the last point of most rings:
        // their walks wrap to the first point.
        let mut buf = [0u8; 20];
        let top: Vec<u64> = (0u64..)
            .filter(|&k| hashfn::crc32(hashfn::decimal(k, &mut buf)) >= 0xffff_0000)
            .take(8)
            .collect();
        for step in 0..200_000 {
            match rng.below(10) {
                0..=6 => {
                    let got = lb.pick(
                        SimTime::ZERO,
                        &PoolView::with_epoch(&pool, epoch),
                        &RequestInfo::default(),
                    );
                    let want = swrr_step(
                        &mut current,
                        pool.iter()
                            .enumerate()
                            .filter(|(_, b)| b.eligible())
                            .map(|(i, b)| (i, i64::from(b.weight))),
                    );
                    assert_eq!(got, want, "step {step}");
                    let untracked = PoolView::new(&pool);
                    assert_eq!(
                        twin.pick(SimTime::ZERO, &untracked, &RequestInfo::default()),
                        want
                    );
                    keyless += 1;
                }
                7..=8 => {
                    let key = match rng.below(4) {
                        0 => top[rng.below(top.len() as u64) as usize],
                        _ => rng.below(1000),
                    };
                    let req = RequestInfo {
                        key: Some(key),
                        ..RequestInfo::default()
                    };
                    let got = lb.pick(SimTime::ZERO, &PoolView::with_epoch(&pool, epoch), &req);
                    // The twin walks the ring with `Ring::pick` itself (the direct step
                    // would compare the shortcut with itself).
                    twin.sync(&PoolView::new(&pool));
                    let h = hashfn::crc32(hashfn::decimal(key, &mut buf));
                    let want = twin.ring.pick(h, &pool, &mut twin.rr.current);
                    assert!(got.is_some_and(|i| pool[i].eligible()));
                    assert_eq!(got, want, "step {step}");
                    keyed += 1;
                }
                _ if rng.below(20) == 0 => {
                    // Membership changes: the ring is rebuilt and the current weights
                    // start again from zero, as a reconfigured nginx upstream does.
                    if pool.len() > INDEX_MIN + 10 && rng.below(2) == 0 {
                        pool.remove(rng.below(pool.len() as u64) as usize);
                    } else {
                        let id = pool.last().map_or(0, |b| b.id + 1);
                        pool.push(Backend {
                            id,
                            weight: 2,
                            in_flight: 0,
                            available: true,
                        });
                    }
                    current = vec![0; pool.len()];
                    epoch += 1;
                    lb.on_pool_change(SimTime::ZERO, &PoolView::with_epoch(&pool, epoch));
                    twin.on_pool_change(SimTime::ZERO, &PoolView::new(&pool));
                }
                _ => {
                    let i = rng.below(pool.len() as u64) as usize;
                    pool[i].available = !pool[i].available || rng.below(2) == 0;
                    epoch += 1;
                    lb.on_pool_change(SimTime::ZERO, &PoolView::with_epoch(&pool, epoch));
                    twin.on_pool_change(SimTime::ZERO, &PoolView::new(&pool));
                }
            }
        }
        assert!(keyless > 100_000 && keyed > 20_000);
    }

    /// Picks for keys `user0..user{n-1}` on a ring over the given servers, all up.
    fn user_keys(servers: &[(&str, u32)], n: usize) -> String {
        let ring = Ring::build(servers, 160);
        let weights: Vec<u32> = servers.iter().map(|s| s.1).collect();
        let b = weighted(&weights);
        let mut current = vec![0i64; b.len()];
        (0..n)
            .map(|k| {
                let h = hashfn::crc32(format!("user{k}").as_bytes());
                letter(ring.pick(h, &b, &mut current))
            })
            .collect()
    }

    #[test]
    fn ring_points_of_10_0_0_1() {
        // lb-semantics §2 [model]: the first two points of `10.0.0.1:80`.
        assert_eq!(hashfn::crc32(b"10.0.0.1\x0080\0\0\0\0"), 0xa2ad_5d56);
        let base = base_state("10.0.0.1:80");
        let p0 = hashfn::crc32_update(base, &0u32.to_le_bytes()) ^ 0xffff_ffff;
        let p1 = hashfn::crc32_update(base, &p0.to_le_bytes()) ^ 0xffff_ffff;
        assert_eq!((p0, p1), (0xa2ad_5d56, 0x0bde_b0ab));
        let ring = Ring::build(&[("10.0.0.1:80", 1)], 160);
        let hashes: Vec<u32> = ring.points.iter().map(|p| p.0).collect();
        assert!(hashes.contains(&0xa2ad_5d56) && hashes.contains(&0x0bde_b0ab));
        // Three equal peers: 480 points (no duplicates among them).
        let three = Ring::build(
            &[("10.0.0.1:80", 1), ("10.0.0.2:80", 1), ("10.0.0.3:80", 1)],
            160,
        );
        assert_eq!(three.len(), 480);
        assert!(three.points.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn server_string_split() {
        // host ‖ "\0" ‖ port; unix sockets and port-less names have no port.
        let crc = |s: &[u8]| hashfn::crc32_update(0xffff_ffff, s);
        assert_eq!(base_state("10.0.0.1:80"), crc(b"10.0.0.1\x0080"));
        assert_eq!(base_state("backend"), crc(b"backend\0"));
        assert_eq!(base_state("unix:/tmp/s"), crc(b"/tmp/s\0"));
        assert_eq!(base_state("host:x1"), crc(b"host:x1\0"));
    }

    #[test]
    fn nginx_run_vectors_user_keys() {
        // lb-semantics §2 [run]: nginx 1.31.5, three loopback servers.
        let equal = [
            ("127.0.0.1:9001", 1),
            ("127.0.0.1:9002", 1),
            ("127.0.0.1:9003", 1),
        ];
        assert_eq!(user_keys(&equal, 12), "baaabacaaaac");
        let middle2 = [
            ("127.0.0.1:9001", 1),
            ("127.0.0.1:9002", 2),
            ("127.0.0.1:9003", 1),
        ];
        assert_eq!(user_keys(&middle2, 12), "bbaabbcbbbbb");
    }

    #[test]
    fn balancer_uses_server_addresses_and_decimal_keys() {
        // The balancer's ring is the ring of 10.0.0.{1,2,3}:80; key k hashes as its text.
        let b = weighted(&[1, 1, 1]);
        let view = PoolView::new(&b);
        let mut lb = Ketama::new("key", 160);
        lb.on_pool_change(SimTime::ZERO, &view);
        let ring = Ring::build(
            &[("10.0.0.1:80", 1), ("10.0.0.2:80", 1), ("10.0.0.3:80", 1)],
            160,
        );
        let mut current = vec![0i64; 3];
        for k in 0..200u64 {
            let h = hashfn::crc32(k.to_string().as_bytes());
            let want = ring.pick(h, &b, &mut current);
            assert_eq!(
                lb.pick(SimTime::ZERO, &view, &RequestInfo::keyed(k)),
                want,
                "key {k}"
            );
        }
        // hash_on = "ip" hashes the dotted quad.
        let mut lb = Ketama::new("ip", 160);
        let req = RequestInfo {
            client_ip: 0xc0a8_010a,
            ..RequestInfo::default()
        };
        let want = ring.pick(hashfn::crc32(b"192.168.1.10"), &b, &mut current);
        assert_eq!(lb.pick(SimTime::ZERO, &view, &req), want);
    }

    #[test]
    fn no_key_is_smooth_wrr() {
        let b = weighted(&[5, 1, 1]);
        let view = PoolView::new(&b);
        let mut lb = Ketama::new("key", 160);
        let s: String = (0..7)
            .map(|_| letter(lb.pick(SimTime::ZERO, &view, &RequestInfo::default())))
            .collect();
        assert_eq!(s, "aabacaa");
    }

    #[test]
    fn down_backend_keys_go_to_the_next_point_and_ring_is_kept() {
        let mut b = weighted(&[1, 1, 1]);
        let mut lb = Ketama::new("key", 160);
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        let before: Vec<usize> = (0..2000)
            .map(|k| {
                lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::keyed(k))
                    .unwrap()
            })
            .collect();
        let ring_before = lb.ring.points.clone();
        b[1].available = false;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        // Availability alone does not rebuild the ring.
        assert_eq!(lb.ring.points, ring_before);
        let ring = lb.ring.clone();
        for (k, &was) in before.iter().enumerate() {
            let got = lb
                .pick(
                    SimTime::ZERO,
                    &PoolView::new(&b),
                    &RequestInfo::keyed(k as u64),
                )
                .unwrap();
            if was != 1 {
                assert_eq!(got, was, "key {k} moved although its server is up");
            } else {
                // The owner of the next point after the key's first point of server b.
                let h = hashfn::crc32(k.to_string().as_bytes());
                let n = ring.len();
                let mut i = ring.find(h);
                while ring.owner(i % n) == 1 {
                    i += 1;
                }
                assert_eq!(got, ring.owner(i % n) as usize, "key {k}");
            }
        }
        // Nothing eligible: None; everything down but one: that one.
        let none = weighted_available(&[(1, false), (1, false), (1, false)]);
        assert_eq!(
            lb.pick(SimTime::ZERO, &PoolView::new(&none), &RequestInfo::keyed(3)),
            None
        );
        let one = weighted_available(&[(1, false), (0, true), (1, true)]);
        for k in 0..50 {
            assert_eq!(
                lb.pick(SimTime::ZERO, &PoolView::new(&one), &RequestInfo::keyed(k)),
                Some(2)
            );
        }
    }

    #[test]
    fn twenty_one_points_then_round_robin() {
        // A hand-made ring: points 0, 100, 200, ...; the first 21 belong to server 0, the
        // 22nd to server 2, the rest alternate 1, 2.
        let owner: Vec<u32> = (0..40u32)
            .map(|i| match i {
                0..=20 => 0,
                21 => 2,
                _ => 1 + i % 2,
            })
            .collect();
        let points: Vec<(u32, u32)> = (0..40).map(|i| i * 100).zip(owner).collect();
        let ring = Ring {
            index: RingIndex::build(&points, |p| p.0),
            points,
            start: vec![0, 1, 2, 3],
            members: vec![0, 1, 2],
        };
        let mut b = weighted(&[1, 1, 1]);
        b[0].available = false;
        // Key at point 0: 21 points of the down server, then SWRR over {1, 2}, whose first
        // step picks 1 (walking on to the 22nd point would have given 2).
        let mut current = vec![0i64; 3];
        assert_eq!(ring.pick(0, &b, &mut current), Some(1));
        assert_eq!(current, [0, -1, 1]);
        // The 21st point is still tried.
        let mut r2 = ring.clone();
        r2.points[20].1 = 2;
        let mut current = vec![0i64; 3];
        assert_eq!(r2.pick(0, &b, &mut current), Some(2));
        // A key above the last point wraps to point 0.
        let mut current = vec![0i64; 3];
        assert_eq!(r2.pick(u32::MAX, &b, &mut current), Some(2));
    }

    #[test]
    fn removing_a_server_moves_exactly_its_keys() {
        let b3 = weighted(&[1, 1, 1]);
        let mut lb = Ketama::new("key", 160);
        let keys = 10_000u64;
        let before: Vec<u32> = (0..keys)
            .map(|k| {
                b3[lb
                    .pick(SimTime::ZERO, &PoolView::new(&b3), &RequestInfo::keyed(k))
                    .unwrap()]
                .id
            })
            .collect();
        // Remove the middle server (id 1): indices shift, ids are stable.
        let mut b2 = b3.clone();
        b2.remove(1);
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b2));
        let mut moved = 0;
        for k in 0..keys {
            let id = b2[lb
                .pick(SimTime::ZERO, &PoolView::new(&b2), &RequestInfo::keyed(k))
                .unwrap()]
            .id;
            if before[k as usize] == 1 {
                moved += 1;
            } else {
                assert_eq!(id, before[k as usize], "key {k} moved");
            }
        }
        // Its share: a third in expectation (sd of a 160-point share ≈ 0.33/√160 ≈ 0.026).
        let share = f64::from(moved) / keys as f64;
        assert!((share - 1.0 / 3.0).abs() < 0.13, "share {share}");
    }

    #[test]
    fn adding_a_server_moves_about_one_over_n_plus_one() {
        // Adding a 4th server to 3 moves only keys to the new server, about 1/4 of them.
        // The new server's ring share is a sum of 160 arcs of ~Exp(1/640) each: mean 1/4,
        // sd ≈ (1/4)/√160 ≈ 0.020; sampling 10 000 keys adds sd ≈ 0.004; 5 sd ≈ 0.10.
        let b3 = weighted(&[1, 1, 1]);
        let b4 = weighted(&[1, 1, 1, 1]);
        let mut lb = Ketama::new("key", 160);
        let keys = 10_000u64;
        let before: Vec<usize> = (0..keys)
            .map(|k| {
                lb.pick(SimTime::ZERO, &PoolView::new(&b3), &RequestInfo::keyed(k))
                    .unwrap()
            })
            .collect();
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b4));
        let mut moved = 0u32;
        for k in 0..keys {
            let got = lb
                .pick(SimTime::ZERO, &PoolView::new(&b4), &RequestInfo::keyed(k))
                .unwrap();
            if got != before[k as usize] {
                assert_eq!(got, 3, "key {k} moved between old servers");
                moved += 1;
            }
        }
        let share = f64::from(moved) / keys as f64;
        assert!((share - 0.25).abs() < 0.10, "moved {share}");
    }

    #[test]
    fn weights_scale_points_and_weight_change_rebuilds() {
        let mut b = weighted(&[1, 1, 1]);
        let mut lb = Ketama::new("key", 160);
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(lb.ring.len(), 480);
        b[0].weight = 3;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(lb.ring.len(), 800);
        b[0].weight = 0; // no points, never picked
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(lb.ring.len(), 320);
        for k in 0..500 {
            assert_ne!(
                lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::keyed(k)),
                Some(0)
            );
        }
        // A different points_per_weight.
        let mut lb = Ketama::new("key", 40);
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&weighted(&[1, 2])));
        assert_eq!(lb.ring.len(), 120);
    }

    #[test]
    fn equal_server_strings_share_points_and_rotate() {
        // Two peers with one name (one host resolving to two addresses): the same points,
        // deduplicated, and SWRR between them at each point.
        let ring = Ring::build(&[("a:1", 1), ("a:1", 1), ("b:1", 1)], 160);
        assert_eq!(ring.len(), 320);
        let b = weighted(&[1, 1, 1]);
        let mut current = vec![0i64; 3];
        let h = ring.hash((0..ring.len()).find(|&i| ring.owner(i) == 0).unwrap());
        let picks: Vec<Option<usize>> = (0..4).map(|_| ring.pick(h, &b, &mut current)).collect();
        assert_eq!(picks, [Some(0), Some(1), Some(0), Some(1)]);
    }

    #[test]
    fn pool_change_without_notification_is_handled() {
        let mut lb = Ketama::new("key", 160);
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&weighted(&[1, 1, 1])));
        let b = weighted(&[1, 1, 1, 1, 1]);
        for k in 0..100 {
            let i = lb
                .pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::keyed(k))
                .unwrap();
            assert!(i < 5);
        }
        assert_eq!(lb.ring.len(), 800);
        assert_eq!(
            lb.pick(SimTime::ZERO, &PoolView::new(&[]), &RequestInfo::keyed(1)),
            None
        );
    }

    #[test]
    fn explain_names_the_ring_point_the_pick_uses() {
        let b = crate::balancer::testutil::weighted(&[1, 2, 1]);
        let view = PoolView::new(&b);
        let mut lb = Ketama::new("key", 160);
        lb.on_pool_change(SimTime::ZERO, &view);
        for k in 0..200 {
            let req = RequestInfo::keyed(k);
            let note = lb.explain(SimTime::ZERO, &view, &req).unwrap().note;
            let h = hashfn::crc32(k.to_string().as_bytes());
            assert!(
                note.starts_with(&format!("crc32(\"{k}\") = {h} → ring point ")),
                "{note}"
            );
            let i = lb.pick(SimTime::ZERO, &view, &req).unwrap();
            assert!(note.ends_with(&format!("→ #{}", i + 1)), "{k}: {note}");
        }
    }
}
