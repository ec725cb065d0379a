//! nginx: an `upstream` block (its servers and balancing method) and the
//! `proxy_next_upstream*` / `proxy_read_timeout` settings in force where a `proxy_pass`
//! sends requests to it, as a scenario fragment.
//!
//! The semantics and defaults are nginx's (`ngx_http_upstream.c`, the round-robin,
//! least_conn, ip_hash, hash and random modules; `docs/lb-semantics.md` §1–2):
//! `max_fails=1 fail_timeout=10s`, `proxy_next_upstream error timeout`,
//! `proxy_next_upstream_tries 0` (no limit: every server once), `proxy_read_timeout 60s`.
//! Relative `include` paths are resolved against the main file's directory, as nginx
//! resolves them against its configuration prefix.

use std::path::Path;

use super::lex::{self, Directive, Word};
use super::{Entry, Files, Fragment, Group, ImportError, Imported, Loc, Value};

const SEC: u64 = 1_000_000_000;
/// nginx's time units (`ngx_parse_time`).
const UNITS: &[(&str, u64)] = &[
    ("ms", 1_000_000),
    ("s", SEC),
    ("m", 60 * SEC),
    ("h", 3600 * SEC),
    ("d", 86_400 * SEC),
    ("w", 604_800 * SEC),
    ("M", 2_592_000 * SEC),
    ("y", 31_536_000 * SEC),
];

/// Imports upstream `upstream` (or the only one) of the nginx configuration at `path`.
pub fn import(
    path: &Path,
    upstream: Option<&str>,
    files: &dyn Files,
) -> Result<Imported, ImportError> {
    let prefix = path.parent().unwrap_or(Path::new(""));
    let tree = lex::nginx_file(path, prefix, files, 0, None)?;
    let file = path.display().to_string();
    let mut ups: Vec<(&Directive, bool)> = Vec::new();
    find_upstreams(&tree, false, &mut ups)?;
    let found: Vec<(&str, &Loc, (&Directive, bool))> = ups
        .iter()
        .map(|&(d, stream)| (d.args[0].text.as_str(), &d.name.at, (d, stream)))
        .collect();
    let (up, stream) = super::choose(
        &file,
        "upstream",
        "--upstream",
        "upstream block",
        "lblab imports the servers of an `upstream NAME { ... }` block",
        &found,
        upstream,
    )?;
    let name = up.args[0].text.clone();
    let mut f = Fragment {
        title: format!(
            "lblab scenario fragment: nginx upstream \"{name}\" ({}), by `lblab import nginx`",
            up.name.at
        ),
        ..Fragment::default()
    };
    let body = up.block.as_deref().unwrap_or(&[]);
    let u = upstream_model(body, &mut f)?;
    translate(&u, &mut f, up)?;
    retries(&tree, &name, stream, &mut f)?;
    Ok(Imported { name, fragment: f })
}

