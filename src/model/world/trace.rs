//! `lblab trace`: the life of the first requests of a run, step by step, as text — which
//! node a request reaches, what the balancer saw and chose, the server's queue and service,
//! the answer, retries and timeouts — interleaved with what the health checks, failures
//! and the load balancer tier did meanwhile. A teaching tool: it runs the very same world,
//! and every hook is behind `if TRACE`, a const parameter of `World` that is false in
//! ordinary runs, so they pay nothing for it.

use crate::balancer::{Backend, Explanation, RequestInfo};
use crate::engine::SimTime;
use crate::metrics::ErrorCause;

use super::tier::Path;
use super::{NONE, Route, RunError, World, WorldConfig};

/// One line of a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceLine {
    /// When.
    pub at: SimTime,
    /// The traced request it concerns (numbered from 1), or `None` for health checks,
    /// failures and the load balancer tier.
    pub request: Option<u64>,
    /// What happened, in words.
    pub event: String,
    /// What kind of step, for programs (the browser lab's animation): `issue`, `path`,
    /// `pick`, `retry`, `queued`, `start`, `reply`, `refused`, `rejected`, `lost`, `hung`,
    /// `upstream-timeout`, `request`, `connection`, `call`, `call-completed`, `call-failed`,
    /// `completed`, `failed`, `probe`, `marked-down`, `marked-up`, `fails`, `recovers`,
    /// `lb`, `change`.
    pub kind: &'static str,
    /// The server it concerns (index into the scenario's servers in order), if any: the
    /// one picked, the one serving, probed, marked or failing.
    pub server: Option<u32>,
    /// Every server at that moment (on lines of traced requests; empty on the others).
    pub servers: Vec<ServerMoment>,
}

/// One server as a trace line saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerMoment {
    /// Requests there: in service plus queued.
    pub in_flight: u32,
    /// Not eligible at its tier's first node (marked down, draining, weight 0 or not a
    /// member).
    pub out: bool,
    /// What is wrong with it, if anything: `crashed`, `hung`, `partitioned`, `slow`,
    /// `errors`, `draining`.
    pub fault: &'static str,
}

/// Backends listed in full in a pick line; larger pools are cut short.
const SHOW_BACKENDS: usize = 12;

pub(super) struct Tracer {
    limit: u64,
    from: SimTime,
    issued: u64,
    open: u64,
    started: Option<SimTime>,
    /// Per client-request slot: its trace number, 0 if not traced.
    creq_id: Vec<u64>,
    /// Per attempt slot: its request's trace number, 0 if not traced.
    att_id: Vec<u64>,
    names: Vec<String>,
    lines: Vec<TraceLine>,
}

impl Tracer {
    fn done(&self) -> bool {
        self.issued == self.limit && self.open == 0
    }

    fn push(&mut self, at: SimTime, id: u64, step: Step, event: String) {
        self.lines.push(TraceLine {
            at,
            request: Some(id),
            event,
            kind: step.kind,
            server: step.server,
            servers: step.servers,
        });
    }
}

/// The structured part of a request's trace line.
pub(super) struct Step {
    kind: &'static str,
    server: Option<u32>,
    servers: Vec<ServerMoment>,
}

fn slot<T: Copy + Default>(v: &mut Vec<T>, i: u32) -> &mut T {
    let i = i as usize;
    if v.len() <= i {
        v.resize(i + 1, T::default());
    }
    &mut v[i]
}

pub(super) fn ms(t: SimTime) -> String {
    format!("{:.3} ms", t.as_millis_f64())
}

impl<'c> World<'c> {
    /// Runs until the first `requests` requests issued at or after `from` have all been
    /// answered (or the run ends), and returns their story with the system events of that
    /// window, in time order. The same world as [`run`](World::run), built again with the
    /// trace hooks compiled in.
    pub fn trace(self, requests: u64, from: SimTime) -> Result<Vec<TraceLine>, RunError> {
        World::<'c, true>::build(self.cfg, &self.seeds, self.replication, true)
            .run_trace(requests, from)
    }
}

