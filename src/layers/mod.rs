//! The layers dfdx 0.13 keeps behind its (unbuildable) `nightly` feature, written for stable
//! Rust with their sizes in their types: [`Conv2D`], [`MaxPool2D`], [`AvgPool2D`],
//! [`Flatten`] and the 2012 paper's [`LocalResponseNorm`]; a fused [`BatchNorm2D`] (dfdx's,
//! with the same fields and behaviour, is a chain of slow ops); and a [`Linear`] with dfdx's
//! fields whose CPU product uses AVX-512.
//!
//! Each is a dfdx module (`Module`, `ModuleMut`, `TensorCollection`), so it composes in
//! tuples with dfdx's `ReLU` and `Dropout`, and optimizers,
//! `ZeroGrads`, `ResetParams` and safetensors see its parameters. A wrong size is a compile
//! error that spells out the formula it broke.
//!
//! Taught in `notebooks/02-convolution.ipynb` and `notebooks/05-pooling.ipynb`.

pub mod any_device;
mod batchnorm;
mod conv2d;
pub mod cpu;
mod cpu_device;
mod device;
mod flatten;
mod host;
mod linear;
mod lrn;
mod no_input_gradient;
mod path;
mod pool2d;
pub mod spec;

pub use batchnorm::BatchNorm2D;
pub use conv2d::{Conv2D, Conv2DSizes, PerGroup};
pub use device::{BnOutput, Channels, DeviceError, LabDevice, OnDevice, Raw};
pub use flatten::Flatten;
pub use linear::Linear;
pub use lrn::LocalResponseNorm;
pub use no_input_gradient::NoInputGradient;
pub use path::{CpuPath, CPU_PATH_VAR};
pub use pool2d::{AvgPool2D, MaxPool2D};

/// Zero-sized descriptions of the layers with parameters, for model type aliases; build them
/// with `dev.build_module::<M, f32>()`, as with `dfdx::nn::builders`.
pub mod builders {
    pub use super::batchnorm::builder::BatchNorm2D;
    pub use super::conv2d::builder::Conv2D;
    pub use super::flatten::Flatten;
    pub use super::linear::builder::Linear;
    pub use super::lrn::LocalResponseNorm;
    pub use super::pool2d::{AvgPool2D, MaxPool2D};
}
