//! Whole runs by model name, for the CLI and for notebooks: train and test, evaluate a
//! checkpoint, classify images. Each picks the model type from its [`ModelName`].

use super::checkpoint::{self, TrainState};
use super::config::TrainConfig;
use super::fit::{fit_sized, Progress, Trainable};
use super::history::History;
use super::metrics::{evaluate, Metrics};
use crate::data::{BatchConfig, Batches, Images, Splits};
use crate::model::{Article, Cifar, ModelName};
use crate::{Error, Result};
use dfdx::nn::LoadFromSafetensors;
use dfdx::prelude::*;
use std::path::Path;

/// Calls `$f::<Model, INPUT_SIZE, CLASSES>($args)` for the trainable models.
macro_rules! by_model {
    ($name:expr, $f:ident($($arg:expr),*)) => {
        match $name {
            ModelName::Cifar => $f::<Cifar, 32, 10>($($arg),*),
            ModelName::Article => $f::<Article, 227, 10>($($arg),*),
            ModelName::Paper => Err(Error::Invalid {
                what: "--model",
                why: "the paper model (1000 ImageNet classes) is for looking at; train cifar or article".into(),
            }),
        }
    };
}

/// Trains `cfg.model` (fresh weights from `cfg.seed`, or the checkpoint in `out` with
/// `resume`), then scores it on the test set.
pub fn train(
    cfg: &TrainConfig,
    data: &Splits,
    out: &Path,
    resume: bool,
    progress: Progress<'_>,
) -> Result<(History, Metrics)> {
    by_model!(cfg.model, train_as(cfg, data, out, resume, progress))
}

fn train_as<M: BuildOnDevice<Cpu, f32>, const S: usize, const NC: usize>(
    cfg: &TrainConfig,
    data: &Splits,
    out: &Path,
    resume: bool,
    progress: Progress<'_>,
) -> Result<(History, Metrics)>
where
    M::Built: Trainable<S, NC>,
{
    let dev = Cpu::seed_from_u64(cfg.seed);
    let mut model = dev.try_build_module::<M, f32>()?;
    let history = fit_sized::<_, S, NC>(&mut model, cfg, data, out, resume, progress)?;
    let state = checkpoint::read_state(out)?;
    let metrics = evaluate::<_, S, NC>(
        &model,
        &data.test,
        state.normalization,
        cfg.batch_size,
        &dev,
    )?;
    Ok((history, metrics))
}

/// Scores the checkpoint in `dir` on `images`.
pub fn evaluate_checkpoint(dir: &Path, images: &Images) -> Result<(TrainState, Metrics)> {
    let state = checkpoint::read_state(dir)?;
    by_model!(state.model, evaluate_as(dir, state.model, images))
}

fn evaluate_as<M: BuildOnDevice<Cpu, f32>, const S: usize, const NC: usize>(
    dir: &Path,
    name: ModelName,
    images: &Images,
) -> Result<(TrainState, Metrics)>
where
    M::Built: Trainable<S, NC>,
{
    let (model, state, dev) = load::<M>(dir, name)?;
    let metrics = evaluate::<_, S, NC>(&model, images, state.normalization, 64, &dev)?;
    Ok((state, metrics))
}

/// A model of type `M` with the weights of the checkpoint in `dir`.
fn load<M: BuildOnDevice<Cpu, f32>>(
    dir: &Path,
    name: ModelName,
) -> Result<(M::Built, TrainState, Cpu)>
where
    M::Built: LoadFromSafetensors<f32, Cpu>,
{
    let dev = Cpu::default();
    let mut model = dev.try_build_module::<M, f32>()?;
    let state = checkpoint::load_model(dir, name, &mut model)?;
    Ok((model, state, dev))
}

/// Class probabilities (softmax of the logits) of each image of `images` under the
/// checkpoint in `dir`, with the class names.
pub fn predict_checkpoint(dir: &Path, images: &Images) -> Result<(Vec<String>, Vec<Vec<f32>>)> {
    let state = checkpoint::read_state(dir)?;
    by_model!(state.model, predict_as(dir, state.model, images))
}

fn predict_as<M: BuildOnDevice<Cpu, f32>, const S: usize, const NC: usize>(
    dir: &Path,
    name: ModelName,
    images: &Images,
) -> Result<(Vec<String>, Vec<Vec<f32>>)>
where
    M::Built: Trainable<S, NC>,
{
    let (model, state, dev) = load::<M>(dir, name)?;
    let mut probs = Vec::new();
    for batch in Batches::<S, _>::new(
        images,
        state.normalization,
        BatchConfig::eval(64),
        dev.clone(),
    ) {
        let p = model
            .try_forward(batch.images)?
            .softmax::<Axis<1>>()
            .as_vec();
        probs.extend(p.chunks_exact(NC).map(|r| r.to_vec()));
    }
    Ok((state.classes, probs))
}
