//! `lblab sweep`, `--shard` and `--resume` (`lblab merge` is in `merge.rs`).
//!
//! A sweep is a grid of points (the cartesian product of `--param` values, first key
//! outermost) crossed with algorithms. Each point is run with every algorithm on the same
//! seed (common random numbers across points and algorithms) and written as its own file,
//! `points/NNNNN.csv`, the moment it is done; `sweep.csv` is the header followed by the point
//! files in point order. So a sweep split with `--shard k/n` (points i with i mod n = k − 1)
//! and put back together with `lblab merge` gives exactly the bytes of the unsharded run, and
//! `--resume` simply skips points whose file exists (after checking that the directory holds
//! the same sweep: `sweep.toml` records its identity). A shard also writes `shard.toml`:
//! which shard it holds and the manifest the whole sweep would have, for `lblab merge`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::engine::rng::fnv1a64;
use crate::metrics::Aggregate;
use crate::model::WorldConfig;
use crate::report::csv_out;

use super::merge::{Identity, shard_toml};
use super::run::{replicate_with, run_info};
use super::variants::{AlgSource, Plan, Variant};
use super::{CliError, CommonArgs, files, out};

#[derive(clap::Args, Debug)]
pub(super) struct SweepArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// A swept key and its values: a list (`clients.rate=300/s,600/s,900/s`) or a range
    /// `FROM..TO:STEP` (`clients.rate=100/s..1000/s:100/s`, `servers.web.count=2..8:2`).
    /// Repeat for a grid. A balancer.KEY applies to the algorithms that have KEY; a key
    /// may not also be given with --set.
    #[arg(long = "param", value_name = "KEY=VALUES", required = true)]
    params: Vec<String>,
    /// Algorithms to cross with the grid (default: the scenario's [compare] list, else its
    /// configured algorithm).
    #[arg(long, value_delimiter = ',', value_name = "A,B,..")]
    algorithms: Vec<String>,
    /// Run only a deterministic slice of the points: `k/n` runs points i with i mod n = k−1.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Skip points already complete in the output directory.
    #[arg(long)]
    resume: bool,
    /// Metric shown in the terminal table: a column of sweep.csv (like latency_p99_ms), the
    /// same without its unit suffix, or a short name (p50, p99, mean, ...). Checked before
    /// anything runs.
    #[arg(long, default_value = "latency_p99_ms")]
    metric: String,
}

/// The sweep.csv column `--metric` names, as `--metrics` names rows: exit 2 before anything
/// runs on a name that is none.
pub(super) fn metric_column(name: &str) -> Result<&'static str, CliError> {
    crate::report::table::metric_by_name(name)
        .map(|i| crate::metrics::METRICS[i].key)
        .map_err(|e| CliError::Input(format!("lblab: --metric: {e}")))
}

/// Expands `FROM..TO:STEP` (numbers with an optional common unit suffix) or `a,b,c`.
pub(crate) fn expand_values(spec: &str) -> Result<Vec<String>, String> {
    if let Some((range, step)) = spec.split_once(':').filter(|(r, _)| r.contains("..")) {
        let (from, to) = range.split_once("..").ok_or("expected FROM..TO:STEP")?;
        let num = |s: &str| -> Result<(f64, String), String> {
            let s = s.trim();
            let end = s
                .find(|c: char| {
                    !(c.is_ascii_digit()
                        || c == '.'
                        || c == '-'
                        || c == '+'
                        || c == 'e'
                        || c == 'E')
                })
                .unwrap_or(s.len());
            let x: f64 = s[..end]
                .parse()
                .map_err(|_| format!("`{s}` is not a number"))?;
            Ok((x, s[end..].to_string()))
        };
        let ((a, ua), (b, ub), (st, us)) = (num(from)?, num(to)?, num(step)?);
        if ua != ub || (!us.is_empty() && us != ua) {
            return Err(format!("the range `{spec}` mixes units"));
        }
        if st <= 0.0 || !st.is_finite() || b < a {
            return Err(format!(
                "the range `{spec}` needs FROM ≤ TO and a positive STEP"
            ));
        }
        let n = ((b - a) / st + 1e-9).floor() as usize + 1;
        if n > 10_000 {
            return Err(format!("the range `{spec}` has {n} values; at most 10,000"));
        }
        return Ok((0..n)
            .map(|i| format!("{}{ua}", a + i as f64 * st))
            .map(|v| tidy(&v))
            .collect());
    }
    let vals: Vec<String> = crate::scenario::overrides::split_values(spec)
        .into_iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if vals.is_empty() {
        Err("expected values like a,b,c or FROM..TO:STEP".into())
    } else {
        Ok(vals)
    }
}

