//! The validated description of a world: what `scenario` produces and [`World`] consumes.
//!
//! These are plain typed values; every range check has already happened in
//! `scenario::spec`, so the world can trust them (and `debug_assert!`s where cheap).
//!
//! [`World`]: super::World

use crate::balancer::AlgorithmSpec;
use crate::engine::SimTime;

use super::dist::Dist;
use super::services::{Hop, ServiceConfig};

/// Everything needed to run one replication.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldConfig {
    /// Simulated time at which the run stops.
    pub duration: SimTime,
    /// Requests issued before this time are excluded from statistics.
    pub warmup: SimTime,
    /// Hard cap on processed events; reaching it fails the run.
    pub max_events: u64,
    /// Who sends requests and how.
    pub clients: ClientsConfig,
    /// The request mix (shares sum to 1).
    pub classes: Vec<ClassConfig>,
    /// Server groups, in scenario order; servers are numbered group by group.
    pub groups: Vec<ServerGroupConfig>,
    /// The balancing algorithm of the load balancer.
    pub algorithm: AlgorithmSpec,
    /// Who the clients are.
    pub population: PopulationConfig,
    /// Where session state lives.
    pub sessions: SessionConfig,
    /// Servers added or removed during the run, in time order.
    pub changes: Vec<MembershipChange>,
    /// Load balancer nodes and what they know.
    pub lb: LbConfig,
    /// Injected failures.
    pub failures: Vec<FailureSpec>,
    /// Health checking by the load balancers.
    pub health: HealthConfig,
    /// `[trace.preset]`: load and history the balancers believe in at t = 0, to replay a
    /// textbook worked example (empty in ordinary scenarios).
    pub preset: Vec<ServerPreset>,
    /// `[[services]]`: the services and their internal tiers (empty: one service, every
    /// group behind `[lb]`, as before services existed).
    pub services: Vec<ServiceConfig>,
    /// Clients' connections to the edge tier (`None`: every request on its own, the
    /// connection-less model).
    pub connections: Option<crate::model::ConnConfig>,
}

/// What every load balancer node believes about one server at t = 0 (`[trace.preset]`).
///
/// `in_flight` phantom requests are added to each node's own count for the server at
/// t = 0 and never complete: no server works on them, no client waits for them, they are
/// never answered or counted in any metric; the balancer simply sees that much more load
/// for the whole run. `response_time` is reported to each node's balancer as one
/// successful response from the server, measured at t = 0 (least response time and
/// peak EWMA start from it; the others ignore it). Scenarios with presets are for
/// `lblab trace`: `run`, `compare` and `sweep` refuse them.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ServerPreset {
    /// Server id (in the pool at t = 0).
    pub server: u32,
    /// Phantom requests in flight from each node.
    pub in_flight: u32,
    /// One timed success seen by each node's balancer at t = 0.
    pub response_time: Option<SimTime>,
}

/// How load balancers decide a server is up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthConfig {
    /// Active checks (one checker per load balancer node and server).
    pub active: Option<ActiveHealth>,
    /// Envoy outlier detection (one detector per load balancer node).
    pub outlier: Option<crate::health::outlier::OutlierConfig>,
    /// Envoy panic threshold in percent: when fewer than this share of a node's servers is
    /// healthy, it balances over all of them, healthy or not. 0 = off.
    pub panic_threshold: f64,
    /// Slow start: a server coming back into rotation ramps its weight up.
    pub slow_start: Option<SlowStart>,
    /// A liveness probe on each server (the kubelet's): failing it restarts the server.
    pub liveness: Option<Liveness>,
}

/// A liveness probe: the kubelet probes each container and restarts it after
/// `failure_threshold` failures in a row.
#[derive(Clone, Debug, PartialEq)]
pub struct Liveness {
    /// Timing and thresholds (success threshold 1).
    pub probe: crate::health::kubernetes::KubeProbeConfig,
    /// What a probe tests (`http` by default).
    pub check: CheckType,
    /// Server time to answer it (scaled by a slow failure).
    pub probe_time: SimTime,
    /// A deep probe: the handler also calls these services (by name) and fails if one of
    /// them fails or does not answer.
    pub depends: Vec<String>,
    /// From the kill to the new process serving (termination, start-up, warm-up), before
    /// any CrashLoopBackOff delay.
    pub restart: SimTime,
}

