use super::*;

const S: SimTime = SimTime::SECOND;
const MS: SimTime = SimTime::MILLISECOND;

fn ms(x: u64) -> SimTime {
    SimTime::from_millis(x)
}

fn secs(x: u64) -> SimTime {
    SimTime::from_secs(x)
}

fn rng(seed: u64) -> SimRng {
    SimRng::from_seed_u64(seed)
}

/// How a failed server answers probes.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Failure {
    /// Connection refused, after the probe latency.
    Refused,
    /// No answer at all: the probe times out.
    BlackHole,
}

/// A tiny simulated clock around one checker and a scripted server.
struct Sim {
    c: HaproxyChecker,
    /// Probe round trip (for passes and refusals alike).
    latency: SimTime,
    failure: Failure,
    /// `(t, healthy)`: the server's state for probes sent strictly after `t`.
    script: Vec<(SimTime, bool)>,
    pending: Option<(SimTime, u64, ProbeResult)>,
    now: SimTime,
    sends: Vec<SimTime>,
    /// `(time, passed, health after)` of every check result.
    results: Vec<(SimTime, bool, u32)>,
    marks: Vec<(SimTime, CheckAction)>,
}

impl Sim {
    fn new(cfg: HaproxyCheckConfig, seed: u64) -> Sim {
        Sim {
            c: HaproxyChecker::new(cfg, SimTime::ZERO, rng(seed)),
            latency: SimTime::ZERO,
            failure: Failure::Refused,
            script: Vec::new(),
            pending: None,
            now: SimTime::ZERO,
            sends: Vec::new(),
            results: Vec::new(),
            marks: Vec::new(),
        }
    }

    fn healthy_at(&self, t: SimTime) -> bool {
        self.script
            .iter()
            .rev()
            .find(|&&(ct, _)| ct < t)
            .is_none_or(|&(_, h)| h)
    }

    fn set(&mut self, t: SimTime, healthy: bool) {
        self.script.push((t, healthy));
    }

    fn drain(&mut self) {
        while let Some(a) = self.c.poll_action() {
            match a {
                CheckAction::SendProbe { probe } => {
                    self.sends.push(self.now);
                    let at = self.now + self.latency;
                    if self.healthy_at(self.now) {
                        self.pending = Some((at, probe, ProbeResult::Pass));
                    } else if self.failure == Failure::Refused {
                        self.pending = Some((at, probe, ProbeResult::Refused));
                    }
                }
                m => self.marks.push((self.now, m)),
            }
        }
    }

    /// Runs every event up to and including `end`.
    fn run_until(&mut self, end: SimTime) {
        loop {
            let timer = self.c.poll_timeout().expect("always armed");
            let next = self.pending.map_or(timer, |(t, _, _)| t.min(timer));
            if next > end {
                break;
            }
            self.now = next;
            match self.pending {
                Some((t, probe, r)) if t <= timer => {
                    self.pending = None;
                    self.c.handle_probe_result(t, probe, r);
                    self.results
                        .push((t, r == ProbeResult::Pass, self.c.health()));
                }
                _ => {
                    let before = self.c.in_flight;
                    self.c.handle_timeout(next);
                    if before.is_some() && self.c.in_flight.is_none() {
                        self.results.push((next, false, self.c.health()));
                    }
                }
            }
            self.drain();
        }
        self.now = end;
    }

    /// Runs until the next `want` mark after `after`, returning its time.
    fn run_until_mark(&mut self, after: SimTime, want: CheckAction) -> SimTime {
        let limit = after + SimTime::from_secs(600);
        loop {
            if let Some(&(t, _)) = self.marks.iter().find(|&&(t, m)| m == want && t > after) {
                return t;
            }
            let timer = self.c.poll_timeout().unwrap();
            let next = self.pending.map_or(timer, |(t, _, _)| t.min(timer));
            assert!(next <= limit, "no {want:?} within 600 s");
            self.run_until(next);
        }
    }

    fn last_send_before(&self, t: SimTime) -> SimTime {
        *self.sends.iter().rev().find(|&&s| s <= t).unwrap()
    }
}

