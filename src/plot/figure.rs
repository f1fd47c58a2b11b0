//! [`Figure`]: an RGB picture that saves as PNG and shows itself inline in a notebook.

use crate::{Error, Result};
use base64::Engine;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The embedded font (DejaVu Sans, free licence in `assets/fonts/`): text renders the same
/// on a machine with no system fonts.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family name the figures ask plotters for.
pub const FONT_FAMILY: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Cannot fail for the embedded file; a test renders text to prove it.
        let _ = plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT);
    });
}

/// A picture: `width x height` RGB pixels, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// A drawing area on a figure's pixels.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

pub(crate) fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

impl Figure {
    /// A white `width x height` figure drawn on by `draw` (plotters' API).
    pub fn draw(width: u32, height: u32, draw: impl FnOnce(&Area) -> Result<()>) -> Result<Figure> {
        register_font();
        let mut rgb = vec![255u8; (width * height * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            draw(&root)?;
            root.present().map_err(plot_err)?;
        }
        Ok(Figure { width, height, rgb })
    }

    /// The colour at `(x, y)`.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Sets the colour at `(x, y)` (ignored outside the figure).
    pub fn set_pixel(&mut self, x: u32, y: u32, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = ((y * self.width + x) * 3) as usize;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Fills the `scale x scale` block of every pixel of a `w x h` picture, top left at `(x0, y0)`.
    pub fn blit(
        &mut self,
        (x0, y0): (u32, u32),
        (w, h): (u32, u32),
        scale: u32,
        color: impl Fn(u32, u32) -> [u8; 3],
    ) {
        for y in 0..h * scale {
            for x in 0..w * scale {
                self.set_pixel(x0 + x, y0 + y, color(x / scale, y / scale));
            }
        }
    }

    /// Several figures one above the other, as one (evcxr shows one picture per cell).
    pub fn stack(figures: &[Figure]) -> Figure {
        let width = figures.iter().map(|f| f.width).max().unwrap_or(1);
        let height = figures.iter().map(|f| f.height).sum::<u32>().max(1);
        let mut out = Figure {
            width,
            height,
            rgb: vec![255; (width * height * 3) as usize],
        };
        let mut top = 0;
        for f in figures {
            for y in 0..f.height {
                let src = &f.rgb[(y * f.width * 3) as usize..((y + 1) * f.width * 3) as usize];
                let start = (((top + y) * width) * 3) as usize;
                out.rgb[start..start + src.len()].copy_from_slice(src);
            }
            top += f.height;
        }
        out
    }

    /// Several figures side by side, tops aligned, as one.
    pub fn beside(figures: &[Figure]) -> Figure {
        let width = figures.iter().map(|f| f.width).sum::<u32>().max(1);
        let height = figures.iter().map(|f| f.height).max().unwrap_or(1);
        let mut out = Figure {
            width,
            height,
            rgb: vec![255; (width * height * 3) as usize],
        };
        let mut left = 0;
        for f in figures {
            for y in 0..f.height {
                let src = &f.rgb[(y * f.width * 3) as usize..((y + 1) * f.width * 3) as usize];
                let start = ((y * width + left) * 3) as usize;
                out.rgb[start..start + src.len()].copy_from_slice(src);
            }
            left += f.width;
        }
        out
    }

    /// The figure encoded as PNG.
    pub fn png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width, self.height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            // Each row filtered the way that compresses best: photos and enlarged pixels
            // take about half the bytes of the default.
            enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
            let mut writer = enc.write_header().map_err(plot_err)?;
            writer.write_image_data(&self.rgb).map_err(plot_err)?;
        }
        Ok(out)
    }

    /// Writes the figure as a PNG file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.png()?).map_err(|e| Error::io(path, e))
    }

    /// Shows the figure inline in a notebook on the Rust kernel (evcxr calls this).
    pub fn evcxr_display(&self) {
        match self.png() {
            Ok(png) => println!(
                "EVCXR_BEGIN_CONTENT image/png\n{}\nEVCXR_END_CONTENT",
                base64::engine::general_purpose::STANDARD.encode(png)
            ),
            Err(e) => println!("{e}"),
        }
    }
}

/// How wide `text` is in pixels at font size `size` in the embedded font, plus a margin:
/// enough room for a title.
pub(crate) fn text_width(text: &str, size: u32) -> u32 {
    let measured = font(size).font.box_size(text).map(|(w, _)| w);
    // Should measuring fail, DejaVu Sans averages under 0.6 em per character.
    measured.unwrap_or_else(|_| (text.chars().count() as u32 * size * 6).div_ceil(10)) + 20
}

/// Text in the embedded font.
pub fn font(size: u32) -> TextStyle<'static> {
    register_font();
    (FONT_FAMILY, size).into_font().color(&BLACK)
}

/// A colour-blind-safe map from `t` in `[0, 1]` to viridis.
pub fn viridis(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 9] = [
        [68.0, 1.0, 84.0],
        [71.0, 44.0, 122.0],
        [59.0, 81.0, 139.0],
        [44.0, 113.0, 142.0],
        [33.0, 144.0, 141.0],
        [39.0, 173.0, 129.0],
        [92.0, 200.0, 99.0],
        [170.0, 220.0, 50.0],
        [253.0, 231.0, 37.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * 8.0;
    let (i, f) = ((t.floor() as usize).min(7), t - t.floor().min(7.0));
    std::array::from_fn(|c| (STOPS[i][c] + (STOPS[i + 1][c] - STOPS[i][c]) * f).round() as u8)
}

/// Okabe-Ito colours, safe for colour-blind viewers: blue, orange, green, vermillion.
pub const PALETTE: [RGBColor; 4] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
];
