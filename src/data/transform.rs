//! What happens to an image between the file and the network: scaling to `[0, 1]`,
//! per-channel normalisation with the training set's statistics, and for training a random
//! crop (4 pixels of zero padding) and horizontal flip; the ten test-time views of the
//! paper; resizing to 227x227 for `article`.

use super::dataset::{Images, CHANNELS, IMAGE_SIZE, PIXELS};
use rand::Rng;

const PLANE: usize = IMAGE_SIZE * IMAGE_SIZE;

/// Per-channel mean and standard deviation of pixels scaled to `[0, 1]`. Computed once from
/// the training split and stored with the model, so evaluation normalises the same way.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normalization {
    pub mean: [f32; CHANNELS],
    pub std: [f32; CHANNELS],
}

impl Normalization {
    /// The statistics of `images` (an empty set gives mean 0, std 1).
    pub fn from_images(images: &Images) -> Self {
        let mut sum = [0f64; CHANNELS];
        let mut sq = [0f64; CHANNELS];
        for img in images.pixels.chunks_exact(PIXELS) {
            for c in 0..CHANNELS {
                for &p in &img[c * PLANE..(c + 1) * PLANE] {
                    let v = p as f64 / 255.0;
                    sum[c] += v;
                    sq[c] += v * v;
                }
            }
        }
        let count = (images.len() * PLANE).max(1) as f64;
        let mut norm = Normalization {
            mean: [0.0; CHANNELS],
            std: [1.0; CHANNELS],
        };
        for c in 0..CHANNELS {
            let mean = sum[c] / count;
            let var = (sq[c] / count - mean * mean).max(0.0);
            norm.mean[c] = mean as f32;
            norm.std[c] = if var > 1e-12 { var.sqrt() as f32 } else { 1.0 };
        }
        norm
    }

    /// Writes `(pixel / 255 - mean[c]) / std[c]` for one CHW image into `out`.
    pub fn apply(&self, chw: &[u8], out: &mut [f32]) {
        for c in 0..CHANNELS {
            let (m, s) = (self.mean[c], 1.0 / self.std[c]);
            let src = &chw[c * PLANE..(c + 1) * PLANE];
            for (o, &p) in out[c * PLANE..(c + 1) * PLANE].iter_mut().zip(src) {
                *o = (p as f32 * (1.0 / 255.0) - m) * s;
            }
        }
    }
}

/// The zero padding of the training crops, in pixels on each side: a crop moves the
/// image by up to this much in each direction.
pub const CROP_PAD: usize = 4;

/// A random `32 x 32` window of the image padded with `pad` zero pixels on each side, flipped
/// left-right with probability 1/2: the augmentation of the ResNet/CIFAR recipes.
///
/// # Panics
/// If `chw` is not exactly one image (`3 * 32 * 32` values), with a message saying so; an
/// [`Images::image`] always is one.
pub fn random_crop_flip(chw: &[u8], pad: usize, rng: &mut impl Rng) -> Vec<u8> {
    if let Err(e) = check_one_image(chw) {
        panic!("random_crop_flip: {e}");
    }
    let (dy, dx) = (rng.gen_range(0..=2 * pad), rng.gen_range(0..=2 * pad));
    let flip = rng.gen_bool(0.5);
    crop(chw, pad, (dy, dx), flip)
}

/// The ten test-time views of one CHW image that the paper (section 4.1) averages over,
/// at CIFAR's scale. The image is padded with `pad` zero pixels on each side, as the
/// training crops are; five `32 x 32` windows are cut from it (top-left, top-right,
/// bottom-left and bottom-right corner, then the centre), and the same five windows are
/// mirrored left-right: ten CHW images in that order. The centre view is the image itself.
/// A network's prediction for the image is the mean of its softmax outputs over the ten.
///
/// Any `pad` is accepted; from 32 on, the corner views hold no pixel of the image.
///
/// # Errors
/// `chw` is not exactly one image (`3 * 32 * 32` values; an [`Images::image`] always is).
pub fn ten_crops(chw: &[u8], pad: usize) -> crate::Result<Vec<Vec<u8>>> {
    check_one_image(chw)?;
    let far = 2 * pad;
    let corners = [(0, 0), (0, far), (far, 0), (far, far), (pad, pad)];
    Ok([false, true]
        .iter()
        .flat_map(|&flip| corners.iter().map(move |&at| (at, flip)))
        .map(|(at, flip)| crop(chw, pad, at, flip))
        .collect())
}

