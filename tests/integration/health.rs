//! Health checking in the world: detection and recovery times fall inside the analytic
//! bounds of lb-semantics §3–4, check types see what they can see, outlier detection keeps
//! Envoy's limits, and panic mode routes to everyone.

use lblab::metrics::M;

use crate::support::{parse, run, values};

/// Four servers; `web-2` fails at 20.3 s for 20 s; `health` is the [health…] section.
fn scenario(failure: &str, health: &str, reps: u32) -> String {
    format!(
        r#"
        [scenario]
        duration = "60s"
        warmup = "5s"
        replications = {reps}
        [clients]
        rate = "100/s"
        timeout = "2s"
        [[classes]]
        service = {{ dist = "exponential", mean = "10ms" }}
        [[servers]]
        name = "web"
        count = 4
        slots = 4
        [[failures]]
        target = "web-2"
        at = "20.3s"
        duration = "20s"
        {failure}
        {health}
        "#
    )
}

/// Detection and recovery delays of every replication (the first check's phase is random
/// per replication, so replications sweep the failure's phase against the check timer).
fn delays(toml: &str) -> (Vec<f64>, Vec<f64>) {
    let a = run(&parse(toml).unwrap());
    let rows: Vec<_> = a.reps.iter().flat_map(|r| r.failovers.clone()).collect();
    (
        rows.iter().map(|f| f.detected_s - f.fault_s).collect(),
        rows.iter().map(|f| f.recovered_s - f.repair_s).collect(),
    )
}

fn within(xs: &[f64], lo: f64, hi: f64, what: &str) {
    assert!(!xs.is_empty());
    for &x in xs {
        // Probes answer in ~0 here (no network delay); allow 1 µs of rounding.
        assert!(
            x > lo - 1e-6 && x <= hi + 1e-6,
            "{what}: {x} not in ({lo}, {hi}]: {xs:?}"
        );
    }
}

/// HAProxy `inter 1s fall 3` (rise 2): a crash that refuses connections is marked DOWN 2–3 s
/// after it happens, and back UP 1–2 s after repair (T_down ∈ [(fall−1)·inter,
/// inter + (fall−1)·inter], T_up ∈ [(rise−1)·inter, inter + (rise−1)·inter]).
#[test]
fn haproxy_detection_falls_in_its_window() {
    let (down, up) = delays(&scenario(
        "kind = \"crash\"",
        "[health.active]\nstyle = \"haproxy\"\ninter = \"1s\"\nfall = 3\nrise = 2",
        40,
    ));
    within(&down, 2.0, 3.0, "DOWN");
    within(&up, 1.0, 2.0, "UP");
    // The sweep reaches both ends of the window.
    let (mn, mx) = (
        down.iter().cloned().fold(f64::MAX, f64::min),
        down.iter().cloned().fold(0.0, f64::max),
    );
    assert!(mn < 2.15 && mx > 2.85, "{mn} .. {mx}");
}

/// The issue's second case: `inter 2s fastinter 500ms downinter 5s fall 2 rise 3`: DOWN in
/// (0.5 s, 2.5 s], UP in (1 s, 6 s].
#[test]
fn haproxy_fastinter_and_downinter_windows() {
    let h = "[health.active]\nstyle = \"haproxy\"\ninter = \"2s\"\nfastinter = \"500ms\"\ndowninter = \"5s\"\nfall = 2\nrise = 3";
    let (down, up) = delays(&scenario("kind = \"crash\"", h, 40));
    within(&down, 0.5, 2.5, "DOWN");
    within(&up, 1.0, 6.0, "UP");
}

/// A black hole with no `timeout check`: each check waits `inter` to time out, so with the
/// defaults (inter 2 s, fall 3) it takes 10–12 s (§3).
#[test]
fn a_black_hole_takes_longer_to_detect() {
    let (down, _) = delays(&scenario(
        "kind = \"partition\"",
        "[health.active]\nstyle = \"haproxy\"\ncheck = \"http\"",
        20,
    ));
    within(&down, 10.0, 12.0, "DOWN");
}

/// Envoy, interval 5 s, thresholds 3/2 (its defaults here), connect refused: unhealthy
/// 10–15 s after death; recovery 5–10 s (§4).
#[test]
fn envoy_detection_falls_in_its_window() {
    let (down, up) = delays(&scenario(
        "kind = \"crash\"",
        "[health.active]\nstyle = \"envoy\"\ninterval = \"5s\"\nunhealthy_threshold = 3\nhealthy_threshold = 2\ntimeout = \"1s\"",
        30,
    ));
    within(&down, 10.0, 15.0, "unhealthy");
    within(&up, 5.0, 10.0, "healthy");
}

