//! The crate against an implementation it shares no code with: PyTorch's values for each
//! layer type and the whole `cifar` model on fixed inputs and weights, computed in f64 by
//! `tests/fixtures/make_torch_fixtures.py` (run by hand; it says how) and committed as
//! `tests/fixtures/torch.json`. Inputs and weights come from one formula on both sides
//! ([`wave`]); each case's input sum is checked first, so a formula that drifted fails as
//! such. Every case's loss is `sum(y * ramp)`; the layers' own loops (`reference`) are
//! checked against the same values where they exist.

use alexnet_lab::layers::{builders, CpuPath};
use alexnet_lab::model::Cifar;
use alexnet_lab::prelude::*;
use alexnet_lab::reference::{self, max_abs_diff};
use alexnet_lab::train::{gradients, set_parameters};
use serde_json::Value;

fn fixtures() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/torch.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `amp * sin(0.7311 i + 1.37 seed + 0.1)` in f64, rounded to f32: the script's `wave`.
fn wave(n: usize, seed: usize, amp: f64) -> Vec<f32> {
    (0..n)
        .map(|i| (amp * (0.7311 * i as f64 + 1.37 * seed as f64 + 0.1).sin()) as f32)
        .collect()
}

/// 1, 1.25, ... 2.5, repeating: the loss's weights.
fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| 1.0 + (i % 7) as f32 * 0.25).collect()
}

/// Parameter `j` with `dims` as the script fills it.
fn param_values(j: usize, dims: &[usize]) -> Vec<f32> {
    let n: usize = dims.iter().product();
    wave(n, 100 + j, 1.0 / ((n / dims[0]) as f64).sqrt())
}

/// The script's labels for a batch of 4 (`7 i mod 10`), and their one-hot rows.
fn labels_and_targets() -> (Vec<usize>, Tensor<Rank2<4, 10>, f32, Cpu>) {
    let labels: Vec<usize> = (0..4).map(|i| (i * 7) % 10).collect();
    let mut onehot = vec![0.0f32; 40];
    for (row, &l) in labels.iter().enumerate() {
        onehot[row * 10 + l] = 1.0;
    }
    let t = Cpu::default().tensor_from_vec(onehot, Default::default());
    (labels, t)
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The largest difference over the largest value of `want`; fails past `tol`, on a length
/// mismatch and on NaN. Returns the measured figure.
fn agree(what: &str, got: &[f32], want: &[f64], tol: f64) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1e-12f64, |m, w| m.max(w.abs()));
    let rel = max_abs_diff(got, want) / scale;
    assert!(
        rel <= tol,
        "{what}: relative difference {rel:.2e} (allowed {tol:.0e})"
    );
    rel
}

/// Checks that the inputs made here are the ones the script made.
fn same_inputs(what: &str, made: &[f32], sum: &Value) {
    let want = sum.as_f64().unwrap();
    let got: f64 = made.iter().map(|&v| v as f64).sum();
    assert!(
        (got - want).abs() <= 1e-9 * (1.0 + want.abs()),
        "{what}: the inputs made here sum to {got}, the script's to {want}: the formulas differ"
    );
}

/// Forward values within this of their largest, f32 against f64 (5.8e-7 at most measured,
/// the 11x11 convolution).
const FORWARD_TOL: f64 = 5e-6;
/// Gradients: more roundings on the way back (5.2e-6 at most measured, the `cifar` model's
/// first convolution, after four batch norms and five convolutions going back).
const GRAD_TOL: f64 = 5e-5;

