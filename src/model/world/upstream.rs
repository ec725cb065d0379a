//! The layer-7 node's connections to its backends (`[connections] upstream_keepalive`).
//!
//! Every real proxy balances per request and then looks for a reusable connection to the
//! backend it picked (nginx `ngx_http_upstream_get_keepalive_peer`: the most recently
//! cached first): reuse never changes *which* backend, only whether a handshake is paid.
//! An attempt takes an idle connection to its server if one is cached, or opens one (its
//! handshake's round trips to the backend delay the request). When the answer has been
//! read, the connection goes back to the cache if fewer than `upstream_keepalive` are idle
//! there, else it closes; one that failed, timed out or was abandoned closes. A cached
//! connection idle for `upstream_idle_timeout` closes (nginx upstream `keepalive_timeout`).
//! HTTP/1.1 to the backends: one request per connection at a time.

use std::collections::VecDeque;

use super::World;
use crate::balancer::OutcomeKind;
use crate::engine::SimTime;
use crate::model::ConnConfig;

pub(super) struct Upstream {
    /// Servers per node: every vector below is indexed `node * n + server`.
    n: usize,
    keepalive: usize,
    idle_timeout: SimTime,
    round_trips: u32,
    /// Per server: connections carrying an attempt, and idle ones (when each went idle;
    /// the back is the most recent).
    busy: Vec<u32>,
    idle: Vec<VecDeque<SimTime>>,
    /// Per server: connections opened in the window, open connection-nanoseconds in the
    /// window, and since when the current count holds.
    pub(super) opened: Vec<u64>,
    pub(super) area: Vec<f64>,
    since: Vec<SimTime>,
}

impl Upstream {
    pub(super) fn new(c: &ConnConfig, nodes: usize, n: usize) -> Option<Upstream> {
        let keepalive = c.upstream_keepalive? as usize;
        let n_servers = nodes * n;
        Some(Upstream {
            n,
            keepalive,
            idle_timeout: c.upstream_idle_timeout,
            round_trips: c.upstream_handshake.round_trips(),
            busy: vec![0; n_servers],
            idle: (0..n_servers)
                .map(|_| VecDeque::with_capacity(keepalive.min(1024)))
                .collect(),
            opened: vec![0; n_servers],
            area: vec![0.0; n_servers],
            since: vec![SimTime::ZERO; n_servers],
        })
    }

    /// Connections opened to server `s` in the window, and its open connection-nanoseconds,
    /// over every node.
    pub(super) fn of_server(&self, s: usize) -> (u64, f64) {
        let nodes = self.opened.len() / self.n;
        (0..nodes).fold((0, 0.0), |(o, a), k| {
            (
                o + self.opened[k * self.n + s],
                a + self.area[k * self.n + s],
            )
        })
    }

    /// Connections open at slot `s` (`node * n + server`) now.
    pub(super) fn open(&self, s: usize) -> u32 {
        self.busy[s] + self.idle[s].len() as u32
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// Counts server `s`'s open connections up to `at` (its count changes then).
    fn upstream_mark(&mut self, s: usize, at: SimTime) {
        let since = self.upstream.as_ref().expect("upstream").since[s];
        let overlap = self.window_overlap(since, at) as f64;
        let up = self.upstream.as_mut().expect("upstream");
        up.area[s] += f64::from(up.open(s)) * overlap;
        up.since[s] = at;
    }

    /// Closes server `s`'s cached connections that have been idle for the timeout by now.
    fn upstream_expire(&mut self, s: usize) {
        loop {
            let up = self.upstream.as_ref().expect("upstream");
            let Some(&since) = up.idle[s].front() else {
                return;
            };
            let expiry = since + up.idle_timeout;
            if expiry > self.now {
                return;
            }
            self.upstream_mark(s, expiry);
            self.upstream.as_mut().expect("upstream").idle[s].pop_front();
        }
    }

    /// An attempt takes a connection of slot `s` (`node * n + server`): a cached one (no
    /// delay), or a new one whose handshake it waits for.
    pub(super) fn upstream_take(&mut self, s: usize) -> SimTime {
        self.upstream_expire(s);
        self.upstream_mark(s, self.now);
        let measured = self.now >= self.cfg.warmup;
        let up = self.upstream.as_mut().expect("upstream");
        up.busy[s] += 1;
        if up.idle[s].pop_back().is_some() {
            return SimTime::ZERO;
        }
        if measured {
            up.opened[s] += 1;
        }
        let round_trips = up.round_trips;
        let mut setup = SimTime::ZERO;
        for _ in 0..round_trips {
            for _ in 0..2 {
                if let Some(d) =
                    self.net_delay((s % self.upstream.as_ref().expect("upstream").n) as u32)
                {
                    setup += d;
                }
            }
        }
        setup
    }

    /// An attempt to server `s` is over: its connection goes back to the cache if the
    /// answer was read and there is room, else it closes.
    pub(super) fn upstream_give(&mut self, s: usize, kind: OutcomeKind) {
        self.upstream_expire(s);
        self.upstream_mark(s, self.now);
        let now = self.now;
        let up = self.upstream.as_mut().expect("upstream");
        up.busy[s] -= 1;
        let read = matches!(kind, OutcomeKind::Success | OutcomeKind::Status(_));
        if read && up.idle[s].len() < up.keepalive {
            up.idle[s].push_back(now);
        }
    }

    /// Server `server` crashed: every node's idle connections to it are reset (those
    /// carrying an attempt close when the attempt fails).
    pub(super) fn upstream_reset(&mut self, server: usize) {
        let up = self.upstream.as_ref().expect("upstream");
        let (n, nodes) = (up.n, up.busy.len() / up.n);
        for k in 0..nodes {
            let s = k * n + server;
            self.upstream_expire(s);
            self.upstream_mark(s, self.now);
            self.upstream.as_mut().expect("upstream").idle[s].clear();
        }
    }

    /// At the end: every server's open-connection time up to now.
    pub(super) fn upstream_settle(&mut self) {
        if self.upstream.is_none() {
            return;
        }
        let slots = self.upstream.as_ref().expect("upstream").busy.len();
        for s in 0..slots {
            self.upstream_expire(s);
            self.upstream_mark(s, self.now);
        }
    }
}
