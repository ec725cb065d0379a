//! `lblab merge`, and what a sweep directory records so that merge can check its parts.
//!
//! `sweep.toml` is a sweep's identity (lblab version, scenario and its digest, seed,
//! replications, grid, algorithms): `--resume` and merge compare it field by field, so they
//! can say which field differs. A shard (`--shard k/n`) also writes `shard.toml`: which
//! shard it holds, followed by the manifest the whole sweep would have (with the shard's
//! command). It is not `manifest.toml`, which marks a complete result. Merge checks that the
//! directories are one sweep, that their manifests agree (all but the command and the
//! scenario file's path), that no shard is missing, given twice or unfinished, and that
//! overlapping points are identical; only then does it write the destination: the points,
//! `sweep.csv`, `manifest.toml` (the shards' manifest, with the merge command and the
//! shards' commands) and, through the code `sweep` uses, the charts and `report.html`.

use std::path::{Path, PathBuf};

use super::sweep::{assemble, parse_shard, point_file, product, render_table};
use super::{CliError, files, out};

#[derive(clap::Args, Debug)]
pub(super) struct MergeArgs {
    /// Results directories of the shards of one sweep (or of the whole sweep).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the merged sweep (default: the first directory).
    #[arg(short = 'o', long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Metric shown in the terminal table, as `lblab sweep --metric` takes it.
    #[arg(long, default_value = "latency_p99_ms")]
    metric: String,
    /// Print nothing but errors (the files are still written).
    #[arg(short = 'q', long)]
    quiet: bool,
}

/// A sweep's identity, as `sweep.toml` records it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Identity {
    /// lblab's version (`CARGO_PKG_VERSION`).
    pub version: String,
    pub scenario: String,
    /// FNV-1a of the scenario text and its `--set` overrides.
    pub scenario_hash: u64,
    pub seed: u64,
    pub replications: u32,
    /// The swept keys and each one's values, in `--param` order.
    pub keys: Vec<String>,
    pub values: Vec<Vec<String>>,
    pub algorithms: Vec<String>,
    /// The number of points (the product of the values' counts).
    pub points: usize,
    /// A hash of all of the above but the version.
    pub sweep_hash: u64,
}

/// The first field in which two identities differ: its name and its values in `a` and `b`,
/// and what to do about it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Diff {
    pub what: String,
    pub a: String,
    pub b: String,
    pub hint: &'static str,
}

fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(xs: &[String]) -> String {
    format!(
        "[{}]",
        xs.iter().map(|x| q(x)).collect::<Vec<_>>().join(", ")
    )
}

/// At most 80 characters of `s`.
fn short(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(79).collect::<String>())
    }
}

impl Identity {
    /// `sweep.toml`.
    pub(super) fn to_toml(&self) -> String {
        // A seed above i64::MAX is not a TOML integer: it is written as a string.
        let seed = if i64::try_from(self.seed).is_ok() {
            self.seed.to_string()
        } else {
            q(&self.seed.to_string())
        };
        format!(
            "# A sweep's identity: lblab merge and --resume only combine directories whose identities agree.\n\
             version = {}\nscenario = {}\nscenario_hash = \"fnv1a64:{:016x}\"\nseed = {seed}\n\
             replications = {}\nkeys = {}\nvalues = [{}]\nalgorithms = {}\npoints = {}\n\
             sweep_hash = \"fnv1a64:{:016x}\"\n",
            q(&self.version),
            q(&self.scenario),
            self.scenario_hash,
            self.replications,
            list(&self.keys),
            self.values
                .iter()
                .map(|v| list(v))
                .collect::<Vec<_>>()
                .join(", "),
            list(&self.algorithms),
            self.points,
            self.sweep_hash,
        )
    }

