use super::*;
use crate::engine::SeedTree;

const S: SimTime = SimTime::SECOND;

fn secs(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

fn rng(seed: u64) -> SimRng {
    SeedTree::new(seed).stream(0, "health/envoy")
}

/// What a scripted server does with a probe sent at some instant.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Answer {
    /// Answer `result` after `rtt`.
    Reply(SimTime, ProbeResult),
    /// Never answer (black hole).
    Silent,
}

/// The record of one simulated run.
#[derive(Debug, Default)]
struct Trace {
    /// Send instants of all probes.
    sends: Vec<SimTime>,
    /// MarkUp / MarkDown with their instants.
    marks: Vec<(SimTime, CheckAction)>,
}

impl Trace {
    fn first_mark_after(&self, t: SimTime, what: CheckAction) -> Option<SimTime> {
        self.marks
            .iter()
            .find(|&&(at, a)| at >= t && a == what)
            .map(|&(at, _)| at)
    }
}

/// A tiny simulated clock: jump to the earlier of the checker's deadline and the
/// pending reply, deliver, drain, repeat until `until`. `traffic_at` calls
/// `observe_traffic` once when the clock reaches it.
fn drive(
    c: &mut EnvoyChecker,
    start: SimTime,
    until: SimTime,
    traffic_at: Option<SimTime>,
    server: impl Fn(SimTime) -> Answer,
) -> Trace {
    let mut trace = Trace::default();
    let mut reply: Option<(SimTime, u64, ProbeResult)> = None;
    let mut traffic_at = traffic_at;
    let mut now = start;
    drain(c, now, &server, &mut reply, &mut trace);
    for _ in 0..1_000_000 {
        let deadline = c
            .poll_timeout()
            .expect("an Envoy session always has a timer");
        let next = match reply {
            // A reply strictly before the deadline wins; at a tie the timeout fires
            // first (and the reply is then ignored).
            Some((at, _, _)) if at < deadline => at,
            _ => deadline,
        };
        if let Some(t) = traffic_at
            && t <= next
        {
            c.observe_traffic(t, true);
            traffic_at = None;
        }
        if next > until {
            return trace;
        }
        assert!(next >= now, "time ran backwards");
        now = next;
        match reply {
            Some((at, probe, result)) if at == now && at < deadline => {
                reply = None;
                c.handle_probe_result(now, probe, result);
            }
            _ => c.handle_timeout(now),
        }
        drain(c, now, &server, &mut reply, &mut trace);
    }
    panic!("drive did not reach {until}");
}

fn drain(
    c: &mut EnvoyChecker,
    now: SimTime,
    server: &impl Fn(SimTime) -> Answer,
    reply: &mut Option<(SimTime, u64, ProbeResult)>,
    trace: &mut Trace,
) {
    while let Some(action) = c.poll_action() {
        match action {
            CheckAction::SendProbe { probe } => {
                trace.sends.push(now);
                *reply = match server(now) {
                    Answer::Reply(rtt, result) => Some((now + rtt, probe, result)),
                    Answer::Silent => None,
                };
            }
            mark => trace.marks.push((now, mark)),
        }
    }
}

fn pass() -> Answer {
    Answer::Reply(SimTime::ZERO, ProbeResult::Pass)
}

/// The reference's example: interval 5 s, thresholds 3/2, timeout 1 s, a cluster that
/// carries traffic from the start.
fn example_config() -> EnvoyCheckConfig {
    EnvoyCheckConfig {
        timeout: S,
        interval: secs(5),
        unhealthy_threshold: 3,
        healthy_threshold: 2,
        ..EnvoyCheckConfig::default()
    }
}

fn with_traffic(config: EnvoyCheckConfig) -> EnvoyChecker {
    let mut c = EnvoyChecker::new(config, SimTime::ZERO, rng(1));
    c.observe_traffic(SimTime::ZERO, true);
    c
}

