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
use crate::metrics::{ErrorCause, M, N_CAUSES, N_METRICS, RepResult, ServerRow};

use super::config::{Load, RateSchedule, WorldConfig};
use super::dist::Dist;

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
    user: u32,
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
    q: EventQueue<Ev>,
    now: SimTime,
    rng_arrivals: SimRng,
    rng_class: SimRng,
    rng_service: Vec<SimRng>,
    rng_think: SimRng,
    rng_net: SimRng,
    arrivals: Option<Arrivals>,
    class_cum: Vec<f64>,
    servers: Vec<Server>,
    /// One balancer per pool (pool 0 is every server); each sees its slice of `pool`.
    balancers: Vec<Box<dyn Balancer>>,
    /// Server id range `[lo, hi)` of each balancer's pool.
    routes: Vec<(usize, usize)>,
    /// The route of each class.
    class_route: Vec<usize>,
    pool: Vec<Backend>,
    reqs: Vec<Request>,
    free: Vec<u32>,
    all: Counts,
    measured: Counts,
    latency: Histogram<u64>,
    latency_sum_ns: u128,
    wait_sum_ns: u128,
    service_sum_ns: u128,
    n_started: u64,
}

impl<'c> World<'c> {
    /// Builds replication `replication` of `cfg` with randomness from `seeds`.
    pub fn new(cfg: &'c WorldConfig, seeds: &SeedTree, replication: u32) -> World<'c> {
        let stream = |label: &str| seeds.stream(replication, label);
        let mut servers = Vec::with_capacity(cfg.n_servers());
        let mut pool = Vec::with_capacity(cfg.n_servers());
        for (gi, g) in cfg.groups.iter().enumerate() {
            for _ in 0..g.count {
                pool.push(Backend {
                    id: servers.len() as u32,
                    weight: g.weight,
                    in_flight: 0,
                    available: true,
                });
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
        let mut routes = vec![(0, servers.len())];
        let mut route_groups = vec![None];
        let class_route = cfg
            .classes
            .iter()
            .map(|c| match c.pool {
                None => 0,
                Some(g) => match route_groups.iter().position(|r| *r == Some(g)) {
                    Some(i) => i,
                    None => {
                        routes.push(cfg.group_range(g));
                        route_groups.push(Some(g));
                        routes.len() - 1
                    }
                },
            })
            .collect();
        let balancers = route_groups
            .iter()
            .map(|g| {
                let label = match g {
                    None => "balancer/lb-1".to_string(),
                    Some(g) => format!("balancer/lb-1/{}", cfg.groups[*g].name),
                };
                cfg.algorithm.build(stream(&label))
            })
            .collect();
        let arrivals = match &cfg.clients.load {
            Load::Open(s) => Some(Arrivals::new(s)),
            Load::Closed { .. } => None,
        };
        World {
            cfg,
            q: EventQueue::new(),
            now: SimTime::ZERO,
            rng_arrivals: stream("arrivals"),
            rng_class: stream("classes"),
            rng_service: cfg
                .classes
                .iter()
                .map(|c| stream(&format!("service/{}", c.name)))
                .collect(),
            rng_think: stream("think"),
            rng_net: stream("network"),
            arrivals,
            class_cum,
            servers,
            balancers,
            routes,
            class_route,
            pool,
            reqs: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            all: Counts::default(),
            measured: Counts::default(),
            latency: Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("valid histogram bounds"),
            latency_sum_ns: 0,
            wait_sum_ns: 0,
            service_sum_ns: 0,
            n_started: 0,
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
        let u = self.rng_class.next_f64();
        let class = self.class_cum.iter().position(|&c| u < c).unwrap_or(0);
        let work_ns = self.cfg.classes[class]
            .service
            .sample(&mut self.rng_service[class]);
        let req = Request {
            issued: self.now,
            dispatched: SimTime::ZERO,
            at_server: SimTime::ZERO,
            started: SimTime::ZERO,
            work_ns,
            user,
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
        let r = &self.reqs[id as usize];
        let info = RequestInfo {
            client: r.user,
            class: r.class,
            ..RequestInfo::default()
        };
        let route = self.class_route[r.class as usize];
        let (lo, hi) = self.routes[route];
        let pick = self.balancers[route].pick(self.now, &PoolView::new(&self.pool[lo..hi]), &info);
        let Some(idx) = pick.map(|i| i + lo) else {
            self.client_fail(id, ErrorCause::NoBackend);
            self.free_req(id);
            return;
        };
        debug_assert!(
            self.pool[idx].eligible(),
            "balancer picked an ineligible backend"
        );
        self.pool[idx].in_flight += 1;
        let server = self.pool[idx].id;
        let measured = self.measured(&self.reqs[id as usize]);
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
        let srv = &mut self.servers[s];
        srv.busy += 1;
        let speed = srv.speed;
        let measured = self.measured(&self.reqs[id as usize]);
        let r = &mut self.reqs[id as usize];
        r.phase = Phase::InService;
        r.started = self.now;
        let service = SimTime::from_nanos_f64(r.work_ns / speed);
        if measured {
            self.wait_sum_ns += u128::from((self.now - r.at_server).as_nanos());
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
        let r = &self.reqs[id as usize];
        let idx = r.server as usize;
        debug_assert!(self.pool[idx].in_flight > 0);
        self.pool[idx].in_flight -= 1;
        let outcome = Outcome {
            ok,
            rtt: self.now - r.dispatched,
        };
        let route = self.class_route[r.class as usize];
        let lo = self.routes[route].0;
        let view = PoolView::new(&self.pool[lo..self.routes[route].1]);
        self.balancers[route].on_response(self.now, &view, idx - lo, outcome);
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
        let mut lb_in_flight = vec![0u32; n];
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
                    lb_in_flight[r.server as usize] += 1;
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
            if self.pool[s].in_flight != lb_in_flight[s] {
                return Err(RunError::Invariant(format!(
                    "load balancer counts {} in flight to server {s} but {} are outstanding",
                    self.pool[s].in_flight, lb_in_flight[s]
                )));
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
        let mut servers = Vec::with_capacity(self.servers.len());
        let (mut busy_total, mut cap_total) = (0.0, 0.0);
        for (s, (name, g)) in self.servers.iter().zip(names) {
            let busy_s = s.busy_ns as f64 * 1e-9;
            let cap = f64::from(s.slots) * window_s;
            busy_total += busy_s;
            cap_total += cap;
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
                utilization: 100.0 * busy_s / cap,
                rejected: s.n_rejected,
            });
        }
        v[M::Utilization as usize] = 100.0 * busy_total / cap_total;
        let reqs: Vec<f64> = self.servers.iter().map(|s| s.n_requests as f64).collect();
        let busy: Vec<f64> = self.servers.iter().map(|s| s.busy_ns as f64).collect();
        let (a, b, c) = imbalance(&reqs);
        v[M::ReqMaxMean as usize] = a;
        v[M::ReqCov as usize] = b;
        v[M::ReqJain as usize] = c;
        let (a, b, c) = imbalance(&busy);
        v[M::BusyMaxMean as usize] = a;
        v[M::BusyCov as usize] = b;
        v[M::BusyJain as usize] = c;
        RepResult { values: v, servers }
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