/// Slow start after a server comes (back) into rotation.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct SlowStart {
    /// Ramp length (HAProxy `slowstart`, Envoy `slow_start_window`).
    pub window: SimTime,
    /// Whose ramp.
    pub style: SlowStartStyle,
}

/// The two slow-start ramps.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum SlowStartStyle {
    /// HAProxy: `eweight = uweight · ⌊(16·t + S)/S⌋ / 16`, t and S in whole seconds: 1/16 of
    /// the weight at once, then linearly to full.
    Haproxy,
    /// Envoy: `w · max((t/S)^(1/aggression), min_weight_percent)`.
    Envoy {
        /// Curve shape (1.0 = linear).
        aggression: f64,
        /// Floor, in percent of the weight.
        min_weight_percent: f64,
    },
}

/// Active health checking.
#[derive(Clone, Debug, PartialEq)]
pub struct ActiveHealth {
    /// Whose state machine and defaults.
    pub style: ActiveStyle,
    /// What a probe tests.
    pub check: CheckType,
    /// Server time to answer an HTTP probe (scaled by a slow failure).
    pub probe_time: SimTime,
    /// Probability that a probe or its answer is lost on a noisy network (the checker then
    /// times it out).
    pub loss: f64,
    /// A deep check: the probe handler also calls these services (by name), one after
    /// another, and answers 503 if one fails or does not answer (empty: shallow).
    pub depends: Vec<String>,
}

/// Whose active checker.
#[derive(Clone, Debug, PartialEq)]
pub enum ActiveStyle {
    /// HAProxy `check` (one health counter over rise + fall).
    Haproxy(crate::health::haproxy::HaproxyCheckConfig),
    /// Envoy active health checking (thresholds, edge intervals).
    Envoy(crate::health::envoy::EnvoyCheckConfig),
    /// A Kubernetes readiness probe (period, timeout, failure and success thresholds).
    Kubernetes(crate::health::kubernetes::KubeProbeConfig),
}

/// What a probe tests.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CheckType {
    /// A TCP connect: passes whenever the kernel accepts, even if the process errors,
    /// crawls or hangs.
    Tcp,
    /// An HTTP request: fails on a 5xx or when no answer comes within the timeout.
    Http,
}

/// A failure injected into one or more servers.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureSpec {
    /// Server ids it hits (each independently for random timing).
    pub servers: Vec<u32>,
    /// Load balancer nodes it hits (0-based; `lb-1` is 0), each independently.
    pub lb_nodes: Vec<u32>,
    /// What goes wrong.
    pub kind: FailureKind,
    /// When.
    pub timing: FailureTiming,
}

/// What goes wrong with a server.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum FailureKind {
    /// The process dies: connections are refused at once; requests on it are reset.
    Crash,
    /// A black hole: connections are accepted but nothing is ever answered.
    Hang,
    /// Gray failure: service times are multiplied by `factor`.
    Slow {
        /// Slowdown factor (> 1 is slower).
        factor: f64,
    },
    /// A share `rate` of requests fail fast with HTTP `status`.
    Errors {
        /// Probability that a request fails.
        rate: f64,
        /// The status returned.
        status: u16,
    },
    /// Alternates: down (like a crash) for `down`, then up for `up`, repeatedly.
    Flap {
        /// Time up in each cycle.
        up: SimTime,
        /// Time down in each cycle.
        down: SimTime,
    },
    /// The network drops everything between the server and the load balancers (or, with
    /// `from`, only the instances of some services) both ways; the server itself keeps
    /// working.
    Partition {
        /// 0: cut from everyone. Otherwise the services (bit `s` for service `s`) whose
        /// instances cannot reach it: their calls to it are lost and their deep checks of
        /// it time out, while the load balancers and everyone else still reach it.
        from: u64,
    },
    /// Planned maintenance: no new requests; requests still on it after `delay` (the
    /// deregistration delay) are cut; it comes back when the failure ends.
    Drain {
        /// Deregistration delay.
        delay: SimTime,
    },
    /// A load balancer node shuts down gracefully (keepalived stopping, BGP withdrawal):
    /// it takes no new connections, finishes what it has, and tells its peers.
    Stop,
}

