//! The fused inference paths against the unfused layers and naive loops: the convolution
//! blocks that fold batch norm and ReLU into the convolution's output (both models' orders,
//! both convolution kernels, each case asserting which kernel the layers choose for it), the whole `cifar` model against the plain tuple of its layers
//! (same checkpoint), and max pooling's vectorised rows against a naive scan with ties and
//! NaNs.

use crate::reference::*;
use alexnet_lab::layers::cpu::winograd;
use alexnet_lab::layers::spec::{ConvSpec, Epilogue};
use alexnet_lab::layers::{self, builders};
use alexnet_lab::model::{ConvBnRelu, ConvReluBn};
use alexnet_lab::prelude::*;

/// `max(conv + bias, 0) * a + c` per channel (the article block before its pool), from the
/// plain loops.
fn naive_conv_relu_bn<
    const I: usize,
    const O: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    const OS: usize,
    const C: usize,
>(
    batch: usize,
    side: usize,
    x: &[f32],
    conv: &layers::Conv2D<I, O, K, S, P, OS, 1, f32, Cpu>,
    bn: &layers::BatchNorm2D<C, f32, Cpu>,
) -> Vec<f64> {
    let s = Conv {
        b: batch,
        c: I,
        o: O,
        k: K,
        s: S,
        p: P,
        g: 1,
        h: side,
        os: OS,
    };
    let y = conv_forward(
        s,
        &to64(x),
        &to64(&conv.weight.as_vec()),
        &to64(&conv.bias.as_vec()),
    );
    let (a, c) = bn_affine64(bn);
    let plane = s.os * s.os;
    y.iter()
        .enumerate()
        .map(|(i, v)| v.max(0.0) * a[i / plane % s.o] + c[i / plane % s.o])
        .collect()
}

/// Fused and unfused agree within `1e-6 * (1 + |unfused|)` everywhere (the same operations,
/// the epilogue's rounded once instead of twice), and both are finite.
fn assert_same(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g.is_finite() && w.is_finite() && (g - w).abs() <= 1e-6 * (1.0 + w.abs()),
            "{what}[{i}]: fused {g}, unfused {w}"
        );
    }
}

/// A square convolution of `batch` images, `i` channels of `side` x `side`, to `o` channels of
/// `os` x `os` (one group).
#[allow(clippy::too_many_arguments)]
fn square_conv(
    batch: usize,
    i: usize,
    o: usize,
    k: usize,
    stride: usize,
    pad: usize,
    side: usize,
    os: usize,
) -> ConvSpec {
    ConvSpec {
        batch,
        in_channels: i,
        out_channels: o,
        in_h: side,
        in_w: side,
        out_h: os,
        out_w: os,
        kernel: k,
        stride,
        pad,
        groups: 1,
    }
}

/// A `cifar` block (3x3 convolution, batch norm, ReLU) from `$i` channels on an odd 9x9
/// map (partial Winograd tiles) against the separate layers and against naive loops, on
/// the kernel `$winograd` says (asserted by its output's bits).
macro_rules! cifar_case {
    ($name:ident, $i:literal, winograd $winograd:literal) => {
        #[test]
        fn $name() {
            let dev = Cpu::seed_from_u64(1);
            let mut block = dev.build_module::<ConvBnRelu<$i, 7, 9>, f32>();
            randomise_bn(&mut block.1, 2);
            let x: Tensor<Rank4<3, $i, 9, 9>, f32, _> = dev.sample_normal();
            let fused = block.forward(x.clone()).as_vec();
            let unfused = block.1.forward(block.0.forward(x.clone())).relu().as_vec();
            assert_same("cifar block", &fused, &unfused);
            let (a, c) = block.1.try_folded().unwrap();
            assert_kernel(
                &square_conv(3, $i, 7, 3, 1, 1, 9, 9),
                $winograd,
                &fused,
                (
                    &x.as_vec(),
                    &block.0.weight.as_vec(),
                    &block.0.bias.as_vec(),
                ),
                &Epilogue::AffineRelu {
                    a: a.as_vec(),
                    c: c.as_vec(),
                },
            );

            let s = Conv {
                b: 3,
                c: $i,
                o: 7,
                k: 3,
                s: 1,
                p: 1,
                g: 1,
                h: 9,
                os: 9,
            };
            let conv = conv_forward(
                s,
                &to64(&x.as_vec()),
                &to64(&block.0.weight.as_vec()),
                &to64(&block.0.bias.as_vec()),
            );
            let (a, c) = bn_affine64(&block.1);
            let want: Vec<f64> = conv
                .iter()
                .enumerate()
                .map(|(i, v)| (v * a[i / 81 % 7] + c[i / 81 % 7]).max(0.0))
                .collect();
            assert_close("cifar block vs naive", &fused, &want, 1e-4);
            assert!(want.contains(&0.0) && want.iter().any(|&v| v > 0.0));
        }
    };
}

