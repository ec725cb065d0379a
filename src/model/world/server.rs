//! Servers: queues, workers and service times; what a request finds when it gets there.

use super::Ev;
use super::NO_KEY;
use super::NONE;
use super::Reply;
use super::World;
use super::book::Phase;
use super::trace::ms;
use super::workers::Workers;
use crate::engine::SimTime;
use crate::engine::prefetch::{When, hint};
use crate::model::cache::Lru;
use crate::model::config::SessionState;
use crate::model::config::WorldConfig;
use crate::model::dist::Dist;
use std::collections::VecDeque;

/// A server's state. Laid out by hand (`repr(C)`) so that what every request reads and
/// writes sits together: the first cache line holds what its arrival and its service read
/// (workers, speed, failure flags, its group, the request count), the second its queue
/// and the attempts its workers hold, the third the rest of a completion's writes and the
/// cache; everything after is read only by changes, faults and the results. With 1,024
/// servers, state spread over five lines cost each request several more cache misses.
#[repr(C, align(64))]
pub(super) struct Server {
    // Line 1: arrival and service.
    pub(super) busy: u32,
    pub(super) slots: u32,
    /// Bumped when the server crashes or hangs: work started before never completes.
    pub(super) epoch: u32,
    pub(super) queue_cap: u32,
    pub(super) speed: f64,
    pub(super) slow: f64,
    pub(super) err_rate: f64,
    /// Its group (every request reads the group's network delay).
    pub(super) group: usize,
    pub(super) n_requests: u64,
    pub(super) crashed: bool,
    pub(super) hung: bool,
    pub(super) partitioned: bool,
    pub(super) draining: bool,
    /// Killed by its liveness probe and not yet running again (also `crashed`).
    pub(super) restarting: bool,
    pub(super) flapping: bool,
    pub(super) member: bool,
    pub(super) ever_member: bool,
    // Line 2: the queue and the workers.
    pub(super) queue: VecDeque<u32>,
    pub(super) in_service: Workers,
    // Line 3: completions, the cache, the network.
    pub(super) busy_ns: u64,
    pub(super) cache: Option<Box<Lru>>,
    /// Services whose instances cannot reach it (bit per service; a partition `from`; read
    /// only for calls between services).
    pub(super) cut_from: u64,
    /// The server it runs on (itself unless its group runs `on` another's: pods on nodes).
    pub(super) host: u32,
    pub(super) err_status: u16,
    // Cold.
    /// Its weight for the load balancers: the group's, until a `reweight` change.
    pub(super) weight: u32,
    /// The service its group serves (0 without `[[services]]`).
    pub(super) service: usize,
    pub(super) n_rejected: u64,
    pub(super) n_hits: u64,
    pub(super) n_misses: u64,
    pub(super) member_since: SimTime,
    pub(super) member_ns: u64,
}

/// Every server of every group, spares included (spares start out of the pool).
pub(super) fn fleet(cfg: &WorldConfig) -> Vec<Server> {
    let mut servers = Vec::with_capacity(cfg.n_allocated());
    let hosts = cfg.hosts();
    for (gi, g) in cfg.groups.iter().enumerate() {
        for i in 0..g.count + g.spare {
            let member = i < g.count;
            servers.push(Server {
                speed: g.speed,
                weight: g.weight,
                slots: g.slots,
                queue_cap: g.queue,
                group: gi,
                service: cfg.service_of_group(gi),
                host: hosts[servers.len()],
                busy: 0,
                queue: VecDeque::new(),
                in_service: Workers::with_slots(g.slots),
                n_requests: 0,
                n_rejected: 0,
                busy_ns: 0,
                cache: g.cache.map(|k| Box::new(Lru::new(k as usize))),
                n_hits: 0,
                n_misses: 0,
                member,
                ever_member: member,
                member_since: SimTime::ZERO,
                member_ns: 0,
                epoch: 0,
                crashed: false,
                restarting: false,
                hung: false,
                partitioned: false,
                cut_from: 0,
                draining: false,
                flapping: false,
                slow: 1.0,
                err_rate: 0.0,
                err_status: 500,
            });
        }
    }
    servers
}

