//! The integration tests, one file per subject, compiled as one test program: the models'
//! generic code (forward and backward passes, training) is then compiled once for all of them,
//! not once per file. `cargo test --release --test all layers::` runs one file's tests.
//! The device-generic tests (`generic_path.rs`) stay a program of their own: the GPU bundle
//! builds them with CUDA.

mod reference;

#[cfg(feature = "cli")]
mod cli_runs;
mod data;
mod download;
mod environment;
mod fashion_mnist;
mod inference;
mod inspect;
mod layers;
mod models;
mod paper;
mod plot;
mod readme;
mod threads;
mod torch_fixtures;
mod train;
mod winograd_inference;
