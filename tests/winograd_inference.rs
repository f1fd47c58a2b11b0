//! Inference of 3x3 stride-1 convolutions by Winograd's F(4x4, 3x3), against naive loops in
//! `f64`: whole layers of the `cifar` and `article` models'
//! sizes, odd sizes that leave partial tiles, paddings 0 to 2, batches of several blocks,
//! outputs split into channel chunks, and every epilogue; through `winograd::forward`
//! directly and through the layers (`Conv2D` without a tape, the models' fused blocks).
//!
//! `cargo test --release --test all winograd_inference:: -- --nocapture` prints each case's error
//! next to that of F(2x2, 3x3) (the training tile) on the same numbers.

use crate::reference::*;
use alexnet_lab::layers::builders;
use alexnet_lab::layers::cpu::winograd;
use alexnet_lab::layers::spec::{ConvSpec, Epilogue};
use alexnet_lab::model::{ConvBnRelu, ConvReluBn};
use alexnet_lab::prelude::*;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rand_distr::StandardNormal;

/// The tests' tolerance for inference (as in `tests/layers.rs` and `tests/inference.rs`):
/// `|got - want| <= TOL * (1 + |want|)`.
const TOL: f64 = 1e-4;
/// On the models' own layers (the README quotes both): F(4x4, 3x3), for inference, within
/// this of the `f64` loops ...
const F43_ON_MODEL_LAYERS: f64 = 4e-5;
/// ... and F(2x2, 3x3), for training, within this.
const F23_ON_MODEL_LAYERS: f64 = 2e-6;

/// [`check`] on one of the models' layers, held to the bounds above.
fn check_model_layer(case: Case, seed: u64) {
    let (e43, e23) = check(case, &Epilogue::Identity, seed);
    assert!(
        e43 <= F43_ON_MODEL_LAYERS,
        "{case:?}: F(4x4) off by {e43:.2e}"
    );
    assert!(
        e23 <= F23_ON_MODEL_LAYERS,
        "{case:?}: F(2x2) off by {e23:.2e}"
    );
}

/// One square 3x3 stride-1 convolution.
#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    c: usize,
    o: usize,
    side: usize,
    pad: usize,
}

impl Case {
    fn spec(self) -> ConvSpec {
        let os = self.side + 2 * self.pad - 2;
        ConvSpec {
            batch: self.batch,
            in_channels: self.c,
            out_channels: self.o,
            in_h: self.side,
            in_w: self.side,
            out_h: os,
            out_w: os,
            kernel: 3,
            stride: 1,
            pad: self.pad,
            groups: 1,
        }
    }
    fn reference(self) -> Conv {
        Conv {
            b: self.batch,
            c: self.c,
            o: self.o,
            k: 3,
            s: 1,
            p: self.pad,
            g: 1,
            h: self.side,
            os: self.side + 2 * self.pad - 2,
        }
    }
}

/// The largest `|got - want| / (1 + |want|)`: what [`TOL`] bounds; NaN when any entry is
/// NaN (`f64::max` would skip it).
fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (f64::from(g) - w).abs() / (1.0 + w.abs()))
        .fold(0.0, |m, e| if e.is_nan() || e > m { e } else { m })
}

/// `epilogue` applied in `f64` to the convolution `y` of `o` channels of `plane` values.
fn apply64(epilogue: &Epilogue, o: usize, plane: usize, y: &[f64]) -> Vec<f64> {
    let ch = |v: &[f32], i: usize| f64::from(v[i / plane % o]);
    y.iter()
        .enumerate()
        .map(|(i, &v)| match epilogue {
            Epilogue::Identity => v,
            Epilogue::Relu => v.max(0.0),
            Epilogue::AffineRelu { a, c } => (v * ch(a, i) + ch(c, i)).max(0.0),
            Epilogue::ReluAffine { a, c } => v.max(0.0) * ch(a, i) + ch(c, i),
        })
        .collect()
}

