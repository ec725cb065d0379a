//! `[[failures]]`: kinds, timing and `target` (servers, groups, `lb-i` nodes).

use toml::de::DeValue;

use crate::engine::SimTime;
use crate::model::{FailureKind, FailureSpec, FailureTiming, ServerGroupConfig};
use crate::scenario::doc::{Cx, Tbl, V, join};
use crate::scenario::error::did_you_mean;

use super::{Reader, span_of};

impl Reader<'_> {
    /// `[[failures]]`: failures injected into servers, at fixed times or at random.
    pub(super) fn failures(
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
                Some("partition") => &["from"],
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
                    // `from` is read with the services (`partition_from`).
                    "partition" => Some(FailureKind::Partition { from: 0 }),
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
                    "drain" => dur(&mut self.cx, "delay", Some(self.drain_delay))
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
    pub(super) fn failure_targets(
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

    /// Each partition's `from`: the services whose instances lose the server (names of
    /// `[[services]]`, at most 64 of them).
    pub(super) fn partition_from(
        &mut self,
        root: Tbl<'_, '_>,
        services: &[crate::model::ServiceConfig],
        failures: &mut [crate::model::FailureSpec],
    ) -> bool {
        let Some(DeValue::Array(arr)) = root.t.get("failures").map(|v| v.get_ref()) else {
            return true;
        };
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        let mut ok = true;
        for (i, e) in arr.iter().enumerate() {
            let DeValue::Table(t) = e.get_ref() else {
                continue;
            };
            let Some(v) = t.get("from") else { continue };
            let path = format!("failures[{i}].from");
            if services.is_empty() {
                self.cx.err_hint(&path, &v.span(), "`from` names services whose instances lose the server, and this scenario has no [[services]]", Some("without `from` a partition cuts the server off from everyone".into()));
                ok = false;
                continue;
            }
            if services.len() > 64 {
                self.cx
                    .err(&path, &v.span(), "`from` works with at most 64 services");
                ok = false;
                continue;
            }
            let list: Vec<&V<'_>> = match v.get_ref() {
                DeValue::String(_) => vec![v],
                DeValue::Array(a) => a.iter().collect(),
                _ => {
                    self.cx.err(
                        &path,
                        &v.span(),
                        "expected a service name or a list of them, like [\"app\"]",
                    );
                    ok = false;
                    continue;
                }
            };
            let mut mask = 0u64;
            for (k, n) in list.iter().enumerate() {
                let p = if matches!(v.get_ref(), DeValue::Array(_)) {
                    format!("{path}[{k}]")
                } else {
                    path.clone()
                };
                let Some(name) = self.cx.string(&p, n) else {
                    ok = false;
                    continue;
                };
                match names.iter().position(|x| *x == name) {
                    Some(s) => mask |= 1 << s,
                    None => {
                        let hint = match did_you_mean(&name, names.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("services: {}", names.join(", ")),
                        };
                        self.cx.err_hint(
                            &p,
                            &n.span(),
                            format!("no service named \"{name}\""),
                            Some(hint),
                        );
                        ok = false;
                    }
                }
            }
            if mask == 0 {
                if ok {
                    self.cx
                        .err(&path, &v.span(), "expected at least one service");
                }
                ok = false;
                continue;
            }
            if let Some(f) = failures.get_mut(i)
                && let FailureKind::Partition { from } = &mut f.kind
            {
                *from = mask;
            }
        }
        ok
    }
}
