//! Bad scenarios: every problem is reported with its key path, line and column, and what
//! was expected; `validate` reports all of them.

use lblab::scenario::{Origin, ScenarioError};

use crate::support::parse;

const GOOD: &str = r#"[scenario]
duration = "10s"

[clients]
rate = "100/s"

[[classes]]
name = "a"
share = 0.5
service = "1ms"

[[classes]]
name = "b"
share = 0.5
service = { dist = "exponential", mean = "2ms" }

[[servers]]
name = "web"
count = 2
slots = 4

[balancer]
algorithm = "least-connections"
"#;

/// Replaces the first occurrence of `from` in GOOD and parses it.
fn broken(from: &str, to: &str) -> ScenarioError {
    assert!(GOOD.contains(from), "{from}");
    match parse(&GOOD.replacen(from, to, 1)) {
        Ok(_) => panic!("replacing {from:?} with {to:?} should be an error"),
        Err(e) => e,
    }
}

/// Asserts a single-problem error at `path`, on `line`, whose message and hint contain
/// each of `needles`.
fn check(e: &ScenarioError, path: &str, line: usize, needles: &[&str]) {
    let p = e
        .problems
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no problem at {path}: {e}"));
    let (l, _) = e
        .line_col(p)
        .unwrap_or_else(|| panic!("{path} has no position: {e}"));
    assert_eq!(l, line, "{e}");
    let text = format!("{} {}", p.message, p.hint.clone().unwrap_or_default());
    for n in needles {
        assert!(text.contains(n), "{path}: {text:?} lacks {n:?}");
    }
    let shown = e.to_string();
    assert!(shown.contains(&format!("test.toml:{line}:")), "{shown}");
}

#[test]
fn the_good_scenario_is_good() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.world.n_servers(), 2);
    assert_eq!(s.name, "test");
}

#[test]
fn unknown_keys_get_a_suggestion() {
    check(
        &broken("slots = 4", "slot = 4"),
        "servers[0].slot",
        20,
        &["unknown key", "did you mean `slots`"],
    );
    check(
        &broken("[balancer]\nalgorithm", "[balancer]\nalgoritm"),
        "balancer.algoritm",
        23,
        &["did you mean `algorithm`"],
    );
    check(
        &broken("[clients]", "[client]"),
        "client",
        4,
        &["unknown key", "did you mean `clients`"],
    );
}

/// A misspelt `dist` (found by tests/integration/generated.rs: `{ distzz = "exponential",
/// mean = "2ms" }` reported only the missing `dist`) is also an unknown key, with its hint.
#[test]
fn a_misspelt_dist_is_an_unknown_key_too() {
    let e = broken("{ dist = \"exponential\"", "{ dsit = \"exponential\"");
    check(&e, "classes[1].service.dist", 15, &["missing key `dist`"]);
    check(
        &e,
        "classes[1].service.dsit",
        15,
        &["unknown key", "did you mean `dist`"],
    );
    // With an unknown kind, keys of no kind are reported and those of another kind are not.
    let e = broken("{ dist = \"exponential\"", "{ dist = \"expo\", zz = 1");
    check(&e, "classes[1].service.zz", 15, &["unknown key"]);
    assert_eq!(e.problems.len(), 2, "{e}");
}

/// A misspelt `algorithm` in a `[compare]` table (found by tests/integration/generated.rs:
/// `{ algorithmzz = "random" }` reported only the missing `algorithm`), and keys no
/// algorithm has beside an unknown name, are unknown keys.
#[test]
fn a_misspelt_algorithm_key_is_an_unknown_key_too() {
    let line = GOOD.lines().count() + 3;
    let text = format!("{GOOD}\n[compare]\nalgorithms = [{{ algoritm = \"random\" }}]\n");
    let e = parse(&text).expect_err("no algorithm");
    check(
        &e,
        "compare.algorithms[0].algorithm",
        line,
        &["missing key"],
    );
    check(
        &e,
        "compare.algorithms[0].algoritm",
        line,
        &["unknown key", "did you mean `algorithm`"],
    );
    let e = broken(
        "algorithm = \"least-connections\"",
        "algorithm = \"least-conections\"\nmax_fails = 0\nno_such_key = 1",
    );
    check(&e, "balancer.no_such_key", 25, &["unknown key"]);
    assert_eq!(e.problems.len(), 2, "max_fails is some algorithm's: {e}");
}

