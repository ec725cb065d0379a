//! What report.html singles out: the "best" mark of each row of the comparison table and
//! the "what stands out" bullets.
//!
//! A variant that loses requests looks good on every figure measured over the requests
//! that succeeded: its latency, attempts per request and retries count only those. So
//! those metrics are compared only among variants whose error rate is not significantly
//! higher than the lowest one's: the paired 95% Student-t interval of the per-replication
//! difference (variant − lowest, on common random numbers) lies above zero, or, without
//! paired replications, the two intervals do not overlap (with one replication, any
//! higher error rate counts). Relative differences are phrased by
//! [`super::paired::compare_means`]: `41% lower`, `230× lower`, or the absolute change
//! from zero.

use std::fmt::Write;

use super::html::{describe, esc, possessive, with_unit};
use super::paired::compare_means;
use super::results::{Estimate, Results};
use crate::metrics::stats;

/// Metrics that look better when requests fail: they count only the requests that
/// succeeded (latency, queue wait, service time) or that were attempted (attempts,
/// retries, attempts sent to failed servers), or they measure evenness, which a variant
/// that keeps a failing server in rotation has and one that takes it out does not
/// (imbalance).
pub(super) fn flattered_by_failure(key: &str) -> bool {
    [
        "latency_",
        "wait_",
        "service_",
        "attempts_per",
        "retries",
        "sent_to_failed",
        "imbalance_",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}

/// Variants that fail significantly more requests than the one with the lowest error rate.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Failing {
    /// The variant with the lowest mean error rate, and that rate (%).
    pub lowest: (String, f64),
    /// The variants whose error rate is significantly higher, with their rates (%).
    pub worse: Vec<(String, f64)>,
}

impl Failing {
    /// Whether `alg` fails significantly more than the lowest.
    pub fn excludes(&self, alg: &str) -> bool {
        self.worse.iter().any(|(a, _)| a == alg)
    }

    /// The sentence that says who is left out and why (HTML), or `None`.
    pub fn sentence(&self) -> Option<String> {
        if self.worse.is_empty() {
            return None;
        }
        let names: Vec<String> = self
            .worse
            .iter()
            .map(|(a, _)| format!("<b>{}</b>", esc(a)))
            .collect();
        let rates: Vec<String> = self
            .worse
            .iter()
            .map(|(_, r)| esc(&with_unit(*r, "%")))
            .collect();
        let (many, verb, their) = if names.len() == 1 {
            ("", "fails", "its")
        } else {
            ("s", "fail", "their")
        };
        Some(format!(
            "{} {verb} significantly more requests than <b>{}</b> (error rate{many} {} vs {}; the paired 95% CI of the difference lies above zero), so {their} latency, attempts and retries (which count only what succeeded) and imbalance (keeping a failing server in rotation spreads the load evenly) are left out of those comparisons and best marks.",
            join(&names),
            esc(&self.lowest.0),
            join(&rates),
            esc(&with_unit(self.lowest.1, "%")),
        ))
    }
}