/// Sweeps the crash instant over `n` phases of the check period and returns every
/// detection delay, in seconds.
fn sweep_down(cfg: HaproxyCheckConfig, failure: Failure, n: u64) -> Vec<f64> {
    (0..n)
        .map(|k| {
            let mut sim = Sim::new(cfg, 7);
            sim.failure = failure;
            let warm = SimTime(cfg.inter.as_nanos() * 10);
            sim.run_until(warm);
            assert!(sim.c.is_up() && sim.c.health() == cfg.rise + cfg.fall - 1);
            let last = sim.last_send_before(warm);
            let crash = last + SimTime(cfg.inter.as_nanos() * k / n);
            sim.set(crash, false);
            let down = sim.run_until_mark(crash, CheckAction::MarkDown);
            (down - crash).as_secs_f64()
        })
        .collect()
}

/// Sweeps the repair instant over `n` phases of the (down) check period and returns
/// every recovery delay, in seconds.
fn sweep_up(cfg: HaproxyCheckConfig, n: u64) -> Vec<f64> {
    let di = cfg.downinter.unwrap_or(cfg.inter);
    (0..n)
        .map(|k| {
            let mut sim = Sim::new(cfg, 11);
            sim.set(SimTime::ZERO, false);
            let down = sim.run_until_mark(SimTime::ZERO, CheckAction::MarkDown);
            let settle = down + SimTime(di.as_nanos() * 3);
            sim.run_until(settle);
            assert_eq!(sim.c.health(), 0);
            let last = sim.last_send_before(settle);
            let repair = last + SimTime(di.as_nanos() * k / n);
            sim.set(repair, true);
            let up = sim.run_until_mark(repair, CheckAction::MarkUp);
            (up - repair).as_secs_f64()
        })
        .collect()
}

/// Every delay lies in `(lo, hi]`, and the extremes come within 1% of the window's
/// width of both bounds.
fn assert_window(delays: &[f64], lo: f64, hi: f64) {
    let eps = 1e-9;
    let min = delays.iter().copied().fold(f64::INFINITY, f64::min);
    let max = delays.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        min > lo + eps && max <= hi + eps,
        "[{min}, {max}] outside ({lo}, {hi}]"
    );
    let tol = 0.01 * (hi - lo);
    assert!(min - lo <= tol, "min {min} not near {lo}");
    assert!(hi - max <= tol, "max {max} not near {hi}");
}

#[test]
fn defaults_are_haproxys() {
    let d = HaproxyCheckConfig::default();
    assert_eq!(d.inter, secs(2));
    assert_eq!(
        (d.fastinter, d.downinter, d.timeout_check),
        (None, None, None)
    );
    assert_eq!(
        (d.rise, d.fall, d.spread_checks_pct, d.error_limit),
        (2, 3, 0, 10)
    );
    assert_eq!((d.observe, d.on_error), (Observe::None, OnError::FailCheck));
}

#[test]
fn starts_up_at_rise_and_first_probe_is_staggered_within_inter() {
    let cfg = HaproxyCheckConfig::default();
    let mut offsets = Vec::new();
    for seed in 0..400 {
        let c = HaproxyChecker::new(cfg, S, rng(seed));
        assert!(c.is_up());
        assert_eq!(c.health(), 2);
        let t = c.poll_timeout().unwrap();
        assert!(t >= S && t < S + cfg.inter);
        // Deterministic per rng stream.
        assert_eq!(
            HaproxyChecker::new(cfg, S, rng(seed)).poll_timeout(),
            Some(t)
        );
        offsets.push((t - S).as_secs_f64() / 2.0);
    }
    // Uniform on [0, 1): 400 draws cover both ends and average ≈ 0.5 (sd 0.0144).
    let min = offsets.iter().copied().fold(1.0, f64::min);
    let max = offsets.iter().copied().fold(0.0, f64::max);
    let mean = offsets.iter().sum::<f64>() / offsets.len() as f64;
    assert!(min < 0.02 && max > 0.98, "{min} {max}");
    assert!(
        (mean - 0.5).abs() < 5.0 * (1.0f64 / 12.0 / 400.0).sqrt(),
        "{mean}"
    );
}

#[test]
fn first_failed_check_at_startup_marks_down_immediately() {
    let mut sim = Sim::new(HaproxyCheckConfig::default(), 3);
    sim.set(SimTime::ZERO, false);
    sim.run_until(secs(2));
    assert_eq!(sim.sends.len(), 1);
    assert_eq!(sim.marks, vec![(sim.sends[0], CheckAction::MarkDown)]);
    assert_eq!(sim.c.health(), 0);
    assert!(!sim.c.is_up());
}

