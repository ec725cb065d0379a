//! Linux IPVS `sh`: source hashing over a 256-bucket table in which each destination
//! takes `weight` consecutive buckets; a client address always maps to the same bucket,
//! and a hashed destination that cannot take the connection drops it unless
//! `sh_fallback`.

use super::{
    AlgorithmInfo, Balancer, Explanation, ParamDef, ParamKind, ParamValue, PoolSnapshot, PoolView,
    RequestInfo,
};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "ipvs-sh",
    aliases: &["lvs-sh", "ipvs-source-hash"],
    summary: "IPVS sh: hash_32(client address, 8) indexes a 256-bucket table (weight consecutive buckets per backend); a down target drops unless sh_fallback",
    source: "Linux IPVS net/netfilter/ipvs/ip_vs_sh.c (ip_vs_sh_schedule, ip_vs_sh_hashkey, ip_vs_sh_reassign, ip_vs_sh_get_fallback)",
    params: &[ParamDef {
        key: "sh_fallback",
        kind: ParamKind::Bool,
        default: ParamValue::Bool(false),
        doc: "when the hashed backend is down or has weight 0, probe the table for another (ipvsadm `-b sh-fallback`); false: no backend (IPVS drops the packet)",
    }],
    build: |p, _| Box::new(IpvsSourceHash::new(p.bool("sh_fallback"))),
}];

/// `IP_VS_SH_TAB_BITS` (`CONFIG_IP_VS_SH_TAB_BITS`, default 8).
const TAB_BITS: u32 = 8;
/// `IP_VS_SH_TAB_SIZE`.
const TAB_SIZE: usize = 1 << TAB_BITS;
/// A bucket with no destination (empty list).
const EMPTY: u32 = u32::MAX;

/// The kernel's `hash_32(val, bits)` (`include/linux/hash.h`): multiply by
/// `GOLDEN_RATIO_32` = 0x61C88647 and keep the top `bits` bits.
#[inline]
pub(super) fn hash_32(val: u32, bits: u32) -> u32 {
    val.wrapping_mul(0x61C8_8647) >> (32 - bits)
}

/// `ip_vs_sh_hashkey` for an IPv4 address and port 0: `(offset + hash_32(addr, 8)) & 255`.
#[inline]
fn hashkey(addr: u32, offset: u32) -> usize {
    (offset.wrapping_add(hash_32(addr, TAB_BITS)) as usize) & (TAB_SIZE - 1)
}

/// Linux IPVS source hashing (`sh`).
///
/// Transcribed from `net/netfilter/ipvs/ip_vs_sh.c` (current mainline):
///
/// * **Table** (`ip_vs_sh_reassign`, run on every add, delete or edit of a destination):
///   256 buckets filled by walking the destination list cyclically, each destination
///   taking `weight` consecutive buckets (`if (++d_count >= weight)` moves on, so a
///   weight-0 destination still takes one). Weights 1, 2, 1 give `a b b c a b b c …`
///   (64/128/64 buckets). lblab rebuilds it whenever a backend's id or weight changes.
/// * **Key** (`ip_vs_sh_hashkey`): `(offset + hash_32(port + addr, 8)) & 255` with
///   `hash_32(v, 8) = (v·0x61C88647 mod 2³²) >> 24`; the address is the request's
///   `client_ip`, the port 0 (ipvsadm's `sh-port` flag, which adds the source port, is
///   not modelled: lblab requests have no port). 10.0.0.1 hashes to bucket 39. (Kernels
///   before `hash_32` used `(addr·2654435761) & 255`, the low bits.)
/// * **Schedule** (`ip_vs_sh_schedule`, `ip_vs_sh_get`): the bucket's destination, or
///   **none** (IPVS drops the packet) if it has weight ≤ 0 or is overloaded — here, if the
///   backend is not [`eligible`](super::Backend::eligible): so this balancer may return
///   `None` while other backends are eligible, which no other lblab algorithm does.
/// * **`sh_fallback`** (`ip_vs_sh_get_fallback`, ipvsadm `-b sh-fallback`): if the hashed
///   destination is unavailable, for `offset = 0..255` try bucket
///   `hashkey(addr, (offset + ihash) % 256)`, i.e. `(2·ihash + offset) & 255` — the kernel
///   adds the initial hash twice, so the probe starts at bucket `2·ihash`, not `ihash + 1`
///   — and take the first available destination.
///
/// An unavailable backend is an IPVS destination flagged `OVERLOAD` (it keeps its buckets;
/// its clients are dropped or fall back); a scenario that removes the server triggers the
/// full rebuild, which moves almost every client (unlike `mh`). Defaults:
/// `sh_fallback = false`. Not modelled: `sh-port`, IPv6 (folded by XOR of its words in the
/// kernel), persistence. Cost per pick: O(1) (at most 256 probes with `sh_fallback`); a
/// rebuild is O(256 + n).
#[derive(Clone, Debug)]
pub struct IpvsSourceHash {
    fallback: bool,
    /// Bucket → index into the pool ([`EMPTY`] if the pool is empty).
    table: [u32; TAB_SIZE],
    /// The ids and weights the table was built from.
    seen: PoolSnapshot,
}

