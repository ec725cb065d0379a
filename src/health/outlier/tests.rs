use super::*;
use crate::engine::SeedTree;

const S: SimTime = SimTime::SECOND;

fn secs(s: u64) -> SimTime {
    SimTime::from_secs(s)
}

/// A tiny owner: runs ticks up to each scripted response and logs actions with times.
struct Driver {
    od: OutlierDetector,
    now: SimTime,
    log: Vec<(SimTime, OutlierAction)>,
}

impl Driver {
    fn new(config: OutlierConfig, n_hosts: usize) -> Driver {
        Driver::with_seed(config, n_hosts, 1)
    }

    fn with_seed(config: OutlierConfig, n_hosts: usize, seed: u64) -> Driver {
        let rng = SeedTree::new(seed).stream(0, "outlier");
        Driver {
            od: OutlierDetector::new(config, n_hosts, SimTime::ZERO, rng),
            now: SimTime::ZERO,
            log: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(a) = self.od.poll_action() {
            self.log.push((self.now, a));
        }
    }

    /// Advances the clock to `t`, running every tick at or before `t`.
    fn advance(&mut self, t: SimTime) {
        while let Some(d) = self.od.poll_timeout() {
            if d > t {
                break;
            }
            self.now = d;
            self.od.handle_timeout(d);
            self.drain();
        }
        self.now = t;
    }

    /// `count` responses of `kind` from `host` at time `t`.
    fn respond(&mut self, t: SimTime, host: usize, kind: OutcomeKind, count: usize) {
        self.advance(t);
        for _ in 0..count {
            self.od.on_response(t, host, kind);
            self.drain();
        }
    }

    fn times_of(&self, action: OutlierAction) -> Vec<SimTime> {
        self.log
            .iter()
            .filter(|(_, a)| *a == action)
            .map(|(t, _)| *t)
            .collect()
    }
}

const E500: OutcomeKind = OutcomeKind::Status(500);
const E503: OutcomeKind = OutcomeKind::Status(503);
const OK: OutcomeKind = OutcomeKind::Success;

#[test]
fn defaults_match_envoy() {
    let c = OutlierConfig::default();
    assert_eq!((c.consecutive_5xx, c.enforcing_consecutive_5xx), (5, 100));
    assert_eq!(
        (
            c.consecutive_gateway_failure,
            c.enforcing_consecutive_gateway_failure
        ),
        (5, 0)
    );
    assert_eq!(c.interval, secs(10));
    assert_eq!(c.base_ejection_time, secs(30));
    assert_eq!(c.effective_max_ejection_time(), secs(300));
    assert_eq!(c.max_ejection_percent, 10);
    assert_eq!(c.success_rate_stdev_factor, 1900);
    assert_eq!(
        (
            c.failure_percentage_threshold,
            c.enforcing_failure_percentage
        ),
        (85, 0)
    );
    let big_base = OutlierConfig {
        base_ejection_time: secs(400),
        ..OutlierConfig::default()
    };
    assert_eq!(big_base.effective_max_ejection_time(), secs(400));
}

#[test]
fn five_hosts_default_percent_ejects_nothing() {
    // 100·1/5 = 20% > 10%: every request overflows.
    let mut d = Driver::new(OutlierConfig::default(), 5);
    for h in 0..5 {
        d.respond(S, h, E500, 20);
    }
    d.advance(secs(100));
    assert!(d.log.is_empty(), "{:?}", d.log);
    assert_eq!(d.od.n_ejected(), 0);
    assert_eq!(d.od.stats().ejections_overflow, 20); // 4 requests per host
    assert_eq!(d.od.stats().ejections_enforced, 0);
}

#[test]
fn always_eject_one_host_ejects_exactly_one() {
    let config = OutlierConfig {
        always_eject_one_host: true,
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config, 5);
    for h in 0..5 {
        d.respond(S, h, E500, 5);
    }
    assert_eq!(d.log, vec![(S, OutlierAction::Eject(0))]);
    assert_eq!(d.od.n_ejected(), 1);
    assert!(d.od.is_ejected(0));
    assert_eq!(d.od.stats().ejections_overflow, 4);
}

#[test]
fn ten_hosts_five_consecutive_5xx_eject_immediately() {
    let mut d = Driver::new(OutlierConfig::default(), 10);
    d.respond(secs(1), 3, E500, 4);
    assert!(d.log.is_empty());
    assert!(!d.od.is_ejected(3));
    d.respond(secs(1), 3, E500, 1);
    assert_eq!(d.log, vec![(secs(1), OutlierAction::Eject(3))]);
    assert!(d.od.is_ejected(3));
    // A second host would make 20% > 10%: overflow.
    d.respond(secs(2), 4, E500, 5);
    assert!(!d.od.is_ejected(4));
    assert_eq!(d.od.stats().ejections_overflow, 1);
}

#[test]
fn a_success_resets_the_run() {
    let mut d = Driver::new(OutlierConfig::default(), 10);
    d.respond(secs(1), 0, E500, 4);
    d.respond(secs(1), 0, OutcomeKind::Status(404), 1); // < 500 is a success
    d.respond(secs(1), 0, E500, 4);
    assert!(!d.od.is_ejected(0));
    d.respond(secs(1), 0, E500, 1);
    assert!(d.od.is_ejected(0));
}

#[test]
fn refused_and_timeouts_count_as_5xx_without_split() {
    let mut d = Driver::new(OutlierConfig::default(), 10);
    d.respond(secs(1), 0, OutcomeKind::Refused, 2);
    d.respond(secs(1), 0, OutcomeKind::TimedOut, 2);
    d.respond(secs(1), 0, E500, 1);
    assert!(d.od.is_ejected(0));
}

#[test]
fn success_rate_threshold_vector() {
    let (mean, threshold) =
        success_rate_ejection_threshold(&[50.0, 100.0, 100.0, 100.0, 100.0], 1.9);
    assert!((mean - 90.0).abs() < 1e-9);
    assert!((threshold - 52.0).abs() < 1e-9, "{threshold}");
}

/// Host 0 answers 50% (alternating, so never 5 in a row), hosts 1..5 100%, 100
/// requests each in the first interval.
fn success_rate_scenario(max_ejection_percent: u32) -> Driver {
    let config = OutlierConfig {
        max_ejection_percent,
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config, 5);
    for _ in 0..50 {
        d.respond(secs(1), 0, E500, 1);
        d.respond(secs(1), 0, OK, 1);
    }
    for h in 1..5 {
        d.respond(secs(1), h, OK, 100);
    }
    d.advance(secs(10));
    d
}

#[test]
fn success_rate_sweep_ejects_the_outlier_when_allowed() {
    let d = success_rate_scenario(20);
    assert_eq!(d.log, vec![(secs(10), OutlierAction::Eject(0))]);
    let (mean, threshold) = d.od.success_rate_stats().unwrap();
    assert!((mean - 90.0).abs() < 1e-9 && (threshold - 52.0).abs() < 1e-9);
    // With the default 10% it is detected but overflows.
    let d = success_rate_scenario(10);
    assert!(d.log.is_empty());
    assert_eq!(d.od.stats().ejections_overflow, 1);
}

#[test]
fn success_rate_needs_volume_and_minimum_hosts() {
    // 99 requests for one healthy host: only 4 hosts qualify (< 5): no sweep.
    let config = OutlierConfig {
        max_ejection_percent: 100,
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config, 5);
    for _ in 0..50 {
        d.respond(secs(1), 0, E500, 1);
        d.respond(secs(1), 0, OK, 1);
    }
    for h in 1..5 {
        d.respond(secs(1), h, OK, if h == 4 { 99 } else { 100 });
    }
    d.advance(secs(10));
    assert!(d.log.is_empty());
    assert_eq!(d.od.success_rate_stats(), None);
    // Responses in the second interval are swept at the second tick, not earlier.
    for _ in 0..50 {
        d.respond(secs(15), 0, E500, 1);
        d.respond(secs(15), 0, OK, 1);
    }
    for h in 1..5 {
        d.respond(secs(15), h, OK, 100);
    }
    assert!(d.log.is_empty());
    d.advance(secs(20));
    assert_eq!(d.log, vec![(secs(20), OutlierAction::Eject(0))]);
}

#[test]
fn ejection_lasts_30_to_40_seconds() {
    // Eject at several offsets within an interval; unejection comes at the first tick
    // at least 30 s later.
    for offset_ms in [0u64, 1, 2_500, 5_000, 9_999, 10_000, 10_001, 17_300] {
        let mut d = Driver::new(OutlierConfig::default(), 10);
        let t = SimTime::from_millis(offset_ms);
        d.respond(t, 0, E500, 5);
        d.advance(secs(200));
        let ej = d.times_of(OutlierAction::Eject(0));
        let un = d.times_of(OutlierAction::Uneject(0));
        assert_eq!(ej, vec![t]);
        assert_eq!(un.len(), 1);
        let expect = SimTime((t + secs(30)).0.div_ceil(10 * S.0) * 10 * S.0);
        assert_eq!(un[0], expect, "offset {offset_ms} ms");
        let lasted = un[0] - t;
        assert!(lasted >= secs(30) && lasted < secs(40), "{lasted}");
    }
}

#[test]
fn backoff_doubles_on_quick_reejection_and_decays_per_healthy_interval() {
    let mut d = Driver::new(OutlierConfig::default(), 10);
    // First ejection at 1 s: 30 s, unejected at the 40 s tick.
    d.respond(secs(1), 0, E500, 5);
    d.advance(secs(41));
    assert_eq!(d.times_of(OutlierAction::Uneject(0)), vec![secs(40)]);
    // Re-ejected at 45 s, before the 50 s decay: backoff 2 → 60 s, out at the 110 s tick.
    d.respond(secs(45), 0, E500, 5);
    d.advance(secs(111));
    assert_eq!(
        d.times_of(OutlierAction::Uneject(0)),
        vec![secs(40), secs(110)]
    );
    assert_eq!(d.od.hosts[0].backoff, 2);
    // One healthy interval (tick 120) decays backoff to 1; re-ejection makes it 2 again.
    d.advance(secs(121));
    assert_eq!(d.od.hosts[0].backoff, 1);
    d.respond(secs(121), 0, E500, 5);
    d.advance(secs(300));
    // 60 s from 121 s: first tick ≥ 181 s is 190 s.
    assert_eq!(
        d.times_of(OutlierAction::Uneject(0)),
        vec![secs(40), secs(110), secs(190)]
    );
    // Ticks 200 and 210 decay 2 → 0; a new ejection then lasts 30 s again.
    assert_eq!(d.od.hosts[0].backoff, 0);
    d.respond(secs(301), 0, E500, 5);
    d.advance(secs(400));
    assert_eq!(
        d.times_of(OutlierAction::Uneject(0)).last(),
        Some(&secs(340))
    );
    assert_eq!(d.od.num_ejections(0), 4);
}

#[test]
fn backoff_is_capped_by_max_ejection_time() {
    // Keep re-ejecting right after each unejection: durations 30, 60, ..., 300, 300.
    let mut d = Driver::new(OutlierConfig::default(), 10);
    let mut t = secs(1);
    let mut durations = Vec::new();
    for _ in 0..12 {
        d.respond(t, 0, E500, 5);
        let before = d.times_of(OutlierAction::Uneject(0)).len();
        while d.times_of(OutlierAction::Uneject(0)).len() == before {
            let next = d.od.poll_timeout().unwrap();
            d.advance(next);
        }
        let un = *d.times_of(OutlierAction::Uneject(0)).last().unwrap();
        durations.push((un - t).as_nanos() / S.0);
        t = un + secs(1);
    }
    // Ejected at tick+1 s, so each lasts the span rounded up to the next tick, + 9 s.
    assert_eq!(
        durations,
        [39, 69, 99, 129, 159, 189, 219, 249, 279, 309, 309, 309]
    );
    assert_eq!(d.od.hosts[0].backoff, 11);
}

#[test]
fn gateway_failures_are_not_enforced_by_default() {
    let config = OutlierConfig {
        consecutive_5xx: 1000,
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config.clone(), 10);
    d.respond(secs(1), 0, E503, 50);
    d.respond(secs(1), 1, OutcomeKind::Refused, 50);
    d.advance(secs(60));
    assert!(d.log.is_empty());
    // Every fifth gateway error asks (the counter resets after each request).
    assert_eq!(d.od.stats().ejections_detected, 20);
    assert_eq!(d.od.stats().ejections_not_enforced, 20);

    // Enforced at 100%: the fifth gateway error ejects; a plain 500 breaks the run.
    let config = OutlierConfig {
        enforcing_consecutive_gateway_failure: 100,
        ..config
    };
    let mut d = Driver::new(config, 10);
    d.respond(secs(1), 0, E503, 4);
    d.respond(secs(1), 0, E500, 1);
    d.respond(secs(1), 0, OutcomeKind::Status(502), 4);
    assert!(!d.od.is_ejected(0));
    d.respond(secs(1), 0, OutcomeKind::TimedOut, 1);
    assert_eq!(d.log, vec![(secs(1), OutlierAction::Eject(0))]);
}

#[test]
fn split_mode_counts_local_origin_failures_apart() {
    let config = OutlierConfig {
        split_external_local_origin_errors: true,
        max_ejection_percent: 100,
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config, 10);
    // Refusals do not touch the 5xx run, and a 500 breaks the local-origin run.
    d.respond(secs(1), 0, E500, 4);
    d.respond(secs(1), 0, OutcomeKind::Refused, 4);
    d.respond(secs(1), 0, E500, 1);
    assert_eq!(d.log, vec![(secs(1), OutlierAction::Eject(0))]);
    d.respond(secs(1), 1, OutcomeKind::TimedOut, 4);
    d.respond(secs(1), 1, E500, 1);
    d.respond(secs(1), 1, OutcomeKind::TimedOut, 4);
    assert!(!d.od.is_ejected(1));
    // Five in a row on a fresh cluster eject (local origin, enforcing 100%).
    let config = OutlierConfig {
        split_external_local_origin_errors: true,
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config, 10);
    d.respond(secs(1), 2, OutcomeKind::Refused, 5);
    assert_eq!(d.log, vec![(secs(1), OutlierAction::Eject(2))]);
}

/// Hosts 0..5 at 10% success (alternating pattern avoids 5 consecutive 5xx:
/// counters are high so only the sweep can eject), 100 requests each.
fn failure_percentage_scenario(enforcing: u32) -> Driver {
    let config = OutlierConfig {
        consecutive_5xx: 1000,
        enforcing_failure_percentage: enforcing,
        max_ejection_percent: 100,
        success_rate_minimum_hosts: 1000, // isolate the failure-percentage sweep
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config, 6);
    d.respond(secs(1), 0, E500, 90);
    d.respond(secs(1), 0, OK, 10);
    d.respond(secs(1), 1, E500, 85); // exactly 85%: ejected (≥)
    d.respond(secs(1), 1, OK, 15);
    d.respond(secs(1), 2, E500, 84);
    d.respond(secs(1), 2, OK, 16);
    d.respond(secs(1), 3, E500, 49); // 100% failures but below volume 50
    for h in 4..6 {
        d.respond(secs(1), h, OK, 100);
    }
    d.advance(secs(10));
    d
}

#[test]
fn failure_percentage_sweep_is_enforced_only_when_asked() {
    let d = failure_percentage_scenario(0);
    assert!(d.log.is_empty());
    assert_eq!(d.od.stats().ejections_detected, 2);
    let d = failure_percentage_scenario(100);
    assert_eq!(
        d.log,
        vec![
            (secs(10), OutlierAction::Eject(0)),
            (secs(10), OutlierAction::Eject(1))
        ]
    );
}

#[test]
fn failure_percentage_needs_minimum_hosts() {
    // Only 4 hosts have volume ≥ 50 (< 5): no sweep.
    let config = OutlierConfig {
        enforcing_failure_percentage: 100,
        max_ejection_percent: 100,
        consecutive_5xx: 1000,
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config, 6);
    d.respond(secs(1), 0, E500, 100);
    for h in 1..4 {
        d.respond(secs(1), h, OK, 100);
    }
    d.advance(secs(10));
    assert!(d.log.is_empty());
}

#[test]
fn active_check_pass_unejects_when_configured() {
    let mut d = Driver::new(OutlierConfig::default(), 10);
    d.respond(secs(1), 0, E500, 5);
    d.advance(secs(3));
    d.od.on_active_check_pass(secs(3), 0);
    d.drain();
    assert!(!d.od.is_ejected(0));
    assert_eq!(d.od.n_ejected(), 0);
    assert_eq!(d.log.last(), Some(&(secs(3), OutlierAction::Uneject(0))));
    // Counters were reset: four more 5xx do not eject.
    d.respond(secs(4), 0, E500, 4);
    assert!(!d.od.is_ejected(0));

    let config = OutlierConfig {
        successful_active_health_check_uneject_host: false,
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config, 10);
    d.respond(secs(1), 0, E500, 5);
    d.od.on_active_check_pass(secs(3), 0);
    assert!(d.od.is_ejected(0));
}

#[test]
fn responses_to_an_ejected_host_do_not_re_eject_and_reset_on_uneject() {
    let mut d = Driver::new(OutlierConfig::default(), 10);
    d.respond(secs(1), 0, E500, 5);
    d.respond(secs(2), 0, E500, 20); // panic routing keeps sending to it
    assert_eq!(d.od.stats().ejections_detected, 1);
    d.advance(secs(40));
    assert!(!d.od.is_ejected(0));
    d.respond(secs(41), 0, E500, 4);
    assert!(!d.od.is_ejected(0));
}

#[test]
fn set_hosts_resizes_and_forgets_removed_ejections() {
    let config = OutlierConfig {
        max_ejection_percent: 50,
        ..OutlierConfig::default()
    };
    let mut d = Driver::new(config, 4);
    d.respond(secs(1), 3, E500, 5);
    d.respond(secs(1), 1, E500, 5);
    assert_eq!(d.od.n_ejected(), 2);
    d.od.set_hosts(secs(2), 3);
    assert_eq!(d.od.n_ejected(), 1);
    assert!(d.od.is_ejected(1));
    d.od.set_hosts(secs(2), 6);
    assert!(!d.od.is_ejected(3));
    d.respond(secs(3), 5, E500, 5);
    assert!(d.od.is_ejected(5));
    d.advance(secs(60));
    assert_eq!(d.od.n_ejected(), 0);
}

#[test]
fn jitter_is_uniform_in_whole_milliseconds() {
    // 2000 hosts, every one ejected once (max 100%), jitter up to 1 s, 100 ms ticks.
    let n = 2000;
    let config = OutlierConfig {
        max_ejection_percent: 100,
        max_ejection_time_jitter: S,
        interval: SimTime::from_millis(100),
        ..OutlierConfig::default()
    };
    let mut d = Driver::with_seed(config, n, 42);
    for h in 0..n {
        d.respond(SimTime::from_millis(50), h, E500, 5);
    }
    let jitters: Vec<u64> = (0..n).map(|h| d.od.hosts[h].jitter.as_nanos()).collect();
    assert!(jitters.iter().all(|&j| j <= S.0 && j % 1_000_000 == 0));
    // Mean of uniform{0..=1000} ms is 500 ms; sd 288.9 ms, of the mean over 2000:
    // 6.46 ms; allow 5 sd.
    let mean_ms = jitters.iter().sum::<u64>() as f64 / n as f64 / 1e6;
    assert!((mean_ms - 500.0).abs() < 32.3, "{mean_ms}");
    // Each host comes back at the first tick at or after 30 s + its jitter.
    d.advance(secs(40));
    let mut un = vec![SimTime::MAX; n];
    for &(t, a) in &d.log {
        if let OutlierAction::Uneject(h) = a {
            un[h] = t;
        }
    }
    for h in 0..n {
        let due = SimTime::from_millis(50) + secs(30) + SimTime(jitters[h]);
        assert!(
            un[h] >= due && un[h] < due + SimTime::from_millis(100),
            "{h}"
        );
    }
}

#[test]
fn enforcing_percentage_is_a_probability() {
    // 30% enforcing over 4000 independent requests (fresh detector each time).
    let config = OutlierConfig {
        enforcing_consecutive_5xx: 30,
        ..OutlierConfig::default()
    };
    let mut d = Driver::with_seed(config, 10, 7);
    let trials = 4000;
    for k in 0..trials {
        d.respond(secs(1), k % 10, E500, 5);
        let h = k % 10;
        if d.od.is_ejected(h) {
            d.od.on_active_check_pass(secs(1), h);
        }
    }
    let enforced = d.od.stats().ejections_enforced as f64;
    // Binomial(4000, 0.3): sd 29; allow 5 sd.
    assert!((enforced - 1200.0).abs() < 145.0, "{enforced}");
}

#[test]
fn calls_before_the_tick_are_no_ops() {
    let mut d = Driver::new(OutlierConfig::default(), 10);
    assert_eq!(d.od.poll_timeout(), Some(secs(10)));
    d.od.handle_timeout(secs(9));
    assert_eq!(d.od.poll_timeout(), Some(secs(10)));
    d.od.handle_timeout(secs(10));
    assert_eq!(d.od.poll_timeout(), Some(secs(20)));
}