impl FailureKind {
    /// The name used in scenarios and CSV files.
    pub fn name(&self) -> &'static str {
        match self {
            FailureKind::Crash => "crash",
            FailureKind::Hang => "hang",
            FailureKind::Slow { .. } => "slow",
            FailureKind::Errors { .. } => "errors",
            FailureKind::Flap { .. } => "flap",
            FailureKind::Partition { .. } => "partition",
            FailureKind::Drain { .. } => "drain",
            FailureKind::Stop => "stop",
        }
    }
}

/// When a failure happens.
#[derive(Clone, Debug, PartialEq)]
pub enum FailureTiming {
    /// At a fixed time, for `duration` (`None`: until the end).
    At {
        /// Start.
        at: SimTime,
        /// How long (then the server recovers).
        duration: Option<SimTime>,
    },
    /// Repeatedly: up for a draw of `mtbf`, down for a draw of `mttr` (availability runs).
    Random {
        /// Time between failures.
        mtbf: Dist,
        /// Time to repair.
        mttr: Dist,
    },
}

/// What the load balancer does when an attempt fails.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryConfig {
    /// Extra attempts per request (nginx `proxy_next_upstream_tries` − 1; 0 = no retries).
    pub retries: u32,
    /// Retry when the connection is refused/reset (nginx `error`).
    pub on_refused: bool,
    /// Retry when the upstream timeout fires (nginx `timeout`).
    pub on_timeout: bool,
    /// Retry on HTTP 5xx responses (nginx `http_500 http_502 http_503 http_504`).
    pub on_5xx: bool,
    /// Envoy-style retry budget: retries in flight may not exceed `percent` of active
    /// requests (or `min_concurrency`, whichever is larger). `None`: unlimited.
    pub budget: Option<RetryBudget>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            retries: 0,
            on_refused: true,
            on_timeout: true,
            on_5xx: false,
            budget: None,
        }
    }
}

/// An Envoy `retry_budget`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct RetryBudget {
    /// Percent of active requests that may be retries (Envoy default 20).
    pub percent: f64,
    /// Retries always allowed concurrently (Envoy default 3).
    pub min_concurrency: u32,
}

/// The load balancer tier: how many independent balancer instances, and what they see.
#[derive(Clone, Debug, PartialEq)]
pub struct LbConfig {
    /// Independent load balancer instances; client `c` uses node `c % nodes` (many nodes =
    /// client-side balancing, each client group with its own view).
    pub nodes: u32,
    /// What each node's balancer knows about server load.
    pub view: LbView,
    /// The load balancer gives up on an attempt after this long (nginx
    /// `proxy_read_timeout`, Envoy route timeout); `None` waits for the client's timeout.
    pub upstream_timeout: Option<SimTime>,
    /// Retries on another server.
    pub retry: RetryConfig,
    /// How clients reach the nodes, and how the tier survives a node's failure.
    pub topology: Topology,
    /// What the nodes see of a request: TCP connections (L4) or HTTP requests (L7).
    pub layer: Layer,
    /// Each node's CPU: `None` leaves the load balancers infinitely fast.
    pub cpu: Option<LbCpu>,
    /// How its pools use backup servers and priority levels (`None`: one level, no panic).
    pub priority: Option<crate::balancer::priority::PriorityRule>,
}

/// What a load balancer node sees of a request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Layer {
    /// TCP: addresses and connection outcomes only (IPVS, HAProxy `mode tcp`).
    L4,
    /// HTTP: requests, cookies, statuses (nginx, HAProxy `mode http`, Envoy).
    L7,
}

