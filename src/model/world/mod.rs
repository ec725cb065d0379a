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

mod book;
mod calls;
mod changes;
mod clients;
mod conn_stats;
mod conns;
mod faults;
mod health;
mod liveness;
mod metrics;
mod priority;
mod reconnect;
mod request;
mod series;
mod server;
mod service;
mod slices;
mod sockets;
mod upstream;
mod workers;

/// How many time buckets the series of a run of `cfg` have.
pub(crate) fn time_buckets(cfg: &WorldConfig) -> usize {
    metrics::buckets(cfg).1
}

pub use trace::{ServerMoment, TraceLine};

use crate::balancer::OutcomeKind;

use crate::engine::prefetch::{When, hint};
use crate::engine::{EventQueue, SeedTree, SimRng, SimTime};

use crate::metrics::RepResult;

use super::config::{Load, WorldConfig};

use crate::health::ProbeResult;

use book::Book;
use clients::{Clients, NO_USER};
use faults::Faults;
use metrics::Stats;
use server::Server;
use service::{Route, Service};
use tier::Tier;

/// "No value" for dense `u32` slots (cookies, positions, session servers).
const NONE: u32 = u32::MAX;

/// "No key" for requests of classes without keys.
const NO_KEY: u64 = u64::MAX;

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

/// One scheduled happening; 24 bytes, kept in the event store's slab and read once, when it
/// is popped (`EventQueue::pop_entry`, which hands it over without re-laying it out into a
/// `(time, event)` tuple: that cost a store-forwarding stall per event, about 8% of the
/// whole run, with the heap before).
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
        /// The attempt's server and request (only cache hints: `att` says the same).
        server: u32,
        creq: u32,
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
    /// Servers report their load to tier `tier` (`view = reported`).
    Report { tier: u16 },
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
    /// Tier `tier`'s active checker `idx` (`node * n + server`) asked to be woken now.
    CheckTimer { tier: u16, idx: u32 },
    /// A probe's answer reaches tier `tier`'s checker `idx`.
    ProbeDone {
        probe: u64,
        tier: u16,
        idx: u32,
        result: ProbeResult,
    },
    /// Server `server`'s liveness prober's timer.
    LiveTimer { server: u32 },
    /// A liveness probe's answer reaches the kubelet.
    LiveProbeDone {
        probe: u64,
        server: u32,
        result: ProbeResult,
    },
    /// A server killed by its liveness probe runs again.
    Restarted { server: u32 },
    /// A time-series bucket ends (per-server in-flight sample).
    Sample,
    /// Node `node`'s outlier detector in tier `tier` ticks.
    OutlierTick { tier: u16, node: u32 },
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
    /// Request `creq`'s connection has finished its handshake.
    ConnReady { creq: u32, generation: u32 },
    /// Connection `conn`'s idle timer (it closes if it has been idle for the timeout).
    ConnIdle { conn: u32, generation: u32 },
    /// A client reconnects a long-lived connection of class `class` for its remaining work.
    Reconnect {
        client: u32,
        class: u16,
        tries: u16,
        remaining_ns: u64,
    },
    /// Connection `conn`'s end: its maximum age, a WebSocket's lifetime, or a refused
    /// connect's RST.
    ConnEnd {
        conn: u32,
        generation: u32,
        why: sockets::EndWhy,
    },
    /// A client reopens its WebSocket.
    SocketReopen { client: u32 },
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

/// One replication of a world, ready to [`run`](World::run).
pub struct World<'c, const TRACE: bool = false> {
    cfg: &'c WorldConfig,
    seeds: SeedTree,
    replication: u32,
    q: EventQueue<Ev>,
    now: SimTime,
    rng_net: SimRng,
    /// WebSockets' lifetimes and reconnect jitter.
    rng_socket: SimRng,
    rng_store: SimRng,
    rng_tier: SimRng,
    /// Deep checks' choice of a dependency's server, and liveness probes' error draws.
    rng_deep: SimRng,
    /// Liveness probes and restarts.
    kubelet: liveness::Kubelet,
    /// The load balancer tier: nodes up or down, and the HA machines.
    tier: Tier,
    /// `lblab trace`'s recorder (`None` in ordinary runs).
    tracer: Option<Box<trace::Tracer>>,
    clients: Clients,
    servers: Vec<Server>,
    /// The load balancer tiers: 0 is the edge (`[lb]`), then one per service that another
    /// service calls.
    tiers: Vec<Service>,
    /// Per service: the internal tier in front of it, or `NONE` (nothing calls it).
    svc_tier: Vec<u32>,
    /// Some class calls another service (the one-service world skips all call handling).
    has_calls: bool,
    book: Book,
    faults: Faults,
    stats: Stats,
    /// Per-service and per-server time series, time per hop.
    series: series::Series,
    /// Clients' connections to the edge tier (`None`: the connection-less model).
    conns: Option<conns::Conns>,
    /// Reconnects of long-lived connection classes (`None`: no class reconnects).
    reconnects: Option<reconnect::Reconnects>,
    /// The layer-7 node's pooled connections to the backends (`None`: not modelled).
    upstream: Option<upstream::Upstream>,
}

