//! `lblab list algorithms|distributions|scenarios|presets`, as text or JSON.

use serde_json::{Value, json};

use crate::balancer::params::{ParamDef, ParamKind, ParamValue};

use super::{CliError, ListWhat, TextFormat, files, out};

pub(super) fn list(what: ListWhat, format: TextFormat) -> Result<(), CliError> {
    let s = match (what, format) {
        (ListWhat::Algorithms, TextFormat::Text) => algorithms_text(),
        (ListWhat::Distributions, TextFormat::Text) => distributions_text(),
        (ListWhat::Scenarios, TextFormat::Text) => scenarios_text()?,
        (ListWhat::Presets, TextFormat::Text) => presets_text(),
        (what, TextFormat::Json) => {
            let v = match what {
                ListWhat::Algorithms => algorithms_json(),
                ListWhat::Distributions => distributions_json(),
                ListWhat::Scenarios => scenarios_json()?,
                ListWhat::Presets => presets_json(),
            };
            format!(
                "{}\n",
                serde_json::to_string_pretty(&v).expect("JSON values serialise")
            )
        }
    };
    out(&s)
}

fn presets_text() -> String {
    use crate::scenario::presets::PRESETS;
    let w = PRESETS.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for p in PRESETS {
        s.push_str(&format!("{:<w$}  {}\n", p.name, p.summary));
        s.push_str(&format!("{:<w$}  source: {}\n", "", p.source));
        s.push_str(&format!("{:<w$}  sets: {}\n", "", p.settings.join(", ")));
        s.push_str(&format!(
            "{:<w$}  not applied / not public: {}\n",
            "", p.notes
        ));
    }
    s.push_str("\nUse one with [lb] preset = \"NAME\" (or --set lb.preset=NAME). A preset's\n[balancer] applies only if the scenario has no [balancer] table, its [health.active]\nonly if the scenario has none, and every other key only if the scenario does not set it.\n");
    s
}

fn presets_json() -> Value {
    Value::Array(
        crate::scenario::presets::PRESETS
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "summary": p.summary,
                    "source": p.source,
                    "settings": p.settings,
                    "notes": p.notes,
                })
            })
            .collect(),
    )
}

fn algorithms_text() -> String {
    let mut s = String::new();
    let w = crate::balancer::catalogue()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0);
    for a in crate::balancer::catalogue() {
        s.push_str(&format!("{:<w$}  {}\n", a.name, a.summary));
        s.push_str(&format!("{:<w$}  source: {}\n", "", a.source));
        if !a.aliases.is_empty() {
            s.push_str(&format!("{:<w$}  aliases: {}\n", "", a.aliases.join(", ")));
        }
        for p in a.params {
            s.push_str(&format!(
                "{:<w$}  {} = {} ({}): {}\n",
                "",
                p.key,
                p.default,
                p.describe_kind(),
                p.doc
            ));
        }
    }
    s.push_str("\nParameters go in [balancer] next to `algorithm`, or in a [compare] entry such as\n{ algorithm = \"power-of-d\", d = 3 }.\n");
    s
}

fn distributions_text() -> String {
    let mut s = String::new();
    let w = crate::model::dist::catalogue()
        .iter()
        .map(|d| d.name.len())
        .max()
        .unwrap_or(0);
    for d in crate::model::dist::catalogue() {
        s.push_str(&format!(
            "{:<w$}  {}\n{:<w$}  e.g. {}\n",
            d.name, d.summary, "", d.example
        ));
    }
    s.push_str("\nA plain duration string such as \"10ms\" is shorthand for a constant.\n");
    s
}

fn scenarios_text() -> Result<String, CliError> {
    let rows = files::list_scenarios()?;
    let w = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for r in &rows {
        match &r.loaded {
            Some((desc, question, lesson)) => {
                s.push_str(&format!(
                    "{:<w$}  {}\n",
                    r.name,
                    if question.is_empty() { desc } else { question }
                ));
                if !lesson.is_empty() {
                    s.push_str(&format!("{:<w$}  lesson: {lesson}\n", ""));
                }
            }
            None => s.push_str(&format!(
                "{:<w$}  (does not parse: a bug in lblab)\n",
                r.name
            )),
        }
    }
    s.push_str("\nBundled in the binary: `lblab run NAME` or `lblab compare NAME` runs one from any directory\n(a file of that name wins); `lblab new MINE --from NAME` writes an editable copy.\n");
    Ok(s)
}

/// A parameter value as JSON: numbers and booleans as themselves, durations and words as
/// the strings a scenario file would hold (`"10s"`, `"fifo"`).
fn value_json(v: ParamValue) -> Value {
    match v {
        ParamValue::Int(x) => json!(x),
        ParamValue::Float(x) => json!(x),
        ParamValue::Bool(b) => json!(b),
        ParamValue::Duration(t) => json!(t.to_string()),
        ParamValue::Word(w) => json!(w),
    }
}

fn param_json(p: &ParamDef) -> Value {
    let (kind, min, max, choices) = match p.kind {
        ParamKind::Int { min, max } => ("integer", json!(min), json!(max), Value::Null),
        ParamKind::Float { min, max } => ("number", json!(min), json!(max), Value::Null),
        ParamKind::Duration { min, max } => (
            "duration",
            json!(min.to_string()),
            json!(max.to_string()),
            Value::Null,
        ),
        ParamKind::Bool => ("boolean", Value::Null, Value::Null, Value::Null),
        ParamKind::Choice(words) => ("choice", Value::Null, Value::Null, json!(words)),
        ParamKind::Algorithm => ("algorithm", Value::Null, Value::Null, Value::Null),
    };
    json!({
        "key": p.key,
        "kind": kind,
        "min": min,
        "max": max,
        "choices": choices,
        "default": value_json(p.default),
        "doc": p.doc,
    })
}

fn algorithms_json() -> Value {
    crate::balancer::catalogue()
        .map(|a| {
            json!({
                "name": a.name,
                "summary": a.summary,
                "source": a.source,
                "aliases": a.aliases,
                "params": a.params.iter().map(param_json).collect::<Vec<_>>(),
            })
        })
        .collect()
}

fn distributions_json() -> Value {
    crate::model::dist::catalogue()
        .iter()
        .map(|d| json!({"name": d.name, "summary": d.summary, "example": d.example}))
        .collect()
}

fn scenarios_json() -> Result<Value, CliError> {
    Ok(files::list_scenarios()?
        .into_iter()
        .map(|r| {
            let ok = r.loaded.is_some();
            let (description, question, lesson) = r.loaded.unwrap_or_default();
            json!({
                "name": r.name,
                "ok": ok,
                "description": description,
                "question": question,
                "lesson": lesson,
            })
        })
        .collect())
}
