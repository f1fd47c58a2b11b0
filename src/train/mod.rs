//! Training, evaluation and checkpoints: a `fit` a notebook cell calls in one line and the
//! CLI uses, with a [`History`] the plots draw.
//!
//! Taught in `notebooks/08-training.ipynb`.

pub mod checkpoint;
mod config;
mod fit;
mod history;
mod metrics;
mod optim;
mod run;

pub use config::{OptimizerKind, Schedule, TrainConfig};
pub use fit::{evaluate_network, fit, fit_sized, Logits, Network, Progress, Trainable};
pub use history::{EpochStats, History, CSV_HEADER};
pub use metrics::{argmax_rows, evaluate, loss_and_correct, Metrics};
pub use optim::Optimizer;
pub use run::{evaluate_checkpoint, predict_checkpoint, train};
