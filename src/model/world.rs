//! One replication of a world: clients, a load balancer node and servers on the event queue.
//!
//! A request's life: a client issues it → the load balancer asks its [`Balancer`] for a
//! backend and counts it in flight → (network delay) → the server queues it FIFO and serves
//! it on one of its `slots` workers for `work / speed` → (network delay) → the load balancer
//! sees the outcome, feeds it back to the balancer → the client records latency or an error.
//! A client timeout fails the request for the client (and the load balancer stops counting
//! it), but the server still does the work: that is what makes timeouts expensive.
//!
//! A client request is served by one or more *attempts*. When an attempt fails (refused,
//! an error status, the load balancer's upstream timeout) the retry policy may send another
//! attempt to another server; an attempt the load balancer gives up on is *orphaned*: the
//! server still spends its work, and its answer is dropped. Injected failures act on
//! servers: a crash resets every attempt on it and refuses new ones, a hang swallows them,
//! a partition drops messages both ways, a slow server multiplies service times, an
//! erroring one answers a share of requests with an error status at once, and a draining
//! one takes no new requests and cuts the rest after its deregistration delay.
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

mod tier;
mod trace;

pub use trace::{ServerMoment, TraceLine};

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use rand_distr::{Distribution, Exp1};

use crate::balancer::{Backend, Balancer, Outcome, OutcomeKind, PoolView, RequestInfo};
use crate::engine::{EventQueue, SeedTree, SimRng, SimTime};
use crate::metrics::imbalance::imbalance;
use crate::metrics::{
    Bucket, ChangeRow, ErrorCause, FailoverRow, HealthRow, M, N_CAUSES, N_METRICS, RepResult,
    ServerRow,
};

use super::cache::Lru;
use super::config::{
    ActiveStyle, ChangeAction, CheckType, FailureKind, FailureTiming, LbView, Load, RateSchedule,
    SessionState, SlowStartStyle, WorldConfig,
};
use super::dist::Dist;
use super::population::{Population, ZipfIndex};
use crate::health::envoy::EnvoyChecker;
use crate::health::haproxy::HaproxyChecker;
use crate::health::outlier::{OutlierAction, OutlierDetector};
use crate::health::{ActiveChecker, CheckAction, ProbeResult};
use tier::{LOST, Path, Tier};
use trace::ms;

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

/// One scheduled happening; 24 bytes. The run loop reads it where the queue's heap put it
/// (`EventQueue::pop_entry`): re-laying it out into a `(time, event)` tuple cost a
/// store-forwarding stall per event, about 8% of the whole run.
#[derive(Copy, Clone, Debug)]
enum Ev {
    /// The next open-loop arrival.
    Arrival,
    /// A closed-loop user finished thinking.
    UserReady { user: u32 },
    /// An attempt reaches its server.
    ToServer { att: u32, generation: u32 },
    /// A server finished an attempt it started in server epoch `epoch`.
    ServiceDone {
        att: u32,
        generation: u32,
        epoch: u32,
    },
    /// A server's answer reaches the load balancer.
    ToLb {
        att: u32,
        generation: u32,
        reply: Reply,
    },
    /// A client's deadline for a request.
    ClientTimeout { creq: u32, generation: u32 },
    /// The load balancer's deadline for an attempt.
    UpstreamTimeout { att: u32, generation: u32 },
    /// Membership change number `index` takes effect.
    Change { index: u32 },
    /// Servers report their load (`view = reported`).
    Report,
    /// Failure `spec` starts (`recover = false`) or ends on `server`.
    Fault {
        spec: u16,
        server: u32,
        recover: bool,
    },
    /// A flapping server goes down or comes back.
    Flap { server: u32, down: bool },
    /// A draining server's deregistration delay is over.
    DrainCut { server: u32, epoch: u32 },
    /// Active checker `idx` (`node * n + server`) asked to be woken now.
    CheckTimer { idx: u32 },
    /// A probe's answer reaches checker `idx`.
    ProbeDone {
        probe: u64,
        idx: u32,
        result: ProbeResult,
    },
    /// Node `node`'s outlier detector ticks.
    OutlierTick { node: u32 },
    /// Slow-start weights are recomputed (every second while a server ramps up).
    SlowStartTick,
    /// Failure `spec` starts (`recover = false`) or ends on load balancer node `node`.
    LbFault { spec: u16, node: u32, recover: bool },
    /// Node `node`'s VRRP instance asked to be woken now.
    VrrpTimer { node: u32 },
    /// A VRRP advertisement from node `from` reaches its peers.
    Advert {
        interval: SimTime,
        from: u32,
        priority: u32,
    },
    /// The DNS health check probes node `node`.
    DnsProbe { node: u32 },
    /// Node `node`'s anycast route is withdrawn or announced (if the node is still in
    /// restart epoch `epoch`).
    Route { node: u32, live: bool, epoch: u32 },
    /// Node `node`'s CPU finished processing request `creq` (if both are still current).
    LbCpuDone {
        creq: u32,
        generation: u32,
        node: u32,
        epoch: u32,
    },
}

/// What a server's answer says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Reply {
    Ok,
    Status(u16),
    /// The server's queue was full: HTTP 503, counted as a rejection.
    QueueFull,
    Refused,
}

