//! `[clients]` (`rate`, `schedule`, `users`, `population` with its `ip_model`) and
//! `[[classes]]` (shares, service times, `keys`, pools, `reconnect`).

use toml::de::DeValue;

use crate::engine::SimTime;
use crate::model::{
    ClassConfig, ClientsConfig, Dist, IpModel, KeySpace, Load, PopulationConfig, RatePoint,
    RateSchedule, Reconnect,
};
use crate::scenario::doc::{Cx, Tbl, V, join};
use crate::scenario::error::did_you_mean;

use super::{Reader, span_of};

impl Reader<'_> {
    pub(super) fn clients(&mut self, root: Tbl<'_, '_>) -> Option<ClientsConfig> {
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

    pub(super) fn schedule(&mut self, v: &V<'_>) -> Option<RateSchedule> {
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

    pub(super) fn classes(&mut self, root: Tbl<'_, '_>) -> Option<Vec<ClassConfig>> {
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
                &[
                    "name",
                    "share",
                    "service",
                    "pool",
                    "keys",
                    "hit_service",
                    "entry",
                    "calls",
                    "parallel",
                    "wait_for",
                    "hops",
                    "reconnect",
                ],
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
            let reconnect = match t.t.get("reconnect") {
                Some(v) => self.reconnect(&join(&path, "reconnect"), v).map(Some),
                None => Some(None),
            };
            match (name, share, service, pool, keys, hit_service, reconnect) {
                (
                    Some((name, _)),
                    Some(share),
                    Some(service),
                    Some(pool),
                    Some(keys),
                    Some(hit_service),
                    Some(reconnect),
                ) => out.push(ClassConfig {
                    name,
                    share,
                    service,
                    pool,
                    keys,
                    hit_service,
                    entry: 0,
                    hops: Vec::new(),
                    reconnect,
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

    /// `[clients.population]`: who the clients are.
    pub(super) fn population(
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

    pub(super) fn ip_model(&mut self, v: &V<'_>) -> Option<IpModel> {
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
    pub(super) fn key_space(&mut self, path: &str, v: &V<'_>) -> Option<KeySpace> {
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
}

impl Reader<'_> {
    /// A class's `reconnect`: `"immediate"`, `"backoff"` (gRPC's defaults) or a table
    /// `{ initial, multiplier, jitter, max }`.
    pub(super) fn reconnect(&mut self, path: &str, v: &V<'_>) -> Option<Reconnect> {
        if let DeValue::String(s) = v.get_ref() {
            return match s.as_ref() {
                "immediate" => Some(Reconnect::IMMEDIATE),
                "backoff" => Some(Reconnect::GRPC),
                other => {
                    let hint = did_you_mean(other, ["immediate", "backoff"])
                        .map(|s| format!("did you mean `{s}`?"));
                    self.cx.err_hint(
                        path,
                        &v.span(),
                        format!("expected \"immediate\", \"backoff\" or a table {{ initial, multiplier, jitter, max }}, found \"{other}\""),
                        hint,
                    );
                    None
                }
            };
        }
        let t = self.cx.table(path, v)?;
        self.cx
            .check_keys(t, &["initial", "multiplier", "jitter", "max"]);
        let mut r = Reconnect::GRPC;
        let mut ok = true;
        if let Some(x) = t.t.get("initial") {
            match self.positive_duration(&join(path, "initial"), x) {
                Some(d) => r.initial = d,
                None => ok = false,
            }
        }
        if let Some(x) = t.t.get("multiplier") {
            match self
                .cx
                .number(&join(path, "multiplier"), x, "a factor from 1 to 10", |m| {
                    (1.0..=10.0).contains(&m)
                }) {
                Some(m) => r.multiplier = m,
                None => ok = false,
            }
        }
        if let Some(x) = t.t.get("jitter") {
            match self
                .cx
                .number(&join(path, "jitter"), x, "a fraction from 0 to 1", |j| {
                    (0.0..=1.0).contains(&j)
                }) {
                Some(j) => r.jitter = j,
                None => ok = false,
            }
        }
        if let Some(x) = t.t.get("max") {
            match self.positive_duration(&join(path, "max"), x) {
                Some(d) => r.max = d,
                None => ok = false,
            }
        }
        if ok && r.max < r.initial {
            let span = t.t.get("max").map_or(v.span(), |m| m.span());
            self.cx.err(
                &join(path, "max"),
                &span,
                format!(
                    "expected at least `initial` ({:.3} s): the delay never shrinks",
                    r.initial.as_secs_f64()
                ),
            );
            ok = false;
        }
        ok.then_some(r)
    }
}
