//! What the network looks at: an image beside its maps, and an occlusion map (which part of
//! the image the prediction depends on).

use super::figure::{font, plot_err, text_width, viridis, Figure};
use super::images::check_image;
use super::maps::feature_maps;
use crate::data::{Images, IMAGE_SIZE};
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

/// One place in a layer's maps where a channel fires strongly, and the input pixels it sees.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// Which image of the set.
    pub image: usize,
    /// Row and column in the channel's map.
    pub y: usize,
    pub x: usize,
    /// The activation there.
    pub value: f32,
    /// The input rows and columns of its receptive field, clipped to the image.
    pub rows: std::ops::Range<usize>,
    pub cols: std::ops::Range<usize>,
}

/// The input rows (or columns) that output position `i` of a layer sees, for a receptive
/// field of side `rf` and a `jump` between neighbouring outputs, in an input of side `n`:
/// `i * jump - (rf - jump) / 2` onwards for `rf` pixels, clipped to `0..n`. The field is
/// centred, as it is in every layer of `cifar` (3x3 convolutions padded by 1, 2x2 pools).
pub fn receptive_range(i: usize, (rf, jump): (usize, usize), n: usize) -> std::ops::Range<usize> {
    let start = (i * jump) as i64 - ((rf - jump) / 2) as i64;
    let end = start + rf as i64;
    (start.max(0) as usize)..(end.clamp(0, n as i64) as usize)
}

/// The `k` images of a set in which channel `channel` of a layer's maps fires most: for
/// each image the largest activation of that channel over its `h x w` positions (the first
/// such position on a tie), then the `k` images with the largest (the lower index on a
/// tie), largest first, each with the input patch its position sees ([`receptive_range`]
/// with the layer's receptive field `rf` and `jump`, clipped to the 32x32 image).
/// `maps` holds the layer's output for `n` images, `n x c x h x w` values.
///
/// # Errors
/// When `maps` is not `n * c * h * w` values, `channel` is not below `c`, `k` is 0 or more
/// than `n`, the field is not at least `jump` with an even difference, the last position
/// lies outside the image, or a value of the channel is not finite.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn top_patches(
    maps: &[f32],
    (n, c, h, w): (usize, usize, usize, usize),
    channel: usize,
    k: usize,
    (rf, jump): (usize, usize),
) -> Result<Vec<Patch>> {
    let bad = |why: String| {
        Err(Error::Invalid {
            what: "top patches",
            why,
        })
    };
    if maps.len() != n * c * h * w || h == 0 || w == 0 {
        return bad(format!("{} values for {n}x{c}x{h}x{w} maps", maps.len()));
    }
    if channel >= c || k == 0 || k > n {
        return bad(format!("channel {channel} of {c}, k {k} of {n} images"));
    }
    if jump == 0 || rf < jump || (rf - jump) % 2 != 0 || (h.max(w) - 1) * jump >= IMAGE_SIZE {
        let why = format!("a field of {rf} with jump {jump} for {h}x{w} maps of a 32x32 image");
        return bad(why);
    }
    let plane = h * w;
    let mut best: Vec<(f32, usize, usize)> = Vec::with_capacity(n);
    for image in 0..n {
        let values = &maps[(image * c + channel) * plane..][..plane];
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return bad(format!(
                "image {image} has the value {v} in channel {channel}"
            ));
        }
        let at = (0..plane).fold(0, |b, p| if values[p] > values[b] { p } else { b });
        best.push((values[at], image, at));
    }
    best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(best
        .into_iter()
        .take(k)
        .map(|(value, image, at)| {
            let (y, x) = (at / w, at % w);
            Patch {
                image,
                y,
                x,
                value,
                rows: receptive_range(y, (rf, jump), IMAGE_SIZE),
                cols: receptive_range(x, (rf, jump), IMAGE_SIZE),
            }
        })
        .collect())
}

/// Pixels per image pixel in [`patches`].
pub const PATCH_SCALE: u32 = 5;

/// Where patch `col` of row `row` starts in [`patches`], for fields of side `rf`.
pub fn patch_origin(row: u32, col: u32, rf: u32) -> (u32, u32) {
    let cell = rf * PATCH_SCALE;
    (
        MARGIN + 150 + col * (cell + MARGIN),
        TITLE_H + row * (cell + 2 * MARGIN + 14),
    )
}