// The `cifar` block folds batch norm and ReLU within 1e-6 of the separate layers on both
// convolution kernels: from 3 channels (its first layer's) on im2col, from 16 on Winograd.
cifar_case!(cifar_block_folds_batch_norm_and_relu_on_im2col, 3, winograd false);
cifar_case!(cifar_block_folds_batch_norm_and_relu_on_winograd, 16, winograd true);

/// An `article` block (convolution, ReLU, batch norm, `NEXT`) against the separate layers
/// and against naive loops.
macro_rules! article_case {
    ($name:ident, $i:literal, $o:literal, $k:literal, $st:literal, $p:literal, $h:literal, $os:literal, winograd $w:literal, seeds $s1:literal $s2:literal $(, pool $pk:literal $ps:literal $pos:literal)?) => {
        #[test]
        fn $name() {
            let spec = square_conv(2, $i, $o, $k, $st, $p, $h, $os);
            assert_eq!(winograd::applies(&spec), $w, "the kernel");
            let dev = Cpu::seed_from_u64($s1);
            let mut block = dev.build_module::<ConvReluBn<
                $i,
                $o,
                $k,
                $st,
                $p,
                $os
                $(, builders::MaxPool2D<$pk, $ps, $pos>)?
            >, f32>();
            randomise_bn(&mut block.2, $s2);
            let x: Tensor<Rank4<2, $i, $h, $h>, f32, _> = dev.sample_normal();
            let fused = block.forward(x.clone()).as_vec();
            // `NEXT` (`.3`): the pool, or `()`, which passes its input on.
            let y = block.0.forward(x.clone()).relu();
            let unfused = block.3.forward(block.2.forward(y)).as_vec();
            assert_same("article block", &fused, &unfused);

            let want = naive_conv_relu_bn(2, $h, &x.as_vec(), &block.0, &block.2);
            $(let want = pool_forward(true, 2 * $o, $os, $pk, $ps, $pos, &want);)?
            assert_close("article block vs naive", &fused, &want, 1e-4);

            // The kernel that ran: its output, with the block's epilogue, through `NEXT` is
            // the block's, bit for bit (and the other kernel's is not).
            let (a, c) = block.2.try_folded().unwrap();
            let epilogue = Epilogue::ReluAffine { a: a.as_vec(), c: c.as_vec() };
            let (xv, wv, bv) = (x.as_vec(), block.0.weight.as_vec(), block.0.bias.as_vec());
            let then_next = |conv: Vec<f32>| {
                let conv = dev.tensor_from_vec(conv, Rank4::<2, $o, $os, $os>::default());
                block.3.forward(conv).as_vec()
            };
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            let im2col = bits(&then_next(layers::cpu::conv::forward(&spec, &xv, &wv, &bv, &epilogue)));
            if $w {
                let direct = winograd::forward(&spec, &xv, &wv, &bv, &epilogue, false).0;
                assert_eq!(bits(&fused), bits(&then_next(direct)), "not Winograd's output");
                assert_ne!(bits(&fused), im2col, "im2col's output");
            } else {
                assert_eq!(bits(&fused), im2col, "not im2col's output");
            }
        }
    };
}

// im2col kernel: the first layer's 11x11 stride 4, the second's 5x5 pad 2, each with its pool.
article_case!(article_block_11x11_stride_4_then_pool, 3, 6, 11, 4, 0, 27, 5, winograd false, seeds 3 4, pool 3 2 2);
article_case!(article_block_5x5_pad_2_then_pool, 4, 6, 5, 1, 2, 9, 9, winograd false, seeds 3 4, pool 3 2 4);
// Winograd kernel: the 3x3 layers on an odd 13x13 map, without a pool.
article_case!(article_block_3x3_on_13x13, 16, 8, 3, 1, 1, 13, 13, winograd true, seeds 5 6);