impl Server {
    /// Hints that a completion will read and write the first three lines.
    #[inline]
    pub(super) fn hint_hot_lines(&self) {
        hint(&self.busy, When::Soon);
        hint(&self.queue, When::Soon);
        hint(&self.busy_ns, When::Soon);
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    #[inline]
    pub(super) fn net_delay(&mut self, server: u32) -> Option<SimTime> {
        let g = self.servers[server as usize].group;
        let d: &Dist = self.cfg.groups[g].network_delay.as_ref()?;
        Some(SimTime::from_nanos_f64(d.sample(&mut self.rng_net)))
    }

    pub(super) fn arrive_at_server(&mut self, a: u32) {
        let s = self.book.atts[a as usize].server as usize;
        self.book.atts[a as usize].at_server = self.now;
        if TRACE {
            self.trace_arrival(a);
        }
        if self.cut_off(a) || self.servers[s].hung {
            // Dropped on the wire, or accepted by a process that never answers.
            self.book.atts[a as usize].phase = Phase::Lost;
            return;
        }
        let srv = &self.servers[s];
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

    pub(super) fn start_service(&mut self, s: usize, a: u32) {
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
            // A call learns whether it missed (its caller may then go to the database).
            if at.tier != 0 && at.creq != NONE {
                self.book.creqs[at.creq as usize].missed = !hit;
            }
            if at.measured {
                if hit {
                    srv.n_hits += 1;
                } else {
                    srv.n_misses += 1;
                }
            }
        }
        // Its request is read when it is answered, a service time from now.
        self.book.hint_creq(at.creq, When::Later);
        let mut service = SimTime::from_nanos_f64(work / srv.speed * srv.slow);
        let epoch = srv.epoch;
        // Session state belongs to clients' requests at their entry service.
        match self.cfg.sessions.state {
            _ if at.tier != 0 => {}
            SessionState::Token => {}
            SessionState::Server => {
                let slot = at.client as usize * self.tiers[0].n_pools + at.pool as usize;
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
            let wait = self.now - rq.at_server;
            if at.tier == 0 {
                // The summary's queue wait and service time are the edge tier's servers'.
                self.stats.measured.start(wait, service);
            }
            self.stats.service_started(at.service, wait, service);
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
                server: s as u32,
                creq: at.creq,
            },
        );
    }

    pub(super) fn service_done(&mut self, a: u32, generation: u32, epoch: u32) {
        let at = self.book.atts[a as usize];
        let s = at.server as usize;
        if at.generation != generation
            || at.phase != Phase::InService
            || self.servers[s].epoch != epoch
        {
            return; // the server crashed or hung since: this work never completes
        }
        let busy = self.window_overlap(at.started, self.now);
        self.servers[s].busy_ns += busy;
        if self.has_calls && self.start_calls(a) {
            return; // the worker waits for the hop's calls
        }
        self.release_worker(s, a);
        self.respond(a, Reply::Ok);
    }

    /// Server `s`'s worker is done with attempt `a` and takes the next request waiting.
    pub(super) fn release_worker(&mut self, s: usize, a: u32) {
        let srv = &mut self.servers[s];
        srv.busy -= 1;
        srv.in_service.remove(a);
        if let Some(next) = srv.queue.pop_front() {
            // The attempt after it starts a service time from now: by then a first-level
            // copy would be gone, a second-level one not.
            if let Some(&after) = srv.queue.front() {
                self.book.hint_att(after, When::Later);
            }
            self.start_service(s, next);
        }
    }

    /// One way of attempt `a` on the wire: its server group's `network_delay`, except for a
    /// call between two servers on one host (a pod and its node), which crosses none.
    #[inline]
    pub(super) fn wire_delay(&mut self, a: u32) -> Option<SimTime> {
        let at = &self.book.atts[a as usize];
        if at.tier != 0
            && self.servers[at.server as usize].host == self.servers[at.client as usize].host
        {
            return None;
        }
        self.net_delay(at.server)
    }

    /// Whether the network between attempt `a`'s server and its sender is cut: a partition
    /// from everyone, or from the service of the instance that made the call.
    #[inline]
    pub(super) fn cut_off(&self, a: u32) -> bool {
        let at = &self.book.atts[a as usize];
        let srv = &self.servers[at.server as usize];
        srv.partitioned
            || (at.tier != 0
                && srv.cut_from != 0
                && srv.cut_from >> self.servers[at.client as usize].service & 1 == 1)
    }

    /// Sends the server's answer back toward the load balancer.
    pub(super) fn respond(&mut self, a: u32, reply: Reply) {
        let server = self.book.atts[a as usize].server;
        self.series.answered(server as usize, reply != Reply::Ok);
        if self.cut_off(a) {
            self.book.atts[a as usize].phase = Phase::Lost;
            return;
        }
        match self.wire_delay(a) {
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

    /// Every attempt on server `s` is reset (connection refused/reset), and work in
    /// progress is abandoned.
    pub(super) fn reset_server(&mut self, s: usize) {
        self.conn_server_gone(s, true);
        if self.upstream.is_some() {
            self.upstream_reset(s);
        }
        self.stop_work(s);
        let mut victims: Vec<u32> = self.servers[s].queue.drain(..).collect();
        self.servers[s].in_service.drain_into(&mut victims);
        for a in victims {
            self.respond(a, Reply::Refused);
        }
    }

    /// The server stops all work in progress (a crash or a hang): busy time until now is
    /// counted, and completions already scheduled will be ignored.
    pub(super) fn stop_work(&mut self, s: usize) {
        let warm = (self.cfg.warmup, self.cfg.duration);
        let srv = &mut self.servers[s];
        srv.epoch = srv.epoch.wrapping_add(1);
        for a in srv.in_service.iter() {
            if self.book.atts[a as usize].phase != Phase::InService {
                continue; // waiting for calls: its work was counted when it ended
            }
            let started = self.book.atts[a as usize].started;
            let lo = started.max(warm.0);
            let hi = self.now.min(warm.1);
            srv.busy_ns += (hi - lo).as_nanos();
        }
        srv.busy = 0;
    }

    /// A hung server keeps everything it holds and answers nothing.
    pub(super) fn freeze_server(&mut self, s: usize) {
        self.stop_work(s);
        let mut held: Vec<u32> = self.servers[s].queue.drain(..).collect();
        self.servers[s].in_service.drain_into(&mut held);
        for a in held {
            self.book.atts[a as usize].phase = Phase::Lost;
        }
    }

    /// A server process restarts: empty, with a cold cache. (While the kubelet restarts it
    /// after a failed liveness probe, it stays down until that restart is over.)
    pub(super) fn restart(&mut self, s: usize) {
        let srv = &mut self.servers[s];
        srv.crashed = srv.restarting;
        srv.hung = false;
        if let Some(c) = srv.cache.as_mut() {
            c.clear();
        }
    }
}

#[cfg(test)]
mod layout {
    use super::Server;
    use std::mem::{align_of, offset_of};

    /// The fields every request touches stay in the lines the comment on `Server` says.
    #[test]
    fn hot_fields_share_cache_lines() {
        assert_eq!(align_of::<Server>(), 64);
        let line = |offset: usize| offset / 64;
        for o in [
            offset_of!(Server, busy),
            offset_of!(Server, slots),
            offset_of!(Server, epoch),
            offset_of!(Server, speed),
            offset_of!(Server, slow),
            offset_of!(Server, err_rate),
            offset_of!(Server, group),
            offset_of!(Server, n_requests),
            offset_of!(Server, crashed),
            offset_of!(Server, hung),
            offset_of!(Server, partitioned),
        ] {
            assert_eq!(line(o), 0);
        }
        for o in [offset_of!(Server, queue), offset_of!(Server, in_service)] {
            assert_eq!(line(o), 1);
        }
        // `hint_hot_lines` names `busy`, `queue` and `busy_ns`: one in each line.
        assert_eq!(line(offset_of!(Server, cache)), 2);
        assert_eq!(line(offset_of!(Server, cut_from)), 2);
        assert_eq!(line(offset_of!(Server, busy_ns)), 2);
    }
}
