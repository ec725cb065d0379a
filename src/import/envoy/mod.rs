//! Envoy: a cluster (YAML or JSON) as a scenario fragment: its `lb_policy` (or
//! `load_balancing_policy`) with its config, the endpoints of its `load_assignment` with
//! their weights and priorities, `health_checks`, `outlier_detection`,
//! `common_lb_config.healthy_panic_threshold` and slow start; and, when the file is a
//! bootstrap whose routes send requests to the cluster, the route's timeout and
//! `retry_policy` with the cluster's retry circuit breakers.
//!
//! The file may be a cluster itself, a list of clusters, a bootstrap
//! (`static_resources.clusters`), a `clusters:` list, or a discovery response
//! (`resources:` with `@type` Cluster, and ClusterLoadAssignment resources that give an EDS
//! cluster its endpoints). Semantics and defaults are Envoy's (the v3 API's `cluster.proto`,
//! `health_check.proto`, `outlier_detection.proto`, `route_components.proto`;
//! `docs/lb-semantics.md` §4): `ROUND_ROBIN`, a 50% panic threshold, an overprovisioning
//! factor of 140, a 15 s route timeout, one retry when a route has a `retry_policy`.

mod health;
mod policy;
mod translate;
mod value;

use std::path::Path;

use super::yaml::{self, Kind, Node};
use super::{Files, Fragment, Group, ImportError, Imported, Loc};
use value::{text, uint};

/// Imports cluster `cluster` (or the only one) of the Envoy configuration at `path`.
pub fn import(
    path: &Path,
    cluster: Option<&str>,
    files: &dyn Files,
) -> Result<Imported, ImportError> {
    let (file, text) = super::read_text(path, files)?;
    let root = yaml::parse(&file, &text)?;
    let (clusters, assignments) = find_clusters(&root);
    let found: Vec<(&str, &Loc, (&str, &Node))> = clusters
        .iter()
        .filter_map(|c| {
            c.get("name")
                .and_then(Node::text)
                .map(|n| (n, &c.at, (n, *c)))
        })
        .collect();
    let (name, c) = super::choose(
        &file,
        "cluster",
        "--cluster",
        "cluster",
        "lblab imports an Envoy cluster: a mapping with `name` and `load_assignment`, or a \
         bootstrap's static_resources.clusters",
        &found,
        cluster,
    )?;
    if !matches!(c.kind, Kind::Map(_)) {
        return Err(ImportError::at(&c.at, "a cluster must be a mapping"));
    }
    let mut f = Fragment {
        title: format!(
            "lblab scenario fragment: Envoy cluster \"{name}\" ({}), by `lblab import envoy`",
            c.at
        ),
        ..Fragment::default()
    };
    let assignment = match c.get("load_assignment") {
        Some(a) => a,
        None => {
            let eds_name = c
                .get("eds_cluster_config")
                .and_then(|e| e.get("service_name"))
                .and_then(Node::text)
                .unwrap_or(name);
            assignments
                .iter()
                .find(|a| a.get("cluster_name").and_then(Node::text) == Some(eds_name))
                .copied()
                .ok_or_else(|| {
                    ImportError::at(
                        &c.at,
                        format!(
                            "cluster \"{name}\" has no load_assignment{}: lblab needs the endpoints in the file",
                            if c.get("type").and_then(Node::text) == Some("EDS") {
                                " (its endpoints come from EDS; add its ClusterLoadAssignment to the file as a resource, or a load_assignment)"
                            } else {
                                ""
                            }
                        ),
                    )
                })?
        }
    };
    endpoints(assignment, &mut f)?;
    let routes = find_routes(&root, name);
    translate::cluster(c, &routes, &mut f)?;
    Ok(Imported {
        name: name.to_string(),
        fragment: f,
    })
}

/// Whether a mapping looks like a Cluster (has a name and a cluster field).
fn is_cluster(n: &Node) -> bool {
    n.get("name").and_then(Node::text).is_some()
        && [
            "load_assignment",
            "lb_policy",
            "type",
            "connect_timeout",
            "eds_cluster_config",
            "health_checks",
            "load_balancing_policy",
        ]
        .iter()
        .any(|k| n.get(k).is_some())
}

fn type_url(n: &Node) -> &str {
    n.get("@type").and_then(Node::text).unwrap_or("")
}

