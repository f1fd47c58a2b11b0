//! The training loop: epochs of shuffled mini-batches, a validation pass, one printed line
//! and one checkpoint per epoch.

use super::checkpoint::{self, TrainState};
use super::config::TrainConfig;
use super::history::{EpochStats, History};
use super::metrics::{evaluate, loss_and_correct};
use super::optim::Optimizer;
use crate::data::{one_hot, BatchConfig, BatchImages, Batches, Normalization, Splits};
use crate::{Error, Result};
use dfdx::nn::{LoadFromSafetensors, SaveToSafetensors};
use dfdx::prelude::*;
use std::path::Path;
use std::time::Instant;

/// The output of a model with `NC` classes.
pub type Logits<const NC: usize, T = NoneTape> = Tensor<(usize, Const<NC>), f32, Cpu, T>;

/// What a model must do to be trained here: both modes, parameters, checkpoints.
pub trait Trainable<const S: usize, const NC: usize>:
    Module<BatchImages<S, Cpu>, Output = Logits<NC>, Error = CpuError>
    + ModuleMut<
        Tensor<(usize, Const<3>, Const<S>, Const<S>), f32, Cpu, OwnedTape<f32, Cpu>>,
        Output = Logits<NC, OwnedTape<f32, Cpu>>,
        Error = CpuError,
    > + TensorCollection<f32, Cpu>
    + SaveToSafetensors<f32, Cpu>
    + LoadFromSafetensors<f32, Cpu>
{
}

impl<M, const S: usize, const NC: usize> Trainable<S, NC> for M where
    M: Module<BatchImages<S, Cpu>, Output = Logits<NC>, Error = CpuError>
        + ModuleMut<
            Tensor<(usize, Const<3>, Const<S>, Const<S>), f32, Cpu, OwnedTape<f32, Cpu>>,
            Output = Logits<NC, OwnedTape<f32, Cpu>>,
            Error = CpuError,
        > + TensorCollection<f32, Cpu>
        + SaveToSafetensors<f32, Cpu>
        + LoadFromSafetensors<f32, Cpu>
{
}

/// Progress within an epoch, for a progress bar: (epoch from 1, step from 1, steps in epoch).
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, usize);

/// The course's trainable networks (`Cifar`, `Article`): each knows its input size and class
/// count, so [`fit`] and [`evaluate_network`] need only its name, as in `fit::<Cifar>(..)`.
pub trait Network: BuildOnDevice<Cpu, f32> {
    /// The name checkpoints record.
    const NAME: crate::model::ModelName;
    /// Trains; see [`fit`].
    fn fit_built(
        model: &mut Self::Built,
        cfg: &TrainConfig,
        data: &Splits,
        out: &Path,
        resume: bool,
        progress: Progress<'_>,
    ) -> Result<History>;
    /// Scores in evaluation mode; see [`evaluate`].
    fn evaluate_built(
        model: &Self::Built,
        images: &crate::data::Images,
        norm: Normalization,
    ) -> Result<super::metrics::Metrics>;
}

macro_rules! network {
    ($model:ident, $size:literal, $classes:literal) => {
        impl Network for crate::model::$model {
            const NAME: crate::model::ModelName = crate::model::ModelName::$model;
            fn fit_built(
                model: &mut Self::Built,
                cfg: &TrainConfig,
                data: &Splits,
                out: &Path,
                resume: bool,
                progress: Progress<'_>,
            ) -> Result<History> {
                fit_sized::<Self::Built, $size, $classes>(model, cfg, data, out, resume, progress)
            }
            fn evaluate_built(
                model: &Self::Built,
                images: &crate::data::Images,
                norm: Normalization,
            ) -> Result<super::metrics::Metrics> {
                evaluate::<Self::Built, $size, $classes>(model, images, norm, 64, &Cpu::default())
            }
        }
    };
}
network!(Cifar, 32, 10);
network!(Article, 227, 10);

