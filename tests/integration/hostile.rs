//! Hostile scenario files: text that is not UTF-8, UTF-16, nesting deep enough to stop
//! the TOML reader, tens of thousands of problems, and a great many server groups. Each
//! is refused with exit code 2 and a message that says where, in bounded output.

use std::path::{Path, PathBuf};

use crate::support::{root, scratch};

use crate::support::lblab;

fn file(dir: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let p = scratch(dir).join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn validate(p: &Path) -> (Option<i32>, String) {
    let o = lblab(&["validate", p.to_str().unwrap()]);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn quick_start() -> Vec<u8> {
    std::fs::read(root().join("scenarios/quick-start.toml")).unwrap()
}

#[test]
fn text_that_is_not_utf8_is_refused_with_its_line_and_column() {
    let text = String::from_utf8(quick_start()).unwrap();
    let at = text
        .find("name = \"web\"")
        .expect("quick-start names its group web");
    let line = text[..at].matches('\n').count() + 1;
    let mut bytes = quick_start();
    // `name = "w?b"` with 0xFF for the `e`: column 10 of that line.
    bytes[at + 9] = 0xFF;
    let (code, err) = validate(&file("hostile-utf8", "bad.toml", &bytes));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("line {line}, column 10")) && err.contains("0xFF"),
        "{err}"
    );
}

#[test]
fn utf16_is_named_and_a_utf8_byte_order_mark_is_read() {
    let text = String::from_utf8(quick_start()).unwrap();
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    for (name, bytes) in [("le.toml", le), ("be-no-bom.toml", be)] {
        let (code, err) = validate(&file("hostile-utf16", name, &bytes));
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(
            err.contains("UTF-16") && err.contains("save it as UTF-8"),
            "{name}: {err}"
        );
    }
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend(quick_start());
    let (code, err) = validate(&file("hostile-bom", "bom.toml", &bom));
    assert_eq!(code, Some(0), "{err}");
}

/// Nesting deeper than the TOML reader recurses is a syntax error at its line, and the
/// 400,000-character line is shown as a window around the column, not whole.
#[test]
fn nesting_too_deep_is_named_at_its_line_in_a_short_snippet() {
    let mut text = String::from_utf8(quick_start()).unwrap();
    let line = text.lines().count() + 1;
    text.push_str(&format!(
        "x = {}{}\n",
        "[".repeat(200_000),
        "]".repeat(200_000)
    ));
    let (code, err) = validate(&file("hostile-deep", "deep.toml", text.as_bytes()));
    assert_eq!(code, Some(2), "{}", &err[..err.len().min(2000)]);
    assert!(
        err.contains(&format!("deep.toml:{line}:")),
        "{}",
        &err[..500]
    );
    assert!(err.contains("recursion"), "{}", &err[..500]);
    let longest = err.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest < 250, "a line of {longest} characters");
}

