//! Translating an Envoy cluster's fields into the fragment: the cluster's own fields here,
//! with the retries and timeout of the routes that send requests to it and the retry
//! circuit breakers; the balancing policy in `policy.rs`, health in `health.rs`.

use super::super::{Fragment, ImportError, Loc, Value, duration as dur_text, entry};
use super::value::{duration, number, text, uint};
use super::yaml::Node;
use super::{Route, Routes};

/// Cluster fields with no effect on what lblab models.
const NO_EFFECT: &[&str] = &[
    "alt_stat_name",
    "observability_name",
    "per_connection_buffer_limit_bytes",
    "upstream_http_protocol_options",
    "common_http_protocol_options",
    "http_protocol_options",
    "http2_protocol_options",
    "typed_extension_protocol_options",
    "dns_refresh_rate",
    "dns_failure_refresh_rate",
    "dns_jitter",
    "respect_dns_ttl",
    "dns_lookup_family",
    "dns_resolvers",
    "use_tcp_for_dns_lookups",
    "dns_resolver_options",
    "typed_dns_resolver_config",
    "wait_for_warm_on_init",
    "cleanup_interval",
    "upstream_bind_config",
    "transport_socket",
    "transport_socket_matches",
    "metadata",
    "protocol_selection",
    "upstream_connection_options",
    "close_connections_on_host_health_failure",
    "ignore_health_on_host_removal",
    "filters",
    "lrs_server",
    "lrs_report_endpoint_metrics",
    "track_timeout_budgets",
    "upstream_config",
    "track_cluster_stats",
    "preconnect_policy",
    "connection_pool_per_downstream_connection",
    "max_requests_per_connection",
];

/// Where a value comes from, for the trailing comment: `path (FILE:LINE)`.
pub(super) fn at(path: &str, l: &Loc) -> String {
    format!("{path} ({l})")
}

/// The place of key `k` of mapping `n` (where the key is written, which for a block
/// value is the line above the value's).
pub(super) fn key_at<'a>(n: &'a Node, k: &str) -> Option<&'a Loc> {
    n.entries()
        .iter()
        .find(|(kk, _, _)| kk == k)
        .map(|(_, l, _)| l)
}

pub(super) fn dur_value(n: &Node, what: &str) -> Result<Value, ImportError> {
    Ok(Value::Str(dur_text(duration(n, what)?)))
}

/// Translates cluster `c` (its endpoints already in `f`).
pub(super) fn cluster(c: &Node, routes: &Routes, f: &mut Fragment) -> Result<(), ImportError> {
    // Fields are accounted for in `f.directives` where their translation or comment
    // names their line; containers are accounted for by their fields.
    for (k, kat, v) in c.entries() {
        match k.as_str() {
            "name"
            | "load_assignment"
            | "eds_cluster_config"
            | "lb_policy"
            | "load_balancing_policy"
            | "ring_hash_lb_config"
            | "maglev_lb_config"
            | "least_request_lb_config"
            | "round_robin_lb_config"
            | "health_checks"
            | "outlier_detection"
            | "common_lb_config"
            | "circuit_breakers"
            | "@type" => continue,
            "type" if matches!(v.text(), Some("STATIC" | "EDS")) => continue,
            _ => f.directives.push(kat.clone()),
        }
        match k.as_str() {
            "type" => match text(v, "type")? {
                "STATIC" | "EDS" => {}
                t @ ("STRICT_DNS" | "LOGICAL_DNS") => f.notes.push(format!(
                    "type {t} ({kat}): each endpoint is one server (DNS answers are not resolved)"
                )),
                "ORIGINAL_DST" => {
                    return Err(ImportError::at(
                        &v.at,
                        "type ORIGINAL_DST: the cluster sends each connection to its original \
                         destination, so there is nothing to balance",
                    ));
                }
                t => return Err(ImportError::at(&v.at, format!("unknown cluster type \"{t}\""))),
            },
            "cluster_type" => f.skip(kat, "cluster_type", "custom cluster types (aggregate, dynamic forward proxy, ...) are not modelled: its load_assignment is used"),
            "connect_timeout" => f.skip(kat, format!("connect_timeout {}", v.text().unwrap_or("")), "connection set-up is not modelled: a refused connection fails at once"),
            "lb_subset_config" => f.skip(kat, k.clone(), "subsets (routing by endpoint metadata) are not modelled"),
            "original_dst_lb_config" => f.skip(kat, k.clone(), "for ORIGINAL_DST clusters only"),
            k2 if NO_EFFECT.contains(&k2) => f.skip(kat, k.clone(), "no effect in lblab (connections, TLS, DNS, protocol options and statistics are not part of balancing)"),
            _ => f.skip(kat, k.clone(), "not a Cluster field lblab knows (Envoy refuses unknown fields: check its spelling)"),
        }
    }
    super::policy::policy(c, routes, f)?;
    super::health::common(c, f)?;
    if let Some(hcs) = c.get("health_checks") {
        super::health::health(hcs, f)?;
    }
    if let (Some(od), Some(od_at)) = (c.get("outlier_detection"), key_at(c, "outlier_detection")) {
        f.directives.push(od_at.clone());
        super::health::outlier(od, od_at, f)?;
    }
    retries(c, routes, f)?;
    Ok(())
}

