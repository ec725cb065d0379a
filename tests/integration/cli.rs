//! The `lblab` binary: determinism across runs and `--jobs`, the results layout, formats,
//! and exit codes for bad input.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::root;

fn tmp(name: &str) -> PathBuf {
    crate::support::scratch(&format!("it-{name}"))
}

use crate::support::lblab;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const QUICK: &[&str] = &[
    "--set",
    "scenario.duration=40s",
    "--set",
    "scenario.warmup=5s",
    "-r",
    "4",
    "-q",
];

#[test]
fn same_seed_gives_byte_identical_csvs_whatever_the_jobs() {
    let d = tmp("determinism");
    for cmd in ["run", "compare"] {
        let mut outs = Vec::new();
        for (k, jobs) in ["1", "2", "1"].iter().enumerate() {
            let out = d.join(format!("{cmd}-{k}"));
            let mut args = vec![
                cmd,
                "scenarios/slow-query.toml",
                "--jobs",
                jobs,
                "--out",
                out.to_str().unwrap(),
            ];
            args.extend_from_slice(QUICK);
            let o = lblab(&args);
            assert!(o.status.success(), "{}", stderr(&o));
            outs.push((
                read(&out.join("summary.csv")),
                read(&out.join("servers.csv")),
            ));
        }
        assert!(outs[0] == outs[1], "{cmd}: --jobs 1 and --jobs 2 differ");
        assert!(
            outs[0] == outs[2],
            "{cmd}: two runs with the same seed differ"
        );
    }
    // A different seed changes the numbers.
    let out = d.join("seed");
    let mut args = vec![
        "run",
        "scenarios/slow-query.toml",
        "--seed",
        "8",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(QUICK);
    assert!(lblab(&args).status.success());
    assert_ne!(
        read(&out.join("summary.csv")),
        read(&d.join("run-0").join("summary.csv"))
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn results_directory_is_complete_and_tidy() {
    let d = tmp("layout");
    let out = d.join("r");
    let mut args = vec![
        "compare",
        "scenarios/slow-query.toml",
        "--algorithms",
        "round-robin,least-connections",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(QUICK);
    let o = lblab(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for want in [
        "latency.csv",
        "manifest.toml",
        "paired.csv",
        "servers.csv",
        "summary.csv",
        "timeseries.csv",
        "report.html",
        "latency-percentiles.svg",
        "latency-percentiles.png",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no temporary files left behind: {names:?}"
    );

    let summary = String::from_utf8(read(&out.join("summary.csv"))).unwrap();
    let mut rdr = csv::Reader::from_reader(summary.as_bytes());
    let header = rdr.headers().unwrap().clone();
    assert_eq!(
        header.iter().take(5).collect::<Vec<_>>(),
        ["scenario", "variant", "algorithm", "stat", "replication"]
    );
    assert!(header.iter().any(|h| h == "latency_p99_ms"));
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    for alg in ["round-robin", "least-connections"] {
        let per_rep = rows
            .iter()
            .filter(|r| &r[1] == alg && &r[3] == "value")
            .count();
        assert_eq!(per_rep, 4, "{alg}: one row per replication");
        for stat in ["mean", "ci95_lo", "ci95_hi", "sd"] {
            assert_eq!(
                rows.iter()
                    .filter(|r| &r[1] == alg && &r[3] == stat)
                    .count(),
                1,
                "{alg} {stat}"
            );
        }
    }
    let servers = String::from_utf8(read(&out.join("servers.csv"))).unwrap();
    assert_eq!(
        servers.lines().filter(|l| l.contains(",value,")).count(),
        2 * 4 * 8
    );

    let manifest: toml::Table = String::from_utf8(read(&out.join("manifest.toml")))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(manifest["seed"].as_integer(), Some(7));
    assert_eq!(manifest["replications"].as_integer(), Some(4));
    assert!(
        manifest["scenario_hash"]
            .as_str()
            .unwrap()
            .starts_with("fnv1a64:")
    );
    assert!(manifest["command"].as_str().unwrap().contains("compare"));
    // The version and the commit it was built from, as `lblab --version` says.
    assert_eq!(
        manifest["lblab_version"].as_str(),
        Some(env!("LBLAB_VERSION_LONG"))
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn table_json_and_csv_formats() {
    let d = tmp("formats");
    let out = d.join("o");
    let base = [
        "run",
        "scenarios/slow-query.toml",
        "--set",
        "scenario.duration=30s",
        "-r",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = lblab(&base);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    for want in [
        "latency p99",
        "± ",
        "ms",
        "req/s",
        "per server",
        "db-8",
        "results:",
    ] {
        assert!(table.contains(want), "table lacks {want:?}:\n{table}");
    }
    let mut args = base.to_vec();
    args.extend(["--format", "json"]);
    let o = lblab(&args);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON");
    assert_eq!(v["scenario"], "slow-query");
    let metrics = v["algorithms"][0]["metrics"].as_array().unwrap();
    let p99 = metrics
        .iter()
        .find(|m| m["key"] == "latency_p99_ms")
        .unwrap();
    assert_eq!(p99["values"].as_array().unwrap().len(), 2);
    let mut args = base.to_vec();
    args.extend(["--format", "csv"]);
    let o = lblab(&args);
    assert_eq!(
        o.stdout,
        read(&out.join("summary.csv")),
        "--format csv prints summary.csv"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_input_exits_2_with_located_errors_and_no_panic() {
    let d = tmp("bad");
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "[scenario]\nduration = \"10s\"\n[clients]\nrate = \"lots\"\n[[classes]]\nservice = \"1ms\"\n[[servers]]\nslot = 2\n").unwrap();
    for cmd in ["run", "validate", "compare"] {
        let o = lblab(&[cmd, bad.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{cmd}");
        let e = stderr(&o);
        assert!(e.contains("bad.toml:4:8: clients.rate"), "{cmd}: {e}");
        assert!(
            e.contains("bad.toml:8:1: servers[0].slot") && e.contains("did you mean `slots`"),
            "{cmd}: {e}"
        );
        assert!(
            !e.contains("panicked") && !e.contains("RUST_BACKTRACE"),
            "{e}"
        );
    }
    let o = lblab(&["run", "does/not/exist.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read scenario"),
        "{}",
        stderr(&o)
    );
    let o = lblab(&[
        "run",
        "scenarios/slow-query.toml",
        "--set",
        "servers.db.slots=zero",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--set servers.db.slots=zero"),
        "{}",
        stderr(&o)
    );
    let o = lblab(&["run", "--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    let o = lblab(&[
        "run",
        "scenarios/slow-query.toml",
        "--algorithm",
        "round-robbin",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean `round-robin`"),
        "{}",
        stderr(&o)
    );
    // Nothing was written for a rejected scenario.
    assert!(!root().join("results").join("bad").exists());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_failed_simulation_exits_1_and_says_how_to_reproduce() {
    let d = tmp("cap");
    let f = d.join("cap.toml");
    // Closed loop with zero think and service time: endless events at one instant.
    std::fs::write(&f, "[scenario]\nduration = \"1s\"\nmax_events = 1000\n[clients]\nmode = \"closed\"\nusers = 3\n[[classes]]\nservice = \"0s\"\n[[servers]]\n").unwrap();
    let out = d.join("o");
    let o = lblab(&["run", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("event cap") && e.contains("reproduce with"),
        "{e}"
    );
    assert!(
        !out.join("manifest.toml").exists(),
        "no results for a failed run"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn validate_and_list() {
    let o = lblab(&[
        "validate",
        "scenarios/slow-query.toml",
        "scenarios/mmc.toml",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).matches("ok: ").count(), 2);
    let o = lblab(&["list", "algorithms"]);
    let s = stdout(&o);
    for a in [
        "round-robin",
        "weighted-round-robin",
        "least-connections",
        "weighted-least-connections",
        "random",
        "power-of-d",
    ] {
        assert!(s.lines().any(|l| l.starts_with(a)), "{a} missing:\n{s}");
    }
    let o = lblab(&["list", "distributions"]);
    let s = stdout(&o);
    for d in [
        "constant",
        "exponential",
        "uniform",
        "lognormal",
        "bounded-pareto",
        "mixture",
        "empirical",
    ] {
        assert!(s.contains(d), "{d} missing");
    }
    let o = lblab(&["list", "scenarios"]);
    assert!(stdout(&o).contains("slow-query"));
    assert!(stdout(&o).contains("lesson: "));
}

/// `compare` pairs each variant with the baseline replication by replication; the paired
/// interval shrinks as replications grow (as 1/√n: 4 → 16 halves it, up to noise).
#[test]
fn paired_intervals_shrink_with_replications() {
    let d = tmp("paired");
    let ci = |reps: &str| -> f64 {
        let out = d.join(format!("r{reps}"));
        let o = lblab(&[
            "compare",
            "scenarios/quick-start.toml",
            "--algorithms",
            "round-robin,least-connections",
            "-r",
            reps,
            "--set",
            "scenario.duration=30s",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = String::from_utf8(read(&out.join("paired.csv"))).unwrap();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let h = rdr.headers().unwrap().clone();
        let col = |n: &str| h.iter().position(|c| c == n).unwrap();
        let (metric, base, half) = (col("metric"), col("baseline"), col("diff_ci95_half"));
        let row = rdr
            .records()
            .map(Result::unwrap)
            .find(|r| &r[metric] == "latency_mean_ms")
            .expect("latency_mean_ms row");
        assert_eq!(&row[base], "round-robin");
        row[half].parse().unwrap()
    };
    let (few, many) = (ci("4"), ci("16"));
    assert!(
        many < 0.75 * few,
        "paired CI {few} with 4 replications, {many} with 16"
    );
    let _ = std::fs::remove_dir_all(&d);
}

/// `--baseline` chooses the variant the others are paired with: the table says "versus"
/// it, paired.csv names it and pairs the other with it; a label that is no variant is
/// refused before anything runs, with the labels there are.
#[test]
fn baseline_chooses_the_variant_the_others_are_paired_with() {
    let d = tmp("baseline");
    let compare = |baseline: &str, out: &std::path::Path| {
        lblab(&[
            "compare",
            "scenarios/quick-start.toml",
            "--algorithms",
            "round-robin,least-connections",
            "--baseline",
            baseline,
            "-r",
            "2",
            "--set",
            "scenario.duration=20s",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = compare("least-connections", &d.join("lc"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("versus least-connections ("),
        "{}",
        stdout(&o)
    );
    let paired = String::from_utf8(read(&d.join("lc/paired.csv"))).unwrap();
    let mut rdr = csv::Reader::from_reader(paired.as_bytes());
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (base, variant) = (col("baseline"), col("variant"));
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(
            (&r[base], &r[variant]),
            ("least-connections", "round-robin")
        );
    }
    let out = d.join("none");
    let o = compare("leastconn", &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "--baseline leastconn is not one of the variants: round-robin, least-connections"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists(), "nothing written");
    let _ = std::fs::remove_dir_all(&d);
}

/// Variants with different servers (an axis over a group's `count`): the terminal's
/// per-server table has a row for every server of any variant, in its place, with "—"
/// where a variant has no such server.
#[test]
fn the_server_table_lists_every_variants_servers_by_name() {
    let out = tmp("server-union");
    let o = lblab(&[
        "compare",
        "scenarios/quick-start.toml",
        "--axis",
        "servers.web.count=2,4",
        "--set",
        "scenario.duration=20s",
        "--set",
        "scenario.warmup=2s",
        "-r",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("per server"))
        .skip(2)
        .take_while(|l| !l.trim().is_empty())
        .collect();
    let rows: Vec<Vec<&str>> = table
        .iter()
        .map(|l| {
            l.split("  ")
                .filter(|c| !c.trim().is_empty())
                .map(str::trim)
                .collect()
        })
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(names[..4], ["web-1", "web-2", "web-3", "web-4"], "{text}");
    assert_eq!(rows[2][1], "—", "{text}");
    assert_eq!(rows[3][1], "—", "{text}");
    assert_ne!(rows[2][2], "—", "{text}");
}