/// Every `upstream NAME { }` block (with whether it is in `stream`); duplicates refused.
fn find_upstreams<'a>(
    dirs: &'a [Directive],
    stream: bool,
    out: &mut Vec<(&'a Directive, bool)>,
) -> Result<(), ImportError> {
    for d in dirs {
        let Some(block) = &d.block else { continue };
        if d.name.text == "upstream" {
            let [n] = d.args.as_slice() else {
                return Err(ImportError::at(
                    &d.name.at,
                    "\"upstream\" takes exactly one name",
                ));
            };
            if let Some((o, _)) = out.iter().find(|(o, _)| o.args[0].text == n.text) {
                return Err(ImportError::at(
                    &n.at,
                    format!("duplicate upstream \"{}\" (first at {})", n.text, o.name.at),
                ));
            }
            out.push((d, stream));
        } else {
            find_upstreams(block, stream || d.name.text == "stream", out)?;
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Method {
    RoundRobin,
    LeastConn(Loc),
    IpHash(Loc),
    Hash {
        at: Loc,
        key: String,
        consistent: bool,
    },
    Random {
        at: Loc,
        two: bool,
    },
}

impl Method {
    /// nginx refuses `backup` with these methods.
    fn refuses_backup(&self) -> Option<&'static str> {
        match self {
            Method::IpHash(_) => Some("ip_hash"),
            Method::Hash { .. } => Some("hash"),
            Method::Random { .. } => Some("random"),
            _ => None,
        }
    }

    fn has_passive_check(&self) -> bool {
        matches!(self, Method::RoundRobin | Method::LeastConn(_))
    }
}

struct Server {
    at: Loc,
    text: String,
    addr: String,
    weight: u32,
    max_fails: Option<(u64, Loc)>,
    fail_timeout: Option<(u64, Loc)>,
    backup: bool,
}

struct Upstream {
    method: Method,
    /// Servers that take traffic (not `down`), in file order.
    servers: Vec<Server>,
}

/// The upstream block's servers and method; everything else commented.
fn upstream_model(body: &[Directive], f: &mut Fragment) -> Result<Upstream, ImportError> {
    let mut method = Method::RoundRobin;
    let mut method_at: Option<Loc> = None;
    let mut servers = Vec::new();
    let mut backups: Vec<Loc> = Vec::new();
    for d in body {
        f.directives.push(d.name.at.clone());
        let n = d.name.text.as_str();
        if d.block.is_some() {
            f.skip(
                &d.name.at,
                d.text(),
                "a block inside an upstream is not nginx syntax lblab knows",
            );
            continue;
        }
        let new_method = match n {
            "server" => {
                if let Some(s) = server(d, f, &mut backups)? {
                    servers.push(s);
                }
                None
            }
            "least_conn" => {
                no_args(d)?;
                Some(Method::LeastConn(d.name.at.clone()))
            }
            "ip_hash" => {
                no_args(d)?;
                Some(Method::IpHash(d.name.at.clone()))
            }
            "hash" => {
                let (key, consistent) = match d.args.as_slice() {
                    [k] => (k.text.clone(), false),
                    [k, c] if c.text == "consistent" => (k.text.clone(), true),
                    [_, c] => {
                        return Err(ImportError::at(
                            &c.at,
                            format!(
                                "invalid parameter \"{}\" of \"hash\" (expected consistent)",
                                c.text
                            ),
                        ));
                    }
                    _ => {
                        return Err(ImportError::at(
                            &d.name.at,
                            "invalid number of arguments in \"hash\" (hash KEY [consistent])",
                        ));
                    }
                };
                Some(Method::Hash {
                    at: d.name.at.clone(),
                    key,
                    consistent,
                })
            }
            "random" => {
                let two = match d.args.as_slice() {
                    [] => false,
                    [t] if t.text == "two" => true,
                    [t, m] if t.text == "two" && m.text == "least_conn" => true,
                    [t, m] if t.text == "two" && m.text.starts_with("least_time=") => {
                        f.skip(
                            &m.at,
                            m.text.clone(),
                            "least_time is nginx Plus; the two candidates are compared by connections (least_conn)",
                        );
                        true
                    }
                    [x, ..] => {
                        let bad = if x.text == "two" { &d.args[1] } else { x };
                        return Err(ImportError::at(
                            &bad.at,
                            format!(
                                "invalid parameter \"{}\" of \"random\" (random [two [least_conn]])",
                                bad.text
                            ),
                        ));
                    }
                };
                Some(Method::Random {
                    at: d.name.at.clone(),
                    two,
                })
            }
            _ => {
                f.skip(&d.name.at, d.text(), why_not(n));
                None
            }
        };
        if let Some(m) = new_method {
            if let Some(old) = &method_at {
                f.skip(
                    old,
                    "balancing method",
                    format!(
                        "load balancing method redefined at {}: nginx uses the last one",
                        d.name.at
                    ),
                );
            }
            method_at = Some(d.name.at.clone());
            method = m;
        }
    }
    if let (Some(m), Some(b)) = (method.refuses_backup(), backups.first()) {
        return Err(ImportError::at(
            b,
            format!("invalid parameter \"backup\": nginx does not allow backup servers with {m}"),
        ));
    }
    Ok(Upstream { method, servers })
}

fn no_args(d: &Directive) -> Result<(), ImportError> {
    match d.args.first() {
        None => Ok(()),
        Some(a) => Err(ImportError::at(
            &a.at,
            format!("\"{}\" takes no arguments", d.name.text),
        )),
    }
}

/// Why an upstream directive other than a server or a method is not translated.
fn why_not(name: &str) -> &'static str {
    match name {
        "keepalive" | "keepalive_requests" | "keepalive_timeout" | "keepalive_time" => {
            "a cache of idle upstream connections: it changes handshakes, not which server is picked (lblab's [connections] is not derived from it)"
        }
        "zone" => {
            "shared memory for the peers' state: lblab's load balancer node keeps one state (nginx without a zone keeps one per worker)"
        }
        "sticky" | "queue" | "ntlm" | "least_time" | "resolver" | "resolver_timeout" | "state" => {
            "not modelled by lblab (mostly nginx Plus)"
        }
        _ => "unknown upstream directive",
    }
}

/// One `server` line; None for a `down` server (left out, commented).
fn server(
    d: &Directive,
    f: &mut Fragment,
    backups: &mut Vec<Loc>,
) -> Result<Option<Server>, ImportError> {
    let Some(addr) = d.args.first() else {
        return Err(ImportError::at(
            &d.name.at,
            "\"server\" without an address (server ADDRESS [parameters])",
        ));
    };
    let mut s = Server {
        at: d.name.at.clone(),
        text: format!("{} ({})", d.text(), d.name.at),
        addr: addr.text.clone(),
        weight: 1,
        max_fails: None,
        fail_timeout: None,
        backup: false,
    };
    let mut down = false;
    for p in &d.args[1..] {
        let (k, v) = match p.text.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p.text.as_str(), None),
        };
        let val = |v: Option<&str>| Word {
            text: v.unwrap_or("").to_string(),
            at: Loc {
                col: p.at.col + k.chars().count() + 1,
                ..p.at.clone()
            },
        };
        match (k, v) {
            ("weight", Some(v)) => {
                let w = lex::number(&val(Some(v)), "weight", 1_000_000)?;
                if w == 0 {
                    return Err(ImportError::at(
                        &val(Some(v)).at,
                        "invalid parameter \"weight=0\" (nginx weights are at least 1)",
                    ));
                }
                s.weight = w as u32;
            }
            ("max_fails", Some(v)) => {
                s.max_fails = Some((
                    lex::number(&val(Some(v)), "max_fails", 1_000_000)?,
                    p.at.clone(),
                ));
            }
            ("fail_timeout", Some(v)) => {
                let t = lex::duration(&val(Some(v)), "fail_timeout", SEC, UNITS, true)?;
                s.fail_timeout = Some((t, p.at.clone()));
            }
            ("max_conns", Some(v)) => {
                lex::number(&val(Some(v)), "max_conns", u64::MAX)?;
                f.skip(&p.at, p.text.clone(), "a limit on connections at the load balancer per server: lblab's [[servers]] have no such limit (slots and queue are the server's own)");
            }
            ("slow_start", Some(v)) => {
                lex::duration(&val(Some(v)), "slow_start", SEC, UNITS, true)?;
                f.skip(&p.at, p.text.clone(), "nginx Plus only (open-source nginx refuses it); [health.slow_start] follows HAProxy's or Envoy's ramp, not nginx Plus's");
            }
            ("backup", None) => {
                s.backup = true;
                backups.push(p.at.clone());
            }
            ("down", None) => down = true,
            _ => f.skip(
                &p.at,
                p.text.clone(),
                "server parameter lblab does not model (nginx Plus, or unknown)",
            ),
        }
    }
    if down {
        f.skip(
            &d.name.at,
            d.text(),
            "a down server takes no traffic: left out of [[servers]] (ip_hash and hash still count its weight in nginx, so their keys map differently)",
        );
        return Ok(None);
    }
    Ok(Some(s))
}

