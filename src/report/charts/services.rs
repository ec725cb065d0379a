//! (e) Multi-tier charts: each class's latency broken down by service, and one time-series
//! panel per service.

use super::*;
use crate::report::results::{HopStat, ServicePoint};

/// The colour of service `k` in the breakdown (services are not variants: they take the
/// palette in file order).
fn service_colour(k: usize) -> RGBColor {
    PALETTE[k % PALETTE.len()]
}

/// One stacked bar: its label and segments (service index, from, to).
type Bar = (String, Vec<(usize, f64, f64)>);

/// (e) Each class's latency broken down by service: one stacked bar per class and variant,
/// a segment per service the class reaches, as long as the mean time a client request of
/// the class spends at that service itself. `None` without `hops.csv`.
pub fn latency_breakdown(r: &Results) -> Result<Option<Chart>, ChartError> {
    let Some(hops) = &r.hops else {
        return Ok(None);
    };
    let algs = r.algorithms();
    let mut classes: Vec<&str> = Vec::new();
    let mut services: Vec<&str> = Vec::new();
    for h in hops {
        if !classes.contains(&h.class.as_str()) {
            classes.push(&h.class);
        }
        if !services.contains(&h.service.as_str()) {
            services.push(&h.service);
        }
    }
    let mut bars: Vec<Bar> = Vec::new();
    for c in &classes {
        for a in &algs {
            let mine: Vec<&HopStat> = hops
                .iter()
                .filter(|h| &h.algorithm == a && h.class == *c)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut at = 0.0;
            let mut segs = Vec::new();
            for (k, s) in services.iter().enumerate() {
                if let Some(h) = mine.iter().find(|h| h.service == *s)
                    && h.self_ms.mean.is_finite()
                    && h.self_ms.mean > 0.0
                {
                    segs.push((k, at, at + h.self_ms.mean));
                    at += h.self_ms.mean;
                }
            }
            let label = if algs.len() > 1 {
                format!("{c} · {}", legend_name(r, a))
            } else {
                c.to_string()
            };
            bars.push((label, segs));
        }
    }
    if bars.iter().all(|b| b.1.is_empty()) {
        return Ok(None);
    }
    let top = bars
        .iter()
        .filter_map(|b| b.1.last().map(|s| s.2))
        .fold(0.0, f64::max);
    let x = Axis::linear(0.0, top * 1.08, "mean time per client request (ms)");
    // Bars top to bottom in order: categories run bottom-up, so reverse.
    let labels: Vec<String> = bars.iter().rev().map(|b| b.0.clone()).collect();
    let y = Axis::categories(&labels, "");
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4);
    let y_area = ((widest as f64 * 8.0) as u32 + 16).clamp(84, 360);
    let items: Vec<(Key, String)> = services
        .iter()
        .enumerate()
        .map(|(k, s)| (Key::Swatch(service_colour(k)), s.to_string()))
        .collect();
    let title = format!(
        "{} · latency by service, per class{}",
        r.scenario(),
        if algs.len() > 1 {
            format!(" and {}", varied(r))
        } else {
            String::new()
        }
    );
    let n = bars.len();
    render(
        "latency-breakdown".into(),
        title.clone(),
        "Where a request's time goes: for each request class (and variant), one bar split \
         by service, each segment the mean time a client request spends at that service \
         itself — its tier, network, queue and work, not the calls it waits for — including \
         retries. Calls made one after another add up to the class's mean latency; calls \
         made in parallel overlap, so their segments add up to more (hops.csv has the \
         numbers)."
            .into(),
        |root| {
            let body = titled(root, &title)?;
            let body = legend(&body, &items)?;
            let mut chart = plane(&body, &x, &y, &PlaneOpts { y_area, ..PLANE })?;
            for (i, (_, segs)) in bars.iter().enumerate() {
                let yc = (n - 1 - i) as f64;
                for &(k, from, to) in segs {
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x.at(from), yc - 0.32), (x.at(to), yc + 0.32)],
                        service_colour(k).filled(),
                    )))?;
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(x.at(from), yc - 0.32), (x.at(to), yc + 0.32)],
                        WHITE.stroke_width(1),
                    )))?;
                }
            }
            Ok(())
        },
    )
    .map(Some)
}