/// Sweeps the instant of death over `n` phases of one 5 s check cycle (checks at
/// 0, 5, 10, …, all passing before death) and returns each detection delay
/// (death → MarkDown).
fn detection_delays(failure: Answer, n: u64) -> Vec<SimTime> {
    let step = secs(5).as_nanos() / n;
    (0..n)
        .map(|k| {
            let death = secs(20) + SimTime(k * step);
            let mut c = with_traffic(example_config());
            let trace = drive(&mut c, SimTime::ZERO, secs(60), None, |t| {
                if t >= death { failure } else { pass() }
            });
            assert_eq!(trace.marks[0], (SimTime::ZERO, CheckAction::MarkUp));
            let down = trace
                .first_mark_after(death, CheckAction::MarkDown)
                .expect("marked down");
            down - death
        })
        .collect()
}

fn assert_window(delays: &[SimTime], lo: SimTime, hi: SimTime, step: SimTime) {
    let min = *delays.iter().min().unwrap();
    let max = *delays.iter().max().unwrap();
    assert!(
        min >= lo && max <= hi,
        "delays in [{min}, {max}], want [{lo}, {hi}]"
    );
    // The extremes are approached: within one sweep step of each end.
    assert!(min <= lo + step, "min {min} far from {lo}");
    assert!(max + step >= hi, "max {max} far from {hi}");
}

#[test]
fn connect_refused_is_detected_10_to_15_s_after_death() {
    let n = 500;
    let delays = detection_delays(Answer::Reply(SimTime::ZERO, ProbeResult::Refused), n);
    assert_window(&delays, secs(10), secs(15), SimTime(secs(5).as_nanos() / n));
}

#[test]
fn black_hole_adds_three_timeouts_13_to_18_s() {
    let n = 500;
    let delays = detection_delays(Answer::Silent, n);
    assert_window(&delays, secs(13), secs(18), SimTime(secs(5).as_nanos() / n));
}

#[test]
fn http_503_is_detected_at_the_first_check_0_to_5_s() {
    let n = 500;
    let delays = detection_delays(Answer::Reply(SimTime::ZERO, ProbeResult::BadStatus(503)), n);
    assert_window(
        &delays,
        SimTime::ZERO,
        secs(5),
        SimTime(secs(5).as_nanos() / n),
    );
}

#[test]
fn recovery_takes_5_to_10_s() {
    let n = 500;
    let step = secs(5).as_nanos() / n;
    let delays: Vec<SimTime> = (0..n)
        .map(|k| {
            let death = SimTime::from_millis(2_500);
            let repair = secs(40) + SimTime(k * step);
            let mut c = with_traffic(example_config());
            let trace = drive(&mut c, SimTime::ZERO, secs(80), None, |t| {
                if t >= death && t < repair {
                    Answer::Reply(SimTime::ZERO, ProbeResult::Refused)
                } else {
                    pass()
                }
            });
            // Up at 0, down at 15 (fails at 5, 10, 15), up again after the repair.
            assert_eq!(
                trace.marks[..2],
                [
                    (SimTime::ZERO, CheckAction::MarkUp),
                    (secs(15), CheckAction::MarkDown),
                ]
            );
            assert_eq!(trace.marks.len(), 3);
            trace.first_mark_after(repair, CheckAction::MarkUp).unwrap() - repair
        })
        .collect();
    assert_window(&delays, secs(5), secs(10), SimTime(step));
}

#[test]
fn a_new_host_is_not_routable_until_its_first_result() {
    let mut c = EnvoyChecker::new(example_config(), secs(3), rng(1));
    assert!(!c.is_up());
    assert_eq!(c.poll_action(), None, "no action at construction");
    // Zero initial jitter: the first probe is due at once.
    assert_eq!(c.poll_timeout(), Some(secs(3)));
    c.handle_timeout(secs(3));
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 0 }));
    assert_eq!(c.poll_action(), None);
    assert!(!c.is_up(), "still pending while the probe is in flight");
    assert_eq!(c.poll_timeout(), Some(secs(4)), "timeout armed at send");
    // One success is enough on the first check, despite healthy_threshold 2.
    c.handle_probe_result(secs(3) + SimTime::MILLISECOND, 0, ProbeResult::Pass);
    assert_eq!(c.poll_action(), Some(CheckAction::MarkUp));
    assert!(c.is_up());
    // The cluster never saw traffic: next check after no_traffic_healthy_interval
    // (= no_traffic_interval = 60 s), counted from the result.
    assert_eq!(c.poll_timeout(), Some(secs(63) + SimTime::MILLISECOND));
}