/// Removes float noise like `0.30000000000000004` → `0.3` (keeps the unit suffix).
fn tidy(v: &str) -> String {
    let end = v
        .find(|c: char| {
            !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')
        })
        .unwrap_or(v.len());
    match v[..end].parse::<f64>() {
        Ok(x) => {
            let r = (x * 1e9).round() / 1e9;
            format!("{r}{}", &v[end..])
        }
        Err(_) => v.to_string(),
    }
}

/// The points of a grid: the cartesian product of `axes`, the first axis outermost.
pub(super) fn product(axes: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut points: Vec<Vec<String>> = vec![Vec::new()];
    for axis in axes {
        points = points
            .iter()
            .flat_map(|p| {
                axis.iter()
                    .map(move |v| p.iter().cloned().chain([v.clone()]).collect())
            })
            .collect();
    }
    points
}

/// The swept keys and the values of each (`--param KEY=VALUES`, in order).
fn grid(params: &[String]) -> Result<(Vec<String>, Vec<Vec<String>>), CliError> {
    let mut keys = Vec::new();
    let mut axes = Vec::new();
    for p in params {
        let (k, v) = p.split_once('=').ok_or_else(|| {
            CliError::Input(format!("lblab: --param expects KEY=VALUES, found \"{p}\""))
        })?;
        if k.trim().starts_with("scenario.") {
            return Err(CliError::Input(format!(
                "lblab: --param cannot sweep {}: points share the seed, replications and run length",
                k.trim()
            )));
        }
        keys.push(k.trim().to_string());
        axes.push(
            expand_values(v).map_err(|e| CliError::Input(format!("lblab: --param {k}: {e}")))?,
        );
    }
    Ok((keys, axes))
}

