//! Clients' connections to the edge tier (`[connections]`).
//!
//! A client request rides one of its client's connections: an open one with a free
//! stream, or a new one if the client holds fewer than `per_client`, or it waits (in the
//! client, first come first served) until a stream frees up. A new connection pays its
//! handshake (`round_trips × rtt`) before its first request goes out.
//!
//! At layer 4 the node picks a backend when the connection opens, through the tier's
//! balancer, which counts *connections* in flight (IPVS's connection counts), and every
//! request on the connection goes to that backend without a pick: a backend added later
//! gets only new connections. At layer 7 the node balances each request as without
//! connections; the connection costs its setup and limits how many requests a client has
//! in flight.
//!
//! A connection closes when it has been idle for `idle_timeout`, after `max_requests`
//! requests, or gracefully at `max_age` (gRPC's GOAWAY: no new requests, closed once its
//! requests are done). Its backend's crash resets it; a draining or removed backend sends
//! GOAWAY. Timers are events that carry the connection's generation, so a stale one does
//! nothing.

use super::Ev;
use super::NONE;
use super::World;
use crate::balancer::PoolView;
use crate::balancer::RequestInfo;
use crate::engine::SimRng;
use crate::engine::SimTime;
use crate::engine::rng::splitmix64;
use crate::metrics::ErrorCause;
use crate::model::{ConnConfig, Layer, Protocol, WorldConfig};

/// One connection between a client and the edge tier's node.
#[derive(Copy, Clone, Debug)]
pub(super) struct Conn {
    pub(super) client: u32,
    /// The edge node it goes through (the client's: `client % nodes`).
    pub(super) node: u32,
    /// Layer 4: the backend it is pinned to; `NONE` at layer 7.
    pub(super) server: u32,
    /// Requests on it now (sent, or waiting for the handshake).
    pub(super) streams: u32,
    /// Requests it has carried.
    served: u32,
    /// Bumped when it closes: timers of an earlier life do nothing.
    pub(super) generation: u32,
    /// When its handshake is done.
    pub(super) ready_at: SimTime,
    /// It takes requests (not closed).
    pub(super) open: bool,
    /// GOAWAY: no new requests; it closes when its requests are done.
    pub(super) draining: bool,
    /// It has carried a request of the measured window (it counts once in requests per
    /// connection).
    used: bool,
    /// The far end closed it (a crash, a drain, a maximum age, a refused connect, a node
    /// that lost its path): a WebSocket's client reopens it after its `reconnect` delay.
    pub(super) reopen: bool,
    /// Its connect was refused (the backend was down).
    pub(super) refused: bool,
    /// When it last became idle, and whether an idle timer is pending: one timer per
    /// connection, moved on when it fires early, not one event per request.
    idle_since: SimTime,
    idle_timer: bool,
}

/// A request waiting in its client for a free stream.
#[derive(Copy, Clone, Debug)]
struct Waiting {
    creq: u32,
    generation: u32,
    next: u32,
}

pub(super) struct Conns {
    pub(super) l4: bool,
    /// Connections are pinned to a backend picked when they open (layer 4, WebSockets).
    pub(super) pinned: bool,
    /// WebSockets that reopen eagerly.
    pub(super) ws: Option<super::sockets::Sockets>,
    /// Clients balance over the backends themselves: slot `k` of a client is its
    /// connection to server `k`, and `rr_next` its round-robin position.
    client_rr: bool,
    rr_next: Vec<u32>,
    pub(super) per_client: usize,
    pub(super) slots: Vec<Conn>,
    free: Vec<u32>,
    /// Per client, `per_client` entries: its connections, or `NONE`.
    pub(super) of_client: Vec<u32>,
    /// Per client: its waiting requests (a list through `waits`).
    head: Vec<u32>,
    tail: Vec<u32>,
    waits: Vec<Waiting>,
    free_waits: Vec<u32>,
    rng_age: SimRng,
    /// Connections opened in the measured window; requests of the window that rode a
    /// connection, and the connections that carried them.
    pub(super) opened: u64,
    pub(super) requests: u64,
    pub(super) used: u64,
    /// Per server (layer 4): connections open now, opened in the window, and open
    /// connection-nanoseconds in the window.
    pub(super) open_now: Vec<u32>,
    pub(super) opened_to: Vec<u64>,
    pub(super) area: Vec<f64>,
    pub(super) since: Vec<SimTime>,
    /// Layer 4: connection-tracking entries now and at most (over the window), new flows
    /// dropped because the table was full, and per client the backend of its last
    /// connection, for connections that came back to a different one.
    pub(super) tracked: Vec<u32>,
    pub(super) tracked_peak: u32,
    pub(super) dropped: u64,
    pub(super) moved: u64,
    last_server: Vec<u32>,
    /// Per client: its persistence template lasts until then (after its last connection).
    template_until: Vec<SimTime>,
    /// Source ports handed out (5-tuple hashing).
    ports: u32,
}

