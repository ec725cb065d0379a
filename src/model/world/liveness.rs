//! Liveness probes as the kubelet runs them: one prober per server of a service with
//! `[health.liveness]`, probing where the server runs (no network in between). A server
//! that fails `failure_threshold` probes in a row is killed (everything on it is reset,
//! like a crash) and restarted after CrashLoopBackOff and its `restart` time; the new
//! process starts with a cold cache, and a Kubernetes readiness probe keeps it out of
//! rotation until it passes. A restart cures a hung process, not a slow or erroring one
//! (those faults are the machine's or a dependency's). A crashed process is not probed:
//! its container is not running, and the crash's duration is its own restart.

use super::Ev;
use super::World;
use super::health::HealthEvent;
use crate::engine::SimTime;
use crate::health::kubernetes::{BACKOFF_RESET, KubeProber, restart_backoff};
use crate::health::{ActiveChecker, CheckAction, ProbeResult};
use crate::model::config::{CheckType, Liveness, WorldConfig};

/// The kubelet's probers and restart bookkeeping, per server id.
pub(super) struct Kubelet {
    pub(super) probers: Vec<Option<KubeProber>>,
    pub(super) due: Vec<SimTime>,
    /// Restarts in the current back-off streak, and when the last kill happened.
    streak: Vec<u32>,
    last_kill: Vec<SimTime>,
    /// Per service: the services its liveness handler calls (a deep probe).
    deep: Vec<Vec<usize>>,
}

/// The liveness probe of `service`'s servers: its own `health`'s; `[health]`'s for a
/// class's entry service without one (deep dependencies included: `[health]` is that
/// service's table); `[health]`'s without `depends` for any other service.
fn liveness_of(cfg: &WorldConfig, service: usize) -> Option<&Liveness> {
    match cfg.services.get(service) {
        Some(s) if !s.own_health && cfg.classes.iter().any(|c| c.entry == service) => {
            cfg.health.liveness.as_ref()
        }
        Some(s) => s.health.liveness.as_ref(),
        None => cfg.health.liveness.as_ref(),
    }
}

impl Kubelet {
    pub(super) fn new(
        cfg: &WorldConfig,
        service_of: &[usize],
        rng: &mut crate::engine::SimRng,
    ) -> Kubelet {
        let probers = service_of
            .iter()
            .map(|&s| {
                liveness_of(cfg, s).map(|l| {
                    // The kubelet starts each worker a random part of a period in.
                    let phase = l.probe.period.as_nanos() as f64 * rng.next_f64();
                    KubeProber::new(l.probe, SimTime::ZERO, SimTime::from_nanos_f64(phase), true)
                })
            })
            .collect();
        let n_services = cfg.services.len().max(1);
        Kubelet {
            probers,
            due: vec![SimTime::MAX; service_of.len()],
            streak: vec![0; service_of.len()],
            last_kill: vec![SimTime::ZERO; service_of.len()],
            deep: (0..n_services)
                .map(|s| liveness_of(cfg, s).map_or(Vec::new(), |l| cfg.deep(&l.depends)))
                .collect(),
        }
    }
}

