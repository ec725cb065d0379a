//! The load balancer tier's own high availability: VRRP (keepalived) failover and
//! preemption, round-robin DNS with health checks, anycast with BFD/BGP detection and ECMP
//! rehashing, the single topology without failover, and the scenario errors of `[lb]`
//! topologies and load balancer node failures.
//!
//! VRRP is deterministic (adverts from t = 0, integer-nanosecond timers), so its takeover
//! times are checked exactly against RFC 5798's Master_Down_Interval and Skew_Time. Counts
//! of lost requests are Poisson: open-loop arrivals are Poisson, and with many idle slots
//! nothing queues, so the requests sent into a dead path during a window T, plus the ones
//! in flight on a crashed node (arrivals of the last mean-service time: M/G/∞), are
//! Poisson with mean `rate · (T + E[S])`. Tolerances are 5 sd of that.

use lblab::metrics::{HaRow, LbFailoverRow, M, RepResult};
use lblab::scenario::ScenarioError;

use crate::support::{load, parse, run};

/// Client request rate of every scenario here (Poisson, per second).
const RATE: f64 = 400.0;

/// A world with `nodes` load balancer nodes, 400 req/s, a 2 s client timeout, four
/// servers with 128 slots each (nothing queues, so latency = service time), 100 s with a
/// 10 s warm-up. `lb` goes into `[lb]` (topology and sub-tables), `service` is the class's
/// service time, `failures` is appended.
fn world(nodes: u32, lb: &str, service: &str, failures: &str) -> String {
    format!(
        r#"
[scenario]
duration = "100s"
warmup = "10s"
replications = 3
seed = 11

[clients]
rate = "{RATE}/s"
timeout = "2s"

[[classes]]
service = {service}

[[servers]]
name = "web"
count = 4
slots = 128

[balancer]
algorithm = "least-connections"

[lb]
nodes = {nodes}
{lb}

{failures}
"#
    )
}

/// Exponential service, mean 10 ms.
const FAST: &str = r#"{ dist = "exponential", mean = "10ms" }"#;

/// Exponential service, mean 100 ms: about 40 requests in flight at 400/s.
const MID: &str = r#"{ dist = "exponential", mean = "100ms" }"#;

/// A `[[failures]]` entry on `target` at `at` seconds, lasting `duration` seconds if given.
fn failure(target: &str, kind: &str, at: f64, duration: Option<f64>) -> String {
    let duration = duration.map_or(String::new(), |d| format!("duration = \"{d}s\""));
    format!("[[failures]]\ntarget = \"{target}\"\nkind = \"{kind}\"\nat = \"{at}s\"\n{duration}\n")
}

/// keepalived's pair: lb-1 priority 150, lb-2 priority 100, adverts every second.
fn vrrp(preempt: bool) -> String {
    format!(
        "topology = \"active-passive\"\n[lb.vrrp]\npriority = [150, 100]\nadvert_interval = \"1s\"\npreempt = {preempt}"
    )
}

/// RFC 5798 `Skew_Time = (256 − P)/256 · Master_Adver_Interval` at a 1 s interval.
fn skew(priority: u32) -> f64 {
    f64::from(256 - priority) / 256.0
}

/// RFC 5798 `Master_Down_Interval = 3 · Master_Adver_Interval + Skew_Time`.
fn mdi(priority: u32) -> f64 {
    3.0 + skew(priority)
}

/// The times of `event` on `node` (1-based) in the tier's log.
fn events(r: &RepResult, node: u32, event: &str) -> Vec<f64> {
    r.ha.iter()
        .filter(|h| h.node == node && h.event == event)
        .map(|h| h.at_s)
        .collect()
}

/// The tier's log as (time, node, event) for whole-sequence comparisons.
fn log(r: &RepResult) -> Vec<(f64, u32, &'static str)> {
    r.ha.iter()
        .map(|h: &HaRow| (h.at_s, h.node, h.event))
        .collect()
}

/// The only failure row of a replication.
fn only_fault(r: &RepResult) -> &LbFailoverRow {
    assert_eq!(r.lb_failovers.len(), 1, "{:?}", r.lb_failovers);
    &r.lb_failovers[0]
}

/// Asserts that a Poisson count `got` is within 5 sd of its mean `expected`.
fn assert_poisson(label: &str, got: u64, expected: f64) {
    let tol = 5.0 * expected.sqrt();
    assert!(
        (got as f64 - expected).abs() <= tol,
        "{label}: {got}, expected {expected:.1} ± {tol:.1} (5 sd)"
    );
}

/// Every error of the replication is `lb_lost`, and there are exactly `lost` of them.
fn assert_only_lb_lost(label: &str, r: &RepResult, lost: u64) {
    assert_eq!(
        r.get(M::Errors),
        r.get(M::ErrorsLbLost),
        "{label}: an error of another cause"
    );
    assert_eq!(
        r.get(M::ErrorsLbLost),
        lost as f64,
        "{label}: errors_lb_lost vs the failure rows' lost + reset"
    );
}

