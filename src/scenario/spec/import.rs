//! `[import]`: a real nginx, HAProxy or Envoy configuration as the scenario's servers,
//! balancer, `[lb]` and `[health]`, imported as `lblab import` does (`crate::import`).
//!
//! The imported fragment is appended to the scenario's text for messages (a problem in it
//! is reported at a line past the end of the file, under a comment that says so) and
//! merged into the document before `--set` overrides apply, so that overrides can change
//! imported values. The file may not set what the configuration provides: its own
//! `[[servers]]`, `[balancer]`, or a key of `[lb]` or `[health]` that the fragment sets, is
//! a problem at its place.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::super::ReadFile;
use super::super::doc::{Cx, SET_MARK};
use super::super::error::Problem;
use super::super::overrides;
use crate::import::Format;

/// The scenario's text with the imported fragment appended, where the fragment starts,
/// and the import's warnings.
pub(super) struct Imported {
    pub text: String,
    pub fragment_start: usize,
    pub warnings: Vec<String>,
}

/// Files for the importer: through the scenario reader's `read`, so that bundled
/// configurations and overlays are seen as the scenario reader sees them.
struct Reading<'a>(ReadFile<'a>);

impl crate::import::Files for Reading<'_> {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        (self.0)(path).map(String::into_bytes)
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        // The scenario reader reads only through `read`, which lists nothing.
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!(
                "[import] does not list directories ({}): name the included files, or use `lblab run WORKLOAD --config CONFIG`",
                dir.display()
            ),
        ))
    }
}

/// Reads the file's `[import]` (with `--set import.…` applied) and imports the
/// configuration it names. `None` without `[import]` (or when the file does not parse:
/// the reader reports that).
pub(super) fn prepare(
    file_name: &str,
    text: &str,
    base_dir: &Path,
    sets: &[String],
    read: ReadFile<'_>,
) -> Result<Option<Imported>, Vec<Problem>> {
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        return Ok(None);
    }
    let mut doc = doc.into_inner();
    let mut cx = Cx {
        problems: Vec::new(),
        overrides: sets.to_vec(),
    };
    for (k, s) in sets.iter().enumerate() {
        if s.trim_start().starts_with("import.") || s.trim_start().starts_with("import=") {
            overrides::apply(&mut doc, k, s, &mut cx);
        }
    }
    if !cx.problems.is_empty() {
        // The reader applies the overrides again and reports these.
        return Ok(None);
    }
    let Some(imp) = doc.get("import") else {
        return Ok(None);
    };
    let span = imp.span();
    let DeValue::Table(t) = imp.get_ref() else {
        cx.err(
            "import",
            &span,
            "expected a table: [import] with file = \"…\"",
        );
        return Err(cx.problems);
    };
    let mut file = None;
    let mut format = None;
    let mut name = None;
    for (k, v) in t.iter() {
        let key: &str = k.get_ref();
        let path = format!("import.{key}");
        if key == "servers" {
            if !matches!(v.get_ref(), DeValue::Table(_)) {
                cx.err(
                    &path,
                    &v.span(),
                    "expected a table of [[servers]] keys for every imported server, e.g. { slots = 8, queue = 100 }",
                );
            }
            continue;
        }
        let s = match v.get_ref() {
            DeValue::String(s) => s.to_string(),
            _ => {
                cx.err(&path, &v.span(), "expected a string");
                continue;
            }
        };
        match key {
            "file" => file = Some((s, v.span())),
            "format" => match Format::from_name(&s) {
                Some(f) => format = Some(f),
                None => {
                    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                    cx.err(
                        &path,
                        &v.span(),
                        format!("expected one of {}, not \"{s}\"", names.join(", ")),
                    );
                }
            },
            "name" => name = Some(s),
            _ => cx.err_hint(
                &path,
                &k.span(),
                format!("unknown key `{key}` in [import]"),
                Some("expected one of: file, format, name, servers".into()),
            ),
        }
    }
    let Some((file, file_span)) = file else {
        cx.err(
            "import",
            &span,
            "[import] needs `file`, the configuration to import (relative to the scenario's directory)",
        );
        return Err(cx.problems);
    };
    if !cx.problems.is_empty() {
        return Err(cx.problems);
    }
    let config = base_dir.join(&file);
    let fmt = format.unwrap_or_else(|| Format::of_path(Path::new(&file)));
    let result = fmt.import(&config, name.as_deref(), &Reading(read));
    // A format guessed from the file's name may be the wrong one.
    let guessed = if format.is_none() {
        " (the format its name suggests; `format` names another)"
    } else {
        ""
    };
    let format = fmt.name();
    let imported = match result {
        Ok(i) => i,
        Err(e) => {
            cx.err(
                "import.file",
                &file_span,
                format!("cannot import the {format} configuration{guessed}: {e}"),
            );
            return Err(cx.problems);
        }
    };
    let f = &imported.fragment;
    let mut warnings = Vec::new();
    if !f.untranslated.is_empty() || !f.notes.is_empty() {
        let command = format!(
            "`lblab import {format} {}{}`",
            config.display(),
            name.as_ref()
                .map(|n| format!(" {} {n}", fmt.name_flag()))
                .unwrap_or_default()
        );
        // A bundled scenario's configuration is in the binary: a copy first.
        let how = match file_name.strip_suffix(" (bundled)") {
            Some(b) => format!(
                "`lblab new {b} --from {b}` writes it beside a copy, then {command} lists them"
            ),
            None => format!("{command} lists them"),
        };
        warnings.push(format!(
            "{}{} ({format} {}): {} setting(s) not translated, {} approximation(s); {how}",
            super::super::IMPORT_PREFIX,
            config.display(),
            imported.name,
            f.untranslated.len(),
            f.notes.len(),
        ));
    }
    let mut text = text.to_string();
    text.push_str(&format!(
        "\n\n# ---- imported from {} by [import] (the lines below are not in this file) ----\n",
        config.display()
    ));
    let fragment_start = text.len();
    text.push_str(&f.to_toml());
    Ok(Some(Imported {
        text,
        fragment_start,
        warnings,
    }))
}

