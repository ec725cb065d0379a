//! `lblab sweep`, `--shard`, `--resume` and `lblab merge`.
//!
//! A sweep is a grid of points (the cartesian product of `--param` values, first key
//! outermost) crossed with algorithms. Each point is run with every algorithm on the same
//! seed (common random numbers across points and algorithms) and written as its own file,
//! `points/NNNNN.csv`, the moment it is done; `sweep.csv` is the header followed by the point
//! files in point order. So a sweep split with `--shard k/n` (points i with i mod n = k − 1)
//! and put back together with `lblab merge` gives exactly the bytes of the unsharded run, and
//! `--resume` simply skips points whose file exists (after checking that the directory holds
//! the same sweep: `sweep.toml` records its hash).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::engine::rng::fnv1a64;
use crate::metrics::Aggregate;
use crate::model::WorldConfig;
use crate::report::{RunInfo, csv_out};

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
    /// Metric shown in the terminal table.
    #[arg(long, default_value = "latency_p99_ms")]
    metric: String,
}

#[derive(clap::Args, Debug)]
pub(super) struct MergeArgs {
    /// Results directories of the shards of one sweep.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the merged sweep (default: the first directory).
    #[arg(short = 'o', long, value_name = "DIR")]
    out: Option<PathBuf>,
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

struct Sweep {
    keys: Vec<String>,
    points: Vec<Vec<String>>,
    hash: u64,
}

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
    let mut points: Vec<Vec<String>> = vec![Vec::new()];
    for axis in &axes {
        points = points
            .iter()
            .flat_map(|p| {
                axis.iter()
                    .map(move |v| p.iter().cloned().chain([v.clone()]).collect())
            })
            .collect();
    }
    Ok((keys, points))
}