/// A load balancer node's CPU: `cores` workers, each request costing a `cost` draw per
/// pass through the node (its first attempt and each retry).
#[derive(Clone, Debug, PartialEq)]
pub struct LbCpu {
    /// Cores (concurrent requests being processed).
    pub cores: u32,
    /// CPU time per pass.
    pub cost: Dist,
    /// Layer 4: how replies get back. NAT (`Some`): through the node, each reply costing
    /// this much of its CPU; DR or TUN (`None`): straight from the server to the client.
    pub reply_cost: Option<Dist>,
}

/// How clients reach the load balancer nodes (the HA topology of the tier itself).
#[derive(Clone, Debug, PartialEq)]
pub enum Topology {
    /// No failover: client `c` always uses node `c % nodes`.
    Single,
    /// One virtual IP held by one node at a time, moved by VRRP (keepalived).
    ActivePassive {
        /// Per node, its VRRP instance's settings.
        vrrp: Vec<crate::ha::vrrp::VrrpConfig>,
    },
    /// Every node has its own address in a round-robin DNS answer; a health check removes
    /// dead nodes' records; clients cache answers for up to the TTL.
    Dns(DnsConfig),
    /// Every node announces the same address; routers spread flows over the nodes with a
    /// live route by ECMP hashing.
    Anycast(AnycastConfig),
}

impl Topology {
    /// The name used in scenarios.
    pub fn name(&self) -> &'static str {
        match self {
            Topology::Single => "single",
            Topology::ActivePassive { .. } => "active-passive",
            Topology::Dns(_) => "active-active-dns",
            Topology::Anycast(_) => "anycast",
        }
    }
}

/// Round-robin DNS over the nodes (Route 53-style health-checked records).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct DnsConfig {
    /// Record TTL: a client keeps its answer for up to this long (uniformly less, since
    /// shared resolver caches are part-way through it).
    pub ttl: SimTime,
    /// The DNS health check's interval (Route 53: 30 s, or 10 s "fast").
    pub check_interval: SimTime,
    /// Consecutive failed (passed) checks to remove (restore) a record (Route 53: 3).
    pub failure_threshold: u32,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            ttl: SimTime::from_secs(60),
            check_interval: SimTime::from_secs(30),
            failure_threshold: 3,
        }
    }
}

/// Anycast with ECMP in front of the nodes.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct AnycastConfig {
    /// How the router spreads flows over the next hops.
    pub ecmp: crate::ha::ecmp::EcmpMode,
    /// How long the router takes to notice a dead node: BFD `multiplier × interval` or
    /// the BGP hold time.
    pub detect: SimTime,
    /// Time between hellos (BFD interval, BGP keepalive): the last one arrived up to this
    /// long before the node died, so detection takes `detect − U(0, hello)`.
    pub hello: SimTime,
    /// Convergence after a graceful withdrawal or a re-announcement.
    pub converge: SimTime,
}

impl Default for AnycastConfig {
    fn default() -> Self {
        AnycastConfig {
            ecmp: crate::ha::ecmp::EcmpMode::HashThreshold,
            detect: SimTime::from_millis(900),
            hello: SimTime::from_millis(300),
            converge: SimTime::SECOND,
        }
    }
}

impl Default for LbConfig {
    fn default() -> Self {
        LbConfig {
            nodes: 1,
            view: LbView::Own,
            upstream_timeout: None,
            retry: RetryConfig::default(),
            topology: Topology::Single,
            layer: Layer::L7,
            cpu: None,
            priority: None,
        }
    }
}

/// What a node's balancer sees as a backend's load (`Backend::in_flight`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum LbView {
    /// Its own count of requests in flight (what a real load balancer knows).
    Own,
    /// Every server's true load (in service + queued) as of the last report, the same
    /// stale snapshot for every node, refreshed every `interval`.
    Reported {
        /// Time between load reports.
        interval: SimTime,
    },
}

/// The client population (see `model::population`).
#[derive(Clone, Debug, PartialEq)]
pub struct PopulationConfig {
    /// Number of distinct clients (closed loop: one per user).
    pub clients: u32,
    /// How clients get their IPv4 addresses.
    pub ips: IpModel,
    /// Request-rate skew across clients: Zipf exponent (0 = every client equally active).
    pub activity_zipf: f64,
}

