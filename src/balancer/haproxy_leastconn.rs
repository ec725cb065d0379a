//! HAProxy `balance leastconn`: the backend with the fewest requests in flight per unit of
//! weight, keyed exactly as HAProxy's fast weighted least-connection tree keys its servers
//! (`(inflight + 1) · 4096 / eweight`, idle servers at key 0), with HAProxy 3.2's random
//! choice among equal keys or the older FIFO rotation.

use super::min_tree::{INDEX_MIN, MinTree};
use super::{
    AlgorithmInfo, Backend, Balancer, ParamDef, ParamKind, ParamValue, PoolView, RequestInfo,
};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "haproxy-leastconn",
    aliases: &[],
    summary: "smallest key (inflight+1)*4096/(16*weight), idle servers first; ties random (HAProxy >= 3.2) or FIFO",
    source: "HAProxy src/lb_fwlc.c (fwlc_queue_srv, fwlc_get_next_server)",
    params: &[ParamDef {
        key: "ties",
        kind: ParamKind::Choice(&["random", "fifo"]),
        default: ParamValue::Word("random"),
        doc: "equal keys: pseudo-random choice (HAProxy 3.2+, commit 9fe72bba3) or FIFO rotation (before 3.2)",
    }],
    build: |p, rng| {
        let ties = match p.word("ties") {
            "fifo" => Ties::Fifo,
            _ => Ties::Random,
        };
        Box::new(HaproxyLeastConn::new(ties, rng))
    },
}];

/// HAProxy's `BE_WEIGHT_SCALE`: effective weights are user weights times 16.
const WEIGHT_SCALE: u64 = 16;
/// HAProxy's `SRV_EWGHT_MAX` (= 256 × 16): the numerator scale of the tree key.
const EWGHT_MAX: u64 = 4096;
/// HAProxy's largest configurable server weight.
const MAX_WEIGHT: u32 = 256;
/// Tree key of a server that is not in the tree (ineligible), for the FIFO bookkeeping.
const NOT_QUEUED: u64 = u64::MAX;

/// How servers with equal keys are ordered.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Ties {
    /// Uniformly at random among the tied servers (HAProxy 3.2 and later).
    Random,
    /// The one that reached its key first (HAProxy before 3.2).
    Fifo,
}

/// The `leastconn` tree key of a server: 0 when idle, else `(inflight + 1) · 4096 /
/// eweight` with `eweight = 16 · weight` (integer division).
///
/// Computed in 64 bits (HAProxy uses `unsigned int`, which cannot overflow with its limits
/// on connections); weights above HAProxy's maximum of 256 are clamped to 256 so that the
/// key stays strictly increasing in `inflight`, as it always is in HAProxy.
#[inline]
pub(super) fn fwlc_key(in_flight: u32, weight: u32) -> u64 {
    if in_flight == 0 {
        return 0;
    }
    let eweight = u64::from(weight.clamp(1, MAX_WEIGHT)) * WEIGHT_SCALE;
    (u64::from(in_flight) + 1) * EWGHT_MAX / eweight
}