#[test]
fn first_passed_check_at_startup_makes_fully_up_without_a_mark() {
    let mut sim = Sim::new(HaproxyCheckConfig::default(), 3);
    sim.run_until(secs(2));
    assert_eq!(sim.c.health(), 4);
    assert!(sim.marks.is_empty());
}

#[test]
fn health_counter_follows_haproxy_steps() {
    // rise 2, fall 3: max 4. Fall: 4 → 3 → 2 → 0 (DOWN); rise: 0 → 1 → 4 (UP).
    let cfg = HaproxyCheckConfig::default();
    let mut sim = Sim::new(cfg, 5);
    sim.run_until(secs(3));
    sim.set(secs(3), false);
    sim.run_until(secs(30));
    sim.set(secs(30), true);
    sim.run_until(secs(60));
    let h: Vec<u32> = sim.results.iter().map(|r| r.2).collect();
    let fall_at = sim.results.iter().position(|r| !r.1).unwrap();
    assert_eq!(&h[fall_at..fall_at + 5], &[3, 2, 0, 0, 0]);
    let rise_at = sim.results.iter().rposition(|r| !r.1).unwrap() + 1;
    assert_eq!(&h[rise_at..rise_at + 3], &[1, 4, 4]);
    // Exactly one MarkDown and one MarkUp, at the crossing checks.
    let marks: Vec<CheckAction> = sim.marks.iter().map(|m| m.1).collect();
    assert_eq!(marks, vec![CheckAction::MarkDown, CheckAction::MarkUp]);
    assert_eq!(sim.marks[0].0, sim.results[fall_at + 2].0);
    assert_eq!(sim.marks[1].0, sim.results[rise_at + 1].0);
}

#[test]
fn one_success_in_fall_phase_restores_full_health() {
    let mut sim = Sim::new(HaproxyCheckConfig::default(), 5);
    sim.run_until(secs(3));
    sim.set(secs(3), false);
    // The first failure comes within (3 s, 5 s], the second 2 s later.
    let first_fail = {
        sim.run_until(secs(5));
        sim.results.iter().find(|r| !r.1).unwrap().0
    };
    // Two failures (4 → 3 → 2), then the server recovers before the third.
    let second = first_fail + secs(2);
    sim.run_until(second);
    assert_eq!(sim.c.health(), 2);
    assert!(sim.c.is_up());
    sim.set(second, true);
    sim.run_until(second + secs(2));
    assert_eq!(sim.c.health(), 4);
    assert!(sim.marks.is_empty());
}

#[test]
fn one_failure_in_rise_phase_resets_to_zero() {
    let cfg = HaproxyCheckConfig {
        rise: 3,
        ..Default::default()
    };
    let mut sim = Sim::new(cfg, 5);
    sim.set(SimTime::ZERO, false);
    let down = sim.run_until_mark(SimTime::ZERO, CheckAction::MarkDown);
    sim.set(down, true);
    sim.run_until(down + secs(4)); // two passes: 0 → 1 → 2
    assert_eq!(sim.c.health(), 2);
    assert!(!sim.c.is_up());
    sim.set(down + secs(4), false);
    sim.run_until(down + secs(6)); // one failure: 2 → 0
    assert_eq!(sim.c.health(), 0);
    assert_eq!(sim.marks.len(), 1, "no repeated MarkDown");
}

#[test]
fn delay_depends_on_health_and_is_measured_from_check_end() {
    let cfg = HaproxyCheckConfig {
        inter: secs(2),
        fastinter: Some(ms(500)),
        downinter: Some(secs(5)),
        ..Default::default()
    };
    let mut sim = Sim::new(cfg, 9);
    sim.latency = ms(10);
    sim.run_until(secs(10));
    sim.set(secs(10), false);
    sim.run_until(secs(40));
    sim.set(secs(40), true);
    sim.run_until(secs(60));
    // Each send is the previous result plus the interval chosen by the health after it.
    for (send, prev) in sim.sends.iter().skip(1).zip(&sim.results) {
        let want = match prev.2 {
            4 => secs(2),
            0 => secs(5),
            _ => ms(500),
        };
        assert_eq!(*send - prev.0, want, "after health {}", prev.2);
    }
    assert!(sim.results.iter().any(|r| r.2 == 0) && sim.results.iter().any(|r| r.2 == 1));
}

