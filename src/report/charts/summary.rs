//! (b) p50 / p99 / p99.9 with CIs.

use super::*;

/// (b) p50, p99 and p99.9 of each algorithm with their 95% CIs, grouped by percentile.
/// `None` without `summary.csv` (or its latency columns).
pub fn latency_summary(r: &Results) -> Result<Option<Chart>, ChartError> {
    let Some(s) = &r.summary else {
        return Ok(None);
    };
    let groups: Vec<(&str, &str)> = [
        ("latency_p50_ms", "p50"),
        ("latency_p90_ms", "p90"),
        ("latency_p99_ms", "p99"),
        ("latency_p999_ms", "p99.9"),
    ]
    .into_iter()
    .filter(|(k, _)| s.metric(k).is_some() && *k != "latency_p90_ms")
    .collect();
    let algs = r.algorithms();
    let lks = looks(&algs);
    let mut pts: Vec<(usize, usize, Estimate)> = Vec::new();
    for (g, (key, _)) in groups.iter().enumerate() {
        for (i, a) in algs.iter().enumerate() {
            if let Some(e) = s.estimate(a, key).filter(|e| e.mean.is_finite()) {
                pts.push((g, i, e));
            }
        }
    }
    if pts.is_empty() {
        return Ok(None);
    }
    let shown: Vec<usize> = (0..algs.len())
        .filter(|i| pts.iter().any(|p| p.1 == *i))
        .collect();
    // Means and upper bounds set the range; a lower bound is clipped to it.
    let vals: Vec<f64> = pts.iter().flat_map(|(_, _, e)| [e.mean, e.hi]).collect();
    let y = Axis::auto(&vals, "latency (ms)", 20.0);
    let labels: Vec<String> = groups.iter().map(|g| g.1.to_string()).collect();
    let x = Axis::categories(&labels, "percentile");
    let items: Vec<(Key, String)> = shown
        .iter()
        .map(|i| (Key::Dot(lks[*i]), legend_name(r, &algs[*i])))
        .collect();
    let n = shown.len();
    let title = chart_title(r, "p50, p99 and p99.9 with 95% CIs");
    render(
        "latency-summary".into(),
        title.clone(),
        "The median, p99 and p99.9 of each algorithm: dots are means over replications, \
         whiskers their 95% confidence intervals. Whiskers that do not overlap mean a real \
         difference."
            .into(),
        |root| {
            let body = titled(root, &title)?;
            let body = legend(&body, &items)?;
            let mut chart = plane(
                &body,
                &x,
                &y,
                &PlaneOpts {
                    x_grid: false,
                    ..PLANE
                },
            )?;
            for (g, i, e) in &pts {
                let k = shown.iter().position(|s| s == i).unwrap_or(0);
                let cx = *g as f64 + dodge(k, n);
                let c = lks[*i].colour;
                if e.has_ci() {
                    whisker(&mut chart, &y, cx, e, 0.03, c)?;
                }
                marker(&mut chart, lks[*i], (cx, y.at(e.mean)), 5)?;
            }
            Ok(())
        },
    )
    .map(Some)
}
