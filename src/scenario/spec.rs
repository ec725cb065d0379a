//! The scenario schema: walks the spanned document and builds a validated [`Scenario`].
//!
//! Every key, its type, range and default is checked here; the scenario reference
//! (`docs/scenario-reference.md`) documents the same schema and must be kept in step.

use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::balancer::{
    AlgorithmInfo, AlgorithmSpec, ParamDef, ParamKind, ParamValue, Params, catalogue, lookup,
};
use crate::engine::SimTime;
use crate::engine::rng::fnv1a64;
use crate::model::{
    ActiveHealth, ActiveStyle, AnycastConfig, ChangeAction, CheckType, ClassConfig, ClientsConfig,
    Dist, DnsConfig, FailureKind, FailureSpec, FailureTiming, HealthConfig, IpModel, KeySpace,
    Layer, LbConfig, LbCpu, LbView, Load, MembershipChange, PopulationConfig, RatePoint,
    RateSchedule, RetryBudget, ServerGroupConfig, SessionConfig, SessionState, Topology,
    WorldConfig,
};
use crate::model::{SlowStart, SlowStartStyle};

use super::doc::{Cx, SET_MARK, Tbl, V, join};
use super::error::{Origin, Problem, ScenarioError, did_you_mean};
use super::units::parse_duration;
use super::{ReadFile, Scenario, overrides};

/// Default waiting-room size of a server.
pub(crate) const DEFAULT_QUEUE: u32 = 10_000;
/// Default hard cap on events per replication.
pub(crate) const DEFAULT_MAX_EVENTS: u64 = 1_000_000_000;

struct Reader<'r> {
    cx: Cx,
    /// `(name, weight)` of every server group whose name could be read, even if another
    /// of its keys is wrong: references to groups are checked against these.
    group_names: Vec<(String, Option<u32>)>,
    base_dir: &'r Path,
    read: ReadFile<'r>,
    stem: String,
}

