//! The device-generic path (the one CUDA runs) on the CPU, with dfdx's CUDA preconditions
//! checked on every product: the whole `cifar` model against the native kernels (logits,
//! the gradient of every parameter, 20 optimizer steps), the batch splitting that keeps
//! tensors within 32-bit indices, `fit` resuming exactly, and a short run that learns.

mod reference;

use alexnet_lab::data::synthetic;
use alexnet_lab::layers::{any_device, CpuPath};
use alexnet_lab::prelude::*;
use alexnet_lab::train::{checkpoint, gradients, NamedTensor, Optimizer, OptimizerKind};
use reference::{adam_run, small_run, tmp_dir, whole_and_resumed};

type Model = reference::Cifar32;

/// How far each parameter's gradient on the generic path may be from the native one,
/// relative to its largest value: the paths differ by at most 3.2e-6 (measured), float
/// rounding of sums taken in other orders.
const GRAD_TOL: f64 = 1e-5;

/// The largest of `values`, NaN as soon as one is NaN (`f32::max` would skip it).
fn max_or_nan(values: impl Iterator<Item = f32>) -> f32 {
    values.fold(0.0, |m, v| if v.is_nan() || v > m { v } else { m })
}

/// `max |a - b| / max |b|`; NaN when the lengths differ or any value is not finite, so
/// that `rel(a, b) < tol` fails on a NaN or an infinity on either side.
fn rel(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || !a.iter().chain(b).all(|v| v.is_finite()) {
        return f64::NAN;
    }
    let diff = max_or_nan(a.iter().zip(b).map(|(x, y)| (x - y).abs()));
    let scale = max_or_nan(b.iter().map(|y| y.abs())).max(1e-12);
    (diff / scale) as f64
}

#[test]
fn the_comparison_fails_on_nan_infinity_and_a_length_mismatch() {
    let ok = [1.0, -2.0, 3.0];
    assert!(rel(&ok, &ok) < 1e-12);
    assert!((rel(&[1.0, -2.0, 3.3], &ok) - 0.1).abs() < 1e-6);
    let nan = f32::NAN;
    for (a, b) in [
        (vec![nan, nan, nan], ok.to_vec()),
        (ok.to_vec(), vec![nan, nan, nan]),
        (vec![1.0, nan, 3.0], ok.to_vec()),
        (vec![1.0, f32::INFINITY, 3.0], ok.to_vec()),
        (ok.to_vec(), vec![1.0, f32::NEG_INFINITY, 3.0]),
        (vec![1.0, -2.0], ok.to_vec()),
    ] {
        let d = rel(&a, &b);
        // What `d < GRAD_TOL` in the tests rejects.
        assert!(d.is_nan() || d >= GRAD_TOL, "{a:?} against {b:?}: {d}");
    }
    assert!(max_or_nan([0.0, f32::NAN, 1.0].into_iter()).is_nan());
}

fn model_without_dropout(seed: u64) -> Model {
    let mut model = Cpu::seed_from_u64(seed).build_module::<Cifar, f32>();
    model.5 .1 .0.p = 0.0;
    model.5 .2 .0.p = 0.0;
    model
}

/// One-hot rows for `labels`.
fn one_hot(labels: &[usize]) -> Tensor<(usize, Const<10>), f32, Cpu> {
    let rows = alexnet_lab::data::one_hot_rows(labels, 10).unwrap();
    Cpu::default().tensor_from_vec(rows, (labels.len(), Const))
}

/// Logits and every gradient of one training-mode pass with a cross-entropy loss.
fn pass(
    model: &mut Model,
    x: &Tensor<Rank4<16, 3, 32, 32>, f32, Cpu>,
    labels: &[usize],
) -> (Vec<f32>, Vec<NamedTensor>) {
    let targets = one_hot(labels);
    let x: Tensor<(usize, Const<3>, Const<32>, Const<32>), f32, _> =
        x.clone().reshape_like(&(16, Const, Const, Const));
    let grads = model.alloc_grads();
    let logits = model.forward_mut(x.traced(grads));
    let host = logits.retaped::<NoneTape>().as_vec();
    let grads = cross_entropy_with_logits_loss(logits, targets).backward();
    (host, gradients(model, &grads).unwrap())
}

