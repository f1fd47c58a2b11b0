//! [`LabDevice`]: the dfdx devices the crate's layers run on, and the CPU's fast path.
//!
//! A layer hands its sizes to the device as a [`ConvSpec`], [`PoolSpec`] or [`LrnSpec`] and
//! gets a tensor back with the backward pass recorded on the tape. `Cpu` uses the im2col +
//! gemm kernels of [`super::cpu`]; every other device (CUDA) uses [`super::any_device`], which is
//! built from dfdx's own differentiable ops and so runs wherever dfdx does. The CPU can be
//! sent down the generic path too ([`CpuPath`]), which is how the tests check, on machines
//! without a GPU, the code a GPU runs.

use super::no_input_gradient::NoInputGradient;
use super::spec::{BnSpec, ConvSpec, Epilogue, LrnSpec, PoolSpec};
pub use crate::error::DeviceError;
use dfdx::prelude::*;

/// A model built on a device, and that device: what the training pipeline runs it on.
/// Implemented for the crate's layers with parameters and for tuples whose first member
/// has a device, so for every course model.
pub trait OnDevice {
    type Device: LabDevice;
    /// The device the model's parameters live on.
    fn device(&self) -> &Self::Device;
}

/// A training-mode batch norm's output with the batch's per-channel mean and biased variance,
/// both `[C]` on the device (the running averages are updated there, with no copy to the host).
pub type BnOutput<S, D, T> = (Tensor<S, f32, D, T>, Channels<D>, Channels<D>);

/// A device's own f32 storage (what a tensor's data lives in).
pub type Raw<D> = <D as Storage<f32>>::Vec;

/// One number per channel, `[C]`, on the device: batch statistics, or the `(a, c)` of an
/// evaluation-mode batch norm folded to `x * a + c`.
pub type Channels<D> = Tensor<(usize,), f32, D>;

/// A batch of `N`-vectors, `[B, N]` (a dense layer's input or output).
pub type Rows<B, const N: usize, D, T> = Tensor<(B, Const<N>), f32, D, T>;

/// A dfdx device with convolution, pooling and local response normalisation.
///
/// Implemented for `Cpu` (fast native kernels, or the generic ones: [`CpuPath`]) and, with
/// the `cuda` feature, `Cuda` (the generic kernels).
pub trait LabDevice: Device<f32> + HasErr<Err: DeviceError> {
    /// `x [B, C, H, W]`, `w [O, C / groups, K, K]`, `b [O]` to `[B, O, OH, OW]`.
    fn try_conv2d<Si: Shape, Sw: Shape, Sb: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: ConvSpec,
        x: Tensor<Si, f32, Self, T>,
        w: &Tensor<Sw, f32, Self>,
        b: &Tensor<Sb, f32, Self>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err>;

