//! Training, evaluation and checkpoints: a `fit` a notebook cell calls in one line and the
//! CLI uses, with a [`History`] the plots draw.
//!
//! Taught in `notebooks/09-training.ipynb`.

pub mod checkpoint;
mod config;
mod fit;
mod inspect;
mod metrics;
mod optim;
mod report;
mod run;
mod scores;
mod step;

pub use crate::history::{EpochStats, History, CSV_HEADER};
pub use crate::model::Network;
pub use config::{OptimizerKind, Schedule, TrainConfig};
pub use fit::{evaluate_network, fit, fit_with, Logits, Progress};
pub use inspect::{gradients, parameters, set_parameters, NamedTensor};
pub use metrics::{evaluate, Metrics};
pub use optim::Optimizer;
pub use report::{metrics_json, write_report, METRICS_FILE};
pub(crate) use run::on_device;
pub use run::{evaluate_checkpoint, predict_checkpoint, train, DeviceChoice};
pub use scores::{argmax_rows, loss_and_correct};
pub use step::{images_on, targets_on, Dev, ImagesOf, LogitsOf, StepFigures, Trainable, Trainer};