/// HAProxy `balance leastconn`: fewest in flight per unit of weight, by integer tree key.
///
/// Follows `src/lb_fwlc.c` of HAProxy (3.2 and later): `fwlc_queue_srv` and
/// `fwlc_srv_reposition` place each usable server in an eb32 tree under the key
/// `inflight ? (inflight + 1) · SRV_EWGHT_MAX / eweight : 0`, where `inflight = served +
/// queued` (here: this load balancer's in-flight count), `SRV_EWGHT_MAX = 4096` and
/// `eweight = weight × 16`; `fwlc_get_next_server` takes a server from the smallest key.
/// Idle servers therefore always beat busy ones whatever their weights, and among busy
/// ones the key ranks by `(inflight + 1) / weight`, i.e. by the load each would have
/// *after* taking the request. Servers that are down or have weight 0 are not in the tree.
///
/// Tie-breaking (`ties`):
/// * `random` (default; HAProxy ≥ 3.2, commit 9fe72bba3): every key holds several server
///   lists, a requeued server is appended to a randomly chosen one, and a pick scans the
///   lists from a random start and takes the first head it finds. That spreads the choice
///   pseudo-randomly over the tied servers; this model makes it exactly uniform (reservoir
///   over the tied servers: when `k` tie, one draw `below(k)` takes the `j`-th of them in
///   pool order) rather than reproducing the list layout, whose size (`FWLC_LISTS_NB`)
///   this simulator does not model.
/// * `fifo` (HAProxy < 3.2): equal keys share one eb32 node list in insertion order and a
///   server is re-inserted at the tail whenever its key changes (it takes or releases a
///   connection, or is re-weighted or comes back up), so the tied servers rotate. This
///   model keeps a queue sequence number per server: the balancer requeues the server it
///   picks (with the key it will have once the request is counted), requeues a server
///   whose in-flight count changes its key when the owner reports it
///   ([`on_in_flight`](Balancer::on_in_flight)) or in
///   [`on_response`](Balancer::on_response), and, for an owner that reports nothing,
///   requeues any server whose key it finds changed at the next pick (in pool order). The initial order is the pool order, as
///   `fwlc_init_server_tree` queues servers in configuration order. A pool change keeps
///   the queue position of servers whose weight and eligibility did not change.
///
/// A pool of [`INDEX_MIN`] backends or more whose owner reports in-flight changes keeps
/// the servers in a [`MinTree`] ordered by `(key, queue sequence)` (FIFO) or by key
/// (random; the tree gives the number of tied servers and the `j`-th of them): O(log n)
/// per pick and per change, the scan's choice for the same draws.
///
/// Not modelled: `maxconn` saturation and the server queue, backup servers, slow start.
#[derive(Clone, Debug)]
pub struct HaproxyLeastConn {
    ties: Ties,
    rng: SimRng,
    /// FIFO bookkeeping, by pool index: backend id, weight, the key the server is queued
    /// under (`NOT_QUEUED` when ineligible) and its queue sequence number.
    ids: Vec<u32>,
    weights: Vec<u32>,
    keys: Vec<u64>,
    seqs: Vec<u64>,
    next_seq: u64,
    /// Large tracked pools: `(key, sequence)` per server (`(key, 0)` for random ties),
    /// `OUT` when not eligible.
    tree: MinTree<(u64, u64)>,
}

/// The tree entry of a server that is not in the tree.
const OUT: (u64, u64) = (u64::MAX, u64::MAX);

impl HaproxyLeastConn {
    /// `leastconn` with the given tie-breaking; `rng` is used by [`Ties::Random`] only.
    pub fn new(ties: Ties, rng: SimRng) -> Self {
        HaproxyLeastConn {
            ties,
            rng,
            ids: Vec::new(),
            weights: Vec::new(),
            keys: Vec::new(),
            seqs: Vec::new(),
            next_seq: 0,
            tree: match ties {
                Ties::Random => MinTree::new(OUT),
                Ties::Fifo => MinTree::first_only(OUT),
            },
        }
    }

    /// Requeues the server at `i` under `key` at the tail of its key's list.
    #[inline]
    fn requeue(&mut self, i: usize, key: u64) {
        self.keys[i] = key;
        self.seqs[i] = self.next_seq;
        self.next_seq += 1;
        if self.tree.built() {
            self.tree.set(i, (key, self.seqs[i]));
        }
    }

