//! Backup servers and priority levels: which level of a pool a request goes to.
//!
//! A pool's servers are split into levels by their group's `priority` (0 first; `backup =
//! true` is level 1). Each level has its own balancer, as in the real systems (nginx keeps
//! the backup peers in a second peer list with its own round-robin state, HAProxy keeps
//! backup servers in their own trees, Envoy runs one load balancer per priority's host
//! set). What differs is when a request goes past level 0:
//!
//! * **nginx** (`src/http/ngx_http_upstream_round_robin.c`, `ngx_http_upstream_get_peer`
//!   then `peers->next`): the backup list is tried when the primary list yields no peer
//!   for this pick (every primary down, failed out by `max_fails`, at `max_conns` or
//!   already tried). One backup level. nginx refuses `backup` with `hash`, `ip_hash` and
//!   `random` ("invalid parameter \"backup\"").
//! * **HAProxy** (`src/backend.c`, `src/lb_*.c`: `srv_is_usable`, the `bck` trees; option
//!   `allbackups` in `doc/configuration.txt`): backup servers take traffic only when no
//!   active server is usable; then only the *first* usable backup (in configuration
//!   order) unless `option allbackups`, which balances over all of them. One backup level.
//! * **Envoy** (`source/extensions/load_balancing_policies/common/load_balancer_impl.cc`:
//!   `recalculatePerPriorityState`, `recalculatePerPriorityPanic`,
//!   `recalculateLoadInTotalPanic`, `choosePriority`, `isHostSetInPanic`): each level's
//!   health is `min(100, overprovisioning · healthy / hosts)` (overprovisioning 140%);
//!   the levels take load greedily from level 0 in proportion to their health, normalised
//!   by the total (capped at 100); a request draws `hash % 100 + 1` and goes to the first
//!   level whose cumulative load reaches it. When the total is below 100, a level whose
//!   healthy share is under `healthy_panic_threshold` (Envoy's default 50%; here the tier's
//!   `[health] panic_threshold`, off unless set) *panics*: its balancer uses
//!   all its hosts, healthy or not. When every level panics, load follows raw host counts.
//!   Degraded hosts are not modelled (lblab has no degraded state), and host counts are
//!   used, not weights (Envoy's default, `weighted_priority_health = false`).
//!
//! Everything here is sans-IO: it takes counts and a draw and returns decisions.

/// How a tier's pools use their levels.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PriorityRule {
    /// nginx `backup`: the backup level when level 0 yields no pick.
    Nginx,
    /// HAProxy `backup`: the backup level when no level-0 server is usable; only its first
    /// usable server unless `all_backups` (`option allbackups`).
    Haproxy {
        /// `option allbackups`.
        all_backups: bool,
    },
    /// Envoy priority levels with overprovisioning and panic (the panic threshold is the
    /// tier's `[health] panic_threshold`, Envoy's `common_lb_config.healthy_panic_threshold`).
    Envoy {
        /// Overprovisioning factor, in percent (Envoy's default 140).
        overprovisioning: u32,
    },
}

impl PriorityRule {
    /// Envoy's defaults.
    pub const ENVOY: PriorityRule = PriorityRule::Envoy {
        overprovisioning: 140,
    };

    /// The rule's name as a scenario writes it.
    pub fn name(&self) -> &'static str {
        match self {
            PriorityRule::Nginx => "nginx",
            PriorityRule::Haproxy { .. } => "haproxy",
            PriorityRule::Envoy { .. } => "envoy",
        }
    }

    /// The most levels the real system has (nginx and HAProxy: primary and backup).
    pub fn max_levels(&self) -> usize {
        match self {
            PriorityRule::Envoy { .. } => 128,
            _ => 2,
        }
    }
}

/// One level as Envoy's priority computation sees it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct LevelCount {
    /// Hosts of the level (members of the pool).
    pub hosts: u32,
    /// Of which healthy (available to the balancer).
    pub healthy: u32,
}

/// Envoy's per-level load (percent, summing to 100) and panic flags for the level counts.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EnvoyLoads {
    /// Percent of requests for each level.
    pub load: Vec<u32>,
    /// Levels whose balancer uses every host, healthy or not.
    pub panic: Vec<bool>,
}

impl EnvoyLoads {
    /// Recomputes the loads and panic flags (Envoy's `recalculatePerPriorityState` for
    /// every level, then `recalculatePerPriorityPanic`).
    pub fn compute(levels: &[LevelCount], overprovisioning: u32, panic_threshold: f64) -> Self {
        let n = levels.len();
        let health: Vec<u32> = levels
            .iter()
            .map(|l| {
                if l.hosts == 0 {
                    0
                } else {
                    (u64::from(overprovisioning) * u64::from(l.healthy) / u64::from(l.hosts))
                        .min(100) as u32
                }
            })
            .collect();
        let nta = health.iter().sum::<u32>().min(100);
        let mut load = vec![0u32; n];
        // (Nothing healthy, `nta` 0: every share is 0 and the panic below decides.)
        let mut remaining = 100u32;
        let mut first = None;
        for (i, &h) in health.iter().enumerate() {
            if first.is_none() && h > 0 {
                first = Some(i);
            }
            load[i] = remaining.min((h * 100).checked_div(nta).unwrap_or(0));
            remaining -= load[i];
        }
        if let Some(f) = first {
            load[f] += remaining;
        }
        let threshold = panic_threshold.min(100.0);
        if threshold <= 0.0 && nta == 0 {
            // Nothing healthy and panic disabled: everything "goes" to level 0, which has
            // no host to give.
            load = vec![0; n];
            if n > 0 {
                load[0] = 100;
            }
            return EnvoyLoads {
                load,
                panic: vec![false; n],
            };
        }
        let panic: Vec<bool> = levels
            .iter()
            .map(|l| {
                let healthy_pct = if l.hosts == 0 {
                    0.0
                } else {
                    100.0 * f64::from(l.healthy) / f64::from(l.hosts)
                };
                nta != 100 && healthy_pct < threshold
            })
            .collect();
        if n > 0 && panic.iter().all(|&p| p) {
            // Total panic: load by raw host counts.
            let total: u32 = levels.iter().map(|l| l.hosts).sum();
            load = vec![0; n];
            let mut remaining = 100u32;
            let mut first = None;
            for (i, l) in levels.iter().enumerate() {
                if first.is_none() && l.hosts > 0 {
                    first = Some(i);
                }
                load[i] = (100 * l.hosts).checked_div(total).unwrap_or(0);
                remaining -= load[i];
            }
            // No host at all: level 0 takes the load it cannot serve.
            load[first.unwrap_or(0)] += remaining;
        }
        EnvoyLoads { load, panic }
    }

