//! Services that call services: call paths against closed forms (a tandem of an M/M/∞ web
//! tier and an M/M/1 app tier; the maximum and minimum of exponential fan-out calls), exact
//! counts of retries multiplying across tiers, and the errors a broken call graph gets.

use lblab::metrics::M;
use lblab::metrics::slices::{S, SliceRow};

use crate::support::{assert_matches, parse, run, values};

/// The per-replication values of column `c` of slice `name`.
fn slice(a: &lblab::metrics::Aggregate, name: &str, c: S) -> Vec<f64> {
    a.reps
        .iter()
        .map(|r| {
            r.slices
                .iter()
                .find(|s: &&SliceRow| s.name == name)
                .unwrap_or_else(|| panic!("no slice {name}"))
                .get(c)
        })
        .collect()
}

/// A scenario: open-loop clients at `rate`, a 20 s warm-up (none with `warmup = false`),
/// then `body`.
fn scenario_w(
    rate: &str,
    duration: &str,
    replications: u32,
    warmup: bool,
    body: &str,
) -> lblab::scenario::Scenario {
    let warmup = if warmup { "20s" } else { "0s" };
    let text = format!(
        "[scenario]\nname = \"t\"\nseed = 7\nduration = \"{duration}\"\nwarmup = \"{warmup}\"\nreplications = {replications}\n\n[clients]\nmode = \"open\"\nrate = \"{rate}\"\n\n{body}"
    );
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn scenario(
    rate: &str,
    duration: &str,
    replications: u32,
    body: &str,
) -> lblab::scenario::Scenario {
    scenario_w(rate, duration, replications, true, body)
}

/// Web (ample workers: M/M/∞, whose departures are Poisson) calls app (one worker:
/// M/M/1 at λ = 100/s, μ = 125/s). A client waits E[web work] + 1/(μ − λ) = 5 + 40 ms.
#[test]
fn tandem_of_an_infinite_server_tier_and_an_mm1_tier() {
    let s = scenario(
        "100/s",
        "5000s",
        8,
        r#"
[[classes]]
service = { dist = "exponential", mean = "5ms" }
calls = ["app"]

[[servers]]
name = "web"
count = 1
slots = 10000

[[servers]]
name = "app"
count = 1
slots = 1

[[services]]
name = "web"

[[services]]
name = "app"
work = { dist = "exponential", mean = "8ms" }
"#,
    );
    let a = run(&s);
    let (lambda, mu) = (100.0, 125.0);
    assert_matches(
        "app sojourn, M/M/1 (ms)",
        &slice(&a, "app", S::LatencyMean),
        1e3 / (mu - lambda),
        0.0,
        0.05,
    );
    assert_matches(
        "client latency = web work + app sojourn (ms)",
        &values(&a, M::LatencyMean),
        5.0 + 1e3 / (mu - lambda),
        0.0,
        0.05,
    );
    assert_matches(
        "app queue wait, M/M/1 (ms)",
        &slice(&a, "app", S::WaitMean),
        1e3 * lambda / (mu * (mu - lambda)),
        0.0,
        0.06,
    );
    // The latency broken down by hop: web's own time is its work, app's its sojourn.
    let hop = |service: &str| -> Vec<f64> {
        a.reps
            .iter()
            .map(|r| {
                r.hops
                    .iter()
                    .find(|h| h.service == service)
                    .expect("hop")
                    .self_ms_per_client_request
            })
            .collect()
    };
    assert_matches("web's own time (ms)", &hop("web"), 5.0, 0.0, 0.03);
    assert_matches(
        "app's own time (ms)",
        &hop("app"),
        1e3 / (mu - lambda),
        0.0,
        0.05,
    );
}

/// Three parallel calls to services with exponential work of mean m and ample workers:
/// waiting for all takes E[max] = m·(1 + 1/2 + 1/3); waiting for the first takes m/3.
#[test]
fn fan_out_waits_for_the_max_or_the_min() {
    let body = |wait_for: u32| {
        format!(
            r#"
[[classes]]
service = {{ dist = "constant", value = "1ms" }}
calls = ["a", "b", "c"]
parallel = true
wait_for = {wait_for}

[[servers]]
name = "gw"
slots = 100000
[[servers]]
name = "a"
slots = 100000
[[servers]]
name = "b"
slots = 100000
[[servers]]
name = "c"
slots = 100000

[[services]]
name = "gw"
[[services]]
name = "a"
work = {{ dist = "exponential", mean = "10ms" }}
[[services]]
name = "b"
work = {{ dist = "exponential", mean = "10ms" }}
[[services]]
name = "c"
work = {{ dist = "exponential", mean = "10ms" }}
"#
        )
    };
    let all = run(&scenario("200/s", "300s", 6, &body(3)));
    assert_matches(
        "fan-out to 3, wait for all: 1 + 10·H3 (ms)",
        &values(&all, M::LatencyMean),
        1.0 + 10.0 * (1.0 + 0.5 + 1.0 / 3.0),
        0.0,
        0.02,
    );
    let first = run(&scenario("200/s", "300s", 6, &body(1)));
    assert_matches(
        "fan-out to 3, wait for the first: 1 + 10/3 (ms)",
        &values(&first, M::LatencyMean),
        1.0 + 10.0 / 3.0,
        0.0,
        0.02,
    );
}

/// Retries multiply across tiers: the caller retries a failed call twice (3 requests per
/// call), and the database's tier retries each request once on a 5xx (2 attempts per
/// request): a database that answers every request with a 500 sees 6 attempts per client
/// request, and every client gets the error.
#[test]
fn retries_at_two_tiers_multiply() {
    let s = scenario_w(
        "50/s",
        "120s",
        2,
        false,
        r#"
[[classes]]
service = { dist = "exponential", mean = "1ms" }
calls = [{ to = "db", retries = 2 }]

[[servers]]
name = "web"
count = 2
slots = 64
[[servers]]
name = "db"
count = 2
slots = 64

[[services]]
name = "web"
[[services]]
name = "db"
work = { dist = "exponential", mean = "1ms" }
lb = { retries = 1, retry_on = ["5xx"] }

[[failures]]
target = "db"
kind = "errors"
rate = 1.0
status = 500
at = "0s"
"#,
    );
    let a = run(&s);
    for r in &a.reps {
        let issued = r.get(M::Issued);
        let db = r.slices.iter().find(|s| s.name == "db").expect("db slice");
        assert!(issued > 1000.0);
        // Requests still in their web work at the end have not called yet; every call is
        // answered at once, so the others made all their tries.
        let called = issued - r.get(M::InFlightEnd);
        assert_eq!(
            r.get(M::Errors),
            called,
            "every client that called gets the error"
        );
        assert_eq!(db.get(S::Requests), 3.0 * called, "3 requests per call");
        assert_eq!(
            (db.get(S::AttemptsPerRequest) * issued).round(),
            6.0 * called,
            "2 attempts per request"
        );
    }
}

/// A call's `retry_on` says which failures its caller retries: a database answering
/// every request with a 500 gets three requests per call by default (all failures
/// retried), and one per call when only refusals and timeouts are.
#[test]
fn a_call_retries_only_what_its_retry_on_names() {
    let body = |retry_on: &str| {
        format!(
            r#"
[[classes]]
service = {{ dist = "exponential", mean = "1ms" }}
calls = [{{ to = "db", retries = 2{retry_on} }}]

[[servers]]
name = "web"
count = 2
slots = 64
[[servers]]
name = "db"
count = 2
slots = 64

[[services]]
name = "web"
[[services]]
name = "db"
work = {{ dist = "exponential", mean = "1ms" }}

[[failures]]
target = "db"
kind = "errors"
rate = 1.0
status = 500
at = "0s"
"#
        )
    };
    for (retry_on, per_call) in [
        ("", 3.0),
        (r#", retry_on = ["5xx"]"#, 3.0),
        (r#", retry_on = ["refused", "timeout"]"#, 1.0),
    ] {
        let a = run(&scenario_w("50/s", "60s", 1, false, &body(retry_on)));
        let r = &a.reps[0];
        let db = r.slices.iter().find(|s| s.name == "db").expect("db slice");
        let called = r.get(M::Issued) - r.get(M::InFlightEnd);
        assert_eq!(r.get(M::Errors), called, "{retry_on}");
        assert_eq!(db.get(S::Requests), per_call * called, "{retry_on}");
    }
    let e = parse(&format!(
        "[scenario]\nduration = \"10s\"\n[clients]\nrate = \"10/s\"\n{}",
        body(r#", retry_on = ["5xxx"]"#)
    ))
    .expect_err("a misspelt retry_on");
    let p = &e.problems[0];
    assert_eq!(p.path, "classes[0].calls[0].retry_on[0]");
    assert!(p.hint.as_deref() == Some("did you mean `5xx`?"), "{p:?}");
}

/// Cache-aside: web reads the cache, and the database only when the cache missed
/// (`when = "miss"`). Under independent uniform requests over K keys an LRU cache of C
/// keys holds any given key with probability C/K, so the database sees 1 − C/K of the
/// reads: 0.75 for 250 of 1,000. With 20,000 reads the binomial standard deviation of
/// that share is 0.003; the test allows 0.015 (5 sd).
#[test]
fn cache_aside_sends_only_misses_to_the_database() {
    let body = |cache_fails: &str, required: &str| {
        format!(
            r#"
[[classes]]
service = "1ms"
keys = {{ count = 1000 }}
calls = [{{ to = "cache"{required} }}, {{ to = "db", when = "miss" }}]

[[servers]]
name = "web"
count = 2
slots = 64
[[servers]]
name = "cache"
count = 1
slots = 64
cache = 250
[[servers]]
name = "db"
count = 2
slots = 64

[[services]]
name = "web"
[[services]]
name = "cache"
work = "100us"
[[services]]
name = "db"
work = "2ms"
{cache_fails}
"#
        )
    };
    let a = run(&scenario("200/s", "120s", 1, &body("", "")));
    let r = &a.reps[0];
    let get = |n: &str, c: S| r.slices.iter().find(|s| s.name == n).unwrap().get(c);
    let share = get("db", S::Requests) / get("cache", S::Requests);
    assert!((share - 0.75).abs() < 0.015, "database share {share}");
    assert!((r.get(M::CacheHitRatio) - 25.0).abs() < 1.5);
    assert_eq!(r.get(M::Errors), 0.0);
    // The cache is down for the whole run. A required call fails every read; with
    // `required = false` each read falls back to the database and succeeds.
    let down = "[[failures]]\ntarget = \"cache-1\"\nkind = \"crash\"\nat = \"0s\"";
    let failing = run(&scenario("200/s", "120s", 1, &body(down, "")));
    let r = &failing.reps[0];
    assert_eq!(r.get(M::Errors), r.get(M::Issued) - r.get(M::InFlightEnd));
    let fallback = run(&scenario(
        "200/s",
        "120s",
        1,
        &body(down, ", required = false"),
    ));
    let r = &fallback.reps[0];
    assert_eq!(r.get(M::Errors), 0.0);
    let get = |n: &str, c: S| r.slices.iter().find(|s| s.name == n).unwrap().get(c);
    assert_eq!(get("db", S::Requests), get("cache", S::Requests));
}

/// `when` and `required` are checked where they are written.
#[test]
fn cache_aside_errors_name_their_key() {
    let base = r#"[scenario]
duration = "10s"
[clients]
rate = "10/s"
[[classes]]
service = "1ms"
keys = { count = 100 }
calls = ["cache", { to = "db", when = "miss" }]
[[servers]]
name = "web"
count = 1
[[servers]]
name = "cache"
count = 1
cache = 10
[[servers]]
name = "db"
count = 1
[[services]]
name = "web"
[[services]]
name = "cache"
work = "1ms"
[[services]]
name = "db"
work = "1ms"
"#;
    parse(base).unwrap_or_else(|e| panic!("{e}"));
    let problem = |text: &str, path: &str, needle: &str| {
        let e = parse(text).expect_err(path);
        let p = e
            .problems
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("no problem at {path}: {e}"));
        let t = format!("{} {}", p.message, p.hint.clone().unwrap_or_default());
        assert!(t.contains(needle), "{path}: {t:?} lacks {needle:?}");
        // The span is the key's own value.
        let lblab::scenario::Origin::File(r) = &p.origin else {
            panic!("{p:?}")
        };
        assert!(
            text[r.clone()].contains("mis"),
            "{p:?}: {:?}",
            &text[r.clone()]
        );
    };
    problem(
        &base.replace("keys = { count = 100 }\n", ""),
        "classes[0].calls[1].when",
        "no `keys`",
    );
    problem(
        &base.replace("cache = 10\n", ""),
        "classes[0].calls[1].when",
        "keep no cache",
    );
    problem(
        &base.replace("\"miss\"", "\"mis\""),
        "classes[0].calls[1].when",
        "did you mean `miss`?",
    );
    problem(
        &base.replace(
            "[\"cache\", { to = \"db\", when = \"miss\" }]",
            "[{ to = \"db\", when = \"miss\" }]",
        ),
        "classes[0].calls[0].when",
        "first call",
    );
    problem(
        &base.replace("calls = [", "parallel = true\ncalls = ["),
        "classes[0].calls[1].when",
        "in parallel",
    );
}

/// A three-service scenario to break: web → app → db.
const GOOD: &str = r#"[scenario]
duration = "10s"

[clients]
rate = "100/s"

[[classes]]
name = "read"
service = "1ms"
calls = ["app"]

[classes.hops.app]
work = "2ms"
calls = [{ to = "db", timeout = "100ms" }]

[[servers]]
name = "web"
count = 2

[[servers]]
name = "app"
count = 2

[[servers]]
name = "db"
count = 1

[[services]]
name = "web"

[[services]]
name = "app"

[[services]]
name = "db"
work = "3ms"
"#;

/// Replaces `from` with `to` in GOOD; the problem at `path` is on `line` and says each of
/// `needles` (message or hint); the rendered error names the file and line.
fn broken(from: &str, to: &str, path: &str, line: usize, needles: &[&str]) {
    assert!(GOOD.contains(from), "{from}");
    let e = match parse(&GOOD.replacen(from, to, 1)) {
        Ok(_) => panic!("replacing {from:?} with {to:?} should be an error"),
        Err(e) => e,
    };
    let p = e
        .problems
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no problem at {path}: {e}"));
    let (l, _) = e.line_col(p).unwrap_or_else(|| panic!("no position: {e}"));
    assert_eq!(l, line, "{e}");
    let text = format!("{} {}", p.message, p.hint.clone().unwrap_or_default());
    for n in needles {
        assert!(text.contains(n), "{path}: {text:?} lacks {n:?}");
    }
    assert!(e.to_string().contains(&format!("test.toml:{line}:")), "{e}");
}

#[test]
fn the_good_call_graph_parses() {
    let s = parse(GOOD).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.world.services.len(), 3);
    let hops = &s.world.classes[0].hops;
    assert_eq!(hops[0].calls[0].to, 1);
    assert_eq!(hops[1].calls[0].to, 2);
    assert!(hops[2].work.is_some(), "db's default work fills the hop");
}

#[test]
fn a_broken_call_graph_is_reported_where_it_is_written() {
    // An unknown service, with a suggestion.
    broken(
        "calls = [\"app\"]",
        "calls = [\"ap\"]",
        "classes[0].calls[0]",
        10,
        &["no service named \"ap\"", "did you mean `app`?"],
    );
    // A cycle, named.
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\n\n[classes.hops.db]\ncalls = [\"web\"]",
        "classes[0]",
        7,
        &["calls in a cycle: web → app → db → web"],
    );
    // A fan-out waiting for more calls than it makes.
    broken(
        "calls = [\"app\"]",
        "calls = [\"app\"]\nparallel = true\nwait_for = 2",
        "classes[0].wait_for",
        12,
        &["at most the number of calls (1), found 2"],
    );
    // wait_for without parallel.
    broken(
        "calls = [\"app\"]",
        "calls = [\"app\"]\nwait_for = 1",
        "classes[0].wait_for",
        11,
        &["in parallel"],
    );
    // A service with no servers that take traffic.
    broken(
        "name = \"db\"\ncount = 1",
        "name = \"db\"\ncount = 1\nweight = 0",
        "classes[0]",
        7,
        &["calls service \"db\", which has no servers to take it"],
    );
    // A called service without work for this class.
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"",
        "classes[0]",
        7,
        &["no work is given", "[classes.hops.db]"],
    );
    // A group that serves no service, and one that serves two.
    broken(
        "[[services]]\nname = \"db\"",
        "[[services]]\nname = \"db\"\ngroups = [\"app\"]",
        "services[2].groups",
        36,
        &["already serves another service"],
    );
    // A hop for a service the class never calls.
    broken(
        "calls = [{ to = \"db\", timeout = \"100ms\" }]",
        "calls = []\n\n[classes.hops.db]\nwork = \"1ms\"",
        "classes[0].hops.db",
        7,
        &["never calls \"db\""],
    );
    // An L4 edge cannot send classes to different services by path.
    let two_entries = GOOD.replace(
        "[[servers]]\nname = \"web\"",
        "[lb]\nlayer = \"l4\"\n\n[[classes]]\nname = \"direct\"\nentry = \"app\"\nservice = \"1ms\"\n\n[[servers]]\nname = \"web\"",
    );
    let e = parse(
        &two_entries
            .replacen("name = \"read\"\n", "name = \"read\"\nshare = 0.5\n", 1)
            .replacen("name = \"direct\"\n", "name = \"direct\"\nshare = 0.5\n", 1),
    )
    .expect_err("l4 routing by path");
    assert!(
        e.problems
            .iter()
            .any(|p| p.path == "classes[1].entry" && p.message.contains("cannot route by path")),
        "{e}"
    );
    // Internal tiers have no HA topology.
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\nlb = { topology = \"active-passive\" }",
        "services[2].lb.topology",
        37,
        &["belong to the edge tier"],
    );
    // An internal tier may be layer 4, and then it cannot retry on statuses.
    let l4 = GOOD.replace(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\nlb = { layer = \"l4\" }",
    );
    parse(&l4).unwrap_or_else(|e| panic!("{e}"));
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\nlb = { layer = \"l4\", retries = 1, retry_on = [\"5xx\"] }",
        "services[2].lb.layer",
        37,
        &["layer-4 load balancer cannot do this", "5xx"],
    );
    // A reused section reader reports its keys under the service.
    broken(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\nlb = { nodes = 0 }",
        "services[2].lb.nodes",
        37,
        &["expected"],
    );
}

#[test]
fn a_session_store_service_is_called_first_at_the_entry() {
    let shared = GOOD.to_string() + "\n[sessions]\nstate = \"shared\"\nstore = \"db\"\n";
    let s = parse(&shared).unwrap_or_else(|e| panic!("{e}"));
    let entry = &s.world.classes[0].hops[0];
    let to: Vec<usize> = entry.calls.iter().map(|c| c.to).collect();
    assert_eq!(
        to,
        [2, 1],
        "the lookup (db) comes before the class's own call (app)"
    );
    assert_eq!(s.world.sessions.store_latency, None);
    // Under tokens the store is named but not called.
    let token = shared.replace("state = \"shared\"", "state = \"token\"");
    let s = parse(&token).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.world.classes[0].hops[0].calls.len(), 1);
}

#[test]
fn a_broken_session_store_is_reported_where_it_is_written() {
    let with = |sessions: &str| GOOD.to_string() + "\n[sessions]\n" + sessions;
    let problem = |text: &str, path: &str, needle: &str| {
        let e = parse(text).expect_err(path);
        let p = e
            .problems
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("no problem at {path}: {e}"));
        let t = format!("{} {}", p.message, p.hint.clone().unwrap_or_default());
        assert!(t.contains(needle), "{path}: {t:?} lacks {needle:?}");
        assert!(e.to_string().contains("test.toml:"), "{e}");
    };
    problem(
        &with("state = \"shared\"\nstore = \"dbb\"\n"),
        "sessions.store",
        "did you mean `db`?",
    );
    problem(
        &with("state = \"shared\"\nstore = \"db\"\nstore_latency = \"1ms\"\n"),
        "sessions.store_latency",
        "give one",
    );
    problem(
        &with("state = \"shared\"\nstore = \"db\"\n")
            .replace("calls = [\"app\"]", "calls = [\"app\"]\nparallel = true"),
        "classes[0].parallel",
        "session store lookup is the first call",
    );
    problem(
        &with("state = \"shared\"\nstore = \"web\"\n"),
        "classes[0]",
        "web → web",
    );
    // Without services, the store cannot be one.
    let one = "[scenario]\nduration = \"10s\"\n[clients]\nrate = \"10/s\"\n[[classes]]\nservice = \"1ms\"\n[[servers]]\nname = \"a\"\n[sessions]\nstate = \"shared\"\nstore = \"redis\"\n";
    problem(one, "sessions.store", "no [[services]]");
}

