//! The shared look: palette and series looks, markers, text styles, title, legend,
//! lines and whiskers.

use super::*;

/// Twelve colours that stay apart on white and for the common colour-vision deficiencies:
/// the Okabe–Ito palette without its yellow (blue, vermillion, bluish green, reddish
/// purple, orange, sky blue, black), then Paul Tol's wine, indigo, olive and purple, and a
/// brown.
pub(super) const PALETTE: [RGBColor; 12] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0x88, 0x22, 0x55),
    RGBColor(0x33, 0x22, 0x88),
    RGBColor(0x99, 0x99, 0x33),
    RGBColor(0xAA, 0x44, 0x99),
    RGBColor(0x8C, 0x56, 0x4B),
];

pub(super) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(super) const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
pub(super) const GRID: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);
pub(super) const FONT: &str = "sans-serif";
/// The size of every tick label (axes and the heatmap's colour bar), px; their numbers
/// are all written by [`tick_labels`].
pub(super) const TICK_PX: u32 = 15;

/// The colours of lblab's algorithms (palette slots), fixed so that the usual
/// comparisons (the bundled scenarios' among them) get distinct colours: round robin
/// blue, least-connections vermillion, power-of-two bluish green, random reddish purple.
const ALGORITHM_SLOTS: [(&str, usize); 28] = [
    ("round-robin", 0),
    ("least-connections", 1),
    ("power-of-two", 2),
    ("random", 3),
    ("peak-ewma", 4),
    ("weighted-least-connections", 5),
    ("power-of-3", 6),
    ("join-shortest-queue", 7),
    ("weighted-round-robin", 4),
    ("haproxy-roundrobin", 6),
    ("envoy-round-robin", 7),
    ("static-rr", 8),
    ("naive-weighted-round-robin", 9),
    ("least-response-time", 10),
    ("least-response-time-conns", 11),
    ("hash", 6),
    ("ketama", 7),
    ("maglev", 8),
    ("rendezvous", 9),
    ("consistent-hash-bounded", 10),
    ("haproxy-consistent", 11),
    ("ip-hash", 4),
    ("ip-hash-full", 5),
    ("haproxy-source", 11),
    ("haproxy-first", 10),
    ("haproxy-leastconn", 11),
    ("envoy-least-request", 9),
    ("join-idle-queue", 8),
];

/// The palette slot a variant name asks for. An algorithm of lblab's catalogue (by name
/// or alias, with or without parameters: `ketama(ip)` is ketama) has its fixed colour
/// ([`ALGORITHM_SLOTS`]); any other name (a `key=value` variant, a label) hashes to one:
/// FNV-1a (64-bit) of its UTF-8 bytes, modulo the palette size. It depends on the name
/// only, so a name asks for the same colour whatever it is compared with, in runs,
/// comparisons and sweeps alike.
fn preferred_slot(name: &str) -> usize {
    let base = name.split('(').next().unwrap_or(name);
    let canonical = match base {
        "power-of-two" | "power-of-3" => Some(base),
        _ => crate::balancer::lookup(base).map(|a| a.name),
    };
    let canonical = match canonical {
        Some("power-of-d") => Some("power-of-two"),
        c => c,
    };
    if let Some(slot) = canonical
        .and_then(|c| ALGORITHM_SLOTS.iter().find(|(n, _)| *n == c))
        .map(|(_, s)| *s)
    {
        return slot;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % PALETTE.len() as u64) as usize
}

/// The style slot of each of `names` (in their order): each name takes its
/// [`preferred_slot`]; when two names in the set ask for the same colour, the one that
/// sorts first keeps it and the other takes the next free colour in palette order, so the
/// colours within one results directory are distinct (up to twelve) and do not depend on
/// the order of the names. Past twelve names slots go on to 12, 13, ...: the colours repeat
/// with dashed lines and other marker shapes.
pub(super) fn slots(names: &[String]) -> Vec<usize> {
    let n = PALETTE.len();
    let mut uniq: Vec<&str> = names.iter().map(String::as_str).collect();
    uniq.sort_unstable();
    uniq.dedup();
    let mut taken: Vec<usize> = Vec::new();
    for name in &uniq {
        let pref = preferred_slot(name);
        let slot = (0..)
            .flat_map(|round| (0..n).map(move |k| round * n + (pref + k) % n))
            .find(|s| !taken.contains(s))
            .unwrap_or(pref);
        taken.push(slot);
    }
    names
        .iter()
        .map(|a| uniq.binary_search(&a.as_str()).map_or(0, |k| taken[k]))
        .collect()
}

