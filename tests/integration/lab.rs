//! The algorithm-lab world: sessions and where their state lives, caches, membership
//! changes, client populations.

use lblab::metrics::M;

use crate::support::{parse, run, values};

fn base(extra: &str) -> String {
    format!(
        r#"
        [scenario]
        duration = "60s"
        warmup = "5s"
        replications = 3
        [clients]
        rate = "400/s"
        [clients.population]
        clients = 2000
        [[classes]]
        service = {{ dist = "exponential", mean = "5ms" }}
        [[servers]]
        name = "web"
        count = 4
        slots = 4
        {extra}
        "#
    )
}

/// Session state on the server is lost whenever a session's request lands elsewhere:
/// round robin hops on nearly every request; sticky cookies keep sessions home; a token
/// loses nothing.
#[test]
fn where_session_state_lives() {
    let lost = |alg: &str, state: &str| {
        let s = parse(&base(&format!("[balancer]\nalgorithm = \"{alg}\"\n[sessions]\nstate = \"{state}\"\nidle_timeout = \"1h\""))).unwrap();
        let a = run(&s);
        (
            values(&a, M::SessionsLost),
            values(&a, M::SessionsBroken),
            values(&a, M::Completed),
        )
    };
    let (rr_lost, rr_broken, completed) = lost("round-robin", "server");
    for ((l, b), c) in rr_lost.iter().zip(&rr_broken).zip(&completed) {
        // With 4 servers a client's next request lands on another server about 3/4 of the
        // time (each client's requests are spread over the rotation); 2000 clients' first
        // requests lose nothing.
        let frac = l / c;
        assert!(
            (0.65..0.8).contains(&frac),
            "round robin loses {frac} of requests' sessions"
        );
        assert_eq!(*b, 0.0, "round robin sets no cookies");
    }
    let (st_lost, st_broken, _) = lost("sticky", "server");
    assert!(
        st_lost.iter().all(|&l| l == 0.0),
        "sticky sessions never move without a change: {st_lost:?}"
    );
    assert!(st_broken.iter().all(|&b| b == 0.0));
    let (tok_lost, _, _) = lost("round-robin", "token");
    assert!(tok_lost.iter().all(|&l| l == 0.0));
}

/// A shared session store adds its latency to every request's service.
#[test]
fn a_shared_store_costs_its_latency_on_every_request() {
    let svc = |sessions: &str| {
        let s = parse(&base(sessions)).unwrap();
        let v = values(&run(&s), M::ServiceMean);
        v.iter().sum::<f64>() / v.len() as f64
    };
    let plain = svc("");
    let shared = svc("[sessions]\nstate = \"shared\"\nstore_latency = \"2ms\"");
    // Same service draws (common random numbers), plus exactly 2 ms.
    assert!((shared - plain - 2.0).abs() < 1e-6, "{plain} → {shared}");
}

/// With uniform key popularity every LRU of K keys over N keys hits K/N of the time when
/// each server sees every key (round robin): the independent-reference result.
#[test]
fn lru_caches_hit_k_over_n_under_uniform_keys() {
    let s = parse(
        &base("cache = 500")
            .replace(
                "[[classes]]",
                "[[classes]]\nkeys = { count = 5000 }\nhit_service = \"1ms\"",
            )
            .replace("replications = 3", "replications = 10"),
    )
    .unwrap();
    let a = run(&s);
    // Each replication has ~22,000 lookups after warm-up. The cold start (500 misses per
    // server, mostly inside the 5 s warm-up of ~2,000 requests) can bias the ratio down by
    // at most 2,000/22,000 of 10 points ≈ 1 point: the stated allowance.
    crate::support::assert_matches(
        "hit ratio (%)",
        &values(&a, M::CacheHitRatio),
        10.0,
        1.0,
        0.2,
    );
    // Hits are served faster: mean service between the hit (1 ms) and miss (5 ms) means.
    let svc = values(&a, M::ServiceMean)[0];
    assert!((0.1 * 1.0 + 0.9 * 5.0 - svc).abs() < 0.3, "{svc}");
}

