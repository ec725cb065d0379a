//! HAProxy `hash-type consistent`, optionally with bounded loads (`hash-balance-factor`):
//! each usable server puts `weight × 16` nodes on a 32-bit ring, a request goes to the
//! server of the node *closest* to its hash (before or after it), and with a balance factor
//! `F` a server that already serves its share of `⌈(served + 1) · F / 100⌉` slots is
//! passed over for the next node clockwise (Mirrokni, Thorup and Zadimoghaddam,
//! "Consistent Hashing with Bounded Loads", arXiv:1608.01350).

use super::hashfn::{self, HASH_ON};
use super::ring_index::{KeysAhead, RingIndex};
use super::{
    AlgorithmInfo, Backend, Balancer, NO_EPOCH, ParamDef, ParamKind, ParamValue, PoolSnapshot,
    PoolView, RequestInfo,
};
use crate::engine::SimTime;

/// HAProxy's `BE_WEIGHT_SCALE`: nodes (and effective weight) per unit of user weight.
const WEIGHT_SCALE: u32 = 16;

/// HAProxy's `SRV_EWGHT_RANGE` (256 × 16): node keys are `full_hash(puid · 4096 + i)`.
const EWGHT_RANGE: u32 = 4096;

const FACTOR_RANGE: ParamKind = ParamKind::Int {
    min: 0,
    max: 1_000_000,
};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[
    AlgorithmInfo {
        name: "haproxy-consistent",
        aliases: &[],
        summary: "HAProxy hash-type consistent: 16 nodes per unit of weight, closest node wins; optional bounded load",
        source: "haproxy src/lb_chash.c (chash_init_server_tree, chash_get_server_hash, chash_server_is_eligible)",
        params: &[
            HASH_ON,
            ParamDef {
                key: "balance_factor",
                kind: FACTOR_RANGE,
                default: ParamValue::Int(0),
                doc: "hash-balance-factor in percent: 0 = off, else a server takes at most its weighted share of ⌈(served+1)·F/100⌉ (HAProxy: 0 or > 100)",
            },
        ],
        build: |p, _rng| {
            Box::new(HaproxyConsistent::new(
                p.word("hash_on"),
                p.int("balance_factor") as u32,
            ))
        },
    },
    AlgorithmInfo {
        name: "consistent-hash-bounded",
        aliases: &["chash-bounded", "bounded-load"],
        summary: "consistent hashing with bounded loads (HAProxy hash-balance-factor 125): overloaded servers spill to the next node clockwise",
        source: "haproxy src/lb_chash.c (chash_server_is_eligible, chash_get_server_hash); Mirrokni et al. arXiv:1608.01350",
        params: &[
            HASH_ON,
            ParamDef {
                key: "balance_factor",
                kind: FACTOR_RANGE,
                default: ParamValue::Int(125),
                doc: "hash-balance-factor in percent: a server takes at most its weighted share of ⌈(served+1)·F/100⌉ (0 = off; HAProxy: 0 or > 100)",
            },
        ],
        build: |p, _rng| {
            Box::new(HaproxyConsistent::new(
                p.word("hash_on"),
                p.int("balance_factor") as u32,
            ))
        },
    },
];