/// `v` with every span moved `by` bytes later.
fn shift<'i>(v: &Spanned<DeValue<'i>>, by: usize) -> Spanned<DeValue<'i>> {
    let r = v.span();
    let inner = match v.get_ref() {
        DeValue::Array(a) => {
            let mut out = DeArray::new();
            for e in a.iter() {
                out.push(shift(e, by));
            }
            DeValue::Array(out)
        }
        DeValue::Table(t) => DeValue::Table(shift_table(t, by)),
        other => other.clone(),
    };
    Spanned::new(r.start + by..r.end + by, inner)
}

fn shift_table<'i>(t: &DeTable<'i>, by: usize) -> DeTable<'i> {
    let mut out = DeTable::new();
    for (k, v) in t.iter() {
        let r = k.span();
        out.insert(
            Spanned::new(r.start + by..r.end + by, k.get_ref().clone()),
            shift(v, by),
        );
    }
    out
}

/// Merges the fragment's document (parsed from the text after `fragment_start`) into the
/// file's `doc`: a key the fragment sets that the file sets too is a problem at the file's
/// key, except inside `[lb]` and `[health]`, which merge key by key.
/// `[import] servers`' keys then go into every imported server group.
pub(super) fn merge<'i>(doc: &mut DeTable<'i>, fragment: &DeTable<'i>, by: usize, cx: &mut Cx) {
    let import = doc.remove("import");
    merge_at(doc, &shift_table(fragment, by), "", cx);
    let defaults = import.as_ref().and_then(|i| match i.get_ref() {
        DeValue::Table(t) => t.get("servers"),
        _ => None,
    });
    let Some(DeValue::Table(defaults)) = defaults.map(Spanned::get_ref) else {
        return;
    };
    // The [[servers]] keys a configuration never sets.
    const SETTABLE: &[&str] = &[
        "slots",
        "queue",
        "speed",
        "network_delay",
        "cache",
        "balancer",
        "on",
    ];
    let mut ok = true;
    for (k, _) in defaults.iter() {
        let key: &str = k.get_ref();
        if SETTABLE.contains(&key) {
            continue;
        }
        ok = false;
        let path = format!("import.servers.{key}");
        if matches!(key, "name" | "count" | "weight" | "backup" | "priority") {
            cx.err(
                &path,
                &k.span(),
                format!("`{key}` of each server is set by the imported configuration"),
            );
        } else {
            let hint = match super::super::error::did_you_mean(key, SETTABLE.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("expected one of: {}", SETTABLE.join(", ")),
            };
            cx.err_hint(
                &path,
                &k.span(),
                format!("unknown key `{key}` in import.servers"),
                Some(hint),
            );
        }
    }
    let Some(DeValue::Array(groups)) = doc.get_mut("servers").map(Spanned::get_mut) else {
        return;
    };
    if !ok {
        return;
    }
    for g in groups.iter_mut() {
        let DeValue::Table(g) = g.get_mut() else {
            continue;
        };
        for (k, v) in defaults.iter() {
            g.insert(k.clone(), v.clone());
        }
    }
}

fn merge_at<'i>(into: &mut DeTable<'i>, from: &DeTable<'i>, path: &str, cx: &mut Cx) {
    for (k, v) in from.iter() {
        let key: &str = k.get_ref();
        let p = if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        };
        let mergeable = matches!(p.as_str(), "lb" | "health");
        match into.get_mut(key) {
            None => {
                into.insert(k.clone(), v.clone());
            }
            Some(mine) => {
                if let (true, DeValue::Table(m), DeValue::Table(f)) =
                    (mergeable, mine.get_mut(), v.get_ref())
                {
                    merge_at(m, f, &p, cx);
                    continue;
                }
                let span = into.get_key_value(key).map_or(0..0, |(kk, _)| kk.span());
                if span.start < SET_MARK {
                    cx.err_hint(
                        &p,
                        &span,
                        format!("`{p}` is set by the imported configuration ([import]) too"),
                        Some(format!(
                            "remove it here, or change the imported value with --set {p}…"
                        )),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_spans_move_past_the_file_and_conflicts_are_reported() {
        let file = "[lb]\nnodes = 2\n[balancer]\nalgorithm = \"random\"\n";
        let frag = "[lb]\nretries = 1\n[balancer]\nalgorithm = \"maglev\"\n";
        let mut doc = DeTable::parse(file).unwrap().into_inner();
        let f = DeTable::parse(frag).unwrap().into_inner();
        let mut cx = Cx::default();
        merge(&mut doc, &f, 100, &mut cx);
        // [lb] merges key by key; [balancer] is set twice.
        let lb = match doc.get("lb").unwrap().get_ref() {
            DeValue::Table(t) => t,
            _ => panic!(),
        };
        assert!(lb.get("nodes").is_some());
        assert_eq!(lb.get("retries").unwrap().span().start, 100 + 5 + 10);
        assert_eq!(cx.problems.len(), 1);
        assert!(cx.problems[0].message.contains("`balancer`"));
    }
}