fn join(xs: &[String]) -> String {
    match xs {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Which variants fail significantly more than the one with the lowest error rate, from
/// each variant's estimate and per-replication values `(replication, value)` of the error
/// rate. `None` if fewer than two variants have one.
pub(super) fn failing_more(
    algs: &[String],
    estimate: impl Fn(&str) -> Option<Estimate>,
    values: impl Fn(&str) -> Vec<(u32, f64)>,
) -> Option<Failing> {
    let ests: Vec<(&String, Estimate)> = algs
        .iter()
        .filter_map(|a| estimate(a).map(|e| (a, e)))
        .filter(|(_, e)| e.mean.is_finite())
        .collect();
    if ests.len() < 2 {
        return None;
    }
    let (low_name, low) = ests
        .iter()
        .min_by(|a, b| a.1.mean.total_cmp(&b.1.mean))
        .copied()?;
    let low_vals = values(low_name);
    let mut worse = Vec::new();
    for (a, e) in &ests {
        if *a == low_name || e.mean <= low.mean {
            continue;
        }
        let vals = values(a);
        let diffs: Vec<f64> = vals
            .iter()
            .filter_map(|(r, v)| low_vals.iter().find(|(q, _)| q == r).map(|(_, w)| v - w))
            .filter(|d| d.is_finite())
            .collect();
        let significant = if diffs.len() >= 2 {
            stats::estimate(&diffs).lo() > 0.0
        } else if e.has_ci() && low.has_ci() {
            e.lo > low.hi
        } else {
            true
        };
        if significant {
            worse.push(((*a).clone(), e.mean));
        }
    }
    Some(Failing {
        lowest: (low_name.clone(), low.mean),
        worse,
    })
}

/// The failing-more test over a `summary.csv`.
pub(super) fn failing_in_summary(r: &Results) -> Failing {
    let Some(s) = &r.summary else {
        return Failing::default();
    };
    let Some(m) = s.metric("error_rate_pct") else {
        return Failing::default();
    };
    let algs: Vec<String> = r
        .algorithms()
        .into_iter()
        .filter(|a| s.algorithms.contains(a))
        .collect();
    failing_more(
        &algs,
        |a| s.estimate(a, "error_rate_pct"),
        |a| {
            s.rows
                .iter()
                .filter(|x| x.algorithm == a && x.stat == "value")
                .filter_map(|x| Some((x.replication?, *x.values.get(m)?)))
                .collect()
        },
    )
    .unwrap_or_default()
}

/// Which way a metric is better.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Better {
    Lower,
    Higher,
}

pub(super) fn better(key: &str) -> Option<Better> {
    use Better::*;
    let lower_prefix = [
        "latency_",
        "wait_",
        "errors",
        "error_rate",
        "sessions_",
        "keys_remapped",
        "attempts_per",
        "retries",
        "detection_",
        "recovery_",
        "sent_to_failed",
        "false_ejections",
        "lb_",
        "reconnect",
        "connections_moved",
        "conntrack_drops",
        "handshakes",
    ];
    if key == "throughput_rps" || key == "completed" || key == "cache_hit_ratio_pct" {
        Some(Higher)
    } else if key.starts_with("imbalance_") {
        Some(if key.ends_with("_jain") {
            Higher
        } else {
            Lower
        })
    } else if lower_prefix.iter().any(|p| key.starts_with(p)) {
        Some(Lower)
    } else {
        None
    }
}

/// What can be said about one metric across algorithms.
#[derive(Clone, Debug, PartialEq)]
enum Finding {
    /// Best and worst differ with non-overlapping CIs: a full bullet.
    Clear(String),
    /// Best and worst differ but their CIs overlap (or are unknown): `noun`.
    Unclear(String),
    /// Every algorithm has the same value: `noun (value)`.
    Same(String),
    /// Nothing to say (fewer than two values, or all zero and not worth a word).
    Nothing,
    /// No algorithm had any errors.
    NoErrors,
}

/// Compares one metric over several algorithms (best first by `dir`).
fn stand_out(noun: &str, unit: &str, dir: Better, ests: &[(String, Estimate)]) -> Finding {
    let mut v: Vec<&(String, Estimate)> = ests.iter().filter(|(_, e)| e.mean.is_finite()).collect();
    if v.len() < 2 {
        return Finding::Nothing;
    }
    if v.iter().all(|(_, e)| e.mean == 0.0) {
        return if noun.contains("error") {
            Finding::NoErrors
        } else {
            Finding::Nothing
        };
    }
    let first = v[0].1.mean;
    if v.iter()
        .all(|(_, e)| (e.mean - first).abs() <= 1e-9 * first.abs().max(1e-12))
    {
        return Finding::Same(format!("{} ({})", esc(noun), esc(&with_unit(first, unit))));
    }
    // Best first; ties keep file order.
    v.sort_by(|a, b| match dir {
        Better::Lower => a.1.mean.total_cmp(&b.1.mean),
        Better::Higher => b.1.mean.total_cmp(&a.1.mean),
    });
    let (best, worst) = (v[0], v[v.len() - 1]);
    if !best.1.separated_from(&worst.1) {
        return Finding::Unclear(esc(noun));
    }
    let compare = |a: &(String, Estimate), b: &(String, Estimate)| -> String {
        let how = compare_means(a.1.mean, b.1.mean, unit).unwrap_or_else(|| "the same".into());
        format!(
            "{} {} is {} than {}",
            esc(&possessive(&a.0)),
            esc(noun),
            esc(&how),
            esc(&possessive(&b.0))
        )
    };
    let mut s = format!(
        "<b>{}</b>: best <b>{}</b> ({}), worst <b>{}</b> ({}). {} (CIs do not overlap).",
        esc(noun),
        esc(&best.0),
        esc(&with_unit(best.1.mean, unit)),
        esc(&worst.0),
        esc(&with_unit(worst.1.mean, unit)),
        compare(best, worst)
    );
    if v.len() >= 3 {
        let second = v[1];
        if best.1.separated_from(&second.1) {
            let _ = write!(
                s,
                " Ahead of the runner-up too: {} (CIs do not overlap).",
                compare(best, second)
            );
        } else {
            let _ = write!(
                s,
                " {} and {} are not distinguishable (CIs overlap).",
                esc(&best.0),
                esc(&second.0)
            );
        }
    }
    Finding::Clear(s)
}

/// Bullets from findings: the clear differences first, then one line for the rest.
fn summarise(findings: Vec<Finding>, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut unclear, mut same) = (Vec::new(), Vec::new());
    for f in findings {
        match f {
            Finding::Clear(s) => out.push(format!("{prefix}{s}")),
            Finding::Unclear(n) => unclear.push(n),
            Finding::Same(n) => same.push(n),
            Finding::NoErrors => out.push(format!("{prefix}No algorithm had any errors.")),
            Finding::Nothing => {}
        }
    }
    let list = |xs: &[String]| match xs {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    if !unclear.is_empty() {
        out.push(format!(
            "{prefix}No clear difference (95% CIs overlap between best and worst) in {}.",
            list(&unclear)
        ));
    }
    if !same.is_empty() {
        out.push(format!(
            "{prefix}The same for every variant: {}.",
            list(&same)
        ));
    }
    out
}

/// The metrics "what stands out" talks about, with the noun used in sentences.
const KEY_METRICS: [(&str, &str); 14] = [
    ("latency_p99_ms", "p99 latency"),
    ("latency_mean_ms", "mean latency"),
    ("error_rate_pct", "error rate"),
    ("throughput_rps", "throughput"),
    ("imbalance_busy_max_mean", "busy-time imbalance (max/mean)"),
    (
        "imbalance_requests_max_mean",
        "request imbalance (max/mean)",
    ),
    ("detection_mean_s", "failure detection time"),
    ("sent_to_failed", "attempts sent to failed servers"),
    ("false_ejections", "false ejections"),
    ("lb_failover_mean_s", "load balancer failover time"),
    ("lb_outage_mean_s", "load balancer outage"),
    (
        "imbalance_connections_max_mean",
        "connection imbalance (max/mean)",
    ),
    ("reconnect_peak_per_s", "reconnect peak"),
    ("connections_moved", "connections placed on another backend"),
];

pub(super) fn bullets(r: &Results) -> Vec<String> {
    let mut out = Vec::new();
    let algs = r.algorithms();
    if let Some(s) = &r.summary {
        let failing = failing_in_summary(r);
        out.extend(failing.sentence());
        let mut findings = Vec::new();
        for (key, noun) in KEY_METRICS {
            let Some(dir) = better(key) else { continue };
            if s.metric(key).is_none() {
                continue;
            }
            let ests: Vec<(String, Estimate)> = algs
                .iter()
                .filter(|a| !(flattered_by_failure(key) && failing.excludes(a)))
                .filter_map(|a| s.estimate(a, key).map(|e| (a.clone(), e)))
                .collect();
            let (_, unit, _) = describe(key);
            if algs.len() == 1 && ests.len() == 1 {
                let e = ests[0].1;
                if e.mean.is_finite() && key == "latency_p99_ms" {
                    out.push(format!(
                        "<b>{}</b>: {} ({})",
                        esc(noun),
                        esc(&with_unit(e.mean, &unit)),
                        esc(&ests[0].0)
                    ));
                }
                continue;
            }
            findings.push(stand_out(noun, &unit, dir, &ests));
        }
        out.extend(summarise(findings, ""));
    }
    if let Some(sw) = &r.sweep {
        let points = sw.points();
        let mut ends = vec![points.first(), points.last()];
        ends.dedup();
        for (p, settings) in ends.iter().flatten() {
            let mut findings = Vec::new();
            let failing = sw
                .metrics
                .iter()
                .position(|k| k == "error_rate_pct")
                .and_then(|m| {
                    failing_more(
                        &algs,
                        |a| sw.estimate(a, *p, "error_rate_pct"),
                        |a| {
                            sw.rows
                                .iter()
                                .filter(|x| {
                                    x.point == *p && x.row.algorithm == a && x.row.stat == "value"
                                })
                                .filter_map(|x| Some((x.row.replication?, *x.row.values.get(m)?)))
                                .collect()
                        },
                    )
                })
                .unwrap_or_default();
            for (key, noun) in [
                ("latency_p99_ms", "p99 latency"),
                ("throughput_rps", "throughput"),
            ] {
                let Some(dir) = better(key) else { continue };
                if !sw.metrics.iter().any(|m| m == key) {
                    continue;
                }
                let ests: Vec<(String, Estimate)> = algs
                    .iter()
                    .filter(|a| !(flattered_by_failure(key) && failing.excludes(a)))
                    .filter_map(|a| sw.estimate(a, *p, key).map(|e| (a.clone(), e)))
                    .collect();
                let (_, unit, _) = describe(key);
                findings.push(stand_out(noun, &unit, dir, &ests));
            }
            let at: Vec<String> = sw
                .keys
                .iter()
                .zip(settings)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.extend(summarise(
                findings,
                &format!("At <code>{}</code>: ", esc(&at.join(", "))),
            ));
        }
    }
    if let Some(sentence) = r.failovers.as_deref().and_then(undetected) {
        out.push(sentence);
    }
    if let Some(hs) = &r.health {
        let false_downs = hs
            .iter()
            .filter(|h| h.false_alarm && h.state == "down")
            .count();
        if false_downs > 0 {
            out.push(format!(
                "Health checks ejected healthy servers {false_downs} time{} in all (false alarms, e.g. lost probes).",
                if false_downs == 1 { "" } else { "s" }
            ));
        }
    }
    out
}

/// The `class` attribute of each cell of a row: `best` on the best mean (if the values
/// differ), `best clear` when its 95% CI does not overlap any other's.
/// Cells where `excluded` is true take no part (a variant that fails significantly more,
/// on a metric failure flatters).
pub(super) fn best_classes(
    ests: &[Option<Estimate>],
    dir: Option<Better>,
    excluded: &[bool],
) -> Vec<&'static str> {
    let mut out = vec![""; ests.len()];
    let Some(dir) = dir else { return out };
    let vals: Vec<(usize, Estimate)> = ests
        .iter()
        .enumerate()
        .filter(|(i, _)| !excluded.get(*i).copied().unwrap_or(false))
        .filter_map(|(i, e)| e.map(|e| (i, e)))
        .filter(|(_, e)| e.mean.is_finite())
        .collect();
    if vals.len() < 2 {
        return out;
    }
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, e)| {
            (a.min(e.mean), b.max(e.mean))
        });
    if hi - lo <= 1e-12 * hi.abs().max(1e-12) {
        return out;
    }
    let target = if dir == Better::Lower { lo } else { hi };
    let best: Vec<&(usize, Estimate)> = vals.iter().filter(|(_, e)| e.mean == target).collect();
    let clear = best.len() == 1
        && vals
            .iter()
            .filter(|(i, _)| *i != best[0].0)
            .all(|(_, e)| best[0].1.separated_from(e));
    for (i, _) in best {
        out[*i] = if clear {
            " class=\"best clear\""
        } else {
            " class=\"best\""
        };
    }
    out
}

