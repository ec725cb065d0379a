//! What ends a connection from the far side, and what its client does then: WebSockets
//! (`protocol = "websocket"`) that live for a drawn `lifetime` and are reopened after a
//! `reconnect` delay, connects refused by a dead backend, and connections through a load
//! balancer node that crashed, stopped or lost the client's path.
//!
//! A WebSocket is pinned to the backend picked when it opens, at layer 4 and at layer 7
//! (a proxy tunnels the upgraded connection; nginx's `least_conn` counts it as one active
//! connection for its whole life). Its client's requests are its messages. When the server
//! side closes it (the backend crashed, drained or refused the connect, a maximum age, a
//! node that lost the path), a client with a `reconnect` policy reopens it after the
//! policy's delay whether or not it has a message to send, and its messages wait in the
//! client meanwhile; without one, its next message opens a new socket. A reopening that
//! fails (refused, no backend, no path) counts as a consecutive failure and the delay
//! grows; a socket that lasted at least the first delay starts the count again, as
//! gRPC's backoff does after a successful connection.

use super::Ev;
use super::NONE;
use super::World;
use super::tier::Path;
use crate::engine::SimTime;
use crate::model::{ConnConfig, Dist, Protocol, Reconnect};

/// Why a connection's end timer fired.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum EndWhy {
    /// Its maximum age (the server's GOAWAY): closed once its requests are done.
    MaxAge,
    /// A WebSocket's drawn lifetime: its client closes it once its messages are done.
    Lifetime,
    /// Its connect was refused: the RST is back.
    Refused,
}

/// The WebSocket side of `[connections]`.
pub(super) struct Sockets {
    lifetime: Option<Dist>,
    reconnect: Option<Reconnect>,
    /// Per client: consecutive failed reopenings, and whether a reopening is scheduled.
    tries: Vec<u16>,
    pending: Vec<bool>,
}

impl Sockets {
    pub(super) fn new(c: &ConnConfig, n_clients: usize) -> Option<Sockets> {
        (c.protocol == Protocol::WebSocket).then(|| Sockets {
            lifetime: c.lifetime.clone(),
            reconnect: c.reconnect,
            tries: if c.reconnect.is_some() {
                vec![0; n_clients]
            } else {
                Vec::new()
            },
            pending: if c.reconnect.is_some() {
                vec![false; n_clients]
            } else {
                Vec::new()
            },
        })
    }

    /// Whether `client` is waiting to reopen its socket.
    #[inline]
    pub(super) fn pending(&self, client: u32) -> bool {
        self.pending.get(client as usize).copied().unwrap_or(false)
    }
}

