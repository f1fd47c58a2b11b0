//! The GPU check behind `scripts/gpu_check.sh`: every layer and the whole `cifar` model on
//! the GPU against the CPU (forward and backward, dropout off), one epoch of training on the
//! GPU, the checkpoint reloaded and scored on the CPU, and the throughput. Ends with
//! `N passed, M failed`.
//!
//! `cargo run --release --no-default-features --features cuda --example gpu_check`

use alexnet_lab::bench::bench;
use alexnet_lab::data::synthetic;
use alexnet_lab::layers::spec::BnSpec;
use alexnet_lab::layers::{any_device, builders};
use alexnet_lab::model::{Cifar, ConvBnRelu, ModelName};
use alexnet_lab::train::{self, DeviceChoice, NamedTensor, TrainConfig};
use dfdx::nn::tensor_collection::TensorCollection;
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
        self.close_on(what, got, want, tol, 1e-6)
    }

    /// [`Check::close`] measured against at least `floor`: a parameter's gradient against the
    /// largest gradient of its layer. A gradient that is zero in exact arithmetic (a bias
    /// before a batch norm, which subtracts any per-channel shift) is rounding on both
    /// devices, and only such a floor compares it meaningfully.
    fn close_on(&mut self, what: &str, got: &[f32], want: &[f32], tol: f32, floor: f32) {
        let finite = got.iter().chain(want).all(|v| v.is_finite());
        let diff = got
            .iter()
            .zip(want)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        let scale = want.iter().fold(floor, |m, b| m.max(b.abs()));
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

/// The largest magnitude among all the gradients (NaN-safe: a NaN gives NaN).
fn largest(grads: &[NamedTensor]) -> f32 {
    grads.iter().flat_map(|g| &g.values).fold(1e-6f32, |m, v| {
        if v.is_nan() || m.is_nan() {
            f32::NAN
        } else {
            m.max(v.abs())
        }
    })
}

/// Every trainable parameter's gradient on the GPU (`gg` for `on_gpu`) against the CPU's
/// (`gc` for `on_cpu`), in the model's order, each against the largest of all of them.
fn compare_gradients<Mc: TensorCollection<f32, Cpu>, Mg: TensorCollection<f32, Cuda>>(
    check: &mut Check,
    what: &str,
    (on_cpu, gc): (&Mc, &Gradients<f32, Cpu>),
    (on_gpu, gg): (&Mg, &Gradients<f32, Cuda>),
) -> Result<(), alexnet_lab::Error> {
    let want = train::gradients(on_cpu, gc)?;
    let floor = largest(&want);
    for (k, (a, b)) in train::gradients(on_gpu, gg)?.iter().zip(&want).enumerate() {
        check.close_on(
            &format!("{what} parameter {k} gradient"),
            &a.values,
            &b.values,
            1e-3,
            floor,
        );
    }
    Ok(())
}

/// `n` weights 1, 1.25, .. 2.5, repeating: a loss `sum(y * ramp)` whose gradient is not uniform.
fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| 1.0 + (i % 7) as f32 * 0.25).collect()
}

