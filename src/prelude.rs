//! Everything a notebook needs, in one line: `use alexnet_lab::prelude::*;`.

/// The crate's fused batch norm and fast dense layer, in place of dfdx's (same fields and
/// behaviour).
pub use crate::layers::builders::{BatchNorm2D, Linear};
pub use crate::layers::{
    builders, AvgPool2D, Conv2D, Flatten, LabDevice, LocalResponseNorm, MaxPool2D,
};
pub use crate::model::{summary, Article, Cifar, ConvBnRelu, ModelName, Paper, Summary};
pub use crate::tensor_ids::renumber;
pub use dfdx::optim::{Adam, AdamConfig, Momentum, Sgd, SgdConfig, WeightDecay};
pub use dfdx::prelude::*;
