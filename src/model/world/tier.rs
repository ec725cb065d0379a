//! The load balancer tier's own availability: which node a client's request reaches, node
//! crashes and graceful stops, and the HA machines that route around a dead node (VRRP for
//! active-passive, a DNS health check for round-robin DNS, route withdrawal and ECMP for
//! anycast).
//!
//! The machines in `crate::ha` are sans-IO; this file moves their messages (VRRP adverts,
//! DNS probes, route changes) on the event queue and applies their decisions to traffic.
//!
//! What a client sees when its path is dead:
//! * the node **crashed** (or nobody holds the virtual IP yet): a black hole. Requests
//!   in flight on the node and requests sent to it are lost; the client notices at its
//!   `timeout` (cause `lb_lost`).
//! * the node **stopped** (host up, service down): the connection is refused at once
//!   (`lb_lost`). Requests it already had finish normally.
//! * anycast moved the client's flow to another node (a route came or went): that node has
//!   no state for the connection and resets it (`lb_lost`).

use crate::engine::SimTime;
use crate::ha::dns::{DnsCheck, pick_record};
use crate::ha::ecmp::{Ecmp, flow_hash};
use crate::ha::vrrp::{Advert, Vrrp, VrrpState};
use crate::metrics::{ErrorCause, HaRow, LbFailoverRow};
use crate::model::config::{FailureKind, FailureTiming, Topology};

use super::{Ev, NONE, World};

/// A request on the way to no node at all (a black hole): it fails at the client timeout.
pub(super) const LOST: u32 = u32::MAX - 1;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum NodeState {
    Up,
    Crashed,
    Stopped,
}

/// Where a client's new request goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Path {
    /// To this node.
    Node(usize),
    /// Into a black hole (towards this node, or `NONE`).
    BlackHole(u32),
    /// To a virtual IP that no node answers for (this node held it last, or `NONE`).
    Unheld(u32),
    /// Refused by this stopped node.
    Reset(u32),
}

/// One failure of a node, as it happened.
#[derive(Clone, Debug)]
pub(super) struct LbFault {
    spec: usize,
    node: u32,
    start: SimTime,
    end: Option<SimTime>,
    failover: Option<SimTime>,
    last_lost: Option<SimTime>,
    lost: u64,
    reset: u64,
}

