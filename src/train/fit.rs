//! The training loop: epochs of shuffled mini-batches, a validation pass, one printed line
//! and one checkpoint per epoch. Generic over the device: the model's own device (`Cpu`, or
//! `Cuda` with the `cuda` feature) runs it.

use super::checkpoint::{self, TrainState};
use super::config::TrainConfig;
use super::init::initialise;
use super::metrics::{evaluate, Metrics};
use super::optim::Optimizer;
use super::step::{images_on, Dev, Trainable, Trainer};
use crate::data::{BatchConfig, HostBatches, Images, Normalization, PcaLighting, Splits};
use crate::history::{EpochStats, History};
use crate::layers::LabDevice;
use crate::model::{Cifar, CifarTanh, Network};
use crate::{Error, Result};
use dfdx::prelude::{BuildOnDevice, Cpu};
use std::any::{Any, TypeId};
use std::path::Path;
use std::time::Instant;

pub use super::step::LogitsOf as Logits;

/// Progress within an epoch, for a progress bar: (epoch from 1, step from 1, steps in epoch).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, usize);

/// Trains `model` (the network `N`, built on any device) on `data` as `cfg` says, printing a
/// line per epoch and writing a checkpoint into `out` after each. A fresh run first sets the
/// weights as `cfg.init` says (`Init::Default` keeps the model's own). With `resume`,
/// continues the run saved in `out`; a folder with no finished epoch starts from the
/// beginning (and says so).
///
/// ```no_run
/// use alexnet_lab::{data::synthetic, prelude::*, train::{fit, TrainConfig}};
/// let dev = Cpu::seed_from_u64(0);
/// let mut model = dev.build_module::<Cifar, f32>();
/// let splits = synthetic::generate(100, 20, 0).split(100)?;
/// let history = fit::<Cifar>(&mut model, &TrainConfig::default(), &splits, "runs/demo", false)?;
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
///
/// # Errors
/// A config for another model, a folder that already holds a run (without `resume`), a
/// checkpoint of another model or a damaged one, a diverging loss (the last good checkpoint
/// is kept), a device failure.
pub fn fit<N: Network>(
    model: &mut (impl Trainable<N> + 'static),
    cfg: &TrainConfig,
    data: &Splits,
    out: impl AsRef<Path>,
    resume: bool,
) -> Result<History> {
    fit_with::<N, _>(model, cfg, data, out.as_ref(), resume, &mut |_, _, _| {})
}

/// Scores a course network on `images` in evaluation mode, 64 images at a time.
///
/// # Errors
/// A label the network has no class for, a device failure.
pub fn evaluate_network<N: Network>(
    model: &impl Trainable<N>,
    images: &Images,
    norm: Normalization,
) -> Result<Metrics> {
    evaluate::<N, _>(model, images, norm, 64)
}

/// The seed of epoch `epoch`: dropout masks, shuffling and crops depend only on
/// (seed, epoch), so a resumed run repeats exactly what an uninterrupted one does.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(epoch as u64)
}

/// [`fit`] with a progress callback.
///
/// # Errors
/// As [`fit`].
pub fn fit_with<N: Network, M: Trainable<N> + 'static>(
    model: &mut M,
    cfg: &TrainConfig,
    data: &Splits,
    out: &Path,
    resume: bool,
    progress: Progress<'_>,
) -> Result<History> {
    let any: &mut dyn Any = model;
    if TypeId::of::<N>() == TypeId::of::<Cifar>() {
        if let Some(model) = any.downcast_mut::<Built<Cifar>>() {
            return fit_cifar(model, cfg, data, out, resume, progress);
        }
    } else if TypeId::of::<N>() == TypeId::of::<CifarTanh>() {
        if let Some(model) = any.downcast_mut::<Built<CifarTanh>>() {
            return fit_cifar_tanh(model, cfg, data, out, resume, progress);
        }
    }
    fit_generic::<N, M>(model, cfg, data, out, resume, progress)
}

/// A network built on the CPU.
type Built<N> = <N as BuildOnDevice<Cpu, f32>>::Built;

// The course's networks on the CPU, trained by copies of the loop compiled here, with this
// crate's optimisation. Generic code is compiled where it is instantiated: a notebook cell that
// calls `fit::<Cifar>` would otherwise build the whole loop, the model's forward and backward
// glue included, at the cell's `:opt 0`. `fit_with` sends these models here, so a lesson
// trains at the CLI's speed; any other network or device takes `fit_generic` as it is.

#[inline(never)]
fn fit_cifar(
    model: &mut Built<Cifar>,
    cfg: &TrainConfig,
    data: &Splits,
    out: &Path,
    resume: bool,
    progress: Progress<'_>,
) -> Result<History> {
    fit_generic::<Cifar, _>(model, cfg, data, out, resume, progress)
}

