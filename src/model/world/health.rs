//! Health checking as the world carries it out: active checkers, outlier detection, what a probe finds.

use super::Ev;
use super::NONE;
use super::World;
use crate::balancer::Outcome;
use crate::engine::SimTime;
use crate::health::CheckAction;
use crate::health::ProbeResult;
use crate::health::outlier::OutlierAction;
use crate::model::config::ActiveStyle;
use crate::model::config::CheckType;

/// A change of a server's health as one load balancer node sees it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(super) struct HealthEvent {
    /// When.
    pub at: SimTime,
    /// The tier whose node it is (0: the edge tier).
    pub tier: u32,
    /// Load balancer node (0-based).
    pub node: u32,
    /// Server id.
    pub server: u32,
    /// Up (`true`) or down.
    pub up: bool,
    /// `"active"` (health checks), `"outlier"` (outlier detection) or `"passive"` (nginx
    /// `max_fails`).
    pub cause: &'static str,
    /// True for a down while the server had no injected fault: a false ejection.
    pub false_alarm: bool,
}

/// What a deep check's handler answers when a dependency failed.
const DEEP_FAILED: u16 = 503;

impl<const TRACE: bool> World<'_, TRACE> {
    /// Passive health from live traffic: HAProxy `observe` and Envoy outlier detection.
    #[inline]
    pub(super) fn health_feedback(
        &mut self,
        t: usize,
        node: usize,
        server: usize,
        outcome: Outcome,
    ) {
        let n = self.servers.len();
        if let Some(h) = &self.tier_health(t).active
            && let ActiveStyle::Haproxy(c) = &h.style
            && let Some(ok) = c.observe.classify(outcome.kind)
            && let Some(checker) = self.tiers[t].checkers[node * n + server].as_mut()
        {
            checker.observe_traffic(self.now, ok);
            self.drive_checker(t, node * n + server);
        }
        if !self.tiers[t].outliers.is_empty() {
            self.tiers[t].outliers[node].on_response(self.now, server, outcome.kind);
            self.drain_outlier(t, node);
        }
    }

    /// Carries out checker `idx`'s actions (send probes, mark up/down) and re-arms its timer.
    pub(super) fn drive_checker(&mut self, t: usize, idx: usize) {
        let n = self.servers.len();
        let (node, server) = (idx / n, idx % n);
        let mut changed = false;
        while let Some(action) = self.tiers[t].checkers[idx]
            .as_mut()
            .and_then(|c| c.poll_action())
        {
            match action {
                CheckAction::SendProbe { probe } => {
                    if let Some((at, result)) = self.probe(t, server) {
                        self.q.push(
                            at,
                            Ev::ProbeDone {
                                tier: t as u16,
                                idx: idx as u32,
                                probe,
                                result,
                            },
                        );
                    }
                }
                CheckAction::MarkUp | CheckAction::MarkDown => {
                    let up = action == CheckAction::MarkUp;
                    if self.tiers[t].health_up[idx] != up {
                        self.tiers[t].health_up[idx] = up;
                        self.log_health(t, node, server, up, "active");
                        if up {
                            self.start_ramp(t, node, server);
                        }
                        changed = true;
                    }
                    if up && !self.tiers[t].outliers.is_empty() {
                        self.tiers[t].outliers[node].on_active_check_pass(self.now, server);
                        self.drain_outlier(t, node);
                    }
                }
            }
        }
        if let Some(due) = self.tiers[t].checkers[idx]
            .as_ref()
            .and_then(|c| c.poll_timeout())
        {
            let due = due.max(self.now);
            if due < self.tiers[t].check_due[idx] {
                self.tiers[t].check_due[idx] = due;
                self.q.push(
                    due,
                    Ev::CheckTimer {
                        tier: t as u16,
                        idx: idx as u32,
                    },
                );
            }
        }
        if changed {
            self.refresh_availability();
        }
    }

    /// What tier `t`'s probe of `server` finds and when its answer arrives (`None`: no
    /// answer, the checker times it out). A TCP check only needs the kernel to accept: it
    /// passes on a hung, slow or erroring process; an HTTP check needs the process to
    /// answer well.
    pub(super) fn probe(&mut self, t: usize, server: usize) -> Option<(SimTime, ProbeResult)> {
        let rtt = match (self.net_delay(server as u32), self.net_delay(server as u32)) {
            (Some(a), Some(b)) => a + b,
            _ => SimTime::ZERO,
        };
        let check = self.tier_health(t).active.as_ref()?;
        if check.loss > 0.0 && self.tiers[t].rng_probes.next_f64() < check.loss {
            return None;
        }
        let srv = &self.servers[server];
        if srv.partitioned {
            return None;
        }
        if !srv.member || srv.crashed {
            return Some((self.now + rtt, ProbeResult::Refused));
        }
        match check.check {
            CheckType::Tcp => Some((self.now + rtt, ProbeResult::Pass)),
            CheckType::Http => {
                if srv.hung {
                    return None;
                }
                if srv.err_rate > 0.0 && self.tiers[t].rng_probes.next_f64() < srv.err_rate {
                    return Some((self.now + rtt, ProbeResult::BadStatus(srv.err_status)));
                }
                let work = SimTime::from_nanos_f64(
                    check.probe_time.as_nanos() as f64 * srv.slow / srv.speed,
                );
                let probe_time = check.probe_time;
                let mut at = self.now + rtt + work;
                // A deep check: the handler calls each dependency in turn.
                for k in 0..self.tiers[t].deep.len() {
                    let d = self.tiers[t].deep[k];
                    match self.ping(server, d, probe_time)? {
                        (took, true) => at += took,
                        (took, false) => {
                            return Some((at + took, ProbeResult::BadStatus(DEEP_FAILED)));
                        }
                    }
                }
                Some((at, ProbeResult::Pass))
            }
        }
    }

    /// What a deep probe handler on server `from` gets when it calls service `d` (through
    /// `d`'s internal tier, which picks among the servers it has in rotation): the time
    /// the call took and whether it passed, or `None` when nothing answers (the probe then
    /// times out). The call costs `probe_time` of the dependency's work at its current
    /// speed and crosses the network both ways (unless the dependency's server is on the
    /// prober's host); it does not wait in the dependency's
    /// queue (a ping like `SELECT 1`).
    pub(super) fn ping(
        &mut self,
        from: usize,
        d: usize,
        probe_time: SimTime,
    ) -> Option<(SimTime, bool)> {
        let t = self.svc_tier[d];
        let node = if t == NONE {
            0
        } else {
            self.node_for(t as usize, from as u32) as usize
        };
        if node == NONE as usize {
            // Node-local, and none of its servers on this host: 503 at once.
            return Some((SimTime::ZERO, false));
        }
        // The servers the call may reach: those its tier's node has in rotation (a
        // node-local tier's node holds only its host's), or every member of a service
        // that nothing calls.
        let id = if t == NONE {
            let svc = &self.cfg.services[d];
            let members = || {
                svc.groups
                    .iter()
                    .flat_map(|&g| {
                        let (lo, hi) = self.cfg.group_range(g);
                        lo..hi
                    })
                    .filter(|&id| self.servers[id].member)
            };
            let count = members().count();
            if count == 0 {
                return Some((SimTime::ZERO, false));
            }
            let k = self.rng_deep.below(count as u64) as usize;
            members().nth(k).unwrap_or(0)
        } else {
            let tier = &self.tiers[t as usize];
            let rt = &tier.routes[node * tier.n_pools];
            let count = rt.backends.iter().filter(|b| b.available).count();
            if count == 0 {
                // No server in rotation: the internal load balancer answers 503 at once.
                return Some((SimTime::ZERO, false));
            }
            let k = self.rng_deep.below(count as u64) as usize;
            let tier = &self.tiers[t as usize];
            let rt = &tier.routes[node * tier.n_pools];
            rt.backends
                .iter()
                .filter(|b| b.available)
                .nth(k)
                .map_or(0, |b| b.id as usize)
        };
        // A dependency on the prober's own host is reached without crossing the network
        // (as a call is: `wire_delay`).
        let rtt = if self.servers[id].host == self.servers[from].host {
            SimTime::ZERO
        } else {
            match (self.net_delay(id as u32), self.net_delay(id as u32)) {
                (Some(a), Some(b)) => a + b,
                _ => SimTime::ZERO,
            }
        };
        let srv = &self.servers[id];
        let cut = srv.cut_from >> self.servers[from].service & 1 == 1;
        if srv.partitioned || cut || srv.hung {
            return None;
        }
        if srv.crashed {
            return Some((rtt, false));
        }
        if srv.err_rate > 0.0 && self.rng_deep.next_f64() < srv.err_rate {
            return Some((rtt, false));
        }
        let work = probe_time.as_nanos() as f64 * srv.slow / srv.speed;
        Some((rtt + SimTime::from_nanos_f64(work), true))
    }

    pub(super) fn arm_outlier(&mut self, t: usize, node: usize) {
        if let Some(due) = self.tiers[t].outliers[node].poll_timeout() {
            let due = due.max(self.now);
            if due < self.tiers[t].outlier_due[node] {
                self.tiers[t].outlier_due[node] = due;
                self.q.push(
                    due,
                    Ev::OutlierTick {
                        tier: t as u16,
                        node: node as u32,
                    },
                );
            }
        }
    }

    /// Carries out node `node`'s outlier ejections and unejections.
    pub(super) fn drain_outlier(&mut self, t: usize, node: usize) {
        let n = self.servers.len();
        let mut changed = false;
        while let Some(a) = self.tiers[t].outliers[node].poll_action() {
            let (host, eject) = match a {
                OutlierAction::Eject(h) => (h, true),
                OutlierAction::Uneject(h) => (h, false),
            };
            if host < n && self.tiers[t].ejected[node * n + host] != eject {
                self.tiers[t].ejected[node * n + host] = eject;
                self.log_health(t, node, host, !eject, "outlier");
                if !eject {
                    self.start_ramp(t, node, host);
                }
                changed = true;
            }
        }
        self.arm_outlier(t, node);
        if changed {
            self.refresh_availability();
        }
    }

    pub(super) fn log_health(
        &mut self,
        t: usize,
        node: usize,
        server: usize,
        up: bool,
        cause: &'static str,
    ) {
        if t == 0 && !self.node_up(node) {
            // A load balancer that is down detects nothing; its checkers' view is what it
            // comes back with.
            return;
        }
        // A server the kubelet is restarting is really down.
        let false_alarm = !up
            && self.faults.open_of(server).is_none()
            && self.servers[server].member
            && !self.servers[server].restarting;
        self.stats.health_log.push(HealthEvent {
            at: self.now,
            tier: t as u32,
            node: node as u32,
            server: server as u32,
            up,
            cause,
            false_alarm,
        });
    }
}