impl Reply {
    fn kind(self) -> OutcomeKind {
        match self {
            Reply::Ok => OutcomeKind::Success,
            Reply::Status(s) => OutcomeKind::Status(s),
            Reply::QueueFull => OutcomeKind::Status(503),
            Reply::Refused => OutcomeKind::Refused,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Free,
    ToServer,
    Queued,
    InService,
    ToLb,
    /// Swallowed by a black hole or a partition: nothing will ever come back.
    Lost,
}

/// What a client asked for, across all attempts.
#[derive(Copy, Clone, Debug)]
struct ClientReq {
    issued: SimTime,
    work_ns: f64,
    hit_work_ns: f64,
    key: u64,
    user: u32,
    client: u32,
    /// The attempt the load balancer is waiting for, or `NONE`.
    attempt: u32,
    /// The server of the previous attempt (avoided by retries), or `NONE`.
    last_server: u32,
    /// The load balancer node handling it, or `LOST` (sent into a dead path).
    node: u32,
    generation: u32,
    class: u16,
    attempts: u16,
    /// The client is still waiting.
    waiting: bool,
}

/// One try of a request on one server. An attempt the load balancer gave up on (timeout,
/// retry, client gone) is *orphaned*: the server still does its work, the answer is dropped.
#[derive(Copy, Clone, Debug)]
struct Attempt {
    /// The client request it serves, or `NONE` once orphaned.
    creq: u32,
    dispatched: SimTime,
    at_server: SimTime,
    started: SimTime,
    work_ns: f64,
    hit_work_ns: f64,
    key: u64,
    client: u32,
    server: u32,
    node: u32,
    generation: u32,
    pool: u16,
    phase: Phase,
    measured: bool,
    retry: bool,
}

const NO_USER: u32 = u32::MAX;

/// How a class draws its request keys.
enum KeyDraw {
    /// `keys = { count, zipf }`: a Zipf-skewed draw.
    Zipf(ZipfIndex),
    /// `keys = { by = "client" }`: the client is the key.
    Client,
}

struct Server {
    speed: f64,
    /// Its weight for the load balancers: the group's, until a `reweight` change.
    weight: u32,
    slots: u32,
    queue_cap: u32,
    group: usize,
    busy: u32,
    queue: VecDeque<u32>,
    in_service: Vec<u32>,
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
    /// Bumped when the server crashes or hangs: work started before never completes.
    epoch: u32,
    crashed: bool,
    hung: bool,
    partitioned: bool,
    draining: bool,
    flapping: bool,
    slow: f64,
    err_rate: f64,
    err_status: u16,
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
    /// The balancer carries nginx's passive check (`max_fails`): poll it after responses.
    passive: bool,
    /// Backends its passive check has out now. A change needs a failed attempt or a
    /// success of a backend that is out, so successes are not polled while this is 0.
    passive_out: u32,
}

/// A failure as it happened, for the failover report.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultRecord {
    /// Index of the failure in the scenario.
    pub spec: usize,
    /// Server id.
    pub server: u32,
    /// When it started.
    pub start: SimTime,
    /// When it ended (`None`: still failed at the end).
    pub end: Option<SimTime>,
    /// Attempts sent to the server while it was failed.
    pub sent: u64,
    /// Of those, attempts that failed.
    pub failed: u64,
}

/// A change of a server's health as one load balancer node sees it.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct HealthEvent {
    /// When.
    pub at: SimTime,
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

/// Client requests and their attempts, in reused slabs.
struct Book {
    creqs: Vec<ClientReq>,
    free_creqs: Vec<u32>,
    atts: Vec<Attempt>,
    free_atts: Vec<u32>,
    /// Client requests waiting, and retry attempts the load balancer is waiting for.
    n_waiting: u32,
    n_retries_active: u32,
}

/// The client population and what it asks for.
struct Clients {
    population: Population,
    arrivals: Option<Arrivals>,
    class_cum: Vec<f64>,
    /// Per class: how its request keys are drawn, and its first key number.
    class_keys: Vec<Option<(KeyDraw, u64)>>,
    rng_arrivals: SimRng,
    rng_class: SimRng,
    rng_service: Vec<SimRng>,
    rng_hit: Vec<SimRng>,
    rng_keys: Vec<SimRng>,
    rng_think: SimRng,
    rng_who: SimRng,
    /// Per client: time of its last request (`SimTime::MAX`: never).
    last_seen: Vec<SimTime>,
    /// Per (client, pool): the server named by the client's cookie, or `NONE`.
    cookies: Vec<u32>,
    /// Per (client, pool): the server holding the client's session state, or `NONE`.
    session_server: Vec<u32>,
}

/// The service behind the load balancer tier: its pools, their balancers and what each
/// node believes about its servers.
struct Service {
    /// Attempts in flight to each server as each node counts them: `[node * n + id]`.
    in_flight: Vec<u32>,
    /// Server loads (in service + queued) at the last report (`view = reported`).
    reported: Vec<u32>,
    /// One balancer per (node, pool): `routes[node * n_pools + pool]`.
    routes: Vec<Route>,
    /// Number of pools (pool 0 is every server; then one per group some class is routed to).
    n_pools: usize,
    /// The pool of each class.
    class_route: Vec<usize>,
    /// Active checkers, `[node * n + server]` (empty without active checks).
    checkers: Vec<Box<dyn ActiveChecker>>,
    /// When each checker's timer event is due (stale timer events are ignored).
    check_due: Vec<SimTime>,
    /// Health as each node's checks see it, `[node * n + server]`.
    health_up: Vec<bool>,
    /// Outlier detectors, one per node (empty without outlier detection).
    outliers: Vec<OutlierDetector>,
    outlier_due: Vec<SimTime>,
    /// Ejected by outlier detection, `[node * n + server]`.
    ejected: Vec<bool>,
    /// When each `[node * n + server]` came back into rotation (slow start), or MAX.
    ramp_since: Vec<SimTime>,
    slow_tick_armed: bool,
    rng_probes: SimRng,
}

/// Injected failures as they happened.
struct Faults {
    records: Vec<FaultRecord>,
    /// Per server: index in `records` of the fault it is in, or `NONE`.
    open: Vec<u32>,
    /// Per failure: its random timings.
    rng: Vec<SimRng>,
    /// Which requests an erroring server fails.
    rng_errors: SimRng,
}

/// What the run measures.
struct Stats {
    all: Counts,
    measured: Counts,
    latency: Histogram<u64>,
    latency_sum_ns: u128,
    wait_sum_ns: u128,
    service_sum_ns: u128,
    n_started: u64,
    sessions_broken: u64,
    sessions_lost: u64,
    n_attempts_measured: u64,
    n_retries_measured: u64,
    changes: Vec<ChangeRow>,
    health_log: Vec<HealthEvent>,
    /// Time-series bucket width.
    bucket_ns: u64,
    /// Per bucket: completions and errors.
    ts_done: Vec<u32>,
    ts_errors: Vec<u32>,
    /// Per bucket: a coarse log histogram of latencies (`TS_BINS` bins) for its p99.
    ts_bins: Vec<u32>,
}

/// One replication of a world, ready to [`run`](World::run).
pub struct World<'c, const TRACE: bool = false> {
    cfg: &'c WorldConfig,
    seeds: SeedTree,
    replication: u32,
    q: EventQueue<Ev>,
    now: SimTime,
    rng_net: SimRng,
    rng_store: SimRng,
    rng_tier: SimRng,
    /// The load balancer tier: nodes up or down, and the HA machines.
    tier: Tier,
    /// `lblab trace`'s recorder (`None` in ordinary runs).
    tracer: Option<Box<trace::Tracer>>,
    clients: Clients,
    servers: Vec<Server>,
    svc: Service,
    book: Book,
    faults: Faults,
    stats: Stats,
}

/// Log-spaced latency bins per time bucket: eighth-octave bins (about 9% wide) from 2¹⁰ ns
/// (1 µs) up, 32 octaves (to ~73 min); computed from the bits, no logarithm.
const TS_BINS: usize = 256;
const TS_LO_EXP: u32 = 10;

/// The bin of a latency: its binary exponent and the next three mantissa bits.
#[inline]
fn ts_bin(ns: u64) -> usize {
    let ns = ns.max(1 << TS_LO_EXP);
    let e = 63 - ns.leading_zeros();
    let m = (ns >> (e - 3)) & 7;
    (((e - TS_LO_EXP) as usize) * 8 + m as usize).min(TS_BINS - 1)
}

/// The upper edge of bin `b`, in nanoseconds.
fn ts_bin_edge(b: usize) -> f64 {
    let (e, m) = (b / 8 + TS_LO_EXP as usize, b % 8);
    (8 + m + 1) as f64 * 2f64.powi(e as i32 - 3)
}
/// At most this many time buckets (at least 1 s wide each).
const TS_MAX_BUCKETS: u64 = 2000;

