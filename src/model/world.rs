//! One replication of a world: clients, a load balancer node and servers on the event queue.
//!
//! A request's life: a client issues it → the load balancer asks its [`Balancer`] for a
//! backend and counts it in flight → (network delay) → the server queues it FIFO and serves
//! it on one of its `slots` workers for `work / speed` → (network delay) → the load balancer
//! sees the outcome, feeds it back to the balancer → the client records latency or an error.
//! A client timeout fails the request for the client (and the load balancer stops counting
//! it), but the server still does the work: that is what makes timeouts expensive.
//!
//! The hot loop allocates nothing per event: requests live in a slab of reused slots, events
//! are a small `Copy` enum, and per-server state is in flat vectors indexed by id.
//!
//! Clients come from a [`Population`] (stable ids, IPv4 addresses by model, activity skew);
//! requests of keyed classes carry a Zipf-distributed key. Classes may be routed to one
//! server group (an L7 pool) with its own balancer instance. Membership changes add or
//! remove servers at given times; each balancer is told (`on_pool_change`), and a probe
//! measures the fraction of keys a fresh balancer maps elsewhere after the change. Sticky
//! cookies live in the client; session state lives in a token, on the server or in a shared
//! store; servers may keep an LRU cache of keys (hits are served with the hit time).
//!
//! At the end of every run the world checks its books: every issued request is completed,
//! failed (by cause) or still in flight, both over the whole run and over the measured
//! window, and the load balancer's in-flight counts match the requests actually out there.
//! A violation is a bug and fails the run.

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use rand_distr::{Distribution, Exp1};

use crate::balancer::{Backend, Balancer, Outcome, PoolView, RequestInfo};
use crate::engine::{EventQueue, SeedTree, SimRng, SimTime};
use crate::metrics::imbalance::imbalance;
use crate::metrics::{ChangeRow, ErrorCause, M, N_CAUSES, N_METRICS, RepResult, ServerRow};

use super::cache::Lru;
use super::config::{ChangeAction, LbView, Load, RateSchedule, SessionState, WorldConfig};
use super::dist::Dist;
use super::population::{Population, ZipfIndex};

/// "No value" for dense `u32` slots (cookies, positions, session servers).
const NONE: u32 = u32::MAX;
/// "No key" for requests of classes without keys.
const NO_KEY: u64 = u64::MAX;
/// Keys probed to measure remapping at a membership change.
const PROBE_KEYS: u64 = 10_000;

/// Highest latency the histogram tracks exactly (24 h); longer ones are clamped.
const HIST_MAX_NS: u64 = 86_400 * 1_000_000_000;

/// Why a replication could not produce results.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RunError {
    /// The event cap was reached before the end of the scenario (fatal for this run).
    #[error("event cap of {cap} events reached at simulated time {at} (scenario.max_events)")]
    EventCap {
        /// The cap.
        cap: u64,
        /// Simulated time when it was reached.
        at: SimTime,
    },
    /// An accounting invariant failed: a bug in lblab (fatal).
    #[error("invariant violated (this is a bug in lblab): {0}")]
    Invariant(String),
}

#[derive(Copy, Clone, Debug)]
enum Ev {
    /// The next open-loop arrival.
    Arrival,
    /// A closed-loop user finished thinking.
    UserReady { user: u32 },
    /// A request reaches its server.
    ToServer { req: u32 },
    /// A server finished a request.
    ServiceDone { req: u32 },
    /// A response (or rejection) reaches the load balancer.
    ToLb { req: u32, ok: bool },
    /// A client's deadline for a request.
    Timeout { req: u32, generation: u32 },
    /// Membership change number `index` takes effect.
    Change { index: u32 },
    /// Servers report their load (`view = reported`).
    Report,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Free,
    /// Issued but not yet handed to a server (only transiently).
    AtLb,
    ToServer,
    Queued,
    InService,
    ToLb,
}

#[derive(Copy, Clone, Debug)]
struct Request {
    issued: SimTime,
    dispatched: SimTime,
    at_server: SimTime,
    started: SimTime,
    work_ns: f64,
    hit_work_ns: f64,
    key: u64,
    user: u32,
    client: u32,
    server: u32,
    generation: u32,
    class: u16,
    phase: Phase,
    /// The client is still waiting (false once it completed, failed or gave up).
    waiting: bool,
}

const NO_USER: u32 = u32::MAX;

struct Server {
    speed: f64,
    slots: u32,
    queue_cap: u32,
    group: usize,
    busy: u32,
    queue: VecDeque<u32>,
    n_requests: u64,
    n_rejected: u64,
    busy_ns: u64,
    cache: Option<Lru>,
    n_hits: u64,
    n_misses: u64,
    member: bool,
    ever_member: bool,
    member_since: SimTime,
    member_ns: u64,
}