impl Default for PopulationConfig {
    fn default() -> Self {
        PopulationConfig {
            clients: 1000,
            ips: IpModel::Unique,
            activity_zipf: 0.0,
        }
    }
}

/// How client addresses are assigned.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum IpModel {
    /// One address per client.
    Unique,
    /// `public_ips` shared addresses, clients per address Zipf-skewed with exponent `zipf`.
    Nat {
        /// Number of public addresses.
        public_ips: u32,
        /// Skew of clients over addresses.
        zipf: f64,
    },
    /// Clients clustered in `subnets` /24 networks (Zipf-skewed), random host part.
    Subnets {
        /// Number of /24 networks.
        subnets: u32,
        /// Skew of clients over networks.
        zipf: f64,
    },
    /// Each client's address changes every `change_every` (random phase per client).
    Mobile {
        /// Period of address changes.
        change_every: SimTime,
    },
}

/// Where session state lives (the three classic answers to persistence).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// A signed client token: nothing on the servers, nothing to lose.
    Token,
    /// On the server that served the session: lost when a request lands elsewhere.
    Server,
    /// In a shared store: every request pays the store's latency.
    Shared,
}

/// Sessions: how long they last and where their state is.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionConfig {
    /// Where the state lives.
    pub state: SessionState,
    /// A client idle this long starts a new session (its cookie and state are fresh).
    pub idle_timeout: SimTime,
    /// Extra work per request for a shared store (`state = shared`) modelled in process.
    pub store_latency: Option<Dist>,
    /// The shared store as a service (`store = "redis"`): with `state = shared`, every
    /// hop at a class's entry service first calls it, in sequence, so it can be slow,
    /// saturate, fail or be partitioned away like any service.
    pub store: Option<crate::model::CallSpec>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            state: SessionState::Token,
            idle_timeout: SimTime::from_secs(1800),
            store_latency: None,
            store: None,
        }
    }
}

/// A change of pool membership at a given time.
#[derive(Clone, Debug, PartialEq)]
pub struct MembershipChange {
    /// When it happens.
    pub at: SimTime,
    /// What happens.
    pub action: ChangeAction,
}

/// What a membership change does.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeAction {
    /// Bring `count` more servers of group `group` into the pool (scale-out).
    Add {
        /// Group index.
        group: usize,
        /// How many.
        count: u32,
    },
    /// Take the `count` highest-numbered members of group `group` out (scale-in).
    RemoveFromGroup {
        /// Group index.
        group: usize,
        /// How many.
        count: u32,
    },
    /// Take one server out by id.
    RemoveServer {
        /// Server id.
        id: u32,
    },
    /// Give every server of group `group` (spares too) weight `weight` from now on (a
    /// canary's weight raised step by step).
    Reweight {
        /// Group index.
        group: usize,
        /// The new weight (0 takes no new traffic).
        weight: u32,
    },
}

/// Keys of a request class: which of `count` keys a request asks for, Zipf-skewed.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct KeySpace {
    /// Number of distinct keys (with `by_client`: unused, one key per client).
    pub count: u64,
    /// Popularity skew (0 = uniform).
    pub zipf: f64,
    /// Each request's key is its client (`keys = { by = "client" }`): data kept per user,
    /// such as a per-user cache.
    pub by_client: bool,
}

impl KeySpace {
    /// Key numbers a class takes: its `count`, or one per possible client id.
    pub fn span(&self) -> u64 {
        if self.by_client { 1 << 32 } else { self.count }
    }
}

/// The client side of the workload.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientsConfig {
    /// Open or closed loop.
    pub load: Load,
    /// A client gives up on a request after this long (an error); `None` waits forever.
    pub timeout: Option<SimTime>,
}

/// How requests are generated.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// Poisson arrivals whose rate follows a schedule (a constant rate is one point).
    Open(RateSchedule),
    /// `users` users, each waiting for its response and then thinking before the next.
    Closed {
        /// Number of users.
        users: u32,
        /// Think time between a response (or error) and the next request.
        think: Dist,
    },
}