/// VRRP crash failover, RFC 5798 / keepalived: lb-1 (priority 150) advertises every second
/// from t = 0, so its last advert before a crash at 60.3 s or 60.9 s is the one at 60 s;
/// lb-2 (priority 100) takes over when its Master_Down_Timer, re-armed by that advert,
/// fires: at 60 s + MDI(100) = 63.609375 s, i.e. 3.309375 s or 2.709375 s after the crash,
/// inside the reference window 2.609–3.609 s. Timers are integer nanoseconds and
/// 1/256 s is exact in binary, so the check is to 1e-6 s.
///
/// Until then every request goes into the black hole (the virtual IP's owner is dead) and
/// fails at the client timeout as `lb_lost`, as do the requests in flight on lb-1 when it
/// crashed: Poisson with mean 400 · (T + 10 ms) (see the module docs), 5 sd. The last
/// request sent into the dead path precedes the takeover by an exponential gap of mean
/// 1/400 s: more than 50 ms has probability e⁻²⁰.
#[test]
fn vrrp_backup_takes_over_a_master_down_interval_after_the_last_advert() {
    for at in [60.3, 60.9] {
        let s = parse(&world(
            2,
            &vrrp(true),
            FAST,
            &failure("lb-1", "crash", at, None),
        ))
        .unwrap();
        let a = run(&s);
        let takeover = 60.0 + mdi(100);
        assert_eq!(takeover, 63.609375);
        for (i, r) in a.reps.iter().enumerate() {
            let label = format!("crash at {at} s, replication {i}");
            let f = only_fault(r);
            assert_eq!((f.node, f.kind), (1, "crash"), "{label}");
            assert!((f.fault_s - at).abs() < 1e-9, "{label}: {f:?}");
            assert!(
                (f.failover_s - takeover).abs() < 1e-6,
                "{label}: failover at {} s, RFC 5798 says {takeover} s",
                f.failover_s
            );
            let took = f.failover_s - f.fault_s;
            assert!(
                (mdi(100) - 1.0 - 1e-6..=mdi(100) + 1e-6).contains(&took),
                "{label}: {took} s outside the 2.609–3.609 s window"
            );
            assert!(f.repair_s.is_nan() && f.reset == 0, "{label}: {f:?}");
            assert_eq!(
                log(r),
                vec![(f.fault_s, 1, "crash"), (f.failover_s, 2, "master")],
                "{label}"
            );
            assert!(
                f.last_lost_s <= f.failover_s && f.failover_s - f.last_lost_s < 0.05,
                "{label}: last lost {} vs failover {}",
                f.last_lost_s,
                f.failover_s
            );
            assert_poisson(&label, f.lost, RATE * (took + 0.010));
            assert_only_lb_lost(&label, r, f.lost);
            assert!((r.get(M::LbFailoverMean) - took).abs() < 1e-9, "{label}");
            assert!(
                (r.get(M::LbOutageMean) - (f.last_lost_s - f.fault_s)).abs() < 1e-9,
                "{label}"
            );
        }
    }
}

/// A graceful stop (keepalived shutting down) sends a priority-0 advert, which cuts the
/// backup's timer to Skew_Time(100) = 0.609375 s: lb-2 is master exactly then. Meanwhile
/// the address is released, so requests are black-holed: Poisson with mean
/// 400 · 0.609375 ≈ 244 (5 sd ≈ 78). The requests lb-1 already had finish normally: with a
/// constant 1 s service about 400 are in flight at the stop, which would push the count to
/// ≈ 644 if they were lost. The same crash (mean 400 · (3.309375 + 1) ≈ 1,724, 5 sd ≈ 208)
/// does lose them.
#[test]
fn vrrp_graceful_stop_hands_over_after_the_skew_time_and_keeps_what_was_in_flight() {
    const SLOW: &str = r#""1s""#;
    let stop = run(&parse(&world(
        2,
        &vrrp(true),
        SLOW,
        &failure("lb-1", "stop", 60.3, None),
    ))
    .unwrap());
    for (i, r) in stop.reps.iter().enumerate() {
        let label = format!("stop, replication {i}");
        let f = only_fault(r);
        assert_eq!(f.kind, "stop", "{label}");
        assert!(
            (f.failover_s - f.fault_s - skew(100)).abs() < 1e-6,
            "{label}: {} s after the stop, Skew_Time is {} s",
            f.failover_s - f.fault_s,
            skew(100)
        );
        assert_eq!(
            log(r),
            vec![(f.fault_s, 1, "stop"), (f.failover_s, 2, "master")],
            "{label}"
        );
        assert_poisson(&label, f.lost, RATE * skew(100));
        assert_only_lb_lost(&label, r, f.lost);
    }
    let crash = run(&parse(&world(
        2,
        &vrrp(true),
        SLOW,
        &failure("lb-1", "crash", 60.3, None),
    ))
    .unwrap());
    for (i, r) in crash.reps.iter().enumerate() {
        let label = format!("crash with 1 s service, replication {i}");
        let f = only_fault(r);
        assert_poisson(&label, f.lost, RATE * (f.failover_s - f.fault_s + 1.0));
        assert_only_lb_lost(&label, r, f.lost);
    }
}

