//! The lab's JSON API: bundled scenarios, checking TOML, runs (started in the background,
//! polled for progress) and traces. Every answer is what the command line would compute:
//! the same parsing, variants, simulation and files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget};
use serde_json::{Value, json};

use crate::cli::CliError;
use crate::cli::files;
use crate::cli::run::{Job, simulate, summary_text};
use crate::cli::variants::{AlgSource, Plan, Variant, compare_variants, shell_sets};
use crate::engine::{SeedTree, SimTime};
use crate::model::World;
use crate::scenario::{self, Scenario};

use super::{Lab, Reply};

/// Requests a lab trace may follow (an animation of more is not readable anyway).
const MAX_TRACE: u64 = 500;

/// A run the lab started.
pub(super) struct RunState {
    /// Its results directory.
    pub(super) dir: PathBuf,
    /// Runs done (one replication of one variant each) and their total.
    pb: ProgressBar,
    phase: Mutex<Phase>,
}

enum Phase {
    Queued,
    Running,
    Done(Value),
    Failed(String),
}

/// What a POST sends: a scenario by name and text, and the run's settings.
#[derive(serde::Deserialize)]
struct Posted {
    /// The scenario's file name without `.toml` (a bundled name or the user's).
    #[serde(default)]
    name: String,
    toml: String,
    /// Replications (default: the scenario's).
    replications: Option<u32>,
    /// Trace: how many requests to follow, from when, in which variant.
    requests: Option<u64>,
    from: Option<String>,
    variant: Option<usize>,
}

fn posted(body: &str) -> Result<Posted, Reply> {
    serde_json::from_str(body).map_err(|e| Reply::error(400, &format!("bad request: {e}")))
}

/// A file name made of the scenario name: letters, digits, `-` and `_` only.
fn file_stem(name: &str) -> String {
    let s: String = name
        .trim()
        .trim_end_matches(".toml")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.trim_matches('-').is_empty() {
        "scenario".to_string()
    } else {
        s
    }
}

/// Colour styles are for terminals.
fn plain(e: CliError) -> String {
    let m = match e {
        CliError::Input(m) | CliError::Sim(m) => m,
    };
    anstream::adapter::strip_str(&m).to_string()
}

/// `GET /api/scenarios`: every bundled scenario with its question, lesson and text.
pub(super) fn scenarios() -> Reply {
    let v: Vec<Value> = scenario::bundled::BUNDLED
        .iter()
        .map(|(name, text)| {
            let s = scenario::parse(name, text, Path::new("."), &[], &files::read).ok();
            json!({
                "name": name,
                "description": s.as_ref().map(|s| s.description.as_str()),
                "question": s.as_ref().map(|s| s.question.as_str()),
                "lesson": s.as_ref().map(|s| s.lesson.as_str()),
                "toml": text,
            })
        })
        .collect();
    Reply::json(200, &Value::Array(v))
}

/// `GET /api/algorithms`: names and one-line summaries.
pub(super) fn algorithms() -> Reply {
    let v: Vec<Value> = crate::balancer::catalogue()
        .map(|a| json!({ "name": a.name, "summary": a.summary, "source": a.source }))
        .collect();
    Reply::json(200, &Value::Array(v))
}

/// Parses posted TOML as `lblab validate` would; problems carry line and column.
fn parse_posted(lab: &Lab, p: &Posted) -> Result<Scenario, Value> {
    let file = format!("{}.toml", file_stem(&p.name));
    // Relative paths in the text (empirical traces) resolve against the lab's directory.
    scenario::parse(&file, &p.toml, &lab.dir, &[], &files::read)
        .map_err(|e| super::super::validate::invalid_json(Path::new(&file), &e))
}

/// `POST /api/check`: `{ok: true, summary}` or `{ok: false, problems: [...]}`.
pub(super) fn check(lab: &Lab, body: &str) -> Reply {
    let p = match posted(body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match parse_posted(lab, &p) {
        Ok(s) => Reply::json(
            200,
            &super::super::validate::valid_json(Path::new(&p.name), &s),
        ),
        Err(v) => Reply::json(200, &v),
    }
}

/// Writes the posted text as `DIR/NAME.toml` for the command-line code to read, as it
/// reads any scenario file.
fn write_scenario(dir: &Path, p: &Posted) -> Result<PathBuf, Reply> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Reply::error(500, &format!("cannot create {}: {e}", dir.display())))?;
    let file = dir.join(format!("{}.toml", file_stem(&p.name)));
    std::fs::write(&file, &p.toml)
        .map_err(|e| Reply::error(500, &format!("cannot write {}: {e}", file.display())))?;
    Ok(file)
}

