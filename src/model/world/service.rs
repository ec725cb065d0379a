//! A load balancer tier and the service behind it: each node's pools, their balancers, and
//! what each node believes about the servers it fronts (in flight, health, weight).
//!
//! Tier 0 is the edge tier (`[lb]`, reached by clients through its HA topology); with
//! `[[services]]`, every service that another service calls has an internal tier of its own.
//! Per-(node, server) vectors are indexed `node * n + id` with global server ids; a tier
//! only ever touches the servers it `serves`.

use super::Ev;
use super::NONE;
use super::World;
use crate::balancer::Backend;
use crate::balancer::Balancer;
use crate::balancer::Outcome;
use crate::balancer::PoolView;
use crate::engine::SimRng;
use crate::engine::SimTime;
use crate::health::ActiveChecker;
use crate::health::envoy::EnvoyChecker;
use crate::health::haproxy::HaproxyChecker;
use crate::health::kubernetes::KubeProber;
use crate::health::outlier::OutlierDetector;
use crate::model::config::ActiveStyle;
use crate::model::config::HealthConfig;
use crate::model::config::LbConfig;
use crate::model::config::LbView;
use crate::model::config::SlowStartStyle;
use crate::model::config::WorldConfig;

/// One balancer and the pool it sees (every server of its tier, or some groups').
pub(super) struct Route {
    pub(super) balancer: Box<dyn Balancer>,
    /// The groups of the pool (`None`: every server the tier serves).
    pub(super) groups: Option<Vec<usize>>,
    pub(super) backends: Vec<Backend>,
    /// Server id → index in `backends`, or `NONE`: read it through [`Route::pos`].
    pos: Vec<u32>,
    /// `backends` holds every server, in id order: a server's index is its id, and
    /// [`Route::pos`] need not look it up (one cache miss fewer, twice per request, in a
    /// large pool).
    whole: bool,
    /// The balancer keeps sessions by cookie.
    pub(super) sticky: bool,
    /// The balancer carries nginx's passive check (`max_fails`): poll it after responses.
    pub(super) passive: bool,
    /// Backends its passive check has out now. A change needs a failed attempt or a
    /// success of a backend that is out, so successes are not polled while this is 0.
    pub(super) passive_out: u32,
    /// Bumped whenever a backend's id, weight or availability changes: the pool view's
    /// epoch, under which the balancer may keep what it derived from the pool.
    pub(super) epoch: u64,
    /// The balancer wants every in-flight change reported (it keeps a load index).
    pub(super) notify: bool,
    /// Envoy's panic for this priority level: its balancer sees every member as available.
    pub(super) panic: bool,
    /// HAProxy's priority rule: the index of the first eligible backend, or `NONE` (kept
    /// by `update_priorities` whenever the epoch changes).
    pub(super) first_usable: u32,
}