    /// Reads `sweep.toml`; the error says what is wrong with it.
    pub(super) fn parse(text: &str) -> Result<Identity, String> {
        let t: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            format!("its sweep.toml is not valid TOML: {}", e.message())
        })?;
        if !t.contains_key("version") {
            return Err(
                "its sweep.toml has no version: it was written by an older lblab; rerun it with this one"
                    .into(),
            );
        }
        let bad = |k: &str| format!("its sweep.toml has no valid `{k}`");
        let s = |k: &str| t.get(k).and_then(|v| v.as_str()).ok_or_else(|| bad(k));
        let int = |k: &str| {
            t.get(k)
                .and_then(|v| match v {
                    toml::Value::Integer(i) => u64::try_from(*i).ok(),
                    toml::Value::String(s) => s.parse().ok(),
                    _ => None,
                })
                .ok_or_else(|| bad(k))
        };
        let hash = |k: &str| {
            s(k)?
                .strip_prefix("fnv1a64:")
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(k))
        };
        let strings = |v: &toml::Value| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect()
        };
        let strs = |k: &str| t.get(k).and_then(strings).ok_or_else(|| bad(k));
        let values = t
            .get("values")
            .and_then(|v| v.as_array())
            .and_then(|a| a.iter().map(strings).collect::<Option<Vec<_>>>())
            .ok_or_else(|| bad("values"))?;
        let id = Identity {
            version: s("version")?.to_string(),
            scenario: s("scenario")?.to_string(),
            scenario_hash: hash("scenario_hash")?,
            seed: int("seed")?,
            replications: u32::try_from(int("replications")?).map_err(|_| bad("replications"))?,
            keys: strs("keys")?,
            values,
            algorithms: strs("algorithms")?,
            points: int("points")? as usize,
            sweep_hash: hash("sweep_hash")?,
        };
        if id.keys.len() != id.values.len()
            || id.values.iter().map(Vec::len).product::<usize>() != id.points
        {
            return Err("its sweep.toml's keys, values and points do not agree".into());
        }
        Ok(id)
    }

    /// The first field (in the order of `sweep.toml`) in which `b` differs from `self`.
    pub(super) fn diff(&self, b: &Identity) -> Option<Diff> {
        let d = |what: &str, x: String, y: String, hint| {
            Some(Diff {
                what: what.to_string(),
                a: short(&x),
                b: short(&y),
                hint,
            })
        };
        let a = self;
        if a.version != b.version {
            return d(
                "lblab version",
                a.version.clone(),
                b.version.clone(),
                "run every shard with the same lblab",
            );
        }
        if a.scenario != b.scenario {
            return d(
                "scenario",
                a.scenario.clone(),
                b.scenario.clone(),
                "the shards ran different scenarios",
            );
        }
        if a.scenario_hash != b.scenario_hash {
            return d(
                "scenario digest",
                format!("fnv1a64:{:016x}", a.scenario_hash),
                format!("fnv1a64:{:016x}", b.scenario_hash),
                "the scenario file or its --set overrides changed between shards",
            );
        }
        if a.seed != b.seed {
            let hint = "give every shard the same --seed";
            return d("seed", a.seed.to_string(), b.seed.to_string(), hint);
        }
        if a.replications != b.replications {
            let (x, y) = (a.replications.to_string(), b.replications.to_string());
            return d("replications", x, y, "give every shard the same -r");
        }
        if a.keys != b.keys {
            let hint = "give every shard the same --param keys";
            return d("swept keys", a.keys.join(", "), b.keys.join(", "), hint);
        }
        if let Some(j) = (0..a.keys.len()).find(|&j| a.values[j] != b.values[j]) {
            return d(
                &format!("values of {}", a.keys[j]),
                a.values[j].join(","),
                b.values[j].join(","),
                "give every shard the same --param values",
            );
        }
        if a.algorithms != b.algorithms {
            return d(
                "algorithms",
                a.algorithms.join(","),
                b.algorithms.join(","),
                "give every shard the same --algorithms",
            );
        }
        if a.points != b.points || a.sweep_hash != b.sweep_hash {
            return d(
                "sweep hash",
                format!("fnv1a64:{:016x}", a.sweep_hash),
                format!("fnv1a64:{:016x}", b.sweep_hash),
                "the shards hold different sweeps",
            );
        }
        None
    }
}

