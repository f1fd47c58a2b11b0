//! The GPU check behind `scripts/gpu_check.sh`: every layer and the whole `cifar` model on
//! the GPU against the CPU (forward and backward, dropout off), one epoch of training on the
//! GPU, the checkpoint reloaded and scored on the CPU, and the throughput. Ends with
//! `N passed, M failed`.
//!
//! `cargo run --release --no-default-features --features cuda --example gpu_check`

use alexnet_lab::bench::bench;
use alexnet_lab::data::synthetic;
use alexnet_lab::layers::builders;
use alexnet_lab::model::{Cifar, ModelName};
use alexnet_lab::train::{self, DeviceChoice, TrainConfig};
use dfdx::nn::tensor_collection::{
    RecursiveWalker, TensorCollection, TensorOptions, TensorVisitor, ViewTensorRef,
};
use dfdx::prelude::*;
use dfdx::tensor::Cuda;

#[derive(Default)]
struct Check {
    passed: usize,
    failed: usize,
}

impl Check {
    /// `got` (GPU) against `want` (CPU): largest difference over the largest value. A NaN or
    /// infinity on either side fails (`f32::max` would skip a NaN), as do unequal lengths.
    fn close(&mut self, what: &str, got: &[f32], want: &[f32], tol: f32) {
        let finite = got.iter().chain(want).all(|v| v.is_finite());
        let diff = got
            .iter()
            .zip(want)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        let scale = want.iter().fold(1e-6f32, |m, b| m.max(b.abs()));
        let ok = finite && !got.is_empty() && got.len() == want.len() && diff <= tol * scale;
        println!(
            "{} {what}: relative difference {:.2e}",
            if ok { "ok  " } else { "FAIL" },
            diff / scale
        );
        if ok {
            self.passed += 1
        } else {
            self.failed += 1
        }
    }
}

/// Every trainable parameter's gradient, in the model's order.
struct Grads<'a, D: Device<f32>>(&'a Gradients<f32, D>, Vec<Vec<f32>>);

impl<D: Device<f32>> TensorVisitor<f32, D> for Grads<'_, D> {
    type Viewer = ViewTensorRef;
    type Err = D::Err;
    type E2 = f32;
    type D2 = D;
    fn visit<S: Shape>(
        &mut self,
        opts: TensorOptions<S, f32, D>,
        p: &Tensor<S, f32, D>,
    ) -> Result<Option<Tensor<S, f32, D>>, D::Err> {
        if opts.do_gradient_update {
            self.1.push(self.0.get(p).as_vec());
        }
        Ok(None)
    }
}

fn param_grads<D: Device<f32>, M: TensorCollection<f32, D>>(
    m: &M,
    g: &Gradients<f32, D>,
) -> Vec<Vec<f32>> {
    let mut v = Grads(g, Vec::new());
    M::iter_tensors(&mut RecursiveWalker { m, f: &mut v }).unwrap_or_else(|e| panic!("{e:?}"));
    v.1
}

/// A layer on both devices: forward (training mode) and the gradients of the input and of
/// every parameter of `sum(y^2)`.
macro_rules! layer {
    ($check:expr, $gpu:expr, $name:literal, $builder:ty, $input:ty) => {{
        let cpu = Cpu::seed_from_u64(1);
        let mut on_cpu = cpu.build_module::<$builder, f32>();
        let mut on_gpu = dfdx::nn::ToDevice::<f32, Cpu, Cuda>::try_to_device(&on_cpu, $gpu)?;
        let x: Tensor<$input, f32, Cpu> = cpu.sample_normal();
        let xg = x.to_device($gpu);
        let yc = on_cpu.forward_mut(x.leaky_trace());
        let yg = on_gpu.forward_mut(xg.leaky_trace());
        $check.close(
            concat!($name, " forward"),
            &yg.retaped::<NoneTape>().as_vec(),
            &yc.retaped::<NoneTape>().as_vec(),
            1e-4,
        );
        let (gc, gg) = (yc.square().sum().backward(), yg.square().sum().backward());
        $check.close(
            concat!($name, " input gradient"),
            &gg.get(&xg).as_vec(),
            &gc.get(&x).as_vec(),
            1e-3,
        );
        for (k, (a, b)) in param_grads(&on_gpu, &gg)
            .iter()
            .zip(param_grads(&on_cpu, &gc))
            .enumerate()
        {
            $check.close(&format!("{} parameter {k} gradient", $name), a, &b, 1e-3);
        }
    }};
}