/// One balancer and the pool it sees (all servers, or one group's).
struct Route {
    balancer: Box<dyn Balancer>,
    group: Option<usize>,
    backends: Vec<Backend>,
    /// Server id → index in `backends`, or `NONE`.
    pos: Vec<u32>,
    /// The balancer keeps sessions by cookie.
    sticky: bool,
}

/// Piecewise Poisson arrival process, sampled exactly by inverting the integrated rate.
struct Arrivals {
    t_ns: f64,
    seg: usize,
    /// Mean gap for a single constant segment (the fast path).
    const_gap_ns: Option<f64>,
}

impl Arrivals {
    fn new(s: &RateSchedule) -> Arrivals {
        let const_gap_ns = match s.points.as_slice() {
            [p] if p.rate_per_s > 0.0 => Some(1e9 / p.rate_per_s),
            _ => None,
        };
        Arrivals {
            t_ns: 0.0,
            seg: 0,
            const_gap_ns,
        }
    }

    /// The next arrival time in nanoseconds, or `None` if the rate stays zero forever.
    fn next(&mut self, s: &RateSchedule, rng: &mut SimRng) -> Option<f64> {
        let e: f64 = Exp1.sample(rng);
        if let Some(gap) = self.const_gap_ns {
            self.t_ns += e * gap;
            return Some(self.t_ns);
        }
        let mut e = e;
        loop {
            let p = s.points[self.seg];
            let next = s.points.get(self.seg + 1);
            let end = next.map_or(f64::INFINITY, |n| n.at.as_nanos() as f64);
            let r_now = s.rate_at_in(self.seg, SimTime::from_nanos_f64(self.t_ns)) * 1e-9;
            match next {
                Some(n) if p.ramp => {
                    let r_end = n.rate_per_s * 1e-9;
                    let len = end - self.t_ns;
                    let mass = 0.5 * (r_now + r_end) * len;
                    if mass > e {
                        let k = (r_end - r_now) / len;
                        let disc = (r_now * r_now + 2.0 * k * e).max(0.0);
                        self.t_ns += 2.0 * e / (r_now + disc.sqrt());
                        return Some(self.t_ns);
                    }
                    e -= mass;
                }
                _ => {
                    if r_now > 0.0 {
                        let dt = e / r_now;
                        if self.t_ns + dt < end {
                            self.t_ns += dt;
                            return Some(self.t_ns);
                        }
                        e -= r_now * (end - self.t_ns);
                    } else if end.is_infinite() {
                        return None;
                    }
                }
            }
            self.t_ns = end;
            self.seg += 1;
        }
    }
}

#[derive(Default)]
struct Counts {
    issued: u64,
    completed: u64,
    failed: [u64; N_CAUSES],
}

/// One replication of a world, ready to [`run`](World::run).
pub struct World<'c> {
    cfg: &'c WorldConfig,
    seeds: SeedTree,
    replication: u32,
    q: EventQueue<Ev>,
    now: SimTime,
    rng_arrivals: SimRng,
    rng_class: SimRng,
    rng_service: Vec<SimRng>,
    rng_hit: Vec<SimRng>,
    rng_keys: Vec<SimRng>,
    rng_think: SimRng,
    rng_net: SimRng,
    rng_who: SimRng,
    rng_store: SimRng,
    arrivals: Option<Arrivals>,
    class_cum: Vec<f64>,
    /// Per class: key sampler and the offset of its key space.
    class_keys: Vec<Option<(ZipfIndex, u64)>>,
    servers: Vec<Server>,
    /// Requests in flight to each server as each node counts them: `[node * n + id]`.
    in_flight: Vec<u32>,
    /// Server loads (in service + queued) at the last report (`view = reported`).
    reported: Vec<u32>,
    /// One balancer per (node, pool): `routes[node * n_pools + pool]`.
    routes: Vec<Route>,
    /// Number of pools (pool 0 is every server; then one per group some class is routed to).
    n_pools: usize,
    /// The pool of each class.
    class_route: Vec<usize>,
    population: Population,
    /// Per (client, pool): the server named by the client's cookie, or `NONE`.
    cookies: Vec<u32>,
    /// Per (client, pool): the server holding the client's session state, or `NONE`.
    session_server: Vec<u32>,
    /// Per client: time of its last request (`SimTime::MAX`: never).
    last_seen: Vec<SimTime>,
    reqs: Vec<Request>,
    free: Vec<u32>,
    all: Counts,
    measured: Counts,
    latency: Histogram<u64>,
    latency_sum_ns: u128,
    wait_sum_ns: u128,
    service_sum_ns: u128,
    n_started: u64,
    sessions_broken: u64,
    sessions_lost: u64,
    changes: Vec<ChangeRow>,
}