/// The pool's value of a per-server parameter: every server's (explicit or default) value
/// when they agree, else the first server's, with the others commented.
fn pool_value(
    servers: &[Server],
    get: impl Fn(&Server) -> Option<(u64, Loc)>,
    default: u64,
    what: &str,
    show: impl Fn(u64) -> String,
    f: &mut Fragment,
) -> (u64, String) {
    let first = get(&servers[0]).map_or(default, |(v, _)| v);
    let mut from: Vec<String> = Vec::new();
    for s in servers {
        match get(s) {
            Some((v, at)) if v != first => f.skip(
                &at,
                format!("{what}={}", show(v)),
                format!(
                    "lblab's {what} is one value for the pool (a [balancer] parameter): the pool uses the first server's, {}",
                    show(first)
                ),
            ),
            None if default != first => f.skip(
                &s.at,
                format!("{what} (default {})", show(default)),
                format!(
                    "lblab's {what} is one value for the pool: the pool uses the first server's, {}",
                    show(first)
                ),
            ),
            Some((_, at)) => from.push(at.to_string()),
            None => {}
        }
    }
    let from = if from.is_empty() {
        format!("nginx default {what}={}", show(default))
    } else {
        format!("server {what}={} ({})", show(first), from.join(", "))
    };
    (first, from)
}

