//! Properties of the whole catalogue, checked with proptest on generated pools and
//! requests, plus the distribution properties of the weighted and hashing families.
//!
//! * **Eligibility** ([`every_algorithm_picks_only_eligible_backends`]): a pick is always an
//!   in-range index of an eligible backend, and `None` comes back exactly when nothing is
//!   eligible, whatever the pool, the requests, the in-flight counts and the responses.
//! * **Determinism** ([`every_algorithm_is_deterministic`]): the same seed and inputs give
//!   the same picks; keys told ahead ([`key_hints_change_no_pick`]) change none.
//! * **Weighted convergence**: the deterministic weighted round robins give every backend
//!   its weight's share over whole windows of `W = Σw` picks (exactly, or within one pick
//!   where the real system is not exact: see [`weighted_round_robins_give_weight_shares`]);
//!   the hashing families give weight shares over many keys
//!   ([`hashing_families_give_weight_shares_over_many_keys`]).
//! * **Bounded remapping**: adding a server to a consistent hash moves keys only to it, and
//!   about `1/(n+1)` of them; removing one moves only its keys; the modulo `hash` moves about
//!   `n/(n+1)` of them instead.
//!
//! Every property uses a fixed case count and a fixed seed ([`FIXED_SEED`]) with failure
//! persistence off: the same cases on every run, and the whole file runs in a few seconds
//! (release build).

use proptest::prelude::*;
use proptest::sample::Index;

use super::testutil::weighted;
use super::{
    AlgorithmSpec, Backend, Balancer, Outcome, ParamKind, ParamValue, Params, PoolView,
    RequestInfo, catalogue, lookup,
};
use crate::engine::{SeedTree, SimTime};

/// The seed of every property here: the same generated cases on every run.
const FIXED_SEED: proptest::test_runner::RngSeed =
    proptest::test_runner::RngSeed::Fixed(0x6c62_6c61_6270);

// ---------------------------------------------------------------------------------------
// The algorithms under test
// ---------------------------------------------------------------------------------------

/// `name` with the parameters `set` (checked against their definitions) and the other
/// parameters at their defaults.
fn spec_with(name: &str, set: &[(&str, ParamValue)]) -> AlgorithmSpec {
    let info = lookup(name).unwrap_or_else(|| panic!("{name} is in the catalogue"));
    let mut params = Params::defaults(info.params);
    for &(key, value) in set {
        let def = info
            .params
            .iter()
            .find(|d| d.key == key)
            .unwrap_or_else(|| panic!("{name} has a parameter {key}"));
        let value = def
            .check(value)
            .unwrap_or_else(|e| panic!("{name}: {key} must be {e}"));
        params.set(key, value);
    }
    AlgorithmSpec::new(info, params, None)
}

/// Every catalogue entry at its defaults; every other word of each choice parameter and
/// the other value of each boolean one (one at a time); power-of-d with `d` = 1, 3, 16 and
/// with replacement; a few edge-case sizes; and `sticky` over several bases.
fn specs() -> Vec<AlgorithmSpec> {
    let mut v = Vec::new();
    for info in catalogue() {
        v.push(AlgorithmSpec::new(
            info,
            Params::defaults(info.params),
            None,
        ));
        for def in info.params {
            let others: Vec<ParamValue> = match def.kind {
                ParamKind::Choice(words) => words
                    .iter()
                    .map(|&w| ParamValue::Word(w))
                    .filter(|&w| w != def.default)
                    .collect(),
                ParamKind::Bool => vec![ParamValue::Bool(def.default != ParamValue::Bool(true))],
                _ => Vec::new(),
            };
            for value in others {
                v.push(spec_with(info.name, &[(def.key, value)]));
            }
        }
    }
    for d in [1, 3, 16] {
        v.push(spec_with("power-of-d", &[("d", ParamValue::Int(d))]));
    }
    v.push(spec_with(
        "power-of-d",
        &[
            ("d", ParamValue::Int(3)),
            ("replacement", ParamValue::Bool(true)),
        ],
    ));
    // Tiny structures: a ring with one point per weight (nginx's 21-point walk and its
    // round-robin fallback), a Maglev table smaller than the pool, one connection per
    // server for `first`, and a bounded load at exactly 100%.
    v.push(spec_with(
        "ketama",
        &[("points_per_weight", ParamValue::Int(1))],
    ));
    v.push(spec_with("maglev", &[("table_size", ParamValue::Int(7))]));
    v.push(spec_with(
        "haproxy-first",
        &[("maxconn", ParamValue::Int(1))],
    ));
    v.push(spec_with(
        "consistent-hash-bounded",
        &[("balance_factor", ParamValue::Int(100))],
    ));
    for base in [
        "random",
        "least-connections",
        "ketama",
        "maglev",
        "haproxy-roundrobin",
    ] {
        v.push(spec_with("sticky", &[("base", ParamValue::Word(base))]));
    }
    v
}

