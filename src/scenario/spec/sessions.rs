//! `[sessions]` (where session state lives, how long sessions last) and `[[changes]]`
//! (servers added or removed at given times).

use crate::engine::SimTime;
use crate::model::{
    ChangeAction, Dist, MembershipChange, ServerGroupConfig, SessionConfig, SessionState,
};
use crate::scenario::doc::{Tbl, join};
use crate::scenario::error::did_you_mean;

use super::Reader;

impl Reader<'_> {
    /// `[sessions]`: where session state lives and how long sessions last.
    pub(super) fn sessions(&mut self, root: Tbl<'_, '_>) -> Option<SessionConfig> {
        let mut cfg = SessionConfig::default();
        let Some(v) = root.t.get("sessions") else {
            return Some(cfg);
        };
        let t = self.cx.table("sessions", v)?;
        self.cx
            .check_keys(t, &["state", "idle_timeout", "store_latency", "store"]);
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
            // `store` (read with the services) replaces the in-process latency.
            None if cfg.state == SessionState::Shared && t.t.get("store").is_none() => {
                cfg.store_latency = Some(Dist::Constant { ns: 1e6 })
            }
            None => {}
        }
        ok.then_some(cfg)
    }

    /// `[[changes]]`: servers added or removed at given times. Adds allocate spare servers
    /// in their group.
    pub(super) fn changes(
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
}