/// A TCP check passes on a server that answers 5xx (the kernel accepts); an HTTP check
/// fails it. Likewise for a hung process.
#[test]
fn tcp_checks_miss_what_http_checks_catch() {
    for failure in ["kind = \"errors\"\nrate = 1.0", "kind = \"hang\""] {
        let tcp = delays(&scenario(
            failure,
            "[health.active]\ncheck = \"tcp\"\ninter = \"1s\"",
            3,
        ))
        .0;
        assert!(
            tcp.iter().all(|d| d.is_nan()),
            "{failure}: tcp never detects: {tcp:?}"
        );
        let http = delays(&scenario(
            failure,
            "[health.active]\ncheck = \"http\"\ninter = \"1s\"\ntimeout = \"500ms\"",
            3,
        ))
        .0;
        assert!(
            http.iter().all(|d| d.is_finite() && *d < 5.0),
            "{failure}: http detects: {http:?}"
        );
    }
}

/// Envoy outlier detection with 5 hosts and the default max_ejection_percent of 10%: one
/// ejection would be 20% > 10%, so nothing is ejected (since Envoy 1.27) — unless
/// `always_eject_one_host`.
#[test]
fn outlier_detection_respects_max_ejection_percent() {
    let five = |extra: &str| {
        scenario(
            "kind = \"errors\"\nrate = 1.0\nstatus = 500",
            &format!("[health.passive]\nmode = \"outlier\"\ninterval = \"1s\"\n{extra}"),
            2,
        )
        .replace("count = 4", "count = 5")
    };
    let none = run(&parse(&five("")).unwrap());
    assert!(
        none.reps.iter().all(|r| r.health.is_empty()),
        "nothing ejected with 5 hosts at 10%"
    );
    let one = run(&parse(&five("always_eject_one_host = true")).unwrap());
    for r in &one.reps {
        assert!(
            r.health
                .iter()
                .any(|h| h.state == "down" && h.cause == "outlier" && h.server == "web-2"),
            "{:?}",
            r.health
        );
        // Once ejected (5 consecutive 5xx), far fewer requests hit the bad server.
        assert!(r.get(M::Errors) < 0.2 * r.get(M::Issued) / 5.0);
    }
}

/// Envoy panic threshold 50%: with 3 of 4 servers down (25% healthy) the load balancer
/// balances over all of them, down ones included; without it, only over the healthy one.
#[test]
fn panic_mode_routes_to_everyone() {
    let s = |panic: &str| {
        scenario(
            "kind = \"crash\"",
            &format!("[health.active]\ninter = \"1s\"\n[health]\npanic_threshold = {panic}"),
            2,
        )
        .replace(
            "target = \"web-2\"",
            "target = [\"web-1\", \"web-2\", \"web-3\"]",
        )
    };
    let calm = run(&parse(&s("0")).unwrap());
    let panic = run(&parse(&s("50")).unwrap());
    let (c, p) = (
        values(&calm, M::ErrorsRefused),
        values(&panic, M::ErrorsRefused),
    );
    for (c, p) in c.iter().zip(&p) {
        // Without panic, errors stop at detection (~3 s of 20 s); in panic they go on.
        assert!(*p > 4.0 * c, "panic {p} vs no panic {c}");
    }
}

/// A noisy network (5% probe loss) with an aggressive `fall 1` ejects healthy servers;
/// the default `fall 3` does not in this run.
#[test]
fn aggressive_checks_flap_on_a_noisy_network() {
    let noisy = |fall: u32| {
        let s = scenario(
            "kind = \"slow\"\nfactor = 1.0",
            &format!("[health.active]\ninter = \"500ms\"\nfall = {fall}\nloss = 0.05"),
            2,
        );
        values(&run(&parse(&s).unwrap()), M::FalseEjections)
    };
    let (aggressive, relaxed) = (noisy(1), noisy(3));
    // fall 1: each lost probe ejects: ~0.05 × 2 probes/s × 60 s × 4 servers ≈ 24 per run.
    assert!(aggressive.iter().all(|&x| x > 10.0), "{aggressive:?}");
    // fall 3 needs three consecutive losses: 0.05³ per probe ≈ 0.06 per run.
    assert!(relaxed.iter().all(|&x| x <= 1.0), "{relaxed:?}");
}