/// A piecewise rate schedule: from each point's time the rate is the point's rate, held
/// constant (a step) or changing linearly to the next point's rate (a ramp).
#[derive(Clone, Debug, PartialEq)]
pub struct RateSchedule {
    /// Points in increasing time; the first is at time zero.
    pub points: Vec<RatePoint>,
}

/// One point of a [`RateSchedule`].
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct RatePoint {
    /// When this segment starts.
    pub at: SimTime,
    /// Arrival rate at `at`, requests per second.
    pub rate_per_s: f64,
    /// If true the rate moves linearly to the next point's rate; otherwise it holds.
    pub ramp: bool,
}

impl RateSchedule {
    /// A constant rate from time zero.
    pub fn constant(rate_per_s: f64) -> RateSchedule {
        RateSchedule {
            points: vec![RatePoint {
                at: SimTime::ZERO,
                rate_per_s,
                ramp: false,
            }],
        }
    }

    /// Expected number of arrivals in `[from, to)`.
    pub fn expected_arrivals(&self, from: SimTime, to: SimTime) -> f64 {
        let mut total = 0.0;
        for (i, p) in self.points.iter().enumerate() {
            let end = self.points.get(i + 1).map_or(SimTime::MAX, |n| n.at);
            let (a, b) = (p.at.max(from), end.min(to));
            if a >= b {
                continue;
            }
            let r_at = |t: SimTime| self.rate_at_in(i, t);
            total += 0.5 * (r_at(a) + r_at(b)) * (b - a).as_secs_f64();
        }
        total
    }

    /// The rate at time `t` within segment `i`.
    pub(crate) fn rate_at_in(&self, i: usize, t: SimTime) -> f64 {
        let p = self.points[i];
        match self.points.get(i + 1) {
            Some(n) if p.ramp => {
                let f = (t - p.at).as_secs_f64() / (n.at - p.at).as_secs_f64();
                p.rate_per_s + (n.rate_per_s - p.rate_per_s) * f.clamp(0.0, 1.0)
            }
            _ => p.rate_per_s,
        }
    }
}

/// A class of requests.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassConfig {
    /// Name (unique).
    pub name: String,
    /// Probability that a request is of this class.
    pub share: f64,
    /// Work at speed 1.0; a server of speed s takes `draw / s`.
    pub service: Dist,
    /// The server group that serves this class (index into `groups`), or `None` for all
    /// servers. Each distinct pool gets its own balancer instance.
    pub pool: Option<usize>,
    /// Request keys (for hash routing and caches), if the class has any.
    pub keys: Option<KeySpace>,
    /// Work of a cache hit at speed 1 (a miss takes `service`); `None` = same as a miss.
    pub hit_service: Option<Dist>,
    /// The service its clients send it to, through the edge tier (index into `services`;
    /// 0 without services).
    pub entry: usize,
    /// What it does at each service (indexed like `services`; empty without services):
    /// the entry hop's work is `service`, the others' their own or the service's `work`.
    pub hops: Vec<Hop>,
    /// A long-lived connection class (WebSocket, a stream): when its connection is reset
    /// (its server crashed, drained or refused it) the client reconnects after this policy's
    /// delay, for the rest of its duration. `None`: a reset request just fails.
    pub reconnect: Option<Reconnect>,
}

/// How a client reconnects a long-lived connection that was reset: the k-th consecutive
/// try waits `min(initial · multiplier^(k−1), max)`, times a uniform factor in
/// `1 ± jitter` (gRPC's connection backoff: 1 s, ×1.6, ±20%, at most 120 s).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reconnect {
    /// The first delay.
    pub initial: SimTime,
    /// Growth per consecutive failed try.
    pub multiplier: f64,
    /// Relative jitter, 0 – 1.
    pub jitter: f64,
    /// The longest delay.
    pub max: SimTime,
}

impl Reconnect {
    /// At once: a client that reconnects in its `onclose` handler (a millisecond, so that a
    /// refusal loop still advances the clock).
    pub const IMMEDIATE: Reconnect = Reconnect {
        initial: SimTime::from_nanos(1_000_000),
        multiplier: 1.0,
        jitter: 0.0,
        max: SimTime::from_nanos(1_000_000),
    };

