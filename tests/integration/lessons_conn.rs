//! The connection scenarios teach what they say, at their shipped settings (as in
//! `lessons.rs`): gRPC pinned by a layer-4 balancer, WebSocket reconnect storms and a
//! restarted WebSocket server, keep-alive over TLS, NAT vs direct routing, UDP flows after
//! a pause.

use lblab::engine::SeedTree;
use lblab::metrics::M;
use lblab::model::World;

use crate::lessons::compare;

#[test]
fn grpc_l4_deploy_pins_connections_and_a_max_age_rebalances_them() {
    let r = compare("grpc-l4-deploy");
    let (pinned, aged) = ("connections.max_age=none", "connections.max_age=30s");
    let imb = |l: &str| r[l].metrics[M::ReqMaxMean as usize];
    // After the rollout the last pod restarted has no connection at all.
    assert!(imb(pinned).lo() > 1.5, "{:?}", imb(pinned));
    assert!(imb(aged).hi() < 1.2, "{:?}", imb(aged));
    let share = |l: &str, s: &str| {
        r[l].servers
            .iter()
            .find(|x| x.name == s)
            .unwrap_or_else(|| panic!("{s}"))
            .share
            .mean
    };
    assert!(share(pinned, "pod-4") < 0.01, "{}", share(pinned, "pod-4"));
    let p99 = |l: &str| r[l].metrics[M::LatencyP99 as usize];
    assert!(
        p99(pinned).mean > p99(aged).hi(),
        "{:?} vs {:?}",
        p99(pinned),
        p99(aged)
    );
    // An L7 proxy balances every RPC; so does a client balancing over every pod's
    // address (gRPC round_robin).
    let path = crate::support::root().join("scenarios/grpc-l4-deploy.toml");
    for set in ["lb.layer=l7", "connections.client_balancing=round_robin"] {
        let (s, variants, _) =
            lblab::cli::variants::compare_variants(&path, &[set.to_string()], &[], None, &|_| {})
                .expect(set);
        let seeds = SeedTree::new(s.seed);
        for r in 0..2 {
            let res = World::new(&variants[0].world, &seeds, r)
                .run()
                .expect("run");
            let x = res.values[M::ReqMaxMean as usize];
            assert!(x < 1.03, "{set}: max/mean {x}");
        }
    }
}

#[test]
fn websocket_reconnect_backoff_with_jitter_tames_the_storm() {
    let r = compare("websocket-reconnect");
    let (now, backoff) = (
        "classes.socket.reconnect=immediate",
        "classes.socket.reconnect=backoff",
    );
    let m = |l: &str, k: M| r[l].metrics[k as usize];
    // Jittered backoff peaks far lower than reconnecting at once ...
    assert!(
        m(backoff, M::ReconnectPeak).hi() * 20.0 < m(now, M::ReconnectPeak).lo(),
        "{:?} vs {:?}",
        m(backoff, M::ReconnectPeak),
        m(now, M::ReconnectPeak)
    );
    // ... and sends a hundredth of the reconnects, most of them to the dead server at once.
    assert!(m(backoff, M::Reconnects).hi() * 100.0 < m(now, M::Reconnects).lo());
    for rep in &r[now].reps {
        let (sent, n) = (rep.get(M::SentToFailed), rep.get(M::Reconnects));
        assert!(
            sent > 0.99 * n,
            "{sent} of {n} reconnects went to the dead server"
        );
    }
}

