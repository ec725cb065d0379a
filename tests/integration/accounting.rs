//! Conservation of requests, closed loops and rate schedules.

use lblab::metrics::M;

use crate::support::{assert_matches, parse, run, values};

/// Overload with small queues and a short timeout: every request is completed, failed by
/// cause, or still in flight, and every cause shows up.
#[test]
fn the_books_balance_under_rejections_and_timeouts() {
    let s = parse(
        r#"
        [scenario]
        duration = "60s"
        warmup = "5s"
        replications = 4
        [clients]
        rate = "300/s"
        timeout = "50ms"
        [[classes]]
        service = { dist = "exponential", mean = "10ms" }
        [[servers]]
        count = 2
        queue = 5
        [balancer]
        algorithm = "least-connections"
        "#,
    )
    .unwrap();
    let a = run(&s);
    for r in &a.reps {
        let (issued, completed, errors, in_flight) = (
            r.get(M::Issued),
            r.get(M::Completed),
            r.get(M::Errors),
            r.get(M::InFlightEnd),
        );
        assert_eq!(issued, completed + errors + in_flight);
        assert_eq!(
            errors,
            r.get(M::ErrorsRejected) + r.get(M::ErrorsTimeout) + r.get(M::ErrorsNoBackend)
        );
        assert!(
            r.get(M::ErrorsRejected) > 100.0,
            "capacity 200/s for 300/s: queues overflow"
        );
        assert!(
            r.get(M::ErrorsTimeout) > 100.0,
            "waits beyond 50 ms time out"
        );
        // Timed-out work is still done: the servers are far busier than the completed
        // requests alone explain (completed/s × 10 ms mean work over 2 servers).
        let useful = 100.0 * r.get(M::Throughput) * 0.010 / 2.0;
        assert!(
            r.get(M::Utilization) > useful + 10.0,
            "utilization {} vs useful {useful}",
            r.get(M::Utilization)
        );
    }
}

/// A closed loop of N users with exponential think and service times on one exponential
/// server is the machine-repairman model M/M/1//N, with exact throughput
/// X = (1 − p0)·μ, p0 = [Σ_{k=0}^{N} N!/(N−k)!·(λ/μ)^k]⁻¹ (λ = 1/think).
#[test]
fn closed_loop_matches_the_machine_repairman_model() {
    let (n, think_s, service_s) = (10u32, 1.0, 0.08);
    let s = parse(&format!(
        r#"
        [scenario]
        duration = "20000s"
        warmup = "100s"
        replications = 10
        [clients]
        mode = "closed"
        users = {n}
        think = {{ dist = "exponential", mean = "{think_s}s" }}
        [[classes]]
        service = {{ dist = "exponential", mean = "{}ms" }}
        [[servers]]
        queue = "unlimited"
        "#,
        service_s * 1e3
    ))
    .unwrap();
    let a = run(&s);
    let r = service_s / think_s; // λ/μ
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=n {
        term *= f64::from(n - k + 1) * r;
        sum += term;
    }
    let x = (1.0 - 1.0 / sum) / service_s;
    assert_matches(
        "M/M/1//10 throughput (req/s)",
        &values(&a, M::Throughput),
        x,
        0.0,
        0.01,
    );
    // Interactive response time law: R = N/X − Z.
    assert_matches(
        "M/M/1//10 response time (ms)",
        &values(&a, M::LatencyMean),
        1e3 * (f64::from(n) / x - think_s),
        0.0,
        0.03,
    );
}

