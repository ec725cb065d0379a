//! Client requests and their attempts: the records of what is in flight, in reused slabs.

use super::NONE;
use super::World;
use crate::engine::SimTime;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
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
    /// The client is still waiting.
    pub(super) waiting: bool,
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
    pub(super) phase: Phase,
    pub(super) measured: bool,
    pub(super) retry: bool,
}

/// Client requests and their attempts, in reused slabs.
pub(super) struct Book {
    pub(super) creqs: Vec<ClientReq>,
    pub(super) free_creqs: Vec<u32>,
    pub(super) atts: Vec<Attempt>,
    pub(super) free_atts: Vec<u32>,
    /// Client requests waiting, and retry attempts the load balancer is waiting for.
    pub(super) n_waiting: u32,
    pub(super) n_retries_active: u32,
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// The client has its answer: the request's slot is free again.
    pub(super) fn close(&mut self, c: u32) {
        let r = &mut self.book.creqs[c as usize];
        debug_assert!(r.waiting);
        r.waiting = false;
        r.attempt = NONE;
        r.generation = r.generation.wrapping_add(1);
        self.book.n_waiting -= 1;
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
    pub(super) fn new() -> Book {
        Book {
            creqs: Vec::with_capacity(1024),
            free_creqs: Vec::with_capacity(1024),
            atts: Vec::with_capacity(1024),
            free_atts: Vec::with_capacity(1024),
            n_waiting: 0,
            n_retries_active: 0,
        }
    }
}