impl Conns {
    pub(super) fn new(
        cfg: &WorldConfig,
        c: &ConnConfig,
        n_clients: usize,
        n_servers: usize,
        rng_age: SimRng,
    ) -> Conns {
        let per_client = if c.client_round_robin {
            n_servers
        } else {
            c.per_client as usize
        };
        let l4 = cfg.lb.layer == Layer::L4;
        let pinned = c.pinned(l4);
        Conns {
            l4,
            pinned,
            ws: super::sockets::Sockets::new(c, n_clients),
            client_rr: c.client_round_robin,
            rr_next: if c.client_round_robin {
                vec![0; n_clients]
            } else {
                Vec::new()
            },
            per_client,
            slots: Vec::with_capacity(n_clients.min(1 << 16)),
            free: Vec::new(),
            of_client: vec![NONE; n_clients * per_client],
            head: vec![NONE; n_clients],
            tail: vec![NONE; n_clients],
            waits: Vec::new(),
            free_waits: Vec::new(),
            rng_age,
            opened: 0,
            requests: 0,
            used: 0,
            open_now: vec![0; n_servers],
            opened_to: vec![0; n_servers],
            area: vec![0.0; n_servers],
            since: vec![SimTime::ZERO; n_servers],
            tracked: vec![0; cfg.lb.nodes as usize],
            tracked_peak: 0,
            dropped: 0,
            moved: 0,
            last_server: if pinned {
                vec![NONE; n_clients]
            } else {
                Vec::new()
            },
            template_until: if c.persistence.is_some() {
                vec![SimTime::ZERO; n_clients]
            } else {
                Vec::new()
            },
            ports: 0,
        }
    }

    /// The backend connection `id` is pinned to (`NONE` at layer 7).
    #[inline]
    pub(super) fn server_of(&self, id: u32) -> u32 {
        self.slots[id as usize].server
    }

