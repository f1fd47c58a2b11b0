//! The input gradient (gradient saliency) against central differences of the model's
//! evaluation-mode score computed in f64 with the reference loops.

use alexnet_lab::layers::Linear;
use alexnet_lab::prelude::*;
use alexnet_lab::reference::{
    batch_norm_eval, conv_forward, linear_forward, pool_forward, relu_forward, to64, Conv,
};
use alexnet_lab::train::{input_gradient, CifarNet};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A `cifar` network with batch-norm running statistics far from their start (mean 0,
/// variance 1), so that evaluation mode and training mode give different scores.
fn network() -> CifarNet {
    let dev = Cpu::seed_from_u64(7);
    let mut model = dev.build_module::<Cifar, f32>();
    let mut rng = StdRng::seed_from_u64(1);
    let mut stats = |c: usize| -> (Vec<f32>, Vec<f32>) {
        let mean = (0..c).map(|_| rng.gen_range(-0.3..0.3)).collect();
        let var = (0..c).map(|_| rng.gen_range(0.2..3.0)).collect();
        (mean, var)
    };
    let (m, v) = stats(64);
    model.0 .0 .1.running_mean.copy_from(&m);
    model.0 .0 .1.running_var.copy_from(&v);
    let (m, v) = stats(192);
    model.1 .0 .1.running_mean.copy_from(&m);
    model.1 .0 .1.running_var.copy_from(&v);
    let (m, v) = stats(384);
    model.2 .1.running_mean.copy_from(&m);
    model.2 .1.running_var.copy_from(&v);
    let (m, v) = stats(256);
    model.3 .1.running_mean.copy_from(&m);
    model.3 .1.running_var.copy_from(&v);
    let (m, v) = stats(256);
    model.4 .0 .1.running_mean.copy_from(&m);
    model.4 .0 .1.running_var.copy_from(&v);
    model
}

fn image(seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..3 * 32 * 32).map(|_| rng.gen_range(-2.0..2.0)).collect()
}

/// The model's evaluation-mode score for `class` (its fused inference `forward`).
fn score(model: &CifarNet, img: &[f32], class: usize) -> f32 {
    let dev: Cpu = model.0 .0 .0.weight.device().clone();
    let x = dev.tensor_from_vec(
        img.to_vec(),
        (Const::<1>, Const::<3>, Const::<32>, Const::<32>),
    );
    model.forward(x).as_vec()[class]
}

/// One `ConvBnRelu` block in evaluation mode, in f64 with the reference loops.
fn block64<const I: usize, const O: usize, const S: usize>(
    b: &alexnet_lab::model::ConvBnReluBlock<I, O, S, f32, Cpu>,
    x: &[f64],
) -> Vec<f64> {
    let conv = Conv {
        b: 1,
        c: I,
        o: O,
        k: 3,
        s: 1,
        p: 1,
        g: 1,
        h: S,
        os: S,
    };
    let y = conv_forward(
        conv,
        x,
        &to64(&b.0.weight.as_vec()),
        &to64(&b.0.bias.as_vec()),
    );
    let bn = &b.1;
    let stats = (
        to64(&bn.running_mean.as_vec()),
        to64(&bn.running_var.as_vec()),
    );
    let (scale, shift) = (to64(&bn.scale.as_vec()), to64(&bn.bias.as_vec()));
    let y = batch_norm_eval(
        1,
        O,
        S * S,
        &y,
        &scale,
        &shift,
        (&stats.0, &stats.1),
        bn.epsilon,
    );
    relu_forward(&y)
}

/// The model's evaluation-mode score for `class`, in f64 with the reference loops.
fn score64(m: &CifarNet, img: &[f64], class: usize) -> f64 {
    let x = pool_forward(true, 64, 32, 2, 2, 16, &block64(&m.0 .0, img));
    let x = pool_forward(true, 192, 16, 2, 2, 8, &block64(&m.1 .0, &x));
    let x = block64(&m.3, &block64(&m.2, &x));
    let x = pool_forward(true, 256, 8, 2, 2, 4, &block64(&m.4 .0, &x));
    fn dense<const I: usize, const O: usize>(l: &Linear<I, O, f32, Cpu>, x: &[f64]) -> Vec<f64> {
        linear_forward(
            (1, I, O),
            x,
            &to64(&l.weight.as_vec()),
            &to64(&l.bias.as_vec()),
        )
    }
    let h = &m.5;
    let x = relu_forward(&dense(&h.1 .1, &x));
    let x = relu_forward(&dense(&h.2 .1, &x));
    dense(&h.3, &x)[class]
}

