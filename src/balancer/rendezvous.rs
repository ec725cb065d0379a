//! Rendezvous (highest-random-weight) hashing: every backend scores the request's key, and
//! the highest score wins. With the weighted score `−w / ln(u)` each backend wins a share of
//! keys proportional to its weight, and a pool change moves only the keys that must move:
//! adding a backend moves just the keys it now wins (about 1/(n+1) of them), removing one
//! moves just its own keys. Scoring costs O(n) per key; a large pool remembers each key's
//! winner until the pool changes.

use super::NO_EPOCH;
use super::hashfn::{self, xxh64};
use super::least_conn::INDEX_MIN;
use super::weights::Cumulative;
use super::{AlgorithmInfo, Backend, Balancer, PoolView, RequestInfo};
use crate::engine::{SimRng, SimTime};

/// Catalogue entries of this file.
pub(super) const ALGORITHMS: &[AlgorithmInfo] = &[AlgorithmInfo {
    name: "rendezvous",
    aliases: &["hrw", "highest-random-weight"],
    summary: "rendezvous / highest-random-weight hashing: the backend with the largest −w/ln(u(key, backend)) wins (Envoy)",
    source: "Thaler & Ravishankar 1998; Envoy source/extensions/load_balancing_policies/rendezvous_hash/rendezvous_hash_lb.cc",
    params: &[hashfn::HASH_ON],
    build: |p, rng| Box::new(Rendezvous::new(p.word("hash_on"), rng)),
}];

/// Envoy's xorshift* multiplier (`XORSHIFT_MULT`).
const XORSHIFT_MULT: u64 = 2_685_821_657_736_338_717;

/// xorshift* mixing of the combined key and host hash (Envoy `xorshiftMult64`).
#[inline]
fn xorshift_mult64(mut x: u64) -> u64 {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    x.wrapping_mul(XORSHIFT_MULT)
}

/// The low 53 bits of a mixed hash: the numerator of [`normalize`]'s fraction.
const LOW53: u64 = (1u64 << 53) - 1;