/// The first route's timeout and retry policy as `[lb]`, with the cluster's retry
/// circuit breakers as a retry budget.
fn retries(c: &Node, routes: &Routes, f: &mut Fragment) -> Result<(), ImportError> {
    for t in &routes.tcp {
        f.notes.push(format!("a tcp_proxy sends connections to this cluster ({t}): lblab's [lb] layer = \"l4\" balances connections (with [connections]); the fragment balances requests"));
    }
    let breakers = c.get("circuit_breakers");
    for (k, kat, v) in breakers.map_or(&[][..], Node::entries) {
        if k != "thresholds" {
            f.skip(
                kat,
                format!("circuit_breakers.{k}"),
                "per-host limits are not modelled",
            );
        }
        let _ = v;
    }
    let thresholds = breakers
        .and_then(|b| b.get("thresholds"))
        .map_or(&[][..], Node::items);
    let mut default_t = None;
    for t in thresholds {
        let high = t.get("priority").and_then(Node::text) == Some("HIGH");
        if high {
            f.skip(
                &t.at,
                "circuit_breakers HIGH priority thresholds",
                "routing priorities are not modelled (every request is DEFAULT)",
            );
            continue;
        }
        default_t = Some(t);
        for (k, kat, _) in t.entries() {
            if k != "priority" {
                f.directives.push(kat.clone());
            }
            match k.as_str() {
                "priority" | "max_retries" | "retry_budget" => {}
                "max_connections" | "max_pending_requests" | "max_requests" => f.skip(
                    kat,
                    format!("circuit_breakers.{k}"),
                    "lblab has no cluster-wide limit: Envoy answers 503 above it",
                ),
                _ => f.skip(kat, format!("circuit_breakers.{k}"), "no effect in lblab"),
            }
        }
    }
    f.notes.push("Envoy's circuit breakers (by default at most 1024 requests, 1024 pending requests and 1024 connections) are not modelled: lblab never answers 503 for overflow".into());
    let unused_breakers = |f: &mut Fragment| {
        if f.lb.iter().any(|e| e.key == "retry_budget") {
            return;
        }
        for (k, kat, _) in default_t.map_or(&[][..], Node::entries) {
            if matches!(k.as_str(), "max_retries" | "retry_budget") {
                f.skip(
                    kat,
                    format!("circuit_breakers.{k}"),
                    "no effect: no retries are written",
                );
            }
        }
    };
    let Some(route) = routes.http.first() else {
        unused_breakers(f);
        f.notes.push("no route in the file sends requests to this cluster: no timeout and no retries are written (an Envoy route's defaults are a 15 s timeout and no retries)".into());
        return Ok(());
    };
    for other in &routes.http[1..] {
        f.skip(
            &other.at,
            "another route to this cluster",
            "lblab's [lb] has one timeout and one retry policy: the first route's are used",
        );
    }
    route_settings(route, default_t, f)?;
    unused_breakers(f);
    Ok(())
}

