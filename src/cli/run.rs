//! `lblab run` and `lblab compare`; `replicate_with()`, the fan-out over replications;
//! `simulate()`, which the browser lab shares.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::engine::SeedTree;
use crate::metrics::{Aggregate, RepResult};
use crate::model::{World, WorldConfig};
use crate::report::manifest::{ManifestExtra, ManifestVariant, manifest_toml};
use crate::report::{RunInfo, csv_out, json, table};
use crate::scenario::{self, Scenario};

use super::variants::{
    AlgSource, HIDDEN_PREFIX, Plan, Variant, compare_variants, describe_checks, shell_sets,
};
use super::{CliError, CommonArgs, CompareArgs, Format, RunArgs, TableArgs, files, out};

/// Loads a scenario, mapping problems to exit code 2 (the message carries colour styles;
/// stderr keeps them only when colour is on).
///
/// `file` is a path or, when no such file exists, the name of a bundled scenario
/// (`quick-start` or `quick-start.toml`): a path wins.
pub(crate) fn load(file: &Path, sets: &[String]) -> Result<Scenario, CliError> {
    if bundled(file).is_none() && !file.exists() {
        return Err(not_found(file));
    }
    let s =
        read_scenario(file, sets).map_err(|e| CliError::Input(super::color::scenario_error(&e)))?;
    // The simulation itself, before any variant is built; the command checks again with
    // its variants and replications before it runs them.
    let outputs = crate::model::memory::Outputs {
        variants: 1,
        replications: 1,
    };
    super::memory::check(&file.display().to_string(), &s.world, outputs)?;
    Ok(s)
}

/// Reads `file`, or the bundled scenario it names when no such file exists, keeping the
/// scenario's own located error.
pub(crate) fn read_scenario(
    file: &Path,
    sets: &[String],
) -> Result<Scenario, scenario::ScenarioError> {
    match bundled(file) {
        // Its `[import] file` is a bundled configuration too.
        Some((name, text)) => scenario::parse(
            &format!("{name} (bundled)"),
            text,
            Path::new("."),
            sets,
            &files::read_bundled,
        ),
        None => scenario::load(file, sets, &files::read),
    }
}

/// The bundled scenario `file` names, if no file of that name exists (a directory of that
/// name does not count).
pub(crate) fn bundled(file: &Path) -> Option<(String, &'static str)> {
    // A directory of that name (a results directory, say) is not a scenario file.
    if file.is_file() {
        return None;
    }
    let s = file.to_str()?;
    if s.contains(['/', '\\']) {
        return None;
    }
    let name = s.strip_suffix(".toml").unwrap_or(s);
    scenario::bundled::find(name).map(|t| (name.to_string(), t))
}

/// Neither a file nor a bundled scenario.
fn not_found(file: &Path) -> CliError {
    let s = file.display().to_string();
    let stem = s.strip_suffix(".toml").unwrap_or(&s);
    let hint = scenario::error::did_you_mean(stem, scenario::bundled::names())
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default();
    CliError::Input(format!(
        "lblab: {s}: cannot read scenario: no such file, and no bundled scenario of that name{hint}; `lblab list scenarios` lists the bundled ones"
    ))
}

/// Says on stderr which scenario a command uses when `file` names a bundled one.
pub(crate) fn announce(file: &Path, quiet: bool) {
    if quiet {
        return;
    }
    if let Some((name, _)) = bundled(file) {
        let local = Path::new(&format!("{name}.toml")).exists();
        eprintln!(
            "lblab: using the bundled scenario {name}{} (`lblab new NAME --from {name}` writes an editable copy)",
            if local && !file.to_string_lossy().ends_with(".toml") {
                format!("; ./{name}.toml exists too: name it with .toml to use it")
            } else {
                String::new()
            }
        );
    }
}

/// Runs `reps` replications of each world on `jobs` threads, advancing `pb` by one per
/// finished run (a sweep shares one bar over all its points). Results come back per world,
/// in replication order, whatever the number of threads.
pub(crate) fn replicate_with(
    worlds: &[WorldConfig],
    seed: u64,
    reps: u32,
    jobs: Option<u32>,
    pb: &ProgressBar,
) -> Result<Vec<Vec<RepResult>>, (usize, u32, crate::model::RunError)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0) as usize)
        .build()
        .expect("thread pool");
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
        notes: Vec::new(),
        variants: Vec::new(),
    }
}

