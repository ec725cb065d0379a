//! Translating a backend's settings into the fragment: servers, `balance`, retries,
//! checks and slow start.

use super::lex::{self, line_text};
use super::{MS, Section, Settings, Srv, UNITS, server};
use crate::import::{Entry, Fragment, Group, ImportError, Loc, Value, duration, entry, group_name};

pub(super) fn translate(s: &Settings, f: &mut Fragment, be: &Section) -> Result<(), ImportError> {
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
            let name = group_name(&s.name, &f.groups);
            f.groups.push(Group {
                name,
                weight: s.weight,
                backup: s.backup,
                priority: 0,
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
                Value::Str(duration(t)),
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
                f.active
                    .push(entry("timeout", Value::Str(duration(t)), line_text(l)));
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