fn translate(u: &Upstream, f: &mut Fragment, up: &Directive) -> Result<(), ImportError> {
    let primaries = u.servers.iter().filter(|s| !s.backup).count();
    if primaries == 0 {
        return Err(ImportError::at(
            &up.name.at,
            format!(
                "upstream \"{}\" has no server that takes traffic (every server is down or a backup)",
                up.args[0].text
            ),
        ));
    }
    for backup in [false, true] {
        for s in u.servers.iter().filter(|s| s.backup == backup) {
            let name = super::group_name(&s.addr, &f.groups);
            f.groups.push(Group {
                name,
                weight: s.weight,
                backup: s.backup,
                priority: 0,
                from: s.text.clone(),
            });
        }
    }
    let n = u.servers.len();
    let unequal = u.servers.iter().any(|s| s.weight != u.servers[0].weight);
    let entry = |k: &str, v: Value, from: String| Entry {
        key: k.to_string(),
        value: v,
        from,
    };
    let (alg, from) = match &u.method {
        Method::RoundRobin => (
            "weighted-round-robin",
            "no balancing method: nginx's default, smooth weighted round robin".to_string(),
        ),
        Method::LeastConn(at) => ("weighted-least-connections", format!("least_conn ({at})")),
        Method::IpHash(at) => ("ip-hash", format!("ip_hash ({at})")),
        Method::Hash {
            at,
            key,
            consistent,
        } => (
            if *consistent { "ketama" } else { "hash" },
            format!(
                "hash {key}{} ({at})",
                if *consistent { " consistent" } else { "" }
            ),
        ),
        Method::Random { at, two } => (
            if *two && n > 1 {
                "power-of-d"
            } else {
                "random"
            },
            format!("random{} ({at})", if *two { " two least_conn" } else { "" }),
        ),
    };
    f.balancer
        .push(entry("algorithm", Value::Str(alg.into()), from));
    match &u.method {
        Method::Hash { at, key, .. } => {
            let on = match key.as_str() {
                "$remote_addr" => "ip",
                "$binary_remote_addr" => {
                    f.notes.push(format!("hash {key} ({at}): lblab hashes the client address as text (like $remote_addr), nginx hashes its 4 bytes: the same spread, other keys on each server"));
                    "ip"
                }
                _ => {
                    f.notes.push(format!("hash {key} ({at}): the classes' request keys stand for {key}: give the [[classes]] `keys` (without keys, nginx's hash falls back to round robin, and so does lblab's)"));
                    "key"
                }
            };
            f.balancer.push(entry(
                "hash_on",
                Value::Str(on.into()),
                format!("hash {key} ({at})"),
            ));
            f.notes.push("lblab identifies servers by their id (10.0.0.1:80, ...), nginx by the address as written: the spread is the same kind, the server a given key lands on differs".into());
        }
        Method::Random { at, two } => {
            if *two && n > 1 {
                f.balancer
                    .push(entry("d", Value::Int(2), format!("random two ({at})")));
            } else if *two {
                f.notes.push(format!(
                    "random two ({at}) with one server: lblab's power-of-d needs d <= servers; random is the same pick"
                ));
            }
            if unequal {
                f.notes.push(format!("random ({at}): nginx draws servers in proportion to weight; lblab's random and power-of-d draw uniformly (weights only exclude weight 0)"));
            }
        }
        _ => {}
    }
    let explicit: Vec<(String, &Loc)> = u
        .servers
        .iter()
        .flat_map(|s| {
            s.max_fails
                .iter()
                .map(|(v, at)| (format!("max_fails={v}"), at))
                .chain(
                    s.fail_timeout
                        .iter()
                        .map(|(v, at)| (format!("fail_timeout={}", super::duration(*v)), at)),
                )
        })
        .collect();
    if u.method.has_passive_check() {
        let (mf, mf_from) = pool_value(
            &u.servers,
            |s| s.max_fails.clone(),
            1,
            "max_fails",
            |v| v.to_string(),
            f,
        );
        let (ft, ft_from) = pool_value(
            &u.servers,
            |s| s.fail_timeout.clone(),
            10 * SEC,
            "fail_timeout",
            super::duration,
            f,
        );
        if mf_from.starts_with("nginx default") || ft_from.starts_with("nginx default") {
            f.defaults.push("server max_fails=1 fail_timeout=10s (nginx's passive check), where the servers do not set them".into());
        }
        f.balancer.push(entry("max_fails", Value::Int(mf), mf_from));
        if (1_000_000..=3600 * SEC).contains(&ft) {
            f.balancer.push(entry(
                "fail_timeout",
                Value::Str(super::duration(ft)),
                ft_from,
            ));
        } else {
            f.notes.push(format!(
                "fail_timeout {} is outside lblab's 1ms-3600s: lblab's default 10s is used",
                super::duration(ft)
            ));
        }
    } else {
        for (k, at) in explicit {
            f.skip(at, k, format!("lblab's {alg} has no passive check (nginx's max_fails/fail_timeout live in its round-robin, least_conn balancers)"));
        }
        f.notes.push(format!("nginx's passive check (max_fails, fail_timeout; on by default) is not part of lblab's {alg}: servers leave rotation only through [health]"));
    }
    if f.groups.iter().any(|g| g.backup) {
        f.lb.push(entry(
            "priority_rule",
            Value::Str("nginx".into()),
            "backup servers: used when no primary server can be picked".into(),
        ));
    }
    Ok(())
}

