//! Every bundled scenario teaches what it says, at the settings it ships with: each test
//! runs exactly what `lblab compare scenarios/NAME.toml` runs (same variants, seed,
//! replications and run length) and checks the direction of the lesson its description
//! and comments state. The textbook scenarios (mm1-random, mmc, md1, supermarket) are
//! checked against their closed forms at their shipped settings in `theory.rs`.
//!
//! Each comparison must also hold everything but the compared factor equal: the planner
//! adds a note when variants differ in anything else, and a bundled scenario has none.

use std::collections::BTreeMap;

use lblab::engine::SeedTree;
use lblab::metrics::{Aggregate, M};
use lblab::model::World;
use rayon::prelude::*;

use crate::support::root;

/// The variants of `lblab compare scenarios/<name>.toml` as shipped, run in full.
pub(crate) fn compare(name: &str) -> BTreeMap<String, Aggregate> {
    let path = root().join("scenarios").join(format!("{name}.toml"));
    let (s, variants, notes) =
        lblab::cli::variants::compare_variants(&path, &[], &[], None, &|_| {})
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    // A comparison of presets varies the preset, and says what the presets set
    // differently: that note is the comparison, not a hidden difference.
    assert!(
        notes.iter().all(|n| lblab::cli::variants::is_declared(n)),
        "{name}: the comparison should vary one thing only, but: {notes:?}"
    );
    let seeds = SeedTree::new(s.seed);
    let jobs: Vec<(usize, u32)> = (0..variants.len())
        .flat_map(|v| (0..s.replications).map(move |r| (v, r)))
        .collect();
    let results: Vec<_> = jobs
        .par_iter()
        .map(|&(v, r)| {
            World::new(&variants[v].world, &seeds, r)
                .run()
                .unwrap_or_else(|e| panic!("{name} {}: {e}", variants[v].label))
        })
        .collect();
    let mut out = BTreeMap::new();
    for (i, v) in variants.iter().enumerate() {
        let reps: Vec<_> = jobs
            .iter()
            .zip(&results)
            .filter(|((w, _), _)| *w == i)
            .map(|(_, r)| r.clone())
            .collect();
        out.insert(v.label.clone(), Aggregate::new(v.label.clone(), reps));
    }
    out
}

