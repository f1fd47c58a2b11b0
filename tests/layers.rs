//! Every layer, on both paths (the CPU kernels and the device-generic dfdx-ops path),
//! against the crate's naive loops (`alexnet_lab::reference`, forward and backward) and
//! finite differences; and the loops themselves against finite differences.

use crate::reference::*;
use alexnet_lab::layers::{any_device, spec::*, CpuPath};
use alexnet_lab::prelude::*;
use alexnet_lab::reference::softmax;

/// A tensor of `f32` on the CPU, without a tape.
type Cpu32<S> = Tensor<S, f32, Cpu>;

/// A traced layer output `y` against the reference output, then the gradients of
/// `sum(y * r)` for the input `x` and the parameters `w` and `b` against theirs.
#[allow(clippy::too_many_arguments)]
fn assert_traced<S: Shape, Sx: Shape, Sw: Shape, Sb: Shape>(
    path: &str,
    y: Tensor<S, f32, Cpu, OwnedTape<f32, Cpu>>,
    r: &Tensor<S, f32, Cpu>,
    (x, w, b): (&Cpu32<Sx>, &Cpu32<Sw>, &Cpu32<Sb>),
    [want_y, want_gx, want_gw, want_gb]: [&[f64]; 4],
    tol: f64,
) {
    assert_close(
        &format!("{path} y"),
        &y.retaped::<NoneTape>().as_vec(),
        want_y,
        tol,
    );
    let grads = (y * r.clone()).sum().backward();
    assert_close(&format!("{path} gx"), &grads.get(x).as_vec(), want_gx, tol);
    assert_close(&format!("{path} gw"), &grads.get(w).as_vec(), want_gw, tol);
    assert_close(&format!("{path} gb"), &grads.get(b).as_vec(), want_gb, tol);
}

/// Forward and all three gradients of `Conv2D` on both paths against the naive loops.
macro_rules! conv_case {
    ($name:ident, B = $b:literal, C = $c:literal, O = $o:literal, K = $k:literal, S = $s:literal,
     P = $p:literal, G = $g:literal, H = $h:literal, OS = $os:literal $(, WINOGRAD = $w:literal)?) => {
        #[test]
        fn $name() {
            let cfg = Conv {
                b: $b,
                c: $c,
                o: $o,
                k: $k,
                s: $s,
                p: $p,
                g: $g,
                h: $h,
                os: $os,
            };
            let dev = Cpu::seed_from_u64(7);
            let conv = dev.build_module::<builders::Conv2D<$c, $o, $k, $s, $p, $os, $g>, f32>();
            let x: Tensor<Rank4<$b, $c, $h, $h>, f32, _> = dev.sample_normal();
            let r: Tensor<Rank4<$b, $o, $os, $os>, f32, _> = dev.sample_normal();
            let (xv, wv, bv) = (
                to64(&x.as_vec()),
                to64(&conv.weight.as_vec()),
                to64(&conv.bias.as_vec()),
            );
            let want_y = conv_forward(cfg, &xv, &wv, &bv);
            let (want_gx, want_gw, want_gb) = conv_backward(cfg, &xv, &wv, &to64(&r.as_vec()));

            // The CPU kernels, without a tape (inference) and through dfdx's tape.
            let y_inference = conv.forward(x.clone()).as_vec();
            assert_close("cpu y (inference)", &y_inference, &want_y, 1e-4);
            let params = (&x, &conv.weight, &conv.bias);
            let want = [&want_y[..], &want_gx, &want_gw, &want_gb];
            assert_traced("cpu", conv.forward(x.leaky_trace()), &r, params, want, 1e-4);

            // The device-generic path (what CUDA runs), on the same numbers.
            let spec = ConvSpec {
                batch: $b,
                in_channels: $c,
                out_channels: $o,
                in_h: $h,
                in_w: $h,
                out_h: $os,
                out_w: $os,
                kernel: $k,
                stride: $s,
                pad: $p,
                groups: $g,
            };
            let y: Tensor<Rank4<$b, $o, $os, $os>, f32, _, _> = any_device::conv2d(
                spec,
                x.leaky_trace(),
                &conv.weight,
                &conv.bias,
                Default::default(),
            )
            .unwrap();
            assert_traced("generic", y, &r, params, want, 1e-4);
            // The cases marked WINOGRAD = true are there for the Winograd kernel; the others for im2col.
            let (x, w, b) = (x.as_vec(), conv.weight.as_vec(), conv.bias.as_vec());
            let winograd = false $(|| $w)?;
            assert_kernel(
                &spec,
                winograd,
                &y_inference,
                (&x, &w, &b),
                &Epilogue::Identity,
            );
            // And the training pass, forward and backward, on that same kernel.
            let xt = dev.tensor_from_vec(x.clone(), Rank4::<$b, $c, $h, $h>::default());
            let y = conv.forward(xt.leaky_trace());
            let y_train = y.retaped::<NoneTape>().as_vec();
            let gx = (y * r.clone()).sum().backward().get(&xt).as_vec();
            assert_training_kernel(&spec, winograd, (&y_train, &gx), (&x, &w, &b), &r.as_vec());
        }
    };
}

