//! Calls between services: after its local work, a serving instance makes its hop's calls
//! (in sequence, or in parallel waiting for the first k), each a request through the
//! callee's tier with the caller's own timeout and retries, and answers once they are done.
//!
//! The attempt keeps its worker while it waits (`Phase::Calling`): a thread-per-request
//! server's thread blocks on its calls, which is how a slow dependency exhausts the
//! workers of every service above it. A failed call fails the hop (the instance answers
//! 500) unless it is not `required`. A call `when = "miss"` goes out only if the call
//! before it missed the cache of the server that answered it (cache-aside). Late answers to a hop that has already answered (an abandoned fan-out call, a
//! crashed caller) are dropped.

use super::Ev;
use super::NONE;
use super::Reply;
use super::World;
use super::book::{ClientReq, Phase};
use super::clients::NO_USER;
use crate::engine::SimTime;
use crate::metrics::ErrorCause;
use crate::model::Hop;

/// The address a serving instance calls from (10.0.0.0/8, by server id): what a balancer
/// of an internal tier hashes as the client address.
pub(super) fn instance_ip(server: u32) -> u32 {
    0x0A00_0000 | (server & 0x00FF_FFFF)
}

/// The status an instance answers when a call of its hop failed.
const DEPENDENCY_FAILED: u16 = 500;