impl<'c> World<'c> {
    /// Builds replication `replication` of `cfg` with randomness from `seeds`.
    pub fn new(cfg: &'c WorldConfig, seeds: &SeedTree, replication: u32) -> World<'c> {
        World::build(cfg, seeds, replication)
    }
}

impl<'c, const TRACE: bool> World<'c, TRACE> {
    /// Builds the world; `TRACE` compiles `lblab trace`'s hooks in (`World::new` leaves
    /// them out, so ordinary runs do not pay for them).
    fn build(cfg: &'c WorldConfig, seeds: &SeedTree, replication: u32) -> World<'c, TRACE> {
        let stream = |label: &str| seeds.stream(replication, label);
        let mut servers = Vec::with_capacity(cfg.n_allocated());
        for (gi, g) in cfg.groups.iter().enumerate() {
            for i in 0..g.count + g.spare {
                let member = i < g.count;
                servers.push(Server {
                    speed: g.speed,
                    weight: g.weight,
                    slots: g.slots,
                    queue_cap: g.queue,
                    group: gi,
                    busy: 0,
                    queue: VecDeque::new(),
                    in_service: Vec::with_capacity(g.slots.min(1024) as usize),
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
                    epoch: 0,
                    crashed: false,
                    hung: false,
                    partitioned: false,
                    draining: false,
                    flapping: false,
                    slow: 1.0,
                    err_rate: 0.0,
                    err_status: 500,
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
                    key_base += k.span();
                    let draw = if k.by_client {
                        KeyDraw::Client
                    } else {
                        KeyDraw::Zipf(ZipfIndex::new(k.count, k.zipf))
                    };
                    (draw, base)
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
                    passive: alg.passive_checks().is_some(),
                    passive_out: 0,
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
            rng_net: stream("network"),
            rng_store: stream("session-store"),
            rng_tier: stream("lb-tier"),
            tier: Tier::new(cfg, n_clients),
            tracer: None,
            clients: Clients {
                population,
                arrivals,
                class_cum,
                class_keys,
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
                rng_who: stream("clients"),
                last_seen: vec![SimTime::MAX; n_clients],
                cookies: vec![NONE; n_clients * n_pools],
                session_server: vec![NONE; n_clients * n_pools],
            },
            svc: Service {
                in_flight: vec![0; servers.len() * cfg.lb.nodes as usize],
                reported: vec![0; servers.len()],
                routes,
                n_pools,
                class_route,
                checkers: Vec::new(),
                check_due: Vec::new(),
                health_up: Vec::new(),
                outliers: Vec::new(),
                outlier_due: Vec::new(),
                ejected: Vec::new(),
                ramp_since: Vec::new(),
                slow_tick_armed: false,
                rng_probes: stream("health/probes"),
            },
            servers,
            book: Book {
                creqs: Vec::with_capacity(1024),
                free_creqs: Vec::with_capacity(1024),
                atts: Vec::with_capacity(1024),
                free_atts: Vec::with_capacity(1024),
                n_waiting: 0,
                n_retries_active: 0,
            },
            faults: Faults {
                records: Vec::new(),
                open: Vec::new(),
                rng: (0..cfg.failures.len())
                    .map(|i| stream(&format!("failures/{i}")))
                    .collect(),
                rng_errors: stream("failures/errors"),
            },
            stats: Stats {
                all: Counts::default(),
                measured: Counts::default(),
                latency: Histogram::new_with_bounds(1, HIST_MAX_NS, 3)
                    .expect("valid histogram bounds"),
                latency_sum_ns: 0,
                wait_sum_ns: 0,
                service_sum_ns: 0,
                n_started: 0,
                sessions_broken: 0,
                sessions_lost: 0,
                n_attempts_measured: 0,
                n_retries_measured: 0,
                changes: Vec::new(),
                health_log: Vec::new(),
                bucket_ns: 0,
                ts_done: Vec::new(),
                ts_errors: Vec::new(),
                ts_bins: Vec::new(),
            },
        };
        let d = cfg.duration.as_nanos();
        let per_bucket = d.div_ceil(TS_MAX_BUCKETS).max(1_000_000_000);
        w.stats.bucket_ns = per_bucket.div_ceil(1_000_000_000) * 1_000_000_000;
        let n_buckets = d.div_ceil(w.stats.bucket_ns).max(1) as usize;
        w.stats.ts_done = vec![0; n_buckets];
        w.stats.ts_errors = vec![0; n_buckets];
        w.stats.ts_bins = vec![0; n_buckets * TS_BINS];
        let n = w.servers.len();
        let nodes = cfg.lb.nodes as usize;
        w.faults.open = vec![NONE; n];
        w.svc.ramp_since = vec![SimTime::MAX; n * nodes];
        w.svc.health_up = vec![true; n * nodes];
        w.svc.ejected = vec![false; n * nodes];
        if let Some(h) = &cfg.health.active {
            for node in 0..nodes {
                for id in 0..n {
                    let rng = stream(&format!("health/lb-{}/{id}", node + 1));
                    let c: Box<dyn ActiveChecker> = match &h.style {
                        ActiveStyle::Haproxy(c) => {
                            Box::new(HaproxyChecker::new(*c, SimTime::ZERO, rng))
                        }
                        ActiveStyle::Envoy(c) => {
                            Box::new(EnvoyChecker::new(c.clone(), SimTime::ZERO, rng))
                        }
                    };
                    let mut c = c;
                    // The simulated cluster serves traffic from the start, so Envoy's
                    // no-traffic intervals do not apply (HAProxy ignores this without observe).
                    if matches!(h.style, ActiveStyle::Envoy(_)) {
                        c.observe_traffic(SimTime::ZERO, true);
                    }
                    w.svc.health_up[node * n + id] = c.is_up();
                    w.svc.checkers.push(c);
                }
            }
            w.svc.check_due = vec![SimTime::MAX; w.svc.checkers.len()];
        }
        if let Some(o) = &cfg.health.outlier {
            for node in 0..nodes {
                w.svc.outliers.push(OutlierDetector::new(
                    o.clone(),
                    n,
                    SimTime::ZERO,
                    stream(&format!("outlier/lb-{}", node + 1)),
                ));
            }
            w.svc.outlier_due = vec![SimTime::MAX; nodes];
        }
        w.rebuild_routes();
        w
    }

    /// Whether node `node` may send new requests to server `id`: not draining, and healthy
    /// by its checks and outlier detection, unless the node is in panic (Envoy: too few
    /// healthy servers, so it balances over all of them).
    #[inline]
    fn available(&self, node: usize, id: usize) -> bool {
        let i = node * self.servers.len() + id;
        !self.servers[id].draining
            && ((self.svc.health_up[i] && !self.svc.ejected[i]) || self.in_panic(node))
    }

    /// The weight node `node`'s balancers see for server `id`. With slow start configured,
    /// weights run at 16× scale (HAProxy's BE_WEIGHT_SCALE) so a ramping server can carry a
    /// fraction of its weight; ratios between servers are unchanged.
    fn weight(&self, node: usize, id: usize) -> u32 {
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
    fn start_ramp(&mut self, node: usize, id: usize) {
        if self.cfg.health.slow_start.is_none() {
            return;
        }
        self.svc.ramp_since[node * self.servers.len() + id] = self.now;
        self.arm_slow_tick();
    }

    /// Keeps a one-second tick running while any server ramps up.
    fn arm_slow_tick(&mut self) {
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
    fn in_panic(&self, node: usize) -> bool {
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
    fn rebuild_routes(&mut self) {
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
    fn refresh_availability(&mut self) {
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
    fn node_of(&self, client: u32) -> usize {
        match self.cfg.lb.nodes {
            1 => 0,
            n => (client % n) as usize,
        }
    }

    /// Node `node` starts (`up`) or stops counting an attempt to `server`; with its own
    /// view, its balancers' pool views follow.
    #[inline]
    fn in_flight_add(&mut self, node: usize, server: u32, up: bool) {
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
    fn report(&mut self) {
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

    /// Runs to the scenario's end and returns what was measured.
    pub fn run(mut self) -> Result<RepResult, RunError> {
        self.start();
        let end = self.cfg.duration;
        let cap = self.cfg.max_events;
        let mut n_events: u64 = 0;
        while let Some(entry) = self.q.pop_entry() {
            let t = entry.time;
            if t > end {
                break;
            }
            n_events += 1;
            if n_events > cap {
                return Err(RunError::EventCap { cap, at: t });
            }
            debug_assert!(t >= self.now, "time went backwards");
            self.now = t;
            self.handle(entry.event);
        }
        self.now = end;
        self.finish()
    }

    fn start(&mut self) {
        if !self.cfg.preset.is_empty() {
            self.apply_presets();
        }
        match &self.cfg.clients.load {
            Load::Open(_) => self.schedule_arrival(),
            Load::Closed { users, think } => {
                for user in 0..*users {
                    let t = SimTime::from_nanos_f64(think.sample(&mut self.clients.rng_think));
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
        for idx in 0..self.svc.checkers.len() {
            self.drive_checker(idx);
        }
        for node in 0..self.svc.outliers.len() {
            self.arm_outlier(node);
        }
        self.start_tier();
        for (i, f) in self.cfg.failures.iter().enumerate() {
            for &server in &f.servers {
                let at = self.first_failure_at(i);
                self.q.push(
                    at,
                    Ev::Fault {
                        spec: i as u16,
                        server,
                        recover: false,
                    },
                );
            }
        }
    }

    /// `[trace.preset]` at t = 0: phantom in-flight requests on every node's own count
    /// (they never complete), then one timed success per preset response time reported to
    /// every balancer whose pool holds the server (see [`ServerPreset`](super::ServerPreset)).
    #[cold]
    fn apply_presets(&mut self) {
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

    /// When failure `i` first strikes a target: its `at`, or a draw of its `mtbf`.
    fn first_failure_at(&mut self, i: usize) -> SimTime {
        match &self.cfg.failures[i].timing {
            FailureTiming::At { at, .. } => *at,
            FailureTiming::Random { mtbf, .. } => {
                SimTime::from_nanos_f64(mtbf.sample(&mut self.faults.rng[i]))
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
            Ev::ToServer { att, generation } => {
                if self.book.atts[att as usize].generation == generation {
                    self.arrive_at_server(att);
                }
            }
            Ev::ServiceDone {
                att,
                generation,
                epoch,
            } => self.service_done(att, generation, epoch),
            Ev::ToLb {
                att,
                generation,
                reply,
            } => {
                if self.book.atts[att as usize].generation == generation {
                    self.at_lb(att, reply);
                }
            }
            Ev::ClientTimeout { creq, generation } => self.client_timeout(creq, generation),
            Ev::UpstreamTimeout { att, generation } => self.upstream_timeout(att, generation),
            _ => self.handle_rare(&ev),
        }
    }

    /// Events that are not part of every request's life (changes, failures, health, the
    /// load balancer tier): kept out of line so the hot dispatch stays small.
    #[cold]
    #[inline(never)]
    fn handle_rare(&mut self, ev: &Ev) {
        match *ev {
            Ev::Arrival
            | Ev::UserReady { .. }
            | Ev::ToServer { .. }
            | Ev::ServiceDone { .. }
            | Ev::ToLb { .. }
            | Ev::ClientTimeout { .. }
            | Ev::UpstreamTimeout { .. } => unreachable!("handled by handle()"),
            Ev::Change { index } => self.change(index as usize),
            Ev::Report => self.report(),
            Ev::Fault {
                spec,
                server,
                recover,
            } => self.fault(spec as usize, server, recover),
            Ev::Flap { server, down } => self.flap(server, down),
            Ev::CheckTimer { idx } => {
                if self.svc.check_due[idx as usize] == self.now {
                    self.svc.check_due[idx as usize] = SimTime::MAX;
                    self.svc.checkers[idx as usize].handle_timeout(self.now);
                    self.drive_checker(idx as usize);
                }
            }
            Ev::ProbeDone { idx, probe, result } => {
                if TRACE {
                    self.trace_probe(idx as usize, result);
                }
                self.svc.checkers[idx as usize].handle_probe_result(self.now, probe, result);
                self.drive_checker(idx as usize);
            }
            Ev::OutlierTick { node } => {
                if self.svc.outlier_due[node as usize] == self.now {
                    self.svc.outlier_due[node as usize] = SimTime::MAX;
                    self.svc.outliers[node as usize].handle_timeout(self.now);
                    self.drain_outlier(node as usize);
                }
            }
            Ev::SlowStartTick => {
                self.svc.slow_tick_armed = false;
                self.refresh_availability();
                self.arm_slow_tick();
            }
            Ev::LbFault {
                spec,
                node,
                recover,
            } => self.lb_fault(spec as usize, node, recover),
            Ev::VrrpTimer { node } => self.vrrp_timer(node as usize),
            Ev::Advert {
                from,
                priority,
                interval,
            } => self.advert(
                from,
                crate::ha::vrrp::Advert {
                    priority: priority as u8,
                    interval,
                },
            ),
            Ev::DnsProbe { node } => self.dns_probe(node as usize),
            Ev::Route { node, live, epoch } => self.route_change(node as usize, live, epoch),
            Ev::LbCpuDone {
                creq,
                generation,
                node,
                epoch,
            } => self.cpu_done(creq, generation, node as usize, epoch),
            Ev::DrainCut { server, epoch } => {
                let s = &self.servers[server as usize];
                if s.draining && s.epoch == epoch {
                    self.reset_server(server as usize);
                }
            }
        }
    }

    fn schedule_arrival(&mut self) {
        let Load::Open(s) = &self.cfg.clients.load else {
            return;
        };
        let arrivals = self
            .clients
            .arrivals
            .as_mut()
            .expect("open loop has an arrival process");
        if let Some(t_ns) = arrivals.next(s, &mut self.clients.rng_arrivals) {
            self.q.push(SimTime::from_nanos_f64(t_ns), Ev::Arrival);
        }
    }

    fn issue(&mut self, user: u32) {
        let client = if user == NO_USER {
            self.clients
                .population
                .next_client(&mut self.clients.rng_who)
        } else {
            user
        };
        let u = self.clients.rng_class.next_f64();
        let class = self
            .clients
            .class_cum
            .iter()
            .position(|&c| u < c)
            .unwrap_or(0);
        let cc = &self.cfg.classes[class];
        let work_ns = cc.service.sample(&mut self.clients.rng_service[class]);
        let hit_work_ns = match &cc.hit_service {
            Some(d) => d.sample(&mut self.clients.rng_hit[class]),
            None => work_ns,
        };
        let key = match &self.clients.class_keys[class] {
            Some((KeyDraw::Client, base)) => base + u64::from(client),
            Some((KeyDraw::Zipf(z), base)) => base + z.sample(&mut self.clients.rng_keys[class]),
            None => NO_KEY,
        };
        // A client idle for longer than the session timeout starts a new session.
        let last = self.clients.last_seen[client as usize];
        if last != SimTime::MAX && self.now - last > self.cfg.sessions.idle_timeout {
            let at = client as usize * self.svc.n_pools;
            self.clients.cookies[at..at + self.svc.n_pools].fill(NONE);
            self.clients.session_server[at..at + self.svc.n_pools].fill(NONE);
        }
        self.clients.last_seen[client as usize] = self.now;
        let req = ClientReq {
            issued: self.now,
            work_ns,
            hit_work_ns,
            key,
            user,
            client,
            attempt: NONE,
            last_server: NONE,
            node: 0,
            generation: 0,
            class: class as u16,
            attempts: 0,
            waiting: true,
        };
        let c = match self.book.free_creqs.pop() {
            Some(c) => {
                let generation = self.book.creqs[c as usize].generation;
                self.book.creqs[c as usize] = ClientReq { generation, ..req };
                c
            }
            None => {
                self.book.creqs.push(req);
                (self.book.creqs.len() - 1) as u32
            }
        };
        self.book.n_waiting += 1;
        self.stats.all.issued += 1;
        if self.now >= self.cfg.warmup {
            self.stats.measured.issued += 1;
        }
        if let Some(to) = self.cfg.clients.timeout {
            let generation = self.book.creqs[c as usize].generation;
            self.q.push_fifo(
                self.now + to,
                Ev::ClientTimeout {
                    creq: c,
                    generation,
                },
            );
        }
        if TRACE {
            self.trace_issue(c);
        }
        if self.tier.trivial {
            let n = self.node_of(client);
            self.book.creqs[c as usize].node = n as u32;
            if TRACE {
                self.trace_path(c, Path::Node(n));
            }
        } else {
            let path = self.path(client);
            if TRACE {
                self.trace_path(c, path);
            }
            match path {
                Path::Node(n) => self.book.creqs[c as usize].node = n as u32,
                Path::BlackHole(n) | Path::Unheld(n) => {
                    self.book.creqs[c as usize].node = LOST;
                    self.count_lost(n);
                    return;
                }
                Path::Reset(n) => {
                    self.count_lost(n);
                    self.fail(c, ErrorCause::LbLost);
                    return;
                }
            }
        }
        self.enter_node(c);
    }

    /// Sends client request `c` (a first try or a retry) to a server chosen by its pool's
    /// balancer on its client's node.
    fn dispatch(&mut self, c: u32) {
        let r = self.book.creqs[c as usize];
        let measured = r.issued >= self.cfg.warmup;
        let pool = self.svc.class_route[r.class as usize];
        let node = r.node as usize;
        let slot = r.client as usize * self.svc.n_pools + pool;
        let rt = &mut self.svc.routes[node * self.svc.n_pools + pool];
        let cookie = if rt.sticky {
            Some(self.clients.cookies[slot]).filter(|&c| c != NONE)
        } else {
            None
        };
        let info = RequestInfo {
            client_ip: self.clients.population.ip(r.client, self.now),
            client: r.client,
            key: (r.key != NO_KEY).then_some(r.key),
            cookie,
            class: r.class,
            attempt: r.attempts.min(255) as u8,
        };
        let before = TRACE.then(|| {
            let t = self.tracer.as_deref().expect("tracing");
            trace::describe_route(self.cfg, rt, t, self.now, &info)
        });
        let view = PoolView::new(&rt.backends);
        let mut pick = rt.balancer.pick(self.now, &view, &info);
        // A retry avoids the server that just failed, as nginx's `tried` bitmap does: ask
        // again a couple of times if the balancer offers it.
        for _ in 0..2 {
            match pick {
                Some(i) if r.last_server != NONE && rt.backends[i].id == r.last_server => {
                    pick = rt.balancer.pick(self.now, &view, &info);
                }
                _ => break,
            }
        }
        if let Some(before) = before {
            self.trace_pick(
                c,
                node * self.svc.n_pools + pool,
                pick,
                r.attempts > 0,
                before,
            );
        }
        let rt = &mut self.svc.routes[node * self.svc.n_pools + pool];
        let Some(idx) = pick else {
            self.fail(c, ErrorCause::NoBackend);
            return;
        };
        debug_assert!(
            rt.backends[idx].eligible(),
            "balancer picked an ineligible backend"
        );
        let server = rt.backends[idx].id;
        if rt.sticky {
            if cookie.is_some_and(|c| c != server) && measured {
                self.stats.sessions_broken += 1;
            }
            self.clients.cookies[slot] = server;
        }
        self.in_flight_add(node, server, true);
        let f = self.faults.open[server as usize];
        if f != NONE {
            self.faults.records[f as usize].sent += 1;
        }
        let retry = r.attempts > 0;
        if measured {
            self.servers[server as usize].n_requests += 1;
            self.stats.n_attempts_measured += 1;
            if retry {
                self.stats.n_retries_measured += 1;
            }
        }
        if retry {
            self.book.n_retries_active += 1;
        }
        let att = Attempt {
            creq: c,
            dispatched: self.now,
            at_server: SimTime::ZERO,
            started: SimTime::ZERO,
            work_ns: r.work_ns,
            hit_work_ns: r.hit_work_ns,
            key: r.key,
            client: r.client,
            server,
            node: node as u32,
            generation: 0,
            pool: pool as u16,
            phase: Phase::ToServer,
            measured,
            retry,
        };
        let a = match self.book.free_atts.pop() {
            Some(a) => {
                let generation = self.book.atts[a as usize].generation;
                self.book.atts[a as usize] = Attempt { generation, ..att };
                a
            }
            None => {
                self.book.atts.push(att);
                (self.book.atts.len() - 1) as u32
            }
        };
        if TRACE {
            self.trace_attempt(c, a);
        }
        let cr = &mut self.book.creqs[c as usize];
        cr.attempt = a;
        cr.attempts += 1;
        cr.last_server = server;
        let generation = self.book.atts[a as usize].generation;
        if let Some(to) = self.cfg.lb.upstream_timeout {
            self.q
                .push(self.now + to, Ev::UpstreamTimeout { att: a, generation });
        }
        if self.servers[server as usize].partitioned {
            self.book.atts[a as usize].phase = Phase::Lost;
            return;
        }
        match self.net_delay(server) {
            Some(d) => self
                .q
                .push(self.now + d, Ev::ToServer { att: a, generation }),
            None => self.arrive_at_server(a),
        }
    }

    #[inline]
    fn net_delay(&mut self, server: u32) -> Option<SimTime> {
        let g = self.servers[server as usize].group;
        let d: &Dist = self.cfg.groups[g].network_delay.as_ref()?;
        Some(SimTime::from_nanos_f64(d.sample(&mut self.rng_net)))
    }

    fn arrive_at_server(&mut self, a: u32) {
        let s = self.book.atts[a as usize].server as usize;
        self.book.atts[a as usize].at_server = self.now;
        if TRACE {
            self.trace_arrival(a);
        }
        let srv = &self.servers[s];
        if srv.partitioned || srv.hung {
            // Dropped on the wire, or accepted by a process that never answers.
            self.book.atts[a as usize].phase = Phase::Lost;
            return;
        }
        if srv.crashed {
            self.respond(a, Reply::Refused);
            return;
        }
        if srv.err_rate > 0.0 && self.faults.rng_errors.next_f64() < srv.err_rate {
            let status = srv.err_status;
            self.respond(a, Reply::Status(status));
            return;
        }
        let srv = &mut self.servers[s];
        if srv.busy < srv.slots {
            self.start_service(s, a);
        } else if srv.queue.len() < srv.queue_cap as usize {
            srv.queue.push_back(a);
            self.book.atts[a as usize].phase = Phase::Queued;
        } else {
            if self.book.atts[a as usize].measured {
                self.servers[s].n_rejected += 1;
            }
            self.respond(a, Reply::QueueFull);
        }
    }

    fn start_service(&mut self, s: usize, a: u32) {
        let at = self.book.atts[a as usize];
        let srv = &mut self.servers[s];
        srv.busy += 1;
        srv.in_service.push(a);
        let mut work = at.work_ns;
        if let (Some(cache), true) = (srv.cache.as_mut(), at.key != NO_KEY) {
            let hit = cache.access(at.key);
            if hit {
                work = at.hit_work_ns;
            }
            if at.measured {
                if hit {
                    srv.n_hits += 1;
                } else {
                    srv.n_misses += 1;
                }
            }
        }
        let mut service = SimTime::from_nanos_f64(work / srv.speed * srv.slow);
        let epoch = srv.epoch;
        match self.cfg.sessions.state {
            SessionState::Token => {}
            SessionState::Server => {
                let slot = at.client as usize * self.svc.n_pools + at.pool as usize;
                let held = self.clients.session_server[slot];
                if held != NONE && held != s as u32 && at.measured {
                    self.stats.sessions_lost += 1;
                }
                self.clients.session_server[slot] = s as u32;
            }
            SessionState::Shared => {
                if let Some(d) = &self.cfg.sessions.store_latency {
                    service += SimTime::from_nanos_f64(d.sample(&mut self.rng_store));
                }
            }
        }
        let rq = &mut self.book.atts[a as usize];
        rq.phase = Phase::InService;
        rq.started = self.now;
        if at.measured {
            self.stats.wait_sum_ns += u128::from((self.now - rq.at_server).as_nanos());
            self.stats.service_sum_ns += u128::from(service.as_nanos());
            self.stats.n_started += 1;
        }
        let generation = rq.generation;
        if TRACE {
            self.trace_att(a, "start", |w, srv| {
                let s = &w.servers[s];
                let waited = w.now - w.book.atts[a as usize].at_server;
                let when = if waited == SimTime::ZERO {
                    "at once".to_string()
                } else {
                    format!("after {} in its queue", ms(waited))
                };
                format!(
                    "{srv} starts it {when} ({}/{} workers busy): service {}",
                    s.busy,
                    s.slots,
                    ms(service)
                )
            });
        }
        self.q.push(
            self.now + service,
            Ev::ServiceDone {
                att: a,
                generation,
                epoch,
            },
        );
    }

    fn service_done(&mut self, a: u32, generation: u32, epoch: u32) {
        let at = self.book.atts[a as usize];
        let s = at.server as usize;
        if at.generation != generation
            || at.phase != Phase::InService
            || self.servers[s].epoch != epoch
        {
            return; // the server crashed or hung since: this work never completes
        }
        let busy = self.window_overlap(at.started, self.now);
        let srv = &mut self.servers[s];
        srv.busy -= 1;
        srv.busy_ns += busy;
        if let Some(i) = srv.in_service.iter().position(|&x| x == a) {
            srv.in_service.swap_remove(i);
        }
        if let Some(next) = srv.queue.pop_front() {
            self.start_service(s, next);
        }
        self.respond(a, Reply::Ok);
    }

    /// Sends the server's answer back toward the load balancer.
    fn respond(&mut self, a: u32, reply: Reply) {
        let server = self.book.atts[a as usize].server;
        if self.servers[server as usize].partitioned {
            self.book.atts[a as usize].phase = Phase::Lost;
            return;
        }
        match self.net_delay(server) {
            Some(d) => {
                let at = &mut self.book.atts[a as usize];
                at.phase = Phase::ToLb;
                let generation = at.generation;
                self.q.push(
                    self.now + d,
                    Ev::ToLb {
                        att: a,
                        generation,
                        reply,
                    },
                );
            }
            None => self.at_lb(a, reply),
        }
    }

    /// An answer reaches the load balancer.
    fn at_lb(&mut self, a: u32, reply: Reply) {
        if TRACE {
            self.trace_att(a, "reply", |w, srv| {
                let at = &w.book.atts[a as usize];
                let what = match reply {
                    Reply::Ok => "200 OK".to_string(),
                    Reply::Status(s) => format!("HTTP {s}"),
                    Reply::QueueFull => "503 (queue full)".to_string(),
                    Reply::Refused => "connection refused".to_string(),
                };
                if w.node_up(at.node as usize) {
                    format!(
                        "lb-{} gets {what} from {srv}, {} after sending it",
                        at.node + 1,
                        ms(w.now - at.dispatched)
                    )
                } else {
                    format!(
                        "{srv}'s answer ({what}) reaches lb-{}, which is down",
                        at.node + 1
                    )
                }
            });
        }
        let c = self.book.atts[a as usize].creq;
        if c == NONE {
            self.free_att(a); // orphaned: the load balancer stopped waiting for it
            return;
        }
        let outcome = Outcome::of(
            reply.kind(),
            self.now - self.book.atts[a as usize].dispatched,
        );
        self.lb_done(a, outcome);
        self.free_att(a);
        self.book.creqs[c as usize].attempt = NONE;
        match reply {
            Reply::Ok => self.complete(c),
            Reply::QueueFull => self.retry_or_fail(c, ErrorCause::Rejected),
            Reply::Status(_) => self.retry_or_fail(c, ErrorCause::ServerError),
            Reply::Refused => self.retry_or_fail(c, ErrorCause::Refused),
        }
    }

    /// The load balancer stops counting attempt `a` and tells its balancer how it went.
    fn lb_done(&mut self, a: u32, outcome: Outcome) {
        let at = self.book.atts[a as usize];
        self.in_flight_add(at.node as usize, at.server, false);
        if at.retry {
            self.book.n_retries_active -= 1;
        }
        let rt = &mut self.svc.routes[at.node as usize * self.svc.n_pools + at.pool as usize];
        let p = rt.pos[at.server as usize];
        if p != NONE {
            rt.balancer
                .on_response(self.now, &PoolView::new(&rt.backends), p as usize, outcome);
            if rt.passive
                && (!outcome.ok || rt.passive_out > 0)
                && let Some(ch) = rt.balancer.poll_passive()
            {
                if ch.up {
                    rt.passive_out -= 1;
                } else {
                    rt.passive_out += 1;
                }
                self.log_health(at.node as usize, ch.server as usize, ch.up, "passive");
            }
        }
        // Attempts sent during the fault that then failed (not client aborts).
        let f = self.faults.open[at.server as usize];
        if f != NONE
            && !outcome.ok
            && outcome.kind != OutcomeKind::Cancelled
            && at.dispatched >= self.faults.records[f as usize].start
        {
            self.faults.records[f as usize].failed += 1;
        }
        self.health_feedback(at.node as usize, at.server as usize, outcome);
    }

    /// Passive health from live traffic: HAProxy `observe` and Envoy outlier detection.
    #[inline]
    fn health_feedback(&mut self, node: usize, server: usize, outcome: Outcome) {
        let n = self.servers.len();
        if let Some(h) = &self.cfg.health.active
            && let ActiveStyle::Haproxy(c) = &h.style
            && let Some(ok) = c.observe.classify(outcome.kind)
        {
            self.svc.checkers[node * n + server].observe_traffic(self.now, ok);
            self.drive_checker(node * n + server);
        }
        if !self.svc.outliers.is_empty() {
            self.svc.outliers[node].on_response(self.now, server, outcome.kind);
            self.drain_outlier(node);
        }
    }

    /// The load balancer gives up on attempt `a`: it stops counting it; whatever the server
    /// still does with it is wasted. An attempt that nothing will ever answer is freed now.
    fn orphan(&mut self, a: u32, kind: OutcomeKind) {
        let outcome = Outcome::of(kind, self.now - self.book.atts[a as usize].dispatched);
        self.lb_done(a, outcome);
        self.book.atts[a as usize].creq = NONE;
        if self.book.atts[a as usize].phase == Phase::Lost {
            self.free_att(a);
        }
    }

    /// Nobody waits any more for request `c`'s current attempt, if it has one: it is
    /// orphaned (the client gave up, or its load balancer node is gone).
    fn drop_attempt(&mut self, c: u32) {
        let a = self.book.creqs[c as usize].attempt;
        if a != NONE {
            self.orphan(a, OutcomeKind::Cancelled);
            self.book.creqs[c as usize].attempt = NONE;
        }
    }

    fn upstream_timeout(&mut self, a: u32, generation: u32) {
        let at = self.book.atts[a as usize];
        if at.generation != generation || at.phase == Phase::Free || at.creq == NONE {
            return;
        }
        let c = at.creq;
        if TRACE {
            self.trace_att(a, "upstream-timeout", |w, srv| {
                format!(
                    "lb-{} gives up on {srv}: upstream timeout",
                    w.book.atts[a as usize].node + 1
                )
            });
        }
        self.orphan(a, OutcomeKind::TimedOut);
        self.book.creqs[c as usize].attempt = NONE;
        self.retry_or_fail(c, ErrorCause::UpstreamTimeout);
    }

    fn client_timeout(&mut self, c: u32, generation: u32) {
        let r = self.book.creqs[c as usize];
        if r.generation != generation || !r.waiting {
            return; // already answered
        }
        self.drop_attempt(c);
        let cause = if r.node == LOST {
            ErrorCause::LbLost
        } else {
            ErrorCause::Timeout
        };
        if TRACE {
            self.trace_req(
                c,
                "the client gives up waiting (clients.timeout)".to_string(),
            );
        }
        self.fail(c, cause);
    }

    /// After a failed attempt: another attempt if the retry policy and budget allow it,
    /// otherwise the client gets the error.
    fn retry_or_fail(&mut self, c: u32, cause: ErrorCause) {
        let rc = &self.cfg.lb.retry;
        let eligible = match cause {
            ErrorCause::Refused => rc.on_refused,
            ErrorCause::UpstreamTimeout => rc.on_timeout,
            ErrorCause::Rejected | ErrorCause::ServerError => rc.on_5xx,
            _ => false,
        };
        let tries_left = u32::from(self.book.creqs[c as usize].attempts) <= rc.retries;
        let budget_ok = match rc.budget {
            None => true,
            Some(b) => {
                let allowed = (b.percent / 100.0 * f64::from(self.book.n_waiting))
                    .max(f64::from(b.min_concurrency));
                f64::from(self.book.n_retries_active) < allowed
            }
        };
        if eligible && tries_left && budget_ok {
            if TRACE {
                self.trace_req(c, format!("retrying after {}", cause.name()));
            }
            self.enter_node(c);
        } else {
            self.fail(c, cause);
        }
    }

    /// The time bucket of `now`.
    #[inline]
    fn bucket(&self) -> usize {
        ((self.now.as_nanos() / self.stats.bucket_ns) as usize).min(self.stats.ts_done.len() - 1)
    }

    fn complete(&mut self, c: u32) {
        if TRACE {
            self.trace_end(c, None);
        }
        let r = self.book.creqs[c as usize];
        self.stats.all.completed += 1;
        let b = self.bucket();
        self.stats.ts_done[b] += 1;
        self.stats.ts_bins[b * TS_BINS + ts_bin((self.now - r.issued).as_nanos())] += 1;
        if r.issued >= self.cfg.warmup {
            self.stats.measured.completed += 1;
            let lat = (self.now - r.issued).as_nanos();
            self.stats
                .latency
                .saturating_record(lat.clamp(1, HIST_MAX_NS));
            self.stats.latency_sum_ns += u128::from(lat);
        }
        self.close(c);
        self.user_next(r.user);
    }

    fn fail(&mut self, c: u32, cause: ErrorCause) {
        if TRACE {
            self.trace_end(c, Some(cause));
        }
        let r = self.book.creqs[c as usize];
        self.stats.all.failed[cause.index()] += 1;
        let b = self.bucket();
        self.stats.ts_errors[b] += 1;
        if r.issued >= self.cfg.warmup {
            self.stats.measured.failed[cause.index()] += 1;
        }
        self.close(c);
        self.user_next(r.user);
    }

    /// The client has its answer: the request's slot is free again.
    fn close(&mut self, c: u32) {
        let r = &mut self.book.creqs[c as usize];
        debug_assert!(r.waiting);
        r.waiting = false;
        r.attempt = NONE;
        r.generation = r.generation.wrapping_add(1);
        self.book.n_waiting -= 1;
        self.book.free_creqs.push(c);
    }

    /// A closed-loop user thinks, then sends its next request.
    fn user_next(&mut self, user: u32) {
        if user == NO_USER {
            return;
        }
        if let Load::Closed { think, .. } = &self.cfg.clients.load {
            let t = SimTime::from_nanos_f64(think.sample(&mut self.clients.rng_think));
            self.q.push(self.now + t, Ev::UserReady { user });
        }
    }

    fn free_att(&mut self, a: u32) {
        let at = &mut self.book.atts[a as usize];
        at.phase = Phase::Free;
        at.creq = NONE;
        at.generation = at.generation.wrapping_add(1);
        self.book.free_atts.push(a);
    }

    /// Every attempt on server `s` is reset (connection refused/reset), and work in
    /// progress is abandoned.
    fn reset_server(&mut self, s: usize) {
        self.stop_work(s);
        let mut victims: Vec<u32> = self.servers[s].queue.drain(..).collect();
        victims.append(&mut self.servers[s].in_service);
        for a in victims {
            self.respond(a, Reply::Refused);
        }
    }

    /// The server stops all work in progress (a crash or a hang): busy time until now is
    /// counted, and completions already scheduled will be ignored.
    fn stop_work(&mut self, s: usize) {
        let warm = (self.cfg.warmup, self.cfg.duration);
        let srv = &mut self.servers[s];
        srv.epoch = srv.epoch.wrapping_add(1);
        for &a in &srv.in_service {
            let started = self.book.atts[a as usize].started;
            let lo = started.max(warm.0);
            let hi = self.now.min(warm.1);
            srv.busy_ns += (hi - lo).as_nanos();
        }
        srv.busy = 0;
    }

    /// A hung server keeps everything it holds and answers nothing.
    fn freeze_server(&mut self, s: usize) {
        self.stop_work(s);
        let mut held: Vec<u32> = self.servers[s].queue.drain(..).collect();
        held.append(&mut self.servers[s].in_service);
        for a in held {
            self.book.atts[a as usize].phase = Phase::Lost;
        }
    }

    /// A server process restarts: empty, with a cold cache.
    fn restart(&mut self, s: usize) {
        let srv = &mut self.servers[s];
        srv.crashed = false;
        srv.hung = false;
        if let Some(c) = srv.cache.as_mut() {
            c.clear();
        }
    }

    /// Carries out checker `idx`'s actions (send probes, mark up/down) and re-arms its timer.
    fn drive_checker(&mut self, idx: usize) {
        let n = self.servers.len();
        let (node, server) = (idx / n, idx % n);
        let mut changed = false;
        while let Some(action) = self.svc.checkers[idx].poll_action() {
            match action {
                CheckAction::SendProbe { probe } => {
                    if let Some((at, result)) = self.probe(server) {
                        self.q.push(
                            at,
                            Ev::ProbeDone {
                                idx: idx as u32,
                                probe,
                                result,
                            },
                        );
                    }
                }
                CheckAction::MarkUp | CheckAction::MarkDown => {
                    let up = action == CheckAction::MarkUp;
                    if self.svc.health_up[idx] != up {
                        self.svc.health_up[idx] = up;
                        self.log_health(node, server, up, "active");
                        if up {
                            self.start_ramp(node, server);
                        }
                        changed = true;
                    }
                    if up && !self.svc.outliers.is_empty() {
                        self.svc.outliers[node].on_active_check_pass(self.now, server);
                        self.drain_outlier(node);
                    }
                }
            }
        }
        if let Some(t) = self.svc.checkers[idx].poll_timeout() {
            let t = t.max(self.now);
            if t < self.svc.check_due[idx] {
                self.svc.check_due[idx] = t;
                self.q.push(t, Ev::CheckTimer { idx: idx as u32 });
            }
        }
        if changed {
            self.refresh_availability();
        }
    }

    /// What a probe of `server` finds and when its answer arrives (`None`: no answer, the
    /// checker times it out). A TCP check only needs the kernel to accept: it passes on a
    /// hung, slow or erroring process; an HTTP check needs the process to answer well.
    fn probe(&mut self, server: usize) -> Option<(SimTime, ProbeResult)> {
        let rtt = match (self.net_delay(server as u32), self.net_delay(server as u32)) {
            (Some(a), Some(b)) => a + b,
            _ => SimTime::ZERO,
        };
        let check = self.cfg.health.active.as_ref()?;
        if check.loss > 0.0 && self.svc.rng_probes.next_f64() < check.loss {
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
                if srv.err_rate > 0.0 && self.svc.rng_probes.next_f64() < srv.err_rate {
                    return Some((self.now + rtt, ProbeResult::BadStatus(srv.err_status)));
                }
                let work = SimTime::from_nanos_f64(
                    check.probe_time.as_nanos() as f64 * srv.slow / srv.speed,
                );
                Some((self.now + rtt + work, ProbeResult::Pass))
            }
        }
    }

    fn arm_outlier(&mut self, node: usize) {
        if let Some(t) = self.svc.outliers[node].poll_timeout() {
            let t = t.max(self.now);
            if t < self.svc.outlier_due[node] {
                self.svc.outlier_due[node] = t;
                self.q.push(t, Ev::OutlierTick { node: node as u32 });
            }
        }
    }

    /// Carries out node `node`'s outlier ejections and unejections.
    fn drain_outlier(&mut self, node: usize) {
        let n = self.servers.len();
        let mut changed = false;
        while let Some(a) = self.svc.outliers[node].poll_action() {
            let (host, eject) = match a {
                OutlierAction::Eject(h) => (h, true),
                OutlierAction::Uneject(h) => (h, false),
            };
            if host < n && self.svc.ejected[node * n + host] != eject {
                self.svc.ejected[node * n + host] = eject;
                self.log_health(node, host, !eject, "outlier");
                if !eject {
                    self.start_ramp(node, host);
                }
                changed = true;
            }
        }
        self.arm_outlier(node);
        if changed {
            self.refresh_availability();
        }
    }

    fn log_health(&mut self, node: usize, server: usize, up: bool, cause: &'static str) {
        if !self.node_up(node) {
            // A load balancer that is down detects nothing; its checkers' view is what it
            // comes back with.
            return;
        }
        let false_alarm = !up && self.faults.open[server] == NONE && self.servers[server].member;
        self.stats.health_log.push(HealthEvent {
            at: self.now,
            node: node as u32,
            server: server as u32,
            up,
            cause,
            false_alarm,
        });
    }

    /// Failure `spec` starts or ends on `server`.
    fn fault(&mut self, spec: usize, server: u32, recover: bool) {
        let f = &self.cfg.failures[spec];
        let s = server as usize;
        if !recover {
            self.faults.open[s] = self.faults.records.len() as u32;
            self.faults.records.push(FaultRecord {
                spec,
                server,
                start: self.now,
                end: None,
                sent: 0,
                failed: 0,
            });
            match f.kind {
                FailureKind::Crash => {
                    self.servers[s].crashed = true;
                    self.reset_server(s);
                }
                FailureKind::Hang => {
                    self.servers[s].hung = true;
                    self.freeze_server(s);
                }
                FailureKind::Slow { factor } => self.servers[s].slow = factor,
                FailureKind::Errors { rate, status } => {
                    self.servers[s].err_rate = rate;
                    self.servers[s].err_status = status;
                }
                FailureKind::Flap { down, .. } => {
                    self.servers[s].flapping = true;
                    self.servers[s].crashed = true;
                    self.reset_server(s);
                    self.q.push(
                        self.now + down,
                        Ev::Flap {
                            server,
                            down: false,
                        },
                    );
                }
                FailureKind::Partition => self.servers[s].partitioned = true,
                FailureKind::Stop => unreachable!("only load balancer nodes stop"),
                FailureKind::Drain { delay } => {
                    self.servers[s].draining = true;
                    self.refresh_availability();
                    let epoch = self.servers[s].epoch;
                    self.q
                        .push(self.now + delay, Ev::DrainCut { server, epoch });
                }
            }
            let end = match &f.timing {
                FailureTiming::At { duration, .. } => duration.map(|d| self.now + d),
                FailureTiming::Random { mttr, .. } => Some(
                    self.now + SimTime::from_nanos_f64(mttr.sample(&mut self.faults.rng[spec])),
                ),
            };
            if let Some(end) = end {
                self.q.push(
                    end,
                    Ev::Fault {
                        spec: spec as u16,
                        server,
                        recover: true,
                    },
                );
            }
        } else {
            if let Some(r) = self
                .faults
                .records
                .iter_mut()
                .rev()
                .find(|r| r.spec == spec && r.server == server && r.end.is_none())
            {
                r.end = Some(self.now);
            }
            self.faults.open[s] = NONE;
            match f.kind {
                FailureKind::Crash | FailureKind::Hang => self.restart(s),
                FailureKind::Slow { .. } => self.servers[s].slow = 1.0,
                FailureKind::Errors { .. } => self.servers[s].err_rate = 0.0,
                FailureKind::Flap { .. } => {
                    self.servers[s].flapping = false;
                    self.restart(s);
                }
                FailureKind::Partition => self.servers[s].partitioned = false,
                FailureKind::Stop => unreachable!("only load balancer nodes stop"),
                FailureKind::Drain { .. } => {
                    self.servers[s].draining = false;
                    self.restart(s);
                    self.refresh_availability();
                }
            }
            if let FailureTiming::Random { mtbf, .. } = &f.timing {
                let next =
                    self.now + SimTime::from_nanos_f64(mtbf.sample(&mut self.faults.rng[spec]));
                self.q.push(
                    next,
                    Ev::Fault {
                        spec: spec as u16,
                        server,
                        recover: false,
                    },
                );
            }
        }
    }

    /// A flapping server goes down (like a crash) or comes back, until the flap ends.
    fn flap(&mut self, server: u32, down: bool) {
        let s = server as usize;
        if !self.servers[s].flapping {
            return;
        }
        // Find the flap's up/down times from the failure that is active on this server.
        let Some((up_t, down_t)) = self
            .cfg
            .failures
            .iter()
            .enumerate()
            .find_map(|(i, f)| match f.kind {
                FailureKind::Flap { up, down }
                    if self
                        .faults
                        .records
                        .iter()
                        .any(|r| r.spec == i && r.server == server && r.end.is_none()) =>
                {
                    Some((up, down))
                }
                _ => None,
            })
        else {
            return;
        };
        if down {
            self.servers[s].crashed = true;
            self.reset_server(s);
            self.q.push(
                self.now + down_t,
                Ev::Flap {
                    server,
                    down: false,
                },
            );
        } else {
            self.restart(s);
            self.q
                .push(self.now + up_t, Ev::Flap { server, down: true });
        }
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
                if self.cfg.health.slow_start.is_some() {
                    for node in 0..self.cfg.lb.nodes as usize {
                        self.svc.ramp_since[node * self.servers.len() + id] = now;
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
        let after = if keyed { self.probe_map() } else { Vec::new() };
        let sticky = self.svc.routes.iter().any(|r| r.sticky);
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
    fn probe_map(&self) -> Vec<Option<u32>> {
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
        let mut lb_in_flight = vec![0u32; self.svc.in_flight.len()];
        let (mut out_all, mut out_measured) = (0u64, 0u64);
        for c in &self.book.creqs {
            if c.waiting {
                out_all += 1;
                if c.issued >= self.cfg.warmup {
                    out_measured += 1;
                }
            }
        }
        for i in 0..self.book.atts.len() {
            let a = self.book.atts[i];
            if a.phase == Phase::Free {
                continue;
            }
            if a.creq != NONE {
                let c = self.book.creqs[a.creq as usize];
                if !c.waiting || c.attempt != i as u32 {
                    return Err(RunError::Invariant(format!(
                        "attempt {i} belongs to a request that is not waiting for it"
                    )));
                }
                lb_in_flight[a.node as usize * n + a.server as usize] += 1;
            }
            match a.phase {
                Phase::InService => {
                    in_service[a.server as usize] += 1;
                    let busy = self.window_overlap(a.started, self.now);
                    self.servers[a.server as usize].busy_ns += busy;
                }
                Phase::Queued => queued[a.server as usize] += 1,
                _ => {}
            }
        }
        check_books("whole run", &self.stats.all, out_all)?;
        check_books("measured window", &self.stats.measured, out_measured)?;
        if out_all != u64::from(self.book.n_waiting) {
            return Err(RunError::Invariant(format!(
                "{out_all} requests waiting but the counter says {}",
                self.book.n_waiting
            )));
        }
        for s in 0..n {
            let srv = &self.servers[s];
            if srv.busy != in_service[s]
                || srv.in_service.len() != in_service[s] as usize
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
        for p in &self.cfg.preset {
            // Phantom requests never complete: the nodes count them on top.
            for node in 0..self.cfg.lb.nodes as usize {
                lb_in_flight[node * n + p.server as usize] += p.in_flight;
            }
        }
        for (i, (&counted, &outstanding)) in
            self.svc.in_flight.iter().zip(&lb_in_flight).enumerate()
        {
            if counted != outstanding {
                return Err(RunError::Invariant(format!(
                    "load balancer node {} counts {counted} in flight to server {} but {outstanding} are outstanding",
                    i / n + 1,
                    i % n
                )));
            }
        }
        let reported = matches!(self.cfg.lb.view, LbView::Reported { .. });
        for (ri, r) in self.svc.routes.iter().enumerate() {
            let node = ri / self.svc.n_pools;
            for b in &r.backends {
                let want = if reported {
                    self.svc.reported[b.id as usize]
                } else {
                    self.svc.in_flight[node * n + b.id as usize]
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

    /// The time buckets: throughput, errors and p99 per bucket.
    fn timeseries(&self) -> Vec<Bucket> {
        let width = self.stats.bucket_ns as f64 * 1e-9;
        let end = self.cfg.duration.as_secs_f64();
        (0..self.stats.ts_done.len())
            .map(|b| {
                let t = b as f64 * width;
                let w = width.min(end - t).max(1e-9);
                let bins = &self.stats.ts_bins[b * TS_BINS..(b + 1) * TS_BINS];
                let n: u64 = bins.iter().map(|&x| u64::from(x)).sum();
                let p99_ms = if n == 0 {
                    f64::NAN
                } else {
                    let target = (0.99 * n as f64).ceil() as u64;
                    let mut acc = 0u64;
                    let mut bin = TS_BINS - 1;
                    for (i, &x) in bins.iter().enumerate() {
                        acc += u64::from(x);
                        if acc >= target {
                            bin = i;
                            break;
                        }
                    }
                    ts_bin_edge(bin) * 1e-6
                };
                Bucket {
                    t_s: t,
                    width_s: width,
                    throughput_rps: f64::from(self.stats.ts_done[b]) / w,
                    errors_per_s: f64::from(self.stats.ts_errors[b]) / w,
                    p99_ms,
                }
            })
            .collect()
    }

    /// Failover rows (per fault and node) and the health time series.
    fn failover_rows(&self) -> (Vec<FailoverRow>, Vec<HealthRow>) {
        let names = self.cfg.server_names();
        let kind_name = |spec: usize| self.cfg.failures[spec].kind.name();
        let mut rows = Vec::new();
        for f in &self.faults.records {
            for node in 0..self.cfg.lb.nodes {
                let mine = |e: &&HealthEvent| e.node == node && e.server == f.server;
                let detected = self
                    .stats
                    .health_log
                    .iter()
                    .filter(mine)
                    .find(|e| !e.up && e.at >= f.start && f.end.is_none_or(|end| e.at < end))
                    .map(|e| e.at);
                // Back in rotation once every mechanism that took it out (active checks,
                // outlier detection, nginx max_fails) has let it back in.
                let recovered = match (detected, f.end) {
                    (Some(_), Some(end)) => {
                        let mut at = Some(end);
                        for cause in ["active", "outlier", "passive"] {
                            let took_out = self.stats.health_log.iter().filter(mine).any(|e| {
                                e.cause == cause && !e.up && e.at >= f.start && e.at < end
                            });
                            if took_out {
                                let back = self
                                    .stats
                                    .health_log
                                    .iter()
                                    .filter(mine)
                                    .find(|e| e.cause == cause && e.up && e.at >= end)
                                    .map(|e| e.at);
                                at = at.zip(back).map(|(a, b)| a.max(b));
                            }
                        }
                        at
                    }
                    _ => None,
                };
                let secs = |t: Option<SimTime>| t.map_or(f64::NAN, |t| t.as_secs_f64());
                rows.push(FailoverRow {
                    failure: f.spec,
                    kind: kind_name(f.spec),
                    server: names[f.server as usize].0.clone(),
                    node: node + 1,
                    fault_s: f.start.as_secs_f64(),
                    detected_s: secs(detected),
                    repair_s: secs(f.end),
                    recovered_s: secs(recovered),
                    sent: f.sent,
                    failed: f.failed,
                });
            }
        }
        let health = self
            .stats
            .health_log
            .iter()
            .map(|e| HealthRow {
                at_s: e.at.as_secs_f64(),
                node: e.node + 1,
                server: names[e.server as usize].0.clone(),
                state: if e.up { "up" } else { "down" },
                cause: e.cause,
                false_alarm: e.false_alarm,
            })
            .collect();
        (rows, health)
    }

    fn result(&self, in_flight_end: u64) -> RepResult {
        let cfg = self.cfg;
        let window_s = (cfg.duration - cfg.warmup).as_secs_f64();
        let mut v = vec![f64::NAN; N_METRICS];
        let m = &self.stats.measured;
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
        v[M::ErrorsRefused as usize] = m.failed[ErrorCause::Refused.index()] as f64;
        v[M::ErrorsServer as usize] = m.failed[ErrorCause::ServerError.index()] as f64;
        v[M::ErrorsUpstreamTimeout as usize] = m.failed[ErrorCause::UpstreamTimeout.index()] as f64;
        v[M::ErrorsLbLost as usize] = m.failed[ErrorCause::LbLost.index()] as f64;
        let (failover, outage) = self.lb_failover_means();
        v[M::LbFailoverMean as usize] = failover;
        v[M::LbOutageMean as usize] = outage;
        v[M::LbCpuUtil as usize] = self.cpu_utilization();
        v[M::Retries as usize] = self.stats.n_retries_measured as f64;
        if m.issued > 0 {
            v[M::Attempts as usize] = self.stats.n_attempts_measured as f64 / m.issued as f64;
        }
        v[M::InFlightEnd as usize] = in_flight_end as f64;
        let h = &self.stats.latency;
        if !h.is_empty() {
            let ms = |ns: u64| ns as f64 * 1e-6;
            v[M::LatencyMean as usize] = self.stats.latency_sum_ns as f64 / h.len() as f64 * 1e-6;
            v[M::LatencyP50 as usize] = ms(h.value_at_quantile(0.5));
            v[M::LatencyP90 as usize] = ms(h.value_at_quantile(0.9));
            v[M::LatencyP99 as usize] = ms(h.value_at_quantile(0.99));
            v[M::LatencyP999 as usize] = ms(h.value_at_quantile(0.999));
            v[M::LatencyMax as usize] = ms(h.max());
        }
        if self.stats.n_started > 0 {
            v[M::WaitMean as usize] =
                self.stats.wait_sum_ns as f64 / self.stats.n_started as f64 * 1e-6;
            v[M::ServiceMean as usize] =
                self.stats.service_sum_ns as f64 / self.stats.n_started as f64 * 1e-6;
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
        v[M::SessionsBroken as usize] = self.stats.sessions_broken as f64;
        v[M::SessionsLost as usize] = self.stats.sessions_lost as f64;
        let (hits, misses): (u64, u64) = self
            .servers
            .iter()
            .fold((0, 0), |(h, m), s| (h + s.n_hits, m + s.n_misses));
        if hits + misses > 0 {
            v[M::CacheHitRatio as usize] = 100.0 * hits as f64 / (hits + misses) as f64;
        }
        let remaps: Vec<f64> = self
            .stats
            .changes
            .iter()
            .map(|c| c.keys_remapped)
            .filter(|x| x.is_finite())
            .collect();
        if !remaps.is_empty() {
            v[M::KeysRemapped as usize] = 100.0 * remaps.iter().sum::<f64>() / remaps.len() as f64;
        }
        let (failovers, health) = self.failover_rows();
        let detections: Vec<f64> = failovers
            .iter()
            .filter(|f| f.detected_s.is_finite())
            .map(|f| f.detected_s - f.fault_s)
            .collect();
        if !detections.is_empty() {
            v[M::DetectionMean as usize] = detections.iter().sum::<f64>() / detections.len() as f64;
        }
        let recoveries: Vec<f64> = failovers
            .iter()
            .filter(|f| f.recovered_s.is_finite())
            .map(|f| f.recovered_s - f.repair_s)
            .collect();
        if !recoveries.is_empty() {
            v[M::RecoveryMean as usize] = recoveries.iter().sum::<f64>() / recoveries.len() as f64;
        }
        v[M::SentToFailed as usize] = self.faults.records.iter().map(|f| f.sent as f64).sum();
        v[M::FalseEjections as usize] = self
            .stats
            .health_log
            .iter()
            .filter(|e| e.false_alarm)
            .count() as f64;
        let latency_curve = if self.stats.latency.is_empty() {
            vec![f64::NAN; crate::metrics::curve_quantiles().len()]
        } else {
            crate::metrics::curve_quantiles()
                .iter()
                .map(|&q| if q >= 1.0 { self.stats.latency.max() } else { self.stats.latency.value_at_quantile(q) } as f64 * 1e-6)
                .collect()
        };
        // An empty f64 sum is -0.0; print it as 0.
        for x in &mut v {
            *x += 0.0;
        }
        RepResult {
            values: v,
            servers,
            changes: self.stats.changes.clone(),
            failovers,
            health,
            lb_failovers: self.lb_failover_rows(),
            ha: self.ha_rows(),
            latency_curve,
            timeseries: self.timeseries(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_series_bins_bracket_the_latency() {
        for ns in [1_000u64, 1_500, 10_000_000, 123_456_789, 3_600_000_000_000] {
            let b = ts_bin(ns);
            let hi = ts_bin_edge(b);
            let lo = if b == 0 { 0.0 } else { ts_bin_edge(b - 1) };
            assert!(
                lo <= ns as f64 && (ns as f64) < hi,
                "{ns}: bin {b} [{lo}, {hi})"
            );
            assert!(hi / lo.max(1.0) < 1.15 || b == 0, "bins are about 9% wide");
        }
    }
}