/// The state of the load balancer tier.
pub(super) struct Tier {
    /// Nothing can happen to the tier: static client → node mapping, no node failures.
    pub(super) trivial: bool,
    state: Vec<NodeState>,
    /// Bumped when a node restarts, so route events scheduled before are recognised.
    epoch: Vec<u32>,
    vrrp: Vec<Vrrp>,
    vrrp_due: Vec<SimTime>,
    vrrp_state: Vec<VrrpState>,
    /// The node whose adverts the network last learned the virtual IP from (the master,
    /// or the last one while nobody is), or `NONE`.
    vip: u32,
    /// Per node: when it last became VRRP master.
    master_since: Vec<SimTime>,
    dns: Vec<DnsCheck>,
    dns_healthy: Vec<bool>,
    dns_rotation: u64,
    /// Per client: the node its cached DNS answer names, and when the cache expires.
    dns_node: Vec<u32>,
    dns_expiry: Vec<SimTime>,
    ecmp: Option<Ecmp>,
    faults: Vec<LbFault>,
    /// Per node: crashes and stops on it now.
    n_crash: Vec<u32>,
    n_stop: Vec<u32>,
    /// Per node (with `lb.cores`): cores busy, requests waiting for one (with their
    /// generation), busy time inside the measured window, and an epoch bumped by crashes.
    cpu_busy: Vec<u32>,
    cpu_queue: Vec<std::collections::VecDeque<(u32, u32)>>,
    cpu_busy_ns: Vec<u64>,
    cpu_epoch: Vec<u32>,
    /// Per node: index in `faults` of its latest failure, or `NONE` (route changes after
    /// a restart belong to it).
    latest: Vec<u32>,
    log: Vec<(SimTime, u32, &'static str)>,
}

impl Tier {
    pub(super) fn new(w: &super::WorldConfig, clients: usize) -> Tier {
        let nodes = w.lb.nodes as usize;
        let node_failures = w.failures.iter().any(|f| !f.lb_nodes.is_empty());
        let mut t = Tier {
            trivial: matches!(w.lb.topology, Topology::Single) && !node_failures,
            state: vec![NodeState::Up; nodes],
            epoch: vec![0; nodes],
            vrrp: Vec::new(),
            vrrp_due: Vec::new(),
            vrrp_state: Vec::new(),
            vip: NONE,
            master_since: vec![SimTime::ZERO; nodes],
            dns: Vec::new(),
            dns_healthy: Vec::new(),
            dns_rotation: 0,
            dns_node: Vec::new(),
            dns_expiry: Vec::new(),
            ecmp: None,
            faults: Vec::new(),
            n_crash: vec![0; nodes],
            n_stop: vec![0; nodes],
            cpu_busy: vec![0; nodes],
            cpu_queue: vec![std::collections::VecDeque::new(); nodes],
            cpu_busy_ns: vec![0; nodes],
            cpu_epoch: vec![0; nodes],
            latest: vec![NONE; nodes],
            log: Vec::new(),
        };
        match &w.lb.topology {
            Topology::Single => {}
            Topology::ActivePassive { vrrp } => {
                t.vrrp = vrrp
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Vrrp::new(*c, node_ip(i, nodes)))
                    .collect();
                t.vrrp_due = vec![SimTime::MAX; nodes];
                t.vrrp_state = vec![VrrpState::Down; nodes];
            }
            Topology::Dns(_) => {
                t.dns_healthy = vec![true; nodes];
                t.dns_node = vec![NONE; clients];
                t.dns_expiry = vec![SimTime::ZERO; clients];
            }
            Topology::Anycast(a) => t.ecmp = Some(Ecmp::new(a.ecmp, nodes)),
        }
        t
    }
}

