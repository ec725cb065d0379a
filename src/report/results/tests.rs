use super::*;

fn load_with(files: &[(&'static str, String)]) -> Result<Results, LoadError> {
    Results::load(&|name| {
        Ok(files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.clone()))
    })
}

#[test]
fn loads_every_file_of_a_compare_directory() {
    let r = fixture::load(&fixture::compare());
    assert!(r.manifest.present);
    assert_eq!(r.scenario(), "fixture");
    assert_eq!(r.manifest.parameters.len(), 2);
    assert_eq!(
        r.algorithms(),
        ["round-robin", "least-connections", "power-of-two"]
    );
    let s = r.summary.as_ref().unwrap();
    assert_eq!(s.metrics.len(), crate::metrics::METRICS.len());
    let e = s.estimate("least-connections", "latency_p99_ms").unwrap();
    assert!(e.lo < e.mean && e.mean < e.hi);
    assert!(s.estimate("nope", "latency_p99_ms").is_none());
    assert!(
        s.estimate("round-robin", "cache_hit_ratio_pct")
            .unwrap()
            .mean
            .is_nan()
    );
    assert_eq!(r.servers.as_ref().unwrap().len(), 3 * 4 * 4);
    assert_eq!(r.latency.as_ref().unwrap().len(), 3 * 5 * 52);
    let ts = r.timeseries.as_ref().unwrap();
    assert!(ts.iter().any(|b| b.p99_ms.is_nan()));
    assert_eq!(r.failovers.as_ref().unwrap().len(), 6);
    assert!(r.health.as_ref().unwrap().iter().any(|h| h.false_alarm));
    assert_eq!(r.changes.as_ref().unwrap()[0].action, "add web-5");
    let lf = r.lb_failovers.as_ref().unwrap();
    assert_eq!(lf.len(), 6);
    assert_eq!((lf[2].node.as_str(), lf[2].failover_s), ("lb-1", 43.25));
    assert_eq!(lf[2].lost, 1201.0);
    let ha = r.ha.as_ref().unwrap();
    assert_eq!(ha.len(), 30);
    assert_eq!(
        (ha[1].node.as_str(), ha[1].event.as_str()),
        ("lb-2", "master")
    );
    assert!(r.sweep.is_none());
}

#[test]
fn optional_files_may_be_missing() {
    let files: Vec<_> = fixture::compare()
        .into_iter()
        .filter(|(n, _)| *n == "summary.csv")
        .collect();
    let r = load_with(&files).unwrap();
    assert!(!r.manifest.present);
    assert!(r.servers.is_none() && r.latency.is_none() && r.timeseries.is_none());
    assert!(r.failovers.is_none() && r.health.is_none() && r.changes.is_none());
    assert!(r.lb_failovers.is_none() && r.ha.is_none());
    assert_eq!(r.scenario(), "fixture");
}

#[test]
fn a_directory_without_summary_or_sweep_is_an_error() {
    let e = load_with(&[]).unwrap_err();
    assert_eq!(e.file, "summary.csv");
    assert!(e.to_string().contains("not an lblab results directory"));
}

#[test]
fn sweep_keys_points_and_estimates() {
    let r = fixture::load(&fixture::sweep());
    let s = r.sweep.as_ref().unwrap();
    assert_eq!(s.keys, ["clients.rate", "servers.web.slots"]);
    assert_eq!(s.metrics, ["throughput_rps", "latency_p99_ms"]);
    let pts = s.points();
    assert_eq!(pts.len(), 6);
    assert_eq!(pts[5].1, ["900/s", "2"]);
    let e = s
        .estimate("least-connections", 0, "throughput_rps")
        .unwrap();
    assert_eq!((e.lo, e.mean, e.hi), (299.0, 300.0, 301.0));
}

#[test]
fn a_bad_number_names_file_line_and_column() {
    let mut files = fixture::compare();
    let s = &mut files
        .iter_mut()
        .find(|(n, _)| *n == "servers.csv")
        .unwrap()
        .1;
    let mut lines: Vec<String> = s.lines().map(String::from).collect();
    lines[3] = lines[3].replacen(",web,", ",web,abc", 1);
    *s = lines.join("\n");
    let e = load_with(&files).unwrap_err();
    assert_eq!(e.file, "servers.csv");
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("requests"), "{e}");
    assert!(e.to_string().starts_with("servers.csv:4: "), "{e}");
}

#[test]
fn a_short_row_or_missing_column_is_located() {
    let mut files = fixture::compare();
    files
        .iter_mut()
        .find(|(n, _)| *n == "latency.csv")
        .unwrap()
        .1
        .push_str("fixture,x,value\n");
    let e = load_with(&files).unwrap_err();
    assert_eq!(e.file, "latency.csv");
    assert_eq!(e.line, Some(3 * 5 * 52 + 2));
    assert!(e.message.contains("fields"), "{e}");

    let files = vec![
        (
            "summary.csv",
            "scenario,algorithm,stat,replication\n".into(),
        ),
        ("health.csv", "scenario,algorithm\n".into()),
    ];
    let e = load_with(&files).unwrap_err();
    assert_eq!(e.to_string(), "health.csv:1: missing column `replication`");
}

#[test]
fn a_broken_manifest_is_located() {
    let files = vec![
        (
            "summary.csv",
            "scenario,algorithm,stat,replication\n".into(),
        ),
        ("manifest.toml", "seed = 1\nscenario = \n".into()),
    ];
    let e = load_with(&files).unwrap_err();
    assert_eq!(e.file, "manifest.toml");
    assert_eq!(e.line, Some(2));
}