conv_case!(
    conv_3x3_pad_1,
    B = 2,
    C = 3,
    O = 4,
    K = 3,
    S = 1,
    P = 1,
    G = 1,
    H = 7,
    OS = 7
);
// 3x3 stride-1 convolutions with 16 input channels or more take the Winograd path on the
// CPU: odd and even sizes, every padding, and batches cut into several blocks of images
// with a partial last one.
conv_case!(
    winograd_several_blocks,
    B = 3,
    C = 16,
    O = 7,
    K = 3,
    S = 1,
    P = 1,
    G = 1,
    H = 16,
    OS = 16,
    WINOGRAD = true
);
conv_case!(
    winograd_pad_0_odd_output,
    B = 2,
    C = 16,
    O = 3,
    K = 3,
    S = 1,
    P = 0,
    G = 1,
    H = 9,
    OS = 7,
    WINOGRAD = true
);
conv_case!(
    winograd_pad_2,
    B = 2,
    C = 16,
    O = 4,
    K = 3,
    S = 1,
    P = 2,
    G = 1,
    H = 5,
    OS = 7,
    WINOGRAD = true
);
conv_case!(
    winograd_article_13x13_wide,
    B = 3,
    C = 32,
    O = 24,
    K = 3,
    S = 1,
    P = 1,
    G = 1,
    H = 13,
    OS = 13,
    WINOGRAD = true
);
// More output channels than the backward pass transforms at once on 16x16 maps (over 4 MiB
// of them go 256 at a time): its products then add up over three pieces of output
// channels, the last partial.
conv_case!(
    winograd_output_channels_in_chunks,
    B = 2,
    C = 16,
    O = 528,
    K = 3,
    S = 1,
    P = 1,
    G = 1,
    H = 16,
    OS = 16,
    WINOGRAD = true
);
// 5x5 stride-1 convolutions with 32 input channels or more take the F(2x2, 5x5) Winograd
// path on the CPU: every padding it takes, odd and even sizes, several blocks, and a
// conv2-like layer with many channels.
conv_case!(
    winograd_5x5_pad_2,
    B = 2,
    C = 32,
    O = 4,
    K = 5,
    S = 1,
    P = 2,
    G = 1,
    H = 9,
    OS = 9,
    WINOGRAD = true
);
conv_case!(
    winograd_5x5_pad_0_odd_output,
    B = 2,
    C = 32,
    O = 3,
    K = 5,
    S = 1,
    P = 0,
    G = 1,
    H = 11,
    OS = 7,
    WINOGRAD = true
);
conv_case!(
    winograd_5x5_pad_4_several_blocks,
    B = 3,
    C = 32,
    O = 7,
    K = 5,
    S = 1,
    P = 4,
    G = 1,
    H = 8,
    OS = 12,
    WINOGRAD = true
);
conv_case!(
    winograd_5x5_pad_1_even_output,
    B = 2,
    C = 32,
    O = 2,
    K = 5,
    S = 1,
    P = 1,
    G = 1,
    H = 16,
    OS = 14,
    WINOGRAD = true
);
conv_case!(
    winograd_5x5_article_conv2_27x27_wide,
    B = 2,
    C = 96,
    O = 32,
    K = 5,
    S = 1,
    P = 2,
    G = 1,
    H = 27,
    OS = 27,
    WINOGRAD = true
);
// More output channels than one product of a 27x27 block takes at once (64), and over the
// backward pass's 4 MiB: three pieces each way, the last partial.
conv_case!(
    winograd_5x5_output_channels_in_chunks,
    B = 2,
    C = 32,
    O = 160,
    K = 5,
    S = 1,
    P = 2,
    G = 1,
    H = 27,
    OS = 27,
    WINOGRAD = true
);
conv_case!(
    conv_alexnet_11x11_stride_4,
    B = 2,
    C = 3,
    O = 5,
    K = 11,
    S = 4,
    P = 0,
    G = 1,
    H = 31,
    OS = 6
);
conv_case!(
    conv_alexnet_5x5_pad_2_two_groups,
    B = 2,
    C = 4,
    O = 6,
    K = 5,
    S = 1,
    P = 2,
    G = 2,
    H = 9,
    OS = 9
);
conv_case!(
    conv_stride_2_pad_1_three_groups,
    B = 1,
    C = 6,
    O = 6,
    K = 3,
    S = 2,
    P = 1,
    G = 3,
    H = 8,
    OS = 4
);
conv_case!(
    conv_1x1,
    B = 3,
    C = 2,
    O = 3,
    K = 1,
    S = 1,
    P = 0,
    G = 1,
    H = 5,
    OS = 5
);
conv_case!(
    conv_stride_3_uneven,
    B = 2,
    C = 2,
    O = 2,
    K = 4,
    S = 3,
    P = 2,
    G = 1,
    H = 10,
    OS = 4
);

/// A test: a convolution's three gradients, on a batch of 2, against finite differences of
/// the plain loops.
macro_rules! conv_gradients_against_finite_differences {
    ($(#[$doc:meta])* $name:ident, seed $seed:literal,
     C = $c:literal, O = $o:literal, K = $k:literal, S = $s:literal, P = $p:literal,
     OS = $os:literal, G = $g:literal, H = $h:literal) => {
        $(#[$doc])*
        #[test]
        fn $name() {
            let cfg = Conv {
                b: 2,
                c: $c,
                o: $o,
                k: $k,
                s: $s,
                p: $p,
                g: $g,
                h: $h,
                os: $os,
            };
            let dev = Cpu::seed_from_u64($seed);
            let conv = dev.build_module::<builders::Conv2D<$c, $o, $k, $s, $p, $os, $g>, f32>();
            let x: Tensor<Rank4<2, $c, $h, $h>, f32, _> = dev.sample_normal();
            let r: Tensor<Rank4<2, $o, $os, $os>, f32, _> = dev.sample_normal();
            let grads = (conv.forward(x.leaky_trace()) * r.clone()).sum().backward();
            let (xv, wv, bv, rv) = (
                to64(&x.as_vec()),
                to64(&conv.weight.as_vec()),
                to64(&conv.bias.as_vec()),
                to64(&r.as_vec()),
            );
            let fd_x = finite_diff(&xv, &rv, |x| conv_forward(cfg, x, &wv, &bv));
            let fd_w = finite_diff(&wv, &rv, |w| conv_forward(cfg, &xv, w, &bv));
            let fd_b = finite_diff(&bv, &rv, |b| conv_forward(cfg, &xv, &wv, b));
            assert_close("gx", &grads.get(&x).as_vec(), &fd_x, 1e-3);
            assert_close("gw", &grads.get(&conv.weight).as_vec(), &fd_w, 1e-3);
            assert_close("gb", &grads.get(&conv.bias).as_vec(), &fd_b, 1e-3);
        }
    };
}

conv_gradients_against_finite_differences!(
    /// 3x3 stride 2, two groups: the im2col path.
    conv_gradients_match_finite_differences, seed 3,
    C = 2, O = 4, K = 3, S = 2, P = 1, OS = 3, G = 2, H = 5
);
conv_gradients_against_finite_differences!(
    /// 5x5 pad 2 from 32 channels: Winograd's forward pass and input gradient, im2col's
    /// weight gradient.
    winograd_5x5_gradients_match_finite_differences, seed 5,
    C = 32, O = 2, K = 5, S = 1, P = 2, OS = 6, G = 1, H = 6
);

/// Distinct values a step of 0.01 apart, shuffled, so each max is unique and a finite
/// difference cannot change which element wins.
fn distinct(n: usize, seed: u64) -> Vec<f32> {
    let mut v: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - n as f32 * 0.005).collect();
    let mut state = seed;
    for i in (1..n).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, (state >> 33) as usize % (i + 1));
    }
    v
}

