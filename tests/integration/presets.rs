//! Every preset of `[lb] preset` checked against one behaviour its source documents (see
//! `src/scenario/presets.rs` for the sources), plus the rules of how a preset combines with
//! what the scenario sets itself.

use lblab::engine::SeedTree;
use lblab::metrics::{M, RepResult};
use lblab::model::World;

use crate::support::{parse, problem_at};

/// `n` servers at a light load, the preset, a crash of `p-1` at 100.3 s (`crash`: off
/// the checks' whole-second phase), and
/// `extra` lines appended.
fn scenario(preset: &str, n: u32, crash: bool, extra: &str) -> String {
    let failure = if crash {
        "[[failures]]\ntarget = \"p-1\"\nkind = \"crash\"\nat = \"100.3s\"\nduration = \"100s\"\n"
    } else {
        ""
    };
    format!(
        r#"
[scenario]
name = "t"
seed = 5
duration = "300s"
warmup = "10s"

[clients]
rate = "200/s"
timeout = "2s"

[[classes]]
service = {{ dist = "exponential", mean = "10ms" }}

[[servers]]
name = "p"
count = {n}
slots = 4

[lb]
preset = "{preset}"

{failure}
{extra}
"#
    )
}

fn run(text: &str) -> RepResult {
    let s = parse(text).unwrap_or_else(|e| panic!("{e}"));
    World::new(&s.world, &SeedTree::new(s.seed), 0)
        .run()
        .unwrap()
}

/// Seconds from the crash until the first node marked `p-1` down.
fn detection(r: &RepResult) -> f64 {
    r.get(M::DetectionMean)
}

fn requests(r: &RepResult) -> Vec<f64> {
    r.servers.iter().map(|s| s.requests as f64).collect()
}

/// Health checks every `interval` s with `threshold` failures to mark down and a `timeout`
/// per probe: a crash (refused at once) is noticed after `threshold − 1` to `threshold`
/// intervals.
fn assert_detection(preset: &str, interval: f64, threshold: f64) {
    let r = run(&scenario(preset, 4, true, ""));
    let d = detection(&r);
    let (lo, hi) = ((threshold - 1.0) * interval, threshold * interval);
    assert!(
        (lo..=hi + 0.01).contains(&d),
        "{preset}: detection {d} s not within [{lo}, {hi}]"
    );
}

#[test]
fn cloud_presets_detect_a_crash_within_interval_times_threshold() {
    // ALB, NLB, CLB: 30 s × 2; GWLB: 10 s × 2; Google Cloud: 5 s × 2; Azure: 5 s × 1
    // (assumed).
    for p in ["aws-alb", "aws-alb-lor", "aws-nlb", "aws-clb"] {
        assert_detection(p, 30.0, 2.0);
    }
    for p in ["gcp-passthrough-nlb", "gcp-alb"] {
        assert_detection(p, 5.0, 2.0);
    }
    // GWLB (GENEVE target group): 10 s × 2.
    assert_detection("aws-gwlb", 10.0, 2.0);
    assert_detection("azure-lb", 5.0, 1.0);
    // HAProxy: inter 2 s, fall 3.
    assert_detection("haproxy", 2.0, 3.0);
}

/// ALB and NLB fail open: with every target unhealthy they route to all of them (the
/// requests are refused by the crashed servers) rather than answer "no backend".
#[test]
fn aws_fails_open_when_every_target_is_unhealthy() {
    let all =
        "[[failures]]\ntarget = \"p\"\nkind = \"crash\"\nat = \"100s\"\nduration = \"100s\"\n";
    for p in ["aws-alb", "aws-nlb", "aws-gwlb"] {
        let r = run(&scenario(p, 3, false, all));
        assert_eq!(r.get(M::ErrorsNoBackend), 0.0, "{p}");
        assert!(
            r.get(M::ErrorsRefused) > 5_000.0,
            "{p}: {}",
            r.get(M::ErrorsRefused)
        );
    }
    // The CLB preset does not claim to fail open: the same outage is "no backend".
    let r = run(&scenario("aws-clb", 3, false, all));
    assert!(r.get(M::ErrorsNoBackend) > 5_000.0);
}

