//! Envoy outlier detection: passive, cluster-level ejection of hosts that answer badly.
//!
//! One [`OutlierDetector`] watches every response of a cluster (its hosts are indices
//! `0..n_hosts`) and ejects hosts in two ways, as Envoy's `Outlier::DetectorImpl`
//! (`envoyproxy/envoy` `source/common/upstream/outlier_detection_impl.cc`) does:
//!
//! * **consecutive errors**, checked on every response: `consecutive_5xx`,
//!   `consecutive_gateway_failure` (502/503/504) and, in split mode,
//!   `consecutive_local_origin_failure` (connect failures and timeouts). A counter reaching
//!   its threshold *exactly* asks for an ejection at once;
//! * **statistical sweeps** on interval ticks (every `interval`, 10 s): success-rate
//!   outliers (below `mean − factor·σ` of the hosts with enough volume) and
//!   failure-percentage outliers, both over the requests of the interval that just ended.
//!
//! Every ejection is subject to `max_ejection_percent` (counted over all hosts, ejected or
//! not) and is enforced with an `enforcing_*` probability. Unejection happens only on
//! ticks, once `min(base_ejection_time · backoff, max_ejection_time) + jitter` has passed,
//! so a 30 s ejection lasts 30–40 s; `backoff` grows by one per ejection and decays by one
//! per tick on which the host has been back for at least an interval.
//!
//! The detector is sans-IO: the owner reports responses with
//! [`on_response`](OutlierDetector::on_response), calls
//! [`handle_timeout`](OutlierDetector::handle_timeout) at
//! [`poll_timeout`](OutlierDetector::poll_timeout), and drains
//! [`poll_action`](OutlierDetector::poll_action) to take ejected hosts out of (and back
//! into) the healthy set. Ejected hosts stay in the host count; routing to them anyway
//! (panic mode) is the balancer's business.
//!
//! Differences from Envoy, all deliberate:
//! * Envoy counts errors on worker threads and posts the ejection to the main thread; here
//!   the ejection is decided synchronously inside `on_response` (one thread, no race).
//! * Runtime overrides and extension monitors are not modelled.
//! * Host identity is the index; [`set_hosts`](OutlierDetector::set_hosts) resizes (state
//!   is kept for indices that survive, dropped for removed tail indices).
//! * A sweep never ejects a host that an earlier ejection in the same tick already ejected
//!   (Envoy's failure-percentage pass would call `ejectHost` again for a host the
//!   success-rate pass just ejected, which trips an `ASSERT` in its debug builds).

use std::collections::VecDeque;

use crate::balancer::OutcomeKind;
use crate::engine::{SimRng, SimTime};

