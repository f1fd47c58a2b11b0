//! Looking inside the network: feature maps as heatmaps, and first-layer filters as colour tiles.

use super::figure::{font, plot_err, text_width, viridis, Figure};
use crate::{Error, Result};
use plotters::prelude::*;

const TITLE_H: u32 = 50;
const GAP: u32 = 4;
const BAR_W: u32 = 110;

/// Layout of a grid of `n` square tiles of `side` pixels: (columns, rows).
fn grid(n: usize) -> (u32, u32) {
    let cols = (n as f64).sqrt().ceil().max(1.0) as u32;
    (cols, (n as u32).div_ceil(cols))
}

/// Where tile `k` of a [`feature_maps`] figure of `n` maps of `side` pixels starts.
pub fn map_tile_origin(k: usize, n: usize, side: u32) -> (u32, u32) {
    let (cols, _) = grid(n);
    (
        GAP + (k as u32 % cols) * (side + GAP),
        TITLE_H + (k as u32 / cols) * (side + GAP),
    )
}

/// The on-screen side of one map of `h` pixels: about 64 pixels, whole multiples.
pub fn map_scale(h: usize) -> u32 {
    (64 / h.max(1) as u32).max(1)
}

/// `maps` (`channels` maps of `h x w`, as a layer outputs them for one image) as a grid of
/// heatmaps on one colour scale (viridis), with the scale drawn on the right.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn feature_maps(maps: &[f32], dims: (usize, usize, usize), title: &str) -> Result<Figure> {
    draw_maps(maps, dims, title, false)
}

/// Like [`feature_maps`], but each map stretched over its own range (its minimum dark, its
/// maximum bright): for maps of different sizes of values, such as an image beside its
/// filter responses, where one shared scale would leave the small ones dark.
///
/// Taught in `notebooks/02-convolution.ipynb`.
pub fn feature_maps_each_scaled(
    maps: &[f32],
    dims: (usize, usize, usize),
    title: &str,
) -> Result<Figure> {
    draw_maps(maps, dims, title, true)
}

/// The range of `values`, as `(lowest, span)` with a span of 1 for a flat map.
fn range(values: &[f32]) -> (f32, f32) {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    (lo, if hi > lo { hi - lo } else { 1.0 })
}

fn draw_maps(
    maps: &[f32],
    (channels, h, w): (usize, usize, usize),
    title: &str,
    each: bool,
) -> Result<Figure> {
    if maps.len() != channels * h * w || maps.is_empty() {
        let why = format!("{} values for {channels} maps of {h}x{w}", maps.len());
        return Err(Error::Invalid {
            what: "feature maps",
            why,
        });
    }
    let scale = map_scale(h.max(w));
    let (tw, th) = (w as u32 * scale, h as u32 * scale);
    let (cols, rows) = grid(channels);
    let (lo, hi) = maps
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let width = (GAP + cols * (tw.max(th) + GAP))
        .max(300)
        .max(text_width(title, 24))
        + BAR_W;
    let height = (TITLE_H + rows * (tw.max(th) + GAP)).max(TITLE_H + 220);
    let mut fig = Figure::draw(width, height, |root| {
        root.draw(&Text::new(title.to_string(), (10, 10), font(24)))
            .map_err(plot_err)?;
        let x = (width - BAR_W + 45) as i32;
        let (top, bottom) = if each {
            ("max".to_string(), "min".to_string())
        } else {
            (format!("{hi:.3}"), format!("{lo:.3}"))
        };
        root.draw(&Text::new(top, (x, TITLE_H as i32 - 2), font(16)))
            .map_err(plot_err)?;
        root.draw(&Text::new(bottom, (x, TITLE_H as i32 + 190), font(16)))
            .map_err(plot_err)?;
        Ok(())
    })?;
    for k in 0..channels {
        let map = &maps[k * h * w..(k + 1) * h * w];
        let (lo, span) = if each { range(map) } else { (lo, span) };
        let side = tw.max(th);
        fig.blit(
            map_tile_origin(k, channels, side),
            (w as u32, h as u32),
            scale,
            |x, y| viridis((map[y as usize * w + x as usize] - lo) / span),
        );
    }
    // The colour scale: top is the maximum.
    let x0 = width - BAR_W + 10;
    fig.blit((x0, TITLE_H + 10), (30, 180), 1, |_, y| {
        viridis(1.0 - y as f32 / 179.0)
    });
    Ok(fig)
}

/// First-layer filters (`[out, 3, k, k]`) as colour tiles, each stretched to full range.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn filters(
    weights: &[f32],
    (out, in_channels, k): (usize, usize, usize),
    title: &str,
) -> Result<Figure> {
    if in_channels != 3 || weights.len() != out * 3 * k * k || out == 0 {
        let why = format!(
            "{} weights as [{out}, {in_channels}, {k}, {k}]: RGB tiles need [out, 3, k, k]",
            weights.len()
        );
        return Err(Error::Invalid {
            what: "filters",
            why,
        });
    }
    let scale = (48 / k as u32).max(2);
    let side = k as u32 * scale;
    let (cols, rows) = grid(out);
    let width = (GAP + cols * (side + GAP)).max(360);
    let mut fig = Figure::draw(width, TITLE_H + rows * (side + GAP), |root| {
        root.draw(&Text::new(title.to_string(), (10, 10), font(24)))
            .map_err(plot_err)?;
        Ok(())
    })?;
    let plane = k * k;
    for f in 0..out {
        let wf = &weights[f * 3 * plane..(f + 1) * 3 * plane];
        let (lo, hi) = wf
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let span = if hi > lo { hi - lo } else { 1.0 };
        let origin = (
            GAP + (f as u32 % cols) * (side + GAP),
            TITLE_H + (f as u32 / cols) * (side + GAP),
        );
        fig.blit(origin, (k as u32, k as u32), scale, |x, y| {
            let i = y as usize * k + x as usize;
            std::array::from_fn(|c| ((wf[c * plane + i] - lo) / span * 255.0).round() as u8)
        });
    }
    Ok(fig)
}
