//! Kubernetes probes as the kubelet runs them (readiness and liveness), as a sans-IO state
//! machine for one container, and the kubelet's restart back-off.
//!
//! The kubelet's prober worker (`pkg/kubelet/prober/worker.go`) probes on a ticker every
//! `periodSeconds`; each probe waits at most `timeoutSeconds` (an HTTP probe passes on a
//! status in 200–399). Results are counted in a run of equal results: a run of
//! `failureThreshold` failures sets the result to Failure, a run of `successThreshold`
//! successes sets it to Success; anything shorter leaves the result as it was. A probe
//! never overlaps the previous one: the worker probes synchronously, and Go's ticker keeps
//! one tick while it is busy, so a probe that outlasts the period is followed at once by
//! the next. Probes are skipped until `initialDelaySeconds` after the container started.
//!
//! A readiness Failure takes the pod out of its Services' endpoints; Success puts it back.
//! A liveness Failure makes the kubelet kill and restart the container: the worker holds
//! (`onHold`, `resultRun = 0`) until the new container runs. Restarts back off like
//! CrashLoopBackOff (`pkg/kubelet/kuberuntime/kuberuntime_manager.go` `doBackOff`, with
//! `flowcontrol.Backoff`): the first restart is immediate, then 10 s, doubling to at most
//! 300 s, and the back-off is forgotten after 10 minutes without a restart.
//!
//! Defaults are the API's (`k8s.io/api/core/v1` `Probe`): period 10 s, timeout 1 s,
//! failure threshold 3, success threshold 1, initial delay 0.

use std::collections::VecDeque;

use super::{ActiveChecker, CheckAction, ProbeResult};
use crate::engine::SimTime;

/// A Kubernetes probe's timing and thresholds.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct KubeProbeConfig {
    /// `periodSeconds`: time between probes. Default 10 s.
    pub period: SimTime,
    /// `timeoutSeconds`: a probe without an answer this long has failed. Default 1 s.
    pub timeout: SimTime,
    /// `failureThreshold`: consecutive failures that set the result to Failure. Default 3.
    pub failure_threshold: u32,
    /// `successThreshold`: consecutive successes that set it to Success. Default 1 (and
    /// always 1 for liveness).
    pub success_threshold: u32,
    /// `initialDelaySeconds`: no probe until this long after the container started.
    /// Default 0.
    pub initial_delay: SimTime,
}

impl Default for KubeProbeConfig {
    fn default() -> Self {
        KubeProbeConfig {
            period: SimTime::from_secs(10),
            timeout: SimTime::from_secs(1),
            failure_threshold: 3,
            success_threshold: 1,
            initial_delay: SimTime::ZERO,
        }
    }
}

/// One container's prober worker. As an [`ActiveChecker`], `MarkDown` is a readiness
/// Failure (or the liveness verdict to restart) and `MarkUp` a readiness Success.
#[derive(Clone, Debug)]
pub struct KubeProber {
    cfg: KubeProbeConfig,
    /// The next tick of the worker's ticker.
    next_tick: SimTime,
    /// A tick came while a probe was in flight (Go's ticker keeps one).
    tick_pending: bool,
    /// The probe in flight and its deadline.
    in_flight: Option<(u64, SimTime)>,
    seq: u64,
    /// No probes before this (the container's start plus the initial delay).
    not_before: SimTime,
    /// The last result set (`true`: Success).
    up: bool,
    last_ok: bool,
    run: u32,
    /// Liveness: waiting for the new container after a Failure.
    on_hold: bool,
    actions: VecDeque<CheckAction>,
}

impl KubeProber {
    /// A worker for a container running since before `now`, currently `up` (a warm start:
    /// the simulated service is ready when the run begins). Its first tick is `phase` after
    /// `now` (the kubelet sleeps a random part of a period so workers do not probe together).
    pub fn new(cfg: KubeProbeConfig, now: SimTime, phase: SimTime, up: bool) -> KubeProber {
        KubeProber {
            cfg,
            next_tick: now + phase,
            tick_pending: false,
            in_flight: None,
            seq: 0,
            not_before: SimTime::ZERO,
            up,
            last_ok: up,
            run: 0,
            on_hold: false,
            actions: VecDeque::new(),
        }
    }

    /// Liveness: the container was killed; no probes until [`resume`](Self::resume).
    pub fn hold(&mut self) {
        self.on_hold = true;
        self.in_flight = None;
        self.tick_pending = false;
        self.run = 0;
    }

