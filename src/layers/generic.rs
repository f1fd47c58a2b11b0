//! The device-generic path: every layer built only from dfdx's own differentiable ops
//! (gather, concat, matmul, reductions), so it runs on any dfdx device, CUDA included, and
//! dfdx's autodiff provides the backward pass.
//!
//! The CPU uses the faster kernels of [`super::cpu`]; the tests run this path on the CPU too
//! and compare it with them, so the path a GPU takes is checked on machines without one.

use super::spec::{BnSpec, ConvSpec, LrnSpec, PoolKind, PoolSpec};
use dfdx::prelude::*;

type Dyn2 = (usize, usize);

/// For each (kernel offset, output pixel) the input pixel it reads, or `h * w` (a zero row
/// appended below the image) where the window hangs over the padding.
fn patch_index(
    (in_h, in_w, out_h, out_w): (usize, usize, usize, usize),
    (kernel, stride, pad): (usize, usize, usize),
) -> Vec<usize> {
    let mut idx = Vec::with_capacity(kernel * kernel * out_h * out_w);
    for ki in 0..kernel {
        for kj in 0..kernel {
            for oh in 0..out_h {
                for ow in 0..out_w {
                    let ih = (oh * stride + ki) as isize - pad as isize;
                    let iw = (ow * stride + kj) as isize - pad as isize;
                    let inside =
                        (0..in_h as isize).contains(&ih) && (0..in_w as isize).contains(&iw);
                    idx.push(if inside {
                        ih as usize * in_w + iw as usize
                    } else {
                        in_h * in_w
                    });
                }
            }
        }
    }
    idx
}

/// `x [B, C, H, W]` to patches `[K*K*L, B*C]`: row `(ki, kj, l)`, column `(b, c)`.
fn patches<D: Device<f32>, S: Shape, T: Tape<f32, D>>(
    x: Tensor<S, f32, D, T>,
    (planes, hw): Dyn2,
    idx: Vec<usize>,
) -> Result<Tensor<Dyn2, f32, D, T>, D::Err> {
    let dev = x.device().clone();
    let cols = x
        .try_reshape_like(&(planes, hw))?
        .try_permute::<_, Axes2<1, 0>>()?;
    let zero_row = dev.try_zeros_like(&(1usize, planes))?;
    let padded = (cols, zero_row).try_concat_along(Axis::<0>)?; // [hw + 1, planes]
    let n = idx.len();
    padded.try_gather(dev.try_tensor_from_vec(idx, (n,))?)
}

/// Convolution as one batched matrix product per group over gathered patches.
pub fn conv2d<D: Device<f32>, Si: Shape, Sw: Shape, Sb: Shape, So: Shape, T: Tape<f32, D>>(
    s: ConvSpec,
    x: Tensor<Si, f32, D, T>,
    w: &Tensor<Sw, f32, D>,
    b: &Tensor<Sb, f32, D>,
    out_shape: So,
) -> Result<Tensor<So, f32, D, T>, D::Err> {
    let (l, kk, g) = (s.out_len(), s.kernel * s.kernel, s.groups);
    let (og, pk) = (s.out_channels / g, s.group_patch_len());
    let idx = patch_index(
        (s.in_h, s.in_w, s.out_h, s.out_w),
        (s.kernel, s.stride, s.pad),
    );
    let p = patches(x, (s.batch * s.in_channels, s.in_h * s.in_w), idx)?;
    let cols = p
        .try_reshape_like(&(kk, l, s.batch, s.in_channels))?
        .try_permute::<_, Axes4<2, 3, 0, 1>>()? // [B, C, KK, L]
        .try_reshape_like(&(s.batch, g, pk, l))?;
    let w = w
        .retaped::<T>()
        .try_reshape_like(&(g, og, pk))?
        .try_broadcast_like::<_, Axis<0>>(&(s.batch, g, og, pk))?;
    let y = w
        .try_matmul(cols)?
        .try_reshape_like(&(s.batch, s.out_channels, l))?;
    let b = b
        .retaped::<T>()
        .try_reshape_like(&(s.out_channels,))?
        .try_broadcast_like::<_, Axes2<0, 2>>(&(s.batch, s.out_channels, l))?;
    y.try_add(b)?.try_reshape_like(&out_shape)
}