#[test]
fn a_first_failure_keeps_the_host_down_and_then_needs_the_threshold() {
    let config = EnvoyCheckConfig {
        unhealthy_interval: Some(secs(7)),
        unhealthy_edge_interval: Some(secs(1)),
        healthy_edge_interval: Some(secs(2)),
        ..example_config()
    };
    let mut c = with_traffic(config);
    // Refused at 0 and 7; passes from 10 on.
    let trace = drive(&mut c, SimTime::ZERO, secs(30), None, |t| {
        if t < secs(10) {
            Answer::Reply(SimTime::ZERO, ProbeResult::Refused)
        } else {
            pass()
        }
    });
    // 0 fail (pending flag cleared → Changed → unhealthy_interval 7 s, not the edge
    // interval); 7 fail (already failed → Unchanged → 7 s); 14 pass (ChangePending →
    // healthy_edge 2 s); 16 pass → healthy (MarkUp), then interval 5 s: 21, 26.
    assert_eq!(trace.sends, [0, 7, 14, 16, 21, 26].map(secs));
    assert_eq!(trace.marks, [(secs(16), CheckAction::MarkUp)]);
}

#[test]
fn edge_intervals_apply_while_a_transition_is_pending() {
    let config = EnvoyCheckConfig {
        unhealthy_interval: Some(secs(7)),
        unhealthy_edge_interval: Some(secs(1)),
        healthy_edge_interval: Some(secs(2)),
        ..example_config()
    };
    let mut c = with_traffic(config);
    let trace = drive(&mut c, SimTime::ZERO, secs(40), None, |t| {
        if (secs(4)..secs(12)).contains(&t) {
            Answer::Reply(SimTime::ZERO, ProbeResult::Refused)
        } else {
            pass()
        }
    });
    // 0 pass → up, +5; 5 fail (pending) +1; 6 fail (pending) +1; 7 fail → down (Changed)
    // +7 unhealthy_interval; 14 pass (pending) +2 healthy_edge; 16 pass → up +5; 21, 26…
    assert_eq!(trace.sends, [0, 5, 6, 7, 14, 16, 21, 26, 31, 36].map(secs));
    assert_eq!(
        trace.marks,
        [
            (secs(0), CheckAction::MarkUp),
            (secs(7), CheckAction::MarkDown),
            (secs(16), CheckAction::MarkUp),
        ]
    );
}

#[test]
fn a_success_cancels_a_pending_unhealthy_transition() {
    let mut c = with_traffic(example_config());
    // Failing at 5 and 10, passing at 15, failing at 20 and 25, passing after.
    let trace = drive(&mut c, SimTime::ZERO, secs(60), None, |t| {
        let s = t.as_nanos() / S.as_nanos();
        if [5, 10, 20, 25].contains(&s) {
            Answer::Reply(SimTime::ZERO, ProbeResult::Refused)
        } else {
            pass()
        }
    });
    // Never three failures in a row: never marked down.
    assert_eq!(trace.marks, [(SimTime::ZERO, CheckAction::MarkUp)]);
    assert!(c.is_up());
}