/// Node `i`'s address: `lb-1` has the largest, so it wins VRRP priority ties.
fn node_ip(i: usize, nodes: usize) -> u32 {
    0x0A00_0000 + (nodes - i) as u32
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// Starts the tier's machines: VRRP converged (the elected node is master), DNS
    /// checks at random phases.
    pub(super) fn start_tier(&mut self) {
        match &self.cfg.lb.topology {
            Topology::ActivePassive { vrrp } => {
                let nodes = vrrp.len();
                let elected = (0..nodes)
                    .max_by_key(|&i| (vrrp[i].priority, node_ip(i, nodes)))
                    .expect("at least one node");
                for i in 0..nodes {
                    self.tier.vrrp[i].start(SimTime::ZERO, i == elected);
                    self.drive_vrrp(i);
                }
            }
            Topology::Dns(d) => {
                for _ in 0..self.cfg.lb.nodes {
                    let first =
                        SimTime::from_nanos(self.rng_tier.below(d.check_interval.as_nanos()));
                    self.tier
                        .dns
                        .push(DnsCheck::new(d.check_interval, d.failure_threshold, first));
                }
                for node in 0..self.cfg.lb.nodes {
                    let at = self.tier.dns[node as usize].poll_timeout();
                    self.q.push(at, Ev::DnsProbe { node });
                }
            }
            _ => {}
        }
        for (i, f) in self.cfg.failures.iter().enumerate() {
            for &node in &f.lb_nodes {
                let at = self.first_failure_at(i);
                self.q.push(
                    at,
                    Ev::LbFault {
                        spec: i as u16,
                        node,
                        recover: false,
                    },
                );
            }
        }
    }

    /// Where a new request of `client` goes.
    pub(super) fn path(&mut self, client: u32) -> Path {
        let nodes = self.cfg.lb.nodes as usize;
        let node = match &self.cfg.lb.topology {
            Topology::Single => client as usize % nodes,
            Topology::ActivePassive { .. } => {
                // The address goes where the network last learned it: a crashed holder is
                // a black hole; a holder that gave it up (stopped, or back as a backup)
                // leaves nobody answering until a master takes it.
                let v = self.tier.vip;
                if v != NONE && self.tier.state[v as usize] == NodeState::Crashed {
                    return Path::BlackHole(v);
                }
                if v == NONE || self.tier.vrrp_state[v as usize] != VrrpState::Master {
                    return Path::Unheld(v);
                }
                v as usize
            }
            Topology::Dns(d) => {
                let c = client as usize;
                if self.now >= self.tier.dns_expiry[c] {
                    let n = pick_record(&self.tier.dns_healthy, self.tier.dns_rotation);
                    self.tier.dns_rotation += 1;
                    self.tier.dns_node[c] = n as u32;
                    // A shared resolver cache is part-way through the TTL.
                    let left = 1 + self.rng_tier.below(d.ttl.as_nanos());
                    self.tier.dns_expiry[c] = self.now + SimTime::from_nanos(left);
                }
                self.tier.dns_node[c] as usize
            }
            Topology::Anycast(_) => {
                let ip = self.clients.population.ip(client, self.now);
                let ecmp = self.tier.ecmp.as_ref().expect("anycast has ECMP");
                match ecmp.next_hop(flow_hash(ip)) {
                    Some(n) => n,
                    None => return Path::BlackHole(NONE),
                }
            }
        };
        match self.tier.state[node] {
            NodeState::Up => Path::Node(node),
            NodeState::Crashed => Path::BlackHole(node as u32),
            NodeState::Stopped => Path::Reset(node as u32),
        }
    }

    /// A request issued now went into a dead path towards `node` (`NONE`: no node at all):
    /// it counts against that node's latest failure (which may have ended: a restarted
    /// VRRP node does not hold the address until it wins it back), or against the latest
    /// failure of any node.
    pub(super) fn count_lost(&mut self, node: u32) {
        let f = if node == NONE {
            self.tier
                .faults
                .len()
                .checked_sub(1)
                .map_or(NONE, |i| i as u32)
        } else {
            self.tier.latest[node as usize]
        };
        if f != NONE {
            let f = &mut self.tier.faults[f as usize];
            f.lost += 1;
            f.last_lost = Some(self.now);
        }
    }

    /// Whether node `n` is up (neither crashed nor stopped).
    pub(super) fn node_up(&self, n: usize) -> bool {
        self.tier.state[n] == NodeState::Up
    }

    /// Failure `spec` starts (or ends) on load balancer node `node`. Failures on one node
    /// may overlap: each has its own row; the node is crashed while any crash is on it,
    /// else stopped while any stop is, else up.
    pub(super) fn lb_fault(&mut self, spec: usize, node: u32, recover: bool) {
        let f = &self.cfg.failures[spec];
        let n = node as usize;
        let crash = f.kind == FailureKind::Crash;
        if !recover {
            self.tier.latest[n] = self.tier.faults.len() as u32;
            // Traffic already avoids the node (a VRRP backup, a removed record, a withdrawn
            // route): nothing left to fail over.
            let routed_around = match &self.cfg.lb.topology {
                Topology::Single => false,
                Topology::ActivePassive { .. } => self.tier.vip != node,
                Topology::Dns(_) => !self.tier.dns_healthy[n],
                Topology::Anycast(_) => self.tier.ecmp.as_ref().is_some_and(|e| !e.is_live(n)),
            };
            self.tier.faults.push(LbFault {
                spec,
                node,
                start: self.now,
                end: None,
                failover: routed_around.then_some(self.now),
                last_lost: None,
                lost: 0,
                reset: 0,
            });
            self.tier.log.push((self.now, node, f.kind.name()));
            if crash {
                self.tier.n_crash[n] += 1;
            } else {
                self.tier.n_stop[n] += 1;
            }
            self.set_node_state(n);
            let end = match &f.timing {
                FailureTiming::At { duration, .. } => duration.map(|d| self.now + d),
                FailureTiming::Random { mttr, .. } => Some(
                    self.now + SimTime::from_nanos_f64(mttr.sample(&mut self.faults.rng[spec])),
                ),
            };
            if let Some(end) = end {
                let recover = true;
                self.q.push(
                    end,
                    Ev::LbFault {
                        spec: spec as u16,
                        node,
                        recover,
                    },
                );
            }
        } else {
            if let Some(row) = self
                .tier
                .faults
                .iter_mut()
                .rev()
                .find(|r| r.spec == spec && r.node == node && r.end.is_none())
            {
                row.end = Some(self.now);
            }
            if crash {
                self.tier.n_crash[n] -= 1;
            } else {
                self.tier.n_stop[n] -= 1;
            }
            self.set_node_state(n);
            if let FailureTiming::Random { mtbf, .. } = &f.timing {
                let next =
                    self.now + SimTime::from_nanos_f64(mtbf.sample(&mut self.faults.rng[spec]));
                self.q.push(
                    next,
                    Ev::LbFault {
                        spec: spec as u16,
                        node,
                        recover: false,
                    },
                );
            }
        }
    }

    /// Moves node `n` to the state its active failures call for, with what each change
    /// does: a crash loses everything on the node, a stop lets it finish, a restart brings
    /// it back.
    fn set_node_state(&mut self, n: usize) {
        let node = n as u32;
        let new = if self.tier.n_crash[n] > 0 {
            NodeState::Crashed
        } else if self.tier.n_stop[n] > 0 {
            NodeState::Stopped
        } else {
            NodeState::Up
        };
        let old = self.tier.state[n];
        if new == old {
            return;
        }
        self.tier.state[n] = new;
        match new {
            NodeState::Crashed => {
                // Its CPU's work is gone with it (the requests are lost just below).
                self.tier.cpu_busy[n] = 0;
                self.tier.cpu_queue[n].clear();
                self.tier.cpu_epoch[n] += 1;
                // Everything in flight on the node is gone with it.
                for c in 0..self.book.creqs.len() as u32 {
                    let r = self.book.creqs[c as usize];
                    if r.waiting && r.node == node {
                        self.drop_attempt(c);
                        self.book.creqs[c as usize].node = LOST;
                        let fi = self.tier.latest[n] as usize;
                        self.tier.faults[fi].lost += 1;
                        if TRACE {
                            let what =
                                format!("lost: lb-{} crashed with it (no answer will come)", n + 1);
                            self.trace_req(c, what);
                        }
                    }
                }
                // Its connections are gone with it (their requests were just lost).
                self.conn_node_gone(n, true);
                if !self.tier.vrrp.is_empty() {
                    self.tier.vrrp[n].crash();
                    self.drive_vrrp(n);
                }
                if let (Topology::Anycast(a), NodeState::Up) = (&self.cfg.lb.topology, old) {
                    // Noticed when the hellos stop (the last one came up to `hello` before).
                    let since_hello = self.rng_tier.below(a.hello.as_nanos());
                    let after = SimTime::from_nanos(a.detect.as_nanos() - since_hello);
                    self.schedule_route(n, false, after);
                }
            }
            NodeState::Stopped => {
                if old == NodeState::Up {
                    // A graceful stop closes each connection once its requests are done.
                    self.conn_node_gone(n, false);
                    if !self.tier.vrrp.is_empty() {
                        self.tier.vrrp[n].shutdown(self.now);
                        self.drive_vrrp(n);
                    }
                    if let Topology::Anycast(a) = &self.cfg.lb.topology {
                        // A graceful stop withdraws the route; the router converges.
                        let after = a.converge;
                        self.schedule_route(n, false, after);
                    }
                }
                // From a crash: the machine is back but the service stays stopped.
            }
            NodeState::Up => {
                self.tier.epoch[n] += 1;
                self.tier.log.push((self.now, node, "restart"));
                if !self.tier.vrrp.is_empty() {
                    self.tier.vrrp[n].start(self.now, false);
                    self.drive_vrrp(n);
                }
                if let Topology::Anycast(a) = &self.cfg.lb.topology {
                    let after = a.converge;
                    self.schedule_route(n, true, after);
                }
            }
        }
    }

    /// Node `n`'s route changes `after` from now (if it is still in its current epoch).
    fn schedule_route(&mut self, n: usize, live: bool, after: SimTime) {
        let epoch = self.tier.epoch[n];
        self.q.push(
            self.now + after,
            Ev::Route {
                node: n as u32,
                live,
                epoch,
            },
        );
    }

    /// Request `c` (first try or retry) passes through its node: straight to the balancer,
    /// or first through the node's CPU (`lb.cores`).
    #[inline]
    pub(super) fn enter_node(&mut self, c: u32) {
        let Some(cpu) = &self.cfg.lb.cpu else {
            self.dispatch(c);
            return;
        };
        if self.book.creqs[c as usize].tier != 0 {
            self.dispatch(c); // internal tiers have no CPU model
            return;
        }
        let n = self.book.creqs[c as usize].node as usize;
        if self.tier.cpu_busy[n] < cpu.cores {
            self.cpu_start(n, c);
        } else {
            let generation = self.book.creqs[c as usize].generation;
            if TRACE {
                let ahead = self.tier.cpu_queue[n].len();
                self.trace_req(
                    c,
                    format!("waits for a core of lb-{} ({ahead} ahead)", n + 1),
                );
            }
            self.tier.cpu_queue[n].push_back((c, generation));
        }
    }

    fn cpu_start(&mut self, n: usize, c: u32) {
        let cpu = self.cfg.lb.cpu.as_ref().expect("a CPU");
        self.tier.cpu_busy[n] += 1;
        let mut cost = SimTime::from_nanos_f64(cpu.cost.sample(&mut self.rng_tier));
        if let Some(reply) = &cpu.reply_cost {
            // NAT: the reply comes back through the node. Its pass is charged here, with
            // the request's: the same CPU time and the same queue.
            cost += SimTime::from_nanos_f64(reply.sample(&mut self.rng_tier));
        }
        if self.book.creqs[c as usize].handshake {
            // The first request on a new connection: the node terminates its handshake
            // (once: a retry passes through the CPU again without it).
            cost += self
                .cfg
                .connections
                .as_ref()
                .map_or(SimTime::ZERO, |k| k.handshake_cpu);
            self.book.creqs[c as usize].handshake = false;
        }
        self.tier.cpu_busy_ns[n] += self.window_overlap(self.now, self.now + cost);
        if TRACE {
            self.trace_req(
                c,
                format!(
                    "lb-{} processes it: {:.3} ms of CPU",
                    n + 1,
                    cost.as_millis_f64()
                ),
            );
        }
        let generation = self.book.creqs[c as usize].generation;
        let epoch = self.tier.cpu_epoch[n];
        self.q.push(
            self.now + cost,
            Ev::LbCpuDone {
                creq: c,
                generation,
                node: n as u32,
                epoch,
            },
        );
    }

    /// Node `n`'s CPU finished request `c`: it goes on to the balancer if its client still
    /// waits, and the core takes the next request waiting.
    pub(super) fn cpu_done(&mut self, c: u32, generation: u32, n: usize, epoch: u32) {
        if epoch != self.tier.cpu_epoch[n] {
            return; // the node crashed meanwhile
        }
        self.tier.cpu_busy[n] -= 1;
        while let Some((next, g)) = self.tier.cpu_queue[n].pop_front() {
            let r = &self.book.creqs[next as usize];
            if r.generation == g && r.waiting {
                self.cpu_start(n, next);
                break;
            }
        }
        let r = &self.book.creqs[c as usize];
        if r.generation == generation && r.waiting && r.node == n as u32 {
            self.dispatch(c);
        }
    }

    /// The busiest node's CPU utilization in the measured window (%), NaN without a CPU.
    pub(super) fn cpu_utilization(&self) -> f64 {
        let Some(cpu) = &self.cfg.lb.cpu else {
            return f64::NAN;
        };
        let window = (self.cfg.duration - self.cfg.warmup).as_nanos() as f64;
        let busiest = self.tier.cpu_busy_ns.iter().copied().max().unwrap_or(0);
        100.0 * busiest as f64 / (f64::from(cpu.cores) * window)
    }

    /// Sends node `n`'s queued adverts, re-arms its timer and applies state changes.
    pub(super) fn drive_vrrp(&mut self, n: usize) {
        while let Some(adv) = self.tier.vrrp[n].poll_transmit() {
            self.q.push(
                self.now,
                Ev::Advert {
                    from: n as u32,
                    priority: u32::from(adv.priority),
                    interval: adv.interval,
                },
            );
        }
        let due = self.tier.vrrp[n].poll_timeout().unwrap_or(SimTime::MAX);
        if due != self.tier.vrrp_due[n] {
            self.tier.vrrp_due[n] = due;
            if due != SimTime::MAX {
                self.q.push(due, Ev::VrrpTimer { node: n as u32 });
            }
        }
        let (before, after) = (self.tier.vrrp_state[n], self.tier.vrrp[n].state());
        if before == after {
            return;
        }
        self.tier.vrrp_state[n] = after;
        match after {
            VrrpState::Master => {
                // Gratuitous ARP: the virtual IP's traffic now comes here.
                let prev = self.tier.vip;
                self.tier.vip = n as u32;
                self.tier.master_since[n] = self.now;
                if self.now > SimTime::ZERO {
                    self.tier.log.push((self.now, n as u32, "master"));
                }
                if prev != NONE && prev != n as u32 {
                    self.mark_failover(prev);
                }
            }
            VrrpState::Backup if before == VrrpState::Master => {
                self.tier.log.push((self.now, n as u32, "backup"));
            }
            _ => {}
        }
        // The address follows the master's adverts (VRRP's virtual MAC): when the holder
        // gives it up, the most recent remaining master has it, if any.
        if before == VrrpState::Master && self.tier.vip == n as u32 {
            let next = (0..self.tier.vrrp_state.len())
                .filter(|&m| self.tier.vrrp_state[m] == VrrpState::Master)
                .max_by_key(|&m| (self.tier.master_since[m], std::cmp::Reverse(m)));
            if let Some(m) = next {
                self.tier.vip = m as u32;
            }
        }
    }

    /// The VRRP timer of node `n` fired.
    pub(super) fn vrrp_timer(&mut self, n: usize) {
        if self.tier.vrrp_due[n] != self.now {
            return;
        }
        self.tier.vrrp_due[n] = SimTime::MAX;
        self.tier.vrrp[n].handle_timeout(self.now);
        self.drive_vrrp(n);
    }

    /// Node `from`'s advert reaches every other running node.
    pub(super) fn advert(&mut self, from: u32, adv: Advert) {
        let nodes = self.tier.vrrp.len();
        let ip = node_ip(from as usize, nodes);
        for n in 0..nodes {
            if n != from as usize && self.tier.state[n] != NodeState::Crashed {
                self.tier.vrrp[n].handle_advert(self.now, ip, adv);
                self.drive_vrrp(n);
            }
        }
    }

    /// The tier routed around node `n`: stop the failover clock of its failures still
    /// waiting for it (the open ones, and the latest one even if it has ended: a node
    /// back from a crash may still hold a virtual IP nobody answers for).
    fn mark_failover(&mut self, n: u32) {
        let latest = self.tier.latest[n as usize];
        let now = self.now;
        for (i, f) in self.tier.faults.iter_mut().enumerate() {
            if f.node == n && f.failover.is_none() && (f.end.is_none() || i as u32 == latest) {
                f.failover = Some(now);
            }
        }
    }

    /// The DNS health check probes node `n`.
    pub(super) fn dns_probe(&mut self, n: usize) {
        let ok = self.tier.state[n] == NodeState::Up;
        if let Some(healthy) = self.tier.dns[n].handle_probe(self.now, ok) {
            self.tier.dns_healthy[n] = healthy;
            let what = if healthy { "dns-added" } else { "dns-removed" };
            self.tier.log.push((self.now, n as u32, what));
            // With every record removed Route 53 answers with all of them (fail open):
            // traffic still reaches the dead node, so that is no failover.
            if !healthy && self.tier.dns_healthy.iter().any(|h| *h) {
                self.mark_failover(n as u32);
            }
        }
        let at = self.tier.dns[n].poll_timeout();
        self.q.push(at, Ev::DnsProbe { node: n as u32 });
    }

    /// Node `n`'s anycast route is withdrawn or announced: flows that now hash to another
    /// node lose their connections.
    pub(super) fn route_change(&mut self, n: usize, live: bool, epoch: u32) {
        if epoch != self.tier.epoch[n] || (live && self.tier.state[n] != NodeState::Up) {
            return; // the node restarted (or failed again) since this was scheduled
        }
        let ecmp = self.tier.ecmp.as_mut().expect("anycast has ECMP");
        if ecmp.is_live(n) == live {
            return;
        }
        ecmp.set_live(n, live);
        let what = if live {
            "route-announced"
        } else {
            "route-withdrawn"
        };
        self.tier.log.push((self.now, n as u32, what));
        if !live {
            self.mark_failover(n as u32);
        }
        let mut moved = 0;
        for c in 0..self.book.creqs.len() as u32 {
            let r = self.book.creqs[c as usize];
            if !r.waiting || r.node == LOST || r.node == NONE {
                continue;
            }
            // The flow is the connection the request was sent on: its address at issue.
            let ip = self.clients.population.ip(r.client, r.issued);
            let hop = self
                .tier
                .ecmp
                .as_ref()
                .and_then(|e| e.next_hop(flow_hash(ip)));
            if hop != Some(r.node as usize) {
                if TRACE {
                    let why = format!(
                        "reset: its flow now hashes to {} (route change), which knows nothing of the connection",
                        hop.map_or("no node".to_string(), |h| format!("lb-{}", h + 1))
                    );
                    self.trace_req(c, why);
                }
                self.drop_attempt(c);
                self.fail(c, ErrorCause::LbLost);
                moved += 1;
            }
        }
        let f = self.tier.latest[n];
        if f != NONE {
            self.tier.faults[f as usize].reset += moved;
        }
    }

    /// One row per node failure.
    pub(super) fn lb_failover_rows(&self) -> Vec<LbFailoverRow> {
        let secs = |t: Option<SimTime>| t.map_or(f64::NAN, |t| t.as_secs_f64());
        self.tier
            .faults
            .iter()
            .map(|f| LbFailoverRow {
                failure: f.spec,
                kind: self.cfg.failures[f.spec].kind.name(),
                node: f.node + 1,
                fault_s: f.start.as_secs_f64(),
                failover_s: secs(f.failover),
                last_lost_s: secs(f.last_lost),
                repair_s: secs(f.end),
                lost: f.lost,
                reset: f.reset,
            })
            .collect()
    }

    /// The tier's event log.
    pub(super) fn ha_rows(&self) -> Vec<HaRow> {
        self.tier
            .log
            .iter()
            .map(|&(at, node, event)| HaRow {
                at_s: at.as_secs_f64(),
                node: node + 1,
                event,
            })
            .collect()
    }

    /// Mean failover time (fault → routed around) and mean outage (fault → last request
    /// sent into the dead path) over the node failures of the whole run (like the server
    /// failover metrics).
    pub(super) fn lb_failover_means(&self) -> (f64, f64) {
        let mut fo = (0.0, 0u32);
        let mut out = (0.0, 0u32);
        for f in &self.tier.faults {
            if let Some(t) = f.failover {
                fo.0 += (t - f.start).as_secs_f64();
                fo.1 += 1;
            }
            let last = f
                .last_lost
                .map_or(SimTime::ZERO, |t| t.saturating_sub(f.start));
            out.0 += last.as_secs_f64();
            out.1 += 1;
        }
        let mean = |(s, n): (f64, u32)| if n == 0 { f64::NAN } else { s / f64::from(n) };
        (mean(fo), mean(out))
    }
}
