//! (d) Time series.

use super::*;

pub(super) struct Marker {
    /// Failure intervals: (from, to, label).
    pub(super) failures: Vec<(f64, f64, String)>,
    /// Health changes: (at, down?, algorithm index).
    pub(super) health: Vec<(f64, bool, usize)>,
    /// Membership changes: (at, label).
    pub(super) changes: Vec<(f64, String)>,
    /// Load balancer node down spans: (from, to, label).
    pub(super) lb_down: Vec<(f64, f64, String)>,
    /// HA events: (at, algorithm index, traffic moved away?).
    pub(super) ha: Vec<(f64, usize, bool)>,
}

pub(super) fn markers(r: &Results, algs: &[String], t_end: f64) -> Marker {
    let mut m = Marker {
        failures: Vec::new(),
        health: Vec::new(),
        changes: Vec::new(),
        lb_down: Vec::new(),
        ha: Vec::new(),
    };
    if let Some(hs) = &r.ha {
        let rep = hs.iter().map(|h| h.replication).min();
        let first = hs.iter().filter(|h| Some(h.replication) == rep);
        // Node down spans (the same in every variant: failures share their timing).
        let mut open: Vec<(String, f64, String)> = Vec::new();
        let mut seen_alg: Option<&str> = None;
        for h in first.clone() {
            if seen_alg.is_some_and(|a| a != h.algorithm) {
                continue;
            }
            seen_alg = Some(&h.algorithm);
            match h.event.as_str() {
                "crash" | "stop" => open.push((h.node.clone(), h.at_s, h.event.clone())),
                "restart" => {
                    if let Some(i) = open.iter().position(|o| o.0 == h.node) {
                        let (node, from, kind) = open.remove(i);
                        m.lb_down.push((from, h.at_s, format!("{node} {kind}")));
                    }
                }
                _ => {}
            }
        }
        for (node, from, kind) in open {
            m.lb_down.push((from, t_end, format!("{node} {kind}")));
        }
        for h in first {
            let moved = match h.event.as_str() {
                "master" | "route-withdrawn" | "dns-removed" => true,
                "route-announced" | "dns-added" => false,
                _ => continue,
            };
            if let Some(i) = algs.iter().position(|a| *a == h.algorithm) {
                m.ha.push((h.at_s, i, moved));
            }
        }
    }
    if let Some(fs) = &r.failovers {
        let rep = fs.iter().map(|f| f.replication).min();
        for f in fs.iter().filter(|f| Some(f.replication) == rep) {
            let to = if f.repair_s.is_finite() {
                f.repair_s
            } else {
                t_end
            };
            let label = format!("{} {}", f.server, f.kind);
            if !m
                .failures
                .iter()
                .any(|(a, b, l)| *a == f.fault_s && *b == to && *l == label)
            {
                m.failures.push((f.fault_s, to, label));
            }
        }
    }
    if let Some(hs) = &r.health {
        let rep = hs.iter().map(|h| h.replication).min();
        // A server's first "up" with no "down" before it is its initial check result
        // (Envoy-style checks start every server down), not a recovery: no ▲ for it.
        let mut been_down = std::collections::BTreeSet::new();
        for h in hs.iter().filter(|h| Some(h.replication) == rep) {
            let down = h.state == "down";
            let who = (h.algorithm.as_str(), h.node, h.server.as_str());
            if down {
                been_down.insert(who);
            } else if !been_down.contains(&who) {
                continue;
            }
            if let Some(i) = algs.iter().position(|a| *a == h.algorithm) {
                m.health.push((h.at_s, down, i));
            }
        }
    }
    if let Some(cs) = &r.changes {
        let rep = cs.iter().map(|c| c.replication).min();
        for c in cs.iter().filter(|c| Some(c.replication) == rep) {
            if !m
                .changes
                .iter()
                .any(|(t, l)| *t == c.at_s && *l == c.action)
            {
                m.changes.push((c.at_s, c.action.clone()));
            }
        }
    }
    m
}

