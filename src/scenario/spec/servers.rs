//! `[[servers]]`: server groups (`name`, `count`, `slots`, `queue`, `speed`, `weight`, …) and
//! references to them by name.

use crate::model::ServerGroupConfig;
use crate::scenario::doc::{Cx, Tbl, join};
use crate::scenario::error::did_you_mean;

use super::{DEFAULT_QUEUE, Reader};

impl Reader<'_> {
    /// The first server group named `name`, if any (index into `groups`).
    pub(super) fn group_of(&self, name: &str) -> Option<usize> {
        self.group_index.get(name).copied()
    }

    /// Resolves a reference to a server group by name (index into `groups`).
    pub(super) fn group_ref(
        &mut self,
        path: &str,
        span: &std::ops::Range<usize>,
        name: &str,
    ) -> Option<usize> {
        if let Some(g) = self.group_of(name) {
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

    pub(super) fn servers(&mut self, root: Tbl<'_, '_>) -> Option<Vec<ServerGroupConfig>> {
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
                    "on",
                    "backup",
                    "priority",
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
                        } else if self.group_of(n).is_some() {
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
                    if self.group_of(&n).is_some() {
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
            let priority = match (t.t.get("backup"), t.t.get("priority")) {
                (Some(b), Some(_)) => {
                    self.cx.err(
                        &join(&path, "backup"),
                        &b.span(),
                        "expected backup or priority, not both (backup = true is priority 1)",
                    );
                    None
                }
                (Some(b), None) => self.cx.boolean(&join(&path, "backup"), b).map(u8::from),
                (None, Some(p)) => self
                    .cx
                    .int(&join(&path, "priority"), p, 0, 127)
                    .map(|p| p as u8),
                (None, None) => Some(0),
            };
            let gname = name.clone().unwrap_or_default();
            self.group_index
                .entry(gname.clone())
                .or_insert(self.group_names.len());
            self.group_names.push((gname, weight.map(|w| w as u32)));
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
                priority,
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
                    Some(priority),
                ) => out.push(ServerGroupConfig {
                    priority,
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
                    on: None,
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
        if ok && !self.placements(arr, &mut out) {
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

    /// Each group's `on`: a group name (its servers are spread over that group's servers
    /// in turn) or one server name per server (`["node-1", "node-1", "node-2"]`).
    fn placements(
        &mut self,
        arr: &toml::de::DeArray<'_>,
        groups: &mut [ServerGroupConfig],
    ) -> bool {
        use crate::model::Placement;
        use toml::de::DeValue;
        let mut ok = true;
        for (i, e) in arr.iter().enumerate() {
            let DeValue::Table(t) = e.get_ref() else {
                continue;
            };
            let Some(v) = t.get("on") else { continue };
            let path = format!("servers[{i}].on");
            let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
            let group_of = |cx: &mut Cx,
                            p: &str,
                            span: &std::ops::Range<usize>,
                            name: &str|
             -> Option<usize> {
                if let Some(g) = names.iter().position(|n| n == name) {
                    return Some(g);
                }
                let hint = did_you_mean(name, names.iter().map(|s| s.as_str()))
                    .map(|s| format!("did you mean `{s}`?"));
                cx.err_hint(p, span, format!("no server group named \"{name}\""), hint);
                None
            };
            let placement = match v.get_ref() {
                DeValue::String(name) => {
                    group_of(&mut self.cx, &path, &v.span(), name).map(Placement::Spread)
                }
                DeValue::Array(list) => {
                    let mut hosts = Vec::new();
                    let mut good = true;
                    for (k, h) in list.iter().enumerate() {
                        let p = format!("{path}[{k}]");
                        let Some(name) = self.cx.string(&p, h) else {
                            good = false;
                            continue;
                        };
                        // `<group>-<i>`, i from 1 to the group's count.
                        let found = name.rsplit_once('-').and_then(|(g, n)| {
                            let g = names.iter().position(|x| x == g)?;
                            let n: u32 = n.parse().ok()?;
                            (n >= 1 && n <= groups[g].count).then(|| (g, n - 1))
                        });
                        match found {
                            Some(x) => hosts.push(x),
                            None => {
                                self.cx.err_hint(&p, &h.span(), format!("no server named \"{name}\""), Some("name a server as <group>-<i>, i from 1 to the group's count".into()));
                                good = false;
                            }
                        }
                    }
                    if list.len() != groups[i].count as usize {
                        self.cx.err(
                            &path,
                            &v.span(),
                            format!(
                                "expected one host per server: {} servers, {} hosts",
                                groups[i].count,
                                list.len()
                            ),
                        );
                        good = false;
                    }
                    good.then_some(Placement::List(hosts))
                }
                _ => {
                    self.cx.err(&path, &v.span(), "expected a server group's name (its servers host this group's in turn) or a list of server names, one per server");
                    None
                }
            };
            let Some(placement) = placement else {
                ok = false;
                continue;
            };
            let host_groups: Vec<usize> = match &placement {
                Placement::Spread(g) => vec![*g],
                Placement::List(l) => l.iter().map(|(g, _)| *g).collect(),
            };
            for g in host_groups {
                if g == i {
                    self.cx.err(
                        &path,
                        &v.span(),
                        "a group's servers cannot run on its own servers",
                    );
                    ok = false;
                    break;
                }
                if arr.get(g).is_some_and(
                    |h| matches!(h.get_ref(), DeValue::Table(ht) if ht.contains_key("on")),
                ) {
                    self.cx.err_hint(
                        &path,
                        &v.span(),
                        format!(
                            "group \"{}\" runs `on` another group itself",
                            groups[g].name
                        ),
                        Some("hosts are one level: pods on nodes".into()),
                    );
                    ok = false;
                    break;
                }
                if groups[g].count == 0 {
                    self.cx.err(
                        &path,
                        &v.span(),
                        format!(
                            "group \"{}\" has no servers to host this group's",
                            groups[g].name
                        ),
                    );
                    ok = false;
                    break;
                }
            }
            if ok && let Some(g) = groups.get_mut(i) {
                g.on = Some(placement);
            }
        }
        ok
    }
}