/// Preemption: lb-1 restarts at 90.3 s as a backup, discards lb-2's lower-priority
/// adverts, and takes the address back when its own Master_Down_Timer fires at
/// 90.3 + MDI(150) = 93.7140625 s; lb-2 steps down on lb-1's first advert, at the same
/// instant. The handover loses nothing (both nodes are up). With `preempt = false` any
/// advert re-arms lb-1's timer, so lb-2 stays master for good.
#[test]
fn vrrp_preemption_gives_the_address_back_to_the_higher_priority() {
    let crash = failure("lb-1", "crash", 60.3, Some(30.0));
    let back = 90.3 + mdi(150);
    let takeover = 60.0 + mdi(100);
    for preempt in [true, false] {
        let a = run(&parse(&world(2, &vrrp(preempt), FAST, &crash)).unwrap());
        for (i, r) in a.reps.iter().enumerate() {
            let label = format!("preempt = {preempt}, replication {i}");
            let f = only_fault(r);
            assert!((f.repair_s - 90.3).abs() < 1e-9, "{label}: {f:?}");
            let got = log(r);
            assert_eq!(got.len(), if preempt { 5 } else { 3 }, "{label}: {got:?}");
            let expected: &[(f64, u32, &str)] = &[
                (60.3, 1, "crash"),
                (takeover, 2, "master"),
                (90.3, 1, "restart"),
                (back, 1, "master"),
                (back, 2, "backup"),
            ];
            for (g, e) in got.iter().zip(expected) {
                assert!(
                    (g.0 - e.0).abs() < 1e-6 && g.1 == e.1 && g.2 == e.2,
                    "{label}: {got:?}"
                );
            }
            assert!(f.last_lost_s < takeover, "{label}: {f:?}");
            assert_only_lb_lost(&label, r, f.lost);
        }
    }
}

/// Without HA, client c always uses node c mod 2: while lb-1 is down for 30 s the 500 of
/// the 1,000 equally active clients that use it fail, nobody routes around it (failover
/// NaN). Their requests are a Poisson stream of 200/s, so the count is Poisson with mean
/// 200 · 30 + 200 · 10 ms (in flight at the crash), 5 sd ≈ 387. The last one precedes the
/// repair by an exponential gap of mean 1/200 s: more than 100 ms has probability e⁻²⁰.
#[test]
fn the_single_topology_fails_half_the_clients_until_the_node_is_back() {
    let a = run(&parse(&world(
        2,
        "topology = \"single\"",
        FAST,
        &failure("lb-1", "crash", 60.3, Some(30.0)),
    ))
    .unwrap());
    for (i, r) in a.reps.iter().enumerate() {
        let label = format!("replication {i}");
        let f = only_fault(r);
        assert!(f.failover_s.is_nan(), "{label}: {f:?}");
        assert!(r.get(M::LbFailoverMean).is_nan(), "{label}");
        assert!(
            f.last_lost_s < f.repair_s && f.repair_s - f.last_lost_s < 0.1,
            "{label}: {f:?}"
        );
        assert_poisson(&label, f.lost, RATE / 2.0 * (30.0 + 0.010));
        assert_only_lb_lost(&label, r, f.lost);
        assert_eq!(
            log(r),
            vec![(f.fault_s, 1, "crash"), (f.repair_s, 1, "restart")],
            "{label}"
        );
    }
}

/// Round-robin DNS with Route 53-style checks every 10 s at a random phase, 3 failures to
/// remove and 3 passes to restore: the first failing check comes 0–10 s after the crash
/// (at 30.3 s), the record goes with the third, 20–30 s after it. Clients keep a cached
/// answer for up to the TTL (30 s), so the last request into the dead node is issued
/// before the removal plus the TTL (at most 90.3 s, before the restart at 95.3 s). After
/// the restart the record comes back with the third passing check, 20–30 s later (by
/// 125.3 s; the run lasts 130 s). lb-2 is never touched.
///
/// The cache is what keeps clients failing after the removal: a cached answer has a
/// uniform 0–30 s left when taken, so at a given instant about E[(L − 20)⁺]/E[L + gap]
/// ≈ (10²/60)/(15 + 2.5) ≈ 9% of the 1,000 clients (each sends 0.4 req/s, a 2.5 s mean
/// gap) hold an answer with more than 20 s left, half of them naming lb-1. Each of these
/// ~45 sends into its last stretch (uniform 0–10 s long, at 0.4 req/s) with probability
/// 1 − (1 − e⁻⁴)/4 ≈ 0.75, so some request into the dead node follows the removal by more
/// than 20 s except with probability about 0.25⁴⁵.
#[test]
fn dns_removes_the_dead_record_after_three_checks_and_clients_follow_within_the_ttl() {
    let lb = "topology = \"active-active-dns\"\n[lb.dns]\nttl = \"30s\"\ncheck_interval = \"10s\"\nfailure_threshold = 3";
    let text = world(2, lb, FAST, &failure("lb-1", "crash", 30.3, Some(65.0)))
        .replace("duration = \"100s\"", "duration = \"130s\"");
    let a = run(&parse(&text).unwrap());
    for (i, r) in a.reps.iter().enumerate() {
        let label = format!("replication {i}");
        let f = only_fault(r);
        let removed = events(r, 1, "dns-removed");
        assert_eq!(removed.len(), 1, "{label}: {:?}", r.ha);
        let gone = removed[0] - f.fault_s;
        assert!(
            (20.0..=30.0).contains(&gone),
            "{label}: removed {gone} s after the crash"
        );
        assert_eq!(f.failover_s, removed[0], "{label}");
        assert!(
            f.last_lost_s - f.fault_s <= gone + 30.0,
            "{label}: last lost {} s after the crash, removal + TTL = {} s",
            f.last_lost_s - f.fault_s,
            gone + 30.0
        );
        assert!(
            f.last_lost_s - f.failover_s > 20.0,
            "{label}: cached answers keep clients on the dead node: last lost only {} s after the removal",
            f.last_lost_s - f.failover_s
        );
        let added = events(r, 1, "dns-added");
        assert_eq!(added.len(), 1, "{label}: {:?}", r.ha);
        let back = added[0] - f.repair_s;
        assert!(
            (20.0..=30.0).contains(&back),
            "{label}: restored {back} s after the restart"
        );
        assert!(r.ha.iter().all(|h| h.node == 1), "{label}: {:?}", r.ha);
        assert!(f.lost > 0, "{label}");
        assert_only_lb_lost(&label, r, f.lost);
    }
}