/// Web calls the database directly for one class, and through app for the other; the
/// database is partitioned from app alone between 20 s and 40 s.
fn partitioned(from: &str) -> lblab::scenario::Scenario {
    scenario_w(
        "100/s",
        "60s",
        2,
        false,
        &format!(
            r#"[[classes]]
name = "direct"
share = 0.5
service = "1ms"
calls = [{{ to = "db", timeout = "500ms" }}]

[[classes]]
name = "via-app"
share = 0.5
service = "1ms"
calls = ["app"]

[classes.hops.app]
work = "1ms"
calls = [{{ to = "db", timeout = "500ms" }}]

[[servers]]
name = "web"
count = 2
slots = 64

[[servers]]
name = "app"
count = 2
slots = 64

[[servers]]
name = "db"
count = 1

[[services]]
name = "web"

[[services]]
name = "app"

[[services]]
name = "db"
work = "1ms"
health = {{ active = {{ check = "http", inter = "1s" }} }}

[[failures]]
target = "db-1"
kind = "partition"
{from}
at = "20s"
duration = "20s"
"#
        ),
    )
}

#[test]
fn a_partition_from_one_service_cuts_only_its_calls() {
    let r = run(&partitioned("from = [\"app\"]"));
    // Calls from app vanish and time out: the via-app class fails for the 20 s (1000 of
    // its ≈ 3000 requests), the direct class not at all...
    for rep in &r.reps {
        let errs = |class: &str| {
            rep.slices
                .iter()
                .find(|s| s.name == class)
                .expect("class")
                .get(S::Errors)
        };
        assert_eq!(errs("direct"), 0.0);
        assert!(
            (900.0..1100.0).contains(&errs("via-app")),
            "{}",
            errs("via-app")
        );
        // ...and the database's own tier, which still reaches it, never marks it down.
        assert!(
            rep.health.iter().all(|h| h.tier != "db"),
            "{:?}",
            rep.health
        );
    }
    // Cut from everyone, both classes fail and the database's tier notices.
    let r = run(&partitioned(""));
    for rep in &r.reps {
        assert!(
            rep.health
                .iter()
                .any(|h| h.tier == "db" && h.state == "down")
        );
    }
}

