//! Kubernetes probes in the world: a liveness probe restarts a hung server (and backs off
//! restarting one that keeps failing), a deep readiness check follows its dependency, and
//! the errors a broken probe gets.

use lblab::metrics::M;

use crate::support::{parse, run, values};

/// Two web servers behind the edge, clients timing out after 1 s, 60 s without warm-up;
/// `extra` adds health and failures.
fn web(extra: &str) -> lblab::scenario::Scenario {
    let text = format!(
        r#"[scenario]
name = "t"
seed = 11
duration = "120s"
warmup = "0s"
replications = 3

[clients]
mode = "open"
rate = "200/s"
timeout = "1s"

[[classes]]
service = {{ dist = "exponential", mean = "5ms" }}

[[servers]]
name = "web"
count = 2
slots = 16

[balancer]
algorithm = "round-robin"

{extra}"#
    );
    parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

const LIVENESS: &str = r#"[health.liveness]
period = "1s"
timeout = "500ms"
failure_threshold = 3
restart = "2s"
"#;

#[test]
fn liveness_restarts_a_hung_server() {
    let hang =
        "[[failures]]\ntarget = \"web-1\"\nkind = \"hang\"\nat = \"10s\"\nduration = \"60s\"\n";
    let without = run(&web(hang));
    let with = run(&web(&format!("{hang}\n{LIVENESS}")));
    // Per backend over time, without liveness: while hung, web-1 answers nothing, web-2
    // sends every answer, and the balancer counts ≈ 100 attempts outstanding to web-1
    // (round robin sends it 100/s; each ends with the client's 1 s timeout).
    for r in &without.reps {
        for b in r
            .server_series
            .rows()
            .filter(|b| b.t_s >= 15.0 && b.t_s < 65.0)
        {
            match r.servers[b.server as usize].name.as_str() {
                "web-1" => {
                    assert_eq!(b.answers_per_s, 0.0, "{b:?}");
                    assert!((60..140).contains(&b.in_flight), "{b:?}");
                }
                _ => assert_eq!(b.share_pct, 100.0, "{b:?}"),
            }
        }
    }
    // One restart each run: the new process is no longer hung.
    assert_eq!(values(&with, M::Restarts), [1.0; 3]);
    assert_eq!(values(&without, M::Restarts), [0.0; 3]);
    // Without it, half the requests time out for 60 s (≈ 6000); with it, for the 3–4 s
    // the probe takes to notice plus the 2 s restart (refused while it restarts).
    for (w, wo) in values(&with, M::Errors)
        .iter()
        .zip(values(&without, M::Errors))
    {
        assert!((4500.0..6500.0).contains(&wo), "without liveness: {wo}");
        assert!(*w < 800.0 && *w > 300.0, "with liveness: {w}");
    }
}

#[test]
fn liveness_backs_off_a_server_that_keeps_failing() {
    // Every answer is a 500 for 100 s: a restart does not cure it. Kills come about 3 s
    // (three failed probes) after each start; starts come 2 s after a kill plus the
    // back-off 0, 10, 20, 40 s: kills near 13, 18, 33, 58 and 101 s, five in all (without
    // back-off there would be twenty).
    let errs = "[[failures]]\ntarget = \"web-1\"\nkind = \"errors\"\nrate = 1.0\nstatus = 500\nat = \"10s\"\nduration = \"100s\"\n";
    let with = run(&web(&format!("{errs}\n{LIVENESS}")));
    for r in values(&with, M::Restarts) {
        assert!((4.0..=5.0).contains(&r), "restarts {r}");
    }
}

/// A web tier whose readiness check calls the database.
fn deep(kind: &str) -> lblab::scenario::Scenario {
    web(&format!(
        r#"[[servers]]
name = "db"
count = 1

[[services]]
name = "web"

[[services]]
name = "db"
work = "1ms"

[health.active]
style = "kubernetes"
check = "http"
period = "2s"
failure_threshold = 2
depends = ["db"]

[[failures]]
target = "db-1"
kind = "{kind}"
at = "30s"
duration = "30s"
"#
    ))
}

#[test]
fn a_deep_readiness_check_takes_every_web_server_out_when_its_dependency_fails() {
    // Nothing calls the database in requests: only the probes do. A crash answers them
    // 503 at once; a hang times them out. Either way every web server leaves rotation for
    // about the outage (30 s of 120 s): a quarter of all requests find no backend.
    for kind in ["crash", "hang"] {
        let s = deep(kind);
        let a = run(&s);
        for (nb, issued) in values(&a, M::ErrorsNoBackend)
            .iter()
            .zip(values(&a, M::Issued))
        {
            let share = nb / issued;
            assert!(
                (0.20..0.27).contains(&share),
                "{kind}: no backend {share:.3}"
            );
        }
    }
}

#[test]
fn broken_probes_are_reported_where_they_are_written() {
    let base = r#"[scenario]
duration = "10s"

[clients]
rate = "10/s"

[[classes]]
service = "1ms"
calls = ["db"]

[[servers]]
name = "web"

[[servers]]
name = "db"

[[services]]
name = "web"

[[services]]
name = "db"
work = "1ms"

"#;
    let problem = |health: &str, path: &str, needle: &str| {
        let e = parse(&format!("{base}{health}")).expect_err(path);
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
        "[health.active]\ncheck = \"http\"\ndepends = [\"dbb\"]\n",
        "health.active.depends[0]",
        "did you mean `db`?",
    );
    problem(
        "[health.active]\ncheck = \"http\"\ndepends = [\"web\"]\n",
        "health.active.depends[0]",
        "itself",
    );
    problem(
        "[health.active]\ncheck = \"tcp\"\ndepends = [\"db\"]\n",
        "health.active.depends",
        "cannot call dependencies",
    );
    problem(
        "[health.liveness]\nsuccess_threshold = 2\n",
        "health.liveness.success_threshold",
        "must be 1",
    );
    problem(
        "[health.active]\nstyle = \"kubernetess\"\n",
        "health.active.style",
        "did you mean `kubernetes`?",
    );
    problem(
        "[health.active]\nstyle = \"kubernetes\"\ninter = \"2s\"\n",
        "health.active.inter",
        "unknown key",
    );
    problem(
        "[health.liveness]\ndepends = [\"cache\"]\n",
        "health.liveness.depends[0]",
        "no service named \"cache\"",
    );
    // A service's own deep check names its dependencies too.
    let own = base.replace(
        "name = \"db\"\nwork = \"1ms\"",
        "name = \"db\"\nwork = \"1ms\"\nhealth = { active = { check = \"http\", depends = [\"db\"] } }",
    );
    let e = parse(&own).expect_err("self");
    assert!(
        e.problems
            .iter()
            .any(|p| p.path == "services[1].health.active.depends[0]"
                && p.message.contains("itself")),
        "{e}"
    );
    // Without services there is nothing to call.
    let one = "[scenario]\nduration = \"10s\"\n[clients]\nrate = \"10/s\"\n[[classes]]\nservice = \"1ms\"\n[[servers]]\nname = \"a\"\n[health.active]\ncheck = \"http\"\ndepends = [\"db\"]\n";
    let e = parse(one).expect_err("no services");
    assert!(
        e.problems
            .iter()
            .any(|p| p.path == "health.active.depends[0]" && p.message.contains("no [[services]]")),
        "{e}"
    );
}

#[test]
fn liveness_leaves_servers_out_of_the_pool_alone() {
    // A spare joins at 30 s and a server leaves at 60 s: neither is a running pod while
    // out of the pool, so nothing is killed.
    let s = web(&format!(
        "[[changes]]\nat = \"30s\"\nadd = \"web\"\n\n[[changes]]\nat = \"60s\"\nremove = \"web-1\"\n\n{LIVENESS}"
    ));
    let a = run(&s);
    assert_eq!(values(&a, M::Restarts), [0.0; 3]);
    assert_eq!(values(&a, M::Errors), [0.0; 3]);
}
