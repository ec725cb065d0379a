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
mod tests;