/// Trains `model` on `data` as `cfg` says, printing a line per epoch and writing a
/// checkpoint into `out` after each. With `resume`, continues the run saved in `out`.
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
    model: &mut N::Built,
    cfg: &TrainConfig,
    data: &Splits,
    out: impl AsRef<Path>,
    resume: bool,
) -> Result<History> {
    if cfg.model != N::NAME {
        let why = format!(
            "the config says `{}` but the model is `{}`",
            cfg.model,
            N::NAME
        );
        return Err(Error::Invalid { what: "model", why });
    }
    N::fit_built(model, cfg, data, out.as_ref(), resume, &mut |_, _, _| {})
}

/// Scores a course network on `images` (see [`evaluate`]).
pub fn evaluate_network<N: Network>(
    model: &N::Built,
    images: &crate::data::Images,
    norm: Normalization,
) -> Result<super::metrics::Metrics> {
    N::evaluate_built(model, images, norm)
}

/// [`fit`] for any model, with its input size `S` and class count `NC` spelled out, and a
/// progress callback.
pub fn fit_sized<M: Trainable<S, NC>, const S: usize, const NC: usize>(
    model: &mut M,
    cfg: &TrainConfig,
    data: &Splits,
    out: &Path,
    resume: bool,
    progress: Progress<'_>,
) -> Result<History> {
    crate::alloc::keep_freed_memory();
    let mut opt = Optimizer::new(cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay);
    let (norm, mut history) = if resume {
        let state = checkpoint::load_model(out, cfg.model, model)?;
        checkpoint::load_optimizer(out, &state, &mut opt)?;
        (state.normalization, state.history)
    } else {
        if out.join(checkpoint::STATE_FILE).exists() {
            let what = "already holds a training run: add --resume to continue it, or choose another --out";
            return Err(Error::data(out, what));
        }
        (Normalization::from_images(&data.train), History::default())
    };
    let mut grads = model.try_alloc_grads()?;
    for epoch in history.epochs.len()..cfg.num_epochs {
        opt.lr = cfg.lr_at(epoch) as f32;
        // A device seeded per epoch: dropout masks, shuffling and crops depend only on
        // (seed, epoch), so a resumed run repeats exactly what an uninterrupted one does.
        let epoch_seed = cfg
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(epoch as u64);
        let dev = Cpu::seed_from_u64(epoch_seed);
        let start = Instant::now();
        let batches = Batches::<S, _>::new(
            &data.train,
            norm,
            BatchConfig::train(cfg.batch_size, cfg.augment, epoch_seed),
            dev.clone(),
        );
        let steps = batches.len();
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0, 0);
        for (step, batch) in batches.enumerate() {
            let n = batch.labels.len();
            let targets = one_hot::<NC, _>(&batch.labels, &dev);
            let logits = model.try_forward_mut(batch.images.traced(grads))?;
            let (loss_host, right) =
                loss_and_correct(&logits.retaped::<NoneTape>().as_vec(), &batch.labels, NC);
            let loss = cross_entropy_with_logits_loss(logits, targets);
            if !loss_host.is_finite() {
                return Err(Error::Diverged {
                    epoch: epoch + 1,
                    step: step + 1,
                    loss: loss_host as f32,
                });
            }
            grads = loss.backward();
            opt.step(model, &grads)?;
            model.try_zero_grads(&mut grads)?;
            (loss_sum, correct, seen) =
                (loss_sum + loss_host * n as f64, correct + right, seen + n);
            progress(epoch + 1, step + 1, steps);
        }
        let train_seconds = start.elapsed().as_secs_f64();
        let val = if data.val.is_empty() {
            None
        } else {
            Some(evaluate::<M, S, NC>(
                model,
                &data.val,
                norm,
                cfg.batch_size,
                &dev,
            )?)
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
        let state = TrainState {
            model: cfg.model,
            config: cfg.clone(),
            epochs_done: epoch + 1,
            normalization: norm,
            classes: data.classes.clone(),
            history: history.clone(),
            optimizer_steps: 0,
            optimizer_lengths: Vec::new(),
            model_md5: String::new(),
            optimizer_md5: String::new(),
        };
        checkpoint::save(out, model, &opt, state)?;
        checkpoint::write_atomic(&out.join("history.csv"), history.to_csv().as_bytes())?;
    }
    Ok(history)
}
