//! Requests and their attempts: the records of what is in flight, in reused slabs.
//!
//! A *request* (`ClientReq`) is what one caller waits for from one service: a client's
//! request to its entry service, or a call that a serving instance makes to another
//! service (`parent` names the attempt that made it). Each request is served by one or
//! more *attempts*, each one try on one server through the request's tier. An attempt
//! whose hop has calls waits for them (`Phase::Calling`) holding its server's worker.

use super::NONE;
use super::World;
use crate::engine::SimTime;
use crate::engine::prefetch::{When, hint};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Free,
    ToServer,
    Queued,
    InService,
    /// Local work done; waiting for the hop's calls, still holding a worker.
    Calling,
    ToLb,
    /// Swallowed by a black hole or a partition: nothing will ever come back.
    Lost,
}

/// What a caller asked of a service, across all attempts.
#[derive(Copy, Clone, Debug)]
pub(super) struct ClientReq {
    pub(super) issued: SimTime,
    pub(super) work_ns: f64,
    pub(super) hit_work_ns: f64,
    pub(super) key: u64,
    pub(super) user: u32,
    pub(super) client: u32,
    /// The attempt the load balancer is waiting for, or `NONE`.
    pub(super) attempt: u32,
    /// The server of the previous attempt (avoided by retries), or `NONE`.
    pub(super) last_server: u32,
    /// The load balancer node handling it, or `LOST` (sent into a dead path).
    pub(super) node: u32,
    pub(super) generation: u32,
    pub(super) class: u16,
    pub(super) attempts: u16,
    /// The tier it passes through (0: the edge).
    pub(super) tier: u16,
    /// The service it is for.
    pub(super) service: u16,
    /// For a call: which call of its parent's hop it is, and how many times the caller has
    /// sent it (its own retries).
    pub(super) call: u16,
    pub(super) tries: u16,
    /// For a call: the attempt that made it (`NONE` for a client's request), and that
    /// attempt's generation then.
    pub(super) parent: u32,
    pub(super) parent_gen: u32,
    /// The caller is still waiting.
    pub(super) waiting: bool,
    /// For a call: its last attempt started at a server with a cache that did not hold
    /// the key (a later call `when = "miss"` goes out).
    pub(super) missed: bool,
    /// A client request's connection (`[connections]`), or `NONE`.
    pub(super) conn: u32,
    /// The first request on a new connection: it carries the handshake's CPU.
    pub(super) handshake: bool,
}

/// One try of a request on one server. An attempt the load balancer gave up on (timeout,
/// retry, client gone) is *orphaned*: the server still does its work, the answer is dropped.
#[derive(Copy, Clone, Debug)]
pub(super) struct Attempt {
    /// The client request it serves, or `NONE` once orphaned.
    pub(super) creq: u32,
    pub(super) dispatched: SimTime,
    pub(super) at_server: SimTime,
    pub(super) started: SimTime,
    pub(super) work_ns: f64,
    pub(super) hit_work_ns: f64,
    pub(super) key: u64,
    pub(super) client: u32,
    pub(super) server: u32,
    pub(super) node: u32,
    pub(super) generation: u32,
    pub(super) pool: u16,
    /// The tier that sent it, and the class and service of its request (an orphaned
    /// attempt still does its hop's calls).
    pub(super) tier: u16,
    pub(super) class: u16,
    pub(super) service: u16,
    /// While `Calling`: calls out, succeeded and failed, and the next call to make (in
    /// sequence).
    pub(super) calls_out: u16,
    pub(super) calls_ok: u16,
    pub(super) calls_failed: u16,
    pub(super) next_call: u16,
    pub(super) phase: Phase,
    pub(super) measured: bool,
    pub(super) retry: bool,
    /// The node counts it in flight (not a request on a layer-4 connection, whose
    /// connection is counted instead).
    pub(super) counted: bool,
}

/// Client requests and their attempts, in reused slabs.
pub(super) struct Book {
    pub(super) creqs: Vec<ClientReq>,
    pub(super) free_creqs: Vec<u32>,
    pub(super) atts: Vec<Attempt>,
    pub(super) free_atts: Vec<u32>,
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// A slot for a new request (its generation carries on from the slot's last use).
    pub(super) fn new_request(&mut self, req: ClientReq) -> u32 {
        match self.book.free_creqs.pop() {
            Some(c) => {
                let generation = self.book.creqs[c as usize].generation;
                self.book.creqs[c as usize] = ClientReq { generation, ..req };
                c
            }
            None => {
                self.book.creqs.push(req);
                (self.book.creqs.len() - 1) as u32
            }
        }
    }

    /// The caller has its answer: the request's slot is free again.
    pub(super) fn close(&mut self, c: u32) {
        let r = &mut self.book.creqs[c as usize];
        debug_assert!(r.waiting);
        r.waiting = false;
        r.attempt = NONE;
        r.generation = r.generation.wrapping_add(1);
        self.tiers[r.tier as usize].n_waiting -= 1;
        self.book.free_creqs.push(c);
    }

    pub(super) fn free_att(&mut self, a: u32) {
        let at = &mut self.book.atts[a as usize];
        at.phase = Phase::Free;
        at.creq = NONE;
        at.generation = at.generation.wrapping_add(1);
        self.book.free_atts.push(a);
    }
}

impl Book {
    /// Hints that attempt `a`'s record will be read: both of its cache lines (it spans two;
    /// `counted` is its last field, as a test checks).
    #[inline]
    pub(super) fn hint_att(&self, a: u32, when: When) {
        if let Some(at) = self.atts.get(a as usize) {
            hint(at, when);
            hint(&at.counted, when);
        }
    }

    /// Hints that request `c`'s record will be read (nothing for `NONE`): both lines, as for
    /// an attempt (`handshake` is its last field).
    #[inline]
    pub(super) fn hint_creq(&self, c: u32, when: When) {
        if let Some(r) = self.creqs.get(c as usize) {
            hint(r, when);
            hint(&r.handshake, when);
        }
    }

    pub(super) fn new() -> Book {
        Book {
            creqs: Vec::with_capacity(1024),
            free_creqs: Vec::with_capacity(1024),
            atts: Vec::with_capacity(1024),
            free_atts: Vec::with_capacity(1024),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    /// The hints cover a whole record with two lines: its start and its last field, which
    /// must sit in its last bytes (a reordered struct would leave a line unhinted).
    #[test]
    fn the_hinted_fields_end_their_records() {
        assert!(size_of::<Attempt>() <= 128 && size_of::<ClientReq>() <= 128);
        assert!(offset_of!(Attempt, counted) + 8 >= size_of::<Attempt>());
        assert!(offset_of!(ClientReq, handshake) + 8 >= size_of::<ClientReq>());
    }
}
