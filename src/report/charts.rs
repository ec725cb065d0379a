//! Charts of a results directory, drawn with plotters: each as an SVG document (for the
//! HTML report) and a PNG image (for slides and chat), 900 × 540 px.
//!
//! | file | chart | input |
//! |---|---|---|
//! | `latency-percentiles` | latency by percentile on a "nines" axis, CI bands | `latency.csv` |
//! | `latency-summary` | p50 / p99 / p99.9 per algorithm with CI whiskers | `summary.csv` |
//! | `server-load` | each server's share of requests and of busy time | `servers.csv` |
//! | `timeseries` | throughput, p99 and errors over time (replication 0), with failure, health, load balancer failover and membership markers | `timeseries.csv` (+ `failovers.csv`, `health.csv`, `ha.csv`, `changes.csv`) |
//! | `sweep-<metric>` | a metric against the first swept key, one line per algorithm: p99 and throughput always; error rate, detection and LB failover/outage times when some point has them | `sweep.csv` |
//! | `heatmap-<metric>` | a metric over two swept keys, one heatmap per algorithm | `sweep.csv` |
//!
//! A chart is drawn only when its input exists. Colours follow the Okabe–Ito palette
//! (safe for the common colour-vision deficiencies), one colour per algorithm in the order
//! of [`Results::algorithms`], the same in every chart; the heatmap uses viridis. Text is
//! set in the embedded DejaVu Sans (`assets/DejaVuSans.ttf`), so PNGs look the same on
//! every machine. Rendering is pure and deterministic: the same results give the same
//! bytes.

use std::ops::Range;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendColor, BackendCoord, DrawingErrorKind};

use super::results::{Estimate, Results};

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

/// The Okabe–Ito palette without its yellow (too pale on white): blue, vermillion, bluish
/// green, reddish purple, orange, sky blue, black. Beyond seven series the colours repeat
/// with dashed lines.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];

const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
const GRID: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);
const FONT: &str = "sans-serif";

/// The colour of series `i`, as `#rrggbb` (for the HTML report's swatches).
pub fn colour_hex(i: usize) -> String {
    let RGBColor(r, g, b) = PALETTE[i % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// How series `i` is drawn: its colour, and past the seventh series dashed lines and
/// square (then triangular) markers, so that series sharing a colour stay apart.
#[derive(Copy, Clone)]
struct Look {
    colour: RGBColor,
    dashed: bool,
    shape: usize,
}

fn look(i: usize) -> Look {
    Look {
        colour: PALETTE[i % PALETTE.len()],
        dashed: i >= PALETTE.len(),
        shape: (i / PALETTE.len()) % 3,
    }
}

/// The marker of `l` at `at` (plot coordinates), `r` px in radius.
fn marker<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    l: Look,
    at: (f64, f64),
    r: i32,
) -> Result<(), ChartError> {
    let st = l.colour.filled();
    match l.shape {
        0 => chart.draw_series(std::iter::once(Circle::new(at, r, st)))?,
        1 => chart.draw_series(std::iter::once(
            EmptyElement::at(at) + Rectangle::new([(-r, -r), (r, r)], st),
        ))?,
        _ => chart.draw_series(std::iter::once(
            EmptyElement::at(at) + Polygon::new(vec![(-r - 1, r), (r + 1, r), (0, -r - 1)], st),
        ))?,
    };
    Ok(())
}

fn text(size: u32, colour: &RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(colour)
}

/// DejaVu Sans (Bitstream Vera license; see `assets/README.md`).
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the embedded font under the generic family name the charts use (plotters
/// measures text with it), and returns it for the PNG text rasterizer.
fn ensure_font() -> Result<&'static FontRef<'static>, ChartError> {
    static FONT_REF: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT_REF
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).ok()?;
            FontRef::try_from_slice(FONT_BYTES).ok()
        })
        .as_ref()
        .ok_or_else(|| ChartError("the embedded font could not be loaded".into()))
}

/// A drawing backend that draws everything twice: into the SVG document and into the
/// RGB buffer of the PNG. Each chart is drawn once, through this, so the SVG and the PNG
/// cannot drift apart (and the drawing code is compiled once, not once per backend).
///
/// Text in the bitmap is rasterized here rather than by plotters: plotters' ab_glyph text
/// drawing drops each glyph's left bearing and rounds its vertical offset towards zero,
/// so small text comes out with uneven spacing and raised dots and commas. This places
/// every glyph exactly, sized and anchored as the SVG backend tells a browser to
/// (font-size = size / 1.24, baseline 0.76 em below a top anchor, 0.5 ex below a centre).
struct Dual<'a> {
    svg: SVGBackend<'a>,
    png: BitMapBackend<'a>,
    font: &'static FontRef<'static>,
}

/// An error of either backend.
#[derive(Debug)]
struct DualError(String);

impl std::fmt::Display for DualError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DualError {}

fn lift<E: std::error::Error + Send + Sync>(e: DrawingErrorKind<E>) -> DrawingErrorKind<DualError> {
    match e {
        DrawingErrorKind::DrawingError(e) => {
            DrawingErrorKind::DrawingError(DualError(e.to_string()))
        }
        DrawingErrorKind::FontError(f) => DrawingErrorKind::FontError(f),
    }
}

type DualResult = Result<(), DrawingErrorKind<DualError>>;

