//! The model against closed-form queueing results (lb-semantics §8–9, standard texts).

use lblab::metrics::M;
use lblab::metrics::stats::estimate_at;

use crate::support::{LEVEL, assert_matches, load, run, values};

/// HdrHistogram with 3 significant digits reports a value's bucket's upper end: at most
/// 0.1% above the exact sample quantile.
const HIST_RESOLUTION: f64 = 1e-3;

/// Erlang C: (P(wait), W_q) for M/M/c with arrival rate `lambda` and service rate `mu`.
fn erlang_c(c: u32, lambda: f64, mu: f64) -> (f64, f64) {
    let a = lambda / mu;
    let rho = a / f64::from(c);
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let tail = term / (1.0 - rho); // a^c / c! · 1/(1−ρ)
    let p_wait = tail / (sum + tail);
    (p_wait, p_wait / (f64::from(c) * mu - lambda))
}

/// Supermarket-model mean time in system T_d(λ) = Σ_{i≥1} λ^((d^i − d)/(d − 1)).
fn supermarket(lambda: f64, d: u32) -> f64 {
    let d = f64::from(d);
    (1..40)
        .map(|i| lambda.powf((d.powi(i) - d) / (d - 1.0)))
        .sum()
}

#[test]
fn closed_forms_match_the_reference_tables() {
    // lb-semantics §9 table: c=4, ρ=0.8 and c=16, ρ=0.9.
    let (p, wq) = erlang_c(4, 3.2, 1.0);
    assert!(
        (p - 0.596432).abs() < 1e-6 && (wq - 0.745541).abs() < 1e-6,
        "{p} {wq}"
    );
    let (p, wq) = erlang_c(16, 14.4, 1.0);
    assert!(
        (p - 0.591343).abs() < 1e-6 && (wq - 0.369590).abs() < 1e-6,
        "{p} {wq}"
    );
    // lb-semantics §8 table.
    assert!((supermarket(0.9, 2) - 2.6141).abs() < 1e-4);
    assert!((supermarket(0.99, 2) - 5.4320).abs() < 1e-4);
    assert!((supermarket(0.9, 3) - 2.0279).abs() < 1e-4);
    // (d = 1 is the M/M/1 limit of the formula, 0/0 as written, so it is not checked.)
}

/// Random over c identical exponential servers = c independent M/M/1 at λ/c.
#[test]
fn random_over_identical_servers_is_independent_mm1() {
    let s = load("mm1-random", &[]);
    let a = run(&s);
    let (lambda, mu) = (3.2 / 4.0, 1.0);
    let t = 1.0 / (mu - lambda); // 5 s
    assert_matches(
        "M/M/1 mean time in system (ms)",
        &values(&a, M::LatencyMean),
        1e3 * t,
        0.0,
        0.02,
    );
    assert_matches(
        "M/M/1 mean wait (ms)",
        &values(&a, M::WaitMean),
        1e3 * lambda / (mu * (mu - lambda)),
        0.0,
        0.03,
    );
    // Response time is exponential with rate μ − λ: p99 = ln(100)/(μ − λ).
    let p99 = 1e3 * 100f64.ln() / (mu - lambda);
    assert_matches(
        "M/M/1 p99 (ms)",
        &values(&a, M::LatencyP99),
        p99,
        HIST_RESOLUTION * p99,
        0.05,
    );
    let p50 = 1e3 * 2f64.ln() / (mu - lambda);
    assert_matches(
        "M/M/1 p50 (ms)",
        &values(&a, M::LatencyP50),
        p50,
        HIST_RESOLUTION * p50,
        0.03,
    );
    assert_matches(
        "utilization (%)",
        &values(&a, M::Utilization),
        100.0 * lambda / mu,
        0.0,
        0.01,
    );
}

/// One server with c slots and a FIFO queue = M/M/c: mean wait is Erlang C.
#[test]
fn one_server_with_c_slots_is_mmc() {
    let s = load("mmc", &[]);
    let a = run(&s);
    let (_, wq) = erlang_c(4, 3.2, 1.0);
    assert_matches(
        "M/M/4 mean wait (ms)",
        &values(&a, M::WaitMean),
        1e3 * wq,
        0.0,
        0.03,
    );
    assert_matches(
        "M/M/4 mean time in system (ms)",
        &values(&a, M::LatencyMean),
        1e3 * (wq + 1.0),
        0.0,
        0.02,
    );
}

/// Constant service = M/D/1: mean wait is Pollaczek–Khinchine with C_s² = 0.
#[test]
fn constant_service_is_md1() {
    let s = load("md1", &[]);
    let a = run(&s);
    let rho = 0.8;
    let wq = rho / (2.0 * (1.0 - rho)); // μ = 1
    assert_matches(
        "M/D/1 mean wait (ms)",
        &values(&a, M::WaitMean),
        1e3 * wq,
        0.0,
        0.02,
    );
    assert_matches(
        "M/D/1 service time (ms)",
        &values(&a, M::ServiceMean),
        1e3,
        0.0,
        1e-9 + 1e-6,
    );
}

