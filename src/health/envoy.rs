//! Envoy's active health checker for one host, as a sans-IO state machine.
//!
//! This follows `envoyproxy/envoy`
//! `source/extensions/health_checkers/common/health_checker_base_impl.cc`
//! (`HealthCheckerImplBase::interval`, `intervalWithJitter`, and
//! `ActiveHealthCheckSession::{handleSuccess, setUnhealthy, clearPendingFlag,
//! onIntervalBase, onTimeoutBase, onInitialInterval}`), the status classification of
//! `source/extensions/health_checkers/http/health_checker_impl.cc` (`HttpStatusChecker`,
//! `healthCheckResult`) and the fields of `api/envoy/config/core/v3/health_check.proto`.
//! A host starts failed and pending: it takes no traffic until its first check result. From
//! then on, consecutive-success and consecutive-failure counters move it between healthy and
//! unhealthy. The delay to the next check depends on whether the cluster has ever carried
//! traffic, on the check's result and on whether a transition is pending.

use std::collections::VecDeque;

use super::{ActiveChecker, CheckAction, ProbeResult};
use crate::engine::{SimRng, SimTime};

/// Configuration of an [`EnvoyChecker`]: the timing fields of Envoy's `HealthCheck` proto
/// (`api/envoy/config/core/v3/health_check.proto`) plus the status sets of its
/// `HttpHealthCheck`.
///
/// Envoy has **no defaults** for `timeout`, `interval`, `unhealthy_threshold` and
/// `healthy_threshold`: the proto marks them required. The [`Default`] here fills them with
/// values that are common in Envoy's examples and documentation (timeout 1 s, interval 5 s,
/// unhealthy threshold 3, healthy threshold 2). They are our choice, not Envoy's. Every other
/// default is Envoy's own, from the `HealthCheckerImplBase` constructor.
///
/// A field that defaults to another field is an `Option`: `None` means "use Envoy's
/// fallback", so changing `interval` also moves the fields that follow it.
/// Durations are integer nanoseconds. Envoy works in whole milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvoyCheckConfig {
    /// `timeout`: how long a probe may go unanswered before it counts as a network
    /// timeout (a network failure). Required in Envoy; our default is 1 s. It should be
    /// positive: a zero timeout times out every probe at once, because the owner handles
    /// the deadline before any reply.
    pub timeout: SimTime,
    /// `interval`: the delay to the next check after a success that left the host healthy,
    /// when the cluster has seen traffic. Required in Envoy; our default is 5 s.
    pub interval: SimTime,
    /// `unhealthy_threshold`: how many consecutive network or retriable failures mark a
    /// healthy host unhealthy. Required in Envoy; our default is 3. As in Envoy, 0 means
    /// the count never triggers (the counter is compared for equality after it is
    /// incremented).
    pub unhealthy_threshold: u32,
    /// `healthy_threshold`: how many consecutive successes mark an unhealthy host healthy
    /// (the very first check result is the exception: one success is enough). Required in
    /// Envoy; our default is 2. As in Envoy, 0 means the count never triggers.
    pub healthy_threshold: u32,
    /// `unhealthy_interval`: the delay after a failure while no transition is pending (the
    /// host is already unhealthy, or just became unhealthy). `None` is Envoy's default,
    /// which is `interval`.
    pub unhealthy_interval: Option<SimTime>,
    /// `unhealthy_edge_interval`: the delay after a failure that left a healthy host
    /// pending (failing but not yet past `unhealthy_threshold`). `None` is Envoy's default,
    /// which is the effective `unhealthy_interval`.
    pub unhealthy_edge_interval: Option<SimTime>,
    /// `healthy_edge_interval`: the delay after a success that left an unhealthy host
    /// pending (passing but not yet at `healthy_threshold`). `None` is Envoy's default,
    /// which is `interval`.
    pub healthy_edge_interval: Option<SimTime>,
    /// `no_traffic_interval`: the delay after every result except a settled success while
    /// the cluster has never carried traffic. Envoy's default is 60 s.
    pub no_traffic_interval: SimTime,
    /// `no_traffic_healthy_interval`: the delay after a success that leaves the host
    /// healthy and not pending, while the cluster has never carried traffic. `None` is
    /// Envoy's default, which is `no_traffic_interval`.
    pub no_traffic_healthy_interval: Option<SimTime>,
    /// `initial_jitter`: the first check of a new host happens after a random delay in
    /// `[0, initial_jitter)`, floored at 1 ms. Envoy's default is 0, which means at once.
    pub initial_jitter: SimTime,
    /// `interval_jitter`: a random extra delay in `[0, interval_jitter)` added to every
    /// later check. Envoy's default is 0.
    pub interval_jitter: SimTime,
    /// `interval_jitter_percent`: a random extra delay in
    /// `[0, interval_jitter_percent × base / 100)` added to every later check, where
    /// `base` is the interval chosen for that check. Envoy's default is 0.
    pub interval_jitter_percent: u32,
    /// `http_health_check.expected_statuses`: half-open ranges `[start, end)` (Envoy's
    /// `Int64Range`) of statuses that pass. An empty list means Envoy's default, which is
    /// 200 only.
    pub expected_statuses: Vec<StatusRange>,
    /// `http_health_check.retriable_statuses`: half-open ranges of failing statuses that
    /// count toward `unhealthy_threshold` like network failures, instead of making the
    /// host unhealthy at once. Envoy's default is an empty list.
    pub retriable_statuses: Vec<StatusRange>,
}