#[test]
fn a_partition_from_an_unknown_service_is_reported() {
    broken(
        "[[services]]\nname = \"db\"",
        "[[failures]]\ntarget = \"db-1\"\nkind = \"partition\"\nfrom = [\"ap\"]\nat = \"1s\"\n\n[[services]]\nname = \"db\"",
        "failures[0].from[0]",
        37,
        &["no service named \"ap\"", "did you mean `app`?"],
    );
    broken(
        "[[services]]\nname = \"db\"",
        "[[failures]]\ntarget = \"db-1\"\nkind = \"crash\"\nfrom = [\"app\"]\nat = \"1s\"\n\n[[services]]\nname = \"db\"",
        "failures[0].from",
        37,
        &["unknown key"],
    );
}

#[test]
fn placement_and_traffic_policy_errors_name_their_key() {
    // Pods on nodes: db runs on the app servers, local to its callers.
    let placed = GOOD.replace(
        "name = \"db\"\ncount = 1",
        "name = \"db\"\ncount = 2\non = [\"app-1\", \"app-2\"]",
    );
    let local = placed.replace(
        "name = \"db\"\nwork = \"3ms\"",
        "name = \"db\"\nwork = \"3ms\"\ntraffic_policy = \"local\"",
    );
    parse(&local).unwrap_or_else(|e| panic!("{e}"));
    let problem = |text: &str, path: &str, needle: &str| {
        let e = parse(text).expect_err(path);
        let p = e
            .problems
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("no problem at {path}: {e}"));
        let t = format!("{} {}", p.message, p.hint.clone().unwrap_or_default());
        assert!(t.contains(needle), "{path}: {t:?} lacks {needle:?}");
    };
    problem(
        &placed.replace("\"app-2\"]", "\"app-3\"]"),
        "servers[2].on[1]",
        "no server named \"app-3\"",
    );
    problem(
        &placed.replace("[\"app-1\", \"app-2\"]", "[\"app-1\"]"),
        "servers[2].on",
        "one host per server",
    );
    problem(
        &placed.replace("[\"app-1\", \"app-2\"]", "\"ap\""),
        "servers[2].on",
        "did you mean `app`?",
    );
    problem(
        &placed.replace("[\"app-1\", \"app-2\"]", "\"db\""),
        "servers[2].on",
        "its own servers",
    );
    problem(
        &GOOD.replace(
            "name = \"db\"\nwork = \"3ms\"",
            "name = \"db\"\nwork = \"3ms\"\ntraffic_policy = \"local\"",
        ),
        "services[2].traffic_policy",
        "`on`",
    );
    problem(
        &local.replace("\"local\"", "\"locall\""),
        "services[2].traffic_policy",
        "did you mean `local`?",
    );
}