/// The dfdx operations batch norm is made of, on `[B, C, P]` values `x` and a per-channel `v`:
/// each result and gradient in order, named, so that a layer that disagrees points at the
/// operation that does. `loss` weights each output by a fixed ramp, so every gradient differs.
fn op_probes<D: Device<f32>>(
    dev: &D,
    (b, c, p): (usize, usize, usize),
    xs: &[f32],
    vs: &[f32],
) -> Result<Vec<(&'static str, Vec<f32>)>, D::Err> {
    type Dyn3 = (usize, usize, usize);
    let full: Dyn3 = (b, c, p);
    let mut out = Vec::new();
    let x = || dev.tensor_from_vec(xs.to_vec(), full);
    let v = || dev.tensor_from_vec(vs.to_vec(), (c,));

    // Sums over the plane, then the batch (the batch norm's means).
    let xt = x();
    let sums = xt
        .leaky_trace()
        .try_sum::<(usize, usize), Axis<2>>()?
        .try_sum::<(usize,), Axis<0>>()?;
    out.push((
        "sum over plane then batch",
        sums.retaped::<NoneTape>().as_vec(),
    ));
    let w = dev.tensor_from_vec(ramp(c), (c,));
    let g = sums.try_mul(w)?.try_sum()?.backward();
    out.push(("sum over plane then batch, gradient", g.get(&xt).as_vec()));

    // A per-channel value broadcast in two steps, added and multiplied (shift and scale).
    for (name, grad_x, grad_v, mul) in [
        (
            "broadcast add",
            "broadcast add, x gradient",
            "broadcast add, v gradient",
            false,
        ),
        (
            "broadcast mul",
            "broadcast mul, x gradient",
            "broadcast mul, v gradient",
            true,
        ),
    ] {
        let (xt, vt) = (x(), v());
        let vb = vt
            .leaky_trace()
            .try_broadcast_like::<_, Axis<0>>(&(b, c))?
            .try_broadcast_like::<_, Axis<2>>(&full)?;
        let y = if mul {
            xt.leaky_trace().try_mul(vb)?
        } else {
            xt.leaky_trace().try_add(vb)?
        };
        out.push((name, y.retaped::<NoneTape>().as_vec()));
        let r = dev.tensor_from_vec(ramp(b * c * p), full);
        let g = y.try_mul(r)?.try_sum()?.backward();
        out.push((grad_x, g.get(&xt).as_vec()));
        out.push((grad_v, g.get(&vt).as_vec()));
    }

    // The whole training-mode batch norm of the generic path.
    let (xt, gamma, beta) = (x(), v(), dev.tensor_from_vec(ramp(c), (c,)));
    let spec = BnSpec {
        batch: b,
        channels: c,
        plane: p,
        epsilon: 1e-5,
    };
    let (y, _, _) = any_device::batch_norm_train(spec, xt.leaky_trace(), &gamma, &beta)?;
    out.push(("batch norm (generic)", y.retaped::<NoneTape>().as_vec()));
    let r = dev.tensor_from_vec(ramp(b * c * p), full);
    let g = y.try_mul(r)?.try_sum()?.backward();
    out.push(("batch norm (generic), x gradient", g.get(&xt).as_vec()));
    out.push((
        "batch norm (generic), gamma gradient",
        g.get(&gamma).as_vec(),
    ));
    out.push(("batch norm (generic), beta gradient", g.get(&beta).as_vec()));
    Ok(out)
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
        // A weighted sum, not `sum(y^2)`: after a batch norm that is a constant plus rounding,
        // and its true gradients are zero, so the comparison would measure rounding alone.
        let r = cpu.tensor_from_vec(ramp(yc.shape().num_elements()), *yc.shape());
        let rg = r.to_device($gpu);
        let (gc, gg) = ((yc * r).sum().backward(), (yg * rg).sum().backward());
        $check.close(
            concat!($name, " input gradient"),
            &gg.get(&xg).as_vec(),
            &gc.get(&x).as_vec(),
            1e-3,
        );
        compare_gradients(&mut $check, $name, (&on_cpu, &gc), (&on_gpu, &gg))?;
    }};
}

