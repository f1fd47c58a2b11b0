//! Throughput of full training steps and of inference, the numbers `alexnet bench` prints
//! and the README's performance table compares with TensorFlow/Keras.
//!
//! A training step is what `fit` does per batch: forward in training mode (batch
//! statistics, dropout on), cross-entropy loss, backward, SGD with momentum 0.9 (as the
//! Keras reference), zeroing the gradients. Inference is a forward pass in evaluation mode.
//! Both run on random images after warm-up; each step is timed alone and the median taken.

use crate::data::{synthetic, BatchConfig, Batches, Normalization};
use crate::model::{Article, Cifar, ModelName, Paper};
use crate::{Error, Result};
use dfdx::optim::{Momentum, Sgd, SgdConfig};
use dfdx::prelude::*;
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

/// Times `steps` training steps and `steps` inference batches of `model` on the CPU.
///
/// # Errors
/// A zero batch size or step count, or a device failure.
pub fn bench(model: ModelName, batch_size: usize, steps: usize) -> Result<BenchReport> {
    if batch_size == 0 || steps == 0 {
        let why = format!("--batch-size {batch_size} and --steps {steps} must both be at least 1");
        return Err(Error::Invalid {
            what: "benchmark size",
            why,
        });
    }
    crate::alloc::keep_freed_memory();
    let dev = Cpu::seed_from_u64(0);
    let (train_step_s, infer_step_s) = match model {
        ModelName::Cifar => run::<Cifar, 32, 10>(&dev, batch_size, steps),
        ModelName::Article => run::<Article, 227, 10>(&dev, batch_size, steps),
        ModelName::Paper => run::<Paper, 227, 1000>(&dev, batch_size, steps),
    }?;
    let data_images_per_s = match model.input_size() {
        32 => data_throughput::<32>(&dev, batch_size),
        _ => data_throughput::<227>(&dev, batch_size),
    };
    Ok(BenchReport {
        model,
        batch_size,
        train_step_s,
        infer_step_s,
        data_images_per_s,
    })
}

/// Times the batch iterator over a synthetic set with augmentation on.
fn data_throughput<const S: usize>(dev: &Cpu, batch_size: usize) -> f64 {
    let set = synthetic::generate(100, 1, 0);
    let norm = Normalization::from_images(&set.train);
    let cfg = BatchConfig::train(batch_size.min(1000), true, 0);
    let start = Instant::now();
    let mut images = 0;
    for batch in Batches::<S, _>::new(&set.train, norm, cfg, dev.clone()) {
        images += batch.labels.len();
        std::hint::black_box(&batch.images);
    }
    images as f64 / start.elapsed().as_secs_f64()
}

type Images<const S: usize, T = NoneTape> =
    Tensor<(usize, Const<3>, Const<S>, Const<S>), f32, Cpu, T>;
type Logits<const NC: usize, T = NoneTape> = Tensor<(usize, Const<NC>), f32, Cpu, T>;
type Traced = OwnedTape<f32, Cpu>;

fn run<M, const S: usize, const NC: usize>(
    dev: &Cpu,
    batch_size: usize,
    steps: usize,
) -> Result<(Vec<f64>, Vec<f64>)>
where
    M: BuildOnDevice<Cpu, f32>,
    M::Built: Module<Images<S>, Output = Logits<NC>, Error = CpuError>
        + ModuleMut<Images<S, Traced>, Output = Logits<NC, Traced>, Error = CpuError>
        + TensorCollection<f32, Cpu>,
{
    let mut model = dev.try_build_module::<M, f32>()?;
    let images: Images<S> = dev.try_sample_like(
        &(batch_size, Const, Const, Const),
        rand_distr::Uniform::new(0.0f32, 1.0),
    )?;
    let mut onehot = vec![0.0f32; batch_size * NC];
    for i in 0..batch_size {
        onehot[i * NC + (i * 7) % NC] = 1.0;
    }
    let targets: Logits<NC> = dev.try_tensor_from_vec(onehot, (batch_size, Const))?;
    let mut opt = Sgd::new(
        &model,
        SgdConfig {
            lr: 0.01,
            momentum: Some(Momentum::Classic(0.9)),
            weight_decay: None,
        },
    );
    let mut grads = model.try_alloc_grads()?;
    let mut train = Vec::with_capacity(steps);
    for step in 0..WARMUP_STEPS + steps {
        let start = Instant::now();
        let logits = model.try_forward_mut(images.clone().traced(grads))?;
        let loss = cross_entropy_with_logits_loss(logits, targets.clone());
        grads = loss.backward();
        opt.update(&mut model, &grads)
            .map_err(|e| Error::Device(format!("optimizer: {e:?}")))?;
        model.try_zero_grads(&mut grads)?;
        if step >= WARMUP_STEPS {
            train.push(start.elapsed().as_secs_f64());
        }
    }
    let mut infer = Vec::with_capacity(steps);
    for step in 0..WARMUP_STEPS + steps {
        let start = Instant::now();
        let logits = model.try_forward(images.clone())?;
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