/// The variants `lblab compare FILE` runs, or the scenario's own algorithm alone when it
/// compares nothing (as `lblab run FILE`).
fn variants_of(
    file: &Path,
    s: &Scenario,
    reps: Option<u32>,
) -> Result<(Scenario, Vec<Variant>, Vec<String>), CliError> {
    let apply = |s: &mut Scenario| {
        if let Some(r) = reps {
            s.replications = r;
        }
    };
    if s.compare.is_empty() && s.compare_axis.is_none() {
        let plan = Plan::new(file, &[], AlgSource::Own, "run")?;
        let (v, s) = plan.variant(file, 0, &[], &apply)?;
        Ok((s, vec![v], plan.notes))
    } else {
        compare_variants(file, &[], &[], None, &apply)
    }
}

/// `POST /api/run`: checks the scenario, then runs it in the background. Answers
/// `{id}` (poll `/api/runs/ID`) or `{problems}` with status 422.
pub(super) fn start_run(lab: &Arc<Lab>, body: &str) -> Reply {
    let p = match posted(body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(r) = p.replications
        && !(1..=1000).contains(&r)
    {
        return Reply::error(400, "replications: from 1 to 1000");
    }
    let s = match parse_posted(lab, &p) {
        Ok(s) => s,
        Err(v) => return Reply::json(422, &v),
    };
    let mut runs = lab.runs.lock().expect("lab state");
    let id = runs.len() + 1;
    let dir = lab.dir.join(format!("run-{}", id + lab.skip));
    let file = match write_scenario(&dir.join("scenario"), &p) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (s, variants, notes) = match variants_of(&file, &s, p.replications) {
        Ok(x) => x,
        Err(e) => return Reply::json(422, &json!({ "ok": false, "error": plain(e) })),
    };
    let total = variants.len() as u64 * u64::from(s.replications);
    let state = Arc::new(RunState {
        dir: dir.clone(),
        pb: ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden()),
        phase: Mutex::new(Phase::Queued),
    });
    runs.push(Arc::clone(&state));
    drop(runs);
    let lab = Arc::clone(lab);
    let name = file_stem(&p.name);
    std::thread::spawn(move || {
        let _only_one = lab.busy.lock().unwrap_or_else(|e| e.into_inner());
        *state.phase.lock().expect("run state") = Phase::Running;
        let command = format!(
            "lblab {} {name}.toml --replications {}",
            if variants.len() > 1 { "compare" } else { "run" },
            s.replications
        );
        let job = Job {
            file: &file,
            dir: &state.dir,
            command: &command,
            sets: &[],
            jobs: lab.jobs,
            baseline: None,
        };
        let outcome = simulate(&job, &s, &variants, &notes, &state.pb).map(|w| {
            let layout = crate::report::table::Layout {
                width: 110,
                metrics: None,
            };
            let mut listing: Vec<String> = std::fs::read_dir(&state.dir)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter(|e| e.path().is_file())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            listing.sort();
            let summary: Value =
                serde_json::from_str(&crate::report::json::summary_json(&w.info, &w.agg))
                    .expect("our own JSON");
            json!({
                "scenario": s.name,
                "question": s.question,
                "lesson": s.lesson,
                "variants": variants.iter().map(|v| v.label.as_str()).collect::<Vec<_>>(),
                "notes": w.info.notes,
                "table_text": summary_text(&w, &state.dir, &layout),
                "rows": table_rows(&w.agg),
                "summary": summary,
                "files": listing,
                "command": command,
                "dir": state.dir.display().to_string(),
            })
        });
        *state.phase.lock().expect("run state") = match outcome {
            Ok(v) => Phase::Done(v),
            Err(e) => Phase::Failed(plain(e)),
        };
    });
    Reply::json(202, &json!({ "id": id, "total": total }))
}

pub(super) fn find_run(lab: &Lab, id: &str) -> Option<Arc<RunState>> {
    let i: usize = id.parse().ok()?;
    lab.runs
        .lock()
        .expect("lab state")
        .get(i.checked_sub(1)?)
        .cloned()
}

