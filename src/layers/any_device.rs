//! The device-generic path: every layer built only from dfdx's own differentiable ops
//! (gather, concat, permute, matmul, reductions), so it runs on any dfdx device, CUDA
//! included, and dfdx's autodiff provides the backward pass.
//!
//! The CPU uses the faster kernels of [`super::cpu`]; the tests send the CPU through this
//! path too (see [`super::CpuPath`]) and compare it with them, so the path a GPU takes is
//! checked on machines without one.
//!
//! # What CUDA asks of it
//! dfdx 0.13's CUDA kernels have preconditions its CPU kernels lack; this path honours them
//! by construction, and on the CPU [`check_operand`] enforces them on every product it makes:
//! - the batched products (`matmul/cuda_kernel.rs`, Batch3 and Batch4) assert that no
//!   operand has a stride-0 (broadcast) batch dimension, and cuBLAS wants one of each
//!   matrix's two inner strides to be 1. So no operand here is ever broadcast: a convolution
//!   multiplies the patches of the whole batch `[G, B*L, C/G*K*K]` (the batch folded into
//!   the rows) by its weight `[G, C/G*K*K, O/G]` (both transposed views, inner stride 1),
//!   and local response normalisation multiplies its band matrix `[C, C]` by `[C, B*H*W]`;
//! - gather, the elementwise kernels and cuBLAS's sizes index with 32-bit integers
//!   (`unsigned int` loop counters, `i32` matrix sizes): no tensor may hold more than
//!   [`MAX_ELEMENTS`]. A convolution's or a pooling's patch matrix for a large batch of
//!   227x227 images would (`article` conv1 at batch 4096: 4.5e9 values), so those layers
//!   split the batch into chunks that fit and join the results.

use super::spec::{BnSpec, ConvSpec, LrnSpec, PoolKind, PoolSpec};
use dfdx::prelude::*;
use std::cell::Cell;

type Dyn2 = (usize, usize);
type Dyn3 = (usize, usize, usize);

/// The most values one tensor of this path may hold: dfdx's CUDA kernels count elements
/// with 32-bit integers and cuBLAS takes `i32` sizes.
pub const MAX_ELEMENTS: usize = i32::MAX as usize;

thread_local! {
    static LIMIT: Cell<usize> = const { Cell::new(MAX_ELEMENTS) };
}

/// Lowers the element limit on this thread (to `limit`, at most [`MAX_ELEMENTS`]) and
/// returns the previous one: a test sets it low to make the batch splitting happen on
/// small inputs.
pub fn set_element_limit(limit: usize) -> usize {
    LIMIT.with(|l| l.replace(limit.clamp(1, MAX_ELEMENTS)))
}

fn element_limit() -> usize {
    LIMIT.with(Cell::get)
}

/// On the CPU, checks what dfdx's CUDA matmul and gather would check or silently get wrong:
/// the operand is stored densely (a broadcast one is stored smaller than its shape, and
/// its stride-0 dimensions would fail `assert_ne!(strides[0], 0)` on a GPU) and holds at
/// most the element limit. On other devices their own kernels check, so this does nothing.
///
/// # Panics
/// If the operand breaks a precondition: a bug in this module, caught on the CPU instead of
/// on a GPU.
pub fn check_operand<S: Shape, D: Device<f32>, T>(
    t: &Tensor<S, f32, D, T>,
    what: &str,
) -> Result<(), D::Err> {
    if std::any::TypeId::of::<D>() != std::any::TypeId::of::<Cpu>() {
        return Ok(());
    }
    let numel = t.shape().num_elements();
    assert!(
        numel <= element_limit(),
        "generic path: {what} holds {numel} values, over the {} that 32-bit CUDA indices allow",
        element_limit()
    );
    // A fresh gradient buffer is as long as the tensor's storage: shorter than its shape
    // when a dimension is broadcast (stride 0).
    let mut probe = Gradients::<f32, D>::leaky();
    let stored = <D as Storage<f32>>::len(t.device(), probe.get_or_alloc_mut(t)?);
    assert_eq!(
        stored, numel,
        "generic path: {what} is broadcast (stride 0), which dfdx's CUDA matmul refuses"
    );
    Ok(())
}