/// A load balancer tier and the service behind it: its pools, their balancers and what
/// each node believes about its servers.
pub(super) struct Service {
    /// The service it fronts (`None`: the edge tier, `[lb]`).
    pub(super) service: Option<usize>,
    /// Nodes of the tier.
    pub(super) nodes: usize,
    /// Per server id: whether this tier sends it requests.
    pub(super) serves: Vec<bool>,
    /// Its nodes count their own in-flight attempts (`view = own`).
    pub(super) own_view: bool,
    /// Attempts in flight to each server as each node counts them: `[node * n + id]`.
    pub(super) in_flight: Vec<u32>,
    /// Server loads (in service + queued) at the last report (`view = reported`).
    pub(super) reported: Vec<u32>,
    /// One balancer per (node, pool): `routes[node * n_pools + pool]`.
    pub(super) routes: Vec<Route>,
    /// Backup servers and priority levels (edge tier with `[lb]` `priority`): per base pool
    /// (what `class_route` names), its pools by level, level 0 first. Empty: one level.
    pub(super) levels: Vec<Vec<usize>>,
    /// Envoy's per-level load and panic, per `(node, base pool)`: `[node * levels.len() + p]`.
    pub(super) envoy: Vec<crate::balancer::priority::EnvoyLoads>,
    /// Envoy's per-request priority draw.
    pub(super) rng_priority: SimRng,
    /// Number of pools (pool 0 is every server; then one per group some class is routed to).
    pub(super) n_pools: usize,
    /// The pool of each class (edge tier; internal tiers have one pool).
    pub(super) class_route: Vec<usize>,
    /// Active checkers, `[node * n + server]` (empty without active checks; `None` for
    /// servers the tier does not serve).
    pub(super) checkers: Vec<Option<Box<dyn ActiveChecker>>>,
    /// When each checker's timer event is due (stale timer events are ignored).
    pub(super) check_due: Vec<SimTime>,
    /// Health as each node's checks see it, `[node * n + server]`.
    pub(super) health_up: Vec<bool>,
    /// Outlier detectors, one per node (empty without outlier detection).
    pub(super) outliers: Vec<OutlierDetector>,
    pub(super) outlier_due: Vec<SimTime>,
    /// Ejected by outlier detection, `[node * n + server]`.
    pub(super) ejected: Vec<bool>,
    /// When each `[node * n + server]` came back into rotation (slow start), or MAX.
    pub(super) ramp_since: Vec<SimTime>,
    pub(super) slow_tick_armed: bool,
    pub(super) rng_probes: SimRng,
    /// The services its active check's handler calls (a deep check), in order.
    pub(super) deep: Vec<usize>,
    /// `traffic_policy = "local"`: node k balances over the servers on host `hosts[k]`
    /// only, and a caller uses the node of its own host (`node_of_host`, by server id;
    /// `NONE`: no server of the service on that host). Empty otherwise.
    pub(super) hosts: Vec<u32>,
    pub(super) node_of_host: Vec<u32>,
    /// Requests (client requests or calls) waiting for an answer through this tier, and
    /// retry attempts it is waiting for (the retry budget's inputs).
    pub(super) n_waiting: u32,
    pub(super) n_retries_active: u32,
}

/// The servers of `groups`, as a per-server-id mask.
fn mask(cfg: &WorldConfig, groups: &[usize]) -> Vec<bool> {
    let mut m = vec![false; cfg.n_allocated()];
    for &g in groups {
        let (lo, hi) = cfg.group_range(g);
        m[lo..hi].fill(true);
    }
    m
}

