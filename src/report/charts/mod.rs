//! Charts of a results directory, drawn with plotters: each as an SVG document (for the
//! HTML report) and a PNG image (for slides and chat), 900 × 540 px.
//!
//! | file | chart | input |
//! |---|---|---|
//! | `latency-percentiles` | latency by percentile on a "nines" axis, CI bands | `latency.csv` |
//! | `latency-summary` | p50 / p99 / p99.9 per algorithm with CI whiskers | `summary.csv` |
//! | `server-load` | each server's share of requests and of busy time | `servers.csv` |
//! | `latency-breakdown` | each class's mean latency split by service (time at the service itself), per variant | `hops.csv` |
//! | `service-<name>` | one service's throughput, errors and mean latency over time (replication 0) | `service_timeseries.csv` |
//! | `timeseries` | throughput, p99 and errors over time (replication 0), with failure, health, load balancer failover and membership markers | `timeseries.csv` (+ `failovers.csv`, `health.csv`, `ha.csv`, `changes.csv`) |
//! | `sweep-<metric>` | a metric against the first swept key, one line per algorithm: p99 and throughput always; error rate, detection and LB failover/outage times when some point has them | `sweep.csv` |
//! | `heatmap-<metric>` | a metric over two swept keys, one heatmap per algorithm | `sweep.csv` |
//!
//! A chart is drawn only when its input exists, and a panel only when some value in it
//! is nonzero (a run without errors has no errors panel; the caption says so). Every
//! title names the scenario and what varies (`slow-query · latency percentiles by
//! algorithm`, `lb-failover · … by lb.topology`, `quick-start · latency p99 vs
//! clients.rate, by algorithm`); a comparison over one key labels its series by value.
//!
//! **Colours.** One colour per variant *name*, the same in every chart, run, comparison
//! and sweep, and in `report.html`'s swatches ([`colour_hex`]): twelve colours that stay
//! apart for the common colour-vision deficiencies (Okabe–Ito without its yellow, four of
//! Paul Tol's, a brown). Each algorithm of the catalogue has a fixed colour (round robin
//! blue, least-connections vermillion, power-of-two bluish green, random reddish purple,
//! …; `ketama(ip)` takes ketama's), any other name one chosen by a hash of the name. When
//! two names in one results directory ask for the same colour, the one sorting first keeps
//! it and the other takes the next free one, so a chart never shows two series in one
//! colour up to twelve; past twelve the colours repeat with dashed lines and other marker
//! shapes. The heatmap uses viridis.
//!
//! **Axes.** The latency axis follows the data: from the smallest plotted value rounded
//! down to a 1-2-5 step (a lone minimum ten times below the rest is left off) to the
//! largest rounded up. Confidence bands and whiskers never set an axis range; they are
//! clipped to it, and on a log axis a non-positive bound is not drawn (the band breaks,
//! the whisker keeps its upper half). Tick labels are all 15 px and written by
//! [`tick_labels`] (`0.05`, `2.5`, `980`; `1k`, `3k`, `10k` on an axis reaching 10,000).
//! Time series shade the warm-up, "warm-up (excluded)".
//!
//! Text is set in the embedded DejaVu Sans (`assets/DejaVuSans.ttf`), so PNGs look the
//! same on every machine. Rendering is pure and deterministic: the same results give the
//! same bytes.
//!
//! Layout: this file holds the list ([`all`]); `backend.rs` the font, the dual SVG + PNG
//! backend and [`render`]; `style.rs` palette, legend, markers and whiskers; `axis.rs`
//! axes and tick labels; one file per chart kind (`percentiles.rs`, `summary.rs`,
//! `servers.rs`, `services.rs`, `timeseries.rs`, `sweep.rs`, `heatmap.rs`); `tests.rs`.

use std::ops::Range;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

use crate::report::results::{Estimate, Results};

mod axis;
mod backend;
mod connections;
mod heatmap;
mod percentiles;
mod servers;
mod services;
mod style;
mod summary;
mod sweep;
#[cfg(test)]
mod tests;
mod timeseries;

use axis::*;
use backend::*;
use style::*;
use sweep::*;

pub use axis::fmt_num;
pub use connections::connection_panels;
pub use heatmap::sweep_heatmap;
pub use percentiles::percentile_curves;
pub use servers::server_load;
pub use services::{latency_breakdown, service_panels};
pub use style::colour_hex;
pub use summary::latency_summary;
pub use sweep::sweep_curves;
pub use timeseries::time_series;

/// Width and height of every chart, px.
pub const SIZE: (u32, u32) = (900, 540);