    /// gRPC's connection backoff (`doc/connection-backoff.md`).
    pub const GRPC: Reconnect = Reconnect {
        initial: SimTime::from_nanos(1_000_000_000),
        multiplier: 1.6,
        jitter: 0.2,
        max: SimTime::from_nanos(120_000_000_000),
    };

    /// The nominal delay of try `k` (1-based), before jitter.
    pub fn nominal(&self, k: u32) -> SimTime {
        let f = self.multiplier.powi(k.saturating_sub(1).min(1000) as i32);
        let ns = (self.initial.as_nanos() as f64 * f).min(self.max.as_nanos() as f64);
        SimTime::from_nanos_f64(ns)
    }
}

/// A group of identical servers.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerGroupConfig {
    /// Group name; its servers are `name-1`, `name-2`, ...
    pub name: String,
    /// Number of servers in the pool at the start.
    pub count: u32,
    /// Extra servers that membership changes may add later (`name-(count+1)`, ...).
    pub spare: u32,
    /// Speed factor: service time is the class draw divided by it.
    pub speed: f64,
    /// Concurrent workers per server.
    pub slots: u32,
    /// Waiting-room capacity per server; a request arriving to a full queue is rejected.
    pub queue: u32,
    /// Balancer weight.
    pub weight: u32,
    /// One-way delay between the load balancer and each server, drawn per message.
    pub network_delay: Option<Dist>,
    /// Per-server LRU cache of this many request keys, if any.
    pub cache: Option<u32>,
    /// The algorithm for this group when classes are routed to it as a pool (L7
    /// routing); `None` uses the scenario's `[balancer]`.
    pub balancer: Option<AlgorithmSpec>,
    /// Where its servers run (`on`): servers of another group are their hosts (pods on
    /// nodes). `None`: each server is its own host.
    pub on: Option<Placement>,
    /// Its priority level in the pools it is in: 0 (primary) first, then 1 (`backup =
    /// true`), ... (see `LbConfig::priority` for when a request goes past level 0).
    pub priority: u8,
}

/// The hosts of a group's servers.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// Spread over the servers of group `0` in turn: server i runs on host i mod count.
    Spread(usize),
    /// Server i runs on `(group, index)` (0-based index within that group's servers);
    /// spares continue in turn over the listed hosts.
    List(Vec<(usize, u32)>),
}

impl WorldConfig {
    /// Number of servers in the pool at the start.
    pub fn n_servers(&self) -> usize {
        self.groups.iter().map(|g| g.count as usize).sum()
    }

    /// Number of servers that exist at some point (initial members and spares).
    pub fn n_allocated(&self) -> usize {
        self.groups
            .iter()
            .map(|g| (g.count + g.spare) as usize)
            .sum()
    }

    /// `(server name, group index)` for every allocated server in id order.
    pub fn server_names(&self) -> Vec<(String, usize)> {
        let mut out = Vec::with_capacity(self.n_allocated());
        for (gi, g) in self.groups.iter().enumerate() {
            for i in 1..=g.count + g.spare {
                out.push((format!("{}-{}", g.name, i), gi));
            }
        }
        out
    }

    /// The id range `[lo, hi)` of the allocated servers of group `g`.
    pub fn group_range(&self, g: usize) -> (usize, usize) {
        let lo: usize = self.groups[..g]
            .iter()
            .map(|g| (g.count + g.spare) as usize)
            .sum();
        (
            lo,
            lo + (self.groups[g].count + self.groups[g].spare) as usize,
        )
    }

    /// Mean work per request at speed 1, in nanoseconds.
    pub fn mean_service_ns(&self) -> f64 {
        self.classes
            .iter()
            .map(|c| c.share * c.service.mean())
            .sum()
    }

    /// Total service capacity in requests per second (Σ slots·speed / mean work).
    pub fn capacity_per_s(&self) -> f64 {
        let work = self.mean_service_ns() * 1e-9;
        let speed: f64 = self
            .groups
            .iter()
            .map(|g| f64::from(g.count) * f64::from(g.slots) * g.speed)
            .sum();
        if work > 0.0 {
            speed / work
        } else {
            f64::INFINITY
        }
    }
}