/// (e) One chart per service: its throughput, errors and mean latency over time (replication
/// 0 of each variant). Empty without `service_timeseries.csv`.
pub fn service_panels(r: &Results) -> Result<Vec<Chart>, ChartError> {
    let Some(pts) = &r.service_series else {
        return Ok(Vec::new());
    };
    let algs = r.algorithms();
    let lks = looks(&algs);
    let mut services: Vec<&str> = Vec::new();
    for p in pts {
        if !services.contains(&p.service.as_str()) {
            services.push(&p.service);
        }
    }
    let mut out = Vec::new();
    for svc in services {
        // Per variant: its first replication's buckets of this service.
        let mut series: Vec<(usize, Vec<&ServicePoint>)> = Vec::new();
        for (i, a) in algs.iter().enumerate() {
            let rep = pts
                .iter()
                .filter(|p| &p.algorithm == a)
                .map(|p| p.replication)
                .min();
            let mut ps: Vec<&ServicePoint> = pts
                .iter()
                .filter(|p| &p.algorithm == a && p.service == svc && Some(p.replication) == rep)
                .collect();
            if ps.is_empty() {
                continue;
            }
            ps.sort_by(|x, y| x.t_s.total_cmp(&y.t_s));
            series.push((i, ps));
        }
        if series.is_empty() {
            continue;
        }
        let all = |f: &dyn Fn(&ServicePoint) -> f64| -> Vec<f64> {
            series
                .iter()
                .flat_map(|(_, ps)| ps.iter().map(|p| f(p)))
                .collect()
        };
        let (t0, t1) = min_max(all(&|p| p.t_s).into_iter());
        let width = series[0]
            .1
            .get(1)
            .map_or(1.0, |p| p.t_s - series[0].1[0].t_s);
        let x = Axis::linear(t0, t1 + width, "time (s)");
        let (_, thr) = min_max(all(&|p| p.throughput_rps).into_iter());
        let (_, err) = min_max(all(&|p| p.errors_per_s).into_iter());
        let mut panels: Vec<(&str, Axis)> = vec![(
            "throughput",
            Axis::linear_n(0.0, (thr * 1.15).max(1.0), "answered (req/s)", 3.0),
        )];
        if err > 0.0 {
            panels.push((
                "errors",
                Axis::linear_n(0.0, err * 1.1, "errors (req/s)", 3.0),
            ));
        }
        let lat = all(&|p| p.latency_mean_ms);
        if lat.iter().any(|v| v.is_finite() && *v > 0.0) {
            panels.push((
                "latency",
                Axis::auto_n(&lat, "mean latency (ms)", 30.0, 3.0),
            ));
        }
        let mut items: Vec<(Key, String)> = series
            .iter()
            .map(|(i, _)| (Key::Line(lks[*i]), legend_name(r, &algs[*i])))
            .collect();
        // The warm-up, whose requests the results exclude.
        let warmup = warmup_span(r, t0, t1 + width);
        if warmup.is_some() {
            items.push((Key::Warmup, "warm-up (excluded)".into()));
        }
        let title = format!(
            "{} · service {svc} over time by {}",
            r.scenario(),
            varied(r)
        );
        let chart = render(
            format!("service-{svc}"),
            title.clone(),
            format!(
                "Service {svc}, replication 0 of each variant, bucket by bucket: requests it \
                 answered well per second (clients' and calls), requests to it that failed \
                 per second (when any did), and the mean latency of those answered{}.",
                if err > 0.0 {
                    ""
                } else {
                    "; no request to it failed, so the errors panel is left out"
                }
            ),
            |root| {
                let body = titled(root, &title)?;
                let body = legend(&body, &items)?;
                let areas = panels_of(body, panels.len());
                for (k, (area, (what, y))) in areas.iter().zip(&panels).enumerate() {
                    let opts = PlaneOpts {
                        x_area: if k + 1 == panels.len() { 52 } else { 0 },
                        ..PLANE
                    };
                    let mut chart = plane(area, &x, y, &opts)?;
                    shade_warmup(&mut chart, &x, y, warmup)?;
                    for (i, ps) in &series {
                        let mut seg: Vec<(f64, f64)> = Vec::new();
                        for p in ps {
                            let v = match *what {
                                "throughput" => p.throughput_rps,
                                "errors" => p.errors_per_s,
                                _ => p.latency_mean_ms,
                            };
                            if v.is_finite() && (!y.log || v > 0.0) {
                                seg.push((x.at(p.t_s + width / 2.0), y.at(v)));
                            } else {
                                draw_line(&mut chart, std::mem::take(&mut seg), lks[*i], 2)?;
                            }
                        }
                        draw_line(&mut chart, seg, lks[*i], 2)?;
                    }
                }
                Ok(())
            },
        )?;
        out.push(chart);
    }
    Ok(out)
}