// ---------------------------------------------------------------------------------------
// Generated scenarios: pools, requests, load changes and responses
// ---------------------------------------------------------------------------------------

/// A pool of 0..=12 backends: ids sorted, unique and not dense (gaps of 0..=2, as after
/// removals), weights 0..=8, available with probability 0.8, 0..=20 in flight.
fn pool_strategy() -> impl Strategy<Value = Vec<Backend>> {
    prop::collection::vec(
        (1u32..=3, 0u32..=8, prop::bool::weighted(0.8), 0u32..=20),
        0..=12,
    )
    .prop_map(|raw| {
        let mut next = 0;
        raw.into_iter()
            .map(|(gap, weight, available, in_flight)| {
                next += gap;
                Backend {
                    id: next - 1,
                    weight,
                    in_flight,
                    available,
                }
            })
            .collect()
    })
}

/// Any request: address, client, key and cookie (each present or not), retry attempt.
/// Cookies name ids 0..40, so some name a backend of the pool and some do not.
fn request_strategy() -> impl Strategy<Value = RequestInfo> {
    (
        any::<u32>(),
        0u32..100,
        prop::option::of(0u64..1000),
        prop::option::of(0u32..40),
        0u8..3,
    )
        .prop_map(|(client_ip, client, key, cookie, attempt)| RequestInfo {
            client_ip,
            client,
            key,
            cookie,
            class: 0,
            attempt,
        })
}

/// One request and what happens around it.
#[derive(Clone, Debug)]
struct Step {
    /// Time since the previous step (ns).
    dt: u64,
    /// Before the pick, set this backend's in-flight count (no pool change is reported).
    load: Option<(Index, u32)>,
    req: RequestInfo,
    /// After the pick, one outstanding request finishes: which one, ok, rtt (ns).
    response: Option<(Index, bool, u64)>,
}

fn step_strategy() -> impl Strategy<Value = Step> {
    (
        0u64..50_000_000,
        prop::option::of((any::<Index>(), 0u32..=20)),
        request_strategy(),
        prop::option::of((
            any::<Index>(),
            prop::bool::weighted(0.8),
            0u64..1_000_000_000,
        )),
    )
        .prop_map(|(dt, load, req, response)| Step {
            dt,
            load,
            req,
            response,
        })
}

/// A pool (announced with `on_pool_change`) and the requests that follow it.
#[derive(Clone, Debug)]
struct Round {
    pool: Vec<Backend>,
    steps: Vec<Step>,
}

/// One to four rounds of one to eight requests each.
fn scenario_strategy() -> impl Strategy<Value = Vec<Round>> {
    prop::collection::vec(
        (
            pool_strategy(),
            prop::collection::vec(step_strategy(), 1..=8),
        )
            .prop_map(|(pool, steps)| Round { pool, steps }),
        1..=4,
    )
}

/// Algorithms that may find no backend although some are eligible, because the real
/// system does: IPVS `sh` and `mh` without `sh_fallback`/`mh_fallback` drop a connection
/// whose hashed destination is unavailable (`ip_vs_sh_get`, `ip_vs_mh_get`). Their picks
/// are still checked for eligibility; with the fallback (also among the specs) the full
/// property holds.
fn drops_by_design(spec: &AlgorithmSpec) -> bool {
    let p = spec.params();
    ["sh_fallback", "mh_fallback"]
        .iter()
        .any(|k| p.has(k) && !p.bool(k))
}