fn parse_shard(s: &str) -> Result<(usize, usize), CliError> {
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

fn point_file(dir: &Path, i: usize) -> PathBuf {
    dir.join("points").join(format!("{i:05}.csv"))
}

fn sweep_toml(name: &str, sw: &Sweep, algorithms: &[String]) -> String {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    format!(
        "# A sweep's identity: lblab merge and --resume only combine directories with the same hash.\nscenario = {}\nsweep_hash = \"fnv1a64:{:016x}\"\npoints = {}\nkeys = [{}]\nalgorithms = [{}]\n",
        q(name),
        sw.hash,
        sw.points.len(),
        sw.keys.iter().map(|k| q(k)).collect::<Vec<_>>().join(", "),
        algorithms
            .iter()
            .map(|a| q(a))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

pub(super) fn sweep(a: SweepArgs) -> Result<(), CliError> {
    let c = &a.common;
    super::run::announce(&c.file, c.quiet);
    let (keys, points) = grid(&a.params)?;
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
    let algs: Vec<(String, ())> = base.iter().map(|v| (v.algorithm.clone(), ())).collect();
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
    for (n, _) in &algs {
        id.push('|');
        id.push_str(n);
    }
    let sw = Sweep {
        keys,
        points,
        hash: fnv1a64(id.as_bytes()),
    };
    let (k, n) = match &a.shard {
        Some(sh) => parse_shard(sh)?,
        None => (1, 1),
    };
    let dir = c
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&s.name).join("sweep"));
    let alg_names: Vec<String> = algs.iter().map(|(n, _)| n.clone()).collect();
    let ident = sweep_toml(&s.name, &sw, &alg_names);
    let ident_path = dir.join("sweep.toml");
    if a.resume {
        if let Ok(old) = std::fs::read_to_string(&ident_path)
            && old != ident
        {
            return Err(CliError::Input(format!(
                "lblab: {} holds a different sweep (another scenario, grid, seed or algorithms); drop --resume or choose another --out",
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
    files::write_atomic(&ident_path, &ident)?;
    let mine: Vec<usize> = (0..sw.points.len()).filter(|i| i % n == k - 1).collect();
    let todo: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| !(a.resume && point_file(&dir, i).exists()))
        .collect();
    let info = run_info(&s);
    let progress = !c.quiet && std::io::stderr().is_terminal();
    let pb = super::progress::bar(
        super::progress::runs(&[
            (todo.len() as u64, "point"),
            (algs.len() as u64, "algorithm"),
            (u64::from(s.replications), "replication"),
        ]),
        progress,
    );
    for &i in &todo {
        let mut worlds: Vec<WorldConfig> = Vec::new();
        let point: Vec<String> = sw
            .keys
            .iter()
            .zip(&sw.points[i])
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for j in 0..plan.algs.len() {
            worlds.push(plan.variant(&c.file, j, &point, &|x| c.apply(x))?.0.world);
        }
        let results =
            replicate_with(&worlds, s.seed, s.replications, c.jobs, &pb).map_err(|(w, r, e)| {
                CliError::Sim(format!(
                    "lblab: {} point {i} ({}), {}: replication {r} failed: {e}",
                    s.name,
                    sw.points[i].join(", "),
                    algs[w].0
                ))
            })?;
        let aggs: Vec<Aggregate> = algs
            .iter()
            .zip(results)
            .map(|((name, _), reps)| Aggregate::new(name.clone(), reps))
            .collect();
        files::write_atomic(
            &point_file(&dir, i),
            &csv_out::sweep_rows(&info, i, &sw.points[i], &aggs),
        )?;
    }
    pb.finish_and_clear();
    let done = (0..sw.points.len())
        .filter(|&i| point_file(&dir, i).exists())
        .count();
    if done < sw.points.len() {
        if !c.quiet {
            out(&format!(
                "shard {k}/{n}: {} of {} points done in {}/\n  combine the shards with: lblab merge DIR1 DIR2 ... --out DIR\n",
                mine.len(),
                sw.points.len(),
                dir.display()
            ))?;
        }
        return Ok(());
    }
    let summary = assemble(&dir, &sw.keys, sw.points.len())?;
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
    files::write_atomic(&dir.join("manifest.toml"), &manifest)?;
    super::report::render_all(&dir)?;
    if !c.quiet {
        out(&render_table(&summary, &sw, &alg_names, &a.metric, &info))?;
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
fn assemble(dir: &Path, keys: &[String], n_points: usize) -> Result<String, CliError> {
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

/// Points × algorithms: the chosen metric's mean ± 95% CI.
fn render_table(
    sweep_csv: &str,
    sw: &Sweep,
    algs: &[String],
    metric: &str,
    info: &RunInfo,
) -> String {
    let mut rdr = csv::Reader::from_reader(sweep_csv.as_bytes());
    let header = rdr.headers().cloned().unwrap_or_default();
    let Some(col) = header.iter().position(|h| h == metric) else {
        return format!("(no metric named {metric})\n");
    };
    let stat_col = 3 + sw.keys.len();
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
        "{}: {metric} by point (mean [95% CI] over {} replications)\n",
        info.scenario, info.replications
    );
    let kw = sw.keys.iter().map(|k| k.len()).collect::<Vec<_>>();
    let widths: Vec<usize> = sw
        .keys
        .iter()
        .enumerate()
        .map(|(j, _)| {
            sw.points
                .iter()
                .map(|p| p[j].len())
                .max()
                .unwrap_or(0)
                .max(kw[j])
        })
        .collect();
    for (k, w) in sw.keys.iter().zip(&widths) {
        out.push_str(&format!("{k:<w$}  "));
    }
    let cells: Vec<Vec<String>> = (0..sw.points.len())
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
    for (i, p) in sw.points.iter().enumerate() {
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

pub(super) fn merge(a: MergeArgs) -> Result<(), CliError> {
    let first = &a.dirs[0];
    let ident = std::fs::read_to_string(first.join("sweep.toml")).map_err(|e| {
        CliError::Input(format!(
            "lblab: {} is not a sweep directory: {e}",
            first.display()
        ))
    })?;
    let parsed: toml::Table = ident.parse().map_err(|e| {
        CliError::Input(format!(
            "lblab: {}: {e}",
            first.join("sweep.toml").display()
        ))
    })?;
    let n_points = parsed
        .get("points")
        .and_then(|v| v.as_integer())
        .unwrap_or(0) as usize;
    let keys: Vec<String> = parsed
        .get("keys")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let dest = a.out.clone().unwrap_or_else(|| first.clone());
    std::fs::create_dir_all(dest.join("points"))
        .map_err(|e| CliError::Input(format!("lblab: cannot create {}: {e}", dest.display())))?;
    for d in &a.dirs {
        let other = std::fs::read_to_string(d.join("sweep.toml")).map_err(|e| {
            CliError::Input(format!(
                "lblab: {} is not a sweep directory: {e}",
                d.display()
            ))
        })?;
        if other != ident {
            return Err(CliError::Input(format!(
                "lblab: {} and {} hold different sweeps",
                first.display(),
                d.display()
            )));
        }
    }
    let mut missing = Vec::new();
    for i in 0..n_points {
        let found: Vec<String> = a
            .dirs
            .iter()
            .filter_map(|d| std::fs::read_to_string(point_file(d, i)).ok())
            .collect();
        match found.first() {
            None => missing.push(i),
            Some(text) => {
                if found.iter().any(|t| t != text) {
                    return Err(CliError::Input(format!(
                        "lblab: point {i} differs between shards"
                    )));
                }
                if !point_file(&dest, i).exists() {
                    files::write_atomic(&point_file(&dest, i), text)?;
                }
            }
        }
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().take(10).map(|i| i.to_string()).collect();
        return Err(CliError::Input(format!(
            "lblab: {} of {n_points} points are missing (e.g. {}): run the remaining shards first",
            missing.len(),
            list.join(", ")
        )));
    }
    files::write_atomic(&dest.join("sweep.toml"), &ident)?;
    assemble(&dest, &keys, n_points)?;
    out(&format!(
        "merged {} directories: {n_points} points in {}/sweep.csv\n",
        a.dirs.len(),
        dest.display()
    ))
}