impl<const TRACE: bool> World<'_, TRACE> {
    /// Connection `id` just opened: a WebSocket's client will close it after its drawn
    /// lifetime.
    pub(super) fn socket_opened(&mut self, id: u32) {
        let Some(conns) = self.conns.as_mut() else {
            return;
        };
        let Some(ws) = &conns.ws else {
            return;
        };
        let conn = &conns.slots[id as usize];
        if conn.refused {
            return;
        }
        let Some(d) = &ws.lifetime else {
            return;
        };
        let life = SimTime::from_nanos_f64(d.sample(&mut self.rng_socket));
        let generation = conn.generation;
        self.q.push(
            self.now + life,
            Ev::ConnEnd {
                conn: id,
                generation,
                why: EndWhy::Lifetime,
            },
        );
    }

    /// Connection `id`'s connect to `server` is refused: the RST is back after the SYN's
    /// round trip (the client's to the node, the node's to the backend and back).
    pub(super) fn conn_refuse(&mut self, id: u32, server: u32) {
        let rtt = self.conn_cfg_rtt();
        let there = self.net_delay(server).unwrap_or(SimTime::ZERO);
        let back = self.net_delay(server).unwrap_or(SimTime::ZERO);
        let conns = self.conns.as_mut().expect("connections");
        let conn = &mut conns.slots[id as usize];
        conn.refused = true;
        conn.reopen = true;
        let generation = conn.generation;
        self.q.push(
            self.now + rtt + there + back,
            Ev::ConnEnd {
                conn: id,
                generation,
                why: EndWhy::Refused,
            },
        );
    }

    fn conn_cfg_rtt(&self) -> SimTime {
        self.cfg
            .connections
            .as_ref()
            .map_or(SimTime::ZERO, |c| c.rtt)
    }

    /// Connection `id`'s end timer (if it is still the connection it was set for).
    pub(super) fn conn_end(&mut self, id: u32, generation: u32, why: EndWhy) {
        let conns = self.conns.as_mut().expect("connections");
        let conn = &mut conns.slots[id as usize];
        if !conn.open || conn.generation != generation {
            return;
        }
        match why {
            // Requests already on it go on to the dead backend and are refused there.
            EndWhy::Refused => self.conn_close(id),
            EndWhy::MaxAge | EndWhy::Lifetime => {
                conn.reopen |= why == EndWhy::MaxAge;
                conn.draining = true;
                if conn.streams == 0 {
                    self.conn_close(id);
                }
            }
        }
    }

    /// Connection `id` has closed: if the server side closed a WebSocket whose client
    /// reconnects, its reopening is scheduled.
    pub(super) fn socket_closed(&mut self, id: u32) {
        let Some(conns) = self.conns.as_ref() else {
            return;
        };
        let conn = &conns.slots[id as usize];
        if !conn.reopen || conns.ws.as_ref().is_none_or(|w| w.reconnect.is_none()) {
            return;
        }
        let failed = conn.refused || self.now < conn.ready_at;
        let lived = if failed {
            SimTime::ZERO
        } else {
            self.now - conn.ready_at
        };
        let client = conn.client;
        self.socket_schedule(client, failed, lived);
    }

    /// A reopening of `client`'s socket failed before a connection was made (no path, no
    /// backend, a full connection-tracking table).
    pub(super) fn socket_failed(&mut self, client: u32) {
        self.socket_schedule(client, true, SimTime::ZERO);
    }

    /// Schedules the reopening of `client`'s socket, after a connection that failed or
    /// lived `lived`.
    fn socket_schedule(&mut self, client: u32, failed: bool, lived: SimTime) {
        let conns = self.conns.as_mut().expect("connections");
        let ws = conns.ws.as_mut().expect("websockets");
        let Some(policy) = ws.reconnect else {
            return;
        };
        let cl = client as usize;
        if ws.pending[cl] {
            return;
        }
        ws.tries[cl] = if failed || lived < policy.initial {
            ws.tries[cl].saturating_add(1)
        } else {
            1
        };
        ws.pending[cl] = true;
        let tries = ws.tries[cl];
        let f = 1.0 + policy.jitter * (2.0 * self.rng_socket.next_f64() - 1.0);
        let delay = SimTime::from_nanos_f64(policy.nominal(u32::from(tries)).as_nanos() as f64 * f);
        let at = self.now + delay;
        if let Some(rc) = self.reconnects.as_mut() {
            rc.count(at);
        }
        self.q.push(at, Ev::SocketReopen { client });
    }

    /// `client` reopens its socket, through the node its path now leads to.
    pub(super) fn socket_reopen(&mut self, client: u32) {
        let conns = self.conns.as_mut().expect("connections");
        let ws = conns.ws.as_mut().expect("websockets");
        ws.pending[client as usize] = false;
        let base = client as usize * conns.per_client;
        let Some(k) = (0..conns.per_client).find(|&k| conns.of_client[base + k] == NONE) else {
            return; // a message opened one meanwhile
        };
        let node = if self.tier.trivial {
            self.node_of(client) as u32
        } else {
            match self.path(client) {
                Path::Node(n) => n as u32,
                _ => {
                    self.socket_failed(client);
                    return;
                }
            }
        };
        if self.conn_open(client, base + k, node, None, None).is_some() {
            self.conn_serve_waiting(client);
        }
    }

    /// Load balancer node `n` crashed (`reset`: its connections are gone) or stopped (it
    /// closes each once its requests are done).
    pub(super) fn conn_node_gone(&mut self, n: usize, reset: bool) {
        self.conns_close_where(reset, |c| c.node == n as u32);
    }

    /// Server `s` crashed (`reset`) or is draining or leaving (GOAWAY): the connections
    /// pinned to it close now, or once their requests are done.
    pub(super) fn conn_server_gone(&mut self, s: usize, reset: bool) {
        if self.conns.as_ref().is_some_and(|c| c.pinned) {
            self.conns_close_where(reset, |c| c.server == s as u32);
        }
    }

    /// The far side closes the open connections `hit` selects: now (`reset`), or each
    /// once its requests are done; a WebSocket's client may then reopen it.
    fn conns_close_where(&mut self, reset: bool, hit: impl Fn(&super::conns::Conn) -> bool) {
        let Some(conns) = self.conns.as_ref() else {
            return;
        };
        for id in 0..conns.slots.len() as u32 {
            let conn = &self.conns.as_ref().expect("connections").slots[id as usize];
            if conn.open && hit(conn) {
                self.conn_far_close(id, reset, true);
            }
        }
    }

    /// The far side closes open connection `id`: now (`reset`, or it is idle), else once
    /// its requests are done (GOAWAY); a WebSocket's client may then reopen it. `serve`:
    /// the client's waiting requests may take its place at once (not while one of them is
    /// being placed).
    pub(super) fn conn_far_close(&mut self, id: u32, reset: bool, serve: bool) {
        let conn = &mut self.conns.as_mut().expect("connections").slots[id as usize];
        conn.reopen = true;
        if reset || conn.streams == 0 {
            if serve {
                self.conn_close(id);
            } else {
                self.conn_shut(id);
            }
        } else {
            conn.draining = true;
        }
    }
}