impl IpvsSourceHash {
    /// Source hashing, with or without `sh_fallback`.
    pub fn new(fallback: bool) -> Self {
        IpvsSourceHash {
            fallback,
            table: [EMPTY; TAB_SIZE],
            seen: PoolSnapshot::new(false),
        }
    }

    /// `ip_vs_sh_reassign` if the ids or weights changed.
    fn sync(&mut self, pool: &PoolView<'_>) {
        if !self.seen.update(pool) {
            return;
        }
        let n = pool.len();
        if n == 0 {
            self.table = [EMPTY; TAB_SIZE];
            return;
        }
        let (mut p, mut d_count) = (0usize, 0u32);
        for bucket in self.table.iter_mut() {
            *bucket = p as u32;
            d_count += 1;
            if d_count >= pool.backends[p].weight {
                p = (p + 1) % n;
                d_count = 0;
            }
        }
    }

    /// The schedule on a synced table, without changing anything.
    fn lookup(&self, pool: &PoolView<'_>, addr: u32) -> Option<usize> {
        let usable = |bucket: usize| {
            let i = self.table[bucket];
            (i != EMPTY && pool.backends[i as usize].eligible()).then_some(i as usize)
        };
        let ihash = hashkey(addr, 0);
        if self.table[ihash] == EMPTY {
            return None;
        }
        if let Some(i) = usable(ihash) {
            return Some(i);
        }
        if !self.fallback {
            return None;
        }
        (0..TAB_SIZE as u32).find_map(|offset| {
            let roffset = (offset + ihash as u32) % TAB_SIZE as u32;
            usable(hashkey(addr, roffset))
        })
    }
}