/// Envoy's `OutlierDetection` cluster settings
/// (`api/envoy/config/cluster/v3/outlier_detection.proto`; defaults applied in
/// `DetectorConfig::DetectorConfig`, `outlier_detection_impl.cc`).
///
/// Percentages are integers in `0..=100` (values above 100 act as 100). The `Default`
/// carries Envoy's defaults, listed per field.
#[derive(Clone, Debug, PartialEq)]
pub struct OutlierConfig {
    /// Consecutive 5xx responses (and, unless split, connect failures/timeouts) that ask
    /// for an ejection. Default **5**.
    pub consecutive_5xx: u32,
    /// Percent chance such a request is enforced. Default **100**.
    pub enforcing_consecutive_5xx: u32,
    /// Consecutive gateway failures (502, 503, 504; unless split, connect failures map to
    /// 503 and timeouts to 504) that ask for an ejection. Default **5**.
    pub consecutive_gateway_failure: u32,
    /// Percent chance such a request is enforced. Default **0** (detected, never ejected).
    pub enforcing_consecutive_gateway_failure: u32,
    /// Count locally originated errors (connection refused, timeouts) apart from the
    /// server's own error statuses. Default **false**.
    pub split_external_local_origin_errors: bool,
    /// Consecutive local-origin failures that ask for an ejection (split mode only).
    /// Default **5**.
    pub consecutive_local_origin_failure: u32,
    /// Percent chance such a request is enforced (split mode only). Default **100**.
    pub enforcing_consecutive_local_origin_failure: u32,
    /// Percent chance a local-origin success-rate outlier is ejected (split mode only).
    /// Default **100**.
    pub enforcing_local_origin_success_rate: u32,
    /// Percent chance a local-origin failure-percentage outlier is ejected (split mode
    /// only). Default **0**.
    pub enforcing_failure_percentage_local_origin: u32,
    /// Time between sweeps (ticks); must be positive. Default **10 s**.
    pub interval: SimTime,
    /// Ejection time per unit of backoff. Default **30 s**.
    pub base_ejection_time: SimTime,
    /// Cap on `base_ejection_time · backoff`. `None` (unset) means Envoy's default:
    /// **300 s**, or `base_ejection_time` if larger. Envoy rejects an explicit value below
    /// `base_ejection_time`; this model raises it to `base_ejection_time`.
    pub max_ejection_time: Option<SimTime>,
    /// Largest random extra ejection time, drawn per ejection in whole milliseconds
    /// (`random % (jitter_ms + 1)`). Default **0**.
    pub max_ejection_time_jitter: SimTime,
    /// Largest share of the cluster's hosts (percent) that may be ejected at once.
    /// Default **10** (so fewer than 10 hosts means no ejection at all, unless
    /// `always_eject_one_host`).
    pub max_ejection_percent: u32,
    /// Hosts with enough volume needed for a success-rate sweep. Default **5**.
    pub success_rate_minimum_hosts: u32,
    /// Requests in the last interval for a host to take part in the success-rate sweep.
    /// Default **100**.
    pub success_rate_request_volume: u32,
    /// Standard-deviation factor × 1000 (1900 = 1.9). Default **1900**.
    pub success_rate_stdev_factor: u32,
    /// Percent chance a success-rate outlier is ejected. Default **100**.
    pub enforcing_success_rate: u32,
    /// Failure percentage at or above which a host is a failure-percentage outlier.
    /// Default **85**.
    pub failure_percentage_threshold: u32,
    /// Percent chance a failure-percentage outlier is ejected. Default **0**.
    pub enforcing_failure_percentage: u32,
    /// Hosts with enough volume needed for a failure-percentage sweep. Default **5**.
    pub failure_percentage_minimum_hosts: u32,
    /// Requests in the last interval for a host to take part in the failure-percentage
    /// sweep. Default **50**.
    pub failure_percentage_request_volume: u32,
    /// A passing active health check unejects an ejected host. Default **true**.
    pub successful_active_health_check_uneject_host: bool,
    /// Allow one ejection even when `max_ejection_percent` forbids it (Envoy ≥ 1.31).
    /// Default **false**.
    pub always_eject_one_host: bool,
}

impl Default for OutlierConfig {
    fn default() -> OutlierConfig {
        OutlierConfig {
            consecutive_5xx: 5,
            enforcing_consecutive_5xx: 100,
            consecutive_gateway_failure: 5,
            enforcing_consecutive_gateway_failure: 0,
            split_external_local_origin_errors: false,
            consecutive_local_origin_failure: 5,
            enforcing_consecutive_local_origin_failure: 100,
            enforcing_local_origin_success_rate: 100,
            enforcing_failure_percentage_local_origin: 0,
            interval: SimTime::from_secs(10),
            base_ejection_time: SimTime::from_secs(30),
            max_ejection_time: None,
            max_ejection_time_jitter: SimTime::ZERO,
            max_ejection_percent: 10,
            success_rate_minimum_hosts: 5,
            success_rate_request_volume: 100,
            success_rate_stdev_factor: 1900,
            enforcing_success_rate: 100,
            failure_percentage_threshold: 85,
            enforcing_failure_percentage: 0,
            failure_percentage_minimum_hosts: 5,
            failure_percentage_request_volume: 50,
            successful_active_health_check_uneject_host: true,
            always_eject_one_host: false,
        }
    }
}

impl OutlierConfig {
    /// The effective `max_ejection_time`: unset gives `max(300 s, base)`; an explicit value
    /// below `base_ejection_time` is raised to it.
    pub fn effective_max_ejection_time(&self) -> SimTime {
        match self.max_ejection_time {
            None => SimTime::from_secs(300).max(self.base_ejection_time),
            Some(m) => m.max(self.base_ejection_time),
        }
    }
}

