//! Scoring a model on a set: loss, accuracy, per-class accuracy and the confusion matrix.

use super::scores::{argmax_rows, loss_and_correct};
use super::step::{images_on, Trainable};
use crate::data::{BatchConfig, HostBatches, Images, Normalization};
use crate::model::Network;
use crate::{Error, Result};
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// How a model did on one set of images.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Accuracy of the images of each true class.
    pub per_class_accuracy: Vec<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
}

impl Metrics {
    /// The figures of `n` scored images from their confusion counts
    /// (`confusion[true][predicted]`) and the sum of their losses: accuracy from the
    /// diagonal, per-class accuracy from each row (0 for a class with no image), mean loss
    /// (`total_loss` as it is when `n` is 0). A NaN in `total_loss` stays NaN.
    pub fn from_scores(confusion: Vec<Vec<usize>>, total_loss: f64, n: usize) -> Metrics {
        let n = n.max(1) as f64;
        let right: usize = confusion.iter().enumerate().map(|(c, row)| row[c]).sum();
        let per_class_accuracy = confusion
            .iter()
            .enumerate()
            .map(|(c, row)| row[c] as f64 / row.iter().sum::<usize>().max(1) as f64)
            .collect();
        Metrics {
            loss: total_loss / n,
            accuracy: right as f64 / n,
            per_class_accuracy,
            confusion,
        }
    }
}

/// Refuses a label of `images` that network `N` has no class for.
pub(super) fn check_labels<N: Network>(images: &Images) -> Result<()> {
    let nc = N::NUM_CLASSES;
    match images.labels.iter().find(|&&l| l as usize >= nc) {
        Some(&l) => {
            let why = format!("label {l}, but the {} model has {nc} classes", N::NAME);
            Err(Error::Invalid { what: "label", why })
        }
        None => Ok(()),
    }
}

/// Scores `model` (network `N`, on any device) in evaluation mode on every image of
/// `images`, `batch_size` at a time.
///
/// # Errors
/// A batch size of 0, a label the network has no class for, a device failure.
pub fn evaluate<N: Network, M: Trainable<N>>(
    model: &M,
    images: &Images,
    norm: Normalization,
    batch_size: usize,
) -> Result<Metrics> {
    check_labels::<N>(images)?;
    let nc = N::NUM_CLASSES;
    let mut confusion = vec![vec![0usize; nc]; nc];
    let mut total_loss = 0.0;
    let batches = HostBatches::new(images, norm, BatchConfig::eval(batch_size), N::INPUT_SIZE)?;
    for (values, labels) in batches {
        let x = images_on::<N, _>(model.device(), values, labels.len())?;
        let logits = model.try_forward(x)?.as_vec();
        let (loss, _) = loss_and_correct(&logits, &labels, nc);
        total_loss += loss * labels.len() as f64;
        for (p, &l) in argmax_rows(&logits, nc).into_iter().zip(&labels) {
            confusion[l][p] += 1;
        }
    }
    Ok(Metrics::from_scores(confusion, total_loss, images.len()))
}

/// The class probabilities (softmax of the logits) of each image of `images` under `model`
/// (network `N`, on any device, in evaluation mode), normalised with `norm`, `batch_size`
/// images per forward pass: one row of `N::NUM_CLASSES` values per image.
///
/// # Errors
/// A batch size of 0, a device failure.
pub(super) fn probabilities<N: Network, M: Trainable<N>>(
    model: &M,
    images: &Images,
    norm: Normalization,
    batch_size: usize,
) -> Result<Vec<Vec<f32>>> {
    let mut probs = Vec::with_capacity(images.len());
    let batches = HostBatches::new(images, norm, BatchConfig::eval(batch_size), N::INPUT_SIZE)?;
    for (values, labels) in batches {
        let x = images_on::<N, _>(model.device(), values, labels.len())?;
        let p = model.try_forward(x)?.try_softmax::<Axis<1>>()?.as_vec();
        probs.extend(p.chunks_exact(N::NUM_CLASSES).map(<[f32]>::to_vec));
    }
    Ok(probs)
}
