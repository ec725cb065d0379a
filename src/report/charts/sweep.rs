//! (e) Sweep curves: a metric against the first swept key.

use super::*;

/// A swept key's values as numbers in one unit (plain numbers, rates per second,
/// durations in seconds or ms), with the axis description: `None` if they are not all
/// numbers of one kind.
fn swept_numbers(key: &str, values: &[String]) -> Option<(Vec<f64>, String)> {
    use crate::scenario::units::{parse_duration, parse_rate};
    let all = |f: &dyn Fn(&str) -> Option<f64>| -> Option<Vec<f64>> {
        values.iter().map(|v| f(v)).collect()
    };
    let numeric = all(&|v| v.trim().replace('_', "").parse::<f64>().ok()).map(|x| (x, ""));
    let rate = || all(&|v| parse_rate(v).ok()).map(|x| (x, "req/s"));
    let duration = || {
        all(&|v| parse_duration(v).ok().map(|t| t.as_secs_f64())).map(|x| {
            if x.iter().all(|s| *s < 1.0) {
                (x.iter().map(|s| s * 1e3).collect(), "ms")
            } else {
                (x, "s")
            }
        })
    };
    let (xs, unit) = numeric.or_else(rate).or_else(duration)?;
    if !xs.iter().all(|x| x.is_finite()) {
        return None;
    }
    Some((xs, with_unit(key, unit)))
}

/// How a swept key's values become numbers: plain numbers, rates (per second), durations
/// (seconds or ms), or else categories in sweep order.
pub(super) fn sweep_axis(key: &str, values: &[String]) -> (Vec<f64>, Axis) {
    match swept_numbers(key, values) {
        Some((xs, desc)) => {
            let (lo, hi) = min_max(xs.iter().copied());
            let pad = ((hi - lo) * 0.05).max(hi.abs() * 0.02).max(1e-9);
            (xs, Axis::linear(lo - pad, hi + pad, &desc))
        }
        None => {
            let xs = (0..values.len()).map(|i| i as f64).collect();
            (xs, Axis::categories(values, key))
        }
    }
}

/// A swept key's values as categories (for the heatmap), labelled like every other tick:
/// numbers in one unit written by [`tick_labels`] (`200/s` becomes `200`, unit `req/s` in the
/// description), anything else as written.
pub(super) fn sweep_categories(key: &str, values: &[String]) -> Axis {
    match swept_numbers(key, values) {
        Some((xs, desc)) => {
            let labels = tick_labels(&xs);
            Axis::categories(&labels, &desc)
        }
        None => Axis::categories(values, key),
    }
}

pub(super) fn metric_label(key: &str) -> (String, String) {
    match crate::metrics::METRICS.iter().find(|m| m.key == key) {
        Some(m) => (m.label.trim().to_string(), m.unit.to_string()),
        None => (key.to_string(), String::new()),
    }
}

pub(super) fn with_unit(label: &str, unit: &str) -> String {
    if unit.is_empty() {
        label.to_string()
    } else {
        format!("{label} ({unit})")
    }
}

/// Distinct values of swept key `k`, in point order.
pub(super) fn distinct(points: &[(u32, Vec<String>)], k: usize) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for (_, s) in points {
        if let Some(x) = s.get(k).filter(|x| !v.contains(x)) {
            v.push(x.clone());
        }
    }
    v
}