/// Something the owner of an [`OutlierDetector`] must do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OutlierAction {
    /// Take host `i` out of the healthy set (Envoy's `FAILED_OUTLIER_CHECK` flag set).
    Eject(usize),
    /// Put host `i` back (flag cleared).
    Uneject(usize),
}

/// Counters mirroring Envoy's `outlier_detection.*` cluster stats.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct OutlierStats {
    /// Ejection requests for hosts not already ejected (`ejections_detected_*`).
    pub ejections_detected: u64,
    /// Requests refused by `max_ejection_percent` (`ejections_overflow`).
    pub ejections_overflow: u64,
    /// Requests allowed but lost the `enforcing_*` draw.
    pub ejections_not_enforced: u64,
    /// Ejections carried out (`ejections_enforced_total`).
    pub ejections_enforced: u64,
}

/// Why an ejection was asked for (Envoy's `OutlierEjectionType`); selects the enforcing
/// percentage.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum EjectionType {
    Consecutive5xx,
    ConsecutiveGatewayFailure,
    ConsecutiveLocalOriginFailure,
    SuccessRate,
    SuccessRateLocalOrigin,
    FailurePercentage,
    FailurePercentageLocalOrigin,
}

/// Which of a host's two success-rate monitors (Envoy's `SuccessRateMonitorType`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Origin {
    External,
    Local,
}

/// Envoy's `SuccessRateAccumulator`: the interval being written and the one just closed.
#[derive(Copy, Clone, Debug, Default)]
struct Buckets {
    cur_total: u64,
    cur_success: u64,
    prev_total: u64,
    prev_success: u64,
}

impl Buckets {
    /// `updateCurrentWriter`: the current interval becomes the one the sweep reads.
    fn rotate(&mut self) {
        self.prev_total = self.cur_total;
        self.prev_success = self.cur_success;
        self.cur_total = 0;
        self.cur_success = 0;
    }

    /// `getSuccessRateAndVolume`: success percent and volume of the closed interval.
    fn rate_and_volume(&self) -> Option<(f64, u64)> {
        (self.prev_total > 0).then(|| {
            (
                self.prev_success as f64 * 100.0 / self.prev_total as f64,
                self.prev_total,
            )
        })
    }
}

/// Envoy's `DetectorHostMonitorImpl`: one host's counters and ejection state.
#[derive(Copy, Clone, Debug, Default)]
struct HostState {
    ejected: bool,
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    consecutive_local: u32,
    /// Multiplier of `base_ejection_time` for the current/next ejection.
    backoff: u64,
    num_ejections: u64,
    last_ejection: SimTime,
    last_unejection: Option<SimTime>,
    jitter: SimTime,
    external: Buckets,
    local: Buckets,
}

impl HostState {
    fn reset_consecutive(&mut self) {
        self.consecutive_5xx = 0;
        self.consecutive_gateway = 0;
        self.consecutive_local = 0;
    }
}

/// Mean and ejection threshold of a success-rate sweep
/// (`DetectorImpl::successRateEjectionThreshold`): `mean − factor · σ` with the
/// population standard deviation. `rates` are percentages; `stdev_factor` is the plain
/// factor (1.9 for Envoy's 1900). With rates {50, 100, 100, 100, 100}: mean 90, σ 20,
/// threshold 52. Returns `(mean, threshold)`; `rates` must not be empty.
pub fn success_rate_ejection_threshold(rates: &[f64], stdev_factor: f64) -> (f64, f64) {
    let n = rates.len() as f64;
    let mean = rates.iter().sum::<f64>() / n;
    let variance = rates.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / n;
    (mean, mean - stdev_factor * variance.sqrt())
}

/// Envoy's outlier detector (`Outlier::DetectorImpl` with one
/// `DetectorHostMonitorImpl` per host, `source/common/upstream/outlier_detection_impl.cc`)
/// for one cluster of `n_hosts` hosts, as a sans-IO state machine. Defaults in
/// [`OutlierConfig`].
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    config: OutlierConfig,
    max_ejection_time: SimTime,
    hosts: Vec<HostState>,
    n_ejected: usize,
    next_tick: SimTime,
    rng: SimRng,
    actions: VecDeque<OutlierAction>,
    stats: OutlierStats,
    /// `(mean, threshold)` of the last external-origin success-rate sweep that ran.
    sr_external: Option<(f64, f64)>,
    /// Same for local origin (split mode).
    sr_local: Option<(f64, f64)>,
    /// Scratch for the sweeps (kept to avoid allocating per tick).
    sr_hosts: Vec<(usize, f64)>,
    fp_hosts: Vec<(usize, f64)>,
    sr_rates: Vec<f64>,
}