impl Balancer for IpvsSourceHash {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        self.sync(pool);
        self.lookup(pool, req.client_ip)
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.sync(pool);
    }

    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        req: &RequestInfo,
    ) -> Option<Explanation> {
        // Only meaningful once the table matches the pool (the next pick would rebuild it).
        let mut probe = self.clone();
        probe.sync(pool);
        let ihash = hashkey(req.client_ip, 0);
        let bucket = probe.table[ihash];
        let ip = req.client_ip.to_be_bytes();
        let target = match bucket {
            EMPTY => "empty".to_string(),
            i => format!("server {}", pool.backends[i as usize].id),
        };
        let outcome = match probe.lookup(pool, req.client_ip) {
            Some(i) => format!("server {}", pool.backends[i].id),
            None => "none (dropped)".to_string(),
        };
        Some(Explanation::note(format!(
            "hash_32({}.{}.{}.{}, 8) = bucket {ihash} → {target} → {outcome}",
            ip[0], ip[1], ip[2], ip[3]
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::weighted;

    fn ip(a: u8, b: u8, c: u8, d: u8) -> u32 {
        u32::from_be_bytes([a, b, c, d])
    }

    fn pick(lb: &mut IpvsSourceHash, b: &[super::super::Backend], addr: u32) -> Option<usize> {
        let req = RequestInfo {
            client_ip: addr,
            ..RequestInfo::default()
        };
        lb.pick(SimTime::ZERO, &PoolView::new(b), &req)
    }

    #[test]
    fn reference_vectors() {
        assert_eq!(hash_32(ip(10, 0, 0, 1), 8), 39);
        let b = weighted(&[1, 2, 1]);
        let mut lb = IpvsSourceHash::new(false);
        lb.sync(&PoolView::new(&b));
        let letters: String = lb.table[..8]
            .iter()
            .map(|&i| (b'a' + i as u8) as char)
            .collect();
        assert_eq!(letters, "abbcabbc");
        let mut share = [0; 3];
        for &i in &lb.table {
            share[i as usize] += 1;
        }
        assert_eq!(share, [64, 128, 64]);
        // Bucket 39 = 4·9 + 3: c.
        assert_eq!(pick(&mut lb, &b, ip(10, 0, 0, 1)), Some(2));
    }

    #[test]
    fn a_down_target_drops_unless_fallback() {
        let mut b = weighted(&[1, 2, 1]);
        b[2].available = false;
        assert_eq!(
            pick(&mut IpvsSourceHash::new(false), &b, ip(10, 0, 0, 1)),
            None
        );
        // Fallback probes from bucket 2·39 = 78 (b), not 40 (a).
        assert_eq!(
            pick(&mut IpvsSourceHash::new(true), &b, ip(10, 0, 0, 1)),
            Some(1)
        );
        // b down too: 78 (b), 79 (c), 80 (a).
        b[1].available = false;
        assert_eq!(
            pick(&mut IpvsSourceHash::new(true), &b, ip(10, 0, 0, 1)),
            Some(0)
        );
        // Nothing up: none either way.
        b[0].available = false;
        assert_eq!(
            pick(&mut IpvsSourceHash::new(true), &b, ip(10, 0, 0, 1)),
            None
        );
        assert_eq!(
            pick(&mut IpvsSourceHash::new(true), &[], ip(10, 0, 0, 1)),
            None
        );
    }

    #[test]
    fn weight_zero_keeps_one_bucket_and_drops_it() {
        let b = weighted(&[0, 1]);
        let mut lb = IpvsSourceHash::new(false);
        lb.sync(&PoolView::new(&b));
        assert!(lb.table.iter().step_by(2).all(|&i| i == 0));
        assert!(lb.table.iter().skip(1).step_by(2).all(|&i| i == 1));
        // An address hashing to an even bucket is dropped; to an odd one, served by b.
        let even = (0..)
            .map(|x| ip(10, 0, 0, x))
            .find(|&a| hashkey(a, 0).is_multiple_of(2))
            .unwrap();
        let odd = (0..)
            .map(|x| ip(10, 0, 0, x))
            .find(|&a| hashkey(a, 0) % 2 == 1)
            .unwrap();
        assert_eq!(pick(&mut lb, &b, even), None);
        assert_eq!(pick(&mut lb, &b, odd), Some(1));
        assert_eq!(pick(&mut IpvsSourceHash::new(true), &b, even), Some(1));
    }

    #[test]
    fn availability_keeps_the_table_weights_rebuild_it() {
        let mut b = weighted(&[1, 1, 1]);
        let mut lb = IpvsSourceHash::new(false);
        lb.sync(&PoolView::new(&b));
        let before = lb.table;
        b[1].available = false;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(lb.table, before);
        b[1].weight = 2;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_ne!(lb.table, before);
        assert_eq!(&lb.table[..4], &[0, 1, 1, 2]);
    }
}
