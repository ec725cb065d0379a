//! Backup servers and priority levels: the groups' `backup` / `priority` and `[lb]`'s
//! `priority_rule`, `allbackups` and `overprovisioning_factor`, checked together once the servers, the balancer and `[lb]` are read.
//!
//! The rule (nginx, HAProxy or Envoy: see `balancer::priority`) is the `[lb]`'s, not the
//! algorithm's, so every variant of a comparison uses the same one. Unless the scenario
//! names it, it follows the system the `[balancer]` algorithm comes from.

use toml::de::DeValue;

use crate::balancer::AlgorithmSpec;
use crate::balancer::priority::PriorityRule;
use crate::model::WorldConfig;
use crate::scenario::doc::{Tbl, join};

use super::Reader;

/// nginx refuses `backup` with these methods (`hash`, `ip_hash`; its `random` is not in
/// the catalogue under that name).
const NGINX_NO_BACKUP: &[&str] = &["ip-hash", "ip-hash-full", "hash", "ketama"];

/// The system an algorithm follows, if it is nginx, HAProxy or Envoy.
fn system_of(alg: &AlgorithmSpec) -> Option<PriorityRule> {
    let source = alg.info().source.to_ascii_lowercase();
    if source.starts_with("nginx") {
        Some(PriorityRule::Nginx)
    } else if source.starts_with("haproxy") {
        Some(PriorityRule::Haproxy { all_backups: false })
    } else if source.starts_with("envoy") {
        Some(PriorityRule::ENVOY)
    } else {
        None
    }
}

impl Reader<'_> {
    /// Resolves `w.lb.priority`; false if something is wrong (reported).
    pub(super) fn priorities(
        &mut self,
        root: Tbl<'_, '_>,
        w: &mut WorldConfig,
        compare: &[AlgorithmSpec],
    ) -> bool {
        let lb = root.t.get("lb").and_then(|v| match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        });
        let key = |k: &str| lb.and_then(|t| t.get(k));
        let group_key = |i: usize| {
            root.t
                .get("servers")
                .and_then(|v| match v.get_ref() {
                    DeValue::Array(a) => a.get(i),
                    _ => None,
                })
                .and_then(|e| match e.get_ref() {
                    DeValue::Table(t) => t
                        .get("backup")
                        .map(|v| ("backup", v.span()))
                        .or_else(|| t.get("priority").map(|v| ("priority", v.span()))),
                    _ => None,
                })
                .map(|(k, s)| (join(&format!("servers[{i}]"), k), s))
                .unwrap_or_else(|| (format!("servers[{i}]"), 0..0))
        };
        let mut ok = true;
        let named = match key("priority_rule") {
            Some(v) => match self
                .cx
                .one_of("lb.priority_rule", v, &["nginx", "haproxy", "envoy"])
            {
                Some("nginx") => Some(PriorityRule::Nginx),
                Some("haproxy") => Some(PriorityRule::Haproxy { all_backups: false }),
                Some(_) => Some(PriorityRule::ENVOY),
                None => return false,
            },
            None => None,
        };
        let all_backups = key("allbackups").map(|v| (self.cx.boolean("lb.allbackups", v), v));
        let of = key("overprovisioning_factor")
            .map(|v| (self.cx.int("lb.overprovisioning_factor", v, 1, 10_000), v));
        let first_level = w.groups.iter().position(|g| g.priority > 0);
        let any_key = all_backups.is_some() || of.is_some();
        if named.is_none() && first_level.is_none() && !any_key {
            return true;
        }
        let Some(mut rule) = named.or_else(|| system_of(&w.algorithm)) else {
            let (path, span) = match first_level {
                Some(i) => group_key(i),
                None => (
                    "lb".to_string(),
                    root.t.get("lb").map_or(0..0, |v| v.span()),
                ),
            };
            self.cx.err_hint(
                &path,
                &span,
                format!(
                    "backup servers and priority levels follow a load balancer's rule, and \
                     algorithm \"{}\" is none of nginx's, HAProxy's or Envoy's",
                    w.algorithm.name()
                ),
                Some("set [lb] priority_rule = \"nginx\", \"haproxy\" or \"envoy\"".into()),
            );
            return false;
        };
        let how = if named.is_some() {
            "priority_rule"
        } else {
            "the algorithm's system"
        };
        if let Some((b, v)) = all_backups {
            match (&mut rule, b) {
                (PriorityRule::Haproxy { all_backups }, Some(b)) => *all_backups = b,
                (_, None) => ok = false,
                (r, Some(_)) => {
                    let msg = format!(
                        "allbackups is HAProxy's option, and the rule here is {}'s ({how})",
                        r.name()
                    );
                    self.cx.err("lb.allbackups", &v.span(), msg);
                    ok = false;
                }
            }
        }
        if let Some((x, v)) = of {
            match (&mut rule, x) {
                (PriorityRule::Envoy { overprovisioning }, Some(x)) => *overprovisioning = x as u32,
                (_, None) => ok = false,
                (r, Some(_)) => {
                    let msg = format!(
                        "overprovisioning_factor is Envoy's, and the rule here is {}'s ({how})",
                        r.name()
                    );
                    self.cx.err("lb.overprovisioning_factor", &v.span(), msg);
                    ok = false;
                }
            }
        }
        let Some(first) = first_level else {
            // Without a level above 0 the rule changes nothing (Envoy's panic mode for one
            // level is [health] panic_threshold).
            let (path, span) = ["priority_rule", "allbackups", "overprovisioning_factor"]
                .iter()
                .find_map(|k| key(k).map(|v| (format!("lb.{k}"), v.span())))
                .unwrap_or_else(|| ("lb".to_string(), 0..0));
            self.cx.err(
                &path,
                &span,
                "this has no effect: no server group has backup = true or a priority above 0",
            );
            return false;
        };
        if !w.services.is_empty() {
            let (path, span) = group_key(first);
            self.cx.err(
                &path,
                &span,
                "backup servers and priority levels are for a scenario without [[services]] \
                 (the [lb] tier in front of [[servers]]) for now",
            );
            return false;
        }
        if root.t.contains_key("connections") {
            let (path, span) = group_key(first);
            self.cx.err(
                &path,
                &span,
                "backup servers and priority levels do not work with [connections] yet (a \
                 connection is placed without looking at the levels)",
            );
            return false;
        }
        let mut levels: Vec<u8> = w.groups.iter().map(|g| g.priority).collect();
        levels.sort_unstable();
        levels.dedup();
        if levels.len() > rule.max_levels() {
            let i = w
                .groups
                .iter()
                .position(|g| g.priority == levels[rule.max_levels()])
                .unwrap_or(first);
            let (path, span) = group_key(i);
            let msg = format!(
                "{} has one backup level, and the groups here make {} levels",
                rule.name(),
                levels.len()
            );
            self.cx.err_hint(
                &path,
                &span,
                msg,
                Some("use backup = true, or priority_rule = \"envoy\" for more levels".into()),
            );
            ok = false;
        }
        if rule == PriorityRule::Nginx {
            let algs = std::iter::once(&w.algorithm).chain(compare);
            if let Some(a) = algs
                .map(|a| a.info().name)
                .find(|n| NGINX_NO_BACKUP.contains(n))
            {
                let (path, span) = group_key(first);
                self.cx.err(
                    &path,
                    &span,
                    format!(
                        "nginx refuses backup servers with hash and ip_hash (algorithm \"{a}\")"
                    ),
                );
                ok = false;
            }
        }
        if ok {
            w.lb.priority = Some(rule);
        }
        ok
    }
}
