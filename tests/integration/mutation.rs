//! Property test: thousands of mutated scenario files (bytes flipped, lines dropped or
//! duplicated, values replaced with wrong types and extreme numbers) go through parsing,
//! validation and a short run. None may panic; every rejection is a clean, located error.

use lblab::engine::{SeedTree, SimTime};
use lblab::model::World;
use lblab::scenario::{Origin, parse};
use proptest::prelude::*;

use crate::support::root;

const NASTY: &[&str] = &[
    "\"x\"",
    "-1",
    "0",
    "1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "-inf",
    "true",
    "[]",
    "{}",
    "[[]]",
    "\"\"",
    "\"0s\"",
    "\"1e400s\"",
    "\"99999999999999h\"",
    "\"-5/s\"",
    "\"1e300/s\"",
    "\"0/s\"",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "0.0000001",
    "\"unlimited\"",
    "{ dist = \"mixture\", parts = [] }",
    "{ dist = \"empirical\", file = \"/nonexistent.csv\" }",
    "\"power-of-0\"",
    "\"power-of-99999\"",
    "\"🦀\"",
    "{ dist = \"lognormal\", median = \"1ms\", p99 = \"1ms\" }",
    "{ dist = \"uniform\", min = \"2s\", max = \"1s\" }",
];

#[derive(Clone, Debug)]
enum Mutation {
    FlipByte { at: usize, xor: u8 },
    DropLine(usize),
    DuplicateLine(usize),
    ReplaceValue { line: usize, with: usize },
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Mutation::FlipByte { at, xor }),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>())
            .prop_map(|(line, with)| Mutation::ReplaceValue { line, with }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len().max(1);
    match m {
        Mutation::FlipByte { at, xor } => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] ^= xor;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::DropLine(i) => {
            if !lines.is_empty() {
                lines.remove(i % n);
            }
        }
        Mutation::DuplicateLine(i) => {
            if !lines.is_empty() {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
        }
        Mutation::ReplaceValue { line, with } => {
            // Replace the value of the line-th key = value line.
            let kv: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].contains('=') && !lines[i].trim_start().starts_with('#'))
                .collect();
            if !kv.is_empty() {
                let i = kv[line % kv.len()];
                let key = lines[i].split('=').next().unwrap_or("").to_string();
                lines[i] = format!("{key}= {}", NASTY[with % NASTY.len()]);
            }
        }
        Mutation::SwapLines(a, b) => {
            if !lines.is_empty() {
                lines.swap(a % n, b % n);
            }
        }
    }
    lines.join("\n")
}

fn bases() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        if p.extension().is_some_and(|x| x == "toml") {
            out.push((
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    assert!(out.len() >= 5);
    out
}

proptest! {
    // A fixed seed: the same 3,000 cases on every run (determinism rule); change the seed to
    // explore others.
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x006c_626c_6162),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_scenarios_never_panic(base in any::<usize>(), muts in prop::collection::vec(mutation(), 1..4)) {
        let bases = bases();
        let (name, text) = &bases[base % bases.len()];
        let mut t = text.clone();
        for m in &muts {
            t = apply(&t, m);
        }
        let read = |p: &std::path::Path| std::fs::read_to_string(root().join("scenarios").join(p));
        match parse(name, &t, std::path::Path::new(""), &[], &read) {
            Err(e) => {
                prop_assert!(!e.problems.is_empty());
                for p in &e.problems {
                    prop_assert!(!p.message.is_empty());
                    if let Origin::File(r) = &p.origin {
                        prop_assert!(r.start <= t.len(), "span beyond the file");
                    }
                }
                prop_assert!(!e.to_string().is_empty());
            }
            Ok(s) => {
                // A valid mutant must also build and run without panicking: a short run
                // under a small event cap either finishes or stops cleanly at the cap.
                let mut w = s.world.clone();
                w.duration = w.duration.min(SimTime::from_secs(2));
                w.warmup = w.warmup.min(SimTime::from_secs(1));
                w.max_events = 20_000;
                let _ = World::new(&w, &SeedTree::new(s.seed), 0).run();
            }
        }
    }
}
