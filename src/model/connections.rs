//! Client connections to the edge tier (`[connections]`): how many a client holds, how many
//! requests each carries at once, how long it lives, and what opening one costs.
//!
//! Sources for the defaults (docs/lb-semantics.md, "Connections"): nginx's client side
//! (`keepalive_timeout` 75 s, `keepalive_requests` 1000, `keepalive_time` 1 h,
//! `http2_max_concurrent_streams` 128), gRPC's server connection management (gRFC A9:
//! `MAX_CONNECTION_IDLE` and `MAX_CONNECTION_AGE` infinite by default; the age is jittered
//! ±10% in grpc-go; grpc-go servers set no `MaxConcurrentStreams`, so the HTTP/2 limit of
//! 2³¹ − 1 stands), browsers' six HTTP/1.1 connections per host.

use crate::engine::SimTime;
use crate::model::{Dist, Reconnect};

/// What the connection carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1: one request at a time per connection.
    Http1,
    /// HTTP/2: up to `max_streams` requests at once per connection.
    Http2,
    /// gRPC over HTTP/2: like HTTP/2, with gRPC's connection defaults.
    Grpc,
    /// UDP flows: no handshake, no streams; a flow lives until it has been idle for the
    /// idle timeout (IPVS's UDP timeout, 300 s).
    Udp,
    /// WebSocket (RFC 6455): a long-lived socket opened by an HTTP Upgrade, pinned to one
    /// backend at layer 4 and at layer 7 alike (a proxy tunnels the upgraded connection to
    /// the backend it picked); the client's requests are its messages, any number at once.
    WebSocket,
}

impl Protocol {
    /// One connection of it, in words ("an HTTP/1.1 connection"), for `lblab trace`.
    pub fn a_connection(self) -> &'static str {
        match self {
            Protocol::Http1 => "an HTTP/1.1 connection",
            Protocol::Http2 => "an HTTP/2 connection",
            Protocol::Grpc => "a gRPC (HTTP/2) connection",
            Protocol::Udp => "a UDP flow",
            Protocol::WebSocket => "a WebSocket",
        }
    }
}

/// The handshake before a connection's first request can be sent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// Not modelled (a UDP flow, or a setup cost too small to matter).
    None,
    /// TCP: one round trip (RFC 9293).
    Tcp,
    /// TCP + TLS 1.2 full handshake: three round trips (RFC 5246 §7.3).
    Tls12,
    /// TCP + TLS 1.3 (or a resumed TLS 1.2 session): two round trips (RFC 8446 §2).
    Tls13,
}

impl Handshake {
    /// Round trips before the first request byte.
    pub fn round_trips(self) -> u32 {
        match self {
            Handshake::None => 0,
            Handshake::Tcp => 1,
            Handshake::Tls13 => 2,
            Handshake::Tls12 => 3,
        }
    }

    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Handshake::None => "none",
            Handshake::Tcp => "tcp",
            Handshake::Tls12 => "tls1.2",
            Handshake::Tls13 => "tls1.3",
        }
    }
}