/// A half-open range `[start, end)` of HTTP statuses, Envoy's `envoy.type.v3.Int64Range` as
/// used by `expected_statuses` and `retriable_statuses`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StatusRange {
    /// First status in the range.
    pub start: u16,
    /// One past the last status in the range.
    pub end: u16,
}

impl StatusRange {
    /// The statuses `[start, end)`.
    pub const fn new(start: u16, end: u16) -> StatusRange {
        StatusRange { start, end }
    }

    /// The one status `status`.
    pub const fn single(status: u16) -> StatusRange {
        StatusRange {
            start: status,
            end: status.saturating_add(1),
        }
    }

    /// Whether `status` lies in the range (Envoy's `HttpStatusChecker::inRanges`).
    pub const fn contains(self, status: u16) -> bool {
        status >= self.start && status < self.end
    }
}

impl Default for EnvoyCheckConfig {
    /// Envoy's defaults for the optional fields. The required fields get our choice of
    /// common example values: timeout 1 s, interval 5 s, thresholds 3 (unhealthy) and
    /// 2 (healthy).
    fn default() -> EnvoyCheckConfig {
        EnvoyCheckConfig {
            timeout: SimTime::SECOND,
            interval: SimTime::from_secs(5),
            unhealthy_threshold: 3,
            healthy_threshold: 2,
            unhealthy_interval: None,
            unhealthy_edge_interval: None,
            healthy_edge_interval: None,
            no_traffic_interval: SimTime::from_secs(60),
            no_traffic_healthy_interval: None,
            initial_jitter: SimTime::ZERO,
            interval_jitter: SimTime::ZERO,
            interval_jitter_percent: 0,
            expected_statuses: vec![StatusRange::single(200)],
            retriable_statuses: Vec::new(),
        }
    }
}

impl EnvoyCheckConfig {
    /// The effective `unhealthy_interval`: the field if set, otherwise `interval`.
    pub fn effective_unhealthy_interval(&self) -> SimTime {
        self.unhealthy_interval.unwrap_or(self.interval)
    }

    /// The effective `unhealthy_edge_interval`: the field if set, otherwise the effective
    /// `unhealthy_interval`.
    pub fn effective_unhealthy_edge_interval(&self) -> SimTime {
        self.unhealthy_edge_interval
            .unwrap_or_else(|| self.effective_unhealthy_interval())
    }

    /// The effective `healthy_edge_interval`: the field if set, otherwise `interval`.
    pub fn effective_healthy_edge_interval(&self) -> SimTime {
        self.healthy_edge_interval.unwrap_or(self.interval)
    }