impl Service {
    /// The edge tier (`[lb]`): one balancer per (node, pool), where a pool is every server
    /// (one service), a class's entry service or a class's `pool` group.
    pub(super) fn edge(cfg: &WorldConfig, stream: &dyn Fn(&str) -> SimRng) -> Service {
        let multi = !cfg.services.is_empty();
        let pool_of = |c: &crate::model::ClassConfig| -> (Option<Vec<usize>>, String) {
            match (c.pool, multi) {
                (Some(g), _) => (Some(vec![g]), cfg.groups[g].name.clone()),
                (None, false) => (None, String::new()),
                (None, true) => {
                    let s = &cfg.services[c.entry];
                    (Some(s.groups.clone()), s.name.clone())
                }
            }
        };
        let mut pools: Vec<(Option<Vec<usize>>, String)> = if multi {
            Vec::new()
        } else {
            vec![(None, String::new())]
        };
        let class_route = cfg
            .classes
            .iter()
            .map(|c| {
                let p = pool_of(c);
                match pools.iter().position(|q| q.0 == p.0) {
                    Some(i) => i,
                    None => {
                        pools.push(p);
                        pools.len() - 1
                    }
                }
            })
            .collect();
        let serves = if multi {
            let entries: Vec<usize> = cfg
                .classes
                .iter()
                .flat_map(|c| cfg.services[c.entry].groups.iter().copied())
                .collect();
            mask(cfg, &entries)
        } else {
            vec![true; cfg.n_allocated()]
        };
        // Each pool's balancer, chosen before the pools split into priority levels: a
        // level uses its pool's.
        let mut algs: Vec<&crate::balancer::AlgorithmSpec> = pools
            .iter()
            .map(|(groups, _)| {
                match groups.as_deref() {
                    Some([g]) => cfg.groups[*g].balancer.as_ref(),
                    _ => None,
                }
                .or_else(|| {
                    cfg.services
                        .iter()
                        .find(|s| s.own_algorithm && groups.as_ref() == Some(&s.groups))
                        .map(|s| &s.algorithm)
                })
                .unwrap_or(&cfg.algorithm)
            })
            .collect();
        let levels = super::priority::split_pools(cfg, &mut pools);
        for l in &levels {
            for &p in &l[1..] {
                algs.push(algs[l[0]]);
                debug_assert_eq!(algs.len(), p + 1);
            }
        }
        let mut routes = Vec::with_capacity(cfg.lb.nodes as usize * pools.len());
        for node in 1..=cfg.lb.nodes {
            for (p, (groups, name)) in pools.iter().enumerate() {
                let label = if name.is_empty() {
                    format!("balancer/lb-{node}")
                } else {
                    format!("balancer/lb-{node}/{name}")
                };
                // A class routed to one group uses that group's balancer, if it has one;
                // an entry service's pool, the service's own balancer, if it names one.
                routes.push(Route::new(algs[p], groups.clone(), stream(&label)));
            }
        }
        let n_pools = pools.len();
        let mut tier = Service::with_routes(
            cfg,
            None,
            &cfg.lb,
            &cfg.health,
            serves,
            routes,
            n_pools,
            class_route,
            "",
            stream,
        );
        if matches!(
            cfg.lb.priority,
            Some(crate::balancer::priority::PriorityRule::Envoy { .. })
        ) {
            tier.envoy = vec![Default::default(); tier.nodes * levels.len()];
        }
        tier.levels = levels;
        tier
    }

    /// The internal tier in front of service `s`: one pool, every server of the service.
    pub(super) fn internal(
        cfg: &WorldConfig,
        s: usize,
        stream: &dyn Fn(&str) -> SimRng,
    ) -> Service {
        let svc = &cfg.services[s];
        if svc.local {
            return Service::local(cfg, s, stream);
        }
        let routes = (1..=svc.lb.nodes)
            .map(|node| {
                Route::new(
                    &svc.algorithm,
                    None,
                    stream(&format!("balancer/{}/lb-{node}", svc.name)),
                )
            })
            .collect();
        Service::with_routes(
            cfg,
            Some(s),
            &svc.lb,
            &svc.health,
            mask(cfg, &svc.groups),
            routes,
            1,
            vec![0; cfg.classes.len()],
            &format!("{}/", svc.name),
            stream,
        )
    }

    /// A node-local internal tier: one node (with its balancer) per host of the service's
    /// servers, each balancing over that host's servers only.
    fn local(cfg: &WorldConfig, s: usize, stream: &dyn Fn(&str) -> SimRng) -> Service {
        let svc = &cfg.services[s];
        let serves = mask(cfg, &svc.groups);
        let all_hosts = cfg.hosts();
        let mut hosts: Vec<u32> = (0..serves.len())
            .filter(|&id| serves[id])
            .map(|id| all_hosts[id])
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        let routes = hosts
            .iter()
            .enumerate()
            .map(|(k, _)| {
                Route::new(
                    &svc.algorithm,
                    None,
                    stream(&format!("balancer/{}/lb-{}", svc.name, k + 1)),
                )
            })
            .collect();
        let lb = LbConfig {
            nodes: hosts.len() as u32,
            ..svc.lb.clone()
        };
        let mut tier = Service::with_routes(
            cfg,
            Some(s),
            &lb,
            &svc.health,
            serves,
            routes,
            1,
            vec![0; cfg.classes.len()],
            &format!("{}/", svc.name),
            stream,
        );
        tier.node_of_host = vec![NONE; all_hosts.len()];
        for (k, &h) in hosts.iter().enumerate() {
            tier.node_of_host[h as usize] = k as u32;
        }
        tier.hosts = hosts;
        tier
    }