/// Pooling as a gather of every window, then a max or mean over the window.
pub fn pool2d<D: Device<f32>, Si: Shape, So: Shape, T: Tape<f32, D>>(
    s: PoolSpec,
    x: Tensor<Si, f32, D, T>,
    out_shape: So,
) -> Result<Tensor<So, f32, D, T>, D::Err> {
    let (planes, l, kk) = (s.batch * s.channels, s.out_h * s.out_w, s.kernel * s.kernel);
    let idx = patch_index((s.in_h, s.in_w, s.out_h, s.out_w), (s.kernel, s.stride, 0));
    let windows =
        patches(x, (planes, s.in_h * s.in_w), idx)?.try_reshape_like(&(kk, l * planes))?;
    let pooled: Tensor<(usize,), f32, D, T> = match s.kind {
        PoolKind::Max => windows.try_max::<_, Axis<0>>()?,
        PoolKind::Avg => windows.try_mean::<_, Axis<0>>()?,
    };
    pooled
        .try_reshape_like(&(l, planes))?
        .try_permute::<_, Axes2<1, 0>>()?
        .try_reshape_like(&out_shape)
}

/// Local response normalisation from elementwise ops; the sum over each channel's window
/// is a product with a band matrix `M[c, c'] = 1` where `c'` is in `c`'s window.
///
/// (Not shifted slices: dfdx 0.13's `slice` backward assigns its gradient instead of adding
/// it, so two slices of one tensor lose one of the gradients.)
pub fn lrn<D: Device<f32>, S: Shape, T: Tape<f32, D>>(
    s: LrnSpec,
    x: Tensor<S, f32, D, T>,
) -> Result<Tensor<S, f32, D, T>, D::Err> {
    let shape = *x.shape();
    let (b, c, p) = (s.batch, s.channels, s.plane);
    let mut band = vec![0.0f32; c * c];
    for ci in 0..c {
        let lo = ci.saturating_sub(s.size / 2);
        let hi = (ci + (s.size - 1) / 2).min(c - 1);
        band[ci * c + lo..=ci * c + hi].fill(1.0);
    }
    let band = x
        .device()
        .try_tensor_from_vec(band, (c, c))?
        .try_broadcast_like::<_, Axis<0>>(&(b, c, c))?
        .retaped::<T>();
    let x3 = x.try_reshape_like(&(b, c, p))?;
    let sum = band.try_matmul(x3.retaped::<T>().try_square()?)?; // [b, c, p]
    let scale = sum.try_mul(s.alpha)?.try_add(s.k)?.try_powf(-s.beta)?;
    x3.try_mul(scale)?.try_reshape_like(&shape)
}

/// Training-mode batch norm from dfdx ops (as dfdx's own `BatchNorm2D` computes it).
pub fn batch_norm_train<D: Device<f32>, S: Shape, Sc: Shape, T: Tape<f32, D>>(
    s: BnSpec,
    x: Tensor<S, f32, D, T>,
    gamma: &Tensor<Sc, f32, D>,
    beta: &Tensor<Sc, f32, D>,
) -> Result<super::device::BnOutput<S, D, T>, D::Err> {
    let shape = *x.shape();
    let full = (s.batch, s.channels, s.plane);
    let x3 = x.try_reshape_like(&full)?;
    let mean = x3.retaped::<T>().try_mean::<(usize,), Axes2<0, 2>>()?;
    let mean_host = mean.retaped::<NoneTape>().as_vec();
    let centered = x3.try_sub(mean.try_broadcast_like::<_, Axes2<0, 2>>(&full)?)?;
    let var = centered
        .retaped::<T>()
        .try_square()?
        .try_mean::<(usize,), Axes2<0, 2>>()?;
    let var_host = var.retaped::<NoneTape>().as_vec();
    let std = var.try_add(s.epsilon)?.try_sqrt()?;
    let gamma = gamma.retaped::<T>().try_reshape_like(&(s.channels,))?;
    let scale = gamma
        .try_div(std)?
        .try_broadcast_like::<_, Axes2<0, 2>>(&full)?;
    let beta = beta
        .retaped::<T>()
        .try_reshape_like(&(s.channels,))?
        .try_broadcast_like::<_, Axes2<0, 2>>(&full)?;
    let y = centered
        .try_mul(scale)?
        .try_add(beta)?
        .try_reshape_like(&shape)?;
    Ok((y, mean_host, var_host))
}