#[test]
fn check_overhead_delays_every_check_and_the_down_mark() {
    // HAProxy 2.6 measured ~1-2 ms per check beyond inter: with fall = 3 the DOWN mark
    // comes about 5 ms later than the ideal model's.
    let run = |overhead: SimTime| {
        let cfg = HaproxyCheckConfig {
            inter: secs(1),
            check_overhead: overhead,
            ..Default::default()
        };
        let mut sim = Sim::new(cfg, 4);
        sim.run_until(secs(10));
        let crash = sim.sends.last().copied().unwrap() + ms(100);
        sim.set(crash, false);
        sim.run_until(secs(20));
        let gaps: Vec<SimTime> = sim.sends.windows(2).map(|w| w[1] - w[0]).collect();
        (gaps, sim.marks[0].0 - crash)
    };
    let (ideal_gaps, ideal_down) = run(SimTime::ZERO);
    let (gaps, down) = run(ms(2));
    for (g, i) in gaps.iter().zip(&ideal_gaps) {
        assert_eq!(*g, *i + ms(2));
    }
    // The crash comes 100 ms after a check in both runs: the next three checks (fall 3)
    // are each 2 ms later, so DOWN is 3 × 2 ms = 6 ms later.
    assert_eq!(down - ideal_down, ms(6));
}

#[test]
fn black_hole_probe_times_out_after_inter_or_timeout_check() {
    for (timeout_check, want) in [(None, secs(2)), (Some(ms(300)), ms(300))] {
        let cfg = HaproxyCheckConfig {
            timeout_check,
            ..Default::default()
        };
        let mut sim = Sim::new(cfg, 1);
        sim.failure = Failure::BlackHole;
        sim.set(SimTime::ZERO, false);
        sim.run_until(secs(20));
        assert_eq!(sim.results[0].0 - sim.sends[0], want);
        assert!(!sim.results[0].1);
        assert_eq!(
            sim.marks,
            vec![(sim.sends[0] + want, CheckAction::MarkDown)]
        );
    }
}

#[test]
fn stale_and_early_calls_are_ignored() {
    let cfg = HaproxyCheckConfig {
        timeout_check: Some(ms(100)),
        ..Default::default()
    };
    let mut c = HaproxyChecker::new(cfg, SimTime::ZERO, rng(2));
    let t0 = c.poll_timeout().unwrap();
    c.handle_timeout(t0.saturating_sub(SimTime(1)));
    assert_eq!(c.poll_action(), None);
    c.handle_timeout(t0);
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 1 }));
    assert_eq!(c.poll_timeout(), Some(t0 + ms(100)));
    c.handle_probe_result(t0 + MS, 7, ProbeResult::Refused); // not ours
    c.handle_timeout(t0 + ms(50)); // before the deadline
    assert_eq!((c.health(), c.poll_action()), (2, None));
    c.handle_timeout(t0 + ms(100)); // times out ⇒ DOWN
    assert_eq!(c.poll_action(), Some(CheckAction::MarkDown));
    c.handle_probe_result(t0 + ms(150), 1, ProbeResult::Pass); // too late
    assert_eq!((c.health(), c.is_up(), c.poll_action()), (0, false, None));
    assert_eq!(c.poll_timeout(), Some(t0 + ms(100) + secs(2)));
}

#[test]
fn bad_status_is_a_failure() {
    let mut c = HaproxyChecker::new(HaproxyCheckConfig::default(), SimTime::ZERO, rng(4));
    let t = c.poll_timeout().unwrap();
    c.handle_timeout(t);
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 1 }));
    c.handle_probe_result(t, 1, ProbeResult::BadStatus(503));
    assert_eq!(c.poll_action(), Some(CheckAction::MarkDown));
}

#[test]
fn defaults_rst_down_in_4_to_6_s_up_in_2_to_4_s() {
    let cfg = HaproxyCheckConfig::default();
    assert_window(&sweep_down(cfg, Failure::Refused, 1000), 4.0, 6.0);
    assert_window(&sweep_up(cfg, 1000), 2.0, 4.0);
}

#[test]
fn defaults_black_hole_down_in_10_to_12_s() {
    let cfg = HaproxyCheckConfig::default();
    assert_window(&sweep_down(cfg, Failure::BlackHole, 1000), 10.0, 12.0);
}

#[test]
fn black_hole_with_timeout_check_follows_the_formula() {
    // inter 2, FI 2, d 0.5, fall 3: (2·2 + 3·0.5, 2 + 2·2 + 3·0.5] = (5.5, 7.5].
    let cfg = HaproxyCheckConfig {
        timeout_check: Some(ms(500)),
        ..Default::default()
    };
    assert_window(&sweep_down(cfg, Failure::BlackHole, 1000), 5.5, 7.5);
}