/// How many faults the load balancer had to detect and never did. A drain takes its
/// server out of rotation by itself (deregistration), so it is not counted.
fn undetected(fs: &[crate::report::results::Failover]) -> Option<String> {
    let must = || fs.iter().filter(|f| f.kind != "drain");
    let undetected = must().filter(|f| !f.detected_s.is_finite()).count();
    (undetected > 0).then(|| {
        format!(
            "{undetected} of {} failure × node × replication rows were never detected by the load balancer during the fault (see Failovers).",
            must().count()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_needs_no_detection() {
        let row = |kind: &str, detected_s: f64| crate::report::results::Failover {
            algorithm: "a".into(),
            replication: 0,
            failure: 0,
            kind: kind.into(),
            server: "s-1".into(),
            node: 1,
            fault_s: 10.0,
            detected_s,
            detection_s: detected_s - 10.0,
            repair_s: 20.0,
            recovered_s: f64::NAN,
            recovery_s: f64::NAN,
            sent: 0.0,
            failed: 0.0,
        };
        assert_eq!(
            undetected(&[row("drain", f64::NAN), row("drain", f64::NAN)]),
            None
        );
        let s = undetected(&[
            row("drain", f64::NAN),
            row("crash", f64::NAN),
            row("crash", 12.0),
        ]);
        assert!(s.unwrap().starts_with("1 of 2 failure"));
    }

    fn est(mean: f64, half: f64) -> Estimate {
        Estimate {
            mean,
            lo: mean - half,
            hi: mean + half,
        }
    }

    #[test]
    fn failing_more_uses_the_paired_difference() {
        let algs: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        // b fails a little more in every replication (paired CI above 0) although the
        // intervals of the means overlap; c is noise around a.
        let vals = |a: &str| -> Vec<(u32, f64)> {
            let base = [1.0, 3.0, 2.0, 4.0];
            base.iter()
                .enumerate()
                .map(|(i, v)| {
                    let x = match a {
                        "a" => *v,
                        "b" => v + 0.5,
                        _ => v + if i % 2 == 0 { 0.3 } else { -0.2 },
                    };
                    (i as u32, x)
                })
                .collect()
        };
        let e = |a: &str| {
            let xs: Vec<f64> = vals(a).iter().map(|p| p.1).collect();
            let s = stats::estimate(&xs);
            Some(Estimate {
                mean: s.mean,
                lo: s.lo(),
                hi: s.hi(),
            })
        };
        let f = failing_more(&algs, e, vals).unwrap();
        assert_eq!(f.lowest.0, "a");
        assert_eq!(f.worse.len(), 1);
        assert_eq!(f.worse[0].0, "b");
        assert!(f.excludes("b") && !f.excludes("c"));
        assert!(
            f.sentence()
                .unwrap()
                .contains("<b>b</b> fails significantly more")
        );
        // Without per-replication values: disjoint intervals decide.
        let f = failing_more(
            &algs,
            |a| {
                Some(if a == "c" {
                    est(30.0, 1.0)
                } else {
                    est(1.0, 2.0)
                })
            },
            |_| Vec::new(),
        )
        .unwrap();
        assert_eq!(f.worse, vec![("c".to_string(), 30.0)]);
    }

    #[test]
    fn best_marks_skip_excluded_variants() {
        let ests = [
            Some(est(10.0, 0.1)),
            Some(est(20.0, 0.1)),
            Some(est(30.0, 0.1)),
        ];
        let c = best_classes(&ests, Some(Better::Lower), &[true, false, false]);
        assert_eq!(c, ["", " class=\"best clear\"", ""]);
        let c = best_classes(&ests, Some(Better::Lower), &[]);
        assert_eq!(c[0], " class=\"best clear\"");
        assert!(
            flattered_by_failure("latency_p99_ms") && flattered_by_failure("attempts_per_request")
        );
        assert!(flattered_by_failure("imbalance_requests_cov"));
        assert!(!flattered_by_failure("error_rate_pct") && !flattered_by_failure("throughput_rps"));
    }
}