/// HAProxy consistent hashing (`hash-type consistent`), with optional bounded loads.
///
/// Follows HAProxy `src/lb_chash.c`:
///
/// * Tree (`chash_init_server_tree`, `chash_queue_dequeue_srv`): every *usable* server
///   (eligible here: available, weight > 0) has `eweight = weight × 16` nodes keyed
///   `full_hash(puid · 4096 + i)`, `i < eweight`. `puid` is HAProxy's numeric server id,
///   which starts at 1 and defaults to the position in the backend; here it is `id + 1`, so
///   it stays put when other servers leave. Down servers have no nodes, so the tree is
///   rebuilt on every pool change. Equal keys keep insertion order (pool order).
/// * Request hash (`backend.c`, `get_server_sh` / `gen_hash`): `hash_on = "ip"` is
///   `balance source` (the IPv4 address as an integer); `"key"` and `"client"` hash their
///   text with `sdbm` (`balance uri`/`hdr`). Consistent mode applies the `avalanche`
///   modifier (`full_hash`) by default, so both are passed through [`hashfn::full_hash`].
/// * Lookup (`chash_get_server_hash`): the first node with key `≥ h` and its predecessor
///   (both wrapping); the *closer* one wins, the predecessor on equal distance (32-bit
///   wrapping distances).
/// * Bounded load (`chash_server_is_eligible`, when `balance_factor > 0`): with
///   `served` = Σ in-flight over the whole pool, `tot = ⌈(served + 1) · F / 100⌉`, split by
///   effective weight with exact integer apportionment
///   `slots_i = ew_i·⌊tot/W⌋ + ⌊(cum_i+ew_i)·r/W⌋ − ⌊cum_i·r/W⌋` (`r = tot mod W`, `cum_i` the
///   effective weight of the usable servers before it), at least 1; a server may take the
///   request iff its in-flight count is `< slots_i`. Otherwise the walk continues with the
///   next node clockwise. With `F ≥ 100` some server always has room; if none does
///   (possible only for `F < 100`, which HAProxy rejects), the least-loaded eligible server
///   (fewest in flight per unit of weight, the first on ties) is returned, where HAProxy
///   would return the server of the node where its walk stopped.
/// * No key (`hash_on = "key"` and the request has none): HAProxy falls back to
///   `chash_get_next_server`, a round robin over the tree's nodes from the last one used
///   (not bounded). The cursor restarts at the first node after every rebuild (HAProxy
///   keeps its place).
///
/// Not modelled: backup servers, `maxconn`/queues, `hash-key` variants (`addr`,
/// `addr-port`), other hash functions, and the `avoid` server of a redispatch.
///
/// Defaults: `hash_on = "key"`; `balance_factor` 0 for `haproxy-consistent` (HAProxy's
/// default: off) and 125 for `consistent-hash-bounded`.
#[derive(Clone, Debug)]
pub struct HaproxyConsistent {
    hash_on: &'static str,
    balance_factor: u32,
    /// `(key, pool index)`, ascending by key.
    nodes: Vec<(u32, u32)>,
    /// Where each range of the hash space starts among the nodes: HAProxy's
    /// `eb32_lookup_ge` in expected O(1).
    index: RingIndex,
    /// With bounded loads in a tracked pool: each backend's in-flight count and their sum
    /// (HAProxy's `served`), kept up to date by `on_in_flight` for the pool epoch
    /// `served_epoch` (`NO_EPOCH`: not kept; the sum is then taken over the pool).
    in_flight: Vec<u32>,
    served: u64,
    served_epoch: u64,
    /// Effective weight per pool index (0 if not in the tree).
    eweight: Vec<u32>,
    /// Cumulative effective weight of the usable servers before each pool index.
    cumulative: Vec<u32>,
    /// Σ effective weight of the usable servers (HAProxy `tot_weight`).
    tot_weight: u32,
    /// `(id, weight, eligible)` of the pool the tree was built from.
    built_from: PoolSnapshot,
    /// Node last used by the keyless round robin.
    last: Option<usize>,
    /// Keys told ahead and their hashes (`hash_on = "key"` only).
    ahead: KeysAhead,
}

impl HaproxyConsistent {
    /// A balancer hashing `hash_on`, with bounded load `balance_factor` percent (0 = off).
    pub fn new(hash_on: &'static str, balance_factor: u32) -> Self {
        HaproxyConsistent {
            hash_on,
            balance_factor,
            nodes: Vec::new(),
            index: RingIndex::default(),
            in_flight: Vec::new(),
            served: 0,
            served_epoch: NO_EPOCH,
            eweight: Vec::new(),
            cumulative: Vec::new(),
            tot_weight: 0,
            built_from: PoolSnapshot::new(true),
            last: None,
            ahead: KeysAhead::default(),
        }
    }

    fn rebuild(&mut self, pool: &PoolView<'_>) {
        self.eweight.clear();
        self.cumulative.clear();
        self.nodes.clear();
        let mut cum = 0u32;
        for (i, b) in pool.backends.iter().enumerate() {
            let ew = if b.eligible() {
                b.weight.saturating_mul(WEIGHT_SCALE)
            } else {
                0
            };
            self.eweight.push(ew);
            self.cumulative.push(cum);
            cum = cum.saturating_add(ew);
            let server_key = b.id.wrapping_add(1).wrapping_mul(EWGHT_RANGE);
            for node in 0..ew {
                let key = hashfn::full_hash(server_key.wrapping_add(node));
                self.nodes.push((key, i as u32));
            }
        }
        self.tot_weight = cum;
        // Stable: equal keys stay in insertion order, as in HAProxy's ebtree.
        self.nodes.sort_by_key(|n| n.0);
        self.index = RingIndex::build(&self.nodes, |n| n.0);
        self.last = None;
    }

