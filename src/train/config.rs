//! One config struct for a training run, one commented default per field.

use super::init::Init;
use crate::model::ModelName;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The optimizer: how gradients become weight updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent with momentum (the paper's choice).
    Sgd,
    /// Adam (Kingma and Ba 2015): per-parameter step sizes.
    Adam,
}

impl OptimizerKind {
    /// A good first learning rate: 0.01 for SGD, 0.001 for Adam.
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Sgd => 0.01,
            OptimizerKind::Adam => 1e-3,
        }
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            _ => Err(Error::Invalid {
                what: "optimizer",
                why: format!("'{s}' is not one of sgd, adam"),
            }),
        }
    }
}

/// How the learning rate changes over the epochs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Schedule {
    /// The same rate every epoch.
    Constant,
    /// Multiply by `gamma` every `every` epochs (the paper divided by 10 when validation stalled).
    Step { every: usize, gamma: f64 },
    /// Half a cosine from `lr` down to 0 over the run.
    Cosine,
}

/// Everything that decides what a training run does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Which network (`cifar` trains on a laptop; `article` takes 227x227 inputs).
    pub model: ModelName,
    /// SGD with momentum, or Adam.
    pub optimizer: OptimizerKind,
    /// Learning rate at epoch 1 (0.01 for SGD, 0.001 for Adam are good starts).
    pub lr: f64,
    /// SGD momentum (the paper: 0.9).
    pub momentum: f64,
    /// L2 weight decay (the paper: 0.0005).
    pub weight_decay: f64,
    /// Passes over the training set.
    pub num_epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Seeds the weights, the shuffling, the augmentation and dropout.
    pub seed: u64,
    /// Random crops and flips of the training images.
    pub augment: bool,
    /// How the learning rate changes.
    pub schedule: Schedule,
    /// The paper's colour augmentation of the training images: a random shift along the
    /// principal components of the training set's RGB values, per image
    /// ([`crate::data::PcaLighting`]). (Missing in the state of runs saved before it
    /// existed: off.)
    #[serde(default)]
    pub pca_lighting: bool,
    /// How a fresh run's weights start: the layers' own (uniform in `±1/sqrt(fan_in)`), or
    /// the paper's N(0, 0.01^2) with biases of 1 ([`super::initialise`]). (Missing in older
    /// runs: the default.)
    #[serde(default)]
    pub init: Init,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelName::Cifar,
            optimizer: OptimizerKind::Sgd,
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            num_epochs: 10,
            batch_size: 64,
            seed: 0,
            augment: false,
            schedule: Schedule::Constant,
            pca_lighting: false,
            init: Init::Default,
        }
    }
}

impl Schedule {
    /// A schedule by name for a run of `num_epochs`: `constant`, `step` (x0.1 after each
    /// third of the run) or `cosine`.
    ///
    /// # Errors
    /// Another name.
    pub fn by_name(name: &str, num_epochs: usize) -> Result<Schedule> {
        match name.trim().to_ascii_lowercase().as_str() {
            "constant" => Ok(Schedule::Constant),
            "step" => Ok(Schedule::Step {
                every: num_epochs.div_ceil(3).max(1),
                gamma: 0.1,
            }),
            "cosine" => Ok(Schedule::Cosine),
            _ => Err(Error::Invalid {
                what: "schedule",
                why: format!("'{name}' is not one of constant, step, cosine"),
            }),
        }
    }
}

impl TrainConfig {
    /// The learning rate of `epoch` (counted from 0).
    pub fn lr_at(&self, epoch: usize) -> f64 {
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Step { every, gamma } => self.lr * gamma.powi((epoch / every.max(1)) as i32),
            Schedule::Cosine => {
                let t = epoch as f64 / self.num_epochs.max(1) as f64;
                self.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

impl TrainConfig {
    /// The settings in which `saved` (a run folder's) differs from `self` (what a command
    /// asked for), one `--flag saved (given: asked)` per setting, in the command line's
    /// spelling; the number of epochs is left out (a resumed run may extend it). Empty when
    /// they agree.
    pub fn differences(&self, saved: &TrainConfig) -> Vec<String> {
        fn on(b: bool) -> String {
            if b { "on" } else { "off" }.to_string()
        }
        fn schedule(s: Schedule) -> String {
            match s {
                Schedule::Constant => "constant".into(),
                Schedule::Step { every, gamma } => format!("step (x{gamma} every {every} epochs)"),
                Schedule::Cosine => "cosine".into(),
            }
        }
        let (a, s) = (self, saved);
        // Every field named, so a new setting cannot be forgotten here.
        let TrainConfig {
            model: _,
            optimizer: _,
            lr: _,
            momentum: _,
            weight_decay: _,
            num_epochs: _,
            batch_size: _,
            seed: _,
            augment: _,
            schedule: _,
            pca_lighting: _,
            init: _,
        } = a;
        let pairs = [
            ("--model", a.model.to_string(), s.model.to_string()),
            (
                "--optimizer",
                format!("{:?}", a.optimizer).to_lowercase(),
                format!("{:?}", s.optimizer).to_lowercase(),
            ),
            ("--lr", a.lr.to_string(), s.lr.to_string()),
            ("--momentum", a.momentum.to_string(), s.momentum.to_string()),
            (
                "--weight-decay",
                a.weight_decay.to_string(),
                s.weight_decay.to_string(),
            ),
            (
                "--batch-size",
                a.batch_size.to_string(),
                s.batch_size.to_string(),
            ),
            ("--seed", a.seed.to_string(), s.seed.to_string()),
            ("--augment", on(a.augment), on(s.augment)),
            ("--schedule", schedule(a.schedule), schedule(s.schedule)),
            ("--pca-lighting", on(a.pca_lighting), on(s.pca_lighting)),
            ("--init", a.init.to_string(), s.init.to_string()),
        ];
        pairs
            .into_iter()
            .filter(|(_, asked, kept)| asked != kept)
            .map(|(flag, asked, kept)| format!("{flag} {kept} (given: {asked})"))
            .collect()
    }
}