macro_rules! pool_case {
    ($name:ident, $layer:ident, $max:literal, B = $b:literal, C = $c:literal, H = $h:literal,
     K = $k:literal, S = $s:literal, OS = $os:literal) => {
        #[test]
        fn $name() {
            let dev = Cpu::seed_from_u64(11);
            let x: Tensor<Rank4<$b, $c, $h, $h>, f32, _> =
                dev.tensor(distinct($b * $c * $h * $h, 5));
            let r: Tensor<Rank4<$b, $c, $os, $os>, f32, _> = dev.sample_normal();
            let (xv, rv) = (to64(&x.as_vec()), to64(&r.as_vec()));
            let reference = |x: &[f64]| pool_forward($max, $b * $c, $h, $k, $s, $os, x);
            let want_y = reference(&xv);
            // Where the gradient goes, by the loops; the pooling gradient is piecewise
            // linear, so finite differences agree with it here.
            let want_gx = pool_backward($max, $b * $c, $h, $k, $s, $os, &xv, &rv);
            let fd = finite_diff(&xv, &rv, reference);
            let want32: Vec<f32> = want_gx.iter().map(|&v| v as f32).collect();
            assert_close("loops gx vs finite differences", &want32, &fd, 1e-6);

            let y = $layer::<$k, $s, $os>.forward(x.leaky_trace());
            assert_close("cpu y", &y.retaped::<NoneTape>().as_vec(), &want_y, 1e-5);
            let grads = (y * r.clone()).sum().backward();
            assert_close("cpu gx", &grads.get(&x).as_vec(), &want_gx, 1e-3);

            let spec = PoolSpec {
                kind: if $max { PoolKind::Max } else { PoolKind::Avg },
                batch: $b,
                channels: $c,
                in_h: $h,
                in_w: $h,
                out_h: $os,
                out_w: $os,
                kernel: $k,
                stride: $s,
            };
            let y: Tensor<Rank4<$b, $c, $os, $os>, f32, _, _> =
                any_device::pool2d(spec, x.leaky_trace(), Default::default()).unwrap();
            assert_close(
                "generic y",
                &y.retaped::<NoneTape>().as_vec(),
                &want_y,
                1e-5,
            );
            let grads = (y * r).sum().backward();
            assert_close("generic gx", &grads.get(&x).as_vec(), &want_gx, 1e-3);
        }
    };
}

pool_case!(
    max_pool_3x3_stride_2_overlapping,
    MaxPool2D,
    true,
    B = 2,
    C = 3,
    H = 13,
    K = 3,
    S = 2,
    OS = 6
);
pool_case!(
    max_pool_2x2,
    MaxPool2D,
    true,
    B = 2,
    C = 2,
    H = 8,
    K = 2,
    S = 2,
    OS = 4
);
pool_case!(
    max_pool_3x3_stride_3_drops_edge,
    MaxPool2D,
    true,
    B = 1,
    C = 2,
    H = 10,
    K = 3,
    S = 3,
    OS = 3
);
pool_case!(
    avg_pool_3x3_stride_2,
    AvgPool2D,
    false,
    B = 2,
    C = 3,
    H = 13,
    K = 3,
    S = 2,
    OS = 6
);
pool_case!(
    avg_pool_2x2,
    AvgPool2D,
    false,
    B = 1,
    C = 2,
    H = 6,
    K = 2,
    S = 2,
    OS = 3
);

#[test]
fn max_pool_takes_the_largest_not_the_mean() {
    let dev = Cpu::default();
    let x: Tensor<Rank4<1, 1, 4, 4>, f32, _> = dev.tensor([[[
        [1., 2., 5., 6.],
        [3., 4., 7., 8.],
        [-1., -2., 0., 0.],
        [-3., -9., 0., 1.],
    ]]]);
    assert_eq!(
        MaxPool2D::<2, 2, 2>.forward(x.clone()).array(),
        [[[[4., 8.], [-1., 1.]]]]
    );
    assert_eq!(
        AvgPool2D::<2, 2, 2>.forward(x).array(),
        [[[[2.5, 6.5], [-3.75, 0.25]]]]
    );
}