    /// The hash HAProxy looks up for `req`, or `None` without a key.
    fn request_hash(&self, req: &RequestInfo) -> Option<u32> {
        let raw = if self.hash_on == "ip" {
            req.client_ip
        } else {
            let mut buf = [0u8; 20];
            hashfn::sdbm(hashfn::request_text(req, self.hash_on, &mut buf)?)
        };
        Some(hashfn::full_hash(raw))
    }

    /// Index of the node closest to `h` (predecessor on ties), as `chash_get_server_hash`.
    /// The tree must not be empty.
    fn closest(&self, h: u32) -> usize {
        let n = self.nodes.len();
        let next = match self.index.find(&self.nodes, |n| n.0, h) {
            i if i == n => 0,
            i => i,
        };
        let prev = if next == 0 { n - 1 } else { next - 1 };
        let dp = h.wrapping_sub(self.nodes[prev].0);
        let dn = self.nodes[next].0.wrapping_sub(h);
        if dp <= dn { prev } else { next }
    }

    /// HAProxy's `tot_slots` for `served` requests in flight in the whole backend.
    fn total_slots(&self, served: u64) -> u64 {
        ((served + 1) * u64::from(self.balance_factor)).div_ceil(100)
    }

    /// Slots of the server at pool index `i` when the backend has `tot` slots in all
    /// (`chash_server_is_eligible`).
    fn slots(&self, i: usize, tot: u64) -> u64 {
        let w = u64::from(self.tot_weight);
        let ew = u64::from(self.eweight[i]);
        let cum = u64::from(self.cumulative[i]);
        let r = tot % w;
        let s = ew * (tot / w) + (cum + ew) * r / w - cum * r / w;
        s.max(1)
    }

    /// Requests in flight over the whole pool (HAProxy's `served`): kept up to date in a
    /// tracked pool, summed over it otherwise.
    fn served(&mut self, pool: &PoolView<'_>) -> u64 {
        if !pool.tracked() {
            return served(pool.backends);
        }
        if self.served_epoch != pool.epoch() {
            self.in_flight.clear();
            self.in_flight
                .extend(pool.backends.iter().map(|b| b.in_flight));
            self.served = served(pool.backends);
            self.served_epoch = pool.epoch();
        }
        debug_assert_eq!(self.served, served(pool.backends));
        self.served
    }

    /// The server for request hash `h`.
    #[cfg(test)]
    fn pick_hash(&self, backends: &[Backend], h: u32) -> Option<usize> {
        self.pick_hash_served(backends, h, served(backends))
    }

    /// The server for request hash `h` with `served` requests in flight in the pool.
    fn pick_hash_served(&self, backends: &[Backend], h: u32, served: u64) -> Option<usize> {
        if self.nodes.is_empty() {
            return None;
        }
        let start = self.closest(h);
        if self.balance_factor == 0 {
            return Some(self.nodes[start].1 as usize);
        }
        let tot = self.total_slots(served);
        let n = self.nodes.len();
        // Walking every node once from `start` finds what HAProxy's walk (at most one wrap
        // past the end) finds.
        for t in 0..n {
            let i = self.nodes[(start + t) % n].1 as usize;
            if u64::from(backends[i].in_flight) < self.slots(i, tot) {
                return Some(i);
            }
        }
        least_loaded(backends)
    }
}

/// Requests in flight to every backend of the pool.
fn served(backends: &[Backend]) -> u64 {
    backends.iter().map(|b| u64::from(b.in_flight)).sum()
}

/// The eligible backend with the fewest in flight per unit of weight (first on ties).
fn least_loaded(backends: &[Backend]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, b) in backends.iter().enumerate().filter(|(_, b)| b.eligible()) {
        match best {
            Some(j)
                if u64::from(b.in_flight) * u64::from(backends[j].weight)
                    >= u64::from(backends[j].in_flight) * u64::from(b.weight) => {}
            _ => best = Some(i),
        }
    }
    best
}