fn main() -> Result<(), alexnet_lab::Error> {
    let gpu = Cuda::try_seed_from_u64(0)?;
    let mut check = Check::default();
    // The operations first, at a small size and at the first block's of the `cifar` model.
    for size in [(4, 6, 25), (16, 64, 1024)] {
        let (b, c, p) = size;
        let cpu = Cpu::seed_from_u64(2);
        let xs: Tensor<(usize, usize, usize), f32, Cpu> = cpu.sample_normal_like(&size);
        let vs: Tensor<(usize,), f32, Cpu> = cpu.sample_normal_like(&(c,));
        let (xs, vs) = (xs.as_vec(), vs.as_vec());
        let on_cpu = op_probes(&cpu, size, &xs, &vs)?;
        let on_gpu = op_probes(&gpu, size, &xs, &vs)?;
        for ((name, want), (_, got)) in on_cpu.iter().zip(&on_gpu) {
            check.close(&format!("[{b}, {c}, {p}] {name}"), got, want, 1e-3);
        }
    }
    layer!(check, &gpu, "conv 3->16 3x3 pad 1", builders::Conv2D<3, 16, 3, 1, 1, 8>, Rank4<4, 3, 8, 8>);
    layer!(check, &gpu, "conv 2 groups stride 2", builders::Conv2D<4, 6, 3, 2, 1, 4, 2>, Rank4<4, 4, 8, 8>);
    layer!(check, &gpu, "conv 11x11 stride 4", builders::Conv2D<3, 8, 11, 4, 0, 5>, Rank4<2, 3, 27, 27>);
    layer!(check, &gpu, "max pool 2x2", builders::MaxPool2D<2, 2, 4>, Rank4<4, 5, 8, 8>);
    layer!(check, &gpu, "max pool 3x3 stride 2", builders::MaxPool2D<3, 2, 3>, Rank4<4, 5, 7, 7>);
    layer!(check, &gpu, "average pool", builders::AvgPool2D<2, 2, 4>, Rank4<4, 5, 8, 8>);
    layer!(check, &gpu, "local response norm", builders::LocalResponseNorm<5>, Rank4<3, 8, 4, 4>);
    layer!(check, &gpu, "batch norm", builders::BatchNorm2D<6>, Rank4<4, 6, 5, 5>);
    layer!(check, &gpu, "batch norm, cifar's first", builders::BatchNorm2D<64>, Rank4<16, 64, 32, 32>);
    // Each layer of the `cifar` model at its size in the model, batch 16.
    layer!(check, &gpu, "cifar conv 3->64", builders::Conv2D<3, 64, 3, 1, 1, 32>, Rank4<16, 3, 32, 32>);
    layer!(check, &gpu, "cifar block 1", ConvBnRelu<3, 64, 32>, Rank4<16, 3, 32, 32>);
    layer!(check, &gpu, "cifar pool 1", builders::MaxPool2D<2, 2, 16>, Rank4<16, 64, 32, 32>);
    layer!(check, &gpu, "cifar block 2", ConvBnRelu<64, 192, 16>, Rank4<16, 64, 16, 16>);
    layer!(check, &gpu, "cifar block 3", ConvBnRelu<192, 384, 8>, Rank4<16, 192, 8, 8>);
    layer!(check, &gpu, "cifar block 4", ConvBnRelu<384, 256, 8>, Rank4<16, 384, 8, 8>);
    layer!(check, &gpu, "cifar block 5", ConvBnRelu<256, 256, 8>, Rank4<16, 256, 8, 8>);
    layer!(check, &gpu, "cifar flatten", builders::Flatten<4096>, Rank4<16, 256, 4, 4>);
    layer!(check, &gpu, "cifar dense 4096->1024", builders::Linear<4096, 1024>, Rank2<16, 4096>);
    layer!(check, &gpu, "dense", builders::Linear<12, 5>, Rank2<3, 12>);

    // The whole model, training mode with dropout off, batch 16.
    let cpu = Cpu::seed_from_u64(3);
    let mut on_cpu = cpu.build_module::<Cifar, f32>();
    on_cpu.5 .1 .0.p = 0.0;
    on_cpu.5 .2 .0.p = 0.0;
    let mut on_gpu = dfdx::nn::ToDevice::<f32, Cpu, Cuda>::try_to_device(&on_cpu, &gpu)?;
    // dfdx's `ToDevice` copies tensors but gives scalars their defaults: dropout is 0.5 again.
    on_gpu.5 .1 .0.p = 0.0;
    on_gpu.5 .2 .0.p = 0.0;
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
    let r = cpu.tensor_from_vec(ramp(16 * 10), (16usize, Const::<10>));
    let rg = r.to_device(&gpu);
    let (gc, gg) = ((yc * r).sum().backward(), (yg * rg).sum().backward());
    compare_gradients(&mut check, "cifar", (&on_cpu, &gc), (&on_gpu, &gg))?;

    // Evaluation mode: the running statistics (updated by the step above on both) folded in.
    check.close(
        "cifar logits, evaluation mode",
        &on_gpu.forward(xg.clone()).as_vec(),
        &on_cpu.forward(x.clone()).as_vec(),
        1e-4,
    );

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