#[test]
fn lrn_matches_the_paper_formula_and_finite_differences() {
    const B: usize = 2;
    const C: usize = 7;
    const H: usize = 3;
    let dev = Cpu::seed_from_u64(13);
    // Large activations, so the denominator's alpha * sum(a^2) term matters.
    let x: Tensor<Rank4<B, C, H, H>, f32, _> = dev.sample_normal::<Rank4<B, C, H, H>>() * 40.0;
    let r: Tensor<Rank4<B, C, H, H>, f32, _> = dev.sample_normal();
    let (xv, rv) = (to64(&x.as_vec()), to64(&r.as_vec()));
    let reference = |x: &[f64]| lrn_forward(B, C, H * H, 5, x);
    let (want_y, want_gx) = (reference(&xv), finite_diff(&xv, &rv, reference));

    let y = LocalResponseNorm::<5>.forward(x.leaky_trace());
    assert_close("cpu y", &y.retaped::<NoneTape>().as_vec(), &want_y, 1e-4);
    let grads = (y * r.clone()).sum().backward();
    assert_close("cpu gx", &grads.get(&x).as_vec(), &want_gx, 1e-3);

    let spec = LrnSpec {
        batch: B,
        channels: C,
        plane: H * H,
        size: 5,
        alpha: 1e-4,
        beta: 0.75,
        k: 2.0,
    };
    let y = any_device::lrn(spec, x.leaky_trace()).unwrap();
    assert_close(
        "generic y",
        &y.retaped::<NoneTape>().as_vec(),
        &want_y,
        1e-4,
    );
    let grads = (y * r).sum().backward();
    assert_close("generic gx", &grads.get(&x).as_vec(), &want_gx, 1e-3);
}

#[test]
fn flatten_keeps_row_major_order() {
    let dev = Cpu::default();
    let x: Tensor<Rank4<2, 2, 2, 2>, f32, _> =
        dev.tensor((0..16).map(|i| i as f32).collect::<Vec<_>>());
    let y: Tensor<Rank2<2, 8>, f32, _> = Flatten::<8>.forward(x);
    assert_eq!(y.array()[1], [8., 9., 10., 11., 12., 13., 14., 15.]);
}

#[test]
fn conv_init_is_pytorch_uniform_in_one_over_sqrt_fan_in() {
    let dev = Cpu::seed_from_u64(0);
    let conv = dev.build_module::<builders::Conv2D<96, 256, 5, 1, 2, 27, 2>, f32>();
    let bound = 1.0 / ((96 / 2 * 5 * 5) as f32).sqrt(); // fan_in = 48 * 25 = 1200
    let w = conv.weight.as_vec();
    assert_eq!(w.len(), 256 * 48 * 25);
    assert!(w.iter().all(|v| v.abs() <= bound));
    let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        max > 0.99 * bound,
        "the draws should fill the range, max {max} of {bound}"
    );
}

#[test]
fn batch_norm_matches_dfdx_in_training_and_evaluation_on_both_paths() {
    const B: usize = 3;
    const C: usize = 4;
    let dev = Cpu::seed_from_u64(21);
    let mut ours = dev.build_module::<builders::BatchNorm2D<C>, f32>();
    let mut theirs = dev.build_module::<dfdx::nn::builders::BatchNorm2D<C>, f32>();
    // Non-trivial affine parameters, the same in both.
    let gamma: Tensor<Rank1<C>, f32, _> = dev.sample_normal();
    let beta: Tensor<Rank1<C>, f32, _> = dev.sample_normal();
    for bn_scale in [&mut ours.scale, &mut theirs.scale] {
        bn_scale.copy_from(&gamma.as_vec());
    }
    ours.bias.copy_from(&beta.as_vec());
    theirs.bias.copy_from(&beta.as_vec());
    let x: Tensor<Rank4<B, C, 5, 5>, f32, _> = dev.sample_normal::<Rank4<B, C, 5, 5>>() * 3.0 + 1.0;
    let r: Tensor<Rank4<B, C, 5, 5>, f32, _> = dev.sample_normal();

    let y_ref = theirs.forward_mut(x.leaky_trace());
    let want_y = to64(&y_ref.retaped::<NoneTape>().as_vec());
    let g_ref = (y_ref * r.clone()).sum().backward();
    let y = ours.forward_mut(x.leaky_trace());
    assert_close("train y", &y.retaped::<NoneTape>().as_vec(), &want_y, 1e-4);
    let g = (y * r.clone()).sum().backward();
    assert_close(
        "gx",
        &g.get(&x).as_vec(),
        &to64(&g_ref.get(&x).as_vec()),
        1e-4,
    );
    assert_close(
        "gscale",
        &g.get(&ours.scale).as_vec(),
        &to64(&g_ref.get(&theirs.scale).as_vec()),
        1e-4,
    );
    assert_close(
        "gbias",
        &g.get(&ours.bias).as_vec(),
        &to64(&g_ref.get(&theirs.bias).as_vec()),
        1e-4,
    );
    assert_close(
        "running mean",
        &ours.running_mean.as_vec(),
        &to64(&theirs.running_mean.as_vec()),
        1e-5,
    );
    assert_close(
        "running var",
        &ours.running_var.as_vec(),
        &to64(&theirs.running_var.as_vec()),
        1e-5,
    );
    // Evaluation uses the running statistics.
    let want_eval = to64(&theirs.forward(x.clone()).as_vec());
    assert_close(
        "eval y",
        &ours.forward(x.clone()).as_vec(),
        &want_eval,
        1e-4,
    );

    // The device-generic path, on the same numbers.
    let spec = BnSpec {
        batch: B,
        channels: C,
        plane: 25,
        epsilon: 1e-5,
    };
    let (y, mean, var) =
        any_device::batch_norm_train(spec, x.leaky_trace(), &ours.scale, &ours.bias).unwrap();
    assert_close(
        "generic y",
        &y.retaped::<NoneTape>().as_vec(),
        &want_y,
        1e-4,
    );
    let g2 = (y * r).sum().backward();
    assert_close(
        "generic gx",
        &g2.get(&x).as_vec(),
        &to64(&g_ref.get(&x).as_vec()),
        1e-4,
    );
    let (cpu_mean, cpu_var) = alexnet_lab::layers::cpu::bn::stats(&spec, &x.as_vec());
    assert_close("generic mean", &mean.as_vec(), &to64(&cpu_mean), 1e-5);
    assert_close("generic var", &var.as_vec(), &to64(&cpu_var), 1e-5);
    let (a, b) = (vec![2.0, -1.0, 0.5, 3.0], vec![0.1, 0.2, 0.3, 0.4]);
    let (at, bt) = (
        dev.tensor_from_vec(a.clone(), (C,)),
        dev.tensor_from_vec(b.clone(), (C,)),
    );
    let affine = any_device::channel_affine(spec, x.clone(), &at, &bt)
        .unwrap()
        .as_vec();
    let want: Vec<f64> = x
        .as_vec()
        .iter()
        .enumerate()
        .map(|(i, &v)| (v * a[i / 25 % C] + b[i / 25 % C]) as f64)
        .collect();
    assert_close("generic affine", &affine, &want, 1e-6);
}

