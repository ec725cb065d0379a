//! The scenarios embedded in the binary: usable from any directory by name, copied with
//! `lblab new`, and every one runs under `lblab compare` as shipped.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A fresh directory outside the repository.
fn elsewhere(name: &str) -> PathBuf {
    crate::support::scratch(&format!("bundled-{name}"))
}

fn lblab(dir: &PathBuf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run lblab")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn list_run_and_new_work_outside_the_repository() {
    let d = elsewhere("use");
    let o = lblab(&d, &["list", "scenarios"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    for name in lblab::scenario::bundled::names() {
        assert!(out.contains(name), "{name} missing from:\n{out}");
    }
    assert!(out.contains("lesson: "), "{out}");
    assert!(!out.contains("does not parse"), "{out}");
    // A bundled name runs, and lblab says which scenario it used.
    let o = lblab(
        &d,
        &[
            "run",
            "slow-query",
            "-r",
            "1",
            "--set",
            "scenario.duration=30s",
            "--set",
            "scenario.warmup=5s",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("using the bundled scenario slow-query"));
    assert!(d.join("results/slow-query/run/manifest.toml").exists());
    // A typo gets a suggestion and exit 2.
    let o = lblab(&d, &["compare", "slow-qeury"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("did you mean `slow-query`"),
        "{}",
        text(&o.stderr)
    );
    // An editable copy, renamed; a path wins over the bundled name from then on.
    let o = lblab(&d, &["new", "mine", "--from", "slow-query"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let copy = std::fs::read_to_string(d.join("mine.toml")).unwrap();
    assert!(copy.contains("name = \"mine\""));
    let o = lblab(&d, &["new", "mine"]);
    assert_eq!(o.status.code(), Some(2), "no silent overwrite");
    assert_eq!(std::fs::read_to_string(d.join("mine.toml")).unwrap(), copy);
    // --force overwrites: now a copy of quick-start, the default.
    let o = lblab(&d, &["new", "mine", "--force"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let forced = std::fs::read_to_string(d.join("mine.toml")).unwrap();
    assert!(
        forced.contains("name = \"mine\"") && forced != copy,
        "{forced}"
    );
    std::fs::write(d.join("slow-query"), copy.replace("seed = 7", "seed = 8")).unwrap();
    let o = lblab(&d, &["validate", "slow-query"]);
    assert!(o.status.success());
    assert!(!text(&o.stderr).contains("bundled"), "the file wins");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn every_bundled_scenario_runs_under_compare_as_shipped() {
    for name in lblab::scenario::bundled::names() {
        let (_, variants, notes) = lblab::cli::variants::compare_variants(
            std::path::Path::new(name),
            &[],
            &[],
            None,
            &|_| {},
        )
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(
            variants.len() >= 2,
            "{name}: compares {} variant(s)",
            variants.len()
        );
        // A comparison of presets lists what they set differently (that is what it
        // compares); nothing else may differ.
        assert!(
            notes.iter().all(|n| lblab::cli::variants::is_declared(n)),
            "{name}: {notes:?}"
        );
        let s = lblab::scenario::parse(
            name,
            lblab::scenario::bundled::find(name).unwrap(),
            std::path::Path::new("."),
            &[],
            // Only the bundled configurations: nothing from the filesystem.
            &|p| {
                lblab::scenario::bundled::config(p)
                    .map(str::to_string)
                    .ok_or_else(|| std::io::Error::other("no files"))
            },
        )
        .unwrap();
        assert!(
            !s.question.is_empty() && !s.lesson.is_empty(),
            "{name}: question and lesson"
        );
    }
}
