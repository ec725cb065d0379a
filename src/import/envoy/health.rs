//! An Envoy cluster's health: `common_lb_config`'s panic threshold as `[health]`, its
//! first health check as `[health.active]`, `outlier_detection` as `[health.passive]`.

use super::super::{Fragment, ImportError, Loc, Value, duration as dur_text, entry};
use super::translate::{at, key_at};
use super::value::{boolean, duration, number, uint};
use super::yaml::Node;

/// `common_lb_config`: the panic threshold.
pub(super) fn common(c: &Node, f: &mut Fragment) -> Result<(), ImportError> {
    let cfg = c.get("common_lb_config");
    let mut panic = None;
    for (k, kat, v) in cfg.map_or(&[][..], Node::entries) {
        f.directives.push(kat.clone());
        match k.as_str() {
            "healthy_panic_threshold" => {
                panic = Some((
                    number(v, k, 0.0, 100.0)?,
                    at("common_lb_config.healthy_panic_threshold", kat),
                ))
            }
            "zone_aware_lb_config" | "locality_weighted_lb_config" => f.skip(
                kat,
                format!("common_lb_config.{k}"),
                "localities are not modelled",
            ),
            "consistent_hashing_lb_config" => f.skip(
                kat,
                format!("common_lb_config.{k}"),
                "Envoy's bounded-load and hostname hashing are not modelled",
            ),
            "update_merge_window"
            | "ignore_new_hosts_until_first_hc"
            | "close_connections_on_host_set_change"
            | "override_host_status" => f.skip(
                kat,
                format!("common_lb_config.{k}"),
                "no effect in lblab (host set updates are not modelled)",
            ),
            _ => f.skip(
                kat,
                format!("common_lb_config.{k}"),
                "not a CommonLbConfig field lblab knows",
            ),
        }
    }
    let (p, from) = panic.unwrap_or_else(|| {
        f.defaults.push("healthy_panic_threshold 50%".into());
        (
            "50.0".into(),
            "Envoy default healthy_panic_threshold 50%".into(),
        )
    });
    f.health.push(entry("panic_threshold", Value::Raw(p), from));
    Ok(())
}

/// The first of `health_checks` as `[health.active]`.
pub(super) fn health(hcs: &Node, f: &mut Fragment) -> Result<(), ImportError> {
    let items = hcs.items();
    for extra in items.iter().skip(1) {
        f.directives.push(extra.at.clone());
        f.skip(
            &extra.at,
            "a second health check",
            "lblab runs one active check per server: the first is used",
        );
    }
    let Some(hc) = items.first() else {
        return Ok(());
    };
    let kinds: Vec<&str> = [
        "http_health_check",
        "tcp_health_check",
        "grpc_health_check",
        "custom_health_check",
    ]
    .into_iter()
    .filter(|k| hc.get(k).is_some())
    .collect();
    let check = match kinds.as_slice() {
        ["http_health_check"] => "http",
        ["tcp_health_check"] => "tcp",
        ["grpc_health_check"] => {
            f.notes.push("grpc_health_check: lblab probes like an HTTP check (a server that is down, hung or failing answers NOT_SERVING or not at all)".into());
            "http"
        }
        ["custom_health_check"] => {
            f.skip(
                &hc.at,
                "custom_health_check",
                "custom checkers are not modelled: no [health.active] is written",
            );
            return Ok(());
        }
        _ => {
            return Err(ImportError::at(
                &hc.at,
                "a health check needs exactly one of http_health_check, tcp_health_check, grpc_health_check, custom_health_check",
            ));
        }
    };
    for req in [
        "timeout",
        "interval",
        "unhealthy_threshold",
        "healthy_threshold",
    ] {
        if hc.get(req).is_none() {
            return Err(ImportError::at(
                &hc.at,
                format!("a health check needs {req} (Envoy requires it)"),
            ));
        }
    }
    f.active.push(entry(
        "style",
        Value::Str("envoy".into()),
        at("health_checks[0]", &hc.at),
    ));
    f.active.push(entry(
        "check",
        Value::Str(check.into()),
        at(
            &format!("health_checks[0].{}", kinds[0]),
            key_at(hc, kinds[0]).unwrap_or(&hc.at),
        ),
    ));
    for (k, kat, v) in hc.entries() {
        if !matches!(
            k.as_str(),
            "http_health_check" | "tcp_health_check" | "grpc_health_check"
        ) {
            f.directives.push(kat.clone());
        }
        let path = format!("health_checks[0].{k}");
        match k.as_str() {
            "timeout"
            | "interval"
            | "unhealthy_interval"
            | "unhealthy_edge_interval"
            | "healthy_edge_interval"
            | "no_traffic_interval"
            | "no_traffic_healthy_interval"
            | "initial_jitter"
            | "interval_jitter" => {
                let ns = duration(v, k)?;
                if ns == 0 {
                    if matches!(k.as_str(), "initial_jitter" | "interval_jitter") {
                        continue; // no jitter, lblab's default
                    }
                    return Err(ImportError::at(&v.at, format!("{k} must be more than 0")));
                }
                f.active
                    .push(entry(k, Value::Str(dur_text(ns)), at(&path, kat)));
            }
            "unhealthy_threshold" | "healthy_threshold" => {
                let n = uint(v, k, 1000)?;
                if n == 0 {
                    return Err(ImportError::at(&v.at, format!("{k} must be at least 1")));
                }
                f.active.push(entry(k, Value::Int(n), at(&path, kat)));
            }
            "interval_jitter_percent" => {
                f.active
                    .push(entry(k, Value::Int(uint(v, k, 100)?), at(&path, kat)))
            }
            "http_health_check" | "tcp_health_check" | "grpc_health_check" => {
                f.directives.push(kat.clone());
                for (sk, sat, sv) in v.entries() {
                    let expected_200 = sk == "expected_statuses"
                        && matches!(sv.items(), [r] if r.get("start").and_then(Node::text) == Some("200") && r.get("end").and_then(Node::text) == Some("201"));
                    if expected_200 {
                        continue;
                    }
                    f.directives.push(sat.clone());
                    let why = match sk.as_str() {
                        "expected_statuses" | "retriable_statuses" => {
                            "lblab's Envoy-style probe passes on 200 only and any other status takes the server down"
                        }
                        "send" | "receive" => {
                            "lblab's TCP check is a connect (payloads are not modelled)"
                        }
                        _ => {
                            "no effect: a probe reaches the server's health handler whatever its path, host, headers or codec"
                        }
                    };
                    f.skip(sat, format!("{k}.{sk}"), why);
                }
            }
            _ => f.skip(kat, path, "no effect in lblab"),
        }
    }
    Ok(())
}

