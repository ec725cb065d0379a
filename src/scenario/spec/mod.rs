//! The scenario schema: walks the spanned document and builds a validated [`Scenario`].
//!
//! Every key, its type, range and default is checked in this module and its children, one
//! per section of the scenario file; the scenario reference (`docs/scenario-reference.md`)
//! documents the same schema and must be kept in step. This file reads the top level and
//! `[scenario]`, calls each section's reader in turn, and runs the cross-section checks
//! (layer-4 limits, the event budget).

use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::balancer::AlgorithmSpec;
use crate::engine::SimTime;
use crate::engine::rng::fnv1a64;
use crate::model::{ActiveStyle, Layer, Load, WorldConfig};

use super::doc::{Cx, SET_MARK, Tbl};
use super::error::{Origin, Problem, ScenarioError};
use super::{ReadFile, Scenario, overrides};

mod balancer;
mod calls;
mod clients;
mod connections;
mod dist;
mod failures;
mod health;
mod import;
mod lb;
mod priorities;
mod probes;
mod servers;
mod services;
mod sessions;

/// Default waiting-room size of a server.
pub(crate) const DEFAULT_QUEUE: u32 = 10_000;
/// Default hard cap on events per replication.
pub(crate) const DEFAULT_MAX_EVENTS: u64 = 1_000_000_000;

struct Reader<'r> {
    cx: Cx,
    /// `(name, weight)` of every server group whose name could be read, even if another
    /// of its keys is wrong: references to groups are checked against these.
    group_names: Vec<(String, Option<u32>)>,
    /// Name → index in `group_names` (the first group of that name).
    group_index: std::collections::BTreeMap<String, usize>,
    base_dir: &'r Path,
    read: ReadFile<'r>,
    stem: String,
    /// `[lb] drain_delay`: the default `delay` of `drain` failures.
    drain_delay: SimTime,
}

pub(super) fn parse(
    file: &str,
    text: &str,
    base_dir: &Path,
    sets: &[String],
    read: ReadFile<'_>,
) -> Result<Scenario, ScenarioError> {
    let imported = match import::prepare(file, text, base_dir, sets, read) {
        Ok(i) => i,
        Err(problems) => {
            return Err(ScenarioError {
                file: file.to_string(),
                source: text.to_string(),
                problems,
            });
        }
    };
    let own_len = text.len();
    // The file's text, followed by the imported fragment if any: messages show lines of
    // either.
    let text = imported.as_ref().map_or(text, |i| i.text.as_str());
    let fail = |problems: Vec<Problem>| ScenarioError {
        file: file.to_string(),
        source: text.to_string(),
        problems,
    };
    let (doc, syntax) = DeTable::parse_recoverable(&text[..own_len]);
    if !syntax.is_empty() {
        let problems = syntax
            .iter()
            .map(|e| Problem {
                path: String::new(),
                message: format!("TOML syntax error: {}", e.message().trim()),
                hint: None,
                origin: e.span().map_or(Origin::Whole, Origin::File),
            })
            .collect();
        return Err(fail(problems));
    }
    let mut doc = doc.into_inner();
    let mut cx = Cx {
        problems: Vec::new(),
        overrides: sets.to_vec(),
    };
    if let Some(i) = &imported {
        match DeTable::parse(&text[i.fragment_start..]) {
            Ok(f) => import::merge(&mut doc, &f.into_inner(), i.fragment_start, &mut cx),
            Err(e) => {
                return Err(fail(vec![Problem {
                    path: "import".into(),
                    message: format!(
                        "the imported fragment is not valid TOML (a bug in lblab's importer): {}",
                        e.message().trim()
                    ),
                    hint: None,
                    origin: Origin::Whole,
                }]));
            }
        }
    }
    for (k, s) in sets.iter().enumerate() {
        overrides::apply(&mut doc, k, s, &mut cx);
    }
    super::presets::apply(&mut doc, &mut cx);
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    let mut r = Reader {
        cx,
        group_names: Vec::new(),
        group_index: std::collections::BTreeMap::new(),
        drain_delay: SimTime::from_secs(30),
        base_dir,
        read,
        stem,
    };
    let root = Tbl {
        path: "",
        t: &doc,
        span: (0, text.len()),
    };
    let scenario = r.scenario(root);
    let mut problems = r.cx.problems;
    if problems.is_empty()
        && let Some(mut s) = scenario
    {
        let mut h = text.to_string();
        for o in sets {
            h.push('\n');
            h.push_str(o);
        }
        s.hash = fnv1a64(h.as_bytes());
        s.warnings = imported.map(|i| i.warnings).unwrap_or_default();
        return Ok(s);
    }
    // File order; overrides after the file.
    problems.sort_by_key(|p| match &p.origin {
        Origin::File(r) => (0, r.start),
        Origin::Override(_) => (1, 0),
        Origin::Whole => (2, 0),
    });
    problems.dedup();
    if problems.is_empty() {
        problems.push(Problem {
            path: String::new(),
            message: "invalid scenario".into(),
            hint: None,
            origin: Origin::Whole,
        });
    }
    Err(fail(problems))
}