/// The clusters of the document, and the ClusterLoadAssignment resources beside them.
fn find_clusters(root: &Node) -> (Vec<&Node>, Vec<&Node>) {
    let mut clusters = Vec::new();
    let mut assignments = Vec::new();
    match &root.kind {
        Kind::Seq(items) => clusters.extend(items.iter().filter(|n| is_cluster(n))),
        Kind::Map(_) => {
            if let Some(c) = root.get("static_resources").and_then(|s| s.get("clusters")) {
                clusters.extend(c.items());
            }
            if let Some(c) = root.get("clusters") {
                clusters.extend(c.items());
            }
            for r in root.get("resources").map_or(&[][..], Node::items) {
                // A discovery response wraps each resource in a Resource with `resource`.
                let r = r.get("resource").unwrap_or(r);
                let t = type_url(r);
                if t.ends_with(".Cluster") {
                    clusters.push(r);
                } else if t.ends_with(".ClusterLoadAssignment") {
                    assignments.push(r);
                }
            }
            if clusters.is_empty() && is_cluster(root) {
                clusters.push(root);
            }
        }
        Kind::Scalar(..) => {}
    }
    (clusters, assignments)
}

/// A route that sends requests to the cluster: the route action, the virtual host's
/// retry policy, and where the route is.
pub(crate) struct Route<'a> {
    pub action: &'a Node,
    pub vhost_retry: Option<&'a Node>,
    pub at: Loc,
}

/// The routes (in file order) whose action names `cluster`, directly or among weighted
/// clusters, and the TCP proxies that do.
pub(crate) struct Routes<'a> {
    pub http: Vec<Route<'a>>,
    pub tcp: Vec<Loc>,
}

fn find_routes<'a>(root: &'a Node, cluster: &str) -> Routes<'a> {
    let mut out = Routes {
        http: Vec::new(),
        tcp: Vec::new(),
    };
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        match &n.kind {
            Kind::Map(m) => {
                if n.get("domains").is_some()
                    && let Some(routes) = n.get("routes")
                {
                    for r in routes.items() {
                        let Some(action) = r.get("route") else {
                            continue;
                        };
                        let direct = action.get("cluster").and_then(Node::text) == Some(cluster);
                        let weighted = action
                            .get("weighted_clusters")
                            .and_then(|w| w.get("clusters"))
                            .is_some_and(|cs| {
                                cs.items()
                                    .iter()
                                    .any(|c| c.get("name").and_then(Node::text) == Some(cluster))
                            });
                        if direct || weighted {
                            out.http.push(Route {
                                action,
                                vhost_retry: n.get("retry_policy"),
                                at: r.at.clone(),
                            });
                        }
                    }
                }
                if n.get("stat_prefix").is_some()
                    && n.get("cluster").and_then(Node::text) == Some(cluster)
                {
                    out.tcp.push(n.at.clone());
                }
                // Children in reverse so that the stack visits them in file order.
                stack.extend(m.iter().rev().map(|(_, _, v)| v));
            }
            Kind::Seq(s) => stack.extend(s.iter().rev()),
            Kind::Scalar(..) => {}
        }
    }
    out.http.sort_by(|a, b| a.at.cmp(&b.at));
    out
}

/// An endpoint's address as a group name source: `ADDRESS:PORT`, a pipe path, or its
/// hostname.
fn endpoint_name(e: &Node) -> Option<String> {
    let addr = e.get("address")?;
    if let Some(sa) = addr.get("socket_address") {
        let a = sa.get("address").and_then(Node::text)?;
        return Some(match sa.get("port_value").and_then(Node::text) {
            Some(p) => format!("{a}:{p}"),
            None => match sa.get("named_port").and_then(Node::text) {
                Some(p) => format!("{a}:{p}"),
                None => a.to_string(),
            },
        });
    }
    addr.get("pipe")
        .and_then(|p| p.get("path"))
        .and_then(Node::text)
        .map(str::to_string)
        .or_else(|| e.get("hostname").and_then(Node::text).map(str::to_string))
}

