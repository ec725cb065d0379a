//! `[[services]]` (`name`, `groups`, `balancer`, `lb`, `health`, `work`, `traffic_policy`)
//! and `sessions.store`. Each class's call plan is read in `calls.rs`.

use toml::de::DeValue;

use crate::balancer::AlgorithmSpec;
use crate::model::{
    HealthConfig, LbConfig, ServerGroupConfig, ServiceConfig, SessionConfig, Topology,
};
use crate::scenario::doc::{Tbl, join};

use super::Reader;
use super::lb::{EDGE_ONLY_LB_KEYS, LB_KEYS};

/// Keys of a service's `lb` table: `[lb]`'s, less the edge tier's own.
fn service_lb_keys() -> Vec<&'static str> {
    LB_KEYS
        .iter()
        .copied()
        .filter(|k| !EDGE_ONLY_LB_KEYS.contains(k))
        .collect()
}

impl Reader<'_> {
    /// Runs `read` and prefixes the key path of every problem it records with `prefix`
    /// (a section reader reused on a service's own table reports `services[1].lb.nodes`).
    fn under<T>(&mut self, prefix: &str, read: impl FnOnce(&mut Self) -> T) -> T {
        let before = self.cx.problems.len();
        let out = read(self);
        for p in &mut self.cx.problems[before..] {
            p.path = join(prefix, &p.path);
        }
        out
    }

    /// `[[services]]`; empty when the scenario has none.
    pub(super) fn services(
        &mut self,
        root: Tbl<'_, '_>,
        groups: &[ServerGroupConfig],
        algorithm: Option<&AlgorithmSpec>,
        health: Option<&HealthConfig>,
    ) -> Option<Vec<ServiceConfig>> {
        let Some(v) = root.t.get("services") else {
            return Some(Vec::new());
        };
        let arr = self.cx.array("services", v)?;
        if arr.is_empty() {
            self.cx.err(
                "services",
                &v.span(),
                "expected at least one [[services]] entry (or none at all: one service)",
            );
            return None;
        }
        let mut ok = true;
        let mut out = Vec::new();
        let mut names: Vec<String> = Vec::new();
        // Which service each group joined, to report a group in two or in none.
        let mut owner: Vec<Option<usize>> = vec![None; self.group_names.len()];
        for (i, e) in arr.iter().enumerate() {
            let path = format!("services[{i}]");
            let Some(t) = self.cx.table(&path, e) else {
                ok = false;
                continue;
            };
            self.cx.check_keys(
                t,
                &[
                    "name",
                    "groups",
                    "balancer",
                    "lb",
                    "health",
                    "work",
                    "traffic_policy",
                ],
            );
            let name = self
                .cx
                .require(t, "name", "the service's name, like \"app\"")
                .and_then(|nv| {
                    let n = self.cx.string(&join(&path, "name"), nv)?;
                    let valid = !n.is_empty()
                        && n.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                    if !valid {
                        self.cx.err(&join(&path, "name"), &nv.span(), format!("expected a name of letters, digits, '-', '_' or '.' (it names output rows), found \"{n}\""));
                        return None;
                    }
                    if names.contains(&n) {
                        self.cx.err(
                            &join(&path, "name"),
                            &nv.span(),
                            format!("duplicate service name \"{n}\""),
                        );
                        return None;
                    }
                    names.push(n.clone());
                    Some(n)
                });
            let Some(name) = name else {
                ok = false;
                continue;
            };
            let my_groups = self.service_groups(&path, t, &name, i, &mut owner);
            let n_servers: usize = my_groups
                .iter()
                .flatten()
                .map(|&g| groups.get(g).map_or(0, |g| g.count as usize))
                .sum();
            let algorithm = if t.t.contains_key("balancer") {
                self.under(&path, |r| r.balancer(t, n_servers))
            } else {
                algorithm.cloned()
            };
            let lb = self.service_lb(&path, t);
            let own_health = t.t.contains_key("health");
            let health = if own_health {
                self.under(&path, |r| r.health(t))
            } else {
                // [health] is the default, but not its deep checks: a handler's `depends`
                // is the code of the service whose table declares it.
                health.cloned().map(|mut h| {
                    if let Some(a) = h.active.as_mut() {
                        a.depends.clear();
                    }
                    if let Some(l) = h.liveness.as_mut() {
                        l.depends.clear();
                    }
                    h
                })
            };
            let work = match t.t.get("work") {
                Some(wv) => self.dist(&join(&path, "work"), wv).map(Some),
                None => Some(None),
            };
            let local = match t.t.get("traffic_policy") {
                None => Some(false),
                Some(v) => {
                    match self
                        .cx
                        .one_of(&join(&path, "traffic_policy"), v, &["cluster", "local"])
                    {
                        Some("local") => {
                            // Local needs servers that share hosts with their callers.
                            let placed = my_groups.as_ref().is_some_and(|gs| {
                                gs.iter()
                                    .all(|&g| groups.get(g).is_some_and(|g| g.on.is_some()))
                            });
                            if !placed {
                                self.cx.err_hint(&join(&path, "traffic_policy"), &v.span(), format!("traffic_policy = \"local\" sends calls only to servers on the caller's host, and service \"{name}\"'s servers run on no other servers' hosts"), Some("place its groups with `on` in [[servers]] (pods on nodes)".into()));
                                None
                            } else {
                                Some(true)
                            }
                        }
                        Some(_) => Some(false),
                        None => None,
                    }
                }
            };
            match (my_groups, algorithm, lb, health, work, local) {
                (
                    Some(groups),
                    Some(algorithm),
                    Some(lb),
                    Some(health),
                    Some(work),
                    Some(local),
                ) => out.push(ServiceConfig {
                    name,
                    groups,
                    own_algorithm: t.t.contains_key("balancer"),
                    own_health,
                    local,
                    algorithm,
                    lb,
                    health,
                    work,
                }),
                _ => ok = false,
            }
        }
        if ok {
            for (g, o) in owner.iter().enumerate() {
                if o.is_none() {
                    let gname = &self.group_names[g].0;
                    self.cx.err_hint(
                        "services",
                        &v.span(),
                        format!("server group \"{gname}\" belongs to no service"),
                        Some(format!("name it in the `groups` of the [[services]] entry it serves, like groups = [\"{gname}\"]")),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// A service's `groups` (default: the group named like the service).
    fn service_groups(
        &mut self,
        path: &str,
        t: Tbl<'_, '_>,
        name: &str,
        index: usize,
        owner: &mut [Option<usize>],
    ) -> Option<Vec<usize>> {
        let gpath = join(path, "groups");
        let mut found = Vec::new();
        match t.t.get("groups") {
            None => match self.group_of(name) {
                Some(g) => found.push((g, t.span.0..t.span.1)),
                None => {
                    self.cx.err_hint(
                        path,
                        &(t.span.0..t.span.1),
                        format!("service \"{name}\" has no `groups` and no server group is named \"{name}\""),
                        Some("add groups = [\"...\"] naming the [[servers]] groups that serve it".into()),
                    );
                    return None;
                }
            },
            Some(gv) => {
                let arr = self.cx.array(&gpath, gv)?;
                if arr.is_empty() {
                    self.cx
                        .err(&gpath, &gv.span(), "expected at least one server group");
                    return None;
                }
                for (k, e) in arr.iter().enumerate() {
                    let p = format!("{gpath}[{k}]");
                    let s = self.cx.string(&p, e)?;
                    let g = self.group_ref_any(&p, &e.span(), &s)?;
                    found.push((g, e.span()));
                }
            }
        }
        let mut out = Vec::new();
        for (g, span) in found {
            match owner[g] {
                Some(o) if o != index => {
                    self.cx.err(
                        &gpath,
                        &span,
                        format!(
                            "server group \"{}\" already serves another service (services[{o}]): a group serves one service",
                            self.group_names[g].0
                        ),
                    );
                    return None;
                }
                _ => owner[g] = Some(index),
            }
            if !out.contains(&g) {
                out.push(g);
            }
        }
        Some(out)
    }

    /// A group by name, whatever its weight (a service may own a weight-0 group).
    fn group_ref_any(
        &mut self,
        path: &str,
        span: &std::ops::Range<usize>,
        name: &str,
    ) -> Option<usize> {
        if let Some(g) = self.group_of(name) {
            return Some(g);
        }
        self.group_ref(path, span, name)
    }

    /// A service's `lb` table: `[lb]`'s reader on the service's table, minus what only the
    /// edge tier has.
    fn service_lb(&mut self, path: &str, t: Tbl<'_, '_>) -> Option<LbConfig> {
        let Some(v) = t.t.get("lb") else {
            return Some(LbConfig::default());
        };
        if let DeValue::Table(lt) = v.get_ref() {
            for (k, kv) in lt.iter() {
                if EDGE_ONLY_LB_KEYS.contains(&k.get_ref().as_ref()) {
                    self.cx.err_hint(
                        &format!("{path}.lb.{}", k.get_ref()),
                        &kv.span(),
                        format!(
                            "a service's internal tier has no `{}`: HA topologies and the CPU model belong to the edge tier, [lb]",
                            k.get_ref()
                        ),
                        Some(format!("keys here: {}", service_lb_keys().join(", "))),
                    );
                    return None;
                }
            }
        }
        let lb = self.under(path, |r| r.lb(t))?;
        debug_assert!(matches!(lb.topology, Topology::Single) && lb.cpu.is_none());
        Some(lb)
    }

    /// `sessions.store`: the shared session store as a service, `"redis"` or
    /// `{ to = "redis", timeout = "50ms", retries = 1 }`. Read whatever the state (so
    /// `--set sessions.state=token` keeps the file valid); used only by a shared store.
    pub(super) fn session_store(
        &mut self,
        root: Tbl<'_, '_>,
        services: &[ServiceConfig],
        sessions: &mut SessionConfig,
    ) -> bool {
        let Some(DeValue::Table(t)) = root.t.get("sessions").map(|v| v.get_ref()) else {
            return true;
        };
        let Some(v) = t.get("store") else {
            return true;
        };
        if services.is_empty() {
            self.cx.err_hint(
                "sessions.store",
                &v.span(),
                "the session store is a service, and this scenario has no [[services]]",
                Some("declare it with a [[services]] entry (name, groups), or model the store's round trip in process with `store_latency`".into()),
            );
            return false;
        }
        if let Some(l) = t.get("store_latency") {
            self.cx.err_hint(
                "sessions.store_latency",
                &l.span(),
                "`store_latency` models the store in process, and `store` names it as a service: give one",
                Some("with `store`, the store's latency is its service's work and queueing".into()),
            );
            return false;
        }
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        match self.call("sessions.store", v, &names) {
            Some(c) if c.when_miss => {
                let span = match v.get_ref() {
                    DeValue::Table(st) => st.get("when").map(|w| w.span()),
                    _ => None,
                }
                .unwrap_or(v.span());
                self.cx.err_hint(
                    "sessions.store.when",
                    &span,
                    "the session lookup is the entry hop's first call: there is no call before it to miss",
                    Some("remove `when`".into()),
                );
                false
            }
            Some(c) => {
                sessions.store = Some(c);
                true
            }
            None => false,
        }
    }
}