/// The output of a layer given an empty batch: zeros of `out_shape` (no values), on `x`'s
/// tape. (dfdx's gather and matmul index out of bounds on empty tensors.)
fn empty<D: Device<f32>, Si: Shape, So: Shape, T: Tape<f32, D>>(
    x: Tensor<Si, f32, D, T>,
    out_shape: So,
) -> Result<Tensor<So, f32, D, T>, D::Err> {
    let (x, tape) = x.split_tape();
    Ok(x.device().try_zeros_like(&out_shape)?.put_tape(tape))
}

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
    let out = padded.try_gather(dev.try_tensor_from_vec(idx, (n,))?)?;
    check_operand(&out, "a patch matrix")?;
    Ok(out)
}

/// Runs `f` on `x [B, per_row]` whole, or on chunks of its rows (gathered, so gradients
/// add up) joined along the batch, so that no tensor of `f` (at most `per_image` values
/// an image) passes the element limit.
fn by_batch_chunks<D, T, F>(
    x: Tensor<Dyn2, f32, D, T>,
    per_image: usize,
    mut f: F,
) -> Result<Tensor<Dyn2, f32, D, T>, D::Err>
where
    D: Device<f32>,
    T: Tape<f32, D>,
    F: FnMut(Tensor<Dyn2, f32, D, T>) -> Result<Tensor<Dyn2, f32, D, T>, D::Err>,
{
    let batch = x.shape().0;
    let chunk = (element_limit() / per_image.max(1)).max(1);
    if chunk >= batch {
        return f(x);
    }
    let dev = x.device().clone();
    let starts: Vec<usize> = (0..batch).step_by(chunk).collect();
    let mut x = Some(x);
    let mut joined: Option<Tensor<Dyn2, f32, D, T>> = None;
    for (k, &start) in starts.iter().enumerate() {
        let n = chunk.min(batch - start);
        let rows = dev.try_tensor_from_vec((start..start + n).collect(), (n,))?;
        // The last chunk takes `x` itself, and with it the tape recorded so far.
        let part = if k + 1 == starts.len() {
            x.take().map(|x| x.try_gather(rows))
        } else {
            x.as_ref().map(|x| x.retaped::<T>().try_gather(rows))
        };
        let y = match part {
            Some(part) => f(part?)?,
            None => unreachable!("x is taken only by the last chunk"),
        };
        joined = Some(match joined {
            None => y,
            Some(done) => (done, y).try_concat_along(Axis::<0>)?,
        });
    }
    match joined {
        Some(y) => Ok(y),
        None => unreachable!("a batch of at least one image has a chunk"),
    }
}

/// Convolution as one batched matrix product over gathered patches, the batch folded into
/// the rows: `colsᵀ [G, B*L, C/G*K*K] · wᵀ [G, C/G*K*K, O/G]`.
pub fn conv2d<D: Device<f32>, Si: Shape, Sw: Shape, Sb: Shape, So: Shape, T: Tape<f32, D>>(
    s: ConvSpec,
    x: Tensor<Si, f32, D, T>,
    w: &Tensor<Sw, f32, D>,
    b: &Tensor<Sb, f32, D>,
    out_shape: So,
) -> Result<Tensor<So, f32, D, T>, D::Err> {
    if s.batch == 0 {
        return empty(x, out_shape);
    }
    let l = s.out_len();
    let plane = s.in_h * s.in_w;
    let per_image = (s.kernel * s.kernel * l * s.in_channels)
        .max(s.out_channels * l)
        .max(s.in_channels * (plane + 1));
    let x = x.try_reshape_like(&(s.batch, s.in_channels * plane))?;
    let y = by_batch_chunks(x, per_image, |x| {
        let n = x.shape().0;
        conv_chunk(ConvSpec { batch: n, ..s }, x, w, b)
    })?;
    y.try_reshape_like(&out_shape)
}

