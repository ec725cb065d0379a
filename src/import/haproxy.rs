//! HAProxy: a `backend` (or `listen`) section with the `defaults` section in force for it
//! (the last one before it, or the one it names with `from`) and its `default-server`
//! lines, as a scenario fragment.
//!
//! Semantics and defaults are HAProxy's (`doc/configuration.txt`; `docs/lb-semantics.md`
//! §3): `balance roundrobin` where none is given (HAProxy 3.3 and later default to
//! `random`), `retries 3`, `retry-on conn-failure`, `inter 2s`, `rise 2`, `fall 3`,
//! `error-limit 10`, `on-error fail-check`. Times without a unit are milliseconds.

use std::path::Path;

use super::lex::{self, Line, Section, Word, line_text, params, sections};
use super::{Entry, Files, Fragment, Group, ImportError, Imported, Loc, Value, entry};

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
    let file = path.display().to_string();
    let bytes = files
        .read(path)
        .map_err(|e| ImportError::whole(&file, format!("cannot read: {e}")))?;
    let text = lex::decode(&file, bytes)?;
    let sections = sections(lex::haproxy_lines(&file, &text)?)?;
    let backends: Vec<&Section> = sections
        .iter()
        .filter(|s| s.kind == "backend" || s.kind == "listen")
        .collect();
    let listed = || {
        backends
            .iter()
            .filter_map(|s| s.name.as_ref().map(|n| format!("{} ({})", n.text, n.at)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let be = match backend {
        Some(n) => *backends
            .iter()
            .find(|s| s.name.as_ref().is_some_and(|w| w.text == n))
            .ok_or_else(|| {
                ImportError::whole(
                    &file,
                    if backends.is_empty() {
                        format!(
                            "no backend \"{n}\": the configuration has no backend or listen section"
                        )
                    } else {
                        format!("no backend \"{n}\"; the backends are: {}", listed())
                    },
                )
            })?,
        None => match backends.as_slice() {
            [one] => *one,
            [] => {
                return Err(ImportError::whole(
                    &file,
                    "no backend found (lblab imports the servers of a `backend NAME` or `listen NAME` section)",
                ));
            }
            [_, second, ..] => {
                let mut e = ImportError::at(
                    &second.head[0].at,
                    format!(
                        "several backends: choose one with --backend NAME: {}",
                        listed()
                    ),
                );
                e.column = None;
                return Err(e);
            }
        },
    };
    let name = be.name.as_ref().map_or(String::new(), |w| w.text.clone());
    let mut f = Fragment {
        title: format!(
            "lblab scenario fragment: HAProxy {} \"{name}\" ({}), by `lblab import haproxy`",
            be.kind, be.head[0].at
        ),
        ..Fragment::default()
    };
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

fn translate(s: &Settings, f: &mut Fragment, be: &Section) -> Result<(), ImportError> {
    let mut servers = Vec::new();
    for l in &s.servers {
        let srv = server(l, &s.default_server, f)?;
        if srv.disabled {
            f.skip(
                &srv.at,
                srv.text.clone(),
                "a disabled server takes no traffic: left out of [[servers]]",
            );
        } else {
            servers.push(srv);
        }
    }
    let bname = be.name.as_ref().map_or("", |w| w.text.as_str());
    if !servers.iter().any(|s| !s.backup) {
        return Err(ImportError::at(
            &be.head[0].at,
            format!(
                "backend \"{bname}\" has no server that takes traffic (none, or every one disabled or a backup)"
            ),
        ));
    }
    for backup in [false, true] {
        for s in servers.iter().filter(|s| s.backup == backup) {
            let name = super::group_name(&s.name, &f.groups);
            f.groups.push(Group {
                name,
                weight: s.weight,
                backup: s.backup,
                from: s.line.clone(),
            });
        }
    }
    if servers.iter().all(|s| s.weight == 0 || s.backup) {
        f.notes
            .push("every primary server has weight 0: nothing takes new traffic".into());
    }
    balance(s, &servers, f)?;
    lb(s, &servers, f)?;
    health(s, &servers, f)?;
    if let Some(m) = &s.mode {
        let why = if m.get(1).is_some_and(|w| w.text == "tcp") {
            "lblab's [lb] layer = \"l4\" balances connections (with [connections]); set it yourself, the fragment balances requests"
        } else {
            "lblab's default, layer 7: balanced per request"
        };
        f.notes.push(format!("{}: {why}", line_text(m)));
    }
    Ok(())
}

/// `balance` and `hash-type` as `[balancer]`.
fn balance(s: &Settings, servers: &[Srv], f: &mut Fragment) -> Result<(), ImportError> {
    let (words, from): (Vec<String>, String) = match &s.balance {
        Some(l) => (
            l[1..].iter().map(|w| w.text.clone()).collect(),
            line_text(l),
        ),
        None => {
            f.defaults.push(
                "balance roundrobin (HAProxy before 3.3; 3.3 and later default to random)".into(),
            );
            (
                vec!["roundrobin".into()],
                "HAProxy default balance roundrobin (before 3.3)".into(),
            )
        }
    };
    let at = s.balance.as_ref().map(|l| l[0].at.clone());
    let Some(alg) = words.first() else {
        return Err(ImportError::at(
            at.as_ref().unwrap_or(&Loc::default()),
            "\"balance\" needs an algorithm",
        ));
    };
    let (ht_consistent, ht_avalanche) = match &s.hash_type {
        Some(l) => {
            let kind = l.get(1).map(|w| w.text.as_str());
            if !matches!(kind, Some("map-based" | "consistent")) {
                return Err(ImportError::at(
                    &l[0].at,
                    "hash-type: expected map-based or consistent",
                ));
            }
            for w in &l[2..] {
                if !matches!(w.text.as_str(), "sdbm" | "avalanche") {
                    f.notes.push(format!(
                        "{}: lblab hashes with sdbm (and full_hash), not {}",
                        line_text(l),
                        w.text
                    ));
                }
            }
            (
                kind == Some("consistent"),
                l[2..].iter().any(|w| w.text == "avalanche"),
            )
        }
        None => (false, false),
    };
    let ht_from = s.hash_type.as_ref().map(line_text);
    let n = servers.len() as u64;
    let key_alg = |f: &mut Fragment, on: &str| -> (&'static str, Vec<Entry>) {
        if ht_consistent {
            (
                "haproxy-consistent",
                vec![entry("hash_on", Value::Str(on.into()), from.clone())],
            )
        } else {
            f.notes.push(format!("{from}: lblab has no HAProxy map-based key hash; nginx's hash (CRC-32 modulo the total weight) stands in: the same kind of spread and remapping, other keys on each server"));
            (
                "hash",
                vec![entry("hash_on", Value::Str(on.into()), from.clone())],
            )
        }
    };
    let head = alg.split('(').next().unwrap_or("");
    let (name, mut params): (&str, Vec<Entry>) = match head {
        "roundrobin" => ("haproxy-roundrobin", vec![]),
        "static-rr" => ("static-rr", vec![]),
        "leastconn" => {
            f.notes.push("leastconn: equal keys are broken at random (HAProxy 3.2 and later); `ties = \"fifo\"` is the older rotation".into());
            ("haproxy-leastconn", vec![])
        }
        "first" => {
            let vals: Vec<_> = servers.iter().map(|s| s.get("maxconn").cloned()).collect();
            let (m, m_from) = match vals.first().cloned().flatten() {
                Some((_, Value::Int(m), at)) => (m.max(1), format!("server maxconn ({at})")),
                _ => {
                    f.notes.push("balance first without a server maxconn: HAProxy fills the first server without limit; maxconn = 1000000 (lblab's largest) stands in".into());
                    (1_000_000, "no server maxconn".to_string())
                }
            };
            for (v, srv) in vals.iter().zip(servers) {
                let same = matches!(v, Some((_, Value::Int(x), _)) if x.max(&1) == &m);
                if !(same || v.is_none() && m == 1_000_000) {
                    f.skip(&srv.at, format!("maxconn of {}", srv.name), format!("lblab's haproxy-first has one maxconn for every server: {m} (the first server's)"));
                }
            }
            (
                "haproxy-first",
                vec![entry("maxconn", Value::Int(m), m_from)],
            )
        }
        "source" => {
            if ht_consistent {
                (
                    "haproxy-consistent",
                    vec![entry("hash_on", Value::Str("ip".into()), from.clone())],
                )
            } else {
                let p = if ht_avalanche {
                    vec![entry(
                        "avalanche",
                        Value::Bool(true),
                        ht_from.clone().unwrap_or_default(),
                    )]
                } else {
                    vec![]
                };
                ("haproxy-source", p)
            }
        }
        "uri" | "url_param" | "hdr" | "hash" | "rdp-cookie" => {
            f.notes.push(format!("{from}: the classes' request keys stand for what HAProxy hashes: give the [[classes]] `keys`"));
            if words.len() > 1 && head != "url_param" && head != "hash" {
                f.notes.push(format!(
                    "{from}: the options after the algorithm are not modelled"
                ));
            }
            key_alg(f, "key")
        }
        "random" => {
            let draws = match alg.strip_prefix("random(").and_then(|r| r.strip_suffix(')')) {
                Some(d) => d.parse::<u64>().ok().filter(|d| *d >= 1).ok_or_else(|| {
                    ImportError::at(at.as_ref().unwrap_or(&Loc::default()), format!("balance {alg}: the number of draws must be a whole number of at least 1"))
                })?,
                None if alg == "random" => 2,
                None => return Err(ImportError::at(at.as_ref().unwrap_or(&Loc::default()), format!("unknown balance algorithm \"{alg}\""))),
            };
            f.notes.push(format!("{from}: HAProxy draws servers by weight on its consistent-hash tree; lblab draws uniformly (weights only exclude weight 0)"));
            if draws == 1 || n == 1 {
                ("random", vec![])
            } else {
                let d = draws.min(n);
                if d < draws {
                    f.notes.push(format!("{from}: {draws} draws among {n} servers: lblab's power-of-d needs d <= servers, so d = {d}"));
                }
                (
                    "power-of-d",
                    vec![
                        entry("d", Value::Int(d), from.clone()),
                        entry(
                            "replacement",
                            Value::Bool(true),
                            format!("{from}: independent draws"),
                        ),
                    ],
                )
            }
        }
        _ => {
            return Err(ImportError::at(
                at.as_ref().unwrap_or(&Loc::default()),
                format!("unknown balance algorithm \"{alg}\""),
            ));
        }
    };
    if let Some(l) = &s.balance_factor {
        let w = l
            .get(1)
            .ok_or_else(|| ImportError::at(&l[0].at, "hash-balance-factor needs a number"))?;
        let v = lex::number(w, "hash-balance-factor", 1_000_000)?;
        if name == "haproxy-consistent" {
            params.push(entry("balance_factor", Value::Int(v), line_text(l)));
        } else {
            f.skip(
                &l[0].at,
                line_text(l),
                format!("bounded load applies to consistent hashing; lblab's {name} has none"),
            );
        }
    }
    if let (Some(l), false) = (
        &s.hash_type,
        matches!(
            head,
            "source" | "uri" | "url_param" | "hdr" | "hash" | "rdp-cookie"
        ),
    ) {
        f.notes
            .push(format!("{}: no hashing with balance {alg}", line_text(l)));
    }
    f.balancer
        .push(entry("algorithm", Value::Str(name.into()), from));
    f.balancer.extend(params);
    Ok(())
}

/// `retries`, `option redispatch`, `retry-on`, `timeout server`, backups as `[lb]`.
fn lb(s: &Settings, servers: &[Srv], f: &mut Fragment) -> Result<(), ImportError> {
    let (n, n_from) = match &s.retries {
        Some(l) => {
            let w = l
                .get(1)
                .ok_or_else(|| ImportError::at(&l[0].at, "\"retries\" needs a number"))?;
            (lex::number(w, "retries", 1_000_000)?, line_text(l))
        }
        None => {
            f.defaults.push("retries 3".into());
            (3, "HAProxy default retries 3".into())
        }
    };
    let (retries, why) = match &s.redispatch {
        Some((true, l)) => {
            let every: i64 = match l.get(2) {
                Some(w) => w.text.parse().map_err(|_| {
                    ImportError::at(
                        &w.at,
                        format!("option redispatch: \"{}\" is not a whole number", w.text),
                    )
                })?,
                None => -1,
            };
            let r = match every {
                0 => 0,
                e if e > 0 => n / e as u64,
                e => u64::from(n >= e.unsigned_abs()),
            };
            (
                r,
                format!(
                    "{n_from}; {}: the retries that go to another server",
                    line_text(l)
                ),
            )
        }
        other => {
            if let Some((false, l)) = other {
                f.notes
                    .push(format!("{}: retries stay on the same server", line_text(l)));
            }
            (
                0,
                format!(
                    "{n_from}: without option redispatch HAProxy retries the same server, and lblab's retries go to another one, so none is written"
                ),
            )
        }
    };
    f.lb.push(entry("retries", Value::Int(retries.min(100)), why));
    let on: Vec<String> = match &s.retry_on {
        Some(l) => {
            let mut on: Vec<&str> = Vec::new();
            for w in &l[1..] {
                let add: &[&str] = match w.text.as_str() {
                    "none" => &[],
                    "conn-failure" => &["refused"],
                    "response-timeout" => &["timeout"],
                    "500" | "502" | "503" | "504" => &["5xx"],
                    "all-retryable-errors" => &["refused", "timeout", "5xx"],
                    _ => {
                        f.skip(
                            &w.at,
                            w.text.clone(),
                            "lblab's retry_on has refused, timeout and 5xx only",
                        );
                        &[]
                    }
                };
                for a in add {
                    if !on.contains(a) {
                        on.push(a);
                    }
                }
            }
            on.iter().map(|s| s.to_string()).collect()
        }
        None => {
            f.defaults.push("retry-on conn-failure".into());
            vec!["refused".into()]
        }
    };
    let on_from = s
        .retry_on
        .as_ref()
        .map_or("HAProxy default retry-on conn-failure".into(), line_text);
    f.lb.push(entry("retry_on", Value::List(on), on_from));
    if let Some(l) = &s.timeout_server {
        let w = l
            .get(2)
            .ok_or_else(|| ImportError::at(&l[0].at, "\"timeout server\" needs a time"))?;
        let t = lex::duration(w, "timeout server", MS, UNITS, false)?;
        if t > 0 {
            f.lb.push(entry(
                "upstream_timeout",
                Value::Str(super::duration(t)),
                line_text(l),
            ));
            f.notes.push("upstream_timeout bounds a whole attempt; HAProxy's timeout server bounds the server's silence".into());
        }
    }
    let backups = servers.iter().any(|s| s.backup);
    if backups {
        f.lb.push(entry(
            "priority_rule",
            Value::Str("haproxy".into()),
            "backup servers: used when no active server is usable".into(),
        ));
    }
    match &s.allbackups {
        Some((true, l)) if backups => {
            f.lb.push(entry("allbackups", Value::Bool(true), line_text(l)))
        }
        Some((_, l)) if !backups => f.notes.push(format!(
            "{}: no backup servers, nothing to do",
            line_text(l)
        )),
        Some((false, l)) => f.notes.push(format!(
            "{}: only the first backup is used (lblab's default)",
            line_text(l)
        )),
        _ => {}
    }
    Ok(())
}

/// `check` and its timing, `observe`, `slowstart` as `[health]`.
fn health(s: &Settings, servers: &[Srv], f: &mut Fragment) -> Result<(), ImportError> {
    const CHECK_KEYS: &[(&str, &str)] = &[
        ("inter", "inter"),
        ("fastinter", "fastinter"),
        ("downinter", "downinter"),
        ("rise", "rise"),
        ("fall", "fall"),
        ("observe", "observe"),
        ("error-limit", "error_limit"),
        ("on-error", "on_error"),
    ];
    let checked: Vec<&Srv> = servers.iter().filter(|s| s.check).collect();
    let unchecked_why = "this server has no `check`: HAProxy ignores its check settings";
    if let Some(first) = checked.first() {
        f.active.push(entry(
            "style",
            Value::Str("haproxy".into()),
            format!("server check ({})", first.at),
        ));
        let http = matches!(&s.httpchk, Some((true, _)));
        let check_from = match &s.httpchk {
            Some((_, l)) => line_text(l),
            None => "HAProxy default: a TCP connect".into(),
        };
        f.active.push(entry(
            "check",
            Value::Str(if http { "http" } else { "tcp" }.into()),
            check_from,
        ));
        if let Some((true, l)) = &s.httpchk
            && l.len() > 2
        {
            f.notes.push(format!("{}: the method, URI and version of the check are not modelled (a probe passes on 200)", line_text(l)));
        }
        for (kw, key) in CHECK_KEYS {
            let v = first.get(kw);
            for other in &checked[1..] {
                let ov = other.get(kw);
                if ov.map(|x| &x.1) != v.map(|x| &x.1) {
                    let at = ov.map_or(&other.at, |x| &x.2);
                    f.skip(at, format!("{kw} of {}", other.name), format!("lblab's [health.active] is one setting for every server: the first checked server's ({}) is used", first.name));
                }
            }
            match v {
                Some((_, val, at)) => {
                    f.active
                        .push(entry(key, val.clone(), format!("server {kw} ({at})")))
                }
                None if matches!(*kw, "inter" | "rise" | "fall") => {
                    let d = match *kw {
                        "inter" => Value::Str("2s".into()),
                        "rise" => Value::Int(2),
                        _ => Value::Int(3),
                    };
                    f.active
                        .push(entry(key, d, format!("HAProxy default {kw}")));
                }
                None => {}
            }
        }
        if first.get("inter").is_none()
            || first.get("rise").is_none()
            || first.get("fall").is_none()
        {
            f.defaults
                .push("check inter 2s rise 2 fall 3, where the servers do not set them".into());
        }
        if let Some(l) = &s.timeout_check {
            let w = l
                .get(2)
                .ok_or_else(|| ImportError::at(&l[0].at, "\"timeout check\" needs a time"))?;
            let t = lex::duration(w, "timeout check", MS, UNITS, false)?;
            if t > 0 {
                f.active.push(entry(
                    "timeout",
                    Value::Str(super::duration(t)),
                    line_text(l),
                ));
            }
        } else {
            f.defaults
                .push("no timeout check: a check times out after inter".into());
        }
        if let Some(l) = &s.spread {
            let w = l
                .get(1)
                .ok_or_else(|| ImportError::at(&l[0].at, "\"spread-checks\" needs a number"))?;
            let p = lex::number(w, "spread-checks", 50)?;
            f.active
                .push(entry("spread_checks", Value::Int(p), line_text(l)));
        }
        for u in servers.iter().filter(|s| !s.check) {
            f.skip(&u.at, format!("server {} without check", u.name), "HAProxy never checks it (it stays up); lblab's [health.active] checks every server");
        }
    } else {
        for u in servers {
            for (kw, v, at) in &u.vals {
                if CHECK_KEYS.iter().any(|(k, _)| k == kw) {
                    f.skip(at, format!("{kw} {}", v.toml()), unchecked_why);
                }
            }
        }
        for l in [&s.timeout_check, &s.spread].into_iter().flatten() {
            f.notes
                .push(format!("{}: no server has `check`", line_text(l)));
        }
        if let Some((_, l)) = &s.httpchk {
            f.notes
                .push(format!("{}: no server has `check`", line_text(l)));
        }
    }
    let ramps: Vec<&Srv> = servers
        .iter()
        .filter(|s| s.get("slowstart").is_some())
        .collect();
    if let Some((first, (_, w, at))) = ramps
        .first()
        .and_then(|s| s.get("slowstart").map(|v| (s, v.clone())))
    {
        for other in servers {
            let ov = other.get("slowstart");
            if ov.map(|x| &x.1) != Some(&w) {
                let oat = ov.map_or(&other.at, |x| &x.2);
                f.skip(
                    oat,
                    format!("slowstart of {}", other.name),
                    format!(
                        "lblab's [health.slow_start] is one window for every server: {}'s is used",
                        first.name
                    ),
                );
            }
        }
        f.slow_start
            .push(entry("window", w, format!("server slowstart ({at})")));
        f.slow_start.push(entry(
            "style",
            Value::Str("haproxy".into()),
            "HAProxy's ramp".into(),
        ));
    }
    for srv in servers {
        if let Some((_, _, at)) = srv.get("maxconn")
            && f.balancer
                .first()
                .is_some_and(|e| e.value != Value::Str("haproxy-first".into()))
        {
            f.skip(at, format!("maxconn of {}", srv.name), "HAProxy queues requests above maxconn in the backend; lblab has no per-server limit at the load balancer");
        }
    }
    Ok(())
}