macro_rules! layer_case {
    ($case:expr, $builder:ty, $input:ty) => {{
        let case: &Value = $case;
        let name = case["name"].as_str().unwrap();
        let dev = Cpu::default();
        let mut layer = dev.build_module::<$builder, f32>();
        set_parameters::<_, Cpu, _>(&mut layer, |j, _, dims| param_values(j, dims)).unwrap();
        let shape: $input = Default::default();
        let n = shape.num_elements();
        let values = wave(
            n,
            case["input_seed"].as_u64().unwrap() as usize,
            case["input_amp"].as_f64().unwrap(),
        );
        same_inputs(name, &values, &case["input_sum"]);
        let x = dev.tensor_from_vec(values, shape);
        let y = layer.forward_mut(x.leaky_trace());
        let dims: Vec<u64> = y.shape().concrete().into_iter().map(|d| d as u64).collect();
        let want_dims: Vec<u64> = case["output_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(dims, want_dims, "{name}: output shape");
        let mut worst = (
            agree(
                &format!("{name}: output"),
                &y.retaped::<NoneTape>().as_vec(),
                &numbers(&case["output"]),
                FORWARD_TOL,
            ),
            0.0f64,
        );
        let r = dev.tensor_from_vec(ramp(y.shape().num_elements()), *y.shape());
        let grads = (y * r).sum().backward();
        worst.1 = worst.1.max(agree(
            &format!("{name}: input gradient"),
            &grads.get(&x).as_vec(),
            &numbers(&case["input_grad"]),
            GRAD_TOL,
        ));
        let want = case["param_grads"].as_array().unwrap();
        let got = gradients(&layer, &grads).unwrap();
        assert_eq!(got.len(), want.len(), "{name}: parameter count");
        for (g, w) in got.iter().zip(want) {
            worst.1 = worst.1.max(agree(
                &format!("{name}: {} gradient", g.name),
                &g.values,
                &numbers(w),
                GRAD_TOL,
            ));
        }
        println!(
            "{name}: forward {:.1e}, gradients {:.1e} of their largest",
            worst.0, worst.1
        );
        layer
    }};
}

/// Both of the CPU's paths: the native kernels, and the device-generic ops a GPU runs.
const PATHS: [CpuPath; 2] = [CpuPath::Native, CpuPath::Generic];

#[test]
fn every_layer_type_agrees_with_pytorch() {
    for path in PATHS {
        println!("{path:?} path:");
        path.run(layers_against_torch);
    }
}

#[test]
fn the_cifar_model_agrees_with_pytorch() {
    for path in PATHS {
        print!("{path:?} path: ");
        path.run(cifar_against_torch);
    }
}

fn layers_against_torch() {
    let fx = fixtures();
    let cases = fx["layers"].as_array().unwrap();
    let case = |name: &str| -> &Value {
        cases
            .iter()
            .find(|c| c["name"].as_str().unwrap().starts_with(name))
            .unwrap_or_else(|| panic!("tests/fixtures/torch.json has no case '{name}'"))
    };
    layer_case!(case("conv 3->4, 3x3, pad 1"), builders::Conv2D<3, 4, 3, 1, 1, 7>, Rank4<2, 3, 7, 7>);
    layer_case!(
        case("conv 4->6, 3x3, stride 2, pad 1, 2 groups"),
        builders::Conv2D<4, 6, 3, 2, 1, 4, 2>,
        Rank4<2, 4, 8, 8>
    );
    layer_case!(case("conv 3->4, 11x11, stride 4"), builders::Conv2D<3, 4, 11, 4, 0, 5>, Rank4<1, 3, 27, 27>);
    layer_case!(case("max pool 2x2"), builders::MaxPool2D<2, 2, 4>, Rank4<2, 3, 8, 8>);
    layer_case!(case("max pool 3x3, stride 2"), builders::MaxPool2D<3, 2, 4>, Rank4<2, 3, 9, 9>);
    layer_case!(case("average pool 2x2"), builders::AvgPool2D<2, 2, 4>, Rank4<2, 3, 8, 8>);
    layer_case!(case("local response norm"), builders::LocalResponseNorm<5>, Rank4<2, 8, 3, 3>);
    let bn_case = case("batch norm, training mode");
    let bn = layer_case!(bn_case, builders::BatchNorm2D<3>, Rank4<4, 3, 5, 5>);
    agree(
        "batch norm: running mean after one step",
        &bn.running_mean.as_vec(),
        &numbers(&bn_case["running_mean"]),
        FORWARD_TOL,
    );
    agree(
        "batch norm: running variance after one step",
        &bn.running_var.as_vec(),
        &numbers(&bn_case["running_var"]),
        FORWARD_TOL,
    );
    layer_case!(case("dense 12->5"), builders::Linear<12, 5>, Rank2<3, 12>);
    layer_case!(case("ReLU"), ReLU, Rank2<2, 10>);
    assert_eq!(cases.len(), 10, "a case the test does not run");
}

#[test]
fn the_loss_and_the_course_loops_agree_with_pytorch() {
    let fx = fixtures();
    let case = &fx["loss"];
    let logits = wave(40, 7, 3.0);
    same_inputs("loss", &logits, &case["input_sum"]);
    let (labels, t) = labels_and_targets();

    // The training loss: dfdx's cross-entropy with one-hot targets, as a training step takes it.
    let dev = Cpu::default();
    let z: Tensor<Rank2<4, 10>, f32, _> = dev.tensor_from_vec(logits.clone(), Default::default());
    let loss = cross_entropy_with_logits_loss(z.leaky_trace(), t);
    agree(
        "cross-entropy",
        &[loss.array()],
        &[case["loss"].as_f64().unwrap()],
        FORWARD_TOL,
    );
    let grads = loss.backward();
    agree(
        "cross-entropy: logits gradient",
        &grads.get(&z).as_vec(),
        &numbers(&case["logits_grad"]),
        GRAD_TOL,
    );

    // The loops a learner reads in the course.
    let z64 = reference::to64(&logits);
    let probs: Vec<f64> = z64.chunks(10).flat_map(reference::softmax).collect();
    let want = numbers(&case["probabilities"]);
    let worst = probs
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst <= 1e-12, "reference::softmax: off by {worst:e}");
    let ce = reference::cross_entropy(10, &z64, &labels);
    assert!(
        (ce - case["loss"].as_f64().unwrap()).abs() <= 1e-12,
        "reference::cross_entropy: {ce}"
    );
    let back = reference::cross_entropy_backward(10, &z64, &labels);
    let want = numbers(&case["logits_grad"]);
    let worst = back
        .iter()
        .zip(&want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= 1e-12,
        "reference::cross_entropy_backward: off by {worst:e}"
    );
}