/// kube-proxy's iptables mode picks uniformly at random: with 4 pods and ~58,000 requests
/// each share is binomial with standard deviation √(¼·¾/58,000) ≈ 0.18%; within 1%. IPVS
/// rr (kube-proxy IPVS mode, Docker Swarm) gives exactly equal counts (±1).
#[test]
fn kube_proxy_and_swarm_spread_connections_as_documented() {
    let r = run(&scenario("kube-proxy-iptables", 4, false, ""));
    let q = requests(&r);
    let total: f64 = q.iter().sum();
    assert!(q.iter().all(|x| (x / total - 0.25).abs() < 0.01), "{q:?}");
    // Not round robin: the counts are not all within one of each other.
    assert!(
        q.iter().cloned().fold(0.0, f64::max) - q.iter().cloned().fold(f64::MAX, f64::min) > 5.0
    );
    for p in ["kube-proxy-ipvs", "docker-swarm"] {
        let q = requests(&run(&scenario(p, 4, false, "")));
        let (lo, hi) = (
            q.iter().cloned().fold(f64::MAX, f64::min),
            q.iter().cloned().fold(0.0, f64::max),
        );
        assert!(hi - lo <= 1.0, "{p}: {q:?}");
    }
}

/// nginx's passive check (max_fails = 1, fail_timeout = 10 s): a crashed server is tried
/// again once per 10 s window, so a 100 s crash costs about ten refused attempts, not the
/// thousands round robin would send it.
#[test]
fn nginx_takes_a_failed_server_out_for_fail_timeout() {
    let r = run(&scenario("nginx", 4, true, ""));
    let sent = r.get(M::SentToFailed);
    assert!(
        (5.0..=15.0).contains(&sent),
        "sent to the crashed server: {sent}"
    );
}

/// Envoy's panic threshold (50%): with active checks, 3 of 4 servers crashed leave 25%
/// healthy, so the node balances over all four and the crashed ones keep getting traffic;
/// 1 of 4 crashed (75% healthy) does not panic.
#[test]
fn envoy_panics_below_half_healthy() {
    let checks = "[health.active]\nstyle = \"envoy\"\ninterval = \"1s\"\n";
    let three = format!(
        "{checks}\n[[failures]]\ntarget = [\"p-1\", \"p-2\", \"p-3\"]\nkind = \"crash\"\nat = \"100s\"\nduration = \"100s\"\n"
    );
    let r = run(&scenario("envoy", 4, false, &three));
    assert!(
        r.get(M::ErrorsRefused) > 10_000.0,
        "{}",
        r.get(M::ErrorsRefused)
    );
    let r = run(&scenario("envoy", 4, true, checks));
    // (Only the ~2–3 s before the checks mark it down: 200/s × ¼ × 3 s at most.)
    assert!(
        r.get(M::ErrorsRefused) < 200.0,
        "{}",
        r.get(M::ErrorsRefused)
    );
}

/// AWS ALB with least outstanding requests sends a half-speed target fewer requests;
/// round robin (the default) sends it exactly its share.
#[test]
fn aws_alb_lor_avoids_a_slow_target_round_robin_does_not() {
    let slow = "[[servers]]\nname = \"slow\"\ncount = 1\nslots = 4\nspeed = 0.5\n";
    let text = |p| scenario(p, 3, false, "").replace("[lb]", &format!("{slow}\n[lb]"));
    let share = |p| {
        let q = requests(&run(&text(p)));
        q[3] / q.iter().sum::<f64>()
    };
    let (lor, rr) = (share("aws-alb-lor"), share("aws-alb"));
    assert!((rr - 0.25).abs() < 0.001, "round robin {rr}");
    assert!(lor < 0.24, "least outstanding {lor}");
}

