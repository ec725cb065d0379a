//! Maglev consistent hashing (Eisenbud et al., NSDI 2016) as Envoy implements it: every
//! healthy host walks its own permutation of a prime-sized lookup table (65537 entries by
//! default), and hosts take turns, in proportion to weight, claiming their next free slot
//! until the table is full. A request goes to `table[hash % M]`. Each host gets ⌊M/N⌋ or
//! ⌈M/N⌉ slots (equal weights), and a change of hosts moves only slightly more than the
//! minimal share of slots.

use super::hashfn::{self, HASH_ON};
use super::{
    AlgorithmInfo, Balancer, ParamDef, ParamKind, ParamValue, PoolSnapshot, PoolView, RequestInfo,
};
use crate::engine::{SimRng, SimTime};

/// Envoy's default table size (`MaglevTable::DefaultTableSize`, section 5.3 of the paper).
const DEFAULT_TABLE_SIZE: i64 = 65537;

/// Envoy's largest allowed table size (`maglev.proto`: `lte: 5000011`, itself prime).
const MAX_TABLE_SIZE: i64 = 5_000_011;

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "maglev",
    aliases: &[],
    summary: "Envoy Maglev: prime-sized lookup table filled from per-host permutations, table[xxh64(key) % M]",
    source: "envoy source/extensions/load_balancing_policies/maglev/maglev_lb.cc (MaglevTable::constructMaglevTableInternal, OriginalMaglevTable::chooseHost)",
    params: &[
        HASH_ON,
        ParamDef {
            key: "table_size",
            kind: ParamKind::Int {
                min: 2,
                max: MAX_TABLE_SIZE,
            },
            default: ParamValue::Int(DEFAULT_TABLE_SIZE),
            doc: "lookup table size M (Envoy table_size; must be prime: a non-prime is raised to the next prime)",
        },
    ],
    build: |p, rng| {
        Box::new(Maglev::new(
            p.word("hash_on"),
            p.int("table_size") as u64,
            rng,
        ))
    },
}];

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

/// The smallest prime `≥ n` (and `≥ 2`).
fn next_prime(n: u64) -> u64 {
    let mut m = n.max(2);
    while !is_prime(m) {
        m += 1;
    }
    m
}

/// One host's row in the table build: where its permutation starts, its stride, and its
/// normalised weight (Envoy's `TableBuildEntry`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct BuildEntry {
    /// `xxh64(key, 0) % M`.
    pub offset: u64,
    /// `xxh64(key, 1) % (M − 1) + 1`.
    pub skip: u64,
    /// Weight normalised to a sum of 1 (`weight / Σ weight`, as a double).
    pub weight: f64,
}

impl BuildEntry {
    /// The entry of host key `key` (its address string) in a table of size `m`.
    pub(crate) fn for_key(key: &[u8], m: u64, weight: f64) -> BuildEntry {
        BuildEntry {
            offset: hashfn::xxh64(key, 0) % m,
            skip: hashfn::xxh64(key, 1) % (m - 1) + 1,
            weight,
        }
    }
}

/// Fills `table` (resized to `m`) with indices into `entries`, as
/// `OriginalMaglevTable::constructImplementationInternals`: in iteration `k = 1, 2, …`
/// entry `i` (in order) takes a turn iff `k · weight_i ≥ target_i`; a turn adds
/// `max_weight` to `target_i` (starting at 0) and claims the next free slot of the entry's
/// permutation `(offset + skip · j) % m`. Stops as soon as the table is full. With no
/// entries the table is left empty.
pub(crate) fn fill_table(entries: &[BuildEntry], m: u64, table: &mut Vec<u32>) {
    const FREE: u32 = u32::MAX;
    table.clear();
    if entries.is_empty() {
        return;
    }
    let m_usize = m as usize;
    table.resize(m_usize, FREE);
    let max_weight = entries.iter().map(|e| e.weight).fold(0.0f64, f64::max);
    // Per entry: its next permutation position (kept reduced mod m) and its target weight.
    let mut pos: Vec<u64> = entries.iter().map(|e| e.offset % m).collect();
    let mut target = vec![0.0f64; entries.len()];
    let mut placed = 0usize;
    let mut iteration: u32 = 1;
    while placed < m_usize {
        for (i, e) in entries.iter().enumerate() {
            if placed == m_usize {
                break;
            }
            if f64::from(iteration) * e.weight < target[i] {
                continue;
            }
            target[i] += max_weight;
            let mut c = pos[i];
            while table[c as usize] != FREE {
                c += e.skip;
                if c >= m {
                    c -= m;
                }
            }
            table[c as usize] = i as u32;
            c += e.skip;
            if c >= m {
                c -= m;
            }
            pos[i] = c;
            placed += 1;
        }
        iteration += 1;
    }
}