/// 20,000 problems: the first 50 are shown, the rest counted; `--format json` lists every
/// one with its line. (Before the problems' lines came from one pass over the text, this
/// file took 40 s to report.)
#[test]
fn many_problems_are_shown_fifty_then_counted() {
    let mut text = String::from(
        "[scenario]\nname = \"x\"\nduration = \"1s\"\n[clients]\nrate = \"1/s\"\n[[classes]]\nservice = { dist = \"constant\", value = \"1ms\" }\n",
    );
    for i in 0..20_000 {
        text.push_str(&format!("[[servers]]\nname = \"s{i}\"\ncount = -1\n"));
    }
    let p = file("hostile-many", "many.toml", text.as_bytes());
    let (code, err) = validate(&p);
    assert_eq!(code, Some(2));
    assert_eq!(err.matches("error: ").count(), 50, "{}", &err[..500]);
    assert!(
        err.contains("… and 19950 more problems"),
        "{}",
        &err[err.len() - 300..]
    );
    assert!(err.contains("many.toml (20000 problems)"));
    let o = lblab(&["validate", p.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let problems = v[0]["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 20_000);
    // The last group's `count` is on the file's last line.
    assert_eq!(problems[19_999]["line"], 7 + 3 * 20_000);
}

/// Duplicate names among 100,000 groups are found by name, not by comparing every pair.
#[test]
fn a_hundred_thousand_groups_with_a_duplicate_name() {
    let mut text = String::from(
        "[scenario]\nname = \"x\"\nduration = \"1s\"\n[clients]\nrate = \"1/s\"\n[[classes]]\nservice = { dist = \"constant\", value = \"1ms\" }\n",
    );
    for i in 0..100_000 {
        let name = if i == 99_999 { 7 } else { i };
        text.push_str(&format!("[[servers]]\nname = \"s{name}\"\n"));
    }
    let (code, err) = validate(&file("hostile-groups", "groups.toml", text.as_bytes()));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("duplicate server group name \"s7\""), "{err}");
}

/// What a scenario needs is estimated from its keys before anything is allocated: a
/// ketama ring over 1,000 servers of weight 1,000,000 (160 × 10¹¹ points, a few TB) and a
/// failure drawn every nanosecond are refused with the keys that size them, where they
/// used to abort ("memory allocation of 1280000000000 bytes failed").
#[test]
fn absurd_sizes_are_refused_before_allocating() {
    let head = "[scenario]\nname = \"x\"\nduration = \"100s\"\n[clients]\nrate = \"10/s\"\n[[classes]]\nservice = { dist = \"constant\", value = \"1ms\" }\n";
    let ring = format!(
        "{head}[[servers]]\nname = \"s\"\ncount = 1000\nweight = 1000000\n[balancer]\nalgorithm = \"ketama\"\n"
    );
    let storm = format!(
        "{head}[[servers]]\nname = \"s\"\ncount = 4\n[[failures]]\ntarget = \"s\"\nkind = \"crash\"\nmtbf = {{ dist = \"constant\", value = \"1ns\" }}\nmttr = {{ dist = \"constant\", value = \"1ns\" }}\n"
    );
    let dir = scratch("hostile-memory");
    for (name, text, keys) in [
        (
            "ring.toml",
            ring,
            "servers.*.weight × balancer.points_per_weight",
        ),
        ("storm.toml", storm, "failures[0].mtbf + failures[0].mttr"),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        let out = dir.join(format!("{name}-out"));
        let o = lblab(&[
            "run",
            p.to_str().unwrap(),
            "--max-memory",
            "4GB",
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(keys) && err.contains("TB"), "{name}: {err}");
        assert!(!out.exists(), "{name}: nothing written");
    }
    // The limit is the user's: a tiny one refuses the quick start, naming its fleet.
    let o = lblab(&[
        "run",
        "quick-start",
        "--max-memory",
        "1kB",
        "--out",
        dir.join("q").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("servers.*.count"));
    let o = lblab(&["run", "quick-start", "--max-memory", "lots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected a size like 4GB"));
}

/// Every bundled scenario's estimate is well under a small machine's memory (the default
/// limit is half of it: 4 GB on an 8 GB laptop), so none is refused on a laptop or a CI
/// runner. (The largest, supermarket's 40 runs of 100 servers × 2,000 time buckets, needs
/// about 0.6 GB and is estimated at 0.9 GB.)
#[test]
fn bundled_scenarios_need_little_memory() {
    for name in lblab::scenario::bundled::names() {
        let s = crate::support::load(name, &[]);
        let out = lblab::model::memory::Outputs {
            variants: s.compare.len().max(1) as u32,
            replications: s.replications,
        };
        let total: f64 = lblab::model::memory::estimate(&s.world, out)
            .iter()
            .map(|n| n.bytes)
            .sum();
        assert!(total < 1.5e9, "{name}: {total} bytes");
    }
}

/// A fleet of 20,000 servers goes through to its charts: the per-server chart shows an
/// even sample of them and says so, and the server time series is within its row cap.
/// (Before, finding each server's rows scanned all of them: the charts took minutes at
/// 100,000 servers and a 40 MB chart.)
#[test]
fn a_large_fleet_is_charted_by_a_sample() {
    let dir = scratch("fleet");
    let file = dir.join("fleet.toml");
    std::fs::write(
        &file,
        "[scenario]\nname = \"fleet\"\nduration = \"2s\"\nreplications = 1\n\
         [clients]\nrate = \"2000/s\"\n\
         [[classes]]\nname = \"c\"\nservice = { dist = \"exponential\", mean = \"10ms\" }\n\
         [[servers]]\nname = \"s\"\ncount = 20000\n\
         [balancer]\nalgorithm = \"random\"\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = lblab(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let svg = std::fs::read_to_string(out.join("server-load.svg")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Every 40th of the 20000 servers is shown"),
        "no sampling caption"
    );
    // The sample's labels: s-1, s-41, ...; never s-2.
    assert!(svg.contains("\ns-1\n") && !svg.contains("\ns-2\n"));
    let rows = std::fs::read_to_string(out.join("servers.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        rows,
        1 + 20_000 * 5,
        "each server's rows are all in servers.csv"
    );
}