/// `outlier_detection` as `[health.passive]` (lblab's keys and defaults are Envoy's).
pub(super) fn outlier(od: &Node, od_at: &Loc, f: &mut Fragment) -> Result<(), ImportError> {
    const PERCENTS: &[&str] = &[
        "max_ejection_percent",
        "enforcing_consecutive_5xx",
        "enforcing_success_rate",
        "enforcing_consecutive_gateway_failure",
        "failure_percentage_threshold",
        "enforcing_failure_percentage",
    ];
    const COUNTS: &[&str] = &[
        "consecutive_5xx",
        "success_rate_minimum_hosts",
        "success_rate_request_volume",
        "success_rate_stdev_factor",
        "consecutive_gateway_failure",
        "failure_percentage_minimum_hosts",
        "failure_percentage_request_volume",
    ];
    const TIMES: &[&str] = &[
        "interval",
        "base_ejection_time",
        "max_ejection_time",
        "max_ejection_time_jitter",
    ];
    const FLAGS: &[&str] = &[
        "always_eject_one_host",
        "successful_active_health_check_uneject_host",
    ];
    const LOCAL: &[&str] = &[
        "consecutive_local_origin_failure",
        "enforcing_consecutive_local_origin_failure",
        "enforcing_local_origin_success_rate",
        "enforcing_failure_percentage_local_origin",
    ];
    f.passive.push(entry(
        "mode",
        Value::Str("outlier".into()),
        at("outlier_detection", od_at),
    ));
    f.defaults.push("outlier_detection: Envoy's defaults for the fields the cluster leaves out (lblab's [health.passive] defaults are Envoy's)".into());
    for (k, kat, v) in od.entries() {
        f.directives.push(kat.clone());
        let path = format!("outlier_detection.{k}");
        let key = k.as_str();
        if PERCENTS.contains(&key) {
            f.passive
                .push(entry(k, Value::Int(uint(v, k, 100)?), at(&path, kat)));
        } else if COUNTS.contains(&key) {
            f.passive
                .push(entry(k, Value::Int(uint(v, k, 1_000_000)?), at(&path, kat)));
        } else if TIMES.contains(&key) {
            let ns = duration(v, k)?;
            if ns == 0 && key != "max_ejection_time_jitter" {
                return Err(ImportError::at(&v.at, format!("{k} must be more than 0")));
            }
            f.passive
                .push(entry(k, Value::Str(dur_text(ns)), at(&path, kat)));
        } else if FLAGS.contains(&key) {
            f.passive
                .push(entry(k, Value::Bool(boolean(v, k)?), at(&path, kat)));
        } else if key == "split_external_local_origin_errors" {
            if boolean(v, k)? {
                f.skip(kat, path, "lblab does not split local-origin errors: every error counts as the upstream's");
            }
        } else if LOCAL.contains(&key) {
            f.skip(kat, path, "local-origin errors count only with split_external_local_origin_errors, which lblab does not model");
        } else {
            f.skip(kat, path, "not modelled by lblab");
        }
    }
    Ok(())
}