    /// Connections open now to each server, for the books: the layer-4 node counts them.
    pub(super) fn pinned(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.slots
            .iter()
            .filter(|c| c.open && c.server != NONE)
            .map(|c| (c.node, c.server))
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    fn conn_cfg(&self) -> &ConnConfig {
        self.cfg.connections.as_ref().expect("[connections]")
    }

    /// Client request `c` has reached the edge node: it rides a connection of its client,
    /// a new one, or waits for a free stream.
    pub(super) fn conn_issue(&mut self, c: u32) {
        let client = self.book.creqs[c as usize].client;
        if !self.conn_place(client, c) {
            if TRACE {
                let conns = self.conns.as_ref().expect("connections");
                let text = if conns.ws.as_ref().is_some_and(|w| w.pending(client)) {
                    "waits in its client: the socket is being reopened".to_string()
                } else {
                    format!(
                        "waits in its client: its {} connection(s) are busy",
                        conns.per_client
                    )
                };
                self.trace_conn(c, text);
            }
            let generation = self.book.creqs[c as usize].generation;
            let w = Waiting {
                creq: c,
                generation,
                next: NONE,
            };
            let conns = self.conns.as_mut().expect("connections");
            let i = match conns.free_waits.pop() {
                Some(i) => {
                    conns.waits[i as usize] = w;
                    i
                }
                None => {
                    conns.waits.push(w);
                    (conns.waits.len() - 1) as u32
                }
            };
            let cl = client as usize;
            match conns.tail[cl] {
                NONE => conns.head[cl] = i,
                t => conns.waits[t as usize].next = i,
            }
            conns.tail[cl] = i;
        }
    }

    /// Puts request `c` on a connection of `client` with a free stream, or on a new one;
    /// `false` if every connection the client may hold is busy.
    fn conn_place(&mut self, client: u32, c: u32) -> bool {
        if self.conns.as_ref().expect("connections").client_rr {
            return self.client_rr_place(client, c);
        }
        let node = self.book.creqs[c as usize].node;
        self.conn_drop_stale(client, node);
        let cfg = self.conn_cfg();
        let (max_streams, max_requests) = (cfg.max_streams, cfg.max_requests);
        let conns = self.conns.as_ref().expect("connections");
        if conns.ws.as_ref().is_some_and(|w| w.pending(client)) {
            return false; // the client is reopening its socket: the message waits for it
        }
        let base = client as usize * conns.per_client;
        let mut free_slot = None;
        let mut best = None;
        for k in 0..conns.per_client {
            let id = conns.of_client[base + k];
            if id == NONE {
                free_slot.get_or_insert(k);
                continue;
            }
            let conn = &conns.slots[id as usize];
            let usable = conn.open
                && conn.node == node
                && !conn.draining
                && conn.streams < max_streams
                && max_requests.is_none_or(|m| conn.served < m);
            if usable {
                best = Some(id);
                break;
            }
        }
        if let Some(id) = best {
            self.conn_take(id, c, false);
            return true;
        }
        match free_slot {
            Some(k) => {
                if let Some(id) = self.conn_open(client, base + k, node, Some(c), None) {
                    self.conn_take(id, c, true);
                }
                true
            }
            None => false,
        }
    }

    /// The client's path now goes through another node than `node`'s connections were
    /// opened through (a VRRP failover, a new DNS answer, an anycast route change): that
    /// node has no state for them (no connection sync), so they are not used again; an
    /// idle one is closed at once, a busy one once its requests are done.
    /// (Nothing to do while the tier's paths never change.)
    fn conn_drop_stale(&mut self, client: u32, node: u32) {
        if self.tier.trivial {
            return;
        }
        let per_client = self.conns.as_ref().expect("connections").per_client;
        let base = client as usize * per_client;
        for k in 0..per_client {
            let conns = self.conns.as_ref().expect("connections");
            let id = conns.of_client[base + k];
            if id != NONE && conns.slots[id as usize].open && conns.slots[id as usize].node != node
            {
                self.conn_far_close(id, false, false);
            }
        }
    }

    /// Client-side round robin (gRPC `round_robin`): the next backend in the pool, in turn,
    /// whose connection has a free stream (or that has none yet: it is opened); backends
    /// out of rotation (draining, marked down, removed) are skipped, as subchannels that
    /// are not READY. `false` if none can take the request now.
    fn client_rr_place(&mut self, client: u32, c: u32) -> bool {
        let cfg = self.conn_cfg();
        let max_streams = cfg.max_streams;
        let node = self.book.creqs[c as usize].node as usize;
        self.conn_drop_stale(client, node as u32);
        let route = node * self.tiers[0].n_pools;
        let n = self.tiers[0].routes[route].backends.len();
        let conns = self.conns.as_ref().expect("connections");
        let base = client as usize * conns.per_client;
        let start = conns.rr_next[client as usize] as usize;
        let mut any = false;
        for i in 0..n {
            let k = (start + i) % n;
            let be = &self.tiers[0].routes[route].backends[k];
            if !be.eligible() {
                continue;
            }
            any = true;
            let server = be.id;
            let conns = self.conns.as_mut().expect("connections");
            let id = conns.of_client[base + server as usize];
            conns.rr_next[client as usize] = ((k + 1) % n) as u32;
            if id == NONE {
                let at = base + server as usize;
                if let Some(id) = self.conn_open(client, at, node as u32, Some(c), Some(server)) {
                    self.conn_take(id, c, true);
                }
                return true;
            }
            let conn = &conns.slots[id as usize];
            if conn.open && !conn.draining && conn.streams < max_streams {
                self.conn_take(id, c, false);
                return true;
            }
        }
        if !any {
            // No subchannel can be READY: the RPC fails at once (gRPC UNAVAILABLE).
            self.fail(c, ErrorCause::NoBackend);
            return true;
        }
        false
    }

    /// Opens a connection for `client` in its slot `at` through `node`, for request `c`
    /// (which the caller then puts on it) or for none (a WebSocket reopened eagerly).
    /// `None` if it could not be opened: `c` was lost or failed, or the reopening failed.
    pub(super) fn conn_open(
        &mut self,
        client: u32,
        at: usize,
        node: u32,
        c: Option<u32>,
        pinned: Option<u32>,
    ) -> Option<u32> {
        let setup = self.conn_cfg().setup_time();
        let limit = self.conn_cfg().conntrack_max;
        let measured = self.now >= self.cfg.warmup;
        let conns = self.conns.as_mut().expect("connections");
        if conns.l4 && limit.is_some_and(|m| conns.tracked[node as usize] >= m) {
            // The connection-tracking table is full: the new flow's packets are dropped
            // (nf_conntrack "table full, dropping packet"), and nobody answers.
            if measured {
                conns.dropped += 1;
            }
            match c {
                Some(c) => {
                    self.book.creqs[c as usize].node = super::tier::LOST;
                    if TRACE {
                        self.trace_conn(
                            c,
                            "dropped: the connection-tracking table is full".to_string(),
                        );
                    }
                }
                None => self.socket_failed(client),
            }
            return None;
        }
        let server = if let Some(s) = pinned {
            // The client chose the backend; the tier only forwards (and tracks) it.
            self.in_flight_add(0, node as usize, s, true);
            s
        } else if self.conns.as_ref().expect("connections").pinned {
            match self.conn_pick(client, at as u32, node as usize) {
                Some(s) => s,
                None => {
                    match c {
                        Some(c) => self.fail(c, ErrorCause::NoBackend),
                        None => self.socket_failed(client),
                    }
                    return None;
                }
            }
        } else {
            NONE
        };
        let now = self.now;
        let conns = self.conns.as_mut().expect("connections");
        let conn = Conn {
            client,
            node,
            server,
            streams: 0,
            served: 0,
            generation: 0,
            ready_at: now + setup,
            open: true,
            draining: false,
            used: false,
            reopen: false,
            refused: false,
            idle_since: now,
            idle_timer: false,
        };
        let id = match conns.free.pop() {
            Some(id) => {
                let generation = conns.slots[id as usize].generation;
                conns.slots[id as usize] = Conn { generation, ..conn };
                id
            }
            None => {
                conns.slots.push(conn);
                (conns.slots.len() - 1) as u32
            }
        };
        conns.of_client[at] = id;
        if measured {
            conns.opened += 1;
        }
        if server != NONE {
            if conns.l4 {
                conns.tracked[node as usize] += 1;
                if measured {
                    conns.tracked_peak = conns.tracked_peak.max(conns.tracked[node as usize]);
                }
            }
            if measured {
                let last = conns.last_server[client as usize];
                if last != NONE && last != server {
                    conns.moved += 1;
                }
            }
            conns.last_server[client as usize] = server;
            self.conn_count(server, true);
        }
        let generation = self.conns.as_ref().expect("connections").slots[id as usize].generation;
        if server != NONE && self.servers[server as usize].crashed {
            // Nothing listens on the backend: the connect is refused (a TCP RST comes back
            // after the SYN's round trip).
            self.conn_refuse(id, server);
        }
        self.socket_opened(id);
        let cfg = self.conn_cfg();
        if let Some(age) = cfg.max_age {
            // grpc-go jitters the age by ±10% so that a fleet does not reconnect at once;
            // nginx's keepalive_time has no jitter.
            let grpc = cfg.protocol == Protocol::Grpc;
            let conns = self.conns.as_mut().expect("connections");
            let f = if grpc {
                0.9 + 0.2 * conns.rng_age.next_f64()
            } else {
                1.0
            };
            let at = now + SimTime::from_nanos_f64(age.as_nanos() as f64 * f);
            self.q.push(
                at,
                Ev::ConnEnd {
                    conn: id,
                    generation,
                    why: super::sockets::EndWhy::MaxAge,
                },
            );
        }
        if let (true, Some(c)) = (TRACE, c) {
            let cfg = self.conn_cfg();
            let what = cfg.protocol.a_connection();
            let mut text = format!("client {client} opens {what} (#{id}");
            if cfg.handshake != crate::model::Handshake::None {
                text.push_str(&format!(
                    ", {} handshake: {:.3} ms",
                    cfg.handshake.name(),
                    setup.as_millis_f64()
                ));
            }
            text.push(')');
            if server != NONE {
                let name = &self.cfg.server_names()[server as usize].0;
                let alg = self.cfg.algorithm.name();
                text.push_str(&format!(
                    "; lb-1 {alg} picks {name} for it: every request on it goes there"
                ));
            }
            self.trace_conn(c, text);
        }
        Some(id)
    }

    /// The layer-4 node picks a backend for a new connection of `client`; the balancer
    /// counts it in flight until the connection closes.
    fn conn_pick(&mut self, client: u32, id_hint: u32, node: usize) -> Option<u32> {
        let cfg = self.conn_cfg();
        let (five_tuple, persistence) = (cfg.five_tuple, cfg.persistence);
        let conns = self.conns.as_ref().expect("connections");
        // IPVS persistence: the client's template still points at a backend in rotation.
        if persistence.is_some() {
            let last = conns.last_server[client as usize];
            let alive = conns.template_until[client as usize] >= self.now
                || conns.of_client[client as usize * conns.per_client..]
                    .iter()
                    .take(conns.per_client)
                    .any(|&id| id != NONE);
            let rt = &self.tiers[0].routes[node * self.tiers[0].n_pools];
            let p = if last == NONE {
                NONE
            } else {
                rt.pos(last as usize)
            };
            if alive && p != NONE && rt.backends[p as usize].eligible() {
                self.in_flight_add(0, node, last, true);
                return Some(last);
            }
        }
        let mut ip = self.clients.population.ip(client, self.now);
        if five_tuple {
            // The flow's 5-tuple: the address and a source port of its own per connection.
            let conns = self.conns.as_mut().expect("connections");
            conns.ports = conns.ports.wrapping_add(1);
            let port = conns.ports ^ id_hint;
            ip = splitmix64((u64::from(ip) << 32) | u64::from(port)) as u32;
        }
        let route = node * self.tiers[0].n_pools;
        let rt = &mut self.tiers[0].routes[route];
        let info = RequestInfo {
            client_ip: ip,
            client,
            key: None,
            cookie: None,
            class: 0,
            attempt: 0,
        };
        let view = PoolView::with_epoch(&rt.backends, rt.epoch);
        let idx = rt.balancer.pick(self.now, &view, &info)?;
        let server = rt.backends[idx].id;
        self.in_flight_add(0, node, server, true);
        Some(server)
    }

    /// Connections open to `server` change by one (layer 4), for its time average.
    fn conn_count(&mut self, server: u32, up: bool) {
        let s = server as usize;
        self.conn_area_to_now(s);
        let measured = self.now >= self.cfg.warmup;
        let conns = self.conns.as_mut().expect("connections");
        if up {
            conns.open_now[s] += 1;
            if measured {
                conns.opened_to[s] += 1;
            }
        } else {
            conns.open_now[s] -= 1;
        }
    }

    /// Request `c` rides connection `id`: now if its handshake is done, else when it is.
    /// `opened`: `c` opened it (and its opening was traced).
    fn conn_take(&mut self, id: u32, c: u32, opened: bool) {
        let measured = self.book.creqs[c as usize].issued >= self.cfg.warmup;
        let conns = self.conns.as_mut().expect("connections");
        let conn = &mut conns.slots[id as usize];
        conn.streams += 1;
        conn.served += 1;
        if measured {
            conns.requests += 1;
            if !conn.used {
                conn.used = true;
                conns.used += 1;
            }
        }
        let ready_at = conn.ready_at;
        let (server, served) = (conn.server, conn.served);
        self.book.creqs[c as usize].conn = id;
        let hs = self.conn_cfg().handshake_cpu;
        let l4 = self.conns.as_ref().expect("connections").l4;
        if served == 1 && hs > SimTime::ZERO {
            let r = &mut self.book.creqs[c as usize];
            if !l4 {
                r.handshake = true; // layer 7: the node's CPU
            } else {
                // Layer 4: TLS passes through; the backend does the handshake.
                r.work_ns += hs.as_nanos() as f64;
                r.hit_work_ns += hs.as_nanos() as f64;
            }
        }
        if TRACE && !opened {
            let to = if server == NONE {
                String::new()
            } else {
                format!(", pinned to {}", self.cfg.server_names()[server as usize].0)
            };
            self.trace_conn(
                c,
                format!("rides connection #{id} (request {served} on it{to})"),
            );
        }
        if ready_at <= self.now {
            self.enter_node(c);
        } else {
            let generation = self.book.creqs[c as usize].generation;
            self.q.push(
                ready_at,
                Ev::ConnReady {
                    creq: c,
                    generation,
                },
            );
        }
    }

    /// Request `c`'s connection finished its handshake.
    pub(super) fn conn_ready(&mut self, c: u32, generation: u32) {
        let r = &self.book.creqs[c as usize];
        // (A request whose node crashed meanwhile is lost with it.)
        if r.generation == generation && r.waiting && r.node != super::tier::LOST {
            self.enter_node(c);
        }
    }

    /// Client request `c` is over: its stream is free. The connection may close (draining,
    /// or its last request), go idle, or take the client's next waiting request.
    pub(super) fn conn_release(&mut self, id: u32) {
        let cfg = self.conn_cfg();
        let (max_requests, idle) = (cfg.max_requests, cfg.idle_timeout);
        let conns = self.conns.as_mut().expect("connections");
        let conn = &mut conns.slots[id as usize];
        conn.streams -= 1;
        let client = conn.client;
        if !conn.open {
            if conn.streams == 0 {
                conns.free.push(id); // reset earlier; its last request is over
            }
            return;
        }
        let spent = max_requests.is_some_and(|m| conn.served >= m);
        if conn.streams == 0 {
            if conn.draining || spent {
                self.conn_close(id);
            } else if let Some(idle) = idle {
                conn.idle_since = self.now;
                if !conn.idle_timer {
                    conn.idle_timer = true;
                    let generation = conn.generation;
                    self.q.push(
                        self.now + idle,
                        Ev::ConnIdle {
                            conn: id,
                            generation,
                        },
                    );
                }
            }
        }
        self.conn_serve_waiting(client);
    }

    /// The client's waiting requests take whatever streams or slots are free, in order.
    pub(super) fn conn_serve_waiting(&mut self, client: u32) {
        let cl = client as usize;
        loop {
            let conns = self.conns.as_mut().expect("connections");
            let i = conns.head[cl];
            if i == NONE {
                return;
            }
            let w = conns.waits[i as usize];
            let r = &self.book.creqs[w.creq as usize];
            let live = r.waiting
                && r.generation == w.generation
                && r.conn == NONE
                && r.node != super::tier::LOST;
            if live && !self.conn_place(client, w.creq) {
                return;
            }
            let conns = self.conns.as_mut().expect("connections");
            conns.head[cl] = w.next;
            if w.next == NONE {
                conns.tail[cl] = NONE;
            }
            conns.free_waits.push(i);
        }
    }

    /// Connection `id` closes: its client's slot is free, a layer-4 node forgets its flow,
    /// and the client's waiting requests may take its place.
    pub(super) fn conn_close(&mut self, id: u32) {
        let client = self.conns.as_ref().expect("connections").slots[id as usize].client;
        self.conn_shut(id);
        self.conn_serve_waiting(client);
    }

    /// Connection `id` closes, without serving its client's waiting requests (the caller
    /// is placing one).
    pub(super) fn conn_shut(&mut self, id: u32) {
        let conns = self.conns.as_mut().expect("connections");
        let conn = &mut conns.slots[id as usize];
        debug_assert!(conn.open);
        conn.open = false;
        conn.generation = conn.generation.wrapping_add(1);
        let (client, node, server, streams) = (conn.client, conn.node, conn.server, conn.streams);
        let base = client as usize * conns.per_client;
        for k in 0..conns.per_client {
            if conns.of_client[base + k] == id {
                conns.of_client[base + k] = NONE;
            }
        }
        if streams == 0 {
            conns.free.push(id);
        }
        if let (Some(p), Some(t)) = (
            self.cfg.connections.as_ref().and_then(|c| c.persistence),
            conns.template_until.get_mut(client as usize),
        ) {
            *t = self.now + p;
        }
        if server != NONE {
            if conns.l4 {
                conns.tracked[node as usize] -= 1;
            }
            self.in_flight_add(0, node as usize, server, false);
            self.conn_count(server, false);
        }
        self.socket_closed(id);
    }

    /// Connection `id`'s idle timer: it closes if it has been idle for the timeout.
    pub(super) fn conn_idle(&mut self, id: u32, generation: u32) {
        let Some(timeout) = self.conn_cfg().idle_timeout else {
            return;
        };
        let conns = self.conns.as_mut().expect("connections");
        let conn = &mut conns.slots[id as usize];
        if !conn.open || conn.generation != generation {
            return;
        }
        conn.idle_timer = false;
        if conn.streams > 0 {
            return; // busy: its next release sets the timer again
        }
        let due = conn.idle_since + timeout;
        if self.now >= due {
            self.conn_close(id);
        } else {
            // It was used since the timer was set: wait for the rest.
            conn.idle_timer = true;
            self.q.push(
                due,
                Ev::ConnIdle {
                    conn: id,
                    generation,
                },
            );
        }
    }
}
