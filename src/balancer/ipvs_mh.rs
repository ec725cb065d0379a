//! Linux IPVS `mh`: Maglev hashing with IPVS's own table (4093 slots), hash (`hsiphash`
//! with fixed keys), weights (`last_weight`, reduced by their gcd and shifted) and
//! population order; a hashed backend that cannot take the connection drops it unless
//! `mh_fallback`.

use super::{
    AlgorithmInfo, Balancer, Explanation, ParamDef, ParamKind, ParamValue, PoolSnapshot, PoolView,
    RequestInfo,
};
use crate::engine::SimTime;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "ipvs-mh",
    aliases: &["lvs-mh", "ipvs-maglev"],
    summary: "IPVS mh: Maglev table of 4093 slots from hsiphash permutations of the server addresses, hsiphash(client address) % 4093; a down target drops unless mh_fallback; weight 0 keeps the table",
    source: "Linux IPVS net/netfilter/ipvs/ip_vs_mh.c (ip_vs_mh_schedule, ip_vs_mh_permutate, ip_vs_mh_populate, ip_vs_mh_get_fallback); lib/siphash.c (hsiphash, 64-bit)",
    params: &[ParamDef {
        key: "mh_fallback",
        kind: ParamKind::Bool,
        default: ParamValue::Bool(false),
        doc: "when the hashed backend is down or has weight 0, probe rehashed slots for another (ipvsadm `-b mh-fallback`); false: no backend (IPVS drops the packet)",
    }],
    build: |p, _| Box::new(IpvsMaglev::new(p.bool("mh_fallback"))),
}];

/// `IP_VS_MH_TAB_SIZE` = `primes[CONFIG_IP_VS_MH_TAB_INDEX − 8]`, index 12 by default.
pub(super) const TAB_SIZE: u32 = 4093;
/// `IP_VS_MH_TAB_BITS` = `CONFIG_IP_VS_MH_TAB_INDEX / 2`.
const TAB_BITS: u32 = 6;
/// A slot with no destination.
const EMPTY: u32 = u32::MAX;
/// `generate_hash_secret`: the fixed keys `hash1` and `hash2` (the same on every host).
const HASH1: [u64; 2] = [2_654_435_761, 2_654_435_761];
const HASH2: [u64; 2] = [2_654_446_892, 2_654_446_892];

/// One SipHash round (`SIPROUND` in `lib/siphash.c`).
#[inline(always)]
fn sipround(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// The kernel's `hsiphash` on 64-bit machines (`lib/siphash.c`, `__hsiphash_aligned` with
/// `BITS_PER_LONG == 64`): SipHash-1-3 with a 128-bit key of two `unsigned long`s, one
/// compression round per 8-byte little-endian word, the tail and `len << 56` in the last
/// word, three finalisation rounds, and the 64-bit result truncated to 32 bits.
pub(super) fn hsiphash(data: &[u8], key: [u64; 2]) -> u32 {
    let mut v = [
        0x736f_6d65_7073_6575 ^ key[0],
        0x646f_7261_6e64_6f6d ^ key[1],
        0x6c79_6765_6e65_7261 ^ key[0],
        0x7465_6462_7974_6573 ^ key[1],
    ];
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let m = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        v[3] ^= m;
        sipround(&mut v);
        v[0] ^= m;
    }
    let mut b = (data.len() as u64) << 56;
    for (k, &byte) in words.remainder().iter().enumerate() {
        b |= u64::from(byte) << (8 * k);
    }
    v[3] ^= b;
    sipround(&mut v);
    v[0] ^= b;
    v[2] ^= 0xff;
    sipround(&mut v);
    sipround(&mut v);
    sipround(&mut v);
    (v[0] ^ v[1] ^ v[2] ^ v[3]) as u32
}

/// `ip_vs_mh_hashkey` for IPv4: `hsiphash(&v, 4, key)` with `v = offset + port + addr`
/// (a host-order `unsigned int`, hashed as its little-endian bytes on x86).
#[inline]
fn hashkey(addr: u32, port: u16, key: [u64; 2], offset: u32) -> u32 {
    let v = offset.wrapping_add(u32::from(port)).wrapping_add(addr);
    hsiphash(&v.to_le_bytes(), key)
}