/// Drives a fresh balancer built from `seed` through `rounds`, checking every pick, and
/// returns the picks.
///
/// The driver behaves like the simulator's owner of a balancer: it announces each round's
/// pool, counts a picked request in flight, and reports a finished request (looked up by
/// backend id, since indices shift between pools) with the pool after it stopped counting
/// it; a request whose backend has left the pool is dropped silently.
///
/// With `hints`, the driver also tells the balancer every request key two picks ahead, as
/// the simulator does ([`Balancer::hint_key`]), and a decoy key that no request carries
/// after every third pick.
fn drive(
    spec: &AlgorithmSpec,
    seed: u64,
    rounds: &[Round],
    hints: bool,
) -> Result<Vec<Option<usize>>, TestCaseError> {
    let name = spec.name();
    let mut lb: Box<dyn Balancer> = spec.build(SeedTree::new(seed).stream(0, "balancer"));
    let mut now = SimTime::ZERO;
    let mut outstanding: Vec<u32> = Vec::new();
    let mut picks = Vec::new();
    let keys: Vec<u64> = rounds
        .iter()
        .flat_map(|r| &r.steps)
        .filter_map(|s| s.req.key)
        .collect();
    let mut told = 0;
    let mut tell = |lb: &mut Box<dyn Balancer>, picks: usize, upto: usize| {
        while hints && told < keys.len().min(upto) {
            lb.hint_key(keys[told]);
            told += 1;
        }
        if hints && picks % 3 == 2 {
            lb.hint_key(u64::MAX - picks as u64);
        }
    };
    let mut keyed = 0;
    for round in rounds {
        let mut backends = round.pool.clone();
        lb.on_pool_change(now, &PoolView::new(&backends));
        for step in &round.steps {
            now = SimTime(now.0 + step.dt);
            if let Some((which, load)) = step.load
                && !backends.is_empty()
            {
                let i = which.index(backends.len());
                backends[i].in_flight = load;
            }
            let any_eligible = backends.iter().any(Backend::eligible);
            keyed += usize::from(step.req.key.is_some());
            tell(&mut lb, picks.len(), keyed + 2);
            let got = lb.pick(now, &PoolView::new(&backends), &step.req);
            match got {
                Some(i) => {
                    prop_assert!(
                        i < backends.len(),
                        "{name}: index {i} out of range for {backends:?}"
                    );
                    prop_assert!(
                        backends[i].eligible(),
                        "{name}: picked ineligible {i} from {backends:?} for {:?}",
                        step.req
                    );
                    backends[i].in_flight += 1;
                    outstanding.push(backends[i].id);
                }
                None => prop_assert!(
                    !any_eligible || drops_by_design(spec),
                    "{name}: None although something is eligible in {backends:?} for {:?}",
                    step.req
                ),
            }
            picks.push(got);
            if let Some((which, ok, rtt)) = step.response
                && !outstanding.is_empty()
            {
                let id = outstanding.swap_remove(which.index(outstanding.len()));
                if let Ok(i) = backends.binary_search_by_key(&id, |b| b.id) {
                    backends[i].in_flight = backends[i].in_flight.saturating_sub(1);
                    let outcome = Outcome::new(ok, SimTime(rtt));
                    lb.on_response(now, &PoolView::new(&backends), i, outcome);
                }
            }
        }
    }
    Ok(picks)
}

// Property 1: eligibility. 256 cases, each running every spec (about 60) through up to four
// pools and 32 requests; the cost is mostly Maglev's 65537-slot table rebuilds.
proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: FIXED_SEED,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_algorithm_picks_only_eligible_backends(
        seed in any::<u64>(),
        rounds in scenario_strategy(),
    ) {
        for spec in specs() {
            drive(&spec, seed, &rounds, false)?;
        }
    }
}