/// `y = x * a[c] + b[c]` from dfdx ops.
pub fn channel_affine<D: Device<f32>, S: Shape>(
    s: BnSpec,
    x: Tensor<S, f32, D>,
    a: Vec<f32>,
    b: Vec<f32>,
) -> Result<Tensor<S, f32, D>, D::Err> {
    let shape = *x.shape();
    let full = (s.batch, s.channels, s.plane);
    let dev = x.device().clone();
    let a = dev
        .try_tensor_from_vec(a, (s.channels,))?
        .try_broadcast_like::<_, Axes2<0, 2>>(&full)?;
    let b = dev
        .try_tensor_from_vec(b, (s.channels,))?
        .try_broadcast_like::<_, Axes2<0, 2>>(&full)?;
    x.try_reshape_like(&full)?
        .try_mul(a)?
        .try_add(b)?
        .try_reshape_like(&shape)
}

/// `x · wᵀ + b` from dfdx ops (what dfdx's own `Linear` does).
pub fn linear<D: Device<f32>, B: Dim, const I: usize, const O: usize, T: Tape<f32, D>>(
    x: super::device::Rows<B, I, D, T>,
    w: &Tensor<Rank2<O, I>, f32, D>,
    b: &Tensor<Rank1<O>, f32, D>,
) -> Result<super::device::Rows<B, O, D, T>, D::Err> {
    let y = x.try_matmul(w.retaped::<T>().try_permute()?)?;
    let shape = *y.shape();
    y.try_add(b.retaped::<T>().try_broadcast_like(&shape)?)
}

#[cfg(feature = "cuda")]
impl super::LabDevice for Cuda {
    fn try_conv2d<Si: Shape, Sw: Shape, Sb: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: ConvSpec,
        x: Tensor<Si, f32, Self, T>,
        w: &Tensor<Sw, f32, Self>,
        b: &Tensor<Sb, f32, Self>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err> {
        conv2d(spec, x, w, b, out_shape)
    }
    fn try_pool2d<Si: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: PoolSpec,
        x: Tensor<Si, f32, Self, T>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err> {
        pool2d(spec, x, out_shape)
    }
    fn try_lrn<S: Shape, T: Tape<f32, Self>>(
        spec: LrnSpec,
        x: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        lrn(spec, x)
    }
    fn try_batch_norm_train<S: Shape, Sc: Shape, T: Tape<f32, Self>>(
        spec: BnSpec,
        x: Tensor<S, f32, Self, T>,
        gamma: &Tensor<Sc, f32, Self>,
        beta: &Tensor<Sc, f32, Self>,
    ) -> Result<super::device::BnOutput<S, Self, T>, Self::Err> {
        batch_norm_train(spec, x, gamma, beta)
    }
    fn try_linear<B: Dim, const I: usize, const O: usize, T: Tape<f32, Self>>(
        x: super::device::Rows<B, I, Self, T>,
        w: &Tensor<Rank2<O, I>, f32, Self>,
        b: &Tensor<Rank1<O>, f32, Self>,
    ) -> Result<super::device::Rows<B, O, Self, T>, Self::Err> {
        linear(x, w, b)
    }

    fn try_channel_affine<S: Shape>(
        spec: BnSpec,
        x: Tensor<S, f32, Self>,
        a: Vec<f32>,
        b: Vec<f32>,
    ) -> Result<Tensor<S, f32, Self>, Self::Err> {
        channel_affine(spec, x, a, b)
    }
}