impl Balancer for HaproxyConsistent {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        if self.built_from.update(pool) {
            self.rebuild(pool);
        }
        if self.nodes.is_empty() {
            return None;
        }
        let told = req.key.and_then(|k| self.ahead.hash_of(k));
        match told.or_else(|| self.request_hash(req)) {
            Some(h) => {
                let served = if self.balance_factor > 0 {
                    self.served(pool)
                } else {
                    0
                };
                self.pick_hash_served(pool.backends, h, served)
            }
            None => {
                // chash_get_next_server: the node after the last one used.
                let k = self.last.map_or(0, |l| (l + 1) % self.nodes.len());
                self.last = Some(k);
                Some(self.nodes[k].1 as usize)
            }
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        if self.built_from.update(pool) {
            self.rebuild(pool);
        }
        self.served_epoch = NO_EPOCH;
    }

    fn wants_key_hints(&self) -> bool {
        self.hash_on == "key"
    }

    fn hint_key(&mut self, key: u64) {
        if !self.wants_key_hints() {
            return;
        }
        if let Some(h) = self.request_hash(&RequestInfo::keyed(key)) {
            let previous = self.ahead.tell(key, h);
            self.index.hint(&self.nodes, h, previous);
        }
    }

    /// With bounded loads: keeps `served` for the next pick.
    fn wants_in_flight(&self) -> bool {
        self.balance_factor > 0
    }

    fn on_in_flight(&mut self, index: usize, in_flight: u32) {
        if self.served_epoch == NO_EPOCH {
            return;
        }
        if let Some(n) = self.in_flight.get_mut(index) {
            self.served = self.served - u64::from(*n) + u64::from(in_flight);
            *n = in_flight;
        }
    }