pub(super) fn parse(
    file: &str,
    text: &str,
    base_dir: &Path,
    sets: &[String],
    read: ReadFile<'_>,
) -> Result<Scenario, ScenarioError> {
    let fail = |problems: Vec<Problem>| ScenarioError {
        file: file.to_string(),
        source: text.to_string(),
        problems,
    };
    let (doc, syntax) = DeTable::parse_recoverable(text);
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
    for (k, s) in sets.iter().enumerate() {
        overrides::apply(&mut doc, k, s, &mut cx);
    }
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    let mut r = Reader {
        cx,
        group_names: Vec::new(),
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
                "scenario", "clients", "classes", "servers", "balancer", "compare", "sessions",
                "changes", "lb", "failures", "health", "trace",
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
        let classes = self.classes(root);
        let n_servers: usize = groups
            .as_ref()
            .map_or(0, |g| g.iter().map(|g| g.count as usize).sum());
        let algorithm = self.balancer(root, n_servers);
        let compare = self.compare(root, n_servers);
        let compare_axis = self.compare_axis(root);

        let population = self.population(root, clients.as_ref());
        let sessions = self.sessions(root);
        let lb = self.lb(root);
        let health = self.health(root);
        // Changes first: they allocate the spare servers that failures may target.
        let mut groups = groups;
        let changes = match groups.as_mut() {
            Some(g) => self.changes(root, g),
            None => None,
        };
        let failures = match groups.as_ref() {
            Some(g) => self.failures(root, g, lb.as_ref().map_or(1, |l| l.nodes)),
            None => None,
        };
        let preset = super::preset::read(
            &mut self.cx,
            root,
            groups.as_deref(),
            lb.as_ref().map(|l| &l.view),
        );
        let world = WorldConfig {
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
        };
        self.check_event_budget(&world, root);
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
        })
    }

    /// A layer-4 load balancer sees addresses and connections, not HTTP: no cookies, no
    /// URLs or keys, no statuses.
    fn check_layer(&mut self, w: &WorldConfig, compare: &[AlgorithmSpec], root: Tbl<'_, '_>) {
        if w.lb.layer != Layer::L4 {
            return;
        }
        let span = root
            .t
            .get("lb")
            .and_then(|v| match v.get_ref() {
                DeValue::Table(t) => t.get("layer").map(|l| l.span()),
                _ => None,
            })
            .unwrap_or(0..0);
        let mut problems: Vec<String> = Vec::new();
        let mut algs: Vec<&AlgorithmSpec> = vec![&w.algorithm];
        algs.extend(compare);
        algs.extend(w.groups.iter().filter_map(|g| g.balancer.as_ref()));
        for a in algs {
            if a.info().name == "sticky" {
                problems.push(format!(
                    "{}: sticky sessions need the cookie (layer 7)",
                    a.name()
                ));
            } else if a.params().has("hash_on") && a.params().word("hash_on") != "ip" {
                problems.push(format!(
                    "{}: hash_on = \"{}\" needs the request (layer 7); at layer 4 only \"ip\"",
                    a.name(),
                    a.params().word("hash_on")
                ));
            }
        }
        if w.classes.iter().any(|c| c.pool.is_some()) {
            problems.push("classes routed to their own pools need the URL (layer 7)".into());
        }
        if w.lb.retry.on_5xx {
            problems.push("lb.retry_on \"5xx\" needs HTTP statuses (layer 7)".into());
        }
        if let Some(h) = &w.health.active
            && let ActiveStyle::Haproxy(c) = &h.style
            && c.observe == crate::health::haproxy::Observe::Layer7
        {
            problems.push("health.active.observe = \"layer7\" needs HTTP (layer 7)".into());
        }
        problems.sort();
        problems.dedup();
        for p in problems {
            self.cx.err_hint(
                "lb.layer",
                &span,
                format!("a layer-4 load balancer cannot do this: {p}"),
                Some("set lb.layer = \"l7\", or drop the feature".into()),
            );
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

    fn clients(&mut self, root: Tbl<'_, '_>) -> Option<ClientsConfig> {
        let v = self.cx.require(
            root,
            "clients",
            "a [clients] table with `rate` (open loop) or `users` (closed loop)",
        )?;
        let t = self.cx.table("clients", v)?;
        self.cx.check_keys(
            t,
            &[
                "mode",
                "rate",
                "schedule",
                "users",
                "think",
                "timeout",
                "population",
            ],
        );
        let mut mode = "open".to_string();
        if let Some(v) = t.t.get("mode") {
            match self.cx.string("clients.mode", v).as_deref() {
                Some(m @ ("open" | "closed")) => mode = m.to_string(),
                Some(m) => {
                    let hint =
                        did_you_mean(m, ["open", "closed"]).map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        "clients.mode",
                        &v.span(),
                        format!("expected \"open\" or \"closed\", found \"{m}\""),
                        hint,
                    );
                    return None;
                }
                None => return None,
            }
        }
        let timeout = match t.t.get("timeout") {
            Some(v) => match self.cx.duration("clients.timeout", v) {
                Some(SimTime::ZERO) => {
                    self.cx.err(
                        "clients.timeout",
                        &v.span(),
                        "expected a positive duration, found 0",
                    );
                    None
                }
                other => other,
            },
            None => None,
        };
        let not_here = |cx: &mut Cx, key: &str, m: &str| {
            if let Some(v) = t.t.get(key) {
                cx.err(
                    &join("clients", key),
                    &v.span(),
                    format!("`{key}` does not apply to mode = \"{m}\""),
                );
            }
        };
        let load = if mode == "open" {
            not_here(&mut self.cx, "users", "open");
            not_here(&mut self.cx, "think", "open");
            match (t.t.get("rate"), t.t.get("schedule")) {
                (Some(_), Some(s)) => {
                    self.cx.err(
                        "clients.schedule",
                        &s.span(),
                        "give either `rate` or `schedule`, not both",
                    );
                    None
                }
                (Some(v), None) => match self.cx.rate("clients.rate", v) {
                    Some(r) if r > 0.0 && r <= 1e12 => Some(Load::Open(RateSchedule::constant(r))),
                    Some(r) => {
                        self.cx.err(
                            "clients.rate",
                            &v.span(),
                            format!("expected a rate above 0 and at most 1e12/s, found {r}/s"),
                        );
                        None
                    }
                    None => None,
                },
                (None, Some(v)) => self.schedule(v).map(Load::Open),
                (None, None) => {
                    self.cx.err("clients.rate", &span_of(t), "missing key `rate` in [clients]: expected an arrival rate like \"900/s\" (or a `schedule`)");
                    None
                }
            }
        } else {
            not_here(&mut self.cx, "rate", "closed");
            not_here(&mut self.cx, "schedule", "closed");
            let users = self
                .cx
                .require(t, "users", "the number of closed-loop users")
                .and_then(|v| self.cx.int("clients.users", v, 1, 1_000_000));
            let think = match t.t.get("think") {
                Some(v) => self.dist("clients.think", v),
                None => Some(Dist::Constant { ns: 0.0 }),
            };
            Some(Load::Closed {
                users: users? as u32,
                think: think?,
            })
        };
        Some(ClientsConfig {
            load: load?,
            timeout,
        })
    }

    fn schedule(&mut self, v: &V<'_>) -> Option<RateSchedule> {
        let arr = self.cx.array("clients.schedule", v)?;
        if arr.is_empty() {
            self.cx.err(
                "clients.schedule",
                &v.span(),
                "expected at least one point like { at = \"0s\", rate = \"100/s\" }",
            );
            return None;
        }
        let mut points = Vec::new();
        let mut ok = true;
        for (i, e) in arr.iter().enumerate() {
            let path = format!("clients.schedule[{i}]");
            let Some(t) = self.cx.table(&path, e) else {
                ok = false;
                continue;
            };
            self.cx.check_keys(t, &["at", "rate", "ramp"]);
            let at = self
                .cx
                .require(t, "at", "the time this rate starts")
                .and_then(|v| self.cx.duration(&join(&path, "at"), v));
            let rate = self
                .cx
                .require(t, "rate", "a rate like \"900/s\"")
                .and_then(|v| self.cx.rate(&join(&path, "rate"), v));
            let ramp =
                t.t.get("ramp")
                    .and_then(|v| self.cx.boolean(&join(&path, "ramp"), v))
                    .unwrap_or(false);
            match (at, rate) {
                (Some(at), Some(rate)) => {
                    if i == 0 && at != SimTime::ZERO {
                        self.cx.err(
                            &join(&path, "at"),
                            &e.span(),
                            format!("expected the first point at \"0s\", found {at}"),
                        );
                        ok = false;
                    }
                    if let Some(prev) = points.last().map(|p: &RatePoint| p.at)
                        && at <= prev
                    {
                        self.cx.err(
                            &join(&path, "at"),
                            &e.span(),
                            format!("expected times in increasing order, found {at} after {prev}"),
                        );
                        ok = false;
                    }
                    if rate > 1e12 {
                        self.cx.err(
                            &join(&path, "rate"),
                            &e.span(),
                            "expected a rate of at most 1e12/s",
                        );
                        ok = false;
                    }
                    if ramp && i + 1 == arr.len() {
                        self.cx.err(
                            &join(&path, "ramp"),
                            &e.span(),
                            "the last point cannot ramp: there is no next point to ramp to",
                        );
                        ok = false;
                    }
                    points.push(RatePoint {
                        at,
                        rate_per_s: rate,
                        ramp,
                    });
                }
                _ => ok = false,
            }
        }
        if ok && points.iter().all(|p| p.rate_per_s == 0.0) {
            self.cx.err(
                "clients.schedule",
                &v.span(),
                "every rate in the schedule is zero: no request would ever arrive",
            );
            ok = false;
        }
        ok.then_some(RateSchedule { points })
    }

    fn classes(&mut self, root: Tbl<'_, '_>) -> Option<Vec<ClassConfig>> {
        let v = self.cx.require(
            root,
            "classes",
            "at least one [[classes]] entry with a `service` distribution",
        )?;
        let arr = self.cx.array("classes", v)?;
        if arr.is_empty() {
            self.cx
                .err("classes", &v.span(), "expected at least one request class");
            return None;
        }
        let single = arr.len() == 1;
        let mut out = Vec::new();
        let mut ok = true;
        let mut names: Vec<String> = Vec::new();
        let mut shares: Vec<Option<(String, f64)>> = Vec::new();
        for (i, e) in arr.iter().enumerate() {
            let path = format!("classes[{i}]");
            let Some(t) = self.cx.table(&path, e) else {
                ok = false;
                shares.push(None);
                continue;
            };
            self.cx.check_keys(
                t,
                &["name", "share", "service", "pool", "keys", "hit_service"],
            );
            let name = match t.t.get("name") {
                Some(v) => self
                    .cx
                    .string(&join(&path, "name"), v)
                    .map(|n| (n, v.span())),
                None => Some((
                    if single {
                        "default".to_string()
                    } else {
                        format!("class-{}", i + 1)
                    },
                    e.span(),
                )),
            };
            if let Some((n, span)) = &name {
                if n.is_empty() {
                    self.cx
                        .err(&join(&path, "name"), span, "expected a non-empty name");
                } else if names.contains(n) {
                    self.cx.err(
                        &join(&path, "name"),
                        span,
                        format!("duplicate class name \"{n}\""),
                    );
                }
                names.push(n.clone());
            }
            let share = match t.t.get("share") {
                Some(v) => self
                    .cx
                    .number(&join(&path, "share"), v, "a share in (0, 1]", |x| {
                        x > 0.0 && x <= 1.0
                    }),
                None if single => Some(1.0),
                None => {
                    self.cx.err(&join(&path, "share"), &span_of(t), "missing key `share`: expected this class's share of requests (shares sum to 1)");
                    None
                }
            };
            shares.push(share.map(|x| {
                (
                    name.as_ref()
                        .map_or_else(|| format!("classes[{i}]"), |n| n.0.clone()),
                    x,
                )
            }));
            let service = self
                .cx
                .require(
                    t,
                    "service",
                    "a service-time distribution like { dist = \"exponential\", mean = \"10ms\" }",
                )
                .and_then(|v| self.dist(&join(&path, "service"), v));
            let pool = match t.t.get("pool") {
                Some(v) => match self.cx.string(&join(&path, "pool"), v) {
                    Some(p) => self
                        .group_ref(&join(&path, "pool"), &v.span(), &p)
                        .map(Some),
                    None => None,
                },
                None => Some(None),
            };
            let keys = match t.t.get("keys") {
                Some(v) => self.key_space(&join(&path, "keys"), v).map(Some),
                None => Some(None),
            };
            let hit_service = match t.t.get("hit_service") {
                Some(v) => self.dist(&join(&path, "hit_service"), v).map(Some),
                None => Some(None),
            };
            match (name, share, service, pool, keys, hit_service) {
                (
                    Some((name, _)),
                    Some(share),
                    Some(service),
                    Some(pool),
                    Some(keys),
                    Some(hit_service),
                ) => out.push(ClassConfig {
                    name,
                    share,
                    service,
                    pool,
                    keys,
                    hit_service,
                }),
                _ => ok = false,
            }
        }
        // The sum is checked whenever every share could be read, even if other keys failed.
        if shares.iter().all(Option::is_some) {
            let shares: Vec<(String, f64)> = shares.into_iter().flatten().collect();
            let sum: f64 = shares.iter().map(|(_, x)| x).sum();
            if (sum - 1.0).abs() > 1e-6 {
                let detail: Vec<String> = shares.iter().map(|(n, x)| format!("{n} {x}")).collect();
                self.cx.err_hint(
                    "classes",
                    &v.span(),
                    format!(
                        "expected shares that sum to 1, found {sum} ({})",
                        detail.join(" + ")
                    ),
                    Some("shares are probabilities: scale them so they add up to 1".into()),
                );
                ok = false;
            }
        }
        ok.then_some(out)
    }

    /// Resolves a reference to a server group by name (index into `groups`).
    fn group_ref(
        &mut self,
        path: &str,
        span: &std::ops::Range<usize>,
        name: &str,
    ) -> Option<usize> {
        if let Some(g) = self.group_names.iter().position(|(n, _)| n == name) {
            if self.group_names[g].1 == Some(0) {
                self.cx.err(
                    path,
                    span,
                    format!("server group \"{name}\" has weight 0: it takes no traffic"),
                );
                return None;
            }
            return Some(g);
        }
        let names: Vec<&str> = self.group_names.iter().map(|(n, _)| n.as_str()).collect();
        let hint = match did_you_mean(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if names.is_empty() => "no server group is defined".to_string(),
            None => format!("server groups: {}", names.join(", ")),
        };
        self.cx.err_hint(
            path,
            span,
            format!("no server group named \"{name}\""),
            Some(hint),
        );
        None
    }

    fn servers(&mut self, root: Tbl<'_, '_>) -> Option<Vec<ServerGroupConfig>> {
        let v = self
            .cx
            .require(root, "servers", "at least one [[servers]] group")?;
        let arr = self.cx.array("servers", v)?;
        if arr.is_empty() {
            self.cx
                .err("servers", &v.span(), "expected at least one server group");
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, e) in arr.iter().enumerate() {
            let path = format!("servers[{i}]");
            let Some(t) = self.cx.table(&path, e) else {
                ok = false;
                continue;
            };
            self.cx.check_keys(
                t,
                &[
                    "name",
                    "count",
                    "slots",
                    "queue",
                    "speed",
                    "weight",
                    "network_delay",
                    "cache",
                    "balancer",
                ],
            );
            let name = match t.t.get("name") {
                Some(v) => {
                    let n = self.cx.string(&join(&path, "name"), v);
                    if let Some(n) = &n {
                        if n.is_empty()
                            || !n
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                        {
                            self.cx.err(&join(&path, "name"), &v.span(), format!("expected a name of letters, digits, '-', '_' or '.', found \"{n}\""));
                        } else if self.group_names.iter().any(|(g, _)| g == n) {
                            self.cx.err(
                                &join(&path, "name"),
                                &v.span(),
                                format!("duplicate server group name \"{n}\""),
                            );
                        }
                    }
                    n
                }
                None => {
                    let n = if arr.len() == 1 {
                        "server".to_string()
                    } else {
                        format!("group{}", i + 1)
                    };
                    if self.group_names.iter().any(|(g, _)| *g == n) {
                        let msg = format!(
                            "this unnamed group would be called \"{n}\", which is taken: give it a name"
                        );
                        self.cx.err(&join(&path, "name"), &e.span(), msg);
                    }
                    Some(n)
                }
            };
            let int = |cx: &mut Cx, key: &str, min: i64, max: i64, default: i64| match t.t.get(key)
            {
                Some(v) => cx.int(&join(&path, key), v, min, max),
                None => Some(default),
            };
            let count = int(&mut self.cx, "count", 1, 1_000_000, 1);
            let slots = int(&mut self.cx, "slots", 1, 1_000_000, 1);
            let weight = int(&mut self.cx, "weight", 0, 1_000_000, 1);
            let queue = match t.t.get("queue") {
                Some(v) if v.get_ref().as_str() == Some("unlimited") => Some(u32::MAX as i64),
                Some(v) if v.get_ref().is_str() => {
                    self.cx.err(
                        &join(&path, "queue"),
                        &v.span(),
                        "expected an integer ≥ 0 or \"unlimited\"",
                    );
                    None
                }
                Some(v) => self
                    .cx
                    .int(&join(&path, "queue"), v, 0, i64::from(u32::MAX) - 1),
                None => Some(i64::from(DEFAULT_QUEUE)),
            };
            let speed = match t.t.get("speed") {
                Some(v) => self.cx.number(
                    &join(&path, "speed"),
                    v,
                    "a speed factor above 0 and at most 1e6 (1.0 = nominal)",
                    |x| x > 0.0 && x <= 1e6,
                ),
                None => Some(1.0),
            };
            let network_delay = match t.t.get("network_delay") {
                Some(v) => self.dist(&join(&path, "network_delay"), v).map(Some),
                None => Some(None),
            };
            let cache = match t.t.get("cache") {
                Some(v) => self
                    .cx
                    .int(&join(&path, "cache"), v, 1, 100_000_000)
                    .map(|k| Some(k as u32)),
                None => Some(None),
            };
            let balancer = match t.t.get("balancer") {
                Some(v) => {
                    let bpath = join(&path, "balancer");
                    match self.cx.table(&bpath, v) {
                        Some(bt) => self
                            .algorithm_table(&bpath, bt, count.unwrap_or(1) as usize, false)
                            .map(Some),
                        None => None,
                    }
                }
                None => Some(None),
            };
            self.group_names
                .push((name.clone().unwrap_or_default(), weight.map(|w| w as u32)));
            match (
                name,
                count,
                slots,
                weight,
                queue,
                speed,
                network_delay,
                cache,
                balancer,
            ) {
                (
                    Some(name),
                    Some(count),
                    Some(slots),
                    Some(weight),
                    Some(queue),
                    Some(speed),
                    Some(network_delay),
                    Some(cache),
                    Some(balancer),
                ) => out.push(ServerGroupConfig {
                    name,
                    count: count as u32,
                    speed,
                    slots: slots as u32,
                    queue: queue as u32,
                    weight: weight as u32,
                    network_delay,
                    cache,
                    spare: 0,
                    balancer,
                }),
                _ => ok = false,
            }
        }
        if ok && out.iter().all(|g| g.weight == 0) {
            self.cx.err(
                "servers",
                &v.span(),
                "every server group has weight 0: no server could receive traffic",
            );
            ok = false;
        }
        let total: u64 = out.iter().map(|g| u64::from(g.count)).sum();
        if total > 1_000_000 {
            self.cx.err(
                "servers",
                &v.span(),
                format!("expected at most 1,000,000 servers in all, found {total}"),
            );
            ok = false;
        }
        ok.then_some(out)
    }

    fn balancer(&mut self, root: Tbl<'_, '_>, n_servers: usize) -> Option<AlgorithmSpec> {
        let Some(v) = root.t.get("balancer") else {
            return AlgorithmSpec::named("round-robin");
        };
        let t = self.cx.table("balancer", v)?;
        self.algorithm_table("balancer", t, n_servers, false)
    }

    /// Resolves an algorithm name: the catalogue entry and, for `power-of-N` and the
    /// power-of-two aliases, the `d` the name implies.
    fn resolve_algorithm(
        &mut self,
        path: &str,
        span: &std::ops::Range<usize>,
        name: &str,
    ) -> Option<(&'static AlgorithmInfo, Option<i64>)> {
        let numbered = name
            .strip_prefix("power-of-")
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
            .and_then(|n| n.parse::<i64>().ok());
        if let Some(k) = numbered {
            if k == 0 {
                self.cx
                    .err(path, span, "power-of-0 samples no server: expected d ≥ 1");
                return None;
            }
            return lookup("power-of-d").map(|i| (i, Some(k)));
        }
        let Some(info) = lookup(name) else {
            let names =
                catalogue().flat_map(|a| std::iter::once(a.name).chain(a.aliases.iter().copied()));
            let hint = match did_you_mean(name, names) {
                Some(s) => format!("did you mean `{s}`? (`lblab list algorithms` lists them all)"),
                None => "`lblab list algorithms` lists them all".to_string(),
            };
            self.cx.err_hint(
                path,
                span,
                format!("unknown algorithm \"{name}\""),
                Some(hint),
            );
            return None;
        };
        let implied = (info.name == "power-of-d" && name != "power-of-d").then_some(2);
        Some((info, implied))
    }

    /// An algorithm given as a table: `algorithm`, its parameters, and an optional `label`
    /// (the name in tables and CSVs). In `[compare]` (`in_compare`) `algorithm` is required;
    /// elsewhere it defaults to round robin.
    fn algorithm_table(
        &mut self,
        path: &str,
        t: Tbl<'_, '_>,
        n_servers: usize,
        in_compare: bool,
    ) -> Option<AlgorithmSpec> {
        let apath = join(path, "algorithm");
        let (name, span) = match t.t.get("algorithm") {
            Some(v) => (self.cx.string(&apath, v)?, v.span()),
            None if in_compare => {
                self.cx.err(
                    &apath,
                    &span_of(t),
                    "missing key `algorithm`: expected an algorithm name",
                );
                return None;
            }
            None => ("round-robin".to_string(), span_of(t)),
        };
        let Some((info, implied_d)) = self.resolve_algorithm(&apath, &span, &name) else {
            // Still report unknown keys that no algorithm could accept.
            return None;
        };
        let mut allowed: Vec<&str> = vec!["algorithm", "label"];
        allowed.extend(info.params.iter().map(|d| d.key));
        self.check_algorithm_keys(t, &allowed, info);
        let mut params = Params::defaults(info.params);
        let mut ok = true;
        for def in info.params {
            if let Some(v) = t.t.get(def.key) {
                match self.param_value(&join(path, def.key), v, def) {
                    Some(x) => params.set(def.key, x),
                    None => ok = false,
                }
            }
        }
        if let Some(k) = implied_d {
            match t.t.get("d") {
                Some(v) if params.int("d") != k => {
                    self.cx.err(
                        &join(path, "d"),
                        &v.span(),
                        format!(
                            "\"{name}\" means d = {k}, but d = {}; use algorithm = \"power-of-d\"",
                            params.int("d")
                        ),
                    );
                    ok = false;
                }
                _ => params.set("d", ParamValue::Int(k)),
            }
        }
        if info.name == "power-of-d"
            && !params.bool("replacement")
            && n_servers > 0
            && params.int("d") as usize > n_servers
        {
            let (p, sp) = match t.t.get("d") {
                Some(v) => (join(path, "d"), v.span()),
                None => (apath.clone(), span.clone()),
            };
            self.cx.err(
                &p,
                &sp,
                format!("d = {} exceeds the {n_servers} servers", params.int("d")),
            );
            ok = false;
        }
        let label = match t.t.get("label") {
            Some(v) => match self.cx.string(&join(path, "label"), v)? {
                l if l.trim().is_empty() => {
                    self.cx.err(
                        &join(path, "label"),
                        &v.span(),
                        "expected a non-empty label",
                    );
                    return None;
                }
                l => Some(l),
            },
            None => None,
        };
        ok.then(|| AlgorithmSpec::new(info, params, label))
    }

    fn check_algorithm_keys(&mut self, t: Tbl<'_, '_>, allowed: &[&str], info: &AlgorithmInfo) {
        for (k, _) in t.t.iter() {
            let key: &str = k.get_ref();
            if allowed.contains(&key) {
                continue;
            }
            let hint = match did_you_mean(key, allowed.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if info.params.is_empty() => format!("\"{}\" takes no parameters", info.name),
                None => format!(
                    "parameters of \"{}\": {}",
                    info.name,
                    info.params
                        .iter()
                        .map(|d| d.key)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            self.cx.err_hint(
                &join(t.path, key),
                &k.span(),
                format!("unknown key `{key}` for algorithm \"{}\"", info.name),
                Some(hint),
            );
        }
    }

    /// One parameter value, checked against its definition.
    fn param_value(&mut self, path: &str, v: &V<'_>, def: &ParamDef) -> Option<ParamValue> {
        let raw = match def.kind {
            ParamKind::Int { min, max } => ParamValue::Int(self.cx.int(path, v, min, max)?),
            ParamKind::Float { min, max } => ParamValue::Float(self.cx.number(
                path,
                v,
                &format!("a number from {min} to {max}"),
                |x| (min..=max).contains(&x),
            )?),
            ParamKind::Duration { .. } => ParamValue::Duration(self.cx.duration(path, v)?),
            ParamKind::Bool => ParamValue::Bool(self.cx.boolean(path, v)?),
            ParamKind::Choice(words) => {
                let w = self.cx.string(path, v)?;
                match words.iter().find(|x| **x == w) {
                    Some(x) => ParamValue::Word(x),
                    None => {
                        let hint = did_you_mean(&w, words.iter().copied())
                            .map(|s| format!("did you mean `{s}`?"));
                        self.cx.err_hint(
                            path,
                            &v.span(),
                            format!("expected one of {}, found \"{w}\"", words.join(", ")),
                            hint,
                        );
                        return None;
                    }
                }
            }
            ParamKind::Algorithm => {
                let w = self.cx.string(path, v)?;
                let (info, implied_d) = self.resolve_algorithm(path, &v.span(), &w)?;
                if implied_d.is_some_and(|d| d != 2) {
                    self.cx.err(path, &v.span(), format!("a base algorithm takes its default parameters: \"{w}\" is not available as a base (power-of-two is)"));
                    return None;
                }
                if info
                    .params
                    .iter()
                    .any(|d| matches!(d.kind, ParamKind::Algorithm))
                {
                    self.cx.err(
                        path,
                        &v.span(),
                        format!(
                            "\"{}\" wraps another algorithm and cannot be a base itself",
                            info.name
                        ),
                    );
                    return None;
                }
                ParamValue::Word(info.name)
            }
        };
        match def.check(raw) {
            Ok(x) => Some(x),
            Err(expected) => {
                self.cx.err(
                    path,
                    &v.span(),
                    format!(
                        "expected {expected}, found {}",
                        super::doc::describe(v.get_ref())
                    ),
                );
                None
            }
        }
    }

    /// `[compare] axis = { key = "...", values = [...] }`: what `lblab compare` varies by
    /// default, as `key=v1,v2,...` (the `--axis` syntax). The values are checked when each
    /// variant is loaded.
    fn compare_axis(&mut self, root: Tbl<'_, '_>) -> Option<Option<String>> {
        let Some(t) = root.t.get("compare").and_then(|v| match v.get_ref() {
            DeValue::Table(_) => self.cx.table("compare", v),
            _ => None,
        }) else {
            return Some(None);
        };
        let Some(v) = t.t.get("axis") else {
            return Some(None);
        };
        let at = self.cx.table("compare.axis", v)?;
        self.cx.check_keys(at, &["key", "values"]);
        let key = self
            .cx
            .require(at, "key", "the scenario key to vary, like \"lb.topology\"")
            .and_then(|k| self.cx.string("compare.axis.key", k).map(|s| (s, k.span())));
        let values = self
            .cx
            .require(
                at,
                "values",
                "the values to compare, like [\"single\", \"anycast\"]",
            )
            .and_then(|vv| {
                self.cx
                    .array("compare.axis.values", vv)
                    .map(|a| (a, vv.span()))
            });
        let (Some((key, kspan)), Some((arr, vspan))) = (key, values) else {
            return None;
        };
        let mut ok = true;
        if key.trim().is_empty() || key.starts_with("scenario.") {
            self.cx.err(
                "compare.axis.key",
                &kspan,
                "expected a scenario key outside [scenario] (a comparison shares its seed, replications and run length)",
            );
            ok = false;
        }
        if t.t.contains_key("algorithms") {
            self.cx.err(
                "compare.axis",
                &v.span(),
                "give either `algorithms` or `axis` in [compare]; to cross them, pass --algorithms a,b on the command line",
            );
            ok = false;
        }
        let mut vals = Vec::new();
        for (i, e) in arr.iter().enumerate() {
            let path = format!("compare.axis.values[{i}]");
            let s = match e.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                _ => {
                    self.cx.err(
                        &path,
                        &e.span(),
                        "expected a string, written as after --set (\"2s\", \"3\", \"true\")",
                    );
                    None
                }
            };
            match s {
                Some(s) if s.contains(',') => {
                    self.cx
                        .err(&path, &e.span(), "a value may not contain a comma");
                    ok = false;
                }
                Some(s) => vals.push(s),
                None => ok = false,
            }
        }
        if vals.is_empty() && ok {
            self.cx
                .err("compare.axis.values", &vspan, "expected at least one value");
            ok = false;
        }
        ok.then(|| Some(format!("{}={}", key.trim(), vals.join(","))))
    }

    fn compare(&mut self, root: Tbl<'_, '_>, n_servers: usize) -> Option<Vec<AlgorithmSpec>> {
        let Some(v) = root.t.get("compare") else {
            return Some(Vec::new());
        };
        let t = self.cx.table("compare", v)?;
        self.cx.check_keys(t, &["algorithms", "axis"]);
        let Some(av) = t.t.get("algorithms") else {
            return Some(Vec::new());
        };
        let arr = self.cx.array("compare.algorithms", av)?;
        let mut out: Vec<AlgorithmSpec> = Vec::new();
        let mut ok = true;
        for (i, e) in arr.iter().enumerate() {
            let path = format!("compare.algorithms[{i}]");
            let spec = match e.get_ref() {
                DeValue::String(name) => {
                    self.resolve_algorithm(&path, &e.span(), name)
                        .map(|(info, d)| {
                            let mut params = Params::defaults(info.params);
                            if let Some(d) = d {
                                params.set("d", ParamValue::Int(d));
                            }
                            AlgorithmSpec::new(info, params, None)
                        })
                }
                DeValue::Table(_) => self
                    .cx
                    .table(&path, e)
                    .and_then(|t| self.algorithm_table(&path, t, n_servers, true)),
                _ => {
                    self.cx.err(&path, &e.span(), format!("expected an algorithm name or a table like {{ algorithm = \"power-of-d\", d = 3 }}, found {}", super::doc::describe(e.get_ref())));
                    None
                }
            };
            // (power-of-d's d against the number of servers is checked when an entry is
            // run: it becomes [balancer], so `lblab run --set servers.web.count=1` is not
            // refused for an entry it does not use.)
            match spec {
                Some(a) if out.iter().any(|o| o.name() == a.name()) => {
                    self.cx.err(
                        &path,
                        &e.span(),
                        format!(
                            "\"{}\" is listed twice (give one a different `label`)",
                            a.name()
                        ),
                    );
                    ok = false;
                }
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `[clients.population]`: who the clients are.
    fn population(
        &mut self,
        root: Tbl<'_, '_>,
        clients: Option<&ClientsConfig>,
    ) -> Option<PopulationConfig> {
        let users = match clients.map(|c| &c.load) {
            Some(Load::Closed { users, .. }) => Some(*users),
            _ => None,
        };
        let mut pop = PopulationConfig {
            clients: users.unwrap_or(PopulationConfig::default().clients),
            ..PopulationConfig::default()
        };
        let Some(t) = root.t.get("clients").and_then(|v| match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        }) else {
            return Some(pop);
        };
        let Some(pv) = t.get("population") else {
            return Some(pop);
        };
        let pt = self.cx.table("clients.population", pv)?;
        self.cx.check_keys(pt, &["clients", "ips", "activity_zipf"]);
        let mut ok = true;
        if let Some(v) = pt.t.get("clients") {
            match self.cx.int("clients.population.clients", v, 1, 10_000_000) {
                Some(n) if users.is_some_and(|u| i64::from(u) != n) => {
                    self.cx.err(
                        "clients.population.clients",
                        &v.span(),
                        format!(
                            "a closed loop has one client per user: expected {}, found {n}",
                            users.unwrap_or(0)
                        ),
                    );
                    ok = false;
                }
                Some(n) => pop.clients = n as u32,
                None => ok = false,
            }
        }
        if let Some(v) = pt.t.get("activity_zipf") {
            match self.cx.number(
                "clients.population.activity_zipf",
                v,
                "a Zipf exponent from 0 (uniform) to 10",
                |x| (0.0..=10.0).contains(&x),
            ) {
                Some(z) => pop.activity_zipf = z,
                None => ok = false,
            }
        }
        if let Some(v) = pt.t.get("ips") {
            match self.ip_model(v) {
                Some(m) => pop.ips = m,
                None => ok = false,
            }
        }
        ok.then_some(pop)
    }

    fn ip_model(&mut self, v: &V<'_>) -> Option<IpModel> {
        let path = "clients.population.ips";
        let models = ["unique", "nat", "subnets", "mobile"];
        let (model, t) = match v.get_ref() {
            DeValue::String(m) => (m.to_string(), None),
            DeValue::Table(_) => {
                let t = self.cx.table(path, v)?;
                let m = self
                    .cx
                    .require(t, "model", "one of unique, nat, subnets, mobile")?;
                (self.cx.string(&join(path, "model"), m)?, Some(t))
            }
            _ => {
                self.cx.err(path, &v.span(), "expected \"unique\" or a table like { model = \"nat\", public_ips = 300, zipf = 1.1 }");
                return None;
            }
        };
        let keys: &[&str] = match model.as_str() {
            "unique" => &["model"],
            "nat" => &["model", "public_ips", "zipf"],
            "subnets" => &["model", "subnets", "zipf"],
            "mobile" => &["model", "change_every"],
            other => {
                let hint = did_you_mean(other, models).map(|s| format!("did you mean `{s}`?"));
                self.cx.err_hint(
                    path,
                    &v.span(),
                    format!(
                        "unknown address model \"{other}\" (expected one of: {})",
                        models.join(", ")
                    ),
                    hint,
                );
                return None;
            }
        };
        let Some(t) = t else {
            if model == "unique" {
                return Some(IpModel::Unique);
            }
            self.cx.err(path, &v.span(), format!("model \"{model}\" needs parameters: write a table like {{ model = \"{model}\", ... }}"));
            return None;
        };
        self.cx.check_keys(t, keys);
        let zipf = |cx: &mut Cx| match t.t.get("zipf") {
            Some(v) => cx.number(
                &join(path, "zipf"),
                v,
                "a Zipf exponent from 0 (uniform) to 10",
                |x| (0.0..=10.0).contains(&x),
            ),
            None => Some(1.0),
        };
        match model.as_str() {
            "unique" => Some(IpModel::Unique),
            "nat" => {
                let n = self
                    .cx
                    .require(t, "public_ips", "the number of shared public addresses")
                    .and_then(|v| self.cx.int(&join(path, "public_ips"), v, 1, 100_000_000));
                let z = zipf(&mut self.cx);
                Some(IpModel::Nat {
                    public_ips: n? as u32,
                    zipf: z?,
                })
            }
            "subnets" => {
                let n = self
                    .cx
                    .require(t, "subnets", "the number of /24 networks")
                    .and_then(|v| self.cx.int(&join(path, "subnets"), v, 1, 16_777_216));
                let z = zipf(&mut self.cx);
                Some(IpModel::Subnets {
                    subnets: n? as u32,
                    zipf: z?,
                })
            }
            _ => {
                let d = self
                    .cx
                    .require(
                        t,
                        "change_every",
                        "how often a client's address changes, like \"5m\"",
                    )
                    .and_then(|v| self.cx.duration(&join(path, "change_every"), v))?;
                if d == SimTime::ZERO {
                    self.cx.err(
                        &join(path, "change_every"),
                        &span_of(t),
                        "expected a positive duration",
                    );
                    return None;
                }
                Some(IpModel::Mobile { change_every: d })
            }
        }
    }

    /// A class's `keys = { count = ..., zipf = ... }`.
    fn key_space(&mut self, path: &str, v: &V<'_>) -> Option<KeySpace> {
        let t = self.cx.table(path, v)?;
        self.cx.check_keys(t, &["count", "zipf", "by"]);
        if let Some(b) = t.t.get("by") {
            let by = self.cx.string(&join(path, "by"), b)?;
            if by != "client" {
                self.cx.err_hint(&join(path, "by"), &b.span(), format!("`by = \"{by}\"` is not a key source"), Some("write by = \"client\" (each request's key is its client), or leave `by` out and give `count`".to_string()));
                return None;
            }
            for k in ["count", "zipf"] {
                if let Some(x) = t.t.get(k) {
                    self.cx.err(
                        &join(path, k),
                        &x.span(),
                        format!(
                            "`{k}` does not go with `by = \"client\"`: the clients are the keys"
                        ),
                    );
                    return None;
                }
            }
            return Some(KeySpace {
                count: 0,
                zipf: 0.0,
                by_client: true,
            });
        }
        let count = self
            .cx
            .require(t, "count", "the number of distinct keys")
            .and_then(|v| self.cx.int(&join(path, "count"), v, 1, 1_000_000_000_000));
        let zipf = match t.t.get("zipf") {
            Some(v) => self.cx.number(
                &join(path, "zipf"),
                v,
                "a Zipf exponent from 0 (uniform) to 10",
                |x| (0.0..=10.0).contains(&x),
            ),
            None => Some(0.0),
        };
        Some(KeySpace {
            count: count? as u64,
            zipf: zipf?,
            by_client: false,
        })
    }

    /// `[lb]`: how many load balancer nodes, and what their balancers see.
    fn lb(&mut self, root: Tbl<'_, '_>) -> Option<LbConfig> {
        let mut cfg = LbConfig::default();
        let Some(v) = root.t.get("lb") else {
            return Some(cfg);
        };
        let t = self.cx.table("lb", v)?;
        self.cx.check_keys(
            t,
            &[
                "nodes",
                "view",
                "report_interval",
                "upstream_timeout",
                "retries",
                "retry_on",
                "retry_budget",
                "topology",
                "vrrp",
                "dns",
                "anycast",
                "layer",
                "cores",
                "request_cost",
            ],
        );
        let mut ok = true;
        if let Some(v) = t.t.get("nodes") {
            match self.cx.int("lb.nodes", v, 1, 100_000) {
                Some(n) => cfg.nodes = n as u32,
                None => ok = false,
            }
        }
        let interval = match t.t.get("report_interval") {
            Some(v) => match self.cx.duration("lb.report_interval", v) {
                Some(d) if d > SimTime::ZERO => Some((d, v.span())),
                Some(_) => {
                    self.cx.err(
                        "lb.report_interval",
                        &v.span(),
                        "expected a positive duration",
                    );
                    ok = false;
                    None
                }
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        if let Some(v) = t.t.get("upstream_timeout") {
            match self.cx.duration("lb.upstream_timeout", v) {
                Some(d) if d > SimTime::ZERO => cfg.upstream_timeout = Some(d),
                Some(_) => {
                    self.cx.err(
                        "lb.upstream_timeout",
                        &v.span(),
                        "expected a positive duration",
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("retries") {
            match self.cx.int("lb.retries", v, 0, 100) {
                Some(n) => cfg.retry.retries = n as u32,
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("retry_on") {
            let words = ["refused", "timeout", "5xx"];
            match self.cx.array("lb.retry_on", v) {
                Some(arr) => {
                    cfg.retry.on_refused = false;
                    cfg.retry.on_timeout = false;
                    cfg.retry.on_5xx = false;
                    for (i, e) in arr.iter().enumerate() {
                        let path = format!("lb.retry_on[{i}]");
                        match self.cx.string(&path, e).as_deref() {
                            Some("refused") => cfg.retry.on_refused = true,
                            Some("timeout") => cfg.retry.on_timeout = true,
                            Some("5xx") => cfg.retry.on_5xx = true,
                            Some(other) => {
                                let hint = did_you_mean(other, words)
                                    .map(|s| format!("did you mean `{s}`?"));
                                self.cx.err_hint(
                                    &path,
                                    &e.span(),
                                    format!(
                                        "expected one of {}, found \"{other}\"",
                                        words.join(", ")
                                    ),
                                    hint,
                                );
                                ok = false;
                            }
                            None => ok = false,
                        }
                    }
                }
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("retry_budget") {
            match self.cx.table("lb.retry_budget", v) {
                Some(bt) => {
                    self.cx.check_keys(bt, &["percent", "min_concurrency"]);
                    let percent = match bt.t.get("percent") {
                        Some(v) => self.cx.number(
                            "lb.retry_budget.percent",
                            v,
                            "a percentage from 0 to 100",
                            |x| (0.0..=100.0).contains(&x),
                        ),
                        None => Some(20.0),
                    };
                    let min_concurrency = match bt.t.get("min_concurrency") {
                        Some(v) => self
                            .cx
                            .int("lb.retry_budget.min_concurrency", v, 0, 1_000_000)
                            .map(|x| x as u32),
                        None => Some(3),
                    };
                    match (percent, min_concurrency) {
                        (Some(percent), Some(min_concurrency)) => {
                            cfg.retry.budget = Some(RetryBudget {
                                percent,
                                min_concurrency,
                            })
                        }
                        _ => ok = false,
                    }
                }
                None => ok = false,
            }
        }
        let view_v = t.t.get("view");
        let view = match view_v {
            None => Some("own".to_string()),
            Some(v) => self.cx.string("lb.view", v),
        };
        match view.as_deref() {
            // `report_interval` is kept but unused, so `--set lb.view=own` works on a
            // scenario written for reported views.
            Some("own") => {}
            Some("reported") => {
                cfg.view = LbView::Reported {
                    interval: interval.map_or(SimTime::SECOND, |(d, _)| d),
                }
            }
            Some(other) => {
                let hint = did_you_mean(other, ["own", "reported"])
                    .map(|s| format!("did you mean `{s}`?"));
                let span = view_v.map_or(0..0, |v| v.span());
                self.cx.err_hint(
                    "lb.view",
                    &span,
                    format!("expected \"own\" or \"reported\", found \"{other}\""),
                    hint,
                );
                ok = false;
            }
            None => ok = false,
        }
        match self.topology(t, cfg.nodes) {
            Some(topology) => cfg.topology = topology,
            None => ok = false,
        }
        if let Some(v) = t.t.get("layer") {
            match self.cx.string("lb.layer", v).as_deref() {
                Some("l4") => cfg.layer = Layer::L4,
                Some("l7") => cfg.layer = Layer::L7,
                Some(other) => {
                    self.cx.err(
                        "lb.layer",
                        &v.span(),
                        format!("expected \"l4\" or \"l7\", found \"{other}\""),
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        // The CPU: on when `cores` is given; the cost defaults by layer.
        let cost = match t.t.get("request_cost") {
            Some(v) => match self.dist("lb.request_cost", v) {
                Some(d) => Some(d),
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };
        if let Some(v) = t.t.get("cores") {
            match self.cx.int("lb.cores", v, 1, 1024) {
                Some(n) => {
                    let cost = cost.unwrap_or(Dist::Constant {
                        ns: match cfg.layer {
                            Layer::L4 => 5_000.0,
                            Layer::L7 => 25_000.0,
                        },
                    });
                    cfg.cpu = Some(LbCpu {
                        cores: n as u32,
                        cost,
                    });
                }
                None => ok = false,
            }
        }
        ok.then_some(cfg)
    }

    /// A duration of at least `min` at `path` (`why` says where the floor comes from).
    fn duration_at_least(
        &mut self,
        path: &str,
        v: &V<'_>,
        min: SimTime,
        why: &str,
    ) -> Option<SimTime> {
        match self.cx.duration(path, v) {
            Some(d) if d >= min => Some(d),
            Some(_) => {
                self.cx
                    .err(path, &v.span(), format!("expected at least {min} ({why})"));
                None
            }
            None => None,
        }
    }

    /// A positive duration at `path`.
    fn positive_duration(&mut self, path: &str, v: &V<'_>) -> Option<SimTime> {
        match self.cx.duration(path, v) {
            Some(d) if d > SimTime::ZERO => Some(d),
            Some(_) => {
                self.cx.err(path, &v.span(), "expected a positive duration");
                None
            }
            None => None,
        }
    }

    /// `lb.topology` and its tables (`[lb.vrrp]`, `[lb.dns]`, `[lb.anycast]`). Every table
    /// is checked even when another topology is chosen, so `--set lb.topology=…` can switch
    /// between them.
    fn topology(&mut self, t: Tbl<'_, '_>, nodes: u32) -> Option<Topology> {
        use crate::ha::ecmp::EcmpMode;
        use crate::ha::vrrp::VrrpConfig;
        let mut ok = true;
        // [lb.vrrp]
        let mut vrrp = vec![VrrpConfig::default(); nodes as usize];
        if let Some(v) = t.t.get("vrrp") {
            let vt = self.cx.table("lb.vrrp", v)?;
            self.cx
                .check_keys(vt, &["priority", "advert_interval", "preempt"]);
            if let Some(v) = vt.t.get("priority") {
                match v.get_ref() {
                    DeValue::Array(a) => {
                        if a.len() != nodes as usize {
                            self.cx.err(
                                "lb.vrrp.priority",
                                &v.span(),
                                format!(
                                    "expected one priority per node ({nodes}, see lb.nodes), found {}",
                                    a.len()
                                ),
                            );
                            ok = false;
                        } else {
                            for (i, e) in a.iter().enumerate() {
                                match self.cx.int(&format!("lb.vrrp.priority[{i}]"), e, 1, 255) {
                                    Some(p) => vrrp[i].priority = p as u8,
                                    None => ok = false,
                                }
                            }
                        }
                    }
                    _ => match self.cx.int("lb.vrrp.priority", v, 1, 255) {
                        Some(p) => vrrp.iter_mut().for_each(|c| c.priority = p as u8),
                        None => ok = false,
                    },
                }
            }
            if vrrp.iter().filter(|c| c.priority == 255).count() > 1
                && let Some(v) = vt.t.get("priority")
            {
                self.cx.err(
                    "lb.vrrp.priority",
                    &v.span(),
                    "at most one node may have priority 255 (the address owner)",
                );
                ok = false;
            }
            if let Some(v) = vt.t.get("advert_interval") {
                match self.duration_at_least(
                    "lb.vrrp.advert_interval",
                    v,
                    SimTime::from_millis(10),
                    "VRRPv3 counts in centiseconds",
                ) {
                    Some(d) => vrrp.iter_mut().for_each(|c| c.advert_interval = d),
                    None => ok = false,
                }
            }
            if let Some(v) = vt.t.get("preempt") {
                match self.cx.boolean("lb.vrrp.preempt", v) {
                    Some(b) => vrrp.iter_mut().for_each(|c| c.preempt = b),
                    None => ok = false,
                }
            }
        }
        // [lb.dns]
        let mut dns = DnsConfig::default();
        if let Some(v) = t.t.get("dns") {
            let dt = self.cx.table("lb.dns", v)?;
            self.cx
                .check_keys(dt, &["ttl", "check_interval", "failure_threshold"]);
            if let Some(v) = dt.t.get("ttl") {
                match self.positive_duration("lb.dns.ttl", v) {
                    Some(d) => dns.ttl = d,
                    None => ok = false,
                }
            }
            if let Some(v) = dt.t.get("check_interval") {
                match self.duration_at_least(
                    "lb.dns.check_interval",
                    v,
                    SimTime::SECOND,
                    "DNS health checks run seconds apart; Route 53 allows 10 s or 30 s",
                ) {
                    Some(d) => dns.check_interval = d,
                    None => ok = false,
                }
            }
            if let Some(v) = dt.t.get("failure_threshold") {
                match self.cx.int("lb.dns.failure_threshold", v, 1, 10) {
                    Some(n) => dns.failure_threshold = n as u32,
                    None => ok = false,
                }
            }
        }
        // [lb.anycast]
        let mut any = AnycastConfig::default();
        if let Some(v) = t.t.get("anycast") {
            let at = self.cx.table("lb.anycast", v)?;
            self.cx.check_keys(
                at,
                &[
                    "ecmp",
                    "buckets",
                    "detection",
                    "bfd_interval",
                    "bfd_multiplier",
                    "bgp_hold_time",
                    "bgp_keepalive",
                    "converge",
                ],
            );
            // Linux's default table size, grown to one bucket per node at least.
            let mut buckets = 128u32.max(nodes);
            if let Some(v) = at.t.get("buckets") {
                match self.cx.int("lb.anycast.buckets", v, 1, 65_536) {
                    Some(b) if b as u32 >= nodes => buckets = b as u32,
                    Some(_) => {
                        self.cx.err(
                            "lb.anycast.buckets",
                            &v.span(),
                            format!("expected at least one bucket per node ({nodes})"),
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            if let Some(v) = at.t.get("ecmp") {
                let words = ["modulo", "hash-threshold", "resilient"];
                match self.cx.string("lb.anycast.ecmp", v).as_deref() {
                    Some("modulo") => any.ecmp = EcmpMode::Modulo,
                    Some("hash-threshold") => any.ecmp = EcmpMode::HashThreshold,
                    Some("resilient") => any.ecmp = EcmpMode::Resilient { buckets },
                    Some(other) => {
                        let hint =
                            did_you_mean(other, words).map(|s| format!("did you mean `{s}`?"));
                        self.cx.err_hint(
                            "lb.anycast.ecmp",
                            &v.span(),
                            format!("expected one of {}, found \"{other}\"", words.join(", ")),
                            hint,
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            let get_dur =
                |cx: &mut Self, key: &str, default: SimTime, min: SimTime, why: &str| match at
                    .t
                    .get(key)
                {
                    Some(v) => cx.duration_at_least(&format!("lb.anycast.{key}"), v, min, why),
                    None => Some(default),
                };
            let ms = SimTime::from_millis;
            let bfd_interval = get_dur(
                self,
                "bfd_interval",
                ms(300),
                ms(1),
                "BFD timers are in milliseconds and up",
            );
            let hold = get_dur(
                self,
                "bgp_hold_time",
                SimTime::from_secs(90),
                SimTime::from_secs(3),
                "RFC 4271: a hold time is 0 or at least 3 s",
            );
            let keepalive = get_dur(
                self,
                "bgp_keepalive",
                SimTime::from_secs(30),
                SimTime::SECOND,
                "RFC 4271 counts in seconds",
            );
            let converge = get_dur(
                self,
                "converge",
                SimTime::SECOND,
                SimTime::from_nanos(1),
                "a positive duration",
            );
            let multiplier = match at.t.get("bfd_multiplier") {
                Some(v) => self.cx.int("lb.anycast.bfd_multiplier", v, 1, 255),
                None => Some(3),
            };
            let detection = match at.t.get("detection") {
                Some(v) => match self.cx.string("lb.anycast.detection", v).as_deref() {
                    Some(d @ ("bfd" | "bgp")) => Some(d == "bfd"),
                    Some(other) => {
                        self.cx.err(
                            "lb.anycast.detection",
                            &v.span(),
                            format!("expected \"bfd\" or \"bgp\", found \"{other}\""),
                        );
                        None
                    }
                    None => None,
                },
                None => Some(true),
            };
            match (
                bfd_interval,
                hold,
                keepalive,
                converge,
                multiplier,
                detection,
            ) {
                (Some(bi), Some(hold), Some(ka), Some(converge), Some(m), Some(bfd)) => {
                    if ka >= hold {
                        let span = at.t.get("bgp_keepalive").map_or(v.span(), |v| v.span());
                        self.cx.err(
                            "lb.anycast.bgp_keepalive",
                            &span,
                            "expected a keepalive shorter than bgp_hold_time (RFC 4271 suggests a third of it)",
                        );
                        ok = false;
                    }
                    any.converge = converge;
                    if bfd {
                        any.hello = bi;
                        any.detect = SimTime::from_nanos(bi.as_nanos() * m as u64);
                    } else {
                        any.hello = ka;
                        any.detect = hold;
                    }
                }
                _ => ok = false,
            }
        }
        let words = ["single", "active-passive", "active-active-dns", "anycast"];
        let topology = match t.t.get("topology") {
            None => Some(Topology::Single),
            Some(v) => match self.cx.string("lb.topology", v).as_deref() {
                Some("single") => Some(Topology::Single),
                Some("active-passive") if nodes < 2 => {
                    self.cx.err(
                        "lb.topology",
                        &v.span(),
                        "\"active-passive\" needs at least 2 nodes: set lb.nodes = 2",
                    );
                    None
                }
                Some("active-passive") => Some(Topology::ActivePassive { vrrp }),
                Some("active-active-dns") => Some(Topology::Dns(dns)),
                Some("anycast") => Some(Topology::Anycast(any)),
                Some(other) => {
                    let hint = did_you_mean(other, words).map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        "lb.topology",
                        &v.span(),
                        format!("expected one of {}, found \"{other}\"", words.join(", ")),
                        hint,
                    );
                    None
                }
                None => None,
            },
        };
        if ok { topology } else { None }
    }

    /// `[[failures]]`: failures injected into servers, at fixed times or at random.
    fn failures(
        &mut self,
        root: Tbl<'_, '_>,
        groups: &[ServerGroupConfig],
        lb_nodes: u32,
    ) -> Option<Vec<FailureSpec>> {
        let Some(v) = root.t.get("failures") else {
            return Some(Vec::new());
        };
        let arr = self.cx.array("failures", v)?;
        let kinds = [
            "crash",
            "hang",
            "slow",
            "errors",
            "flap",
            "partition",
            "drain",
            "stop",
        ];
        let mut out = Vec::new();
        let mut ok = true;
        for (i, e) in arr.iter().enumerate() {
            let path = format!("failures[{i}]");
            let Some(t) = self.cx.table(&path, e) else {
                ok = false;
                continue;
            };
            let kind_name = self
                .cx
                .require(
                    t,
                    "kind",
                    "what goes wrong: crash, hang, slow, errors, flap, partition, drain or stop",
                )
                .and_then(|v| {
                    self.cx
                        .string(&join(&path, "kind"), v)
                        .map(|k| (k, v.span()))
                });
            let extra: &[&str] = match kind_name.as_ref().map(|(k, _)| k.as_str()) {
                Some("slow") => &["factor"],
                Some("errors") => &["rate", "status"],
                Some("flap") => &["up", "down"],
                Some("drain") => &["delay"],
                _ => &[],
            };
            let mut allowed = vec!["target", "kind", "at", "duration", "mtbf", "mttr"];
            allowed.extend_from_slice(extra);
            self.cx.check_keys(t, &allowed);
            let target_v = self.cx.require(t, "target", "a server (\"web-3\"), a group (\"web\": each of its servers), a load balancer node (\"lb-1\") or a list of them");
            let targets = target_v
                .and_then(|v| self.failure_targets(&join(&path, "target"), v, groups, lb_nodes));
            let dur = |cx: &mut Cx, key: &str, default: Option<SimTime>| -> Option<SimTime> {
                match t.t.get(key) {
                    Some(v) => match cx.duration(&join(&path, key), v) {
                        Some(d) if d > SimTime::ZERO => Some(d),
                        Some(_) => {
                            cx.err(&join(&path, key), &v.span(), "expected a positive duration");
                            None
                        }
                        None => None,
                    },
                    None => {
                        if default.is_none() {
                            cx.err(
                                &join(&path, key),
                                &span_of(t),
                                format!("missing key `{key}`: expected a duration"),
                            );
                        }
                        default
                    }
                }
            };
            let kind = match kind_name {
                Some((k, span)) => match k.as_str() {
                    "crash" => Some(FailureKind::Crash),
                    "hang" => Some(FailureKind::Hang),
                    "partition" => Some(FailureKind::Partition),
                    "slow" => match t.t.get("factor") {
                        Some(v) => self
                            .cx
                            .number(
                                &join(&path, "factor"),
                                v,
                                "a slowdown factor above 0 (2.0 = twice as slow)",
                                |x| x > 0.0 && x <= 1e6,
                            )
                            .map(|factor| FailureKind::Slow { factor }),
                        None => {
                            self.cx.err(
                                &join(&path, "factor"),
                                &span_of(t),
                                "missing key `factor`: expected how much slower, like 3.0",
                            );
                            None
                        }
                    },
                    "errors" => {
                        let rate = match t.t.get("rate") {
                            Some(v) => self.cx.number(
                                &join(&path, "rate"),
                                v,
                                "a probability in (0, 1]",
                                |x| x > 0.0 && x <= 1.0,
                            ),
                            None => Some(1.0),
                        };
                        let status = match t.t.get("status") {
                            Some(v) => self
                                .cx
                                .int(&join(&path, "status"), v, 500, 599)
                                .map(|s| s as u16),
                            None => Some(500),
                        };
                        rate.zip(status)
                            .map(|(rate, status)| FailureKind::Errors { rate, status })
                    }
                    "flap" => {
                        let up = dur(&mut self.cx, "up", None);
                        let down = dur(&mut self.cx, "down", None);
                        up.zip(down)
                            .map(|(up, down)| FailureKind::Flap { up, down })
                    }
                    "drain" => dur(&mut self.cx, "delay", Some(SimTime::from_secs(30)))
                        .map(|delay| FailureKind::Drain { delay }),
                    "stop" => Some(FailureKind::Stop),
                    other => {
                        let hint =
                            did_you_mean(other, kinds).map(|s| format!("did you mean `{s}`?"));
                        self.cx.err_hint(
                            &join(&path, "kind"),
                            &span,
                            format!(
                                "unknown failure kind \"{other}\" (expected one of: {})",
                                kinds.join(", ")
                            ),
                            hint,
                        );
                        None
                    }
                },
                None => None,
            };
            let timing = match (t.t.get("at"), t.t.get("mtbf"), t.t.get("mttr")) {
                (Some(a), None, None) => {
                    let at = self.cx.duration(&join(&path, "at"), a);
                    let duration = match t.t.get("duration") {
                        Some(_) => dur(&mut self.cx, "duration", None).map(Some),
                        None => Some(None),
                    };
                    match (at, duration) {
                        (Some(at), Some(duration)) => Some(FailureTiming::At { at, duration }),
                        _ => None,
                    }
                }
                (None, Some(b), Some(r)) => {
                    if let Some(d) = t.t.get("duration") {
                        self.cx.err(
                            &join(&path, "duration"),
                            &d.span(),
                            "random failures last a draw of `mttr`: `duration` does not apply",
                        );
                        None
                    } else {
                        let mtbf = self.dist(&join(&path, "mtbf"), b);
                        let mttr = self.dist(&join(&path, "mttr"), r);
                        match (mtbf, mttr) {
                            (Some(mtbf), Some(mttr)) if mtbf.mean() > 0.0 && mttr.mean() > 0.0 => {
                                Some(FailureTiming::Random { mtbf, mttr })
                            }
                            (Some(_), Some(_)) => {
                                self.cx.err(
                                    &join(&path, "mtbf"),
                                    &b.span(),
                                    "expected distributions with positive means",
                                );
                                None
                            }
                            _ => None,
                        }
                    }
                }
                _ => {
                    self.cx.err(
                        &path,
                        &e.span(),
                        "give either `at` (and optionally `duration`) or both `mtbf` and `mttr`",
                    );
                    None
                }
            };
            // Load balancer nodes can crash or stop; only they can stop.
            if let (Some((servers, nodes)), Some(kind), Some(tv)) = (&targets, &kind, target_v) {
                let bad = if !nodes.is_empty()
                    && !matches!(kind, FailureKind::Crash | FailureKind::Stop)
                {
                    Some(format!(
                        "a load balancer node can only \"crash\" or \"stop\", not \"{}\"",
                        kind.name()
                    ))
                } else if !servers.is_empty() && *kind == FailureKind::Stop {
                    Some("\"stop\" is for load balancer nodes (\"lb-1\"); a server stops gracefully with \"drain\"".to_string())
                } else {
                    None
                };
                if let Some(msg) = bad {
                    self.cx.err(&join(&path, "target"), &tv.span(), msg);
                    ok = false;
                    continue;
                }
            }
            match (targets, kind, timing) {
                (Some((servers, lb_nodes)), Some(kind), Some(timing)) => out.push(FailureSpec {
                    servers,
                    lb_nodes,
                    kind,
                    timing,
                }),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// Server ids and load balancer nodes named by a failure's `target`: `group-i`, a
    /// group, `lb-i`, or a list of these. Server names win over `lb-i`.
    fn failure_targets(
        &mut self,
        path: &str,
        v: &V<'_>,
        groups: &[ServerGroupConfig],
        lb_nodes: u32,
    ) -> Option<(Vec<u32>, Vec<u32>)> {
        let names: Vec<(String, std::ops::Range<usize>)> = match v.get_ref() {
            DeValue::String(s) => vec![(s.to_string(), v.span())],
            DeValue::Array(a) => {
                let mut out = Vec::new();
                for (i, e) in a.iter().enumerate() {
                    out.push((self.cx.string(&format!("{path}[{i}]"), e)?, e.span()));
                }
                out
            }
            _ => {
                self.cx.err(
                    path,
                    &v.span(),
                    "expected a server or group name, or a list of them",
                );
                return None;
            }
        };
        let mut ids = Vec::new();
        let mut nodes = Vec::new();
        for (name, span) in names {
            let mut lo = 0u32;
            let mut found = false;
            for g in groups {
                if g.name == name {
                    ids.extend(lo..lo + g.count);
                    found = true;
                } else if let Some(i) = name
                    .strip_prefix(&format!("{}-", g.name))
                    .and_then(|i| i.parse::<u32>().ok())
                    && i >= 1
                    && i <= g.count + g.spare
                {
                    ids.push(lo + i - 1);
                    found = true;
                }
                lo += g.count + g.spare;
            }
            if !found
                && let Some(i) = name
                    .strip_prefix("lb-")
                    .filter(|d| !d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|i| i.parse::<u32>().ok())
            {
                if i >= 1 && i <= lb_nodes {
                    nodes.push(i - 1);
                    continue;
                }
                self.cx.err(
                    path,
                    &span,
                    format!("no load balancer node \"{name}\": lb.nodes = {lb_nodes}, so nodes are lb-1 to lb-{lb_nodes}"),
                );
                return None;
            }
            if !found {
                let all: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
                let hint = did_you_mean(&name, all.iter().map(String::as_str))
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| {
                        Some(format!(
                            "servers are named like {}-1",
                            all.first().map_or("web", String::as_str)
                        ))
                    });
                self.cx.err_hint(
                    path,
                    &span,
                    format!("no server or server group named \"{name}\""),
                    hint,
                );
                return None;
            }
        }
        ids.sort_unstable();
        ids.dedup();
        nodes.sort_unstable();
        nodes.dedup();
        Some((ids, nodes))
    }

    /// `[health]`: active checks, outlier detection, panic threshold.
    fn health(&mut self, root: Tbl<'_, '_>) -> Option<HealthConfig> {
        use crate::health::envoy::EnvoyCheckConfig;
        use crate::health::haproxy::{HaproxyCheckConfig, Observe, OnError};
        use crate::health::outlier::OutlierConfig;
        let mut cfg = HealthConfig::default();
        let Some(v) = root.t.get("health") else {
            return Some(cfg);
        };
        let t = self.cx.table("health", v)?;
        self.cx
            .check_keys(t, &["active", "passive", "panic_threshold", "slow_start"]);
        let mut ok = true;
        if let Some(v) = t.t.get("panic_threshold") {
            match self.cx.number(
                "health.panic_threshold",
                v,
                "a percentage from 0 (off) to 100",
                |x| (0.0..=100.0).contains(&x),
            ) {
                Some(x) => cfg.panic_threshold = x,
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("slow_start") {
            let path = "health.slow_start";
            let st = self.cx.table(path, v)?;
            self.cx
                .check_keys(st, &["window", "style", "aggression", "min_weight_percent"]);
            let window = self
                .cx
                .require(st, "window", "the ramp length, like \"30s\"")
                .and_then(|v| self.cx.duration(&join(path, "window"), v));
            let style = match st.t.get("style") {
                Some(v) => self
                    .cx
                    .string(&join(path, "style"), v)
                    .map(|s| (s, v.span())),
                None => Some(("haproxy".to_string(), 0..0)),
            };
            let aggression = match st.t.get("aggression") {
                Some(v) => self.cx.number(
                    &join(path, "aggression"),
                    v,
                    "a number above 0 (1.0 = linear)",
                    |x| x > 0.0 && x <= 100.0,
                ),
                None => Some(1.0),
            };
            let min_pct = match st.t.get("min_weight_percent") {
                Some(v) => self.cx.number(
                    &join(path, "min_weight_percent"),
                    v,
                    "a percentage from 0 to 100",
                    |x| (0.0..=100.0).contains(&x),
                ),
                None => Some(10.0),
            };
            let style = match (style, aggression, min_pct) {
                (Some((s, _)), _, _) if s == "haproxy" => Some(SlowStartStyle::Haproxy),
                (Some((s, _)), Some(aggression), Some(min_weight_percent)) if s == "envoy" => {
                    Some(SlowStartStyle::Envoy {
                        aggression,
                        min_weight_percent,
                    })
                }
                (Some((s, span)), _, _) if s != "envoy" => {
                    self.cx.err(
                        &join(path, "style"),
                        &span,
                        format!("expected \"haproxy\" or \"envoy\", found \"{s}\""),
                    );
                    None
                }
                _ => None,
            };
            match (window, style) {
                (Some(window), Some(style)) if window > SimTime::ZERO => {
                    cfg.slow_start = Some(SlowStart { window, style })
                }
                (Some(_), Some(_)) => {
                    self.cx.err(
                        &join(path, "window"),
                        &span_of(st),
                        "expected a positive duration",
                    );
                    ok = false;
                }
                _ => ok = false,
            }
        }
        if let Some(v) = t.t.get("active") {
            let path = "health.active";
            let at = self.cx.table(path, v)?;
            let style = match at.t.get("style") {
                Some(v) => self
                    .cx
                    .string("health.active.style", v)
                    .map(|s| (s, v.span())),
                None => Some(("haproxy".to_string(), 0..0)),
            };
            let common = ["style", "check", "probe_time", "timeout", "loss"];
            let haproxy_keys = [
                "inter",
                "fastinter",
                "downinter",
                "rise",
                "fall",
                "spread_checks",
                "observe",
                "error_limit",
                "on_error",
                "check_overhead",
            ];
            let envoy_keys = [
                "interval",
                "unhealthy_threshold",
                "healthy_threshold",
                "unhealthy_interval",
                "unhealthy_edge_interval",
                "healthy_edge_interval",
                "no_traffic_interval",
                "no_traffic_healthy_interval",
                "initial_jitter",
                "interval_jitter",
                "interval_jitter_percent",
            ];
            let check = match at.t.get("check") {
                Some(v) => match self.cx.string("health.active.check", v).as_deref() {
                    Some("tcp") => Some(CheckType::Tcp),
                    Some("http") => Some(CheckType::Http),
                    Some(other) => {
                        let hint = did_you_mean(other, ["tcp", "http"])
                            .map(|s| format!("did you mean `{s}`?"));
                        self.cx.err_hint(
                            "health.active.check",
                            &v.span(),
                            format!("expected \"tcp\" or \"http\", found \"{other}\""),
                            hint,
                        );
                        None
                    }
                    None => None,
                },
                None => Some(CheckType::Tcp),
            };
            let probe_time = match at.t.get("probe_time") {
                Some(v) => self.cx.duration("health.active.probe_time", v),
                None => Some(SimTime::MILLISECOND),
            };
            let d = |cx: &mut Cx, key: &str| -> Option<Option<SimTime>> {
                match at.t.get(key) {
                    Some(v) => match cx.duration(&join(path, key), v) {
                        Some(x) if x > SimTime::ZERO => Some(Some(x)),
                        Some(_) => {
                            cx.err(&join(path, key), &v.span(), "expected a positive duration");
                            None
                        }
                        None => None,
                    },
                    None => Some(None),
                }
            };
            // Durations that may be zero (jitters).
            let d0 = |cx: &mut Cx, key: &str| -> Option<Option<SimTime>> {
                match at.t.get(key) {
                    Some(v) => cx.duration(&join(path, key), v).map(Some),
                    None => Some(None),
                }
            };
            let n = |cx: &mut Cx, key: &str, lo: i64, hi: i64| -> Option<Option<u32>> {
                match at.t.get(key) {
                    Some(v) => cx.int(&join(path, key), v, lo, hi).map(|x| Some(x as u32)),
                    None => Some(None),
                }
            };
            let style = match style.as_ref().map(|(s, sp)| (s.as_str(), sp.clone())) {
                Some(("haproxy", _)) => {
                    let mut allowed: Vec<&str> = common.to_vec();
                    allowed.extend(haproxy_keys);
                    self.cx.check_keys(at, &allowed);
                    let mut c = HaproxyCheckConfig::default();
                    let inter = d(&mut self.cx, "inter");
                    let fastinter = d(&mut self.cx, "fastinter");
                    let downinter = d(&mut self.cx, "downinter");
                    let timeout = d(&mut self.cx, "timeout");
                    let rise = n(&mut self.cx, "rise", 1, 1000);
                    let fall = n(&mut self.cx, "fall", 1, 1000);
                    let spread = n(&mut self.cx, "spread_checks", 0, 50);
                    let error_limit = n(&mut self.cx, "error_limit", 1, 1_000_000);
                    let overhead = d0(&mut self.cx, "check_overhead");
                    let observe = match at.t.get("observe") {
                        Some(v) => match self.cx.string("health.active.observe", v).as_deref() {
                            Some("none") => Some(Observe::None),
                            Some("layer4") => Some(Observe::Layer4),
                            Some("layer7") => Some(Observe::Layer7),
                            Some(other) => {
                                self.cx.err("health.active.observe", &v.span(), format!("expected \"none\", \"layer4\" or \"layer7\", found \"{other}\""));
                                None
                            }
                            None => None,
                        },
                        None => Some(Observe::None),
                    };
                    let on_error = match at.t.get("on_error") {
                        Some(v) => match self.cx.string("health.active.on_error", v).as_deref() {
                            Some("fastinter") => Some(OnError::FastInter),
                            Some("fail-check") => Some(OnError::FailCheck),
                            Some("sudden-death") => Some(OnError::SuddenDeath),
                            Some("mark-down") => Some(OnError::MarkDown),
                            Some(other) => {
                                self.cx.err("health.active.on_error", &v.span(), format!("expected \"fastinter\", \"fail-check\", \"sudden-death\" or \"mark-down\", found \"{other}\""));
                                None
                            }
                            None => None,
                        },
                        None => Some(OnError::FailCheck),
                    };
                    match (
                        inter,
                        fastinter,
                        downinter,
                        timeout,
                        rise,
                        fall,
                        spread,
                        error_limit,
                        observe,
                        on_error,
                    ) {
                        (
                            Some(inter),
                            Some(fastinter),
                            Some(downinter),
                            Some(timeout),
                            Some(rise),
                            Some(fall),
                            Some(spread),
                            Some(error_limit),
                            Some(observe),
                            Some(on_error),
                        ) => {
                            if let Some(x) = inter {
                                c.inter = x;
                            }
                            c.fastinter = fastinter;
                            c.downinter = downinter;
                            c.timeout_check = timeout;
                            if let Some(x) = rise {
                                c.rise = x;
                            }
                            if let Some(x) = fall {
                                c.fall = x;
                            }
                            if let Some(x) = spread {
                                c.spread_checks_pct = x;
                            }
                            if let Some(x) = error_limit {
                                c.error_limit = x;
                            }
                            c.observe = observe;
                            c.on_error = on_error;
                            match overhead {
                                Some(x) => c.check_overhead = x.unwrap_or(SimTime::ZERO),
                                None => return None,
                            }
                            Some(ActiveStyle::Haproxy(c))
                        }
                        _ => None,
                    }
                }
                Some(("envoy", _)) => {
                    let mut allowed: Vec<&str> = common.to_vec();
                    allowed.extend(envoy_keys);
                    self.cx.check_keys(at, &allowed);
                    let mut c = EnvoyCheckConfig::default();
                    let vals = (
                        d(&mut self.cx, "interval"),
                        d(&mut self.cx, "timeout"),
                        n(&mut self.cx, "unhealthy_threshold", 1, 1000),
                        n(&mut self.cx, "healthy_threshold", 1, 1000),
                        d(&mut self.cx, "unhealthy_interval"),
                        d(&mut self.cx, "unhealthy_edge_interval"),
                        d(&mut self.cx, "healthy_edge_interval"),
                        d(&mut self.cx, "no_traffic_interval"),
                        d(&mut self.cx, "no_traffic_healthy_interval"),
                        d0(&mut self.cx, "initial_jitter"),
                        d0(&mut self.cx, "interval_jitter"),
                        n(&mut self.cx, "interval_jitter_percent", 0, 100),
                    );
                    match vals {
                        (
                            Some(iv),
                            Some(to),
                            Some(ut),
                            Some(ht),
                            Some(ui),
                            Some(uei),
                            Some(hei),
                            Some(nti),
                            Some(nthi),
                            Some(ij),
                            Some(ivj),
                            Some(ijp),
                        ) => {
                            if let Some(x) = iv {
                                c.interval = x;
                            }
                            if let Some(x) = to {
                                c.timeout = x;
                            }
                            if let Some(x) = ut {
                                c.unhealthy_threshold = x;
                            }
                            if let Some(x) = ht {
                                c.healthy_threshold = x;
                            }
                            c.unhealthy_interval = ui;
                            c.unhealthy_edge_interval = uei;
                            c.healthy_edge_interval = hei;
                            if let Some(x) = nti {
                                c.no_traffic_interval = x;
                            }
                            c.no_traffic_healthy_interval = nthi;
                            if let Some(x) = ij {
                                c.initial_jitter = x;
                            }
                            if let Some(x) = ivj {
                                c.interval_jitter = x;
                            }
                            if let Some(x) = ijp {
                                c.interval_jitter_percent = x;
                            }
                            Some(ActiveStyle::Envoy(c))
                        }
                        _ => None,
                    }
                }
                Some((other, span)) => {
                    let hint = did_you_mean(other, ["haproxy", "envoy"])
                        .map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        "health.active.style",
                        &span,
                        format!("expected \"haproxy\" or \"envoy\", found \"{other}\""),
                        hint,
                    );
                    None
                }
                None => None,
            };
            let loss = match at.t.get("loss") {
                Some(v) => {
                    self.cx
                        .number("health.active.loss", v, "a probability from 0 to 1", |x| {
                            (0.0..=1.0).contains(&x)
                        })
                }
                None => Some(0.0),
            };
            match (style, check, probe_time, loss) {
                (Some(style), Some(check), Some(probe_time), Some(loss)) => {
                    cfg.active = Some(ActiveHealth {
                        style,
                        check,
                        probe_time,
                        loss,
                    })
                }
                _ => ok = false,
            }
        }
        if let Some(v) = t.t.get("passive") {
            let path = "health.passive";
            let pt = self.cx.table(path, v)?;
            let ints = [
                "consecutive_5xx",
                "enforcing_consecutive_5xx",
                "consecutive_gateway_failure",
                "enforcing_consecutive_gateway_failure",
                "max_ejection_percent",
                "success_rate_minimum_hosts",
                "success_rate_request_volume",
                "success_rate_stdev_factor",
                "enforcing_success_rate",
                "failure_percentage_threshold",
                "enforcing_failure_percentage",
                "failure_percentage_minimum_hosts",
                "failure_percentage_request_volume",
            ];
            let durs = [
                "interval",
                "base_ejection_time",
                "max_ejection_time",
                "max_ejection_time_jitter",
            ];
            let bools = [
                "always_eject_one_host",
                "successful_active_health_check_uneject_host",
            ];
            let mut allowed = vec!["mode"];
            allowed.extend(ints);
            allowed.extend(durs);
            allowed.extend(bools);
            self.cx.check_keys(pt, &allowed);
            if let Some(m) = pt.t.get("mode") {
                match self.cx.string("health.passive.mode", m).as_deref() {
                    Some("outlier") => {}
                    Some(other) => {
                        self.cx.err_hint("health.passive.mode", &m.span(), format!("expected \"outlier\" (Envoy outlier detection), found \"{other}\""), Some("nginx's max_fails/fail_timeout are parameters of the nginx algorithms in [balancer]".into()));
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            let mut c = OutlierConfig::default();
            for key in ints {
                if let Some(v) = pt.t.get(key) {
                    let max = if key.starts_with("enforcing")
                        || key == "max_ejection_percent"
                        || key == "failure_percentage_threshold"
                    {
                        100
                    } else {
                        1_000_000
                    };
                    match self.cx.int(&join(path, key), v, 0, max) {
                        Some(x) => {
                            let x = x as u32;
                            match key {
                                "consecutive_5xx" => c.consecutive_5xx = x,
                                "enforcing_consecutive_5xx" => c.enforcing_consecutive_5xx = x,
                                "consecutive_gateway_failure" => c.consecutive_gateway_failure = x,
                                "enforcing_consecutive_gateway_failure" => {
                                    c.enforcing_consecutive_gateway_failure = x
                                }
                                "max_ejection_percent" => c.max_ejection_percent = x,
                                "success_rate_minimum_hosts" => c.success_rate_minimum_hosts = x,
                                "success_rate_request_volume" => c.success_rate_request_volume = x,
                                "success_rate_stdev_factor" => c.success_rate_stdev_factor = x,
                                "enforcing_success_rate" => c.enforcing_success_rate = x,
                                "failure_percentage_threshold" => {
                                    c.failure_percentage_threshold = x
                                }
                                "enforcing_failure_percentage" => {
                                    c.enforcing_failure_percentage = x
                                }
                                "failure_percentage_minimum_hosts" => {
                                    c.failure_percentage_minimum_hosts = x
                                }
                                _ => c.failure_percentage_request_volume = x,
                            }
                        }
                        None => ok = false,
                    }
                }
            }
            for key in durs {
                if let Some(v) = pt.t.get(key) {
                    match self.cx.duration(&join(path, key), v) {
                        Some(x) if key == "max_ejection_time_jitter" || x > SimTime::ZERO => {
                            match key {
                                "interval" => c.interval = x,
                                "base_ejection_time" => c.base_ejection_time = x,
                                "max_ejection_time" => c.max_ejection_time = Some(x),
                                _ => c.max_ejection_time_jitter = x,
                            }
                        }
                        Some(_) => {
                            self.cx.err(
                                &join(path, key),
                                &v.span(),
                                "expected a positive duration",
                            );
                            ok = false;
                        }
                        None => ok = false,
                    }
                }
            }
            for key in bools {
                if let Some(v) = pt.t.get(key) {
                    match self.cx.boolean(&join(path, key), v) {
                        Some(b) if key == "always_eject_one_host" => c.always_eject_one_host = b,
                        Some(b) => c.successful_active_health_check_uneject_host = b,
                        None => ok = false,
                    }
                }
            }
            cfg.outlier = Some(c);
        }
        ok.then_some(cfg)
    }

    /// `[sessions]`: where session state lives and how long sessions last.
    fn sessions(&mut self, root: Tbl<'_, '_>) -> Option<SessionConfig> {
        let mut cfg = SessionConfig::default();
        let Some(v) = root.t.get("sessions") else {
            return Some(cfg);
        };
        let t = self.cx.table("sessions", v)?;
        self.cx
            .check_keys(t, &["state", "idle_timeout", "store_latency"]);
        let mut ok = true;
        if let Some(v) = t.t.get("state") {
            match self.cx.string("sessions.state", v).as_deref() {
                Some("token") => cfg.state = SessionState::Token,
                Some("server") => cfg.state = SessionState::Server,
                Some("shared") => cfg.state = SessionState::Shared,
                Some(other) => {
                    let hint = did_you_mean(other, ["token", "server", "shared"])
                        .map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        "sessions.state",
                        &v.span(),
                        format!("expected \"token\", \"server\" or \"shared\", found \"{other}\""),
                        hint,
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        if let Some(v) = t.t.get("idle_timeout") {
            match self.cx.duration("sessions.idle_timeout", v) {
                Some(d) if d > SimTime::ZERO => cfg.idle_timeout = d,
                Some(_) => {
                    self.cx.err(
                        "sessions.idle_timeout",
                        &v.span(),
                        "expected a positive duration",
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        // `store_latency` is checked whatever the state but used only by a shared store, so
        // `--set sessions.state=token` works on a scenario written for a shared store.
        match t.t.get("store_latency") {
            Some(v) => match self.dist("sessions.store_latency", v) {
                Some(d) => cfg.store_latency = Some(d),
                None => ok = false,
            },
            None if cfg.state == SessionState::Shared => {
                cfg.store_latency = Some(Dist::Constant { ns: 1e6 })
            }
            None => {}
        }
        ok.then_some(cfg)
    }

    /// `[[changes]]`: servers added or removed at given times. Adds allocate spare servers
    /// in their group.
    fn changes(
        &mut self,
        root: Tbl<'_, '_>,
        groups: &mut [ServerGroupConfig],
    ) -> Option<Vec<MembershipChange>> {
        let Some(v) = root.t.get("changes") else {
            return Some(Vec::new());
        };
        let arr = self.cx.array("changes", v)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (i, e) in arr.iter().enumerate() {
            let path = format!("changes[{i}]");
            let Some(t) = self.cx.table(&path, e) else {
                ok = false;
                continue;
            };
            self.cx
                .check_keys(t, &["at", "add", "remove", "count", "reweight", "weight"]);
            let at = self
                .cx
                .require(t, "at", "when the change happens, like \"60s\"")
                .and_then(|v| self.cx.duration(&join(&path, "at"), v));
            // A change after the end of the run never happens (like a schedule point after
            // it), so shortening a run with --set scenario.duration keeps the scenario valid.
            let count = match t.t.get("count") {
                Some(v) => self
                    .cx
                    .int(&join(&path, "count"), v, 1, 1_000_000)
                    .map(|c| c as u32),
                None => Some(1),
            };
            let mut named: Option<(usize, u32, std::ops::Range<usize>, String)> = None;
            let group_of = |name: &str| groups.iter().position(|g| g.name == name);
            let action = match (t.t.get("add"), t.t.get("remove"), t.t.get("reweight")) {
                (None, None, Some(rw)) => {
                    if let Some(c) = t.t.get("count") {
                        self.cx.err(&join(&path, "count"), &c.span(), "`count` goes with `add` and `remove`; `reweight` changes every server of the group");
                    }
                    let weight = match t.t.get("weight") {
                        Some(v) => self.cx.int(&join(&path, "weight"), v, 0, 1_000_000).map(|w| w as u32),
                        None => {
                            self.cx.err(&join(&path, "reweight"), &rw.span(), "`reweight` needs `weight = N`: the group's new weight (0 to 1000000)");
                            None
                        }
                    };
                    self.cx.string(&join(&path, "reweight"), rw).and_then(|name| match group_of(&name) {
                        Some(g) if t.t.get("count").is_none() => Some(ChangeAction::Reweight { group: g, weight: weight? }),
                        Some(_) => None,
                        None => {
                            self.group_ref(&join(&path, "reweight"), &rw.span(), &name);
                            None
                        }
                    })
                }
                (_, _, Some(rw)) => {
                    self.cx.err(&path, &rw.span(), "a change adds, removes or reweights: give one of `add`, `remove` and `reweight`");
                    None
                }
                (_, _, None) if t.t.get("weight").is_some() => {
                    let w = t.t.get("weight").expect("checked");
                    self.cx.err(&join(&path, "weight"), &w.span(), "`weight` goes with `reweight = \"<group>\"` (to change a group's weight)");
                    None
                }
                (Some(a), None, None) => self.cx.string(&join(&path, "add"), a).and_then(|name| match group_of(&name) {
                    Some(g) => Some(ChangeAction::Add { group: g, count: count? }),
                    None => {
                        self.group_ref(&join(&path, "add"), &a.span(), &name);
                        None
                    }
                }),
                (None, Some(r), None) => self.cx.string(&join(&path, "remove"), r).and_then(|name| {
                    if let Some(g) = group_of(&name) {
                        return Some(ChangeAction::RemoveFromGroup { group: g, count: count? });
                    }
                    // `group-i`: one server by name.
                    let parsed = name.rsplit_once('-').and_then(|(g, i)| Some((group_of(g)?, i.parse::<u32>().ok()?)));
                    match parsed {
                        Some((g, i)) if i >= 1 => {
                            if t.t.get("count").is_some() {
                                self.cx.err(&join(&path, "count"), &r.span(), "`count` applies to removing from a group, not to one named server");
                                return None;
                            }
                            named = Some((g, i, r.span(), join(&path, "remove")));
                            Some(ChangeAction::RemoveServer { id: u32::MAX })
                        }
                        _ => {
                            let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
                            self.cx.err_hint(&join(&path, "remove"), &r.span(), format!("no server group or server named \"{name}\""), Some(format!("write a group name ({}) or a server such as {}-1", names.join(", "), names.first().copied().unwrap_or("web"))));
                            None
                        }
                    }
                }),
                (Some(_), Some(r), None) => {
                    self.cx.err(&path, &r.span(), "a change either adds or removes: give `add` or `remove`, not both");
                    None
                }
                (None, None, None) => {
                    self.cx.err(&path, &e.span(), "expected `add = \"<group>\"`, `remove = \"<group or server>\"` or `reweight = \"<group>\"` with `weight = N`");
                    None
                }
            };
            match (at, action) {
                (Some(at), Some(action)) => out.push((MembershipChange { at, action }, named)),
                _ => ok = false,
            }
        }
        if !ok {
            return None;
        }
        out.sort_by_key(|(c, _)| c.at);
        // Spares: every add needs servers that do not exist yet.
        for (c, _) in &out {
            if let ChangeAction::Add { group, count } = c.action {
                groups[group].spare += count;
            }
        }
        // Resolve named servers to ids now that spares are known; check they exist.
        let mut resolved = Vec::with_capacity(out.len());
        for (mut c, named) in out {
            if let Some((g, n, span, path)) = named {
                let total = groups[g].count + groups[g].spare;
                if n > total {
                    let (name, count, spare) = (&groups[g].name, groups[g].count, groups[g].spare);
                    self.cx.err(&path, &span, format!("there is no server {name}-{n}: group {name} has {count} servers (and {spare} added later)"));
                    return None;
                }
                let lo: u32 = groups[..g].iter().map(|x| x.count + x.spare).sum();
                c.action = ChangeAction::RemoveServer { id: lo + n - 1 };
            }
            resolved.push(c);
        }
        Some(resolved)
    }

    /// A distribution: a table `{ dist = "...", ... }`, or a duration string (a constant).
    fn dist(&mut self, path: &str, v: &V<'_>) -> Option<Dist> {
        match v.get_ref() {
            DeValue::String(_) => {
                return self.cx.duration(path, v).map(|t| Dist::Constant {
                    ns: t.as_nanos() as f64,
                });
            }
            DeValue::Table(_) => {}
            _ => {
                self.cx.err(path, &v.span(), format!("expected a distribution like {{ dist = \"exponential\", mean = \"10ms\" }} or a duration, found {}", super::doc::describe(v.get_ref())));
                return None;
            }
        }
        let t = self.cx.table(path, v)?;
        self.dist_table(path, t, &[])
    }

    fn dist_table(&mut self, path: &str, t: Tbl<'_, '_>, extra: &[&str]) -> Option<Dist> {
        let kinds = [
            "constant",
            "exponential",
            "uniform",
            "lognormal",
            "bounded-pareto",
            "mixture",
            "empirical",
        ];
        let kv = self.cx.require(
            t,
            "dist",
            &format!("the distribution kind, one of: {}", kinds.join(", ")),
        )?;
        let kind = self.cx.string(&join(path, "dist"), kv)?;
        let keys: &[&str] = match kind.as_str() {
            "constant" => &["value"],
            "exponential" => &["mean"],
            "uniform" => &["min", "max"],
            "lognormal" => &["median", "p99", "mu", "sigma"],
            "bounded-pareto" => &["alpha", "min", "max"],
            "mixture" => &["parts"],
            "empirical" => &["file", "column", "unit"],
            other => {
                let hint = did_you_mean(other, kinds).map(|s| format!("did you mean `{s}`?"));
                self.cx.err_hint(
                    &join(path, "dist"),
                    &kv.span(),
                    format!(
                        "unknown distribution \"{other}\" (expected one of: {})",
                        kinds.join(", ")
                    ),
                    hint,
                );
                return None;
            }
        };
        let mut allowed = vec!["dist"];
        allowed.extend_from_slice(keys);
        allowed.extend_from_slice(extra);
        self.cx.check_keys(t, &allowed);
        let dur = |cx: &mut Cx, key: &str, what: &str| -> Option<f64> {
            let v = cx.require(t, key, what)?;
            cx.duration(&join(path, key), v)
                .map(|d| d.as_nanos() as f64)
        };
        let positive = |cx: &mut Cx, key: &str, x: Option<f64>| -> Option<f64> {
            match x {
                Some(x) if x > 0.0 => Some(x),
                Some(_) => {
                    cx.err(
                        &join(path, key),
                        &t.t.get(key).map_or(0..0, |v| v.span()),
                        "expected a positive duration, found 0",
                    );
                    None
                }
                None => None,
            }
        };
        match kind.as_str() {
            "constant" => Some(Dist::Constant {
                ns: dur(&mut self.cx, "value", "the constant duration")?,
            }),
            "exponential" => {
                let m = dur(&mut self.cx, "mean", "the mean duration");
                Some(Dist::Exponential {
                    mean_ns: positive(&mut self.cx, "mean", m)?,
                })
            }
            "uniform" => {
                let lo = dur(&mut self.cx, "min", "the lower bound");
                let hi = dur(&mut self.cx, "max", "the upper bound");
                let (lo, hi) = (lo?, hi?);
                if hi < lo {
                    self.cx.err(
                        &join(path, "max"),
                        &t.t.get("max").map_or(0..0, |v| v.span()),
                        "expected max ≥ min",
                    );
                    return None;
                }
                Some(Dist::Uniform {
                    lo_ns: lo,
                    hi_ns: hi,
                })
            }
            "lognormal" => {
                let has = |k: &str| t.t.get(k).is_some();
                if has("mu") || has("sigma") {
                    if has("median") || has("p99") {
                        self.cx.err(
                            path,
                            &span_of(t),
                            "give either median and p99, or mu and sigma, not both",
                        );
                        return None;
                    }
                    let mu = self
                        .cx
                        .require(t, "mu", "the mean of ln(seconds)")
                        .and_then(|v| {
                            self.cx.number(
                                &join(path, "mu"),
                                v,
                                "a number between -50 and 50 (mean of ln of seconds)",
                                |x| x.abs() < 50.0,
                            )
                        });
                    let sigma = self
                        .cx
                        .require(t, "sigma", "the standard deviation of ln(seconds)")
                        .and_then(|v| {
                            self.cx
                                .number(&join(path, "sigma"), v, "a number from 0 to 10", |x| {
                                    (0.0..=10.0).contains(&x)
                                })
                        });
                    // mu is in log-seconds; the model works in log-nanoseconds.
                    Some(Dist::LogNormal {
                        mu: mu? + 1e9f64.ln(),
                        sigma: sigma?,
                    })
                } else {
                    let med = dur(
                        &mut self.cx,
                        "median",
                        "the median duration (or mu and sigma)",
                    );
                    let med = positive(&mut self.cx, "median", med);
                    let p99 = dur(&mut self.cx, "p99", "the 99th-percentile duration");
                    let (med, p99) = (med?, p99?);
                    if p99 <= med {
                        self.cx.err(
                            &join(path, "p99"),
                            &t.t.get("p99").map_or(0..0, |v| v.span()),
                            "expected p99 above the median",
                        );
                        return None;
                    }
                    let d = Dist::lognormal_from_median_p99(med, p99);
                    if let Dist::LogNormal { sigma, .. } = d
                        && sigma > 10.0
                    {
                        self.cx.err(
                            &join(path, "p99"),
                            &t.t.get("p99").map_or(0..0, |v| v.span()),
                            "p99 is too far above the median (sigma > 10)",
                        );
                        return None;
                    }
                    Some(d)
                }
            }
            "bounded-pareto" => {
                let alpha = self
                    .cx
                    .require(t, "alpha", "the shape (tail index) > 0")
                    .and_then(|v| {
                        self.cx.number(
                            &join(path, "alpha"),
                            v,
                            "a shape from 0 to 100 (exclusive of 0)",
                            |x| x > 0.0 && x <= 100.0,
                        )
                    });
                let lo = dur(&mut self.cx, "min", "the lower bound");
                let lo = positive(&mut self.cx, "min", lo);
                let hi = dur(&mut self.cx, "max", "the upper bound");
                let (alpha, lo, hi) = (alpha?, lo?, hi?);
                if hi <= lo {
                    self.cx.err(
                        &join(path, "max"),
                        &t.t.get("max").map_or(0..0, |v| v.span()),
                        "expected max above min",
                    );
                    return None;
                }
                Some(Dist::BoundedPareto {
                    alpha,
                    lo_ns: lo,
                    hi_ns: hi,
                })
            }
            "mixture" => {
                let pv =
                    self.cx
                        .require(t, "parts", "an array of { weight = ..., dist = ..., ... }")?;
                let arr = self.cx.array(&join(path, "parts"), pv)?;
                if arr.is_empty() {
                    self.cx.err(
                        &join(path, "parts"),
                        &pv.span(),
                        "expected at least one part",
                    );
                    return None;
                }
                let mut parts = Vec::new();
                let mut weights = Vec::new();
                let mut ok = true;
                for (i, e) in arr.iter().enumerate() {
                    let pp = format!("{path}.parts[{i}]");
                    let Some(pt) = self.cx.table(&pp, e) else {
                        ok = false;
                        continue;
                    };
                    let w = self
                        .cx
                        .require(pt, "weight", "this part's probability")
                        .and_then(|v| {
                            self.cx
                                .number(&join(&pp, "weight"), v, "a weight in (0, 1]", |x| {
                                    x > 0.0 && x <= 1.0
                                })
                        });
                    let d = self.dist_table(&pp, pt, &["weight"]);
                    match (w, d) {
                        (Some(w), Some(d)) => {
                            weights.push(w);
                            parts.push(d);
                        }
                        _ => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                let sum: f64 = weights.iter().sum();
                if (sum - 1.0).abs() > 1e-6 {
                    self.cx.err(
                        &join(path, "parts"),
                        &pv.span(),
                        format!("expected weights that sum to 1, found {sum}"),
                    );
                    return None;
                }
                let mut acc = 0.0;
                let cumulative = weights
                    .iter()
                    .map(|w| {
                        acc += w;
                        acc
                    })
                    .collect();
                Some(Dist::Mixture { cumulative, parts })
            }
            "empirical" => self.empirical(path, t),
            _ => None,
        }
    }

    fn empirical(&mut self, path: &str, t: Tbl<'_, '_>) -> Option<Dist> {
        let fv = self
            .cx
            .require(t, "file", "a CSV file path (relative to the scenario)")?;
        let file = self.cx.string(&join(path, "file"), fv)?;
        let column = match t.t.get("column") {
            Some(v) => Some(self.cx.string(&join(path, "column"), v)?),
            None => None,
        };
        let unit_ns = match t.t.get("unit") {
            Some(v) => {
                let u = self.cx.string(&join(path, "unit"), v)?;
                match super::units::unit_ns(&u) {
                    Some(ns) => ns,
                    None => {
                        self.cx.err(
                            &join(path, "unit"),
                            &v.span(),
                            format!(
                                "expected a time unit ({}), found \"{u}\"",
                                super::units::UNITS
                            ),
                        );
                        return None;
                    }
                }
            }
            None => 1e9,
        };
        let full = self.base_dir.join(&file);
        let fpath = join(path, "file");
        let span = fv.span();
        let text = match (self.read)(&full) {
            Ok(t) => t,
            Err(e) => {
                self.cx.err(
                    &fpath,
                    &span,
                    format!("cannot read {}: {e}", full.display()),
                );
                return None;
            }
        };
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers = match rdr.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                self.cx.err(
                    &fpath,
                    &span,
                    format!("{}: not a CSV file: {e}", full.display()),
                );
                return None;
            }
        };
        let col = match &column {
            Some(c) => match headers.iter().position(|h| h == c) {
                Some(i) => i,
                None => {
                    let hint =
                        did_you_mean(c, headers.iter()).map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        &join(path, "column"),
                        &t.t.get("column").map_or(0..0, |v| v.span()),
                        format!(
                            "{} has no column \"{c}\" (columns: {})",
                            full.display(),
                            headers.iter().collect::<Vec<_>>().join(", ")
                        ),
                        hint,
                    );
                    return None;
                }
            },
            None => 0,
        };
        let mut values = Vec::new();
        for (row, rec) in rdr.records().enumerate() {
            let line = row + 2;
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    self.cx.err(
                        &fpath,
                        &span,
                        format!("{} line {line}: {e}", full.display()),
                    );
                    return None;
                }
            };
            let Some(cell) = rec.get(col) else {
                self.cx.err(
                    &fpath,
                    &span,
                    format!("{} line {line}: missing column {}", full.display(), col + 1),
                );
                return None;
            };
            let ns = match cell.parse::<f64>() {
                Ok(x) => x * unit_ns,
                Err(_) => {
                    match parse_duration(cell) {
                        Ok(d) => d.as_nanos() as f64,
                        Err(_) => {
                            self.cx.err(&fpath, &span, format!("{} line {line}: expected a number or a duration, found \"{cell}\"", full.display()));
                            return None;
                        }
                    }
                }
            };
            if !ns.is_finite() || !(0.0..=1e18).contains(&ns) {
                self.cx.err(
                    &fpath,
                    &span,
                    format!(
                        "{} line {line}: expected a non-negative duration, found \"{cell}\"",
                        full.display()
                    ),
                );
                return None;
            }
            values.push(ns);
        }
        if values.is_empty() {
            self.cx.err(
                &fpath,
                &span,
                format!("{} has no data rows", full.display()),
            );
            return None;
        }
        values.sort_by(f64::total_cmp);
        Some(Dist::Empirical { values_ns: values })
    }
}

#[allow(dead_code)]
fn _assert_mark_is_large() {
    const _: () = assert!(SET_MARK > 1 << 40);
}
