//! HAProxy's active health checks (`check`, `inter`/`fastinter`/`downinter`, `rise`/`fall`,
//! `spread-checks`, `timeout check`) and its passive health analysis (`observe`,
//! `error-limit`, `on-error`), as a sans-IO state machine for one server.
//!
//! HAProxy keeps a single counter per check, `health ∈ [0, rise+fall−1]`; the server is UP
//! while `health ≥ rise`. A failed check walks the counter down one step but snaps it to 0
//! as soon as it drops below `rise` (the server goes DOWN); a passed check walks it up one
//! step and snaps it to the top as soon as it reaches `rise` (the server goes UP). So a
//! single success during the fall phase restores full health and a single failure during
//! the rise phase restarts the rise from zero. The next check is scheduled from the *end*
//! of the previous one, `inter` apart when fully healthy, `downinter` apart when fully
//! down, `fastinter` apart in between (`srv_getinter`). Sources: `haproxy/haproxy`
//! `src/check.c` (`set_server_check_status`, `check_notify_failure`,
//! `check_notify_success`, `__health_adjust`, `process_chk_conn`, `start_check_task`),
//! `src/server.c` (`srv_getinter`), `include/haproxy/defaults.h`; `doc/configuration.txt`.

use std::collections::VecDeque;

use super::{ActiveChecker, CheckAction, ProbeResult};
use crate::balancer::OutcomeKind;
use crate::engine::{SimRng, SimTime};

/// HAProxy's `observe` server keyword: which live-traffic events the passive health
/// analysis (`__health_adjust` in `check.c`) counts. Default: off.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Observe {
    /// No `observe` keyword: live traffic is ignored.
    #[default]
    None,
    /// `observe layer4`: connection errors count as errors, successful connects reset the
    /// counter.
    Layer4,
    /// `observe layer7` (HTTP only): layer-4 errors, read errors and timeouts, broken
    /// responses and statuses other than 100–499, 501 and 505 count as errors; good
    /// responses reset the counter.
    Layer7,
}

impl Observe {
    /// How HAProxy's `analyze_statuses` table (`check.c`) classifies the outcome of one
    /// request for this mode: `Some(true)` resets the consecutive-error counter,
    /// `Some(false)` is an error, `None` is ignored. A helper for the owner, who passes
    /// the verdict to [`ActiveChecker::observe_traffic`].
    ///
    /// Layer 4 cannot tell a connect timeout (an L4 error in HAProxy) from a read timeout
    /// (ignored at layer 4) because [`OutcomeKind::TimedOut`] covers both; it is counted as
    /// an error, so a black-holed server is noticed.
    pub fn classify(self, kind: OutcomeKind) -> Option<bool> {
        match self {
            Observe::None => None,
            _ if kind == OutcomeKind::Cancelled => None,
            Observe::Layer4 => Some(matches!(
                kind,
                OutcomeKind::Success | OutcomeKind::Status(_)
            )),
            Observe::Layer7 => Some(match kind {
                OutcomeKind::Success => true,
                OutcomeKind::Status(s) => (100..=499).contains(&s) || s == 501 || s == 505,
                OutcomeKind::Refused | OutcomeKind::TimedOut => false,
                OutcomeKind::Cancelled => return None,
            }),
        }
    }
}

/// HAProxy's `on-error` server keyword: what happens when `error-limit` consecutive
/// errors were observed (`__health_adjust` in `check.c`). Default `fail-check`
/// (`DEF_HANA_ONERR`). Every mode also forces `fastinter` for the next check.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum OnError {
    /// `fastinter`: only force `fastinter` for the next check.
    FastInter,
    /// `fail-check`: simulate one failed check.
    #[default]
    FailCheck,
    /// `sudden-death`: clamp health to `rise+1` (if above), then simulate one failed check,
    /// so the next real failure marks the server DOWN.
    SuddenDeath,
    /// `mark-down`: set health to `rise`, then simulate one failed check: DOWN now.
    MarkDown,
}

