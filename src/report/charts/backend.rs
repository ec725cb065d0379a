//! Output: the embedded font, the dual SVG + PNG drawing backend, PNG encoding and
//! [`render`], which draws one chart into both at once.

use super::*;

/// DejaVu Sans (Bitstream Vera license; see `assets/README.md`).
pub(super) const FONT_BYTES: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");

/// Registers the embedded font under the generic family name the charts use (plotters
/// measures text with it), and returns it for the PNG text rasterizer.
pub(super) fn ensure_font() -> Result<&'static FontRef<'static>, ChartError> {
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
pub(super) struct Dual<'a> {
    pub(super) svg: SVGBackend<'a>,
    pub(super) png: BitMapBackend<'a>,
    pub(super) font: &'static FontRef<'static>,
}

/// An error of either backend.
#[derive(Debug)]
pub(super) struct DualError(String);

impl std::fmt::Display for DualError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DualError {}

pub(super) fn lift<E: std::error::Error + Send + Sync>(
    e: DrawingErrorKind<E>,
) -> DrawingErrorKind<DualError> {
    match e {
        DrawingErrorKind::DrawingError(e) => {
            DrawingErrorKind::DrawingError(DualError(e.to_string()))
        }
        DrawingErrorKind::FontError(f) => DrawingErrorKind::FontError(f),
    }
}

pub(super) type DualResult = Result<(), DrawingErrorKind<DualError>>;

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

pub(super) fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, ChartError> {
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

pub(super) type Area<DB> = DrawingArea<DB, Shift>;

/// Draws a chart into an SVG document and a PNG image at once (see [`Dual`]).
pub(super) fn render(
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