/// The low 53 bits as a fraction in `[0, 1)` (Envoy `normalizeHash`).
#[inline]
fn normalize(h: u64) -> f64 {
    (h & LOW53) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Envoy's `fastLog2`: the exponent plus a rational approximation of `log2(1 + t)` on the
/// mantissa renormalised into `[0.75, 1.5)`. Exact at powers of two; within 1.3e-4 of
/// `log2` elsewhere. Negative for every `x` in `(0, 1)`.
#[inline]
fn fast_log2(x: f64) -> f64 {
    const MANTISSA: u64 = (1u64 << 52) - 1;
    const EXPONENT: u64 = 0x7ff << 52;
    let bits = x.to_bits();
    let exponent = (bits & EXPONENT) >> 52;
    let mantissa = bits & MANTISSA;
    // Mantissa ≥ 1.5 (top bit set): lower the exponent by one so the value is in [0.75, 1).
    let new_exponent = 1023 ^ (mantissa >> 51);
    let m = f64::from_bits((new_exponent << 52) | mantissa);
    let base = exponent as f64 - new_exponent as f64;
    let t = m - 1.0;
    base + t * (0.338953 * t + 2.198599) / (t + 1.523692)
}

/// Envoy's `fastLog`: `fast_log2(x) · ln 2`.
#[inline]
fn fast_ln(x: f64) -> f64 {
    fast_log2(x) * std::f64::consts::LN_2
}

/// The weighted rendezvous score of one host for one key (Envoy `computeScore`):
/// `−weight / ln(u)` with `u = normalize(xorshift*(key ^ host_hash))`.
#[inline]
fn score(key: u64, host_hash: u64, weight: f64) -> f64 {
    -weight / fast_ln(normalize(xorshift_mult64(key ^ host_hash)))
}

/// Rendezvous (highest-random-weight) hashing, as Envoy's `RENDEZVOUS_HASH` policy does it.
///
/// Thaler & Ravishankar, "Using name-based mappings to increase hit rates" (IEEE/ACM ToN
/// 6(1), 1998), with the weighted score `−w / ln(u)` (lb-semantics §6). The construction is
/// Envoy's `RendezvousHashTable` (`source/extensions/load_balancing_policies/rendezvous_hash/
/// rendezvous_hash_lb.cc`, `chooseHost` and `computeScore`): each host's hash is
/// `xxh64(address, 0)` of its address ([`hashfn::server_address`], `10.0.0.1:80` for id 0),
/// computed once per pool change; for a request hash `h`, host `i` scores
/// `−w_i / fastLog(u_i)` with `u_i` the low 53 bits of `xorshift*(h ^ host_hash_i)` over
/// 2^53, `w_i` its weight normalised over the eligible hosts, and `fastLog` Envoy's
/// rational approximation of `ln` (see [`fast_log2`]). The highest score wins, the first in
/// pool order on a tie. A retry (`attempt > 0`) uses `h ^ (2^64 − attempt)` as Envoy does.
///
/// The request hash is `xxh64` (seed 0) of the text `hash_on` selects ([`HASH_ON`]: the
/// request key's decimal text by default, the client's dotted quad, or the client id),
/// Envoy's hash for header and source-IP hash policies. A request with nothing to hash goes
/// to an eligible host drawn with probability proportional to its weight from this
/// balancer's stream: what scoring a uniformly random hash gives (Envoy hashes a random
/// number when its hash policy yields nothing; the scores are independent exponential
/// races, which host `i` wins with probability `w_i / Σw`), in O(log n).
///
/// Cost: a keyed pick looks at every eligible host, as Envoy's `chooseHost` does; no exact
/// pick can do less, since any host may win any key. With equal weights the largest mixed
/// fraction wins without scoring, unless another is within 2^−30 of it; then every host is
/// scored (see [`Rendezvous::choose_equal`]): the same choice at a fraction of the cost.
/// In a pool of [`INDEX_MIN`] hosts or more the winner for each request hash is remembered
/// in a direct-mapped cache of [`CACHE`] entries until the pool's epoch changes, so a key
/// seen again costs O(1).
///
/// Defaults: `hash_on = "key"`; no bounded load (Envoy's `hash_balance_factor` is a
/// separate wrapper). Differences from Envoy: only eligible hosts take part (Envoy's
/// healthy-panic mode, which would route to every host below 50% healthy, is not
/// modelled), and there are no priorities or locality weights.
///
/// [`HASH_ON`]: hashfn::HASH_ON
#[derive(Clone, Debug)]
pub struct Rendezvous {
    /// What to hash: `key`, `ip` or `client`.
    hash_on: &'static str,
    rng: SimRng,
    /// `(id, xxh64(address))` per backend, in pool order.
    hosts: Vec<(u32, u64)>,
    /// The pool epoch `hosts`, `total` and `draw` are for.
    epoch: u64,
    /// The eligible hosts' total weight (Envoy's normaliser).
    total: f64,
    /// The eligible hosts' weights in pool order, end to end, for requests with nothing to
    /// hash: a draw below their sum lands on the `draw.at(r)`-th of them (by division when
    /// their weights are equal).
    draw: Cumulative,
    /// The pool index of each eligible host of `draw`.
    draw_index: Vec<u32>,
    /// `draw` holds every backend: its `k`-th host is backend `k`.
    all: bool,
    /// Large pools: `(request hash, epoch, index)` of recent picks, slot by hash.
    cache: Vec<(u64, u64, u32)>,
}

/// Entries of the per-hash cache of a large pool.
const CACHE: usize = 4096;

impl Rendezvous {
    /// Rendezvous hashing over what `hash_on` names; random hashes (for requests with
    /// nothing to hash) come from `rng`.
    pub fn new(hash_on: &'static str, rng: SimRng) -> Self {
        Rendezvous {
            hash_on,
            rng,
            hosts: Vec::new(),
            epoch: NO_EPOCH,
            total: 0.0,
            draw: Cumulative::default(),
            draw_index: Vec::new(),
            all: false,
            cache: Vec::new(),
        }
    }

    /// Brings the host hashes, the total weight and the draw table up to `pool`'s epoch.
    fn sync(&mut self, pool: &PoolView<'_>) {
        if self.epoch == pool.epoch() {
            return;
        }
        self.epoch = pool.epoch();
        let backends = pool.backends;
        let current = self.hosts.len() == backends.len()
            && self.hosts.iter().zip(backends).all(|(h, b)| h.0 == b.id);
        if !current {
            self.rebuild(backends);
        }
        self.total = backends
            .iter()
            .filter(|b| b.eligible())
            .map(|b| f64::from(b.weight))
            .sum();
        let eligible = || backends.iter().enumerate().filter(|(_, b)| b.eligible());
        self.draw.fill(eligible().map(|(_, b)| b.weight));
        self.draw_index.clear();
        self.draw_index.extend(eligible().map(|(i, _)| i as u32));
        self.all = self.draw.len() == backends.len();
        if backends.len() >= INDEX_MIN && self.cache.is_empty() {
            self.cache = vec![(0, NO_EPOCH, 0); CACHE];
        }
    }

    fn rebuild(&mut self, backends: &[Backend]) {
        self.hosts.clear();
        self.hosts.extend(
            backends
                .iter()
                .map(|b| (b.id, xxh64(hashfn::server_address(b.id).as_bytes(), 0))),
        );
    }

    /// The eligible hosts all have the same weight (for [`Rendezvous::choose_equal`]).
    fn equal(&self) -> bool {
        self.draw.uniform != 0
    }

    /// The eligible backend with the highest score for request hash `h`.
    fn choose(&self, backends: &[Backend], h: u64) -> Option<usize> {
        if self.equal() {
            self.choose_equal(backends, h)
        } else {
            self.choose_scored(backends, h)
        }
    }

    /// [`choose_scored`](Rendezvous::choose_scored) when every eligible host has the same
    /// weight `w`, without scoring.
    ///
    /// Host `i`'s score is `−w / fastLog(x_i / 2^53)`, `x_i` the low 53 bits of its mixed
    /// hash; the fraction is exact, and every later step (`fastLog2`, whose rational part
    /// has a positive derivative and which steps up, never down, between binades; the
    /// product by ln 2; `−w / y` for `y < 0`) is non-decreasing in it, so a larger `x`
    /// never scores less. A host whose `x` is below the largest, `x_max`, by more than
    /// `x_max · 2^−30` scores less than its owner: it is at least `0.72 · 2^−30` behind in
    /// `fastLog2` (the derivative is at least `0.72 / x` in every binade), many orders of
    /// magnitude more than the few units in the last place that rounding can take back
    /// (it does: fractions one unit apart can score the same, and the earlier host wins).
    /// So when the runner-up's `x` is that far behind, the host with `x_max` wins; when it
    /// is not (about one key in 2^30 / n, or an exact tie), every host is scored.
    fn choose_equal(&self, backends: &[Backend], h: u64) -> Option<usize> {
        let x = |host_hash: u64| xorshift_mult64(h ^ host_hash) & LOW53;
        // (index of the first largest x, the largest, the largest of the others)
        let top_two = |best: Option<(usize, u64, u64)>, (i, v): (usize, u64)| match best {
            None => Some((i, v, 0)),
            Some((_, top, second)) if v > top => Some((i, v, second.max(top))),
            Some((at, top, second)) => Some((at, top, second.max(v))),
        };
        let (at, top, second) = if self.all {
            self.hosts
                .iter()
                .enumerate()
                .map(|(i, &(_, hh))| (i, x(hh)))
                .fold(None, top_two)?
        } else {
            backends
                .iter()
                .zip(&self.hosts)
                .enumerate()
                .filter(|(_, (b, _))| b.eligible())
                .map(|(i, (_, &(_, hh)))| (i, x(hh)))
                .fold(None, top_two)?
        };
        if second < top - (top >> 30) {
            Some(at)
        } else {
            self.choose_scored(backends, h)
        }
    }

    /// The eligible backend with the highest score for request hash `h`, scoring every
    /// one (Envoy's `chooseHost`).
    fn choose_scored(&self, backends: &[Backend], h: u64) -> Option<usize> {
        let total = self.total;
        let mut best: Option<(usize, f64)> = None;
        for (i, (b, &(_, host_hash))) in backends.iter().zip(&self.hosts).enumerate() {
            if !b.eligible() {
                continue;
            }
            let s = score(h, host_hash, f64::from(b.weight) / total);
            match best {
                Some((_, m)) if s <= m => {}
                _ => best = Some((i, s)),
            }
        }
        best.map(|(i, _)| i)
    }
}

impl Balancer for Rendezvous {
    fn pick(&mut self, _now: SimTime, pool: &PoolView<'_>, req: &RequestInfo) -> Option<usize> {
        self.sync(pool);
        if self.draw.is_empty() {
            return None;
        }
        let mut buf = [0u8; 20];
        let Some(text) = hashfn::request_text(req, self.hash_on, &mut buf) else {
            let k = self.draw.at(self.rng.below(self.draw.total()));
            return Some(if self.all {
                k
            } else {
                self.draw_index[k] as usize
            });
        };
        let mut h = xxh64(text, 0);
        if req.attempt > 0 {
            h ^= (!0u64).wrapping_sub(u64::from(req.attempt)).wrapping_add(1);
        }
        if self.cache.is_empty() {
            return self.choose(pool.backends, h);
        }
        let slot = (h >> 52) as usize % CACHE;
        let (ch, ce, ci) = self.cache[slot];
        if ch == h && ce == self.epoch {
            return Some(ci as usize);
        }
        let chosen = self.choose(pool.backends, h)?;
        self.cache[slot] = (h, self.epoch, chosen as u32);
        Some(chosen)
    }

    fn on_pool_change(&mut self, _now: SimTime, pool: &PoolView<'_>) {
        self.rebuild(pool.backends);
        self.epoch = NO_EPOCH;
    }

    /// Each eligible backend's score for this request (the highest wins), after the
    /// request's hash in the note.
    fn explain(
        &self,
        _now: SimTime,
        pool: &PoolView<'_>,
        req: &RequestInfo,
    ) -> Option<super::Explanation> {
        let backends = pool.backends;
        let current = self.hosts.len() == backends.len()
            && self.hosts.iter().zip(backends).all(|(h, b)| h.0 == b.id);
        if !current {
            return None;
        }
        let mut buf = [0u8; 20];
        let Some(text) = hashfn::request_text(req, self.hash_on, &mut buf) else {
            return Some(super::Explanation::note("no key: a random hash"));
        };
        let mut h = xxh64(text, 0);
        if req.attempt > 0 {
            h ^= (!0u64).wrapping_sub(u64::from(req.attempt)).wrapping_add(1);
        }
        let total: f64 = backends
            .iter()
            .filter(|b| b.eligible())
            .map(|b| f64::from(b.weight))
            .sum();
        let values = backends
            .iter()
            .zip(&self.hosts)
            .filter(|(b, _)| b.eligible())
            .map(|(b, &(_, host))| {
                let s = score(h, host, f64::from(b.weight) / total);
                (b.id, format!("{s:.4}"))
            })
            .collect();
        Some(super::Explanation {
            label: "rendezvous score, highest wins".into(),
            values,
            note: format!("xxh64(\"{}\") = {h}", String::from_utf8_lossy(text)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balancer::testutil::{backends, counts, rng, weighted, weighted_available};

    /// Picks for keys `0..n`, as pool indices.
    fn assign(lb: &mut Rendezvous, backends: &[Backend], n: u64) -> Vec<usize> {
        let view = PoolView::new(backends);
        lb.on_pool_change(SimTime::ZERO, &view);
        (0..n)
            .map(|k| {
                lb.pick(SimTime::ZERO, &view, &RequestInfo::keyed(k))
                    .expect("eligible")
            })
            .collect()
    }

    #[test]
    fn fast_log_matches_envoy_properties() {
        // Exact at powers of two (t = 0).
        for e in 1..60 {
            let x = 0.5f64.powi(e);
            assert_eq!(fast_log2(x), -f64::from(e));
        }
        // Close to log2 and negative on (0, 1).
        let mut worst = 0f64;
        for i in 1..10_000 {
            let x = f64::from(i) / 10_000.0;
            let got = fast_log2(x);
            assert!(got < 0.0, "fast_log2({x}) = {got}");
            worst = worst.max((got - x.log2()).abs());
        }
        assert!(worst < 2e-4, "worst error {worst}");
        // The xorshift* mix and the 53-bit fraction.
        assert_eq!(xorshift_mult64(0), 0);
        assert_eq!(
            xorshift_mult64(1),
            (1u64 | 1 << 25).wrapping_mul(XORSHIFT_MULT)
        );
        assert_eq!(normalize(u64::MAX), 1.0 - 1.0 / (1u64 << 53) as f64);
        assert_eq!(normalize(1 << 53), 0.0);
    }

    #[test]
    fn host_hashes_are_xxh64_of_addresses() {
        let mut lb = Rendezvous::new("key", rng());
        lb.rebuild(&weighted(&[1, 1]));
        assert_eq!(lb.hosts[0], (0, xxh64(b"10.0.0.1:80", 0)));
        assert_eq!(lb.hosts[1], (1, xxh64(b"10.0.0.2:80", 0)));
        // The pick is the argmax of the scores, computed directly.
        let b = weighted(&[1, 2, 3]);
        lb.rebuild(&b);
        for k in 0..200u64 {
            let mut buf = [0u8; 20];
            let h = xxh64(hashfn::decimal(k, &mut buf), 0);
            let scores: Vec<f64> = (0..3)
                .map(|i| score(h, lb.hosts[i].1, f64::from(b[i].weight) / 6.0))
                .collect();
            let argmax = (0..3).fold(0, |m, i| if scores[i] > scores[m] { i } else { m });
            let got = lb.pick(SimTime::ZERO, &PoolView::new(&b), &RequestInfo::keyed(k));
            assert_eq!(got, Some(argmax));
        }
    }

    #[test]
    fn weighted_shares_converge_to_weights() {
        // 60000 keys, weights 1,2,3: p = 1/6, 1/3, 1/2; binomial sd = sqrt(N·p·(1−p)) =
        // 91.3, 115.5, 122.5. Allow 5 sd (fast_log2 is within 1.3e-4 of log2; over 600000
        // keys the shares were within 1.1 sd of exact, so its bias is far below this).
        let n = 60_000u64;
        let b = weighted(&[1, 2, 3]);
        let mut lb = Rendezvous::new("key", rng());
        let mut c = [0f64; 3];
        for i in assign(&mut lb, &b, n) {
            c[i] += 1.0;
        }
        for (got, p) in c.iter().zip([1.0 / 6.0, 1.0 / 3.0, 0.5]) {
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            assert!((got - n as f64 * p).abs() < 5.0 * sd, "{c:?}");
        }
    }

    #[test]
    fn adding_a_server_moves_only_keys_it_now_wins() {
        // 3 → 4 equal servers: a key moves iff the new server wins it, p = 1/4;
        // over 40000 keys the binomial sd is sqrt(40000·¼·¾) ≈ 86.6; allow 5 sd.
        let n = 40_000u64;
        let mut lb = Rendezvous::new("key", rng());
        let before = assign(&mut lb, &weighted(&[1, 1, 1]), n);
        let after = assign(&mut lb, &weighted(&[1, 1, 1, 1]), n);
        let mut moved = 0f64;
        for (x, y) in before.iter().zip(&after) {
            if x != y {
                assert_eq!(*y, 3, "a moved key must go to the new server");
                moved += 1.0;
            }
        }
        let (p, nf) = (0.25, n as f64);
        let sd = (nf * p * (1.0 - p)).sqrt();
        assert!((moved - nf * p).abs() < 5.0 * sd, "moved {moved}");
    }

    #[test]
    fn removing_a_server_moves_only_its_keys() {
        let n = 40_000u64;
        let mut lb = Rendezvous::new("key", rng());
        let four = weighted(&[1, 1, 1, 1]);
        let before = assign(&mut lb, &four, n);
        // Remove id 1: the pool is ids 0, 2, 3 (indices shift).
        let three: Vec<Backend> = four.iter().copied().filter(|b| b.id != 1).collect();
        let after = assign(&mut lb, &three, n);
        for (x, y) in before.iter().zip(&after) {
            let (old_id, new_id) = (four[*x].id, three[*y].id);
            if old_id != 1 {
                assert_eq!(old_id, new_id, "a key not on the removed server moved");
            }
        }
        // A server going down behaves the same as its removal.
        let mut down = four.clone();
        down[1].available = false;
        let after_down = assign(&mut lb, &down, n);
        for (y, z) in after.iter().zip(&after_down) {
            assert_eq!(three[*y].id, down[*z].id);
        }
        // And so does weight 0.
        let mut zero = four.clone();
        zero[1].weight = 0;
        assert_eq!(assign(&mut lb, &zero, n), after_down);
    }

    #[test]
    fn keyless_requests_get_a_random_hash() {
        // No key under hash_on = "key": a random hash per request, so picks spread by
        // weight. 3000 picks over 1,1,1: p = 1/3, sd = sqrt(3000·⅓·⅔) ≈ 25.8; 5 sd.
        let mut lb = Rendezvous::new("key", rng());
        let c = counts(&mut lb, &weighted(&[1, 1, 1]), 3000);
        let sd = (3000.0f64 / 3.0 * 2.0 / 3.0).sqrt();
        for x in &c {
            assert!((f64::from(*x) - 1000.0).abs() < 5.0 * sd, "{c:?}");
        }
        // The same stream gives the same picks.
        let mut again = Rendezvous::new("key", rng());
        assert_eq!(counts(&mut again, &weighted(&[1, 1, 1]), 3000), c);
    }

    #[test]
    fn hash_on_ip_and_retries() {
        let b = weighted(&[1, 1, 1, 1, 1]);
        let view = PoolView::new(&b);
        let mut lb = Rendezvous::new("ip", rng());
        lb.rebuild(&b);
        let req = RequestInfo {
            client_ip: u32::from_be_bytes([192, 168, 1, 10]),
            ..RequestInfo::default()
        };
        let h = xxh64(b"192.168.1.10", 0);
        assert_eq!(lb.pick(SimTime::ZERO, &view, &req), lb.choose(&b, h));
        // Envoy retries: attempt a uses h ^ (2^64 − a); attempt 1 is h ^ !0.
        let retry = RequestInfo { attempt: 1, ..req };
        assert_eq!(lb.pick(SimTime::ZERO, &view, &retry), lb.choose(&b, !h));
        let retry2 = RequestInfo { attempt: 2, ..req };
        assert_eq!(
            lb.pick(SimTime::ZERO, &view, &retry2),
            lb.choose(&b, h ^ 0u64.wrapping_sub(2))
        );
    }

    #[test]
    fn nothing_eligible_and_unannounced_changes() {
        let mut lb = Rendezvous::new("key", rng());
        let none = weighted_available(&[(1, false), (0, true)]);
        assert_eq!(
            lb.pick(SimTime::ZERO, &PoolView::new(&none), &RequestInfo::keyed(1)),
            None
        );
        assert_eq!(
            lb.pick(SimTime::ZERO, &PoolView::new(&[]), &RequestInfo::keyed(1)),
            None
        );
        // A different pool without on_pool_change: host hashes are rebuilt by id.
        let b = weighted(&[1, 1, 1]);
        let direct = assign(&mut Rendezvous::new("key", rng()), &b, 100);
        let view = PoolView::new(&b);
        let lazy: Vec<usize> = (0..100)
            .map(|k| {
                lb.pick(SimTime::ZERO, &view, &RequestInfo::keyed(k))
                    .unwrap()
            })
            .collect();
        assert_eq!(lazy, direct);
    }

    #[test]
    fn explain_scores_rank_the_pick_first() {
        let b = weighted(&[1, 3, 2]);
        let view = PoolView::new(&b);
        let mut lb = Rendezvous::new("key", rng());
        lb.on_pool_change(SimTime::ZERO, &view);
        for k in 0..200 {
            let e = lb
                .explain(SimTime::ZERO, &view, &RequestInfo::keyed(k))
                .unwrap();
            let best = e
                .values
                .iter()
                .max_by(|x, y| x.1.parse::<f64>().unwrap().total_cmp(&y.1.parse().unwrap()))
                .unwrap()
                .0;
            let i = lb
                .pick(SimTime::ZERO, &view, &RequestInfo::keyed(k))
                .unwrap();
            assert_eq!(best, b[i].id, "{k}: {e:?}");
        }
    }

    #[test]
    fn remembered_winners_are_the_scored_ones() {
        // A large pool: keys seen again come from the cache, which must give what scoring
        // gives, through availability and weight changes and retries.
        let mut r = rng();
        let mut b = weighted(&vec![1; 3 * INDEX_MIN]);
        let mut lb = Rendezvous::new("key", rng());
        let mut epoch = 1;
        let mut hits = 0;
        for step in 0..50_000 {
            if r.below(100) == 0 {
                let i = r.below(b.len() as u64) as usize;
                if r.below(2) == 0 {
                    b[i].available = !b[i].available;
                } else {
                    b[i].weight = 1 + r.below(3) as u32;
                }
                epoch += 1;
            }
            let req = RequestInfo {
                key: Some(r.below(300)),
                attempt: r.below(2) as u8,
                ..RequestInfo::default()
            };
            let view = PoolView::with_epoch(&b, epoch);
            let got = lb.pick(SimTime::ZERO, &view, &req);
            let mut fresh = Rendezvous::new("key", rng());
            assert_eq!(
                got,
                fresh.pick(SimTime::ZERO, &PoolView::new(&b), &req),
                "step {step}"
            );
            let mut buf = [0u8; 20];
            let text = hashfn::request_text(&req, "key", &mut buf).unwrap();
            let mut h = xxh64(text, 0);
            if req.attempt > 0 {
                h ^= (!0u64).wrapping_sub(u64::from(req.attempt)).wrapping_add(1);
            }
            hits += u32::from(lb.cache.contains(&(h, epoch, got.unwrap() as u32)));
        }
        assert!(hits > 40_000, "{hits}");
    }

    #[test]
    fn keyless_requests_follow_the_weights() {
        // Weights 1, 2, 5 (and a down host): shares 1/8, 2/8, 5/8 of 80,000 draws;
        // binomial sd at most 137; 5 sd.
        let b = backends(&[(1, 0, true), (2, 0, true), (9, 0, false), (5, 0, true)]);
        let n = 80_000;
        let c = counts(&mut Rendezvous::new("key", rng()), &b, n);
        assert_eq!(c[2], 0);
        for (i, w) in [(0, 1.0), (1, 2.0), (3, 5.0)] {
            let want = n as f64 * w / 8.0;
            assert!((f64::from(c[i]) - want).abs() < 5.0 * 137.0, "{c:?}");
        }
    }

    /// Equal weights draw by division instead of a search, and read no table when every
    /// backend is eligible; the picks are the search's, with a host down or not.
    #[test]
    fn equal_weights_draw_as_the_search() {
        let req = RequestInfo::default();
        for down in [None, Some(0), Some(37), Some(99)] {
            for w in [1, 3] {
                let mut b = weighted(&[w; 100]);
                if let Some(d) = down {
                    b[d].available = false;
                }
                let view = PoolView::new(&b);
                let (mut fast, mut search) =
                    (Rendezvous::new("key", rng()), Rendezvous::new("key", rng()));
                assert_eq!(
                    fast.pick(SimTime::ZERO, &view, &req),
                    search.pick(SimTime::ZERO, &view, &req)
                );
                assert_eq!(
                    (fast.draw.uniform, fast.all),
                    (u64::from(w), down.is_none())
                );
                search.draw.uniform = 0;
                search.all = false;
                let mut seen = [false; 100];
                for _ in 0..5_000 {
                    let i = fast.pick(SimTime::ZERO, &view, &req).unwrap();
                    assert_eq!(Some(i), search.pick(SimTime::ZERO, &view, &req));
                    seen[i] = true;
                }
                assert_eq!(
                    seen.iter().filter(|&&x| x).count(),
                    100 - usize::from(down.is_some())
                );
            }
        }
        // Unequal weights keep the search.
        let mut lb = Rendezvous::new("key", rng());
        let b = weighted(&[1, 2, 2]);
        lb.pick(SimTime::ZERO, &PoolView::new(&b), &req);
        assert_eq!(lb.draw.uniform, 0);
    }

    /// `xorshift_mult64` undone: the value whose mix is `y`.
    fn unmix(y: u64) -> u64 {
        // The inverse of the odd multiplier mod 2^64, by Newton's iteration.
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(XORSHIFT_MULT.wrapping_mul(inv)));
        }
        let mut x = y.wrapping_mul(inv);
        x ^= (x >> 27) ^ (x >> 54);
        x ^= (x << 25) ^ (x << 50);
        x ^= (x >> 12) ^ (x >> 24) ^ (x >> 36) ^ (x >> 48) ^ (x >> 60);
        x
    }

    /// With equal weights only the hosts near the largest fraction are scored, and the
    /// choice is the full scoring's: over random pools (some hosts down) and keys, and
    /// over hosts built to tie exactly or to differ by one unit of the fraction at every
    /// scale, where the first in pool order must win a tie.
    #[test]
    fn equal_weights_choose_as_scoring_every_host() {
        let mut r = SimRng::from_seed_u64(5);
        for v in [0u64, 1, 12_345, u64::MAX, 1 << 63] {
            assert_eq!(unmix(xorshift_mult64(v)), v);
        }
        let mut lb = Rendezvous::new("key", rng());
        for round in 0..300 {
            let n = 1 + r.below(300) as usize;
            let mut b = weighted(&vec![3; n]);
            if round % 2 == 1 {
                for x in &mut b {
                    x.available = r.below(4) != 0;
                }
            }
            lb.sync(&PoolView::with_epoch(&b, round));
            assert!(lb.equal());
            for _ in 0..200 {
                let h = r.below(u64::MAX);
                assert_eq!(lb.choose_equal(&b, h), lb.choose_scored(&b, h));
            }
        }
        // Hosts whose fractions are given: exact ties, neighbours one unit apart, at the
        // top of the range, in the middle and near zero.
        let h = 0x0123_4567_89ab_cdef;
        for top in [LOW53, 1 << 52, (1 << 40) + 7, 1 << 31, 1 << 30, 3, 1] {
            for pattern in [[0, 1, 0, 1], [1, 0, 0, 1], [0, 0, 1, 1], [1, 1, 0, 0]] {
                let b = weighted(&[1, 1, 1, 1]);
                let mut lb = Rendezvous::new("key", rng());
                lb.sync(&PoolView::with_epoch(&b, 1));
                for (i, &below) in pattern.iter().enumerate() {
                    let x = top - below;
                    // High bits above the fraction's 53 do not count.
                    let y = x | (r.below(1 << 11) << 53);
                    lb.hosts[i].1 = unmix(y) ^ h;
                    assert_eq!(xorshift_mult64(h ^ lb.hosts[i].1) & LOW53, x);
                }
                let got = lb.choose_equal(&b, h);
                assert_eq!(got, lb.choose_scored(&b, h), "top {top}, {pattern:?}");
                // The first host with the largest fraction wins (ties in score included).
                let first_top = pattern.iter().position(|&p| p == 0);
                assert_eq!(got, first_top, "top {top}, {pattern:?}");
            }
        }
        // Rounding ties: one unit below these fractions scores the same (weight 1/4), so
        // the earlier host, with the smaller fraction, wins, as scoring every host says.
        for x in [6_755_399_441_055_729u64, 3_377_699_720_527_851] {
            let b = weighted(&[1, 1, 1, 1]);
            let mut lb = Rendezvous::new("key", rng());
            lb.sync(&PoolView::with_epoch(&b, 1));
            for (i, v) in [x - 1, x, 5, 9].into_iter().enumerate() {
                lb.hosts[i].1 = unmix(v) ^ h;
            }
            assert_eq!(score(h, lb.hosts[0].1, 0.25), score(h, lb.hosts[1].1, 0.25));
            assert_eq!(lb.choose_scored(&b, h), Some(0));
            assert_eq!(lb.choose_equal(&b, h), Some(0));
        }
        // Unequal weights are scored in full.
        lb.sync(&PoolView::with_epoch(&weighted(&[1, 2]), 999));
        assert!(!lb.equal());
    }
}