impl<'c> World<'c> {
    /// Builds replication `replication` of `cfg` with randomness from `seeds`.
    pub fn new(cfg: &'c WorldConfig, seeds: &SeedTree, replication: u32) -> World<'c> {
        World::build(cfg, seeds, replication, true)
    }

    /// The same world with every class drawing its keys as its requests come, none ahead:
    /// what drawing keys ahead must not change.
    #[cfg(test)]
    pub(crate) fn without_key_hints(
        cfg: &'c WorldConfig,
        seeds: &SeedTree,
        replication: u32,
    ) -> World<'c> {
        World::build(cfg, seeds, replication, false)
    }
}

impl<'c, const TRACE: bool> World<'c, TRACE> {
    /// Builds the world; `TRACE` compiles `lblab trace`'s hooks in (`World::new` leaves
    /// them out, so ordinary runs do not pay for them). `key_hints`: draw keys ahead for
    /// the balancers that take hints (always, but in a test of that).
    fn build(
        cfg: &'c WorldConfig,
        seeds: &SeedTree,
        replication: u32,
        key_hints: bool,
    ) -> World<'c, TRACE> {
        let stream = |label: &str| seeds.stream(replication, label);
        let servers = server::fleet(cfg);
        let servers_n = servers.len();
        let n_clients = cfg.population.clients as usize;
        let mut tiers = vec![Service::edge(cfg, &stream)];
        let mut svc_tier = vec![NONE; cfg.services.len()];
        for (s, tier) in svc_tier.iter_mut().enumerate() {
            if cfg.is_called(s) {
                *tier = tiers.len() as u32;
                tiers.push(Service::internal(cfg, s, &stream));
            }
        }
        let has_calls = tiers.len() > 1;
        let service_of: Vec<usize> = servers.iter().map(|s| s.service).collect();
        let kubelet = liveness::Kubelet::new(cfg, &service_of, &mut stream("kubelet"));
        let mut w = World {
            cfg,
            seeds: *seeds,
            replication,
            q: EventQueue::new(),
            now: SimTime::ZERO,
            rng_net: stream("network"),
            rng_socket: stream("connections/sockets"),
            rng_store: stream("session-store"),
            rng_tier: stream("lb-tier"),
            rng_deep: stream("health/deep"),
            kubelet,
            tier: Tier::new(cfg, n_clients),
            tracer: None,
            clients: Clients::new(cfg, tiers[0].n_pools, &stream),
            faults: Faults::new(cfg, servers.len(), &stream),
            servers,
            tiers,
            svc_tier,
            has_calls,
            book: Book::new(),
            series: {
                let (bucket_ns, n_buckets) = metrics::buckets(cfg);
                series::Series::new(cfg, bucket_ns, n_buckets)
            },
            stats: Stats::new(cfg),
            reconnects: reconnect::Reconnects::new(cfg, stream("clients/reconnect")),
            upstream: cfg
                .connections
                .as_ref()
                .and_then(|c| upstream::Upstream::new(c, cfg.lb.nodes as usize, servers_n)),
            conns: cfg.connections.as_ref().map(|c| {
                conns::Conns::new(cfg, c, n_clients, servers_n, stream("connections/age"))
            }),
        };
        w.rebuild_routes();
        if key_hints {
            w.arm_key_hints();
        }
        w
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
            self.prefetch_next();
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
        // Each reporting tier on its own interval.
        for t in 0..self.tiers.len() {
            if let crate::model::config::LbView::Reported { interval } = self.tier_lb(t).view {
                self.q.push(interval, Ev::Report { tier: t as u16 });
            }
        }
        for t in 0..self.tiers.len() {
            for idx in 0..self.tiers[t].checkers.len() {
                self.drive_checker(t, idx);
            }
            for node in 0..self.tiers[t].outliers.len() {
                self.arm_outlier(t, node);
            }
        }
        for s in 0..self.servers.len() {
            if self.kubelet.probers[s].is_some() {
                self.drive_liveness(s);
            }
        }
        self.q
            .push(self.series.boundary(0).min(self.cfg.duration), Ev::Sample);
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