#[test]
fn issue_inter_1s_fall_3_down_in_2_to_3_s() {
    let cfg = HaproxyCheckConfig {
        inter: S,
        ..Default::default()
    };
    assert_window(&sweep_down(cfg, Failure::Refused, 1000), 2.0, 3.0);
}

#[test]
fn issue_fastinter_downinter_fall_2_rise_3() {
    let cfg = HaproxyCheckConfig {
        inter: secs(2),
        fastinter: Some(ms(500)),
        downinter: Some(secs(5)),
        fall: 2,
        rise: 3,
        ..Default::default()
    };
    assert_window(&sweep_down(cfg, Failure::Refused, 1000), 0.5, 2.5);
    assert_window(&sweep_up(cfg, 1000), 1.0, 6.0);
}

#[test]
fn run_trace_inter_1s_fall_3_rise_2() {
    // [run]: HTTP check taking ≈1 ms, killed 0.271 s after a passing check ended:
    // failures 0.73, 1.73, 2.73 s after the kill (2/3 UP, 1/3 UP, DOWN); restarted
    // 0.269 s after a failing check ended: 1/2 DOWN at 0.73 s, UP at 1.73 s; period
    // inter + 1 ms.
    let cfg = HaproxyCheckConfig {
        inter: S,
        ..Default::default()
    };
    let mut sim = Sim::new(cfg, 13);
    sim.latency = MS;
    sim.run_until(secs(10));
    let good = sim.results.last().unwrap().0;
    let kill = good + ms(271);
    sim.set(kill, false);
    let down = sim.run_until_mark(kill, CheckAction::MarkDown);
    assert_eq!(down - kill, ms(2732));
    let fails: Vec<(SimTime, u32)> = sim
        .results
        .iter()
        .filter(|r| r.0 > kill && r.0 <= down)
        .map(|r| (r.0 - kill, r.2))
        .collect();
    assert_eq!(fails, vec![(ms(730), 3), (ms(1731), 2), (ms(2732), 0)]);
    // Stays down (period downinter = inter), then restarted.
    sim.run_until(down + secs(3));
    let bad = sim.results.last().unwrap().0;
    let restart = bad + ms(269);
    sim.set(restart, true);
    let up = sim.run_until_mark(restart, CheckAction::MarkUp);
    assert_eq!(up - restart, ms(1733));
    let after: Vec<(SimTime, u32)> = sim
        .results
        .iter()
        .filter(|r| r.0 > restart)
        .map(|r| (r.0 - restart, r.2))
        .collect();
    assert_eq!(after, vec![(ms(732), 1), (ms(1733), 4)]);
    for w in sim.sends.windows(2) {
        assert_eq!(w[1] - w[0], S + MS);
    }
    assert_eq!(sim.marks.len(), 2);
}

/// A checker that has passed its first check (fully UP, idle), with `observe` on.
fn observed(on_error: OnError, rise: u32, fall: u32) -> (HaproxyChecker, SimTime) {
    let cfg = HaproxyCheckConfig {
        inter: secs(2),
        fastinter: Some(ms(500)),
        rise,
        fall,
        observe: Observe::Layer7,
        error_limit: 3,
        on_error,
        ..Default::default()
    };
    let mut c = HaproxyChecker::new(cfg, SimTime::ZERO, rng(21));
    let t = c.poll_timeout().unwrap();
    c.handle_timeout(t);
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 1 }));
    c.handle_probe_result(t, 1, ProbeResult::Pass);
    assert_eq!(c.health(), rise + fall - 1);
    assert_eq!(c.poll_timeout(), Some(t + secs(2)));
    (c, t)
}

fn errors(c: &mut HaproxyChecker, now: SimTime, n: u32) {
    for _ in 0..n {
        c.observe_traffic(now, false);
    }
}

