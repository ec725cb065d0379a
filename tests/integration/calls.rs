//! Calls between services: retries (how many, on what), cache-aside (`when = "miss"`,
//! `required = false`) and their errors.

use lblab::metrics::M;
use lblab::metrics::slices::S;

use crate::services::{scenario, scenario_w};
use crate::support::{parse, problem_at, run};

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
        let (_, p) = problem_at(text, path, needle);
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
