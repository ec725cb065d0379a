//! Client connections (`[connections]`): handshakes cost their round trips, an HTTP/1.1
//! connection is a FIFO queue of one, a layer-4 node balances connections (pinned), and
//! bad settings are refused where they are written.

use lblab::metrics::M;

use crate::support::{assert_matches, parse, problem_at, run, values};

fn scenario(body: &str) -> lblab::scenario::Scenario {
    let text = format!(
        "[scenario]\nname = \"t\"\nseed = 11\nduration = \"{}\"\nwarmup = \"10s\"\nreplications = {}\n\n{body}",
        if body.contains("#long") {
            "2010s"
        } else {
            "60s"
        },
        if body.contains("#long") { 8 } else { 2 },
    );
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// A new connection per request (`max_requests = 1`) pays the whole handshake every time:
/// TLS 1.2 is three round trips (TCP + two for TLS, RFC 5246 §7.3), so with a 10 ms round
/// trip and 1 ms of constant work every request takes exactly 31 ms; TLS 1.3 takes 21 ms.
#[test]
fn every_request_on_a_new_connection_pays_its_handshake() {
    for (hs, want) in [
        ("tls1.2", 31.0),
        ("tls1.3", 21.0),
        ("tcp", 11.0),
        ("none", 1.0),
    ] {
        let rtt = if hs == "none" { "" } else { "rtt = \"10ms\"" };
        let s = scenario(&format!(
            r#"[clients]
rate = "50/s"
[[classes]]
service = {{ dist = "constant", value = "1ms" }}
[[servers]]
name = "web"
count = 2
slots = 1000
[connections]
max_requests = 1
handshake = "{hs}"
{rtt}
"#
        ));
        let a = run(&s);
        for m in [M::LatencyP50, M::LatencyMax] {
            for x in values(&a, m) {
                assert!((x - want).abs() < want * 0.002, "{hs}: {x} ms, want {want}");
            }
        }
        // One connection per request.
        for r in &a.reps {
            assert!((r.get(M::ReqPerConn) - 1.0).abs() < 1e-9);
        }
    }
}

/// One HTTP/1.1 connection per client carries one request at a time and the client queues
/// the rest: each client is an M/M/1 queue. Ten equally active clients share Poisson
/// arrivals of 500/s (each client's are Poisson at 50/s); the server has ample workers and
/// 10 ms exponential work, so a request takes 1/(μ − λ) = 1/(100 − 50) s = 20 ms.
#[test]
fn an_http1_connection_is_a_queue_of_one() {
    let s = scenario(
        r#"#long
[clients]
rate = "500/s"
[clients.population]
clients = 10
[[classes]]
service = { dist = "exponential", mean = "10ms" }
[[servers]]
name = "web"
count = 1
slots = 100000
[connections]
protocol = "http1"
per_client = 1
"#,
    );
    let a = run(&s);
    assert_matches("mean latency", &values(&a, M::LatencyMean), 20.0, 0.0, 0.02);
}

/// At layer 4 the balancer counts connections: least connections gives 60 long-lived
/// connections to 4 servers exactly 15 each (IPVS `lc`), while random leaves them uneven.
#[test]
fn a_layer4_node_balances_connections() {
    let body = |alg: &str| {
        format!(
            r#"[clients]
rate = "1200/s"
[clients.population]
clients = 60
[[classes]]
service = {{ dist = "exponential", mean = "1ms" }}
[[servers]]
name = "pod"
count = 4
slots = 64
[balancer]
algorithm = "{alg}"
[lb]
layer = "l4"
[connections]
protocol = "grpc"
"#
        )
    };
    let lc = run(&scenario(&body("least-connections")));
    for x in values(&lc, M::ConnMaxMean) {
        assert!((x - 1.0).abs() < 1e-9, "least connections: {x}");
    }
    // Two nodes (clients split by address, each node balancing its own connections): the
    // books still close and the connections stay nearly level.
    let two = run(&scenario(
        &body("least-connections").replace("[lb]\n", "[lb]\nnodes = 2\n"),
    ));
    for x in values(&two, M::ConnMaxMean) {
        assert!(x < 1.15, "two nodes: {x}");
    }
    let random = run(&scenario(&body("random")));
    for x in values(&random, M::ConnMaxMean) {
        assert!(x > 1.05, "random: {x}");
    }
    // Each request goes where its connection went: request shares follow connections.
    for r in &random.reps {
        let (c, q) = (r.get(M::ConnMaxMean), r.get(M::ReqMaxMean));
        assert!((c - q).abs() < 0.1 * c, "connections {c} vs requests {q}");
    }
}

#[test]
fn connection_settings_are_checked_where_they_are_written() {
    let base = r#"[scenario]
duration = "10s"
[clients]
rate = "10/s"
[[classes]]
service = "1ms"
[[servers]]
name = "web"
count = 2
[connections]
protocol = "http2"
max_streams = 10
handshake = "tls1.3"
rtt = "20ms"
max_age = "60s"
"#;
    parse(base).unwrap_or_else(|e| panic!("{e}"));
    let problem = |text: &str, path: &str, needle: &str| {
        let (_, p) = problem_at(text, path, needle);
        assert!(
            matches!(p.origin, lblab::scenario::Origin::File(_)),
            "{p:?}"
        );
    };
    problem(
        &base.replace("max_streams = 10", "max_streams = 0"),
        "connections.max_streams",
        "1",
    );
    problem(
        &base.replace("\"http2\"", "\"http1\""),
        "connections.max_streams",
        "one request at a time",
    );
    problem(
        &base.replace("\"http2\"", "\"http3\""),
        "connections.protocol",
        "did you mean",
    );
    problem(
        &base.replace("\"60s\"", "\"30ms\""),
        "connections.max_age",
        "before its tls1.3 handshake",
    );
    problem(
        &base.replace("rtt = \"20ms\"\n", ""),
        "connections.handshake",
        "`rtt`",
    );
    problem(
        &base.replace("max_age", "max_agee"),
        "connections.max_agee",
        "did you mean",
    );
    problem(
        &base.replace(
            "[connections]",
            "[lb]\nlayer = \"l4\"\nretries = 1\n[connections]",
        ),
        "connections",
        "cannot retry",
    );
    parse(&base.replace("[connections]", "[lb]\nnodes = 2\n[connections]"))
        .unwrap_or_else(|e| panic!("two single nodes: {e}"));
    parse(&base.replace(
        "[connections]",
        "[lb]\nnodes = 2\ntopology = \"active-passive\"\n[connections]",
    ))
    .unwrap_or_else(|e| panic!("VRRP pair: {e}"));
    parse(
        &format!("{base}[[failures]]\ntarget = \"lb-1\"\nkind = \"crash\"\nat = \"5s\"\n")
            .replace("[connections]", "[lb]\nnodes = 2\n[connections]"),
    )
    .unwrap_or_else(|e| panic!("a failing node: {e}"));
    problem(
        &base.replace("max_streams = 10", "per_client = 0"),
        "connections.per_client",
        "1",
    );
    problem(
        &base.replace("max_streams = 10", "upstream_keepalive = 0"),
        "connections.upstream_keepalive",
        "nginx refuses `keepalive 0`",
    );
    problem(
        &base.replace("max_streams = 10", "upstream_handshake = \"tls1.3\""),
        "connections.upstream_handshake",
        "`upstream_keepalive` is not given",
    );
    problem(
        &base.replace(
            "[connections]",
            "[lb]\nlayer = \"l4\"\n[connections]\nupstream_keepalive = 8",
        ),
        "connections.upstream_keepalive",
        "layer-4 node keeps no connections",
    );
    problem(
        &base.replace("max_streams = 10", "client_balancing = \"round_robin\""),
        "connections.client_balancing",
        "lb.layer = \"l7\" puts a proxy in between",
    );
    problem(
        &base.replace("max_streams = 10", "client_balancing = \"roundrobin\""),
        "connections.client_balancing",
        "did you mean `round_robin`?",
    );
    problem(
        &base.replace("max_streams = 10", "handshake_cpu = \"1ms\""),
        "connections.handshake_cpu",
        "no CPU model",
    );
}

/// gRPC's connection backoff (doc/connection-backoff.md): nominal gaps 1, 1.6, 2.56,
/// 4.096, … s, at most 120 s; the first eleven sum to about 291.5 s.
#[test]
fn reconnect_backoff_follows_grpc_vectors() {
    use lblab::model::Reconnect;
    let g = Reconnect::GRPC;
    let gaps: Vec<f64> = (1..=13).map(|k| g.nominal(k).as_secs_f64()).collect();
    for (x, want) in gaps.iter().zip([1.0, 1.6, 2.56, 4.096, 6.5536, 10.48576]) {
        assert!((x - want).abs() < 1e-6, "{x} vs {want}");
    }
    let sum: f64 = gaps[..11].iter().sum();
    assert!((sum - 291.5).abs() < 0.1, "{sum}");
    assert_eq!(gaps[11], 120.0);
    assert_eq!(gaps[12], 120.0);
}

/// One socket whose server is down for the whole run reconnects after 1, 2, 4, 8, 8, … s
/// (initial 1 s, ×2, at most 8 s, no jitter): issued at 0.5 s, its reconnects fall at
/// 1.5, 3.5, 7.5, 15.5, 23.5, …, 95.5 s: 14 in 100 s.
#[test]
fn a_refused_socket_reconnects_on_its_backoff_schedule() {
    let s = parse(
        r#"[scenario]
duration = "100s"
[clients]
mode = "closed"
users = 1
think = { dist = "constant", value = "500ms" }
[[classes]]
service = { dist = "constant", value = "1000s" }
reconnect = { initial = "1s", multiplier = 2, jitter = 0, max = "8s" }
[[servers]]
name = "chat"
count = 2
[[failures]]
target = "chat"
kind = "crash"
at = "0s"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let a = run(&s);
    // Every replication (the default five) follows the same schedule.
    assert!(values(&a, M::Reconnects).iter().all(|&x| x == 14.0));
    assert!(values(&a, M::Issued).iter().all(|&x| x == 15.0));
}

#[test]
fn reconnect_settings_are_checked_where_they_are_written() {
    let base = r#"[scenario]
duration = "10s"
[clients]
rate = "10/s"
[[classes]]
service = "60s"
reconnect = { initial = "2s", multiplier = 1.5, jitter = 0.1, max = "30s" }
[[servers]]
name = "web"
count = 2
"#;
    parse(base).unwrap_or_else(|e| panic!("{e}"));
    for (from, to, path, needle) in [
        (
            "max = \"30s\"",
            "max = \"1s\"",
            "classes[0].reconnect.max",
            "at least `initial`",
        ),
        (
            "jitter = 0.1",
            "jitter = 2",
            "classes[0].reconnect.jitter",
            "0 to 1",
        ),
        (
            "multiplier = 1.5",
            "multiplier = 0.5",
            "classes[0].reconnect.multiplier",
            "1 to 10",
        ),
        (
            "jitter = 0.1",
            "jiter = 0.1",
            "classes[0].reconnect.jiter",
            "did you mean",
        ),
    ] {
        problem_at(&base.replace(from, to), path, needle);
    }
    let e = parse(&base.replace(
        "{ initial = \"2s\", multiplier = 1.5, jitter = 0.1, max = \"30s\" }",
        "\"imediate\"",
    ))
    .expect_err("misspelt");
    assert_eq!(e.problems[0].path, "classes[0].reconnect");
    assert_eq!(
        e.problems[0].hint.as_deref(),
        Some("did you mean `immediate`?")
    );
}

/// A handshake's CPU lands where the connection ends. At layer 7 the node terminates it:
/// with a new connection per request, 1 ms of handshake CPU and no other cost, one core is
/// busy 1 ms per handshake (100 per second: 10%). At layer 4 TLS passes through: the
/// backend does it, and a request of 1 ms takes 1 + 2 ms.
#[test]
fn handshake_cpu_lands_where_the_connection_ends() {
    let l7 = scenario(
        r#"[clients]
rate = "100/s"
[[classes]]
service = { dist = "constant", value = "1ms" }
[[servers]]
name = "web"
count = 2
slots = 100
[lb]
cores = 1
request_cost = { dist = "constant", value = "0s" }
[connections]
max_requests = 1
handshake = "tls1.3"
rtt = "0s"
handshake_cpu = "1ms"
"#,
    );
    let a = run(&l7);
    for r in &a.reps {
        let (cpu, hs) = (r.get(M::LbCpuUtil), r.get(M::Handshakes));
        assert!(
            (cpu - hs * 0.1).abs() < 0.002 * cpu,
            "CPU {cpu}% for {hs} handshakes/s"
        );
        assert!((hs - 100.0).abs() < 5.0, "{hs}");
        // With no other cost, all of the node's CPU is handshakes.
        let on_hs = r.get(M::HandshakeCpu);
        assert!((on_hs - cpu).abs() < 0.002 * cpu, "{on_hs}% vs {cpu}%");
    }
    let l4 = scenario(
        r#"[clients]
rate = "100/s"
[[classes]]
service = { dist = "constant", value = "1ms" }
[[servers]]
name = "web"
count = 2
slots = 100
[lb]
layer = "l4"
[connections]
max_requests = 1
handshake = "tls1.3"
rtt = "0s"
handshake_cpu = "2ms"
"#,
    );
    let a = run(&l4);
    for x in values(&a, M::LatencyMax)
        .into_iter()
        .chain(values(&a, M::LatencyP50))
    {
        assert!((x - 3.0).abs() < 0.01, "{x} ms");
    }
}

/// The layer-7 node's connections to the backends. With `upstream_keepalive = "off"` every
/// request opens one, and its TCP handshake costs a round trip to the backend: with a
/// constant 1 ms network delay each way and 1 ms of work a request takes 1 + 1 + 1 ms, plus
/// 2 ms of handshake = 5 ms, and each backend opens one connection per request. With a
/// cache of 32 idle connections almost every request reuses one (3 ms), and a backend's
/// connections are far fewer than its requests.
#[test]
fn the_node_pools_its_connections_to_the_backends() {
    let body = |keepalive: &str| {
        format!(
            r#"[clients]
rate = "50/s"
[[classes]]
service = {{ dist = "constant", value = "1ms" }}
[[servers]]
name = "web"
count = 2
slots = 100
network_delay = {{ dist = "constant", value = "1ms" }}
[connections]
upstream_keepalive = {keepalive}
"#
        )
    };
    let fresh = run(&scenario(&body("\"off\"")));
    for x in values(&fresh, M::LatencyP50)
        .into_iter()
        .chain(values(&fresh, M::LatencyMax))
    {
        assert!((x - 5.0).abs() < 0.01, "{x} ms");
    }
    for r in &fresh.reps {
        for c in &r.connections {
            assert_eq!(c.kind, "upstream");
            assert_eq!(c.opened, c.requests, "{c:?}");
        }
    }
    let pooled = run(&scenario(&body("32")));
    for x in values(&pooled, M::LatencyP50) {
        assert!((x - 3.0).abs() < 0.01, "{x} ms");
    }
    for r in &pooled.reps {
        for c in &r.connections {
            assert!(c.opened * 100 < c.requests, "{c:?}");
            // 50/s over two servers, 5 ms each: well under one connection open on average
            // in use, plus the idle ones kept.
            assert!(c.open_mean > 0.5 && c.open_mean < 32.0, "{c:?}");
        }
    }
}

/// A full connection-tracking table drops new flows: with room for 50 of 100 equally
/// active UDP clients' flows (300 s timeout, so none expires), the other half's datagrams
/// are dropped and their requests fail at the client timeout (`lb_lost`).
#[test]
fn a_full_conntrack_table_drops_new_flows() {
    let s = scenario(
        r#"[clients]
rate = "100/s"
timeout = "1s"
[clients.population]
clients = 100
[[classes]]
service = { dist = "constant", value = "1ms" }
[[servers]]
name = "game"
count = 4
slots = 100
[lb]
layer = "l4"
[connections]
protocol = "udp"
conntrack_max = 50
"#,
    );
    let a = run(&s);
    for r in &a.reps {
        assert_eq!(r.get(M::ConntrackPeak), 50.0);
        let share = r.get(M::ErrorsLbLost) / r.get(M::Issued);
        assert!((share - 0.5).abs() < 0.1, "{share}");
        assert!(r.get(M::ConntrackDrops) >= r.get(M::ErrorsLbLost));
    }
}

/// How a layer-4 node places a returning client's new flow. Source hashing sends it back
/// to the same backend; hashing the 5-tuple (a new source port each time) places it anew,
/// like round robin: 7 in 8 land elsewhere over 8 backends. IPVS persistence keeps round
/// robin's clients on their backend while their template lives (here 300 s after their
/// last flow closed, far longer than any pause).
#[test]
fn flow_hashing_and_persistence_place_returning_flows() {
    let body = |alg: &str, extra: &str| {
        format!(
            r#"[clients]
rate = "50/s"
[clients.population]
clients = 2000
[[classes]]
service = {{ dist = "exponential", mean = "2ms" }}
[[servers]]
name = "game"
count = 8
slots = 64
[balancer]
{alg}
[lb]
layer = "l4"
[connections]
protocol = "udp"
idle_timeout = "60s"
{extra}
"#
        )
    };
    let moved_share = |alg: &str, extra: &str| -> Vec<f64> {
        // Every player's first flow falls in the 300 s warm-up (the moves are of returns).
        let text = format!(
            "[scenario]\nseed = 13\nduration = \"2300s\"\nwarmup = \"300s\"\nreplications = 3\n{}",
            body(alg, extra)
        );
        let a = run(&parse(&text).unwrap_or_else(|e| panic!("{e}")));
        a.reps
            .iter()
            .map(|r| r.get(M::ConnMoved) / r.get(M::ConnsOpened))
            .collect()
    };
    let maglev = "algorithm = \"maglev\"\nhash_on = \"ip\"";
    assert!(moved_share(maglev, "").iter().all(|&x| x == 0.0));
    for x in moved_share(maglev, "flow_hash = \"5-tuple\"") {
        assert!((x - 7.0 / 8.0).abs() < 0.03, "{x}");
    }
    let rr = "algorithm = \"round-robin\"";
    for x in moved_share(rr, "persistence = \"300s\"") {
        assert!(x < 0.005, "{x}");
    }
}