#[test]
fn the_whole_cifar_model_agrees_on_both_paths() {
    let dev = Cpu::seed_from_u64(7);
    let x: Tensor<Rank4<16, 3, 32, 32>, f32, _> = dev.sample_normal();
    let model = model_without_dropout(3);
    let labels: Vec<usize> = (0..16).map(|i| (i * 3) % 10).collect();
    let (l_nat, g_nat) = pass(&mut model.clone(), &x, &labels);
    let (l_gen, g_gen) = CpuPath::Generic.run(|| pass(&mut model.clone(), &x, &labels));
    // The same images in another order: mathematically the same gradient, summed in
    // another order. How far that moves the native gradients measures float rounding.
    let perm: Vec<usize> = (0..16).map(|i| (i * 5 + 3) % 16).collect();
    let xv = x.as_vec();
    let xp: Vec<f32> = perm
        .iter()
        .flat_map(|&i| xv[i * 3072..(i + 1) * 3072].to_vec())
        .collect();
    let xp: Tensor<Rank4<16, 3, 32, 32>, f32, _> =
        dev.tensor_from_vec(xp, (Const, Const, Const, Const));
    let lp: Vec<usize> = perm.iter().map(|&i| labels[i]).collect();
    let (_, g_perm) = pass(&mut model.clone(), &xp, &lp);
    let d = rel(&l_gen, &l_nat);
    assert!(d < 1e-5, "logits: {d}");
    assert_eq!(g_nat.len(), 26, "13 layers, two tensors each");
    assert!(g_gen.len() == g_nat.len() && g_perm.len() == g_nat.len());
    println!("parameter: generic vs native | native reordered vs native (relative to max |grad|)");
    let max = |v: &[f32]| max_or_nan(v.iter().map(|x| x.abs()));
    let mut worst = 0.0f64;
    for (k, (nat, (gen, perm))) in g_nat.iter().zip(g_gen.iter().zip(&g_perm)).enumerate() {
        let (name, n, g, p) = (&nat.name, &nat.values, &gen.values, &perm.values);
        let (d_gen, d_perm) = (rel(g, n), rel(p, n));
        println!("{name:>24}: {d_gen:.2e} | {d_perm:.2e}");
        if k % 4 == 1 && k < 20 {
            // A convolution's bias, followed by batch norm, which subtracts the mean: its
            // gradient is 0 in exact arithmetic, and both paths give rounding noise, tiny
            // next to the weight's gradient.
            let w = max(&g_nat[k - 1].values);
            assert!(
                w.is_finite() && w > 0.0,
                "{name}: the weight's gradient {w}"
            );
            assert!(max(n) < 1e-4 * w && max(g) < 1e-4 * w, "{name}: not ~0");
            continue;
        }
        // Elsewhere the paths differ by float rounding, about as much as reordering the
        // batch moves the native path itself, not a wrong gradient.
        assert!(
            d_gen < GRAD_TOL && d_gen < 30.0 * d_perm.max(1e-6),
            "{name}: the paths differ by {d_gen:.2e}, reordering by {d_perm:.2e}"
        );
        worst = worst.max(d_gen);
    }
    println!("largest relative difference of a gradient: {worst:.2e} (tolerance {GRAD_TOL:.0e})");
}

#[test]
fn conv1_alone_matches_f64_loops_on_both_paths() {
    // The first convolution of `cifar` at batch 16, fed the same input and output gradient
    // on both paths: its weight gradient against naive f64 loops.
    let dev = Cpu::seed_from_u64(11);
    let conv = dev.build_module::<builders::Conv2D<3, 64, 3, 1, 1, 32>, f32>();
    let x: Tensor<Rank4<16, 3, 32, 32>, f32, _> = dev.sample_normal();
    let gy: Tensor<Rank4<16, 64, 32, 32>, f32, _> = dev.sample_normal();
    let s = reference::Conv {
        b: 16,
        c: 3,
        o: 64,
        k: 3,
        s: 1,
        p: 1,
        g: 1,
        h: 32,
        os: 32,
    };
    let (_, want_w, want_b) = reference::conv_backward(
        s,
        &reference::to64(&x.as_vec()),
        &reference::to64(&conv.weight.as_vec()),
        &reference::to64(&gy.as_vec()),
    );
    for path in [CpuPath::Native, CpuPath::Generic] {
        let grads = path.run(|| {
            let y = conv.forward(x.leaky_trace());
            (y * gy.clone()).sum().backward()
        });
        reference::assert_close(
            &format!("{path:?} conv1 weight"),
            &grads.get(&conv.weight).as_vec(),
            &want_w,
            1e-4,
        );
        reference::assert_close(
            &format!("{path:?} conv1 bias"),
            &grads.get(&conv.bias).as_vec(),
            &want_b,
            1e-4,
        );
    }
}