    /// The rest of a tier: counters and the health machines per (node, server).
    #[allow(clippy::too_many_arguments)]
    fn with_routes(
        cfg: &WorldConfig,
        service: Option<usize>,
        lb: &LbConfig,
        health: &HealthConfig,
        serves: Vec<bool>,
        routes: Vec<Route>,
        n_pools: usize,
        class_route: Vec<usize>,
        label: &str,
        stream: &dyn Fn(&str) -> SimRng,
    ) -> Service {
        let n = cfg.n_allocated();
        let nodes = lb.nodes as usize;
        let mut svc = Service {
            service,
            nodes,
            own_view: lb.view == LbView::Own,
            in_flight: vec![0; n * nodes],
            reported: vec![0; n],
            routes,
            n_pools,
            class_route,
            checkers: Vec::new(),
            check_due: Vec::new(),
            health_up: vec![true; n * nodes],
            outliers: Vec::new(),
            outlier_due: Vec::new(),
            ejected: vec![false; n * nodes],
            ramp_since: vec![SimTime::MAX; n * nodes],
            slow_tick_armed: false,
            rng_probes: stream(&format!("health/{label}probes")),
            deep: health
                .active
                .as_ref()
                .map_or(Vec::new(), |a| cfg.deep(&a.depends)),
            hosts: Vec::new(),
            node_of_host: Vec::new(),
            n_waiting: 0,
            n_retries_active: 0,
            serves,
            levels: Vec::new(),
            envoy: Vec::new(),
            rng_priority: stream(&format!("priority/{label}lb")),
        };
        if let Some(h) = &health.active {
            for node in 0..nodes {
                for id in 0..n {
                    if !svc.serves[id] {
                        svc.checkers.push(None);
                        continue;
                    }
                    let rng = stream(&format!("health/{label}lb-{}/{id}", node + 1));
                    let mut c: Box<dyn ActiveChecker> = match &h.style {
                        ActiveStyle::Haproxy(c) => {
                            Box::new(HaproxyChecker::new(*c, SimTime::ZERO, rng))
                        }
                        ActiveStyle::Envoy(c) => {
                            Box::new(EnvoyChecker::new(c.clone(), SimTime::ZERO, rng))
                        }
                        ActiveStyle::Kubernetes(k) => {
                            // The kubelet starts each worker a random part of a period in.
                            let mut rng = rng;
                            let phase = k.period.as_nanos() as f64 * rng.next_f64();
                            Box::new(KubeProber::new(
                                *k,
                                SimTime::ZERO,
                                SimTime::from_nanos_f64(phase),
                                true,
                            ))
                        }
                    };
                    // The simulated cluster serves traffic from the start, so Envoy's
                    // no-traffic intervals do not apply (HAProxy ignores this without observe).
                    if matches!(h.style, ActiveStyle::Envoy(_)) {
                        c.observe_traffic(SimTime::ZERO, true);
                    }
                    svc.health_up[node * n + id] = c.is_up();
                    svc.checkers.push(Some(c));
                }
            }
            svc.check_due = vec![SimTime::MAX; svc.checkers.len()];
        }
        if let Some(o) = &health.outlier {
            for node in 0..nodes {
                svc.outliers.push(OutlierDetector::new(
                    o.clone(),
                    n,
                    SimTime::ZERO,
                    stream(&format!("outlier/{label}lb-{}", node + 1)),
                ));
            }
            svc.outlier_due = vec![SimTime::MAX; nodes];
        }
        svc
    }
}

impl Route {
    /// Server `s`'s index in `backends`, or `NONE` if it is not in this pool.
    #[inline]
    pub(super) fn pos(&self, s: usize) -> u32 {
        if self.whole { s as u32 } else { self.pos[s] }
    }

    /// The server at index `i` of `backends` (its own index in a whole pool: the server's
    /// line can then load without waiting for the backend's).
    #[inline]
    pub(super) fn id(&self, i: usize) -> u32 {
        debug_assert!(!self.whole || self.backends[i].id == i as u32);
        if self.whole {
            i as u32
        } else {
            self.backends[i].id
        }
    }

