//! What the network looks at: an image beside its maps, and an occlusion map (which part of
//! the image the prediction depends on).

use super::figure::{font, plot_err, text_width, viridis, Figure};
use super::maps::feature_maps;
use crate::data::IMAGE_SIZE;
use crate::{Error, Result};
use plotters::prelude::*;

/// Pixels per image pixel of the input shown beside maps.
pub const INPUT_SCALE: u32 = 6;
const TITLE_H: u32 = 50;
const MARGIN: u32 = 10;

/// Where the input image starts in [`image_and_maps`] and [`occlusion`].
pub fn input_origin() -> (u32, u32) {
    (MARGIN, TITLE_H)
}

/// A `3 x 32 x 32` image (CHW bytes, as [`crate::data::Images::image`] gives it) drawn
/// `INPUT_SCALE` times larger under `title`.
fn input_panel(image: &[u8], title: &str, extra_width: u32) -> Result<Figure> {
    let side = IMAGE_SIZE as u32 * INPUT_SCALE;
    let width = (side + 2 * MARGIN + extra_width).max(text_width(title, 24));
    let mut fig = Figure::draw(width, TITLE_H + side + MARGIN, |root| {
        root.draw(&Text::new(title.to_string(), (10, 10), font(24)))
            .map_err(plot_err)?;
        Ok(())
    })?;
    let plane = IMAGE_SIZE * IMAGE_SIZE;
    let n = IMAGE_SIZE as u32;
    fig.blit(input_origin(), (n, n), INPUT_SCALE, |x, y| {
        let i = y as usize * IMAGE_SIZE + x as usize;
        [image[i], image[plane + i], image[2 * plane + i]]
    });
    Ok(fig)
}

fn check_image(image: &[u8], what: &'static str) -> Result<()> {
    if image.len() != 3 * IMAGE_SIZE * IMAGE_SIZE {
        let why = format!("{} bytes: a 3x32x32 image has 3072", image.len());
        return Err(Error::Invalid { what, why });
    }
    Ok(())
}

/// The input image on the left, its maps on the right (`maps`: `channels` maps of
/// `h x w` for this image, as [`feature_maps`] draws them, on one colour scale): what a
/// pooling layer or a block of the network makes of the picture.
///
/// Taught in `notebooks/05-pooling.ipynb` and `notebooks/10-what-alexnet-learned.ipynb`.
pub fn image_and_maps(
    image: &[u8],
    maps: &[f32],
    dims: (usize, usize, usize),
    title: &str,
) -> Result<Figure> {
    check_image(image, "image beside maps")?;
    let left = input_panel(image, "input", 0)?;
    let right = feature_maps(maps, dims, title)?;
    Ok(Figure::beside(&[left, right]))
}

/// How much a score drops when a `patch x patch` square of the image is covered: for each
/// position of the square (every `stride` pixels), the square's pixels of a copy of
/// `image` (`3 x 32 x 32` values, as the network takes them) are set to `fill` and
/// `score` (e.g. the probability of the true class) is evaluated; the map holds
/// `score(image) - score(covered)`. Returns the map, `side x side` values row by row, and
/// `side = (32 - patch) / stride + 1`. Large values: the prediction depends on that part.
///
/// # Errors
/// When the image is not `3 x 32 x 32` values, or the patch or stride is 0 or too large.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn occlusion_map(
    image: &[f32],
    (patch, stride, fill): (usize, usize, f32),
    mut score: impl FnMut(&[f32]) -> f32,
) -> Result<(Vec<f32>, usize)> {
    let n = IMAGE_SIZE;
    if image.len() != 3 * n * n || patch == 0 || stride == 0 || patch > n {
        let why = format!(
            "{} values, patch {patch}, stride {stride}: the image must be 3x32x32 and \
             the patch and stride between 1 and 32",
            image.len()
        );
        return Err(Error::Invalid {
            what: "occlusion map",
            why,
        });
    }
    let side = (n - patch) / stride + 1;
    let base = score(image);
    let mut map = Vec::with_capacity(side * side);
    let mut covered = image.to_vec();
    for i in 0..side {
        for j in 0..side {
            covered.copy_from_slice(image);
            for c in 0..3 {
                for y in i * stride..i * stride + patch {
                    for x in j * stride..j * stride + patch {
                        covered[(c * n + y) * n + x] = fill;
                    }
                }
            }
            map.push(base - score(&covered));
        }
    }
    Ok((map, side))
}

/// The image beside its occlusion map (from [`occlusion_map`]), the map stretched over the
/// image's size in viridis: bright where covering the image lowers the score most.
///
/// # Errors
/// When the image is not `3 x 32 x 32` bytes or `map` is not `side x side` values.
pub fn occlusion(image: &[u8], map: &[f32], side: usize, title: &str) -> Result<Figure> {
    check_image(image, "occlusion")?;
    if side == 0 || map.len() != side * side {
        let why = format!("{} values for a {side}x{side} map", map.len());
        return Err(Error::Invalid {
            what: "occlusion",
            why,
        });
    }
    let panel = IMAGE_SIZE as u32 * INPUT_SCALE;
    let mut fig = input_panel(image, title, panel + MARGIN)?;
    let (lo, hi) = map
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x0 = 2 * MARGIN + panel;
    fig.blit((x0, TITLE_H), (panel, panel), 1, |x, y| {
        let (i, j) = (
            (y as usize * side / panel as usize).min(side - 1),
            (x as usize * side / panel as usize).min(side - 1),
        );
        viridis((map[i * side + j] - lo) / span)
    });
    Ok(fig)
}