/// A ramp schedule issues the integral of its rate: the count in a window is Poisson, so
/// its standard deviation is √mean; 5 sd bounds a correct sampler's miss rate at 6e-7.
#[test]
fn rate_schedules_issue_their_integral() {
    let s = parse(
        r#"
        [scenario]
        duration = "150s"
        warmup = "50s"
        replications = 1
        [clients]
        schedule = [
          { at = "0s", rate = "0/s", ramp = true },
          { at = "100s", rate = "1000/s" },
          { at = "120s", rate = "0/s" },
          { at = "130s", rate = "500/s" },
        ]
        [[classes]]
        service = "1ms"
        [[servers]]
        count = 4
        slots = 8
        "#,
    )
    .unwrap();
    let a = run(&s);
    // ∫ from 50 to 100 of 10·t dt = 37,500; then 20 s at 1000/s, 10 s at 0, 20 s at 500/s.
    let expected = 37_500.0 + 20_000.0 + 0.0 + 10_000.0;
    let got = a.reps[0].get(M::Issued);
    assert!(
        (got - expected).abs() < 5.0 * expected.sqrt(),
        "issued {got}, expected {expected} ± {:.0}",
        5.0 * expected.sqrt()
    );
    if let lblab::model::Load::Open(sched) = &s.world.clients.load {
        let e = sched.expected_arrivals(s.world.warmup, s.world.duration);
        assert!((e - expected).abs() < 1e-6, "{e}");
    }
}

/// Classes routed to a pool only ever reach that pool's servers.
#[test]
fn classes_with_a_pool_stay_in_it() {
    let s = parse(
        r#"
        [scenario]
        duration = "30s"
        replications = 2
        [clients]
        rate = "200/s"
        [[classes]]
        name = "api"
        share = 0.7
        service = "5ms"
        pool = "api"
        [[classes]]
        name = "static"
        share = 0.3
        service = "1ms"
        pool = "static"
        [[servers]]
        name = "api"
        count = 3
        [[servers]]
        name = "static"
        count = 2
        [balancer]
        algorithm = "round-robin"
        "#,
    )
    .unwrap();
    let a = run(&s);
    for r in &a.reps {
        let api: u64 = r
            .servers
            .iter()
            .filter(|s| s.group == "api")
            .map(|s| s.requests)
            .sum();
        let stat: u64 = r
            .servers
            .iter()
            .filter(|s| s.group == "static")
            .map(|s| s.requests)
            .sum();
        let total = (api + stat) as f64;
        // Binomial(n, 0.7): 5 sd.
        let sd = (total * 0.7 * 0.3).sqrt();
        assert!(
            (api as f64 - 0.7 * total).abs() < 5.0 * sd,
            "api {api} of {total}"
        );
        // Round robin within each pool: equal counts up to one.
        let api_counts: Vec<u64> = r
            .servers
            .iter()
            .filter(|s| s.group == "api")
            .map(|s| s.requests)
            .collect();
        assert!(
            api_counts.iter().max().unwrap() - api_counts.iter().min().unwrap() <= 1,
            "{api_counts:?}"
        );
    }
}

/// Network delay is paid both ways: with constant service and delay and no queueing,
/// latency is exactly service + 2 × delay.
#[test]
fn network_delay_is_paid_both_ways() {
    let s = parse(
        r#"
        [scenario]
        duration = "20s"
        replications = 2
        [clients]
        rate = "10/s"
        [[classes]]
        service = "1ms"
        [[servers]]
        count = 2
        slots = 64
        network_delay = "5ms"
        "#,
    )
    .unwrap();
    let a = run(&s);
    for r in &a.reps {
        // 64 slots at 10/s never queue: every latency is 11 ms (to histogram resolution).
        assert!(
            (r.get(M::LatencyMean) - 11.0).abs() < 1e-9,
            "{}",
            r.get(M::LatencyMean)
        );
        assert!((r.get(M::LatencyMax) - 11.0).abs() < 11.0 * 1e-3);
        assert_eq!(r.get(M::WaitMean), 0.0);
    }
}

/// Common random numbers: arrivals, classes and service draws come from their own streams,
/// so every algorithm of a comparison sees exactly the same requests.
#[test]
fn every_algorithm_sees_the_same_arrivals() {
    let issued: Vec<Vec<f64>> = ["round-robin", "least-connections", "random", "power-of-two"]
        .iter()
        .map(|alg| {
            let set = format!("balancer.algorithm={alg}");
            let s = crate::support::load(
                "quick-start",
                &["scenario.duration=20s", "scenario.replications=3", &set],
            );
            values(&run(&s), M::Issued)
        })
        .collect();
    assert!(issued.windows(2).all(|w| w[0] == w[1]), "{issued:?}");
    // And replications differ from each other.
    assert_ne!(issued[0][0], issued[0][1]);
}
