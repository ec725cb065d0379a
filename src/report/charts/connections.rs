//! (f) Connections: each backend's open client connections over time, one panel per
//! variant (layer 4 with `[connections]`, where the node balances connections and pins
//! them).

use super::*;
use crate::report::results::ConnPoint;

/// Panels drawn at most (the first variants).
const MAX_PANELS: usize = 4;

/// (f) Open client connections per backend over time, replication 0 of each variant: a
/// line per server, a panel per variant. `None` without a layer-4 connection series.
pub fn connection_panels(r: &Results) -> Result<Option<Chart>, ChartError> {
    let Some(pts) = &r.conn_series else {
        return Ok(None);
    };
    let algs = r.algorithms();
    let mut servers: Vec<&str> = Vec::new();
    for p in pts {
        if !servers.contains(&p.server.as_str()) {
            servers.push(&p.server);
        }
    }
    // Per variant: its first replication's points, by server.
    let mut variants: Vec<(usize, Vec<Vec<&ConnPoint>>)> = Vec::new();
    for (i, a) in algs.iter().enumerate().take(MAX_PANELS) {
        let rep = pts
            .iter()
            .filter(|p| &p.algorithm == a)
            .map(|p| p.replication)
            .min();
        let by_server: Vec<Vec<&ConnPoint>> = servers
            .iter()
            .map(|s| {
                let mut ps: Vec<&ConnPoint> = pts
                    .iter()
                    .filter(|p| &p.algorithm == a && p.server == *s && Some(p.replication) == rep)
                    .collect();
                ps.sort_by(|x, y| x.t_s.total_cmp(&y.t_s));
                ps
            })
            .collect();
        if by_server.iter().any(|ps| !ps.is_empty()) {
            variants.push((i, by_server));
        }
    }
    if variants.is_empty() {
        return Ok(None);
    }
    let (t0, t1) = min_max(pts.iter().map(|p| p.t_s));
    let width = {
        let mut ts: Vec<f64> = pts.iter().map(|p| p.t_s).collect();
        ts.sort_by(f64::total_cmp);
        ts.dedup();
        ts.get(1).map_or(1.0, |t| t - ts[0])
    };
    let x = Axis::linear(t0, t1 + width, "time (s)");
    let (_, hi) = min_max(pts.iter().map(|p| p.open));
    let looks: Vec<Look> = (0..servers.len())
        .map(|k| Look {
            colour: PALETTE[k % PALETTE.len()],
            dashed: k >= PALETTE.len(),
            shape: 0,
        })
        .collect();
    let mut items: Vec<(Key, String)> = servers
        .iter()
        .zip(&looks)
        .map(|(s, l)| (Key::Line(*l), s.to_string()))
        .collect();
    let warmup = warmup_span(r, t0, t1 + width);
    if warmup.is_some() {
        items.push((Key::Warmup, "warm-up (excluded)".into()));
    }
    let title = format!("{} · open connections per backend over time", r.scenario());
    let more = algs.len().saturating_sub(MAX_PANELS);
    render(
        "connections".to_string(),
        title.clone(),
        format!(
            "Client connections open on each backend at the end of every time bucket \
             (replication 0 of each variant, one panel per variant): the layer-4 node picks a \
             backend when a connection opens and pins it, so these lines are what its \
             balancer balances.{}",
            if more > 0 {
                format!(" The first {MAX_PANELS} variants are drawn; {more} more are in server_timeseries.csv.")
            } else {
                String::new()
            }
        ),
        |root| {
            let body = titled(root, &title)?;
            let body = legend(&body, &items)?;
            let areas = panels_of(body, variants.len());
            for (k, (area, (i, by_server))) in areas.iter().zip(&variants).enumerate() {
                let y = Axis::linear_n(
                    0.0,
                    (hi * 1.15).max(1.0),
                    &format!("{} (conn)", legend_name(r, &algs[*i])),
                    3.0,
                );
                let opts = PlaneOpts {
                    x_area: if k + 1 == variants.len() { 52 } else { 0 },
                    ..PLANE
                };
                let mut chart = plane(area, &x, &y, &opts)?;
                shade_warmup(&mut chart, &x, &y, warmup)?;
                for (ps, l) in by_server.iter().zip(&looks) {
                    let seg: Vec<(f64, f64)> = ps
                        .iter()
                        .map(|p| (x.at(p.t_s + width), y.at(p.open)))
                        .collect();
                    draw_line(&mut chart, seg, *l, 2)?;
                }
            }
            Ok(())
        },
    )
    .map(Some)
}