impl DrawingBackend for Dual<'_> {
    type ErrorType = DualError;

    fn get_size(&self) -> (u32, u32) {
        self.svg.get_size()
    }

    fn ensure_prepared(&mut self) -> DualResult {
        self.svg.ensure_prepared().map_err(lift)?;
        self.png.ensure_prepared().map_err(lift)
    }

    fn present(&mut self) -> DualResult {
        self.svg.present().map_err(lift)?;
        self.png.present().map_err(lift)
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> DualResult {
        self.svg.draw_pixel(point, color).map_err(lift)?;
        self.png.draw_pixel(point, color).map_err(lift)
    }

    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> DualResult {
        self.svg.draw_line(from, to, style).map_err(lift)?;
        self.png.draw_line(from, to, style).map_err(lift)
    }

    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> DualResult {
        self.svg
            .draw_rect(upper_left, bottom_right, style, fill)
            .map_err(lift)?;
        self.png
            .draw_rect(upper_left, bottom_right, style, fill)
            .map_err(lift)
    }

    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> DualResult {
        let path: Vec<BackendCoord> = path.into_iter().collect();
        self.svg
            .draw_path(path.iter().copied(), style)
            .map_err(lift)?;
        self.png.draw_path(path, style).map_err(lift)
    }

    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> DualResult {
        self.svg
            .draw_circle(center, radius, style, fill)
            .map_err(lift)?;
        self.png
            .draw_circle(center, radius, style, fill)
            .map_err(lift)
    }

    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> DualResult {
        let vert: Vec<BackendCoord> = vert.into_iter().collect();
        self.svg
            .fill_polygon(vert.iter().copied(), style)
            .map_err(lift)?;
        self.png.fill_polygon(vert, style).map_err(lift)
    }

    fn draw_text<S: plotters_backend::BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> DualResult {
        self.svg.draw_text(text, style, pos).map_err(lift)?;
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        let f = self.font;
        let em = (style.size() / 1.24) as f32;
        let scale = PxScale::from(em * f.height_unscaled() / f.units_per_em().unwrap_or(2048.0));
        let sf = f.as_scaled(scale);
        let mut glyphs: Vec<(GlyphId, f32)> = Vec::new();
        let mut x = 0.0f32;
        let mut prev: Option<GlyphId> = None;
        for ch in text.chars() {
            let id = sf.glyph_id(ch);
            if let Some(p) = prev {
                x += sf.kern(p, id);
            }
            glyphs.push((id, x));
            x += sf.h_advance(id);
            prev = Some(id);
        }
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -x / 2.0,
            HPos::Right => -x,
        };
        // Half the x-height of DejaVu Sans (1120 / 2048 em), as a browser takes 0.5ex.
        let half_ex = 0.273 * em;
        let dy = match style.anchor().v_pos {
            VPos::Top => 0.76 * em,
            VPos::Center => half_ex,
            VPos::Bottom => -half_ex,
        };
        let trans = style.transform();
        let (w, h) = self.png.get_size();
        for (id, gx) in glyphs {
            let g = id.with_scale_and_position(scale, ab_glyph::point(gx + dx, dy));
            let Some(o) = f.outline_glyph(g) else {
                continue;
            };
            let b = o.px_bounds();
            let mut pixels = Vec::new();
            o.draw(|px, py, cov| {
                if cov > 0.0 {
                    pixels.push((b.min.x as i32 + px as i32, b.min.y as i32 + py as i32, cov));
                }
            });
            for (px, py, cov) in pixels {
                let (rx, ry) = trans.transform(px, py);
                let (x, y) = (pos.0 + rx, pos.1 + ry);
                if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                    let c = BackendColor {
                        alpha: colour.alpha * f64::from(cov.min(1.0)),
                        rgb: colour.rgb,
                    };
                    self.png.draw_pixel((x, y), c).map_err(lift)?;
                }
            }
        }
        Ok(())
    }
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, ChartError> {
    let err = |e: png::EncodingError| ChartError(format!("PNG encoding failed: {e}"));
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header().map_err(err)?;
    wr.write_image_data(rgb).map_err(err)?;
    wr.finish().map_err(err)?;
    Ok(out)
}

type Area<DB> = DrawingArea<DB, Shift>;