fn cifar_against_torch() {
    let fx = fixtures();
    let case = &fx["cifar"];
    let dev = Cpu::default();
    let mut model = dev.build_module::<Cifar, f32>();
    set_parameters(&mut model, |j, _, dims| param_values(j, dims)).unwrap();
    model.5 .1 .0.p = 0.0;
    model.5 .2 .0.p = 0.0;
    let sums = numbers(&case["param_sums"]);
    let made = alexnet_lab::train::parameters(&model).unwrap();
    assert_eq!(made.len(), sums.len(), "parameter count");
    for (p, want) in made.iter().zip(&sums) {
        let got: f64 = p.values.iter().map(|&v| v as f64).sum();
        assert!(
            (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
            "{}: sums to {got} here, {want} in the script",
            p.name
        );
    }
    let values = wave(4 * 3 * 32 * 32, 11, 1.0);
    same_inputs("cifar", &values, &case["input_sum"]);
    let x: Tensor<Rank4<4, 3, 32, 32>, f32, _> = dev.tensor_from_vec(values, Default::default());
    let (_, t) = labels_and_targets();
    let logits = model.forward_mut(x.leaky_trace());
    let f = agree(
        "cifar: training-mode logits",
        &logits.retaped::<NoneTape>().as_vec(),
        &numbers(&case["logits"]),
        FORWARD_TOL,
    );
    let loss = cross_entropy_with_logits_loss(logits, t);
    agree(
        "cifar: loss",
        &[loss.array()],
        &[case["loss"].as_f64().unwrap()],
        FORWARD_TOL,
    );
    let grads = loss.backward();
    let got = gradients(&model, &grads).unwrap();
    let norms = numbers(&case["grad_norms"]);
    assert_eq!(got.len(), norms.len(), "parameter count");
    // Each norm against itself, but at least a thousandth of the largest: a convolution's
    // bias before a batch norm has a zero gradient in exact arithmetic (the batch norm
    // subtracts any per-channel shift), rounding on both sides (5e-9 here, 4e-17 in f64).
    let floor = 1e-3 * norms.iter().fold(0.0f64, |m, &n| m.max(n));
    let mut worst = 0.0f64;
    for (g, want) in got.iter().zip(&norms) {
        let norm = g
            .values
            .iter()
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        let rel = (norm - want).abs() / want.max(floor);
        worst = worst.max(rel);
        assert!(
            rel <= GRAD_TOL,
            "{}: gradient norm {norm}, PyTorch {want}",
            g.name
        );
    }
    let g0 = agree(
        "cifar: first convolution's weight gradient",
        &got[0].values,
        &numbers(&case["first_conv_weight_grad"]),
        GRAD_TOL,
    );
    agree(
        "cifar: last dense layer's bias gradient",
        &got.last().unwrap().values,
        &numbers(&case["last_dense_bias_grad"]),
        GRAD_TOL,
    );
    let bn = &model.0 .0 .1;
    agree(
        "cifar: first batch norm's running mean",
        &bn.running_mean.as_vec(),
        &numbers(&case["first_bn_running_mean"]),
        FORWARD_TOL,
    );
    agree(
        "cifar: first batch norm's running variance",
        &bn.running_var.as_vec(),
        &numbers(&case["first_bn_running_var"]),
        FORWARD_TOL,
    );
    let e = agree(
        "cifar: evaluation-mode logits",
        &model.forward(x).as_vec(),
        &numbers(&case["eval_logits"]),
        FORWARD_TOL,
    );
    println!(
        "cifar: logits {f:.1e}, evaluation logits {e:.1e}, gradient norms {worst:.1e}, conv1's gradient {g0:.1e}"
    );
}