/// `GET /api/runs/ID`: `{state, done, total}` and, when finished, `result` or `error`.
pub(super) fn run_status(lab: &Lab, id: &str) -> Reply {
    let Some(run) = find_run(lab, id) else {
        return Reply::error(404, "no such run");
    };
    let done = run.pb.position();
    let total = run.pb.length().unwrap_or(0);
    let phase = run.phase.lock().expect("run state");
    let v = match &*phase {
        Phase::Queued => json!({ "state": "queued", "done": done, "total": total }),
        Phase::Running => json!({ "state": "running", "done": done, "total": total }),
        Phase::Done(r) => json!({ "state": "done", "done": total, "total": total, "result": r }),
        Phase::Failed(e) => json!({ "state": "failed", "done": done, "total": total, "error": e }),
    };
    Reply::json(200, &v)
}

/// `POST /api/trace`: the first `requests` requests from `from` on, in one variant of the
/// comparison (`variant`, default the first), as `lblab trace --format json` gives them,
/// with the servers' names and the variants to choose from.
pub(super) fn trace(lab: &Lab, body: &str) -> Reply {
    static TRACES: AtomicU64 = AtomicU64::new(0);
    let p = match posted(body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let n = p.requests.unwrap_or(30);
    if !(1..=MAX_TRACE).contains(&n) {
        return Reply::error(400, &format!("requests: from 1 to {MAX_TRACE}"));
    }
    let from_s = p.from.clone().unwrap_or_else(|| "0s".into());
    let from = match crate::scenario::units::parse_duration(&from_s) {
        Ok(t) => t,
        Err(e) => return Reply::error(400, &format!("from: {e}")),
    };
    let s = match parse_posted(lab, &p) {
        Ok(s) => s,
        Err(v) => return Reply::json(422, &v),
    };
    let k = TRACES.fetch_add(1, Ordering::Relaxed) + 1;
    let dir = lab.dir.join(format!("trace-{k}"));
    let file = match write_scenario(&dir, &p) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let picked = variants_of(&file, &s, None);
    let _ = std::fs::remove_dir_all(&dir);
    let (s, variants, _) = match picked {
        Ok(x) => x,
        Err(e) => return Reply::json(422, &json!({ "ok": false, "error": plain(e) })),
    };
    let i = p.variant.unwrap_or(0);
    let Some(v) = variants.get(i) else {
        return Reply::error(400, "variant: no such variant");
    };
    if from >= v.world.duration {
        return Reply::error(
            400,
            &format!(
                "from: {from_s} is not before the end of the run ({})",
                v.world.duration
            ),
        );
    }
    if from < SimTime::ZERO {
        return Reply::error(400, "from: negative");
    }
    let _only_one = lab.busy.lock().unwrap_or_else(|e| e.into_inner());
    let lines = match World::new(&v.world, &SeedTree::new(s.seed), 0).trace(n, from) {
        Ok(l) => l,
        Err(e) => return Reply::json(200, &json!({ "error": format!("{}: {e}", s.name) })),
    };
    let names: Vec<String> = v.world.server_names().into_iter().map(|n| n.0).collect();
    Reply::json(
        200,
        &json!({
            "scenario": s.name,
            "variant": v.label,
            "variants": variants.iter().map(|v| v.label.as_str()).collect::<Vec<_>>(),
            "algorithm": v.world.algorithm.name(),
            "lb_nodes": v.world.lb.nodes,
            "servers": names,
            "seed": s.seed,
            "lines": crate::cli::trace::json_lines(&lines, &names),
            "command": format!(
                "lblab trace {}.toml -n {n} --from {from_s}{}",
                file_stem(&p.name),
                shell_sets(&v.sets)
            ),
        }),
    )
}

/// The summary table's rows as the terminal prints them (the same rows hidden, the same
/// digits): `{key, label, unit, cells: [{mean, ci}]}`, one cell per variant.
fn table_rows(agg: &[crate::metrics::Aggregate]) -> Value {
    use crate::metrics::METRICS;
    use crate::report::table::{interval_text, uninformative};
    let rows: Vec<Value> = (0..METRICS.len())
        .filter(|&m| !uninformative(agg.iter().map(|a| a.metrics[m].mean)))
        .map(|m| {
            let d = &METRICS[m];
            let cells: Vec<Value> = agg
                .iter()
                .map(|a| {
                    let e = &a.metrics[m];
                    let (mean, ci) = interval_text(e.mean, e.lo(), e.hi(), d.decimals);
                    json!({ "mean": mean, "ci": ci })
                })
                .collect();
            json!({ "key": d.key, "label": d.label.trim(), "unit": d.unit, "cells": cells })
        })
        .collect();
    Value::Array(rows)
}