    /// Asks the CPU to start loading what the next event will touch while this one is
    /// handled: a completion's attempt, request, server, the next attempt in its queue and
    /// the answer's counters (other events are not worth it). The event carries the
    /// server and request so that no hint waits for the attempt's line.
    #[inline]
    fn prefetch_next(&self) {
        let Some(&Ev::ServiceDone {
            att, server, creq, ..
        }) = self.q.peek_store()
        else {
            return;
        };
        self.book.hint_att(att, When::Soon);
        self.book.hint_creq(creq, When::Soon);
        let srv = &self.servers[server as usize];
        srv.hint_hot_lines();
        if let Some(&next) = srv.queue.front() {
            self.book.hint_att(next, When::Soon);
        }
        // The answer's counters where one node holds the whole pool in one route (the
        // common case; elsewhere the hint is merely wasted).
        if let Some(t0) = self.tiers.first() {
            if let [r] = &t0.routes[..]
                && let Some(b) = r.backends.get(server as usize)
            {
                hint(b, When::Soon);
            }
            if let Some(n) = t0.in_flight.get(server as usize) {
                hint(n, When::Soon);
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
                ..
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
            Ev::Report { tier } => self.report(tier as usize),
            Ev::Fault {
                spec,
                server,
                recover,
            } => self.fault(spec as usize, server, recover),
            Ev::Flap { server, down } => self.flap(server, down),
            Ev::CheckTimer { tier, idx } => {
                let (t, i) = (tier as usize, idx as usize);
                if self.tiers[t].check_due[i] == self.now {
                    self.tiers[t].check_due[i] = SimTime::MAX;
                    if let Some(c) = self.tiers[t].checkers[i].as_mut() {
                        c.handle_timeout(self.now);
                    }
                    self.drive_checker(t, i);
                }
            }
            Ev::ProbeDone {
                tier,
                idx,
                probe,
                result,
            } => {
                let (t, i) = (tier as usize, idx as usize);
                if TRACE {
                    self.trace_probe(t, i, result);
                }
                if let Some(c) = self.tiers[t].checkers[i].as_mut() {
                    c.handle_probe_result(self.now, probe, result);
                }
                self.drive_checker(t, i);
            }
            Ev::LiveTimer { server } => self.live_timer(server as usize),
            Ev::LiveProbeDone {
                probe,
                server,
                result,
            } => self.live_probe_done(server as usize, probe, result),
            Ev::Restarted { server } => self.restarted(server as usize),
            Ev::Sample => self.sample(),
            Ev::OutlierTick { tier, node } => {
                let (t, n) = (tier as usize, node as usize);
                if self.tiers[t].outlier_due[n] == self.now {
                    self.tiers[t].outlier_due[n] = SimTime::MAX;
                    self.tiers[t].outliers[n].handle_timeout(self.now);
                    self.drain_outlier(t, n);
                }
            }
            Ev::SlowStartTick => {
                self.tiers[0].slow_tick_armed = false;
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
            Ev::ConnReady { creq, generation } => self.conn_ready(creq, generation),
            Ev::ConnIdle { conn, generation } => self.conn_idle(conn, generation),
            Ev::ConnEnd {
                conn,
                generation,
                why,
            } => self.conn_end(conn, generation, why),
            Ev::SocketReopen { client } => self.socket_reopen(client),
            Ev::Reconnect {
                client,
                class,
                tries,
                remaining_ns,
            } => self.reconnected(client, class, tries, remaining_ns),
            Ev::DrainCut { server, epoch } => {
                let s = &self.servers[server as usize];
                if s.draining && s.epoch == epoch {
                    self.reset_server(server as usize);
                }
            }
        }
    }
}
#[cfg(test)]
mod ev_size {
    #[test]
    fn ev_is_24_bytes() {
        assert_eq!(std::mem::size_of::<super::Ev>(), 24);
    }
}