pub(crate) fn command_line() -> String {
    std::env::args()
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn run(a: RunArgs) -> Result<(), CliError> {
    let file = &a.common.file;
    if let Some(config) = &a.config {
        super::run_config::overlay(
            file,
            config,
            a.config_format,
            a.upstream.as_deref(),
            a.common.quiet,
        )?;
    }
    announce(file, a.common.quiet);
    let named: Vec<String> = a.algorithm.iter().cloned().collect();
    let source = if named.is_empty() {
        AlgSource::Own
    } else {
        AlgSource::Named(&named)
    };
    let plan = Plan::new(file, &a.common.set, source, "run")?;
    let (v, s) = plan.variant(file, 0, &[], &|s| a.common.apply(s))?;
    execute(
        &a.common,
        &a.table,
        file,
        &s,
        &[v],
        "run",
        None,
        &plan.notes,
    )
}

/// `lblab compare`: the scenario's workload under several algorithms (or values of any
/// scenario key with `--axis`), on common random numbers: every variant sees the same
/// arrivals and service times.
pub(super) fn compare(a: CompareArgs) -> Result<(), CliError> {
    let file = &a.common.file;
    announce(file, a.common.quiet);
    let (s, variants, notes) = compare_variants(
        file,
        &a.common.set,
        &a.algorithms,
        a.axis.as_deref(),
        &|s| a.common.apply(s),
    )?;
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
        &notes,
    )
}

/// What a finished run or comparison wrote, for the caller to present.
pub(crate) struct Written {
    pub(crate) info: RunInfo,
    pub(crate) agg: Vec<Aggregate>,
    /// The variant the others are compared with (index into `agg`), if several.
    pub(crate) base: Option<usize>,
    /// The CSV files written, in order.
    pub(crate) names: Vec<&'static str>,
    /// summary.csv.
    pub(crate) summary: String,
}

/// Where a run writes and how it reports (what `lblab run`/`compare` flags and the lab
/// choose).
pub(crate) struct Job<'a> {
    /// The scenario as named (a path or a bundled name), for messages and the manifest.
    pub(crate) file: &'a Path,
    pub(crate) dir: &'a Path,
    /// The command that reproduces it, for the manifest.
    pub(crate) command: &'a str,
    /// The user's --set overrides, for the manifest.
    pub(crate) sets: &'a [String],
    pub(crate) jobs: Option<u32>,
    pub(crate) baseline: Option<&'a str>,
}