#[test]
fn no_traffic_intervals_until_traffic_is_observed() {
    let config = EnvoyCheckConfig {
        no_traffic_interval: secs(60),
        no_traffic_healthy_interval: Some(secs(30)),
        ..example_config()
    };
    let mut c = EnvoyChecker::new(config, SimTime::ZERO, rng(1));
    // Dies at 40; traffic is first seen at 100, which does not re-arm the timer.
    let trace = drive(&mut c, SimTime::ZERO, secs(200), Some(secs(100)), |t| {
        if t >= secs(40) {
            Answer::Reply(SimTime::ZERO, ProbeResult::Refused)
        } else {
            pass()
        }
    });
    // 0 pass → up, settled: +30 (no_traffic_healthy); 30 pass +30; 60 fail (pending)
    // +60 no_traffic; 120 fail (pending, traffic seen now) +5 unhealthy_edge;
    // 125 fail → down +5; 130, 135, …
    assert_eq!(trace.sends[..7], [0, 30, 60, 120, 125, 130, 135].map(secs));
    assert_eq!(
        trace.marks,
        [
            (secs(0), CheckAction::MarkUp),
            (secs(125), CheckAction::MarkDown),
        ]
    );
    assert!(c.has_seen_traffic());
}

#[test]
fn no_traffic_healthy_interval_defaults_to_no_traffic_interval() {
    let mut c = EnvoyChecker::new(example_config(), SimTime::ZERO, rng(1));
    let trace = drive(&mut c, SimTime::ZERO, secs(200), None, |_| pass());
    assert_eq!(trace.sends, [0, 60, 120, 180].map(secs));
    // A pending recovery without traffic also uses no_traffic_interval.
    let mut c = EnvoyChecker::new(example_config(), SimTime::ZERO, rng(1));
    let trace = drive(&mut c, SimTime::ZERO, secs(200), None, |t| {
        if t < secs(1) {
            Answer::Reply(SimTime::ZERO, ProbeResult::Refused)
        } else {
            pass()
        }
    });
    assert_eq!(trace.sends, [0, 60, 120, 180].map(secs));
    assert_eq!(trace.marks, [(secs(120), CheckAction::MarkUp)]);
}

#[test]
fn retriable_statuses_count_toward_the_threshold() {
    let config = EnvoyCheckConfig {
        retriable_statuses: vec![StatusRange::single(503)],
        ..example_config()
    };
    let mut c = with_traffic(config.clone());
    let trace = drive(&mut c, SimTime::ZERO, secs(40), None, |t| {
        if t >= secs(3) {
            Answer::Reply(SimTime::ZERO, ProbeResult::BadStatus(503))
        } else {
            pass()
        }
    });
    // Fails at 5, 10, 15: down at the third, like a network failure.
    assert_eq!(
        trace.marks,
        [
            (secs(0), CheckAction::MarkUp),
            (secs(15), CheckAction::MarkDown),
        ]
    );
    // A status outside both sets still ejects at once, even mid-count.
    let mut c = with_traffic(config);
    let trace = drive(&mut c, SimTime::ZERO, secs(40), None, |t| {
        if t >= secs(8) {
            Answer::Reply(SimTime::ZERO, ProbeResult::BadStatus(500))
        } else if t >= secs(3) {
            Answer::Reply(SimTime::ZERO, ProbeResult::BadStatus(503))
        } else {
            pass()
        }
    });
    assert_eq!(
        trace.marks,
        [
            (secs(0), CheckAction::MarkUp),
            (secs(10), CheckAction::MarkDown),
        ]
    );
}

#[test]
fn expected_statuses_are_half_open_ranges_and_default_to_200() {
    let default = EnvoyCheckConfig::default();
    assert!(default.is_expected(200));
    assert!(!default.is_expected(201) && !default.is_expected(199));
    let empty = EnvoyCheckConfig {
        expected_statuses: Vec::new(),
        ..EnvoyCheckConfig::default()
    };
    assert!(empty.is_expected(200) && !empty.is_expected(204));
    let twoxx = EnvoyCheckConfig {
        expected_statuses: vec![StatusRange::new(200, 300)],
        ..example_config()
    };
    assert!(twoxx.is_expected(299) && !twoxx.is_expected(300));
    // An expected status reported as BadStatus passes, as Envoy's checker decides.
    let mut c = with_traffic(twoxx);
    let trace = drive(&mut c, SimTime::ZERO, secs(30), None, |_| {
        Answer::Reply(SimTime::ZERO, ProbeResult::BadStatus(204))
    });
    assert_eq!(trace.marks, [(secs(0), CheckAction::MarkUp)]);
}

