//! `--format json`: a machine-readable summary on stdout.

use serde::Serialize;

use crate::metrics::{Aggregate, METRICS};

use super::RunInfo;

#[derive(Serialize)]
struct Doc<'a> {
    scenario: &'a str,
    description: &'a str,
    seed: u64,
    replications: u32,
    duration_s: f64,
    warmup_s: f64,
    algorithms: Vec<Alg<'a>>,
}

#[derive(Serialize)]
struct Alg<'a> {
    algorithm: &'a str,
    metrics: Vec<Metric<'a>>,
    servers: Vec<Server<'a>>,
}

#[derive(Serialize)]
struct Metric<'a> {
    key: &'a str,
    unit: &'a str,
    /// How the interval was made: `real`, `positive (log scale)`, `[0, 100]`, ...
    support: String,
    mean: Option<f64>,
    ci95_lo: Option<f64>,
    ci95_hi: Option<f64>,
    values: Vec<Option<f64>>,
}

#[derive(Serialize)]
struct Server<'a> {
    name: &'a str,
    group: &'a str,
    requests_mean: Option<f64>,
    share_mean: Option<f64>,
    utilization_mean: Option<f64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Renders the JSON summary (pretty-printed, newline-terminated).
pub fn summary_json(info: &RunInfo, aggs: &[Aggregate]) -> String {
    let doc = Doc {
        scenario: &info.scenario,
        description: &info.description,
        seed: info.seed,
        replications: info.replications,
        duration_s: info.duration_s,
        warmup_s: info.warmup_s,
        algorithms: aggs
            .iter()
            .map(|a| Alg {
                algorithm: &a.algorithm,
                metrics: METRICS
                    .iter()
                    .enumerate()
                    .map(|(i, m)| Metric {
                        key: m.key,
                        unit: m.unit,
                        support: m.support.describe(),
                        mean: finite(a.metrics[i].mean),
                        ci95_lo: finite(a.metrics[i].lo()),
                        ci95_hi: finite(a.metrics[i].hi()),
                        values: a.reps.iter().map(|r| finite(r.values[i])).collect(),
                    })
                    .collect(),
                servers: a
                    .servers
                    .iter()
                    .map(|s| Server {
                        name: &s.name,
                        group: &s.group,
                        requests_mean: finite(s.requests.mean),
                        share_mean: finite(s.share.mean),
                        utilization_mean: finite(s.utilization.mean),
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("serializable");
    s.push('\n');
    s
}