#[test]
fn batch_norm_with_relu_as_one_op_equals_batch_norm_then_relu_on_both_paths() {
    // The `cifar` blocks train batch norm and ReLU as one op: the same output, gradients and
    // running statistics as the two layers, with a shift that leaves about half the values
    // below zero, and an output gradient with both signs.
    const B: usize = 4;
    const C: usize = 4;
    let dev = Cpu::seed_from_u64(21);
    let mut bn = dev.build_module::<builders::BatchNorm2D<C>, f32>();
    bn.scale.copy_from(&[0.5, 2.0, -1.0, 1.5]);
    bn.bias.copy_from(&[0.1, -0.3, 0.0, 2.0]);
    let x: Tensor<Rank4<B, C, 5, 5>, f32, _> = dev.sample_normal::<Rank4<B, C, 5, 5>>() * 3.0 + 1.0;
    let r: Tensor<Rank4<B, C, 5, 5>, f32, _> = dev.sample_normal();
    for path in [CpuPath::Native, CpuPath::Generic] {
        let run = |fused: bool| {
            path.run(|| {
                let mut bn = bn.clone();
                let y = if fused {
                    bn.try_forward_mut_relu(x.leaky_trace()).unwrap()
                } else {
                    bn.forward_mut(x.leaky_trace()).relu()
                };
                let out = y.retaped::<NoneTape>().as_vec();
                let g = (y * r.clone()).sum().backward();
                let grads = [g.get(&x).as_vec(), g.get(&bn.scale).as_vec()];
                let running = [bn.running_mean.as_vec(), bn.running_var.as_vec()];
                (out, grads, running)
            })
        };
        let (fused, unfused) = (run(true), run(false));
        let zeros = fused.0.iter().filter(|v| **v == 0.0).count();
        let n = fused.0.len();
        assert!(
            zeros > n / 5 && zeros < n * 4 / 5,
            "{path:?}: {zeros} of {n} outputs are zero"
        );
        assert_close("y", &fused.0, &to64(&unfused.0), 1e-6);
        assert_close("gx", &fused.1[0], &to64(&unfused.1[0]), 1e-5);
        assert_close("gscale", &fused.1[1], &to64(&unfused.1[1]), 1e-5);
        assert_close("running mean", &fused.2[0], &to64(&unfused.2[0]), 1e-6);
        assert_close("running var", &fused.2[1], &to64(&unfused.2[1]), 1e-6);
    }
}

#[test]
fn max_pool_propagates_nan_and_routes_ties_to_the_first_pixel_on_both_window_paths() {
    let dev = Cpu::default();
    // 2x2 stride 2 has its own kernel; other windows take the general one. Same rules.
    let nan = f32::NAN;
    let x: Tensor<Rank4<1, 1, 4, 4>, f32, _> = dev.tensor([[[
        [nan, 5., 3., 3.],
        [9., 1., 3., 3.],
        [1., 2., 8., 8.],
        [3., nan, 8., 8.],
    ]]]);
    let y = MaxPool2D::<2, 2, 2>.forward(x.leaky_trace());
    let got = y.retaped::<NoneTape>().array()[0][0];
    assert!(
        got[0][0].is_nan() && got[1][0].is_nan(),
        "NaN must win: {got:?}"
    );
    assert_eq!((got[0][1], got[1][1]), (3.0, 8.0));
    // Inference (no tape) runs the values-only kernel: the same outputs.
    let eval = MaxPool2D::<2, 2, 2>.forward(x.clone()).array()[0][0];
    assert!(eval[0][0].is_nan() && eval[1][0].is_nan(), "{eval:?}");
    assert_eq!((eval[0][1], eval[1][1]), (3.0, 8.0));
    let grads = y.sum().backward();
    // A tie goes to the first of the equal pixels (row-major), like PyTorch.
    assert_eq!(
        grads.get(&x).array(),
        [[[
            [1., 0., 1., 0.],
            [0., 0., 0., 0.],
            [0., 0., 1., 0.],
            [0., 1., 0., 0.]
        ]]]
    );
    let x: Tensor<Rank4<1, 1, 3, 3>, f32, _> =
        dev.tensor([[[[1., nan, 2.], [7., 4., 2.], [0., 0., 9.]]]]);
    let got = MaxPool2D::<2, 1, 2>.forward(x).array()[0][0];
    assert!(
        got[0][0].is_nan() && got[0][1].is_nan(),
        "general path: {got:?}"
    );
    assert_eq!((got[1][0], got[1][1]), (7.0, 9.0));
}

#[test]
fn linear_matches_naive_loops_on_both_paths_and_takes_one_sample() {
    let dev = Cpu::seed_from_u64(11);
    let fc = dev.build_module::<Linear<40, 70>, f32>();
    let x: Tensor<Rank2<5, 40>, f32, _> = dev.sample_normal();
    let r: Tensor<Rank2<5, 70>, f32, _> = dev.sample_normal();
    let (xv, wv, bv, rv) = (
        to64(&x.as_vec()),
        to64(&fc.weight.as_vec()),
        to64(&fc.bias.as_vec()),
        to64(&r.as_vec()),
    );
    // Big enough that the CPU path splits rows and columns into several blocks, the last
    // one partial.
    let sizes = (5, 40, 70);
    let want_y = linear_forward(sizes, &xv, &wv, &bv);
    let (gx, gw, gb) = linear_backward(sizes, &xv, &wv, &rv);
    let o_n = sizes.2;
    assert_close(
        "y (inference)",
        &fc.forward(x.clone()).as_vec(),
        &want_y,
        1e-5,
    );
    let (params, want) = ((&x, &fc.weight, &fc.bias), [&want_y[..], &gx, &gw, &gb]);
    assert_traced("cpu", fc.forward(x.leaky_trace()), &r, params, want, 1e-5);
    let y = any_device::linear(x.leaky_trace(), &fc.weight, &fc.bias).unwrap();
    assert_traced("generic", y, &r, params, want, 1e-5);

    let one: Tensor<Rank1<40>, f32, _> = dev.tensor(std::array::from_fn(|i| x.array()[1][i]));
    assert_close(
        "one sample",
        &fc.forward(one).as_vec(),
        &want_y[o_n..2 * o_n],
        1e-5,
    );
}