    /// Whether to pick through the tree (a large pool whose owner reports in-flight
    /// changes), building it for `pool`'s epoch first if needed.
    fn use_tree(&mut self, pool: &PoolView<'_>) -> bool {
        if !pool.tracked() || pool.len() < INDEX_MIN {
            return false;
        }
        if self.tree.epoch == pool.epoch() {
            return true;
        }
        let b = pool.backends;
        match self.ties {
            Ties::Random => {
                self.weights.clear();
                self.weights.extend(b.iter().map(|b| b.weight));
                self.tree.build(pool.epoch(), b.len(), |j| {
                    if b[j].eligible() {
                        (fwlc_key(b[j].in_flight, b[j].weight), 0)
                    } else {
                        OUT
                    }
                });
            }
            Ties::Fifo => {
                self.tree.invalidate();
                if !self.in_sync(b) {
                    self.resync(pool);
                }
                // Bring every key up to date (in pool order, as the scan would).
                for (i, x) in b.iter().enumerate() {
                    if x.eligible() && fwlc_key(x.in_flight, x.weight) != self.keys[i] {
                        self.requeue(i, fwlc_key(x.in_flight, x.weight));
                    }
                }
                let (keys, seqs) = (&self.keys, &self.seqs);
                self.tree.build(pool.epoch(), b.len(), |j| {
                    if keys[j] == NOT_QUEUED {
                        OUT
                    } else {
                        (keys[j], seqs[j])
                    }
                });
            }
        }
        true
    }

    /// Rebuilds the FIFO bookkeeping for `pool`, keeping the queue position of servers
    /// (matched by id) that stay eligible with the same weight; the others are queued at
    /// the tail in pool order.
    fn resync(&mut self, pool: &PoolView<'_>) {
        let backends = pool.backends;
        let mut keys = Vec::with_capacity(backends.len());
        let mut seqs = Vec::with_capacity(backends.len());
        let mut j = 0;
        // Survivors keep their (key, seq); fresh servers get a placeholder for now.
        let mut fresh = Vec::new();
        for (i, b) in backends.iter().enumerate() {
            while j < self.ids.len() && self.ids[j] < b.id {
                j += 1;
            }
            let old = (j < self.ids.len() && self.ids[j] == b.id).then_some(j);
            match old {
                _ if !b.eligible() => {
                    keys.push(NOT_QUEUED);
                    seqs.push(0);
                }
                Some(j) if self.keys[j] != NOT_QUEUED && self.weights[j] == b.weight => {
                    keys.push(self.keys[j]);
                    seqs.push(self.seqs[j]);
                }
                _ => {
                    keys.push(NOT_QUEUED);
                    seqs.push(0);
                    fresh.push(i);
                }
            }
        }
        self.ids = backends.iter().map(|b| b.id).collect();
        self.weights = backends.iter().map(|b| b.weight).collect();
        self.keys = keys;
        self.seqs = seqs;
        for i in fresh {
            let b = &backends[i];
            self.requeue(i, fwlc_key(b.in_flight, b.weight));
        }
    }

    /// True if the bookkeeping matches `pool` (same backends, weights and eligibility).
    fn in_sync(&self, backends: &[Backend]) -> bool {
        self.ids.len() == backends.len()
            && backends.iter().enumerate().all(|(i, b)| {
                self.ids[i] == b.id
                    && self.weights[i] == b.weight
                    && (self.keys[i] != NOT_QUEUED) == b.eligible()
            })
    }

    fn pick_random(&mut self, pool: &PoolView<'_>) -> Option<usize> {
        if self.use_tree(pool) {
            let (_, tied) = self.tree.min()?;
            let k = if tied > 1 {
                self.rng.below(u64::from(tied)) as u32
            } else {
                0
            };
            return Some(self.tree.nth_min(k));
        }
        let backends = pool.backends;
        let (mut min, mut tied) = (u64::MAX, 0u64);
        for b in backends.iter().filter(|b| b.eligible()) {
            let key = fwlc_key(b.in_flight, b.weight);
            if key < min {
                (min, tied) = (key, 1);
            } else if key == min {
                tied += 1;
            }
        }
        let mut k = match tied {
            0 => return None,
            1 => 0,
            _ => self.rng.below(tied),
        };
        for (i, b) in backends.iter().enumerate() {
            if b.eligible() && fwlc_key(b.in_flight, b.weight) == min {
                if k == 0 {
                    return Some(i);
                }
                k -= 1;
            }
        }
        None
    }