/// The anycast table with `ecmp` over 4 nodes, BFD 3 × 300 ms, convergence 1 s.
fn anycast(ecmp: &str, detection: &str) -> String {
    format!(
        "topology = \"anycast\"\n[lb.anycast]\necmp = \"{ecmp}\"\nbuckets = 128\n{detection}\nconverge = \"1s\""
    )
}

const BFD: &str = "detection = \"bfd\"\nbfd_interval = \"300ms\"\nbfd_multiplier = 3";

/// Anycast with BFD (3 × 300 ms): the router notices the silence 3 intervals after the last
/// hello, which came 0–300 ms before the crash: the route goes (0.6 s, 0.9 s] after it, and
/// comes back exactly `converge` = 1 s after the restart. Withdrawing one of 4 next hops
/// with modulo-N hashing moves 2/3 of the surviving nodes' flows as well, so their requests
/// in flight are reset: with 100 ms service about 400 · 100 ms · 3/4 · 2/3 = 20 of them
/// (Poisson: none at all has probability e⁻²⁰ per replication). Resilient hashing moves
/// only the dead node's buckets, whose requests were already lost: no reset at all (checked
/// with the node staying down, since its return moves flows back onto it). Both
/// runs use the same seed, so the same crash sees the same arrivals and the same
/// detection draw; the hello phase is drawn per replication, so the three replications'
/// detection times differ (equal draws have probability ~10⁻⁹).
#[test]
fn anycast_withdraws_after_bfd_and_only_modulo_hashing_resets_survivors() {
    let crash = failure("lb-1", "crash", 60.3, Some(20.0));
    let runs: Vec<_> = ["modulo", "resilient"]
        .iter()
        .map(|ecmp| run(&parse(&world(4, &anycast(ecmp, BFD), MID, &crash)).unwrap()))
        .collect();
    for (ecmp, a) in ["modulo", "resilient"].iter().zip(&runs) {
        for (i, r) in a.reps.iter().enumerate() {
            let label = format!("{ecmp}, replication {i}");
            let f = only_fault(r);
            let withdrawn = events(r, 1, "route-withdrawn");
            assert_eq!(withdrawn, vec![f.failover_s], "{label}: {:?}", r.ha);
            let took = f.failover_s - f.fault_s;
            assert!(
                took > 0.6 && took <= 0.9 + 1e-9,
                "{label}: withdrawn after {took} s"
            );
            let announced = events(r, 1, "route-announced");
            assert_eq!(announced.len(), 1, "{label}: {:?}", r.ha);
            assert!((announced[0] - (f.repair_s + 1.0)).abs() < 1e-9, "{label}");
            assert!(f.last_lost_s <= f.failover_s, "{label}: {f:?}");
            assert!(f.lost > 0, "{label}");
        }
    }
    // The withdrawal alone (the node stays down, so no route comes back to move flows).
    let down = failure("lb-1", "crash", 60.3, None);
    for ecmp in ["modulo", "resilient"] {
        let a = run(&parse(&world(4, &anycast(ecmp, BFD), MID, &down)).unwrap());
        for (i, r) in a.reps.iter().enumerate() {
            let f = only_fault(r);
            if ecmp == "modulo" {
                assert!(
                    f.reset > 0,
                    "{ecmp}, replication {i}: modulo hashing moves survivors' flows"
                );
            } else {
                assert_eq!(
                    f.reset, 0,
                    "{ecmp}, replication {i}: resilient hashing moves only the dead node's flows"
                );
            }
        }
    }
    let took: Vec<f64> = runs[0]
        .reps
        .iter()
        .map(|r| r.lb_failovers[0].failover_s - r.lb_failovers[0].fault_s)
        .collect();
    assert!(
        took[0] != took[1] && took[1] != took[2] && took[0] != took[2],
        "the last hello's phase is random: {took:?}"
    );
    for (m, r) in runs[0].reps.iter().zip(&runs[1].reps) {
        assert_eq!(
            m.lb_failovers[0].failover_s, r.lb_failovers[0].failover_s,
            "the same detection draw"
        );
    }
}