    /// The level a request with random value `hash` goes to (`choosePriority`:
    /// `hash % 100 + 1` against the cumulative loads).
    pub fn choose(&self, hash: u64) -> usize {
        let h = (hash % 100 + 1) as u32;
        let mut acc = 0u32;
        for (i, &l) in self.load.iter().enumerate() {
            acc += l;
            if h <= acc {
                return i;
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(pairs: &[(u32, u32)]) -> Vec<LevelCount> {
        pairs
            .iter()
            .map(|&(healthy, hosts)| LevelCount { hosts, healthy })
            .collect()
    }

    /// The reference's vectors (lb-semantics §4, "Priority and panic").
    #[test]
    fn envoy_reference_vectors() {
        // One priority, 4/10 healthy: health 56, NTA 56, 40% < 50% ⇒ panic, all to P0.
        let l = EnvoyLoads::compute(&lv(&[(4, 10)]), 140, 50.0);
        assert_eq!(l.load, [100]);
        assert_eq!(l.panic, [true]);
        // 6/10 healthy: health 84, no panic.
        let l = EnvoyLoads::compute(&lv(&[(6, 10)]), 140, 50.0);
        assert_eq!(
            (l.load.as_slice(), l.panic.as_slice()),
            (&[100][..], &[false][..])
        );
        // P0 4/10 + P1 10/10: NTA 100, no panic, loads 56/44.
        let l = EnvoyLoads::compute(&lv(&[(4, 10), (10, 10)]), 140, 50.0);
        assert_eq!(l.load, [56, 44]);
        assert_eq!(l.panic, [false, false]);
    }

    /// Envoy's documentation table (priority levels, overprovisioning 1.4): P0 health →
    /// traffic to P0 / P1 with P1 fully healthy.
    #[test]
    fn envoy_documented_spill_table() {
        for (p0_healthy, p0_load) in [(100, 100), (72, 100), (71, 99), (50, 70), (25, 35), (0, 0)] {
            let l = EnvoyLoads::compute(&lv(&[(p0_healthy, 100), (100, 100)]), 140, 50.0);
            assert_eq!(l.load, [p0_load, 100 - p0_load], "P0 {p0_healthy}% healthy");
            assert_eq!(l.panic, [false, false]);
        }
    }

    /// Both levels short of hosts: loads normalised by the total, panic per level; every
    /// level panicking splits by host counts.
    #[test]
    fn envoy_normalisation_and_total_panic() {
        // P0 2/10 (health 28), P1 5/10 (health 70): NTA 98 → 28·100/98 = 28, 70·100/98 =
        // 71, remainder 1 to P0. P0 (20% < 50%) panics, P1 (50%) does not.
        let l = EnvoyLoads::compute(&lv(&[(2, 10), (5, 10)]), 140, 50.0);
        assert_eq!(l.load, [29, 71]);
        assert_eq!(l.panic, [true, false]);
        // Both under the threshold: total panic, 10 and 30 hosts ⇒ 25/75.
        let l = EnvoyLoads::compute(&lv(&[(1, 10), (3, 30)]), 140, 50.0);
        assert_eq!(l.load, [25, 75]);
        assert_eq!(l.panic, [true, true]);
        // Nothing healthy, panic disabled: P0 takes the (failing) traffic, no panic.
        let l = EnvoyLoads::compute(&lv(&[(0, 10), (0, 10)]), 140, 0.0);
        assert_eq!(l.load, [100, 0]);
        assert_eq!(l.panic, [false, false]);
        // Threshold 0 with some health: never panics.
        let l = EnvoyLoads::compute(&lv(&[(1, 10)]), 140, 0.0);
        assert_eq!((l.load[0], l.panic[0]), (100, false));
    }

    #[test]
    fn choose_follows_cumulative_loads() {
        let l = EnvoyLoads {
            load: vec![56, 44],
            panic: vec![false, false],
        };
        let counts = (0..100u64).fold([0, 0], |mut c, h| {
            c[l.choose(h)] += 1;
            c
        });
        assert_eq!(counts, [56, 44]);
        assert_eq!(l.choose(55), 0); // 55 % 100 + 1 = 56 ≤ 56
        assert_eq!(l.choose(56), 1);
    }
}
