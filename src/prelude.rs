//! Everything a notebook needs, in one line: `use alexnet_lab::prelude::*;`.

pub use crate::layers::{
    builders, AvgPool2D, Conv2D, Flatten, LabDevice, LocalResponseNorm, MaxPool2D,
};
pub use crate::model::{summary, ModelName, Summary};
pub use dfdx::prelude::*;
