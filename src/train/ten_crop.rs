//! The paper's test-time averaging (section 4.1): the network scores ten views of each test
//! image ([`crate::data::ten_crops`]: four corners and the centre of the padded image, and
//! their mirror images) and the prediction is the mean of its ten softmax outputs. A test
//! image the network half-recognises from one position often gets the right class from the
//! average.
//!
//! Taught in `notebooks/11-what-made-alexnet-work.ipynb`.

use super::metrics::{check_labels, probabilities, Metrics};
use super::scores::argmax_rows;
use super::step::Trainable;
use crate::data::{ten_crops, Images, Normalization, IMAGE_SIZE};
use crate::model::Network;
use crate::{Error, Result};

/// The views of one image.
pub const VIEWS: usize = 10;

/// Images scored per forward pass (each as its ten views).
const IMAGES_PER_PASS: usize = 8;

/// The class probabilities of each image of `images` under `model` (network `N`, on any
/// device, in evaluation mode): the mean over its ten views (padding `pad`) of the
/// softmax of the logits, normalised with `norm` as training was.
///
/// # Errors
/// A `pad` of 32 or more (the corner views would hold nothing of the image), a device
/// failure.
pub fn ten_crop_probabilities<N: Network, M: Trainable<N>>(
    model: &M,
    images: &Images,
    norm: Normalization,
    pad: usize,
) -> Result<Vec<Vec<f32>>> {
    if pad >= IMAGE_SIZE {
        return Err(Error::Invalid {
            what: "padding",
            why: format!(
                "a pad of {pad} leaves the corner views without a pixel of the {IMAGE_SIZE}x{IMAGE_SIZE} image: use less than {IMAGE_SIZE}"
            ),
        });
    }
    let nc = N::NUM_CLASSES;
    let mut probs = Vec::with_capacity(images.len());
    for start in (0..images.len()).step_by(IMAGES_PER_PASS) {
        let end = (start + IMAGES_PER_PASS).min(images.len());
        let mut views = Images::default();
        for i in start..end {
            for view in ten_crops(images.image(i), pad)? {
                // The label is not used here; 0 is always a valid one.
                views.push(&view, 0)?;
            }
        }
        let n = views.len();
        for image in probabilities::<N, M>(model, &views, norm, n)?.chunks_exact(VIEWS) {
            let mut mean = vec![0f32; nc];
            for view in image {
                mean.iter_mut().zip(view).for_each(|(m, &v)| *m += v);
            }
            mean.iter_mut().for_each(|m| *m /= VIEWS as f32);
            probs.push(mean);
        }
    }
    Ok(probs)
}

/// Scores `model` on `images` by the mean of its softmax outputs over the ten views:
/// accuracy, per-class accuracy and confusion from the averaged probabilities, and the loss
/// as the mean of `-ln` of the averaged probability of the true class (an average of exactly
/// 0 counts as the smallest positive `f32`, so the loss stays finite; a NaN stays NaN).
///
/// # Errors
/// As [`ten_crop_probabilities`]; a label the network has no class for.
pub fn evaluate_ten_crop<N: Network, M: Trainable<N>>(
    model: &M,
    images: &Images,
    norm: Normalization,
    pad: usize,
) -> Result<Metrics> {
    check_labels::<N>(images)?;
    let nc = N::NUM_CLASSES;
    let probs = ten_crop_probabilities::<N, M>(model, images, norm, pad)?;
    let mut confusion = vec![vec![0usize; nc]; nc];
    let mut total_loss = 0.0;
    for (p, &label) in probs.iter().zip(&images.labels) {
        let label = label as usize;
        confusion[label][argmax_rows(p, nc)[0]] += 1;
        total_loss += nll(p[label]);
    }
    Ok(Metrics::from_scores(confusion, total_loss, images.len()))
}

/// `-ln p` of a probability, with an exact 0 read as the smallest positive `f32` (about
/// 87.3 instead of infinity); a NaN gives NaN.
fn nll(p: f32) -> f64 {
    // Not `p.max(..)`: `f32::max` drops a NaN and returns the other value.
    let p = if p == 0.0 { f32::MIN_POSITIVE } else { p };
    -(p as f64).ln()
}