#[inline(never)]
fn fit_cifar_tanh(
    model: &mut Built<CifarTanh>,
    cfg: &TrainConfig,
    data: &Splits,
    out: &Path,
    resume: bool,
    progress: Progress<'_>,
) -> Result<History> {
    fit_generic::<CifarTanh, _>(model, cfg, data, out, resume, progress)
}

/// The training loop itself, for any network on any device.
fn fit_generic<N: Network, M: Trainable<N>>(
    model: &mut M,
    cfg: &TrainConfig,
    data: &Splits,
    out: &Path,
    resume: bool,
    progress: Progress<'_>,
) -> Result<History> {
    if cfg.model != N::NAME {
        let why = format!(
            "the config says `{}` but the model is `{}`",
            cfg.model,
            N::NAME
        );
        return Err(Error::Invalid { what: "model", why });
    }
    if cfg.batch_size == 0 {
        let why = "a batch holds at least one image".to_string();
        return Err(Error::Invalid {
            what: "batch size",
            why,
        });
    }
    // A model built in another notebook cell was numbered by that cell's copy of dfdx's
    // tensor counter; fresh numbers from this code's counter keep its gradients apart from
    // the new tensors of every step (see `crate::tensor_ids`).
    crate::tensor_ids::renumber::<M, Dev<M>>(model)?;
    let mut opt = Optimizer::new(cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay);
    let saved = out.join(checkpoint::STATE_FILE).exists();
    let (norm, saved_lighting, mut history) = if resume && saved {
        let state = checkpoint::load_model(out, cfg.model, model)?;
        checkpoint::load_optimizer(out, &state, &mut opt)?;
        (state.normalization, state.lighting, state.history)
    } else {
        if saved {
            let what = "already holds a training run: resume it, or train into another folder";
            return Err(Error::data(out, what));
        }
        if resume {
            println!(
                "{} holds no finished epoch: starting from the beginning",
                out.display()
            );
        }
        initialise(model, cfg.init, cfg.seed)?;
        (
            Normalization::from_images(&data.train),
            None,
            History::default(),
        )
    };
    // Computed once from the training split, like the normalisation, and saved with it.
    let lighting = cfg
        .pca_lighting
        .then(|| saved_lighting.unwrap_or_else(|| PcaLighting::from_images(&data.train)));
    let mut trainer = Trainer::<N, M>::new(model, opt)?;
    for epoch in history.epochs.len()..cfg.num_epochs {
        trainer.opt.lr = cfg.lr_at(epoch) as f32;
        let seed = epoch_seed(cfg.seed, epoch);
        let dev = model.device().try_reseeded(seed)?;
        let start = Instant::now();
        let mut batches = HostBatches::new(
            &data.train,
            norm,
            BatchConfig::train(cfg.batch_size, cfg.augment, seed),
            N::INPUT_SIZE,
        )?;
        if let Some(lighting) = lighting {
            batches = batches.with_lighting(lighting);
        }
        let steps = batches.len();
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0, 0);
        for (step, (values, labels)) in batches.enumerate() {
            let images = images_on::<N, _>(&dev, values, labels.len())?;
            let f = trainer.step(model, images, &labels)?;
            if !f.loss.is_finite() {
                return Err(Error::Diverged {
                    epoch: epoch + 1,
                    step: step + 1,
                    loss: f.loss as f32,
                });
            }
            loss_sum += f.loss * f.images as f64;
            (correct, seen) = (correct + f.correct, seen + f.images);
            progress(epoch + 1, step + 1, steps);
        }
        let train_seconds = start.elapsed().as_secs_f64();
        let val = if data.val.is_empty() {
            None
        } else {
            Some(evaluate::<N, M>(model, &data.val, norm, cfg.batch_size)?)
        };
        let stats = EpochStats {
            epoch: epoch + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: correct as f64 / seen.max(1) as f64,
            val_loss: val.as_ref().map_or(f64::NAN, |m| m.loss),
            val_acc: val.as_ref().map_or(f64::NAN, |m| m.accuracy),
            seconds: start.elapsed().as_secs_f64(),
            images_per_s: seen as f64 / train_seconds.max(1e-9),
        };
        println!("{stats}");
        history.epochs.push(stats);
        let state = TrainState::new(cfg, epoch + 1, norm, lighting, &data.classes, &history);
        checkpoint::save(out, model, &trainer.opt, state)?;
        checkpoint::write_atomic(&out.join("history.csv"), history.to_csv().as_bytes())?;
    }
    Ok(history)
}
