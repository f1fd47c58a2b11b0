//! Builds the `cifar` model on the first NVIDIA GPU and trains it with `fit`, the same call a
//! notebook makes on the CPU: the GPU API, compiled in CI (`--features cuda,ci-check`).
//!
//! Run on a machine with an NVIDIA GPU and the CUDA toolkit:
//! `cargo run --release --no-default-features --features cuda --example cuda_fit`

use alexnet_lab::data::synthetic;
use alexnet_lab::model::Cifar;
use alexnet_lab::train::{checkpoint, evaluate_network, fit, TrainConfig};
use dfdx::prelude::*;
use dfdx::tensor::Cuda;

fn main() -> Result<(), alexnet_lab::Error> {
    let dev = Cuda::try_seed_from_u64(0)?;
    let mut model = dev.try_build_module::<Cifar, f32>()?;
    let splits = synthetic::generate(100, 20, 0).split(100)?;
    let cfg = TrainConfig {
        num_epochs: 1,
        ..TrainConfig::default()
    };
    let out = std::env::temp_dir().join("alexnet-lab-cuda-fit");
    let _ = std::fs::remove_dir_all(&out);
    let history = fit::<Cifar>(&mut model, &cfg, &splits, &out, false)?;
    let state = checkpoint::read_state(&out)?;
    let metrics = evaluate_network::<Cifar>(&model, &splits.test, state.normalization)?;
    println!(
        "one epoch on the GPU: {:.0} images/s, test accuracy {:.1}%",
        history.epochs[0].images_per_s,
        100.0 * metrics.accuracy
    );
    Ok(())
}