/// Mean of metric `m` over the replications where it is defined.
fn mean(a: &BTreeMap<String, Aggregate>, label: &str, m: M) -> f64 {
    let agg = a
        .get(label)
        .unwrap_or_else(|| panic!("no variant {label}: {:?}", a.keys().collect::<Vec<_>>()));
    let xs: Vec<f64> = agg
        .reps
        .iter()
        .map(|r| r.get(m))
        .filter(|x| x.is_finite())
        .collect();
    if xs.is_empty() {
        f64::NAN
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Asserts `a > factor · b`, with the numbers in the message.
fn above(what: &str, a: f64, factor: f64, b: f64) {
    assert!(
        a > factor * b,
        "{what}: {a:.4} is not above {factor} × {b:.4}"
    );
}

/// Replication by replication (common random numbers), `hi`'s metric is above `lo`'s.
fn paired_above(r: &BTreeMap<String, Aggregate>, m: M, hi: &str, lo: &str) {
    let (a, b) = (&r[hi], &r[lo]);
    for (x, y) in a.reps.iter().zip(&b.reps) {
        assert!(
            x.get(m) > y.get(m),
            "{m:?}: {hi} {} is not above {lo} {}",
            x.get(m),
            y.get(m)
        );
    }
}

#[test]
fn quick_start_load_aware_algorithms_cut_the_tail() {
    let r = compare("quick-start");
    let p99 = |l: &str| mean(&r, l, M::LatencyP99);
    paired_above(&r, M::LatencyP99, "round-robin", "least-connections");
    paired_above(&r, M::LatencyP99, "random", "power-of-two");
    above(
        "p99 round-robin vs least-connections",
        p99("round-robin"),
        1.15,
        p99("least-connections"),
    );
    above(
        "p99 random vs power-of-two",
        p99("random"),
        1.15,
        p99("power-of-two"),
    );
}

#[test]
fn slow_query_least_connections_routes_around_the_stuck_backend() {
    let r = compare("slow-query");
    let p99 = |l: &str| mean(&r, l, M::LatencyP99);
    // Round robin's p99 is the 10 s query's queue; least-connections' is tens of ms.
    above(
        "p99 round-robin vs least-connections",
        p99("round-robin"),
        50.0,
        p99("least-connections"),
    );
    above(
        "p99 random vs power-of-two",
        p99("random"),
        20.0,
        p99("power-of-two"),
    );
}

#[test]
fn heterogeneous_weights_or_load_awareness_spare_the_slow_servers() {
    let r = compare("heterogeneous");
    let p99 = |l: &str| mean(&r, l, M::LatencyP99);
    let rr = p99("round-robin");
    for l in [
        "weighted-round-robin",
        "least-connections",
        "weighted-least-connections",
    ] {
        above(&format!("p99 round-robin vs {l}"), rr, 2.0, p99(l));
    }
    // Plain round robin overloads the old servers: they reject.
    assert!(mean(&r, "round-robin", M::ErrorsRejected) > 0.0);
    assert_eq!(mean(&r, "weighted-round-robin", M::ErrorsRejected), 0.0);
}

#[test]
fn half_speed_latency_aware_beats_counting_and_fastest_herds() {
    let r = compare("half-speed");
    let p99 = |l: &str| mean(&r, l, M::LatencyP99);
    above(
        "p99 weighted-least-connections vs peak-ewma",
        p99("weighted-least-connections"),
        1.0,
        p99("peak-ewma"),
    );
    above(
        "p99 least-response-time (herds) vs least-response-time-conns",
        p99("least-response-time"),
        2.0,
        p99("least-response-time-conns"),
    );
}

#[test]
fn herding_stale_reports_make_least_connections_herd() {
    let r = compare("herding");
    let p99 = |l: &str| mean(&r, l, M::LatencyP99);
    above(
        "p99 least-connections vs power-of-two",
        p99("least-connections"),
        5.0,
        p99("power-of-two"),
    );
}

#[test]
fn nat_skew_ip_hash_overloads_one_server() {
    let r = compare("nat-skew");
    let imb = |l: &str| mean(&r, l, M::ReqMaxMean);
    above(
        "imbalance ip-hash vs least-connections",
        imb("ip-hash"),
        1.5,
        imb("least-connections"),
    );
    above(
        "imbalance ip-hash vs chash-bounded(ip)",
        imb("ip-hash"),
        1.3,
        imb("chash-bounded(ip)"),
    );
}

#[test]
fn cache_tier_hashing_on_the_key_shards_the_cache() {
    let r = compare("cache-tier");
    let hit = |l: &str| mean(&r, l, M::CacheHitRatio);
    for l in ["hash", "ketama", "maglev", "rendezvous"] {
        above(
            &format!("hit ratio {l} vs round-robin"),
            hit(l),
            1.3,
            hit("round-robin"),
        );
        assert!(hit(l) > 85.0, "{l} hit ratio {}", hit(l));
    }
}

#[test]
fn scale_out_modulo_hashing_remaps_most_keys() {
    let r = compare("scale-out");
    let moved = |l: &str| mean(&r, l, M::KeysRemapped);
    assert!(moved("hash") > 60.0, "hash moved {}", moved("hash"));
    for l in ["ketama", "maglev", "rendezvous", "haproxy-consistent"] {
        assert!(moved(l) < 30.0, "{l} moved {}", moved(l));
    }
}

#[test]
fn sessions_stickiness_keeps_server_side_state() {
    let r = compare("sessions");
    let sticky = r
        .keys()
        .find(|k| k.starts_with("sticky"))
        .expect("a sticky variant")
        .clone();
    above(
        "sessions lost without stickiness vs with",
        mean(&r, "least-connections", M::SessionsLost),
        5.0,
        mean(&r, &sticky, M::SessionsLost),
    );
}

#[test]
fn l7_routing_load_aware_api_pool_beats_round_robin() {
    let r = compare("l7-routing");
    let p99 = |l: &str| mean(&r, l, M::LatencyP99);
    above(
        "p99 round-robin vs least-connections",
        p99("round-robin"),
        1.2,
        p99("least-connections"),
    );
}

#[test]
fn availability_least_connections_is_drawn_to_crashed_servers() {
    let r = compare("availability");
    let err = |l: &str| mean(&r, l, M::ErrorRate);
    above(
        "errors least-connections vs round-robin",
        err("least-connections"),
        5.0,
        err("round-robin"),
    );
    above(
        "errors least-connections vs power-of-two",
        err("least-connections"),
        5.0,
        err("power-of-two"),
    );
    above(
        "attempts sent to failed servers",
        mean(&r, "least-connections", M::SentToFailed),
        1.5,
        mean(&r, "round-robin", M::SentToFailed),
    );
}

#[test]
fn crash_failover_short_intervals_detect_sooner_and_eject_more() {
    let r = compare("crash-failover");
    let fast = "health.active.inter=250ms";
    let slow = "health.active.inter=5s";
    above(
        "detection 5s vs 250ms",
        mean(&r, slow, M::DetectionMean),
        5.0,
        mean(&r, fast, M::DetectionMean),
    );
    above(
        "sent to the dead server",
        mean(&r, slow, M::SentToFailed),
        5.0,
        mean(&r, fast, M::SentToFailed),
    );
    above(
        "false ejections 250ms vs 5s",
        mean(&r, fast, M::FalseEjections),
        5.0,
        mean(&r, slow, M::FalseEjections),
    );
    // The trade-off is monotone across the four intervals.
    let fe: Vec<f64> = ["250ms", "1s", "2s", "5s"]
        .iter()
        .map(|i| mean(&r, &format!("health.active.inter={i}"), M::FalseEjections))
        .collect();
    assert!(
        fe.windows(2).all(|w| w[0] >= w[1]),
        "false ejections {fe:?}"
    );
}

#[test]
fn deploy_drain_loses_nothing_where_a_crash_resets() {
    let r = compare("deploy-drain");
    assert!(mean(&r, "failures.0.kind=crash", M::Errors) > 0.0);
    assert_eq!(mean(&r, "failures.0.kind=drain", M::Errors), 0.0);
}

#[test]
fn gray_failure_tcp_checks_never_notice_http_checks_do() {
    let r = compare("gray-failure");
    assert!(mean(&r, "health.active.check=tcp", M::DetectionMean).is_nan());
    assert!(mean(&r, "health.active.check=http", M::DetectionMean).is_finite());
}

#[test]
fn retry_storm_retries_without_a_budget_amplify_and_cost_goodput() {
    let r = compare("retry-storm");
    let att = |l: &str| mean(&r, &format!("lb.retries={l}"), M::Attempts);
    let thr = |l: &str| mean(&r, &format!("lb.retries={l}"), M::Throughput);
    assert!(
        att("0") == 1.0 && att("1") > 1.3 && att("3") > 2.5,
        "attempts {} {} {}",
        att("0"),
        att("1"),
        att("3")
    );
    above("goodput without retries vs three", thr("0"), 1.1, thr("3"));
}

#[test]
fn lb_failover_outage_ranks_the_topologies() {
    let r = compare("lb-failover");
    let out = |t: &str| mean(&r, &format!("lb.topology={t}"), M::LbOutageMean);
    let (single, vrrp, dns, anycast) = (
        out("single"),
        out("active-passive"),
        out("active-active-dns"),
        out("anycast"),
    );
    assert!(
        single > dns && dns > 5.0 * vrrp && vrrp > anycast,
        "outage single {single} dns {dns} vrrp {vrrp} anycast {anycast}"
    );
}

#[test]
fn lb_capacity_one_active_node_collapses() {
    let r = compare("lb-capacity");
    let cpu = |t: &str| mean(&r, &format!("lb.topology={t}"), M::LbCpuUtil);
    let p99 = |t: &str| mean(&r, &format!("lb.topology={t}"), M::LatencyP99);
    assert!(
        cpu("active-passive") > 95.0,
        "active-passive cpu {}",
        cpu("active-passive")
    );
    for t in ["active-active-dns", "anycast"] {
        assert!(cpu(t) < 85.0, "{t} cpu {}", cpu(t));
        above(
            &format!("p99 active-passive vs {t}"),
            p99("active-passive"),
            10.0,
            p99(t),
        );
    }
}

/// The textbook queues' comparisons: the mean wait at three loads against the closed form
/// (the `WaitMean` of every replication, with the derived tolerance of `theory.rs`).
fn waits_match(name: &str, theory: &[(&str, f64)]) {
    let r = compare(name);
    let mut last = 0.0;
    for (label, w) in theory {
        let xs = crate::support::values(&r[*label], M::WaitMean);
        // Milliseconds in the results; 0.1% histogram resolution as the stated bias.
        let xs: Vec<f64> = xs.iter().map(|x| x / 1000.0).collect();
        let e = crate::support::assert_matches(&format!("{name} {label}"), &xs, *w, 0.001 * w, 0.1);
        assert!(e.mean > last, "{name}: the wait grows with the load");
        last = e.mean;
    }
}

#[test]
fn md1_wait_follows_pollaczek_khinchine() {
    // W_q = rho / (2 mu (1 - rho)) with mu = 1/s.
    let pk = |rho: f64| rho / (2.0 * (1.0 - rho));
    waits_match(
        "md1",
        &[
            ("clients.rate=0.5/s", pk(0.5)),
            ("clients.rate=0.8/s", pk(0.8)),
            ("clients.rate=0.9/s", pk(0.9)),
        ],
    );
}

#[test]
fn mmc_wait_follows_erlang_c() {
    // M/M/4, mu = 1/s: W_q = C(4, a) / (4 - a) with a = lambda.
    let wq = |a: f64| {
        let fact = |k: u32| (1..=k).map(f64::from).product::<f64>();
        let head: f64 = (0..4).map(|k| a.powi(k as i32) / fact(k)).sum();
        let top = a.powi(4) / fact(4) / (1.0 - a / 4.0);
        top / (head + top) / (4.0 - a)
    };
    waits_match(
        "mmc",
        &[
            ("clients.rate=2/s", wq(2.0)),
            ("clients.rate=3.2/s", wq(3.2)),
            ("clients.rate=3.6/s", wq(3.6)),
        ],
    );
}

#[test]
fn identical_servers_round_robin_is_the_right_answer() {
    let r = compare("identical");
    for other in ["random", "least-connections", "power-of-two"] {
        paired_above(&r, M::LatencyMean, other, "round-robin");
    }
    above(
        "mean latency random vs round-robin",
        mean(&r, "random", M::LatencyMean),
        2.0,
        mean(&r, "round-robin", M::LatencyMean),
    );
}

#[test]
fn ha_basics_one_server_is_an_outage_three_are_not() {
    let r = compare("ha-basics");
    let err = |n: &str| mean(&r, &format!("servers.app.count={n}"), M::ErrorRate);
    // One server down for 60 s of the 170 s measured: about 35% of requests fail.
    assert!((30.0..40.0).contains(&err("1")), "one server: {}", err("1"));
    assert!(err("3") < 0.1, "three servers: {}", err("3"));
}

/// `a`'s confidence interval for `m` lies wholly above `b`'s.
fn ci_above(r: &BTreeMap<String, Aggregate>, m: M, a: &str, b: &str) {
    let (x, y) = (&r[a].metrics[m as usize], &r[b].metrics[m as usize]);
    assert!(
        x.lo() > y.hi(),
        "{m:?}: {a} [{:.4}, {:.4}] is not above {b} [{:.4}, {:.4}]",
        x.lo(),
        x.hi(),
        y.lo(),
        y.hi()
    );
}

#[test]
fn canary_a_low_weight_limits_a_bad_builds_errors() {
    let r = compare("canary");
    let (low, full) = ("servers.canary.weight=1", "servers.canary.weight=10");
    ci_above(&r, M::ErrorRate, full, low);
    paired_above(&r, M::ErrorRate, full, low);
    // At full weight the canary serves 10% of the requests and fails 10% of those: 1%.
    let e = mean(&r, full, M::ErrorRate);
    assert!((0.9..1.1).contains(&e), "full weight: {e}%");
    // At weight 1 of 91 until 240 s, then 10 of 100: (240/91 + 60/10)/300 × 10% ≈ 0.29%.
    let e = mean(&r, low, M::ErrorRate);
    assert!(
        (0.25..0.33).contains(&e),
        "low weight, raised at 240 s: {e}%"
    );
}

#[test]
fn chat_least_connections_keeps_long_connections_level() {
    let r = compare("chat");
    for worse in ["round-robin", "random"] {
        ci_above(&r, M::ErrorRate, worse, "least-connections");
        ci_above(&r, M::BusyMaxMean, worse, "least-connections");
    }
    above(
        "refused connections round-robin vs least-connections",
        mean(&r, "round-robin", M::ErrorRate),
        4.0,
        mean(&r, "least-connections", M::ErrorRate),
    );
}

#[test]
fn user_cache_hashing_the_client_keeps_each_users_data_in_one_cache() {
    let r = compare("user-cache");
    for hashed in ["ip-hash", "consistent-hash"] {
        for spread in ["round-robin", "least-connections"] {
            ci_above(&r, M::CacheHitRatio, hashed, spread);
            ci_above(&r, M::LatencyMean, spread, hashed);
            ci_above(&r, M::LatencyP99, spread, hashed);
        }
        assert!(mean(&r, hashed, M::CacheHitRatio) > 95.0);
    }
    // Spread over eight caches of 600, the 4,000 users mostly miss.
    assert!(mean(&r, "round-robin", M::CacheHitRatio) < 50.0);
}

#[test]
fn game_layer_4_forwards_cheaply_layer_7_queues_every_message() {
    let r = compare("game");
    let (l4, l7) = ("lb.layer=l4", "lb.layer=l7");
    for m in [M::LatencyP50, M::LatencyMean, M::LatencyP99] {
        ci_above(&r, m, l7, l4);
    }
    // One core at 38,000 messages per second: 5 µs each is 19%, 25 µs is 95%.
    let cpu = |l: &str| mean(&r, l, M::LbCpuUtil);
    assert!((18.0..20.0).contains(&cpu(l4)), "l4 cpu {}", cpu(l4));
    assert!((93.0..97.0).contains(&cpu(l7)), "l7 cpu {}", cpu(l7));
}

/// Every bundled scenario has its lesson checked: here, in `lessons_conn.rs` or in
/// `lessons_configs.rs`
/// (`compare("NAME")`), or, for the textbook queues, against theory in `theory.rs`.
#[test]
fn every_bundled_scenario_has_a_lesson_test() {
    let here = [
        include_str!("lessons.rs"),
        include_str!("lessons_conn.rs"),
        include_str!("lessons_configs.rs"),
    ]
    .concat();
    let theory = include_str!("theory.rs");
    for name in lblab::scenario::bundled::names() {
        let quoted = format!("\"{name}\"");
        assert!(
            here.contains(&format!("compare({quoted})"))
                || here.contains(&format!("waits_match({quoted}"))
                || theory.contains(&quoted),
            "bundled scenario {name} has no lesson test"
        );
    }
}

/// The estimate of column `c` of slice `name` (a service or class) in variant `label`.
fn slice_est(
    r: &BTreeMap<String, Aggregate>,
    label: &str,
    name: &str,
    c: lblab::metrics::slices::S,
) -> lblab::metrics::stats::Estimate {
    *r[label]
        .slices
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{label}: no slice {name}"))
        .get(c)
}

#[test]
fn three_tier_writes_queue_at_the_primary_reads_do_not() {
    use lblab::metrics::slices::S;
    let r = compare("three-tier");
    let (slow, fast) = ("servers.db-primary.speed=1", "servers.db-primary.speed=2");
    let p99 = |label, class| slice_est(&r, label, class, S::LatencyP99);
    // A twice-as-fast primary cuts the write tail more than twofold...
    let (ws, wf) = (p99(slow, "write"), p99(fast, "write"));
    assert!(
        ws.lo() > 2.0 * wf.hi(),
        "write p99: [{:.1}, {:.1}] vs [{:.1}, {:.1}] ms",
        ws.lo(),
        ws.hi(),
        wf.lo(),
        wf.hi()
    );
    // ...and leaves reads, which never touch it, where they were.
    let (rs, rf) = (p99(slow, "read"), p99(fast, "read"));
    assert!(
        (rs.mean / rf.mean - 1.0).abs() < 0.05,
        "read p99 {:.2} vs {:.2} ms",
        rs.mean,
        rf.mean
    );
    // Writes are the slow class, and the primary the busiest service, at the shipped speed.
    let rd = p99(slow, "read");
    assert!(ws.lo() > 3.0 * rd.hi(), "writes {ws:?} vs reads {rd:?}");
    let util = |svc| slice_est(&r, slow, svc, S::Utilization).mean;
    for other in ["web", "app", "db-replica"] {
        assert!(
            util("db-primary") > 3.0 * util(other),
            "db-primary {:.1}% vs {other} {:.1}%",
            util("db-primary"),
            util(other)
        );
    }
}

#[test]
fn session_store_outage_fails_every_shared_state_request_and_no_token_one() {
    let r = compare("session-store");
    let (shared, token) = ("sessions.state=shared", "sessions.state=token");
    // Redis is down 20 s of the 110 s measured: every request in that window fails under
    // shared state (18.2%), though all six web servers stay healthy...
    for rep in &r[shared].reps {
        let e = rep.get(M::ErrorRate);
        assert!((16.5..20.0).contains(&e), "shared: error rate {e:.2}%");
    }
    // ...and none does under tokens, which look nothing up.
    for rep in &r[token].reps {
        assert_eq!(rep.get(M::Errors), 0.0, "token: errors");
    }
    // The lookup is a round trip on every request: shared state is slower when all is well.
    paired_above(&r, M::LatencyP50, shared, token);
}

#[test]
fn readiness_cascade_deep_checks_turn_a_database_outage_into_a_site_outage() {
    use lblab::metrics::slices::S;
    let r = compare("readiness-cascade");
    let (shallow, deep) = (
        "health.active.depends=[]",
        r#"health.active.depends=["db", "redis", "payments"]"#,
    );
    // Deep checks fail more requests overall, confidence intervals apart...
    let err = |l| slice_est(&r, l, "web", S::ErrorRate);
    let (es, ed) = (err(shallow), err(deep));
    assert!(
        ed.lo() > es.hi(),
        "error rate deep {ed:?} vs shallow {es:?}"
    );
    // ...because every pod leaves rotation: the edge has no backend at all...
    assert_eq!(mean(&r, shallow, M::ErrorsNoBackend), 0.0);
    assert!(mean(&r, deep, M::ErrorsNoBackend) > 1000.0);
    // ...so carts, which never touch the database, fail too; with shallow checks none do.
    for rep in &r[shallow].reps {
        let cart = rep.slices.iter().find(|s| s.name == "cart").expect("cart");
        assert_eq!(cart.get(S::Errors), 0.0, "shallow: cart errors");
    }
    let cart = slice_est(&r, deep, "cart", S::ErrorRate);
    assert!(cart.lo() > 10.0, "deep: cart error rate {cart:?}");
    // Browsing needs the database either way: about the same share fails.
    let b = |l| slice_est(&r, l, "browse", S::ErrorRate).mean;
    assert!(
        (b(deep) / b(shallow) - 1.0).abs() < 0.15,
        "browse {:.1}% vs {:.1}%",
        b(deep),
        b(shallow)
    );
}

#[test]
fn api_gateway_a_call_timeout_keeps_one_slow_service_from_taking_every_route() {
    use lblab::metrics::slices::S;
    let r = compare("api-gateway");
    let (long, short) = (
        "classes.orders.calls.0.timeout=30s",
        "classes.orders.calls.0.timeout=250ms",
    );
    // Classes are named like the services they call: look the class rows up.
    let class_est = |l: &str, c: &str, col: S| {
        *r[l]
            .slices
            .iter()
            .find(|s| s.kind == "class" && s.name == c)
            .expect("class")
            .get(col)
    };
    let class = |l, c| class_est(l, c, S::ErrorRate);
    // Without a short timeout the slow orders calls hold every gateway worker: routes
    // that never call orders fail too...
    for c in ["users", "catalog"] {
        let e = class(long, c);
        assert!(e.lo() > 30.0, "{c} with a 30 s timeout: {e:?}");
        // ...and with it they do not fail at all, and stay fast.
        for rep in &r[short].reps {
            let row = rep
                .slices
                .iter()
                .find(|s| s.kind == "class" && s.name == c)
                .expect("class");
            assert_eq!(row.get(S::Errors), 0.0, "{c} with 250 ms");
        }
        let (p_long, p_short) = (
            class_est(long, c, S::LatencyP99),
            class_est(short, c, S::LatencyP99),
        );
        assert!(
            p_long.lo() > 10.0 * p_short.hi(),
            "{c} p99 {p_long:?} vs {p_short:?}"
        );
    }
    // The timeout does not save orders itself: it fails either way.
    for l in [long, short] {
        assert!(class(l, "orders").lo() > 35.0, "{l}: orders");
    }
}

#[test]
fn retry_storm_tiers_edge_retries_multiply_database_load_and_stop_the_recovery() {
    use lblab::metrics::slices::S;
    let r = compare("retry-storm-tiers");
    let (none, two) = ("lb.retries=0", "lb.retries=2");
    // Retries multiply: the database sees several times more requests per client request.
    let db = |l| slice_est(&r, l, "db", S::AttemptsPerRequest);
    assert!(
        db(two).lo() > 4.0 * db(none).hi(),
        "{:?} vs {:?}",
        db(two),
        db(none)
    );
    // With the edge's retries too, the storm keeps the database saturated after the
    // brownout (40–60 s): nothing succeeds after 70 s; without them the site recovers.
    for (label, recovers) in [(none, true), (two, false)] {
        for rep in &r[label].reps {
            let late: Vec<f64> = rep
                .service_series
                .iter()
                .filter(|b| b.service == "web" && b.t_s >= 70.0)
                .map(|b| b.throughput_rps)
                .collect();
            assert!(!late.is_empty());
            if recovers {
                assert!(late.iter().all(|&x| x > 300.0), "{label}: {late:?}");
            } else {
                assert!(late.iter().all(|&x| x == 0.0), "{label}: {late:?}");
            }
        }
    }
    let err = |l| {
        let a = &r[l];
        a.metrics[M::ErrorRate as usize]
    };
    assert!(
        err(two).lo() > 2.0 * err(none).hi(),
        "{:?} vs {:?}",
        err(two),
        err(none)
    );
}

#[test]
fn k8s_lb_local_balances_per_node_so_uneven_pods_share_unevenly() {
    let r = compare("k8s-lb");
    let (cluster, local) = (
        "services.app.traffic_policy=cluster",
        "services.app.traffic_policy=local",
    );
    let share = |l: &str, s: &str| {
        100.0
            * r[l]
                .servers
                .iter()
                .find(|x| x.name == s)
                .unwrap_or_else(|| panic!("{s}"))
                .share
                .mean
    };
    // Cluster: kube-proxy picks any of the six pods: a sixth each.
    for p in 1..=6 {
        let x = share(cluster, &format!("app-{p}"));
        assert!((15.9..17.4).contains(&x), "cluster app-{p}: {x:.2}%");
    }
    // Local: node-3 has no pod and fails the health check; node-1 and node-2 get half
    // the traffic each, split over their own pods: 4 × 12.5% and 2 × 25%.
    for p in 1..=4 {
        let x = share(local, &format!("app-{p}"));
        assert!((11.8..13.2).contains(&x), "local app-{p}: {x:.2}%");
    }
    for p in 5..=6 {
        let x = share(local, &format!("app-{p}"));
        assert!((24.0..26.0).contains(&x), "local app-{p}: {x:.2}%");
    }
    assert!(
        share(local, "node-3") < 0.5,
        "node-3 takes no traffic under Local"
    );
    // The two busy pods (88% utilised) set the tail.
    let p99 = |l: &str| r[l].metrics[M::LatencyP99 as usize];
    assert!(
        p99(local).lo() > 1.3 * p99(cluster).hi(),
        "{:?} vs {:?}",
        p99(local),
        p99(cluster)
    );
}

#[test]
fn cache_aside_a_database_sized_for_the_misses_falls_over_with_the_cache() {
    let r = compare("cache-aside");
    let (small, big) = ("servers.db.count=2", "servers.db.count=8");
    let err = |l: &str| r[l].metrics[M::ErrorRate as usize];
    // Sized for the misses: the outage's reads overload the database and fail.
    assert!(err(small).lo() > 5.0, "{:?}", err(small));
    assert_eq!(err(big).mean, 0.0, "{:?}", err(big));
    // ... and the errors outlast the cache's outage (40–50 s) by more than 10 s in every
    // replication, but stop before the end.
    for rep in &r[small].reps {
        let last = rep
            .timeseries
            .iter()
            .filter(|b| b.errors_per_s > 0.0)
            .map(|b| b.t_s)
            .fold(0.0, f64::max);
        assert!((60.0..90.0).contains(&last), "last errors at {last} s");
    }
    let hit = r[small].metrics[M::CacheHitRatio as usize].mean;
    assert!((75.0..90.0).contains(&hit), "hit ratio {hit}");
}
