//! Shared helpers for the balancers' unit tests (compiled only under `cfg(test)`).
//!
//! A balancer test usually does three things: build a pool of [`Backend`]s, drive a
//! balancer over it a number of times, and compare what it picked with what the algorithm
//! should pick. This module covers each step so that every algorithm file writes its
//! tests the same way:
//!
//! * **Pools.** [`backends`] takes the full `(weight, in_flight, available)` description;
//!   the shorthands [`weighted`], [`loaded`], [`weighted_available`] and [`in_flight`]
//!   cover the common shapes. Every builder numbers the backends `0..n` in order, so the
//!   result satisfies the [`PoolView`] invariant (sorted by id, ids unique), and index `i`
//!   is backend `i`. Edit the returned `Vec` to take a backend down or change its load
//!   between picks.
//! * **Driving.** [`sequence`] returns the picks as a string of letters (see [`letter`]),
//!   which is the natural form for deterministic algorithms (`"aabacaa"` for nginx smooth
//!   WRR with weights 5, 1, 1). [`counts`] returns how often each backend was picked, for
//!   randomised algorithms and long-run proportions. Both pick at [`SimTime::ZERO`] with
//!   [`RequestInfo::default()`], and both accept any balancer as `&mut dyn Balancer`, so a
//!   test can keep using the balancer (and inspect its state) afterwards.
//! * **Randomness.** [`rng`] is the one fixed stream that randomised balancers are built
//!   with; call it twice to get a second, identical stream as a reference.
//!
//! Declared in `balancer/mod.rs` as `#[cfg(test)] pub(crate) mod testutil;`. Import the
//! helpers you use by name: `use crate::balancer::testutil::{loaded, sequence};`.

use super::{Backend, Balancer, PoolView, RequestInfo};
use crate::engine::{SeedTree, SimRng, SimTime};

// ---------------------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------------------

/// Backends from `(weight, in_flight, available)` triples, with ids `0..n` in order.
///
/// The general builder; the other pool helpers are shorthands for it.
///
/// ```ignore
/// // a: weight 2, idle, up; b: weight 1, 3 in flight, down.
/// let b = backends(&[(2, 0, true), (1, 3, false)]);
/// ```
pub(crate) fn backends(spec: &[(u32, u32, bool)]) -> Vec<Backend> {
    spec.iter()
        .enumerate()
        .map(|(i, &(weight, in_flight, available))| Backend {
            id: u32::try_from(i).expect("test pool larger than u32::MAX"),
            weight,
            in_flight,
            available,
        })
        .collect()
}

/// Backends with the given weights: all available, nothing in flight.
///
/// For algorithms driven by weights alone (round robin, smooth WRR, idle pools).
pub(crate) fn weighted(weights: &[u32]) -> Vec<Backend> {
    let spec: Vec<_> = weights.iter().map(|&w| (w, 0, true)).collect();
    backends(&spec)
}

/// Backends from `(weight, in_flight)` pairs, all available.
///
/// For load-aware algorithms that also use weights (weighted least connections).
pub(crate) fn loaded(spec: &[(u32, u32)]) -> Vec<Backend> {
    let spec: Vec<_> = spec.iter().map(|&(w, f)| (w, f, true)).collect();
    backends(&spec)
}

/// Backends from `(weight, available)` pairs, nothing in flight.
///
/// For eligibility tests: a backend is eligible when it is available *and* its weight is
/// positive, so `(1, false)` and `(0, true)` are both ineligible.
pub(crate) fn weighted_available(spec: &[(u32, bool)]) -> Vec<Backend> {
    let spec: Vec<_> = spec.iter().map(|&(w, a)| (w, 0, a)).collect();
    backends(&spec)
}

/// Backends with the given in-flight counts: weight 1, all available.
///
/// For load-aware algorithms that ignore weights (power of d choices, least connections).
pub(crate) fn in_flight(loads: &[u32]) -> Vec<Backend> {
    let spec: Vec<_> = loads.iter().map(|&f| (1, f, true)).collect();
    backends(&spec)
}

// ---------------------------------------------------------------------------------------
// Driving a balancer
// ---------------------------------------------------------------------------------------

/// One pick as a letter: index 0 is `'a'`, 1 is `'b'`, …; `None` is `'-'`.
///
/// Meant for pools of at most 26 backends; panics beyond that rather than print a
/// misleading character.
pub(crate) fn letter(i: Option<usize>) -> char {
    match i {
        Some(i) => {
            assert!(
                i < 26,
                "letter: index {i} has no letter (pools of at most 26)"
            );
            (b'a' + i as u8) as char
        }
        None => '-',
    }
}

/// Picks `n` times from `backends` at time zero with a default request and returns the
/// picks as letters (see [`letter`]), e.g. `"abcabc"` or `"--"` when nothing is eligible.
///
/// The pool is the same for every pick (the helper does not count requests in flight), and
/// no responses are reported. The balancer keeps its state, so consecutive calls continue
/// where the previous one stopped.
pub(crate) fn sequence(b: &mut dyn Balancer, backends: &[Backend], n: usize) -> String {
    let view = PoolView::new(backends);
    (0..n)
        .map(|_| letter(b.pick(SimTime::ZERO, &view, &RequestInfo::default())))
        .collect()
}