#[test]
fn observe_counts_consecutive_errors_only() {
    let (mut c, t) = observed(OnError::FailCheck, 2, 3);
    let now = t + S;
    errors(&mut c, now, 2);
    c.observe_traffic(now, true); // a good response resets
    errors(&mut c, now, 2);
    assert_eq!((c.health(), c.consecutive_errors()), (4, 2));
    assert_eq!(c.poll_timeout(), Some(t + secs(2)));
    // A passing active check also resets the counter.
    c.handle_timeout(t + secs(2));
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 2 }));
    c.handle_probe_result(t + secs(2), 2, ProbeResult::Pass);
    assert_eq!(c.consecutive_errors(), 0);
    errors(&mut c, t + secs(2), 2);
    assert_eq!(c.health(), 4);
    errors(&mut c, t + secs(2), 1); // third consecutive: fail-check
    assert_eq!((c.health(), c.consecutive_errors()), (3, 0));
}

#[test]
fn observe_off_ignores_traffic() {
    let cfg = HaproxyCheckConfig {
        error_limit: 1,
        on_error: OnError::MarkDown,
        ..Default::default()
    };
    let mut c = HaproxyChecker::new(cfg, SimTime::ZERO, rng(1));
    errors(&mut c, S, 5);
    assert!(c.is_up() && c.health() == 2 && c.poll_action().is_none());
}

#[test]
fn on_error_fastinter_only_advances_the_next_check() {
    let (mut c, t) = observed(OnError::FastInter, 2, 3);
    let now = t + ms(200);
    errors(&mut c, now, 3);
    assert_eq!((c.health(), c.is_up(), c.poll_action()), (4, true, None));
    assert_eq!(c.poll_timeout(), Some(now + ms(500)));
    // That check passes; with the flag consumed the next delay is inter again.
    c.handle_timeout(now + ms(500));
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 2 }));
    c.handle_probe_result(now + ms(500), 2, ProbeResult::Pass);
    assert_eq!(c.poll_timeout(), Some(now + ms(500) + secs(2)));
}

#[test]
fn on_error_never_delays_an_earlier_check() {
    let (mut c, t) = observed(OnError::FastInter, 2, 3);
    let now = t + ms(1800); // next check due at t + 2 s, earlier than now + 500 ms
    errors(&mut c, now, 3);
    assert_eq!(c.poll_timeout(), Some(t + secs(2)));
    // The forced fastinter still applies to the delay after that check.
    c.handle_timeout(t + secs(2));
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 2 }));
    c.handle_probe_result(t + secs(2), 2, ProbeResult::Pass);
    assert_eq!(c.poll_timeout(), Some(t + secs(2) + ms(500)));
}

#[test]
fn on_error_during_a_check_forces_fastinter_after_it() {
    let (mut c, t) = observed(OnError::FastInter, 2, 3);
    let send = t + secs(2);
    c.handle_timeout(send);
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 2 }));
    errors(&mut c, send + ms(10), 3);
    assert_eq!(
        c.poll_timeout(),
        Some(send + secs(2)),
        "probe deadline unchanged"
    );
    c.handle_probe_result(send + ms(20), 2, ProbeResult::Pass);
    assert_eq!(c.poll_timeout(), Some(send + ms(520)));
}

#[test]
fn on_error_without_fastinter_keeps_the_timer() {
    let cfg = HaproxyCheckConfig {
        observe: Observe::Layer4,
        error_limit: 2,
        ..Default::default()
    };
    let mut c = HaproxyChecker::new(cfg, SimTime::ZERO, rng(8));
    let t = c.poll_timeout().unwrap();
    errors(&mut c, SimTime::ZERO, 2); // fail-check: 2 → 0, DOWN
    assert_eq!(c.poll_action(), Some(CheckAction::MarkDown));
    assert_eq!(c.poll_timeout(), Some(t));
}

#[test]
fn on_error_fail_check_is_one_failed_check_then_fastinter() {
    let (mut c, t) = observed(OnError::FailCheck, 2, 3);
    let now = t + ms(100);
    errors(&mut c, now, 3);
    assert_eq!((c.health(), c.is_up(), c.poll_action()), (3, true, None));
    assert_eq!(c.poll_timeout(), Some(now + ms(500)));
    errors(&mut c, now, 3);
    errors(&mut c, now, 3); // 3 → 2 → 0
    assert_eq!(
        (c.health(), c.poll_action()),
        (0, Some(CheckAction::MarkDown))
    );
    errors(&mut c, now, 3);
    assert_eq!(c.poll_action(), None, "MarkDown only on the transition");
}