/// One chunk of [`conv2d`]: `x [B, C*H*W]` to `[B, O*L]`.
fn conv_chunk<D: Device<f32>, Sw: Shape, Sb: Shape, T: Tape<f32, D>>(
    s: ConvSpec,
    x: Tensor<Dyn2, f32, D, T>,
    w: &Tensor<Sw, f32, D>,
    b: &Tensor<Sb, f32, D>,
) -> Result<Tensor<Dyn2, f32, D, T>, D::Err> {
    let (l, kk, g) = (s.out_len(), s.kernel * s.kernel, s.groups);
    let (og, pk, cg) = (s.out_channels / g, s.group_patch_len(), s.in_channels / g);
    let idx = patch_index(
        (s.in_h, s.in_w, s.out_h, s.out_w),
        (s.kernel, s.stride, s.pad),
    );
    let p = patches(x, (s.batch * s.in_channels, s.in_h * s.in_w), idx)?;
    let cols = p
        .try_reshape_like(&(kk, l, s.batch, g, cg))?
        .try_permute::<_, Axes5<3, 4, 0, 2, 1>>()? // [G, C/G, KK, B, L]
        .try_reshape_like(&(g, pk, s.batch * l))?;
    // The patches come first, so the output lives on the input's device handle, whose
    // random numbers (dropout downstream) a training run seeds per epoch.
    let cols_t = cols.try_permute::<_, Axes3<0, 2, 1>>()?; // [G, B*L, C/G*KK]
    let w_t = w
        .retaped::<T>()
        .try_reshape_like(&(g, og, pk))?
        .try_permute::<_, Axes3<0, 2, 1>>()?; // [G, C/G*KK, O/G]
    check_operand(&cols_t, "the convolution patches")?;
    check_operand(&w_t, "the convolution weight")?;
    let y = cols_t
        .try_matmul(w_t)? // [G, B*L, O/G]
        .try_reshape_like(&(g, s.batch, l, og))?
        .try_permute::<_, Axes4<1, 0, 3, 2>>()? // [B, G, O/G, L]
        .try_reshape_like(&(s.batch, s.out_channels, l))?;
    let b = b
        .retaped::<T>()
        .try_reshape_like(&(s.out_channels,))?
        .try_broadcast_like::<_, Axes2<0, 2>>(&(s.batch, s.out_channels, l))?;
    y.try_add(b)?
        .try_reshape_like(&(s.batch, s.out_channels * l))
}

/// Pooling as a gather of every window, then a max or mean over the window.
pub fn pool2d<D: Device<f32>, Si: Shape, So: Shape, T: Tape<f32, D>>(
    s: PoolSpec,
    x: Tensor<Si, f32, D, T>,
    out_shape: So,
) -> Result<Tensor<So, f32, D, T>, D::Err> {
    if s.batch == 0 {
        return empty(x, out_shape);
    }
    let (plane, l, kk) = (s.in_h * s.in_w, s.out_h * s.out_w, s.kernel * s.kernel);
    let per_image = (kk * l * s.channels).max(s.channels * (plane + 1));
    let x = x.try_reshape_like(&(s.batch, s.channels * plane))?;
    let y = by_batch_chunks(x, per_image, |x| {
        let n = x.shape().0;
        let planes = n * s.channels;
        let idx = patch_index((s.in_h, s.in_w, s.out_h, s.out_w), (s.kernel, s.stride, 0));
        let windows = patches(x, (planes, plane), idx)?.try_reshape_like(&(kk, l * planes))?;
        let pooled: Tensor<(usize,), f32, D, T> = match s.kind {
            // dfdx's max skips NaN; adding the window's sum of `x * 0` (0, or NaN if the
            // window holds one; no gradient) makes a NaN win, as in the CPU kernel and
            // PyTorch. Ties: dfdx's backward sends the gradient to every tied maximum.
            PoolKind::Max => {
                let nan = windows
                    .retaped::<T>()
                    .try_mul(0.0)?
                    .try_sum::<_, Axis<0>>()?;
                windows.try_max::<_, Axis<0>>()?.try_add(nan)?
            }
            PoolKind::Avg => windows.try_mean::<_, Axis<0>>()?,
        };
        pooled
            .try_reshape_like(&(l, planes))?
            .try_permute::<_, Axes2<1, 0>>()?
            .try_reshape_like(&(n, s.channels * l))
    })?;
    y.try_reshape_like(&out_shape)
}

/// Local response normalisation from elementwise ops; the sum over each channel's window
/// is a product of a band matrix `M[c, c'] = 1` (where `c'` is in `c`'s window) with the
/// squares of the whole batch laid out as `[C, B*H*W]`.
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
    let band = x.device().try_tensor_from_vec(band, (c, c))?.retaped::<T>();
    let x3 = x.try_reshape_like(&(b, c, p))?;
    let squares = x3
        .retaped::<T>()
        .try_square()?
        .try_permute::<_, Axes3<1, 0, 2>>()?
        .try_reshape_like(&(c, b * p))?; // [c, b*p]
    check_operand(&band, "the band matrix")?;
    check_operand(&squares, "the squares")?;
    let sum = band
        .try_matmul(squares)?
        .try_reshape_like(&(c, b, p))?
        .try_permute::<_, Axes3<1, 0, 2>>()?; // [b, c, p]
    let scale = sum.try_mul(s.alpha)?.try_add(s.k)?.try_powf(-s.beta)?;
    x3.try_mul(scale)?.try_reshape_like(&shape)
}