/// Picks `n` times from `backends` at time zero with a default request and returns how
/// often each index was picked (`result[i]` counts backend `i`; the sum is `n`).
///
/// Like [`sequence`], the pool does not change between picks. Every pick is checked: the
/// helper panics with the offending pick and the pool if the balancer returns `None`, an
/// index out of range, or an ineligible backend, so use it only on pools where something
/// is eligible.
pub(crate) fn counts(b: &mut dyn Balancer, backends: &[Backend], n: usize) -> Vec<u32> {
    let view = PoolView::new(backends);
    let mut c = vec![0u32; backends.len()];
    for k in 0..n {
        let Some(i) = b.pick(SimTime::ZERO, &view, &RequestInfo::default()) else {
            panic!(
                "counts: pick {k} returned None (counts needs an eligible backend): {backends:?}"
            );
        };
        assert!(
            i < backends.len(),
            "counts: pick {k} returned index {i}, out of range for a pool of {}: {backends:?}",
            backends.len()
        );
        assert!(
            backends[i].eligible(),
            "counts: pick {k} returned ineligible backend {i} ({:?}) from {backends:?}",
            backends[i]
        );
        c[i] += 1;
    }
    c
}

// ---------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------

/// The standard test stream: `SeedTree::new(1).stream(0, "test")`.
///
/// Every call returns a fresh stream with the same draws, so a test can build a balancer
/// with one and replay its draws from another. Tests that need several independent
/// streams take them from a [`SeedTree`] directly.
pub(crate) fn rng() -> SimRng {
    SeedTree::new(1).stream(0, "test")
}

// ---------------------------------------------------------------------------------------
// Index against scan
// ---------------------------------------------------------------------------------------

/// Checks that a balancer makes the same choices from its index as from its scan: one
/// instance is fed tracked views ([`PoolView::with_epoch`]) and every in-flight change
/// (it keeps its index while it can), the other plain views (it always scans; it hears of
/// in-flight changes too, as a world's balancer that wants them does), both built
/// by `make`, through `steps` random steps over a pool of `n` backends: picks (counted in
/// flight; requests carry one of 5,000 keys, or none one time in four), completions with
/// random response times (one in `fail_one_in` a failure, if
/// not 0), availability and weight changes (weights from `weight`), and passing time.
/// Returns the number of picks that chose a backend.
pub(crate) fn index_agrees_with_scan(
    make: impl Fn() -> Box<dyn Balancer>,
    n: usize,
    weight: impl Fn(&mut SimRng) -> u32,
    fail_one_in: u64,
    steps: u32,
    seed: u64,
) -> u32 {
    use super::{Outcome, OutcomeKind};
    let mut rng = SimRng::from_seed_u64(seed);
    let mut pool: Vec<Backend> = (0..n as u32)
        .map(|id| Backend {
            id,
            weight: weight(&mut rng),
            in_flight: 0,
            available: true,
        })
        .collect();
    let (mut fast, mut scan) = (make(), make());
    let tracked = fast.wants_in_flight();
    let mut epoch = 1u64;
    let mut now = SimTime::ZERO;
    let mut picks = 0u32;
    for step in 0..steps {
        now += SimTime::from_nanos(rng.below(20_000_000));
        let req = RequestInfo {
            client: rng.below(1000) as u32,
            client_ip: rng.below(1 << 32) as u32,
            key: (rng.below(4) != 0).then(|| rng.below(5000)),
            ..RequestInfo::default()
        };
        match rng.below(100) {
            0..=54 => {
                let a = fast.pick(now, &PoolView::with_epoch(&pool, epoch), &req);
                let b = scan.pick(now, &PoolView::new(&pool), &req);
                assert_eq!(a, b, "step {step}");
                if let Some(i) = a {
                    pool[i].in_flight += 1;
                    if tracked {
                        fast.on_in_flight(i, pool[i].in_flight);
                        scan.on_in_flight(i, pool[i].in_flight);
                    }
                    picks += 1;
                }
            }
            55..=98 => {
                let i = rng.below(n as u64) as usize;
                if pool[i].in_flight > 0 {
                    pool[i].in_flight -= 1;
                    if tracked {
                        fast.on_in_flight(i, pool[i].in_flight);
                        scan.on_in_flight(i, pool[i].in_flight);
                    }
                    let rtt = SimTime::from_nanos(100_000 + rng.below(50_000_000));
                    let out = if fail_one_in != 0 && rng.below(fail_one_in) == 0 {
                        Outcome::of(OutcomeKind::Refused, rtt)
                    } else {
                        Outcome::new(true, rtt)
                    };
                    fast.on_response(now, &PoolView::with_epoch(&pool, epoch), i, out);
                    scan.on_response(now, &PoolView::new(&pool), i, out);
                }
            }
            _ => {
                let i = rng.below(n as u64) as usize;
                if rng.below(3) == 0 {
                    pool[i].weight = weight(&mut rng);
                } else {
                    pool[i].available = !pool[i].available;
                }
                epoch += 1;
                fast.on_pool_change(now, &PoolView::with_epoch(&pool, epoch));
                scan.on_pool_change(now, &PoolView::new(&pool));
            }
        }
    }
    picks
}