    /// The effective `no_traffic_healthy_interval`: the field if set, otherwise
    /// `no_traffic_interval`.
    pub fn effective_no_traffic_healthy_interval(&self) -> SimTime {
        self.no_traffic_healthy_interval
            .unwrap_or(self.no_traffic_interval)
    }

    /// Whether an HTTP status passes. An empty `expected_statuses` means 200 only, as in
    /// Envoy's `HttpStatusChecker`.
    pub fn is_expected(&self, status: u16) -> bool {
        if self.expected_statuses.is_empty() {
            status == 200
        } else {
            self.expected_statuses.iter().any(|r| r.contains(status))
        }
    }

    /// Whether a failing HTTP status is retriable: it counts toward the threshold instead
    /// of marking the host unhealthy at once.
    pub fn is_retriable(&self, status: u16) -> bool {
        self.retriable_statuses.iter().any(|r| r.contains(status))
    }
}

/// Envoy's active health checker for one host (`HealthCheckerImplBase::ActiveHealthCheckSession`
/// in `envoyproxy/envoy`
/// `source/extensions/health_checkers/common/health_checker_base_impl.cc`).
///
/// # States
/// Envoy keeps health flags and counters on the host. This checker keeps the same ones:
/// * `failed` is Envoy's `FAILED_ACTIVE_HC`, and [`is_up`](ActiveChecker::is_up) is its
///   negation.
/// * `pending_first_result` is `PENDING_ACTIVE_HC`. A new host starts with both flags set,
///   so it is not routable until its first result. **The checker emits no action at
///   construction.** The owner must start the server as down (read `is_up()`, which is
///   `false`). A first result that fails leaves the host down and emits nothing.
/// * `first_check` makes the first success mark the host healthy at once, whatever
///   `healthy_threshold` says.
/// * `n_healthy` and `n_unhealthy` are the consecutive-success and consecutive-failure
///   counters.
///
/// Every result yields a transition: `Unchanged`, `ChangePending` (the counters moved but
/// have not reached the threshold) or `Changed`. The transition selects the next interval.
/// [`CheckAction::MarkUp`] and [`CheckAction::MarkDown`] are emitted only when
/// `FAILED_ACTIVE_HC` actually flips.
///
/// # Timers
/// As in Envoy, exactly one timer is armed at a time. The interval timer sends the next
/// probe and arms the probe's `timeout`. The next interval starts when the result arrives
/// or when the probe times out (Envoy's `handleSuccess`/`handleFailure` re-arm the
/// interval timer). So the period between probes is the interval plus the probe's round
/// trip.
///
/// The edge intervals follow the code, not the proto. The proto describes
/// `unhealthy_edge_interval` and `healthy_edge_interval` as the interval for "the first
/// check after" a host changes state. `HealthCheckerImplBase::interval` instead applies
/// them after every result whose transition is `ChangePending`, that is while a transition
/// is under way and not yet complete. The result that completes the transition is followed
/// by the regular interval.
///
/// # Traffic
/// Envoy uses the no-traffic intervals while the *cluster* has never opened an upstream
/// connection or moved a byte. Envoy keeps that state per cluster; this checker keeps it
/// per host. The owner reports traffic with [`observe_traffic`](ActiveChecker::observe_traffic),
/// and once reported it is permanent. The owner should report it to every checker of the
/// cluster. As in Envoy, reporting traffic does not re-arm a timer that is already armed.
/// The first checks of a fresh cluster are therefore 60 s apart by default. An owner that
/// models a long-running cluster can call `observe_traffic` right after construction.
///
/// # Randomness and rounding
/// Jitter draws use [`SimRng::below`], which is unbiased, where Envoy uses
/// `random() % n`. They are in nanoseconds where Envoy uses milliseconds. The percentage
/// jitter is drawn before the absolute jitter, as in Envoy. Every interval is floored at
/// 1 ms, as in Envoy's `intervalWithJitter` ("to prevent live lock"). Envoy's runtime keys
/// `health_check.min_interval` and `health_check.max_interval` are not modelled (they
/// default to 0 and unlimited).
///
/// # Not modelled
/// Not modelled: degraded hosts (`x-envoy-degraded`), `x-envoy-immediate-health-check-fail`,
/// response-body matching, passive `setUnhealthy` from outlier detection, and connection
/// reuse (`reuse_connection` only changes which connection carries the probe).
#[derive(Debug)]
pub struct EnvoyChecker {
    /// The configuration as given.
    config: EnvoyCheckConfig,
    /// Jitter source.
    rng: SimRng,
    /// `FAILED_ACTIVE_HC`: the host is not routable.
    failed: bool,
    /// `PENDING_ACTIVE_HC`: no result has arrived yet since the host was added.
    pending_first_result: bool,
    /// Envoy's `first_check_`: no result has been handled yet.
    first_check: bool,
    /// Consecutive successes while failed (`num_healthy_`).
    n_healthy: u32,
    /// Consecutive failures while healthy (`num_unhealthy_`).
    n_unhealthy: u32,
    /// Whether the cluster has ever carried traffic.
    seen_traffic: bool,
    /// The one armed timer.
    timer: Timer,
    /// Sequence number of the next probe.
    next_probe: u64,
    /// Actions not yet drained by the owner.
    actions: VecDeque<CheckAction>,
}