/// keepalived's VRRP defaults (priority 100, advert 1 s): the backup takes over
/// 3 × 1 s + skew (256 − 100)/256 s ≈ 3.61 s after the last advert it heard; the master
/// dies 0.3 s after one, so 3.31 s after the crash.
#[test]
fn keepalived_fails_over_after_three_adverts_and_skew() {
    let crash =
        "[[failures]]\ntarget = \"lb-1\"\nkind = \"crash\"\nat = \"100.3s\"\nduration = \"60s\"\n";
    let r = run(&scenario("keepalived", 4, false, crash));
    let f = r.get(M::LbFailoverMean);
    assert!((f - 3.31).abs() < 0.01, "failover {f} s");
}

#[test]
fn a_preset_yields_to_what_the_scenario_sets() {
    // The scenario's own [balancer] replaces the preset's whole [balancer].
    let t = scenario("nginx", 4, false, "[balancer]\nalgorithm = \"random\"\n");
    let s = parse(&t).unwrap();
    assert_eq!(s.world.algorithm.info().name, "random");
    // Its own [health.active] replaces the preset's; other keys stay the preset's.
    let t = scenario(
        "aws-alb",
        4,
        false,
        "[health.active]\nstyle = \"haproxy\"\n",
    );
    let s = parse(&t).unwrap();
    assert!(s.world.health.panic_threshold > 0.0);
    let a = s.world.health.active.as_ref().unwrap();
    assert!(matches!(a.style, lblab::model::ActiveStyle::Haproxy(_)));
    // A key set by the scenario wins over the preset's.
    let t = scenario("aws-nlb", 4, false, "").replace("[lb]\n", "[lb]\nlayer = \"l7\"\n");
    assert_eq!(parse(&t).unwrap().world.lb.layer, lblab::model::Layer::L7);
    // --set lb.preset works, and an unknown preset is named with a suggestion.
    problem_at(&scenario("aws-albb", 4, false, ""), "lb.preset", "aws-alb");
}

/// `docs/lb-semantics.md` has a section per preset, and the scenario reference the key.
#[test]
fn every_preset_is_documented() {
    let sem = include_str!("../../docs/lb-semantics.md");
    let reference = include_str!("../../docs/scenario-reference.md");
    for p in lblab::scenario::presets::PRESETS {
        assert!(
            sem.contains(&format!("### `{}`", p.name)),
            "lb-semantics lacks {}",
            p.name
        );
        assert!(
            sem.contains(p.source),
            "lb-semantics: {}'s source differs",
            p.name
        );
    }
    assert!(reference.contains("| `preset` |"));
}

/// F5's ratio gives requests in proportion to ratios (weights 3 and 1: exactly 3:1 over
/// whole cycles); its least-connections family and NetScaler's default send a half-speed
/// member fewer requests than an equal share.
#[test]
fn f5_and_netscaler_methods_follow_their_documented_rule() {
    let heavy = "[[servers]]\nname = \"h\"\ncount = 1\nslots = 4\nweight = 3\n";
    let q = requests(&run(
        &scenario("f5-ratio", 1, false, "").replace("[lb]", &format!("{heavy}\n[lb]"))
    ));
    assert!((q[1] / q[0] - 3.0).abs() < 0.001, "ratio 3:1 gives {q:?}");
    let slow = "[[servers]]\nname = \"slow\"\ncount = 1\nslots = 4\nspeed = 0.5\n";
    for p in [
        "f5-least-connections",
        "f5-fastest",
        "f5-observed",
        "f5-predictive",
        "citrix-netscaler",
    ] {
        let q = requests(&run(
            &scenario(p, 3, false, "").replace("[lb]", &format!("{slow}\n[lb]"))
        ));
        let share = q[3] / q.iter().sum::<f64>();
        assert!(share < 0.24, "{p}: the slow member's share {share}");
    }
    let q = requests(&run(
        &scenario("f5-round-robin", 3, false, "").replace("[lb]", &format!("{slow}\n[lb]"))
    ));
    assert!((q[3] / q.iter().sum::<f64>() - 0.25).abs() < 0.001);
}