#[test]
fn websocket_restart_least_connections_gives_the_restarted_server_its_sockets_back() {
    let r = compare("websocket-restart");
    let (rr, lc) = ("round-robin", "least-connections");
    let m = |l: &str, k: M| r[l].metrics[k as usize];
    // Sockets stay where they opened: round robin leaves chat-2 short for the rest of the
    // run, least connections fills it first.
    assert!(
        m(rr, M::ConnMaxMean).lo() > 1.08,
        "{:?}",
        m(rr, M::ConnMaxMean)
    );
    assert!(
        m(lc, M::ConnMaxMean).hi() < 1.05,
        "{:?}",
        m(lc, M::ConnMaxMean)
    );
    let share = |l: &str| {
        r[l].servers
            .iter()
            .find(|x| x.name == "chat-2")
            .expect("chat-2")
            .share
            .mean
    };
    assert!(
        share(rr) < 0.19 && share(lc) > 0.22,
        "{} vs {}",
        share(rr),
        share(lc)
    );
    // The messages wait less where the load is level, and neither variant fails any.
    assert!(m(lc, M::LatencyP99).hi() < m(rr, M::LatencyP99).lo());
    for l in [rr, lc] {
        assert_eq!(m(l, M::Errors).mean, 0.0, "{l}");
        // Every socket of chat-2 reopened once (about 500), each after about a second.
        assert!((400.0..600.0).contains(&m(l, M::Reconnects).mean));
    }
}

#[test]
fn keepalive_tls_a_connection_per_request_pays_round_trips_and_cpu() {
    let r = compare("keepalive-tls");
    let (each, keep) = (
        "connections.max_requests=1",
        "connections.max_requests=1000",
    );
    let m = |l: &str, k: M| r[l].metrics[k as usize];
    // Three 30 ms round trips on every request: the median moves by about 90 ms.
    let d = m(each, M::LatencyP50).mean - m(keep, M::LatencyP50).mean;
    assert!((85.0..100.0).contains(&d), "median moves by {d} ms");
    assert!(m(each, M::LatencyP99).lo() > m(keep, M::LatencyP99).hi());
    // 500 handshakes a second at 1.5 ms: three quarters of the core.
    assert!(
        m(each, M::LbCpuUtil).lo() > 70.0,
        "{:?}",
        m(each, M::LbCpuUtil)
    );
    assert!(
        m(keep, M::LbCpuUtil).hi() < 5.0,
        "{:?}",
        m(keep, M::LbCpuUtil)
    );
    assert!(m(keep, M::ReqPerConn).lo() > 10.0);
}

#[test]
fn nat_vs_dsr_replies_through_the_director_cost_its_cpu() {
    let r = compare("nat-vs-dsr");
    let m = |l: &str, k: M| r[l].metrics[k as usize];
    // 32,000/s × (5 + 25 µs) = 96% of the core with NAT; 32,000 × 5 µs = 16% without.
    let (nat, dr) = (
        m("lb.forwarding=nat", M::LbCpuUtil),
        m("lb.forwarding=dr", M::LbCpuUtil),
    );
    assert!((nat.mean - 96.0).abs() < 1.0, "{nat:?}");
    assert!((dr.mean - 16.0).abs() < 0.5, "{dr:?}");
    assert!(
        m("lb.forwarding=nat", M::LatencyMean).lo() > m("lb.forwarding=dr", M::LatencyMean).hi()
    );
}

#[test]
fn udp_game_source_hashing_keeps_returning_players_on_their_server() {
    let r = compare("udp-game");
    let m = |l: &str, k: M| r[l].metrics[k as usize];
    let rr = "round-robin";
    let maglev = r
        .keys()
        .find(|k| k.starts_with("maglev"))
        .expect("maglev variant")
        .clone();
    // A player's gap exceeds the 60 s timeout with probability e^(−60/40) = 22%; round
    // robin over 8 servers places 7 in 8 of the new flows elsewhere.
    let opened = m(rr, M::ConnsOpened).mean;
    let issued = m(rr, M::Issued).mean;
    assert!(
        (opened / issued - (-1.5f64).exp()).abs() < 0.02,
        "{opened} of {issued}"
    );
    let moved = m(rr, M::ConnMoved).mean / opened;
    assert!((moved - 7.0 / 8.0).abs() < 0.03, "{moved}");
    assert_eq!(m(&maglev, M::ConnMoved).mean, 0.0);
}
