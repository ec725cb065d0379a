//! Axes: linear, log and categorical, with explicit ticks; tick labels and the plot
//! area every chart draws on.

use super::*;

// Axes: every chart uses linear f64 coordinates with explicit ticks; a log axis plots
// log10 of the value, so the one coordinate type serves all charts.

#[derive(Clone, Debug)]
pub(super) struct Axis {
    /// Range in plot coordinates.
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    /// Ticks: plot coordinate and label.
    pub(super) ticks: Vec<(f64, String)>,
    pub(super) desc: String,
}

impl Axis {
    pub(super) fn map(&self, v: f64) -> f64 {
        if self.log { v.max(1e-12).log10() } else { v }
    }

    /// A value mapped and clamped into the axis range.
    pub(super) fn at(&self, v: f64) -> f64 {
        self.map(v).clamp(self.lo, self.hi)
    }

    pub(super) fn label(&self, c: f64) -> String {
        let near = |t: f64| (t - c).abs() < 1e-9;
        // Ticks ascend: a binary search (a category axis may have 100,000 of them).
        let i = self.ticks.partition_point(|(t, _)| *t < c - 1e-9);
        match self.ticks.get(i) {
            Some((t, l)) if near(*t) => l.clone(),
            _ => self
                .ticks
                .iter()
                .find(|(t, _)| near(*t))
                .map(|(_, l)| l.clone())
                .unwrap_or_default(),
        }
    }

    /// A linear axis over [lo, hi] with about six round ticks.
    pub(super) fn linear(lo: f64, hi: f64, desc: &str) -> Axis {
        Axis::linear_n(lo, hi, desc, 6.0)
    }

    /// A linear axis over [lo, hi] with about `n` round ticks.
    pub(super) fn linear_n(lo: f64, hi: f64, desc: &str, n: f64) -> Axis {
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        };
        let step = nice_step((hi - lo) / n);
        let mut values = Vec::new();
        let mut k = (lo / step).ceil();
        while k * step <= hi + step * 1e-9 {
            let v = k * step;
            values.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
            k += 1.0;
        }
        let ticks = values.iter().copied().zip(tick_labels(&values)).collect();
        Axis {
            lo,
            hi,
            log: false,
            ticks,
            desc: desc.into(),
        }
    }

    /// A log axis over [lo, hi] (both > 0) with ticks at 1-2-5 style values.
    pub(super) fn log(lo: f64, hi: f64, desc: &str) -> Axis {
        let lo = lo.max(1e-9);
        let hi = hi.max(lo * 1.5);
        let values = log_ticks(lo, hi);
        let ticks = values
            .iter()
            .map(|v| v.log10())
            .zip(tick_labels(&values))
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
    pub(super) fn auto(values: &[f64], desc: &str, ratio: f64) -> Axis {
        Axis::auto_n(values, desc, ratio, 6.0)
    }

    /// [`Axis::auto`] with about `n` ticks when linear.
    pub(super) fn auto_n(values: &[f64], desc: &str, ratio: f64, n: f64) -> Axis {
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
    pub(super) fn categories(labels: &[String], desc: &str) -> Axis {
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
    pub(super) fn thin(&mut self, px: f64) {
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
    pub(super) fn thin_vertical(&mut self, px: f64) {
        let stride = (self.ticks.len() as f64 * 18.0 / px.max(1.0))
            .ceil()
            .max(1.0) as usize;
        for (i, t) in self.ticks.iter_mut().enumerate() {
            if i % stride != 0 {
                t.1.clear();
            }
        }
    }

    pub(super) fn range(&self) -> Ticked {
        Ticked {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.iter().map(|(t, _)| *t).collect(),
        }
    }
}

/// A linear f64 coordinate whose grid lines and labels are exactly the given ticks.
pub(super) struct Ticked {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
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

pub(super) fn min_max(xs: impl Iterator<Item = f64>) -> (f64, f64) {
    xs.filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        })
}

pub(super) fn nice_step(raw: f64) -> f64 {
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

/// The 1-2-5 step (1, 2, 5, 10, 20, ...) at or below `v` (`up`: at or above). `v` > 0.
pub(super) fn step_125(v: f64, up: bool) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    let steps = [1.0, 2.0, 5.0, 10.0];
    let m = v / mag;
    let pick = if up {
        steps.iter().find(|s| **s >= m * (1.0 - 1e-9))
    } else {
        steps.iter().rev().find(|s| **s <= m * (1.0 + 1e-9))
    };
    pick.copied().unwrap_or(1.0) * mag
}

/// Ticks for a log axis: powers of ten, with 2 and 5 (or 3) in between when the range is
/// short, every other power when it is long.
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
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

/// The labels of an axis' ticks, in one style: [`fmt_num`], except that when the axis
/// reaches 10,000 every value from 1,000 up is written in thousands too (`1k`, `3k`, `10k`,
/// never `1000` next to `10k`).
pub(super) fn tick_labels(values: &[f64]) -> Vec<String> {
    let thousands = values.iter().any(|v| v.abs() >= 1e4);
    values
        .iter()
        .map(|v| {
            if thousands && v.abs() >= 1e3 && v.abs() < 1e4 {
                format!("{}k", fmt_num(v / 1e3))
            } else {
                fmt_num(*v)
            }
        })
        .collect()
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

pub(super) type Plane = Cartesian2d<Ticked, Ticked>;

pub(super) struct PlaneOpts {
    /// Height of the x label area (0: no tick labels, no description).
    pub(super) x_area: u32,
    /// Width of the y label area.
    pub(super) y_area: u32,
    /// Draw vertical grid lines.
    pub(super) x_grid: bool,
}

pub(super) const PLANE: PlaneOpts = PlaneOpts {
    x_area: 52,
    y_area: 84,
    x_grid: true,
};

pub(super) fn plane<'a, DB: DrawingBackend>(
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
        .label_style(text(TICK_PX, &INK))
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

/// Splits `body` into `n` stacked panels of equal height, the last one also holding the
/// 52 px of the shared time axis below it.
pub(super) fn panels_of<DB: DrawingBackend>(body: Area<DB>, n: usize) -> Vec<Area<DB>> {
    let (_, h) = body.dim_in_pixel();
    let n = n.max(1) as u32;
    let ph = h.saturating_sub(52) / n;
    let mut areas = Vec::with_capacity(n as usize);
    let mut rest = body;
    for _ in 1..n {
        let (a, b) = rest.split_vertically(ph);
        areas.push(a);
        rest = b;
    }
    areas.push(rest);
    areas
}
