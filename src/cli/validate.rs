//! `lblab validate`: check scenario files; as text (diagnostics on stderr, one `ok:` line
//! per valid file on stdout) or as JSON (one object per file on stdout). Either way the
//! exit code is 2 if any file is invalid.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::model::Load;
use crate::scenario::{Origin, Scenario, ScenarioError};

use super::{CliError, TextFormat, color, out};

pub(super) fn validate(
    paths: &[PathBuf],
    sets: &[String],
    format: TextFormat,
) -> Result<(), CliError> {
    let mut failed = Vec::new();
    let mut report = String::new();
    let mut objects = Vec::new();
    for p in paths {
        let loaded = super::run::read_scenario(p, sets);
        match loaded {
            Ok(s) => {
                report.push_str(&format!("ok: {} ({})\n", p.display(), describe(&s)));
                objects.push(valid_json(p, &s));
            }
            Err(e) => {
                if format == TextFormat::Text {
                    color::eprint(&format!("{}\n\n", color::scenario_error(&e)));
                }
                objects.push(invalid_json(p, &e));
                failed.push((p.display().to_string(), e.problems.len()));
            }
        }
    }
    match format {
        TextFormat::Text => out(&report)?,
        TextFormat::Json => out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&Value::Array(objects)).expect("JSON values serialise")
        ))?,
    }
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

pub(super) fn valid_json(p: &Path, s: &Scenario) -> Value {
    json!({
        "file": p.display().to_string(),
        "ok": true,
        "scenario": s.name,
        "summary": describe(s),
        "servers": s.world.n_servers(),
        "algorithm": s.world.algorithm.name(),
        "replications": s.replications,
        "duration_s": s.world.duration.as_secs_f64(),
    })
}

/// Every problem with where it is: line and column (1-based) for a problem in the file, the
/// `--set` argument for one in an override, neither for the file as a whole.
pub(super) fn invalid_json(p: &Path, e: &ScenarioError) -> Value {
    let problems: Vec<Value> = e
        .problems
        .iter()
        .zip(e.line_cols())
        .map(|(pr, at)| {
            let (line, column) = at.unzip();
            let set = match &pr.origin {
                Origin::Override(arg) => Some(arg.as_str()),
                _ => None,
            };
            json!({
                "file": e.file,
                "line": line,
                "column": column,
                "set": set,
                "path": pr.path,
                "message": pr.message,
                "hint": pr.hint,
            })
        })
        .collect();
    json!({
        "file": p.display().to_string(),
        "ok": false,
        "problems": problems,
    })
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
    parts.push(format!(
        "{} replication{} × {}",
        s.replications,
        if s.replications == 1 { "" } else { "s" },
        w.duration
    ));
    if let Load::Open(sched) = &w.clients.load {
        let n = sched.expected_arrivals(crate::engine::SimTime::ZERO, w.duration);
        let rate = n / w.duration.as_secs_f64();
        if w.services.is_empty() {
            parts.push(format!(
                "offered load {:.0}% of capacity",
                100.0 * rate / w.capacity_per_s()
            ));
        } else {
            // Per service: its own work against its own workers.
            let loads: Vec<String> = w
                .service_loads(rate)
                .iter()
                .map(|(name, l)| format!("{name} {:.0}%", 100.0 * l))
                .collect();
            parts.push(format!(
                "offered work per service {} of its workers (waits on calls not counted)",
                loads.join(", ")
            ));
        }
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
