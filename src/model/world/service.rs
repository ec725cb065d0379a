//! The service behind the load balancer tier: each node's pools, their balancers, and what the node believes about its servers (in flight, health, weight).

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
use crate::health::outlier::OutlierDetector;
use crate::model::config::ActiveStyle;
use crate::model::config::LbView;
use crate::model::config::SlowStartStyle;
use crate::model::config::WorldConfig;

/// One balancer and the pool it sees (all servers, or one group's).
pub(super) struct Route {
    pub(super) balancer: Box<dyn Balancer>,
    pub(super) group: Option<usize>,
    pub(super) backends: Vec<Backend>,
    /// Server id → index in `backends`, or `NONE`.
    pub(super) pos: Vec<u32>,
    /// The balancer keeps sessions by cookie.
    pub(super) sticky: bool,
    /// The balancer carries nginx's passive check (`max_fails`): poll it after responses.
    pub(super) passive: bool,
    /// Backends its passive check has out now. A change needs a failed attempt or a
    /// success of a backend that is out, so successes are not polled while this is 0.
    pub(super) passive_out: u32,
}

/// The service behind the load balancer tier: its pools, their balancers and what each
/// node believes about its servers.
pub(super) struct Service {
    /// Attempts in flight to each server as each node counts them: `[node * n + id]`.
    pub(super) in_flight: Vec<u32>,
    /// Server loads (in service + queued) at the last report (`view = reported`).
    pub(super) reported: Vec<u32>,
    /// One balancer per (node, pool): `routes[node * n_pools + pool]`.
    pub(super) routes: Vec<Route>,
    /// Number of pools (pool 0 is every server; then one per group some class is routed to).
    pub(super) n_pools: usize,
    /// The pool of each class.
    pub(super) class_route: Vec<usize>,
    /// Active checkers, `[node * n + server]` (empty without active checks).
    pub(super) checkers: Vec<Box<dyn ActiveChecker>>,
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
}