/// Power of two over ≥ 100 servers: within a few percent of the supermarket limit, above it.
#[test]
fn power_of_two_approaches_the_supermarket_limit_from_above() {
    let s = load("supermarket", &[]);
    assert!(s.world.n_servers() >= 100);
    let a = run(&s);
    let limit = 1e3 * supermarket(0.9, 2);
    let e = estimate_at(&values(&a, M::LatencyMean), LEVEL);
    assert!(
        e.lo() > limit,
        "finite n converges from above: {:.2} ± {:.2} vs limit {limit:.2}",
        e.mean,
        e.ci95
    );
    assert!(
        e.hi() < 1.03 * limit,
        "more than 3% above the limit: {:.2} ± {:.2} vs {limit:.2}",
        e.mean,
        e.ci95
    );
    // And far below random assignment (M/M/1 at 0.9: 10 s).
    assert!(e.hi() < 0.3 * 10_000.0);
}

/// Round robin over c exponential servers is E_c/M/1 per server: between M/M/c and c×M/M/1.
/// Join-shortest-queue (least connections) approaches M/M/c from above.
#[test]
fn round_robin_and_jsq_sit_between_mmc_and_mm1() {
    let sets = ["scenario.duration=50000s", "scenario.replications=10"];
    let mmc_t = 1e3 * (erlang_c(4, 3.2, 1.0).1 + 1.0);
    let mm1_t = 1e3 * 5.0;
    let mut means = Vec::new();
    for alg in ["round-robin", "least-connections"] {
        let mut sets = sets.to_vec();
        let set = format!("balancer.algorithm={alg}");
        sets.push(&set);
        let a = run(&load("mm1-random", &sets));
        let e = estimate_at(&values(&a, M::LatencyMean), LEVEL);
        assert!(
            e.lo() > mmc_t && e.hi() < mm1_t,
            "{alg}: {:.1} ± {:.1} not in ({mmc_t:.1}, {mm1_t:.1})",
            e.mean,
            e.ci95
        );
        means.push(e);
    }
    assert!(means[1].hi() < means[0].lo(), "JSQ should beat round robin");
}

/// The slow-query lesson: least-connections' p99 is far below round robin's.
#[test]
fn least_connections_routes_around_the_slow_query() {
    let p99 = |alg: &str| {
        let set = format!("balancer.algorithm={alg}");
        let a = run(&load("slow-query", &[&set]));
        estimate_at(&values(&a, M::LatencyP99), LEVEL)
    };
    let (rr, lc) = (p99("round-robin"), p99("least-connections"));
    // Even comparing the ends of the 99.99% intervals, round robin's p99 is 20× worse.
    assert!(
        rr.lo() > 20.0 * lc.hi(),
        "round robin p99 {:.1} ± {:.1} ms vs least-connections {:.1} ± {:.1} ms",
        rr.mean,
        rr.ci95,
        lc.mean,
        lc.ci95
    );
    // And least-connections keeps p99 within a few service times (lognormal p99 40 ms).
    assert!(lc.hi() < 100.0, "least-connections p99 {:.1} ms", lc.mean);
}

/// A load balancer node's CPU is a queue in front of the balancer: with one core and an
/// exponential cost per request it is an M/M/1 queue, with 2 cores an M/M/2 (Erlang C).
/// The servers behind it add a constant 1 µs with no queueing (64 slots each, 1% busy), so
/// the mean latency is the CPU's time in system plus 1 µs, and the busiest (only) node's
/// CPU utilization is ρ.
#[test]
fn the_load_balancer_cpu_is_an_mm1_or_mmc_queue() {
    for (cores, mu) in [(1u32, 1000.0), (2, 500.0)] {
        let lambda = 800.0;
        let text = format!(
            r#"
            [scenario]
            duration = "2000s"
            warmup = "100s"
            replications = 10
            seed = 21
            [clients]
            rate = "{lambda}/s"
            [[classes]]
            service = {{ dist = "constant", value = "1us" }}
            [[servers]]
            name = "web"
            count = 4
            slots = 64
            [lb]
            cores = {cores}
            request_cost = {{ dist = "exponential", mean = "{}us" }}
            "#,
            1e6 / mu
        );
        let a = run(&crate::support::parse(&text).unwrap());
        let c = f64::from(cores);
        let (_, wq) = erlang_c(cores, lambda, mu);
        let t = wq + 1.0 / mu;
        assert_matches(
            &format!("LB CPU M/M/{cores} mean latency (ms)"),
            &values(&a, M::LatencyMean),
            1e3 * (t + 1e-6),
            0.0,
            0.03,
        );
        assert_matches(
            &format!("LB CPU M/M/{cores} utilization (%)"),
            &values(&a, M::LbCpuUtil),
            100.0 * lambda / (c * mu),
            0.0,
            0.01,
        );
    }
}