/// `load_assignment`: one `[[servers]]` group per endpoint, by priority then file order.
fn endpoints(a: &Node, f: &mut Fragment) -> Result<(), ImportError> {
    let mut found: Vec<(u32, String, u32, Loc)> = Vec::new();
    for (k, at, v) in a.entries() {
        match k.as_str() {
            "cluster_name" | "endpoints" | "@type" | "policy" => {}
            _ => f.directives.push(at.clone()),
        }
        match k.as_str() {
            "cluster_name" | "endpoints" | "@type" => {}
            "policy" => {
                for (pk, pat, pv) in v.entries() {
                    f.directives.push(pat.clone());
                    if pk == "overprovisioning_factor" {
                        let of = uint(pv, "overprovisioning_factor", 10_000)?;
                        if of == 0 {
                            return Err(ImportError::at(
                                &pv.at,
                                "overprovisioning_factor must be at least 1",
                            ));
                        }
                        f.lb.push(super::entry(
                            "overprovisioning_factor",
                            super::Value::Int(of),
                            format!("load_assignment.policy.overprovisioning_factor ({pat})"),
                        ));
                    } else {
                        f.skip(pat, format!("policy.{pk}"), "not modelled by lblab");
                    }
                }
            }
            _ => f.skip(
                at,
                k.clone(),
                "not a ClusterLoadAssignment field lblab knows",
            ),
        }
    }
    let Some(localities) = a.get("endpoints") else {
        return Err(ImportError::at(&a.at, "load_assignment has no endpoints"));
    };
    for loc in localities.items() {
        let priority = match loc.get("priority") {
            Some(p) => uint(p, "priority", 127)? as u32,
            None => 0,
        };
        for (k, at, v) in loc.entries() {
            if !matches!(k.as_str(), "lb_endpoints" | "priority") {
                f.directives.push(at.clone());
            }
            match k.as_str() {
                "lb_endpoints" | "priority" => {}
                "locality" | "proximity" => f.skip(
                    at,
                    k.clone(),
                    "localities are not modelled: every endpoint counts alike",
                ),
                "load_balancing_weight" => f.skip(
                    at,
                    format!("load_balancing_weight {}", v.text().unwrap_or("")),
                    "locality weights (locality_weighted_lb_config) are not modelled",
                ),
                _ => f.skip(at, k.clone(), "not a LocalityLbEndpoints field lblab knows"),
            }
        }
        for ep in loc.get("lb_endpoints").map_or(&[][..], Node::items) {
            let Some(e) = ep.get("endpoint") else {
                return Err(ImportError::at(
                    &ep.at,
                    "an lb_endpoint without `endpoint` (lblab needs the endpoints' addresses in the file)",
                ));
            };
            let addr = endpoint_name(e).ok_or_else(|| {
                ImportError::at(&e.at, "an endpoint without address.socket_address.address")
            })?;
            let mut weight = 1;
            let mut weight_at: Option<Loc> = None;
            let mut keep = true;
            for (k, at, v) in ep.entries() {
                let healthy =
                    k == "health_status" && matches!(v.text(), Some("UNKNOWN" | "HEALTHY"));
                if !matches!(k.as_str(), "endpoint" | "load_balancing_weight") && !healthy {
                    f.directives.push(at.clone());
                }
                match k.as_str() {
                    "endpoint" => {
                        for (ek, eat, _) in e.entries() {
                            if !matches!(ek.as_str(), "address" | "hostname") {
                                f.skip(eat, format!("endpoint.{ek}"), "no effect in lblab");
                            }
                        }
                    }
                    "load_balancing_weight" => {
                        weight = uint(v, "load_balancing_weight", 1_000_000)? as u32;
                        weight_at = Some(at.clone());
                        if weight == 0 {
                            return Err(ImportError::at(
                                &v.at,
                                "load_balancing_weight must be at least 1 (Envoy refuses 0)",
                            ));
                        }
                    }
                    "health_status" => match text(v, "health_status")? {
                        "UNKNOWN" | "HEALTHY" => {}
                        "DEGRADED" => f.skip(
                            at,
                            format!("{addr}: health_status DEGRADED"),
                            "degraded hosts are not modelled: it counts as healthy",
                        ),
                        s @ ("UNHEALTHY" | "DRAINING" | "TIMEOUT") => {
                            keep = false;
                            f.skip(
                                at,
                                format!("{addr}: health_status {s}"),
                                "Envoy sends it no traffic (outside panic): left out of [[servers]]",
                            );
                        }
                        s => {
                            return Err(ImportError::at(
                                &v.at,
                                format!("unknown health_status \"{s}\""),
                            ));
                        }
                    },
                    "metadata" => f.skip(at, k.clone(), "subsets and metadata are not modelled"),
                    _ => f.skip(at, k.clone(), "not an LbEndpoint field lblab knows"),
                }
            }
            if keep {
                if let Some(w) = &weight_at {
                    f.directives.push(w.clone());
                }
                found.push((
                    priority,
                    addr,
                    weight,
                    weight_at.unwrap_or_else(|| e.at.clone()),
                ));
            }
        }
    }
    if found.is_empty() {
        return Err(ImportError::at(
            &a.at,
            "load_assignment has no endpoint that takes traffic",
        ));
    }
    found.sort_by_key(|x| x.0);
    if let Some((p, ..)) = found.iter().find(|x| x.0 > 0) {
        f.lb.push(super::entry(
            "priority_rule",
            super::Value::Str("envoy".into()),
            format!("endpoints at priority {p}: Envoy's priority levels"),
        ));
    }
    for (priority, addr, weight, at) in found {
        let name = super::group_name(&addr, &f.groups);
        f.groups.push(Group {
            from: format!(
                "endpoint {addr}{}{} ({at})",
                if weight != 1 {
                    format!(", load_balancing_weight {weight}")
                } else {
                    String::new()
                },
                if priority > 0 {
                    format!(", priority {priority}")
                } else {
                    String::new()
                }
            ),
            name,
            weight,
            backup: false,
            priority,
        });
    }
    Ok(())
}