#[test]
fn layers_take_an_empty_batch() {
    // (Forward only: dfdx's own `sum` divides by zero on an empty tensor.)
    let dev = Cpu::default();
    let fc = dev.build_module::<Linear<6, 4>, f32>();
    let x: Tensor<(usize, Const<6>), f32, _> = dev.zeros_like(&(0, Const));
    assert_eq!(fc.forward(x.leaky_trace()).shape().0, 0);
    let conv = dev.build_module::<builders::Conv2D<2, 3, 3, 1, 1, 5>, f32>();
    let x: Tensor<(usize, Const<2>, Const<5>, Const<5>), f32, _> =
        dev.zeros_like(&(0, Const, Const, Const));
    assert_eq!(conv.forward(x.leaky_trace()).shape().0, 0);
    let conv = dev.build_module::<builders::Conv2D<2, 3, 5, 2, 0, 1>, f32>();
    assert_eq!(conv.forward(x.clone()).shape().0, 0);
    let x: Tensor<(usize, Const<2>, Const<4>, Const<4>), f32, _> =
        dev.zeros_like(&(0, Const, Const, Const));
    assert_eq!(MaxPool2D::<2, 2, 2>.forward(x.clone()).shape().0, 0);
    assert_eq!(MaxPool2D::<3, 1, 2>.forward(x).shape().0, 0);
}

#[test]
fn batch_norm_loops_match_the_layer_in_both_modes_and_the_running_statistics() {
    const B: usize = 3;
    const C: usize = 4;
    const P: usize = 6; // 2 x 3 positions
    let dev = Cpu::seed_from_u64(8);
    let mut bn = dev.build_module::<builders::BatchNorm2D<C>, f32>();
    bn.scale.copy_from(&[0.5, 2.0, -1.0, 1.5]);
    bn.bias.copy_from(&[0.1, -0.3, 0.0, 2.0]);
    let x: Tensor<Rank4<B, C, 2, 3>, f32, _> = dev.sample_normal::<Rank4<B, C, 2, 3>>() * 4.0 + 3.0;
    let r: Tensor<Rank4<B, C, 2, 3>, f32, _> = dev.sample_normal();
    let (xv, scale, shift) = (
        to64(&x.as_vec()),
        to64(&bn.scale.as_vec()),
        to64(&bn.bias.as_vec()),
    );
    let eps = bn.epsilon;
    let stats = batch_norm_train(B, C, P, &xv, &scale, &shift, eps);
    // Each channel leaves with mean `shift` and standard deviation about |scale|.
    for ch in 0..C {
        let vals: Vec<f64> = (0..B)
            .flat_map(|b| stats.y[(b * C + ch) * P..(b * C + ch + 1) * P].to_vec())
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
        assert!((mean - shift[ch]).abs() < 1e-9, "channel {ch} mean {mean}");
        assert!((sd - scale[ch].abs()).abs() < 1e-3, "channel {ch} sd {sd}");
    }
    let (mut rm, mut rv) = (
        to64(&bn.running_mean.as_vec()),
        to64(&bn.running_var.as_vec()),
    );
    update_running_stats((&mut rm, &mut rv), &stats, B * P, bn.momentum);

    let y = bn.forward_mut(x.leaky_trace());
    assert_close("train y", &y.retaped::<NoneTape>().as_vec(), &stats.y, 1e-4);
    assert_close("running mean", &bn.running_mean.as_vec(), &rm, 1e-5);
    assert_close("running var", &bn.running_var.as_vec(), &rv, 1e-5);
    // The layer's input gradient against finite differences of the loops.
    let fd = finite_diff(&xv, &to64(&r.as_vec()), |x| {
        batch_norm_train(B, C, P, x, &scale, &shift, eps).y
    });
    let g = (y * r.clone()).sum().backward();
    assert_close("train gx", &g.get(&x).as_vec(), &fd, 1e-3);
    // The backward loops against the layer's gradients, and against finite differences.
    let gy = to64(&r.as_vec());
    let (gx, gscale, gshift) = batch_norm_backward(B, C, P, &xv, &scale, &gy, eps);
    assert_close("backward loops gx", &g.get(&x).as_vec(), &gx, 1e-4);
    assert_close(
        "backward loops gscale",
        &g.get(&bn.scale).as_vec(),
        &gscale,
        1e-4,
    );
    assert_close(
        "backward loops gshift",
        &g.get(&bn.bias).as_vec(),
        &gshift,
        1e-4,
    );
    let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<_>>();
    assert_close(
        "backward loops gx vs finite differences",
        &f32s(&gx),
        &fd,
        1e-6,
    );
    let fd_scale = finite_diff(&scale, &gy, |s| {
        batch_norm_train(B, C, P, &xv, s, &shift, eps).y
    });
    assert_close(
        "backward loops gscale vs finite differences",
        &f32s(&gscale),
        &fd_scale,
        1e-6,
    );
    let fd_shift = finite_diff(&shift, &gy, |s| {
        batch_norm_train(B, C, P, &xv, &scale, s, eps).y
    });
    assert_close(
        "backward loops gshift vs finite differences",
        &f32s(&gshift),
        &fd_shift,
        1e-6,
    );
    // Each channel's input gradient sums to 0: a shift of the whole channel changes nothing.
    for ch in 0..C {
        let sum: f64 = (0..B)
            .flat_map(|b| gx[(b * C + ch) * P..(b * C + ch + 1) * P].to_vec())
            .sum();
        assert!(sum.abs() < 1e-9, "channel {ch}: gx sums to {sum}");
    }

    let want = batch_norm_eval(B, C, P, &xv, &scale, &shift, (&rm, &rv), eps);
    assert_close("eval y", &bn.forward(x).as_vec(), &want, 1e-4);
}

