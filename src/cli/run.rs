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

use super::{CliError, CommonArgs, CompareArgs, Format, RunArgs, TableArgs, files, out};

/// Loads a scenario, mapping problems to exit code 2.
pub(crate) fn load(file: &Path, sets: &[String]) -> Result<Scenario, CliError> {
    scenario::load(file, sets, &files::read).map_err(|e| CliError::Input(e.to_string()))
}

/// Runs `reps` replications of each world on `jobs` threads. Results come back per world,
/// in replication order, whatever the number of threads.
pub(crate) fn replicate(
    worlds: &[WorldConfig],
    seed: u64,
    reps: u32,
    jobs: Option<u32>,
    progress: bool,
) -> Result<Vec<Vec<RepResult>>, (usize, u32, crate::model::RunError)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0) as usize)
        .build()
        .expect("thread pool");
    let total = worlds.len() as u64 * u64::from(reps);
    let pb = if progress {
        let pb = ProgressBar::new(total);
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
    let jobs: Vec<(usize, u32)> = (0..worlds.len())
        .flat_map(|w| (0..reps).map(move |r| (w, r)))
        .collect();
    let results: Vec<_> = pool.install(|| {
        jobs.par_iter()
            .map(|&(w, r)| {
                let x = World::new(&worlds[w], &seeds, r).run();
                pb.inc(1);
                x.map_err(|e| (w, r, e))
            })
            .collect()
    });
    pb.finish_and_clear();
    let mut out: Vec<Vec<RepResult>> = worlds
        .iter()
        .map(|_| Vec::with_capacity(reps as usize))
        .collect();
    for (job, r) in jobs.iter().zip(results) {
        out[job.0].push(r?);
    }
    Ok(out)
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

pub(crate) fn command_line() -> String {
    std::env::args()
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn run(a: RunArgs) -> Result<(), CliError> {
    let mut sets = a.common.set.clone();
    if let Some(alg) = &a.algorithm {
        sets.push(replace_balancer(alg));
    }
    let mut s = load(&a.common.file, &sets)?;
    a.common.apply(&mut s);
    let alg_sets = a.algorithm.iter().map(|x| replace_balancer(x)).collect();
    let variants = [Variant {
        label: s.world.algorithm.name(),
        world: s.world.clone(),
        sets: alg_sets,
    }];
    execute(
        &a.common,
        &a.table,
        &a.common.file,
        &s,
        &variants,
        "run",
        None,
    )
}

/// The override that makes `name` the algorithm: it replaces the whole `[balancer]` table,
/// so parameters written for the scenario's own algorithm do not leak into another.
pub(crate) fn replace_balancer(name: &str) -> String {
    format!(
        "balancer={{ algorithm = {} }}",
        toml::Value::String(name.to_string())
    )
}

/// One thing to run and report: a label, its world, and the `--set`s that make it.
pub(crate) struct Variant {
    /// Name in tables and CSVs.
    pub label: String,
    /// The world.
    pub world: WorldConfig,
    /// Overrides that produce it from the scenario (for the reproduce hint).
    pub sets: Vec<String>,
}

/// `lblab compare`: the scenario's workload under several algorithms (or values of any
/// scenario key with `--axis`), on common random numbers: every variant sees the same
/// arrivals and service times.
pub(super) fn compare(a: CompareArgs) -> Result<(), CliError> {
    let mut s = load(&a.common.file, &a.common.set)?;
    a.common.apply(&mut s);
    let file = &a.common.file;
    // The key to vary: --axis, else the scenario's [compare] axis.
    let axis_spec = a.axis.clone().or_else(|| s.compare_axis.clone());
    // The algorithms: --algorithms, else the configured one when varying a key, else the
    // scenario's [compare] list.
    let mut algs: Vec<(String, Vec<String>)> = Vec::new();
    if !a.algorithms.is_empty() {
        for name in &a.algorithms {
            let set = replace_balancer(name);
            let mut sets = a.common.set.clone();
            sets.push(set.clone());
            algs.push((load(file, &sets)?.world.algorithm.name(), vec![set]));
        }
    } else if axis_spec.is_some() {
        algs.push((s.world.algorithm.name(), Vec::new()));
    } else if s.compare.is_empty() {
        return Err(CliError::Input(format!(
            "lblab: {} lists no algorithms to compare: add [compare] algorithms = [...], pass --algorithms a,b,c, or vary a key with --axis",
            file.display()
        )));
    }
    let mut variants = Vec::new();
    if algs.is_empty() {
        for alg in &s.compare {
            let world = WorldConfig {
                algorithm: alg.clone(),
                ..s.world.clone()
            };
            variants.push(Variant {
                label: alg.name(),
                world,
                sets: Vec::new(),
            });
        }
    } else {
        let axis: Vec<Option<String>> = match &axis_spec {
            None => vec![None],
            Some(spec) => {
                let (key, values) = spec
                    .split_once('=')
                    .filter(|(k, v)| !k.trim().is_empty() && !v.trim().is_empty())
                    .ok_or_else(|| {
                        CliError::Input(format!(
                            "lblab: --axis expects KEY=V1,V2,..., found \"{spec}\""
                        ))
                    })?;
                if key.trim().starts_with("scenario.") {
                    return Err(CliError::Input(format!(
                        "lblab: --axis cannot vary {}: a comparison shares its seed, replications and run length; run separately with --set",
                        key.trim()
                    )));
                }
                values
                    .split(',')
                    .map(|v| Some(format!("{}={}", key.trim(), v.trim())))
                    .collect()
            }
        };
        for (alg_label, alg_sets) in &algs {
            for ax in &axis {
                let mut extra = alg_sets.clone();
                extra.extend(ax.clone());
                let mut sets = a.common.set.clone();
                sets.extend(extra.iter().cloned());
                let mut sc = load(file, &sets)?;
                a.common.apply(&mut sc);
                let label = match (ax, algs.len()) {
                    (None, _) => alg_label.clone(),
                    (Some(ax), 1) => ax.clone(),
                    (Some(ax), _) => format!("{alg_label} {ax}"),
                };
                variants.push(Variant {
                    label,
                    world: sc.world,
                    sets: extra,
                });
            }
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for v in &variants {
        if seen.contains(&v.label.as_str()) {
            return Err(CliError::Input(format!(
                "lblab: \"{}\" appears twice in the comparison",
                v.label
            )));
        }
        seen.push(&v.label);
    }
    if let Some(b) = &a.baseline
        && !variants.iter().any(|v| &v.label == b)
    {
        let labels: Vec<&str> = variants.iter().map(|v| v.label.as_str()).collect();
        return Err(CliError::Input(format!(
            "lblab: --baseline {b} is not one of the variants: {}",
            labels.join(", ")
        )));
    }
    execute(
        &a.common,
        &a.table,
        file,
        &s,
        &variants,
        "compare",
        a.baseline.as_deref(),
    )
}

/// Runs the variants, writes the results directory and prints the summary.
fn execute(
    c: &CommonArgs,
    table_args: &TableArgs,
    file: &Path,
    s: &Scenario,
    variants: &[Variant],
    what: &str,
    baseline: Option<&str>,
) -> Result<(), CliError> {
    let layout = table_args.layout()?;
    let progress = !c.quiet && std::io::stderr().is_terminal();
    let worlds: Vec<WorldConfig> = variants.iter().map(|v| v.world.clone()).collect();
    let results = replicate(&worlds, s.seed, s.replications, c.jobs, progress).map_err(|(w, r, e)| {
        let sets: String = variants[w].sets.iter().map(|x| format!(" --set {x}")).collect();
        CliError::Sim(format!(
            "lblab: {} ({}): replication {r} failed: {e}\n  reproduce with: lblab run {}{sets} --seed {} --replications {}",
            s.name,
            variants[w].label,
            file.display(),
            s.seed,
            r + 1
        ))
    })?;
    let agg: Vec<Aggregate> = variants
        .iter()
        .zip(results)
        .map(|(v, reps)| Aggregate::new(v.label.clone(), reps))
        .collect();
    let info = run_info(s);
    let dir = c
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&s.name).join(what));
    let summary = csv_out::summary_csv(&info, &agg);
    let servers = csv_out::servers_csv(&info, &agg);
    let algorithms: Vec<String> = variants.iter().map(|v| v.label.clone()).collect();
    let file_s = file.display().to_string();

    let mut out_files: Vec<(&str, String)> = vec![
        ("summary.csv", summary.clone()),
        ("servers.csv", servers),
        ("latency.csv", csv_out::latency_csv(&info, &agg)),
        ("timeseries.csv", csv_out::timeseries_csv(&info, &agg)),
    ];
    if let Some(ch) = csv_out::changes_csv(&info, &agg) {
        out_files.push(("changes.csv", ch));
    }
    if let Some(f) = csv_out::failovers_csv(&info, &agg) {
        out_files.push(("failovers.csv", f));
    }
    if let Some(h) = csv_out::health_csv(&info, &agg) {
        out_files.push(("health.csv", h));
    }
    if let Some(f) = csv_out::lb_failovers_csv(&info, &agg) {
        out_files.push(("lb_failovers.csv", f));
    }
    if let Some(h) = csv_out::ha_csv(&info, &agg) {
        out_files.push(("ha.csv", h));
    }
    let base = if agg.len() > 1 {
        agg.iter()
            .find(|a| Some(a.algorithm.as_str()) == baseline)
            .or(agg.first())
    } else {
        None
    };
    if let Some(b) = base {
        out_files.push((
            "paired.csv",
            crate::report::paired::paired_csv(&info, b, &agg),
        ));
    }
    let names: Vec<&str> = out_files.iter().map(|(n, _)| *n).collect();
    let manifest = manifest_toml(
        &info,
        &ManifestExtra {
            command: &command_line(),
            scenario_file: &file_s,
            scenario_hash: s.hash,
            algorithms: &algorithms,
            files: &names,
            parameters: &c.set,
        },
    );
    files::write_results(&dir, &out_files, &manifest)?;
    // Charts and report.html, from the files just written (as `lblab report DIR` would).
    super::report::render_all(&dir)?;
    if c.quiet {
        return Ok(());
    }
    match c.format {
        Format::Table => {
            let mut t = table::render_with(&info, &agg, &layout);
            if let Some(b) = base {
                t.push_str(&crate::report::paired::render(b, &agg, layout.width));
            }
            t.push('\n');
            t.push_str(&table::wrap(
                &format!(
                    "results: {}/ ({}, manifest.toml; charts and report.html)",
                    dir.display(),
                    names.join(", ")
                ),
                layout.width,
                "  ",
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
        format!(
            "{} server{}",
            w.n_servers(),
            if w.n_servers() == 1 { "" } else { "s" }
        ),
        format!("algorithm {}", w.algorithm.name()),
    ];
    if w.lb.nodes > 1 || !matches!(w.lb.topology, crate::model::Topology::Single) {
        parts.push(format!(
            "{} load balancer node{} ({})",
            w.lb.nodes,
            if w.lb.nodes == 1 { "" } else { "s" },
            w.lb.topology.name()
        ));
    }
    parts.push(format!("{} replications × {}", s.replications, w.duration));
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
