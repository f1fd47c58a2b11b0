//! Training, evaluation and checkpoints: a `fit` a notebook cell calls in one line and the
//! CLI uses, with a [`History`] the plots draw.
//!
//! Taught in `notebooks/09-training.ipynb`.

pub mod checkpoint;
mod config;
mod fit;
mod init;
mod inspect;
mod metrics;
mod optim;
mod report;
mod run;
mod scores;
mod step;
mod ten_crop;

pub use crate::history::{EpochStats, History, CSV_HEADER};
pub use crate::model::Network;
pub use config::{OptimizerKind, Schedule, TrainConfig};
pub use fit::{evaluate_network, fit, fit_with, Logits, Progress};
pub use init::{initialise, Init, PAPER_CONVS_WITH_BIAS_ONE, PAPER_WEIGHT_STD};
pub use inspect::{gradients, input_gradient, parameters, set_parameters, CifarNet, NamedTensor};
pub use metrics::{evaluate, Metrics};
pub use optim::Optimizer;
pub use report::{metrics_json, write_report, METRICS_FILE};
pub(crate) use run::on_device;
pub use run::{
    evaluate_checkpoint, evaluate_checkpoint_views, predict_checkpoint, train, DeviceChoice,
};
pub use scores::{argmax_rows, loss_and_correct};
pub use step::{images_on, targets_on, Dev, ImagesOf, LogitsOf, StepFigures, Trainable, Trainer};
pub use ten_crop::{evaluate_ten_crop, ten_crop_probabilities, VIEWS};