fn main() -> Result<(), alexnet_lab::Error> {
    let gpu = Cuda::try_seed_from_u64(0)?;
    let mut check = Check::default();
    layer!(check, &gpu, "conv 3->16 3x3 pad 1", builders::Conv2D<3, 16, 3, 1, 1, 8>, Rank4<4, 3, 8, 8>);
    layer!(check, &gpu, "conv 2 groups stride 2", builders::Conv2D<4, 6, 3, 2, 1, 4, 2>, Rank4<4, 4, 8, 8>);
    layer!(check, &gpu, "conv 11x11 stride 4", builders::Conv2D<3, 8, 11, 4, 0, 5>, Rank4<2, 3, 27, 27>);
    layer!(check, &gpu, "max pool 2x2", builders::MaxPool2D<2, 2, 4>, Rank4<4, 5, 8, 8>);
    layer!(check, &gpu, "max pool 3x3 stride 2", builders::MaxPool2D<3, 2, 3>, Rank4<4, 5, 7, 7>);
    layer!(check, &gpu, "average pool", builders::AvgPool2D<2, 2, 4>, Rank4<4, 5, 8, 8>);
    layer!(check, &gpu, "local response norm", builders::LocalResponseNorm<5>, Rank4<3, 8, 4, 4>);
    layer!(check, &gpu, "batch norm", builders::BatchNorm2D<6>, Rank4<4, 6, 5, 5>);
    layer!(check, &gpu, "dense", builders::Linear<12, 5>, Rank2<3, 12>);

    // The whole model, training mode with dropout off, batch 16.
    let cpu = Cpu::seed_from_u64(3);
    let mut on_cpu = cpu.build_module::<Cifar, f32>();
    on_cpu.5 .1 .0.p = 0.0;
    on_cpu.5 .2 .0.p = 0.0;
    let mut on_gpu = dfdx::nn::ToDevice::<f32, Cpu, Cuda>::try_to_device(&on_cpu, &gpu)?;
    let x: Tensor<Rank4<16, 3, 32, 32>, f32, Cpu> = cpu.sample_normal();
    let x = x.reshape_like(&(16usize, Const::<3>, Const::<32>, Const::<32>));
    let xg = x.to_device(&gpu);
    let yc = on_cpu.forward_mut(x.leaky_trace());
    let yg = on_gpu.forward_mut(xg.leaky_trace());
    check.close(
        "cifar logits",
        &yg.retaped::<NoneTape>().as_vec(),
        &yc.retaped::<NoneTape>().as_vec(),
        1e-4,
    );
    let (gc, gg) = (yc.square().sum().backward(), yg.square().sum().backward());
    for (k, (a, b)) in param_grads(&on_gpu, &gg)
        .iter()
        .zip(param_grads(&on_cpu, &gc))
        .enumerate()
    {
        check.close(&format!("cifar parameter {k} gradient"), a, &b, 1e-3);
    }

    // One epoch on the GPU, then the checkpoint scored on the CPU.
    let splits = synthetic::generate(500, 100, 0).split(500)?;
    let cfg = TrainConfig {
        num_epochs: 1,
        ..TrainConfig::default()
    };
    let out = std::env::temp_dir().join("alexnet-lab-gpu-check");
    let _ = std::fs::remove_dir_all(&out);
    let (history, on_gpu_metrics) = train::train(
        &cfg,
        &splits,
        &out,
        false,
        DeviceChoice::Cuda,
        &mut |_, _, _| {},
    )?;
    let (_, on_cpu_metrics) = train::evaluate_checkpoint(&out, &splits.test, DeviceChoice::Cpu)?;
    check.close(
        "test accuracy, GPU run scored on the CPU",
        &[on_cpu_metrics.accuracy as f32],
        &[on_gpu_metrics.accuracy as f32],
        0.01,
    );
    println!(
        "one training epoch on the GPU: {:.0} images/s",
        history.epochs[0].images_per_s
    );
    for model in [ModelName::Cifar, ModelName::Article] {
        let report = bench(model, 64, 20, DeviceChoice::Cuda)?;
        println!(
            "bench {model} on the GPU, batch 64: train {:.0} images/s, infer {:.0} images/s",
            report.train_images_per_s(),
            report.infer_images_per_s()
        );
    }
    println!("{} passed, {} failed", check.passed, check.failed);
    std::process::exit(if check.failed == 0 { 0 } else { 1 });
}