/// Runs `case` by `winograd::forward` for inference (F(4x4, 3x3)) and, on the same numbers,
/// for training (F(2x2, 3x3)), with inputs from a standard normal and weights and bias as
/// `Conv2D` initialises them (uniform in `±1 / sqrt(fan_in)`); checks both against the
/// naive loops and returns both errors ([`rel_err`]).
fn check(case: Case, epilogue: &Epilogue, seed: u64) -> (f64, f64) {
    let (s, r) = (case.spec(), case.reference());
    // A shape the kernel computes, whatever its channels (called directly here; the layers
    // send it there from `winograd::MIN_CHANNELS_3X3` input channels).
    assert!(winograd::fits(&s) && s.kernel == 3);
    let mut rng = StdRng::seed_from_u64(seed);
    let x: Vec<f32> = (0..s.batch * s.in_channels * s.in_h * s.in_w)
        .map(|_| rng.sample(StandardNormal))
        .collect();
    let bound = 1.0 / ((s.in_channels * 9) as f32).sqrt();
    let mut uniform =
        |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-bound..bound)).collect() };
    let (w, bias) = (
        uniform(s.out_channels * s.in_channels * 9),
        uniform(s.out_channels),
    );
    let want = conv_forward(r, &to64(&x), &to64(&w), &to64(&bias));
    let want = apply64(epilogue, s.out_channels, s.out_len(), &want);
    let (f43, saved) = winograd::forward(&s, &x, &w, &bias, epilogue, false);
    assert!(saved.is_none());
    let (f23, saved) = winograd::forward(&s, &x, &w, &bias, epilogue, true);
    assert!(saved.is_some());
    let (e43, e23) = (rel_err(&f43, &want), rel_err(&f23, &want));
    println!(
        "{case:?} {}: F(4x4) {e43:.2e}, F(2x2) {e23:.2e}",
        name(epilogue)
    );
    assert_close(&format!("{case:?} {}", name(epilogue)), &f43, &want, TOL);
    assert_close(
        &format!("{case:?} {}, F(2x2)", name(epilogue)),
        &f23,
        &want,
        TOL,
    );
    (e43, e23)
}

fn name(epilogue: &Epilogue) -> &'static str {
    match epilogue {
        Epilogue::Identity => "identity",
        Epilogue::Relu => "relu",
        Epilogue::AffineRelu { .. } => "affine, relu",
        Epilogue::ReluAffine { .. } => "relu, affine",
    }
}

/// The four epilogues, the affine ones with scales of both signs for `o` channels.
fn epilogues(o: usize) -> [Epilogue; 4] {
    let a: Vec<f32> = (0..o).map(|i| (i % 7) as f32 * 0.4 - 1.1).collect();
    let c: Vec<f32> = (0..o).map(|i| (i % 5) as f32 * 0.3 - 0.5).collect();
    [
        Epilogue::Identity,
        Epilogue::Relu,
        Epilogue::AffineRelu {
            a: a.clone(),
            c: c.clone(),
        },
        Epilogue::ReluAffine { a, c },
    ]
}

#[test]
fn f43_matches_naive_loops_on_cifar_layers() {
    // 16x16 and 8x8 outputs are whole tiles; 128 outputs come in two channel chunks.
    for (side, batch) in [(16, 4), (8, 8)] {
        let case = Case {
            batch,
            c: 64,
            o: 128,
            side,
            pad: 1,
        };
        check_model_layer(case, side as u64);
    }
}

#[test]
fn f43_matches_naive_loops_on_article_layers() {
    // 13x13 outputs: four tiles across, the last with three of its four columns (and rows)
    // past the edge.
    check_model_layer(
        Case {
            batch: 2,
            c: 256,
            o: 384,
            side: 13,
            pad: 1,
        },
        3,
    );
    check_model_layer(
        Case {
            batch: 2,
            c: 384,
            o: 256,
            side: 13,
            pad: 1,
        },
        4,
    );
}

#[test]
fn f43_matches_naive_loops_with_partial_tiles_paddings_blocks_chunks_and_epilogues() {
    let mut seed = 10;
    // Outputs of every size modulo 4, from every padding, including maps of one tile and
    // less than one.
    for (side, pad) in [
        (3, 0),
        (4, 0),
        (9, 0),
        (11, 0),
        (2, 1),
        (5, 1),
        (6, 1),
        (7, 1),
        (1, 2),
        (5, 2),
        (7, 2),
    ] {
        for ep in epilogues(9) {
            seed += 1;
            check(
                Case {
                    batch: 3,
                    c: 5,
                    o: 9,
                    side,
                    pad,
                },
                &ep,
                seed,
            );
        }
    }
    // Several blocks of images, the last one short; 100 outputs in chunks of 64 and 36.
    for ep in epilogues(100) {
        seed += 1;
        check(
            Case {
                batch: 37,
                c: 24,
                o: 100,
                side: 10,
                pad: 1,
            },
            &ep,
            seed,
        );
    }
}