/// Retry and timeout settings in force at a `proxy_pass` (inherited http → server →
/// location, a level's own directive replacing its parent's).
#[derive(Clone, Default)]
struct Settings<'a> {
    next: Option<&'a Directive>,
    tries: Option<&'a Directive>,
    timeout: Option<&'a Directive>,
    read: Option<&'a Directive>,
}

impl Settings<'_> {
    fn key(&self) -> Vec<String> {
        [self.next, self.tries, self.timeout, self.read]
            .iter()
            .map(|d| d.map(|d| d.text()).unwrap_or_default())
            .collect()
    }
}

fn walk<'a>(
    dirs: &'a [Directive],
    parent: &Settings<'a>,
    name: &str,
    passes: &mut Vec<(Settings<'a>, Loc)>,
    home: &mut Option<Settings<'a>>,
) {
    let mut s = parent.clone();
    for d in dirs.iter().filter(|d| d.block.is_none()) {
        match d.name.text.as_str() {
            "proxy_next_upstream" => s.next = Some(d),
            "proxy_next_upstream_tries" => s.tries = Some(d),
            "proxy_next_upstream_timeout" => s.timeout = Some(d),
            "proxy_read_timeout" => s.read = Some(d),
            _ => {}
        }
    }
    for d in dirs {
        match &d.block {
            Some(_) if d.name.text == "upstream" => {
                let here = d.args.first().is_some_and(|a| a.text == name);
                if here && home.is_none() {
                    *home = Some(s.clone());
                }
            }
            Some(b) => walk(b, &s, name, passes, home),
            None if d.name.text == "proxy_pass" => {
                let target = d.args.first().map_or("", |a| a.text.as_str());
                let lower = target.to_ascii_lowercase();
                let rest = ["http://", "https://"]
                    .iter()
                    .find(|p| lower.starts_with(*p))
                    .map_or(target, |p| &target[p.len()..]);
                if rest.split('/').next() == Some(name) {
                    passes.push((s.clone(), d.name.at.clone()));
                }
            }
            None => {}
        }
    }
}