    /// The request's hash and the closest ring node (and its server); with bounded loads
    /// each backend's slots `in_flight/cap`, a full one being passed over clockwise.
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        req: &RequestInfo,
    ) -> Option<super::Explanation> {
        if self.nodes.is_empty() || self.eweight.len() != pool.len() {
            return None;
        }
        let Some(h) = self.request_hash(req) else {
            return Some(super::Explanation::note(
                "no key: the node after the last one used",
            ));
        };
        let k = self.closest(h);
        let (node, owner) = self.nodes[k];
        let note = format!(
            "hash {h} → closest ring node {node} ({} of {}) → #{}",
            k + 1,
            self.nodes.len(),
            owner + 1
        );
        if self.balance_factor == 0 {
            return Some(super::Explanation::note(note));
        }
        let tot = self.total_slots(served(pool.backends));
        let values = pool
            .backends
            .iter()
            .enumerate()
            .filter(|(i, b)| b.eligible() && self.eweight[*i] > 0)
            .map(|(i, b)| (b.id, format!("{}/{}", b.in_flight, self.slots(i, tot))))
            .collect();
        Some(super::Explanation {
            label: format!("in_flight/slots of {tot}, full ones passed over"),
            values,
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{in_flight, letter, loaded, rng, weighted, weighted_available};

    fn built(hash_on: &'static str, factor: u32, b: &[Backend]) -> HaproxyConsistent {
        let mut lb = HaproxyConsistent::new(hash_on, factor);
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(b));
        lb
    }

    #[test]
    fn haproxy_run_vector_balance_source() {
        // lb-semantics §3 [run]: balance source + hash-type consistent, 3 servers of
        // weight 1, sources 127.0.0.1 .. 127.0.0.20.
        let b = weighted(&[1, 1, 1]);
        let view = PoolView::new(&b);
        let mut lb = built("ip", 0, &b);
        let s: String = (1..=20u32)
            .map(|d| {
                let req = RequestInfo {
                    client_ip: 0x7f00_0000 | d,
                    ..RequestInfo::default()
                };
                letter(lb.pick(SimTime::ZERO, &view, &req))
            })
            .collect();
        assert_eq!(s, "bacabacaacbcccaaacaa");
    }

    #[test]
    fn slot_apportionment_vectors() {
        // lb-semantics §3 [model]: 4 equal servers, F = 125.
        let b = weighted(&[1, 1, 1, 1]);
        let lb = built("key", 125, &b);
        let slots = |served: u64| -> Vec<u64> {
            let tot = lb.total_slots(served);
            (0..4).map(|i| lb.slots(i, tot)).collect()
        };
        assert_eq!(lb.total_slots(9), 13);
        assert_eq!(slots(9), [3, 3, 3, 4]);
        assert_eq!(lb.total_slots(11), 15);
        assert_eq!(slots(11), [3, 4, 4, 4]);
        assert_eq!(lb.total_slots(0), 2);
        assert_eq!(slots(0), [1, 1, 1, 1]);
        // Unequal weights: shares follow effective weight and always add up to tot.
        let lb = built("key", 150, &weighted(&[3, 1, 2]));
        for served in 0..200 {
            let tot = lb.total_slots(served);
            let s: Vec<u64> = (0..3).map(|i| lb.slots(i, tot)).collect();
            if tot >= 6 {
                assert_eq!(s.iter().sum::<u64>(), tot, "served {served}: {s:?}");
            }
            assert!(s[0] >= s[2] && s[2] >= s[1], "{s:?}");
        }
    }

    #[test]
    fn nodes_are_full_hash_of_puid_times_4096() {
        let b = weighted_available(&[(1, true), (2, true), (1, false)]);
        let lb = built("key", 0, &b);
        // 16 + 32 nodes; the down server has none.
        assert_eq!(lb.nodes.len(), 48);
        assert!(lb.nodes.windows(2).all(|w| w[0].0 <= w[1].0));
        let mut want: Vec<(u32, u32)> = (0..16)
            .map(|i| (hashfn::full_hash(4096 + i), 0))
            .chain((0..32).map(|i| (hashfn::full_hash(2 * 4096 + i), 1)))
            .collect();
        want.sort();
        assert_eq!(lb.nodes, want);
        assert_eq!(lb.tot_weight, 48);
        assert_eq!(&lb.cumulative[..2], &[0, 16]);
    }

    #[test]
    fn closest_node_wins_not_next_clockwise() {
        let b = weighted(&[1, 1, 1]);
        let lb = built("key", 0, &b);
        let n = lb.nodes.len();
        // Two adjacent nodes of different servers with an even gap of at least 4.
        let k = (0..n - 1)
            .find(|&k| {
                let gap = lb.nodes[k + 1].0 - lb.nodes[k].0;
                lb.nodes[k].1 != lb.nodes[k + 1].1 && gap >= 4 && gap.is_multiple_of(2)
            })
            .unwrap();
        let (lo, hi) = (lb.nodes[k], lb.nodes[k + 1]);
        let (a, z) = (Some(lo.1 as usize), Some(hi.1 as usize));
        // Just after the lower node: the predecessor, although the next node is clockwise.
        assert_eq!(lb.pick_hash(&b, lo.0 + 1), a);
        assert_eq!(lb.pick_hash(&b, hi.0 - 1), z);
        assert_eq!(lb.pick_hash(&b, hi.0), z);
        // Equal distance: the predecessor; one past the middle: the next node.
        let mid = lo.0 + (hi.0 - lo.0) / 2;
        assert_eq!(lb.pick_hash(&b, mid), a);
        assert_eq!(lb.pick_hash(&b, mid + 1), z);
        // Wrapping: below the first node, the last node may be closer.
        let (first, last) = (lb.nodes[0], lb.nodes[n - 1]);
        let h = last.0.wrapping_add(1);
        assert_eq!(lb.closest(h), n - 1);
        let h = first.0.wrapping_sub(1);
        assert_eq!(lb.closest(h), 0);
    }

    #[test]
    fn key_hash_is_sdbm_then_avalanche() {
        let b = weighted(&[1, 1, 1]);
        let view = PoolView::new(&b);
        let mut lb = built("key", 0, &b);
        for k in [0u64, 7, 1234, 99_999] {
            let h = hashfn::full_hash(hashfn::sdbm(k.to_string().as_bytes()));
            let want = lb.pick_hash(&b, h);
            assert_eq!(lb.pick(SimTime::ZERO, &view, &RequestInfo::keyed(k)), want);
        }
        let mut lb = built("client", 0, &b);
        let req = RequestInfo {
            client: 42,
            ..RequestInfo::default()
        };
        let want = lb.pick_hash(&b, hashfn::full_hash(hashfn::sdbm(b"42")));
        assert_eq!(lb.pick(SimTime::ZERO, &view, &req), want);
    }

    #[test]
    fn overloaded_server_spills_to_the_next_node_clockwise() {
        // F = 125, 4 equal servers, 9 in flight: slots [3, 3, 3, 4].
        let mut b = weighted(&[1, 1, 1, 1]);
        let lb = built("key", 125, &b);
        let n = lb.nodes.len();
        for k in 0..200u64 {
            let h = hashfn::full_hash(hashfn::sdbm(k.to_string().as_bytes()));
            let start = lb.closest(h);
            let owner = lb.nodes[start].1 as usize;
            // The owner is full (3 of 3, or 4 of 4); the rest of the 9 in flight is spread
            // over the others, which stay below their 3 or 4 slots.
            b[owner].in_flight = 3 + u32::from(owner == 3);
            let rest: u32 = 9 - b[owner].in_flight;
            let others: Vec<usize> = (0..4).filter(|&i| i != owner).collect();
            for (j, &i) in others.iter().enumerate() {
                b[i].in_flight = rest / 3 + u32::from((j as u32) < rest % 3);
            }
            assert_eq!(b.iter().map(|x| x.in_flight).sum::<u32>(), 9);
            let want = (1..n)
                .map(|t| lb.nodes[(start + t) % n].1 as usize)
                .find(|&i| i != owner)
                .unwrap();
            assert_eq!(lb.pick_hash(&b, h), Some(want), "key {k}");
            // Without the bound the owner is kept.
            let off = built("key", 0, &b);
            assert_eq!(off.pick_hash(&b, h), Some(owner));
        }
    }

    #[test]
    fn bounded_load_never_exceeds_slots() {
        // All requests carry the same key (the worst case for plain consistent hashing);
        // requests finish at random. Every pick must go to a server below its slot count,
        // so no server ever holds more than its slots.
        let mut b = weighted(&[1, 1, 1, 1]);
        let mut lb = HaproxyConsistent::new("key", 125);
        let mut draws = rng();
        let mut picks = [0u32; 4];
        for step in 0..5000 {
            if b.iter().any(|x| x.in_flight > 0) && draws.below(2) == 0 {
                let busy: Vec<usize> = (0..4).filter(|&i| b[i].in_flight > 0).collect();
                let i = busy[draws.below(busy.len() as u64) as usize];
                b[i].in_flight -= 1;
            }
            let served: u64 = b.iter().map(|x| u64::from(x.in_flight)).sum();
            let i = lb
                .pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::keyed(5))
                .unwrap();
            let tot = lb.total_slots(served);
            assert!(
                u64::from(b[i].in_flight) < lb.slots(i, tot),
                "step {step}: server {i} full: {b:?}"
            );
            b[i].in_flight += 1;
            picks[i] += 1;
        }
        // The one key's load spilled over every server.
        assert!(picks.iter().all(|&p| p > 0), "{picks:?}");
        // Without the bound every request lands on one server.
        let mut off = HaproxyConsistent::new("key", 0);
        let b0 = in_flight(&[50, 0, 0, 0]);
        let owner = off
            .pick(SimTime::ZERO, &PoolView::new(&b0), &RequestInfo::keyed(5))
            .unwrap();
        assert_eq!(
            off.pick(SimTime::ZERO, &PoolView::new(&b0), &RequestInfo::keyed(5)),
            Some(owner)
        );
    }

    #[test]
    fn balance_factor_below_100_falls_back_to_least_loaded() {
        // F = 50 with 8 in flight: tot = 5 slots for 4 servers ([1, 1, 1, 2]); with loads
        // [2, 2, 2, 2] nobody has room, so the least loaded (first on ties) is chosen.
        let b = in_flight(&[2, 2, 2, 2]);
        let lb = built("key", 50, &b);
        assert_eq!(lb.pick_hash(&b, 12345), Some(0));
        let b = loaded(&[(1, 3), (2, 4), (1, 3), (1, 5)]);
        let lb = built("key", 50, &b);
        // 4/2 per unit of weight is the least.
        assert_eq!(lb.pick_hash(&b, 12345), Some(1));
    }

    #[test]
    fn keyless_requests_round_robin_over_nodes() {
        let b = weighted(&[1, 1, 1]);
        let mut lb = built("key", 125, &b);
        let want: String = lb.nodes[..20]
            .iter()
            .map(|n| letter(Some(n.1 as usize)))
            .collect();
        let got: String = (0..20)
            .map(|_| letter(lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::default())))
            .collect();
        assert_eq!(got, want);
        // Over a full turn of 48 nodes each server appears 16 times.
        let mut lb = built("key", 0, &b);
        let mut c = [0u32; 3];
        for _ in 0..48 {
            c[lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::default())
                .unwrap()] += 1;
        }
        assert_eq!(c, [16, 16, 16]);
    }

    #[test]
    fn down_servers_leave_the_ring_and_ids_are_stable() {
        let mut b = weighted(&[1, 1, 1]);
        let mut lb = built("key", 0, &b);
        let keys = 3000u64;
        let before: Vec<u32> = (0..keys)
            .map(|k| {
                b[lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::keyed(k))
                    .unwrap()]
                .id
            })
            .collect();
        // Server 1 down: only its keys move.
        b[1].available = false;
        lb.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        for k in 0..keys {
            let id = b[lb
                .pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::keyed(k))
                .unwrap()]
            .id;
            assert_ne!(id, 1);
            if before[k as usize] != 1 {
                assert_eq!(id, before[k as usize], "key {k}");
            }
        }
        // Server 1 removed (indices shift): the same mapping, by id.
        let mut b2 = weighted(&[1, 1, 1]);
        b2.remove(1);
        let mut lb2 = built("key", 0, &b2);
        for k in 0..keys {
            let id2 = b2[lb2
                .pick(SimTime::ZERO, &PoolView::new(&b2), &RequestInfo::keyed(k))
                .unwrap()]
            .id;
            let id = b[lb
                .pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::keyed(k))
                .unwrap()]
            .id;
            assert_eq!(id, id2);
        }
        // Nothing eligible.
        let none = weighted_available(&[(1, false), (0, true)]);
        let mut lb = HaproxyConsistent::new("key", 125);
        assert_eq!(
            lb.pick(SimTime::ZERO, &PoolView::new(&none), &RequestInfo::keyed(1)),
            None
        );
        assert_eq!(
            lb.pick(
                SimTime::ZERO,
                &PoolView::new(&none),
                &RequestInfo::default()
            ),
            None
        );
    }

    #[test]
    fn weights_give_proportional_key_shares() {
        // Weights 1 and 3: 16 vs 48 nodes. The share of server 1 over 20 000 keys is near
        // 3/4; with so few nodes the ring share itself varies (sd ≈ √(0.75·0.25/64) ≈ 0.054
        // for 64 nodes), so allow 5 sd ≈ 0.27.
        let b = weighted(&[1, 3]);
        let mut lb = built("key", 0, &b);
        let mut c = [0u32; 2];
        for k in 0..20_000 {
            c[lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::keyed(k))
                .unwrap()] += 1;
        }
        let share = f64::from(c[1]) / 20_000.0;
        assert!((share - 0.75).abs() < 0.27, "{c:?}");
    }

    #[test]
    fn explain_names_the_closest_node_and_the_caps() {
        let b = loaded(&[(1, 3), (2, 0), (1, 1)]);
        let view = PoolView::new(&b);
        for factor in [0, 125] {
            let mut lb = HaproxyConsistent::new("key", factor);
            lb.on_pool_change(SimTime::ZERO, &view);
            for k in 0..100u64 {
                let req = RequestInfo {
                    key: Some(k),
                    ..RequestInfo::default()
                };
                let e = lb.explain(SimTime::ZERO, &view, &req).unwrap();
                let i = lb.pick(SimTime::ZERO, &view, &req).unwrap();
                if factor == 0 {
                    assert!(e.note.ends_with(&format!("→ #{}", i + 1)), "{k}: {e:?}");
                    assert!(e.values.is_empty());
                } else {
                    // ⌈(4 + 1) · 125 / 100⌉ = 7 slots, shared by weight; the pick has one free.
                    let (used, cap) = e.values[i].1.split_once('/').unwrap();
                    assert!(
                        used.parse::<u64>().unwrap() < cap.parse().unwrap(),
                        "{k}: {e:?}"
                    );
                    assert!(e.label.contains("slots of 7"), "{e:?}");
                }
            }
        }
    }

    /// A tracked pool keeps `served` up to date instead of summing it per pick: the same
    /// choices as summing, through picks, completions, weight and availability changes.
    #[test]
    fn kept_served_count_chooses_as_the_sum() {
        use crate::balancer::testutil::index_agrees_with_scan;
        for (factor, n, seed) in [(125, 40, 1), (101, 300, 2), (0, 64, 3)] {
            let picks = index_agrees_with_scan(
                || Box::new(HaproxyConsistent::new("key", factor)),
                n,
                |r| r.below(3) as u32,
                0,
                100_000,
                seed,
            );
            assert!(picks > 45_000, "{picks}");
        }
    }
}
