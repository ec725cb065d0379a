//! (a) Latency percentile curves.

use super::*;

/// `x = −log10(1 − q)`: 0 at the minimum, 1 at p90, 2 at p99, ...
pub(super) fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-12).log10()
}

pub(super) fn nines_label(k: u32) -> String {
    match k {
        0 => "min".into(),
        1 => "90%".into(),
        k => format!("99.{}%", "9".repeat(k as usize - 2)).replace("99.%", "99%"),
    }
}

pub(super) struct Curve {
    pub(super) look: Look,
    pub(super) alg: String,
    pub(super) mean: Vec<(f64, f64)>,
    pub(super) band: Vec<(f64, f64, f64)>,
    pub(super) max: Option<f64>,
}

pub(super) fn curves(r: &Results) -> Vec<Curve> {
    let Some(lat) = &r.latency else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let algs = r.algorithms();
    let lks = looks(&algs);
    for (i, alg) in algs.iter().enumerate() {
        let rows: Vec<_> = lat.iter().filter(|p| &p.algorithm == alg).collect();
        if rows.is_empty() {
            continue;
        }
        let first_rep = rows
            .iter()
            .filter(|p| p.stat == "value")
            .filter_map(|p| p.replication)
            .min();
        let pick = |stat: &str| -> Vec<(f64, f64)> {
            rows.iter()
                .filter(|p| p.stat == stat && (stat != "value" || p.replication == first_rep))
                .filter(|p| p.latency_ms.is_finite())
                .map(|p| (p.quantile, p.latency_ms))
                .collect()
        };
        let mut mean = pick("mean");
        if mean.is_empty() {
            mean = pick("value");
        }
        let (lo, hi) = (pick("ci95_lo"), pick("ci95_hi"));
        let max = mean.iter().find(|(q, _)| *q >= 1.0).map(|(_, v)| *v);
        let band = lo
            .iter()
            .filter(|(q, _)| *q < 1.0)
            .filter_map(|(q, l)| {
                hi.iter()
                    .find(|(q2, _)| (q2 - q).abs() < 1e-12)
                    .map(|(_, h)| (nines(*q), *l, *h))
            })
            .collect();
        let mean = mean
            .into_iter()
            .filter(|(q, _)| *q < 1.0)
            .map(|(q, v)| (nines(q), v))
            .collect();
        out.push(Curve {
            look: lks[i],
            alg: alg.clone(),
            mean,
            band,
            max,
        });
    }
    out
}

