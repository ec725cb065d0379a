//! HAProxy `balance source` with the default map-based hash: the client's IPv4 address,
//! optionally mixed by `full_hash` (`hash-type map-based avalanche`), indexes the static-rr
//! server map modulo its length. Every client sticks to one server while the pool is
//! unchanged, in proportion to weight; any change remaps most clients (modulo hashing).

use super::hashfn::full_hash;
use super::static_rr::ServerMap;
use super::{AlgorithmInfo, Balancer, ParamDef, ParamKind, ParamValue, PoolView, RequestInfo};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "haproxy-source",
    aliases: &["source"],
    summary: "HAProxy balance source (map-based): client IPv4 address modulo the static-rr weighted map",
    source: "HAProxy src/backend.c (get_server_sh) + src/lb_map.c (map_get_server_hash)",
    params: &[ParamDef {
        key: "avalanche",
        kind: ParamKind::Bool,
        default: ParamValue::Bool(false),
        doc: "mix the address with full_hash before the modulo (HAProxy `hash-type map-based avalanche`)",
    }],
    build: |p, _| Box::new(SourceHash::new(p.bool("avalanche"))),
}];

/// HAProxy `balance source` with `hash-type map-based` (the default).
///
/// Follows `get_server_sh` in HAProxy `src/backend.c` and `map_get_server_hash` in
/// `src/lb_map.c`: `h` is the XOR of the source address's 32-bit big-endian words (an IPv4
/// address is one word, so `h` is the address as an integer, e.g. 127.0.0.1 is
/// `0x7f000001`); with `avalanche`, `h = full_hash(h)` (Bob Jenkins' 32-bit mix times
/// 3221225473, [`full_hash`]); the server is `map[h % T]`, where `map` is the static-rr map
/// ([`build_map`](super::static_rr::build_map): weights divided by their GCD, `T = Σ w/gcd`
/// slots over the usable servers). With a single usable server nothing is hashed
/// (`h = 0`). The map is rebuilt whenever availability, weights or membership change.
///
/// Vectors (lb-semantics §3, run on HAProxy 3.5-dev; three weight-1 servers, map `abc`):
/// sources 127.0.0.1, .2, .3, … → `c a b c a b …`; with `avalanche`, 127.0.0.1..20 →
/// `baaabaccabaabbacaaca`.
///
/// Defaults: `avalanche = false`. The hashed address is always the request's
/// `client_ip`. Differences from HAProxy: no backup servers and no IPv6 (which HAProxy
/// folds into 32 bits by XOR of its four words); retries are not modelled (HAProxy's
/// redispatch, `option redispatch`, picks by round robin instead).
#[derive(Clone, Debug)]
pub struct SourceHash {
    avalanche: bool,
    map: ServerMap,
}

impl SourceHash {
    /// Map-based source hashing, with or without the `avalanche` mix.
    pub fn new(avalanche: bool) -> Self {
        SourceHash {
            avalanche,
            map: ServerMap::new(),
        }
    }

    /// The 32-bit hash of a source address (`h` in `get_server_sh`), given the number of
    /// usable servers.
    fn hash(&self, client_ip: u32, usable: usize) -> u32 {
        if usable == 1 {
            // "we won't hash if there's only one server left"
            return 0;
        }
        // XOR of the address's 32-bit words: an IPv4 address is a single word.
        let h = client_ip;
        if self.avalanche { full_hash(h) } else { h }
    }
}

