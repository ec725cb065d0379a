//! `lblab run` and `lblab validate`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::engine::SeedTree;
use crate::metrics::{Aggregate, RepResult};
use crate::model::{Load, World, WorldConfig};
use crate::report::manifest::{ManifestExtra, manifest_toml};
use crate::report::{RunInfo, csv_out, json, table};
use crate::scenario::{self, Scenario};

use super::{CliError, Format, RunArgs, files, out};

/// Loads a scenario, mapping problems to exit code 2.
pub(crate) fn load(file: &Path, sets: &[String]) -> Result<Scenario, CliError> {
    scenario::load(file, sets, &files::read).map_err(|e| CliError::Input(e.to_string()))
}

/// Runs `reps` replications of `world` on `jobs` threads; results in replication order.
pub(crate) fn replicate(
    world: &WorldConfig,
    seed: u64,
    reps: u32,
    jobs: Option<u32>,
    progress: bool,
) -> Result<Vec<RepResult>, (u32, crate::model::RunError)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0) as usize)
        .build()
        .expect("thread pool");
    let pb = if progress {
        let pb = ProgressBar::new(u64::from(reps));
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} replications {pos}/{len} [{bar:30}] {elapsed} (eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let seeds = SeedTree::new(seed);
    let results: Vec<_> = pool.install(|| {
        (0..reps)
            .into_par_iter()
            .map(|r| {
                let x = World::new(world, &seeds, r).run();
                pb.inc(1);
                x
            })
            .collect()
    });
    pb.finish_and_clear();
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| (i as u32, e)))
        .collect()
}

pub(crate) fn run_info(s: &Scenario) -> RunInfo {
    RunInfo {
        scenario: s.name.clone(),
        description: s.description.clone(),
        seed: s.seed,
        replications: s.replications,
        duration_s: s.world.duration.as_secs_f64(),
        warmup_s: s.world.warmup.as_secs_f64(),
        n_servers: s.world.n_servers(),
    }
}

fn command_line() -> String {
    std::env::args()
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn run(a: RunArgs) -> Result<(), CliError> {
    let mut sets = a.set.clone();
    if let Some(alg) = &a.algorithm {
        sets.push(format!("balancer.algorithm={alg}"));
    }
    let mut s = load(&a.file, &sets)?;
    if let Some(seed) = a.seed {
        s.seed = seed;
    }
    if let Some(r) = a.replications {
        s.replications = r;
    }
    let progress = !a.quiet && std::io::stderr().is_terminal();
    let reps = replicate(&s.world, s.seed, s.replications, a.jobs, progress).map_err(|(r, e)| {
        CliError::Sim(format!(
            "lblab: {}: replication {r} failed: {e}\n  reproduce with: lblab run {} --seed {} --replications {}",
            s.name,
            a.file.display(),
            s.seed,
            r + 1
        ))
    })?;
    let agg = vec![Aggregate::new(s.world.algorithm.name(), reps)];
    let info = run_info(&s);
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&s.name).join("run"));
    let summary = csv_out::summary_csv(&info, &agg);
    let servers = csv_out::servers_csv(&info, &agg);
    let algorithms = [s.world.algorithm.name()];
    let file_s = a.file.display().to_string();
    let manifest = manifest_toml(
        &info,
        &ManifestExtra {
            command: &command_line(),
            scenario_file: &file_s,
            scenario_hash: s.hash,
            algorithms: &algorithms,
            files: &["summary.csv", "servers.csv"],
        },
    );
    files::write_results(
        &dir,
        &[("summary.csv", summary.clone()), ("servers.csv", servers)],
        &manifest,
    )?;
    if a.quiet {
        return Ok(());
    }
    match a.format {
        Format::Table => {
            let mut t = table::render(&info, &agg);
            t.push_str(&format!(
                "\nresults: {}/ (summary.csv, servers.csv, manifest.toml)\n",
                dir.display()
            ));
            out(&t)
        }
        Format::Json => {
            eprintln!("results: {}/", dir.display());
            out(&json::summary_json(&info, &agg))
        }
        Format::Csv => {
            eprintln!("results: {}/", dir.display());
            out(&summary)
        }
    }
}

pub(super) fn validate(paths: &[PathBuf], sets: &[String]) -> Result<(), CliError> {
    let mut failed = Vec::new();
    let mut report = String::new();
    for p in paths {
        match scenario::load(p, sets, &files::read) {
            Ok(s) => report.push_str(&format!("ok: {} ({})\n", p.display(), describe(&s))),
            Err(e) => {
                eprintln!("{e}\n");
                failed.push((p.display().to_string(), e.problems.len()));
            }
        }
    }
    out(&report)?;
    if failed.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = failed
        .iter()
        .map(|(f, n)| format!("{f} ({n} problem{})", if *n == 1 { "" } else { "s" }))
        .collect();
    Err(CliError::Input(format!(
        "lblab: invalid scenario: {}",
        list.join(", ")
    )))
}

/// One line about a valid scenario: servers, algorithm, offered load.
fn describe(s: &Scenario) -> String {
    let w = &s.world;
    let mut parts = vec![
        format!("{} servers", w.n_servers()),
        format!("algorithm {}", w.algorithm.name()),
        format!("{} replications × {}", s.replications, w.duration),
    ];
    if let Load::Open(sched) = &w.clients.load {
        let n = sched.expected_arrivals(crate::engine::SimTime::ZERO, w.duration);
        let rate = n / w.duration.as_secs_f64();
        parts.push(format!(
            "offered load {:.0}% of capacity",
            100.0 * rate / w.capacity_per_s()
        ));
        parts.push(format!("≈{} requests per replication", human(n)));
    }
    parts.join(", ")
}

fn human(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}