/// Scale-out and scale-in: added servers start taking traffic at their time, removed ones
/// stop, and sticky sessions pinned to a removed server break and are re-pinned.
#[test]
fn membership_changes_take_effect_at_their_time() {
    let s = parse(&base(
        "[balancer]\nalgorithm = \"sticky\"\n[sessions]\nidle_timeout = \"1h\"\n[[changes]]\nat = \"20s\"\nadd = \"web\"\ncount = 2\n[[changes]]\nat = \"40s\"\nremove = \"web-1\"",
    ))
    .unwrap();
    assert_eq!(s.world.groups[0].spare, 2);
    let a = run(&s);
    for r in &a.reps {
        let req = |name: &str| r.servers.iter().find(|s| s.name == name).unwrap().requests as f64;
        // web-5 and web-6 exist from 20 s: fewer requests than web-2..4, but some.
        assert!(req("web-5") > 0.0 && req("web-5") < req("web-2"));
        // web-1 left at 40 s.
        assert!(req("web-1") < req("web-2"));
        assert_eq!(r.changes.len(), 2);
        assert_eq!(r.changes[0].action, "add web-5 web-6");
        assert_eq!(r.changes[0].members, 6);
        assert_eq!(r.changes[1].action, "remove web-1");
        assert!(
            r.changes[1].keys_remapped.is_nan(),
            "sticky is not a key hash"
        );
        // Sessions pinned to web-1 broke: with 2000 clients spread over 6 servers, about a
        // sixth of the clients that come back after 40 s.
        let broken = r.get(M::SessionsBroken);
        assert!(broken > 150.0 && broken < 500.0, "{broken}");
    }
}

/// Bad population, session and change settings are reported like any other key.
#[test]
fn lab_settings_are_validated() {
    let e = parse(&base("[[changes]]\nat = \"20s\"\nadd = \"wbe\""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no server group named \"wbe\"") && e.contains("did you mean `web`"),
        "{e}"
    );
    let e = parse(&base("[[changes]]\nat = \"20s\"\nremove = \"web-9\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("there is no server web-9"), "{e}");
    let e = parse(&base("[[changes]]\nat = 5\nremove = \"web\""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("changes[0].at") && e.contains("duration string"),
        "{e}"
    );
    let e = parse(&base("[sessions]\nstate = \"sever\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `server`"), "{e}");
    let e = parse(&base("[sessions]\nstore_latency = \"fast\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("sessions.store_latency"), "{e}");
    let e = parse(&base("").replace(
        "clients = 2000",
        "clients = 2000\nips = { model = \"nat\" }",
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("public_ips"), "{e}");
    let e = parse(&base("").replace("clients = 2000", "clients = 2000\nips = \"nta\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `nat`"), "{e}");
}

/// L7 routing: each pool has its own balancer, and a pool may override the algorithm.
#[test]
fn pools_can_have_their_own_algorithm() {
    let s = parse(
        r#"
        [scenario]
        duration = "20s"
        replications = 2
        [clients]
        rate = "200/s"
        [clients.population]
        clients = 1
        [[classes]]
        name = "/api/*"
        share = 0.5
        pool = "app"
        service = "2ms"
        [[classes]]
        name = "/static/*"
        share = 0.5
        pool = "static"
        service = "1ms"
        [[servers]]
        name = "app"
        count = 3
        [[servers]]
        name = "static"
        count = 3
        balancer = { algorithm = "ip-hash" }
        [balancer]
        algorithm = "round-robin"
        "#,
    )
    .unwrap();
    let a = run(&s);
    for r in &a.reps {
        let count = |g: &str| {
            r.servers
                .iter()
                .filter(|s| s.group == g && s.requests > 0)
                .count()
        };
        // One client: ip-hash sends all its static requests to one server; the app pool's
        // round robin uses all three.
        assert_eq!(count("static"), 1);
        assert_eq!(count("app"), 3);
    }
}