/// Runs the variants (advancing `pb` by one per replication), then writes the results
/// directory: CSV files, manifest.toml, charts and report.html.
pub(crate) fn simulate(
    job: &Job<'_>,
    s: &Scenario,
    variants: &[Variant],
    notes: &[String],
    pb: &ProgressBar,
) -> Result<Written, CliError> {
    let file = job.file;
    let worlds: Vec<WorldConfig> = variants.iter().map(|v| v.world.clone()).collect();
    super::memory::check_run(
        &file.display().to_string(),
        &worlds.iter().collect::<Vec<_>>(),
        s.replications,
    )?;
    let results = replicate_with(&worlds, s.seed, s.replications, job.jobs, pb).map_err(|(w, r, e)| {
        let sets = shell_sets(&variants[w].sets);
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
    let mut notes = with_passive_counts(notes, variants, &agg);
    let sizes = variants.iter().map(|v| v.world.n_servers());
    if let (Some(lo), Some(hi)) = (sizes.clone().min(), sizes.max())
        && lo != hi
    {
        notes.push(format!(
            "the variants have {lo} to {hi} servers (the count in the header is the scenario file's)"
        ));
    }
    if agg
        .iter()
        .any(|a| a.reps.iter().any(|r| r.server_series_skipped))
    {
        notes.push(
            "server_timeseries.csv is not written: servers × time buckets exceeds 2,000,000 (a shorter run or fewer servers keeps it)"
                .into(),
        );
    }
    let series_reps = csv_out::server_series_reps(&agg);
    let reps_run = agg.iter().map(|a| a.reps.len()).max().unwrap_or(0);
    if series_reps < reps_run
        && agg
            .iter()
            .any(|a| a.reps.iter().any(|r| !r.server_series.is_empty()))
    {
        notes.push(format!(
            "server_timeseries.csv holds the first {series_reps} of the {reps_run} replications of each variant (at most {} rows)",
            csv_out::MAX_SERVER_SERIES_ROWS
        ));
    }
    let notes = &notes;
    let mut info = run_info(s);
    info.notes = notes.clone();
    info.variants = variants
        .iter()
        .map(|v| crate::report::VariantInfo {
            label: v.label.clone(),
            algorithm: v.algorithm.clone(),
            factors: v.factors.clone(),
        })
        .collect();
    let dir = job.dir;
    let summary = csv_out::summary_csv(&info, &agg);
    let servers = csv_out::servers_csv(&info, &agg);
    let algorithms: Vec<String> = variants.iter().map(|v| v.label.clone()).collect();
    let file_s = file.display().to_string();

    let mut out_files: Vec<(&'static str, String)> = vec![
        ("summary.csv", summary.clone()),
        ("servers.csv", servers),
        ("latency.csv", csv_out::latency_csv(&info, &agg)),
        ("timeseries.csv", csv_out::timeseries_csv(&info, &agg)),
    ];
    if let Some(f) = csv_out::slices_csv(&info, &agg, "service") {
        out_files.push(("services.csv", f));
    }
    if let Some(f) = csv_out::slices_csv(&info, &agg, "class") {
        out_files.push(("classes.csv", f));
    }
    if let Some(f) = csv_out::hops_csv(&info, &agg) {
        out_files.push(("hops.csv", f));
    }
    if let Some(f) = csv_out::connections_csv(&info, &agg) {
        out_files.push(("connections.csv", f));
    }
    if let Some(f) = csv_out::service_timeseries_csv(&info, &agg) {
        out_files.push(("service_timeseries.csv", f));
    }
    if let Some(f) = csv_out::server_timeseries_csv(&info, &agg, series_reps) {
        out_files.push(("server_timeseries.csv", f));
    }
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
            .position(|a| Some(a.algorithm.as_str()) == job.baseline)
            .or(Some(0))
    } else {
        None
    };
    if let Some(b) = base {
        out_files.push((
            "paired.csv",
            crate::report::paired::paired_csv(&info, &agg[b], &agg),
        ));
    }
    let names: Vec<&'static str> = out_files.iter().map(|(n, _)| *n).collect();
    let mvars: Vec<ManifestVariant<'_>> = variants
        .iter()
        .map(|v| ManifestVariant {
            label: &v.label,
            algorithm: &v.algorithm,
            factors: &v.factors,
            sets: &v.sets,
        })
        .collect();
    let manifest = manifest_toml(
        &info,
        &ManifestExtra {
            command: job.command,
            scenario_file: &file_s,
            scenario_hash: s.hash,
            algorithms: &algorithms,
            files: &names,
            parameters: job.sets,
            variants: &mvars,
            notes,
        },
    );
    files::write_results(dir, &out_files, &manifest)?;
    // Charts and report.html, from the files just written (as `lblab report DIR` would).
    super::report::render_all(dir)?;
    Ok(Written {
        info,
        agg,
        base,
        names,
        summary,
    })
}

/// The summary table as the terminal shows it: the table, the paired comparison with the
/// baseline, and where the results are.
pub(crate) fn summary_text(w: &Written, dir: &Path, layout: &table::Layout) -> String {
    let mut t = table::render_with(&w.info, &w.agg, layout);
    if let Some(b) = w.base {
        t.push_str(&crate::report::paired::render(
            &w.agg[b],
            &w.agg,
            layout.width,
        ));
    }
    t.push('\n');
    t.push_str(&table::wrap(
        &format!(
            "results: {}/ ({}, manifest.toml; charts and report.html)",
            dir.display(),
            w.names.join(", ")
        ),
        layout.width,
        "  ",
    ));
    t
}

/// Runs the variants, writes the results directory and prints the summary.
#[allow(clippy::too_many_arguments)] // one call per command; a struct would only rename them
fn execute(
    c: &CommonArgs,
    table_args: &TableArgs,
    file: &Path,
    s: &Scenario,
    variants: &[Variant],
    what: &str,
    baseline: Option<&str>,
    notes: &[String],
) -> Result<(), CliError> {
    let layout = table_args.layout()?;
    let progress = !c.quiet && std::io::stderr().is_terminal();
    let dir = c
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&s.name).join(what));
    let job = Job {
        file,
        dir: &dir,
        command: &command_line(),
        sets: &c.set,
        jobs: c.jobs,
        baseline,
    };
    let runs = super::progress::runs(&[
        (variants.len() as u64, "variant"),
        (u64::from(s.replications), "replication"),
    ]);
    let pb = super::progress::bar(runs, progress);
    let done = simulate(&job, s, variants, notes, &pb);
    pb.finish_and_clear();
    let w = done?;
    if c.quiet {
        return Ok(());
    }
    match c.format {
        Format::Table => out(&summary_text(&w, &dir, &layout)),
        Format::Json => {
            for n in &w.info.notes {
                eprintln!("note: {n}");
            }
            eprintln!("results: {}/", dir.display());
            out(&json::summary_json(&w.info, &w.agg))
        }
        Format::Csv => {
            for n in &w.info.notes {
                eprintln!("note: {n}");
            }
            eprintln!("results: {}/", dir.display());
            out(&w.summary)
        }
    }
}

/// Completes the "not only the algorithm differs" note with what nginx's passive check
/// did in this run: how often it took a server out per replication.
fn with_passive_counts(notes: &[String], variants: &[Variant], agg: &[Aggregate]) -> Vec<String> {
    let acted: Vec<f64> = agg
        .iter()
        .map(|a| {
            let downs: usize = a
                .reps
                .iter()
                .map(|r| {
                    r.health
                        .iter()
                        .filter(|h| h.cause == "passive" && h.state == "down")
                        .count()
                })
                .sum();
            downs as f64 / a.reps.len().max(1) as f64
        })
        .collect();
    notes
        .iter()
        .map(|n| {
            if n.starts_with(HIDDEN_PREFIX) {
                describe_checks(variants, Some(&acted))
            } else {
                n.clone()
            }
        })
        .collect()
}