/// `case`'s input, weights and bias through a `Conv2D` (the layer builds with random
/// weights), as its inference forward pass computes them, against the naive loops; and
/// the same bit for bit as `winograd::forward` for inference.
macro_rules! layer_case {
    ($name:ident, B = $b:literal, C = $c:literal, O = $o:literal, P = $p:literal, H = $h:literal, OS = $os:literal) => {
        #[test]
        fn $name() {
            let case = Case {
                batch: $b,
                c: $c,
                o: $o,
                side: $h,
                pad: $p,
            };
            let dev = Cpu::seed_from_u64($h);
            let conv = dev.build_module::<builders::Conv2D<$c, $o, 3, 1, $p, $os>, f32>();
            let x: Tensor<Rank4<$b, $c, $h, $h>, f32, _> = dev.sample_normal();
            let (xv, wv, bv) = (x.as_vec(), conv.weight.as_vec(), conv.bias.as_vec());
            let got = conv.forward(x).as_vec();
            let want = conv_forward(case.reference(), &to64(&xv), &to64(&wv), &to64(&bv));
            assert_close("Conv2D inference", &got, &want, TOL);
            assert_kernel(
                &case.spec(),
                true,
                &got,
                (&xv, &wv, &bv),
                &Epilogue::Identity,
            );
        }
    };
}

layer_case!(
    conv2d_inference_64_to_128_at_16,
    B = 2,
    C = 64,
    O = 128,
    P = 1,
    H = 16,
    OS = 16
);
layer_case!(
    conv2d_inference_odd_13_pad_0,
    B = 3,
    C = 16,
    O = 5,
    P = 0,
    H = 13,
    OS = 11
);
layer_case!(
    conv2d_inference_odd_7_pad_2,
    B = 3,
    C = 16,
    O = 5,
    P = 2,
    H = 7,
    OS = 9
);

#[test]
fn cifar_block_infers_within_tolerance() {
    // The `cifar` model's second block: 64 -> 192 at 16x16, batch norm, ReLU.
    let dev = Cpu::seed_from_u64(21);
    let mut block = dev.build_module::<ConvBnRelu<64, 192, 16>, f32>();
    randomise_bn(&mut block.1, 22);
    let x: Tensor<Rank4<2, 64, 16, 16>, f32, _> = dev.sample_normal();
    let got = block.forward(x.clone()).as_vec();
    let case = Case {
        batch: 2,
        c: 64,
        o: 192,
        side: 16,
        pad: 1,
    };
    let (w, b) = (block.0.weight.as_vec(), block.0.bias.as_vec());
    let y = conv_forward(case.reference(), &to64(&x.as_vec()), &to64(&w), &to64(&b));
    let (a, c) = bn_affine64(&block.1);
    let want: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(i, v)| (v * a[i / 256 % 192] + c[i / 256 % 192]).max(0.0))
        .collect();
    println!("cifar block: {:.2e}", rel_err(&got, &want));
    assert_close("cifar block", &got, &want, TOL);
}

#[test]
fn article_block_infers_within_tolerance() {
    // The `article` model's conv4: 384 -> 384 at 13x13, ReLU, batch norm.
    let dev = Cpu::seed_from_u64(23);
    let mut block = dev.build_module::<ConvReluBn<384, 384, 3, 1, 1, 13>, f32>();
    randomise_bn(&mut block.2, 24);
    let x: Tensor<Rank4<1, 384, 13, 13>, f32, _> = dev.sample_normal();
    let got = block.forward(x.clone()).as_vec();
    let case = Case {
        batch: 1,
        c: 384,
        o: 384,
        side: 13,
        pad: 1,
    };
    let (w, b) = (block.0.weight.as_vec(), block.0.bias.as_vec());
    let y = conv_forward(case.reference(), &to64(&x.as_vec()), &to64(&w), &to64(&b));
    let (a, c) = bn_affine64(&block.2);
    let want: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(i, v)| v.max(0.0) * a[i / 169 % 384] + c[i / 169 % 384])
        .collect();
    println!("article block: {:.2e}", rel_err(&got, &want));
    assert_close("article block", &got, &want, TOL);
}
