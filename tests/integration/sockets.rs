//! WebSockets (`protocol = "websocket"`: pinned sockets that carry their client's messages,
//! live a drawn lifetime and reopen after a `reconnect` delay), refused connects, and
//! connections through load balancer nodes that fail or lose the client's path.

use lblab::metrics::M;

use crate::support::{parse, problem_at, run, values};

fn scenario(duration: &str, warmup: &str, body: &str) -> lblab::scenario::Scenario {
    let text = format!(
        "[scenario]\nname = \"t\"\nseed = 13\nduration = \"{duration}\"\nwarmup = \"{warmup}\"\nreplications = 2\n\n{body}"
    );
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// A socket lives an exponential lifetime `L` and then its client closes it; the client's
/// next message (Poisson at rate `r`) opens the next one. By the renewal-reward theorem a
/// socket carries its opening message plus `r·L` on average (memorylessness: the wait for
/// the next message after a close is again `1/r`), and a client opens one every
/// `L + 1/r`. With r = 1/s and L = 10 s: 11 messages per socket, and 1,000 clients open
/// 1000 · 990 s / 11 s = 90,000 sockets in the 990 s window. Each is a mean over about
/// 90,000 sockets (CV of a socket's count ≈ 1): tolerance 2% is over 5 standard errors.
#[test]
fn a_socket_carries_its_clients_messages_for_its_lifetime() {
    let s = scenario(
        "1000s",
        "10s",
        r#"[clients]
rate = "1000/s"
[clients.population]
clients = 1000
[[classes]]
service = { dist = "constant", value = "1ms" }
[[servers]]
name = "chat"
count = 4
slots = 1000
[lb]
layer = "l4"
[connections]
protocol = "websocket"
lifetime = { dist = "exponential", mean = "10s" }
"#,
    );
    let a = run(&s);
    for x in values(&a, M::ReqPerConn) {
        assert!(
            (x - 11.0).abs() < 11.0 * 0.02,
            "messages per socket {x}, want 11"
        );
    }
    for x in values(&a, M::ConnsOpened) {
        assert!(
            (x - 90_000.0).abs() < 90_000.0 * 0.02,
            "sockets opened {x}, want 90,000"
        );
    }
    // Messages ride the socket: no errors, no pick per message (the balancer counts
    // sockets, and round robin over four servers spreads them evenly).
    for x in values(&a, M::Errors) {
        assert_eq!(x, 0.0);
    }
}

/// A WebSocket is pinned at layer 7 too (a proxy tunnels the upgraded connection), and
/// the node's balancer counts it for its whole life: least connections puts 100 sockets
/// that never close on four servers 25, 25, 25, 25 at either layer, while the messages on
/// them are never picked.
#[test]
fn least_connections_balances_sockets_at_either_layer() {
    for layer in ["l4", "l7"] {
        let s = scenario(
            "60s",
            "20s",
            &format!(
                r#"[clients]
rate = "200/s"
[clients.population]
clients = 100
[[classes]]
service = {{ dist = "exponential", mean = "1ms" }}
[[servers]]
name = "chat"
count = 4
slots = 1000
[balancer]
algorithm = "least-connections"
[lb]
layer = "{layer}"
[connections]
protocol = "websocket"
"#
            ),
        );
        let a = run(&s);
        for r in &a.reps {
            assert_eq!(r.get(M::ConnMaxMean), 1.0, "{layer}");
            // Every socket was open before the window: none opened in it.
            assert_eq!(r.get(M::ConnsOpened), 0.0, "{layer}");
        }
    }
}

/// A removed server sends GOAWAY: its sockets close once their messages are done, and
/// each client reopens after exactly the policy's first delay (1 s, no jitter). Two
/// servers, 100 clients, round robin: 50 sockets on each, so exactly 50 reconnects, all in
/// the 100 ms bucket that starts 1 s after the removal (a peak of 500 per second). The
/// 50 messages sent meanwhile wait in their clients for the new socket.
#[test]
fn a_drained_servers_sockets_reopen_after_the_policys_delay() {
    let s = scenario(
        "30s",
        "0s",
        r#"[clients]
rate = "100/s"
[clients.population]
clients = 100
[[classes]]
service = { dist = "constant", value = "1ms" }
[[servers]]
name = "chat"
count = 2
slots = 1000
[balancer]
algorithm = "round-robin"
[lb]
layer = "l4"
[connections]
protocol = "websocket"
reconnect = { initial = "1s", multiplier = 2, jitter = 0, max = "10s" }
[[changes]]
at = "10.05s"
remove = "chat-1"
"#,
    );
    let a = run(&s);
    for r in &a.reps {
        assert_eq!(r.get(M::Reconnects), 50.0);
        assert_eq!(r.get(M::ReconnectPeak), 500.0);
        assert_eq!(r.get(M::Errors), 0.0);
        // 100 first sockets, 50 reopened on chat-2.
        assert_eq!(r.get(M::ConnsOpened), 150.0);
        assert_eq!(r.get(M::ConnMoved), 50.0);
    }
}

/// A connect to a crashed backend is refused after one round trip (9 ms, no network
/// delay), and an "immediate" client reopens 1 ms later: one try every 10 ms. With the
/// only server down for the whole run, a client's first message (at ~10 ms) starts a loop
/// of 10 ms tries: about 1,000 in 10 s, every one refused.
#[test]
fn refused_connects_loop_at_the_round_trip_plus_the_policys_delay() {
    let s = scenario(
        "10s",
        "0s",
        r#"[clients]
rate = "100/s"
timeout = "1s"
[clients.population]
clients = 1
[[classes]]
service = { dist = "constant", value = "1ms" }
[[servers]]
name = "chat"
count = 1
[lb]
layer = "l4"
[connections]
protocol = "websocket"
rtt = "9ms"
reconnect = "immediate"
[[failures]]
target = "chat-1"
kind = "crash"
at = "0s"
"#,
    );
    let a = run(&s);
    for r in &a.reps {
        let n = r.get(M::ConnsOpened);
        assert!((980.0..=1000.0).contains(&n), "{n} tries");
        assert!((r.get(M::Reconnects) - n).abs() <= 1.0);
        assert_eq!(r.get(M::Completed), 0.0);
    }
}

const PAIR: &str = r#"[clients]
rate = "100/s"
timeout = "2s"
[clients.population]
clients = 50
[[classes]]
service = { dist = "constant", value = "1ms" }
[[servers]]
name = "web"
count = 4
slots = 1000
[connections]
protocol = "http1"
per_client = 1
idle_timeout = "none"
max_requests = "none"
max_age = "none"
"#;

/// A VRRP pair: the master (priority 200) crashes at 10 s for 10 s and the backup takes
/// the address; back, the master preempts it (at ~23 s). Its connections die with it, and
/// each new holder has no state for the other's connections (no connection sync): every
/// client opens one new connection through the backup and one more when the address comes
/// back (the backup did not fail: its connections are dropped because the path moved), so
/// 50 + 50 + 50.
#[test]
fn a_failover_makes_every_client_reconnect_through_the_new_node() {
    for layer in ["l4", "l7"] {
        let s = scenario(
            "40s",
            "0s",
            &format!(
                "{PAIR}[lb]\nlayer = \"{layer}\"\nnodes = 2\ntopology = \"active-passive\"\n[lb.vrrp]\npriority = [200, 100]\n[[failures]]\ntarget = \"lb-1\"\nkind = \"crash\"\nat = \"10s\"\nduration = \"10s\"\n"
            ),
        );
        let a = run(&s);
        for r in &a.reps {
            assert_eq!(r.get(M::ConnsOpened), 150.0, "{layer}");
            assert!(
                r.get(M::ErrorsLbLost) > 0.0,
                "{layer}: requests lost in the failover"
            );
        }
    }
}

/// Two single nodes; lb-1 (the node of even clients) crashes at 10 s for 5 s. Its 25
/// clients' connections are reset, and each opens one new connection after the restart:
/// 50 + 25. A graceful stop closes the connections too (once idle): the same count.
#[test]
fn a_nodes_crash_or_stop_closes_its_connections() {
    for kind in ["crash", "stop"] {
        let s = scenario(
            "40s",
            "0s",
            &format!(
                "{PAIR}[lb]\nnodes = 2\n[[failures]]\ntarget = \"lb-1\"\nkind = \"{kind}\"\nat = \"10s\"\nduration = \"5s\"\n"
            ),
        );
        let a = run(&s);
        for r in &a.reps {
            assert_eq!(r.get(M::ConnsOpened), 75.0, "{kind}");
        }
    }
}

/// WebSocket settings are checked where they are written.
#[test]
fn websocket_settings_are_checked_where_they_are_written() {
    let base = r#"[scenario]
name = "t"
duration = "10s"
[clients]
rate = "10/s"
[[classes]]
service = { dist = "constant", value = "1ms" }
[[servers]]
name = "chat"
count = 2
[connections]
protocol = "websocket"
lifetime = { dist = "exponential", mean = "60s" }
reconnect = "backoff"
"#;
    parse(base).unwrap_or_else(|e| panic!("{e}"));
    problem_at(
        &base.replace("\"websocket\"", "\"http2\""),
        "connections.lifetime",
        "about WebSockets",
    );
    problem_at(
        &base.replace("\"backoff\"", "\"later\""),
        "connections.reconnect",
        "expected \"immediate\", \"backoff\"",
    );
    problem_at(
        &base.replace("\"60s\" }", "\"-1s\" }"),
        "connections.lifetime.mean",
        "a duration",
    );
    problem_at(
        &format!("{base}upstream_keepalive = 8\n"),
        "connections.upstream_keepalive",
        "never pooled",
    );
    problem_at(
        &format!("{base}[lb]\nretries = 1\n"),
        "connections.protocol",
        "cannot retry",
    );
    problem_at(
        &base.replace("[[servers]]", "reconnect = \"immediate\"\n[[servers]]"),
        "classes[0].reconnect",
        "move the policy",
    );
    problem_at(
        &format!("{base}[balancer]\nalgorithm = \"sticky\"\n"),
        "connections.protocol",
        "sees no cookie",
    );
    problem_at(
        &format!("{base}[balancer]\nalgorithm = \"ketama\"\n"),
        "connections.protocol",
        "hash_on = \"key\"",
    );
    parse(&format!(
        "{base}[balancer]\nalgorithm = \"ketama\"\nhash_on = \"client\"\n"
    ))
    .unwrap_or_else(|e| panic!("ketama on the client: {e}"));
    // HTTP/2 through a layer-4 node cannot be balanced per request.
    problem_at(
        &(base.replace("\"websocket\"", "\"http2\"").replace(
            "lifetime = { dist = \"exponential\", mean = \"60s\" }\nreconnect = \"backoff\"\n",
            "",
        ) + "[lb]\nlayer = \"l4\"\n[balancer]\nalgorithm = \"ketama\"\n"),
        "lb.layer",
        "needs the request (layer 7)",
    );
    problem_at(
        &format!("{base}client_balancing = \"round_robin\"\n[lb]\nlayer = \"l4\"\n"),
        "connections.client_balancing",
        "one socket",
    );
}