/// One rendered chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// File stem: the chart is written as `<name>.svg` and `<name>.png`.
    pub name: String,
    /// Title, as drawn on the chart.
    pub title: String,
    /// How to read it (a sentence for the report).
    pub caption: String,
    /// The SVG document.
    pub svg: String,
    /// The PNG image.
    pub png: Vec<u8>,
}

/// Drawing a chart failed.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChartError {}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError(format!("drawing failed: {e}"))
    }
}

/// What varies between the series of `r`: the scenario key of a comparison over one key
/// (`compare --axis`, whose variants are labelled `key=value`), else `algorithm`.
pub(crate) fn varied(r: &Results) -> String {
    let algs = r.algorithms();
    let key = |a: &String| {
        a.split_once('=')
            .filter(|(k, _)| k.contains('.') && !k.contains('('))
            .map(|(k, _)| k.to_string())
    };
    match algs.first().and_then(key) {
        Some(k) if algs.iter().all(|a| key(a).as_ref() == Some(&k)) => k,
        _ if algs.iter().any(|a| key(a).is_some()) => "variant".into(),
        _ => "algorithm".into(),
    }
}

/// How a chart's legend names a variant: without the `key=` of a comparison over one
/// key, which the title names (`single` for `lb.topology=single`).
fn legend_name(r: &Results, name: &str) -> String {
    let key = varied(r);
    name.strip_prefix(&format!("{key}="))
        .unwrap_or(name)
        .to_string()
}

/// A chart title that names the scenario, what is drawn and what varies:
/// `slow-query · latency percentiles by algorithm`.
fn chart_title(r: &Results, what: &str) -> String {
    format!("{} · {what} by {}", r.scenario(), varied(r))
}

/// Metrics a sweep charts besides p99 and throughput, when some point has a nonzero
/// value: errors, and the failover times a failure sweep is usually about.
const SWEEP_EXTRA: [&str; 4] = [
    "error_rate_pct",
    "detection_mean_s",
    "lb_failover_mean_s",
    "lb_outage_mean_s",
];

/// Whether any aggregated sweep row has a finite nonzero `metric`.
fn sweep_shows(r: &Results, metric: &str) -> bool {
    let Some(sw) = &r.sweep else { return false };
    sw.points().iter().any(|(p, _)| {
        sw.algorithms.iter().any(|a| {
            sw.estimate(a, *p, metric)
                .is_some_and(|e| e.mean.is_finite() && e.mean != 0.0)
        })
    })
}

/// Every chart whose input exists, in report order.
pub fn all(r: &Results) -> Result<Vec<Chart>, ChartError> {
    let mut out = Vec::new();
    let found = [
        percentile_curves(r)?,
        latency_summary(r)?,
        server_load(r)?,
        time_series(r)?,
        latency_breakdown(r)?,
        connection_panels(r)?,
        sweep_curves(r, "latency_p99_ms")?,
        sweep_curves(r, "throughput_rps")?,
    ];
    out.extend(found.into_iter().flatten());
    for m in SWEEP_EXTRA {
        if sweep_shows(r, m) {
            out.extend(sweep_curves(r, m)?);
        }
    }
    out.extend(sweep_heatmap(r, "latency_p99_ms")?);
    out.extend(service_panels(r)?);
    Ok(out)
}

/// Checks that `svg` looks like one well-formed SVG element: it starts with `<svg`, every
/// tag is closed in order, and nothing follows the root. Not an XML parser; enough to
/// catch truncated or interleaved output. Returns the number of elements.
#[cfg(test)]
pub(crate) fn check_svg(svg: &str) -> Result<usize, String> {
    let s = svg.trim();
    if !s.starts_with("<svg") {
        return Err("does not start with <svg".into());
    }
    let mut stack: Vec<String> = Vec::new();
    let mut count = 0;
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').ok_or("unterminated tag")? + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack
                .pop()
                .ok_or(format!("</{name}> without an open tag"))?;
            if top != name.trim() {
                return Err(format!("</{name}> closes <{top}>"));
            }
            if stack.is_empty() && !rest.trim().is_empty() {
                return Err("content after the root element".into());
            }
        } else {
            count += 1;
            let name: String = tag
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '/')
                .collect();
            if name.is_empty() {
                return Err("empty tag".into());
            }
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        if stack.is_empty() && count > 0 && !tag.ends_with('/') && !rest.trim().is_empty() {
            return Err("content after the root element".into());
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed <{}>", stack.join("> <")));
    }
    Ok(count)
}
