//! Each class's call plan: `entry`, `calls`, `parallel`, `wait_for` and
//! `[classes.hops.<service>]`, each call's `to`, `timeout`, `retries`, `retry_on`, `when`
//! and `required`, with the checks that make a call graph runnable: known services, no
//! cycles, servers to call, fan-out sizes, work at every hop, a cache before a call
//! `when = "miss"`.

use toml::de::DeValue;

use crate::model::{
    CallSpec, ClassConfig, Hop, Layer, ServerGroupConfig, ServiceConfig, SessionConfig,
    SessionState,
};
use crate::scenario::doc::{Tbl, V, join};
use crate::scenario::error::did_you_mean;

use super::Reader;

/// Keys of a hop (`[classes.hops.<service>]`; the entry hop's are the class's own).
const HOP_KEYS: &[&str] = &["work", "calls", "parallel", "wait_for"];

impl Reader<'_> {
    /// Each class's entry service and hops; checks the call graph.
    pub(super) fn class_plans(
        &mut self,
        root: Tbl<'_, '_>,
        services: &[ServiceConfig],
        groups: &[ServerGroupConfig],
        edge_layer: Option<Layer>,
        sessions: &SessionConfig,
        classes: &mut [ClassConfig],
    ) -> bool {
        let Some(arr) = root.t.get("classes").and_then(|v| match v.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => None,
        }) else {
            return true;
        };
        let mut ok = true;
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        for (i, e) in arr.iter().enumerate() {
            let DeValue::Table(t) = e.get_ref() else {
                continue;
            };
            let Some(class) = classes.get_mut(i) else {
                continue;
            };
            let path = format!("classes[{i}]");
            if services.is_empty() {
                for k in ["entry", "calls", "parallel", "wait_for", "hops"] {
                    if let Some(kv) = t.get(k) {
                        self.cx.err_hint(
                            &join(&path, k),
                            &kv.span(),
                            format!("`{k}` is about calls between services, and this scenario has no [[services]]"),
                            Some("declare the services with [[services]] entries (name, groups)".into()),
                        );
                        ok = false;
                    }
                }
                continue;
            }
            let tbl = Tbl {
                path: &path,
                t,
                span: (e.span().start, e.span().end),
            };
            let entry = match t.get("entry") {
                None => Some(0),
                Some(v) => self.service_ref(&join(&path, "entry"), v, &names),
            };
            let Some(entry) = entry else {
                ok = false;
                continue;
            };
            let mut hops: Vec<Hop> = vec![Hop::local(None); services.len()];
            match self.hop(&path, tbl, &names, true) {
                Some(h) => hops[entry] = h,
                None => ok = false,
            }
            // A shared session store: the entry hop looks the session up first.
            if let (SessionState::Shared, Some(store)) = (sessions.state, &sessions.store) {
                let h = &mut hops[entry];
                if h.parallel {
                    let span = t.get("parallel").map_or(e.span(), |p| p.span());
                    self.cx.err_hint(&join(&path, "parallel"), &span, format!("class \"{}\" fans out at its entry service, where the session store lookup is the first call in sequence", class.name), Some("move the fan-out into a service the entry calls, or keep the state in a token".into()));
                    ok = false;
                    continue;
                }
                h.calls.insert(0, store.clone());
                h.wait_for = h.calls.len() as u32;
            }
            let mut given = vec![false; services.len()];
            if let Some(hv) = t.get("hops") {
                let hpath = join(&path, "hops");
                if let Some(ht) = self.cx.table(&hpath, hv) {
                    for (k, v) in ht.t.iter() {
                        let kpath = join(&hpath, k.get_ref());
                        let Some(s) = self.service_ref_name(&kpath, &v.span(), k.get_ref(), &names)
                        else {
                            ok = false;
                            continue;
                        };
                        if s == entry {
                            self.cx.err_hint(&kpath, &v.span(), format!("\"{}\" is this class's entry service: its work and calls are the class's own `service`, `calls`, `parallel` and `wait_for`", names[s]), None);
                            ok = false;
                            continue;
                        }
                        let Some(st) = self.cx.table(&kpath, v) else {
                            ok = false;
                            continue;
                        };
                        match self.hop(&kpath, st, &names, false) {
                            Some(h) => {
                                hops[s] = h;
                                given[s] = true;
                            }
                            None => ok = false,
                        }
                    }
                }
            }
            if !ok {
                continue;
            }
            // Every service the class reaches: no cycles, servers to call, work to do.
            let mut reached = vec![false; services.len()];
            let mut stack = vec![entry];
            if let Some(cycle) = find_cycle(entry, &hops, &mut stack, &mut reached) {
                let names: Vec<&str> = cycle.iter().map(|&s| services[s].name.as_str()).collect();
                self.cx.err_hint(
                    &path,
                    &e.span(),
                    format!(
                        "class \"{}\" calls in a cycle: {}",
                        class.name,
                        names.join(" → ")
                    ),
                    Some(
                        "a request would call itself forever; break the cycle in its calls".into(),
                    ),
                );
                ok = false;
                continue;
            }
            for s in 0..services.len() {
                let svc = &services[s];
                // Servers that take traffic: weight-0 groups take none.
                let servers: u32 = svc
                    .groups
                    .iter()
                    .filter(|&&g| groups[g].weight > 0)
                    .map(|&g| groups[g].count)
                    .sum();
                if reached[s] && servers == 0 {
                    self.cx.err_hint(
                        &path,
                        &e.span(),
                        format!(
                            "class \"{}\" calls service \"{}\", which has no servers to take it",
                            class.name, svc.name
                        ),
                        Some("its groups all have weight 0".into()),
                    );
                    ok = false;
                }
                if reached[s] && s != entry && hops[s].work.is_none() {
                    match &svc.work {
                        Some(w) => hops[s].work = Some(w.clone()),
                        None => {
                            self.cx.err_hint(&path, &e.span(), format!("class \"{}\" calls service \"{}\" but no work is given for it there", class.name, svc.name), Some(format!("give `work` in [classes.hops.{}] or a default `work` in the service's [[services]] entry", svc.name)));
                            ok = false;
                        }
                    }
                }
                if given[s] && !reached[s] {
                    self.cx.err(
                        &join(&join(&path, "hops"), &svc.name),
                        &e.span(),
                        format!(
                            "class \"{}\" never calls \"{}\": this hop would be ignored",
                            class.name, svc.name
                        ),
                    );
                    ok = false;
                }
            }
            // A call `when = "miss"` needs a miss to follow: keys, and a cache on the
            // servers of the call before it.
            let stored = usize::from(matches!(
                (sessions.state, &sessions.store),
                (SessionState::Shared, Some(_))
            ));
            for (s, hop) in hops.iter().enumerate() {
                for k in 1..hop.calls.len() {
                    if !hop.calls[k].when_miss {
                        continue;
                    }
                    let prev = &services[hop.calls[k - 1].to];
                    let cached = prev.groups.iter().any(|&g| groups[g].cache.is_some());
                    let problem = if class.keys.is_none() {
                        Some((
                            format!(
                                "class \"{}\" has no `keys`: a cache never holds its requests, so nothing can hit or miss",
                                class.name
                            ),
                            "give the class keys, like keys = { count = 100000, zipf = 0.9 }"
                                .to_string(),
                        ))
                    } else if !cached {
                        Some((
                            format!(
                                "the call before it goes to \"{}\", whose servers keep no cache",
                                prev.name
                            ),
                            format!(
                                "give a group of \"{}\" a `cache`, or call the cache first",
                                prev.name
                            ),
                        ))
                    } else {
                        None
                    };
                    if let Some((msg, hint)) = problem {
                        let (hpath, ht) = if s == entry {
                            (path.clone(), Some(t))
                        } else {
                            let hp = join(&join(&path, "hops"), &services[s].name);
                            let ht = t.get("hops").and_then(|h| sub_table(h, &services[s].name));
                            (hp, ht)
                        };
                        let k_file = if s == entry { k - stored } else { k };
                        let span = ht
                            .and_then(|ht| call_key_span(ht, k_file, "when"))
                            .unwrap_or(e.span());
                        self.cx.err_hint(
                            &format!("{hpath}.calls[{k_file}].when"),
                            &span,
                            msg,
                            Some(hint),
                        );
                        ok = false;
                    }
                }
            }
            class.entry = entry;
            class.hops = hops;
        }
        if services.is_empty() {
            return ok;
        }
        // A service that nothing calls has no internal tier: its `lb` and `health` would be
        // ignored (clients reach it through [lb], checked by [health]).
        if ok {
            let svcs = root.t.get("services").and_then(|v| match v.get_ref() {
                DeValue::Array(a) => Some(a),
                _ => None,
            });
            for (s, svc) in services.iter().enumerate() {
                // The session store's tier is configured for when the state is shared.
                if crate::model::services::is_called(classes, s)
                    || sessions.store.as_ref().is_some_and(|c| c.to == s)
                {
                    continue;
                }
                let Some(DeValue::Table(t)) = svcs.and_then(|a| a.get(s)).map(|v| v.get_ref())
                else {
                    continue;
                };
                for key in ["lb", "health", "traffic_policy"] {
                    if let Some(kv) = t.get(key) {
                        let edge = match key {
                            "lb" => "[lb]",
                            "health" => "[health]",
                            _ => "[lb] (the edge tier balances over every server)",
                        };
                        self.cx.err_hint(
                            &format!("services[{s}].{key}"),
                            &kv.span(),
                            format!("no class calls service \"{}\", so it has no internal tier for this `{key}` to configure", svc.name),
                            Some(format!("clients reach it through the edge tier: set this in {edge}")),
                        );
                        ok = false;
                    }
                }
            }
            // A class's `pool` is a group of its entry service.
            for (i, c) in classes.iter().enumerate() {
                if let Some(g) = c.pool
                    && !services[c.entry].groups.contains(&g)
                {
                    let span = arr
                        .get(i)
                        .and_then(|e| match e.get_ref() {
                            DeValue::Table(t) => t.get("pool").map(|v| v.span()),
                            _ => None,
                        })
                        .unwrap_or(0..0);
                    self.cx.err_hint(
                        &format!("classes[{i}].pool"),
                        &span,
                        format!(
                            "server group \"{}\" is not one of service \"{}\"'s groups, and class \"{}\" enters \"{}\"",
                            groups[g].name, services[c.entry].name, c.name, services[c.entry].name
                        ),
                        Some(format!("name a group of \"{}\" ({}), or set `entry`", services[c.entry].name, services[c.entry].groups.iter().map(|&g| groups[g].name.as_str()).collect::<Vec<_>>().join(", "))),
                    );
                    ok = false;
                }
            }
        }
        // An L4 edge sees connections, not requests: it cannot send classes to different
        // services by path.
        if ok && edge_layer == Some(Layer::L4) {
            let first = classes.first().map_or(0, |c| c.entry);
            if let Some((i, c)) = classes.iter().enumerate().find(|(_, c)| c.entry != first) {
                let span = arr.get(i).map_or(0..0, |e| e.span());
                self.cx.err_hint(&format!("classes[{i}].entry"), &span, format!("class \"{}\" enters service \"{}\" but another class enters \"{}\": a layer-4 edge tier ([lb] layer = \"l4\") cannot route by path", c.name, services[c.entry].name, services[first].name), Some("use layer = \"l7\", or one entry service for every class".into()));
                ok = false;
            }
        }
        ok
    }

    /// A hop's keys: `work`, `calls`, `parallel`, `wait_for` (for the entry hop, read from
    /// the class's own table, where `work` is the class's `service`).
    fn hop(&mut self, path: &str, t: Tbl<'_, '_>, names: &[&str], entry: bool) -> Option<Hop> {
        if !entry {
            self.cx.check_keys(t, HOP_KEYS);
        }
        let mut ok = true;
        let work = match (entry, t.t.get("work")) {
            (false, Some(v)) => {
                let w = self.dist(&join(path, "work"), v);
                ok &= w.is_some();
                w
            }
            _ => None,
        };
        let mut calls = Vec::new();
        let cpath = join(path, "calls");
        if let Some(v) = t.t.get("calls")
            && let Some(arr) = self.cx.array(&cpath, v)
        {
            for (k, e) in arr.iter().enumerate() {
                let p = format!("{cpath}[{k}]");
                match self.call(&p, e, names) {
                    Some(c) => calls.push(c),
                    None => ok = false,
                }
            }
        }
        let parallel = match t.t.get("parallel") {
            Some(v) => self
                .cx
                .boolean(&join(path, "parallel"), v)
                .unwrap_or_else(|| {
                    ok = false;
                    false
                }),
            None => false,
        };
        // `when` and `required` are about calls in sequence.
        let call_key = |k: usize, key: &str| call_key_span(t.t, k, key);
        for (k, c) in calls.iter().enumerate() {
            let kpath = format!("{cpath}[{k}]");
            if parallel && (c.when_miss || !c.required) {
                let key = if c.when_miss { "when" } else { "required" };
                let span = call_key(k, key).unwrap_or(0..0);
                self.cx.err_hint(&join(&kpath, key), &span, format!("`{key}` is for calls made in sequence, and this hop's calls go out in parallel"), Some("in a fan-out, `wait_for` says how many calls must succeed".into()));
                ok = false;
            } else if c.when_miss && k == 0 {
                let span = call_key(k, "when").unwrap_or(0..0);
                self.cx.err_hint(&join(&kpath, "when"), &span, "`when = \"miss\"` follows the call before it, and this is the hop's first call", Some("put the call to the cache first: calls = [\"cache\", { to = \"db\", when = \"miss\" }]".into()));
                ok = false;
            }
        }
        let mut wait_for = calls.len() as u32;
        if let Some(v) = t.t.get("wait_for") {
            let wpath = join(path, "wait_for");
            if !parallel {
                self.cx.err_hint(
                    &wpath,
                    &v.span(),
                    "`wait_for` is for calls made in parallel",
                    Some("add parallel = true (a fan-out), or remove wait_for".into()),
                );
                ok = false;
            } else if let Some(k) = self.cx.int(&wpath, v, 1, 1_000) {
                if k as usize > calls.len() {
                    self.cx.err(&wpath, &v.span(), format!("expected at most the number of calls ({}), found {k}: the hop could never go on", calls.len()));
                    ok = false;
                } else {
                    wait_for = k as u32;
                }
            } else {
                ok = false;
            }
        }
        ok.then_some(Hop {
            work,
            calls,
            parallel,
            wait_for,
        })
    }

    /// One call: `"name"` or `{ to = "name", timeout = "200ms", retries = 1,
    /// retry_on = ["refused", "timeout", "5xx"] }`.
    pub(super) fn call(&mut self, path: &str, v: &V<'_>, names: &[&str]) -> Option<CallSpec> {
        if let DeValue::String(_) = v.get_ref() {
            let to = self.service_ref(path, v, names)?;
            return Some(CallSpec {
                to,
                timeout: None,
                retries: 0,
                retry_on: [true; 3],
                when_miss: false,
                required: true,
            });
        }
        let t = self.cx.table(path, v)?;
        self.cx.check_keys(
            t,
            &["to", "timeout", "retries", "retry_on", "when", "required"],
        );
        let to = self
            .cx
            .require(t, "to", "the service called, like to = \"db\"")
            .and_then(|tv| self.service_ref(&join(path, "to"), tv, names));
        let timeout = match t.t.get("timeout") {
            Some(tv) => self.positive_duration(&join(path, "timeout"), tv).map(Some),
            None => Some(None),
        };
        let retries = match t.t.get("retries") {
            Some(rv) => self
                .cx
                .int(&join(path, "retries"), rv, 0, 10)
                .map(|r| r as u32),
            None => Some(0),
        };
        let retry_on = match t.t.get("retry_on") {
            Some(rv) => self.retry_on(&join(path, "retry_on"), rv),
            None => Some([true; 3]),
        };
        let when_miss = match t.t.get("when") {
            Some(wv) => self
                .cx
                .one_of(&join(path, "when"), wv, &["miss", "always"])
                .map(|w| w == "miss"),
            None => Some(false),
        };
        let required = match t.t.get("required") {
            Some(rv) => self.cx.boolean(&join(path, "required"), rv),
            None => Some(true),
        };
        Some(CallSpec {
            to: to?,
            timeout: timeout?,
            retries: retries?,
            retry_on: retry_on?,
            when_miss: when_miss?,
            required: required?,
        })
    }

    fn service_ref(&mut self, path: &str, v: &V<'_>, names: &[&str]) -> Option<usize> {
        let name = self.cx.string(path, v)?;
        self.service_ref_name(path, &v.span(), &name, names)
    }

    fn service_ref_name(
        &mut self,
        path: &str,
        span: &std::ops::Range<usize>,
        name: &str,
        names: &[&str],
    ) -> Option<usize> {
        if let Some(s) = names.iter().position(|n| *n == name) {
            return Some(s);
        }
        let hint = match did_you_mean(name, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("services: {}", names.join(", ")),
        };
        self.cx.err_hint(
            path,
            span,
            format!("no service named \"{name}\""),
            Some(hint),
        );
        None
    }
}