#[test]
fn relu_flatten_and_dropout_loops_match_the_layers() {
    let dev = Cpu::seed_from_u64(4);
    let x: Tensor<Rank4<2, 3, 2, 4>, f32, _> = dev.sample_normal();
    let r: Tensor<Rank4<2, 3, 2, 4>, f32, _> = dev.sample_normal();
    let (xv, rv) = (to64(&x.as_vec()), to64(&r.as_vec()));
    let y = ReLU.forward(x.leaky_trace());
    assert_close(
        "relu",
        &y.retaped::<NoneTape>().as_vec(),
        &relu_forward(&xv),
        0.0,
    );
    let g = (y * r).sum().backward();
    assert_close(
        "relu gx",
        &g.get(&x).as_vec(),
        &relu_backward(&xv, &rv),
        0.0,
    );

    let flat: Tensor<Rank2<2, 24>, f32, _> = Flatten::<24>.forward(x.clone());
    assert_close("flatten", &flat.as_vec(), &flatten(2, (3, 2, 4), &xv), 0.0);
    // Value (c = 2, i = 1, j = 3) of image 1 is number (2 * 2 + 1) * 4 + 3 = 23 of its row.
    assert_eq!(flat.array()[1][23], x.array()[1][2][1][3]);

    // Dropout in training: the kept values (all inputs are positive) are doubled.
    let mut drop = Dropout::default();
    let ones: Tensor<Rank2<4, 50>, f32, _> = dev.sample_uniform::<Rank2<4, 50>>() + 0.5;
    let y = drop
        .forward_mut(ones.leaky_trace())
        .retaped::<NoneTape>()
        .as_vec();
    let keep: Vec<bool> = y.iter().map(|&v| v != 0.0).collect();
    let kept = keep.iter().filter(|&&k| k).count();
    assert!(
        (50..150).contains(&kept),
        "p = 0.5 keeps about half: {kept}"
    );
    assert_close(
        "dropout",
        &y,
        &dropout_forward(&to64(&ones.as_vec()), &keep, 0.5),
        1e-6,
    );
    assert_eq!(
        drop.forward(ones.clone()).as_vec(),
        ones.as_vec(),
        "eval: identity"
    );
}

#[test]
fn softmax_and_cross_entropy_loops_match_dfdx_and_its_gradient() {
    let dev = Cpu::seed_from_u64(6);
    let logits: Tensor<Rank2<3, 5>, f32, _> = dev.sample_normal::<Rank2<3, 5>>() * 3.0;
    let labels = [4usize, 0, 2];
    let lv = to64(&logits.as_vec());
    let probs = logits.clone().softmax::<Axis<1>>().as_vec();
    let want: Vec<f64> = (0..3)
        .flat_map(|r| softmax(&lv[r * 5..r * 5 + 5]))
        .collect();
    assert_close("softmax", &probs, &want, 1e-6);
    assert!((want[..5].iter().sum::<f64>() - 1.0).abs() < 1e-12);

    let mut onehot = [[0f32; 5]; 3];
    for (r, &l) in labels.iter().enumerate() {
        onehot[r][l] = 1.0;
    }
    let loss = cross_entropy_with_logits_loss(logits.leaky_trace(), dev.tensor(onehot));
    let want = cross_entropy(5, &lv, &labels);
    assert_close("loss", &[loss.array()], &[want], 1e-6);
    let g = loss.backward();
    let want_g = cross_entropy_backward(5, &lv, &labels);
    assert_close("gradient", &g.get(&logits).as_vec(), &want_g, 1e-6);
    let fd = finite_diff(&lv, &[1.0], |z| vec![cross_entropy(5, z, &labels)]);
    let want32: Vec<f32> = want_g.iter().map(|&v| v as f32).collect();
    assert_close("gradient vs finite differences", &want32, &fd, 1e-6);
}

#[test]
fn sgd_momentum_loop_matches_the_crates_optimizer() {
    use alexnet_lab::train::{Optimizer, OptimizerKind};
    let dev = Cpu::seed_from_u64(9);
    let mut fc = dev.build_module::<Linear<3, 2>, f32>();
    let hp = (0.1, 0.9, 0.01); // lr, momentum, weight decay
    let mut opt = Optimizer::new(OptimizerKind::Sgd, hp.0, hp.1, hp.2);
    let mut w = to64(&fc.weight.as_vec());
    let mut velocity = vec![0.0; w.len()];
    for step in 0..3 {
        let x: Tensor<Rank2<4, 3>, f32, _> = dev.sample_normal();
        let grads = fc.forward(x.leaky_trace()).square().sum().backward();
        let g = to64(&grads.get(&fc.weight).as_vec());
        sgd_momentum_step(&mut w, &g, &mut velocity, hp);
        opt.step(&mut fc, &grads).unwrap();
        assert_close(&format!("step {step}"), &fc.weight.as_vec(), &w, 1e-5);
    }
}