/// (d) Throughput, p99 and errors per second over time for the first replication of each
/// algorithm, in three panels over a shared time axis, with failures (shaded from fault to
/// repair), health changes (▼ marked down, ▲ back up) and membership changes (dotted).
/// `None` without `timeseries.csv`.
pub fn time_series(r: &Results) -> Result<Option<Chart>, ChartError> {
    let Some(ts) = &r.timeseries else {
        return Ok(None);
    };
    let algs = r.algorithms();
    let lks = looks(&algs);
    // Per algorithm: its first replication's buckets, in time order.
    let mut series: Vec<(usize, Vec<&crate::report::results::Bucket>)> = Vec::new();
    for (i, a) in algs.iter().enumerate() {
        let rep = ts
            .iter()
            .filter(|b| &b.algorithm == a)
            .map(|b| b.replication)
            .min();
        let mut bs: Vec<_> = ts
            .iter()
            .filter(|b| &b.algorithm == a && Some(b.replication) == rep)
            .collect();
        if bs.is_empty() {
            continue;
        }
        bs.sort_by(|x, y| x.t_s.total_cmp(&y.t_s));
        series.push((i, bs));
    }
    if series.is_empty() {
        return Ok(None);
    }
    let (t0, t1) = min_max(
        series
            .iter()
            .flat_map(|(_, bs)| bs.iter().flat_map(|b| [b.t_s, b.t_s + b.bucket_s.max(0.0)])),
    );
    let mk = markers(r, &algs, t1);
    let mid = |b: &crate::report::results::Bucket| b.t_s + b.bucket_s.max(0.0) / 2.0;
    let x = Axis::linear(t0, t1, "time (s)");
    let all = |f: &dyn Fn(&crate::report::results::Bucket) -> f64| -> Vec<f64> {
        series
            .iter()
            .flat_map(|(_, bs)| bs.iter().map(|b| f(b)))
            .collect()
    };
    let thr = all(&|b| b.throughput_rps);
    let (_, thr_max) = min_max(thr.iter().copied());
    // Headroom above the throughput for the health and HA markers.
    let head = if mk.health.is_empty() && mk.ha.is_empty() {
        1.15
    } else {
        1.45
    };
    let y_thr = Axis::linear_n(0.0, (thr_max * head).max(1.0), "throughput (req/s)", 3.0);
    let y_p99 = Axis::auto_n(&all(&|b| b.p99_ms), "p99 (ms)", 30.0, 3.0);
    let (_, err_max) = min_max(all(&|b| b.errors_per_s).into_iter());
    let y_err = Axis::linear_n(0.0, (err_max * 1.1).max(1.0), "errors (req/s)", 3.0);
    // A panel whose every value is zero or undefined is left out (the caption says so).
    let shows = |f: &dyn Fn(&crate::report::results::Bucket) -> f64| {
        all(f).iter().any(|v| v.is_finite() && *v != 0.0)
    };
    let mut kinds: Vec<(usize, &Axis)> = vec![(0, &y_thr)];
    let mut left_out = Vec::new();
    if shows(&|b| b.p99_ms) {
        kinds.push((1, &y_p99));
    } else {
        left_out.push("No request completed in any bucket: the p99 panel is left out.");
    }
    if shows(&|b| b.errors_per_s) {
        kinds.push((2, &y_err));
    } else {
        left_out.push("No request failed: the errors panel is left out.");
    }
    // The warm-up, whose requests the results exclude.
    let warmup = warmup_span(r, t0, t1);
    let mut items: Vec<(Key, String)> = series
        .iter()
        .map(|(i, _)| (Key::Line(lks[*i]), legend_name(r, &algs[*i])))
        .collect();
    if warmup.is_some() {
        items.push((Key::Warmup, "warm-up (excluded)".into()));
    }
    if !mk.failures.is_empty() {
        items.push((Key::Shade, "server failed".into()));
    }
    if !mk.lb_down.is_empty() {
        items.push((Key::LbShade, "LB node down".into()));
    }
    if mk.ha.iter().any(|h| h.2) {
        items.push((
            Key::Diamond(MUTED, true),
            "LB failover (VIP, route or DNS moved)".into(),
        ));
    }
    if mk.ha.iter().any(|h| !h.2) {
        items.push((
            Key::Diamond(MUTED, false),
            "LB node back in (route or DNS)".into(),
        ));
    }
    if mk.health.iter().any(|h| h.1) {
        items.push((Key::Down(MUTED), "marked down".into()));
    }
    if mk.health.iter().any(|h| !h.1) {
        items.push((Key::Up(MUTED), "back up".into()));
    }
    if !mk.changes.is_empty() {
        items.push((Key::VLine(INK), "membership change".into()));
    }
    let health_lines = mk.health.len() <= 24;
    let what = match kinds.len() {
        3 => "throughput, p99 and errors over time",
        2 if kinds[1].0 == 1 => "throughput and p99 over time",
        2 => "throughput and errors over time",
        _ => "throughput over time",
    };
    let title = chart_title(r, what);
    let mut caption = "Replication 0 of each variant, bucket by bucket: completed requests \
         per second, the bucket's p99 latency and failed requests per second. Beige span: \
         the warm-up, excluded from the results. Grey spans: a server was \
         failed (fault to repair); blue-grey spans: a load balancer node was down; \
         triangles: a load balancer marked a server down (▼) or back up (▲); diamonds and \
         solid lines: the load balancer tier moved traffic (◆ a backup took the virtual IP, a \
         route was withdrawn or a DNS record removed; ◇ a node's route or record came back), \
         each in the variant's colour; dotted lines: servers joined or left."
        .to_string();
    for l in &left_out {
        caption.push(' ');
        caption.push_str(l);
    }
    render("timeseries".into(), title.clone(), caption, |root| {
        let body = titled(root, &title)?;
        let body = legend(&body, &items)?;
        let areas = panels_of(body, kinds.len());
        for (k, (area, (p, y))) in areas.iter().zip(kinds.iter().copied()).enumerate() {
            let opts = PlaneOpts {
                x_area: if k + 1 == kinds.len() { 52 } else { 0 },
                ..PLANE
            };
            let mut chart = plane(area, &x, y, &opts)?;
            shade_warmup(&mut chart, &x, y, warmup)?;
            for (from, to, _) in &mk.failures {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x.at(*from), y.hi), (x.at(*to), y.lo)],
                    BLACK.mix(0.08).filled(),
                )))?;
            }
            for (from, to, _) in &mk.lb_down {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x.at(*from), y.hi), (x.at(*to), y.lo)],
                    LB_SHADE.mix(0.16).filled(),
                )))?;
            }
            for (t, i, _) in &mk.ha {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x.at(*t), y.lo), (x.at(*t), y.hi)],
                    lks[*i].colour.mix(0.7).stroke_width(1),
                )))?;
            }
            for (t, _) in &mk.changes {
                chart.draw_series(std::iter::once(DashedPathElement::new(
                    vec![(x.at(*t), y.lo), (x.at(*t), y.hi)],
                    2,
                    3,
                    INK.stroke_width(1),
                )))?;
            }
            if health_lines {
                for (t, _, i) in &mk.health {
                    chart.draw_series(std::iter::once(DashedPathElement::new(
                        vec![(x.at(*t), y.lo), (x.at(*t), y.hi)],
                        4,
                        4,
                        lks[*i].colour.mix(0.6).stroke_width(1),
                    )))?;
                }
            }
            for (i, bs) in &series {
                let v = |b: &crate::report::results::Bucket| match p {
                    0 => b.throughput_rps,
                    1 => b.p99_ms,
                    _ => b.errors_per_s,
                };
                // Thin lines for dense series: a thick line's miter joins spike out of
                // the plot where many steep segments meet.
                let width = if bs.len() > 300 { 1 } else { 2 };
                // Split the line where a bucket has no value.
                let mut seg: Vec<(f64, f64)> = Vec::new();
                for b in bs {
                    let val = v(b);
                    if val.is_finite() && (!y.log || val > 0.0) {
                        seg.push((mid(b), y.at(val)));
                    } else {
                        draw_line(&mut chart, std::mem::take(&mut seg), lks[*i], width)?;
                    }
                }
                draw_line(&mut chart, seg, lks[*i], width)?;
            }
            if p == 0 {
                // Health markers along the top of the first panel, one row per algorithm.
                let span = y.hi - y.lo;
                for (t, down, i) in &mk.health {
                    let k = series.iter().position(|s| s.0 == *i).unwrap_or(0) % 8;
                    let yy = y.hi - span * (0.06 + 0.06 * k as f64);
                    let tri = if *down {
                        vec![(-5, -4), (5, -4), (0, 5)]
                    } else {
                        vec![(-5, 4), (5, 4), (0, -5)]
                    };
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((x.at(*t), yy))
                            + Polygon::new(tri, lks[*i].colour.filled()),
                    ))?;
                }
                for (t, i, moved) in &mk.ha {
                    let k = series.iter().position(|s| s.0 == *i).unwrap_or(0) % 8;
                    let yy = y.hi - span * (0.06 + 0.06 * k as f64);
                    let c = lks[*i].colour;
                    let shape = EmptyElement::at((x.at(*t), yy));
                    if *moved {
                        chart.draw_series(std::iter::once(
                            shape + Polygon::new(diamond(6), c.filled()),
                        ))?;
                    } else {
                        let mut ring = diamond(6);
                        ring.push(ring[0]);
                        chart.draw_series(std::iter::once(
                            shape + PathElement::new(ring, c.stroke_width(2)),
                        ))?;
                    }
                }
                for (t, label) in &mk.changes {
                    chart.draw_series(std::iter::once(Text::new(
                        label.clone(),
                        (x.at(*t), y.hi),
                        text(14, &INK).pos(Pos::new(HPos::Left, VPos::Top)),
                    )))?;
                }
            }
        }
        Ok(())
    })
    .map(Some)
}