/// The `cifar` model as the plain tuple of its layers, as it was written before its
/// convolution blocks fused inference.
type CifarLayers = (
    (
        (builders::Conv2D<3, 64, 3, 1, 1, 32>, BatchNorm2D<64>, ReLU),
        MaxPool2D<2, 2, 16>,
    ),
    (
        (
            builders::Conv2D<64, 192, 3, 1, 1, 16>,
            BatchNorm2D<192>,
            ReLU,
        ),
        MaxPool2D<2, 2, 8>,
    ),
    (
        builders::Conv2D<192, 384, 3, 1, 1, 8>,
        BatchNorm2D<384>,
        ReLU,
    ),
    (
        builders::Conv2D<384, 256, 3, 1, 1, 8>,
        BatchNorm2D<256>,
        ReLU,
    ),
    (
        (
            builders::Conv2D<256, 256, 3, 1, 1, 8>,
            BatchNorm2D<256>,
            ReLU,
        ),
        MaxPool2D<2, 2, 4>,
    ),
    (
        builders::Flatten<4096>,
        (Dropout, Linear<4096, 1024>, ReLU),
        (Dropout, Linear<1024, 1024>, ReLU),
        Linear<1024, 10>,
    ),
);

#[test]
fn cifar_model_keeps_its_checkpoint_names_and_infers_as_its_plain_layers_do() {
    let dev = Cpu::seed_from_u64(7);
    let mut model = dev.build_module::<Cifar, f32>();
    randomise_bn(&mut model.0 .0 .1, 8);
    randomise_bn(&mut model.1 .0 .1, 9);
    randomise_bn(&mut model.2 .1, 10);
    randomise_bn(&mut model.3 .1, 11);
    randomise_bn(&mut model.4 .0 .1, 12);
    let dir = empty_dir("inference-cifar");
    let path = dir.join("cifar.safetensors");
    model.save_safetensors(&path).unwrap();
    let mut plain = dev.build_module::<CifarLayers, f32>();
    plain.load_safetensors(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        plain.0 .0 .1.running_var.as_vec(),
        model.0 .0 .1.running_var.as_vec()
    );

    let x: Tensor<Rank4<2, 3, 32, 32>, f32, _> = dev.sample_normal();
    let fused = model.forward(x.clone()).as_vec();
    let unfused = plain.forward(x).as_vec();
    assert_same("cifar logits", &fused, &unfused);
}

#[test]
fn max_pool_rows_match_a_naive_scan_with_ties_and_nans_in_training_and_inference() {
    // Wide rows (27 outputs) and a 3x3 stride-2 window (the article's pools), values on a
    // coarse grid so that windows tie, and a few NaNs.
    const B: usize = 2;
    const C: usize = 3;
    const H: usize = 55;
    const OS: usize = 27;
    let dev = Cpu::seed_from_u64(13);
    let noise: Tensor<Rank4<B, C, H, H>, f32, _> = dev.sample_normal();
    let xv: Vec<f32> = noise
        .as_vec()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if i % 97 == 5 {
                f32::NAN
            } else {
                (v * 2.0).round()
            }
        })
        .collect();
    let x: Tensor<Rank4<B, C, H, H>, f32, _> = dev.tensor(xv.clone());
    let r: Tensor<Rank4<B, C, OS, OS>, f32, _> = dev.sample_normal();
    let y = MaxPool2D::<3, 2, OS>.forward(x.leaky_trace());
    let got = y.retaped::<NoneTape>().as_vec();
    // Inference (no tape) has its own kernel, with no winners to keep: the same values.
    let eval = MaxPool2D::<3, 2, OS>.forward(x.clone()).as_vec();
    let grads = (y * r.clone()).sum().backward();
    let gx = grads.get(&x).as_vec();

    // The naive scan: row-major, a larger value or a NaN takes the window.
    let rv = r.as_vec();
    let mut want_gx = vec![0f32; xv.len()];
    for p in 0..B * C {
        for i in 0..OS {
            for j in 0..OS {
                let mut best = (f32::NEG_INFINITY, usize::MAX);
                for ki in 0..3 {
                    for kj in 0..3 {
                        let at = (p * H + 2 * i + ki) * H + 2 * j + kj;
                        let v = xv[at];
                        if best.1 == usize::MAX || v > best.0 || v.is_nan() {
                            best = (v, at);
                        }
                    }
                }
                let out = (p * OS + i) * OS + j;
                let g = got[out];
                assert!(
                    g.to_bits() == best.0.to_bits() || (g.is_nan() && best.0.is_nan()),
                    "output {out}: got {g}, want {}",
                    best.0
                );
                // The inference kernel meets the candidates column by column: the same
                // value, but a tie of 0.0 and -0.0 may keep either sign.
                let e = eval[out];
                assert!(
                    e == best.0 || (e.is_nan() && best.0.is_nan()),
                    "inference output {out}: got {e}, want {}",
                    best.0
                );
                want_gx[best.1] += rv[out];
            }
        }
    }
    assert_eq!(gx, want_gx, "the gradient goes to the first winner");
}
