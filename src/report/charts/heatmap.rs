//! (f) Sweep heatmaps: a metric over two swept keys.

use super::*;

/// Viridis, sampled at nine stops and interpolated: perceptually uniform and readable
/// with colour-vision deficiencies. `t` in [0, 1].
pub(super) fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = t * 8.0;
    let i = (f.floor() as usize).min(7);
    let u = f - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * u).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// (f) With two swept keys: `metric` as colour over the grid of both, one heatmap per
/// algorithm on a shared colour scale. `None` otherwise.
pub fn sweep_heatmap(r: &Results, metric: &str) -> Result<Option<Chart>, ChartError> {
    let Some(sw) = &r.sweep else {
        return Ok(None);
    };
    if sw.keys.len() != 2 || !sw.metrics.iter().any(|m| m == metric) {
        return Ok(None);
    }
    let points = sw.points();
    let xv = distinct(&points, 0);
    let yv = distinct(&points, 1);
    let all_algs = r.algorithms();
    let lks = looks(&all_algs);
    let algs: Vec<(usize, String)> = all_algs
        .into_iter()
        .enumerate()
        .filter(|(_, a)| sw.algorithms.contains(a))
        .collect();
    // (panel, x index, y index, mean); a point whose metric is undefined (no request
    // completed, say) goes to `undefined` and is drawn grey.
    let mut cells: Vec<(usize, usize, usize, f64)> = Vec::new();
    let mut undefined: Vec<(usize, usize, usize)> = Vec::new();
    for (pi, (_, a)) in algs.iter().enumerate() {
        for (p, s) in &points {
            let (Some(xi), Some(yi)) = (
                xv.iter().position(|v| *v == s[0]),
                yv.iter().position(|v| *v == s[1]),
            ) else {
                continue;
            };
            match sw.estimate(a, *p, metric).filter(|e| e.mean.is_finite()) {
                Some(e) => cells.push((pi, xi, yi, e.mean)),
                None => undefined.push((pi, xi, yi)),
            }
        }
    }
    if cells.is_empty() {
        return Ok(None);
    }
    let (lo, hi) = min_max(cells.iter().map(|c| c.3));
    let log = lo > 0.0 && hi / lo > 20.0;
    let norm = move |v: f64| {
        if hi <= lo {
            0.5
        } else if log {
            (v.log10() - lo.log10()) / (hi.log10() - lo.log10())
        } else {
            (v - lo) / (hi - lo)
        }
    };
    let (label, unit) = metric_label(metric);
    let title = format!(
        "{} · {} over {} × {}, by {}",
        r.scenario(),
        label,
        sw.keys[0],
        sw.keys[1],
        varied(r)
    );
    let n = algs.len();
    let cols = if n <= 3 { n } else { n.div_ceil(2).min(4) };
    let rows = n.div_ceil(cols);
    let mut x = sweep_categories(&sw.keys[0], &xv);
    let mut y = sweep_categories(&sw.keys[1], &yv);
    x.thin((SIZE.0 as f64 - 110.0) / cols as f64 - 94.0);
    y.thin_vertical((SIZE.1 as f64 - 40.0) / rows as f64 - 84.0);
    render(
        format!("heatmap-{metric}"),
        title.clone(),
        format!(
            "{label} (colour{}) for every combination of {} and {}, one panel per algorithm \
             on a shared colour scale.{}",
            if log { ", log scale" } else { "" },
            sw.keys[0],
            sw.keys[1],
            if undefined.is_empty() {
                ""
            } else {
                " Grey cells: undefined in every replication (no request completed there)."
            }
        ),
        |root| {
            let body = titled(root, &title)?;
            let (w, _) = body.dim_in_pixel();
            let (grid, bar) = body.split_horizontally(w - 110);
            let panels = grid.split_evenly((rows, cols));
            for (pi, (ai, a)) in algs.iter().enumerate() {
                let area = &panels[pi];
                let (pw, ph) = area.dim_in_pixel();
                let area = area.titled(&legend_name(r, a), text(16, &lks[*ai].colour))?;
                let opts = PlaneOpts {
                    x_area: 48,
                    y_area: 76,
                    x_grid: false,
                };
                let mut chart = plane(&area, &x, &y, &opts)?;
                let cw = (pw.saturating_sub(opts.y_area + 24)) as usize / xv.len().max(1);
                let chh = (ph.saturating_sub(opts.x_area + 40)) as usize / yv.len().max(1);
                for (_, xi, yi) in undefined.iter().filter(|c| c.0 == pi) {
                    let (cx, cy) = (*xi as f64, *yi as f64);
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(cx - 0.5, cy + 0.5), (cx + 0.5, cy - 0.5)],
                        RGBColor(225, 225, 225).filled(),
                    )))?;
                    if cw >= 44 && chh >= 18 {
                        chart.draw_series(std::iter::once(Text::new(
                            "n/a",
                            (cx, cy),
                            text(14, &INK).pos(Pos::new(HPos::Center, VPos::Center)),
                        )))?;
                    }
                }

                for (_, xi, yi, v) in cells.iter().filter(|c| c.0 == pi) {
                    let (cx, cy) = (*xi as f64, *yi as f64);
                    let t = norm(*v);
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(cx - 0.5, cy + 0.5), (cx + 0.5, cy - 0.5)],
                        viridis(t).filled(),
                    )))?;
                    if cw >= 44 && chh >= 18 {
                        let ink = if t < 0.55 { WHITE } else { BLACK };
                        chart.draw_series(std::iter::once(Text::new(
                            fmt_num(*v),
                            (cx, cy),
                            text(14, &ink).pos(Pos::new(HPos::Center, VPos::Center)),
                        )))?;
                    }
                }
            }
            // Colour bar.
            let (_, bh) = bar.dim_in_pixel();
            let (top, bot) = (30i32, bh as i32 - 60);
            let steps = 64;
            for s in 0..steps {
                let t0 = f64::from(s) / f64::from(steps);
                let y0 = bot - ((bot - top) as f64 * (t0 + 1.0 / f64::from(steps))) as i32;
                let y1 = bot - ((bot - top) as f64 * t0) as i32;
                bar.draw(&Rectangle::new([(14, y0), (34, y1)], viridis(t0).filled()))?;
            }
            let ticks: Vec<f64> = if log {
                log_ticks(lo, hi)
            } else {
                Axis::linear(lo, hi, "").ticks.iter().map(|t| t.0).collect()
            };
            let labels = tick_labels(&ticks);
            for (v, label) in ticks.into_iter().zip(labels) {
                let yy = bot - ((bot - top) as f64 * norm(v)) as i32;
                bar.draw(&PathElement::new(vec![(34, yy), (39, yy)], INK))?;
                bar.draw(&Text::new(
                    label,
                    (42, yy),
                    text(TICK_PX, &INK).pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
            }
            bar.draw(&Text::new(
                with_unit(&label, &unit),
                (6, 8),
                text(TICK_PX, &INK).pos(Pos::new(HPos::Left, VPos::Top)),
            ))?;
            Ok(())
        },
    )
    .map(Some)
}