/// The LVS/IPVS presets run the kernel's schedulers at layer 4: `sh` drops the clients of
/// a crashed destination (no fallback by default: "no backend") where `wlc` moves them;
/// `wrr` gives weights 5,1,1 exactly 5/7, 1/7, 1/7 of the connections.
#[test]
fn lvs_presets_run_the_kernel_schedulers() {
    let checks = "[health.active]\nstyle = \"haproxy\"\ninter = \"1s\"\n";
    let sh = run(&scenario("lvs-sh", 4, true, checks));
    assert!(
        sh.get(M::ErrorsNoBackend) > 1_000.0,
        "sh: {}",
        sh.get(M::ErrorsNoBackend)
    );
    let wlc = run(&scenario("lvs-wlc", 4, true, checks));
    assert_eq!(wlc.get(M::ErrorsNoBackend), 0.0);
    let weighted = "[[servers]]\nname = \"w\"\ncount = 1\nslots = 4\nweight = 5\n";
    let t = scenario("lvs-wrr", 2, false, "").replace("[lb]", &format!("{weighted}\n[lb]"));
    let q = requests(&run(&t));
    let total: f64 = q.iter().sum();
    assert!((q[2] / total - 5.0 / 7.0).abs() < 0.001, "{q:?}");
    for p in lblab::scenario::presets::PRESETS
        .iter()
        .filter(|p| p.name.starts_with("lvs-"))
    {
        let s = parse(&scenario(p.name, 4, false, "")).unwrap();
        assert_eq!(s.world.lb.layer, lblab::model::Layer::L4, "{}", p.name);
    }
}

/// AWS target groups' deregistration delay (deregistration_delay.timeout_seconds, 300 s)
/// is the default delay of a `drain` under the AWS presets; `[lb] drain_delay` sets it
/// for any scenario, and a failure's own `delay` wins.
#[test]
fn aws_presets_drain_with_the_deregistration_delay() {
    let delay_of = |lb: &str, failure_delay: &str| {
        let text = format!(
            "[scenario]\nname = \"t\"\nduration = \"60s\"\n\n[clients]\nrate = \"10/s\"\n\n\
             [[classes]]\nservice = \"5ms\"\n\n[[servers]]\nname = \"p\"\ncount = 2\n\n\
             [lb]\n{lb}\n\n[[failures]]\ntarget = \"p-1\"\nkind = \"drain\"\nat = \"10s\"\n\
             duration = \"20s\"\n{failure_delay}\n"
        );
        let s = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        match s.world.failures[0].kind {
            lblab::model::FailureKind::Drain { delay } => delay.as_secs_f64(),
            ref k => panic!("{k:?}"),
        }
    };
    assert_eq!(delay_of("", ""), 30.0);
    for p in ["aws-alb", "aws-alb-lor", "aws-nlb", "aws-gwlb"] {
        assert_eq!(delay_of(&format!("preset = \"{p}\""), ""), 300.0, "{p}");
    }
    assert_eq!(
        delay_of("preset = \"aws-alb\"\ndrain_delay = \"45s\"", ""),
        45.0
    );
    assert_eq!(delay_of("preset = \"aws-alb\"", "delay = \"5s\""), 5.0);
    assert_eq!(delay_of("drain_delay = \"90s\"", ""), 90.0);
    let e = parse(
        "[scenario]\nname = \"t\"\nduration = \"60s\"\n[clients]\nrate = \"10/s\"\n\
         [[classes]]\nservice = \"5ms\"\n[[servers]]\nname = \"p\"\n[lb]\ndrain_delay = \"0s\"\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("lb.drain_delay"), "{e}");
}