/// HAProxy slow start: after recovery a server's weight climbs from 1/16 to full over the
/// window (⌊(16t + S)/S⌋/16 per whole second t). Over a 10 s window its average factor is
/// (1+2+4+5+7+9+10+12+13+15)/160 = 0.4875, so at 25 req/s the returning server gets about
/// 10 · 25 · (1 − 0.4875) ≈ 128 fewer requests than without slow start.
#[test]
fn slow_start_ramps_a_recovered_server() {
    let web2 = |slow: &str| {
        let s = scenario(
            "kind = \"crash\"",
            &format!(
                "[health.active]\ninter = \"1s\"\n{slow}\n[balancer]\nalgorithm = \"weighted-round-robin\"\nmax_fails = 0"
            ),
            4,
        );
        let a = run(&parse(&s).unwrap());
        a.reps
            .iter()
            .map(|r| {
                r.servers
                    .iter()
                    .find(|s| s.name == "web-2")
                    .unwrap()
                    .requests as f64
            })
            .collect::<Vec<_>>()
    };
    let plain = web2("");
    let ramped = web2("[health.slow_start]\nwindow = \"10s\"\nstyle = \"haproxy\"");
    for (p, r) in plain.iter().zip(&ramped) {
        let deficit = p - r;
        // Same arrivals in both runs; smooth WRR turns weights into exact shares, so the
        // deficit is close to its expectation (the ramp's start is within the second).
        assert!(
            (deficit - 128.0).abs() < 30.0,
            "deficit {deficit} ({p} → {r})"
        );
    }
}

/// nginx's passive check (`max_fails = 1`, `fail_timeout = 10s`, the defaults of the nginx
/// algorithms) is visible like any other health decision: the first refused attempt to the
/// crashed server takes it out (a `passive` down in health.csv, the failure's detection in
/// failovers.csv), and a success after the 10 s trial window lets it back in (lb-semantics
/// §1). Before, none of this was recorded: detection was n/a and no health.csv was written.
#[test]
fn nginx_max_fails_ejections_are_health_changes() {
    let toml = scenario(
        r#"kind = "crash"
        [balancer]
        algorithm = "least-connections""#,
        "",
        3,
    );
    let a = run(&parse(&toml).unwrap());
    for r in &a.reps {
        let passive: Vec<_> = r.health.iter().filter(|h| h.cause == "passive").collect();
        let first = passive.first().expect("a passive ejection");
        assert_eq!((first.state, first.server.as_str()), ("down", "web-2"));
        assert!(!first.false_alarm);
        // Detected at the first refused attempt: at 100 req/s over 4 servers, within a
        // fraction of a second of the crash.
        let f = &r.failovers[0];
        assert!(
            f.detected_s >= f.fault_s && f.detected_s - f.fault_s < 0.5,
            "{f:?}"
        );
        assert_eq!(f.detected_s, first.at_s);
        // Back once a trial after the repair succeeds: within fail_timeout (whole
        // seconds) plus a request or so after the repair.
        let back = passive
            .iter()
            .find(|h| h.state == "up" && h.at_s >= f.repair_s)
            .expect("let back in after the repair");
        assert!(
            back.at_s - f.repair_s <= 11.5,
            "{back:?} vs repair {}",
            f.repair_s
        );
        assert_eq!(f.recovered_s, back.at_s);
    }
    // With max_fails = 0 there is nothing to see.
    let off = toml.replace(
        r#"algorithm = "least-connections""#,
        "algorithm = \"least-connections\"\nmax_fails = 0",
    );
    let a = run(&parse(&off).unwrap());
    assert!(a.reps.iter().all(|r| r.health.is_empty()));
    assert!(values(&a, M::DetectionMean).iter().all(|x| x.is_nan()));
}

/// A passive ejection of a server with no fault is a false ejection: an upstream timeout
/// shorter than the slow requests makes nginx count healthy servers as failed.
#[test]
fn nginx_max_fails_on_slow_requests_are_false_ejections() {
    let toml = r#"
        [scenario]
        duration = "30s"
        warmup = "2s"
        replications = 2
        [clients]
        rate = "50/s"
        [[classes]]
        service = { dist = "exponential", mean = "20ms" }
        [[servers]]
        name = "web"
        count = 4
        slots = 4
        [lb]
        upstream_timeout = "50ms"
        [balancer]
        algorithm = "weighted-round-robin"
    "#;
    let a = run(&parse(toml).unwrap());
    for r in &a.reps {
        let fe = r
            .health
            .iter()
            .filter(|h| h.cause == "passive" && h.state == "down" && h.false_alarm)
            .count();
        assert!(fe > 0, "no false passive ejection");
    }
    assert!(values(&a, M::FalseEjections).iter().all(|&x| x > 0.0));
}