/// Draws a chart into an SVG document and a PNG image at once (see [`Dual`]).
fn render(
    name: String,
    title: String,
    caption: String,
    draw: impl FnOnce(&Area<Dual<'_>>) -> Result<(), ChartError>,
) -> Result<Chart, ChartError> {
    let font = ensure_font()?;
    let wrap = |e: ChartError| ChartError(format!("chart {name}: {e}"));
    let mut svg = String::new();
    let mut rgb = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    {
        let root = Dual {
            svg: SVGBackend::with_string(&mut svg, SIZE),
            png: BitMapBackend::with_buffer(&mut rgb, SIZE),
            font,
        }
        .into_drawing_area();
        root.fill(&WHITE).map_err(ChartError::from).map_err(wrap)?;
        draw(&root).map_err(wrap)?;
        root.present().map_err(ChartError::from).map_err(wrap)?;
    }
    let png = encode_png(&rgb, SIZE).map_err(wrap)?;
    Ok(Chart {
        name,
        title,
        caption,
        svg,
        png,
    })
}

// ---------------------------------------------------------------------------------------
// Axes: every chart uses linear f64 coordinates with explicit ticks; a log axis plots
// log10 of the value, so the one coordinate type serves all charts.

#[derive(Clone, Debug)]
struct Axis {
    /// Range in plot coordinates.
    lo: f64,
    hi: f64,
    log: bool,
    /// Ticks: plot coordinate and label.
    ticks: Vec<(f64, String)>,
    desc: String,
}

impl Axis {
    fn map(&self, v: f64) -> f64 {
        if self.log { v.max(1e-12).log10() } else { v }
    }

    /// A value mapped and clamped into the axis range.
    fn at(&self, v: f64) -> f64 {
        self.map(v).clamp(self.lo, self.hi)
    }

    fn label(&self, c: f64) -> String {
        self.ticks
            .iter()
            .find(|(t, _)| (t - c).abs() < 1e-9)
            .map(|(_, l)| l.clone())
            .unwrap_or_default()
    }

    /// A linear axis over [lo, hi] with about six round ticks.
    fn linear(lo: f64, hi: f64, desc: &str) -> Axis {
        Axis::linear_n(lo, hi, desc, 6.0)
    }

    /// A linear axis over [lo, hi] with about `n` round ticks.
    fn linear_n(lo: f64, hi: f64, desc: &str, n: f64) -> Axis {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        };
        let step = nice_step((hi - lo) / n);
        let mut ticks = Vec::new();
        let mut k = (lo / step).ceil();
        while k * step <= hi + step * 1e-9 {
            let v = k * step;
            ticks.push((v, fmt_num(if v.abs() < step * 1e-9 { 0.0 } else { v })));
            k += 1.0;
        }
        Axis {
            lo,
            hi,
            log: false,
            ticks,
            desc: desc.into(),
        }
    }

    /// A log axis over [lo, hi] (both > 0) with ticks at 1-2-5 style values.
    fn log(lo: f64, hi: f64, desc: &str) -> Axis {
        let lo = lo.max(1e-9);
        let hi = hi.max(lo * 1.5);
        let ticks = log_ticks(lo, hi)
            .into_iter()
            .map(|v| (v.log10(), fmt_num(v)))
            .collect();
        Axis {
            lo: lo.log10(),
            hi: hi.log10(),
            log: true,
            ticks,
            desc: desc.into(),
        }
    }

    /// Linear from zero, or log when the positive values span more than `ratio`.
    fn auto(values: &[f64], desc: &str, ratio: f64) -> Axis {
        Axis::auto_n(values, desc, ratio, 6.0)
    }

    /// [`Axis::auto`] with about `n` ticks when linear.
    fn auto_n(values: &[f64], desc: &str, ratio: f64, n: f64) -> Axis {
        let (min, max) = min_max(values.iter().copied().filter(|v| *v > 0.0));
        let top = min_max(values.iter().copied()).1;
        if min.is_finite() && max / min > ratio {
            let desc = match desc.strip_suffix(')') {
                Some(d) => format!("{d}, log scale)"),
                None => format!("{desc} (log scale)"),
            };
            Axis::log(min / 1.4, max * 1.4, &desc)
        } else if top.is_finite() && top > 0.0 {
            Axis::linear_n(0.0, top * 1.1, desc, n)
        } else {
            Axis::linear_n(0.0, 1.0, desc, n)
        }
    }

    /// Categories at 0, 1, 2, ...
    fn categories(labels: &[String], desc: &str) -> Axis {
        Axis {
            lo: -0.5,
            hi: labels.len() as f64 - 0.5,
            log: false,
            ticks: labels
                .iter()
                .enumerate()
                .map(|(i, l)| (i as f64, l.clone()))
                .collect(),
            desc: desc.into(),
        }
    }

    /// Blanks category labels so that the rest fit in `px` pixels (about 7.5 px a
    /// character at 13 px): every second, third, ... label is kept.
    fn thin(&mut self, px: f64) {
        let n = self.ticks.len();
        let widest = self
            .ticks
            .iter()
            .map(|(_, l)| l.chars().count())
            .max()
            .unwrap_or(0) as f64;
        let need = n as f64 * (widest * 7.5 + 12.0);
        let stride = (need / px.max(1.0)).ceil().max(1.0) as usize;
        for (i, t) in self.ticks.iter_mut().enumerate() {
            if i % stride != 0 {
                t.1.clear();
            }
        }
    }

    /// Like [`Axis::thin`] for a vertical axis: labels need about 18 px each.
    fn thin_vertical(&mut self, px: f64) {
        let stride = (self.ticks.len() as f64 * 18.0 / px.max(1.0))
            .ceil()
            .max(1.0) as usize;
        for (i, t) in self.ticks.iter_mut().enumerate() {
            if i % stride != 0 {
                t.1.clear();
            }
        }
    }

    fn range(&self) -> Ticked {
        Ticked {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.iter().map(|(t, _)| *t).collect(),
        }
    }
}

/// A linear f64 coordinate whose grid lines and labels are exactly the given ticks.
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        if self.hi <= self.lo {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

fn min_max(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    xs.filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        })
}

fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let n = raw / mag;
    let m = if n < 1.5 {
        1.0
    } else if n < 3.0 {
        2.0
    } else if n < 7.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// Ticks for a log axis: powers of ten, with 2 and 5 (or 3) in between when the range is
/// short, every other power when it is long.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let ticks_of = |mants: &[f64], every: i32| {
        let mut out = Vec::new();
        let (e0, e1) = (lo.log10().floor() as i32 - 1, hi.log10().ceil() as i32 + 1);
        for e in e0..=e1 {
            if e.rem_euclid(every) != 0 {
                continue;
            }
            for m in mants {
                let v = m * 10f64.powi(e);
                if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                    out.push(v);
                }
            }
        }
        out
    };
    for mants in [
        &[1.0][..],
        &[1.0, 3.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 1.5, 2.0, 3.0, 5.0, 7.0],
    ] {
        let t = ticks_of(mants, 1);
        if t.len() > 9 && mants.len() == 1 {
            return ticks_of(mants, 2);
        }
        if t.len() >= 4 {
            return t;
        }
    }
    ticks_of(
        &[1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        1,
    )
}

/// A compact number for tick labels and annotations: `0.05`, `2.5`, `43.8`, `980`, `12k`.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if !v.is_finite() {
        "n/a".into()
    } else if a == 0.0 {
        "0".into()
    } else if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else {
        let d = (-(a.log10().floor()) as usize + 1).min(9);
        trim(format!("{v:.d$}"))
    }
}

type Plane = Cartesian2d<Ticked, Ticked>;

struct PlaneOpts {
    /// Height of the x label area (0: no tick labels, no description).
    x_area: u32,
    /// Width of the y label area.
    y_area: u32,
    /// Draw vertical grid lines.
    x_grid: bool,
}

const PLANE: PlaneOpts = PlaneOpts {
    x_area: 52,
    y_area: 84,
    x_grid: true,
};

fn plane<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    x: &Axis,
    y: &Axis,
    o: &PlaneOpts,
) -> Result<ChartContext<'a, DB, Plane>, ChartError> {
    let mut chart = ChartBuilder::on(area)
        .margin_left(6)
        .margin_right(18)
        .margin_top(8)
        .margin_bottom(if o.x_area == 0 { 4 } else { 6 })
        .x_label_area_size(o.x_area)
        .y_label_area_size(o.y_area)
        .build_cartesian_2d(x.range(), y.range())?;
    let xf = |v: &f64| x.label(*v);
    let yf = |v: &f64| y.label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(MUTED)
        .label_style(text(15, &INK))
        .axis_desc_style(text(16, &INK));
    if !y.desc.is_empty() {
        mesh.y_desc(y.desc.as_str());
    }
    if o.x_area > 0 && !x.desc.is_empty() {
        mesh.x_desc(x.desc.as_str());
    }
    if !o.x_grid {
        mesh.disable_x_mesh();
    }
    mesh.draw()?;
    Ok(chart)
}