    /// `x [B, C, H, W]` to `[B, C, OH, OW]`.
    fn try_pool2d<Si: Shape, So: Shape, T: Tape<f32, Self>>(
        spec: PoolSpec,
        x: Tensor<Si, f32, Self, T>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self, T>, Self::Err>;

    /// `x [B, C, H, W]` to the same shape.
    fn try_lrn<S: Shape, T: Tape<f32, Self>>(
        spec: LrnSpec,
        x: Tensor<S, f32, Self, T>,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err>;

    /// Training-mode batch norm of `x [B, C, H, W]` with the batch's statistics; also returns
    /// them (mean, biased variance) for the running averages.
    fn try_batch_norm_train<S: Shape, Sc: Shape, T: Tape<f32, Self>>(
        spec: BnSpec,
        x: Tensor<S, f32, Self, T>,
        gamma: &Tensor<Sc, f32, Self>,
        beta: &Tensor<Sc, f32, Self>,
    ) -> Result<BnOutput<S, Self, T>, Self::Err>;

    /// [`LabDevice::try_batch_norm_train`] followed by ReLU, `max(bn(x), 0)` (the `cifar`
    /// model's order). By default the two ops one after the other; the CPU makes it one op,
    /// with ReLU applied as the output is written and its mask applied inside batch norm's
    /// backward pass (two passes over the feature maps fewer each way, the same numbers).
    fn try_batch_norm_relu_train<S: Shape, Sc: Shape, T: Tape<f32, Self>>(
        spec: BnSpec,
        x: Tensor<S, f32, Self, T>,
        gamma: &Tensor<Sc, f32, Self>,
        beta: &Tensor<Sc, f32, Self>,
    ) -> Result<BnOutput<S, Self, T>, Self::Err> {
        let (y, mean, var) = Self::try_batch_norm_train(spec, x, gamma, beta)?;
        Ok((y.try_relu()?, mean, var))
    }

    /// `x [B, I] · wᵀ + b` with `w [O, I]`, `b [O]`: a dense layer.
    fn try_linear<B: Dim, const I: usize, const O: usize, T: Tape<f32, Self>>(
        x: Rows<B, I, Self, T>,
        w: &Tensor<Rank2<O, I>, f32, Self>,
        b: &Tensor<Rank1<O>, f32, Self>,
    ) -> Result<Rows<B, O, Self, T>, Self::Err>;

    /// `y = x * a[c] + b[c]` per channel (evaluation-mode batch norm, folded).
    fn try_channel_affine<S: Shape>(
        spec: BnSpec,
        x: Tensor<S, f32, Self>,
        a: &Channels<Self>,
        b: &Channels<Self>,
    ) -> Result<Tensor<S, f32, Self>, Self::Err>;

    /// Tells this device that nothing will read the gradient of `images` (a batch a training
    /// step feeds to a model: only the parameters' gradients are wanted), until the guard
    /// drops. The CPU then skips that gradient where the first layer is an im2col
    /// convolution (every course model's is; `article`'s conv1 and its ReLU: 111 to 72 ms a
    /// training step); every other device computes it as usual. The gradients of everything
    /// else are the same either way.
    fn try_no_input_gradient<S: Shape>(
        _images: &Tensor<S, f32, Self>,
    ) -> Result<NoInputGradient, Self::Err> {
        Ok(NoInputGradient { guard: None })
    }

    /// A device on the same hardware whose random numbers (dropout masks, samples) start
    /// from `seed`.
    fn try_reseeded(&self, seed: u64) -> Result<Self, Self::Err>;

    /// Whether [`LabDevice::try_raw_from_host`] makes storage here (the CPU on its native
    /// path); where it does not, the optimizer updates with tensor ops and never asks.
    fn raw_storage() -> bool {
        false
    }

    /// Optimizer state as this device's own storage, which dfdx's fused update kernels
    /// (`SgdConfig::try_update`: one pass over parameter, gradient and velocity) change in
    /// place. `Some` on the CPU; `None` by default, and the optimizer then updates with
    /// tensor ops, on the device all the same.
    fn try_raw_from_host(&self, _values: &[f32]) -> Result<Option<Raw<Self>>, Self::Err> {
        Ok(None)
    }

    /// The values of storage made by [`LabDevice::try_raw_from_host`] (`None` where it makes
    /// none).
    fn raw_to_host(_raw: &Raw<Self>) -> Option<Vec<f32>> {
        None
    }

    /// An evaluation-mode (untraced) convolution with the ReLU and batch norm that follow it
    /// applied as `epilogue`. By default the separate ops one after another; the CPU applies
    /// the epilogue as it writes the convolution's output (one pass over memory, not three).
    fn try_conv2d_eval<Si: Shape, Sw: Shape, Sb: Shape, So: Shape>(
        spec: ConvSpec,
        x: Tensor<Si, f32, Self>,
        w: &Tensor<Sw, f32, Self>,
        b: &Tensor<Sb, f32, Self>,
        epilogue: &Epilogue<Channels<Self>>,
        out_shape: So,
    ) -> Result<Tensor<So, f32, Self>, Self::Err> {
        conv2d_then_epilogue(spec, x, w, b, epilogue, out_shape)
    }
}

/// [`LabDevice::try_conv2d_eval`] as separate ops: the convolution, then its epilogue. What
/// every device without a fused kernel runs, and the CPU on the generic path.
pub(super) fn conv2d_then_epilogue<D: LabDevice, Si: Shape, Sw: Shape, Sb: Shape, So: Shape>(
    spec: ConvSpec,
    x: Tensor<Si, f32, D>,
    w: &Tensor<Sw, f32, D>,
    b: &Tensor<Sb, f32, D>,
    epilogue: &Epilogue<Channels<D>>,
    out_shape: So,
) -> Result<Tensor<So, f32, D>, D::Err> {
    let y = D::try_conv2d(spec, x, w, b, out_shape)?;
    let bn = BnSpec {
        batch: spec.batch,
        channels: spec.out_channels,
        plane: spec.out_len(),
        epsilon: 0.0,
    };
    match epilogue {
        Epilogue::Identity => Ok(y),
        Epilogue::Relu => y.try_relu(),
        Epilogue::AffineRelu { a, c } => D::try_channel_affine(bn, y, a, c)?.try_relu(),
        Epilogue::ReluAffine { a, c } => D::try_channel_affine(bn, y.try_relu()?, a, c),
    }
}

/// Tuples: the device of the first member.
macro_rules! on_device_tuple {
    ($($rest:ident),*) => {
        impl<A: OnDevice, $($rest),*> OnDevice for (A, $($rest),*) {
            type Device = A::Device;
            fn device(&self) -> &A::Device {
                self.0.device()
            }
        }
    };
}
on_device_tuple!(B);
on_device_tuple!(B, C);
on_device_tuple!(B, C, E);
on_device_tuple!(B, C, E, F);
on_device_tuple!(B, C, E, F, G);