/// `[connections]`: clients hold connections to the edge tier. At layer 4 a node picks a
/// backend when a connection opens and every request on it goes there; at layer 7 the node
/// balances each request and the connection only costs its setup and limits concurrency.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnConfig {
    /// What the connection carries.
    pub protocol: Protocol,
    /// Connections a client may hold at once.
    pub per_client: u32,
    /// Requests in flight at once on one connection (1 for HTTP/1.1).
    pub max_streams: u32,
    /// A connection idle this long is closed (`None`: never).
    pub idle_timeout: Option<SimTime>,
    /// A connection that carried this many requests is closed once idle (`None`: never).
    pub max_requests: Option<u32>,
    /// At this age (±10% jitter) a connection is closed gracefully: no new requests, closed
    /// once its requests are done (`None`: never).
    pub max_age: Option<SimTime>,
    /// The handshake before the first request.
    pub handshake: Handshake,
    /// Client ↔ load balancer round trip, paid `handshake.round_trips()` times.
    pub rtt: SimTime,
    /// CPU time of one handshake where the connection ends: the load balancer node's CPU
    /// at layer 7 (it terminates TLS; needs `lb.cores`), the backend's work at layer 4
    /// (TLS passes through). Zero: not modelled.
    pub handshake_cpu: SimTime,
    /// Layer 7: idle connections the node keeps to each backend for reuse (nginx upstream
    /// `keepalive N`; 0, written `"off"`: a new connection per request). `None`: upstream connections are
    /// not modelled.
    pub upstream_keepalive: Option<u32>,
    /// The handshake of a new upstream connection, in round trips to the backend.
    pub upstream_handshake: Handshake,
    /// An idle upstream connection is closed after this long (nginx upstream
    /// `keepalive_timeout`, 60 s).
    pub upstream_idle_timeout: SimTime,
    /// Layer 4: the most connection-tracking entries (open connections or flows) the node
    /// holds; a new flow beyond it is dropped (`None`: no limit).
    pub conntrack_max: Option<u32>,
    /// The client balances over every backend's address itself (gRPC's `round_robin`
    /// policy over a headless service's addresses): one connection per backend, requests
    /// rotated over the ready ones. `false`: the client connects to the virtual IP
    /// (gRPC's default `pick_first`).
    pub client_round_robin: bool,
    /// Layer 4: hash algorithms hash the flow's 5-tuple (the client's address and a fresh
    /// source port per connection, as AWS NLB and Maglev-style balancers do) instead of
    /// the source address alone (IPVS `sh`'s default).
    pub five_tuple: bool,
    /// WebSocket: how long a socket stays open before its client closes it, drawn per
    /// socket (`None`: until the server closes it or the run ends).
    pub lifetime: Option<Dist>,
    /// WebSocket: a socket the server closed (its crash, a drain, a refused connect, a
    /// maximum age) is reopened at once by its client after this policy's delay, whether
    /// or not it has a message to send (`None`: reopened when the client next sends).
    pub reconnect: Option<Reconnect>,
    /// Layer 4: IPVS persistence (`ipvsadm -p`, kube-proxy `sessionAffinity: ClientIP`):
    /// a client's new connection goes to the backend of its last one while that is in
    /// rotation, until this long after its last connection closed (`None`: off).
    pub persistence: Option<SimTime>,
}

impl ConnConfig {
    /// The defaults of `protocol`.
    pub fn defaults(protocol: Protocol) -> ConnConfig {
        let nginx = matches!(protocol, Protocol::Http1 | Protocol::Http2);
        ConnConfig {
            protocol,
            per_client: if protocol == Protocol::Http1 { 6 } else { 1 },
            max_streams: match protocol {
                Protocol::Http1 => 1,
                Protocol::Http2 => 128,
                Protocol::Grpc | Protocol::Udp | Protocol::WebSocket => 2_147_483_647,
            },
            idle_timeout: match protocol {
                Protocol::Udp => Some(SimTime::from_secs(300)),
                _ => nginx.then(|| SimTime::from_secs(75)),
            },
            max_requests: nginx.then_some(1000),
            max_age: nginx.then(|| SimTime::from_secs(3600)),
            handshake: Handshake::None,
            rtt: SimTime::ZERO,
            handshake_cpu: SimTime::ZERO,
            upstream_keepalive: None,
            upstream_handshake: Handshake::Tcp,
            upstream_idle_timeout: SimTime::from_secs(60),
            conntrack_max: None,
            client_round_robin: false,
            five_tuple: false,
            persistence: None,
            lifetime: None,
            reconnect: None,
        }
    }

    /// Round trips before the first request: the handshake's, and a WebSocket's HTTP
    /// Upgrade request and its 101 answer (RFC 6455 §1.3).
    pub fn round_trips(&self) -> u32 {
        self.handshake.round_trips() + u32::from(self.protocol == Protocol::WebSocket)
    }

    /// How long the handshake takes.
    pub fn setup_time(&self) -> SimTime {
        SimTime::from_nanos(self.rtt.as_nanos() * u64::from(self.round_trips()))
    }

    /// Whether a connection is pinned to the backend picked when it opened (layer 4, or a
    /// WebSocket at either layer).
    pub fn pinned(&self, l4: bool) -> bool {
        l4 || self.protocol == Protocol::WebSocket
    }
}