fn span_of(t: Tbl<'_, '_>) -> std::ops::Range<usize> {
    t.span.0..t.span.1
}

impl Reader<'_> {
    fn scenario(&mut self, root: Tbl<'_, '_>) -> Option<Scenario> {
        self.cx.check_keys(
            root,
            &[
                "scenario",
                "clients",
                "classes",
                "servers",
                "balancer",
                "compare",
                "sessions",
                "changes",
                "lb",
                "failures",
                "health",
                "trace",
                "services",
                "connections",
                "import",
            ],
        );
        // [scenario]
        let meta_v = self.cx.require(
            root,
            "scenario",
            "a [scenario] table with at least `duration`",
        );
        let meta = meta_v.and_then(|v| self.cx.table("scenario", v));
        let mut name = self.stem.clone();
        let mut description = String::new();
        let mut question = String::new();
        let mut lesson = String::new();
        let mut seed = 1u64;
        let mut replications = 5u32;
        let mut duration = None;
        let mut warmup = SimTime::ZERO;
        let mut max_events = DEFAULT_MAX_EVENTS;
        if let Some(t) = meta {
            self.cx.check_keys(
                t,
                &[
                    "name",
                    "description",
                    "question",
                    "lesson",
                    "seed",
                    "duration",
                    "warmup",
                    "replications",
                    "max_events",
                ],
            );
            if let Some(v) = t.t.get("name")
                && let Some(s) = self.cx.string("scenario.name", v)
            {
                if s.is_empty()
                    || s.starts_with('.')
                    || !s
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                {
                    self.cx.err("scenario.name", &v.span(), format!("expected a name of letters, digits, '-', '_' or '.', not starting with '.' (it names the results directory), found \"{s}\""));
                } else {
                    name = s;
                }
            }
            if let Some(v) = t.t.get("description") {
                description = self
                    .cx
                    .string("scenario.description", v)
                    .unwrap_or_default();
            }
            if let Some(v) = t.t.get("question") {
                question = self.cx.string("scenario.question", v).unwrap_or_default();
            }
            if let Some(v) = t.t.get("lesson") {
                lesson = self.cx.string("scenario.lesson", v).unwrap_or_default();
            }
            if let Some(v) = t.t.get("seed") {
                seed = self
                    .cx
                    .int("scenario.seed", v, 0, i64::MAX)
                    .map_or(seed, |x| x as u64);
            }
            if let Some(v) = t.t.get("replications") {
                replications = self
                    .cx
                    .int("scenario.replications", v, 1, 100_000)
                    .map_or(replications, |x| x as u32);
            }
            if let Some(v) = t.t.get("max_events") {
                max_events = self
                    .cx
                    .int("scenario.max_events", v, 1, i64::MAX)
                    .map_or(max_events, |x| x as u64);
            }
            if let Some(v) = self
                .cx
                .require(t, "duration", "the simulated run time, like \"120s\"")
            {
                duration = self.cx.duration("scenario.duration", v);
                if duration == Some(SimTime::ZERO) {
                    self.cx.err(
                        "scenario.duration",
                        &v.span(),
                        "expected a positive duration, found 0",
                    );
                    duration = None;
                }
            }
            if let Some(v) = t.t.get("warmup")
                && let Some(w) = self.cx.duration("scenario.warmup", v)
            {
                if duration.is_some_and(|d| w >= d) {
                    self.cx.err(
                        "scenario.warmup",
                        &v.span(),
                        format!(
                            "expected a warm-up shorter than the duration ({}), found {w}",
                            duration.unwrap_or_default()
                        ),
                    );
                }
                warmup = w;
            }
        }

        let clients = self.clients(root);
        let groups = self.servers(root);
        let mut classes = self.classes(root);
        let n_servers: usize = groups
            .as_ref()
            .map_or(0, |g| g.iter().map(|g| g.count as usize).sum());
        let algorithm = self.balancer(root, n_servers);
        let compare = self.compare(root, n_servers);
        let compare_axis = self.compare_axis(root);

        let population = self.population(root, clients.as_ref());
        let mut sessions = self.sessions(root);
        let lb = self.lb(root);
        let health = self.health(root);
        // Changes first: they allocate the spare servers that failures may target.
        let mut groups = groups;
        let changes = match groups.as_mut() {
            Some(g) => self.changes(root, g),
            None => None,
        };
        let mut failures = match groups.as_ref() {
            Some(g) => self.failures(root, g, lb.as_ref().map_or(1, |l| l.nodes)),
            None => None,
        };
        let services = match groups.as_deref() {
            Some(g) => self.services(root, g, algorithm.as_ref(), health.as_ref()),
            None => None,
        };
        if let (Some(s), Some(ss)) = (&services, sessions.as_mut())
            && !self.session_store(root, s, ss)
        {
            sessions = None;
        }
        if let (Some(s), Some(g), Some(c), Some(ss)) =
            (&services, &groups, classes.as_mut(), &sessions)
            && !self.class_plans(root, s, g, lb.as_ref().map(|l| l.layer), ss, c)
        {
            classes = None;
        }
        if let (Some(s), Some(f)) = (&services, failures.as_mut())
            && !self.partition_from(root, s, f)
        {
            failures = None;
        }
        if let (Some(s), Some(c)) = (&services, &classes) {
            let entries: Vec<usize> = c.iter().map(|c| c.entry).collect();
            if !self.check_depends(root, s, &entries) {
                classes = None;
            }
        }
        let connections = self.connections(root, lb.as_ref());
        let preset = super::preset::read(
            &mut self.cx,
            root,
            groups.as_deref(),
            lb.as_ref().map(|l| &l.view),
        );
        let mut world = WorldConfig {
            duration: duration?,
            warmup,
            max_events,
            clients: clients?,
            classes: classes?,
            groups: groups?,
            algorithm: algorithm?,
            population: population?,
            sessions: sessions?,
            changes: changes?,
            lb: lb?,
            failures: failures?,
            health: health?,
            preset: preset?,
            services: services?,
            connections: connections?,
        };
        self.priorities(root, &mut world, compare.as_deref().unwrap_or(&[]));
        self.check_event_budget(&world, root);
        if world
            .connections
            .as_ref()
            .is_some_and(|c| c.protocol == crate::model::Protocol::WebSocket)
            && let Some(i) = world.classes.iter().position(|c| c.reconnect.is_some())
        {
            let span = root
                .t
                .get("classes")
                .and_then(|v| match v.get_ref() {
                    DeValue::Array(a) => a.get(i),
                    _ => None,
                })
                .and_then(|e| match e.get_ref() {
                    DeValue::Table(t) => t.get("reconnect").map(|r| r.span()),
                    _ => None,
                })
                .unwrap_or(0..0);
            self.cx.err_hint(
                &format!("classes[{i}].reconnect"),
                &span,
                "with protocol = \"websocket\" the socket is the connection that reconnects, and the class's requests are its messages",
                Some("move the policy to connections.reconnect".into()),
            );
        }
        if let Some(c) = &compare {
            self.check_layer(&world, c, root);
        }
        Some(Scenario {
            name,
            description,
            question,
            lesson,
            seed,
            replications,
            world,
            compare: compare?,
            compare_axis: compare_axis?,
            hash: 0,
            warnings: Vec::new(),
        })
    }

    /// A layer-4 load balancer sees addresses and connections, not HTTP: no cookies, no
    /// URLs or keys, no statuses. Checked for the edge tier and for each service's own.
    fn check_layer(&mut self, w: &WorldConfig, compare: &[AlgorithmSpec], root: Tbl<'_, '_>) {
        let layer_span = |t: Option<&crate::scenario::doc::V<'_>>| {
            t.and_then(|v| match v.get_ref() {
                DeValue::Table(t) => t.get("layer").map(|l| l.span()),
                _ => None,
            })
            .unwrap_or(0..0)
        };
        let ws = w
            .connections
            .as_ref()
            .is_some_and(|c| c.protocol == crate::model::Protocol::WebSocket);
        if w.lb.layer == Layer::L4 || ws {
            let mut algs: Vec<&AlgorithmSpec> = vec![&w.algorithm];
            algs.extend(compare);
            algs.extend(w.groups.iter().filter_map(|g| g.balancer.as_ref()));
            algs.extend(
                w.services
                    .iter()
                    .filter(|s| s.own_algorithm)
                    .map(|s| &s.algorithm),
            );
            let pools = w.classes.iter().any(|c| c.pool.is_some());
            if w.lb.layer == Layer::L4 {
                let span = layer_span(root.t.get("lb"));
                let (lb, health) = (Some(&w.lb), Some(&w.health));
                self.layer_problems("lb.layer", &span, &algs, pools, lb, health);
            } else {
                // A WebSocket at layer 7: picked once, when the socket opens.
                let span = root.t.get("connections").map_or(0..0, |v| v.span());
                self.layer_problems("connections.protocol", &span, &algs, pools, None, None);
            }
        }
        let svcs = root.t.get("services").and_then(|v| match v.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => None,
        });
        for (i, svc) in w.services.iter().enumerate() {
            if svc.lb.layer != Layer::L4 {
                continue;
            }
            let span = layer_span(svcs.and_then(|a| a.get(i)).and_then(|e| match e.get_ref() {
                DeValue::Table(t) => t.get("lb"),
                _ => None,
            }));
            self.layer_problems(
                &format!("services[{i}].lb.layer"),
                &span,
                &[&svc.algorithm],
                false,
                Some(&svc.lb),
                Some(&svc.health),
            );
        }
    }

    /// What a layer-4 tier with these balancers, pools, retries and checks cannot do; or,
    /// without a tier's `lb` and `health`, what a layer-7 tier cannot do with WebSockets
    /// (each is picked once, when it opens, from the client's address).
    fn layer_problems(
        &mut self,
        path: &str,
        span: &std::ops::Range<usize>,
        algs: &[&AlgorithmSpec],
        pools: bool,
        lb: Option<&crate::model::LbConfig>,
        health: Option<&crate::model::HealthConfig>,
    ) {
        let mut problems: Vec<String> = Vec::new();
        let l4 = lb.is_some();
        for a in algs {
            let on = a
                .params()
                .has("hash_on")
                .then(|| a.params().word("hash_on"));
            if a.info().name == "sticky" {
                problems.push(if l4 {
                    format!("{}: sticky sessions need the cookie (layer 7)", a.name())
                } else {
                    format!("{}: its pick sees no cookie", a.name())
                });
            } else if l4 && on.is_some_and(|w| w != "ip") {
                problems.push(format!(
                    "{}: hash_on = \"{}\" needs the request (layer 7); at layer 4 only \"ip\"",
                    a.name(),
                    on.unwrap_or_default()
                ));
            } else if on == Some("key") {
                problems.push(format!(
                    "{}: hash_on = \"key\" needs a message's key; only \"ip\" or \"client\"",
                    a.name()
                ));
            }
        }
        if pools {
            problems.push(if l4 {
                "classes routed to their own pools need the URL (layer 7)".into()
            } else {
                "classes routed to their own pools would split one socket's messages".into()
            });
        }
        if lb.is_some_and(|lb| lb.retry.on_5xx) {
            problems.push("retry_on \"5xx\" needs HTTP statuses (layer 7)".into());
        }
        if let Some(h) = health.and_then(|h| h.active.as_ref())
            && let ActiveStyle::Haproxy(c) = &h.style
            && c.observe == crate::health::haproxy::Observe::Layer7
        {
            problems.push("health.active.observe = \"layer7\" needs HTTP (layer 7)".into());
        }
        problems.sort();
        problems.dedup();
        for p in problems {
            if lb.is_some() {
                self.cx.err_hint(
                    path,
                    span,
                    format!("a layer-4 load balancer cannot do this: {p}"),
                    Some("set layer = \"l7\", or drop the feature".into()),
                );
            } else {
                self.cx.err_hint(
                    path,
                    span,
                    format!("a WebSocket is tunnelled to the backend picked when it opens, from its client's address: {p}"),
                    Some("balance WebSockets by the client's address (hash_on = \"ip\") or by load".into()),
                );
            }
        }
    }

    fn check_event_budget(&mut self, w: &WorldConfig, root: Tbl<'_, '_>) {
        let expected = match &w.clients.load {
            Load::Open(s) => s.expected_arrivals(SimTime::ZERO, w.duration),
            Load::Closed { .. } => return,
        };
        // Each request takes at least two events (arrival and completion).
        if expected * 2.0 > w.max_events as f64 {
            let span = root.t.get("clients").map_or(0..0, |v| v.span());
            self.cx.err_hint(
                "clients",
                &span,
                format!("about {expected:.3e} requests per replication need more events than scenario.max_events = {}", w.max_events),
                Some("lower the rate or duration, or raise scenario.max_events".into()),
            );
        }
    }
}

#[allow(dead_code)]
fn _assert_mark_is_large() {
    const _: () = assert!(SET_MARK > 1 << 40);
}
