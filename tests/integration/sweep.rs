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
    // Missing shards are reported, not silently merged.
    let o = lblab(&[
        "merge",
        d.join("s1").to_str().unwrap(),
        d.join("s2").to_str().unwrap(),
        "--out",
        d.join("m2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing"));
    let _ = std::fs::remove_dir_all(&d);
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