#[test]
fn the_interval_starts_when_the_result_arrives() {
    let mut c = with_traffic(example_config());
    let rtt = SimTime::from_millis(300);
    let trace = drive(&mut c, SimTime::ZERO, secs(20), None, |_| {
        Answer::Reply(rtt, ProbeResult::Pass)
    });
    assert_eq!(
        trace.sends,
        [
            SimTime::ZERO,
            SimTime::from_millis(5_300),
            SimTime::from_millis(10_600),
            SimTime::from_millis(15_900),
        ]
    );
}

#[test]
fn stale_early_and_late_inputs_are_ignored() {
    let mut c = with_traffic(example_config());
    c.handle_timeout(SimTime::ZERO);
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 0 }));
    // Wrong probe number: ignored.
    c.handle_probe_result(SimTime::from_millis(10), 7, ProbeResult::Pass);
    assert_eq!(c.poll_action(), None);
    assert!(!c.is_up());
    // Early timeout call: no-op.
    c.handle_timeout(SimTime::from_millis(999));
    assert_eq!(c.poll_action(), None);
    assert_eq!(c.poll_timeout(), Some(S));
    // The timeout fires: a network failure on a failed host (no action), next check
    // after unhealthy_interval from the timeout.
    c.handle_timeout(S);
    assert_eq!(c.poll_action(), None);
    assert_eq!(c.poll_timeout(), Some(secs(6)));
    // The late answer to probe 0 is ignored.
    c.handle_probe_result(S + SimTime(1), 0, ProbeResult::Pass);
    assert_eq!(c.poll_action(), None);
    assert!(!c.is_up());
    // A result delivered after its deadline without a handle_timeout call counts as
    // the timeout.
    c.handle_timeout(secs(6));
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 1 }));
    c.handle_probe_result(secs(8), 1, ProbeResult::Pass);
    assert_eq!(c.poll_action(), None);
    assert!(!c.is_up());
    assert_eq!(c.poll_timeout(), Some(secs(13)));
}

#[test]
fn intervals_are_floored_at_one_millisecond() {
    let config = EnvoyCheckConfig {
        interval: SimTime::ZERO,
        ..example_config()
    };
    let mut c = with_traffic(config);
    let trace = drive(&mut c, SimTime::ZERO, SimTime::from_millis(3), None, |_| {
        pass()
    });
    assert_eq!(trace.sends, [0, 1, 2, 3].map(SimTime::from_millis));
}

#[test]
fn thresholds_of_one_act_on_the_first_failure_and_success() {
    let config = EnvoyCheckConfig {
        unhealthy_threshold: 1,
        healthy_threshold: 1,
        ..example_config()
    };
    let mut c = with_traffic(config);
    let trace = drive(&mut c, SimTime::ZERO, secs(20), None, |t| {
        if (secs(3)..secs(8)).contains(&t) {
            Answer::Reply(SimTime::ZERO, ProbeResult::Refused)
        } else {
            pass()
        }
    });
    assert_eq!(
        trace.marks,
        [
            (secs(0), CheckAction::MarkUp),
            (secs(5), CheckAction::MarkDown),
            (secs(10), CheckAction::MarkUp),
        ]
    );
}