/// Envoy's Maglev load balancer.
///
/// Follows Envoy `source/extensions/load_balancing_policies/maglev/maglev_lb.cc`
/// (`MaglevTable::constructMaglevTableInternal`, `OriginalMaglevTable::
/// constructImplementationInternals` and `chooseHost`), the paper's pseudocode listing 1:
///
/// * Hosts: the eligible (healthy, weight > 0) backends; the table is rebuilt on every pool
///   change (Envoy rebuilds on every host-set update). A host's key is its address
///   ([`hashfn::server_address`]); hosts are sorted by key *string* before the fill, so
///   `10.0.0.10:80` comes before `10.0.0.2:80`, as in Envoy.
/// * Permutation: `offset = xxh64(key, 0) % M`, `skip = xxh64(key, 1) % (M − 1) + 1`.
/// * Weights: normalised to `w / Σw` as doubles; see [`fill_table`] for the turn rule.
/// * Lookup: `table[xxh64(request_text) % M]` ([`hashfn::request_text`] under `hash_on`);
///   a request without a key uses a random 64-bit hash, as Envoy does when the route gives
///   no hash.
///
/// Not modelled: Envoy's panic mode (below 50% healthy Envoy builds over all hosts; here
/// only eligible hosts enter the table), locality weighting, `hash_balance_factor`, and the
/// retry rehash (`hash ^ (2⁶⁴ − attempt)`), which Envoy applies only under a retry host
/// predicate; a retry here hashes like the first attempt.
///
/// Defaults: `hash_on = "key"`, `table_size = 65537`. Envoy rejects a table size that is
/// not prime; here the parameter is only range-checked, so a non-prime size is raised to
/// the next prime.
#[derive(Clone, Debug)]
pub struct Maglev {
    hash_on: &'static str,
    /// M (prime).
    table_size: u64,
    /// Pool indices; empty when no host is eligible.
    table: Vec<u32>,
    /// The same, two bytes an entry, while the pool has at most 65,536 backends (else
    /// empty): what picks read. A pick fetches one random slot; at 1,024 servers the
    /// 65,537-entry table shares the second-level cache with the requests in flight, and
    /// half its size is half the lines competing.
    narrow: Vec<u16>,
    /// `(id, weight, eligible)` of the pool the table was built from.
    built_from: PoolSnapshot,
    rng: SimRng,
}

impl Maglev {
    /// A balancer with table size `table_size` (raised to the next prime), hashing
    /// `hash_on`, drawing hashes for keyless requests from `rng`.
    pub fn new(hash_on: &'static str, table_size: u64, rng: SimRng) -> Self {
        Maglev {
            hash_on,
            table_size: next_prime(table_size),
            table: Vec::new(),
            narrow: Vec::new(),
            built_from: PoolSnapshot::new(true),
            rng,
        }
    }

    fn rebuild(&mut self, pool: &PoolView<'_>) {
        let m = self.table_size;
        let sum: u64 = pool
            .backends
            .iter()
            .filter(|b| b.eligible())
            .map(|b| u64::from(b.weight))
            .sum();
        let mut hosts: Vec<(String, usize)> = pool
            .backends
            .iter()
            .enumerate()
            .filter(|(_, b)| b.eligible())
            .map(|(i, b)| (hashfn::server_address(b.id), i))
            .collect();
        hosts.sort();
        let entries: Vec<BuildEntry> = hosts
            .iter()
            .map(|(key, i)| {
                let w = f64::from(pool.backends[*i].weight) / sum as f64;
                BuildEntry::for_key(key.as_bytes(), m, w)
            })
            .collect();
        fill_table(&entries, m, &mut self.table);
        // Entry indices → pool indices.
        for slot in &mut self.table {
            *slot = hosts[*slot as usize].1 as u32;
        }
        self.narrow.clear();
        if pool.len() <= 1 << 16 {
            self.narrow.extend(self.table.iter().map(|&i| i as u16));
        }
    }
}