/// Splits off the title (centred, 20 px) and returns the rest.
fn titled<DB: DrawingBackend>(root: &Area<DB>, title: &str) -> Result<Area<DB>, ChartError> {
    let (top, rest) = root.split_vertically(36);
    top.draw(&Text::new(
        title.to_string(),
        (SIZE.0 as i32 / 2, 10),
        text(22, &INK).pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    Ok(rest)
}

/// What a legend entry shows.
#[derive(Clone)]
enum Key {
    Line(Look),
    Dot(Look),
    Band(RGBColor),
    Shade,
    VLine(RGBColor),
    HLine(RGBColor),
    Down(RGBColor),
    Up(RGBColor),
    /// A load balancer node's down span.
    LbShade,
    /// An HA event: filled (traffic moved away) or hollow (a node back in).
    Diamond(RGBColor, bool),
}

/// The tint of a load balancer node's down span (a blue grey, apart from the server grey).
const LB_SHADE: RGBColor = RGBColor(70, 100, 150);

/// A diamond's corners around (0, 0).
fn diamond(r: i32) -> Vec<(i32, i32)> {
    vec![(0, -r), (r, 0), (0, r), (-r, 0)]
}

/// Draws a horizontal legend strip (wrapping to more rows) and returns the area below it.
fn legend<DB: DrawingBackend>(
    area: &Area<DB>,
    items: &[(Key, String)],
) -> Result<Area<DB>, ChartError> {
    let style = text(15, &INK);
    let (w, _) = area.dim_in_pixel();
    let row_h = 22;
    // Lay out first, to know the height.
    let mut placed = Vec::new();
    let mut widths = Vec::new();
    for (_, label) in items {
        let (tw, _) = area.estimate_text_size(label, &style)?;
        widths.push(tw as i32);
    }
    let total: i32 = widths.iter().map(|tw| tw + 22 + 18).sum();
    let (mut x, mut row) = (((w as i32 - total) / 2).max(10), 0i32);
    for (i, tw) in widths.iter().enumerate() {
        let need = tw + 22 + 18;
        if x + need > w as i32 - 10 && x > 10 {
            row += 1;
            x = 10;
        }
        placed.push((i, x, row));
        x += need;
    }
    let rows = row + 1;
    let (top, rest) = area.split_vertically((rows * row_h + 6) as u32);
    for (i, x, row) in placed {
        let y = row * row_h + row_h / 2 + 2;
        let (key, label) = &items[i];
        match key {
            Key::Line(l) => {
                let st = l.colour.stroke_width(3);
                if l.dashed {
                    top.draw(&DashedPathElement::new(vec![(x, y), (x + 18, y)], 4, 3, st))?;
                } else {
                    top.draw(&PathElement::new(vec![(x, y), (x + 18, y)], st))?;
                }
            }
            Key::Dot(l) => match l.shape {
                0 => top.draw(&Circle::new((x + 9, y), 5, l.colour.filled()))?,
                1 => top.draw(&Rectangle::new(
                    [(x + 4, y - 5), (x + 14, y + 5)],
                    l.colour.filled(),
                ))?,
                _ => top.draw(&Polygon::new(
                    vec![(x + 3, y + 5), (x + 15, y + 5), (x + 9, y - 6)],
                    l.colour.filled(),
                ))?,
            },
            Key::Band(c) => top.draw(&Rectangle::new(
                [(x, y - 6), (x + 18, y + 6)],
                c.mix(0.2).filled(),
            ))?,
            Key::Shade => top.draw(&Rectangle::new(
                [(x, y - 7), (x + 18, y + 7)],
                BLACK.mix(0.1).filled(),
            ))?,
            Key::VLine(c) => top.draw(&DashedPathElement::new(
                vec![(x + 9, y - 8), (x + 9, y + 8)],
                3,
                2,
                c.stroke_width(2),
            ))?,
            Key::HLine(c) => top.draw(&DashedPathElement::new(
                vec![(x, y), (x + 18, y)],
                5,
                3,
                c.stroke_width(2),
            ))?,
            Key::Down(c) => top.draw(&Polygon::new(
                vec![(x + 4, y - 4), (x + 14, y - 4), (x + 9, y + 5)],
                c.filled(),
            ))?,
            Key::Up(c) => top.draw(&Polygon::new(
                vec![(x + 4, y + 4), (x + 14, y + 4), (x + 9, y - 5)],
                c.filled(),
            ))?,
            Key::LbShade => top.draw(&Rectangle::new(
                [(x, y - 7), (x + 18, y + 7)],
                LB_SHADE.mix(0.16).filled(),
            ))?,
            Key::Diamond(c, filled) => {
                let pts: Vec<(i32, i32)> = diamond(6)
                    .into_iter()
                    .map(|(a, b)| (x + 9 + a, y + b))
                    .collect();
                if *filled {
                    top.draw(&Polygon::new(pts, c.filled()))?
                } else {
                    let mut ring = pts.clone();
                    ring.push(pts[0]);
                    top.draw(&PathElement::new(ring, c.stroke_width(2)))?
                }
            }
        }
        top.draw(&Text::new(
            label.clone(),
            (x + 22, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(rest)
}

fn draw_line<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    pts: Vec<(f64, f64)>,
    l: Look,
    width: u32,
) -> Result<(), ChartError> {
    if pts.len() < 2 {
        return Ok(());
    }
    let st = l.colour.stroke_width(width);
    if l.dashed {
        chart.draw_series(std::iter::once(DashedPathElement::new(pts, 8, 5, st)))?;
    } else {
        chart.draw_series(std::iter::once(PathElement::new(pts, st)))?;
    }
    Ok(())
}

/// A vertical CI whisker with caps `cap` wide (plot units).
fn whisker<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    x: f64,
    lo: f64,
    hi: f64,
    cap: f64,
    c: RGBColor,
) -> Result<(), ChartError> {
    let st = c.stroke_width(2);
    chart.draw_series([
        PathElement::new(vec![(x, lo), (x, hi)], st),
        PathElement::new(vec![(x - cap, lo), (x + cap, lo)], st),
        PathElement::new(vec![(x - cap, hi), (x + cap, hi)], st),
    ])?;
    Ok(())
}

/// Offsets of `n` series side by side within a category one unit wide.
fn dodge(i: usize, n: usize) -> f64 {
    let w = (0.7 / n as f64).min(0.2);
    (i as f64 - (n as f64 - 1.0) / 2.0) * w
}

// ---------------------------------------------------------------------------------------
// (a) Latency percentile curves.

/// `x = −log10(1 − q)`: 0 at the minimum, 1 at p90, 2 at p99, ...
fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-12).log10()
}

fn nines_label(k: u32) -> String {
    match k {
        0 => "min".into(),
        1 => "90%".into(),
        k => format!("99.{}%", "9".repeat(k as usize - 2)).replace("99.%", "99%"),
    }
}

struct Curve {
    look: Look,
    alg: String,
    mean: Vec<(f64, f64)>,
    band: Vec<(f64, f64, f64)>,
    max: Option<f64>,
}

fn curves(r: &Results) -> Vec<Curve> {
    let Some(lat) = &r.latency else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, alg) in r.algorithms().iter().enumerate() {
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
            look: look(i),
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
    let ys: Vec<f64> = cs
        .iter()
        .flat_map(|c| {
            c.mean
                .iter()
                .map(|p| p.1)
                .chain(c.band.iter().flat_map(|b| [b.1, b.2]))
                .chain(c.max)
        })
        .filter(|v| *v > 0.0)
        .collect();
    let (lo, hi) = min_max(ys.iter().copied());
    let y = Axis::log(lo / 1.25, hi * 1.25, "latency (ms, log scale)");
    let mut items: Vec<(Key, String)> = cs
        .iter()
        .map(|c| (Key::Line(c.look), c.alg.clone()))
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
    render(
        "latency-percentiles".into(),
        "Latency by percentile".into(),
        "Each line is an algorithm's latency (log scale) at every percentile; the x axis \
         stretches the tail so that each step right is ten times rarer (90%, 99%, 99.9%, …). \
         Shaded bands are 95% confidence intervals over replications; dots at the right are \
         the maximum."
            .into(),
        |root| {
            let body = titled(root, "Latency by percentile")?;
            let body = legend(&body, &items)?;
            let mut chart = plane(&body, &x, &y, &PLANE)?;
            for c in &cs {
                if c.band.len() >= 2 {
                    let mut poly: Vec<(f64, f64)> =
                        c.band.iter().map(|b| (b.0, y.at(b.2))).collect();
                    poly.extend(c.band.iter().rev().map(|b| (b.0, y.at(b.1))));
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

// ---------------------------------------------------------------------------------------
// (b) p50 / p99 / p99.9 with CIs.

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
    let vals: Vec<f64> = pts
        .iter()
        .flat_map(|(_, _, e)| [e.mean, e.lo, e.hi])
        .collect();
    let y = Axis::auto(&vals, "latency (ms)", 20.0);
    let labels: Vec<String> = groups.iter().map(|g| g.1.to_string()).collect();
    let x = Axis::categories(&labels, "percentile");
    let items: Vec<(Key, String)> = shown
        .iter()
        .map(|i| (Key::Dot(look(*i)), algs[*i].clone()))
        .collect();
    let n = shown.len();
    render(
        "latency-summary".into(),
        "Latency percentiles with 95% CIs".into(),
        "The median, p99 and p99.9 of each algorithm: dots are means over replications, \
         whiskers their 95% confidence intervals. Whiskers that do not overlap mean a real \
         difference."
            .into(),
        |root| {
            let body = titled(root, "Latency percentiles with 95% CIs")?;
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
                let c = look(*i).colour;
                if e.has_ci() {
                    whisker(&mut chart, cx, y.at(e.lo), y.at(e.hi), 0.03, c)?;
                }
                marker(&mut chart, look(*i), (cx, y.at(e.mean)), 5)?;
            }
            Ok(())
        },
    )
    .map(Some)
}

// ---------------------------------------------------------------------------------------
// (c) Per-server load.

/// (c) Each server's share of requests and of busy time per algorithm (means with 95%
/// CIs), against the equal share: imbalance at a glance. `None` without `servers.csv`.
pub fn server_load(r: &Results) -> Result<Option<Chart>, ChartError> {
    let Some(rows) = &r.servers else {
        return Ok(None);
    };
    let algs = r.algorithms();
    let mut servers: Vec<String> = Vec::new();
    for row in rows {
        if !servers.contains(&row.server) {
            servers.push(row.server.clone());
        }
    }
    if servers.is_empty() {
        return Ok(None);
    }
    // (alg index, server index, [share, busy share]) as estimates.
    let mut pts: Vec<(usize, usize, [Estimate; 2])> = Vec::new();
    for (i, a) in algs.iter().enumerate() {
        let mine: Vec<_> = rows.iter().filter(|x| &x.algorithm == a).collect();
        if mine.is_empty() {
            continue;
        }
        let first_rep = mine.iter().filter_map(|x| x.replication).min();
        let aggregated = mine.iter().any(|x| x.stat == "mean");
        for (si, srv) in servers.iter().enumerate() {
            let get = |stat: &str, f: &dyn Fn(&super::results::ServerLoad) -> f64| {
                mine.iter()
                    .find(|x| {
                        &x.server == srv
                            && x.stat == stat
                            && (stat != "value" || x.replication == first_rep)
                    })
                    .map(|x| f(x))
                    .unwrap_or(f64::NAN)
            };
            let est = |f: &dyn Fn(&super::results::ServerLoad) -> f64| {
                if aggregated {
                    Estimate {
                        mean: get("mean", f),
                        lo: get("ci95_lo", f),
                        hi: get("ci95_hi", f),
                    }
                } else {
                    Estimate {
                        mean: get("value", f),
                        lo: f64::NAN,
                        hi: f64::NAN,
                    }
                }
            };
            let share = est(&|x| x.share_pct);
            let busy = est(&|x| x.busy_share_pct);
            if share.mean.is_finite() || busy.mean.is_finite() {
                pts.push((i, si, [share, busy]));
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
    let counts: Vec<usize> = shown
        .iter()
        .map(|i| pts.iter().filter(|p| p.0 == *i).count())
        .collect();
    let equal = if counts.windows(2).all(|w| w[0] == w[1]) {
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
    let mut x = Axis::categories(&servers, "server");
    x.thin(SIZE.0 as f64 - 110.0);
    let mut items: Vec<(Key, String)> = shown
        .iter()
        .map(|i| (Key::Dot(look(*i)), algs[*i].clone()))
        .collect();
    if equal.is_some() {
        items.push((Key::HLine(MUTED), "equal share".into()));
    }
    let whiskers = servers.len() * n <= 120;
    let dot = if servers.len() * n <= 60 { 5 } else { 3 };
    render(
        "server-load".into(),
        "Load per server".into(),
        "Each server's share of the requests (top) and of the busy time (bottom) under each \
         algorithm, with 95% CIs; the dashed line is an equal share. Dots far from it mean \
         imbalance: equal request counts can still hide unequal work."
            .into(),
        |root| {
            let body = titled(root, "Load per server: share of requests and of busy time")?;
            let body = legend(&body, &items)?;
            let (_, h) = body.dim_in_pixel();
            let (a1, a2) = body.split_vertically(h.saturating_sub(52) / 2);
            for (panel, area, y) in [(0, &a1, &y1), (1, &a2, &y2)] {
                let opts = PlaneOpts {
                    x_area: if panel == 0 { 0 } else { 52 },
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
                    let c = look(*i).colour;
                    if whiskers && e.has_ci() {
                        whisker(&mut chart, cx, y.at(e.lo), y.at(e.hi), 0.02, c)?;
                    }
                    marker(&mut chart, look(*i), (cx, y.at(e.mean)), dot)?;
                }
            }
            Ok(())
        },
    )
    .map(Some)
}

// ---------------------------------------------------------------------------------------
// (d) Time series.

struct Marker {
    /// Failure intervals: (from, to, label).
    failures: Vec<(f64, f64, String)>,
    /// Health changes: (at, down?, algorithm index).
    health: Vec<(f64, bool, usize)>,
    /// Membership changes: (at, label).
    changes: Vec<(f64, String)>,
    /// Load balancer node down spans: (from, to, label).
    lb_down: Vec<(f64, f64, String)>,
    /// HA events: (at, algorithm index, traffic moved away?).
    ha: Vec<(f64, usize, bool)>,
}

fn markers(r: &Results, algs: &[String], t_end: f64) -> Marker {
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
        for h in hs.iter().filter(|h| Some(h.replication) == rep) {
            if let Some(i) = algs.iter().position(|a| *a == h.algorithm) {
                m.health.push((h.at_s, h.state == "down", i));
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
    // Per algorithm: its first replication's buckets, in time order.
    let mut series: Vec<(usize, Vec<&super::results::Bucket>)> = Vec::new();
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
    let mid = |b: &super::results::Bucket| b.t_s + b.bucket_s.max(0.0) / 2.0;
    let x = Axis::linear(t0, t1, "time (s)");
    let all = |f: &dyn Fn(&super::results::Bucket) -> f64| -> Vec<f64> {
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
    let mut items: Vec<(Key, String)> = series
        .iter()
        .map(|(i, _)| (Key::Line(look(*i)), algs[*i].clone()))
        .collect();
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
    render(
        "timeseries".into(),
        "Throughput, p99 and errors over time".into(),
        "Replication 0 of each algorithm, bucket by bucket: completed requests per second, \
         the bucket's p99 latency and failed requests per second. Grey spans: a server was \
                  failed (fault to repair); blue-grey spans: a load balancer node was down; \
         triangles: a load balancer marked a server down (▼) or back up (▲); diamonds and \
         solid lines: the load balancer tier moved traffic (◆ a backup took the virtual IP, a \
         route was withdrawn or a DNS record removed; ◇ a node's route or record came back), \
         each in the algorithm's colour; dotted lines: servers joined or left."
            .into(),
        |root| {
            let body = titled(root, "Throughput, p99 and errors over time (replication 0)")?;
            let body = legend(&body, &items)?;
            let (_, h) = body.dim_in_pixel();
            let ph = h.saturating_sub(52) / 3;
            let (a1, rest) = body.split_vertically(ph);
            let (a2, a3) = rest.split_vertically(ph);
            let panels: [(&Area<_>, &Axis, usize); 3] =
                [(&a1, &y_thr, 0), (&a2, &y_p99, 1), (&a3, &y_err, 2)];
            for (area, y, p) in panels {
                let opts = PlaneOpts {
                    x_area: if p == 2 { 52 } else { 0 },
                    ..PLANE
                };
                let mut chart = plane(area, &x, y, &opts)?;
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
                        look(*i).colour.mix(0.7).stroke_width(1),
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
                            look(*i).colour.mix(0.6).stroke_width(1),
                        )))?;
                    }
                }
                for (i, bs) in &series {
                    let v = |b: &super::results::Bucket| match p {
                        0 => b.throughput_rps,
                        1 => b.p99_ms,
                        _ => b.errors_per_s,
                    };
                    // Split the line where a bucket has no value.
                    let mut seg: Vec<(f64, f64)> = Vec::new();
                    for b in bs {
                        let val = v(b);
                        if val.is_finite() && (!y.log || val > 0.0) {
                            seg.push((mid(b), y.at(val)));
                        } else {
                            draw_line(&mut chart, std::mem::take(&mut seg), look(*i), 2)?;
                        }
                    }
                    draw_line(&mut chart, seg, look(*i), 2)?;
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
                                + Polygon::new(tri, look(*i).colour.filled()),
                        ))?;
                    }
                    for (t, i, moved) in &mk.ha {
                        let k = series.iter().position(|s| s.0 == *i).unwrap_or(0) % 8;
                        let yy = y.hi - span * (0.06 + 0.06 * k as f64);
                        let c = look(*i).colour;
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
        },
    )
    .map(Some)
}

// ---------------------------------------------------------------------------------------
// (e), (f) Sweeps.

/// How a swept key's values become numbers: plain numbers, rates (per second), durations
/// (seconds or ms), or else categories in sweep order.
fn sweep_axis(key: &str, values: &[String]) -> (Vec<f64>, Axis) {
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
    match numeric.or_else(rate).or_else(duration) {
        Some((xs, unit)) if xs.iter().all(|x| x.is_finite()) => {
            let (lo, hi) = min_max(xs.iter().copied());
            let pad = ((hi - lo) * 0.05).max(hi.abs() * 0.02).max(1e-9);
            let desc = if unit.is_empty() {
                key.to_string()
            } else {
                format!("{key} ({unit})")
            };
            (xs, Axis::linear(lo - pad, hi + pad, &desc))
        }
        _ => {
            let xs = (0..values.len()).map(|i| i as f64).collect();
            (xs, Axis::categories(values, key))
        }
    }
}

fn metric_label(key: &str) -> (String, String) {
    match crate::metrics::METRICS.iter().find(|m| m.key == key) {
        Some(m) => (m.label.trim().to_string(), m.unit.to_string()),
        None => (key.to_string(), String::new()),
    }
}

fn with_unit(label: &str, unit: &str) -> String {
    if unit.is_empty() {
        label.to_string()
    } else {
        format!("{label} ({unit})")
    }
}

/// Distinct values of swept key `k`, in point order.
fn distinct(points: &[(u32, Vec<String>)], k: usize) -> Vec<String> {
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
    let vals: Vec<f64> = panels
        .iter()
        .flat_map(|p| p.1.iter())
        .flat_map(|l| l.1.iter().flat_map(|(_, e)| [e.mean, e.lo, e.hi]))
        .collect();
    let y = Axis::auto(&vals, &with_unit(&label, &unit), 1000.0);
    let title = format!("{label} vs {}", sw.keys[0]);
    let mut shown: Vec<usize> = panels
        .iter()
        .flat_map(|p| p.1.iter().map(|l| l.0))
        .collect();
    shown.sort_unstable();
    shown.dedup();
    let items: Vec<(Key, String)> = shown
        .iter()
        .map(|i| (Key::Line(look(*i)), algs[*i].clone()))
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
                let lk = look(*ai);
                let line: Vec<(f64, f64)> =
                    pts.iter().map(|(px, e)| (*px, ya.at(e.mean))).collect();
                draw_line(&mut chart, line, lk, 2)?;
                for (px, e) in pts {
                    if e.has_ci() {
                        whisker(&mut chart, *px, ya.at(e.lo), ya.at(e.hi), cap, lk.colour)?;
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

/// Viridis, sampled at nine stops and interpolated: perceptually uniform and readable
/// with colour-vision deficiencies. `t` in [0, 1].
fn viridis(t: f64) -> RGBColor {
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
    let algs: Vec<(usize, String)> = r
        .algorithms()
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
    let title = format!("{label} over {} × {}", sw.keys[0], sw.keys[1]);
    let n = algs.len();
    let cols = if n <= 3 { n } else { n.div_ceil(2).min(4) };
    let rows = n.div_ceil(cols);
    let mut x = Axis::categories(&xv, &sw.keys[0]);
    let mut y = Axis::categories(&yv, &sw.keys[1]);
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
                let area = area.titled(a, text(16, &look(*ai).colour))?;
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
            for v in ticks {
                let yy = bot - ((bot - top) as f64 * norm(v)) as i32;
                bar.draw(&PathElement::new(vec![(34, yy), (39, yy)], INK))?;
                bar.draw(&Text::new(
                    fmt_num(v),
                    (42, yy),
                    text(14, &INK).pos(Pos::new(HPos::Left, VPos::Center)),
                ))?;
            }
            bar.draw(&Text::new(
                with_unit(&label, &unit),
                (6, 8),
                text(14, &INK).pos(Pos::new(HPos::Left, VPos::Top)),
            ))?;
            Ok(())
        },
    )
    .map(Some)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::results::fixture;

    /// Decodes a PNG: (width, height, distinct colours, share of non-white pixels).
    fn decode(png_bytes: &[u8]) -> (u32, u32, usize, f64) {
        let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = dec.read_info().expect("PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("PNG data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let px: Vec<[u8; 3]> = buf[..info.buffer_size()]
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2]])
            .collect();
        let mut colours: Vec<[u8; 3]> = px.clone();
        colours.sort_unstable();
        colours.dedup();
        let ink = px.iter().filter(|p| **p != [255, 255, 255]).count();
        (
            info.width,
            info.height,
            colours.len(),
            ink as f64 / px.len() as f64,
        )
    }

    fn check(c: &Chart) {
        let (w, h, colours, ink) = decode(&c.png);
        assert_eq!((w, h), SIZE, "{}", c.name);
        assert!(colours > 20, "{}: only {colours} colours", c.name);
        assert!(ink > 0.02 && ink < 0.9, "{}: ink {ink}", c.name);
        let n = check_svg(&c.svg).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert!(n > 50, "{}: only {n} SVG elements", c.name);
        assert!(c.svg.contains(&c.title.replace('&', "&amp;")), "{}", c.name);
    }

    #[test]
    fn every_compare_chart_renders_to_size_and_is_not_blank() {
        let r = fixture::load(&fixture::compare());
        let charts = all(&r).unwrap();
        let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "latency-percentiles",
                "latency-summary",
                "server-load",
                "timeseries"
            ]
        );
        for c in &charts {
            check(c);
        }
        // Every algorithm is in the legends.
        for c in &charts {
            for a in r.algorithms() {
                assert!(c.svg.contains(&a), "{} lacks {a}", c.name);
            }
        }
        // The nines axis and the markers.
        assert!(charts[0].svg.contains("99.9%") && charts[0].svg.contains("max"));
        assert!(charts[3].svg.contains("add web-5") && charts[3].svg.contains("marked down"));
        assert!(charts[3].svg.contains("LB node down") && charts[3].svg.contains("LB failover"));
    }

    /// A sweep charts errors and failover times only where some point has them.
    #[test]
    fn sweeps_chart_errors_and_failover_times_only_when_present() {
        let mut files = fixture::sweep();
        let csv = &mut files[0].1;
        let mut out = String::new();
        for (i, line) in csv.lines().enumerate() {
            out.push_str(line);
            out.push_str(match i {
                0 => ",error_rate_pct,lb_failover_mean_s\n",
                // Point 5 of round-robin has errors; no point has a failover time.
                _ if line.starts_with("sweep,round-robin,5,") => ",2.5,\n",
                _ => ",0,\n",
            });
        }
        *csv = out;
        let charts = all(&fixture::load(&files)).unwrap();
        let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sweep-latency_p99_ms",
                "sweep-throughput_rps",
                "sweep-error_rate_pct",
                "heatmap-latency_p99_ms"
            ]
        );
    }

    /// The load balancer tier's events become markers: the node's down span once (all
    /// variants share the failure), and each variant's takeovers in its own colour.
    #[test]
    fn lb_failovers_are_marked_on_the_timeline() {
        let r = fixture::load(&fixture::compare());
        let algs = r.algorithms();
        let m = markers(&r, &algs, 60.0);
        assert_eq!(m.lb_down, vec![(40.0, 50.0, "lb-1 crash".to_string())]);
        // Replication 0 of each algorithm: lb-2 master at 43 + 0.25·a, lb-1 master at 53.4.
        let mut want = Vec::new();
        for a in 0..3 {
            want.push((43.0 + a as f64 * 0.25, a, true));
            want.push((53.4, a, true));
        }
        let mut got = m.ha.clone();
        got.sort_by(|x, y| (x.1, x.0).partial_cmp(&(y.1, y.0)).unwrap());
        assert_eq!(got, want);
        // A node still down at the end is shaded to the end.
        let mut files = fixture::compare();
        for (n, t) in &mut files {
            if *n == "ha.csv" {
                *t = t
                    .lines()
                    .filter(|l| !l.contains("restart"))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
        }
        let m = markers(&fixture::load(&files), &algs, 60.0);
        assert_eq!(m.lb_down, vec![(40.0, 60.0, "lb-1 crash".to_string())]);
    }

    #[test]
    fn sweep_charts_render() {
        let r = fixture::load(&fixture::sweep());
        let charts = all(&r).unwrap();
        let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sweep-latency_p99_ms",
                "sweep-throughput_rps",
                "heatmap-latency_p99_ms"
            ]
        );
        for c in &charts {
            check(c);
        }
        assert!(charts[0].svg.contains("clients.rate (req/s)"));
    }

    #[test]
    fn undefined_sweep_points_are_shown_as_gaps_and_explained() {
        let full = all(&fixture::load(&fixture::sweep())).unwrap();
        assert!(full.iter().all(|c| !c.caption.contains("undefined")));
        // Round robin's p99 at point 4 (900/s, 1 slot) is undefined: no request completed.
        let files: Vec<(&str, String)> = fixture::sweep()
            .into_iter()
            .map(|(n, t)| {
                if n != "sweep.csv" {
                    return (n, t);
                }
                let t = t
                    .lines()
                    .map(|l| {
                        if l.starts_with("sweep,round-robin,4,") {
                            let cut = l.rfind(',').unwrap();
                            format!("{},\n", &l[..cut])
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect();
                (n, t)
            })
            .collect();
        let charts = all(&fixture::load(&files)).unwrap();
        let curve = charts
            .iter()
            .find(|c| c.name == "sweep-latency_p99_ms")
            .unwrap();
        let heat = charts
            .iter()
            .find(|c| c.name == "heatmap-latency_p99_ms")
            .unwrap();
        assert!(
            curve.caption.contains("A missing point is undefined"),
            "{}",
            curve.caption
        );
        assert!(heat.caption.contains("Grey cells"), "{}", heat.caption);
        // Throughput is still defined everywhere.
        let thr = charts
            .iter()
            .find(|c| c.name == "sweep-throughput_rps")
            .unwrap();
        assert!(!thr.caption.contains("undefined"));
        check(heat);
        assert_ne!(heat.svg, full[2].svg);
    }

    #[test]
    fn only_charts_with_inputs_are_drawn() {
        let files: Vec<_> = fixture::compare()
            .into_iter()
            .filter(|(n, _)| *n == "summary.csv")
            .collect();
        let r = fixture::load(&files);
        let names: Vec<String> = all(&r).unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["latency-summary"]);
    }

    #[test]
    fn rendering_is_deterministic() {
        let r = fixture::load(&fixture::compare());
        let a = all(&r).unwrap();
        let b = all(&r).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn ticks_and_labels() {
        assert_eq!(nines_label(0), "min");
        assert_eq!(nines_label(2), "99%");
        assert_eq!(nines_label(3), "99.9%");
        assert_eq!(nines_label(5), "99.999%");
        assert_eq!(fmt_num(0.05), "0.05");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(43.837), "43.84");
        assert_eq!(fmt_num(980.2), "980");
        assert_eq!(fmt_num(12_000.0), "12k");
        assert_eq!(fmt_num(2_500_000.0), "2.5M");
        assert_eq!(log_ticks(1.0, 1000.0), [1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(log_ticks(8.0, 60.0), [10.0, 15.0, 20.0, 30.0, 50.0]);
        let a = Axis::linear(0.0, 100.0, "");
        let t: Vec<f64> = a.ticks.iter().map(|t| t.0).collect();
        assert_eq!(t, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
    }

    #[test]
    fn swept_values_become_numbers() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (x, a) = sweep_axis("clients.rate", &s(&["300/s", "1/ms"]));
        assert_eq!(x, [300.0, 1000.0]);
        assert_eq!(a.desc, "clients.rate (req/s)");
        let (x, a) = sweep_axis("health.active.inter", &s(&["250ms", "1s", "2s"]));
        assert_eq!(x, [0.25, 1.0, 2.0]);
        assert_eq!(a.desc, "health.active.inter (s)");
        let (x, a) = sweep_axis("sessions.state", &s(&["server", "shared"]));
        assert_eq!(x, [0.0, 1.0]);
        assert_eq!(a.ticks[1].1, "shared");
    }

    #[test]
    fn the_svg_checker_catches_broken_documents() {
        assert_eq!(check_svg("<svg a=\"1\"><g><line/></g></svg>"), Ok(3));
        assert!(check_svg("<svg><g></svg>").is_err());
        assert!(check_svg("<svg><g>").is_err());
        assert!(check_svg("<div></div>").is_err());
        assert!(check_svg("<svg></svg><svg></svg>").is_err());
    }
}