#[test]
fn on_error_sudden_death_leaves_one_failure_to_down() {
    // rise 2, fall 5: max 6 → clamp 3 → fail 2 (= rise, still UP).
    let (mut c, t) = observed(OnError::SuddenDeath, 2, 5);
    let now = t + ms(100);
    errors(&mut c, now, 3);
    assert_eq!((c.health(), c.is_up(), c.poll_action()), (2, true, None));
    assert_eq!(c.poll_timeout(), Some(now + ms(500)));
    // The next real failure marks it DOWN.
    c.handle_timeout(now + ms(500));
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 2 }));
    c.handle_probe_result(now + ms(500), 2, ProbeResult::Refused);
    assert_eq!(
        (c.health(), c.poll_action()),
        (0, Some(CheckAction::MarkDown))
    );
    // Health at or below rise is not raised by the clamp: rise 2, fall 1 (max 2).
    let (mut c, t) = observed(OnError::SuddenDeath, 2, 1);
    errors(&mut c, t + ms(100), 3);
    assert_eq!(
        (c.health(), c.poll_action()),
        (0, Some(CheckAction::MarkDown))
    );
}

#[test]
fn on_error_mark_down_is_down_now() {
    let (mut c, t) = observed(OnError::MarkDown, 2, 3);
    let now = t + ms(100);
    errors(&mut c, now, 3);
    assert_eq!((c.health(), c.is_up()), (0, false));
    assert_eq!(c.poll_action(), Some(CheckAction::MarkDown));
    // Health 0 and DOWN: srv_getinter gives downinter (unset ⇒ inter), which is not
    // earlier than the pending check, so the timer stays.
    assert_eq!(c.poll_timeout(), Some(t + secs(2)));
    // Then a normal rise: 0 → 1 (DOWN) → UP.
    c.handle_timeout(t + secs(2));
    assert_eq!(c.poll_action(), Some(CheckAction::SendProbe { probe: 2 }));
    c.handle_probe_result(t + secs(2), 2, ProbeResult::Pass);
    assert_eq!((c.health(), c.is_up(), c.poll_action()), (1, false, None));
    assert_eq!(c.poll_timeout(), Some(t + secs(2) + ms(500)));
}

#[test]
fn observe_classification_follows_analyze_statuses() {
    use OutcomeKind::*;
    assert_eq!(Observe::None.classify(Refused), None);
    assert_eq!(Observe::Layer4.classify(Status(500)), Some(true));
    assert_eq!(Observe::Layer4.classify(Refused), Some(false));
    assert_eq!(Observe::Layer4.classify(TimedOut), Some(false));
    assert_eq!(Observe::Layer7.classify(Success), Some(true));
    for (s, ok) in [
        (404, true),
        (500, false),
        (501, true),
        (502, false),
        (505, true),
    ] {
        assert_eq!(Observe::Layer7.classify(Status(s)), Some(ok), "{s}");
    }
    assert_eq!(Observe::Layer7.classify(TimedOut), Some(false));
}

#[test]
fn spread_checks_jitter_stays_within_percent() {
    let p = 20;
    let cfg = HaproxyCheckConfig {
        inter: S,
        spread_checks_pct: p,
        ..Default::default()
    };
    let mut sim = Sim::new(cfg, 99);
    sim.run_until(secs(2500));
    let gaps: Vec<f64> = sim
        .sends
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let n = gaps.len() as f64;
    assert!(n > 2000.0);
    let (lo, hi) = (0.8, 1.2);
    assert!(
        gaps.iter().all(|&g| (lo..=hi).contains(&g)),
        "a gap outside ±{p}%"
    );
    // Uniform on [0.8, 1.2]: sd 0.4/√12 per gap; the mean is within 5 standard errors.
    let mean = gaps.iter().sum::<f64>() / n;
    let se = 0.4 / 12f64.sqrt() / n.sqrt();
    assert!((mean - 1.0).abs() < 5.0 * se, "mean {mean}");
    let min = gaps.iter().copied().fold(f64::INFINITY, f64::min);
    let max = gaps.iter().copied().fold(0.0, f64::max);
    assert!(min < lo + 0.01 && max > hi - 0.01, "[{min}, {max}]");
    // Deterministic for a fixed seed.
    let mut again = Sim::new(cfg, 99);
    again.run_until(secs(2500));
    assert_eq!(again.sends, sim.sends);
}

#[test]
#[should_panic(expected = "spread_checks_pct")]
fn spread_above_50_is_rejected() {
    let cfg = HaproxyCheckConfig {
        spread_checks_pct: 51,
        ..Default::default()
    };
    HaproxyChecker::new(cfg, SimTime::ZERO, rng(0));
}
