//! `lblab sweep`: grids, shards that merge into exactly the unsharded bytes, and `--resume`.

use std::process::Command;

use crate::support::root;

fn lblab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run lblab")
}

fn tmp(name: &str) -> std::path::PathBuf {
    crate::support::scratch(&format!("sweep-{name}"))
}

const BASE: &[&str] = &[
    "sweep",
    "scenarios/quick-start.toml",
    "--param",
    "clients.rate=300/s..600/s:100/s",
    "--param",
    "servers.web.slots=3,4",
    "--algorithms",
    "round-robin,least-connections",
    "-r",
    "2",
    "--set",
    "scenario.duration=20s",
    "-q",
];

fn sweep(out: &std::path::Path, extra: &[&str]) {
    let mut args = BASE.to_vec();
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let o = lblab(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn shards_merge_into_the_unsharded_bytes() {
    let d = tmp("shards");
    sweep(&d.join("all"), &[]);
    let whole = std::fs::read(d.join("all/sweep.csv")).unwrap();
    // 4 rates × 2 slot counts = 8 points; × 2 algorithms × (2 replications + 4 stats).
    let text = String::from_utf8(whole.clone()).unwrap();
    assert_eq!(text.lines().count(), 1 + 8 * 2 * (2 + 4));
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("clients.rate,servers.web.slots,stat")
    );
    for k in 1..=3 {
        sweep(&d.join(format!("s{k}")), &["--shard", &format!("{k}/3")]);
        assert!(
            !d.join(format!("s{k}/sweep.csv")).exists(),
            "a shard alone is not a complete sweep"
        );
    }
    let o = lblab(&[
        "merge",
        d.join("s1").to_str().unwrap(),
        d.join("s2").to_str().unwrap(),
        d.join("s3").to_str().unwrap(),
        "--out",
        d.join("m").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(d.join("m/sweep.csv")).unwrap(),
        whole,
        "merge differs from the unsharded run"
    );
    // The merged directory is what the unsharded run wrote: identity, charts, report.
    assert_eq!(
        std::fs::read(d.join("m/sweep.toml")).unwrap(),
        std::fs::read(d.join("all/sweep.toml")).unwrap()
    );
    let charts = chart_files(&d.join("all"));
    assert!(charts.len() >= 4, "{charts:?}");
    assert_eq!(chart_files(&d.join("m")), charts);
    for c in &charts {
        assert_eq!(
            std::fs::read(d.join("m").join(c)).unwrap(),
            std::fs::read(d.join("all").join(c)).unwrap(),
            "{c}"
        );
    }
    assert!(d.join("m/report.html").exists());
    let manifest = std::fs::read_to_string(d.join("m/manifest.toml")).unwrap();
    assert!(manifest.contains("command = \"") && manifest.contains(" merge "));
    assert_eq!(manifest.matches("--shard ").count(), 3, "{manifest}");
    // Missing shards are reported, not silently merged, and nothing looks complete.
    let o = lblab(&[
        "merge",
        d.join("s1").to_str().unwrap(),
        d.join("s2").to_str().unwrap(),
        "--out",
        d.join("m2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr).trim_end(),
        "lblab: shard 3 of 3 missing: run it with --shard 3/3, then merge again"
    );
    for f in ["manifest.toml", "report.html", "sweep.csv"] {
        assert!(!d.join("m2").join(f).exists(), "{f}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// The chart files of a results directory, sorted.
fn chart_files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg") || n.ends_with(".png"))
        .collect();
    v.sort();
    v
}

#[test]
fn merge_says_which_shard_or_field_is_wrong() {
    let d = tmp("merge-checks");
    let p = |name: &str| d.join(name).to_str().unwrap().to_string();
    for k in 1..=3 {
        sweep(&d.join(format!("s{k}")), &["--shard", &format!("{k}/3")]);
    }
    // Merges `dirs` into a fresh directory; expects exit code 2 with `needle` on stderr and
    // nothing in the destination that looks like a complete result.
    let refused = |dirs: &[&str], needle: &str| {
        let dest = p("refused");
        let mut args = vec!["merge"];
        args.extend_from_slice(dirs);
        args.extend(["--out", &dest]);
        let o = lblab(&args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "{needle:?} not in {err}");
        assert!(err.starts_with("lblab: "), "{err}");
        for f in ["manifest.toml", "report.html", "sweep.csv"] {
            assert!(!d.join("refused").join(f).exists(), "{f} after: {err}");
        }
        let _ = std::fs::remove_dir_all(d.join("refused"));
    };
    let (s1, s2, s3) = (p("s1"), p("s2"), p("s3"));
    // Another seed, another scenario (a --set that is not swept), another lblab version.
    sweep(&d.join("seed"), &["--shard", "3/3", "--seed", "7"]);
    refused(
        &[&s1, &s2, &p("seed")],
        &format!(
            "{} has seed 7, {s1} has 42: give every shard the same --seed",
            p("seed")
        ),
    );
    sweep(
        &d.join("digest"),
        &["--shard", "3/3", "--set", "servers.web.count=5"],
    );
    refused(
        &[&s1, &s2, &p("digest")],
        "the scenario file or its --set overrides changed between shards",
    );
    copy_dir(&d.join("s3"), &d.join("old"));
    let t = std::fs::read_to_string(d.join("old/sweep.toml")).unwrap();
    std::fs::write(
        d.join("old/sweep.toml"),
        t.replace(
            &format!("version = \"{}\"", env!("CARGO_PKG_VERSION")),
            "version = \"0.0.1\"",
        ),
    )
    .unwrap();
    refused(
        &[&s1, &s2, &p("old")],
        &format!(
            "{} has lblab version 0.0.1, {s1} has {}",
            p("old"),
            env!("CARGO_PKG_VERSION")
        ),
    );
    // A shard given twice, a shard of another split, an unfinished shard, one directory twice.
    copy_dir(&d.join("s2"), &d.join("s2b"));
    refused(
        &[&s1, &s2, &s3, &p("s2b")],
        &format!("lblab: shard 2/3 given twice: {s2} and {}", p("s2b")),
    );
    sweep(&d.join("q"), &["--shard", "2/4"]);
    refused(
        &[&s1, &p("q")],
        "shards of different splits (--shard K/3 and K/4)",
    );
    std::fs::remove_file(d.join("s2b/points/00004.csv")).unwrap();
    refused(
        &[&s1, &p("s2b"), &s3],
        &format!(
            "lblab: shard 2/3 in {} has 2 of its 3 points: rerun it with --resume",
            p("s2b")
        ),
    );
    refused(&[&s1, &s2, &s3, &format!("{s1}/")], "is given twice");
    // A point that differs where shards overlap.
    copy_dir(&d.join("s1"), &d.join("all"));
    for k in ["s2", "s3"] {
        for e in std::fs::read_dir(d.join(k).join("points")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), d.join("all/points").join(e.file_name())).unwrap();
        }
    }
    std::fs::remove_file(d.join("all/shard.toml")).unwrap();
    std::fs::write(
        d.join("all/manifest.toml"),
        std::fs::read_to_string(d.join("s1/shard.toml"))
            .unwrap()
            .split_once("\nshard = \"1/3\"\n")
            .unwrap()
            .1,
    )
    .unwrap();
    let p4 = d.join("all/points/00004.csv");
    let text = std::fs::read_to_string(&p4).unwrap();
    std::fs::write(&p4, text.replace("quick-start,", "quick-start-x,")).unwrap();
    refused(
        &[&p("all"), &s2],
        &format!(
            "lblab: point 4 (500/s, 3) differs between {} and {s2}",
            p("all")
        ),
    );
    std::fs::write(&p4, text).unwrap();
    // A whole sweep merges alone or with its shards; a destination holding another sweep
    // is refused.
    for dirs in [vec![p("all")], vec![p("all"), s2.clone(), s3.clone()]] {
        let mut args = vec!["merge", "-q"];
        args.extend(dirs.iter().map(String::as_str));
        let out = p("whole");
        args.extend(["--out", &out]);
        let o = lblab(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(d.join("whole/report.html").exists());
    }
    let o = lblab(&["merge", &s1, &s2, &s3, "--out", &p("seed")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds another sweep"));
    let _ = std::fs::remove_dir_all(&d);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to.join("points")).unwrap();
    for sub in ["", "points"] {
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), to.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
}

#[test]
fn resume_does_not_redo_finished_points() {
    let d = tmp("resume");
    let out = d.join("r");
    sweep(&out, &[]);
    let p0 = out.join("points/00000.csv");
    let p1 = out.join("points/00001.csv");
    // Mark point 0 (a resumed run must keep it as is; the mark keeps it valid CSV) and delete
    // point 1 (it must be redone).
    let marked = std::fs::read_to_string(&p0)
        .unwrap()
        .replace("quick-start,", "quick-start-kept,");
    std::fs::write(&p0, &marked).unwrap();
    let original1 = std::fs::read_to_string(&p1).unwrap();
    std::fs::remove_file(&p1).unwrap();
    sweep(&out, &["--resume"]);
    assert_eq!(
        std::fs::read_to_string(&p0).unwrap(),
        marked,
        "point 0 was recomputed"
    );
    assert_eq!(
        std::fs::read_to_string(&p1).unwrap(),
        original1,
        "point 1 was not redone identically"
    );
    // A different sweep in the same directory is refused with --resume.
    let mut args = BASE.to_vec();
    args[3] = "clients.rate=100/s,200/s";
    args.extend(["--out", out.to_str().unwrap(), "--resume"]);
    let o = lblab(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("different sweep"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ranges_and_lists_expand() {
    let d = tmp("ranges");
    let out = d.join("x");
    let o = lblab(&[
        "sweep",
        "scenarios/quick-start.toml",
        "--param",
        "clients.rate=100/s..300/s:100/s",
        "-r",
        "2",
        "--set",
        "scenario.duration=20s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    for v in ["100/s", "200/s", "300/s"] {
        assert!(text.contains(&format!(",{v},")), "{v}");
    }
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("clients.rate") && table.contains("200/s"),
        "{table}"
    );
    for bad in [
        "clients.rate=5..1:1",
        "clients.rate=1/s..5ms:1",
        "scenario.seed=1,2",
        "nokey",
    ] {
        let o = lblab(&[
            "sweep",
            "scenarios/quick-start.toml",
            "--param",
            bad,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// `--metric` names the table's metric as `--metrics` names rows (a short name works); a
/// name that is none is refused with exit 2 before anything runs or is written, by `sweep`
/// and by `merge` alike.
#[test]
fn the_table_metric_is_checked_before_anything_runs() {
    let d = tmp("metric");
    let small = |out: &std::path::Path, metric: &str| {
        lblab(&[
            "sweep",
            "scenarios/quick-start.toml",
            "--param",
            "clients.rate=300/s,600/s",
            "--algorithms",
            "round-robin",
            "-r",
            "2",
            "--set",
            "scenario.duration=20s",
            "--metric",
            metric,
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let o = small(&d.join("mean"), "mean");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("quick-start: latency_mean_ms by point"),
        "{}",
        text(&o.stdout)
    );
    let typo = "--metric: no metric named `p9`; did you mean `p90`?";
    let o = small(&d.join("typo"), "p9");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains(typo), "{}", text(&o.stderr));
    assert!(!d.join("typo").exists(), "nothing written");
    let mean = d.join("mean");
    let mean = mean.to_str().unwrap();
    let o = lblab(&["merge", mean, "--metric", "p9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains(typo), "{}", text(&o.stderr));
    let o = lblab(&["merge", mean, "--metric", "p99"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("quick-start: latency_p99_ms by point"),
        "{}",
        text(&o.stdout)
    );
    let _ = std::fs::remove_dir_all(&d);
}
