//! Scoring a model on a set: loss, accuracy, per-class accuracy and the confusion matrix.

use crate::data::{BatchConfig, BatchImages, Batches, Images, Normalization};
use crate::Result;
use dfdx::prelude::*;
use serde::{Deserialize, Serialize};

/// How a model did on one set of images.
///
/// Taught in `notebooks/09-what-alexnet-learned.ipynb`.
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

/// The index of the largest logit of each row.
pub fn argmax_rows(logits: &[f32], classes: usize) -> Vec<usize> {
    logits
        .chunks_exact(classes)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
        })
        .collect()
}

/// Mean cross-entropy of softmax(logits) against the labels, and the number right.
pub fn loss_and_correct(logits: &[f32], labels: &[usize], classes: usize) -> (f64, usize) {
    let mut loss = 0.0;
    for (row, &l) in logits.chunks_exact(classes).zip(labels) {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let lse = max
            + row
                .iter()
                .map(|&v| (v as f64 - max).exp())
                .sum::<f64>()
                .ln();
        loss += lse - row[l] as f64;
    }
    let correct = argmax_rows(logits, classes)
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count();
    (loss / labels.len().max(1) as f64, correct)
}

/// Scores `model` in evaluation mode on every image of `images`.
pub fn evaluate<M, const S: usize, const NC: usize>(
    model: &M,
    images: &Images,
    norm: Normalization,
    batch_size: usize,
    dev: &Cpu,
) -> Result<Metrics>
where
    M: Module<BatchImages<S, Cpu>, Output = Tensor<(usize, Const<NC>), f32, Cpu>, Error = CpuError>,
{
    let mut confusion = vec![vec![0usize; NC]; NC];
    let mut total_loss = 0.0;
    for batch in Batches::<S, _>::new(images, norm, BatchConfig::eval(batch_size), dev.clone()) {
        let logits = model.try_forward(batch.images)?.as_vec();
        let (loss, _) = loss_and_correct(&logits, &batch.labels, NC);
        total_loss += loss * batch.labels.len() as f64;
        for (p, &l) in argmax_rows(&logits, NC).into_iter().zip(&batch.labels) {
            confusion[l][p] += 1;
        }
    }
    let n = images.len().max(1) as f64;
    let right: usize = (0..NC).map(|c| confusion[c][c]).sum();
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
