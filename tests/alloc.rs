//! The hot loop allocates nothing per event: a replication ten times longer makes (almost)
//! no more heap allocations than a short one.
//!
//! A counting global allocator tallies allocations per thread (a thread-local counter, so
//! the test harness's other threads do not disturb it). Growth of amortized buffers (the
//! free lists, the time-series buckets, health logs) costs O(log n) allocations; an
//! allocation per request or per event would cost hundreds of thousands here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use lblab::engine::SeedTree;
use lblab::model::World;
use lblab::scenario;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|n| n.get())
}

/// Allocations made on this thread by one replication of `name` run for `duration`, and
/// the number of requests it issued.
fn run(name: &str, sets: &[&str], duration: &str) -> (u64, f64) {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.toml"));
    let mut sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    sets.push(format!("scenario.duration={duration}"));
    let s = scenario::load(&path, &sets, &|p| std::fs::read_to_string(p))
        .unwrap_or_else(|e| panic!("{e}"));
    let seeds = SeedTree::new(s.seed);
    let world = World::new(&s.world, &seeds, 0);
    let before = allocs();
    let r = world.run().unwrap_or_else(|e| panic!("{e}"));
    let n = allocs() - before;
    (n, r.get(lblab::metrics::M::Issued))
}

fn assert_flat(name: &str, sets: &[&str], short: &str, long: &str) {
    assert_flat_within(name, sets, short, long, 200);
}

/// As [`assert_flat`], allowing `budget` more allocations in the long run.
fn assert_flat_within(name: &str, sets: &[&str], short: &str, long: &str, budget: u64) {
    let (a_short, n_short) = run(name, sets, short);
    let (a_long, n_long) = run(name, sets, long);
    let extra_requests = n_long - n_short;
    assert!(
        extra_requests > 100_000.0,
        "{name}: the long run must issue many more requests ({n_short} vs {n_long})"
    );
    let extra_allocs = a_long.saturating_sub(a_short);
    eprintln!("{name} {sets:?}: {a_short} -> {a_long} allocations, {n_short} -> {n_long} requests");
    assert!(
        extra_allocs < budget,
        "{name} {sets:?}: {extra_allocs} more allocations for {extra_requests} more requests \
         ({a_short} in {short}, {a_long} in {long})"
    );
}

#[test]
fn plain_model_allocates_nothing_per_request() {
    for alg in ["random", "least-connections", "power-of-two", "round-robin"] {
        let set = format!("balancer.algorithm={alg}");
        assert_flat("quick-start", &[&set], "40s", "400s");
    }
    // 128 servers: the ordered indices and trees of large pools allocate nothing either.
    for alg in [
        "least-connections",
        "weighted-least-connections",
        "random",
        "weighted-round-robin",
        "join-shortest-queue",
        "haproxy-first",
        "haproxy-leastconn",
        "haproxy-roundrobin",
        "least-response-time-conns",
        "peak-ewma",
        "hash",
        "rendezvous",
    ] {
        let set = format!("balancer.algorithm={alg}");
        let big = ["servers.web.count=128", "clients.rate=10880/s"];
        assert_flat("quick-start", &[&set, big[0], big[1]], "14s", "50s");
    }
    // 1,024 servers: about a thousand events pending, so the event queue's calendar (not
    // its heap) holds them, and it allocates nothing per request either. Each server's
    // time series grows by a bucket a second (1 s buckets in so short a run), so the
    // budget is two reallocations per server: ~900 measured, against 430,000 requests.
    for alg in ["random", "least-connections"] {
        let set = format!("balancer.algorithm={alg}");
        let huge = [
            &set,
            "servers.web.count=1024",
            "clients.rate=87040/s",
            "scenario.warmup=1s",
        ];
        assert_flat_within("quick-start", &huge, "3s", "8s", 2048);
    }
}

#[test]
fn failures_health_checks_and_retries_allocate_nothing_per_request() {
    assert_flat("crash-failover", &[], "100s", "1000s");
    assert_flat("gray-failure", &[], "100s", "1000s");
}

#[test]
fn hashing_caches_and_sessions_allocate_nothing_per_request() {
    assert_flat("cache-tier", &[], "40s", "400s");
    assert_flat("sessions", &[], "30s", "300s");
    assert_flat("nat-skew", &[], "30s", "300s");
}

#[test]
fn routing_reporting_draining_and_ewma_allocate_nothing_per_request() {
    assert_flat("l7-routing", &[], "30s", "300s");
    assert_flat("herding", &[], "20s", "200s");
    assert_flat("half-speed", &[], "30s", "600s");
    assert_flat("retry-storm", &[], "20s", "200s");
}

#[test]
fn load_balancer_tier_allocates_nothing_per_request() {
    for topology in ["single", "active-passive", "active-active-dns", "anycast"] {
        let set = format!("lb.topology={topology}");
        assert_flat("lb-failover", &[&set], "100s", "1000s");
    }
    assert_flat(
        "lb-failover",
        &["lb.topology=anycast", "lb.anycast.ecmp=resilient"],
        "100s",
        "1000s",
    );
    // Node CPUs, overloaded (a queue that grows to the client timeout) and not.
    assert_flat("lb-capacity", &[], "15s", "100s");
    assert_flat("lb-capacity", &["lb.topology=anycast"], "15s", "100s");
}