/// Node-local calls: a caller reaches only the callee servers on its own host, and one
/// whose host has none gets "no backend" at once; calls within a host cross no network.
#[test]
fn a_local_tier_keeps_calls_on_the_callers_host() {
    let s = scenario_w(
        "200/s",
        "50s",
        2,
        false,
        r#"[[classes]]
service = "1ms"
calls = ["pod"]

[[servers]]
name = "node"
count = 3
slots = 1000
network_delay = "1ms"

[[servers]]
name = "pod"
count = 3
slots = 1000
network_delay = "10ms"
on = ["node-1", "node-1", "node-2"]

[balancer]
algorithm = "round-robin"

[[services]]
name = "node"

[[services]]
name = "pod"
work = "2ms"
traffic_policy = "local"
"#,
    );
    let a = run(&s);
    for r in &a.reps {
        let share = |n: &str| r.servers.iter().find(|x| x.name == n).unwrap().share;
        // node-1's calls split over pod-1 and pod-2, node-2's all go to pod-3.
        assert!((share("pod-3") / (share("pod-1") + share("pod-2")) - 1.0).abs() < 0.05);
        // node-3 has no pod: its calls find no backend at once, and a third of the
        // requests fail (node-3 answers 500).
        let e = r.get(M::ErrorsServer) / r.get(M::Issued);
        assert!((0.30..0.37).contains(&e), "server errors {e}");
        let pod = r.slices.iter().find(|x| x.name == "pod").unwrap();
        assert_eq!(pod.get(S::ErrorsNoBackend), pod.get(S::Errors));
    }
    // The ones that succeed: 1 ms there + 1 ms node work + 2 ms pod work + 1 ms back, no
    // 10 ms hop to the pod.
    for m in values(&a, M::LatencyMean) {
        assert!((m - 5.0).abs() < 0.1, "latency {m}");
    }
}

