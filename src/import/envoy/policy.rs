//! An Envoy cluster's balancing policy (`lb_policy` or `load_balancing_policy`) and its
//! config as `[balancer]`, with slow start as `[health.slow_start]`.

use super::super::{Fragment, ImportError, Loc, Value, entry};
use super::Routes;
use super::translate::{at, dur_value, key_at};
use super::value::{boolean, number, text, uint};
use super::yaml::Node;

/// The algorithm a policy maps to, with its config node and its name for comments.
struct Chosen<'a> {
    alg: &'static str,
    cfg: Option<&'a Node>,
    label: String,
    at: Loc,
}

fn by_policy_name(p: &str) -> Option<&'static str> {
    Some(match p {
        "ROUND_ROBIN" | "RoundRobin" => "envoy-round-robin",
        "LEAST_REQUEST" | "LeastRequest" => "envoy-least-request",
        "RANDOM" | "Random" => "random",
        "RING_HASH" | "RingHash" => "ketama",
        "MAGLEV" | "Maglev" => "maglev",
        _ => return None,
    })
}

fn choose<'a>(c: &'a Node, f: &mut Fragment) -> Result<Chosen<'a>, ImportError> {
    if let Some(lbp) = c.get("load_balancing_policy") {
        let mut skipped = Vec::new();
        for p in lbp.get("policies").map_or(&[][..], Node::items) {
            let tc = p
                .get("typed_extension_config")
                .and_then(|t| t.get("typed_config"));
            let url = tc
                .and_then(|t| t.get("@type"))
                .and_then(Node::text)
                .unwrap_or("");
            let short = url.rsplit('.').next().unwrap_or("");
            match by_policy_name(short) {
                Some(alg) => {
                    if let Some(lp) = c.get("lb_policy") {
                        f.notes.push(format!(
                            "lb_policy ({}) is overridden by load_balancing_policy",
                            lp.at
                        ));
                    }
                    for (s, sat) in &skipped {
                        f.skip(sat, format!("load_balancing_policy {s}"), format!("lblab does not model it; {short}, the first policy it models, is used (Envoy uses the first policy it supports, which may be this one)"));
                    }
                    return Ok(Chosen {
                        alg,
                        cfg: tc,
                        label: format!("load_balancing_policy {short}"),
                        at: p.at.clone(),
                    });
                }
                None => skipped.push((
                    if url.is_empty() { "(no @type)" } else { url },
                    p.at.clone(),
                )),
            }
        }
        return Err(ImportError::at(
            &lbp.at,
            "load_balancing_policy has no policy lblab models (RoundRobin, LeastRequest, Random, RingHash, Maglev)",
        ));
    }
    let (name, at) = match c.get("lb_policy") {
        Some(n) => (text(n, "lb_policy")?, n.at.clone()),
        None => {
            f.defaults.push("lb_policy ROUND_ROBIN".into());
            ("ROUND_ROBIN", c.at.clone())
        }
    };
    let alg = match name {
        "CLUSTER_PROVIDED" => {
            return Err(ImportError::at(
                &at,
                "lb_policy CLUSTER_PROVIDED: the cluster type chooses the hosts itself; lblab cannot import it",
            ));
        }
        "LOAD_BALANCING_POLICY_CONFIG" => {
            return Err(ImportError::at(
                &at,
                "lb_policy LOAD_BALANCING_POLICY_CONFIG without load_balancing_policy",
            ));
        }
        n => by_policy_name(n).ok_or_else(|| {
            ImportError::at(
                &at,
                format!("unknown lb_policy \"{n}\" (expected ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV)"),
            )
        })?,
    };
    let cfg_key = match alg {
        "envoy-round-robin" => "round_robin_lb_config",
        "envoy-least-request" => "least_request_lb_config",
        "ketama" => "ring_hash_lb_config",
        "maglev" => "maglev_lb_config",
        _ => "",
    };
    for other in [
        "round_robin_lb_config",
        "least_request_lb_config",
        "ring_hash_lb_config",
        "maglev_lb_config",
    ] {
        if other != cfg_key
            && let Some(n) = c.get(other)
        {
            return Err(ImportError::at(
                &n.at,
                format!(
                    "{other} with lb_policy {name} (Envoy refuses a config for another policy)"
                ),
            ));
        }
    }
    Ok(Chosen {
        alg,
        cfg: c.get(cfg_key),
        label: format!("lb_policy {name}"),
        at,
    })
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// The balancing policy and its config as `[balancer]` (and slow start).
pub(super) fn policy(c: &Node, routes: &Routes, f: &mut Fragment) -> Result<(), ImportError> {
    let ch = choose(c, f)?;
    let from = format!("{} ({})", ch.label, ch.at);
    f.balancer
        .push(entry("algorithm", Value::Str(ch.alg.into()), from));
    let mut min_ring = 1024u64;
    let mut max_ring = 8_388_608u64;
    let mut ring_from = Vec::new();
    for (k, kat, v) in ch.cfg.map_or(&[][..], Node::entries) {
        if !matches!(k.as_str(), "@type" | "slow_start_config") {
            f.directives.push(kat.clone());
        }
        let path = format!("{}.{k}", ch.label);
        match (ch.alg, k.as_str()) {
            (_, "@type") => {}
            ("envoy-round-robin" | "envoy-least-request", "slow_start_config") => {
                slow_start(v, f)?
            }
            ("envoy-least-request", "choice_count") => {
                let n = uint(v, "choice_count", 4_294_967_295)?;
                if n < 2 {
                    return Err(ImportError::at(&v.at, "choice_count must be at least 2"));
                }
                f.balancer.push(entry("choice_count", Value::Int(n), at(&path, kat)));
            }
            ("envoy-least-request", "active_request_bias") => {
                let b = number(v, "active_request_bias", 0.0, 1000.0)?;
                f.balancer.push(entry("active_request_bias", Value::Raw(b), at(&path, kat)));
            }
            ("envoy-least-request", "selection_method") => {
                let m = match text(v, "selection_method")? {
                    "N_CHOICES" => "n_choices",
                    "FULL_SCAN" => "full_scan",
                    t => return Err(ImportError::at(&v.at, format!("unknown selection_method \"{t}\" (expected N_CHOICES or FULL_SCAN)"))),
                };
                f.balancer.push(entry("selection_method", Value::Str(m.into()), at(&path, kat)));
            }
            ("envoy-least-request", "enable_full_scan") => {
                if boolean(v, "enable_full_scan")? {
                    f.balancer.push(entry("selection_method", Value::Str("full_scan".into()), at(&path, kat)));
                }
            }
            ("ketama", "minimum_ring_size") => {
                min_ring = uint(v, k, 8_388_608)?.max(1);
                ring_from.push(kat.to_string());
            }
            ("ketama", "maximum_ring_size") => {
                max_ring = uint(v, k, 8_388_608)?.max(1);
                ring_from.push(kat.to_string());
            }
            ("ketama", "hash_function") => f.skip(
                kat,
                format!("{path} {}", v.text().unwrap_or("")),
                "lblab's ring places nginx-style CRC-32 points, not Envoy's hashes (same ring size, other positions)",
            ),
            ("maglev", "table_size") => {
                let n = uint(v, "table_size", 5_000_011)?;
                if !is_prime(n) {
                    return Err(ImportError::at(&v.at, format!("table_size {n} is not prime (Envoy requires a prime)")));
                }
                f.balancer.push(entry("table_size", Value::Int(n), at(&path, kat)));
            }
            (_, "locality_lb_config" | "locality_weighted_lb_config") => {
                f.skip(kat, path, "localities are not modelled")
            }
            (_, "hash_balance_factor" | "consistent_hashing_lb_config" | "use_hostname_for_hashing") => {
                f.skip(kat, path, "Envoy's bounded-load and hostname hashing are not modelled")
            }
            _ => f.skip(kat, path, "not a field of this policy lblab knows"),
        }
    }
    if ch.alg == "ketama" {
        // Envoy's ring: every host gets weight/total × scale entries, where scale makes
        // the lightest host's share at least minimum_ring_size (ring_hash_lb.cc).
        let total: u64 = f.groups.iter().map(|g| u64::from(g.weight)).sum();
        let lightest = f.groups.iter().map(|g| g.weight).min().unwrap_or(1).max(1);
        let min_share = f64::from(lightest) / total.max(1) as f64;
        let scale = ((min_share * min_ring as f64).ceil() / min_share).min(max_ring as f64);
        let ppw = (scale / total.max(1) as f64).round().clamp(1.0, 100_000.0) as u64;
        f.balancer.push(entry(
            "points_per_weight",
            Value::Int(ppw),
            format!(
                "Envoy's ring size: minimum_ring_size {min_ring}, maximum_ring_size {max_ring}, over the endpoints' weights{}",
                if ring_from.is_empty() { " (Envoy defaults)".to_string() } else { format!(" ({})", ring_from.join(", ")) }
            ),
        ));
        f.notes.push("RING_HASH: lblab's ketama ring has Envoy's ring size, but nginx-style CRC-32 points, not Envoy's xxHash positions".into());
    }
    if matches!(ch.alg, "ketama" | "maglev") {
        hash_on(routes, f);
    }
    Ok(())
}