impl<'c, const TRACE: bool> World<'c, TRACE> {
    fn liveness(&self, s: usize) -> Option<&'c Liveness> {
        liveness_of(self.cfg, self.servers[s].service)
    }

    /// Server `s`'s prober's timer fired (if it is still the one armed).
    pub(super) fn live_timer(&mut self, s: usize) {
        if self.kubelet.due[s] == self.now {
            self.kubelet.due[s] = SimTime::MAX;
            if let Some(p) = self.kubelet.probers[s].as_mut() {
                p.handle_timeout(self.now);
            }
            self.drive_liveness(s);
        }
    }

    /// A liveness probe's answer reached the kubelet.
    pub(super) fn live_probe_done(&mut self, s: usize, probe: u64, result: ProbeResult) {
        if let Some(p) = self.kubelet.probers[s].as_mut() {
            p.handle_probe_result(self.now, probe, result);
        }
        self.drive_liveness(s);
    }

    /// Carries out server `s`'s liveness prober's actions and re-arms its timer.
    pub(super) fn drive_liveness(&mut self, s: usize) {
        while let Some(action) = self.kubelet.probers[s]
            .as_mut()
            .and_then(|p| p.poll_action())
        {
            match action {
                CheckAction::SendProbe { probe } => {
                    let srv = &self.servers[s];
                    if (srv.crashed && !srv.restarting) || !srv.member {
                        // A crashed process is not running, and a server out of the pool
                        // (a spare, a removed one) has no pod: the kubelet probes running
                        // containers only (a crash's duration is its own restart).
                        if let Some(p) = self.kubelet.probers[s].as_mut() {
                            p.skip(self.now);
                        }
                        continue;
                    }
                    if let Some((at, result)) = self.live_probe(s) {
                        self.q.push(
                            at,
                            Ev::LiveProbeDone {
                                server: s as u32,
                                probe,
                                result,
                            },
                        );
                    }
                }
                CheckAction::MarkDown => self.kill(s),
                CheckAction::MarkUp => {}
            }
        }
        if let Some(due) = self.kubelet.probers[s]
            .as_ref()
            .and_then(|p| p.poll_timeout())
        {
            let due = due.max(self.now);
            if due < self.kubelet.due[s] {
                self.kubelet.due[s] = due;
                self.q.push(due, Ev::LiveTimer { server: s as u32 });
            }
        }
    }

    /// What server `s`'s liveness probe finds, and when (`None`: no answer).
    fn live_probe(&mut self, s: usize) -> Option<(SimTime, ProbeResult)> {
        let l = self.liveness(s)?;
        let srv = &self.servers[s];
        if l.check == CheckType::Tcp {
            return Some((self.now, ProbeResult::Pass));
        }
        if srv.hung {
            return None;
        }
        if srv.err_rate > 0.0 && self.rng_deep.next_f64() < srv.err_rate {
            return Some((self.now, ProbeResult::BadStatus(srv.err_status)));
        }
        let work = l.probe_time.as_nanos() as f64 * srv.slow / srv.speed;
        let mut at = self.now + SimTime::from_nanos_f64(work);
        let svc = srv.service;
        for k in 0..self.kubelet.deep[svc].len() {
            let d = self.kubelet.deep[svc][k];
            match self.ping(s, d, l.probe_time)? {
                (took, true) => at += took,
                (took, false) => return Some((at + took, ProbeResult::BadStatus(503))),
            }
        }
        Some((at, ProbeResult::Pass))
    }

    /// The kubelet kills server `s`'s process: everything on it is reset, its Kubernetes
    /// readiness is Failure at once, and it runs again after back-off and restart time.
    fn kill(&mut self, s: usize) {
        let Some(l) = self.liveness(s) else { return };
        if self.now - self.kubelet.last_kill[s] > BACKOFF_RESET || self.kubelet.streak[s] == 0 {
            self.kubelet.streak[s] = 0;
        }
        self.kubelet.streak[s] += 1;
        self.kubelet.last_kill[s] = self.now;
        let delay = restart_backoff(self.kubelet.streak[s]) + l.restart;
        if self.now >= self.cfg.warmup {
            self.stats.restarts += 1;
        }
        self.log_restart(s, false);
        if let Some(p) = self.kubelet.probers[s].as_mut() {
            p.hold();
        }
        let srv = &mut self.servers[s];
        srv.restarting = true;
        srv.crashed = true;
        srv.hung = false;
        self.reset_server(s);
        self.readiness_died(s);
        self.q
            .push(self.now + delay, Ev::Restarted { server: s as u32 });
    }

    /// Server `s`'s new process runs: probing resumes; a Kubernetes readiness probe must
    /// pass before it takes traffic again.
    pub(super) fn restarted(&mut self, s: usize) {
        let srv = &mut self.servers[s];
        srv.restarting = false;
        // An injected crash still open keeps it down until the fault ends.
        let crash_open = srv.crashed
            && self.faults.open_of(s).is_some_and(|f| {
                matches!(
                    self.cfg.failures[f.spec].kind,
                    crate::model::FailureKind::Crash | crate::model::FailureKind::Flap { .. }
                )
            });
        if !crash_open {
            self.restart(s);
        }
        self.log_restart(s, true);
        if let Some(p) = self.kubelet.probers[s].as_mut() {
            p.resume(self.now, true);
        }
        self.drive_liveness(s);
        self.readiness_resumed(s);
    }

    /// Every Kubernetes readiness prober of server `s` learns its container died.
    fn readiness_died(&mut self, s: usize) {
        self.each_kube_readiness(s, |k, _| k.container_died());
    }

    /// Every Kubernetes readiness prober of server `s` starts over with the new container
    /// (not ready until a probe passes).
    fn readiness_resumed(&mut self, s: usize) {
        self.each_kube_readiness(s, |k, now| k.resume(now, false));
    }

    /// Applies `f` to every tier's Kubernetes readiness prober of server `s`, then carries
    /// out its actions and re-arms its timer.
    fn each_kube_readiness(&mut self, s: usize, f: impl Fn(&mut KubeProber, SimTime)) {
        let n = self.servers.len();
        for t in 0..self.tiers.len() {
            for node in 0..self.tiers[t].nodes {
                let idx = node * n + s;
                if let Some(Some(c)) = self.tiers[t].checkers.get_mut(idx)
                    && let Some(k) = c.as_kube()
                {
                    f(k, self.now);
                    self.tiers[t].check_due[idx] = SimTime::MAX;
                    self.drive_checker(t, idx);
                }
            }
        }
    }

    fn log_restart(&mut self, s: usize, up: bool) {
        self.stats.health_log.push(HealthEvent {
            at: self.now,
            tier: u32::MAX,
            node: 0,
            server: s as u32,
            up,
            cause: "liveness",
            false_alarm: false,
        });
    }
}