/// Training-mode batch norm's backward in f64: `(gx, gscale, gbias)` for `x [b, c, p]`.
fn bn_backward_f64(
    (b, c, p): (usize, usize, usize),
    x: &[f64],
    gamma: &[f64],
    gy: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = (b * p) as f64;
    let (mut gx, mut gg, mut gb) = (vec![0.0; x.len()], vec![0.0; c], vec![0.0; c]);
    for ch in 0..c {
        let at = |i: usize| (i / p * c + ch) * p + i % p;
        let mean = (0..b * p).map(|i| x[at(i)]).sum::<f64>() / n;
        let var = (0..b * p).map(|i| (x[at(i)] - mean).powi(2)).sum::<f64>() / n;
        let inv = 1.0 / (var + eps).sqrt();
        let xhat = |i: usize| (x[at(i)] - mean) * inv;
        gb[ch] = (0..b * p).map(|i| gy[at(i)]).sum();
        gg[ch] = (0..b * p).map(|i| gy[at(i)] * xhat(i)).sum();
        for i in 0..b * p {
            gx[at(i)] = gamma[ch] * inv * (gy[at(i)] - gb[ch] / n - xhat(i) * gg[ch] / n);
        }
    }
    (gx, gg, gb)
}

#[test]
fn batch_norm_alone_matches_f64_loops_on_both_paths() {
    // The first batch norm of `cifar` at batch 16, the same input and output gradient on
    // both paths, against f64 loops: the gradients, the running statistics (updated on the
    // device), and evaluation with them.
    let dev = Cpu::seed_from_u64(12);
    let mut bn = dev.build_module::<BatchNorm2D<64>, f32>();
    let scale: Tensor<Rank1<64>, f32, _> = dev.sample_uniform();
    bn.scale = scale + 0.5;
    let x: Tensor<Rank4<16, 64, 32, 32>, f32, _> = dev.sample_normal();
    let x = x * 3.0 + 1.0;
    let gy: Tensor<Rank4<16, 64, 32, 32>, f32, _> = dev.sample_normal();
    let (want_x, want_scale, want_bias) = bn_backward_f64(
        (16, 64, 1024),
        &reference::to64(&x.as_vec()),
        &reference::to64(&bn.scale.as_vec()),
        &reference::to64(&gy.as_vec()),
        bn.epsilon,
    );
    // The running statistics after the step, and evaluation with them, from the loops.
    let (xv, scale64, bias64) = (
        reference::to64(&x.as_vec()),
        reference::to64(&bn.scale.as_vec()),
        reference::to64(&bn.bias.as_vec()),
    );
    let stats = reference::batch_norm_train(16, 64, 1024, &xv, &scale64, &bias64, bn.epsilon);
    let (mut want_mean, mut want_var) = (
        reference::to64(&bn.running_mean.as_vec()),
        reference::to64(&bn.running_var.as_vec()),
    );
    reference::update_running_stats(
        (&mut want_mean, &mut want_var),
        &stats,
        16 * 1024,
        bn.momentum,
    );
    let want_eval = reference::batch_norm_eval(
        16,
        64,
        1024,
        &xv,
        &scale64,
        &bias64,
        (&want_mean, &want_var),
        bn.epsilon,
    );
    for path in [CpuPath::Native, CpuPath::Generic] {
        let (grads, after) = path.run(|| {
            let mut bn = bn.clone();
            let y = bn.forward_mut(x.leaky_trace());
            ((y * gy.clone()).sum().backward(), bn)
        });
        let eval = path.run(|| after.forward(x.clone()).as_vec());
        let got = [
            ("x", grads.get(&x).as_vec(), &want_x),
            ("scale", grads.get(&bn.scale).as_vec(), &want_scale),
            ("bias", grads.get(&bn.bias).as_vec(), &want_bias),
            ("running mean", after.running_mean.as_vec(), &want_mean),
            ("running var", after.running_var.as_vec(), &want_var),
            ("evaluation output", eval, &want_eval),
        ];
        for (what, got, want) in got {
            let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            // NaN (failing the check below) where any value is NaN.
            let err = reference::max_abs_diff(&got, want);
            println!(
                "{path:?} batch norm {what}: max error {:.2e} of max {scale:.2e}",
                err
            );
            assert!(
                err <= 1e-4 * scale,
                "{path:?} batch norm {what}: {err:.2e} of {scale:.2e}"
            );
        }
    }
}