#[test]
fn interval_jitter_stays_within_bounds() {
    // base 5 s + below(10 % of 5 s = 0.5 s) + below(1 s): gaps in [5 s, 6.5 s).
    let config = EnvoyCheckConfig {
        interval_jitter: S,
        interval_jitter_percent: 10,
        ..example_config()
    };
    let mut c = EnvoyChecker::new(config, SimTime::ZERO, rng(42));
    c.observe_traffic(SimTime::ZERO, true);
    let trace = drive(&mut c, SimTime::ZERO, secs(12_000), None, |_| pass());
    let gaps: Vec<u64> = trace
        .sends
        .windows(2)
        .map(|w| (w[1] - w[0]).as_nanos())
        .collect();
    let n = gaps.len();
    assert!(n > 1_800, "{n} gaps");
    let (lo, hi) = (secs(5).as_nanos(), SimTime::from_millis(6_500).as_nanos());
    assert!(gaps.iter().all(|&g| g >= lo && g < hi));
    // Extremes approached: the minimum of n sums of two uniforms lies within
    // 0.05 s of 5 s with probability ≈ 1 − (1 − 0.05²/(2·0.5·1))^n ≈ 1 − e^{-4.5}.
    // Use a looser 0.1 s margin (failure probability < e^{-18} for n ≥ 1800).
    let margin = SimTime::from_millis(100).as_nanos();
    assert!(*gaps.iter().min().unwrap() < lo + margin);
    assert!(*gaps.iter().max().unwrap() > hi - margin);
    // Mean 5 + 0.25 + 0.5 = 5.75 s; sd of one gap = sqrt(0.5²/12 + 1/12) = 0.3227 s;
    // tolerance 5 standard errors.
    let mean = gaps.iter().map(|&g| g as f64 * 1e-9).sum::<f64>() / n as f64;
    let tol = 5.0 * 0.3227 / (n as f64).sqrt();
    assert!((mean - 5.75).abs() < tol, "mean {mean}, tol {tol}");
}

#[test]
fn initial_jitter_spreads_the_first_check() {
    let config = EnvoyCheckConfig {
        initial_jitter: secs(2),
        ..example_config()
    };
    let n = 4_000u64;
    let firsts: Vec<u64> = (0..n)
        .map(|seed| {
            let c = EnvoyChecker::new(config.clone(), secs(10), rng(seed));
            (c.poll_timeout().unwrap() - secs(10)).as_nanos()
        })
        .collect();
    // In [1 ms, 2 s): below(2 s) floored at 1 ms.
    assert!(
        firsts
            .iter()
            .all(|d| (1_000_000..2_000_000_000).contains(d))
    );
    // Uniform on [0, 2 s): mean 1 s, sd 2/sqrt(12) = 0.577 s; 5 standard errors.
    let mean = firsts.iter().map(|&d| d as f64 * 1e-9).sum::<f64>() / n as f64;
    let tol = 5.0 * 0.577 / (n as f64).sqrt();
    assert!((mean - 1.0).abs() < tol, "mean {mean}, tol {tol}");
    // The same seed gives the same schedule.
    let a = EnvoyChecker::new(config.clone(), SimTime::ZERO, rng(9)).poll_timeout();
    let b = EnvoyChecker::new(config, SimTime::ZERO, rng(9)).poll_timeout();
    assert_eq!(a, b);
}

#[test]
fn effective_defaults_follow_envoy_fallbacks() {
    let c = EnvoyCheckConfig {
        interval: secs(4),
        ..EnvoyCheckConfig::default()
    };
    assert_eq!(c.effective_unhealthy_interval(), secs(4));
    assert_eq!(c.effective_unhealthy_edge_interval(), secs(4));
    assert_eq!(c.effective_healthy_edge_interval(), secs(4));
    assert_eq!(c.effective_no_traffic_healthy_interval(), secs(60));
    let c = EnvoyCheckConfig {
        unhealthy_interval: Some(secs(9)),
        no_traffic_interval: secs(20),
        ..c
    };
    assert_eq!(c.effective_unhealthy_edge_interval(), secs(9));
    assert_eq!(c.effective_healthy_edge_interval(), secs(4));
    assert_eq!(c.effective_no_traffic_healthy_interval(), secs(20));
    let d = EnvoyCheckConfig::default();
    assert_eq!(
        (
            d.timeout,
            d.interval,
            d.unhealthy_threshold,
            d.healthy_threshold
        ),
        (S, secs(5), 3, 2)
    );
    assert_eq!(d.no_traffic_interval, secs(60));
    assert_eq!(
        (
            d.initial_jitter,
            d.interval_jitter,
            d.interval_jitter_percent
        ),
        (SimTime::ZERO, SimTime::ZERO, 0)
    );
    assert!(d.retriable_statuses.is_empty());
}