/// What a hashing policy hashes: the first route's `hash_policy`.
fn hash_on(routes: &Routes, f: &mut Fragment) {
    let hp = routes
        .http
        .first()
        .and_then(|r| r.action.get("hash_policy"));
    let policies = hp.map_or(&[][..], Node::items);
    let ip = policies.iter().find(|p| {
        p.get("connection_properties")
            .and_then(|c| c.get("source_ip"))
            .and_then(Node::text)
            == Some("true")
    });
    let (on, from) = match (ip, policies.first()) {
        (Some(p), _) => (
            "ip",
            at("route hash_policy connection_properties.source_ip", &p.at),
        ),
        (None, Some(p)) => (
            "key",
            at(
                "route hash_policy (a header, cookie or parameter: the request key)",
                &p.at,
            ),
        ),
        (None, None) => {
            f.notes.push("no route hash_policy in the file: Envoy then picks a random host per request; lblab hashes the request key".into());
            ("key", "no route hash_policy found".into())
        }
    };
    f.balancer
        .push(entry("hash_on", Value::Str(on.into()), from));
}

/// `slow_start_config` as `[health.slow_start]`.
fn slow_start(s: &Node, f: &mut Fragment) -> Result<(), ImportError> {
    let w = s
        .get("slow_start_window")
        .ok_or_else(|| ImportError::at(&s.at, "slow_start_config needs slow_start_window"))?;
    f.slow_start.push(entry(
        "window",
        dur_value(w, "slow_start_window")?,
        at(
            "slow_start_config.slow_start_window",
            key_at(s, "slow_start_window").unwrap_or(&w.at),
        ),
    ));
    f.slow_start.push(entry(
        "style",
        Value::Str("envoy".into()),
        "Envoy's ramp".into(),
    ));
    for (k, kat, v) in s.entries() {
        f.directives.push(kat.clone());
        match k.as_str() {
            "slow_start_window" => {}
            "aggression" => {
                let a = number(v, "aggression", 0.0, 100.0)?;
                f.slow_start.push(entry(
                    "aggression",
                    Value::Raw(a),
                    at("slow_start_config.aggression", kat),
                ));
            }
            "min_weight_percent" => {
                let p = number(v, "min_weight_percent", 0.0, 100.0)?;
                f.slow_start.push(entry(
                    "min_weight_percent",
                    Value::Raw(p),
                    at("slow_start_config.min_weight_percent", kat),
                ));
            }
            _ => f.skip(
                kat,
                format!("slow_start_config.{k}"),
                "not a SlowStartConfig field lblab knows",
            ),
        }
    }
    Ok(())
}