/// (a) The latency percentile curve of each algorithm on a "nines" axis, with its 95% CI
/// band and its maximum. `None` without `latency.csv`.
pub fn percentile_curves(r: &Results) -> Result<Option<Chart>, ChartError> {
    let cs = curves(r);
    if cs.iter().all(|c| c.mean.is_empty()) {
        return Ok(None);
    }
    let x_top = cs
        .iter()
        .flat_map(|c| c.mean.iter().map(|p| p.0))
        .fold(0.0f64, f64::max);
    // The last quantile, 1 − 10^−5, is 5 nines up to rounding.
    let x_top = (x_top - 1e-6).ceil().max(1.0);
    let has_max = cs.iter().any(|c| c.max.is_some());
    let x_max = x_top + 0.6;
    let mut ticks: Vec<(f64, String)> = (0..=x_top as u32)
        .map(|k| (f64::from(k), nines_label(k)))
        .collect();
    ticks.insert(1, (2f64.log10(), "50%".into()));
    if has_max {
        ticks.push((x_max, "max".into()));
    }
    let x = Axis {
        lo: 0.0,
        hi: x_max + if has_max { 0.3 } else { 0.0 },
        log: false,
        ticks,
        desc: "percentile (each step right is ten times rarer)".into(),
    };
    let y = latency_axis(&cs);
    // Points below the axis (a minimum far under the rest: one lucky request) are left
    // off, and so is the band where the line is.
    let floor = 10f64.powf(y.lo) * (1.0 - 1e-9);
    let clipped = cs.iter().any(|c| c.mean.iter().any(|p| p.1 < floor));
    let cs: Vec<Curve> = cs
        .into_iter()
        .map(|mut c| {
            c.mean.retain(|p| p.1 >= floor);
            let xs: Vec<f64> = c.mean.iter().map(|p| p.0).collect();
            c.band
                .retain(|b| xs.iter().any(|x| (x - b.0).abs() < 1e-12));
            c
        })
        .collect();
    let mut items: Vec<(Key, String)> = cs
        .iter()
        .map(|c| (Key::Line(c.look), legend_name(r, &c.alg)))
        .collect();
    if cs.iter().any(|c| !c.band.is_empty()) {
        items.push((Key::Band(MUTED), "95% CI".into()));
    }
    if has_max {
        items.push((
            Key::Dot(Look {
                colour: MUTED,
                dashed: false,
                shape: 0,
            }),
            "maximum".into(),
        ));
    }
    let title = chart_title(r, "latency percentiles");
    render(
        "latency-percentiles".into(),
        title.clone(),
        "Each line is an algorithm's latency (log scale) at every percentile; the x axis \
         stretches the tail so that each step right is ten times rarer (90%, 99%, 99.9%, …). \
         Shaded bands are 95% confidence intervals over replications; dots at the right are \
         the maximum."
            .to_string()
            + if clipped {
                " A minimum far below the rest (one request's luck) is left off the axis."
            } else {
                ""
            },
        |root| {
            let body = titled(root, &title)?;
            let body = legend(&body, &items)?;
            let mut chart = plane(&body, &x, &y, &PLANE)?;
            for c in &cs {
                for poly in band_polygons(&c.band, &y) {
                    chart.draw_series(std::iter::once(Polygon::new(
                        poly,
                        c.look.colour.mix(0.18).filled(),
                    )))?;
                }
            }
            for c in &cs {
                let pts: Vec<(f64, f64)> = c.mean.iter().map(|p| (p.0, y.at(p.1))).collect();
                if let (Some(m), Some(last)) = (c.max, pts.last()) {
                    let st = c.look.colour.stroke_width(1);
                    chart.draw_series(std::iter::once(DashedPathElement::new(
                        vec![*last, (x_max, y.at(m))],
                        3,
                        3,
                        st,
                    )))?;
                    chart.draw_series(std::iter::once(Circle::new(
                        (x_max, y.at(m)),
                        5,
                        c.look.colour.filled(),
                    )))?;
                }
                draw_line(&mut chart, pts, c.look, 2)?;
            }
            Ok(())
        },
    )
    .map(Some)
}

/// The latency axis of the percentile curves, from the data: from the smallest plotted
/// value rounded down to a 1-2-5 step to the largest (maximum included) rounded up. A
/// minimum more than ten times below the rest does not count (it is left off), and the
/// confidence bands never set the range: they are clipped to it.
pub(super) fn latency_axis(cs: &[Curve]) -> Axis {
    let positive = |v: &f64| v.is_finite() && *v > 0.0;
    let (rest_lo, _) = min_max(
        cs.iter()
            .flat_map(|c| c.mean.iter().filter(|p| p.0 > 0.0).map(|p| p.1))
            .filter(positive),
    );
    let lo = min_max(
        cs.iter()
            .flat_map(|c| c.mean.iter().map(|p| p.1))
            .filter(positive)
            .filter(|v| !rest_lo.is_finite() || *v >= rest_lo / 10.0),
    )
    .0;
    let hi = min_max(
        cs.iter()
            .flat_map(|c| c.mean.iter().map(|p| p.1).chain(c.max))
            .filter(positive),
    )
    .1;
    let (lo, hi) = if lo.is_finite() {
        (lo, hi)
    } else {
        (1.0, 10.0)
    };
    Axis::log(
        step_125(lo * 0.98, false),
        step_125(hi * 1.02, true),
        "latency (ms, log scale)",
    )
}

/// The CI band of a curve as polygons in plot coordinates: one per run of quantiles whose
/// interval is positive (a non-positive bound has no place on a log axis: the band breaks
/// there rather than plunging to the floor), clipped to the axis range.
pub(super) fn band_polygons(band: &[(f64, f64, f64)], y: &Axis) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut run: Vec<(f64, f64, f64)> = Vec::new();
    let ok = |b: &(f64, f64, f64)| {
        b.1.is_finite() && b.2.is_finite() && (!y.log || (b.1 > 0.0 && b.2 > 0.0))
    };
    for b in band
        .iter()
        .chain(std::iter::once(&(f64::NAN, f64::NAN, f64::NAN)))
    {
        if ok(b) {
            run.push(*b);
            continue;
        }
        if run.len() >= 2 {
            let mut poly: Vec<(f64, f64)> = run.iter().map(|b| (b.0, y.at(b.2))).collect();
            poly.extend(run.iter().rev().map(|b| (b.0, y.at(b.1))));
            out.push(poly);
        }
        run.clear();
    }
    out
}
