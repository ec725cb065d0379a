//! HAProxy: a `backend` (or `listen`) section with the `defaults` section in force for it
//! (the last one before it, or the one it names with `from`) and its `default-server`
//! lines, as a scenario fragment.
//!
//! Semantics and defaults are HAProxy's (`doc/configuration.txt`; `docs/lb-semantics.md`
//! §3): `balance roundrobin` where none is given (HAProxy 3.3 and later default to
//! `random`), `retries 3`, `retry-on conn-failure`, `inter 2s`, `rise 2`, `fall 3`,
//! `error-limit 10`, `on-error fail-check`. Times without a unit are milliseconds.

use std::path::Path;

mod cond;
mod translate;

use super::lex::{self, Line, Section, Word, params, sections};
use super::{Files, Fragment, ImportError, Imported, Loc, Value};
use translate::translate;

const MS: u64 = 1_000_000;
/// HAProxy's time units.
const UNITS: &[(&str, u64)] = &[
    ("us", 1_000),
    ("ms", MS),
    ("s", 1_000 * MS),
    ("m", 60_000 * MS),
    ("h", 3_600_000 * MS),
    ("d", 86_400_000 * MS),
];

/// Imports backend `backend` (or the only one) of the HAProxy configuration at `path`.
pub fn import(
    path: &Path,
    backend: Option<&str>,
    files: &dyn Files,
) -> Result<Imported, ImportError> {
    let (file, text) = super::read_text(path, files)?;
    let resolved = cond::resolve(lex::haproxy_lines(&file, &text)?)?;
    let sections = sections(resolved.lines)?;
    let backends: Vec<&Section> = sections
        .iter()
        .filter(|s| s.kind == "backend" || s.kind == "listen")
        .collect();
    let found: Vec<(&str, &Loc, &Section)> = backends
        .iter()
        .map(|s| {
            (
                s.name.as_ref().map_or("", |w| w.text.as_str()),
                s.name.as_ref().map_or(&s.head[0].at, |w| &w.at),
                *s,
            )
        })
        .collect();
    let be = super::choose(
        &file,
        "backend",
        "--backend",
        "backend or listen section",
        "lblab imports the servers of a `backend NAME` or `listen NAME` section",
        &found,
        backend,
    )?;
    let name = be.name.as_ref().map_or(String::new(), |w| w.text.clone());
    let mut f = Fragment {
        title: format!(
            "lblab scenario fragment: HAProxy {} \"{name}\" ({}), by `lblab import haproxy`",
            be.kind, be.head[0].at
        ),
        ..Fragment::default()
    };
    for (at, m) in resolved.messages {
        f.skip(&at, m, "a message HAProxy prints when it starts");
    }
    // A conditional block lblab cannot evaluate matters if it is in the backend, its
    // defaults or global, or if it starts sections (then which section a line is in is
    // unknown).
    let be_index = sections.iter().position(|s| std::ptr::eq(s, be));
    for u in resolved.unknown {
        let inside = sections.iter().rposition(|s| s.head[0].at.line < u.at.line);
        let matters = u.has_section
            || inside.is_some_and(|i| {
                Some(i) == be_index || Some(i) == be.defaults || sections[i].kind == "global"
            });
        if matters {
            return Err(u.error);
        }
        f.skip(
            &u.at,
            format!("{} ... .endif", u.text),
            "its condition depends on the machine HAProxy runs on, which lblab cannot know; the block is outside the imported backend, so it is left out",
        );
    }
    let mut s = Settings::default();
    if let Some(d) = be.defaults {
        apply(&sections[d].lines, &mut s, None)?;
    }
    for g in sections.iter().filter(|s| s.kind == "global") {
        for l in &g.lines {
            if l[0].text == "spread-checks" {
                s.spread = Some(l.clone());
            }
        }
    }
    apply(&be.lines, &mut s, Some(&mut f))?;
    translate(&s, &mut f, be)?;
    Ok(Imported { name, fragment: f })
}