/// The one armed timer of a session.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Timer {
    /// The interval timer: send the next probe at this time.
    Interval(SimTime),
    /// A probe is in flight: it times out at `deadline`.
    Probe {
        /// The probe's sequence number.
        probe: u64,
        /// When it times out.
        deadline: SimTime,
    },
}

/// Envoy's `HealthTransition`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Transition {
    /// Nothing changed.
    Unchanged,
    /// The counters moved toward a change that has not happened yet.
    ChangePending,
    /// The host's health changed (or its pending flag was cleared).
    Changed,
}

/// How Envoy classifies a result (`HealthCheckResult` and `HealthCheckFailureType`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// The check passed.
    Success,
    /// The check failed. `network` is `NETWORK` or `NETWORK_TIMEOUT`, otherwise `ACTIVE`.
    Failure {
        /// A connect error, reset or timeout.
        network: bool,
        /// An HTTP status listed in `retriable_statuses`.
        retriable: bool,
    },
}

impl EnvoyChecker {
    /// A session for a host added at `now`. The host starts failed and pending
    /// (`is_up()` is `false`). The first probe is due at `now` when `initial_jitter` is 0.
    /// Otherwise it is due at `now + max(1 ms, below(initial_jitter))`, as in Envoy's
    /// `onInitialInterval`.
    pub fn new(config: EnvoyCheckConfig, now: SimTime, rng: SimRng) -> EnvoyChecker {
        let mut checker = EnvoyChecker {
            config,
            rng,
            failed: true,
            pending_first_result: true,
            first_check: true,
            n_healthy: 0,
            n_unhealthy: 0,
            seen_traffic: false,
            timer: Timer::Interval(now),
            next_probe: 0,
            actions: VecDeque::with_capacity(4),
        };
        // onInitialInterval: zero initial jitter means an immediate first check; otherwise
        // intervalWithJitter(0, initial_jitter), which applies the 1 ms floor.
        if checker.config.initial_jitter > SimTime::ZERO {
            let jitter = checker.config.initial_jitter;
            let delay = checker.with_jitter(SimTime::ZERO, jitter);
            checker.timer = Timer::Interval(now + delay);
        }
        checker
    }

    /// The configuration this checker runs with.
    pub fn config(&self) -> &EnvoyCheckConfig {
        &self.config
    }

    /// Whether the cluster has been reported to carry traffic.
    pub fn has_seen_traffic(&self) -> bool {
        self.seen_traffic
    }

