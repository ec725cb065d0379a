use super::*;

fn secs(x: u64) -> SimTime {
    SimTime::from_secs(x)
}

fn ms(x: u64) -> SimTime {
    SimTime::from_millis(x)
}

/// How the container answers a probe sent at a time: `Some(result)` after `latency`, or
/// `None` (no answer: the probe times out).
type Answer = fn(SimTime) -> Option<ProbeResult>;

/// Drives one prober against a scripted container; returns its marks and probe sends.
fn run(
    p: &mut KubeProber,
    latency: SimTime,
    answer: Answer,
    until: SimTime,
) -> (Vec<(SimTime, CheckAction)>, Vec<SimTime>) {
    let mut marks = Vec::new();
    let mut sends = Vec::new();
    let mut pending: Option<(SimTime, u64, ProbeResult)> = None;
    let mut now = SimTime::ZERO;
    loop {
        while let Some(a) = p.poll_action() {
            match a {
                CheckAction::SendProbe { probe } => {
                    sends.push(now);
                    pending = answer(now).map(|r| (now + latency, probe, r));
                }
                m => marks.push((now, m)),
            }
        }
        let timer = p.poll_timeout().unwrap_or(SimTime::MAX);
        let next = match pending {
            Some((at, _, _)) if at <= timer => at,
            _ => timer,
        };
        if next > until {
            return (marks, sends);
        }
        now = next;
        match pending {
            Some((at, probe, r)) if at == now => {
                pending = None;
                p.handle_probe_result(now, probe, r);
            }
            _ => p.handle_timeout(now),
        }
    }
}

fn readiness() -> KubeProbeConfig {
    // The e-commerce readiness probe: every 5 s, 2 failures out, 1 success back.
    KubeProbeConfig {
        period: secs(5),
        timeout: secs(1),
        failure_threshold: 2,
        success_threshold: 1,
        initial_delay: SimTime::ZERO,
    }
}

#[test]
fn the_api_defaults() {
    let d = KubeProbeConfig::default();
    assert_eq!(d.period, secs(10));
    assert_eq!(d.timeout, secs(1));
    assert_eq!((d.failure_threshold, d.success_threshold), (3, 1));
    assert_eq!(d.initial_delay, SimTime::ZERO);
}

#[test]
fn a_refusing_container_is_not_ready_after_the_failure_threshold_and_back_after_one_pass() {
    // Down (refusing) for probes sent in [12 s, 31 s).
    let answer: Answer = |t| {
        Some(if t >= secs(12) && t < secs(31) {
            ProbeResult::Refused
        } else {
            ProbeResult::Pass
        })
    };
    let mut p = KubeProber::new(readiness(), SimTime::ZERO, SimTime::ZERO, true);
    let (marks, sends) = run(&mut p, ms(2), answer, secs(40));
    // Probes on the ticker: 0, 5, 10, …; 15 and 20 fail, 35 passes.
    assert_eq!(sends[..4], [secs(0), secs(5), secs(10), secs(15)]);
    assert_eq!(
        marks,
        [
            (secs(20) + ms(2), CheckAction::MarkDown),
            (secs(35) + ms(2), CheckAction::MarkUp),
        ]
    );
}

#[test]
fn an_unanswered_probe_fails_at_its_timeout() {
    let answer: Answer = |t| (t < secs(12)).then_some(ProbeResult::Pass);
    let mut p = KubeProber::new(readiness(), SimTime::ZERO, SimTime::ZERO, true);
    let (marks, _) = run(&mut p, ms(2), answer, secs(40));
    assert_eq!(marks, [(secs(21), CheckAction::MarkDown)]);
}

#[test]
fn a_5xx_fails_and_a_3xx_passes() {
    let answer: Answer = |t| {
        Some(if t < secs(12) {
            ProbeResult::BadStatus(302)
        } else {
            ProbeResult::BadStatus(503)
        })
    };
    let mut p = KubeProber::new(readiness(), SimTime::ZERO, SimTime::ZERO, true);
    let (marks, _) = run(&mut p, ms(1), answer, secs(30));
    assert_eq!(marks, [(secs(20) + ms(1), CheckAction::MarkDown)]);
}