pub(super) fn parse_shard(s: &str) -> Result<(usize, usize), CliError> {
    let bad = || {
        CliError::Input(format!(
            "lblab: --shard expects K/N with 1 ≤ K ≤ N, found \"{s}\""
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

pub(super) fn point_file(dir: &Path, i: usize) -> PathBuf {
    dir.join("points").join(format!("{i:05}.csv"))
}

pub(super) fn sweep(a: SweepArgs) -> Result<(), CliError> {
    let c = &a.common;
    let metric = metric_column(&a.metric)?;
    super::run::announce(&c.file, c.quiet);
    let (keys, axes) = grid(&a.params)?;
    let points = product(&axes);
    let source = if !a.algorithms.is_empty() {
        AlgSource::Named(&a.algorithms)
    } else {
        AlgSource::Compare
    };
    let mut plan = Plan::new(&c.file, &c.set, source, "sweep")?;
    plan.check_varied(&keys, "--param")?;
    let mut s = plan.meta.clone();
    c.apply(&mut s);
    // Each algorithm's label without the swept keys (the same at every point).
    let mut base: Vec<Variant> = Vec::new();
    for i in 0..plan.algs.len() {
        base.push(plan.variant(&c.file, i, &[], &|x| c.apply(x))?.0);
    }
    plan.notes
        .extend(super::variants::hidden_differences(&base, &keys));
    let alg_names: Vec<String> = base.iter().map(|v| v.algorithm.clone()).collect();
    let mut id = format!(
        "{:016x}|{}|{}|{}",
        s.hash,
        s.seed,
        s.replications,
        keys.join(",")
    );
    for p in &points {
        id.push('|');
        id.push_str(&p.join(","));
    }
    for n in &alg_names {
        id.push('|');
        id.push_str(n);
    }
    let ident = Identity {
        version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: s.name.clone(),
        scenario_hash: s.hash,
        seed: s.seed,
        replications: s.replications,
        keys,
        values: axes,
        algorithms: alg_names.clone(),
        points: points.len(),
        sweep_hash: fnv1a64(id.as_bytes()),
    };
    let keys = &ident.keys;
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    let (k, n) = shard.unwrap_or((1, 1));
    let dir = c
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&s.name).join("sweep"));
    let ident_text = ident.to_toml();
    let ident_path = dir.join("sweep.toml");
    if a.resume {
        if let Ok(old) = std::fs::read_to_string(&ident_path)
            && old != ident_text
        {
            let why = match Identity::parse(&old) {
                Ok(old) => old
                    .diff(&ident)
                    .map(|d| format!("its {}: {}, this run's: {}", d.what, d.a, d.b))
                    .unwrap_or_else(|| "its sweep.toml is laid out differently".into()),
                Err(e) => e,
            };
            return Err(CliError::Input(format!(
                "lblab: {} holds a different sweep ({why}); drop --resume or choose another --out",
                dir.display()
            )));
        }
    } else if dir.join("points").exists() {
        std::fs::remove_dir_all(dir.join("points")).map_err(|e| {
            CliError::Input(format!(
                "lblab: cannot clear {}: {e}",
                dir.join("points").display()
            ))
        })?;
    }
    std::fs::create_dir_all(dir.join("points"))
        .map_err(|e| CliError::Input(format!("lblab: cannot create {}: {e}", dir.display())))?;
    // What marks a complete sweep goes until this one is complete (manifest.toml last);
    // shard.toml stays only if this run is a shard.
    for stale in ["manifest.toml", "report.html", "sweep.csv", "shard.toml"] {
        files::remove_if_present(&dir.join(stale))?;
    }
    files::write_atomic(&ident_path, &ident_text)?;
    let info = run_info(&s);
    let file_s = c.file.display().to_string();
    let mut params = c.set.clone();
    params.extend(a.params.iter().map(|p| format!("sweep {p}")));
    let mvars: Vec<crate::report::manifest::ManifestVariant<'_>> = base
        .iter()
        .map(|v| crate::report::manifest::ManifestVariant {
            label: &v.label,
            algorithm: &v.algorithm,
            factors: &v.factors,
            sets: &v.sets,
        })
        .collect();
    let manifest = crate::report::manifest::manifest_toml(
        &info,
        &crate::report::manifest::ManifestExtra {
            command: &super::run::command_line(),
            scenario_file: &file_s,
            scenario_hash: s.hash,
            algorithms: &alg_names,
            files: &["sweep.csv", "sweep.toml"],
            parameters: &params,
            variants: &mvars,
            notes: &plan.notes,
        },
    );
    if shard.is_some() {
        files::write_atomic(&dir.join("shard.toml"), &shard_toml(k, n, &manifest))?;
    }
    let mine: Vec<usize> = (0..points.len()).filter(|i| i % n == k - 1).collect();
    let todo: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| !(a.resume && point_file(&dir, i).exists()))
        .collect();
    let progress = !c.quiet && std::io::stderr().is_terminal();
    let pb = super::progress::bar(
        super::progress::runs(&[
            (todo.len() as u64, "point"),
            (alg_names.len() as u64, "algorithm"),
            (u64::from(s.replications), "replication"),
        ]),
        progress,
    );
    for &i in &todo {
        let mut worlds: Vec<WorldConfig> = Vec::new();
        let point: Vec<String> = keys
            .iter()
            .zip(&points[i])
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for j in 0..plan.algs.len() {
            worlds.push(plan.variant(&c.file, j, &point, &|x| c.apply(x))?.0.world);
        }
        super::memory::check_run(
            &c.file.display().to_string(),
            &worlds.iter().collect::<Vec<_>>(),
            s.replications,
        )?;
        let results =
            replicate_with(&worlds, s.seed, s.replications, c.jobs, &pb).map_err(|(w, r, e)| {
                CliError::Sim(format!(
                    "lblab: {} point {i} ({}), {}: replication {r} failed: {e}",
                    s.name,
                    points[i].join(", "),
                    alg_names[w]
                ))
            })?;
        let aggs: Vec<Aggregate> = alg_names
            .iter()
            .zip(results)
            .map(|(name, reps)| Aggregate::new(name.clone(), reps))
            .collect();
        files::write_atomic(
            &point_file(&dir, i),
            &csv_out::sweep_rows(&info, i, &points[i], &aggs),
        )?;
    }
    pb.finish_and_clear();
    let done = (0..points.len())
        .filter(|&i| point_file(&dir, i).exists())
        .count();
    if done < points.len() {
        if !c.quiet {
            out(&format!(
                "shard {k}/{n}: {} of {} points done in {}/\n  combine the shards with: lblab merge DIR1 DIR2 ... --out DIR\n",
                mine.len(),
                points.len(),
                dir.display()
            ))?;
        }
        return Ok(());
    }
    let summary = assemble(&dir, keys, points.len())?;
    files::write_atomic(&dir.join("manifest.toml"), &manifest)?;
    super::report::render_all(&dir)?;
    if !c.quiet {
        out(&render_table(
            &summary,
            keys,
            &points,
            &alg_names,
            metric,
            (&info.scenario, info.replications),
        ))?;
        for n in &plan.notes {
            out(&format!("note: {n}\n"))?;
        }
        out(&format!(
            "\nresults: {}/ (sweep.csv, sweep.toml, points/; charts and report.html)\n",
            dir.display()
        ))?;
    }
    Ok(())
}

/// Writes `sweep.csv` from the point files; returns its text.
pub(super) fn assemble(dir: &Path, keys: &[String], n_points: usize) -> Result<String, CliError> {
    let mut text = csv_out::sweep_header(keys);
    for i in 0..n_points {
        let p = point_file(dir, i);
        text.push_str(
            &std::fs::read_to_string(&p)
                .map_err(|e| CliError::Input(format!("lblab: cannot read {}: {e}", p.display())))?,
        );
    }
    files::write_atomic(&dir.join("sweep.csv"), &text)?;
    Ok(text)
}

/// Points × algorithms: the chosen metric's mean ± 95% CI (`run` is the scenario's name
/// and the number of replications).
pub(super) fn render_table(
    sweep_csv: &str,
    keys: &[String],
    points: &[Vec<String>],
    algs: &[String],
    metric: &str,
    run: (&str, u32),
) -> String {
    let mut rdr = csv::Reader::from_reader(sweep_csv.as_bytes());
    let header = rdr.headers().cloned().unwrap_or_default();
    let Some(col) = header.iter().position(|h| h == metric) else {
        return format!("(no metric named {metric})\n");
    };
    let stat_col = 3 + keys.len();
    let rows: Vec<csv::StringRecord> = rdr.records().filter_map(Result::ok).collect();
    let cell = |point: usize, alg: &str| -> String {
        let find = |stat: &str| {
            rows.iter()
                .find(|r| &r[1] == alg && r[2] == point.to_string() && &r[stat_col] == stat)
                .and_then(|r| r[col].parse::<f64>().ok())
        };
        match (find("mean"), find("ci95_lo"), find("ci95_hi")) {
            (Some(m), Some(lo), Some(hi)) => format!("{m:.2} [{lo:.2}, {hi:.2}]"),
            (Some(m), ..) => format!("{m:.2}"),
            _ => "n/a".into(),
        }
    };
    let mut out = format!(
        "{}: {metric} by point (mean [95% CI] over {} replication{})\n",
        run.0,
        run.1,
        if run.1 == 1 { "" } else { "s" }
    );
    let kw = keys.iter().map(|k| k.len()).collect::<Vec<_>>();
    let widths: Vec<usize> = keys
        .iter()
        .enumerate()
        .map(|(j, _)| {
            points
                .iter()
                .map(|p| p[j].len())
                .max()
                .unwrap_or(0)
                .max(kw[j])
        })
        .collect();
    for (k, w) in keys.iter().zip(&widths) {
        out.push_str(&format!("{k:<w$}  "));
    }
    let cells: Vec<Vec<String>> = (0..points.len())
        .map(|i| algs.iter().map(|a| cell(i, a)).collect())
        .collect();
    let aw: Vec<usize> = algs
        .iter()
        .enumerate()
        .map(|(j, a)| {
            cells
                .iter()
                .map(|r| r[j].len())
                .max()
                .unwrap_or(0)
                .max(a.len())
        })
        .collect();
    for (a, w) in algs.iter().zip(&aw) {
        out.push_str(&format!("{a:>w$}  "));
    }
    out.push('\n');
    for (i, p) in points.iter().enumerate() {
        for (v, w) in p.iter().zip(&widths) {
            out.push_str(&format!("{v:<w$}  "));
        }
        for (c, w) in cells[i].iter().zip(&aw) {
            out.push_str(&format!("{c:>w$}  "));
        }
        out.push('\n');
    }
    out
}
