//! `[connections]`: clients' connections to the edge tier (protocol, how many per client,
//! streams per connection, idle timeout, requests and age per connection, handshake).

use crate::engine::SimTime;
use crate::model::{ConnConfig, Handshake, LbConfig, Protocol};
use crate::scenario::doc::{Tbl, join};

use super::Reader;

const KEYS: &[&str] = &[
    "protocol",
    "per_client",
    "max_streams",
    "idle_timeout",
    "max_requests",
    "max_age",
    "handshake",
    "rtt",
    "handshake_cpu",
    "upstream_keepalive",
    "upstream_handshake",
    "upstream_idle_timeout",
    "conntrack_max",
    "client_balancing",
    "flow_hash",
    "persistence",
    "lifetime",
    "reconnect",
];

impl Reader<'_> {
    /// `[connections]`: `Some(None)` when the scenario has none (the connection-less
    /// model: every request on its own).
    pub(super) fn connections(
        &mut self,
        root: Tbl<'_, '_>,
        lb: Option<&LbConfig>,
    ) -> Option<Option<ConnConfig>> {
        let Some(v) = root.t.get("connections") else {
            return Some(None);
        };
        let t = self.cx.table("connections", v)?;
        self.cx.check_keys(t, KEYS);
        let mut ok = true;
        let protocol = match t.t.get("protocol") {
            None => Some(Protocol::Http1),
            Some(pv) => self
                .cx
                .one_of(
                    "connections.protocol",
                    pv,
                    &["http1", "http2", "grpc", "udp", "websocket"],
                )
                .map(|w| match w {
                    "http2" => Protocol::Http2,
                    "grpc" => Protocol::Grpc,
                    "udp" => Protocol::Udp,
                    "websocket" => Protocol::WebSocket,
                    _ => Protocol::Http1,
                }),
        }?;
        let mut cfg = ConnConfig::defaults(protocol);
        if let Some(v) = t.t.get("per_client") {
            match self.cx.int("connections.per_client", v, 1, 1_000) {
                Some(n) => cfg.per_client = n as u32,
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("max_streams") {
            if protocol == Protocol::Udp {
                self.cx.err_hint(
                    "connections.max_streams",
                    &v.span(),
                    "a UDP flow has no streams: it carries every datagram its client sends",
                    Some("leave max_streams out with protocol = \"udp\"".into()),
                );
                ok = false;
            } else if protocol == Protocol::Http1 {
                self.cx.err_hint(
                    "connections.max_streams",
                    &v.span(),
                    "HTTP/1.1 carries one request at a time per connection",
                    Some("use protocol = \"http2\" or \"grpc\" to multiplex, or more `per_client` connections".into()),
                );
                ok = false;
            } else {
                match self.cx.int("connections.max_streams", v, 1, 2_147_483_647) {
                    Some(n) => cfg.max_streams = n as u32,
                    None => ok = false,
                }
            }
        }
        // A duration, or "none" for never.
        let mut never = |r: &mut Self, key: &str| -> Option<Option<SimTime>> {
            let v = t.t.get(key)?;
            let path = join("connections", key);
            if let toml::de::DeValue::String(s) = v.get_ref()
                && s == "none"
            {
                return Some(None);
            }
            match r.positive_duration(&path, v) {
                Some(d) => Some(Some(d)),
                None => {
                    ok = false;
                    None
                }
            }
        };
        if let Some(d) = never(self, "idle_timeout") {
            cfg.idle_timeout = d;
        }
        if let Some(d) = never(self, "max_age") {
            cfg.max_age = d;
        }
        if let Some(v) = t.t.get("max_requests") {
            match v.get_ref() {
                toml::de::DeValue::String(s) if s == "none" => cfg.max_requests = None,
                _ => match self.cx.int("connections.max_requests", v, 1, 1_000_000_000) {
                    Some(n) => cfg.max_requests = Some(n as u32),
                    None => ok = false,
                },
            }
        }
        if let Some(v) = t.t.get("handshake") {
            match self.handshake("connections.handshake", v) {
                Some(h) => cfg.handshake = h,
                None => ok = false,
            }
        }
        if let (Some(v), Protocol::Udp) = (t.t.get("handshake"), protocol)
            && cfg.handshake != Handshake::None
        {
            self.cx.err_hint(
                "connections.handshake",
                &v.span(),
                "UDP has no handshake: a flow starts with its first datagram",
                Some("leave handshake out with protocol = \"udp\" (QUIC's handshake is not modelled)".into()),
            );
            ok = false;
        }
        if let Some(v) = t.t.get("client_balancing") {
            match self
                .cx
                .one_of("connections.client_balancing", v, &["none", "round_robin"])
            {
                Some("round_robin") if protocol == Protocol::WebSocket => {
                    self.cx.err_hint(
                        "connections.client_balancing",
                        &v.span(),
                        "a WebSocket client holds one socket, not one per backend",
                        Some("leave client_balancing out with protocol = \"websocket\"".into()),
                    );
                    ok = false;
                }
                Some("round_robin") => {
                    cfg.client_round_robin = true;
                    if let Some(pv) = t.t.get("per_client") {
                        self.cx.err_hint(
                            "connections.per_client",
                            &pv.span(),
                            "with client_balancing = \"round_robin\" a client holds one connection per backend",
                            Some("leave per_client out".into()),
                        );
                        ok = false;
                    }
                }
                Some(_) => cfg.client_round_robin = false,
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("flow_hash") {
            match self
                .cx
                .one_of("connections.flow_hash", v, &["source", "5-tuple"])
            {
                Some(w) => cfg.five_tuple = w == "5-tuple",
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("persistence") {
            match self.positive_duration("connections.persistence", v) {
                Some(d) => cfg.persistence = Some(d),
                None => ok = false,
            }
        }
        for key in ["lifetime", "reconnect"] {
            if let (Some(v), false) = (t.t.get(key), protocol == Protocol::WebSocket) {
                self.cx.err_hint(
                    &join("connections", key),
                    &v.span(),
                    format!("`{key}` is about WebSockets, and the protocol is not \"websocket\""),
                    Some("set protocol = \"websocket\", or leave it out (other connections close on idle_timeout, max_requests and max_age)".into()),
                );
                ok = false;
            }
        }
        if let (Some(v), Protocol::WebSocket) = (t.t.get("lifetime"), protocol) {
            match self.dist("connections.lifetime", v) {
                Some(d) => cfg.lifetime = Some(d),
                None => ok = false,
            }
        }
        if let (Some(v), Protocol::WebSocket) = (t.t.get("reconnect"), protocol) {
            match self.reconnect("connections.reconnect", v) {
                Some(r) => cfg.reconnect = Some(r),
                None => ok = false,
            }
        }
        if let (Some(v), Protocol::WebSocket) = (t.t.get("upstream_keepalive"), protocol) {
            self.cx.err_hint(
                "connections.upstream_keepalive",
                &v.span(),
                "an upgraded WebSocket connection is its client's own tunnel to the backend: it is never pooled",
                Some("leave upstream_keepalive out with protocol = \"websocket\"".into()),
            );
            ok = false;
        }
        if let Some(v) = t.t.get("conntrack_max") {
            match self
                .cx
                .int("connections.conntrack_max", v, 1, 1_000_000_000)
            {
                Some(n) => cfg.conntrack_max = Some(n as u32),
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("upstream_handshake") {
            match self.handshake("connections.upstream_handshake", v) {
                Some(h) => cfg.upstream_handshake = h,
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("upstream_keepalive") {
            // nginx refuses `keepalive 0` ("invalid value"); without the directive every
            // request opens its own upstream connection: "off".
            match v.get_ref() {
                toml::de::DeValue::String(s) if s == "off" => cfg.upstream_keepalive = Some(0),
                _ => match self
                    .cx
                    .int("connections.upstream_keepalive", v, 0, 1_000_000)
                {
                    Some(0) => {
                        self.cx.err_hint(
                            "connections.upstream_keepalive",
                            &v.span(),
                            "a pool of 0 idle connections: nginx refuses `keepalive 0`",
                            Some("give 1 or more, or \"off\" for a new connection per request (nginx without `keepalive`)".into()),
                        );
                        ok = false;
                    }
                    Some(n) => cfg.upstream_keepalive = Some(n as u32),
                    None => ok = false,
                },
            }
        }
        if let Some(v) = t.t.get("upstream_idle_timeout") {
            match self.positive_duration("connections.upstream_idle_timeout", v) {
                Some(d) => cfg.upstream_idle_timeout = d,
                None => ok = false,
            }
        }
        for key in ["upstream_handshake", "upstream_idle_timeout"] {
            if let (Some(v), None) = (t.t.get(key), cfg.upstream_keepalive) {
                self.cx.err_hint(
                    &join("connections", key),
                    &v.span(),
                    format!("`{key}` is about the node's pooled connections to the backends, and `upstream_keepalive` is not given"),
                    Some("give upstream_keepalive (nginx's default is 32; \"off\" for a new connection per request)".into()),
                );
                ok = false;
            }
        }
        match t.t.get("rtt") {
            Some(v) => match self.cx.duration("connections.rtt", v) {
                Some(d) => cfg.rtt = d,
                None => ok = false,
            },
            None if cfg.handshake != Handshake::None => {
                self.cx.err_hint(
                    "connections.handshake",
                    &t.t.get("handshake").map_or(0..0, |h| h.span()),
                    format!(
                        "a {} handshake takes round trips, and `rtt` is not given",
                        cfg.handshake.name()
                    ),
                    Some("give the client ↔ load balancer round trip, like rtt = \"20ms\"".into()),
                );
                ok = false;
            }
            None => {}
        }
        if let Some(v) = t.t.get("handshake_cpu") {
            match self.cx.duration("connections.handshake_cpu", v) {
                Some(d) if cfg.handshake == Handshake::None && d > SimTime::ZERO => {
                    self.cx.err_hint(
                        "connections.handshake_cpu",
                        &v.span(),
                        "a handshake's CPU is given, and `handshake` is \"none\"",
                        Some(
                            "set handshake = \"tls1.3\" (or \"tls1.2\", \"tcp\") with its `rtt`"
                                .into(),
                        ),
                    );
                    ok = false;
                }
                Some(d) => cfg.handshake_cpu = d,
                None => ok = false,
            }
        }
        if let (Some(age), Some(av)) = (cfg.max_age, t.t.get("max_age"))
            && age <= cfg.setup_time()
        {
            self.cx.err(
                "connections.max_age",
                &av.span(),
                format!(
                    "a connection would be closed before its {} handshake is done ({:.3} ms)",
                    cfg.handshake.name(),
                    cfg.setup_time().as_millis_f64()
                ),
            );
            ok = false;
        }
        if let Some(lb) = lb {
            let span = v.span();
            if lb.layer == crate::model::Layer::L4 && lb.retry.retries > 0 {
                self.cx.err_hint(
                    "connections",
                    &span,
                    "a layer-4 node forwards a connection's packets to the backend it picked: it cannot retry a request on another server",
                    Some("set lb.retries = 0, or use layer = \"l7\"".into()),
                );
                ok = false;
            } else if protocol == Protocol::WebSocket && lb.retry.retries > 0 {
                self.cx.err_hint(
                    "connections.protocol",
                    &t.t.get("protocol").map_or(span.clone(), |p| p.span()),
                    "a WebSocket's messages go to the backend its socket was tunnelled to: the node cannot retry one on another server",
                    Some("set lb.retries = 0 (a client reopens its socket with connections.reconnect)".into()),
                );
                ok = false;
            }
            if let (crate::model::Layer::L7, true, Some(cv)) = (
                lb.layer,
                cfg.client_round_robin,
                t.t.get("client_balancing"),
            ) {
                self.cx.err_hint(
                    "connections.client_balancing",
                    &cv.span(),
                    "a client that balances over the backends' addresses reaches them directly, and lb.layer = \"l7\" puts a proxy in between",
                    Some("set lb.layer = \"l4\" (the tier then only forwards; its algorithm is not used)".into()),
                );
                ok = false;
            }
            for key in ["flow_hash", "persistence"] {
                if let (crate::model::Layer::L7, Some(kv)) = (lb.layer, t.t.get(key)) {
                    self.cx.err_hint(
                        &join("connections", key),
                        &kv.span(),
                        format!("`{key}` is about a layer-4 node's pick per connection; a layer-7 node balances each request"),
                        Some("use lb.layer = \"l4\", or leave it out (sticky sessions at layer 7: the `sticky` algorithm)".into()),
                    );
                    ok = false;
                }
            }
            if let (crate::model::Layer::L7, Some(cv)) = (lb.layer, t.t.get("conntrack_max")) {
                self.cx.err_hint(
                    "connections.conntrack_max",
                    &cv.span(),
                    "connection tracking is a layer-4 node's table of forwarded flows; a layer-7 node ends the connections",
                    Some("use lb.layer = \"l4\", or leave conntrack_max out".into()),
                );
                ok = false;
            }
            if lb.layer == crate::model::Layer::L7 && protocol == Protocol::Udp {
                self.cx.err_hint(
                    "connections.protocol",
                    &t.t.get("protocol").map_or(span.clone(), |p| p.span()),
                    "a layer-7 node here speaks HTTP over TCP: UDP flows are forwarded at layer 4",
                    Some("set lb.layer = \"l4\"".into()),
                );
                ok = false;
            }
            if let (crate::model::Layer::L4, Some(uv)) = (lb.layer, t.t.get("upstream_keepalive")) {
                self.cx.err_hint(
                    "connections.upstream_keepalive",
                    &uv.span(),
                    "a layer-4 node keeps no connections of its own to the backends: each client connection is forwarded",
                    Some("use lb.layer = \"l7\", or leave upstream_keepalive out".into()),
                );
                ok = false;
            }
            if lb.layer == crate::model::Layer::L7
                && lb.cpu.is_none()
                && cfg.handshake_cpu > SimTime::ZERO
            {
                let span = t.t.get("handshake_cpu").map_or(span, |h| h.span());
                self.cx.err_hint(
                    "connections.handshake_cpu",
                    &span,
                    "at layer 7 the load balancer terminates the handshake on its CPU, and it has no CPU model",
                    Some("give lb.cores (and lb.request_cost), or leave handshake_cpu out".into()),
                );
                ok = false;
            }
        }
        ok.then_some(Some(cfg))
    }

    /// A handshake's name.
    fn handshake(&mut self, path: &str, v: &crate::scenario::doc::V<'_>) -> Option<Handshake> {
        let w = self
            .cx
            .one_of(path, v, &["none", "tcp", "tls1.2", "tls1.3"])?;
        Some(match w {
            "tcp" => Handshake::Tcp,
            "tls1.2" => Handshake::Tls12,
            "tls1.3" => Handshake::Tls13,
            _ => Handshake::None,
        })
    }
}
