//! A request through a tier: issued by a client (or, as a call, by a serving instance: see
//! `calls.rs`), sent to a server by its pool's balancer on one of the tier's nodes,
//! answered, retried or failed. `issue` is where a client's request enters the edge tier;
//! `complete` and `fail` are where any request leaves its tier.

use super::Ev;
use super::NO_KEY;
use super::NONE;
use super::Reply;
use super::World;
use super::book::Attempt;
use super::book::ClientReq;
use super::book::Phase;
use super::clients::NO_USER;
use super::tier::LOST;
use super::tier::Path;
use super::trace;
use super::trace::ms;
use crate::balancer::Outcome;
use crate::balancer::OutcomeKind;
use crate::balancer::PoolView;
use crate::balancer::RequestInfo;
use crate::balancer::priority::PriorityRule;
use crate::engine::SimTime;
use crate::metrics::ErrorCause;

impl<const TRACE: bool> World<'_, TRACE> {
    pub(super) fn issue(&mut self, user: u32) {
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
        self.issue_with(client, user, class, work_ns, hit_work_ns, 0);
    }

    /// Client `client` (closed-loop user `user`, or `NO_USER`) sends a request of class
    /// `class` with this work; `tries` counts a long-lived connection's consecutive
    /// reconnects (0 for a new request).
    pub(super) fn issue_with(
        &mut self,
        client: u32,
        user: u32,
        class: usize,
        work_ns: f64,
        hit_work_ns: f64,
        tries: u16,
    ) {
        let cc = &self.cfg.classes[class];
        let key = self.draw_key(class, client);
        // A client idle for longer than the session timeout starts a new session.
        let last = self.clients.last_seen[client as usize];
        if last != SimTime::MAX && self.now - last > self.cfg.sessions.idle_timeout {
            let pools = self.tiers[0].n_pools;
            let at = client as usize * pools;
            self.clients.cookies[at..at + pools].fill(NONE);
            self.clients.session_server[at..at + pools].fill(NONE);
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
            tier: 0,
            service: cc.entry as u16,
            call: 0,
            tries,
            parent: NONE,
            parent_gen: 0,
            waiting: true,
            missed: false,
            conn: NONE,
            handshake: false,
        };
        let c = self.new_request(req);
        self.tiers[0].n_waiting += 1;
        self.stats.all.issued += 1;
        if self.now >= self.cfg.warmup {
            self.stats.measured.counts.issued += 1;
            self.stats.slice_issued(class as u16, cc.entry as u16, true);
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
        if self.conns.is_some() {
            self.conn_issue(c);
        } else {
            self.enter_node(c);
        }
    }

    /// Sends request `c` (a first try or a retry) to a server chosen by its pool's balancer
    /// on its node of its tier.
    pub(super) fn dispatch(&mut self, c: u32) {
        let r = self.book.creqs[c as usize];
        let measured = r.issued >= self.cfg.warmup;
        let t = r.tier as usize;
        let edge = t == 0;
        let n_pools = self.tiers[t].n_pools;
        let mut pool = self.tiers[t].class_route[r.class as usize];
        let node = r.node as usize;
        // A request on a layer-4 connection goes where its connection was sent: no pick,
        // so nothing of the request is looked at.
        if edge && r.conn != NONE {
            let conns = self.conns.as_ref().expect("connections");
            let server = conns.server_of(r.conn);
            if server != NONE {
                self.send_attempt(c, r, server, node, pool, false);
                return;
            }
        }
        // Cookies live in clients; a calling instance keeps none.
        let slot = r.client as usize * n_pools + pool;
        let traced = TRACE && self.traced(c) != 0;
        let rt = &mut self.tiers[t].routes[node * n_pools + pool];
        let cookie = if rt.sticky && edge {
            Some(self.clients.cookies[slot]).filter(|&c| c != NONE)
        } else {
            None
        };
        let client_ip = if edge {
            self.clients.population.ip(r.client, self.now)
        } else {
            super::calls::instance_ip(r.client)
        };
        let info = RequestInfo {
            client_ip,
            client: r.client,
            key: (r.key != NO_KEY).then_some(r.key),
            cookie,
            class: r.class,
            attempt: r.attempts.min(255) as u8,
        };
        // Backup servers and priority levels: the level to start at (and, for HAProxy's
        // first backup, the server there).
        let rule = if edge { self.priority_rule(t) } else { None };
        let base = pool;
        let mut forced = None;
        if rule.is_some() {
            (pool, forced) = self.choose_level(node, base);
        }
        let mut level = 0;
        let pick = loop {
            let pick = match forced {
                Some(i) => Some(i),
                None => self.pick_in(c, &r, t, node * n_pools + pool, &info, traced),
            };
            // nginx: a level that yields no peer hands the request to the next one.
            if pick.is_some() || rule != Some(PriorityRule::Nginx) {
                break pick;
            }
            level += 1;
            match self.tiers[t].levels[base].get(level) {
                Some(&next) => pool = next,
                None => break None,
            }
        };
        let rt = &mut self.tiers[t].routes[node * n_pools + pool];
        let Some(idx) = pick else {
            self.fail(c, ErrorCause::NoBackend);
            return;
        };
        debug_assert!(
            rt.backends[idx].eligible(),
            "balancer picked an ineligible backend"
        );
        let server = rt.id(idx);
        if rt.sticky && edge {
            if cookie.is_some_and(|c| c != server) && measured {
                self.stats.sessions_broken += 1;
            }
            self.clients.cookies[slot] = server;
        }
        self.send_attempt(c, r, server, node, pool, true);
    }

    /// Asks route `ri` of tier `t` for a backend for request `c` (`r`): a retry avoids the
    /// server that just failed, as nginx's `tried` bitmap does, by asking again a couple of
    /// times if the balancer offers it. Traced requests record the pick.
    #[inline]
    fn pick_in(
        &mut self,
        c: u32,
        r: &ClientReq,
        t: usize,
        ri: usize,
        info: &RequestInfo,
        traced: bool,
    ) -> Option<usize> {
        let rt = &mut self.tiers[t].routes[ri];
        let before = traced.then(|| {
            let t = self.tracer.as_deref().expect("tracing");
            trace::describe_route(self.cfg, rt, t, self.now, info)
        });
        let view = PoolView::with_epoch(&rt.backends, rt.epoch);
        let mut pick = rt.balancer.pick(self.now, &view, info);
        for _ in 0..2 {
            match pick {
                Some(i) if r.last_server != NONE && rt.backends[i].id == r.last_server => {
                    pick = rt.balancer.pick(self.now, &view, info);
                }
                _ => break,
            }
        }
        if let Some(before) = before {
            self.trace_pick(c, ri, pick, r.attempts > 0, before);
        }
        pick
    }

    /// Sends an attempt of request `c` (`r`, as it was) to `server` from node `node` of its
    /// tier. `counted`: the node counts it in flight (a request on a layer-4 connection is
    /// not counted: its connection is). Inlined into both callers: as a call it cost the
    /// connection-less hot path 4% of its instructions.
    #[inline(always)]
    fn send_attempt(
        &mut self,
        c: u32,
        r: ClientReq,
        server: u32,
        node: usize,
        pool: usize,
        counted: bool,
    ) {
        let t = r.tier as usize;
        let edge = t == 0;
        let measured = r.issued >= self.cfg.warmup;
        if counted {
            self.in_flight_add(t, node, server, true);
        }
        if let Some(f) = self.faults.open_record(server) {
            f.sent += 1;
        }
        let retry = r.attempts > 0;
        if measured {
            self.servers[server as usize].n_requests += 1;
            self.stats.service_attempt(r.service);
            // Attempts and retries per client request are the edge tier's; each service's
            // are in its slice.
            if edge {
                self.stats.measured.attempts += 1;
                if retry {
                    self.stats.n_retries_measured += 1;
                }
            }
        }
        if retry {
            self.tiers[t].n_retries_active += 1;
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
            tier: t as u16,
            class: r.class,
            service: r.service,
            calls_out: 0,
            calls_ok: 0,
            calls_failed: 0,
            next_call: 0,
            phase: Phase::ToServer,
            measured,
            retry,
            counted,
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
        if let Some(to) = self.tier_lb(t).upstream_timeout {
            self.q
                .push(self.now + to, Ev::UpstreamTimeout { att: a, generation });
        }
        // The node's connection to the server: cached, or a new one whose handshake the
        // request waits for (held until the attempt is over, even if it is lost).
        let setup = if edge && counted && self.upstream.is_some() {
            self.upstream_take(node * self.servers.len() + server as usize)
        } else {
            SimTime::ZERO
        };
        if self.cut_off(a) {
            self.book.atts[a as usize].phase = Phase::Lost;
            return;
        }
        match self.wire_delay(a) {
            Some(d) => self
                .q
                .push(self.now + d + setup, Ev::ToServer { att: a, generation }),
            None if setup > SimTime::ZERO => self
                .q
                .push(self.now + setup, Ev::ToServer { att: a, generation }),
            None => self.arrive_at_server(a),
        }
    }

    /// An answer reaches the load balancer.
    pub(super) fn at_lb(&mut self, a: u32, reply: Reply) {
        if TRACE {
            self.trace_att(a, "reply", |w, srv| {
                let at = &w.book.atts[a as usize];
                let what = match reply {
                    Reply::Ok => "200 OK".to_string(),
                    Reply::Status(s) => format!("HTTP {s}"),
                    Reply::QueueFull => "503 (queue full)".to_string(),
                    Reply::Refused => "connection refused".to_string(),
                };
                let node = w.node_name(at.tier as usize, at.node as usize);
                if at.tier != 0 || w.node_up(at.node as usize) {
                    format!(
                        "{node} gets {what} from {srv}, {} after sending it",
                        ms(w.now - at.dispatched)
                    )
                } else {
                    format!("{srv}'s answer ({what}) reaches {node}, which is down")
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
    pub(super) fn lb_done(&mut self, a: u32, outcome: Outcome) {
        let at = self.book.atts[a as usize];
        let t = at.tier as usize;
        if at.counted {
            self.in_flight_add(t, at.node as usize, at.server, false);
            if t == 0 && self.upstream.is_some() {
                let n = self.servers.len();
                self.upstream_give(at.node as usize * n + at.server as usize, outcome.kind);
            }
        }
        if at.retry {
            self.tiers[t].n_retries_active -= 1;
        }
        let n_pools = self.tiers[t].n_pools;
        let rt = &mut self.tiers[t].routes[at.node as usize * n_pools + at.pool as usize];
        let p = rt.pos(at.server as usize);
        // A layer-4 node sees no request's outcome: its balancer learns nothing from it.
        if p != NONE && at.counted {
            rt.balancer.on_response(
                self.now,
                &PoolView::with_epoch(&rt.backends, rt.epoch),
                p as usize,
                outcome,
            );
            if rt.passive
                && (!outcome.ok || rt.passive_out > 0)
                && let Some(ch) = rt.balancer.poll_passive()
            {
                if ch.up {
                    rt.passive_out -= 1;
                } else {
                    rt.passive_out += 1;
                }
                self.log_health(t, at.node as usize, ch.server as usize, ch.up, "passive");
            }
        }
        // Attempts sent during the fault that then failed (not client aborts).
        if !outcome.ok
            && outcome.kind != OutcomeKind::Cancelled
            && let Some(f) = self.faults.open_record(at.server)
            && at.dispatched >= f.start
        {
            f.failed += 1;
        }
        self.health_feedback(t, at.node as usize, at.server as usize, outcome);
    }

    /// The load balancer gives up on attempt `a`: it stops counting it; whatever the server
    /// still does with it is wasted. An attempt that nothing will ever answer is freed now.
    pub(super) fn orphan(&mut self, a: u32, kind: OutcomeKind) {
        let outcome = Outcome::of(kind, self.now - self.book.atts[a as usize].dispatched);
        self.lb_done(a, outcome);
        self.book.atts[a as usize].creq = NONE;
        if self.book.atts[a as usize].phase == Phase::Lost {
            self.free_att(a);
        }
    }

    /// Nobody waits any more for request `c`'s current attempt, if it has one: it is
    /// orphaned (the client gave up, or its load balancer node is gone).
    pub(super) fn drop_attempt(&mut self, c: u32) {
        let a = self.book.creqs[c as usize].attempt;
        if a != NONE {
            self.orphan(a, OutcomeKind::Cancelled);
            self.book.creqs[c as usize].attempt = NONE;
        }
    }

    pub(super) fn upstream_timeout(&mut self, a: u32, generation: u32) {
        let at = self.book.atts[a as usize];
        if at.generation != generation || at.phase == Phase::Free || at.creq == NONE {
            return;
        }
        let c = at.creq;
        if TRACE {
            self.trace_att(a, "upstream-timeout", |w, srv| {
                let at = &w.book.atts[a as usize];
                let node = w.node_name(at.tier as usize, at.node as usize);
                format!("{node} gives up on {srv}: upstream timeout")
            });
        }
        self.orphan(a, OutcomeKind::TimedOut);
        self.book.creqs[c as usize].attempt = NONE;
        self.retry_or_fail(c, ErrorCause::UpstreamTimeout);
    }

    pub(super) fn client_timeout(&mut self, c: u32, generation: u32) {
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
            let who = if r.parent == NONE {
                "the client gives up waiting (clients.timeout)"
            } else {
                "the caller gives up waiting (the call's timeout)"
            };
            self.trace_req(c, who.to_string());
        }
        self.fail(c, cause);
    }

    /// After a failed attempt: another attempt if its tier's retry policy and budget allow
    /// it, otherwise the caller gets the error.
    pub(super) fn retry_or_fail(&mut self, c: u32, cause: ErrorCause) {
        let t = self.book.creqs[c as usize].tier as usize;
        let rc = &self.tier_lb(t).retry;
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
                let tier = &self.tiers[t];
                let allowed = (b.percent / 100.0 * f64::from(tier.n_waiting))
                    .max(f64::from(b.min_concurrency));
                f64::from(tier.n_retries_active) < allowed
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

    /// Request `c` succeeded: the client has its answer, or the calling instance goes on.
    pub(super) fn complete(&mut self, c: u32) {
        if TRACE {
            self.trace_end(c, None);
        }
        self.request_over(c, true);
        let r = self.book.creqs[c as usize];
        if r.parent != NONE {
            self.call_done(c);
            return;
        }
        let measured = r.issued >= self.cfg.warmup;
        self.stats
            .completed(self.now, self.now - r.issued, measured);
        self.stats
            .slice_completed(r.class, r.service, self.now - r.issued, measured);
        self.close(c);
        if r.conn != NONE {
            self.conn_release(r.conn);
        }
        self.user_next(r.user);
    }

    /// Request `c` failed: the client gets the error, or the calling instance may try
    /// again.
    pub(super) fn fail(&mut self, c: u32, cause: ErrorCause) {
        if TRACE {
            self.trace_end(c, Some(cause));
        }
        self.request_over(c, false);
        let r = self.book.creqs[c as usize];
        if r.parent != NONE {
            self.call_failed(c, cause);
            return;
        }
        let measured = r.issued >= self.cfg.warmup;
        self.stats.failed(self.now, cause, measured);
        self.stats.slice_failed(r.class, r.service, cause, measured);
        self.close(c);
        if r.conn != NONE {
            self.conn_release(r.conn);
        }
        if self.cfg.classes[r.class as usize].reconnect.is_some() && self.reconnect(r) {
            return; // the same client carries on, on a new connection
        }
        self.user_next(r.user);
    }
}
