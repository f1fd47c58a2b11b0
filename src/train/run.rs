//! Whole runs by model name and device, for the CLI and for notebooks: train and test,
//! evaluate a checkpoint, classify images. The model type comes from the registry
//! (`with_network!`), the device from a [`DeviceChoice`]; the code below is written once,
//! generic over both.

use super::checkpoint::{self, TrainState};
use super::config::TrainConfig;
use super::fit::{fit_with, Progress};
use super::metrics::{evaluate, probabilities, Metrics};
use super::report::write_report;
use super::step::Trainable;
use super::ten_crop::evaluate_ten_crop;
use crate::data::{Images, Splits};
use crate::history::History;
use crate::layers::LabDevice;
use crate::model::{with_network, Network};
use crate::{Error, Result};
use dfdx::prelude::*;
use std::path::Path;

/// Where a run computes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The CPU (all cores, through rayon).
    #[default]
    Cpu,
    /// The first NVIDIA GPU; needs a build with the `cuda` feature.
    Cuda,
}

impl DeviceChoice {
    /// Whether this build can run on it.
    ///
    /// # Errors
    /// `Cuda` in a build without the `cuda` feature.
    pub fn check(self) -> Result<Self> {
        if self == DeviceChoice::Cuda && !cfg!(feature = "cuda") {
            return Err(Error::Invalid {
                what: "device",
                why: "this build has no CUDA support: build it with `cargo build --release --features cuda` \
                      (needs the CUDA toolkit: nvcc and nvidia-smi on PATH)"
                    .into(),
            });
        }
        Ok(self)
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => DeviceChoice::Cuda.check(),
            _ => Err(Error::Invalid {
                what: "device",
                why: format!("'{s}' is not one of cpu, cuda"),
            }),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Cuda => "cuda",
        })
    }
}

/// `on_device!(choice, seed, dev => body)`: `body` with `dev` a device of that kind seeded
/// with `seed`.
macro_rules! on_device {
    ($choice:expr, $seed:expr, $dev:ident => $body:expr) => {
        match $crate::train::DeviceChoice::check($choice)? {
            $crate::train::DeviceChoice::Cpu => {
                let $dev = dfdx::tensor::Cpu::seed_from_u64($seed);
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::train::DeviceChoice::Cuda => {
                let $dev = dfdx::tensor::Cuda::try_seed_from_u64($seed)?;
                $body
            }
            #[cfg(not(feature = "cuda"))]
            $crate::train::DeviceChoice::Cuda => unreachable!("checked above"),
        }
    };
}
pub(crate) use on_device;

/// Trains `cfg.model` on `device` (fresh weights from `cfg.seed`, or the checkpoint in `out`
/// with `resume`), scores it on the test set and writes the run's report into `out`
/// (`metrics.json`, `curves.png`, `confusion.png`).
///
/// # Errors
/// An untrainable model, a device this build lacks, and what [`super::fit`] refuses.
pub fn train(
    cfg: &TrainConfig,
    data: &Splits,
    out: &Path,
    resume: bool,
    device: DeviceChoice,
    progress: Progress<'_>,
) -> Result<(History, Metrics)> {
    cfg.model.check_trainable()?;
    on_device!(device, cfg.seed, dev => with_network!(cfg.model, N => {
        train_on::<N, _>(&dev, cfg, data, out, resume, progress)
    }))
}

fn train_on<N: Network + BuildOnDevice<D, f32>, D: LabDevice>(
    dev: &D,
    cfg: &TrainConfig,
    data: &Splits,
    out: &Path,
    resume: bool,
    progress: Progress<'_>,
) -> Result<(History, Metrics)>
where
    N::Built: Trainable<N> + 'static,
{
    let mut model = N::try_build_on_device(dev)?;
    let history = fit_with::<N, _>(&mut model, cfg, data, out, resume, progress)?;
    let state = checkpoint::read_state(out)?;
    let metrics = evaluate::<N, _>(&model, &data.test, state.normalization, cfg.batch_size)?;
    write_report(out, cfg.model, &history, &data.classes, &metrics)?;
    Ok((history, metrics))
}

/// A model of network `N` on `dev` with the weights of the checkpoint in `dir`.
fn load<N: Network + BuildOnDevice<D, f32>, D: LabDevice>(
    dev: &D,
    dir: &Path,
) -> Result<(N::Built, TrainState)>
where
    N::Built: Trainable<N> + 'static,
{
    let mut model = N::try_build_on_device(dev)?;
    let state = checkpoint::load_model(dir, N::NAME, &mut model)?;
    Ok((model, state))
}

/// Scores the checkpoint in `dir` on `images`, on `device`.
///
/// # Errors
/// A missing or damaged checkpoint, a device this build lacks, a device failure.
pub fn evaluate_checkpoint(
    dir: &Path,
    images: &Images,
    device: DeviceChoice,
) -> Result<(TrainState, Metrics)> {
    let (state, metrics, _) = evaluate_checkpoint_views(dir, images, None, device)?;
    Ok((state, metrics))
}

/// Scores the checkpoint in `dir` on `images`, on `device`, loading it once: on one view of
/// each image, and with `ten_crop: Some(pad)` also by the paper's ten-view averaging with
/// padding `pad` (see [`super::evaluate_ten_crop`]; `None` for the single view only).
///
/// # Errors
/// A missing or damaged checkpoint, a `pad` of 32 or more, a device this build lacks, a
/// device failure.
pub fn evaluate_checkpoint_views(
    dir: &Path,
    images: &Images,
    ten_crop: Option<usize>,
    device: DeviceChoice,
) -> Result<(TrainState, Metrics, Option<Metrics>)> {
    let name = checkpoint::read_state(dir)?.model;
    name.check_trainable()?;
    on_device!(device, 0, dev => with_network!(name, N => {
        let (model, state) = load::<N, _>(&dev, dir)?;
        let metrics = evaluate::<N, _>(&model, images, state.normalization, 64)?;
        let ten = ten_crop
            .map(|pad| evaluate_ten_crop::<N, _>(&model, images, state.normalization, pad))
            .transpose()?;
        Ok((state, metrics, ten))
    }))
}

/// Class probabilities (softmax of the logits) of each image of `images` under the
/// checkpoint in `dir`, computed on `device`, with the class names.
///
/// # Errors
/// A missing or damaged checkpoint, a device this build lacks, a device failure.
pub fn predict_checkpoint(
    dir: &Path,
    images: &Images,
    device: DeviceChoice,
) -> Result<(Vec<String>, Vec<Vec<f32>>)> {
    let name = checkpoint::read_state(dir)?.model;
    name.check_trainable()?;
    on_device!(device, 0, dev => with_network!(name, N => {
        let (model, state) = load::<N, _>(&dev, dir)?;
        let probs = probabilities::<N, _>(&model, images, state.normalization, 64)?;
        Ok((state.classes, probs))
    }))
}
