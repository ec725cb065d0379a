//! Backup servers and priority levels at the edge tier: its pools split by their groups'
//! `priority`, one balancer per level, and the rule (`[lb]` `priority_rule`, decided by
//! `balancer::priority`) that sends a request past level 0.

use super::{NONE, World};
use crate::balancer::priority::{EnvoyLoads, LevelCount, PriorityRule};
use crate::model::config::WorldConfig;

/// Splits pools (`(groups, name)`, `None` = every group) by their groups' priority: a pool
/// with several levels keeps its index for level 0 and gets one more pool per further
/// level, appended. Returns, per original pool, its pools by level (empty without a
/// priority rule).
pub(super) fn split_pools(
    cfg: &WorldConfig,
    pools: &mut Vec<(Option<Vec<usize>>, String)>,
) -> Vec<Vec<usize>> {
    if cfg.lb.priority.is_none() {
        return Vec::new();
    }
    let n_base = pools.len();
    let mut levels = Vec::with_capacity(n_base);
    for p in 0..n_base {
        let groups: Vec<usize> = match &pools[p].0 {
            Some(g) => g.clone(),
            None => (0..cfg.groups.len()).collect(),
        };
        let mut prios: Vec<u8> = groups.iter().map(|&g| cfg.groups[g].priority).collect();
        prios.sort_unstable();
        prios.dedup();
        if prios.len() <= 1 {
            levels.push(vec![p]);
            continue;
        }
        let of = |k: u8| -> Vec<usize> {
            groups
                .iter()
                .copied()
                .filter(|&g| cfg.groups[g].priority == k)
                .collect()
        };
        let name = pools[p].1.clone();
        pools[p].0 = Some(of(prios[0]));
        let mut by_level = vec![p];
        for &k in &prios[1..] {
            let label = if name.is_empty() {
                format!("priority-{k}")
            } else {
                format!("{name}/priority-{k}")
            };
            pools.push((Some(of(k)), label));
            by_level.push(pools.len() - 1);
        }
        levels.push(by_level);
    }
    levels
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// The edge tier's priority rule, if its pools have levels.
    #[inline]
    pub(super) fn priority_rule(&self, t: usize) -> Option<PriorityRule> {
        if t == 0 && !self.tiers[0].levels.is_empty() {
            self.cfg.lb.priority
        } else {
            None
        }
    }

    /// After availability changes (every epoch bump of a level's route ends here):
    /// HAProxy's first usable server of each level, so that a request does not scan the
    /// pool; Envoy's per-node, per-level load and panic from the servers' health (not the
    /// panic-widened views), widening or narrowing the views of levels whose panic changed.
    pub(super) fn update_priorities(&mut self, t: usize) {
        let overprovisioning = match self.priority_rule(t) {
            Some(PriorityRule::Envoy { overprovisioning }) => overprovisioning,
            Some(PriorityRule::Haproxy { .. }) => {
                for r in &mut self.tiers[t].routes {
                    r.first_usable = r
                        .backends
                        .iter()
                        .position(|b| b.eligible())
                        .map_or(NONE, |i| i as u32);
                }
                return;
            }
            _ => return,
        };
        let threshold = self.tier_health(t).panic_threshold;
        let n_base = self.tiers[t].levels.len();
        let n_pools = self.tiers[t].n_pools;
        for node in 0..self.tiers[t].nodes {
            for p in 0..n_base {
                let n_levels = self.tiers[t].levels[p].len();
                let mut counts = Vec::with_capacity(n_levels);
                for l in 0..n_levels {
                    let ri = node * n_pools + self.tiers[t].levels[p][l];
                    let r = &self.tiers[t].routes[ri];
                    let healthy = r
                        .backends
                        .iter()
                        .filter(|b| b.weight > 0 && self.available(t, node, b.id as usize))
                        .count();
                    counts.push(LevelCount {
                        hosts: r.backends.len() as u32,
                        healthy: healthy as u32,
                    });
                }
                let loads = EnvoyLoads::compute(&counts, overprovisioning, threshold);
                for l in 0..n_levels {
                    let ri = node * n_pools + self.tiers[t].levels[p][l];
                    if self.tiers[t].routes[ri].panic != loads.panic[l] {
                        self.tiers[t].routes[ri].panic = loads.panic[l];
                        self.refresh_route(t, node, ri);
                    }
                }
                self.tiers[t].envoy[node * n_base + p] = loads;
            }
        }
    }

    /// Recomputes one route's availability (its panic included) and tells its balancer.
    fn refresh_route(&mut self, t: usize, node: usize, ri: usize) {
        let panic = self.tiers[t].routes[ri].panic;
        for bi in 0..self.tiers[t].routes[ri].backends.len() {
            let id = self.tiers[t].routes[ri].backends[bi].id as usize;
            let a = panic || self.available(t, node, id);
            self.tiers[t].routes[ri].backends[bi].available = a;
        }
        let r = &mut self.tiers[t].routes[ri];
        r.epoch += 1;
        r.balancer.on_pool_change(
            self.now,
            &crate::balancer::PoolView::with_epoch(&r.backends, r.epoch),
        );
    }

    /// The level pool a request for base pool `pool` at node `node` goes to first, and,
    /// for HAProxy without `allbackups`, the backend it must take there.
    #[inline]
    pub(super) fn choose_level(&mut self, node: usize, pool: usize) -> (usize, Option<usize>) {
        let tier = &mut self.tiers[0];
        let levels = &tier.levels[pool];
        match self.cfg.lb.priority {
            Some(PriorityRule::Haproxy { all_backups }) => {
                let base = node * tier.n_pools;
                // The first level with a usable server (level 0 if none has one: its
                // balancer then finds nothing).
                let Some((l, &lp)) = levels
                    .iter()
                    .enumerate()
                    .find(|(_, lp)| tier.routes[base + **lp].first_usable != NONE)
                else {
                    return (levels[0], None);
                };
                if l == 0 || all_backups {
                    return (lp, None);
                }
                // Only the first usable backup, in configuration (id) order.
                (lp, Some(tier.routes[base + lp].first_usable as usize))
            }
            Some(PriorityRule::Envoy { .. }) => {
                let loads = &tier.envoy[node * tier.levels.len() + pool];
                let l = loads.choose(tier.rng_priority.next_u64());
                (levels[l], None)
            }
            // nginx starts at level 0 and moves on when a level yields no pick.
            _ => (levels[0], None),
        }
    }
}