/// (e) `metric` against the first swept key, one line per algorithm with 95% CI whiskers:
/// the hockey stick. With more swept keys, one panel per combination of their values (at
/// most six) on shared axes. `None` without `sweep.csv` or that metric.
pub fn sweep_curves(r: &Results, metric: &str) -> Result<Option<Chart>, ChartError> {
    let Some(sw) = &r.sweep else {
        return Ok(None);
    };
    if sw.keys.is_empty() || !sw.metrics.iter().any(|m| m == metric) {
        return Ok(None);
    }
    const MAX_PANELS: usize = 6;
    let points = sw.points();
    let xs_vals = distinct(&points, 0);
    let (xnum, mut x) = sweep_axis(&sw.keys[0], &xs_vals);
    let algs = r.algorithms();
    let lks = looks(&algs);
    // Panels: the values of the other swept keys.
    let rest_of = |s: &[String]| s[1..].to_vec();
    let mut rests: Vec<Vec<String>> = Vec::new();
    for (_, s) in &points {
        let rs = rest_of(s);
        if !rests.contains(&rs) {
            rests.push(rs);
        }
    }
    let n_rests = rests.len();
    rests.truncate(MAX_PANELS);
    // (panel title, [(algorithm index, points)])
    type Line = (usize, Vec<(f64, Estimate)>);
    let mut panels: Vec<(String, Vec<Line>)> = Vec::new();
    let mut gaps = false;
    for rs in &rests {
        let title: Vec<String> = sw.keys[1..]
            .iter()
            .zip(rs)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut lines = Vec::new();
        for (ai, a) in algs.iter().enumerate() {
            let mut pts: Vec<(f64, Estimate)> = points
                .iter()
                .filter(|(_, s)| rest_of(s) == *rs)
                .filter_map(|(p, s)| {
                    let xi = xs_vals.iter().position(|v| *v == s[0])?;
                    let e = sw.estimate(a, *p, metric).filter(|e| e.mean.is_finite());
                    gaps |= e.is_none();
                    Some((xnum[xi], e?))
                })
                .collect();
            pts.sort_by(|p, q| p.0.total_cmp(&q.0));
            if !pts.is_empty() {
                lines.push((ai, pts));
            }
        }
        if !lines.is_empty() {
            panels.push((title.join(", "), lines));
        }
    }
    if panels.is_empty() {
        return Ok(None);
    }
    let (label, unit) = metric_label(metric);
    // Means and upper bounds set the range; a lower bound is clipped to it.
    let vals: Vec<f64> = panels
        .iter()
        .flat_map(|p| p.1.iter())
        .flat_map(|l| l.1.iter().flat_map(|(_, e)| [e.mean, e.hi]))
        .collect();
    let y = Axis::auto(&vals, &with_unit(&label, &unit), 1000.0);
    let title = format!(
        "{} · {} vs {}, by {}",
        r.scenario(),
        label,
        sw.keys[0],
        varied(r)
    );
    let mut shown: Vec<usize> = panels
        .iter()
        .flat_map(|p| p.1.iter().map(|l| l.0))
        .collect();
    shown.sort_unstable();
    shown.dedup();
    let items: Vec<(Key, String)> = shown
        .iter()
        .map(|i| (Key::Line(lks[*i]), legend_name(r, &algs[*i])))
        .collect();
    let n = panels.len();
    let cols = if n <= 3 { n } else { n.div_ceil(2) };
    let rows = n.div_ceil(cols);
    // Thin categorical labels to the panel width.
    let panel_px = (SIZE.0 as f64 - 40.0) / cols as f64 - 80.0;
    x.thin(panel_px);
    let cap = (x.hi - x.lo) * 0.008 * cols as f64;
    let caption = format!(
        "{label} at each value of {}, one line per algorithm; whiskers are 95% confidence intervals. Where a line turns up sharply the system has reached its knee.{}{}",
        sw.keys[0],
        if gaps {
            " A missing point is undefined in every replication (no request completed there)."
        } else {
            ""
        },
        if n_rests > 1 {
            format!(
                " One panel per value of {}{}.",
                sw.keys[1..].join(" × "),
                if n_rests > MAX_PANELS {
                    format!(" (the first {MAX_PANELS} of {n_rests})")
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        }
    );
    render(format!("sweep-{metric}"), title.clone(), caption, |root| {
        let body = titled(root, &title)?;
        let body = legend(&body, &items)?;
        let areas = body.split_evenly((rows, cols));
        for (k, (ptitle, lines)) in panels.iter().enumerate() {
            let area = if n > 1 {
                areas[k].titled(ptitle, text(15, &INK))?
            } else {
                areas[k].clone()
            };
            let (row, col) = (k / cols, k % cols);
            let bottom = row == rows - 1 || k + cols >= n;
            let mut xa = x.clone();
            let mut ya = y.clone();
            if !bottom {
                xa.desc.clear();
            }
            if col > 0 {
                ya.desc.clear();
            }
            let opts = PlaneOpts {
                x_area: if bottom { 52 } else { 26 },
                y_area: if col == 0 { 84 } else { 56 },
                x_grid: true,
            };
            let mut chart = plane(&area, &xa, &ya, &opts)?;
            for (ai, pts) in lines {
                let lk = lks[*ai];
                let line: Vec<(f64, f64)> =
                    pts.iter().map(|(px, e)| (*px, ya.at(e.mean))).collect();
                draw_line(&mut chart, line, lk, 2)?;
                for (px, e) in pts {
                    if e.has_ci() {
                        whisker(&mut chart, &ya, *px, e, cap, lk.colour)?;
                    }
                    marker(
                        &mut chart,
                        lk,
                        (*px, ya.at(e.mean)),
                        if n > 1 { 3 } else { 4 },
                    )?;
                }
            }
        }
        Ok(())
    })
    .map(Some)
}