/// `Ok` if `chw` is exactly one CHW image, else an error saying what was given.
fn check_one_image(chw: &[u8]) -> crate::Result<()> {
    if chw.len() == PIXELS {
        return Ok(());
    }
    Err(crate::Error::Invalid {
        what: "image",
        why: format!(
            "{} values given, one image is {PIXELS} (3 planes of {IMAGE_SIZE}x{IMAGE_SIZE})",
            chw.len()
        ),
    })
}

/// The `32 x 32` window at `(dy, dx)` of the image padded with `pad` zeros on each side,
/// flipped left-right if `flip`.
fn crop(chw: &[u8], pad: usize, (dy, dx): (usize, usize), flip: bool) -> Vec<u8> {
    let mut out = vec![0u8; PIXELS];
    for c in 0..CHANNELS {
        for y in 0..IMAGE_SIZE {
            let sy = y as isize + dy as isize - pad as isize;
            if !(0..IMAGE_SIZE as isize).contains(&sy) {
                continue;
            }
            for x in 0..IMAGE_SIZE {
                let tx = if flip { IMAGE_SIZE - 1 - x } else { x };
                let sx = tx as isize + dx as isize - pad as isize;
                if (0..IMAGE_SIZE as isize).contains(&sx) {
                    out[(c * IMAGE_SIZE + y) * IMAGE_SIZE + x] =
                        chw[(c * IMAGE_SIZE + sy as usize) * IMAGE_SIZE + sx as usize];
                }
            }
        }
    }
    out
}

/// Bilinear resize of `channels` square planes of side `from` to side `to` (align corners
/// off, as PyTorch and TensorFlow 2 do).
pub fn resize_bilinear(src: &[f32], channels: usize, from: usize, to: usize) -> Vec<f32> {
    resize_planes(src, channels, (from, from), (to, to))
}

/// For each output coordinate: the two source coordinates it blends and the second's weight.
fn taps(from: usize, to: usize) -> Vec<(usize, usize, f32)> {
    let scale = from as f32 / to as f32;
    (0..to)
        .map(|o| {
            let s = ((o as f32 + 0.5) * scale - 0.5).clamp(0.0, (from - 1) as f32);
            let lo = s.floor() as usize;
            (lo, (lo + 1).min(from - 1), s - lo as f32)
        })
        .collect()
}

/// Bilinear resize of `channels` planes of `(h, w)` to `(out_h, out_w)` (align corners off;
/// a non-square picture is stretched): the crate's one resize, used for the 227x227 models'
/// batches and for pictures of any size.
pub fn resize_planes(
    src: &[f32],
    channels: usize,
    (h, w): (usize, usize),
    (out_h, out_w): (usize, usize),
) -> Vec<f32> {
    let (rows, cols) = (taps(h, out_h), taps(w, out_w));
    let mut out = vec![0f32; channels * out_h * out_w];
    for c in 0..channels {
        let plane = &src[c * h * w..(c + 1) * h * w];
        for (y, &(y0, y1, wy)) in rows.iter().enumerate() {
            for (x, &(x0, x1, wx)) in cols.iter().enumerate() {
                let top = plane[y0 * w + x0] * (1.0 - wx) + plane[y0 * w + x1] * wx;
                let bottom = plane[y1 * w + x0] * (1.0 - wx) + plane[y1 * w + x1] * wx;
                out[(c * out_h + y) * out_w + x] = top * (1.0 - wy) + bottom * wy;
            }
        }
    }
    out
}