/// Configuration of one HAProxy server check (`server ... check inter ... rise ... fall
/// ...`), with HAProxy's defaults (`include/haproxy/defaults.h`, `doc/configuration.txt`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct HaproxyCheckConfig {
    /// `inter`: delay between checks while the server is fully healthy, and the default
    /// for the other intervals and for the check timeout. Default 2 s (`DEF_CHKINTR`).
    pub inter: SimTime,
    /// `fastinter`: delay between checks while the health is transitional (neither fully
    /// up nor fully down), and after `on-error` fires. `None` (default) uses `inter`.
    pub fastinter: Option<SimTime>,
    /// `downinter`: delay between checks while the server is DOWN with health 0. `None`
    /// (default) uses `inter`.
    pub downinter: Option<SimTime>,
    /// `rise`: consecutive successful checks to mark a DOWN server UP. Default 2
    /// (`DEF_RISETIME`); at least 1.
    pub rise: u32,
    /// `fall`: consecutive failed checks to mark an UP server DOWN. Default 3
    /// (`DEF_FALLTIME`); at least 1.
    pub fall: u32,
    /// `timeout check`. HAProxy bounds the connect by `min(inter, timeout connect)` and
    /// then the response by `timeout check`; here a probe simply fails after
    /// `timeout_check` if set, else after `inter` (HAProxy's timeout when `timeout check`
    /// is unset). Default `None`.
    pub timeout_check: Option<SimTime>,
    /// Global `spread-checks`, 0–50 (percent): every delay until the next check is moved
    /// by a uniform random amount within ±this percentage. Default 0.
    pub spread_checks_pct: u32,
    /// `observe`: passive health analysis of live traffic. Default off.
    pub observe: Observe,
    /// `error-limit`: consecutive observed errors that trigger `on-error`. Default 10
    /// (`DEF_HANA_ERRLIMIT`); at least 1.
    pub error_limit: u32,
    /// `on-error`: what the error limit triggers. Default `fail-check` (`DEF_HANA_ONERR`).
    pub on_error: OnError,
    /// Time a real HAProxy spends per check beyond the interval (connect, task scheduling),
    /// added to every delay until the next check. Default 0 (the ideal model). Measured on
    /// HAProxy 2.6 at about 1–2 ms per check, so with `fall = 3` a server is marked DOWN
    /// about 5 ms later than the ideal model predicts.
    pub check_overhead: SimTime,
}

impl Default for HaproxyCheckConfig {
    fn default() -> Self {
        HaproxyCheckConfig {
            inter: SimTime::from_secs(2),
            fastinter: None,
            downinter: None,
            rise: 2,
            fall: 3,
            timeout_check: None,
            spread_checks_pct: 0,
            observe: Observe::None,
            error_limit: 10,
            on_error: OnError::FailCheck,
            check_overhead: SimTime::ZERO,
        }
    }
}

/// HAProxy's active health check of one server (`check.c`, `server.c` `srv_getinter`),
/// with its passive `observe`/`error-limit`/`on-error` analysis.
///
/// Driven like every [`ActiveChecker`]: the owner calls
/// [`handle_timeout`](ActiveChecker::handle_timeout) at
/// [`poll_timeout`](ActiveChecker::poll_timeout), answers each
/// [`CheckAction::SendProbe`] with [`handle_probe_result`](ActiveChecker::handle_probe_result)
/// (or lets it time out), and carries out [`CheckAction::MarkUp`]/[`CheckAction::MarkDown`],
/// which are emitted exactly on transitions. The server starts UP with `health = rise`
/// (HAProxy's normal start): one failure marks it DOWN, one success makes it fully UP; no
/// action is emitted for the initial state.
///
/// Start: HAProxy staggers the servers' first checks over the largest interval
/// (`start_check_task`: `mininter · srvpos / nbcheck`); here the first probe is sent at a
/// uniform random offset in `[0, inter)` after construction, drawn from the checker's rng,
/// so it is deterministic per rng stream.
#[derive(Clone, Debug)]
pub struct HaproxyChecker {
    cfg: HaproxyCheckConfig,
    rng: SimRng,
    /// The check counter, `0 ..= rise+fall−1`.
    health: u32,
    /// Whether the server is marked UP (always `health >= rise`).
    up: bool,
    /// When the next probe is due (meaningful while no probe is in flight).
    next_check: SimTime,
    /// The probe in flight: its number and its deadline.
    in_flight: Option<(u64, SimTime)>,
    /// Number of the last probe sent.
    probe_seq: u64,
    /// HAProxy's `CHK_ST_FASTINTER`: set by the passive analysis, makes the next delay
    /// ignore the fully-healthy `inter`, cleared when the next delay is computed.
    force_fastinter: bool,
    /// Consecutive errors seen by `observe` (HAProxy's `consecutive_errors`).
    consecutive_errors: u32,
    actions: VecDeque<CheckAction>,
}

