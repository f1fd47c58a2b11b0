//! Throughput of full training steps and of inference, the numbers `alexnet bench` prints
//! and the README's performance table compares with TensorFlow/Keras.
//!
//! A training step is exactly what `fit` does per batch ([`Trainer::step`]): forward in
//! training mode (batch statistics, dropout on), cross-entropy loss, backward, the crate's
//! SGD with momentum 0.9, zeroing the gradients. Inference is a forward pass in evaluation
//! mode. Both run on random images after warm-up, on the CPU or a GPU; each step is timed
//! alone and the median taken.

use crate::data::{synthetic, BatchConfig, HostBatches, Normalization};
use crate::layers::LabDevice;
use crate::model::{with_network, ModelName, Network};
use crate::train::{
    images_on, on_device, DeviceChoice, Optimizer, TrainConfig, Trainable, Trainer,
};
use crate::{Error, Result};
use dfdx::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::Distribution;
use std::time::Instant;

/// What one benchmark run measured.
#[derive(Clone, Debug)]
pub struct BenchReport {
    pub model: ModelName,
    pub batch_size: usize,
    /// Seconds of each timed training step.
    pub train_step_s: Vec<f64>,
    /// Seconds of each timed inference batch.
    pub infer_step_s: Vec<f64>,
    /// Images per second the data pipeline delivers as training batches (augmented,
    /// normalised, resized for the 227x227 models), on one thread: to compare with training.
    pub data_images_per_s: f64,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl BenchReport {
    /// Training images per second: batch size over the median step time.
    pub fn train_images_per_s(&self) -> f64 {
        self.batch_size as f64 / median(&self.train_step_s)
    }
    /// Inference images per second: batch size over the median batch time.
    pub fn infer_images_per_s(&self) -> f64 {
        self.batch_size as f64 / median(&self.infer_step_s)
    }
}

/// Warm-up steps before timing starts (allocator caches, first-touch page faults).
pub const WARMUP_STEPS: usize = 3;

/// Times `steps` training steps and `steps` inference batches of `model` on `device`.
///
/// A training step is [`Trainer::step`], the one `fit` runs on every batch, with the
/// optimizer settings of [`TrainConfig::default`] (SGD, momentum 0.9, L2 5e-4).
///
/// On Linux with glibc this keeps freed memory in the process
/// ([`crate::memory::keep_freed_memory`]), as the `alexnet` tool does for training: the
/// figures are for a process tuned that way.
///
/// # Errors
/// A zero batch size or step count, a device this build lacks, a device failure.
pub fn bench(
    model: ModelName,
    batch_size: usize,
    steps: usize,
    device: DeviceChoice,
) -> Result<BenchReport> {
    if batch_size == 0 || steps == 0 {
        let why = format!("batch size {batch_size} and step count {steps} must both be at least 1");
        return Err(Error::Invalid {
            what: "benchmark size",
            why,
        });
    }
    crate::memory::keep_freed_memory();
    let (train_step_s, infer_step_s) = on_device!(device, 0, dev => with_network!(model, N => {
        run::<N, _>(&dev, batch_size, steps)
    }))?;
    let data_images_per_s = data_throughput(model.input_size(), batch_size)?;
    Ok(BenchReport {
        model,
        batch_size,
        train_step_s,
        infer_step_s,
        data_images_per_s,
    })
}

/// Times the batch iterator over a synthetic set with augmentation on.
fn data_throughput(side: usize, batch_size: usize) -> Result<f64> {
    let set = synthetic::generate(100, 1, 0);
    let norm = Normalization::from_images(&set.train);
    let cfg = BatchConfig::train(batch_size.min(1000), true, 0);
    let start = Instant::now();
    let mut images = 0;
    for (values, labels) in HostBatches::new(&set.train, norm, cfg, side)? {
        images += labels.len();
        std::hint::black_box(&values);
    }
    Ok(images as f64 / start.elapsed().as_secs_f64())
}

fn run<N: Network + BuildOnDevice<D, f32>, D: LabDevice>(
    dev: &D,
    batch_size: usize,
    steps: usize,
) -> Result<(Vec<f64>, Vec<f64>)>
where
    N::Built: Trainable<N>,
{
    let mut model = N::try_build_on_device(dev)?;
    let side = N::INPUT_SIZE;
    let values: Vec<f32> = {
        let mut rng = StdRng::seed_from_u64(0);
        let uniform = rand_distr::Uniform::new(0.0f32, 1.0);
        (0..batch_size * 3 * side * side)
            .map(|_| uniform.sample(&mut rng))
            .collect()
    };
    let images = images_on::<N, _>(crate::layers::OnDevice::device(&model), values, batch_size)?;
    let labels: Vec<usize> = (0..batch_size).map(|i| (i * 7) % N::NUM_CLASSES).collect();
    let cfg = TrainConfig::default();
    let opt = Optimizer::new(cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay);
    let mut trainer = Trainer::<N, _>::new(&model, opt)?;
    let mut train = Vec::with_capacity(steps);
    for step in 0..WARMUP_STEPS + steps {
        let start = Instant::now();
        trainer.step(&mut model, images.clone(), &labels)?;
        if step >= WARMUP_STEPS {
            train.push(start.elapsed().as_secs_f64());
        }
    }
    let mut infer = Vec::with_capacity(steps);
    for step in 0..WARMUP_STEPS + steps {
        let start = Instant::now();
        // The logits to the host, as evaluation reads them: the GPU's work is done by then.
        let logits = model.try_forward(images.clone())?.as_vec();
        std::hint::black_box(&logits);
        if step >= WARMUP_STEPS {
            infer.push(start.elapsed().as_secs_f64());
        }
    }
    Ok((train, infer))
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