impl Service {
    /// One balancer per (node, pool), and the health machines per (node, server).
    pub(super) fn new(cfg: &WorldConfig, n: usize, stream: &dyn Fn(&str) -> SimRng) -> Service {
        let mut route_groups: Vec<Option<usize>> = vec![None];
        let class_route = cfg
            .classes
            .iter()
            .map(|c| match route_groups.iter().position(|r| *r == c.pool) {
                Some(i) => i,
                None => {
                    route_groups.push(c.pool);
                    route_groups.len() - 1
                }
            })
            .collect();
        let mut routes = Vec::with_capacity(cfg.lb.nodes as usize * route_groups.len());
        for node in 1..=cfg.lb.nodes {
            for g in &route_groups {
                let label = match g {
                    None => format!("balancer/lb-{node}"),
                    Some(g) => format!("balancer/lb-{node}/{}", cfg.groups[*g].name),
                };
                let alg = g
                    .and_then(|g| cfg.groups[g].balancer.as_ref())
                    .unwrap_or(&cfg.algorithm);
                let sticky = alg.info().name == "sticky";
                routes.push(Route {
                    balancer: alg.build(stream(&label)),
                    group: *g,
                    backends: Vec::new(),
                    pos: Vec::new(),
                    sticky,
                    passive: alg.passive_checks().is_some(),
                    passive_out: 0,
                });
            }
        }
        let nodes = cfg.lb.nodes as usize;
        let mut svc = Service {
            in_flight: vec![0; n * nodes],
            reported: vec![0; n],
            routes,
            n_pools: route_groups.len(),
            class_route,
            checkers: Vec::new(),
            check_due: Vec::new(),
            health_up: vec![true; n * nodes],
            outliers: Vec::new(),
            outlier_due: Vec::new(),
            ejected: vec![false; n * nodes],
            ramp_since: vec![SimTime::MAX; n * nodes],
            slow_tick_armed: false,
            rng_probes: stream("health/probes"),
        };
        if let Some(h) = &cfg.health.active {
            for node in 0..nodes {
                for id in 0..n {
                    let rng = stream(&format!("health/lb-{}/{id}", node + 1));
                    let mut c: Box<dyn ActiveChecker> = match &h.style {
                        ActiveStyle::Haproxy(c) => {
                            Box::new(HaproxyChecker::new(*c, SimTime::ZERO, rng))
                        }
                        ActiveStyle::Envoy(c) => {
                            Box::new(EnvoyChecker::new(c.clone(), SimTime::ZERO, rng))
                        }
                    };
                    // The simulated cluster serves traffic from the start, so Envoy's
                    // no-traffic intervals do not apply (HAProxy ignores this without observe).
                    if matches!(h.style, ActiveStyle::Envoy(_)) {
                        c.observe_traffic(SimTime::ZERO, true);
                    }
                    svc.health_up[node * n + id] = c.is_up();
                    svc.checkers.push(c);
                }
            }
            svc.check_due = vec![SimTime::MAX; svc.checkers.len()];
        }
        if let Some(o) = &cfg.health.outlier {
            for node in 0..nodes {
                svc.outliers.push(OutlierDetector::new(
                    o.clone(),
                    n,
                    SimTime::ZERO,
                    stream(&format!("outlier/lb-{}", node + 1)),
                ));
            }
            svc.outlier_due = vec![SimTime::MAX; nodes];
        }
        svc
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// Whether node `node` may send new requests to server `id`: not draining, and healthy
    /// by its checks and outlier detection, unless the node is in panic (Envoy: too few
    /// healthy servers, so it balances over all of them).
    #[inline]
    pub(super) fn available(&self, node: usize, id: usize) -> bool {
        let i = node * self.servers.len() + id;
        !self.servers[id].draining
            && ((self.svc.health_up[i] && !self.svc.ejected[i]) || self.in_panic(node))
    }

    /// The weight node `node`'s balancers see for server `id`. With slow start configured,
    /// weights run at 16× scale (HAProxy's BE_WEIGHT_SCALE) so a ramping server can carry a
    /// fraction of its weight; ratios between servers are unchanged.
    pub(super) fn weight(&self, node: usize, id: usize) -> u32 {
        let w = self.servers[id].weight;
        let Some(ss) = self.cfg.health.slow_start else {
            return w;
        };
        let base = w.saturating_mul(16);
        let since = self.svc.ramp_since[node * self.servers.len() + id];
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

    /// Server `id` comes back into rotation on node `node`: start its slow-start ramp.
    pub(super) fn start_ramp(&mut self, node: usize, id: usize) {
        if self.cfg.health.slow_start.is_none() {
            return;
        }
        self.svc.ramp_since[node * self.servers.len() + id] = self.now;
        self.arm_slow_tick();
    }

    /// Keeps a one-second tick running while any server ramps up.
    pub(super) fn arm_slow_tick(&mut self) {
        let Some(ss) = self.cfg.health.slow_start else {
            return;
        };
        let ramping = self
            .svc
            .ramp_since
            .iter()
            .any(|&t| t != SimTime::MAX && self.now - t < ss.window);
        if ramping && !self.svc.slow_tick_armed {
            self.svc.slow_tick_armed = true;
            self.q.push(self.now + SimTime::SECOND, Ev::SlowStartTick);
        }
    }

    /// Envoy's panic mode for node `node`: healthy members below the panic threshold.
    pub(super) fn in_panic(&self, node: usize) -> bool {
        let threshold = self.cfg.health.panic_threshold;
        if threshold <= 0.0 {
            return false;
        }
        let n = self.servers.len();
        let (mut members, mut healthy) = (0u32, 0u32);
        for (id, s) in self.servers.iter().enumerate() {
            if s.member {
                members += 1;
                let i = node * n + id;
                if self.svc.health_up[i] && !self.svc.ejected[i] {
                    healthy += 1;
                }
            }
        }
        members > 0 && 100.0 * f64::from(healthy) < threshold * f64::from(members)
    }

    /// Rebuilds every route's pool from the current members and tells its balancer.
    pub(super) fn rebuild_routes(&mut self) {
        let n = self.servers.len();
        let reported = matches!(self.cfg.lb.view, LbView::Reported { .. });
        for ri in 0..self.svc.routes.len() {
            let node = ri / self.svc.n_pools;
            let mut backends = std::mem::take(&mut self.svc.routes[ri].backends);
            let mut pos = std::mem::take(&mut self.svc.routes[ri].pos);
            backends.clear();
            pos.clear();
            pos.resize(n, NONE);
            let group = self.svc.routes[ri].group;
            for (id, s) in self.servers.iter().enumerate() {
                if s.member && group.is_none_or(|g| g == s.group) {
                    pos[id] = backends.len() as u32;
                    backends.push(Backend {
                        id: id as u32,
                        weight: self.weight(node, id),
                        in_flight: if reported {
                            self.svc.reported[id]
                        } else {
                            self.svc.in_flight[node * n + id]
                        },
                        available: self.available(node, id),
                    });
                }
            }
            let r = &mut self.svc.routes[ri];
            r.backends = backends;
            r.pos = pos;
            r.balancer
                .on_pool_change(self.now, &PoolView::new(&r.backends));
        }
    }

    /// Recomputes availability in every pool view; tells the balancers whose view changed.
    pub(super) fn refresh_availability(&mut self) {
        for ri in 0..self.svc.routes.len() {
            let node = ri / self.svc.n_pools;
            let mut changed = false;
            for bi in 0..self.svc.routes[ri].backends.len() {
                let id = self.svc.routes[ri].backends[bi].id as usize;
                let a = self.available(node, id);
                let w = self.weight(node, id);
                let b = &mut self.svc.routes[ri].backends[bi];
                if b.available != a || b.weight != w {
                    b.available = a;
                    b.weight = w;
                    changed = true;
                }
            }
            if changed {
                let r = &mut self.svc.routes[ri];
                r.balancer
                    .on_pool_change(self.now, &PoolView::new(&r.backends));
            }
        }
    }

    /// The load balancer node that serves client `c`.
    #[inline]
    pub(super) fn node_of(&self, client: u32) -> usize {
        match self.cfg.lb.nodes {
            1 => 0,
            n => (client % n) as usize,
        }
    }

    /// Node `node` starts (`up`) or stops counting an attempt to `server`; with its own
    /// view, its balancers' pool views follow.
    #[inline]
    pub(super) fn in_flight_add(&mut self, node: usize, server: u32, up: bool) {
        let s = server as usize;
        let at = node * self.servers.len() + s;
        if up {
            self.svc.in_flight[at] += 1;
        } else {
            debug_assert!(self.svc.in_flight[at] > 0);
            self.svc.in_flight[at] -= 1;
        }
        if self.cfg.lb.view == LbView::Own {
            let count = self.svc.in_flight[at];
            for r in &mut self.svc.routes[node * self.svc.n_pools..(node + 1) * self.svc.n_pools] {
                let p = r.pos[s];
                if p != NONE {
                    r.backends[p as usize].in_flight = count;
                }
            }
        }
    }

    /// Servers report their load; every node's view becomes that snapshot.
    pub(super) fn report(&mut self) {
        for (id, s) in self.servers.iter().enumerate() {
            self.svc.reported[id] = s.busy + s.queue.len() as u32;
        }
        for r in &mut self.svc.routes {
            for b in &mut r.backends {
                b.in_flight = self.svc.reported[b.id as usize];
            }
        }
        if let LbView::Reported { interval } = self.cfg.lb.view {
            self.q.push(self.now + interval, Ev::Report);
        }
    }

    /// `[trace.preset]` at t = 0: phantom in-flight requests on every node's own count
    /// (they never complete), then one timed success per preset response time reported to
    /// every balancer whose pool holds the server (see [`ServerPreset`](super::ServerPreset)).
    #[cold]
    pub(super) fn apply_presets(&mut self) {
        let n = self.servers.len();
        let nodes = self.cfg.lb.nodes as usize;
        for p in &self.cfg.preset {
            for node in 0..nodes {
                self.svc.in_flight[node * n + p.server as usize] += p.in_flight;
            }
        }
        self.rebuild_routes();
        for p in &self.cfg.preset {
            let Some(rtt) = p.response_time else {
                continue;
            };
            for r in &mut self.svc.routes {
                let i = r.pos[p.server as usize];
                if i != NONE {
                    r.balancer.on_response(
                        SimTime::ZERO,
                        &PoolView::new(&r.backends),
                        i as usize,
                        Outcome::new(true, rtt),
                    );
                }
            }
        }
    }
}