impl HaproxyChecker {
    /// A checker for a server that starts UP (`health = rise`) at `now`; the first probe
    /// goes out at `now` plus a uniform offset in `[0, inter)` drawn from `rng`.
    ///
    /// # Panics
    /// If `inter` is zero, `rise`, `fall` or `error_limit` is zero, or
    /// `spread_checks_pct > 50` (HAProxy rejects these configurations).
    pub fn new(config: HaproxyCheckConfig, now: SimTime, mut rng: SimRng) -> HaproxyChecker {
        assert!(config.inter > SimTime::ZERO, "inter must be positive");
        assert!(
            config.fastinter != Some(SimTime::ZERO),
            "fastinter must be positive"
        );
        assert!(
            config.downinter != Some(SimTime::ZERO),
            "downinter must be positive"
        );
        assert!(config.rise >= 1, "rise must be at least 1");
        assert!(config.fall >= 1, "fall must be at least 1");
        assert!(config.error_limit >= 1, "error_limit must be at least 1");
        assert!(
            config.spread_checks_pct <= 50,
            "spread_checks_pct must be in 0..=50"
        );
        let offset = SimTime(rng.below(config.inter.as_nanos()));
        HaproxyChecker {
            cfg: config,
            rng,
            health: config.rise,
            up: true,
            next_check: now + offset,
            in_flight: None,
            probe_seq: 0,
            force_fastinter: false,
            consecutive_errors: 0,
            actions: VecDeque::with_capacity(4),
        }
    }

    /// The check counter, `0 ..= rise+fall−1` (UP iff `≥ rise`).
    pub fn health(&self) -> u32 {
        self.health
    }

    /// The configuration.
    pub fn config(&self) -> &HaproxyCheckConfig {
        &self.cfg
    }

    /// Consecutive errors observed so far (below `error_limit`).
    pub fn consecutive_errors(&self) -> u32 {
        self.consecutive_errors
    }

    fn max_health(&self) -> u32 {
        self.cfg.rise + self.cfg.fall - 1
    }

    /// `srv_getinter`: the delay before the next check in the current state.
    fn interval(&self) -> SimTime {
        let c = &self.cfg;
        if !self.force_fastinter && self.health == self.max_health() {
            // Fully healthy and no forced fastinter: the normal interval.
            c.inter
        } else if !self.up && self.health == 0 {
            // Fully down: downinter, falling back to inter.
            c.downinter.unwrap_or(c.inter)
        } else {
            // Transitional (or forced by `on-error`): fastinter, falling back to inter.
            c.fastinter.unwrap_or(c.inter)
        }
    }

    /// The timer update of `process_chk_conn`: `interval` moved by the `spread-checks`
    /// jitter (`rv = interval·p/100; rv −= 2·rv·U`), after which the forced fastinter is
    /// consumed.
    fn next_delay(&mut self) -> SimTime {
        let interval = self.interval();
        self.force_fastinter = false;
        let pct = u64::from(self.cfg.spread_checks_pct);
        if pct == 0 {
            return interval + self.cfg.check_overhead;
        }
        let rv = (u128::from(interval.as_nanos()) * u128::from(pct) / 100) as u64;
        let down = (2.0 * rv as f64 * self.rng.next_f64()) as u64;
        SimTime(interval.as_nanos() + rv - down.min(2 * rv)) + self.cfg.check_overhead
    }

    /// `set_server_check_status` with a failed result, then `check_notify_failure`.
    fn check_failed(&mut self) {
        if self.health > 0 {
            // One step down; below `rise` the counter snaps to 0.
            self.health -= 1;
            if self.health < self.cfg.rise {
                self.health = 0;
            }
        }
        if self.health == 0 && self.up {
            // check_notify_failure: health reached 0 ⇒ the server is set DOWN (once).
            self.up = false;
            self.actions.push_back(CheckAction::MarkDown);
        }
    }