/// The settings of a backend: its defaults section's, then its own.
#[derive(Clone, Default)]
struct Settings {
    balance: Option<Line>,
    hash_type: Option<Line>,
    balance_factor: Option<Line>,
    retries: Option<Line>,
    retry_on: Option<Line>,
    /// `option redispatch [N]` (true) or `no option redispatch` (false).
    redispatch: Option<(bool, Line)>,
    allbackups: Option<(bool, Line)>,
    httpchk: Option<(bool, Line)>,
    timeout_check: Option<Line>,
    timeout_server: Option<Line>,
    mode: Option<Line>,
    spread: Option<Line>,
    /// Known `default-server` parameters (keyword, value, where), later lines last.
    default_server: Vec<(Word, Option<Word>)>,
    servers: Vec<Line>,
}

/// Applies a section's lines; `f` is the backend's fragment (None for a defaults section,
/// whose other lines concern frontends too and are ignored).
fn apply(
    lines: &[Line],
    s: &mut Settings,
    mut f: Option<&mut Fragment>,
) -> Result<(), ImportError> {
    for l in lines {
        if let Some(f) = f.as_deref_mut() {
            f.directives.push(l[0].at.clone());
        }
        let words: Vec<&str> = l.iter().map(|w| w.text.as_str()).collect();
        let (neg, rest) = match words.as_slice() {
            ["no", rest @ ..] => (true, rest),
            rest => (false, rest),
        };
        match rest {
            ["balance", ..] if !neg => s.balance = Some(l.clone()),
            ["hash-type", ..] if !neg => s.hash_type = Some(l.clone()),
            ["hash-balance-factor", ..] if !neg => s.balance_factor = Some(l.clone()),
            ["retries", ..] if !neg => s.retries = Some(l.clone()),
            ["retry-on", ..] if !neg => s.retry_on = Some(l.clone()),
            ["option", "redispatch", ..] => s.redispatch = Some((!neg, l.clone())),
            ["option", "allbackups"] => s.allbackups = Some((!neg, l.clone())),
            ["option", "httpchk", ..] => s.httpchk = Some((!neg, l.clone())),
            ["timeout", "check", ..] if !neg => s.timeout_check = Some(l.clone()),
            ["timeout", "server", ..] if !neg => s.timeout_server = Some(l.clone()),
            ["mode", ..] if !neg => s.mode = Some(l.clone()),
            ["default-server", ..] if !neg => {
                let mut ps = params(&l[1..])?;
                ps.retain(|(k, v)| {
                    let known = server_param_known(&k.text);
                    if let (false, Some(f)) = (known, f.as_deref_mut()) {
                        f.skip(&k.at, param_text(k, v), why_param(&k.text));
                    }
                    known
                });
                s.default_server.extend(ps);
            }
            ["server", ..] if !neg && f.is_some() => s.servers.push(l.clone()),
            _ => {
                if let Some(f) = f.as_deref_mut() {
                    let text = words.join(" ");
                    f.skip(&l[0].at, text, why_line(rest));
                }
            }
        }
    }
    Ok(())
}

fn why_line(words: &[&str]) -> &'static str {
    match words {
        ["timeout", "connect" | "queue", ..] => {
            "lblab's upstream_timeout bounds a whole attempt (from `timeout server`); connecting and queueing at HAProxy are not separate"
        }
        ["timeout", ..] => "not a server-side timeout lblab models",
        ["bind" | "use_backend" | "default_backend" | "maxconn", ..] => {
            "the frontend part of a listen section: not load balancing"
        }
        [
            "cookie" | "stick" | "stick-table" | "stick-on" | "stick-match" | "stick-store-request",
            ..,
        ] => "session persistence: lblab's [sessions] sticky cookie is not derived from it",
        [
            "option",
            "ssl-hello-chk" | "mysql-check" | "pgsql-check" | "redis-check" | "smtpchk"
            | "ldap-check" | "tcp-check",
            ..,
        ]
        | ["http-check" | "tcp-check", ..] => {
            "a check lblab models as a TCP connect (lblab checks are tcp or http)"
        }
        _ => "not load balancing, or not modelled by lblab",
    }
}

fn server_param_known(k: &str) -> bool {
    matches!(
        k,
        "weight"
            | "check"
            | "no-check"
            | "inter"
            | "fastinter"
            | "downinter"
            | "rise"
            | "fall"
            | "slowstart"
            | "backup"
            | "no-backup"
            | "maxconn"
            | "observe"
            | "error-limit"
            | "on-error"
            | "disabled"
            | "enabled"
    )
}