/// BGP without BFD: the hold timer (9 s) runs from the last keepalive, which came 0–3 s
/// before the crash: withdrawal (6 s, 9 s] after it. A graceful stop withdraws the route at
/// once and the router converges in exactly `converge` = 1 s.
#[test]
fn anycast_bgp_hold_timer_and_graceful_withdrawal() {
    let bgp = "detection = \"bgp\"\nbgp_hold_time = \"9s\"\nbgp_keepalive = \"3s\"";
    for (kind, lo, hi) in [("crash", 6.0, 9.0), ("stop", 1.0 - 1e-9, 1.0)] {
        let a = run(&parse(&world(
            2,
            &anycast("hash-threshold", bgp),
            FAST,
            &failure("lb-1", kind, 60.3, None),
        ))
        .unwrap());
        for (i, r) in a.reps.iter().enumerate() {
            let label = format!("{kind}, replication {i}");
            let f = only_fault(r);
            let took = f.failover_s - f.fault_s;
            assert!(
                took > lo && took <= hi + 1e-9,
                "{label}: withdrawn after {took} s"
            );
            assert_eq!(
                events(r, 1, "route-withdrawn"),
                vec![f.failover_s],
                "{label}"
            );
            assert_only_lb_lost(&label, r, f.lost + f.reset);
        }
    }
}

/// The books balance in every topology through random crashes and stops of both nodes
/// (every replication must come back `Ok`: the world checks its own books), and issued =
/// completed + errors + in flight at the end in the measured window. Nothing but the tier
/// fails here, so every error is `lb_lost`.
#[test]
fn the_books_balance_in_every_topology() {
    let random = r#"
[[failures]]
target = ["lb-1", "lb-2"]
kind = "crash"
mtbf = { dist = "exponential", mean = "15s" }
mttr = { dist = "exponential", mean = "4s" }
"#;
    let topologies = [
        "topology = \"single\"".to_string(),
        vrrp(true),
        vrrp(false),
        "topology = \"active-active-dns\"\n[lb.dns]\nttl = \"5s\"\ncheck_interval = \"1s\"\nfailure_threshold = 2".to_string(),
        anycast("modulo", BFD),
        anycast("hash-threshold", BFD),
        anycast("resilient", BFD),
    ];
    for lb in &topologies {
        for kind in ["crash", "stop"] {
            let s = parse(&world(2, lb, FAST, &random.replace("crash", kind))).unwrap();
            let a = run(&s);
            for (i, r) in a.reps.iter().enumerate() {
                let label = format!("{lb} / {kind}, replication {i}");
                let (issued, completed, errors, in_flight) = (
                    r.get(M::Issued),
                    r.get(M::Completed),
                    r.get(M::Errors),
                    r.get(M::InFlightEnd),
                );
                assert_eq!(issued, completed + errors + in_flight, "{label}");
                assert_eq!(errors, r.get(M::ErrorsLbLost), "{label}");
                for f in &r.lb_failovers {
                    let after = |t: f64| t.is_nan() || t >= f.fault_s;
                    assert!(
                        after(f.failover_s) && after(f.last_lost_s) && after(f.repair_s),
                        "{label}: {f:?}"
                    );
                }
            }
            // Not vacuous: no fault at all in 3 × 100 s on two nodes failing every 15 s
            // has probability e⁻⁴⁰; no error at all means the node(s) carrying the traffic
            // never failed in the 3 × 90 s after the warm-up: about e⁻¹⁸.
            assert!(
                a.reps.iter().any(|r| !r.lb_failovers.is_empty()),
                "{lb} / {kind}"
            );
            assert!(
                a.reps.iter().any(|r| r.get(M::Errors) > 0.0),
                "{lb} / {kind}"
            );
        }
    }
}

/// Same scenario, same results: the tier's random draws (DNS check phases, cache ages,
/// hello phases) come from the replication's seed, so the failure rows and the tier's log
/// are identical run after run, in every topology of the bundled scenario (shortened so
/// that lb-1 is back at 120.3 s and the takeover back, DNS restore and route
/// re-announcement happen within the run).
#[test]
fn the_tier_is_deterministic() {
    for topology in ["single", "active-passive", "active-active-dns", "anycast"] {
        let set = format!("lb.topology={topology}");
        let s = load(
            "lb-failover",
            &[
                &set,
                "scenario.replications=2",
                "scenario.duration=160s",
                "failures[0].duration=60s",
            ],
        );
        let (a, b) = (run(&s), run(&s));
        for (x, y) in a.reps.iter().zip(&b.reps) {
            assert!(!x.ha.is_empty() && !x.lb_failovers.is_empty(), "{topology}");
            // Debug text: NaN (no failover in `single`) is not equal to itself.
            assert_eq!(
                format!("{:?}{:?}", x.lb_failovers, x.ha),
                format!("{:?}{:?}", y.lb_failovers, y.ha),
                "{topology}"
            );
        }
    }
}