/// The mean over batch and plane of `[B, C, P]`, per channel: summed over the plane first,
/// then over the batch. One pass over `B * P` values in f32 (dfdx's reduction over both
/// axes at once) loses about ten times more to rounding, which the batch norm backward's
/// cancellation then magnifies in the gradients of the layers before it.
fn channel_mean<D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<Dyn3, f32, D, T>,
) -> Result<Tensor<(usize,), f32, D, T>, D::Err> {
    let (b, _, p) = *x.shape();
    x.try_sum::<(usize, usize), Axis<2>>()?
        .try_sum::<(usize,), Axis<0>>()?
        .try_div((b * p) as f32)
}

/// `[C]` to `[B, C, P]` in two steps, so the backward pass sums in two stages too.
fn per_channel<D: Device<f32>, T: Tape<f32, D>>(
    v: Tensor<(usize,), f32, D, T>,
    (b, c, p): Dyn3,
) -> Result<Tensor<Dyn3, f32, D, T>, D::Err> {
    v.try_broadcast_like::<_, Axis<0>>(&(b, c))?
        .try_broadcast_like::<_, Axis<2>>(&(b, c, p))
}

/// Training-mode batch norm from dfdx ops (as dfdx's own `BatchNorm2D` computes it, with
/// two-stage reductions: see [`channel_mean`]).
pub fn batch_norm_train<D: Device<f32>, S: Shape, Sc: Shape, T: Tape<f32, D>>(
    s: BnSpec,
    x: Tensor<S, f32, D, T>,
    gamma: &Tensor<Sc, f32, D>,
    beta: &Tensor<Sc, f32, D>,
) -> Result<super::device::BnOutput<S, D, T>, D::Err> {
    let shape = *x.shape();
    let full = (s.batch, s.channels, s.plane);
    let x3 = x.try_reshape_like(&full)?;
    let mean = channel_mean(x3.retaped::<T>())?;
    let batch_mean = mean.retaped::<NoneTape>();
    let centered = x3.try_sub(per_channel(mean, full)?)?;
    let var = channel_mean(centered.retaped::<T>().try_square()?)?;
    let batch_var = var.retaped::<NoneTape>();
    let std = var.try_add(s.epsilon)?.try_sqrt()?;
    let gamma = gamma.retaped::<T>().try_reshape_like(&(s.channels,))?;
    let scale = per_channel(gamma.try_div(std)?, full)?;
    let beta = per_channel(beta.retaped::<T>().try_reshape_like(&(s.channels,))?, full)?;
    let y = centered
        .try_mul(scale)?
        .try_add(beta)?
        .try_reshape_like(&shape)?;
    Ok((y, batch_mean, batch_var))
}

/// `y = x * a[c] + b[c]` from dfdx ops.
pub fn channel_affine<D: Device<f32>, S: Shape>(
    s: BnSpec,
    x: Tensor<S, f32, D>,
    a: &super::device::Channels<D>,
    b: &super::device::Channels<D>,
) -> Result<Tensor<S, f32, D>, D::Err> {
    let shape = *x.shape();
    let full = (s.batch, s.channels, s.plane);
    let a = a.clone().try_broadcast_like::<_, Axes2<0, 2>>(&full)?;
    let b = b.clone().try_broadcast_like::<_, Axes2<0, 2>>(&full)?;
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
    if x.shape().0.size() == 0 {
        let shape = (x.shape().0, Const::<O>);
        return empty(x, shape);
    }
    check_operand(&x, "the dense layer's input")?;
    check_operand(w, "the dense layer's weight")?;
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
        a: &super::device::Channels<Self>,
        b: &super::device::Channels<Self>,
    ) -> Result<Tensor<S, f32, Self>, Self::Err> {
        channel_affine(spec, x, a, b)
    }

    fn try_reseeded(&self, seed: u64) -> Result<Self, Self::Err> {
        // A new handle on the same GPU (ordinal 0, dfdx's default): cudarc's devices on one
        // GPU share its primary context and default stream, so tensors mix freely.
        Cuda::try_build(0, seed)
    }
}