fn why_param(k: &str) -> &'static str {
    match k {
        "maxqueue" | "minconn" => {
            "limits at HAProxy's queue: lblab has no per-server queue at the load balancer"
        }
        "on-marked-down" | "on-marked-up" => {
            "what HAProxy does to sessions when a check changes a state: not modelled"
        }
        "agent-check" | "agent-inter" | "agent-port" | "agent-addr" => {
            "agent checks are not modelled (lblab's checks are tcp or http)"
        }
        "cookie" => "session persistence: lblab's [sessions] sticky cookie is not derived from it",
        _ => "a server parameter lblab does not model (addresses, TLS, proxies, ports)",
    }
}

fn param_text(k: &Word, v: &Option<Word>) -> String {
    match v {
        Some(v) => format!("{} {}", k.text, v.text),
        None => k.text.clone(),
    }
}

/// One server's translated parameters.
struct Srv {
    line: String,
    text: String,
    at: Loc,
    name: String,
    weight: u32,
    check: bool,
    backup: bool,
    disabled: bool,
    /// Health and limit parameters by keyword, with where each was set.
    vals: Vec<(String, Value, Loc)>,
}

impl Srv {
    fn get(&self, k: &str) -> Option<&(String, Value, Loc)> {
        self.vals.iter().rev().find(|(kk, _, _)| kk == k)
    }
}

fn server(
    l: &Line,
    defaults: &[(Word, Option<Word>)],
    f: &mut Fragment,
) -> Result<Srv, ImportError> {
    let (Some(name), Some(_addr)) = (l.get(1), l.get(2)) else {
        return Err(ImportError::at(
            &l[0].at,
            "\"server\" needs a name and an address (server NAME ADDRESS [parameters])",
        ));
    };
    let text: Vec<&str> = l.iter().map(|w| w.text.as_str()).collect();
    let mut s = Srv {
        line: format!("{} ({})", text.join(" "), l[0].at),
        text: text.join(" "),
        at: l[0].at.clone(),
        name: name.text.clone(),
        weight: 1,
        check: false,
        backup: false,
        disabled: false,
        vals: Vec::new(),
    };
    let own = params(&l[3..])?;
    for (k, v) in defaults.iter().cloned().chain(own.iter().cloned()) {
        let is_own = own.iter().any(|(ok, _)| ok.at == k.at);
        let val = || v.clone().unwrap_or_else(|| k.clone());
        let kw = k.text.as_str();
        match kw {
            "weight" => s.weight = lex::number(&val(), "weight", 256)? as u32,
            "check" => s.check = true,
            "no-check" => s.check = false,
            "backup" => s.backup = true,
            "no-backup" => s.backup = false,
            "disabled" => s.disabled = true,
            "enabled" => s.disabled = false,
            "inter" | "fastinter" | "downinter" | "slowstart" => {
                let t = lex::duration(&val(), kw, MS, UNITS, false)?;
                if t == 0 {
                    return Err(ImportError::at(
                        &val().at,
                        format!("{kw}: a time above 0 is needed"),
                    ));
                }
                s.vals
                    .push((kw.into(), Value::Str(super::duration(t)), k.at.clone()));
            }
            "rise" | "fall" => {
                let n = lex::number(&val(), kw, 1000)?;
                if n == 0 {
                    return Err(ImportError::at(&val().at, format!("{kw}: at least 1")));
                }
                s.vals.push((kw.into(), Value::Int(n), k.at.clone()));
            }
            "error-limit" => {
                let n = lex::number(&val(), kw, 1_000_000)?;
                s.vals.push((kw.into(), Value::Int(n.max(1)), k.at.clone()));
            }
            "maxconn" => {
                let n = lex::number(&val(), kw, 1_000_000)?;
                s.vals.push((kw.into(), Value::Int(n), k.at.clone()));
            }
            "observe" | "on-error" => {
                let allowed: &[&str] = if kw == "observe" {
                    &["none", "layer4", "layer7"]
                } else {
                    &["fastinter", "fail-check", "sudden-death", "mark-down"]
                };
                let v = val();
                if !allowed.contains(&v.text.as_str()) {
                    return Err(ImportError::at(
                        &v.at,
                        format!("{kw}: \"{}\" is not one of {}", v.text, allowed.join(", ")),
                    ));
                }
                s.vals.push((kw.into(), Value::Str(v.text), k.at.clone()));
            }
            _ if is_own => f.skip(&k.at, param_text(&k, &v), why_param(kw)),
            _ => {}
        }
    }
    Ok(s)
}
