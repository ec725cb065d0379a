//! Scripted membership changes (add, remove, reweight) and the remap probe.

use super::NONE;
use super::World;
use crate::balancer::Backend;
use crate::balancer::PoolView;
use crate::balancer::RequestInfo;
use crate::metrics::ChangeRow;
use crate::model::config::ChangeAction;

/// Keys probed to measure remapping at a membership change.
pub(super) const PROBE_KEYS: u64 = 10_000;

impl<const TRACE: bool> World<'_, TRACE> {
    /// Applies membership change `index`, tells the balancers, and records how many probe
    /// keys a fresh balancer maps elsewhere afterwards.
    pub(super) fn change(&mut self, index: usize) {
        let change = &self.cfg.changes[index];
        let keyed = crate::balancer::is_keyed(self.cfg.algorithm.info());
        let before = if keyed { self.probe_map() } else { Vec::new() };
        let names = self.cfg.server_names();
        let mut touched = Vec::new();
        match change.action {
            ChangeAction::Add { group, count } => {
                let (lo, hi) = self.cfg.group_range(group);
                for id in (lo..hi)
                    .filter(|&i| !self.servers[i].member)
                    .take(count as usize)
                {
                    touched.push(id);
                }
            }
            ChangeAction::RemoveFromGroup { group, count } => {
                let (lo, hi) = self.cfg.group_range(group);
                for id in (lo..hi)
                    .rev()
                    .filter(|&i| self.servers[i].member)
                    .take(count as usize)
                {
                    touched.push(id);
                }
            }
            ChangeAction::RemoveServer { id } => {
                if self.servers[id as usize].member {
                    touched.push(id as usize);
                }
            }
            ChangeAction::Reweight { group, weight } => {
                let (lo, hi) = self.cfg.group_range(group);
                for id in lo..hi {
                    self.servers[id].weight = weight;
                    if self.servers[id].member {
                        touched.push(id);
                    }
                }
            }
        }
        let adding = matches!(change.action, ChangeAction::Add { .. });
        let reweight = match change.action {
            ChangeAction::Reweight { weight, .. } => Some(weight),
            _ => None,
        };
        // Adds and removes change membership; a reweight only the weights, set above.
        let membership = if reweight.is_none() {
            &touched[..]
        } else {
            &[]
        };
        for &id in membership {
            let (warmup, now) = (self.cfg.warmup, self.now);
            let s = &mut self.servers[id];
            if adding {
                s.member = true;
                s.ever_member = true;
                s.member_since = now;
                let n = self.servers.len();
                for t in 0..self.tiers.len() {
                    if self.tier_health(t).slow_start.is_some() && self.tiers[t].serves[id] {
                        for node in 0..self.tiers[t].nodes {
                            self.tiers[t].ramp_since[node * n + id] = now;
                        }
                    }
                }
            } else {
                // A server taken out of the pool is shut down: its cache is gone.
                s.member = false;
                if let Some(c) = s.cache.as_mut() {
                    c.clear();
                }
                s.member_ns += (now.min(self.cfg.duration) - s.member_since.max(warmup)).as_nanos();
            }
        }
        self.rebuild_routes();
        self.arm_slow_tick();
        if !adding {
            // A server leaving closes its connections gracefully (GOAWAY).
            for &id in membership {
                self.conn_server_gone(id, false);
            }
        }
        let after = if keyed { self.probe_map() } else { Vec::new() };
        let sticky = self.tiers[0].routes.iter().any(|r| r.sticky);
        let live = self.clients.cookies.iter().filter(|&&c| c != NONE).count();
        let pinned_away = if adding {
            0
        } else {
            self.clients
                .cookies
                .iter()
                .filter(|&&c| c != NONE && touched.contains(&(c as usize)))
                .count()
        };
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        let list: Vec<&str> = touched.iter().map(|&i| names[i].0.as_str()).collect();
        self.stats.changes.push(ChangeRow {
            at_s: self.now.as_secs_f64(),
            action: {
                let servers = if list.is_empty() {
                    "(nothing)".to_string()
                } else {
                    list.join(" ")
                };
                match reweight {
                    Some(w) => format!("reweight {servers} to {w}"),
                    None if adding => format!("add {servers}"),
                    None => format!("remove {servers}"),
                }
            },
            members: self.servers.iter().filter(|s| s.member).count() as u32,
            keys_remapped: if before.is_empty() {
                f64::NAN
            } else {
                moved as f64 / before.len() as f64
            },
            sessions_remapped: if sticky && live > 0 {
                pinned_away as f64 / live as f64
            } else {
                f64::NAN
            },
        });
    }

    /// Where a fresh balancer of this algorithm sends each probe key over the current
    /// members (all available, idle): the basis of the keys-remapped measure.
    pub(super) fn probe_map(&self) -> Vec<Option<u32>> {
        let backends: Vec<Backend> = self
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.member)
            .map(|(id, s)| Backend {
                id: id as u32,
                weight: s.weight,
                in_flight: 0,
                available: true,
            })
            .collect();
        let view = PoolView::new(&backends);
        let mut lb = self
            .cfg
            .algorithm
            .build(self.seeds.stream(self.replication, "probe"));
        lb.on_pool_change(self.now, &view);
        let n_clients = self.cfg.population.clients.max(1);
        (0..PROBE_KEYS)
            .map(|k| {
                let client = (k % u64::from(n_clients)) as u32;
                let info = RequestInfo {
                    client_ip: self.clients.population.ip(client, self.now),
                    client,
                    key: Some(k),
                    ..RequestInfo::default()
                };
                lb.pick(self.now, &view, &info).map(|i| backends[i].id)
            })
            .collect()
    }
}