impl Balancer for Maglev {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        if self.built_from.update(pool) {
            self.rebuild(pool);
        }
        if self.table.is_empty() {
            return None;
        }
        let mut buf = [0u8; 20];
        let hash = match hashfn::request_text(req, self.hash_on, &mut buf) {
            Some(text) => hashfn::xxh64(text, 0),
            None => self.rng.next_u64(),
        };
        let slot = (hash % self.table_size) as usize;
        Some(if self.narrow.is_empty() {
            self.table[slot] as usize
        } else {
            usize::from(self.narrow[slot])
        })
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        if self.built_from.update(pool) {
            self.rebuild(pool);
        }
    }

    /// `xxh64("key") = h; h % M = slot → table[slot] = #i`.
    fn explain(
        &self,
        _now: SimTime,
        _pool: &PoolView<'_>,
        req: &RequestInfo,
    ) -> Option<super::Explanation> {
        if self.table.is_empty() {
            return None;
        }
        let mut buf = [0u8; 20];
        let Some(text) = hashfn::request_text(req, self.hash_on, &mut buf) else {
            return Some(super::Explanation::note("no key: a random slot"));
        };
        let h = hashfn::xxh64(text, 0);
        let m = self.table_size;
        let slot = h % m;
        Some(super::Explanation::note(format!(
            "xxh64(\"{}\") = {h}, {h} % {m} = slot {slot} → #{}",
            String::from_utf8_lossy(text),
            self.table[slot as usize] + 1
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{counts, rng, weighted, weighted_available};

    fn equal(entries: &[(u64, u64)]) -> Vec<BuildEntry> {
        let w = 1.0 / entries.len() as f64;
        entries
            .iter()
            .map(|&(offset, skip)| BuildEntry {
                offset,
                skip,
                weight: w,
            })
            .collect()
    }

    fn table_of(lb: &mut Maglev, b: &[crate::balancer::Backend]) -> Vec<u32> {
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(b));
        // The picks' narrow copy is the table.
        assert!(
            lb.narrow
                .iter()
                .map(|&i| u32::from(i))
                .eq(lb.table.iter().copied())
        );
        lb.table.iter().map(|&i| b[i as usize].id).collect()
    }

    #[test]
    fn paper_example() {
        // lb-semantics §6: M = 7; B0 (3, 4), B1 (0, 2), B2 (3, 1).
        let mut t = Vec::new();
        fill_table(&equal(&[(3, 4), (0, 2), (3, 1)]), 7, &mut t);
        assert_eq!(t, [1, 0, 1, 0, 2, 2, 0]);
        // Without B1.
        fill_table(&equal(&[(3, 4), (3, 1)]), 7, &mut t);
        assert_eq!(t, [0, 0, 0, 0, 1, 1, 1]);
        fill_table(&[], 7, &mut t);
        assert!(t.is_empty());
    }

    #[test]
    fn envoy_vector_m7() {
        // lb-semantics §4 [model]: hosts 10.0.0.{1,2,3}:80, M = 7.
        let e: Vec<(u64, u64)> = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
            .iter()
            .map(|k| {
                let e = BuildEntry::for_key(k.as_bytes(), 7, 1.0 / 3.0);
                (e.offset, e.skip)
            })
            .collect();
        assert_eq!(e, [(6, 5), (4, 4), (3, 6)]);
        let mut lb = Maglev::new("key", 7, rng());
        let t = table_of(&mut lb, &weighted(&[1, 1, 1]));
        // By last octet = id + 1.
        let octets: Vec<u32> = t.iter().map(|id| id + 1).collect();
        assert_eq!(octets, [3, 2, 1, 3, 2, 1, 1]);
    }

    #[test]
    fn default_table_split_65537() {
        let mut lb = Maglev::new("key", 65537, rng());
        let t = table_of(&mut lb, &weighted(&[1, 1, 1]));
        assert_eq!(t.len(), 65537);
        let mut c = [0u32; 3];
        for id in t {
            c[id as usize] += 1;
        }
        assert_eq!(c, [21846, 21846, 21845]);
    }

    #[test]
    fn weights_split_the_table_proportionally() {
        let mut lb = Maglev::new("key", 65537, rng());
        let t = table_of(&mut lb, &weighted(&[1, 2, 3]));
        let mut c = [0i64; 3];
        for id in t {
            c[id as usize] += 1;
        }
        // Turns are taken in proportion to weight, so the counts are within a slot or two
        // of 65537 · w / 6.
        for (i, w) in [1i64, 2, 3].iter().enumerate() {
            assert!((c[i] - 65537 * w / 6).abs() <= 2, "{c:?}");
        }
    }

    #[test]
    fn hosts_are_sorted_by_address_string() {
        // With 10 hosts, 10.0.0.10:80 sorts first (before 10.0.0.1:80, as `0` < `:`); the
        // table matches a build over the entries in string order, not in id order.
        let b = weighted(&[1; 10]);
        let mut lb = Maglev::new("key", 101, rng());
        let t = table_of(&mut lb, &b);
        let mut keys: Vec<(String, u32)> =
            (0..10).map(|id| (hashfn::server_address(id), id)).collect();
        keys.sort();
        assert_eq!(keys[0].1, 9);
        let entries: Vec<BuildEntry> = keys
            .iter()
            .map(|(k, _)| BuildEntry::for_key(k.as_bytes(), 101, 0.1))
            .collect();
        let mut want = Vec::new();
        fill_table(&entries, 101, &mut want);
        let want: Vec<u32> = want.iter().map(|&e| keys[e as usize].1).collect();
        assert_eq!(t, want);
        let by_id: Vec<BuildEntry> = (0..10)
            .map(|id| BuildEntry::for_key(hashfn::server_address(id).as_bytes(), 101, 0.1))
            .collect();
        let mut id_order = Vec::new();
        fill_table(&by_id, 101, &mut id_order);
        assert_ne!(t, id_order);
    }

    /// Share of the 65537 slots whose host changes when hosts `name(0..n)` become
    /// `name(0..=n)`.
    fn disruption_named(n: u32, name: impl Fn(u32) -> String) -> f64 {
        let table = |hosts: u32| -> Vec<String> {
            let mut keys: Vec<String> = (0..hosts).map(&name).collect();
            keys.sort();
            let w = 1.0 / f64::from(hosts);
            let entries: Vec<BuildEntry> = keys
                .iter()
                .map(|k| BuildEntry::for_key(k.as_bytes(), 65537, w))
                .collect();
            let mut t = Vec::new();
            fill_table(&entries, 65537, &mut t);
            t.iter().map(|&e| keys[e as usize].clone()).collect()
        };
        let (before, after) = (table(n), table(n + 1));
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        moved as f64 / 65537.0
    }

    /// The same through the balancer (hosts named by [`hashfn::server_address`]).
    fn disruption(n: u32) -> f64 {
        let mut lb = Maglev::new("key", 65537, rng());
        let before = table_of(&mut lb, &weighted(&vec![1; n as usize]));
        let after = table_of(&mut lb, &weighted(&vec![1; n as usize + 1]));
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        moved as f64 / 65537.0
    }

    #[test]
    fn disruption_when_adding_a_host() {
        // lb-semantics §6 [model, Envoy hashing, M = 65537]: adding one host moves 25.1%
        // of slots for N = 3, 9.4% for N = 10, 1.57% for N = 100 (ideal 1/(N+1)). These
        // figures come out exactly with hosts named 10.0.0.0:80, 10.0.0.1:80, ... (0-based).
        let reference = |i: u32| format!("10.0.0.{i}:80");
        let pct = |x: f64, decimals: i32| (x * 100.0 * 10f64.powi(decimals)).round();
        assert_eq!(pct(disruption_named(3, reference), 1), 251.0);
        assert_eq!(pct(disruption_named(10, reference), 1), 94.0);
        assert_eq!(pct(disruption_named(100, reference), 2), 157.0);
        // With the simulation's names (10.0.0.1:80 for id 0) the figures differ only by
        // which permutations the hosts draw: 25.03%, 9.35%. Across namings they vary by
        // about ±0.05 points here, so allow 0.2 points.
        let d3 = disruption(3);
        let d10 = disruption(10);
        assert!((d3 - 0.251).abs() < 0.002, "3 → 4 moved {d3}");
        assert!((d10 - 0.094).abs() < 0.002, "10 → 11 moved {d10}");
        // Never below the minimal disruption.
        assert!(d3 >= 1.0 / 4.0 && d10 >= 1.0 / 11.0);
    }

    /// Beyond 65,536 backends a pool index needs four bytes: the picks read the wide table,
    /// and every slot names an eligible backend (one past two bytes among them).
    #[test]
    fn pools_beyond_two_byte_indices_pick_from_the_wide_table() {
        let n = (1 << 16) + 100;
        let b = weighted(&vec![1; n]);
        let view = PoolView::new(&b);
        let mut lb = Maglev::new("key", 131_071, rng());
        lb.on_pool_change(SimTime::ZERO, &view);
        assert!(lb.narrow.is_empty() && lb.table.len() == 131_071);
        assert!(lb.table.iter().any(|&i| i > u32::from(u16::MAX)));
        for k in 0..2_000u64 {
            picks_its_slot(&mut lb, &view, k);
        }
    }

    /// Key `k` goes to the table's slot `xxh64("k") % M`.
    fn picks_its_slot(lb: &mut Maglev, view: &PoolView<'_>, k: u64) {
        let req = RequestInfo {
            key: Some(k),
            ..RequestInfo::default()
        };
        let h = hashfn::xxh64(k.to_string().as_bytes(), 0);
        let want = lb.table[(h % lb.table_size) as usize] as usize;
        assert_eq!(lb.pick(SimTime::ZERO, view, &req), Some(want));
    }

    #[test]
    fn lookup_is_xxh64_of_the_key_text() {
        let b = weighted(&[1, 1, 1]);
        let view = PoolView::new(&b);
        let mut lb = Maglev::new("key", 65537, rng());
        lb.on_pool_change(SimTime::ZERO, &view);
        assert_eq!(lb.table_size, 65537);
        for k in [0u64, 1, 42, 123_456_789] {
            picks_its_slot(&mut lb, &view, k);
        }
        let mut lb = Maglev::new("ip", 65537, rng());
        let req = RequestInfo {
            client_ip: 0x0a00_0001,
            ..RequestInfo::default()
        };
        let got = lb.pick(SimTime::ZERO, &view, &req);
        let h = hashfn::xxh64(b"10.0.0.1", 0);
        assert_eq!(got, Some(lb.table[(h % 65537) as usize] as usize));
    }

    #[test]
    fn keyless_requests_spread_at_random() {
        // Random hashes: each of 3 equal hosts gets ~1/3 of 30 000 picks
        // (sd = √(30000·(1/3)·(2/3)) ≈ 82; 5 sd ≈ 410).
        let b = weighted(&[1, 1, 1]);
        let mut lb = Maglev::new("key", 65537, rng());
        let c = counts(&mut lb, &b, 30_000);
        for x in c {
            assert!((i64::from(x) - 10_000).abs() < 410, "{x}");
        }
    }

    #[test]
    fn only_eligible_hosts_and_rebuilds_on_availability() {
        let mut b = weighted_available(&[(1, true), (1, false), (0, true), (2, true)]);
        let mut lb = Maglev::new("key", 1009, rng());
        let t = table_of(&mut lb, &b);
        assert!(t.iter().all(|&id| id == 0 || id == 3));
        b[1].available = true;
        let t = table_of(&mut lb, &b);
        assert!(t.contains(&1));
        let none = weighted_available(&[(1, false), (0, true)]);
        let view = PoolView::new(&none);
        lb.on_pool_change(SimTime::ZERO, &view);
        assert_eq!(lb.pick(SimTime::ZERO, &view, &RequestInfo::default()), None);
        // A pool that changed without a notification is rebuilt before the pick.
        let b2 = weighted(&[1, 1]);
        let view = PoolView::new(&b2);
        assert!(
            lb.pick(SimTime::ZERO, &view, &RequestInfo::default())
                .is_some()
        );
        assert_eq!(lb.table.len(), 1009);
    }

    #[test]
    fn table_size_is_raised_to_a_prime() {
        assert_eq!(next_prime(65536), 65537);
        assert_eq!(next_prime(7), 7);
        assert_eq!(next_prime(1), 2);
        assert!(is_prime(5_000_011));
        let lb = Maglev::new("key", 1000, rng());
        assert_eq!(lb.table_size, 1009);
    }

    #[test]
    fn explain_names_the_slot_the_pick_uses() {
        let b = weighted(&[1, 1, 1]);
        let view = PoolView::new(&b);
        let mut lb = Maglev::new("key", 65537, rng());
        lb.on_pool_change(SimTime::ZERO, &view);
        for k in 0..200u64 {
            let req = RequestInfo {
                key: Some(k),
                ..RequestInfo::default()
            };
            let note = lb.explain(SimTime::ZERO, &view, &req).unwrap().note;
            let h = hashfn::xxh64(k.to_string().as_bytes(), 0);
            assert!(
                note.contains(&format!("{h} % 65537 = slot {} ", h % 65537)),
                "{note}"
            );
            let i = lb.pick(SimTime::ZERO, &view, &req).unwrap();
            assert!(note.ends_with(&format!("→ #{}", i + 1)), "{k}: {note}");
        }
    }
}