fn retries(
    tree: &[Directive],
    name: &str,
    stream: bool,
    f: &mut Fragment,
) -> Result<(), ImportError> {
    let mut passes = Vec::new();
    let mut home = None;
    walk(tree, &Settings::default(), name, &mut passes, &mut home);
    let s = match passes.first() {
        Some((s, _)) => {
            for (other, at) in &passes[1..] {
                if other.key() != s.key() {
                    f.notes.push(format!("the proxy_pass at {at} has other retry or timeout settings: lblab has one [lb], which takes those of the first proxy_pass ({})", passes[0].1));
                }
            }
            s.clone()
        }
        None => {
            f.notes.push(format!("no proxy_pass sends requests to upstream \"{name}\": the retry settings of the block around the upstream (or nginx's defaults) are used"));
            home.unwrap_or_default()
        }
    };
    let used: Vec<&Loc> = [s.next, s.tries, s.timeout]
        .iter()
        .flatten()
        .map(|d| &d.name.at)
        .collect();
    let mut others = Vec::new();
    collect_retry_directives(tree, &mut others);
    for d in others {
        if !used.contains(&&d.name.at) {
            f.skip(&d.name.at, d.text(), format!("applies where no proxy_pass sends requests to upstream \"{name}\" (or is overridden there)"));
        }
    }
    let n = f.groups.len() as u64;
    let entry = |k: &str, v: Value, from: String| Entry {
        key: k.to_string(),
        value: v,
        from,
    };
    // What is retried.
    let mut on: Vec<&str> = Vec::new();
    let mut off = false;
    let next_from = match s.next {
        Some(d) => {
            for a in &d.args {
                match a.text.as_str() {
                    "off" => off = true,
                    "on" if stream => on.push("refused"),
                    "error" => on.push("refused"),
                    "timeout" => on.push("timeout"),
                    "http_500" | "http_502" | "http_503" | "http_504" => {
                        if !on.contains(&"5xx") {
                            on.push("5xx");
                        }
                    }
                    "http_403" | "http_404" | "http_429" | "invalid_header" | "non_idempotent" => {
                        f.skip(&a.at, a.text.clone(), "lblab's retry_on has refused, timeout and 5xx only (and no request methods)");
                    }
                    x => {
                        return Err(ImportError::at(
                            &a.at,
                            format!("invalid value \"{x}\" in \"proxy_next_upstream\""),
                        ));
                    }
                }
            }
            if on.contains(&"5xx") {
                f.notes.push(format!("{} ({}): lblab's 5xx retries 503s from full queues and injected errors; nginx also counts these statuses as failures for max_fails, lblab does not", d.text(), d.name.at));
            }
            format!("{} ({})", d.text(), d.name.at)
        }
        None if stream => {
            on.push("refused");
            f.defaults.push("proxy_next_upstream on (stream): a connection that cannot be established goes to the next server".into());
            "nginx default proxy_next_upstream on (stream)".into()
        }
        None => {
            on.extend(["refused", "timeout"]);
            f.defaults.push("proxy_next_upstream error timeout".into());
            "nginx default proxy_next_upstream error timeout".into()
        }
    };
    let (retries, tries_from) = if off {
        (0, next_from.clone())
    } else {
        match s.tries {
            Some(d) => {
                let w = d.args.first().ok_or_else(|| {
                    ImportError::at(&d.name.at, "\"proxy_next_upstream_tries\" needs a number")
                })?;
                let t = lex::number(w, "proxy_next_upstream_tries", u64::from(u32::MAX))?;
                let r = if t == 0 { n.saturating_sub(1) } else { t - 1 };
                (
                    r,
                    format!(
                        "{} ({}){}",
                        d.text(),
                        d.name.at,
                        if t == 0 {
                            ": no limit, every server once"
                        } else {
                            ""
                        }
                    ),
                )
            }
            None => {
                f.defaults.push("proxy_next_upstream_tries 0 (no limit: every server once, retries = servers - 1)".into());
                (
                    n.saturating_sub(1),
                    "nginx default proxy_next_upstream_tries 0: every server once".into(),
                )
            }
        }
    };
    let retries = if retries > 100 {
        f.notes.push(format!(
            "{retries} retries exceed lblab's limit: 100 written"
        ));
        100
    } else {
        retries
    };
    f.lb.push(entry("retries", Value::Int(retries), tries_from));
    if !off {
        f.lb.push(entry(
            "retry_on",
            Value::List(on.iter().map(|s| s.to_string()).collect()),
            next_from,
        ));
    }
    if let Some(d) = s.timeout {
        let w = d.args.first().ok_or_else(|| {
            ImportError::at(&d.name.at, "\"proxy_next_upstream_timeout\" needs a time")
        })?;
        if lex::duration(w, "proxy_next_upstream_timeout", SEC, UNITS, true)? > 0 {
            f.skip(
                &d.name.at,
                d.text(),
                "lblab limits retries by count, not by the time spent on them",
            );
        } else {
            f.notes.push(format!(
                "{} ({}): no time limit on retries, as lblab",
                d.text(),
                d.name.at
            ));
        }
    }
    if stream {
        f.notes.push("a stream (TCP) upstream: lblab balances each request at layer 7 unless [lb] layer = \"l4\" with [connections]; stream's proxy_timeout is not an upstream timeout".into());
        return Ok(());
    }
    let (t, from) = match s.read {
        Some(d) => {
            let w = d.args.first().ok_or_else(|| {
                ImportError::at(&d.name.at, "\"proxy_read_timeout\" needs a time")
            })?;
            (
                lex::duration(w, "proxy_read_timeout", SEC, UNITS, true)?,
                format!("{} ({})", d.text(), d.name.at),
            )
        }
        None => {
            f.defaults
                .push("proxy_read_timeout 60s (the [lb] upstream_timeout)".into());
            (60 * SEC, "nginx default proxy_read_timeout 60s".into())
        }
    };
    if t > 0 {
        f.lb.push(entry(
            "upstream_timeout",
            Value::Str(super::duration(t)),
            from,
        ));
        f.notes.push("upstream_timeout bounds a whole attempt; nginx's proxy_read_timeout bounds the wait between two reads".into());
    }
    Ok(())
}

fn collect_retry_directives<'a>(dirs: &'a [Directive], out: &mut Vec<&'a Directive>) {
    for d in dirs {
        match &d.block {
            Some(b) => collect_retry_directives(b, out),
            None if d.name.text.starts_with("proxy_next_upstream") => out.push(d),
            None => {}
        }
    }
}