fn route_settings(
    route: &Route,
    breaker: Option<&Node>,
    f: &mut Fragment,
) -> Result<(), ImportError> {
    let a = route.action;
    let rp = a.get("retry_policy").or(route.vhost_retry);
    let timeout = match a.get("timeout") {
        Some(t) => (duration(t, "timeout")?, at("route timeout", &t.at)),
        None => {
            f.defaults.push("route timeout 15s".into());
            (
                15_000_000_000,
                format!("Envoy default route timeout 15s (route at {})", route.at),
            )
        }
    };
    let per_try = match rp.and_then(|r| r.get("per_try_timeout")) {
        Some(t) => Some((
            duration(t, "per_try_timeout")?,
            at(
                "retry_policy.per_try_timeout",
                key_at(rp.unwrap_or(a), "per_try_timeout").unwrap_or(&t.at),
            ),
        )),
        None => None,
    };
    match (per_try, timeout) {
        (Some((p, from)), (t, _)) if p > 0 => {
            f.lb.push(entry("upstream_timeout", Value::Str(dur_text(p)), from));
            if let Some(tn) = a.get("timeout").filter(|_| t > 0) {
                f.skip(&tn.at, format!("route timeout {}", dur_text(t)), "it bounds the whole request, retries included; lblab's balancer bounds each attempt (per_try_timeout): a [clients] timeout bounds the whole request");
            }
        }
        (_, (t, from)) if t > 0 => {
            f.lb.push(entry("upstream_timeout", Value::Str(dur_text(t)), from));
            f.notes.push("Envoy's route timeout bounds the whole request, retries included; lblab's upstream_timeout bounds each attempt".into());
        }
        _ => {}
    }
    let Some(rp) = rp else {
        f.lb.push(entry(
            "retries",
            Value::Int(0),
            format!("no retry_policy on the route ({})", route.at),
        ));
        return Ok(());
    };
    let n = match rp.get("num_retries") {
        Some(v) => uint(v, "num_retries", 100)?,
        None => 1,
    };
    let mut on: Vec<String> = Vec::new();
    let add = |on: &mut Vec<String>, xs: &[&str]| {
        for x in xs {
            if !on.iter().any(|o| o == x) {
                on.push(x.to_string());
            }
        }
    };
    let retry_on = rp.get("retry_on");
    for tok in retry_on
        .and_then(Node::text)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match tok {
            "5xx" => add(&mut on, &["refused", "timeout", "5xx"]),
            "gateway-error" => {
                add(&mut on, &["refused", "timeout", "5xx"]);
                f.notes.push("retry_on gateway-error retries 502, 503 and 504; lblab's \"5xx\" retries every error status".into());
            }
            "reset" => add(&mut on, &["refused", "timeout"]),
            "connect-failure" | "reset-before-request" => add(&mut on, &["refused"]),
            other => f.skip(
                retry_on.map_or(&rp.at, |r| &r.at),
                format!("retry_on {other}"),
                "lblab's retry_on has refused, timeout and 5xx only",
            ),
        }
    }
    let previous = rp.get("retry_host_predicate").is_some_and(|p| {
        p.items().iter().any(|x| {
            x.get("name")
                .and_then(Node::text)
                .is_some_and(|n| n.ends_with("previous_hosts"))
        })
    });
    let mut retries_from = rp.get("num_retries").map_or_else(
        || "Envoy default num_retries 1".to_string(),
        |_| {
            at(
                "retry_policy.num_retries",
                key_at(rp, "num_retries").unwrap_or(&rp.at),
            )
        },
    );
    if previous {
        retries_from.push_str(&format!(
            "; retry_host_predicate previous_hosts ({}): a retry avoids the previous host, as lblab's does",
            key_at(rp, "retry_host_predicate").unwrap_or(&rp.at)
        ));
    }
    f.lb.push(entry(
        "retries",
        Value::Int(if on.is_empty() { 0 } else { n }),
        retries_from,
    ));
    f.lb.push(entry(
        "retry_on",
        Value::List(on.clone()),
        retry_on.map_or_else(
            || "no retry_on".to_string(),
            |_| {
                at(
                    "retry_policy.retry_on",
                    key_at(rp, "retry_on").unwrap_or(&rp.at),
                )
            },
        ),
    ));
    for (k, kat, _) in rp.entries() {
        f.directives.push(kat.clone());
        match k.as_str() {
            "num_retries" | "retry_on" | "per_try_timeout" => {}
            "retry_host_predicate" => {}
            "retry_back_off" | "rate_limited_retry_back_off" => {
                f.skip(kat, format!("retry_policy.{k}"), "lblab retries at once")
            }
            _ => f.skip(kat, format!("retry_policy.{k}"), "not modelled by lblab"),
        }
    }
    if !on.is_empty() && n > 0 {
        f.notes.push("Envoy waits a jittered back-off (25 ms base by default) before each retry; lblab retries at once".into());
        if !previous {
            f.notes.push("without the previous_hosts retry_host_predicate Envoy may retry on the same host; lblab's retry avoids the previous attempt's server".into());
        }
        let budget = breaker.and_then(|b| b.get("retry_budget"));
        let (percent, min, from) = match budget {
            Some(b) => (
                b.get("budget_percent").map_or(Ok("20.0".into()), |p| {
                    number(p, "budget_percent", 0.0, 100.0)
                })?,
                b.get("min_retry_concurrency")
                    .map_or(Ok(3), |m| uint(m, "min_retry_concurrency", 1_000_000))?,
                at(
                    "circuit_breakers retry_budget",
                    breaker
                        .and_then(|t| key_at(t, "retry_budget"))
                        .unwrap_or(&b.at),
                ),
            ),
            None => {
                let m = breaker
                    .and_then(|b| b.get("max_retries"))
                    .map_or(Ok(3), |m| uint(m, "max_retries", 1_000_000))?;
                let whence = match breaker.and_then(|b| key_at(b, "max_retries")) {
                    Some(l) => format!(" ({l})"),
                    None => " (Envoy default)".into(),
                };
                (
                    "0".into(),
                    m,
                    format!(
                        "circuit_breakers max_retries {m}: at most {m} retries in flight{whence}"
                    ),
                )
            }
        };
        f.lb.push(entry(
            "retry_budget",
            Value::Raw(format!(
                "{{ percent = {percent}, min_concurrency = {min} }}"
            )),
            from,
        ));
    }
    Ok(())
}