/// Central difference of [`score64`] along pixel `p`, step `H` (f64: rounding about 1e-12).
fn central(model: &CifarNet, img: &[f64], class: usize, p: usize) -> f64 {
    let (mut up, mut down) = (img.to_vec(), img.to_vec());
    up[p] += H;
    down[p] -= H;
    (score64(model, &up, class) - score64(model, &down, class)) / (2.0 * H)
}

const H: f64 = 1e-5;
/// Of the largest gradient's size.
const TOL: f32 = 1e-4;

#[test]
fn the_input_gradient_matches_finite_differences_of_the_evaluation_score() {
    let model = network();
    let before = model.0 .0 .1.running_mean.as_vec();
    for (seed, class) in [(11, 3), (12, 8)] {
        let img = image(seed);
        let (value, grad) = input_gradient(&model, &img, class).unwrap();
        assert_eq!(grad.len(), 3 * 32 * 32);
        let want = score(&model, &img, class);
        let exact = score64(&model, &to64(&img), class) as f32;
        assert!(
            (want - exact).abs() < 1e-5,
            "forward {want}, f64 loops {exact}"
        );
        assert!(
            (value - want).abs() < 1e-5 * (1.0 + want.abs()),
            "score {value} against the model's forward {want}"
        );
        // The pixels with the largest gradient, and a few fixed ones (every channel).
        let mut order: Vec<usize> = (0..grad.len()).collect();
        order.sort_by(|&a, &b| grad[b].abs().total_cmp(&grad[a].abs()));
        let mut pixels: Vec<usize> = order[..4].to_vec();
        pixels.extend([33 * 16, 1024 + 500, 2048 + 1023]);
        let largest = grad[order[0]].abs();
        assert!(largest > 1e-5, "the gradient reaches the input: {largest}");
        let mut worst = 0f32;
        for &p in &pixels {
            let fd = central(&model, &to64(&img), class, p) as f32;
            let err = (fd - grad[p]).abs();
            println!(
                "seed {seed} pixel {p}: gradient {:.6e}, f64 central difference {fd:.6e}",
                grad[p]
            );
            assert!(
                err < TOL * largest,
                "pixel {p}: gradient {} against {fd}",
                grad[p]
            );
            worst = worst.max(err / largest);
        }
        println!(
            "seed {seed}: largest |gradient| {largest:.4e}, worst error / largest {worst:.2e}"
        );
    }
    assert_eq!(
        model.0 .0 .1.running_mean.as_vec(),
        before,
        "statistics untouched"
    );
}

#[test]
fn training_mode_would_give_another_score() {
    // The check above tells evaluation mode from training mode only if they differ here.
    let mut model = network();
    let img = image(11);
    let (value, _) = input_gradient(&model, &img, 3).unwrap();
    let dev: Cpu = model.0 .0 .0.weight.device().clone();
    let x = dev.tensor_from_vec(
        img.clone(),
        (Const::<1>, Const::<3>, Const::<32>, Const::<32>),
    );
    let train = model
        .forward_mut(x.leaky_traced())
        .retaped::<NoneTape>()
        .as_vec()[3];
    assert!(
        (train - value).abs() > 1e-3,
        "training {train}, evaluation {value}"
    );
}

#[test]
fn bad_input_is_an_error() {
    let model = network();
    assert!(input_gradient(&model, &[0.0; 100], 0).is_err());
    let e = input_gradient(&model, &image(1), 10)
        .unwrap_err()
        .to_string();
    assert!(e.contains("class 10") && !e.contains('\n'), "{e}");
}