impl Balancer for SourceHash {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        let backends = pool.backends;
        self.map.refresh(backends);
        for _ in 0..2 {
            let t = self.map.len();
            if t == 0 {
                return None;
            }
            let h = self.hash(req.client_ip, self.map.usable());
            let k = (u64::from(h) % t as u64) as usize;
            if let Some(i) = self.map.at(backends, k) {
                return Some(i);
            }
            // The pool changed without a notification: rebuild and retry once.
            self.map.rebuild(backends);
        }
        unreachable!("a freshly built map holds only eligible backends")
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.map.rebuild(pool.backends);
    }

    /// `source a.b.c.d = h [full_hash → h']; h % T = k → map[k] = #i` over the static-rr
    /// map of `T` slots.
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let mut map = self.map.clone();
        map.refresh(pool.backends);
        let t = map.len();
        if t == 0 {
            return Some(super::Explanation::note("no usable server"));
        }
        let [a, b, c, d] = req.client_ip.to_be_bytes();
        let ip = req.client_ip;
        let h = self.hash(ip, map.usable());
        let mix = if map.usable() == 1 {
            " (one usable server: not hashed, h = 0)".to_string()
        } else if self.avalanche {
            format!(", full_hash = {h}")
        } else {
            String::new()
        };
        let k = (u64::from(h) % t as u64) as usize;
        let slot = match map.at(pool.backends, k) {
            Some(i) => format!("#{}", i + 1),
            None => "stale map: rebuilt at the pick".to_string(),
        };
        Some(super::Explanation::note(format!(
            "source {a}.{b}.{c}.{d} = {ip}{mix}; {h} % {t} map slots = {k} → {slot}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::Backend;
    use crate::balancer::testutil::{letter, weighted, weighted_available};

    /// Picks for sources 127.0.0.1, 127.0.0.2, … (`n` of them), as letters.
    fn from_loopback(s: &mut SourceHash, backends: &[Backend], n: u32) -> String {
        let view = PoolView::new(backends);
        (1..=n)
            .map(|d| {
                let req = RequestInfo {
                    client_ip: 0x7f00_0000 + d,
                    ..RequestInfo::default()
                };
                letter(s.pick(SimTime::ZERO, &view, &req))
            })
            .collect()
    }

    #[test]
    fn haproxy_vectors() {
        // lb-semantics §3 [run]: 3 × weight 1, map `abc`; 0x7f000001 % 3 = 2.
        let b = weighted(&[1, 1, 1]);
        assert_eq!(
            from_loopback(&mut SourceHash::new(false), &b, 9),
            "cabcabcab"
        );
        // `hash-type map-based avalanche`: pins hashfn::full_hash.
        assert_eq!(
            from_loopback(&mut SourceHash::new(true), &b, 20),
            "baaabaccabaabbacaaca"
        );
        assert_eq!(full_hash(0x7f00_0001), 0x8a1b_584b);
    }

    #[test]
    fn explain_shows_the_modulo_of_the_vectors() {
        let b = weighted(&[1, 1, 1]);
        let req = RequestInfo {
            client_ip: 0x7f00_0001,
            ..RequestInfo::default()
        };
        let note = |s: &SourceHash| {
            s.explain(SimTime::ZERO, &PoolView::new(&b), &req)
                .unwrap()
                .note
        };
        // 0x7f000001 = 2130706433; % 3 = 2: c.
        assert_eq!(
            note(&SourceHash::new(false)),
            "source 127.0.0.1 = 2130706433; 2130706433 % 3 map slots = 2 → #3"
        );
        // full_hash(0x7f000001) = 0x8a1b584b = 2317047883; % 3 = 1: b, as the vector.
        assert_eq!(
            note(&SourceHash::new(true)),
            "source 127.0.0.1 = 2130706433, full_hash = 2317047883; 2317047883 % 3 map slots = 1 → #2"
        );
    }

    #[test]
    fn weights_and_down_servers_change_the_map() {
        // Weights 2,1,1: map `aabc` (T = 4).
        let b = weighted(&[2, 1, 1]);
        assert_eq!(
            from_loopback(&mut SourceHash::new(false), &b, 8),
            "abcaabca"
        );
        // b down: map `ac` (T = 2); every address is remapped modulo 2.
        let b = weighted_available(&[(1, true), (1, false), (1, true)]);
        assert_eq!(
            from_loopback(&mut SourceHash::new(false), &b, 8),
            "cacacaca"
        );
        assert_eq!(from_loopback(&mut SourceHash::new(true), &b, 8), "ccaccaca");
    }

    #[test]
    fn single_usable_server_and_nothing_usable() {
        let b = weighted_available(&[(1, false), (3, true), (0, true)]);
        assert_eq!(from_loopback(&mut SourceHash::new(true), &b, 5), "bbbbb");
        let b = weighted_available(&[(1, false), (0, true)]);
        assert_eq!(from_loopback(&mut SourceHash::new(false), &b, 3), "---");
        assert_eq!(from_loopback(&mut SourceHash::new(false), &[], 2), "--");
    }

    #[test]
    fn pool_changes_rebuild_the_map() {
        let mut b = weighted(&[1, 1, 1]);
        let mut s = SourceHash::new(false);
        s.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(from_loopback(&mut s, &b, 6), "cabcab");
        b[1].available = false;
        s.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(from_loopback(&mut s, &b, 6), "cacaca");
        // Back up, but without a notification: the stale map still names only a and c,
        // which are eligible, so it is used until the next on_pool_change...
        b[1].available = true;
        assert_eq!(from_loopback(&mut s, &b, 2), "ca");
        s.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(from_loopback(&mut s, &b, 3), "cab");
        // ...whereas a slot whose server went down is noticed at once.
        b[2].available = false;
        assert_eq!(from_loopback(&mut s, &b, 4), "baba");
    }
}