impl<'c, const TRACE: bool> World<'c, TRACE> {
    /// What class `class` does at service `service`.
    #[inline]
    fn hop(&self, class: u16, service: u16) -> &'c Hop {
        &self.cfg.classes[class as usize].hops[service as usize]
    }

    /// Attempt `a` finished its local work: if its hop makes calls, they go out now and the
    /// attempt waits for them holding its worker (`true`); `false` if it makes none.
    pub(super) fn start_calls(&mut self, a: u32) -> bool {
        let at = self.book.atts[a as usize];
        let hop = self.hop(at.class, at.service);
        if hop.calls.is_empty() {
            return false;
        }
        let at = &mut self.book.atts[a as usize];
        at.phase = Phase::Calling;
        // Its service time is counted: `started` now marks when it began waiting.
        at.started = self.now;
        at.calls_out = 0;
        at.calls_ok = 0;
        at.calls_failed = 0;
        at.next_call = 0;
        let generation = at.generation;
        let n = if hop.parallel { hop.calls.len() } else { 1 };
        for k in 0..n {
            let at = &self.book.atts[a as usize];
            if at.generation != generation || at.phase != Phase::Calling {
                break; // an earlier call already failed the hop
            }
            self.issue_call(a, k);
        }
        true
    }

    /// Attempt `a` makes call `k` of its hop.
    fn issue_call(&mut self, a: u32, k: usize) {
        let at = self.book.atts[a as usize];
        let spec = &self.hop(at.class, at.service).calls[k];
        let to = spec.to;
        let t = self.svc_tier[to] as usize;
        let n_services = self.cfg.services.len();
        let work = self.hop(at.class, to as u16).work.as_ref();
        let rng = &mut self.clients.rng_hop[at.class as usize * n_services + to];
        let work_ns = work.map_or(0.0, |d| d.sample(rng));
        let node = self.node_for(t, at.server);
        let req = ClientReq {
            issued: self.now,
            work_ns,
            hit_work_ns: work_ns,
            key: at.key,
            user: NO_USER,
            client: at.server,
            attempt: NONE,
            last_server: NONE,
            node,
            generation: 0,
            class: at.class,
            attempts: 0,
            tier: t as u16,
            service: to as u16,
            call: k as u16,
            tries: 1,
            parent: a,
            parent_gen: at.generation,
            waiting: true,
            missed: false,
            conn: NONE,
            handshake: false,
        };
        let c = self.new_request(req);
        let at = &mut self.book.atts[a as usize];
        at.calls_out += 1;
        at.next_call = k as u16 + 1;
        if TRACE {
            self.trace_call(c, a, k);
        }
        self.send_call(c, spec.timeout);
    }

    /// Call `c` (a first try or the caller's retry) goes to its tier.
    fn send_call(&mut self, c: u32, timeout: Option<SimTime>) {
        let r = self.book.creqs[c as usize];
        self.tiers[r.tier as usize].n_waiting += 1;
        self.stats
            .service_issued(r.service, r.issued >= self.cfg.warmup);
        if r.node == NONE {
            // Node-local and no server of the service on the caller's host.
            self.fail(c, crate::metrics::ErrorCause::NoBackend);
            return;
        }
        if let Some(to) = timeout {
            self.q.push(
                self.now + to,
                Ev::ClientTimeout {
                    creq: c,
                    generation: r.generation,
                },
            );
        }
        self.dispatch(c);
    }

    /// Whether the attempt that made call `r` still waits for its calls.
    fn caller_waits(&self, r: &ClientReq) -> bool {
        let p = &self.book.atts[r.parent as usize];
        p.generation == r.parent_gen && p.phase == Phase::Calling
    }

    /// Call `c` succeeded.
    pub(super) fn call_done(&mut self, c: u32) {
        let r = self.book.creqs[c as usize];
        let measured = r.issued >= self.cfg.warmup;
        self.stats
            .service_completed(r.service, self.now - r.issued, measured);
        self.close(c);
        self.call_result(r, true);
    }

    /// Call `c` failed: the caller tries again if its policy allows, or its hop fails.
    pub(super) fn call_failed(&mut self, c: u32, cause: ErrorCause) {
        let r = self.book.creqs[c as usize];
        let measured = r.issued >= self.cfg.warmup;
        self.stats.service_failed(r.service, cause, measured);
        if self.caller_waits(&r) {
            let p = self.book.atts[r.parent as usize];
            let spec = &self.hop(p.class, p.service).calls[r.call as usize];
            let kind = match cause {
                ErrorCause::Refused | ErrorCause::LbLost => 0,
                ErrorCause::Timeout | ErrorCause::UpstreamTimeout => 1,
                ErrorCause::ServerError | ErrorCause::Rejected | ErrorCause::NoBackend => 2,
            };
            if u32::from(r.tries) <= spec.retries && spec.retry_on[kind] {
                // A new request to the service: new deadline, new attempts, the same
                // record (the old deadline and attempt events see a new generation).
                let timeout = spec.timeout;
                self.tiers[r.tier as usize].n_waiting -= 1;
                let cr = &mut self.book.creqs[c as usize];
                cr.generation = cr.generation.wrapping_add(1);
                cr.attempts = 0;
                cr.attempt = NONE;
                cr.tries += 1;
                cr.issued = self.now;
                cr.missed = false;
                if TRACE {
                    let tries = cr.tries;
                    let text = format!(
                        "the caller tries again (try {tries} of {})",
                        spec.retries + 1
                    );
                    self.trace_req(c, text);
                }
                self.send_call(c, timeout);
                return;
            }
        }
        self.close(c);
        self.call_result(r, false);
    }

    /// The caller of call `r` learns how it went.
    fn call_result(&mut self, r: ClientReq, ok: bool) {
        if !self.caller_waits(&r) {
            return; // its hop already answered, or its server lost it
        }
        let a = r.parent;
        let at = &mut self.book.atts[a as usize];
        at.calls_out -= 1;
        if ok {
            at.calls_ok += 1;
        } else {
            at.calls_failed += 1;
        }
        let (done_ok, failed, next) = (at.calls_ok, at.calls_failed, at.next_call);
        let (class, service) = (at.class, at.service);
        let hop = self.hop(class, service);
        let n = hop.calls.len() as u16;
        if hop.parallel {
            let k = hop.wait_for as u16;
            if done_ok >= k {
                self.finish_hop(a, Reply::Ok);
            } else if failed > n - k {
                self.finish_hop(a, Reply::Status(DEPENDENCY_FAILED));
            }
        } else if !ok && hop.calls[r.call as usize].required {
            self.finish_hop(a, Reply::Status(DEPENDENCY_FAILED));
        } else {
            // A call `when = "miss"` goes out only after a miss (or a failure that was
            // not required); after a hit it is skipped.
            let missed = !ok || r.missed;
            let mut next = next as usize;
            while next < n as usize && hop.calls[next].when_miss && !missed {
                if TRACE {
                    let to = &self.cfg.services[hop.calls[next].to].name;
                    self.trace_att(a, "request", |_, srv| {
                        format!("{srv} had a hit: it does not call {to}")
                    });
                }
                next += 1;
            }
            if next < n as usize {
                self.issue_call(a, next);
            } else {
                self.finish_hop(a, Reply::Ok);
            }
        }
    }

    /// Attempt `a`'s hop is over: its server frees the worker (and takes the next request
    /// waiting) and answers.
    fn finish_hop(&mut self, a: u32, reply: Reply) {
        let since = self.book.atts[a as usize].started;
        self.calls_waited(a, since);
        let s = self.book.atts[a as usize].server as usize;
        self.release_worker(s, a);
        self.respond(a, reply);
    }
}