impl<'c> World<'c> {
    /// Builds replication `replication` of `cfg` with randomness from `seeds`.
    pub fn new(cfg: &'c WorldConfig, seeds: &SeedTree, replication: u32) -> World<'c> {
        let stream = |label: &str| seeds.stream(replication, label);
        let mut servers = Vec::with_capacity(cfg.n_allocated());
        for (gi, g) in cfg.groups.iter().enumerate() {
            for i in 0..g.count + g.spare {
                let member = i < g.count;
                servers.push(Server {
                    speed: g.speed,
                    slots: g.slots,
                    queue_cap: g.queue,
                    group: gi,
                    busy: 0,
                    queue: VecDeque::new(),
                    n_requests: 0,
                    n_rejected: 0,
                    busy_ns: 0,
                    cache: g.cache.map(|k| Lru::new(k as usize)),
                    n_hits: 0,
                    n_misses: 0,
                    member,
                    ever_member: member,
                    member_since: SimTime::ZERO,
                    member_ns: 0,
                });
            }
        }
        let mut acc = 0.0;
        let mut class_cum: Vec<f64> = cfg
            .classes
            .iter()
            .map(|c| {
                acc += c.share;
                acc
            })
            .collect();
        if let Some(last) = class_cum.last_mut() {
            *last = f64::INFINITY; // rounding never leaves a draw without a class
        }
        let mut key_base = 0u64;
        let class_keys = cfg
            .classes
            .iter()
            .map(|c| {
                c.keys.map(|k| {
                    let base = key_base;
                    key_base += k.count;
                    (ZipfIndex::new(k.count, k.zipf), base)
                })
            })
            .collect();
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
                });
            }
        }
        let arrivals = match &cfg.clients.load {
            Load::Open(s) => Some(Arrivals::new(s)),
            Load::Closed { .. } => None,
        };
        let population = Population::new(&cfg.population, &mut stream("population"));
        let n_clients = cfg.population.clients as usize;
        let n_pools = route_groups.len();
        let mut w = World {
            cfg,
            seeds: *seeds,
            replication,
            q: EventQueue::new(),
            now: SimTime::ZERO,
            rng_arrivals: stream("arrivals"),
            rng_class: stream("classes"),
            rng_service: cfg
                .classes
                .iter()
                .map(|c| stream(&format!("service/{}", c.name)))
                .collect(),
            rng_hit: cfg
                .classes
                .iter()
                .map(|c| stream(&format!("hit/{}", c.name)))
                .collect(),
            rng_keys: cfg
                .classes
                .iter()
                .map(|c| stream(&format!("keys/{}", c.name)))
                .collect(),
            rng_think: stream("think"),
            rng_net: stream("network"),
            rng_who: stream("clients"),
            rng_store: stream("session-store"),
            arrivals,
            class_cum,
            class_keys,
            in_flight: vec![0; servers.len() * cfg.lb.nodes as usize],
            reported: vec![0; servers.len()],
            servers,
            routes,
            n_pools,
            class_route,
            population,
            cookies: vec![NONE; n_clients * n_pools],
            session_server: vec![NONE; n_clients * n_pools],
            last_seen: vec![SimTime::MAX; n_clients],
            reqs: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            all: Counts::default(),
            measured: Counts::default(),
            latency: Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid histogram bounds"),
            latency_sum_ns: 0,
            wait_sum_ns: 0,
            service_sum_ns: 0,
            n_started: 0,
            sessions_broken: 0,
            sessions_lost: 0,
            changes: Vec::new(),
        };
        w.rebuild_routes();
        w
    }

    /// Rebuilds every route's pool from the current members and tells its balancer.
    fn rebuild_routes(&mut self) {
        let n = self.servers.len();
        let reported = matches!(self.cfg.lb.view, LbView::Reported { .. });
        for (ri, r) in self.routes.iter_mut().enumerate() {
            let node = ri / self.n_pools;
            r.backends.clear();
            r.pos.clear();
            r.pos.resize(n, NONE);
            for (id, s) in self.servers.iter().enumerate() {
                if s.member && r.group.is_none_or(|g| g == s.group) {
                    r.pos[id] = r.backends.len() as u32;
                    r.backends.push(Backend {
                        id: id as u32,
                        weight: self.cfg.groups[s.group].weight,
                        in_flight: if reported {
                            self.reported[id]
                        } else {
                            self.in_flight[node * n + id]
                        },
                        available: true,
                    });
                }
            }
            r.balancer
                .on_pool_change(self.now, &PoolView::new(&r.backends));
        }
    }

    /// The load balancer node that serves client `c`.
    #[inline]
    fn node_of(&self, client: u32) -> usize {
        client as usize % self.cfg.lb.nodes as usize
    }

    /// Node `node` starts (`up`) or stops counting a request to `server`; with its own
    /// view, its balancers' pool views follow.
    #[inline]
    fn in_flight_add(&mut self, node: usize, server: u32, up: bool) {
        let s = server as usize;
        let at = node * self.servers.len() + s;
        if up {
            self.in_flight[at] += 1;
        } else {
            debug_assert!(self.in_flight[at] > 0);
            self.in_flight[at] -= 1;
        }
        if self.cfg.lb.view == LbView::Own {
            let count = self.in_flight[at];
            for r in &mut self.routes[node * self.n_pools..(node + 1) * self.n_pools] {
                let p = r.pos[s];
                if p != NONE {
                    r.backends[p as usize].in_flight = count;
                }
            }
        }
    }

    /// Servers report their load; every node's view becomes that snapshot.
    fn report(&mut self) {
        for (id, s) in self.servers.iter().enumerate() {
            self.reported[id] = s.busy + s.queue.len() as u32;
        }
        for r in &mut self.routes {
            for b in &mut r.backends {
                b.in_flight = self.reported[b.id as usize];
            }
        }
        if let LbView::Reported { interval } = self.cfg.lb.view {
            self.q.push(self.now + interval, Ev::Report);
        }
    }

    /// Runs to the scenario's end and returns what was measured.
    pub fn run(mut self) -> Result<RepResult, RunError> {
        self.start();
        let end = self.cfg.duration;
        let cap = self.cfg.max_events;
        let mut n_events: u64 = 0;
        while let Some((t, ev)) = self.q.pop() {
            if t > end {
                break;
            }
            n_events += 1;
            if n_events > cap {
                return Err(RunError::EventCap { cap, at: t });
            }
            debug_assert!(t >= self.now, "time went backwards");
            self.now = t;
            self.handle(ev);
        }
        self.now = end;
        self.finish()
    }

    fn start(&mut self) {
        match &self.cfg.clients.load {
            Load::Open(_) => self.schedule_arrival(),
            Load::Closed { users, think } => {
                for user in 0..*users {
                    let t = SimTime::from_nanos_f64(think.sample(&mut self.rng_think));
                    self.q.push(t, Ev::UserReady { user });
                }
            }
        }
        for (i, c) in self.cfg.changes.iter().enumerate() {
            self.q.push(c.at, Ev::Change { index: i as u32 });
        }
        if let LbView::Reported { interval } = self.cfg.lb.view {
            self.q.push(interval, Ev::Report);
        }
    }

    #[inline]
    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Arrival => {
                self.issue(NO_USER);
                self.schedule_arrival();
            }
            Ev::UserReady { user } => self.issue(user),
            Ev::ToServer { req } => self.arrive_at_server(req),
            Ev::ServiceDone { req } => self.service_done(req),
            Ev::ToLb { req, ok } => self.at_lb(req, ok),
            Ev::Timeout { req, generation } => self.timeout(req, generation),
            Ev::Change { index } => self.change(index as usize),
            Ev::Report => self.report(),
        }
    }

    fn schedule_arrival(&mut self) {
        let Load::Open(s) = &self.cfg.clients.load else {
            return;
        };
        let arrivals = self
            .arrivals
            .as_mut()
            .expect("open loop has an arrival process");
        if let Some(t_ns) = arrivals.next(s, &mut self.rng_arrivals) {
            self.q.push(SimTime::from_nanos_f64(t_ns), Ev::Arrival);
        }
    }

    #[inline]
    fn measured(&self, r: &Request) -> bool {
        r.issued >= self.cfg.warmup
    }

    fn issue(&mut self, user: u32) {
        let client = if user == NO_USER {
            self.population.next_client(&mut self.rng_who)
        } else {
            user
        };
        let u = self.rng_class.next_f64();
        let class = self.class_cum.iter().position(|&c| u < c).unwrap_or(0);
        let cc = &self.cfg.classes[class];
        let work_ns = cc.service.sample(&mut self.rng_service[class]);
        let hit_work_ns = match &cc.hit_service {
            Some(d) => d.sample(&mut self.rng_hit[class]),
            None => work_ns,
        };
        let key = match &self.class_keys[class] {
            Some((z, base)) => base + z.sample(&mut self.rng_keys[class]),
            None => NO_KEY,
        };
        // A client idle for longer than the session timeout starts a new session.
        let last = self.last_seen[client as usize];
        if last != SimTime::MAX && self.now - last > self.cfg.sessions.idle_timeout {
            let n = self.n_pools;
            let at = client as usize * n;
            self.cookies[at..at + n].fill(NONE);
            self.session_server[at..at + n].fill(NONE);
        }
        self.last_seen[client as usize] = self.now;
        let req = Request {
            issued: self.now,
            dispatched: SimTime::ZERO,
            at_server: SimTime::ZERO,
            started: SimTime::ZERO,
            work_ns,
            hit_work_ns,
            key,
            user,
            client,
            server: u32::MAX,
            generation: 0,
            class: class as u16,
            phase: Phase::AtLb,
            waiting: true,
        };
        let id = match self.free.pop() {
            Some(id) => {
                let generation = self.reqs[id as usize].generation;
                self.reqs[id as usize] = Request { generation, ..req };
                id
            }
            None => {
                self.reqs.push(req);
                (self.reqs.len() - 1) as u32
            }
        };
        self.all.issued += 1;
        if self.now >= self.cfg.warmup {
            self.measured.issued += 1;
        }
        if let Some(to) = self.cfg.clients.timeout {
            let generation = self.reqs[id as usize].generation;
            self.q.push_fifo(
                self.now + to,
                Ev::Timeout {
                    req: id,
                    generation,
                },
            );
        }
        self.dispatch(id);
    }

    fn dispatch(&mut self, id: u32) {
        let r = self.reqs[id as usize];
        let measured = self.measured(&r);
        let pool = self.class_route[r.class as usize];
        let node = self.node_of(r.client);
        let slot = r.client as usize * self.n_pools + pool;
        let rt = &mut self.routes[node * self.n_pools + pool];
        let cookie = if rt.sticky {
            Some(self.cookies[slot]).filter(|&c| c != NONE)
        } else {
            None
        };
        let info = RequestInfo {
            client_ip: self.population.ip(r.client, self.now),
            client: r.client,
            key: (r.key != NO_KEY).then_some(r.key),
            cookie,
            class: r.class,
            attempt: 0,
        };
        let pick = rt
            .balancer
            .pick(self.now, &PoolView::new(&rt.backends), &info);
        let Some(idx) = pick else {
            self.client_fail(id, ErrorCause::NoBackend);
            self.free_req(id);
            return;
        };
        debug_assert!(
            rt.backends[idx].eligible(),
            "balancer picked an ineligible backend"
        );
        let server = rt.backends[idx].id;
        if rt.sticky {
            if cookie.is_some_and(|c| c != server) && measured {
                self.sessions_broken += 1;
            }
            self.cookies[slot] = server;
        }
        self.in_flight_add(node, server, true);
        if measured {
            self.servers[server as usize].n_requests += 1;
        }
        let r = &mut self.reqs[id as usize];
        r.server = server;
        r.dispatched = self.now;
        match self.net_delay(server) {
            Some(d) => {
                self.reqs[id as usize].phase = Phase::ToServer;
                self.q.push(self.now + d, Ev::ToServer { req: id });
            }
            None => self.arrive_at_server(id),
        }
    }

    #[inline]
    fn net_delay(&mut self, server: u32) -> Option<SimTime> {
        let g = self.servers[server as usize].group;
        let d: &Dist = self.cfg.groups[g].network_delay.as_ref()?;
        Some(SimTime::from_nanos_f64(d.sample(&mut self.rng_net)))
    }

    fn arrive_at_server(&mut self, id: u32) {
        let s = self.reqs[id as usize].server as usize;
        self.reqs[id as usize].at_server = self.now;
        let srv = &mut self.servers[s];
        if srv.busy < srv.slots {
            self.start_service(s, id);
        } else if srv.queue.len() < srv.queue_cap as usize {
            srv.queue.push_back(id);
            self.reqs[id as usize].phase = Phase::Queued;
        } else {
            if self.measured(&self.reqs[id as usize]) {
                self.servers[s].n_rejected += 1;
            }
            self.respond(id, false);
        }
    }

    fn start_service(&mut self, s: usize, id: u32) {
        let r = self.reqs[id as usize];
        let measured = self.measured(&r);
        let srv = &mut self.servers[s];
        srv.busy += 1;
        let mut work = r.work_ns;
        if let (Some(cache), true) = (srv.cache.as_mut(), r.key != NO_KEY) {
            let hit = cache.access(r.key);
            if hit {
                work = r.hit_work_ns;
            }
            if measured {
                if hit {
                    srv.n_hits += 1;
                } else {
                    srv.n_misses += 1;
                }
            }
        }
        let mut service = SimTime::from_nanos_f64(work / srv.speed);
        match self.cfg.sessions.state {
            SessionState::Token => {}
            SessionState::Server => {
                let slot = r.client as usize * self.n_pools + self.class_route[r.class as usize];
                let held = self.session_server[slot];
                if held != NONE && held != s as u32 && measured {
                    self.sessions_lost += 1;
                }
                self.session_server[slot] = s as u32;
            }
            SessionState::Shared => {
                if let Some(d) = &self.cfg.sessions.store_latency {
                    service += SimTime::from_nanos_f64(d.sample(&mut self.rng_store));
                }
            }
        }
        let rq = &mut self.reqs[id as usize];
        rq.phase = Phase::InService;
        rq.started = self.now;
        if measured {
            self.wait_sum_ns += u128::from((self.now - rq.at_server).as_nanos());
            self.service_sum_ns += u128::from(service.as_nanos());
            self.n_started += 1;
        }
        self.q.push(self.now + service, Ev::ServiceDone { req: id });
    }

    fn service_done(&mut self, id: u32) {
        let s = self.reqs[id as usize].server as usize;
        let started = self.reqs[id as usize].started;
        let busy = self.window_overlap(started, self.now);
        let srv = &mut self.servers[s];
        srv.busy -= 1;
        srv.busy_ns += busy;
        if let Some(next) = srv.queue.pop_front() {
            self.start_service(s, next);
        }
        self.respond(id, true);
    }

    /// Sends the server's answer back toward the load balancer.
    fn respond(&mut self, id: u32, ok: bool) {
        let server = self.reqs[id as usize].server;
        match self.net_delay(server) {
            Some(d) => {
                self.reqs[id as usize].phase = Phase::ToLb;
                self.q.push(self.now + d, Ev::ToLb { req: id, ok });
            }
            None => self.at_lb(id, ok),
        }
    }

    fn at_lb(&mut self, id: u32, ok: bool) {
        let r = self.reqs[id as usize];
        if r.waiting {
            self.lb_done(id, ok);
            if ok {
                self.client_complete(id);
            } else {
                self.client_fail(id, ErrorCause::Rejected);
            }
        }
        self.free_req(id);
    }

    /// The load balancer stops counting the request and tells the balancer how it went.
    fn lb_done(&mut self, id: u32, ok: bool) {
        let r = self.reqs[id as usize];
        let node = self.node_of(r.client);
        self.in_flight_add(node, r.server, false);
        let outcome = Outcome::new(ok, self.now - r.dispatched);
        let rt = &mut self.routes[node * self.n_pools + self.class_route[r.class as usize]];
        let p = rt.pos[r.server as usize];
        if p != NONE {
            rt.balancer
                .on_response(self.now, &PoolView::new(&rt.backends), p as usize, outcome);
        }
    }

    fn timeout(&mut self, id: u32, generation: u32) {
        let r = self.reqs[id as usize];
        if r.generation != generation || r.phase == Phase::Free || !r.waiting {
            return; // already answered
        }
        if r.server != u32::MAX {
            self.lb_done(id, false);
        }
        self.client_fail(id, ErrorCause::Timeout);
        // The request stays where it is: the server still does the work, and its slot is
        // freed when the (ignored) response reaches the load balancer.
    }

    fn client_complete(&mut self, id: u32) {
        let r = &mut self.reqs[id as usize];
        r.waiting = false;
        let (issued, user) = (r.issued, r.user);
        let measured = issued >= self.cfg.warmup;
        self.all.completed += 1;
        if measured {
            self.measured.completed += 1;
            let lat = (self.now - issued).as_nanos();
            self.latency.saturating_record(lat.clamp(1, HIST_MAX_NS));
            self.latency_sum_ns += u128::from(lat);
        }
        self.user_next(user);
    }

    fn client_fail(&mut self, id: u32, cause: ErrorCause) {
        let r = &mut self.reqs[id as usize];
        r.waiting = false;
        let (issued, user) = (r.issued, r.user);
        self.all.failed[cause.index()] += 1;
        if issued >= self.cfg.warmup {
            self.measured.failed[cause.index()] += 1;
        }
        self.user_next(user);
    }

    /// A closed-loop user thinks, then sends its next request.
    fn user_next(&mut self, user: u32) {
        if user == NO_USER {
            return;
        }
        if let Load::Closed { think, .. } = &self.cfg.clients.load {
            let t = SimTime::from_nanos_f64(think.sample(&mut self.rng_think));
            self.q.push(self.now + t, Ev::UserReady { user });
        }
    }

    fn free_req(&mut self, id: u32) {
        let r = &mut self.reqs[id as usize];
        r.phase = Phase::Free;
        r.waiting = false;
        r.generation = r.generation.wrapping_add(1);
        self.free.push(id);
    }

    /// Applies membership change `index`, tells the balancers, and records how many probe
    /// keys a fresh balancer maps elsewhere afterwards.
    fn change(&mut self, index: usize) {
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
        }
        let adding = matches!(change.action, ChangeAction::Add { .. });
        for &id in &touched {
            let (warmup, now) = (self.cfg.warmup, self.now);
            let s = &mut self.servers[id];
            if adding {
                s.member = true;
                s.ever_member = true;
                s.member_since = now;
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
        let after = if keyed { self.probe_map() } else { Vec::new() };
        let sticky = self.routes.iter().any(|r| r.sticky);
        let live = self.cookies.iter().filter(|&&c| c != NONE).count();
        let pinned_away = if adding {
            0
        } else {
            self.cookies
                .iter()
                .filter(|&&c| c != NONE && touched.contains(&(c as usize)))
                .count()
        };
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        let list: Vec<&str> = touched.iter().map(|&i| names[i].0.as_str()).collect();
        self.changes.push(ChangeRow {
            at_s: self.now.as_secs_f64(),
            action: format!(
                "{} {}",
                if adding { "add" } else { "remove" },
                if list.is_empty() {
                    "(nothing)".into()
                } else {
                    list.join(" ")
                }
            ),
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
    fn probe_map(&self) -> Vec<Option<u32>> {
        let backends: Vec<Backend> = self
            .servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.member)
            .map(|(id, s)| Backend {
                id: id as u32,
                weight: self.cfg.groups[s.group].weight,
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
                    client_ip: self.population.ip(client, self.now),
                    client,
                    key: Some(k),
                    ..RequestInfo::default()
                };
                lb.pick(self.now, &view, &info).map(|i| backends[i].id)
            })
            .collect()
    }

    /// Nanoseconds of `[a, b]` inside the measured window `[warmup, duration]`.
    #[inline]
    fn window_overlap(&self, a: SimTime, b: SimTime) -> u64 {
        let lo = a.max(self.cfg.warmup);
        let hi = b.min(self.cfg.duration);
        (hi - lo).as_nanos()
    }

    /// Closes the books: partial busy time, invariant checks, and the result.
    fn finish(mut self) -> Result<RepResult, RunError> {
        let n = self.servers.len();
        let mut in_service = vec![0u32; n];
        let mut queued = vec![0u32; n];
        let mut lb_in_flight = vec![0u32; self.in_flight.len()];
        let (mut out_all, mut out_measured) = (0u64, 0u64);
        for i in 0..self.reqs.len() {
            let r = self.reqs[i];
            if r.phase == Phase::Free {
                continue;
            }
            if r.waiting {
                out_all += 1;
                if self.measured(&r) {
                    out_measured += 1;
                }
                if r.server != u32::MAX {
                    lb_in_flight[self.node_of(r.client) * n + r.server as usize] += 1;
                }
            }
            match r.phase {
                Phase::InService => {
                    in_service[r.server as usize] += 1;
                    let busy = self.window_overlap(r.started, self.now);
                    self.servers[r.server as usize].busy_ns += busy;
                }
                Phase::Queued => queued[r.server as usize] += 1,
                Phase::AtLb => {
                    return Err(RunError::Invariant(format!(
                        "request {i} stranded at the load balancer"
                    )));
                }
                _ => {}
            }
        }
        check_books("whole run", &self.all, out_all)?;
        check_books("measured window", &self.measured, out_measured)?;
        for s in 0..n {
            let srv = &self.servers[s];
            if srv.busy != in_service[s]
                || srv.queue.len() != queued[s] as usize
                || srv.busy > srv.slots
            {
                return Err(RunError::Invariant(format!(
                    "server {s}: busy {} / in service {}, queue {} / queued {}, slots {}",
                    srv.busy,
                    in_service[s],
                    srv.queue.len(),
                    queued[s],
                    srv.slots
                )));
            }
        }
        for (i, (&counted, &outstanding)) in self.in_flight.iter().zip(&lb_in_flight).enumerate() {
            if counted != outstanding {
                return Err(RunError::Invariant(format!(
                    "load balancer node {} counts {counted} in flight to server {} but {outstanding} are outstanding",
                    i / n + 1,
                    i % n
                )));
            }
        }
        let reported = matches!(self.cfg.lb.view, LbView::Reported { .. });
        for (ri, r) in self.routes.iter().enumerate() {
            let node = ri / self.n_pools;
            for b in &r.backends {
                let want = if reported {
                    self.reported[b.id as usize]
                } else {
                    self.in_flight[node * n + b.id as usize]
                };
                if b.in_flight != want || !self.servers[b.id as usize].member {
                    return Err(RunError::Invariant(format!(
                        "pool view of server {} is stale",
                        b.id
                    )));
                }
            }
        }
        let (warmup, end) = (self.cfg.warmup, self.cfg.duration);
        for s in &mut self.servers {
            if s.member {
                s.member_ns += (end - s.member_since.max(warmup)).as_nanos();
            }
        }
        Ok(self.result(out_measured))
    }

    fn result(&self, in_flight_end: u64) -> RepResult {
        let cfg = self.cfg;
        let window_s = (cfg.duration - cfg.warmup).as_secs_f64();
        let mut v = vec![f64::NAN; N_METRICS];
        let m = &self.measured;
        let errors: u64 = m.failed.iter().sum();
        v[M::Throughput as usize] = m.completed as f64 / window_s;
        v[M::Issued as usize] = m.issued as f64;
        v[M::Completed as usize] = m.completed as f64;
        v[M::Errors as usize] = errors as f64;
        if m.issued > 0 {
            v[M::ErrorRate as usize] = 100.0 * errors as f64 / m.issued as f64;
        }
        v[M::ErrorsRejected as usize] = m.failed[ErrorCause::Rejected.index()] as f64;
        v[M::ErrorsTimeout as usize] = m.failed[ErrorCause::Timeout.index()] as f64;
        v[M::ErrorsNoBackend as usize] = m.failed[ErrorCause::NoBackend.index()] as f64;
        v[M::InFlightEnd as usize] = in_flight_end as f64;
        let h = &self.latency;
        if !h.is_empty() {
            let ms = |ns: u64| ns as f64 * 1e-6;
            v[M::LatencyMean as usize] = self.latency_sum_ns as f64 / h.len() as f64 * 1e-6;
            v[M::LatencyP50 as usize] = ms(h.value_at_quantile(0.5));
            v[M::LatencyP90 as usize] = ms(h.value_at_quantile(0.9));
            v[M::LatencyP99 as usize] = ms(h.value_at_quantile(0.99));
            v[M::LatencyP999 as usize] = ms(h.value_at_quantile(0.999));
            v[M::LatencyMax as usize] = ms(h.max());
        }
        if self.n_started > 0 {
            v[M::WaitMean as usize] = self.wait_sum_ns as f64 / self.n_started as f64 * 1e-6;
            v[M::ServiceMean as usize] = self.service_sum_ns as f64 / self.n_started as f64 * 1e-6;
        }
        let names = cfg.server_names();
        let total_req: u64 = self.servers.iter().map(|s| s.n_requests).sum();
        let total_busy: u64 = self.servers.iter().map(|s| s.busy_ns).sum();
        let mut servers = Vec::with_capacity(self.servers.len());
        let (mut busy_total, mut cap_total) = (0.0, 0.0);
        for (s, (name, g)) in self.servers.iter().zip(names) {
            let busy_s = s.busy_ns as f64 * 1e-9;
            let cap = f64::from(s.slots) * s.member_ns as f64 * 1e-9;
            busy_total += busy_s;
            cap_total += cap;
            let lookups = s.n_hits + s.n_misses;
            servers.push(ServerRow {
                name,
                group: cfg.groups[g].name.clone(),
                requests: s.n_requests,
                share: if total_req > 0 {
                    s.n_requests as f64 / total_req as f64
                } else {
                    f64::NAN
                },
                busy_s,
                busy_share: if total_busy > 0 {
                    s.busy_ns as f64 / total_busy as f64
                } else {
                    f64::NAN
                },
                utilization: if cap > 0.0 {
                    100.0 * busy_s / cap
                } else {
                    f64::NAN
                },
                rejected: s.n_rejected,
                cache_hit_ratio: if lookups > 0 {
                    100.0 * s.n_hits as f64 / lookups as f64
                } else {
                    f64::NAN
                },
            });
        }
        if cap_total > 0.0 {
            v[M::Utilization as usize] = 100.0 * busy_total / cap_total;
        }
        // Imbalance over the servers that were in the pool at some point.
        let present: Vec<&Server> = self.servers.iter().filter(|s| s.ever_member).collect();
        let reqs: Vec<f64> = present.iter().map(|s| s.n_requests as f64).collect();
        let busy: Vec<f64> = present.iter().map(|s| s.busy_ns as f64).collect();
        let (a, b, c) = imbalance(&reqs);
        v[M::ReqMaxMean as usize] = a;
        v[M::ReqCov as usize] = b;
        v[M::ReqJain as usize] = c;
        let (a, b, c) = imbalance(&busy);
        v[M::BusyMaxMean as usize] = a;
        v[M::BusyCov as usize] = b;
        v[M::BusyJain as usize] = c;
        v[M::SessionsBroken as usize] = self.sessions_broken as f64;
        v[M::SessionsLost as usize] = self.sessions_lost as f64;
        let (hits, misses): (u64, u64) = self
            .servers
            .iter()
            .fold((0, 0), |(h, m), s| (h + s.n_hits, m + s.n_misses));
        if hits + misses > 0 {
            v[M::CacheHitRatio as usize] = 100.0 * hits as f64 / (hits + misses) as f64;
        }
        let remaps: Vec<f64> = self
            .changes
            .iter()
            .map(|c| c.keys_remapped)
            .filter(|x| x.is_finite())
            .collect();
        if !remaps.is_empty() {
            v[M::KeysRemapped as usize] = 100.0 * remaps.iter().sum::<f64>() / remaps.len() as f64;
        }
        RepResult {
            values: v,
            servers,
            changes: self.changes.clone(),
        }
    }
}

fn check_books(what: &str, c: &Counts, outstanding: u64) -> Result<(), RunError> {
    let failed: u64 = c.failed.iter().sum();
    if c.issued != c.completed + failed + outstanding {
        return Err(RunError::Invariant(format!(
            "{what}: issued {} != completed {} + failed {} + in flight {}",
            c.issued, c.completed, failed, outstanding
        )));
    }
    Ok(())
}