// Property 2: determinism. Two fresh balancers with the same seed and inputs agree, and
// so does one told keys ahead.
proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        rng_seed: FIXED_SEED,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_algorithm_is_deterministic(seed in any::<u64>(), rounds in scenario_strategy()) {
        for spec in specs() {
            let first = drive(&spec, seed, &rounds, false)?;
            let second = drive(&spec, seed, &rounds, false)?;
            prop_assert_eq!(first, second, "{} is not deterministic", spec.name());
        }
    }

    /// Keys told ahead (and decoys) leave every pick as it was: a balancer may only
    /// remember what it hashed and load memory early.
    #[test]
    fn key_hints_change_no_pick(seed in any::<u64>(), rounds in scenario_strategy()) {
        for spec in specs() {
            let plain = drive(&spec, seed, &rounds, false)?;
            let hinted = drive(&spec, seed, &rounds, true)?;
            prop_assert_eq!(plain, hinted, "hints changed {}'s picks", spec.name());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Property 3: weighted convergence
// ---------------------------------------------------------------------------------------

/// `count` picks from a fresh `name` (built from `seed`) over the fixed pool `backends`.
fn picks_over(name: &str, seed: u64, backends: &[Backend], count: usize) -> Vec<usize> {
    let spec = AlgorithmSpec::named(name).expect("algorithm exists");
    let mut lb = spec.build(SeedTree::new(seed).stream(0, "balancer"));
    let view = PoolView::new(backends);
    lb.on_pool_change(SimTime::ZERO, &view);
    (0..count)
        .map(|k| {
            let i = lb
                .pick(SimTime::ZERO, &view, &RequestInfo::default())
                .unwrap_or_else(|| panic!("{name}: pick {k} is None"));
            assert!(backends[i].eligible(), "{name}: picked {i}");
            i
        })
        .collect()
}

/// `prefix[j][i]`: how often backend `i` was picked among the first `j` picks.
fn prefix_counts(picks: &[usize], n: usize) -> Vec<Vec<i64>> {
    let mut prefix = vec![vec![0i64; n]];
    for &p in picks {
        let mut next = prefix.last().expect("non-empty").clone();
        next[p] += 1;
        prefix.push(next);
    }
    prefix
}

/// Largest `|count_i − k·w_i|` over windows of `k·W` picks starting at `starts`.
fn worst_window(
    prefix: &[Vec<i64>],
    weights: &[u32],
    k: usize,
    starts: impl Iterator<Item = usize>,
) -> i64 {
    let w: usize = weights.iter().map(|&x| x as usize).sum();
    let mut worst = 0;
    for s in starts {
        let e = s + k * w;
        if e >= prefix.len() {
            break;
        }
        for (i, &wi) in weights.iter().enumerate() {
            let dev = prefix[e][i] - prefix[s][i] - (k as i64) * i64::from(wi);
            worst = worst.max(dev.abs());
        }
    }
    worst
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        rng_seed: FIXED_SEED,
        ..ProptestConfig::default()
    })]

    /// Weight shares of the deterministic weighted round robins, on 2..=6 eligible
    /// backends with weights 1..=10 and nothing in flight (`W = Σw`).
    ///
    /// * **Exact with period `W`**: `weighted-round-robin` (nginx smooth WRR: the current
    ///   weights return to all-zero after `W` picks), `weighted-least-connections` (with
    ///   equal in-flight counts it *is* smooth WRR over all backends), `static-rr` (the map
    ///   holds `w_i/g` slots of each server in `W/g` slots, walked cyclically) and
    ///   `naive-weighted-round-robin` (blocks of `w_i`). The pick sequence repeats with
    ///   period `W`, so *every* window of `W` consecutive picks has exactly `w_i` of `i`.
    /// * **Within ±1 over any `k·W` window**: `envoy-round-robin`. With equal weights it
    ///   rotates (exact). With unequal weights it is EDF from a seed-dependent starting
    ///   point (`createWithPicks`) with floating-point deadlines: host `i` is due every
    ///   `1/w_i` of virtual time, so a stretch of virtual time of length `k` holds `k·w_i`
    ///   of its deadlines, but `k·W` picks need not span exactly such a stretch (ties at
    ///   shared deadlines, the 1e−13 weight epsilon and rounding move one pick across the
    ///   window's edge), and in general there is no exact period. Asserted: every window of
    ///   `k·W` picks (any start, `k ≤ 8`) has `k·w_i ± 1`; 6000 sampled weight vectors with
    ///   `k ≤ 32` never showed more than 1.
    /// * **Within ±1 over aligned `k·W` windows for `k ≤ 8`, drifting by at most one pick
    ///   per `16W − 1` picks**: `haproxy-roundrobin`. FWRR works on windows of
    ///   `Σeweight = 16W` positions, and at each new window every server re-enters from the
    ///   `init` tree at the position where it is pulled (`fwrr_get_srv_init` resets `npos`),
    ///   so the last servers pulled start a few positions late and one of them may get
    ///   `16w_i − 1` turns. The window then holds `16W − 1` picks, the period is a multiple
    ///   of `16W − 1` rather than of `W`, and the long-run shares are `16w_j/(16W − 1)` for
    ///   the others and `(16w_i − 1)/(16W − 1)` for that server, not exactly `w/W`. This
    ///   happens for about one weight vector in ten here (e.g. 8,6,8,9,5,10: period 735 =
    ///   16·46 − 1, the weight-5 server gets 79 turns instead of 80); the others are exact
    ///   with period `W`. It follows `lb_fwrr.c` as written, so it is asserted as a bound,
    ///   not reported as a bug: over the first `k·W` picks
    ///   `|count_i − k·w_i| ≤ 1 + k·W/(16W − 1)` (6000 sampled vectors, `k ≤ 96`, reached at
    ///   most 98% of it).
    #[test]
    fn weighted_round_robins_give_weight_shares(
        weights in prop::collection::vec(1u32..=10, 2..=6),
        seed in any::<u64>(),
    ) {
        let n = weights.len();
        let w: usize = weights.iter().map(|&x| x as usize).sum();
        let backends = weighted(&weights);

        for name in [
            "weighted-round-robin",
            "weighted-least-connections",
            "static-rr",
            "naive-weighted-round-robin",
        ] {
            let picks = picks_over(name, seed, &backends, 4 * w);
            let prefix = prefix_counts(&picks, n);
            let worst = worst_window(&prefix, &weights, 1, (0..).step_by(w));
            prop_assert_eq!(worst, 0, "{}: a window of W picks is off for {:?}", name, weights);
            prop_assert!(
                (0..3 * w).all(|j| picks[j] == picks[j + w]),
                "{name}: not periodic with period W for {weights:?}: {picks:?}"
            );
        }

        // Envoy: every window of k·W picks, any start, k = 1..=8.
        let picks = picks_over("envoy-round-robin", seed, &backends, 9 * w);
        let prefix = prefix_counts(&picks, n);
        let bound = if weights.iter().all(|&x| x == weights[0]) { 0 } else { 1 };
        for k in 1..=8 {
            let worst = worst_window(&prefix, &weights, k, 0..);
            prop_assert!(
                worst <= bound,
                "envoy-round-robin: a window of {k}·W picks is off by {worst} for {weights:?}"
            );
        }

        // HAProxy: aligned windows of k·W (k ≤ 8) within ±1; drift bounded as above.
        let windows = 64;
        let picks = picks_over("haproxy-roundrobin", seed, &backends, windows * w);
        let prefix = prefix_counts(&picks, n);
        for k in [1, 2, 4, 8] {
            let worst = worst_window(&prefix, &weights, k, (0..).step_by(w));
            prop_assert!(
                worst <= 1,
                "haproxy-roundrobin: a window of {k}·W picks is off by {worst} for {weights:?}"
            );
        }
        for k in 1..=windows {
            let allowed = 1.0 + (k * w) as f64 / (16 * w - 1) as f64;
            for (i, &wi) in weights.iter().enumerate() {
                let dev = (prefix[k * w][i] - k as i64 * i64::from(wi)).abs();
                prop_assert!(
                    dev as f64 <= allowed,
                    "haproxy-roundrobin: after {k}·W picks backend {i} is off by {dev} \
                     (allowed {allowed:.2}) for {weights:?}"
                );
            }
        }
    }
}

