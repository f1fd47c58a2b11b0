//! What the test files share. The naive loops the layers are checked against live in the
//! crate (`alexnet_lab::reference`), where a learner can read them; test files that say
//! `mod reference;` get them through this module, with the helpers below.
#![allow(unused_imports, dead_code)]

pub use alexnet_lab::reference::*;

use alexnet_lab::data::{synthetic, Splits};
use alexnet_lab::layers;
use alexnet_lab::model::Cifar;
use alexnet_lab::prelude::*;
use alexnet_lab::train::{self, fit, DeviceChoice, History, Metrics, OptimizerKind, TrainConfig};
use std::path::{Path, PathBuf};

/// The gradient of `sum(f(v) * r)` with respect to every entry of `v`, by central finite
/// differences: nudge one entry up and down by `1e-4` and see how the weighted sum moves.
///
/// `r` plays the gradient arriving from the layers above, so this is what a layer's
/// backward pass must return for the input `v`. Slow (two calls of `f` per entry), exact
/// enough in `f64` to check a backward pass written by hand.
pub fn finite_diff(v: &[f64], r: &[f64], f: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let eps = 1e-4;
    let loss = |v: &[f64]| f(v).iter().zip(r).map(|(a, b)| a * b).sum::<f64>();
    let mut v = v.to_vec();
    (0..v.len())
        .map(|i| {
            let orig = v[i];
            v[i] = orig + eps;
            let up = loss(&v);
            v[i] = orig - eps;
            let down = loss(&v);
            v[i] = orig;
            (up - down) / (2.0 * eps)
        })
        .collect()
}