/// Parses `text`, which must fail, and returns the error.
fn error(text: &str) -> ScenarioError {
    match parse(text) {
        Ok(_) => panic!("should be an error:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts a problem at `path` whose message (with hint) contains each of `needles`, and
/// that the displayed error names the path.
fn check(e: &ScenarioError, path: &str, needles: &[&str]) {
    let p = e
        .problems
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no problem at {path}: {e}"));
    let text = format!("{} {}", p.message, p.hint.clone().unwrap_or_default());
    for n in needles {
        assert!(text.contains(n), "{path}: {text:?} lacks {n:?}");
    }
    assert!(e.to_string().contains(&format!("{path}: ")), "{e}");
}

/// Bad `[lb]` topologies and load balancer node failures are reported at their key path
/// with what was expected.
#[test]
fn lb_topology_and_node_failure_errors_name_the_key() {
    let crash = failure("lb-1", "crash", 10.0, None);
    check(
        &error(&world(2, "", FAST, &failure("lb-3", "crash", 10.0, None))),
        "failures[0].target",
        &["no load balancer node \"lb-3\"", "lb-1 to lb-2"],
    );
    check(
        &error(&world(2, "", FAST, &failure("lb-1", "hang", 10.0, None))),
        "failures[0].target",
        &["only \"crash\" or \"stop\"", "not \"hang\""],
    );
    check(
        &error(&world(2, "", FAST, &failure("web-1", "stop", 10.0, None))),
        "failures[0].target",
        &["\"stop\" is for load balancer nodes", "drain"],
    );
    check(
        &error(&world(1, "topology = \"active-passive\"", FAST, &crash)),
        "lb.topology",
        &["needs at least 2 nodes"],
    );
    check(
        &error(&world(
            2,
            "topology = \"active-passive\"\n[lb.vrrp]\npriority = [150]",
            FAST,
            &crash,
        )),
        "lb.vrrp.priority",
        &["one priority per node", "found 1"],
    );
    check(
        &error(&world(2, "topology = \"anycst\"", FAST, &crash)),
        "lb.topology",
        &["expected one of", "did you mean `anycast`"],
    );
    check(
        &error(&world(
            2,
            "topology = \"anycast\"\n[lb.anycast]\ndetection = \"bgp\"\nbgp_hold_time = \"9s\"\nbgp_keepalive = \"9s\"",
            FAST,
            &crash,
        )),
        "lb.anycast.bgp_keepalive",
        &["shorter than bgp_hold_time"],
    );
    // The good versions parse.
    parse(&world(2, &vrrp(true), FAST, &crash)).unwrap();
    parse(&world(2, "", FAST, &failure("lb-2", "stop", 10.0, None))).unwrap();
}

/// Two random failure processes on one node (crashes and stops, each 5 s up and 5 s down
/// on average) overlap often. An occurrence that finds the node already down changes
/// nothing, but the process keeps its own timing, as it does for servers: each tries about
/// 60 times in 600 s (sd ≈ √(600 · 50/10³) ≈ 5.5) and fails the node whenever the other
/// one is not holding it down, at least about half the time: 30 or more faults each, sd
/// ≈ 4; fewer than 10 is more than 5 sd out. (Before d992204 an overlapped occurrence ended
/// its process for good: one of the two had 0 faults.)
#[test]
fn overlapping_random_node_failures_keep_recurring() {
    let failures = r#"
[[failures]]
target = "lb-1"
kind = "crash"
mtbf = { dist = "exponential", mean = "5s" }
mttr = { dist = "exponential", mean = "5s" }

[[failures]]
target = "lb-1"
kind = "stop"
mtbf = { dist = "exponential", mean = "5s" }
mttr = { dist = "exponential", mean = "5s" }
"#;
    let text = world(2, "topology = \"single\"", FAST, failures)
        .replace("duration = \"100s\"", "duration = \"600s\"");
    let a = run(&parse(&text).unwrap());
    for (i, r) in a.reps.iter().enumerate() {
        let per_spec: Vec<usize> = (0..2)
            .map(|s| r.lb_failovers.iter().filter(|f| f.failure == s).count())
            .collect();
        assert!(
            per_spec.iter().all(|&n| n >= 10),
            "replication {i}: faults per failure spec {per_spec:?}"
        );
    }
}

// Known model bugs: these tests state the intended behaviour and fail today; run them with
// `cargo test --release --test integration ha:: -- --ignored`.

/// Every `lb_lost` error belongs to some node failure: the requests lost with it plus the
/// ones reset by the route changes its failure caused. When lb-1's route comes back after
/// the restart, modulo hashing moves survivors' flows again and resilient hashing hands
/// lb-1 buckets back from the others: those requests are reset too (`lb_lost`) and belong
/// to the failure that caused them, although the restart closed it `converge` (1 s)
/// earlier. (A bug found here once: they appeared in no row.)
#[test]
fn anycast_resets_when_the_route_returns_are_attributed_to_the_failure() {
    let crash = failure("lb-1", "crash", 60.3, Some(20.0));
    for ecmp in ["modulo", "resilient"] {
        let a = run(&parse(&world(4, &anycast(ecmp, BFD), MID, &crash)).unwrap());
        for (i, r) in a.reps.iter().enumerate() {
            let f = only_fault(r);
            assert_only_lb_lost(&format!("{ecmp}, replication {i}"), r, f.lost + f.reset);
        }
    }
}

/// A connection's flow is the address it was opened from. With mobile clients (addresses
/// change every 200 ms) some requests in flight at the withdrawal were sent from an address
/// the client no longer has; resilient hashing keeps every surviving bucket where it was,
/// so nothing on a surviving node may be reset. (A bug found here once: the rehash used
/// the client's address at the route change, resetting 6–8 requests per replication.)
#[test]
fn resilient_hashing_resets_nothing_even_for_mobile_clients() {
    let text = world(
        4,
                &anycast("resilient", BFD),
        MID,
        &failure("lb-1", "crash", 60.3, None),
    )
    .replace(
        "timeout = \"2s\"",
        "timeout = \"2s\"\n[clients.population]\nips = { model = \"mobile\", change_every = \"200ms\" }",
    );
    let a = run(&parse(&text).unwrap());
    for (i, r) in a.reps.iter().enumerate() {
        assert_eq!(only_fault(r).reset, 0, "replication {i}");
    }
}

/// A layer-4 load balancer sees connections, not HTTP: cookies, keys, URLs and statuses
/// are refused with the reason, at `lb.layer`.
#[test]
fn layer_four_refuses_what_it_cannot_see() {
    let base = |lb: &str, extra: &str| {
        format!(
            "[scenario]\nduration = \"10s\"\n[clients]\nrate = \"10/s\"\n[[classes]]\nservice = \"1ms\"\n[[servers]]\nname = \"web\"\ncount = 2\n[lb]\nlayer = \"l4\"\n{lb}\n{extra}"
        )
    };
    let err = |text: String| match parse(&text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    };
    let e = err(base("", "[balancer]\nalgorithm = \"sticky\""));
    assert!(
        e.contains("lb.layer") && e.contains("sticky sessions need the cookie"),
        "{e}"
    );
    let e = err(base("", "[balancer]\nalgorithm = \"maglev\""));
    assert!(e.contains("hash_on = \"key\" needs the request"), "{e}");
    let e = err(base("retry_on = [\"5xx\"]", ""));
    assert!(e.contains("retry_on \"5xx\" needs HTTP statuses"), "{e}");
    // What it can see is fine, and the default CPU cost follows the layer.
    let s = parse(&base(
        "cores = 2",
        "[balancer]\nalgorithm = \"maglev\"\nhash_on = \"ip\"",
    ))
    .unwrap();
    let cpu = s.world.lb.cpu.unwrap();
    assert_eq!((cpu.cores, cpu.cost.mean()), (2, 5_000.0));
}

/// Three nodes at keepalived's default priority: when the master dies, lb-2 and lb-3 time
/// out at the same instant and both become master; lb-3 (smaller address) steps down at
/// lb-2's first advert. The address follows the master that remains (VRRP's virtual MAC
/// is learned from the master's adverts), so service resumes at 63.609375 s: only the
/// requests of the failover window are lost. (A bug found in review: the address stayed
/// with the node that stepped down, and every later request was lost.)
#[test]
fn equal_priority_backups_that_both_take_over_leave_the_address_with_the_master() {
    let text = world(
        3,
        "topology = \"active-passive\"",
        FAST,
        &failure("lb-1", "crash", 60.3, None),
    );
    let a = run(&parse(&text).unwrap());
    for (i, r) in a.reps.iter().enumerate() {
        let label = format!("replication {i}");
        let f = only_fault(r);
        assert!((f.failover_s - 63.609375).abs() < 1e-6, "{label}: {f:?}");
        assert_eq!(
            log(r),
            [
                (60.3, 1, "crash"),
                (63.609375, 2, "master"),
                (63.609375, 3, "master"),
                (63.609375, 3, "backup")
            ],
            "{label}"
        );
        assert_poisson(&label, f.lost, RATE * (63.609375 - 60.3 + 0.01));
        assert_only_lb_lost(&label, r, f.lost);
        assert!(
            r.get(M::InFlightEnd) < 20.0,
            "{label}: requests stuck in flight"
        );
    }
}

/// lb-1 crashes for one second only: it restarts at 11.3 s as a backup (it is not the
/// address owner), and nobody answers for the address until lb-2 takes it at 13.609375 s.
/// Those requests are lost because of lb-1's failure and belong to its row, whose outage
/// runs to 13.6 s, past the repair. (A bug found in review: they belonged to no row.)
#[test]
fn requests_lost_after_a_short_crash_until_the_takeover_belong_to_it() {
    let text = world(
        2,
        &vrrp(true),
        FAST,
        &failure("lb-1", "crash", 10.3, Some(1.0)),
    )
    .replace("warmup = \"10s\"", "warmup = \"5s\"");
    let a = run(&parse(&text).unwrap());
    for (i, r) in a.reps.iter().enumerate() {
        let label = format!("replication {i}");
        let f = only_fault(r);
        assert!((f.failover_s - 13.609375).abs() < 1e-6, "{label}: {f:?}");
        assert!(
            f.repair_s < f.last_lost_s && f.last_lost_s <= f.failover_s,
            "{label}: {f:?}"
        );
        assert_poisson(&label, f.lost, RATE * (13.609375 - 10.3 + 0.01));
        assert_only_lb_lost(&label, r, f.lost);
        let trace = lblab::model::World::new(
            &parse(&text).unwrap().world,
            &lblab::engine::SeedTree::new(11),
            0,
        )
        .trace(1, lblab::engine::SimTime::from_secs(12))
        .unwrap();
        assert!(
            trace.iter().any(|l| l
                .event
                .contains("no load balancer node holds the virtual IP")),
            "{trace:?}"
        );
    }
}

/// Overlapping failures on one node each keep their own row, and the node stays down
/// while any is on: stopped 10–15 s, crashed 12–22 s, back at 22 s (not 15 s). (A bug
/// found in review: the crash was dropped.)
#[test]
fn overlapping_node_failures_each_count_and_the_node_stays_down_while_any_is_on() {
    let failures = format!(
        "{}{}",
        failure("lb-1", "stop", 10.0, Some(5.0)),
        failure("lb-1", "crash", 12.0, Some(10.0))
    );
    let a = run(&parse(&world(2, "", FAST, &failures)).unwrap());
    for r in &a.reps {
        let rows: Vec<(&str, f64, f64)> = r
            .lb_failovers
            .iter()
            .map(|f| (f.kind, f.fault_s, f.repair_s))
            .collect();
        assert_eq!(rows, [("stop", 10.0, 15.0), ("crash", 12.0, 22.0)]);
        assert_eq!(
            log(r),
            [(10.0, 1, "stop"), (12.0, 1, "crash"), (22.0, 1, "restart")]
        );
        // Half the clients (node 1 of 2) fail from 10 s to 22 s.
        let lost: u64 = r.lb_failovers.iter().map(|f| f.lost).sum();
        assert_poisson("12 s of half the traffic", lost, RATE / 2.0 * 12.0);
    }
}

/// A dead load balancer detects nothing: no health changes are logged for lb-1 while it is
/// down, though a server fails meanwhile; lb-2 logs them. (A bug found in review.)
#[test]
fn a_dead_node_logs_no_health_changes() {
    let text = world(
        2,
        "topology = \"active-passive\"\n[health.active]\nstyle = \"haproxy\"",
        FAST,
        &format!(
            "{}{}",
            failure("lb-1", "crash", 15.0, Some(40.0)),
            failure("web-1", "crash", 20.0, Some(10.0))
        ),
    );
    let a = run(&parse(&text).unwrap());
    for r in &a.reps {
        assert!(
            r.health
                .iter()
                .all(|h| h.node != 1 || h.at_s < 15.0 || h.at_s >= 55.0)
        );
        assert!(
            r.health
                .iter()
                .any(|h| h.node == 2 && h.server == "web-1" && h.state == "down")
        );
    }
}

/// Resilient ECMP's default table (Linux: 128 buckets) grows to one bucket per node.
/// (A bug found in review: 200 nodes panicked.)
#[test]
fn resilient_ecmp_has_a_bucket_per_node_by_default() {
    let text = world(
        200,
        "topology = \"anycast\"\n[lb.anycast]\necmp = \"resilient\"",
        FAST,
        &failure("lb-7", "crash", 20.3, None),
    )
    .replace("duration = \"100s\"", "duration = \"30s\"");
    let a = run(&parse(&text).unwrap());
    assert!(a.reps.iter().all(|r| r.lb_failovers[0].reset == 0));
}

/// Timers too short to be real would only burn the event budget; names must be canonical;
/// one address owner at most; a BGP keepalive must be shorter than the hold time even when
/// BFD detects.
#[test]
fn unreal_ha_settings_are_refused() {
    let base = |lb: &str, target: &str| world(2, lb, FAST, &failure(target, "crash", 10.0, None));
    check(
        &error(&base("[lb.vrrp]\nadvert_interval = \"1ns\"", "lb-1")),
        "lb.vrrp.advert_interval",
        &["at least 10ms"],
    );
    check(
        &error(&base("[lb.dns]\ncheck_interval = \"1ms\"", "lb-1")),
        "lb.dns.check_interval",
        &["at least 1s"],
    );
    check(&error(&base("", "lb-01")), "failures[0].target", &["lb-01"]);
    check(
        &error(&base("[lb.vrrp]\npriority = [255, 255]", "lb-1")),
        "lb.vrrp.priority",
        &["at most one node may have priority 255"],
    );
    check(
        &error(&base(
            "[lb.anycast]\ndetection = \"bfd\"\nbgp_hold_time = \"9s\"\nbgp_keepalive = \"9s\"",
            "lb-1",
        )),
        "lb.anycast.bgp_keepalive",
        &["shorter than bgp_hold_time"],
    );
}

/// Route 53 fails open: with every record removed it answers with all of them, so the
/// last record to go routes nothing around its node (no failover), while the first one,
/// removed while the other was still healthy, did.
#[test]
fn dns_removing_the_last_healthy_record_is_no_failover() {
    let failures = format!(
        "{}{}",
        failure("lb-1", "crash", 30.3, None),
        failure("lb-2", "crash", 30.3, None)
    );
    let lb = "topology = \"active-active-dns\"\n[lb.dns]\ncheck_interval = \"1s\"\nfailure_threshold = 1\nttl = \"5s\"";
    let a = run(&parse(&world(2, lb, FAST, &failures)).unwrap());
    for r in &a.reps {
        let removed: Vec<(f64, u32)> = log(r)
            .into_iter()
            .filter(|e| e.2 == "dns-removed")
            .map(|e| (e.0, e.1))
            .collect();
        assert_eq!(removed.len(), 2, "{:?}", r.ha);
        let (first, last) = (removed[0].1, removed[1].1);
        let row = |n: u32| r.lb_failovers.iter().find(|f| f.node == n).unwrap();
        assert_eq!(row(first).failover_s, removed[0].0);
        assert!(row(last).failover_s.is_nan(), "{:?}", row(last));
    }
}
