//! An override is never dropped: every combination of `-a/--algorithms`, `--axis`,
//! `--param` and `--set` either takes effect (and is recorded in the manifest) or is
//! refused with exit code 2 saying why — for run, compare, sweep and trace.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A small scenario where nginx's passive check matters: a server crashes and refuses.
const SCENARIO: &str = r#"
[scenario]
name = "ovr"
description = "Override test: a crash under round robin and least-connections."
seed = 5
duration = "30s"
warmup = "2s"
replications = 2

[clients]
rate = "200/s"

[[classes]]
service = { dist = "exponential", mean = "10ms" }

[[servers]]
name = "s"
count = 3
slots = 2

[[failures]]
target = "s-2"
kind = "crash"
at = "10s"
duration = "10s"

[balancer]
algorithm = "round-robin"

[compare]
algorithms = ["round-robin", "least-connections"]
"#;

fn dir(name: &str) -> PathBuf {
    let d = crate::support::scratch(&format!("ovr-{name}"));
    std::fs::write(d.join("ovr.toml"), SCENARIO).unwrap();
    d
}

fn lblab(d: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args(args)
        .arg("-q")
        .current_dir(d)
        .output()
        .expect("run lblab")
}

fn lblab_loud(d: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args(args)
        .current_dir(d)
        .output()
        .expect("run lblab")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn manifest(d: &Path, out: &str) -> String {
    std::fs::read_to_string(d.join(out).join("manifest.toml")).unwrap()
}

#[test]
fn run_applies_set_after_the_algorithm_and_refuses_bad_values() {
    let d = dir("run");
    let o = lblab(
        &d,
        &[
            "run",
            "ovr.toml",
            "-a",
            "least-connections",
            "--set",
            "balancer.max_fails=banana",
            "-o",
            "x",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("balancer.max_fails"), "{}", err(&o));
    let o = lblab(
        &d,
        &[
            "run",
            "ovr.toml",
            "-a",
            "least-connections",
            "--set",
            "balancer.max_fails=0",
            "-o",
            "r",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let m = manifest(&d, "r");
    assert!(
        m.contains("algorithm = \"least-connections(max_fails=0)\""),
        "{m}"
    );
    assert!(
        m.contains(
            r#"sets = ['balancer={ algorithm = "least-connections" }', "balancer.max_fails=0"]"#
        ),
        "{m}"
    );
    // Choosing the algorithm twice is refused, not resolved silently.
    let o = lblab(
        &d,
        &[
            "run",
            "ovr.toml",
            "-a",
            "least-connections",
            "--set",
            "balancer.algorithm=random",
            "-o",
            "y",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("give the algorithm once"), "{}", err(&o));
    // A parameter the named algorithm does not have is an error naming it.
    let o = lblab(
        &d,
        &[
            "run",
            "ovr.toml",
            "-a",
            "random",
            "--set",
            "balancer.max_fails=0",
            "-o",
            "z",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("max_fails"), "{}", err(&o));
}

#[test]
fn trace_keeps_every_set_after_the_algorithm() {
    let d = dir("trace");
    let o = lblab_loud(
        &d,
        &[
            "trace",
            "ovr.toml",
            "-a",
            "haproxy-leastconn",
            "--set",
            "balancer.ties=fifo",
            "--set",
            "clients.rate=100/s",
            "-n",
            "3",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("haproxy-leastconn(ties=fifo)"), "{out}");
}

#[test]
fn compare_applies_balancer_parameters_to_the_algorithms_that_have_them() {
    let d = dir("compare");
    // Both named algorithms have max_fails: it applies to both; round-robin (the file's
    // own algorithm) is never consulted.
    let o = lblab(
        &d,
        &[
            "compare",
            "ovr.toml",
            "--algorithms",
            "least-connections,weighted-least-connections",
            "--set",
            "balancer.max_fails=0",
            "-o",
            "a",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let m = manifest(&d, "a");
    assert!(
        m.contains(
            "\"least-connections(max_fails=0)\", \"weighted-least-connections(max_fails=0)\""
        ),
        "{m}"
    );
    // Only one has it: applied there, and said so.
    let o = lblab_loud(
        &d,
        &[
            "compare",
            "ovr.toml",
            "--algorithms",
            "least-connections,round-robin",
            "--set",
            "balancer.max_fails=0",
            "-o",
            "b",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("applies to least-connections only"), "{out}");
    assert!(manifest(&d, "b").contains("applies to least-connections only"));
    // None has it: refused, naming them.
    let o = lblab(
        &d,
        &[
            "compare",
            "ovr.toml",
            "--algorithms",
            "round-robin,random",
            "--set",
            "balancer.max_fails=0",
            "-o",
            "c",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("round-robin, random"), "{}", err(&o));
    // The scenario's [compare] list gets the user's parameter too (it used to be dropped).
    let o = lblab(
        &d,
        &[
            "compare",
            "ovr.toml",
            "--set",
            "balancer.max_fails=3",
            "-o",
            "d",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let m = manifest(&d, "d");
    assert!(m.contains("least-connections(max_fails=3)"), "{m}");
    // Setting and varying the same key is refused.
    let o = lblab(
        &d,
        &[
            "compare",
            "ovr.toml",
            "--set",
            "clients.rate=100/s",
            "--axis",
            "clients.rate=100/s,200/s",
            "-o",
            "e",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("varies what --set"), "{}", err(&o));
    // An axis over a balancer parameter crossed with algorithms applies where it can.
    let o = lblab(
        &d,
        &[
            "compare",
            "ovr.toml",
            "--algorithms",
            "least-connections,round-robin",
            "--axis",
            "balancer.max_fails=0,1",
            "-o",
            "f",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let m = manifest(&d, "f");
    assert!(
        m.contains("--axis balancer.max_fails applies to least-connections only"),
        "{m}"
    );
    // The failure hint reproduces a variant with every override.
    assert!(m.contains(r#""balancer.max_fails=1"]"#), "{m}");
}

#[test]
fn compare_says_when_variants_differ_in_more_than_the_algorithm() {
    let d = dir("hidden");
    let o = lblab_loud(&d, &["compare", "ovr.toml", "-o", "h"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let out = String::from_utf8_lossy(&o.stdout).replace("\n  ", " ");
    assert!(out.contains("not only the algorithm differs"), "{out}");
    assert!(out.contains("passive check (max_fails/fail_timeout) is on in least-connections (1/10s; took servers out"), "{out}");
    // Holding it equal removes the note.
    let o = lblab_loud(
        &d,
        &[
            "compare",
            "ovr.toml",
            "--set",
            "balancer.max_fails=0",
            "-o",
            "i",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("not only the algorithm differs"), "{out}");
}

#[test]
fn sweep_applies_balancer_parameters_to_compare_entries() {
    let d = dir("sweep");
    let o = lblab(
        &d,
        &[
            "sweep",
            "ovr.toml",
            "--param",
            "balancer.max_fails=0,1",
            "-o",
            "s",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let csv = std::fs::read_to_string(d.join("s/sweep.csv")).unwrap();
    // least-connections' errors depend on max_fails (the crash refuses connections);
    // before, the swept value was silently dropped for [compare] entries.
    let col = |name: &str| {
        csv.lines()
            .next()
            .unwrap()
            .split(',')
            .position(|c| c == name)
            .unwrap()
    };
    let (alg, stat, errors, key) = (
        col("algorithm"),
        col("stat"),
        col("errors"),
        col("balancer.max_fails"),
    );
    let errs = |mf: &str| -> f64 {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f[alg] == "least-connections" && f[stat] == "mean" && f[key] == mf)
            .map(|f| f[errors].parse().unwrap())
            .unwrap()
    };
    assert!(
        errs("0") > errs("1"),
        "max_fails=0 {} vs 1 {}",
        errs("0"),
        errs("1")
    );
    let m = manifest(&d, "s");
    assert!(
        m.contains("--param balancer.max_fails applies to least-connections only"),
        "{m}"
    );
    // Sweeping a key the user also sets is refused.
    let o = lblab(
        &d,
        &[
            "sweep",
            "ovr.toml",
            "--set",
            "clients.rate=100/s",
            "--param",
            "clients.rate=100/s,200/s",
            "-o",
            "t",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
}

/// Tidy results: the varied key has its own column in every CSV, `algorithm` holds the
/// algorithm (not `KEY=V`), and `variant` names the row's variant.
#[test]
fn every_csv_has_a_column_per_varied_key() {
    let d = dir("tidy");
    let o = lblab(
        &d,
        &[
            "compare",
            "ovr.toml",
            "--axis",
            "clients.rate=100/s,200/s",
            "-o",
            "t",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let mut seen = 0;
    for e in std::fs::read_dir(d.join("t")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "csv") {
            continue;
        }
        seen += 1;
        let mut r = csv::Reader::from_path(&p).unwrap();
        let h = r.headers().unwrap().clone();
        let col = |n: &str| {
            h.iter()
                .position(|c| c == n)
                .unwrap_or_else(|| panic!("{}: no column {n}: {h:?}", p.display()))
        };
        let (v, a, k) = (col("variant"), col("algorithm"), col("clients.rate"));
        for rec in r.records() {
            let rec = rec.unwrap();
            assert_eq!(&rec[a], "round-robin", "{}", p.display());
            assert_eq!(
                rec[v],
                format!("clients.rate={}", &rec[k]),
                "{}",
                p.display()
            );
        }
    }
    assert!(seen >= 6, "only {seen} CSV files");
}