    fn new(alg: &crate::balancer::AlgorithmSpec, groups: Option<Vec<usize>>, rng: SimRng) -> Route {
        let balancer = alg.build(rng);
        Route {
            notify: balancer.wants_in_flight(),
            balancer,
            groups,
            backends: Vec::new(),
            pos: Vec::new(),
            whole: false,
            sticky: alg.info().name == "sticky",
            passive: alg.passive_checks().is_some(),
            passive_out: 0,
            epoch: 0,
            panic: false,
            first_usable: NONE,
        }
    }

    /// The pool as its balancer sees it.
    #[inline]
    pub(super) fn view(&self) -> PoolView<'_> {
        PoolView::with_epoch(&self.backends, self.epoch)
    }
}

impl<'c, const TRACE: bool> World<'c, TRACE> {
    /// Tier `t`'s load balancer settings (`[lb]` for the edge, a service's `lb` otherwise).
    #[inline]
    pub(super) fn tier_lb(&self, t: usize) -> &'c LbConfig {
        match self.tiers[t].service {
            None => &self.cfg.lb,
            Some(s) => &self.cfg.services[s].lb,
        }
    }

    /// The node of tier `t` that a call from server `caller` goes through: its host's in a
    /// node-local tier (`NONE` if no server of the service runs there), else by id.
    #[inline]
    pub(super) fn node_for(&self, t: usize, caller: u32) -> u32 {
        let tier = &self.tiers[t];
        if tier.hosts.is_empty() {
            caller % tier.nodes as u32
        } else {
            tier.node_of_host[self.servers[caller as usize].host as usize]
        }
    }

    /// Tier `t`'s health checking.
    #[inline]
    pub(super) fn tier_health(&self, t: usize) -> &'c HealthConfig {
        match self.tiers[t].service {
            None => &self.cfg.health,
            Some(s) => &self.cfg.services[s].health,
        }
    }

    /// Whether node `node` of tier `t` may send new requests to server `id`: not draining,
    /// and healthy by its checks and outlier detection, unless the node is in panic (Envoy:
    /// too few healthy servers, so it balances over all of them).
    #[inline]
    pub(super) fn available(&self, t: usize, node: usize, id: usize) -> bool {
        let i = node * self.servers.len() + id;
        let tier = &self.tiers[t];
        !self.servers[id].draining
            && ((tier.health_up[i] && !tier.ejected[i])
                || (tier.levels.is_empty() && self.in_panic(t, node)))
    }

    /// The weight node `node` of tier `t` sees for server `id`. With slow start configured,
    /// weights run at 16× scale (HAProxy's BE_WEIGHT_SCALE) so a ramping server can carry a
    /// fraction of its weight; ratios between servers are unchanged.
    pub(super) fn weight(&self, t: usize, node: usize, id: usize) -> u32 {
        let w = self.servers[id].weight;
        let Some(ss) = self.tier_health(t).slow_start else {
            return w;
        };
        let base = w.saturating_mul(16);
        let since = self.tiers[t].ramp_since[node * self.servers.len() + id];
        if since == SimTime::MAX || base == 0 {
            return base;
        }
        let t = self.now - since;
        if t >= ss.window {
            return base;
        }
        match ss.style {
            SlowStartStyle::Haproxy => {
                let (t, s) = (
                    t.as_nanos() / 1_000_000_000,
                    (ss.window.as_nanos() / 1_000_000_000).max(1),
                );
                let steps = ((16 * t + s) / s).min(16) as u32;
                (w.saturating_mul(steps)).max(1)
            }
            SlowStartStyle::Envoy {
                aggression,
                min_weight_percent,
            } => {
                let f = (t.as_secs_f64() / ss.window.as_secs_f64()).max(1e-3);
                let factor = f
                    .powf(1.0 / aggression)
                    .max(min_weight_percent / 100.0)
                    .min(1.0);
                ((f64::from(base) * factor).round() as u32).max(1)
            }
        }
    }

    /// Server `id` comes back into rotation on node `node` of tier `t`: start its
    /// slow-start ramp.
    pub(super) fn start_ramp(&mut self, t: usize, node: usize, id: usize) {
        if self.tier_health(t).slow_start.is_none() {
            return;
        }
        let n = self.servers.len();
        self.tiers[t].ramp_since[node * n + id] = self.now;
        self.arm_slow_tick();
    }

    /// Keeps a one-second tick running while any server ramps up in any tier.
    pub(super) fn arm_slow_tick(&mut self) {
        // One tick serves every tier; its flag lives in the edge tier.
        let armed = self.tiers[0].slow_tick_armed;
        let mut ramping = false;
        for t in 0..self.tiers.len() {
            let Some(ss) = self.tier_health(t).slow_start else {
                continue;
            };
            ramping |= self.tiers[t]
                .ramp_since
                .iter()
                .any(|&r| r != SimTime::MAX && self.now - r < ss.window);
        }
        if ramping && !armed {
            self.tiers[0].slow_tick_armed = true;
            self.q.push(self.now + SimTime::SECOND, Ev::SlowStartTick);
        }
    }

    /// Envoy's panic mode for node `node` of tier `t`: healthy members below the panic
    /// threshold.
    pub(super) fn in_panic(&self, t: usize, node: usize) -> bool {
        let threshold = self.tier_health(t).panic_threshold;
        if threshold <= 0.0 {
            return false;
        }
        let n = self.servers.len();
        let tier = &self.tiers[t];
        let (mut members, mut healthy) = (0u32, 0u32);
        for (id, s) in self.servers.iter().enumerate() {
            if s.member && tier.serves[id] {
                members += 1;
                let i = node * n + id;
                if tier.health_up[i] && !tier.ejected[i] {
                    healthy += 1;
                }
            }
        }
        members > 0 && 100.0 * f64::from(healthy) < threshold * f64::from(members)
    }

    /// Rebuilds every route's pool in every tier from the current members and tells its
    /// balancer.
    pub(super) fn rebuild_routes(&mut self) {
        for t in 0..self.tiers.len() {
            self.rebuild_tier(t);
        }
    }

    fn rebuild_tier(&mut self, t: usize) {
        let n = self.servers.len();
        let reported = matches!(self.tier_lb(t).view, LbView::Reported { .. });
        for ri in 0..self.tiers[t].routes.len() {
            let node = ri / self.tiers[t].n_pools;
            let mut backends = std::mem::take(&mut self.tiers[t].routes[ri].backends);
            let mut pos = std::mem::take(&mut self.tiers[t].routes[ri].pos);
            let groups = self.tiers[t].routes[ri].groups.take();
            backends.clear();
            pos.clear();
            pos.resize(n, NONE);
            for (id, s) in self.servers.iter().enumerate() {
                let inside = match &groups {
                    None => self.tiers[t].serves[id],
                    Some(g) => g.contains(&s.group),
                };
                // A node-local tier's node balances over its host's servers only.
                let hosts = &self.tiers[t].hosts;
                let inside = inside && (hosts.is_empty() || hosts[node] == s.host);
                if s.member && inside {
                    pos[id] = backends.len() as u32;
                    backends.push(Backend {
                        id: id as u32,
                        weight: self.weight(t, node, id),
                        in_flight: if reported {
                            self.tiers[t].reported[id]
                        } else {
                            self.tiers[t].in_flight[node * n + id]
                        },
                        available: self.tiers[t].routes[ri].panic || self.available(t, node, id),
                    });
                }
            }
            let r = &mut self.tiers[t].routes[ri];
            r.groups = groups;
            r.whole = backends.len() == n;
            r.backends = backends;
            r.pos = pos;
            r.epoch += 1;
            r.balancer
                .on_pool_change(self.now, &PoolView::with_epoch(&r.backends, r.epoch));
        }
        self.update_priorities(t);
    }

    /// Recomputes availability in every pool view of every tier; tells the balancers whose
    /// view changed.
    pub(super) fn refresh_availability(&mut self) {
        for t in 0..self.tiers.len() {
            for ri in 0..self.tiers[t].routes.len() {
                let node = ri / self.tiers[t].n_pools;
                let mut changed = false;
                let panic = self.tiers[t].routes[ri].panic;
                for bi in 0..self.tiers[t].routes[ri].backends.len() {
                    let id = self.tiers[t].routes[ri].backends[bi].id as usize;
                    let a = panic || self.available(t, node, id);
                    let w = self.weight(t, node, id);
                    let b = &mut self.tiers[t].routes[ri].backends[bi];
                    if b.available != a || b.weight != w {
                        b.available = a;
                        b.weight = w;
                        changed = true;
                    }
                }
                if changed {
                    let r = &mut self.tiers[t].routes[ri];
                    r.epoch += 1;
                    r.balancer
                        .on_pool_change(self.now, &PoolView::with_epoch(&r.backends, r.epoch));
                }
            }
            self.update_priorities(t);
        }
    }

    /// The edge node that serves client `c` (without an HA topology).
    #[inline]
    pub(super) fn node_of(&self, client: u32) -> usize {
        match self.cfg.lb.nodes {
            1 => 0,
            n => (client % n) as usize,
        }
    }

    /// Node `node` of tier `t` starts (`up`) or stops counting an attempt to `server`; with
    /// its own view, its balancers' pool views follow.
    #[inline]
    pub(super) fn in_flight_add(&mut self, t: usize, node: usize, server: u32, up: bool) {
        let s = server as usize;
        let at = node * self.servers.len() + s;
        let tier = &mut self.tiers[t];
        if up {
            tier.in_flight[at] += 1;
        } else {
            debug_assert!(tier.in_flight[at] > 0);
            tier.in_flight[at] -= 1;
        }
        if tier.own_view {
            let count = tier.in_flight[at];
            for r in &mut tier.routes[node * tier.n_pools..(node + 1) * tier.n_pools] {
                let p = r.pos(s);
                if p != NONE {
                    r.backends[p as usize].in_flight = count;
                    if r.notify {
                        r.balancer.on_in_flight(p as usize, count);
                    }
                }
            }
        }
    }

    /// Servers report their load to tier `t` (`view = "reported"`): every node's view
    /// becomes that snapshot, and the next report comes after the tier's own interval.
    pub(super) fn report(&mut self, t: usize) {
        let LbView::Reported { interval } = self.tier_lb(t).view else {
            return;
        };
        let tier = &mut self.tiers[t];
        for (id, s) in self.servers.iter().enumerate() {
            tier.reported[id] = s.busy + s.queue.len() as u32;
        }
        for r in &mut tier.routes {
            for (i, b) in r.backends.iter_mut().enumerate() {
                let v = tier.reported[b.id as usize];
                if b.in_flight != v {
                    b.in_flight = v;
                    if r.notify {
                        r.balancer.on_in_flight(i, v);
                    }
                }
            }
        }
        self.q
            .push(self.now + interval, Ev::Report { tier: t as u16 });
    }

    /// `[trace.preset]` at t = 0: phantom in-flight requests on every edge node's own count
    /// (they never complete), then one timed success per preset response time reported to
    /// every balancer whose pool holds the server (see [`ServerPreset`](super::ServerPreset)).
    #[cold]
    pub(super) fn apply_presets(&mut self) {
        let n = self.servers.len();
        let nodes = self.cfg.lb.nodes as usize;
        for p in &self.cfg.preset {
            for node in 0..nodes {
                self.tiers[0].in_flight[node * n + p.server as usize] += p.in_flight;
            }
        }
        self.rebuild_routes();
        for p in &self.cfg.preset {
            let Some(rtt) = p.response_time else {
                continue;
            };
            for r in &mut self.tiers[0].routes {
                let i = r.pos(p.server as usize);
                if i != NONE {
                    r.balancer.on_response(
                        SimTime::ZERO,
                        &PoolView::with_epoch(&r.backends, r.epoch),
                        i as usize,
                        Outcome::new(true, rtt),
                    );
                }
            }
        }
    }
}
