//! `[trace.preset]`: what the load balancers believe at t = 0, so that a textbook worked
//! example replays exactly in `lblab trace` (weighted least connections with 50, 30 and 18
//! requests in flight; least response time with averages of 50, 30 and 100 ms).
//!
//! ```toml
//! [trace.preset]
//! a = { in_flight = 50, response_time = "50ms" }   # a group: each of its servers
//! "b-1" = { in_flight = 30 }                        # one server
//! ```
//!
//! Kept apart from the rest of the schema: it is read after the servers and `[lb]`, and
//! only `lblab trace` accepts a scenario that has it (see [`ServerPreset`]).

use crate::model::{LbView, ServerGroupConfig, ServerPreset};

use super::doc::{Cx, Tbl, join};
use super::error::did_you_mean;

/// Most phantom requests one preset may add.
const MAX_IN_FLIGHT: i64 = 1_000_000;

/// Reads `[trace]` (only `preset` so far). `groups` are the validated server groups and
/// `view` the load balancers' view (`None` if either could not be read: nothing is
/// checked against them then). Returns the presets in server order.
pub(super) fn read(
    cx: &mut Cx,
    root: Tbl<'_, '_>,
    groups: Option<&[ServerGroupConfig]>,
    view: Option<&LbView>,
) -> Option<Vec<ServerPreset>> {
    let Some(v) = root.t.get("trace") else {
        return Some(Vec::new());
    };
    let t = cx.table("trace", v)?;
    cx.check_keys(t, &["preset"]);
    let Some(pv) = t.t.get("preset") else {
        return Some(Vec::new());
    };
    let p = cx.table("trace.preset", pv)?;
    let groups = groups?;
    // Server names at t = 0 (spares are not in the pool yet), with their ids.
    let mut servers: Vec<(String, usize)> = Vec::new();
    let mut spares: Vec<String> = Vec::new();
    let mut id = 0usize;
    let mut ranges = Vec::new();
    for g in groups {
        let lo = id;
        for i in 1..=g.count + g.spare {
            let name = format!("{}-{i}", g.name);
            if i <= g.count {
                servers.push((name, id));
            } else {
                spares.push(name);
            }
            id += 1;
        }
        ranges.push((g.name.as_str(), lo, lo + g.count as usize));
    }
    let mut out: Vec<ServerPreset> = Vec::new();
    let mut named_by: Vec<(usize, String)> = Vec::new();
    let mut ok = true;
    for (k, val) in p.t.iter() {
        let key: &str = k.get_ref();
        let path = join("trace.preset", key);
        let ids: Vec<usize> = if let Some(&(_, lo, hi)) = ranges.iter().find(|r| r.0 == key) {
            (lo..hi).collect()
        } else if let Some((_, id)) = servers.iter().find(|s| s.0 == key) {
            vec![*id]
        } else {
            let msg = if spares.iter().any(|s| s == key) {
                format!(
                    "server \"{key}\" is a spare, not in the pool at t = 0: a preset is what the load balancers believe at the start"
                )
            } else {
                let names = ranges
                    .iter()
                    .map(|r| r.0)
                    .chain(servers.iter().map(|s| s.0.as_str()));
                match did_you_mean(key, names) {
                    Some(s) => format!("unknown server or group \"{key}\": did you mean \"{s}\"?"),
                    None => format!(
                        "unknown server or group \"{key}\": expected a server (\"web-1\") or a group (\"web\": each of its servers)"
                    ),
                }
            };
            cx.err(&path, &k.span(), msg);
            ok = false;
            continue;
        };
        let Some(e) = cx.table(&path, val) else {
            ok = false;
            continue;
        };
        cx.check_keys(e, &["in_flight", "response_time"]);
        let mut preset = ServerPreset {
            server: 0,
            in_flight: 0,
            response_time: None,
        };
        if let Some(v) = e.t.get("in_flight") {
            match cx.int(&join(&path, "in_flight"), v, 0, MAX_IN_FLIGHT) {
                Some(n) => preset.in_flight = n as u32,
                None => ok = false,
            }
            if view.is_some_and(|v| *v != LbView::Own) {
                cx.err(
                    &join(&path, "in_flight"),
                    &v.span(),
                    "expected no in_flight preset with lb.view = \"reported\": that view is the servers' own load, not the load balancer's count",
                );
                ok = false;
            }
        }
        if let Some(v) = e.t.get("response_time") {
            match cx.duration(&join(&path, "response_time"), v) {
                Some(d) if d > crate::engine::SimTime::ZERO => preset.response_time = Some(d),
                Some(_) => {
                    cx.err(
                        &join(&path, "response_time"),
                        &v.span(),
                        "expected a positive duration, found 0",
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        if !e.t.contains_key("in_flight") && !e.t.contains_key("response_time") {
            cx.err(
                &path,
                &val.span(),
                "expected `in_flight` and/or `response_time`, found an empty table",
            );
            ok = false;
        }
        for id in ids {
            if let Some((_, first)) = named_by.iter().find(|(i, _)| *i == id) {
                cx.err(
                    &path,
                    &k.span(),
                    format!(
                        "server {} is preset twice (by \"{first}\" and by \"{key}\"): give each server one preset",
                        servers.iter().find(|s| s.1 == id).map_or("?", |s| s.0.as_str())
                    ),
                );
                ok = false;
            }
            named_by.push((id, key.to_string()));
            out.push(ServerPreset {
                server: id as u32,
                ..preset
            });
        }
    }
    out.sort_by_key(|p| p.server);
    ok.then_some(out)
}