#[test]
fn twenty_optimizer_steps_end_at_the_same_weights() {
    let dev = Cpu::seed_from_u64(9);
    let x: Tensor<Rank4<16, 3, 32, 32>, f32, _> = dev.sample_normal();
    let start = model_without_dropout(4);
    let run = |path: CpuPath| {
        path.run(|| {
            let mut model = start.clone();
            let mut opt = Optimizer::<Cpu>::new(OptimizerKind::Sgd, 0.01, 0.9, 5e-4);
            for _ in 0..20 {
                let grads = {
                    let x2: Tensor<(usize, Const<3>, Const<32>, Const<32>), f32, _> =
                        x.clone().reshape_like(&(16, Const, Const, Const));
                    let logits = model.forward_mut(x2.traced(model.alloc_grads()));
                    let labels: Vec<usize> = (0..16).map(|i| i % 10).collect();
                    cross_entropy_with_logits_loss(logits, one_hot(&labels)).backward()
                };
                opt.step(&mut model, &grads).unwrap();
            }
            model
        })
    };
    let (a, b) = (run(CpuPath::Native), run(CpuPath::Generic));
    let pairs = [
        (
            "conv1",
            a.0 .0 .0.weight.as_vec(),
            b.0 .0 .0.weight.as_vec(),
        ),
        ("conv4", a.3 .0.weight.as_vec(), b.3 .0.weight.as_vec()),
        ("fc3", a.5 .3.weight.as_vec(), b.5 .3.weight.as_vec()),
    ];
    // The per-step gradient rounding of conv1 (see above) adds up over 20 steps.
    for (name, x, y) in pairs {
        println!("{name} after 20 steps: {:.2e}", rel(&x, &y));
        assert!(rel(&x, &y) < 3e-2, "{name}: {}", rel(&x, &y));
    }
}

#[test]
fn splitting_the_batch_changes_nothing() {
    // A limit of a few thousand values makes a batch of 6 go through in chunks.
    let dev = Cpu::seed_from_u64(2);
    let conv = dev.build_module::<builders::Conv2D<4, 6, 3, 2, 1, 4, 2>, f32>();
    let x: Tensor<Rank4<6, 4, 8, 8>, f32, _> = dev.sample_normal();
    let whole = CpuPath::Generic.run(|| {
        let y = MaxPool2D::<2, 2, 2>.forward(conv.forward(x.leaky_trace()));
        (
            y.retaped::<NoneTape>().as_vec(),
            y.square().sum().backward(),
        )
    });
    let old = any_device::set_element_limit(700);
    let split = CpuPath::Generic.run(|| {
        let y = MaxPool2D::<2, 2, 2>.forward(conv.forward(x.leaky_trace()));
        (
            y.retaped::<NoneTape>().as_vec(),
            y.square().sum().backward(),
        )
    });
    any_device::set_element_limit(old);
    assert_eq!(whole.0, split.0);
    for (a, b) in [
        (whole.1.get(&x).as_vec(), split.1.get(&x).as_vec()),
        (
            whole.1.get(&conv.weight).as_vec(),
            split.1.get(&conv.weight).as_vec(),
        ),
    ] {
        assert!(rel(&b, &a) < 1e-6, "{}", rel(&b, &a));
    }
}

#[test]
#[should_panic(expected = "broadcast (stride 0)")]
fn the_checker_refuses_a_broadcast_operand() {
    let dev = Cpu::default();
    let w: Tensor<Rank2<3, 4>, f32, _> = dev.sample_normal();
    let batched: Tensor<Rank3<5, 3, 4>, f32, _> = w.broadcast();
    let _ = any_device::check_operand(&batched, "a weight broadcast over the batch");
}

#[test]
fn fit_on_the_generic_path_resumes_exactly() {
    CpuPath::Generic.run(|| {
        let (cfg, splits) = small_run(2);
        let (whole, parts) = (tmp_dir("gp-whole"), tmp_dir("gp-parts"));
        let ((_, h_whole), (_, h_parts)) = whole_and_resumed(&cfg, &splits, &whole, &parts);
        assert_eq!(h_whole.epochs.len(), 2);
        assert_eq!(h_parts.epochs.len(), h_whole.epochs.len());
        for (x, y) in h_whole.epochs.iter().zip(&h_parts.epochs) {
            assert_eq!((x.train_loss, x.val_loss), (y.train_loss, y.val_loss));
        }
        assert_eq!(
            std::fs::read(whole.join(checkpoint::MODEL_FILE)).unwrap(),
            std::fs::read(parts.join(checkpoint::MODEL_FILE)).unwrap()
        );
        std::fs::remove_dir_all(whole).unwrap();
        std::fs::remove_dir_all(parts).unwrap();
    });
}

#[test]
fn a_short_run_on_the_generic_path_learns() {
    // 16 training images, one batch a step, 12 epochs of Adam (dropout on): the loss on them
    // must fall well below where it started (2.3, chance), as a network that learns does.
    CpuPath::Generic.run(|| {
        let splits = synthetic::generate(2, 1, 7).split(4).unwrap();
        let dir = tmp_dir("gp-learn");
        let (history, _) = adam_run(12, 16, &splits, &dir);
        let (first, last) = (history.epochs[0].train_loss, history.epochs[11].train_loss);
        assert!(last < 0.5 * first, "train loss {first} -> {last}");
        std::fs::remove_dir_all(dir).unwrap();
    });
}