/// The colour of `all[i]` among the variants `all`, as `#rrggbb`: the colour the charts
/// draw it in (see [`slots`]), for the HTML report's swatches.
pub fn colour_hex(i: usize, all: &[String]) -> String {
    let slot = slots(all).get(i).copied().unwrap_or(i);
    let RGBColor(r, g, b) = PALETTE[slot % PALETTE.len()];
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// How a series is drawn: its colour, and past the twelfth series dashed lines and
/// square (then triangular) markers, so that series sharing a colour stay apart.
#[derive(Copy, Clone)]
pub(super) struct Look {
    pub(super) colour: RGBColor,
    pub(super) dashed: bool,
    pub(super) shape: usize,
}

/// The look of style slot `i` (see [`slots`]).
pub(super) fn look(i: usize) -> Look {
    Look {
        colour: PALETTE[i % PALETTE.len()],
        dashed: i >= PALETTE.len(),
        shape: (i / PALETTE.len()) % 3,
    }
}

/// The look of each of `names`, in their order.
pub(super) fn looks(names: &[String]) -> Vec<Look> {
    slots(names).into_iter().map(look).collect()
}

/// The marker of `l` at `at` (plot coordinates), `r` px in radius.
pub(super) fn marker<DB: DrawingBackend>(
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

pub(super) fn text(size: u32, colour: &RGBColor) -> TextStyle<'static> {
    (FONT, size).into_font().color(colour)
}

/// Splits off the title (centred, 20 px) and returns the rest.
pub(super) fn titled<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
) -> Result<Area<DB>, ChartError> {
    let (top, rest) = root.split_vertically(36);
    // 22 px, smaller for a long title (down to 16 px) so that it fits the width.
    let mut size = 22;
    while size > 16 && top.estimate_text_size(title, &text(size, &INK))?.0 + 20 > SIZE.0 {
        size -= 1;
    }
    top.draw(&Text::new(
        title.to_string(),
        (SIZE.0 as i32 / 2, 10 + (22 - size as i32) / 2),
        text(size, &INK).pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    Ok(rest)
}

/// What a legend entry shows.
#[derive(Clone)]
pub(super) enum Key {
    Line(Look),
    Dot(Look),
    Band(RGBColor),
    /// A solid block of colour (a segment of a stacked bar).
    Swatch(RGBColor),
    Shade,
    VLine(RGBColor),
    HLine(RGBColor),
    Down(RGBColor),
    Up(RGBColor),
    /// A load balancer node's down span.
    LbShade,
    /// The warm-up span.
    Warmup,
    /// An HA event: filled (traffic moved away) or hollow (a node back in).
    Diamond(RGBColor, bool),
}

/// The tint of the warm-up span (a beige, apart from the failure greys).
pub(super) const WARMUP: RGBColor = RGBColor(200, 170, 90);

/// The tint of a load balancer node's down span (a blue grey, apart from the server grey).
pub(super) const LB_SHADE: RGBColor = RGBColor(70, 100, 150);

/// A diamond's corners around (0, 0).
pub(super) fn diamond(r: i32) -> Vec<(i32, i32)> {
    vec![(0, -r), (r, 0), (0, r), (-r, 0)]
}

/// Draws a horizontal legend strip (wrapping to more rows) and returns the area below it.
pub(super) fn legend<DB: DrawingBackend>(
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
            Key::Swatch(c) => {
                top.draw(&Rectangle::new([(x, y - 6), (x + 18, y + 6)], c.filled()))?
            }
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
            Key::Warmup => top.draw(&Rectangle::new(
                [(x, y - 7), (x + 18, y + 7)],
                WARMUP.mix(0.22).filled(),
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

/// The warm-up (whose requests the results exclude) on a time axis starting at `t0` and
/// ending at `end`; `None` if the run has no warm-up after `t0`.
pub(super) fn warmup_span(r: &Results, t0: f64, end: f64) -> Option<(f64, f64)> {
    r.manifest
        .warmup_s
        .filter(|w| w.is_finite() && *w > t0)
        .map(|w| (t0, w.min(end)))
}

/// Shades the warm-up `span` across a time panel.
pub(super) fn shade_warmup<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    x: &Axis,
    y: &Axis,
    span: Option<(f64, f64)>,
) -> Result<(), ChartError> {
    if let Some((from, to)) = span {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x.at(from), y.hi), (x.at(to), y.lo)],
            WARMUP.mix(0.22).filled(),
        )))?;
    }
    Ok(())
}

pub(super) fn draw_line<DB: DrawingBackend>(
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

/// The vertical CI whisker of `e` at `x` on axis `y`, with caps `cap` wide (plot units).
/// Clipped to the axis: an end outside it gets no cap (the interval goes on), and on a
/// log axis a non-positive bound is not drawn at all (only the half from the mean up).
pub(super) fn whisker<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Plane>,
    y: &Axis,
    x: f64,
    e: &Estimate,
    cap: f64,
    c: RGBColor,
) -> Result<(), ChartError> {
    let st = c.stroke_width(2);
    let drawable = |v: f64| v.is_finite() && (!y.log || v > 0.0);
    let end = |v: f64| drawable(v).then(|| y.at(v));
    let (lo, hi) = (end(e.lo), end(e.hi));
    let from = lo.unwrap_or_else(|| y.at(e.mean));
    let to = hi.unwrap_or_else(|| y.at(e.mean));
    let mut parts = vec![PathElement::new(vec![(x, from), (x, to)], st)];
    for (v, at) in [(e.lo, lo), (e.hi, hi)] {
        if let Some(at) = at.filter(|_| y.map(v) >= y.lo && y.map(v) <= y.hi) {
            parts.push(PathElement::new(vec![(x - cap, at), (x + cap, at)], st));
        }
    }
    chart.draw_series(parts)?;
    Ok(())
}

/// Offsets of `n` series side by side within a category one unit wide.
pub(super) fn dodge(i: usize, n: usize) -> f64 {
    let w = (0.7 / n as f64).min(0.2);
    (i as f64 - (n as f64 - 1.0) / 2.0) * w
}