/// `alexnet-lab-{name}-{pid}` in the system's temporary folder, removed if a former run
/// left it. Each test file starts `name` with its own prefix (`cli-`, `train-`, ..) and
/// each test in it uses its own name, so tests running at the same time, in one process or
/// in several, never share a folder.
pub fn tmp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("alexnet-lab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// [`tmp_dir`], created (empty).
pub fn empty_dir(name: &str) -> PathBuf {
    let dir = tmp_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The short run the resume tests train: `cifar` on 160 synthetic training images (16 held
/// out), batches of 16 with augmentation, seed 3, for `epochs` epochs.
pub fn small_run(epochs: usize) -> (TrainConfig, Splits) {
    let cfg = TrainConfig {
        num_epochs: epochs,
        batch_size: 16,
        augment: true,
        seed: 3,
        ..Default::default()
    };
    (cfg, synthetic::generate(8, 2, 1).split(16).unwrap())
}

/// The two runs a resume test compares, written into `whole` and `parts`: `cfg` run
/// uninterrupted, and run for one epoch, dropped (the "crash": nothing survives but the
/// files) and resumed into a model of other weights. Returns each model and its history.
pub fn whole_and_resumed(
    cfg: &TrainConfig,
    splits: &Splits,
    whole: &Path,
    parts: &Path,
) -> ((Cifar32, History), (Cifar32, History)) {
    let mut model = Cpu::seed_from_u64(cfg.seed).build_module::<Cifar, f32>();
    let h_whole = fit::<Cifar>(&mut model, cfg, splits, whole, false).unwrap();
    let mut first = Cpu::seed_from_u64(cfg.seed).build_module::<Cifar, f32>(); // the same initial weights
    let one = TrainConfig {
        num_epochs: 1,
        ..cfg.clone()
    };
    fit::<Cifar>(&mut first, &one, splits, parts, false).unwrap();
    drop(first);
    let mut resumed = Cpu::seed_from_u64(99).build_module::<Cifar, f32>(); // other weights, replaced by the checkpoint
    let h_parts = fit::<Cifar>(&mut resumed, cfg, splits, parts, true).unwrap();
    ((model, h_whole), (resumed, h_parts))
}

/// `cifar` on the CPU as the tests build it.
pub type Cifar32 = <Cifar as BuildOnDevice<Cpu, f32>>::Built;

/// A fresh run of `train::train` on the CPU into `dir`, as the "it learns" tests make it:
/// Adam at 1e-3 without weight decay, seed 1.
pub fn adam_run(
    num_epochs: usize,
    batch_size: usize,
    splits: &Splits,
    dir: &Path,
) -> (History, Metrics) {
    let cfg = TrainConfig {
        optimizer: OptimizerKind::Adam,
        lr: 1e-3,
        weight_decay: 0.0,
        num_epochs,
        batch_size,
        seed: 1,
        ..Default::default()
    };
    train::train(
        &cfg,
        splits,
        dir,
        false,
        DeviceChoice::Cpu,
        &mut |_, _, _| {},
    )
    .unwrap()
}

/// Gives a batch norm running statistics and a scale and shift that are not the identity,
/// with some negative scales (so a folded `a` can be negative).
pub fn randomise_bn<const C: usize>(bn: &mut layers::BatchNorm2D<C, f32, Cpu>, seed: u64) {
    let dev = Cpu::seed_from_u64(seed);
    let normal = |shift: f32, spread: f32| -> Vec<f32> {
        let t: Tensor<Rank1<C>, f32, _> = dev.sample_normal();
        t.as_vec().iter().map(|v| shift + spread * v).collect()
    };
    bn.running_mean.copy_from(&normal(0.1, 0.5));
    let var: Vec<f32> = normal(0.0, 1.0).iter().map(|v| 0.2 + v.abs()).collect();
    bn.running_var.copy_from(&var);
    bn.scale.copy_from(&normal(0.3, 1.0));
    bn.bias.copy_from(&normal(0.0, 0.5));
}

/// Batch norm's evaluation-mode `(a, c)` per channel in `f64`: `bn(v) = v * a + c`.
pub fn bn_affine64<const C: usize>(bn: &layers::BatchNorm2D<C, f32, Cpu>) -> (Vec<f64>, Vec<f64>) {
    let (m, v) = (
        to64(&bn.running_mean.as_vec()),
        to64(&bn.running_var.as_vec()),
    );
    let (g, b) = (to64(&bn.scale.as_vec()), to64(&bn.bias.as_vec()));
    (0..C)
        .map(|c| {
            let a = g[c] / (v[c] + bn.epsilon).sqrt();
            (a, b[c] - m[c] * a)
        })
        .unzip()
}

/// Asserts which CPU kernel a convolution (with `epilogue` applied as it writes) ran on
/// `spec`: with `winograd`, the layers' own test (`winograd::applies`) says Winograd and the
/// inference output `got` is bit for bit `winograd::forward`'s and not im2col's (which
/// rounds differently); without, the test says im2col and `got` is bit for bit im2col's.
pub fn assert_kernel(
    spec: &layers::spec::ConvSpec,
    winograd: bool,
    got: &[f32],
    (x, w, b): (&[f32], &[f32], &[f32]),
    epilogue: &layers::spec::Epilogue,
) {
    use layers::cpu::{conv, winograd as wg};
    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let im2col = conv::forward(spec, x, w, b, epilogue);
    if !winograd {
        assert!(
            !wg::applies(spec),
            "{spec:?}: the layers' test sends this to Winograd"
        );
        assert_eq!(bits(got), bits(&im2col), "{spec:?}: not im2col's output");
        return;
    }
    assert!(
        wg::applies(spec),
        "{spec:?}: below the Winograd kernel's thresholds (winograd::MIN_CHANNELS_3X3 = {}, _5X5 = {}), the layer takes im2col",
        wg::MIN_CHANNELS_3X3,
        wg::MIN_CHANNELS_5X5
    );
    let direct = wg::forward(spec, x, w, b, epilogue, false).0;
    assert_eq!(bits(got), bits(&direct), "{spec:?}: not Winograd's output");
    assert_ne!(bits(got), bits(&im2col), "{spec:?}: im2col's output");
}

/// [`assert_kernel`] for a training pass: the convolution's output `y` and input gradient
/// `gx`, traced with the output's gradient `gout`, are bit for bit those of the kernel the
/// layers' test picks, called directly (Winograd's F(2x2) training tiles and its backward
/// pass, else im2col's forward and backward).
pub fn assert_training_kernel(
    spec: &layers::spec::ConvSpec,
    winograd: bool,
    (y, gx): (&[f32], &[f32]),
    (x, w, b): (&[f32], &[f32], &[f32]),
    gout: &[f32],
) {
    use layers::cpu::{conv, winograd as wg};
    use layers::spec::Epilogue;
    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        wg::applies(spec),
        winograd,
        "{spec:?}: the layers' test picks the other kernel"
    );
    let (mut want_gx, mut gw, mut gb) =
        (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; b.len()]);
    let want_y = if winograd {
        let (out, saved) = wg::forward(spec, x, w, b, &Epilogue::Identity, true);
        let saved = saved.expect("a training pass keeps what its backward pass needs");
        wg::backward(spec, &saved, gout, (&mut want_gx, &mut gw, &mut gb));
        out
    } else {
        conv::backward(spec, (x, w), gout, (&mut want_gx, &mut gw, &mut gb));
        conv::forward(spec, x, w, b, &Epilogue::Identity)
    };
    let kernel = if winograd { "Winograd" } else { "im2col" };
    assert_eq!(
        bits(y),
        bits(&want_y),
        "{spec:?}: not {kernel}'s training output"
    );
    assert_eq!(
        bits(gx),
        bits(&want_gx),
        "{spec:?}: not {kernel}'s input gradient"
    );
}
