//! Shared helpers: loading bundled scenarios, running replications, theory assertions.

use std::path::PathBuf;

use lblab::engine::SeedTree;
use lblab::metrics::stats::{Estimate, estimate_at};
use lblab::metrics::{Aggregate, M};
use lblab::model::World;
use lblab::scenario::{self, Scenario};
use rayon::prelude::*;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty directory outside the repository for this test process: `name` must be
/// unique among the tests (prefix it with the test file's name).
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lblab-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Loads `scenarios/<name>.toml` with `key=value` overrides.
pub fn load(name: &str, sets: &[&str]) -> Scenario {
    let path = root().join("scenarios").join(format!("{name}.toml"));
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    scenario::load(&path, &sets, &|p| std::fs::read_to_string(p)).unwrap_or_else(|e| panic!("{e}"))
}

/// Parses scenario text (no file access).
pub fn parse(text: &str) -> Result<Scenario, scenario::ScenarioError> {
    scenario::parse("test.toml", text, std::path::Path::new("."), &[], &|p| {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} (tests read no files)", p.display()),
        ))
    })
}

/// Parses `text`, which must fail with a problem at key `path` whose message or hint says
/// `needle`; returns the error and that problem for further checks.
pub fn problem_at(
    text: &str,
    path: &str,
    needle: &str,
) -> (scenario::ScenarioError, scenario::Problem) {
    let e = parse(text).expect_err(path);
    let p = e
        .problems
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no problem at {path}: {e}"))
        .clone();
    let t = format!("{} {}", p.message, p.hint.clone().unwrap_or_default());
    assert!(t.contains(needle), "{path}: {t:?} lacks {needle:?}");
    (e, p)
}

/// Runs every replication of `s` (in parallel; results in replication order).
pub fn run(s: &Scenario) -> Aggregate {
    let seeds = SeedTree::new(s.seed);
    let reps = (0..s.replications)
        .into_par_iter()
        .map(|r| {
            World::new(&s.world, &seeds, r)
                .run()
                .unwrap_or_else(|e| panic!("{} replication {r}: {e}", s.name))
        })
        .collect();
    Aggregate::new(s.world.algorithm.name(), reps)
}

/// The per-replication values of metric `m`.
pub fn values(a: &Aggregate, m: M) -> Vec<f64> {
    a.reps.iter().map(|r| r.get(m)).collect()
}

/// Two-sided confidence level of theory checks: a correct model fails one seed in 10,000.
pub const LEVEL: f64 = 0.9999;

/// Asserts that the replication mean of `xs` matches `theory`.
///
/// Replications are i.i.d., so `mean ± t(1−α/2, n−1)·s/√n` (α = 1 − [`LEVEL`]) covers the
/// true value of a correct model with probability [`LEVEL`]. `bias` is a stated
/// deterministic allowance (for example the histogram's 0.1% value resolution for
/// percentiles). The check is only meaningful if the interval is narrow, so the relative
/// half-width must also be at most `max_rel`.
pub fn assert_matches(label: &str, xs: &[f64], theory: f64, bias: f64, max_rel: f64) -> Estimate {
    let e = estimate_at(xs, LEVEL);
    let tol = e.ci95 + bias;
    assert!(
        e.ci95 / theory.abs() <= max_rel,
        "{label}: interval too wide to test anything: ±{:.4} around {:.4} (max relative {max_rel})",
        e.ci95,
        e.mean
    );
    assert!(
        (e.mean - theory).abs() <= tol,
        "{label}: simulated {:.5} ± {:.5} (99.99% CI, n = {}) + bias {bias:.5} does not cover theory {theory:.5}",
        e.mean,
        e.ci95,
        e.n
    );
    e
}

/// Runs the `lblab` binary with `args` from the repository root.
pub fn lblab(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lblab"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run lblab")
}