#[test]
fn wrong_types_say_what_was_expected() {
    check(
        &broken("slots = 4", "slots = \"four\""),
        "servers[0].slots",
        20,
        &["expected an integer", "string \"four\""],
    );
    check(
        &broken("rate = \"100/s\"", "rate = true"),
        "clients.rate",
        5,
        &["expected a rate"],
    );
    check(
        &broken("duration = \"10s\"", "duration = 10"),
        "scenario.duration",
        2,
        &["duration string with a unit"],
    );
    check(
        &broken("service = \"1ms\"", "service = [1]"),
        "classes[0].service",
        10,
        &["expected a distribution"],
    );
}

#[test]
fn out_of_range_values_are_rejected() {
    check(
        &broken("count = 2", "count = 0"),
        "servers[0].count",
        19,
        &["from 1 to"],
    );
    check(
        &broken("count = 2", "count = 99999999999"),
        "servers[0].count",
        19,
        &["from 1 to"],
    );
    check(
        &broken("rate = \"100/s\"", "rate = \"-100/s\""),
        "clients.rate",
        5,
        &["non-negative"],
    );
    check(
        &broken(
            "share = 0.5\nservice = \"1ms\"",
            "share = 1.5\nservice = \"1ms\"",
        ),
        "classes[0].share",
        9,
        &["share in (0, 1]"],
    );
    check(
        &broken("duration = \"10s\"", "duration = \"10s\"\nwarmup = \"1m\""),
        "scenario.warmup",
        3,
        &["shorter than the duration"],
    );
    check(
        &broken("mean = \"2ms\"", "mean = \"0s\""),
        "classes[1].service.mean",
        15,
        &["positive"],
    );
}

#[test]
fn shares_must_sum_to_one() {
    check(
        &broken(
            "share = 0.5\nservice = \"1ms\"",
            "share = 0.4\nservice = \"1ms\"",
        ),
        "classes",
        7,
        &["sum to 1", "0.9"],
    );
}

#[test]
fn references_to_missing_server_groups_are_errors() {
    check(
        &broken("service = \"1ms\"", "service = \"1ms\"\npool = \"wbe\""),
        "classes[0].pool",
        11,
        &["no server group named \"wbe\"", "did you mean `web`"],
    );
}

#[test]
fn unknown_names_get_a_suggestion() {
    check(
        &broken("\"least-connections\"", "\"least-conections\""),
        "balancer.algorithm",
        23,
        &["unknown algorithm", "did you mean"],
    );
    check(
        &broken("dist = \"exponential\"", "dist = \"expo\""),
        "classes[1].service.dist",
        15,
        &["unknown distribution"],
    );
}

#[test]
fn syntax_errors_have_a_position() {
    let e = broken("slots = 4", "slots = ");
    assert!(e.problems[0].message.contains("TOML syntax error"), "{e}");
    assert!(matches!(e.problems[0].origin, Origin::File(_)));
    let dup = broken("slots = 4", "slots = 4\nslots = 5");
    assert!(
        dup.to_string().to_lowercase().contains("duplicate"),
        "{dup}"
    );
    assert!(dup.to_string().contains("test.toml:21:"), "{dup}");
}