impl World<'_, true> {
    fn run_trace(mut self, requests: u64, from: SimTime) -> Result<Vec<TraceLine>, RunError> {
        self.tracer = Some(Box::new(Tracer {
            limit: requests,
            from,
            issued: 0,
            open: 0,
            started: None,
            creq_id: Vec::new(),
            att_id: Vec::new(),
            names: self.cfg.server_names().into_iter().map(|n| n.0).collect(),
            lines: Vec::new(),
        }));
        self.start();
        let end = self.cfg.duration;
        let cap = self.cfg.max_events;
        let mut n_events: u64 = 0;
        while let Some(entry) = self.q.pop_entry() {
            if entry.time > end {
                break;
            }
            n_events += 1;
            if n_events > cap {
                return Err(RunError::EventCap {
                    cap,
                    at: entry.time,
                });
            }
            self.now = entry.time;
            self.handle(entry.event);
            if self.tracer.as_ref().is_some_and(|t| t.done()) {
                break;
            }
        }
        let t = self.tracer.take().expect("tracing");
        if t.started.is_none() {
            return Ok(Vec::new());
        }
        let first = t.from;
        let names = t.names;
        let mut lines = t.lines;
        let within = |at: SimTime| at >= first && at <= self.now;
        let sys = |at: SimTime, kind: &'static str, server: Option<u32>, event: String| TraceLine {
            at,
            request: None,
            event,
            kind,
            server,
            servers: Vec::new(),
        };
        for e in self.stats.health_log.iter().filter(|e| within(e.at)) {
            let server = &names[e.server as usize];
            let event = if e.tier == u32::MAX {
                if e.up {
                    format!("{server} runs again after its restart")
                } else {
                    format!("the kubelet kills {server}: its liveness probe failed")
                }
            } else {
                let node = self.node_name(e.tier as usize, e.node as usize);
                format!(
                    "{node} marks {server} {} ({}{})",
                    if e.up { "up" } else { "down" },
                    match e.cause {
                        "active" => "health checks",
                        "passive" => "nginx max_fails",
                        _ => "outlier detection",
                    },
                    if e.false_alarm { ", a false alarm" } else { "" }
                )
            };
            lines.push(sys(
                e.at,
                if e.up { "marked-up" } else { "marked-down" },
                Some(e.server),
                event,
            ));
        }
        for f in &self.faults.records {
            let kind = self.cfg.failures[f.spec].kind.name();
            if within(f.start) {
                lines.push(sys(
                    f.start,
                    "fails",
                    Some(f.server),
                    format!("{} fails: {kind}", names[f.server as usize]),
                ));
            }
            if let Some(end) = f.end.filter(|e| within(*e)) {
                lines.push(sys(
                    end,
                    "recovers",
                    Some(f.server),
                    format!("{} recovers from {kind}", names[f.server as usize]),
                ));
            }
        }
        for h in self.ha_rows() {
            let at = SimTime::from_secs_f64(h.at_s);
            if within(at) {
                let what = match h.event {
                    "master" => "becomes VRRP master (takes the virtual IP)",
                    "backup" => "becomes VRRP backup",
                    "dns-removed" => "DNS record removed by the health check",
                    "dns-added" => "DNS record back in the answer",
                    "route-withdrawn" => "anycast route withdrawn",
                    "route-announced" => "anycast route announced",
                    "crash" => "crashes",
                    "stop" => "stops",
                    _ => "restarts",
                };
                lines.push(sys(at, "lb", None, format!("lb-{} {what}", h.node)));
            }
        }
        for c in self.stats.changes.iter() {
            let at = SimTime::from_secs_f64(c.at_s);
            if within(at) {
                lines.push(sys(
                    at,
                    "change",
                    None,
                    format!("membership change: {}", c.action),
                ));
            }
        }
        // At equal times the system event (a crash, a route change) comes first: it is
        // what the requests' lines at that instant react to.
        lines.sort_by_key(|l| (l.at, l.request.is_some()));
        Ok(lines)
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// Adds a line about traced request `id`, now, with every server's state.
    fn trace_line(&mut self, id: u64, kind: &'static str, server: Option<u32>, text: String) {
        let now = self.now;
        let step = Step {
            kind,
            server,
            servers: self.moment(),
        };
        self.tracer
            .as_deref_mut()
            .expect("tracing")
            .push(now, id, step, text);
    }

    /// Every server now: requests there, whether lb-1 may pick it, what is wrong with it.
    fn moment(&self) -> Vec<ServerMoment> {
        let mut out: Vec<ServerMoment> = self
            .servers
            .iter()
            .map(|s| ServerMoment {
                in_flight: s.busy + s.queue.len() as u32,
                out: !s.member,
                fault: if s.crashed {
                    "crashed"
                } else if s.hung {
                    "hung"
                } else if s.partitioned {
                    "partitioned"
                } else if s.slow > 1.0 {
                    "slow"
                } else if s.err_rate > 0.0 {
                    "errors"
                } else if s.draining {
                    "draining"
                } else {
                    ""
                },
            })
            .collect();
        // Each tier's first node's routes (one per pool) say who it may pick.
        for tier in &self.tiers {
            for rt in tier.routes.iter().take(tier.n_pools) {
                for be in &rt.backends {
                    if let Some(m) = out.get_mut(be.id as usize) {
                        m.out |= !be.eligible();
                    }
                }
            }
        }
        out
    }

    /// Node `node` of tier `t`: `lb-2` at the edge, `db-lb-1` in front of service `db`.
    pub(super) fn node_name(&self, t: usize, node: usize) -> String {
        match self.tiers[t].service {
            Some(s) => format!("{}-lb-{}", self.cfg.services[s].name, node + 1),
            None => format!("lb-{}", node + 1),
        }
    }

    /// A new request `c` may be traced.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_issue(&mut self, c: u32) {
        let now = self.now;
        let r = self.book.creqs[c as usize];
        let t = self.tracer.as_deref_mut().expect("tracing");
        let traced = now >= t.from && t.issued < t.limit;
        *slot(&mut t.creq_id, c) = 0;
        if !traced {
            return;
        }
        t.issued += 1;
        t.open += 1;
        t.started.get_or_insert(now);
        let id = t.issued;
        t.creq_id[c as usize] = id;
        let ip = self.clients.population.ip(r.client, now);
        let class = &self.cfg.classes[r.class as usize];
        let key = if r.key == super::NO_KEY {
            String::new()
        } else {
            format!(", key {}", r.key)
        };
        let text = format!(
            "issued by client {} ({}.{}.{}.{}), class {}{key}, work {}",
            r.client,
            ip >> 24,
            (ip >> 16) & 255,
            (ip >> 8) & 255,
            ip & 255,
            class.name,
            ms(SimTime::from_nanos_f64(r.work_ns)),
        );
        let step = Step {
            kind: "issue",
            server: None,
            servers: self.moment(),
        };
        let t = self.tracer.as_deref_mut().expect("tracing");
        t.push(now, id, step, text);
    }

    /// Request slot `c` now holds call `k` of attempt `a`'s hop: it is followed when the
    /// client request that attempt serves is, under the same number.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_call(&mut self, c: u32, a: u32, k: usize) {
        let Some(t) = self.tracer.as_deref_mut() else {
            return;
        };
        let id = t.att_id.get(a as usize).copied().unwrap_or(0);
        *slot(&mut t.creq_id, c) = id;
        if id == 0 {
            return;
        }
        let r = self.book.creqs[c as usize];
        let caller = &t.names[r.client as usize];
        let at = &self.book.atts[a as usize];
        let hop = &self.cfg.classes[at.class as usize].hops[at.service as usize];
        let to = &self.cfg.services[r.service as usize].name;
        let how = match hop.calls.len() {
            1 => String::new(),
            n if hop.parallel => format!(" (call {} of {n}, in parallel)", k + 1),
            n => format!(" (call {} of {n}, in sequence)", k + 1),
        };
        let work = if r.work_ns > 0.0 {
            format!(", work there {}", ms(SimTime::from_nanos_f64(r.work_ns)))
        } else {
            String::new()
        };
        let text = format!("{caller} calls {to}{how}{work}");
        self.trace_line(id, "call", Some(r.client), text);
    }

    pub(super) fn traced(&self, c: u32) -> u64 {
        self.tracer
            .as_deref()
            .and_then(|t| t.creq_id.get(c as usize).copied())
            .unwrap_or(0)
    }

    /// Where request `c` went at the load balancer tier.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_path(&mut self, c: u32, path: Path) {
        let id = self.traced(c);
        if id == 0 {
            return;
        }
        let nodes = self.cfg.lb.nodes;
        let text = match path {
            Path::Node(_) if nodes == 1 => return,
            Path::Node(n) => format!("reaches lb-{} ({})", n + 1, self.cfg.lb.topology.name()),
            Path::Unheld(_) => {
                "lost: no load balancer node holds the virtual IP (no answer will come)".to_string()
            }
            Path::BlackHole(n) if n == NONE => {
                "lost: no load balancer node is reachable (no answer will come)".to_string()
            }
            Path::BlackHole(n) => format!(
                "lost: sent to lb-{}, which is down (no answer will come)",
                n + 1
            ),
            Path::Reset(n) => format!("refused: lb-{} is stopped", n + 1),
        };
        self.trace_line(id, "path", None, text);
    }

    /// What the balancer of route `route` (of request `c`'s tier) saw (`before`, from [`describe_route`] just before the
    /// pick) and chose for request `c`.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_pick(
        &mut self,
        c: u32,
        route: usize,
        pick: Option<usize>,
        retry: bool,
        before: (String, String),
    ) {
        let id = self.traced(c);
        if id == 0 {
            return;
        }
        let tier = self.book.creqs[c as usize].tier as usize;
        let node = route / self.tiers[tier].n_pools;
        let rt = &self.tiers[tier].routes[route];
        let (alg, view) = before;
        let t = self.tracer.as_deref().expect("tracing");
        let server = pick.map(|i| rt.backends[i].id);
        let chose = match server {
            Some(s) => format!("→ {}", t.names[s as usize]),
            None => "→ no eligible backend (no_backend)".to_string(),
        };
        let what = if retry { "retry" } else { "pick" };
        let text = format!(
            "{} {alg} {what}: {view} {chose}",
            self.node_name(tier, node)
        );
        self.trace_line(id, what, server, text);
    }

    /// Attempt `a` now belongs to traced request `c` (or not).
    #[cold]
    #[inline(never)]
    pub(super) fn trace_attempt(&mut self, c: u32, a: u32) {
        let id = self.traced(c);
        let t = self.tracer.as_deref_mut().expect("tracing");
        *slot(&mut t.att_id, a) = id;
    }

    /// Something happened to attempt `a` (on its server or at the load balancer).
    #[cold]
    #[inline(never)]
    pub(super) fn trace_att(
        &mut self,
        a: u32,
        kind: &'static str,
        text: impl FnOnce(&Self, &str) -> String,
    ) {
        let Some(t) = self.tracer.as_deref() else {
            return;
        };
        let id = t.att_id.get(a as usize).copied().unwrap_or(0);
        if id == 0 {
            return;
        }
        let at = &self.book.atts[a as usize];
        let server = t.names[at.server as usize].clone();
        let orphan = if at.creq == NONE {
            " (orphaned: nobody waits for it)"
        } else {
            ""
        };
        let line = format!("{}{orphan}", text(self, &server));
        self.trace_line(id, kind, Some(at.server), line);
    }

    /// Attempt `a` reaches its server: what the server does with it, unless it starts
    /// service at once (then `start_service` says so).
    #[cold]
    #[inline(never)]
    pub(super) fn trace_arrival(&mut self, a: u32) {
        let s = &self.servers[self.book.atts[a as usize].server as usize];
        let (kind, text) = if s.partitioned {
            ("lost", "lost on the way to {srv} (partition)".to_string())
        } else if s.hung {
            (
                "hung",
                "{srv} accepts it and never answers (hung)".to_string(),
            )
        } else if s.crashed {
            (
                "refused",
                "{srv} refuses the connection (crashed)".to_string(),
            )
        } else if s.busy < s.slots {
            return;
        } else if s.queue.len() < s.queue_cap as usize {
            (
                "queued",
                format!(
                    "{{srv}} queues it: {} ahead, {}/{} workers busy",
                    s.queue.len(),
                    s.busy,
                    s.slots
                ),
            )
        } else {
            ("rejected", "{srv} rejects it: queue full".to_string())
        };
        self.trace_att(a, kind, |_, srv| text.replace("{srv}", srv));
    }

    /// An active health check's probe came back.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_probe(
        &mut self,
        tier: usize,
        idx: usize,
        result: crate::health::ProbeResult,
    ) {
        use crate::health::ProbeResult;
        let n = self.servers.len();
        let now = self.now;
        let node = self.node_name(tier, idx / n);
        let t = self.tracer.as_deref_mut().expect("tracing");
        if now < t.from || t.started.is_none() {
            return;
        }
        let what = match result {
            ProbeResult::Pass => "passes".to_string(),
            ProbeResult::Refused => "is refused".to_string(),
            ProbeResult::TimedOut => "times out".to_string(),
            ProbeResult::BadStatus(s) => format!("gets HTTP {s}"),
        };
        let text = format!("{node} health check of {} {what}", t.names[idx % n]);
        t.lines.push(TraceLine {
            at: now,
            request: None,
            event: text,
            kind: "probe",
            server: Some((idx % n) as u32),
            servers: Vec::new(),
        });
    }

    /// Request `c` opened or rode a client connection.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_conn(&mut self, c: u32, text: String) {
        let id = self.traced(c);
        if id != 0 {
            self.trace_line(id, "connection", None, text);
        }
    }

    /// Something happened to request `c` as a whole.
    #[cold]
    #[inline(never)]
    pub(super) fn trace_req(&mut self, c: u32, text: String) {
        let id = self.traced(c);
        if id == 0 {
            return;
        }
        self.trace_line(id, "request", None, text);
    }

    /// Request `c` is answered: completed (`None`) or failed with `cause`. A call's end
    /// is a step of the client request it serves (which its caller may still retry).
    #[cold]
    #[inline(never)]
    pub(super) fn trace_end(&mut self, c: u32, cause: Option<ErrorCause>) {
        let id = self.traced(c);
        if id == 0 {
            return;
        }
        let r = self.book.creqs[c as usize];
        let took = ms(self.now - r.issued);
        if r.parent != NONE {
            let to = &self.cfg.services[r.service as usize].name;
            let t = self.tracer.as_deref().expect("tracing");
            let caller = &t.names[r.client as usize];
            let text = match cause {
                None => format!("{caller}'s call to {to} completed in {took}"),
                Some(cause) => {
                    format!(
                        "{caller}'s call to {to} failed after {took}: {}",
                        cause.name()
                    )
                }
            };
            let kind = if cause.is_none() {
                "call-completed"
            } else {
                "call-failed"
            };
            self.trace_line(id, kind, None, text);
            return;
        }
        let text = match cause {
            None => format!(
                "completed in {took} ({} attempt{})",
                r.attempts,
                if r.attempts == 1 { "" } else { "s" }
            ),
            Some(cause) => format!("failed after {took}: {}", cause.name()),
        };
        let now = self.now;
        let step = Step {
            kind: if cause.is_none() {
                "completed"
            } else {
                "failed"
            },
            server: None,
            servers: self.moment(),
        };
        let t = self.tracer.as_deref_mut().expect("tracing");
        t.push(now, id, step, text);
        t.open -= 1;
        t.creq_id[c as usize] = 0;
    }
}

