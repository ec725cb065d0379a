//! Failures, timeouts and retries: each failure mode does what it says, the books balance
//! through all of them, and retries mask failures at the cost of extra attempts.

use lblab::metrics::M;

use crate::support::{parse, run, values};

/// Four round-robin servers at 200 req/s; `failure` is appended as a [[failures]] entry and
/// `extra` anywhere after it.
fn scenario(failure: &str, extra: &str) -> String {
    format!(
        r#"
        [scenario]
        duration = "60s"
        warmup = "5s"
        replications = 3
        [clients]
        rate = "200/s"
        timeout = "2s"
        [[classes]]
        service = {{ dist = "exponential", mean = "10ms" }}
        [[servers]]
        name = "web"
        count = 4
        slots = 4
        [[failures]]
        target = "web-2"
        {failure}
        {extra}
        "#
    )
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Round robin keeps sending a quarter of the requests to the dead server for the 20 s it
/// is down: about 200 · 20 / 4 = 1,000 failures, of the kind the failure produces. Each
/// replication's count is Poisson-like around 1,000 (sd ≈ 32); 5 sd = 160.
#[test]
fn each_failure_mode_fails_requests_its_own_way() {
    let cases: [(&str, M, f64); 5] = [
        ("kind = \"crash\"", M::ErrorsRefused, 1000.0),
        ("kind = \"hang\"", M::ErrorsTimeout, 1000.0),
        ("kind = \"partition\"", M::ErrorsTimeout, 1000.0),
        ("kind = \"errors\"\nrate = 0.5", M::ErrorsServer, 500.0),
        (
            "kind = \"flap\"\nup = \"2s\"\ndown = \"1s\"",
            M::ErrorsRefused,
            1000.0 / 3.0,
        ),
    ];
    for (kind, metric, expected) in cases {
        let s = parse(&scenario(
            &format!("{kind}\nat = \"20s\"\nduration = \"20s\""),
            "",
        ))
        .unwrap();
        let a = run(&s);
        for (errors, by_cause) in values(&a, M::Errors).iter().zip(values(&a, metric)) {
            assert_eq!(
                *errors, by_cause,
                "{kind}: every error is of the expected cause"
            );
            assert!(
                (by_cause - expected).abs() < 5.0 * expected.sqrt(),
                "{kind}: {by_cause} errors, expected about {expected}"
            );
        }
    }
}

/// A slow server (gray failure) fails nothing by itself, but its latency shows.
#[test]
fn a_slow_server_hurts_the_tail() {
    let base = run(&parse(&scenario("kind = \"slow\"\nfactor = 1.0\nat = \"20s\"", "")).unwrap());
    let slow = run(&parse(&scenario("kind = \"slow\"\nfactor = 5.0\nat = \"20s\"", "")).unwrap());
    let (p99_base, p99_slow) = (
        mean(&values(&base, M::LatencyP99)),
        mean(&values(&slow, M::LatencyP99)),
    );
    assert!(p99_slow > 3.0 * p99_base, "{p99_base} → {p99_slow}");
    assert_eq!(mean(&values(&slow, M::Errors)), 0.0);
}

/// Draining: no new requests, in-flight ones finish within the deregistration delay:
/// nothing fails; the server takes no traffic while drained.
#[test]
fn draining_loses_nothing() {
    let a = run(&parse(&scenario(
        "kind = \"drain\"\ndelay = \"5s\"\nat = \"20s\"\nduration = \"20s\"",
        "",
    ))
    .unwrap());
    assert_eq!(mean(&values(&a, M::Errors)), 0.0);
    for r in &a.reps {
        let drained = r
            .servers
            .iter()
            .find(|s| s.name == "web-2")
            .unwrap()
            .requests as f64;
        let other = r
            .servers
            .iter()
            .find(|s| s.name == "web-1")
            .unwrap()
            .requests as f64;
        // Out of rotation for 20 of the 55 measured seconds, while the other three take a
        // third each instead of a quarter: 35·50 / (35·50 + 20·200/3) = 0.5676. Counts of
        // ~1,750 and ~3,080 have sd ≈ 42 and 55: the ratio's 5 sd ≈ 0.03.
        let expected = 35.0 * 50.0 / (35.0 * 50.0 + 20.0 * 200.0 / 3.0);
        assert!(
            (drained / other - expected).abs() < 0.03,
            "{drained} vs {other}"
        );
    }
}

/// One retry on refused connections masks a crash completely; the price is the extra
/// attempts: with round robin the dead server also gets a quarter of all attempts during
/// the crash, so the retries r solve r = (4000 + r)/4, i.e. r ≈ 1,333.
#[test]
fn retries_mask_a_crash() {
    let a = run(&parse(&scenario(
        "kind = \"crash\"\nat = \"20s\"\nduration = \"20s\"",
        "[lb]\nretries = 1",
    ))
    .unwrap());
    for r in &a.reps {
        assert_eq!(r.get(M::Errors), 0.0);
        let retries = r.get(M::Retries);
        assert!((retries - 1333.0).abs() < 5.0 * 1333f64.sqrt(), "{retries}");
        assert!((r.get(M::Attempts) - (1.0 + retries / r.get(M::Issued))).abs() < 1e-9);
    }
    // Without a retry policy for refused connections, the crash shows.
    let no = run(&parse(&scenario(
        "kind = \"crash\"\nat = \"20s\"\nduration = \"20s\"",
        "[lb]\nretries = 1\nretry_on = [\"timeout\"]",
    ))
    .unwrap());
    assert!(mean(&values(&no, M::ErrorsRefused)) > 800.0);
}

/// A black hole costs the upstream timeout before the retry: no errors, but the tail grows
/// to just above the timeout.
#[test]
fn an_upstream_timeout_and_a_retry_mask_a_hang() {
    let a = run(&parse(&scenario(
        "kind = \"hang\"\nat = \"20s\"\nduration = \"20s\"",
        "[lb]\nretries = 1\nupstream_timeout = \"500ms\"",
    ))
    .unwrap());
    for r in &a.reps {
        assert_eq!(r.get(M::Errors), 0.0);
        let p99 = r.get(M::LatencyP99);
        assert!(p99 > 500.0 && p99 < 600.0, "{p99}");
    }
    // Without a retry the upstream timeout turns each into a 504.
    let b = run(&parse(&scenario(
        "kind = \"hang\"\nat = \"20s\"\nduration = \"20s\"",
        "[lb]\nupstream_timeout = \"500ms\"",
    ))
    .unwrap());
    let t = mean(&values(&b, M::ErrorsUpstreamTimeout));
    assert!((t - 1000.0).abs() < 160.0, "{t}");
}

/// Random failures: a server is down MTTR/(MTBF + MTTR) of the time, so round robin fails
/// that share of a quarter of the requests.
#[test]
fn random_failures_match_their_availability() {
    let s = parse(&scenario(
        "kind = \"crash\"\nmtbf = { dist = \"exponential\", mean = \"9s\" }\nmttr = { dist = \"exponential\", mean = \"1s\" }",
        "",
    )
    .replace("duration = \"60s\"", "duration = \"600s\"")
    .replace("replications = 3", "replications = 10"))
    .unwrap();
    let a = run(&s);
    let frac: Vec<f64> = a
        .reps
        .iter()
        .map(|r| r.get(M::Errors) / r.get(M::Issued))
        .collect();
    // Expected 0.25 · 1/10 = 0.025. Over 595 s there are ~60 up/down cycles per replication,
    // so the down share per replication has sd ≈ 0.1·sqrt(2/60) ≈ 0.018 relative to 0.1
    // (exponential cycles); the mean of 10 replications has sd ≈ 0.25·0.018/sqrt(10)
    // ≈ 0.0015; 5 sd ≈ 0.0073.
    let m = mean(&frac);
    assert!((m - 0.025).abs() < 0.0073, "{m}");
}

/// An overloaded tier with retries on 5xx and timeouts but no budget amplifies the load; a
/// retry budget caps the amplification.
#[test]
fn a_retry_budget_stops_a_retry_storm() {
    let storm = |budget: &str| {
        let s = parse(&format!(
            r#"
            [scenario]
            duration = "30s"
            warmup = "5s"
            replications = 2
            [clients]
            rate = "500/s"
            timeout = "1s"
            [[classes]]
            service = {{ dist = "exponential", mean = "10ms" }}
            [[servers]]
            count = 4
            slots = 1
            queue = 20
            [lb]
            retries = 3
            retry_on = ["refused", "timeout", "5xx"]
            upstream_timeout = "200ms"
            {budget}
            "#
        ))
        .unwrap();
        mean(&values(&run(&s), M::Attempts))
    };
    let (unbounded, budgeted) = (
        storm(""),
        storm("retry_budget = { percent = 20, min_concurrency = 3 }"),
    );
    // Capacity is 400/s for 500/s offered: every attempt beyond the first is amplification.
    assert!(
        unbounded > 1.5,
        "retries without a budget amplify: {unbounded}"
    );
    // Retries in flight may not exceed 20% of the requests waiting: the amplification falls
    // to a small fraction of the unbudgeted one.
    assert!(
        budgeted - 1.0 < 0.25 * (unbounded - 1.0),
        "budget caps retries: {budgeted} vs {unbounded}"
    );
}

/// The per-server series count every answer a server sends, in the bucket it is sent: with
/// no network delay and no retries a server's answer is its client's at the same instant,
/// so in every bucket the servers' answers add up to the summary's completions and errors,
/// and only the failing server's error answers, only while it fails, are errors.
#[test]
fn per_server_series_count_every_answer_in_its_bucket() {
    let s = parse(&scenario(
        "kind = \"errors\"\nrate = 0.5\nat = \"20s\"\nduration = \"20s\"",
        "",
    ))
    .unwrap();
    let a = run(&s);
    for r in &a.reps {
        let series: Vec<_> = r.server_series.rows().collect();
        assert_eq!(series.len(), r.timeseries.len() * 4);
        for (b, bucket) in r.timeseries.iter().enumerate() {
            let w = bucket.width_s;
            let rows = &series[b * 4..(b + 1) * 4];
            let answers: f64 = rows.iter().map(|x| x.answers_per_s * w).sum();
            let errors: f64 = rows
                .iter()
                .filter(|x| x.answers_per_s > 0.0)
                .map(|x| x.answers_per_s * w * x.error_rate_pct / 100.0)
                .sum();
            let done = (bucket.throughput_rps + bucket.errors_per_s) * w;
            assert!(
                (answers - done).abs() < 1e-6,
                "bucket {b}: {answers} vs {done}"
            );
            assert!(
                (errors - bucket.errors_per_s * w).abs() < 1e-6,
                "bucket {b}: {errors}"
            );
            for x in rows {
                let failing = x.server == 1 && (20.0..40.0).contains(&bucket.t_s);
                if !failing && x.answers_per_s > 0.0 {
                    assert_eq!(x.error_rate_pct, 0.0, "{x:?}");
                }
            }
        }
        // Half of web-2's answers while it fails are errors (≈ 1,000 answers: 5 sd ≈ 0.08).
        let failing: Vec<_> = series
            .iter()
            .filter(|x| x.server == 1 && (20.0..40.0).contains(&x.t_s))
            .collect();
        let sent: f64 = failing.iter().map(|x| x.answers_per_s * x.width_s).sum();
        let bad: f64 = failing
            .iter()
            .map(|x| x.answers_per_s * x.width_s * x.error_rate_pct / 100.0)
            .sum();
        assert!((bad / sent - 0.5).abs() < 0.08, "{bad} of {sent}");
    }
}