#[test]
fn all_problems_are_reported_not_just_the_first() {
    let text = GOOD
        .replacen("slots = 4", "slot = 4", 1)
        .replacen("rate = \"100/s\"", "rate = \"fast\"", 1)
        .replacen("\"least-connections\"", "\"lc2\"", 1)
        .replacen("share = 0.5", "share = -1", 1);
    let e = parse(&text).unwrap_err();
    let paths: Vec<&str> = e.problems.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "servers[0].slot",
        "clients.rate",
        "balancer.algorithm",
        "classes[0].share",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
    // In file order.
    let lines: Vec<usize> = e
        .problems
        .iter()
        .filter_map(|p| e.line_col(p))
        .map(|(l, _)| l)
        .collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn overrides_are_checked_like_the_file() {
    let sets = |s: &[&str]| -> Vec<String> { s.iter().map(|x| x.to_string()).collect() };
    let p = |sets: &[String]| {
        lblab::scenario::parse("test.toml", GOOD, std::path::Path::new("."), sets, &|_| {
            Err(std::io::ErrorKind::NotFound.into())
        })
    };
    let ok = p(&sets(&[
        "servers.web.slots=8",
        "clients.rate=250/s",
        "classes[1].share=0.5",
        "balancer.algorithm=power-of-two",
    ]))
    .unwrap();
    assert_eq!(ok.world.groups[0].slots, 8);
    let e = p(&sets(&["servers.web.slots=-1"])).unwrap_err();
    assert!(
        matches!(&e.problems[0].origin, Origin::Override(a) if a == "servers.web.slots=-1"),
        "{e}"
    );
    assert!(e.to_string().contains("--set servers.web.slots=-1"), "{e}");
    let e = p(&sets(&["servers.nope.slots=2"])).unwrap_err();
    assert!(
        e.to_string().contains("no element named `nope`") && e.to_string().contains("web"),
        "{e}"
    );
    let e = p(&sets(&["clients.rat=5/s"])).unwrap_err();
    assert!(e.to_string().contains("did you mean `rate`"), "{e}");
    let e = p(&sets(&["nonsense"])).unwrap_err();
    assert!(e.to_string().contains("key.path=value"), "{e}");
}

/// Each distribution kind parses to the documented parameters.
#[test]
fn distributions_parse_to_their_parameters() {
    use lblab::model::Dist;
    let service = |spec: &str| -> Dist {
        let text = GOOD.replacen("service = \"1ms\"", &format!("service = {spec}"), 1);
        parse(&text)
            .unwrap_or_else(|e| panic!("{spec}: {e}"))
            .world
            .classes[0]
            .service
            .clone()
    };
    assert_eq!(service("\"250us\""), Dist::Constant { ns: 250_000.0 });
    assert_eq!(
        service("{ dist = \"exponential\", mean = \"2ms\" }"),
        Dist::Exponential { mean_ns: 2e6 }
    );
    assert_eq!(
        service("{ dist = \"uniform\", min = \"1ms\", max = \"3ms\" }"),
        Dist::Uniform {
            lo_ns: 1e6,
            hi_ns: 3e6
        }
    );
    assert_eq!(
        service("{ dist = \"bounded-pareto\", alpha = 1.5, min = \"1ms\", max = \"10s\" }"),
        Dist::BoundedPareto {
            alpha: 1.5,
            lo_ns: 1e6,
            hi_ns: 1e10
        }
    );
    // Lognormal by median and p99: median = exp(mu); mu/sigma form is in ln(seconds).
    match service("{ dist = \"lognormal\", median = \"8ms\", p99 = \"40ms\" }") {
        Dist::LogNormal { mu, sigma } => {
            assert!((mu.exp() - 8e6).abs() < 1e-3);
            assert!((sigma - (5f64).ln() / lblab::model::dist::Z_99).abs() < 1e-12);
        }
        d => panic!("{d:?}"),
    }
    match service("{ dist = \"lognormal\", mu = -4.0, sigma = 0.5 }") {
        Dist::LogNormal { mu, sigma } => {
            assert!(((mu - 1e9f64.ln()) - -4.0).abs() < 1e-12 && sigma == 0.5);
        }
        d => panic!("{d:?}"),
    }
    let mix = service(
        "{ dist = \"mixture\", parts = [{ weight = 0.9, dist = \"constant\", value = \"1ms\" }, { weight = 0.1, dist = \"exponential\", mean = \"50ms\" }] }",
    );
    assert!((mix.mean() - (0.9e6 + 0.1 * 50e6)).abs() < 1e-6, "{mix:?}");
}

/// An empirical distribution reads its CSV (relative to the scenario), by column and unit;
/// problems in the CSV are reported with the CSV's line.
#[test]
fn empirical_distributions_read_their_csv() {
    use lblab::model::Dist;
    let csv = "id,latency\n1,2.5\n2,1\n3,4ms\n";
    let read = |p: &std::path::Path| -> std::io::Result<String> {
        assert_eq!(p, std::path::Path::new("traces/db.csv"));
        Ok(csv.to_string())
    };
    let text = GOOD.replacen("service = \"1ms\"", "service = { dist = \"empirical\", file = \"db.csv\", column = \"latency\", unit = \"ms\" }", 1);
    let s = lblab::scenario::parse(
        "test.toml",
        &text,
        std::path::Path::new("traces"),
        &[],
        &read,
    )
    .unwrap();
    assert_eq!(
        s.world.classes[0].service,
        Dist::Empirical {
            values_ns: vec![1e6, 2.5e6, 4e6]
        }
    );

    let bad = GOOD.replacen(
        "service = \"1ms\"",
        "service = { dist = \"empirical\", file = \"db.csv\", column = \"latncy\" }",
        1,
    );
    let e = lblab::scenario::parse(
        "test.toml",
        &bad,
        std::path::Path::new("traces"),
        &[],
        &read,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("no column \"latncy\"")
            && e.to_string().contains("did you mean `latency`"),
        "{e}"
    );

    let broken_csv =
        |_: &std::path::Path| -> std::io::Result<String> { Ok("latency\n1\nfast\n".into()) };
    let text = GOOD.replacen(
        "service = \"1ms\"",
        "service = { dist = \"empirical\", file = \"db.csv\" }",
        1,
    );
    let e = lblab::scenario::parse(
        "test.toml",
        &text,
        std::path::Path::new("traces"),
        &[],
        &broken_csv,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("db.csv line 3") && e.to_string().contains("\"fast\""),
        "{e}"
    );

    let missing = |_: &std::path::Path| -> std::io::Result<String> {
        Err(std::io::ErrorKind::NotFound.into())
    };
    let e = lblab::scenario::parse(
        "test.toml",
        &text,
        std::path::Path::new("traces"),
        &[],
        &missing,
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot read traces/db.csv"), "{e}");
}

#[test]
fn reweight_changes_and_client_keys_say_what_they_need() {
    let with = |extra: &str| format!("{GOOD}\n{extra}");
    let err = |text: String| parse(&text).expect_err("should be an error");
    // The appended entry's third line is its action, the fourth and fifth follow.
    let at = |k: usize| GOOD.lines().count() + 1 + k;
    let e = err(with("[[changes]]\nat = \"5s\"\nreweight = \"web\"\n"));
    check(&e, "changes[0].reweight", at(3), &["needs `weight = N`"]);
    let e = err(with(
        "[[changes]]\nat = \"5s\"\nreweight = \"web\"\nweight = 2\ncount = 1\n",
    ));
    check(
        &e,
        "changes[0].count",
        at(5),
        &["`reweight` changes every server"],
    );
    let e = err(with(
        "[[changes]]\nat = \"5s\"\nadd = \"web\"\nweight = 2\n",
    ));
    check(&e, "changes[0].weight", at(4), &["goes with `reweight"]);
    let e = err(with(
        "[[changes]]\nat = \"5s\"\nreweight = \"db\"\nweight = 2\n",
    ));
    check(&e, "changes[0].reweight", at(3), &["db"]);
    let e = err(with(
        "[[changes]]\nat = \"5s\"\nreweight = \"web\"\nweight = -1\n",
    ));
    check(&e, "changes[0].weight", at(4), &["0"]);
    let ok = parse(&with(
        "[[changes]]\nat = \"5s\"\nreweight = \"web\"\nweight = 0\n",
    ))
    .unwrap();
    assert_eq!(
        ok.world.changes[0].action,
        lblab::model::ChangeAction::Reweight {
            group: 0,
            weight: 0
        }
    );
    let keyed = |keys: &str| {
        GOOD.replacen(
            "service = \"1ms\"",
            &format!("service = \"1ms\"\nkeys = {keys}"),
            1,
        )
    };
    let line = keyed("X")
        .lines()
        .position(|l| l.starts_with("keys"))
        .unwrap()
        + 1;
    let e = err(keyed("{ by = \"user\" }"));
    check(&e, "classes[0].keys.by", line, &["by = \"client\""]);
    let e = err(keyed("{ by = \"client\", count = 5 }"));
    check(&e, "classes[0].keys.count", line, &["does not go with"]);
    let s = parse(&keyed("{ by = \"client\" }")).unwrap();
    assert!(s.world.classes[0].keys.unwrap().by_client);
}