/// `shard.toml`: shard `k` of `n`, then `manifest` (the whole sweep's, with this command).
pub(super) fn shard_toml(k: usize, n: usize, manifest: &str) -> String {
    format!(
        "# This directory holds shard {k}/{n} of a sweep: the points i with i mod {n} = {}.\n\
         # lblab merge checks the shards against each other and writes manifest.toml from\n\
         # the lines after `shard`: the manifest of the whole sweep, with this shard's command.\n\
         shard = \"{k}/{n}\"\n{manifest}",
        k - 1
    )
}

/// One directory given to merge.
struct Part {
    dir: PathBuf,
    ident_text: String,
    ident: Identity,
    /// (k, n); (1, 1) for a whole sweep (no `shard.toml`).
    shard: (usize, usize),
    /// The manifest it holds (from `shard.toml`, else `manifest.toml`) and that file's name.
    manifest: Option<(String, &'static str)>,
    /// How many of its own points (i mod n = k − 1) it has, of how many.
    have: usize,
    mine: usize,
}

fn input(msg: String) -> CliError {
    CliError::Input(msg)
}

fn read_part(dir: &Path) -> Result<Part, CliError> {
    let d = dir.display();
    let ident_text = std::fs::read_to_string(dir.join("sweep.toml")).map_err(|e| {
        input(format!(
            "lblab: {d} is not a sweep directory (sweep.toml: {e})"
        ))
    })?;
    let ident = Identity::parse(&ident_text).map_err(|e| input(format!("lblab: {d}: {e}")))?;
    let read_opt = |name: &str| match std::fs::read_to_string(dir.join(name)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(input(format!("lblab: cannot read {d}/{name}: {e}"))),
    };
    let (shard, manifest) = match read_opt("shard.toml")? {
        Some(text) => {
            let (spec, rest) = text
                .split_once("\nshard = \"")
                .and_then(|(h, r)| Some((h, r.split_once("\"\n")?)))
                .map(|(_, (s, m))| (s.to_string(), m.to_string()))
                .ok_or_else(|| input(format!("lblab: {d}/shard.toml has no `shard = \"K/N\"`")))?;
            let shard = parse_shard(&spec)
                .map_err(|_| input(format!("lblab: {d}/shard.toml: `{spec}` is not K/N")))?;
            (shard, Some((rest, "shard.toml")))
        }
        None => (
            (1, 1),
            read_opt("manifest.toml")?.map(|m| (m, "manifest.toml")),
        ),
    };
    let (k, n) = shard;
    let own: Vec<usize> = (0..ident.points).filter(|i| i % n == k - 1).collect();
    let have = own.iter().filter(|&&i| point_file(dir, i).exists()).count();
    Ok(Part {
        dir: dir.to_path_buf(),
        ident_text,
        ident,
        shard,
        manifest,
        have,
        mine: own.len(),
    })
}

/// The manifests' first difference, ignoring the command and the scenario file's path.
fn manifest_diff(a: &str, b: &str) -> Result<Option<(String, String, String)>, String> {
    let parse = |t: &str| -> Result<toml::Table, String> {
        let mut t: toml::Table = t
            .parse()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        t.remove("command");
        t.remove("scenario_file");
        t.remove("shard_commands");
        Ok(t)
    };
    let (ta, tb) = (parse(a)?, parse(b)?);
    let keys = ta.keys().chain(tb.keys().filter(|k| !ta.contains_key(*k)));
    for k in keys {
        let (x, y) = (ta.get(k), tb.get(k));
        if x != y {
            let show =
                |v: Option<&toml::Value>| short(&v.map_or("(none)".into(), |v| v.to_string()));
            return Ok(Some((k.clone(), show(x), show(y))));
        }
    }
    Ok(None)
}

/// What makes the parts not one complete sweep: shards of different splits, a shard given
/// twice, a part that has not all its points, shards missing.
fn shard_problems(parts: &[Part]) -> Vec<String> {
    let mut problems = Vec::new();
    let split: Vec<&Part> = parts.iter().filter(|p| p.shard.1 > 1).collect();
    let name = |(k, n): (usize, usize)| format!("shard {k}/{n}");
    if let Some(f) = split.first()
        && let Some(o) = split.iter().find(|p| p.shard.1 != f.shard.1)
    {
        problems.push(format!(
            "{} holds {} and {} {}: shards of different splits (--shard K/{} and K/{}) cannot be merged",
            f.dir.display(),
            name(f.shard),
            o.dir.display(),
            name(o.shard),
            f.shard.1,
            o.shard.1
        ));
        return problems;
    }
    for (i, x) in split.iter().enumerate() {
        if let Some(y) = split[i + 1..].iter().find(|y| y.shard == x.shard)
            && !split[..i].iter().any(|z| z.shard == x.shard)
        {
            problems.push(format!(
                "{} given twice: {} and {}",
                name(x.shard),
                x.dir.display(),
                y.dir.display()
            ));
        }
    }
    for p in parts.iter().filter(|p| p.have < p.mine) {
        let what = if p.shard.1 == 1 {
            format!("the sweep in {}", p.dir.display())
        } else {
            format!("{} in {}", name(p.shard), p.dir.display())
        };
        problems.push(format!(
            "{what} has {} of its {} points: rerun it with --resume",
            p.have, p.mine
        ));
    }
    let whole = parts.iter().any(|p| p.shard.1 == 1 && p.have == p.mine);
    if !whole && let Some(f) = split.first() {
        let n = f.shard.1;
        let missing: Vec<String> = (1..=n)
            .filter(|k| !split.iter().any(|p| p.shard.0 == *k))
            .map(|k| k.to_string())
            .collect();
        if !missing.is_empty() {
            let shown = if missing.len() > 20 {
                format!("{}, … ({} shards)", missing[..20].join(", "), missing.len())
            } else {
                missing.join(", ")
            };
            problems.push(if missing.len() == 1 {
                format!("shard {shown} of {n} missing: run it with --shard {shown}/{n}, then merge again")
            } else {
                format!("shards {shown} of {n} missing: run them with --shard K/{n}, then merge again")
            });
        }
    }
    problems
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

pub(super) fn merge(a: MergeArgs) -> Result<(), CliError> {
    let metric = super::sweep::metric_column(&a.metric)?;
    let parts: Vec<Part> = a
        .dirs
        .iter()
        .map(|d| read_part(d))
        .collect::<Result<_, _>>()?;
    for (i, x) in parts.iter().enumerate() {
        if let Some(y) = parts[i + 1..].iter().find(|y| same_dir(&x.dir, &y.dir)) {
            return Err(input(format!(
                "lblab: {} is given twice ({} and {})",
                x.dir.display(),
                x.dir.display(),
                y.dir.display()
            )));
        }
    }
    // One sweep: every identity agrees with the first directory's.
    let first = &parts[0];
    for p in &parts[1..] {
        if let Some(d) = first.ident.diff(&p.ident) {
            return Err(input(format!(
                "lblab: {} has {} {}, {} has {}: {}",
                p.dir.display(),
                d.what,
                d.b,
                first.dir.display(),
                d.a,
                d.hint
            )));
        }
    }
    // The same run settings: every manifest agrees (but for the command and file path).
    let mut order: Vec<&Part> = parts.iter().collect();
    order.sort_by_key(|p| (p.shard.1 > 1, p.shard.0));
    let with: Vec<(&Part, &(String, &str))> = order
        .iter()
        .filter_map(|p| p.manifest.as_ref().map(|m| (*p, m)))
        .collect();
    let Some(&(m0, (manifest, file0))) = with.first() else {
        return Err(input(format!(
            "lblab: no shard.toml or manifest.toml in {}: run the sweep (or its shards) again with --resume to write them",
            parts
                .iter()
                .map(|p| p.dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    for &(p, (m, file)) in &with[1..] {
        let diff = manifest_diff(manifest, m)
            .map_err(|e| input(format!("lblab: {}/{file}: {e}", p.dir.display())))?;
        if let Some((key, x, y)) = diff {
            let hint = if key == "lblab_version" {
                "run every shard with the same lblab build"
            } else {
                "the shards were run with different settings"
            };
            return Err(input(format!(
                "lblab: {}/{file} has {key} = {y}, {}/{file0} has {x}: {hint}",
                p.dir.display(),
                m0.dir.display()
            )));
        }
    }
    let problems = shard_problems(&parts);
    if !problems.is_empty() {
        return Err(input(
            problems
                .iter()
                .map(|p| format!("lblab: {p}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    // Every point, identical wherever it is.
    let id = &first.ident;
    let points = product(&id.values);
    let mut texts: Vec<String> = Vec::with_capacity(id.points);
    for (i, values) in points.iter().enumerate() {
        let mut found: Option<(String, &Path)> = None;
        for p in &parts {
            let f = point_file(&p.dir, i);
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            match &found {
                None => found = Some((text, &p.dir)),
                Some((t, d)) if *t != text => {
                    return Err(input(format!(
                        "lblab: point {i} ({}) differs between {} and {}: rerun one of them",
                        values.join(", "),
                        d.display(),
                        p.dir.display()
                    )));
                }
                Some(_) => {}
            }
        }
        let Some((text, _)) = found else {
            return Err(input(format!(
                "lblab: point {i} ({}) is in none of the directories: run the shard that has it",
                values.join(", ")
            )));
        };
        texts.push(text);
    }
    let dest = a.out.clone().unwrap_or_else(|| first.dir.clone());
    if !parts.iter().any(|p| same_dir(&p.dir, &dest))
        && let Ok(old) = std::fs::read_to_string(dest.join("sweep.toml"))
        && old != first.ident_text
    {
        return Err(input(format!(
            "lblab: {} holds another sweep: choose another --out",
            dest.display()
        )));
    }
    // Write: the points, sweep.toml and sweep.csv, then manifest.toml, charts and report.
    std::fs::create_dir_all(dest.join("points"))
        .map_err(|e| input(format!("lblab: cannot create {}: {e}", dest.display())))?;
    for stale in ["manifest.toml", "report.html", "sweep.csv"] {
        files::remove_if_present(&dest.join(stale))?;
    }
    for (i, text) in texts.iter().enumerate() {
        let f = point_file(&dest, i);
        if std::fs::read_to_string(&f).ok().as_ref() != Some(text) {
            files::write_atomic(&f, text)?;
        }
    }
    files::write_atomic(&dest.join("sweep.toml"), &first.ident_text)?;
    let summary = assemble(&dest, &id.keys, id.points)?;
    let commands: Vec<String> = with
        .iter()
        .map(|(_, (m, _))| {
            m.parse::<toml::Table>()
                .ok()
                .and_then(|t| t.get("command")?.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    let merged =
        crate::report::manifest::merged_manifest(manifest, &super::run::command_line(), &commands);
    files::write_atomic(&dest.join("manifest.toml"), &merged)?;
    super::report::render_all(&dest)?;
    if a.quiet {
        return Ok(());
    }
    let notes: Vec<String> = merged
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| {
            t.get("notes")?
                .as_array()?
                .iter()
                .map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut text = render_table(
        &summary,
        &id.keys,
        &points,
        &id.algorithms,
        metric,
        (&id.scenario, id.replications),
    );
    for n in notes {
        text.push_str(&format!("note: {n}\n"));
    }
    text.push_str(&format!(
        "\nmerged {} directories: {} points\nresults: {}/ (sweep.csv, sweep.toml, points/; charts and report.html)\n",
        parts.len(),
        id.points,
        dest.display()
    ));
    out(&text)
}

#[cfg(test)]
mod tests;