/// The hashing families' shares over many keys converge to the weight shares.
///
/// Fixed seed, six weight vectors (2..=6 backends, weights 1..=10), `K = 20000` keys
/// `0..K`. Backend `i` has weight share `p_i = w_i/W` and is picked for `c_i` keys. The
/// tolerance is 5 standard deviations of `c_i/K`, from two independent sources:
///
/// * sampling the keys: binomial, variance `p(1 − p)/K`;
/// * the structure's own share error, for the rings only. With `N` points placed
///   pseudo-randomly, the arcs owned by `m_i = N·p_i` of them add up to a
///   `Beta(m_i, N − m_i)` share, variance `p(1 − p)/(N + 1)`: `N = 160·W` for `ketama`,
///   `16·W` for HAProxy's `haproxy-consistent` and `consistent-hash-bounded` (whose
///   closest-node rule splits each gap between its two ends; the same variance is used
///   as an approximation). `rendezvous` (weighted scores `−w/ln u`) and `hash` (CRC-32
///   modulo `W` walked by weight) have no structural error beyond the hash's, and Maglev's
///   table gives each host its weighted share of the 65537 slots up to a few slots
///   (`fill_table` hands out turns by weight), so those three use the binomial term alone.
///
/// `consistent-hash-bounded` is unloaded here (nothing is ever in flight), so its bound
/// never binds and it is plain HAProxy consistent hashing. Measured: the largest
/// `|c_i/K − p_i|` is 0.42 of the tolerance (Maglev), 0.38 (ketama), 0.29 (HAProxy),
/// 0.29 (rendezvous) and 0.23 (`hash`).
#[test]
fn hashing_families_give_weight_shares_over_many_keys() {
    const KEYS: u64 = 20_000;
    let mut draws = SeedTree::new(2024).stream(0, "weights");
    for _ in 0..6 {
        let n = 2 + draws.below(5) as usize;
        let weights: Vec<u32> = (0..n).map(|_| 1 + draws.below(10) as u32).collect();
        let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        let backends = weighted(&weights);
        let view = PoolView::new(&backends);
        for (name, structure_points) in [
            ("rendezvous", None),
            ("maglev", None),
            ("hash", None),
            ("ketama", Some(160.0 * total)),
            ("haproxy-consistent", Some(16.0 * total)),
            ("consistent-hash-bounded", Some(16.0 * total)),
        ] {
            let spec = AlgorithmSpec::named(name).expect("algorithm exists");
            let mut lb = spec.build(SeedTree::new(1).stream(0, "balancer"));
            lb.on_pool_change(SimTime::ZERO, &view);
            let mut counts = vec![0u64; n];
            for k in 0..KEYS {
                let i = lb
                    .pick(SimTime::ZERO, &view, &RequestInfo::keyed(k))
                    .expect("all eligible");
                counts[i] += 1;
            }
            for (i, &w) in weights.iter().enumerate() {
                let p = f64::from(w) / total;
                let share = counts[i] as f64 / KEYS as f64;
                let var = p * (1.0 - p) / KEYS as f64
                    + structure_points.map_or(0.0, |pts| p * (1.0 - p) / (pts + 1.0));
                let tolerance = 5.0 * var.sqrt();
                assert!(
                    (share - p).abs() <= tolerance,
                    "{name}: backend {i} of {weights:?} has share {share:.4}, weight share \
                     {p:.4} (tolerance {tolerance:.4}); counts {counts:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Property 4: bounded remapping
// ---------------------------------------------------------------------------------------

/// Keys used for remapping (`0..K`).
const REMAP_KEYS: u64 = 3000;

/// Equal-weight, available, idle backends with the given (sorted, unique) ids.
fn equal_pool(ids: &[u32]) -> Vec<Backend> {
    ids.iter()
        .map(|&id| Backend {
            id,
            weight: 1,
            in_flight: 0,
            available: true,
        })
        .collect()
}

/// The backend *id* each key `0..REMAP_KEYS` goes to on `pool`, after announcing it.
fn owners(lb: &mut dyn Balancer, pool: &[Backend]) -> Vec<u32> {
    let view = PoolView::new(pool);
    lb.on_pool_change(SimTime::ZERO, &view);
    (0..REMAP_KEYS)
        .map(|k| {
            let i = lb
                .pick(SimTime::ZERO, &view, &RequestInfo::keyed(k))
                .expect("all eligible");
            pool[i].id
        })
        .collect()
}

/// Keys routed from `before` to `after` by one balancer that sees the pool change.
fn remap(name: &str, before: &[Backend], after: &[Backend]) -> (Vec<u32>, Vec<u32>) {
    let spec = AlgorithmSpec::named(name).expect("algorithm exists");
    let mut lb = spec.build(SeedTree::new(1).stream(0, "balancer"));
    let b = owners(lb.as_mut(), before);
    let a = owners(lb.as_mut(), after);
    (b, a)
}

/// 5 binomial standard deviations of a fraction `p` estimated from `REMAP_KEYS` keys.
fn five_sd(p: f64) -> f64 {
    5.0 * (p * (1.0 - p) / REMAP_KEYS as f64).sqrt()
}

/// The consistent-hash families under test, with their ring points per server (`None`
/// for rendezvous and Maglev, which have no ring) and their known excess over the minimal
/// `1/(n+1)` when server `n` joins servers `0..n`. The moved fraction may then be
/// `1/(n+1) + 5·sqrt(p(1−p)/K) + excess` (`p = 1/(n+1)`, `K` = [`REMAP_KEYS`]):
///
/// * `rendezvous`, +0: a key moves iff the new server outscores every old one, which
///   happens with probability exactly `1/(n+1)` for equal weights, and nothing else moves;
///   only key sampling is left (worst seen, n ≤ 20: 1.5 points *below* the bound).
/// * `ketama`, +2 points: the new server owns 160 arcs of the ring, a `Beta(160, 160·n)`
///   share around `1/(n+1)` (2.1 points sd at n = 2, less for larger n) on top of key
///   sampling. For servers `0..=n` the worst seen is 0.2 points below the bound *without*
///   the excess (n = 3: 3.8 points above `1/(n+1)`).
/// * `maglev`, +4 points: Maglev is "slightly above minimal" (Eisenbud et al., NSDI 2016):
///   the new host takes ⌊M/(n+1)⌋ or ⌈M/(n+1)⌉ slots, and refilling the table also moves
///   a few slots between old hosts ([`MAGLEV_COLLATERAL`]; up to 22 keys of 3000 here, at
///   n = 18). Worst seen: 1.0 point below the bound without the excess.
/// * `haproxy-consistent` (balance factor 0), +3 points: only 16 nodes per server, so the
///   new server's share has a large structural error (`Beta(16, 16·n)`: 6.8 points sd at
///   n = 2). For servers `0..=n` the worst seen is 1.3 points above the binomial bound
///   (n = 12: 3.8 points above `1/(n+1)`), inside the 3.
///
/// These fixed excesses hold for the ids a scenario gives (`0..n`, the new server last);
/// they do *not* hold for arbitrary ids: over 1500 random pools ketama exceeded its bound
/// by up to 1.9 points (n = 2) and HAProxy by up to 11.5 points (n = 3), which is just
/// the ring variance above. Pools with arbitrary ids are therefore checked against
/// [`arbitrary_id_allowance`], which derives the ring's part instead of fixing it.
const CONSISTENT: [(&str, Option<f64>, f64); 4] = [
    ("rendezvous", None, 0.0),
    ("ketama", Some(160.0), 0.02),
    ("maglev", None, 0.04),
    ("haproxy-consistent", Some(16.0), 0.03),
];

/// Keys Maglev may move between servers that stay when one server joins or leaves: 4% of
/// the keys. The table refill is deterministic, so this is a property of the pool and the
/// hash, not chance in the test; over about 6500 random pools of 3..=21 servers the mean
/// was 7 keys (0.24%) and the largest 61 (2.0%), so 4% is twice the worst seen.
const MAGLEV_COLLATERAL: usize = (REMAP_KEYS as usize) * 4 / 100;

/// `n` in 2..=20, `n + 1` distinct ids from 0..1000 (sorted) and which of them is the
/// server that joins or leaves.
fn membership_strategy() -> impl Strategy<Value = (usize, Vec<u32>, Index)> {
    (2usize..=20).prop_flat_map(|n| {
        (
            Just(n),
            prop::collection::btree_set(0u32..1000, n + 1)
                .prop_map(|s| s.into_iter().collect::<Vec<u32>>()),
            any::<Index>(),
        )
    })
}

/// Upper bound on the fraction of keys that move when one of `n + 1` servers with
/// arbitrary ids joins or leaves: the binomial term plus, for a ring with `points` points
/// per server, the structural variance of that server's share (`Beta(v, v·n)`), 5 sd in
/// all; Maglev adds its 4-point excess (no ring variance, but slots also move between the
/// old hosts). Over 1500 random pools per family the moved fraction used at most 65%
/// (rendezvous), 76% (ketama), 28% (Maglev) and 68% (HAProxy) of `allowance − 1/(n+1)`.
fn arbitrary_id_allowance(name: &str, points: Option<f64>, excess: f64, n: usize) -> f64 {
    let p = 1.0 / (n as f64 + 1.0);
    let structure = points.map_or(0.0, |v| p * (1.0 - p) / (v * (n as f64 + 1.0) + 1.0));
    let sd = (p * (1.0 - p) / REMAP_KEYS as f64 + structure).sqrt();
    p + 5.0 * sd + if name == "maglev" { excess } else { 0.0 }
}

// Property 4. Appending server `n` is deterministic for each n, so 48 cases see nearly all
// 19 values; arbitrary memberships get 128 cases each.
proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        rng_seed: FIXED_SEED,
        ..ProptestConfig::default()
    })]

    /// Server `n` joins servers `0..n` (ids as a scenario numbers them): the moved
    /// fraction is at most `1/(n+1) + 5 sd + excess` (see [`CONSISTENT`]), and every
    /// moved key goes to the new server (Maglev: all but a few). The modulo `hash` moves
    /// about `n/(n+1)` of the keys instead.
    #[test]
    fn adding_server_n_moves_about_one_over_n_plus_one(n in 2usize..=20) {
        let ids: Vec<u32> = (0..=n as u32).collect();
        let before = equal_pool(&ids[..n]);
        let after = equal_pool(&ids);
        let new_id = n as u32;
        let p = 1.0 / (n as f64 + 1.0);
        for (name, _, excess) in CONSISTENT {
            let (b, a) = remap(name, &before, &after);
            let moved = (0..b.len()).filter(|&k| b[k] != a[k]).count();
            let elsewhere = (0..b.len()).filter(|&k| b[k] != a[k] && a[k] != new_id).count();
            let limit = if name == "maglev" { MAGLEV_COLLATERAL } else { 0 };
            prop_assert!(
                elsewhere <= limit,
                "{name}, n = {n}: {elsewhere} keys moved between old servers"
            );
            let frac = moved as f64 / REMAP_KEYS as f64;
            let allowed = p + five_sd(p) + excess;
            prop_assert!(
                frac <= allowed,
                "{name}, n = {n}: moved {frac:.4} of the keys, allowed {allowed:.4}"
            );
        }
        // The contrast: nginx's non-consistent hash (CRC-32 modulo the total weight).
        let (b, a) = remap("hash", &before, &after);
        let moved = (0..b.len()).filter(|&k| b[k] != a[k]).count();
        let frac = moved as f64 / REMAP_KEYS as f64;
        let q = n as f64 / (n as f64 + 1.0);
        prop_assert!(
            frac >= q - five_sd(q),
            "hash, n = {n}: moved only {frac:.4} of the keys, expected about {q:.4}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        rng_seed: FIXED_SEED,
        ..ProptestConfig::default()
    })]

    /// Any server joins any pool (ids arbitrary, the new one anywhere in id order): every
    /// moved key goes to the new server (Maglev: all but [`MAGLEV_COLLATERAL`]), and the
    /// moved fraction is within [`arbitrary_id_allowance`].
    #[test]
    fn adding_a_server_moves_keys_only_to_it(
        (n, ids, which) in membership_strategy(),
    ) {
        let new_id = ids[which.index(ids.len())];
        let old: Vec<u32> = ids.iter().copied().filter(|&id| id != new_id).collect();
        for (name, points, excess) in CONSISTENT {
            let (b, a) = remap(name, &equal_pool(&old), &equal_pool(&ids));
            let moved = (0..b.len()).filter(|&k| b[k] != a[k]).count();
            let elsewhere = (0..b.len()).filter(|&k| b[k] != a[k] && a[k] != new_id).count();
            let limit = if name == "maglev" { MAGLEV_COLLATERAL } else { 0 };
            prop_assert!(
                elsewhere <= limit,
                "{name}: adding {new_id} to {old:?} moved {elsewhere} keys between old servers"
            );
            let frac = moved as f64 / REMAP_KEYS as f64;
            let allowed = arbitrary_id_allowance(name, points, excess, n);
            prop_assert!(
                frac <= allowed,
                "{name}: adding {new_id} to {old:?} moved {frac:.4}, allowed {allowed:.4}"
            );
        }
    }

    /// Any server leaves any pool: only the keys it owned move (Maglev: plus at most
    /// [`MAGLEV_COLLATERAL`] others), and they are about `1/(n+1)` of the keys.
    #[test]
    fn removing_a_server_moves_only_its_keys(
        (n, ids, which) in membership_strategy(),
    ) {
        let gone = ids[which.index(ids.len())];
        let rest: Vec<u32> = ids.iter().copied().filter(|&id| id != gone).collect();
        for (name, points, excess) in CONSISTENT {
            let (b, a) = remap(name, &equal_pool(&ids), &equal_pool(&rest));
            let moved = (0..b.len()).filter(|&k| b[k] != a[k]).count();
            let others = (0..b.len()).filter(|&k| b[k] != a[k] && b[k] != gone).count();
            let limit = if name == "maglev" { MAGLEV_COLLATERAL } else { 0 };
            prop_assert!(
                others <= limit,
                "{name}: removing {gone} from {ids:?} moved {others} keys of other servers"
            );
            let frac = moved as f64 / REMAP_KEYS as f64;
            let allowed = arbitrary_id_allowance(name, points, excess, n);
            prop_assert!(
                frac <= allowed,
                "{name}: removing {gone} from {ids:?} moved {frac:.4}, allowed {allowed:.4}"
            );
        }
    }
}