    /// Sends probe `next_probe` at `now` and arms its timeout (`onIntervalBase`).
    fn send_probe(&mut self, now: SimTime) {
        let probe = self.next_probe;
        self.next_probe += 1;
        self.actions.push_back(CheckAction::SendProbe { probe });
        self.timer = Timer::Probe {
            probe,
            deadline: now + self.config.timeout,
        };
    }

    /// Classifies a result the way Envoy's checkers do.
    fn classify(&self, result: ProbeResult) -> Verdict {
        match result {
            ProbeResult::Pass => Verdict::Success,
            // Connect refused or reset: NETWORK. Probe timeout: NETWORK_TIMEOUT.
            ProbeResult::Refused | ProbeResult::TimedOut => Verdict::Failure {
                network: true,
                retriable: false,
            },
            // HttpStatusChecker: an expected status passes, whatever the owner called it.
            // Otherwise the failure is ACTIVE, and retriable if the status is listed.
            ProbeResult::BadStatus(status) if self.config.is_expected(status) => Verdict::Success,
            ProbeResult::BadStatus(status) => Verdict::Failure {
                network: false,
                retriable: self.config.is_retriable(status),
            },
        }
    }

    /// Handles a classified result at `now` and arms the interval timer.
    fn on_result(&mut self, now: SimTime, verdict: Verdict) {
        let (healthy_result, transition) = match verdict {
            Verdict::Success => (true, self.handle_success()),
            Verdict::Failure { network, retriable } => {
                (false, self.handle_failure(network, retriable))
            }
        };
        let delay = self.interval(healthy_result, transition);
        self.timer = Timer::Interval(now + delay);
    }

    /// `handleSuccess`: a passing check.
    fn handle_success(&mut self) -> Transition {
        // A success resets the consecutive-failure count.
        self.n_unhealthy = 0;
        let mut transition = Transition::Unchanged;
        if self.failed {
            // A failed host becomes healthy on its very first result (fast start), or when
            // this success is the healthy_threshold-th in a row. Envoy short-circuits the
            // increment on the first check, and so do we.
            let reached = self.first_check || {
                self.n_healthy = self.n_healthy.wrapping_add(1);
                self.n_healthy == self.config.healthy_threshold
            };
            if reached {
                self.failed = false;
                self.actions.push_back(CheckAction::MarkUp);
                transition = Transition::Changed;
            } else {
                // Still failed, counting toward healthy_threshold.
                transition = Transition::ChangePending;
            }
        }
        transition = self.clear_pending_flag(transition);
        self.first_check = false;
        transition
    }

    /// `setUnhealthy` (via `handleFailure`): a failing check.
    fn handle_failure(&mut self, network: bool, retriable: bool) -> Transition {
        // A failure resets the consecutive-success count.
        self.n_healthy = 0;
        let mut transition = Transition::Unchanged;
        if !self.failed {
            // A healthy host fails at once on a non-network, non-retriable failure (an
            // unexpected HTTP status). Otherwise it fails when this failure is the
            // unhealthy_threshold-th in a row (network errors, timeouts, retriable
            // statuses).
            let reached = (!network && !retriable) || {
                self.n_unhealthy = self.n_unhealthy.wrapping_add(1);
                self.n_unhealthy == self.config.unhealthy_threshold
            };
            if reached {
                self.failed = true;
                self.actions.push_back(CheckAction::MarkDown);
                transition = Transition::Changed;
            } else {
                // Still healthy, counting toward unhealthy_threshold.
                transition = Transition::ChangePending;
            }
        }
        // A host that is already failed stays failed: no counter moves, Unchanged.
        transition = self.clear_pending_flag(transition);
        self.first_check = false;
        transition
    }

    /// `clearPendingFlag`: the first result after the host was added clears
    /// `PENDING_ACTIVE_HC`. Envoy then reports `Changed`, even when health did not change,
    /// so the cluster rebuilds its excluded-host list. The interval therefore is never an
    /// edge interval after the first result.
    fn clear_pending_flag(&mut self, transition: Transition) -> Transition {
        if self.pending_first_result {
            self.pending_first_result = false;
            Transition::Changed
        } else {
            transition
        }
    }