/// The address of server `id` as the hashing algorithms name it (`10.a.b.c`, `a.b.c` the
/// bytes of `id + 1`; `hashfn::server_address`), port 80.
#[inline]
fn server_addr(id: u32) -> u32 {
    0x0A00_0000 | (id.wrapping_add(1) & 0x00FF_FFFF)
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `fls`: the position of the highest set bit, 1-based (0 for 0).
fn fls(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// Turns per pass of each destination from the `last_weight`s (`ip_vs_mh_gcd_weight`,
/// `ip_vs_mh_shift_weight`, `ip_vs_mh_permutate`): `g` = gcd of the positive ones (no
/// table if none), `rshift = max(fls(max/g) − 6, 0)`, `turns = (lw/g) >> rshift`, or 1 if
/// that is 0 and `lw ≠ 0`.
pub(super) fn turns(last_weights: &[u32]) -> Option<Vec<u32>> {
    let g = last_weights.iter().copied().filter(|&w| w > 0).fold(0, gcd);
    if g < 1 {
        return None;
    }
    let max = last_weights.iter().copied().max().unwrap_or(0);
    let shift = fls(max / g).saturating_sub(TAB_BITS);
    Some(
        last_weights
            .iter()
            .map(|&lw| match (lw / g) >> shift {
                0 => u32::from(lw != 0),
                t => t,
            })
            .collect(),
    )
}

/// Linux IPVS Maglev hashing (`mh`).
///
/// Transcribed from `net/netfilter/ipvs/ip_vs_mh.c` (current mainline):
///
/// * **Table**: `M = 4093` slots (`CONFIG_IP_VS_MH_TAB_INDEX` 12; the kernel offers
///   251 … 131071). Per destination, in list order (`ip_vs_mh_permutate`):
///   `offset = hsiphash(port + addr, hash1) % M`, `skip = hsiphash(port + addr, hash2) %
///   (M − 1) + 1`, with the fixed keys `hash1 = (2654435761, 2654435761)` and
///   `hash2 = (2654446892, 2654446892)` (`generate_hash_secret`: the same table on every
///   director), and `turns` from its `last_weight` (see [`turns`]). Population
///   (`ip_vs_mh_populate`): repeated passes over the list; each destination with
///   `turns ≥ 1` claims, `turns` times per pass, the next free slot of its permutation
///   `offset, offset + skip, …` (mod `M`), until all `M` slots are taken.
/// * **Destination addresses**: lblab servers have none, so server `id` is `10.a.b.c:80`
///   with `a.b.c` the bytes of `id + 1`, the convention every hashing algorithm here uses
///   (`hashfn::server_address`).
/// * **`last_weight`**: the latest non-zero weight of each destination (0 for one added
///   with weight 0). The table is built from it, so setting a weight to 0 quiesces a
///   destination **without reshuffling** the table (its slots stay, its clients are
///   dropped or fall back); only an id change or a new non-zero weight rebuilds it
///   (`ip_vs_mh_dest_changed` runs on every add, delete or edit, but with unchanged
///   `last_weight`s it rebuilds the same table).
/// * **Schedule** (`ip_vs_mh_get`): slot `hsiphash(port + client address, hash1) % M`
///   (port 0: ipvsadm's `mh-port` flag is not modelled); its destination, or **none** (the
///   packet is dropped) if it has weight ≤ 0 or is overloaded — here, if it is not
///   [`eligible`](super::Backend::eligible).
/// * **`mh_fallback`** (`ip_vs_mh_get_fallback`): for `offset = 0..M`, slot
///   `hsiphash(((offset + ihash) % M) + addr, hash1) % M`, the first usable destination.
///
/// An unavailable backend is a destination flagged `OVERLOAD` (it keeps its slots). A pool
/// of more than 4093 backends is refused by the kernel (`-EINVAL`); here the table then
/// keeps its previous contents. Defaults: `mh_fallback = false`. Not modelled: `mh-port`,
/// IPv6 folding, persistence. Checked against the kernel: `hsiphash` (the 64-bit vectors
/// of `lib/siphash_kunit.c`); the table build is a transcription with no kernel-produced
/// table to compare against. Cost per pick: one SipHash of 4 bytes (up to `M` more with
/// `mh_fallback`); a rebuild is O(M + n) amortised slot claims.
#[derive(Clone, Debug)]
pub struct IpvsMaglev {
    fallback: bool,
    /// Slot → index into the pool ([`EMPTY`]: none).
    table: Vec<u32>,
    /// `(id, last_weight)` of the pool's backends, in pool order.
    last: Vec<(u32, u32)>,
    /// The ids and weights last seen.
    seen: PoolSnapshot,
}

impl IpvsMaglev {
    /// Maglev hashing, with or without `mh_fallback`.
    pub fn new(fallback: bool) -> Self {
        IpvsMaglev {
            fallback,
            table: vec![EMPTY; TAB_SIZE as usize],
            last: Vec::new(),
            seen: PoolSnapshot::new(false),
        }
    }

    /// `ip_vs_mh_dest_changed` if the ids or weights changed.
    fn sync(&mut self, pool: &PoolView<'_>) {
        if !self.seen.update(pool) {
            return;
        }
        // last_weight: the new weight if non-zero, else the one remembered for that id.
        let old = std::mem::take(&mut self.last);
        self.last = pool
            .backends
            .iter()
            .map(|b| {
                let lw = if b.weight > 0 {
                    b.weight
                } else {
                    old.binary_search_by_key(&b.id, |&(id, _)| id)
                        .map_or(0, |k| old[k].1)
                };
                (b.id, lw)
            })
            .collect();
        if pool.len() > TAB_SIZE as usize {
            return; // ip_vs_mh_reassign: -EINVAL, the table is left as it was
        }
        self.populate();
    }

    /// `ip_vs_mh_permutate` and `ip_vs_mh_populate`.
    fn populate(&mut self) {
        let m = TAB_SIZE;
        let lws: Vec<u32> = self.last.iter().map(|&(_, lw)| lw).collect();
        let Some(turns) = turns(&lws) else {
            self.table.fill(EMPTY); // ip_vs_mh_reset
            return;
        };
        // (perm, skip) per destination.
        let mut setup: Vec<(u32, u32)> = self
            .last
            .iter()
            .map(|&(id, _)| {
                let addr = server_addr(id);
                let offset = hashkey(addr, 80, HASH1, 0) % m;
                let skip = hashkey(addr, 80, HASH2, 0) % (m - 1) + 1;
                (offset, skip)
            })
            .collect();
        let mut taken = vec![false; m as usize];
        let (mut n, mut dt_count) = (0u32, 0u32);
        let count = setup.len();
        loop {
            let mut p = 0;
            while p < count {
                if turns[p] < 1 {
                    p += 1;
                    continue;
                }
                let (perm, skip) = &mut setup[p];
                while taken[*perm as usize] {
                    *perm += *skip;
                    if *perm >= m {
                        *perm -= m;
                    }
                }
                taken[*perm as usize] = true;
                self.table[*perm as usize] = p as u32;
                n += 1;
                if n == m {
                    return;
                }
                dt_count += 1;
                if dt_count >= turns[p] {
                    dt_count = 0;
                    p += 1;
                }
            }
        }
    }

    /// The slot of a client address (`ip_vs_mh_hashkey(…, hash1, offset) % M`).
    #[inline]
    fn slot(addr: u32, offset: u32) -> usize {
        (hashkey(addr, 0, HASH1, offset) % TAB_SIZE) as usize
    }

    /// The schedule on a synced table, without changing anything.
    fn lookup(&self, pool: &PoolView<'_>, addr: u32) -> Option<usize> {
        let usable = |slot: usize| {
            let i = self.table[slot];
            (i != EMPTY && (i as usize) < pool.len() && pool.backends[i as usize].eligible())
                .then_some(i as usize)
        };
        let ihash = Self::slot(addr, 0);
        if self.table[ihash] == EMPTY {
            return None;
        }
        if let Some(i) = usable(ihash) {
            return Some(i);
        }
        if !self.fallback {
            return None;
        }
        for offset in 0..TAB_SIZE {
            let roffset = (offset + ihash as u32) % TAB_SIZE;
            let slot = Self::slot(addr, roffset);
            if self.table[slot] == EMPTY {
                return None;
            }
            if let Some(i) = usable(slot) {
                return Some(i);
            }
        }
        None
    }
}

impl Balancer for IpvsMaglev {
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
        let mut probe = self.clone();
        probe.sync(pool);
        let slot = Self::slot(req.client_ip, 0);
        let ip = req.client_ip.to_be_bytes();
        let target = match pool.backends.get(probe.table[slot] as usize) {
            Some(b) => format!("server {}", b.id),
            None => "empty".to_string(),
        };
        let outcome = match probe.lookup(pool, req.client_ip) {
            Some(i) => format!("server {}", pool.backends[i].id),
            None => "none (dropped)".to_string(),
        };
        Some(Explanation::note(format!(
            "hsiphash({}.{}.{}.{}) % 4093 = slot {slot} → {target} → {outcome}",
            ip[0], ip[1], ip[2], ip[3]
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::weighted;

    #[test]
    fn hsiphash_matches_the_kernel_vectors() {
        // lib/siphash_kunit.c, BITS_PER_LONG == 64: test_vectors_hsiphash[n] hashes the
        // bytes 0..n under the key 00 01 … 0f.
        let key = [0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908];
        let bytes: Vec<u8> = (0..64).collect();
        for (n, want) in [
            (0, 0x050f_c4dc_u32),
            (1, 0x7d57_ca93),
            (4, 0x88d3_8328),
            (7, 0x9bb1_1140),
            (8, 0x8d29_9a8e),
            (9, 0x6c06_3de4),
            (16, 0x7d90_8b66),
        ] {
            assert_eq!(hsiphash(&bytes[..n], key), want, "length {n}");
        }
    }

    #[test]
    fn turns_reduce_by_gcd_and_shift() {
        assert_eq!(turns(&[2, 4, 6]), Some(vec![1, 2, 3]));
        // max/gcd = 1000: fls = 10, shift 4; 1 >> 4 = 0 becomes 1; 0 stays 0.
        assert_eq!(turns(&[1, 1000, 0]), Some(vec![1, 62, 0]));
        assert_eq!(turns(&[0, 0]), None);
        assert_eq!(turns(&[]), None);
    }

    fn shares(lb: &IpvsMaglev, n: usize) -> Vec<u32> {
        let mut c = vec![0; n];
        for &i in &lb.table {
            c[i as usize] += 1;
        }
        c
    }

    #[test]
    fn the_table_is_full_and_weighted_by_turns() {
        // Passes claim a, b, b, c: 1023 full passes fill 4092 slots, then a takes the last.
        let b = weighted(&[1, 2, 1]);
        let mut lb = IpvsMaglev::new(false);
        lb.sync(&PoolView::new(&b));
        assert_eq!(shares(&lb, 3), vec![1024, 2046, 1023]);
        // Equal weights: 4093 = 3·1364 + 1.
        let b = weighted(&[5, 5, 5]);
        let mut lb = IpvsMaglev::new(false);
        lb.sync(&PoolView::new(&b));
        assert_eq!(shares(&lb, 3), vec![1365, 1364, 1364]);
    }

    fn owners(lb: &mut IpvsMaglev, b: &[super::super::Backend]) -> Vec<Option<usize>> {
        (0..2000u32)
            .map(|k| {
                let req = RequestInfo {
                    client_ip: 0xC0A8_0000 + k,
                    ..RequestInfo::default()
                };
                lb.pick(SimTime::ZERO, &PoolView::new(b), &req)
            })
            .collect()
    }

    #[test]
    fn weight_zero_keeps_the_table_and_drops_its_clients() {
        let mut b = weighted(&[1, 1, 1, 1]);
        let mut lb = IpvsMaglev::new(false);
        let before = owners(&mut lb, &b);
        let table = lb.table.clone();
        b[1].weight = 0;
        let after = owners(&mut lb, &b);
        assert_eq!(lb.table, table, "last_weight keeps the table");
        for (x, y) in before.iter().zip(&after) {
            match x {
                Some(1) => assert_eq!(*y, None),
                _ => assert_eq!(x, y),
            }
        }
        // A destination added with weight 0 has last_weight 0 and takes no slot.
        let mut fresh = IpvsMaglev::new(false);
        fresh.sync(&PoolView::new(&b));
        assert_eq!(shares(&fresh, 4)[1], 0);
        // With fallback the quiesced backend's clients go elsewhere, the rest stay.
        let mut fb = IpvsMaglev::new(true);
        assert_eq!(owners(&mut fb, &weighted(&[1, 1, 1, 1])), before);
        let moved = owners(&mut fb, &b);
        for (x, y) in before.iter().zip(&moved) {
            match x {
                Some(1) => assert!(matches!(y, Some(i) if *i != 1)),
                _ => assert_eq!(x, y),
            }
        }
        // Unavailable likewise keeps the table.
        b[1].weight = 1;
        b[2].available = false;
        let down = owners(&mut lb, &b);
        assert_eq!(lb.table, table);
        assert!(down.iter().all(|x| *x != Some(2)));
    }

    #[test]
    fn removing_a_backend_moves_few_other_keys() {
        let b = weighted(&[1; 10]);
        let mut lb = IpvsMaglev::new(false);
        let before = owners(&mut lb, &b);
        // Server id 4 leaves: ids 0..=3, 5..=9 (indices shift).
        let mut after_pool = b.clone();
        after_pool.remove(4);
        let after = owners(&mut lb, &after_pool);
        let id = |pool: &[super::super::Backend], x: Option<usize>| x.map(|i| pool[i].id);
        let collateral = before
            .iter()
            .zip(&after)
            .filter(|(x, y)| id(&b, **x) != Some(4) && id(&b, **x) != id(&after_pool, **y))
            .count();
        assert!(
            collateral < 2000 / 20,
            "{collateral} keys moved between staying servers"
        );
        assert!(after.iter().all(|x| x.is_some()));
    }
}