/// Table `key` of the table value `v`, if both are tables.
fn sub_table<'a, 'i>(v: &'a V<'i>, key: &str) -> Option<&'a toml::de::DeTable<'i>> {
    match v.get_ref() {
        DeValue::Table(t) => t.get(key).and_then(|v| match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// Where key `key` of call `k` of a hop's table is written.
fn call_key_span(
    hop: &toml::de::DeTable<'_>,
    k: usize,
    key: &str,
) -> Option<std::ops::Range<usize>> {
    hop.get("calls")
        .and_then(|v| match v.get_ref() {
            DeValue::Array(a) => a.get(k),
            _ => None,
        })
        .and_then(|c| match c.get_ref() {
            DeValue::Table(ct) => ct.get(key).map(|v| v.span()),
            _ => None,
        })
}

/// Depth-first walk of the calls from `stack`'s last service; marks what it reaches and
/// returns the first cycle found (its services, the first repeated at the end).
fn find_cycle(
    at: usize,
    hops: &[Hop],
    stack: &mut Vec<usize>,
    reached: &mut [bool],
) -> Option<Vec<usize>> {
    reached[at] = true;
    for call in &hops[at].calls {
        if let Some(p) = stack.iter().position(|&s| s == call.to) {
            let mut cycle = stack[p..].to_vec();
            cycle.push(call.to);
            return Some(cycle);
        }
        stack.push(call.to);
        let found = find_cycle(call.to, hops, stack, reached);
        stack.pop();
        if found.is_some() {
            return found;
        }
    }
    None
}