    /// `HealthCheckerImplBase::interval`: the delay to the next check after a result.
    /// `healthy_result` is the result of this check (Envoy's `HealthState`), not the
    /// host's state.
    fn interval(&mut self, healthy_result: bool, transition: Transition) -> SimTime {
        let pending = transition == Transition::ChangePending;
        let base = if !self.seen_traffic {
            // The cluster never carried traffic: check slowly. The healthy variant applies
            // only when the success left the host healthy with nothing pending.
            if healthy_result && !pending {
                self.config.effective_no_traffic_healthy_interval()
            } else {
                self.config.no_traffic_interval
            }
        } else if healthy_result {
            // Successes: healthy_edge_interval while an unhealthy host is climbing toward
            // healthy_threshold, otherwise interval.
            if pending {
                self.config.effective_healthy_edge_interval()
            } else {
                self.config.interval
            }
        } else if pending {
            // Failures: unhealthy_edge_interval while a healthy host is sliding toward
            // unhealthy_threshold, otherwise unhealthy_interval.
            self.config.effective_unhealthy_edge_interval()
        } else {
            self.config.effective_unhealthy_interval()
        };
        let jitter = self.config.interval_jitter;
        self.with_jitter(base, jitter)
    }

    /// `intervalWithJitter`: `base + below(percent × base / 100) + below(jitter)`, floored
    /// at 1 ms. The percentage draw comes first and is skipped when its range is 0.
    fn with_jitter(&mut self, base: SimTime, jitter: SimTime) -> SimTime {
        let mut ns = base.as_nanos();
        let percent_mod =
            (u128::from(self.config.interval_jitter_percent) * u128::from(base.as_nanos()) / 100)
                .min(u128::from(u64::MAX)) as u64;
        if percent_mod > 0 {
            ns = ns.saturating_add(self.rng.below(percent_mod));
        }
        if jitter.as_nanos() > 0 {
            ns = ns.saturating_add(self.rng.below(jitter.as_nanos()));
        }
        // "We force a non-zero final MS, to prevent live lock."
        SimTime(ns).max(SimTime::MILLISECOND)
    }
}

impl ActiveChecker for EnvoyChecker {
    fn poll_timeout(&self) -> Option<SimTime> {
        Some(match self.timer {
            Timer::Interval(at) => at,
            Timer::Probe { deadline, .. } => deadline,
        })
    }

    fn handle_timeout(&mut self, now: SimTime) {
        match self.timer {
            // The interval timer fired: send a probe and arm its timeout.
            Timer::Interval(at) if now >= at => self.send_probe(now),
            // The timeout timer fired (onTimeoutBase): a NETWORK_TIMEOUT failure. The next
            // interval starts now.
            Timer::Probe { deadline, .. } if now >= deadline => {
                let verdict = self.classify(ProbeResult::TimedOut);
                self.on_result(now, verdict);
            }
            // Early call: nothing is due.
            _ => {}
        }
    }

    fn handle_probe_result(&mut self, now: SimTime, probe: u64, result: ProbeResult) {
        let Timer::Probe {
            probe: in_flight,
            deadline,
        } = self.timer
        else {
            return; // No probe in flight: a stale result.
        };
        if probe != in_flight {
            return; // An older probe's result.
        }
        if now >= deadline {
            // The owner missed the deadline. The timeout fired first, so the result
            // arrives for a probe that has already timed out, and it is ignored.
            self.handle_timeout(now);
            return;
        }
        let verdict = self.classify(result);
        self.on_result(now, verdict);
    }

    fn poll_action(&mut self) -> Option<CheckAction> {
        self.actions.pop_front()
    }

    fn is_up(&self) -> bool {
        !self.failed
    }

    fn observe_traffic(&mut self, _now: SimTime, _ok: bool) {
        // Any upstream connection or byte counts, whatever its outcome. The state never
        // goes back, and the timer that is armed is left alone.
        self.seen_traffic = true;
    }
}

#[cfg(test)]
mod tests {
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
}