/// A deep check's call to a dependency on the prober's own host crosses no network, as a
/// request's call does not: with pods 10 ms away over the network and a 5 ms probe
/// timeout, nodes whose pods run on them pass; moved to other hosts, the same pods make
/// every probe time out and every node leaves rotation.
#[test]
fn a_deep_check_reaches_a_dependency_on_its_own_host_without_the_network() {
    let body = |on: &str| {
        format!(
            r#"[[classes]]
service = "1ms"
calls = ["pod"]

[[servers]]
name = "node"
count = 2
slots = 1000
network_delay = "100us"

[[servers]]
name = "other"
count = 2
slots = 1

[[servers]]
name = "pod"
count = 2
slots = 1000
network_delay = "5ms"
on = {on}

[balancer]
algorithm = "round-robin"

[[services]]
name = "node"

[[services]]
name = "other"

[[services]]
name = "pod"
work = "1ms"
traffic_policy = "local"
health = {{}}

[health.active]
check = "http"
inter = "1s"
timeout = "5ms"
fall = 2
depends = ["pod"]
"#
        )
    };
    let local = run(&scenario_w(
        "50/s",
        "20s",
        1,
        false,
        &body(r#"["node-1", "node-2"]"#),
    ));
    let away = run(&scenario_w(
        "50/s",
        "20s",
        1,
        false,
        &body(r#"["other-1", "other-2"]"#),
    ));
    // On their own hosts: every probe passes, nobody leaves, nothing fails.
    assert_eq!(values(&local, M::FalseEjections), [0.0]);
    assert_eq!(values(&local, M::Errors), [0.0]);
    // Elsewhere the node has no local pod at all; with a cluster-wide policy the probes'
    // 10 ms round trips to the pods exceed the 5 ms timeout and both nodes leave.
    assert_eq!(values(&away, M::FalseEjections), [2.0]);
    let cluster = run(&scenario_w(
        "50/s",
        "20s",
        1,
        false,
        &body(r#"["other-1", "other-2"]"#).replace("traffic_policy = \"local\"\n", ""),
    ));
    assert_eq!(values(&cluster, M::FalseEjections), [2.0]);
    assert!(values(&cluster, M::ErrorsNoBackend)[0] > 0.0);
}

#[test]
fn offered_work_per_service_follows_the_call_plan() {
    // three-tier: 500/s, 20% writes of 35 ms each on one primary with 4 workers: 87.5%;
    // 80% reads at the replicas (2 × 8 workers): 500 · 0.8 · E[lognormal median 4 ms, p99
    // 20 ms] / 16; app: every request, 6 ms over 6 × 16 workers.
    let path = crate::support::root().join("scenarios/three-tier.toml");
    let s = lblab::scenario::load(&path, &[], &|p| std::fs::read_to_string(p))
        .unwrap_or_else(|e| panic!("{e}"));
    let loads = s.world.service_loads(500.0);
    let get = |n: &str| loads.iter().find(|(s, _)| s == n).unwrap().1;
    assert!((get("db-primary") - 0.875).abs() < 1e-9);
    assert!((get("app") - 500.0 * 0.006 / 96.0).abs() < 1e-9);
    assert!((get("web") - 500.0 * 0.002 / 128.0).abs() < 1e-9);
    let sigma = (20.0f64 / 4.0).ln() / 2.326_347_874;
    let replica_mean = 0.004 * (sigma * sigma / 2.0).exp();
    assert!((get("db-replica") - 500.0 * 0.8 * replica_mean / 16.0).abs() < 1e-3);
}

/// Each tier reports on its own interval: an internal tier with fresh reports balances
/// well even when the edge's reports are stale (one shared interval would give it the
/// edge's 10 s and herd every call onto one server).
#[test]
fn each_tier_has_its_own_report_interval() {
    let run_with = |interval: &str| {
        let s = scenario(
            "200/s",
            "120s",
            2,
            &format!(
                r#"[lb]
view = "reported"
report_interval = "10s"

[[classes]]
service = "1ms"
calls = ["app"]

[[servers]]
name = "web"
count = 1
slots = 1000

[[servers]]
name = "app"
count = 4
slots = 1

[balancer]
algorithm = "least-connections"
max_fails = 0

[[services]]
name = "web"

[[services]]
name = "app"
work = {{ dist = "exponential", mean = "10ms" }}
lb = {{ view = "reported", report_interval = "{interval}" }}
"#
            ),
        );
        let a = run(&s);
        slice(&a, "app", S::LatencyMean)
    };
    let fresh = run_with("100ms");
    let stale = run_with("10s");
    for (f, st) in fresh.iter().zip(&stale) {
        assert!(
            *st > 5.0 * f,
            "app latency {st:.1} ms (10 s reports) vs {f:.1} ms (100 ms)"
        );
    }
}