#[test]
fn dense_and_conv_loops_match_finite_differences() {
    let dev = Cpu::seed_from_u64(2);
    let v = |n: usize| to64(&dev.sample_normal_like(&(n,)).as_vec());
    let (x, w, b, r) = (v(2 * 3), v(4 * 3), v(4), v(2 * 4));
    let sizes = (2, 3, 4);
    let (gx, gw, gb) = linear_backward(sizes, &x, &w, &r);
    let f32s = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<_>>();
    let fd = finite_diff(&x, &r, |x| linear_forward(sizes, x, &w, &b));
    assert_close("dense gx", &f32s(&gx), &fd, 1e-6);
    let fd = finite_diff(&w, &r, |w| linear_forward(sizes, &x, w, &b));
    assert_close("dense gw", &f32s(&gw), &fd, 1e-6);
    let fd = finite_diff(&b, &r, |b| linear_forward(sizes, &x, &w, b));
    assert_close("dense gb", &f32s(&gb), &fd, 1e-6);

    let s = Conv {
        b: 1,
        c: 4,
        o: 2,
        k: 3,
        s: 2,
        p: 1,
        g: 2,
        h: 5,
        os: 3,
    };
    let (x, w, b, r) = (v(4 * 25), v(2 * 2 * 9), v(2), v(2 * 9));
    let (gx, gw, gb) = conv_backward(s, &x, &w, &r);
    let fd = finite_diff(&x, &r, |x| conv_forward(s, x, &w, &b));
    assert_close("conv gx", &f32s(&gx), &fd, 1e-6);
    let fd = finite_diff(&w, &r, |w| conv_forward(s, &x, w, &b));
    assert_close("conv gw", &f32s(&gw), &fd, 1e-6);
    let fd = finite_diff(&b, &r, |b| conv_forward(s, &x, &w, b));
    assert_close("conv gb", &f32s(&gb), &fd, 1e-6);
}

/// A training step's images need no gradient: under `try_no_input_gradient` the CPU's
/// im2col convolution (`article`'s conv1, 11x11 stride 4) leaves the images' gradient
/// unwritten and gives the weights and bias the very same gradients; other tensors, and the
/// images once the guard drops, get theirs as before.
#[test]
fn an_unread_input_gradient_is_skipped_and_changes_no_other_gradient() {
    let dev = Cpu::seed_from_u64(11);
    let conv = dev.build_module::<builders::Conv2D<3, 8, 11, 4, 0, 6>, f32>();
    let x: Cpu32<Rank4<2, 3, 31, 31>> = dev.sample_normal();
    let r: Cpu32<Rank4<2, 8, 6, 6>> = dev.sample_normal();
    let grads_of = |x: &Cpu32<Rank4<2, 3, 31, 31>>, skip: bool| {
        let unread = skip.then(|| Cpu::try_no_input_gradient(x).unwrap());
        let y = conv.forward(x.trace(Gradients::leaky()));
        drop(unread);
        let mut g = (y * r.clone()).sum().backward();
        let gx = g.get_or_alloc_mut(x).unwrap().to_vec();
        (gx, g.get(&conv.weight).as_vec(), g.get(&conv.bias).as_vec())
    };
    let (gx, gw, gb) = grads_of(&x, false);
    assert!(
        gx.iter().any(|&v| v != 0.0),
        "the input's gradient is computed by default"
    );
    let (gx_skipped, gw_skipped, gb_skipped) = grads_of(&x, true);
    assert!(
        gx_skipped.iter().all(|&v| v == 0.0),
        "skipped: never written"
    );
    assert_eq!(
        (gw, gb),
        (gw_skipped, gb_skipped),
        "the parameters' gradients, to the bit"
    );
    // Another tensor with equal values is not the registered one.
    let unread = Cpu::try_no_input_gradient(&x).unwrap();
    let twin: Cpu32<Rank4<2, 3, 31, 31>> = dev.tensor(x.as_vec());
    let y = conv.forward(twin.trace(Gradients::leaky()));
    drop(unread);
    let mut g = (y * r.clone()).sum().backward();
    assert_eq!(g.get_or_alloc_mut(&twin).unwrap().to_vec(), gx);
    // After the guard, the images' gradient is back.
    assert_eq!(grads_of(&x, false).0, gx);
    // Guards may drop in any order: each takes back its own registration only.
    let other: Cpu32<Rank4<2, 3, 31, 31>> = dev.sample_normal();
    let (first, second) = (
        Cpu::try_no_input_gradient(&x).unwrap(),
        Cpu::try_no_input_gradient(&other).unwrap(),
    );
    drop(first);
    assert_eq!(grads_of(&x, false).0, gx, "the first registration is gone");
    assert!(
        grads_of(&other, false).0.iter().all(|&v| v == 0.0),
        "the second stays"
    );
    drop(second);
    assert!(grads_of(&other, false).0.iter().any(|&v| v != 0.0));
}

/// The CPU kernels read a tensor's values in place when it is row-major and from a
/// row-major copy when it is not: a permuted input and a broadcast one give the outputs and
/// gradients of their row-major equals.
#[test]
fn layers_read_permuted_and_broadcast_inputs_as_their_row_major_equals() {
    let dev = Cpu::seed_from_u64(12);
    let conv = dev.build_module::<builders::Conv2D<3, 4, 3, 1, 1, 5>, f32>();
    let hwc: Cpu32<Rank4<2, 5, 5, 3>> = dev.sample_normal();
    let permuted = hwc
        .clone()
        .permute::<Rank4<2, 3, 5, 5>, Axes4<0, 3, 1, 2>>();
    let row_major: Cpu32<Rank4<2, 3, 5, 5>> = dev.tensor(permuted.as_vec());
    let forward = |x: Cpu32<Rank4<2, 3, 5, 5>>| {
        let y = conv.forward(x.trace(conv.alloc_grads()));
        let out = y.retaped::<NoneTape>().as_vec();
        let g = y.sum().backward();
        (out, g.get(&conv.weight).as_vec())
    };
    assert_eq!(forward(permuted), forward(row_major));
    let plane: Cpu32<Rank2<5, 5>> = dev.sample_normal();
    let broadcast = plane.clone().broadcast::<Rank4<2, 3, 5, 5>, _>();
    let copied: Cpu32<Rank4<2, 3, 5, 5>> = dev.tensor(broadcast.as_vec());
    assert_eq!(forward(broadcast), forward(copied));
}