    /// `set_server_check_status` with a passed result, then `check_notify_success`.
    fn check_passed(&mut self) {
        let max = self.max_health();
        if self.health < max {
            // One step up; reaching `rise` snaps the counter to the top ("OK now").
            self.health += 1;
            if self.health >= self.cfg.rise {
                self.health = max;
            }
        }
        // A passing check clears the observed consecutive errors.
        self.consecutive_errors = 0;
        if self.health >= self.cfg.rise && !self.up {
            // check_notify_success: health ≥ rise ⇒ the server is set RUNNING (once).
            self.up = true;
            self.actions.push_back(CheckAction::MarkUp);
        }
    }

    /// The end of the probe in flight at `now`: apply the result and schedule the next
    /// probe from `now` (HAProxy schedules from the end of the check).
    fn finish_check(&mut self, now: SimTime, passed: bool) {
        self.in_flight = None;
        if passed {
            self.check_passed();
        } else {
            self.check_failed();
        }
        self.next_check = now + self.next_delay();
        debug_assert_eq!(self.up, self.health >= self.cfg.rise);
    }
}

impl ActiveChecker for HaproxyChecker {
    fn poll_timeout(&self) -> Option<SimTime> {
        Some(match self.in_flight {
            Some((_, deadline)) => deadline,
            None => self.next_check,
        })
    }

    fn handle_timeout(&mut self, now: SimTime) {
        match self.in_flight {
            Some((_, deadline)) => {
                if now >= deadline {
                    // No answer within the check timeout: L4TOUT/L7TOUT, a failed check.
                    self.finish_check(now, false);
                }
            }
            None => {
                if now >= self.next_check {
                    self.probe_seq += 1;
                    let timeout = self.cfg.timeout_check.unwrap_or(self.cfg.inter);
                    self.in_flight = Some((self.probe_seq, now + timeout));
                    self.actions.push_back(CheckAction::SendProbe {
                        probe: self.probe_seq,
                    });
                }
            }
        }
    }

    fn handle_probe_result(&mut self, now: SimTime, probe: u64, result: ProbeResult) {
        match self.in_flight {
            Some((p, _)) if p == probe => self.finish_check(now, result == ProbeResult::Pass),
            _ => {} // stale: already timed out, or not ours
        }
    }

    fn poll_action(&mut self) -> Option<CheckAction> {
        self.actions.pop_front()
    }

    fn is_up(&self) -> bool {
        self.up
    }

    /// `__health_adjust`: `ok` is the owner's verdict for the `observe` layer (see
    /// [`Observe::classify`]). Ignored when `observe` is off.
    fn observe_traffic(&mut self, now: SimTime, ok: bool) {
        if self.cfg.observe == Observe::None {
            return;
        }
        if ok {
            // A good event clears the consecutive errors.
            self.consecutive_errors = 0;
            return;
        }
        self.consecutive_errors += 1;
        if self.consecutive_errors < self.cfg.error_limit {
            return;
        }
        // The limit is reached: every mode forces fastinter for the next check.
        self.force_fastinter = true;
        match self.cfg.on_error {
            OnError::FastInter => {}
            OnError::SuddenDeath => {
                // Pre-fatal: clamp to rise+1, then one failed check leaves health = rise.
                if self.health > self.cfg.rise {
                    self.health = self.cfg.rise + 1;
                }
                self.check_failed();
            }
            OnError::FailCheck => self.check_failed(),
            OnError::MarkDown => {
                // health = rise, then one failed check ⇒ 0, DOWN now.
                self.health = self.cfg.rise;
                self.check_failed();
            }
        }
        self.consecutive_errors = 0;
        // HAProxy wakes the check task only when fastinter is configured; an idle task
        // woken early moves its timer to now + srv_getinter() if that is not later
        // (recomputing it with spread), which consumes the forced fastinter.
        if self.cfg.fastinter.is_some() && self.in_flight.is_none() && now < self.next_check {
            let advanced = now + self.interval();
            if advanced <= self.next_check {
                self.next_check = now + self.next_delay();
            }
        }
        debug_assert_eq!(self.up, self.health >= self.cfg.rise);
    }
}

#[cfg(test)]
mod tests;