#[test]
fn a_failure_run_broken_by_a_pass_starts_over() {
    // Fails at 15 s, passes at 20 s, fails from 25 s: down only after 25 and 30.
    let answer: Answer = |t| {
        Some(if t == secs(15) || t >= secs(25) {
            ProbeResult::Refused
        } else {
            ProbeResult::Pass
        })
    };
    let mut p = KubeProber::new(readiness(), SimTime::ZERO, SimTime::ZERO, true);
    let (marks, _) = run(&mut p, ms(1), answer, secs(40));
    assert_eq!(marks, [(secs(30) + ms(1), CheckAction::MarkDown)]);
}

#[test]
fn a_probe_longer_than_the_period_is_followed_at_once_by_the_kept_tick() {
    let cfg = KubeProbeConfig {
        period: secs(10),
        timeout: secs(30),
        ..KubeProbeConfig::default()
    };
    let answer: Answer = |_| Some(ProbeResult::Pass);
    let mut p = KubeProber::new(cfg, SimTime::ZERO, secs(3), true);
    // Probes take 12 s: sent at 3, answered at 15 (ticks 13 kept) → sent at 15, answered
    // at 27 (ticks 23 kept; 33 not yet) → sent at 27, …
    let (_, sends) = run(&mut p, secs(12), answer, secs(40));
    assert_eq!(sends, [secs(3), secs(15), secs(27), secs(39)]);
}

#[test]
fn liveness_holds_after_its_verdict_and_resumes_after_the_initial_delay() {
    let cfg = KubeProbeConfig {
        initial_delay: secs(15),
        ..KubeProbeConfig::default()
    };
    let answer: Answer = |t| (t < secs(25)).then_some(ProbeResult::Pass);
    let mut p = KubeProber::new(cfg, SimTime::ZERO, SimTime::ZERO, true);
    // Probes at 30, 40, 50 time out at +1 s: the verdict comes at 51 s.
    let (marks, _) = run(&mut p, ms(1), answer, secs(60));
    assert_eq!(marks, [(secs(51), CheckAction::MarkDown)]);
    p.hold();
    assert_eq!(p.poll_timeout(), None, "no probes while on hold");
    // The new container starts at 64 s: the tick at 70 s falls in its initial delay
    // (until 79 s) and does nothing; 80 s probes.
    p.resume(secs(64), true);
    assert!(p.is_up());
    let mut sends = Vec::new();
    let mut now = secs(64);
    for _ in 0..3 {
        now = p.poll_timeout().unwrap();
        p.handle_timeout(now);
        while let Some(a) = p.poll_action() {
            if let CheckAction::SendProbe { probe } = a {
                sends.push(now);
                p.handle_probe_result(now + ms(1), probe, ProbeResult::Pass);
            }
        }
    }
    assert_eq!(sends, [secs(80), secs(90)]);
    let _ = now;
}

#[test]
fn a_dead_container_is_not_ready_at_once() {
    let mut p = KubeProber::new(readiness(), SimTime::ZERO, SimTime::ZERO, true);
    p.container_died();
    assert_eq!(p.poll_action(), Some(CheckAction::MarkDown));
    assert!(!p.is_up());
    // The new container is not ready until a probe passes.
    p.resume(secs(30), false);
    let t = p.poll_timeout().unwrap();
    assert_eq!(t, secs(30));
    p.handle_timeout(t);
    let Some(CheckAction::SendProbe { probe }) = p.poll_action() else {
        panic!("a probe at the first tick");
    };
    p.handle_probe_result(t + ms(5), probe, ProbeResult::Pass);
    assert_eq!(p.poll_action(), Some(CheckAction::MarkUp));
}

#[test]
fn crash_loop_backoff_doubles_from_10s_to_300s() {
    let b: Vec<u64> = (1..=9)
        .map(|n| restart_backoff(n).as_nanos() / 1_000_000_000)
        .collect();
    assert_eq!(b, [0, 10, 20, 40, 80, 160, 300, 300, 300]);
    assert_eq!(restart_backoff(1000), secs(300));
}