    /// A new container started at `now`: probing resumes on the ticker after the initial
    /// delay, from result `up` (liveness: Success; readiness: Failure until a probe passes).
    pub fn resume(&mut self, now: SimTime, up: bool) {
        self.on_hold = false;
        self.not_before = now + self.cfg.initial_delay;
        self.up = up;
        self.last_ok = up;
        self.run = 0;
        self.in_flight = None;
        while self.next_tick < now {
            self.next_tick += self.cfg.period;
        }
    }

    /// The probe just sent found no running container (it crashed and has not come back
    /// yet): the kubelet skips it without counting a result.
    pub fn skip(&mut self, now: SimTime) {
        self.in_flight = None;
        self.tick(now);
    }

    /// The container is gone for now (killed, restarting): the result is Failure at once,
    /// as the kubelet sets a dead container's readiness, and probing waits for `resume`.
    pub fn container_died(&mut self) {
        self.hold();
        if self.up {
            self.up = false;
            self.actions.push_back(CheckAction::MarkDown);
        }
    }

    fn tick(&mut self, now: SimTime) {
        // Go's ticker: ticks missed while busy collapse into one.
        while self.next_tick <= now {
            self.next_tick += self.cfg.period;
            self.tick_pending = true;
        }
        if self.tick_pending && self.in_flight.is_none() && !self.on_hold {
            self.tick_pending = false;
            if now < self.not_before {
                return; // initialDelaySeconds: this tick does nothing
            }
            self.seq += 1;
            self.in_flight = Some((self.seq, now + self.cfg.timeout));
            self.actions
                .push_back(CheckAction::SendProbe { probe: self.seq });
        }
    }

    fn result(&mut self, now: SimTime, ok: bool) {
        self.in_flight = None;
        if ok == self.last_ok {
            self.run += 1;
        } else {
            self.last_ok = ok;
            self.run = 1;
        }
        let threshold = if ok {
            self.cfg.success_threshold
        } else {
            self.cfg.failure_threshold
        };
        if self.run >= threshold && self.up != ok {
            self.up = ok;
            self.actions.push_back(if ok {
                CheckAction::MarkUp
            } else {
                CheckAction::MarkDown
            });
        }
        // A tick kept while this probe ran fires now.
        self.tick(now);
    }
}

impl ActiveChecker for KubeProber {
    fn poll_timeout(&self) -> Option<SimTime> {
        if self.on_hold {
            return None;
        }
        match self.in_flight {
            Some((_, deadline)) => Some(deadline),
            None => Some(self.next_tick),
        }
    }

    fn handle_timeout(&mut self, now: SimTime) {
        if self.on_hold {
            return;
        }
        if let Some((_, deadline)) = self.in_flight
            && now >= deadline
        {
            self.result(now, false);
            return;
        }
        self.tick(now);
    }

    fn handle_probe_result(&mut self, now: SimTime, probe: u64, result: ProbeResult) {
        match self.in_flight {
            Some((p, deadline)) if p == probe && now < deadline => {
                // An HTTP probe passes on 200–399; anything else, or a refused
                // connection, fails.
                let ok = match result {
                    ProbeResult::Pass => true,
                    ProbeResult::BadStatus(s) => (200..400).contains(&s),
                    ProbeResult::Refused | ProbeResult::TimedOut => false,
                };
                self.result(now, ok);
            }
            _ => {}
        }
    }

    fn poll_action(&mut self) -> Option<CheckAction> {
        self.actions.pop_front()
    }

    fn is_up(&self) -> bool {
        self.up
    }

    fn as_kube(&mut self) -> Option<&mut KubeProber> {
        Some(self)
    }
}

/// CrashLoopBackOff: how long the kubelet waits before the `n`-th restart of a container
/// (1-based) when restarts come close together: none for the first, then 10 s, 20 s, 40 s,
/// … up to 300 s.
pub fn restart_backoff(n: u32) -> SimTime {
    if n <= 1 {
        return SimTime::ZERO;
    }
    let secs = 10u64.saturating_mul(1u64 << (n - 2).min(10));
    SimTime::from_secs(secs.min(300))
}

/// The kubelet forgets a container's back-off after this long without a restart (twice
/// the 300 s maximum, `flowcontrol.Backoff`'s `hasExpired`).
pub const BACKOFF_RESET: SimTime = SimTime::from_secs(600);

#[cfg(test)]
mod tests;
