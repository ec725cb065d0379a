//! `lblab import envoy`: clusters from the YAML and JSON configurations in
//! tests/data/import/envoy/ (a bootstrap with routes, a lone JSON cluster, a discovery
//! response with an EDS assignment) become fragments that parse and run with a workload;
//! every field is translated or commented; malformed files are refused at their line; no
//! input panics the importer.

use std::collections::BTreeMap;
use std::path::Path;

use lblab::balancer::priority::PriorityRule;
use lblab::import::{ImportError, Imported, envoy};
use lblab::model::{ActiveStyle, CheckType, SlowStartStyle};

use super::import::{Disk, data, files_in, never_panics, requests, scenario, weights};
use crate::support::{lblab, scratch};

fn env(rel: &str, cluster: Option<&str>) -> Result<Imported, ImportError> {
    envoy::import(
        &data(&format!("envoy/{rel}")),
        cluster,
        &Disk(BTreeMap::new()),
    )
}

#[test]
fn bootstrap_cluster_with_priorities_checks_outlier_detection_and_route_retries() {
    let i = env("envoy.yaml", Some("payments")).unwrap();
    let (s, text) = scenario(&i);
    // The DRAINING endpoint is left out; priority 1 comes after priority 0.
    assert_eq!(
        weights(&s),
        [
            ("10-0-1-11_8443".to_string(), 2, 0),
            ("10-0-1-12_8443".to_string(), 2, 0),
            ("10-1-1-21_8443".to_string(), 1, 1),
            ("10-1-1-22_8443".to_string(), 1, 1)
        ]
    );
    let w = &s.world;
    assert_eq!(w.algorithm.info().name, "envoy-least-request");
    assert_eq!(w.algorithm.params().int("choice_count"), 3);
    assert_eq!(
        w.lb.priority,
        Some(PriorityRule::Envoy {
            overprovisioning: 140
        })
    );
    assert_eq!(w.health.panic_threshold, 30.0);
    let active = w.health.active.as_ref().unwrap();
    assert_eq!(active.check, CheckType::Http);
    let ActiveStyle::Envoy(c) = &active.style else {
        panic!("{:?}", active.style)
    };
    assert_eq!(
        (c.interval.as_secs_f64(), c.timeout.as_secs_f64()),
        (5.0, 1.0)
    );
    assert_eq!((c.unhealthy_threshold, c.healthy_threshold), (3, 2));
    let o = w.health.outlier.as_ref().unwrap();
    assert_eq!((o.consecutive_5xx, o.max_ejection_percent), (3, 50));
    assert_eq!(o.base_ejection_time.as_secs_f64(), 15.0);
    let ss = w.health.slow_start.unwrap();
    assert_eq!(ss.window.as_secs_f64(), 30.0);
    assert!(matches!(ss.style, SlowStartStyle::Envoy { aggression, .. } if aggression == 2.0));
    // The route's own retry policy (not the virtual host's), its per-try timeout, and the
    // cluster's retry budget.
    let r = &w.lb.retry;
    assert_eq!(r.retries, 2);
    assert!(r.on_refused && r.on_timeout && r.on_5xx);
    let b = r.budget.unwrap();
    assert_eq!((b.percent, b.min_concurrency), (25.0, 5));
    assert_eq!(w.lb.upstream_timeout.map(|t| t.as_secs_f64()), Some(0.5));
    for needle in [
        "`retry_on retriable-4xx`",
        "health_status DRAINING`",
        "`route timeout 3s`",
        "`circuit_breakers.max_requests`",
        "`connect_timeout 0.25s`",
        "`locality`",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
}

#[test]
fn maglev_cluster_takes_the_virtual_host_retry_policy_and_hashes_the_source_ip() {
    let i = env("envoy.yaml", Some("catalog")).unwrap();
    let (s, text) = scenario(&i);
    let w = &s.world;
    assert_eq!(w.algorithm.info().name, "maglev");
    assert_eq!(w.algorithm.params().int("table_size"), 5003);
    assert_eq!(w.algorithm.params().word("hash_on"), "ip");
    assert_eq!(w.groups.len(), 3);
    assert_eq!(w.health.active.as_ref().unwrap().check, CheckType::Tcp);
    // No retry_policy on the route: the virtual host's (connect-failure, Envoy's default
    // one retry), bounded by the default max_retries 3; the default 15 s route timeout.
    let r = &w.lb.retry;
    assert_eq!(r.retries, 1);
    assert!(r.on_refused && !r.on_timeout && !r.on_5xx);
    let b = r.budget.unwrap();
    assert_eq!((b.percent, b.min_concurrency), (0.0, 3));
    assert_eq!(w.lb.upstream_timeout.map(|t| t.as_secs_f64()), Some(15.0));
    assert_eq!(w.health.panic_threshold, 50.0);
    assert!(text.contains("type STRICT_DNS"), "{text}");
}

#[test]
fn json_ring_hash_cluster_gets_envoys_ring_size() {
    let i = env("cluster.json", None).unwrap();
    let (s, text) = scenario(&i);
    assert_eq!(s.world.algorithm.info().name, "ketama");
    // minimum_ring_size 4096 over weights 1, 1, 2: 1024 points per unit of weight.
    assert_eq!(s.world.algorithm.params().int("points_per_weight"), 1024);
    assert_eq!(
        weights(&s).iter().map(|(_, w, _)| *w).collect::<Vec<_>>(),
        [1, 1, 2]
    );
    assert!(text.contains("no route hash_policy"), "{text}");
    // No route: no retries, no upstream timeout.
    assert_eq!(s.world.lb.retry.retries, 0);
    assert_eq!(s.world.lb.upstream_timeout, None);
}

#[test]
fn discovery_response_eds_cluster_and_load_balancing_policy() {
    let i = env("cds.yaml", None).unwrap();
    let (s, text) = scenario(&i);
    assert_eq!(i.name, "orders");
    assert_eq!(s.world.groups.len(), 4);
    assert_eq!(s.world.algorithm.info().name, "envoy-round-robin");
    assert!(
        text.contains("ClientSideWeightedRoundRobin`: lblab does not model it"),
        "{text}"
    );
    // `outlier_detection: {}` turns outlier detection on with Envoy's defaults.
    let o = s.world.health.outlier.as_ref().unwrap();
    assert_eq!((o.consecutive_5xx, o.max_ejection_percent), (5, 10));
}

#[test]
fn every_field_is_translated_or_commented() {
    for (i, min) in [
        (env("envoy.yaml", Some("payments")).unwrap(), 30),
        (env("envoy.yaml", Some("catalog")).unwrap(), 10),
        (env("cluster.json", None).unwrap(), 4),
    ] {
        let f = &i.fragment;
        assert!(f.directives.len() >= min, "{}: {:?}", i.name, f.directives);
        let text = f.to_toml();
        for at in &f.directives {
            let short = format!(
                "{}:{}",
                Path::new(&at.file).file_name().unwrap().to_string_lossy(),
                at.line
            );
            let mentioned = text
                .match_indices(&short)
                .any(|(k, _)| !text[k + short.len()..].starts_with(|c: char| c.is_ascii_digit()));
            assert!(mentioned, "{}: {short} not in the output:\n{text}", i.name);
        }
    }
}

#[test]
fn malformed_files_are_refused_at_their_line() {
    let cases = [
        ("syntax.yaml", 7, "not valid YAML"),
        ("duration.yaml", 6, "not a protobuf duration"),
        ("unknown-policy.yaml", 4, "unknown lb_policy \"LEAST_CONN\""),
        ("eds-without-endpoints.yaml", 1, "come from EDS"),
        ("merge-key.yaml", 7, "merge key"),
        ("duplicate-key.yaml", 5, "appears twice"),
        ("weight-zero.json", 4, "at least 1"),
        ("missing-threshold.yaml", 5, "needs healthy_threshold"),
        ("maglev-not-prime.yaml", 6, "not prime"),
        (
            "config-for-another-policy.yaml",
            6,
            "ring_hash_lb_config with lb_policy ROUND_ROBIN",
        ),
        ("invalid-utf8.yaml", 3, "not UTF-8"),
        ("two-documents.yaml", 9, "second YAML document"),
        ("percent-out-of-range.yaml", 10, "at most 100"),
    ];
    for (file, line, needle) in cases {
        let e = env(&format!("bad/{file}"), None).unwrap_err();
        assert_eq!(e.line, Some(line), "{file}: {e}");
        assert!(e.column.is_some(), "{file}: {e}");
        assert!(e.message.contains(needle), "{file}: {e}");
    }
    // On the command line: exit 2 with FILE:LINE:COLUMN, and the clusters to choose from.
    let o = lblab(&[
        "import",
        "envoy",
        data("envoy/envoy.yaml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--cluster NAME: payments (") && err.contains("catalog ("),
        "{err}"
    );
    let o = lblab(&[
        "import",
        "envoy",
        data("envoy/bad/duration.yaml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("duration.yaml:6:13: "));
}

/// Every Envoy test file cut after each line, and with bytes replaced at random: a fragment
/// or an error with a line, never a panic.
#[test]
fn truncated_and_corrupted_yaml_never_panics() {
    let files = files_in(&["envoy", "envoy/bad"]);
    let n = never_panics(
        &files,
        0x2545_F491_4F6C_DD1D,
        b"{}[]:,-&*!|>'\"# \n\t\xff\x00x5s",
        &["no cluster", "no configuration"],
        &|p, disk| {
            let cluster = p
                .file_name()
                .is_some_and(|n| n == "envoy.yaml")
                .then_some("payments");
            envoy::import(p, cluster, disk)
        },
    );
    assert!(n > 800, "{n}");
}

/// `lblab run WORKLOAD --config envoy.yaml --cluster NAME`: the format follows the file's
/// extension, untranslated fields come out as warnings, and traffic follows the priority
/// levels (priority 1 idle while priority 0 is healthy).
#[test]
fn run_config_runs_an_envoy_cluster_against_a_workload() {
    let dir = scratch("import-run-envoy");
    let workload = dir.join("workload.toml");
    std::fs::write(
        &workload,
        "[scenario]\nname = \"shop\"\nduration = \"30s\"\n\n[clients]\nrate = \"50/s\"\n\n[[classes]]\nservice = \"5ms\"\n",
    )
    .unwrap();
    let out = dir.join("out");
    let cfg = data("envoy/envoy.yaml");
    let r = lblab(&[
        "run",
        workload.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--cluster",
        "payments",
        "-r",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("not translated: `retry_on retriable-4xx`"),
        "{err}"
    );
    let servers = std::fs::read_to_string(out.join("servers.csv")).unwrap();
    let requests = |name: &str| requests(&servers, name);
    assert!(requests("10-0-1-11_8443") > 400);
    assert!(requests("10-0-1-12_8443") > 400);
    assert_eq!(requests("10-1-1-21_8443") + requests("10-1-1-22_8443"), 0);
}