    fn pick_fifo(&mut self, pool: &PoolView<'_>) -> Option<usize> {
        let backends = pool.backends;
        if self.use_tree(pool) {
            self.tree.min()?;
            let i = self.tree.nth_min(0);
            debug_assert_eq!(
                self.keys[i],
                fwlc_key(backends[i].in_flight, backends[i].weight)
            );
            let b = &backends[i];
            self.requeue(i, fwlc_key(b.in_flight.saturating_add(1), b.weight));
            return Some(i);
        }
        if !self.in_sync(backends) {
            self.resync(pool);
        }
        let mut best: Option<(u64, u64, usize)> = None;
        for (i, b) in backends.iter().enumerate() {
            if !b.eligible() {
                continue;
            }
            let key = fwlc_key(b.in_flight, b.weight);
            if key != self.keys[i] {
                self.requeue(i, key);
            }
            let cand = (key, self.seqs[i], i);
            if best.is_none_or(|b| cand < b) {
                best = Some(cand);
            }
        }
        let (_, _, i) = best?;
        // Taking the connection moves the server to the tail of its new key.
        let b = &backends[i];
        self.requeue(i, fwlc_key(b.in_flight.saturating_add(1), b.weight));
        Some(i)
    }
}

impl Balancer for HaproxyLeastConn {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, _req: &RequestInfo) -> Option<usize> {
        match self.ties {
            Ties::Random => self.pick_random(pool),
            Ties::Fifo => self.pick_fifo(pool),
        }
    }

    /// Each eligible backend's tree key `(in_flight+1)·4096/(16·weight)` (0 when idle):
    /// the smallest key wins, equal keys by the tie rule.
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        _req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let values = pool
            .backends
            .iter()
            .filter(|b| b.eligible())
            .map(|b| {
                let key = fwlc_key(b.in_flight, b.weight);
                let v = if b.in_flight == 0 {
                    "idle: 0".to_string()
                } else {
                    let ew = u64::from(b.weight.clamp(1, MAX_WEIGHT)) * WEIGHT_SCALE;
                    format!("({}+1)·4096/{ew}={key}", b.in_flight)
                };
                (b.id, v)
            })
            .collect();
        Some(super::Explanation::per_backend(
            "HAProxy tree key, lowest wins",
            values,
        ))
    }

    fn on_response(
        &mut self,
        _now: SimTime,
        pool: &PoolView<'_>,
        index: usize,
        _outcome: super::Outcome,
    ) {
        if self.ties != Ties::Fifo {
            return;
        }
        // A tree built for this epoch was built in sync (and pool changes drop it).
        let synced = self.tree.built() && self.tree.epoch == pool.epoch();
        if !synced && !self.in_sync(pool.backends) {
            return;
        }
        let Some(b) = pool.backends.get(index) else {
            return;
        };
        if b.eligible() {
            let key = fwlc_key(b.in_flight, b.weight);
            if key != self.keys[index] {
                self.requeue(index, key);
            }
        }
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.tree.invalidate();
        if self.ties == Ties::Fifo {
            self.resync(pool);
        }
    }

    fn wants_in_flight(&self) -> bool {
        true
    }

    /// Random ties: the tree's key. FIFO: a server whose key changes goes to the tail of
    /// its new key (in the bookkeeping, and in the tree if there is one).
    fn on_in_flight(&mut self, index: usize, in_flight: u32) {
        match self.ties {
            Ties::Random => {
                if self.tree.built() && index < self.tree.len() && self.tree.get(index) != OUT {
                    let key = fwlc_key(in_flight, self.weights[index]);
                    self.tree.set(index, (key, 0));
                }
            }
            Ties::Fifo => {
                if index < self.keys.len() && self.keys[index] != NOT_QUEUED {
                    let key = fwlc_key(in_flight, self.weights[index]);
                    if key != self.keys[index] {
                        self.requeue(index, key);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::Outcome;
    use crate::balancer::testutil::{backends, counts, in_flight, loaded, rng, sequence};

    fn lc(ties: Ties) -> HaproxyLeastConn {
        HaproxyLeastConn::new(ties, rng())
    }

    #[test]
    fn key_formula_by_hand() {
        assert_eq!(fwlc_key(0, 1), 0);
        assert_eq!(fwlc_key(0, 256), 0);
        // (1 + 1) * 4096 / 16 = 512; (3 + 1) * 4096 / 32 = 512; (4 + 1) * 4096 / 48 = 426.67.
        assert_eq!(fwlc_key(1, 1), 512);
        assert_eq!(fwlc_key(3, 2), 512);
        assert_eq!(fwlc_key(4, 3), 426);
        // Weight 256: eweight 4096, key = inflight + 1.
        assert_eq!(fwlc_key(1, 256), 2);
        assert_eq!(fwlc_key(9, 256), 10);
        // (2 + 1) * 4096 / 112 = 109.71; (7 + 1) * 4096 / 80 = 409.6.
        assert_eq!(fwlc_key(2, 7), 109);
        assert_eq!(fwlc_key(7, 5), 409);
        // Weights above HAProxy's 256 are clamped; large counts do not overflow.
        assert_eq!(fwlc_key(1, 1000), 2);
        assert_eq!(fwlc_key(u32::MAX, 1), (u64::from(u32::MAX) + 1) * 256);
    }

    #[test]
    fn smallest_key_wins_with_unequal_weights() {
        // Keys 512, 512, 426: c, although it has the most in flight.
        let b = loaded(&[(1, 1), (2, 3), (3, 4)]);
        for ties in [Ties::Random, Ties::Fifo] {
            assert_eq!(sequence(&mut lc(ties), &b, 3), "ccc");
        }
        // Keys 109 (w 7, 2 in flight) and 409 (w 5, 7 in flight): a.
        let b = loaded(&[(7, 2), (5, 7)]);
        assert_eq!(sequence(&mut lc(Ties::Random), &b, 3), "aaa");
        // Plain counts would pick b (1 < 2); keys say a: (2+1)*4096/64 = 192 < (1+1)*4096/16.
        let b = loaded(&[(4, 2), (1, 1)]);
        assert_eq!(sequence(&mut lc(Ties::Fifo), &b, 2), "aa");
    }

    #[test]
    fn idle_beats_busy_whatever_the_weights() {
        // a has weight 256 and one request (key 2); c has weight 1 and is idle (key 0).
        let b = loaded(&[(256, 1), (256, 1), (1, 0)]);
        for ties in [Ties::Random, Ties::Fifo] {
            assert_eq!(sequence(&mut lc(ties), &b, 4), "cccc");
        }
    }

    #[test]
    fn fifo_ties_rotate_in_pool_order() {
        // All idle: each pick moves the chosen server to the tail of the tie.
        let b = in_flight(&[0, 0, 0]);
        assert_eq!(sequence(&mut lc(Ties::Fifo), &b, 7), "abcabca");
        // Only the tied (lowest-key) servers rotate; a is busier.
        let b = in_flight(&[2, 1, 1]);
        assert_eq!(sequence(&mut lc(Ties::Fifo), &b, 6), "bcbcbc");
        // Weights 1 and 3 tied at key 512: rotation ignores the weights.
        let b = loaded(&[(1, 1), (3, 5)]);
        assert_eq!(sequence(&mut lc(Ties::Fifo), &b, 4), "abab");
    }

    #[test]
    fn fifo_follows_the_order_servers_become_idle() {
        let mut b = in_flight(&[0, 0, 0]);
        let mut l = lc(Ties::Fifo);
        let req = RequestInfo::default();
        let ok = Outcome::new(true, SimTime::ZERO);
        // Three requests, counted by the owner: a, b, c.
        for want in [0, 1, 2] {
            let got = l.pick(SimTime::ZERO, &PoolView::new(&b), &req);
            assert_eq!(got, Some(want));
            b[want].in_flight += 1;
        }
        // c finishes first, then a: c is ahead of a in the idle list.
        for i in [2, 0] {
            b[i].in_flight -= 1;
            l.on_response(SimTime::ZERO, &PoolView::new(&b), i, ok);
        }
        assert_eq!(l.pick(SimTime::ZERO, &PoolView::new(&b), &req), Some(2));
        b[2].in_flight += 1;
        assert_eq!(l.pick(SimTime::ZERO, &PoolView::new(&b), &req), Some(0));
    }

    #[test]
    fn random_ties_are_uniform() {
        // Four tied servers (keys 0) and one busy one. Binomial(40000, 1/4): sd = 86.6;
        // allow 5 sd.
        let b = in_flight(&[0, 0, 3, 0, 0]);
        let n = 40_000;
        let c = counts(&mut lc(Ties::Random), &b, n);
        assert_eq!(c[2], 0, "{c:?}");
        let sd = (n as f64 * 0.25 * 0.75).sqrt();
        for i in [0, 1, 3, 4] {
            assert!((f64::from(c[i]) - n as f64 / 4.0).abs() < 5.0 * sd, "{c:?}");
        }
        // Ties at a busy key with unequal weights (512 each) are uniform too:
        // Binomial(20000, 1/2), sd = 70.7.
        let b = loaded(&[(1, 1), (3, 5), (1, 4)]);
        let c = counts(&mut lc(Ties::Random), &b, 20_000);
        assert_eq!(c[2], 0, "{c:?}");
        assert!((f64::from(c[0]) - 10_000.0).abs() < 5.0 * 70.7, "{c:?}");
    }

    #[test]
    fn skips_ineligible() {
        // a is down and b has weight 0, though both are idle; d (key 0) beats c.
        let b = backends(&[(1, 0, false), (0, 0, true), (1, 5, true), (1, 0, true)]);
        for ties in [Ties::Random, Ties::Fifo] {
            assert_eq!(sequence(&mut lc(ties), &b, 3), "ddd");
        }
        let b = backends(&[(1, 0, false), (0, 0, true), (1, 5, true), (1, 0, false)]);
        for ties in [Ties::Random, Ties::Fifo] {
            assert_eq!(sequence(&mut lc(ties), &b, 2), "cc");
        }
        let b = backends(&[(1, 0, false), (0, 0, true)]);
        for ties in [Ties::Random, Ties::Fifo] {
            assert_eq!(sequence(&mut lc(ties), &b, 2), "--");
            assert_eq!(sequence(&mut lc(ties), &[], 2), "--");
        }
    }

    #[test]
    fn fifo_pool_change_keeps_positions_and_queues_returning_servers_last() {
        let mut b = in_flight(&[0, 0, 0]);
        let mut l = lc(Ties::Fifo);
        l.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut l, &b, 1), "a");
        // b goes down: the rotation continues with c, then a.
        b[1].available = false;
        l.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut l, &b, 2), "ca");
        // b comes back: it is queued at the tail, after c.
        b[1].available = true;
        l.on_pool_change(SimTime::ZERO, &PoolView::new(&b));
        assert_eq!(sequence(&mut l, &b, 4), "cbac");
        // A pool with different ids (no pool-change call): rebuilt lazily in pool order.
        let other = backends(&[(1, 0, true), (1, 0, true)]);
        let shifted: Vec<Backend> = other
            .iter()
            .enumerate()
            .map(|(i, x)| Backend {
                id: 10 + i as u32,
                ..*x
            })
            .collect();
        assert_eq!(sequence(&mut l, &shifted, 3), "aba");
    }

    #[test]
    fn the_tree_chooses_as_the_scan() {
        use crate::balancer::testutil::index_agrees_with_scan;
        // Weights 1..4 so that keys tie across weights; servers leave, return and are
        // re-weighted (which requeues them).
        for (ties, n, seed) in [
            (Ties::Random, INDEX_MIN, 1),
            (Ties::Random, 300, 2),
            (Ties::Fifo, INDEX_MIN, 3),
            (Ties::Fifo, 300, 4),
        ] {
            let picks = index_agrees_with_scan(
                || Box::new(HaproxyLeastConn::new(ties, rng())),
                n,
                |r| 1 + r.below(4) as u32,
                0,
                200_000,
                seed,
            );
            assert!(picks > 90_000, "{picks}");
        }
    }
}
