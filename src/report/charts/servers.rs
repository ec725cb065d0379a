//! (c) Per-server load.

use super::*;

/// Servers shown one by one in the server-load chart; a larger fleet is sampled evenly.
const MAX_SHOWN_SERVERS: usize = 500;

/// (c) Each server's share of requests and of busy time per algorithm (means with 95%
/// CIs), against the equal share: imbalance at a glance. `None` without `servers.csv`.
pub fn server_load(r: &Results) -> Result<Option<Chart>, ChartError> {
    let Some(rows) = &r.servers else {
        return Ok(None);
    };
    let algs = r.algorithms();
    let lks = looks(&algs);
    // Servers in order of first appearance, and each one's index.
    let mut servers: Vec<String> = Vec::new();
    let mut index: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for row in rows {
        if !index.contains_key(row.server.as_str()) {
            index.insert(&row.server, servers.len());
            servers.push(row.server.clone());
        }
    }
    if servers.is_empty() {
        return Ok(None);
    }
    // A large fleet is shown as an even sample: every `stride`-th server.
    let stride = servers.len().div_ceil(MAX_SHOWN_SERVERS);
    // Per algorithm: how many servers have data (for the equal share), sampled or not.
    let mut with_data = vec![0usize; algs.len()];
    // (alg index, server index, [share, busy share]) as estimates.
    let mut pts: Vec<(usize, usize, [Estimate; 2])> = Vec::new();
    for (i, a) in algs.iter().enumerate() {
        let mine: Vec<_> = rows.iter().filter(|x| &x.algorithm == a).collect();
        if mine.is_empty() {
            continue;
        }
        let first_rep = mine.iter().filter_map(|x| x.replication).min();
        let aggregated = mine.iter().any(|x| x.stat == "mean");
        // Per server, its first row of each statistic: mean, ci95_lo, ci95_hi, and the
        // first replication's value.
        let mut by: Vec<[Option<&crate::report::results::ServerLoad>; 4]> =
            vec![[None; 4]; servers.len()];
        for x in &mine {
            let k = match x.stat.as_str() {
                "mean" => 0,
                "ci95_lo" => 1,
                "ci95_hi" => 2,
                "value" if x.replication == first_rep => 3,
                _ => continue,
            };
            let slot = &mut by[index[x.server.as_str()]][k];
            if slot.is_none() {
                *slot = Some(x);
            }
        }
        for (si, rows_of) in by.iter().enumerate() {
            // Slots as filled above: mean, ci95_lo, ci95_hi, the first replication's value.
            let get = |k: usize, f: &dyn Fn(&crate::report::results::ServerLoad) -> f64| {
                rows_of[k].map(f).unwrap_or(f64::NAN)
            };
            let est = |f: &dyn Fn(&crate::report::results::ServerLoad) -> f64| {
                if aggregated {
                    Estimate {
                        mean: get(0, f),
                        lo: get(1, f),
                        hi: get(2, f),
                    }
                } else {
                    Estimate {
                        mean: get(3, f),
                        lo: f64::NAN,
                        hi: f64::NAN,
                    }
                }
            };
            let share = est(&|x| x.share_pct);
            let busy = est(&|x| x.busy_share_pct);
            if share.mean.is_finite() || busy.mean.is_finite() {
                with_data[i] += 1;
                if si % stride == 0 {
                    pts.push((i, si / stride, [share, busy]));
                }
            }
        }
    }
    if pts.is_empty() {
        return Ok(None);
    }
    let shown: Vec<usize> = (0..algs.len())
        .filter(|i| pts.iter().any(|p| p.0 == *i))
        .collect();
    let n = shown.len();
    // Equal share, if every algorithm has the same servers.
    let counts: Vec<usize> = shown.iter().map(|i| with_data[*i]).collect();
    // With services, shares are within each service: no one equal share fits them all.
    let equal = if r.services.is_none() && counts.windows(2).all(|w| w[0] == w[1]) {
        Some(100.0 / counts[0] as f64)
    } else {
        None
    };
    // Zoomed on the data, but never closer than ±10% around the equal share, so that
    // noise does not look like imbalance.
    let span = |which: usize, desc: &str| {
        let (mut lo, mut hi) = min_max(pts.iter().flat_map(|p| {
            let e = p.2[which];
            [e.mean, e.lo, e.hi]
        }));
        let eq = equal.unwrap_or((lo + hi) / 2.0);
        lo = lo.min(eq * 0.9);
        hi = hi.max(eq * 1.1);
        let pad = (hi - lo) * 0.08;
        Axis::linear_n((lo - pad).max(0.0), hi + pad, desc, 4.0)
    };
    let y1 = span(0, "requests (%)");
    let y2 = span(1, "busy time (%)");
    // A panel whose every value is zero or undefined is left out (the caption says so).
    let shows = |which: usize| {
        pts.iter()
            .any(|p| p.2[which].mean.is_finite() && p.2[which].mean != 0.0)
    };
    let panels: Vec<(usize, &Axis)> = [(0, &y1), (1, &y2)]
        .into_iter()
        .filter(|(k, _)| shows(*k))
        .collect();
    if panels.is_empty() {
        return Ok(None);
    }
    let sample: Vec<String> = servers.iter().step_by(stride).cloned().collect();
    let mut x = Axis::categories(&sample, "server");
    x.thin(SIZE.0 as f64 - 110.0);
    let mut items: Vec<(Key, String)> = shown
        .iter()
        .map(|i| (Key::Dot(lks[*i]), legend_name(r, &algs[*i])))
        .collect();
    if equal.is_some() {
        items.push((Key::HLine(MUTED), "equal share".into()));
    }
    let whiskers = sample.len() * n <= 120;
    let dot = if sample.len() * n <= 60 { 5 } else { 3 };
    let sampled = if stride > 1 {
        format!(
            " Every {}th of the {} servers is shown (all of them are in servers.csv).",
            stride,
            servers.len()
        )
    } else {
        String::new()
    };
    // The dashed line, when there is one equal share to draw.
    let line = match equal {
        Some(_) => "; the dashed line is an equal share, and dots far from it mean imbalance",
        None if r.services.is_some() => {
            "; shares are within each service (no one equal share, so no line)"
        }
        None => "; the variants have different servers, so no equal-share line",
    };
    let (title, caption) = if panels.len() == 2 {
        (
            chart_title(r, "share of requests and busy time per server"),
            format!(
                "Each server's share of the requests (top) and of the busy time (bottom) under \
             each variant, with 95% CIs{line}. Equal request counts can still hide unequal \
             work.{sampled}"
            ),
        )
    } else if panels[0].0 == 0 {
        (
            chart_title(r, "share of requests per server"),
            format!(
                "Each server's share of the requests under each variant, with 95% CIs{line}. \
             No server was ever busy, so the busy-time panel is left out.{sampled}"
            ),
        )
    } else {
        (
            chart_title(r, "share of busy time per server"),
            format!(
                "Each server's share of the busy time under each variant, with 95% CIs{line}. \
             No server took a request, so the requests panel is left out.{sampled}"
            ),
        )
    };
    render("server-load".into(), title.clone(), caption, |root| {
        let body = titled(root, &title)?;
        let body = legend(&body, &items)?;
        let (_, h) = body.dim_in_pixel();
        let areas = if panels.len() == 2 {
            let (a1, a2) = body.split_vertically(h.saturating_sub(52) / 2);
            vec![a1, a2]
        } else {
            vec![body]
        };
        for (k, (area, (panel, y))) in areas.iter().zip(panels.iter().copied()).enumerate() {
            let opts = PlaneOpts {
                x_area: if k + 1 < areas.len() { 0 } else { 52 },
                x_grid: false,
                ..PLANE
            };
            let mut chart = plane(area, &x, y, &opts)?;
            if let Some(eq) = equal {
                chart.draw_series(std::iter::once(DashedPathElement::new(
                    vec![(x.lo, eq), (x.hi, eq)],
                    6,
                    4,
                    MUTED.stroke_width(1),
                )))?;
            }
            for (i, si, es) in &pts {
                let e = &es[panel];
                if !e.mean.is_finite() {
                    continue;
                }
                let k = shown.iter().position(|s| s == i).unwrap_or(0);
                let cx = *si as f64 + dodge(k, n);
                let c = lks[*i].colour;
                if whiskers && e.has_ci() {
                    whisker(&mut chart, y, cx, e, 0.02, c)?;
                }
                marker(&mut chart, lks[*i], (cx, y.at(e.mean)), dot)?;
            }
        }
        Ok(())
    })
    .map(Some)
}