/// A route's algorithm name and its pool as the node sees it, just before the pick for
/// `req` at `now`, with the numbers the balancer is about to compare.
#[cold]
#[inline(never)]
pub(super) fn describe_route(
    cfg: &WorldConfig,
    rt: &Route,
    t: &Tracer,
    now: SimTime,
    req: &RequestInfo,
) -> (String, String) {
    let alg = match rt.groups.as_deref() {
        Some([g]) => cfg.groups[*g].balancer.as_ref(),
        _ => None,
    }
    .unwrap_or(&cfg.algorithm)
    .name();
    let pool = rt.view();
    let extra = rt.balancer.explain(now, &pool, req);
    // Slow start: the full weight of each server, in the world's ×16 units, to tell a
    // ramping weight from a configured one.
    let names = cfg.server_names();
    let full = |id: u32| {
        cfg.health
            .slow_start
            .map(|_| cfg.groups[names[id as usize].1].weight.saturating_mul(16))
    };
    (alg, describe_pool(&rt.backends, &t.names, extra, full))
}

/// "web-1 2 · web-2 0 (out) · …": each backend's in-flight count as the node sees it,
/// its weight if not 1 (and its slow-start ramp if one is under way), whether it is
/// eligible, and the balancer's own numbers if it has any; then the balancer's note.
fn describe_pool(
    backends: &[Backend],
    names: &[String],
    extra: Option<Explanation>,
    full: impl Fn(u32) -> Option<u32>,
) -> String {
    let mut parts = Vec::new();
    for be in backends.iter().take(SHOW_BACKENDS) {
        let mut s = format!("{} {}", names[be.id as usize], be.in_flight);
        if be.weight != 1 {
            s.push_str(&format!(" w{}", be.weight));
        }
        if let Some(f) = full(be.id)
            && be.weight < f
        {
            s.push_str(&format!(" (slow start {}/{f})", be.weight));
        }
        if let Some(e) = &extra
            && let Some((_, v)) = e.values.iter().find(|(id, _)| *id == be.id)
        {
            s.push_str(&format!(" [{v}]"));
        }
        if !be.eligible() {
            s.push_str(" (out)");
        }
        parts.push(s);
    }
    if backends.len() > SHOW_BACKENDS {
        parts.push(format!("… {} more", backends.len() - SHOW_BACKENDS));
    }
    let legend = match &extra {
        Some(e) if !e.values.is_empty() => format!("in flight [{}]", e.label),
        _ => "in flight".to_string(),
    };
    let note = match &extra {
        Some(e) if !e.note.is_empty() => format!("; {}", e.note),
        _ => String::new(),
    };
    format!("{legend}: {}{note}", parts.join(" · "))
}