/// The patches of [`top_patches`], one row per channel (`rows`: the channel's label and its
/// patches), each patch's pixels of `images` drawn `PATCH_SCALE` times larger, its
/// activation under it. A patch clipped at the image's border is drawn smaller, from the
/// corner of its cell.
///
/// # Errors
/// When a patch names an image outside `images` or pixels outside 32x32.
pub fn patches(images: &Images, rows: &[(String, Vec<Patch>)], title: &str) -> Result<Figure> {
    let rf = rows
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.rows.len().max(p.cols.len())))
        .max()
        .unwrap_or(1) as u32;
    let bad = rows
        .iter()
        .flat_map(|(_, p)| p)
        .find(|p| p.image >= images.len() || p.rows.end > IMAGE_SIZE || p.cols.end > IMAGE_SIZE);
    if let Some(p) = bad {
        let why = format!("{p:?} for {} images of 32x32", images.len());
        return Err(Error::Invalid {
            what: "patches",
            why,
        });
    }
    let cols = rows.iter().map(|(_, p)| p.len()).max().unwrap_or(1).max(1) as u32;
    let (w, h) = patch_origin(rows.len() as u32, cols, rf);
    let mut fig = Figure::draw(w.max(text_width(title, 24) + 20), h, |root| {
        root.draw(&Text::new(title.to_string(), (10, 10), font(24)))
            .map_err(plot_err)?;
        for (r, (label, ps)) in rows.iter().enumerate() {
            let (_, y) = patch_origin(r as u32, 0, rf);
            let at = (10, (y + rf * PATCH_SCALE / 2 - 9) as i32);
            root.draw(&Text::new(label.clone(), at, font(18)))
                .map_err(plot_err)?;
            for (k, p) in ps.iter().enumerate() {
                let (x, y) = patch_origin(r as u32, k as u32, rf);
                let at = (x as i32, (y + rf * PATCH_SCALE + 2) as i32);
                root.draw(&Text::new(format!("{:.2}", p.value), at, font(14)))
                    .map_err(plot_err)?;
            }
        }
        Ok(())
    })?;
    let plane = IMAGE_SIZE * IMAGE_SIZE;
    for (r, (_, ps)) in rows.iter().enumerate() {
        for (k, p) in ps.iter().enumerate() {
            let img = images.image(p.image);
            let size = (p.cols.len() as u32, p.rows.len() as u32);
            fig.blit(
                patch_origin(r as u32, k as u32, rf),
                size,
                PATCH_SCALE,
                |x, y| {
                    let i = (p.rows.start + y as usize) * IMAGE_SIZE + p.cols.start + x as usize;
                    [img[i], img[plane + i], img[2 * plane + i]]
                },
            );
        }
    }
    Ok(fig)
}

/// A gradient saliency map (Simonyan, Vedaldi and Zisserman, 2013): for each of the
/// 32x32 pixels, the largest absolute value of `gradient` (`3 x 32 x 32` values, e.g. from
/// [`crate::train::input_gradient`]) over the three colour channels.
///
/// # Errors
/// When `gradient` is not 3,072 values.
pub fn saliency_map(gradient: &[f32]) -> Result<Vec<f32>> {
    let plane = IMAGE_SIZE * IMAGE_SIZE;
    if gradient.len() != 3 * plane {
        let why = format!("{} values: a 3x32x32 gradient has 3072", gradient.len());
        return Err(Error::Invalid {
            what: "saliency map",
            why,
        });
    }
    Ok((0..plane)
        .map(|i| {
            let v = [gradient[i], gradient[plane + i], gradient[2 * plane + i]].map(f32::abs);
            // `f32::max` alone would skip a NaN; a NaN gradient shows as NaN.
            if v.iter().any(|x| x.is_nan()) {
                f32::NAN
            } else {
                v[0].max(v[1]).max(v[2])
            }
        })
        .collect())
}

/// The image beside its saliency map ([`saliency_map`]), brightest where the score changes
/// most for a small change of the pixel; as [`occlusion`] with one value per pixel.
///
/// # Errors
/// When the image is not `3 x 32 x 32` bytes or `map` is not 1,024 values.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn saliency(image: &[u8], map: &[f32], title: &str) -> Result<Figure> {
    occlusion(image, map, IMAGE_SIZE, title)
}