impl OutlierDetector {
    /// A detector for hosts `0..n_hosts`, none ejected, first tick at `now + interval`
    /// (Envoy arms the interval timer when the detector is created).
    ///
    /// # Panics
    /// If `config.interval` is zero (Envoy's config validation rejects it too).
    pub fn new(config: OutlierConfig, n_hosts: usize, now: SimTime, rng: SimRng) -> Self {
        assert!(
            config.interval > SimTime::ZERO,
            "outlier detection interval must be positive"
        );
        let max_ejection_time = config.effective_max_ejection_time();
        let next_tick = now + config.interval;
        OutlierDetector {
            config,
            max_ejection_time,
            hosts: vec![HostState::default(); n_hosts],
            n_ejected: 0,
            next_tick,
            rng,
            actions: VecDeque::with_capacity(n_hosts.max(4)),
            stats: OutlierStats::default(),
            sr_external: None,
            sr_local: None,
            sr_hosts: Vec::with_capacity(n_hosts),
            fp_hosts: Vec::with_capacity(n_hosts),
            sr_rates: Vec::with_capacity(n_hosts),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &OutlierConfig {
        &self.config
    }

    /// Number of hosts watched (ejected ones included).
    pub fn n_hosts(&self) -> usize {
        self.hosts.len()
    }

    /// Whether `host` is currently ejected.
    pub fn is_ejected(&self, host: usize) -> bool {
        self.hosts[host].ejected
    }

    /// Number of hosts currently ejected (Envoy's `ejections_active` gauge).
    pub fn n_ejected(&self) -> usize {
        self.n_ejected
    }

    /// How many times `host` has been ejected.
    pub fn num_ejections(&self, host: usize) -> u64 {
        self.hosts[host].num_ejections
    }

    /// Counters (detected, overflowed, not enforced, enforced ejections).
    pub fn stats(&self) -> OutlierStats {
        self.stats
    }

    /// `(mean, threshold)` of the last external-origin success-rate sweep that had enough
    /// hosts, `None` if the last tick's sweep did not run (Envoy reports −1).
    pub fn success_rate_stats(&self) -> Option<(f64, f64)> {
        self.sr_external
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the next
    /// interval tick (always armed, like Envoy's interval timer).
    pub fn poll_timeout(&self) -> Option<SimTime> {
        Some(self.next_tick)
    }

    /// The next action to carry out, in order; `None` when there is nothing to do.
    pub fn poll_action(&mut self) -> Option<OutlierAction> {
        self.actions.pop_front()
    }

    /// A response (or failure) from `host` at `now`. May eject the host at once
    /// (consecutive-error detection). Responses to ejected hosts (panic routing) still
    /// count.
    pub fn on_response(&mut self, now: SimTime, host: usize, kind: OutcomeKind) {
        if kind == OutcomeKind::Cancelled {
            return; // the client gave up: no verdict on the host
        }
        if self.config.split_external_local_origin_errors {
            // `putResultWithLocalExternalSplit`: a response means the connection worked
            // (LocalOriginConnectSuccess, then the status); refusals and timeouts are
            // local-origin failures only.
            match kind {
                OutcomeKind::Success => {
                    self.local_origin_no_failure(host);
                    self.put_http_status(now, host, 200);
                }
                OutcomeKind::Status(s) => {
                    self.local_origin_no_failure(host);
                    self.put_http_status(now, host, s);
                }
                OutcomeKind::Refused | OutcomeKind::TimedOut => {
                    self.local_origin_failure(now, host);
                }
                OutcomeKind::Cancelled => {}
            }
        } else {
            // `putResultNoLocalExternalSplit` / `resultToHttpCode`: connect failure → 503,
            // timeout → 504, both gateway errors and 5xx.
            let status = match kind {
                OutcomeKind::Success => 200,
                OutcomeKind::Status(s) => s,
                OutcomeKind::Refused => 503,
                OutcomeKind::TimedOut => 504,
                OutcomeKind::Cancelled => return,
            };
            self.put_http_status(now, host, status);
        }
    }

    /// An active health check of `host` passed at `now`: uneject it if
    /// `successful_active_health_check_uneject_host` (Envoy's check-complete callback in
    /// `DetectorImpl::initialize`). The owner calls it only when the active checker
    /// considers the host healthy.
    pub fn on_active_check_pass(&mut self, now: SimTime, host: usize) {
        if self.config.successful_active_health_check_uneject_host && self.hosts[host].ejected {
            self.uneject(now, host);
        }
    }

    /// The cluster now has `n_hosts` hosts. A plain resize: indices below both the old and
    /// new count keep their state; removed tail hosts are forgotten (if ejected, they stop
    /// counting as ejected, like Envoy's member-update callback; no `Uneject` is emitted for
    /// them); new hosts start fresh. Owners that remove hosts from the middle must move
    /// the state themselves (or accept that indices shift).
    pub fn set_hosts(&mut self, _now: SimTime, n_hosts: usize) {
        if n_hosts < self.hosts.len() {
            let removed_ejected = self.hosts[n_hosts..].iter().filter(|h| h.ejected).count();
            self.n_ejected -= removed_ejected;
            // Drop pending actions about hosts that no longer exist.
            self.actions.retain(|a| match *a {
                OutlierAction::Eject(i) | OutlierAction::Uneject(i) => i < n_hosts,
            });
        }
        self.hosts.resize(n_hosts, HostState::default());
        for v in [&mut self.sr_hosts, &mut self.fp_hosts] {
            v.reserve(n_hosts.saturating_sub(v.len()));
        }
        self.sr_rates
            .reserve(n_hosts.saturating_sub(self.sr_rates.len()));
    }

    /// Time has reached `now`: run the interval tick if due (`DetectorImpl::onIntervalTimer`).
    /// Calls before [`poll_timeout`](Self::poll_timeout) are no-ops.
    pub fn handle_timeout(&mut self, now: SimTime) {
        if now < self.next_tick {
            return;
        }
        // 1. Unejection (`checkHostForUneject`): the ejection has lasted at least
        //    min(base · backoff, max) + jitter. Then close the interval's buckets.
        let base = self.config.base_ejection_time;
        for i in 0..self.hosts.len() {
            let h = &self.hosts[i];
            if h.ejected {
                let span = SimTime(base.as_nanos().saturating_mul(h.backoff))
                    .min(self.max_ejection_time)
                    + h.jitter;
                if span <= now - h.last_ejection {
                    self.uneject(now, i);
                }
            }
            let h = &mut self.hosts[i];
            h.external.rotate();
            h.local.rotate();
        }
        // 2. Sweeps over the interval just closed (`processSuccessRateEjections`, external
        //    then local origin). Local-origin buckets only fill in split mode.
        self.sweep(now, Origin::External);
        if self.config.split_external_local_origin_errors {
            self.sweep(now, Origin::Local);
        } else {
            self.sr_local = None;
        }
        // 3. Backoff decay: a host back in service for at least an interval loses one
        //    unit of backoff per tick.
        let interval = self.config.interval;
        for h in &mut self.hosts {
            if !h.ejected && h.last_unejection.is_some_and(|t| now - t >= interval) && h.backoff > 0
            {
                h.backoff -= 1;
            }
        }
        // 4. Re-arm the timer (relative to now, as Envoy's `armIntervalTimer`).
        self.next_tick = now + interval;
    }

    /// `putHttpResponseCode`: the consecutive 5xx / gateway counters and the external
    /// success-rate bucket.
    fn put_http_status(&mut self, now: SimTime, host: usize, status: u16) {
        let (c5xx, cgw) = (
            self.config.consecutive_5xx,
            self.config.consecutive_gateway_failure,
        );
        let h = &mut self.hosts[host];
        h.external.cur_total += 1;
        if status >= 500 {
            // Gateway errors count separately; any other 5xx breaks a gateway run.
            let mut gateway_hit = false;
            if matches!(status, 502..=504) {
                h.consecutive_gateway = h.consecutive_gateway.saturating_add(1);
                gateway_hit = h.consecutive_gateway == cgw;
            } else {
                h.consecutive_gateway = 0;
            }
            h.consecutive_5xx = h.consecutive_5xx.saturating_add(1);
            let c5xx_hit = h.consecutive_5xx == c5xx;
            // Envoy posts the gateway request before the 5xx one; both run in that order.
            if gateway_hit {
                self.on_consecutive_error(now, host, EjectionType::ConsecutiveGatewayFailure);
            }
            if c5xx_hit {
                self.on_consecutive_error(now, host, EjectionType::Consecutive5xx);
            }
        } else {
            // A non-5xx answer is a success and ends both runs.
            h.external.cur_success += 1;
            h.consecutive_5xx = 0;
            h.consecutive_gateway = 0;
        }
    }

    /// `localOriginFailure` (split mode).
    fn local_origin_failure(&mut self, now: SimTime, host: usize) {
        let h = &mut self.hosts[host];
        h.local.cur_total += 1;
        h.consecutive_local = h.consecutive_local.saturating_add(1);
        if h.consecutive_local == self.config.consecutive_local_origin_failure {
            self.on_consecutive_error(now, host, EjectionType::ConsecutiveLocalOriginFailure);
        }
    }

    /// `localOriginNoFailure` (split mode).
    fn local_origin_no_failure(&mut self, host: usize) {
        let h = &mut self.hosts[host];
        h.local.cur_total += 1;
        h.local.cur_success += 1;
        h.consecutive_local = 0;
    }

    /// `onConsecutiveErrorWorker`: ignored for an ejected host (its counter keeps counting
    /// past the threshold until unejection resets it); otherwise try to eject, then reset
    /// the counter that fired whatever the outcome.
    fn on_consecutive_error(&mut self, now: SimTime, host: usize, kind: EjectionType) {
        if self.hosts[host].ejected {
            return;
        }
        self.eject(now, host, kind);
        let h = &mut self.hosts[host];
        match kind {
            EjectionType::Consecutive5xx => h.consecutive_5xx = 0,
            EjectionType::ConsecutiveGatewayFailure => h.consecutive_gateway = 0,
            EjectionType::ConsecutiveLocalOriginFailure => h.consecutive_local = 0,
            _ => {}
        }
    }

    /// `ejectHost`: the max-ejection-percent guard, the enforcing draw, then the ejection
    /// with its jitter and backoff step.
    fn eject(&mut self, now: SimTime, host: usize, kind: EjectionType) {
        if self.hosts[host].ejected {
            return; // see the module docs: never eject twice
        }
        self.stats.ejections_detected += 1;
        // Allowed iff 100·(ejected+1)/num_hosts ≤ max_ejection_percent (capped at 100),
        // in exact integer arithmetic; always_eject_one_host lets the first one through.
        let max_pct = u64::from(self.config.max_ejection_percent.min(100));
        let n = self.hosts.len() as u64;
        let mut allowed = 100 * (self.n_ejected as u64 + 1) <= max_pct * n;
        if self.config.always_eject_one_host {
            allowed |= self.n_ejected == 0;
        }
        if !allowed {
            self.stats.ejections_overflow += 1;
            return;
        }
        let pct = match kind {
            EjectionType::Consecutive5xx => self.config.enforcing_consecutive_5xx,
            EjectionType::ConsecutiveGatewayFailure => {
                self.config.enforcing_consecutive_gateway_failure
            }
            EjectionType::ConsecutiveLocalOriginFailure => {
                self.config.enforcing_consecutive_local_origin_failure
            }
            EjectionType::SuccessRate => self.config.enforcing_success_rate,
            EjectionType::SuccessRateLocalOrigin => self.config.enforcing_local_origin_success_rate,
            EjectionType::FailurePercentage => self.config.enforcing_failure_percentage,
            EjectionType::FailurePercentageLocalOrigin => {
                self.config.enforcing_failure_percentage_local_origin
            }
        };
        // Runtime `featureEnabled(key, pct)`: enforced with probability pct/100. 0 and 100
        // are decided without a draw.
        let enforced = match pct {
            0 => false,
            p if p >= 100 => true,
            p => self.rng.below(100) < u64::from(p),
        };
        if !enforced {
            self.stats.ejections_not_enforced += 1;
            return;
        }
        self.stats.ejections_enforced += 1;
        self.n_ejected += 1;
        // Jitter = random % (max_jitter_ms + 1), in whole milliseconds.
        let max_jitter_ms = self.config.max_ejection_time_jitter.as_nanos() / 1_000_000;
        let jitter = if max_jitter_ms == 0 {
            SimTime::ZERO
        } else {
            SimTime::from_millis(self.rng.below(max_jitter_ms + 1))
        };
        let base = self.config.base_ejection_time.as_nanos();
        let cap = self.max_ejection_time.as_nanos().saturating_add(base);
        let h = &mut self.hosts[host];
        h.ejected = true;
        h.num_ejections += 1;
        h.last_ejection = now;
        h.jitter = jitter;
        // Backoff grows while base · backoff < max + base (so it stops one step past max).
        if h.backoff.saturating_mul(base) < cap {
            h.backoff += 1;
        }
        self.actions.push_back(OutlierAction::Eject(host));
    }

    /// `unejectHost`: clear the flag, reset all consecutive counters, remember when.
    fn uneject(&mut self, now: SimTime, host: usize) {
        let h = &mut self.hosts[host];
        debug_assert!(h.ejected);
        h.ejected = false;
        h.reset_consecutive();
        h.last_unejection = Some(now);
        self.n_ejected -= 1;
        self.actions.push_back(OutlierAction::Uneject(host));
    }

    /// One `processSuccessRateEjections` pass over the closed buckets of `origin`.
    fn sweep(&mut self, now: SimTime, origin: Origin) {
        let c = &self.config;
        let (sr_min, sr_vol) = (
            u64::from(c.success_rate_minimum_hosts),
            u64::from(c.success_rate_request_volume),
        );
        let (fp_min, fp_vol) = (
            u64::from(c.failure_percentage_minimum_hosts),
            u64::from(c.failure_percentage_request_volume),
        );
        let stdev_factor = f64::from(c.success_rate_stdev_factor) / 1000.0;
        let fp_threshold = f64::from(c.failure_percentage_threshold);
        let (sr_type, fp_type) = match origin {
            Origin::External => (EjectionType::SuccessRate, EjectionType::FailurePercentage),
            Origin::Local => (
                EjectionType::SuccessRateLocalOrigin,
                EjectionType::FailurePercentageLocalOrigin,
            ),
        };
        let mut result = None;
        let n = self.hosts.len() as u64;
        // Too few hosts in the cluster for either sweep: nothing to do.
        if n >= sr_min || n >= fp_min {
            // Collect non-ejected hosts with traffic in the closed interval.
            self.sr_hosts.clear();
            self.fp_hosts.clear();
            self.sr_rates.clear();
            for (i, h) in self.hosts.iter().enumerate() {
                if h.ejected {
                    continue;
                }
                let b = match origin {
                    Origin::External => &h.external,
                    Origin::Local => &h.local,
                };
                let Some((rate, volume)) = b.rate_and_volume() else {
                    continue;
                };
                if volume >= sr_vol {
                    self.sr_hosts.push((i, rate));
                    self.sr_rates.push(rate);
                }
                if volume >= fp_vol {
                    self.fp_hosts.push((i, rate));
                }
            }
            // Success rate: eject hosts strictly below mean − factor·σ.
            if !self.sr_hosts.is_empty() && self.sr_hosts.len() as u64 >= sr_min {
                let (mean, threshold) =
                    success_rate_ejection_threshold(&self.sr_rates, stdev_factor);
                result = Some((mean, threshold));
                for k in 0..self.sr_hosts.len() {
                    let (i, rate) = self.sr_hosts[k];
                    if rate < threshold {
                        self.eject(now, i, sr_type);
                    }
                }
            }
            // Failure percentage: eject hosts whose failure % reaches the threshold.
            if !self.fp_hosts.is_empty() && self.fp_hosts.len() as u64 >= fp_min {
                for k in 0..self.fp_hosts.len() {
                    let (i, rate) = self.fp_hosts[k];
                    if 100.0 - rate >= fp_threshold {
                        self.eject(now, i, fp_type);
                    }
                }
            }
        }
        match origin {
            Origin::External => self.sr_external = result,
            Origin::Local => self.sr_local = result,
        }
    }
}

#[cfg(test)]
mod tests;
