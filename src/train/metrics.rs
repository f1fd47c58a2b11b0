//! Scoring a model on a set: loss, accuracy, per-class accuracy and the confusion matrix.

use super::scores::{argmax_rows, loss_and_correct};
use super::step::{images_on, Trainable};
use crate::data::{BatchConfig, HostBatches, Images, Normalization};
use crate::model::Network;
use crate::{Error, Result};
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
    let nc = N::NUM_CLASSES;
    let mut confusion = vec![vec![0usize; nc]; nc];
    let mut total_loss = 0.0;
    let batches = HostBatches::new(images, norm, BatchConfig::eval(batch_size), N::INPUT_SIZE)?;
    for (values, labels) in batches {
        if let Some(&l) = labels.iter().find(|&&l| l >= nc) {
            let why = format!("label {l}, but the {} model has {nc} classes", N::NAME);
            return Err(Error::Invalid { what: "label", why });
        }
        let x = images_on::<N, _>(model.device(), values, labels.len())?;
        let logits = model.try_forward(x)?.as_vec();
        let (loss, _) = loss_and_correct(&logits, &labels, nc);
        total_loss += loss * labels.len() as f64;
        for (p, &l) in argmax_rows(&logits, nc).into_iter().zip(&labels) {
            confusion[l][p] += 1;
        }
    }
    let n = images.len().max(1) as f64;
    let right: usize = (0..nc).map(|c| confusion[c][c]).sum();
    let per_class_accuracy = confusion
        .iter()
        .enumerate()
        .map(|(c, row)| row[c] as f64 / row.iter().sum::<usize>().max(1) as f64)
        .collect();
    Ok(Metrics {
        loss: total_loss / n,
        accuracy: right as f64 / n,
        per_class_accuracy,
        confusion,
    })
}
