//! Batch normalisation (Ioffe and Szegedy 2015) with a fused CPU kernel.

use super::device::{Channels, LabDevice, OnDevice};
use super::spec::BnSpec;
use dfdx::prelude::*;

pub mod builder {
    /// See [`super::BatchNorm2D`]; this zero-sized twin goes in model type aliases.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct BatchNorm2D<const C: usize>;
}

/// Batch normalisation over the `C` channels of `[B, C, H, W]`: in training each channel is
/// normalised with the batch's mean and variance, then scaled by `scale` and shifted by
/// `bias` (both learned); running averages of the statistics (momentum 0.1, the variance
/// unbiased) are kept for evaluation, which uses them instead. PyTorch: `nn.BatchNorm2d(C)`.
///
/// The same fields, defaults and behaviour as dfdx's `BatchNorm2D` (a test checks them
/// against it), so checkpoints are interchangeable; the CPU path is one fused, parallel pass
/// instead of a chain of single-threaded ops. As in dfdx, `forward` (no tape) is evaluation
/// and `forward_mut` (traced input) is training.
///
/// What it computes, as plain loops: [`crate::reference::batch_norm_train`],
/// [`crate::reference::batch_norm_eval`] and [`crate::reference::update_running_stats`];
/// the tests check that this fast layer equals them.
///
/// Taught in `notebooks/06-batch-normalization.ipynb`.
#[derive(Clone, Debug)]
pub struct BatchNorm2D<const C: usize, E: Dtype, D: Storage<E>> {
    /// Multiplies the normalised values. Starts at 1.
    pub scale: Tensor<Rank1<C>, E, D>,
    /// Added after scaling. Starts at 0.
    pub bias: Tensor<Rank1<C>, E, D>,
    /// Running mean, updated in training. Starts at 0.
    pub running_mean: Tensor<Rank1<C>, E, D>,
    /// Running (unbiased) variance, updated in training. Starts at 1.
    pub running_var: Tensor<Rank1<C>, E, D>,
    /// Added to the variance before the square root. 1e-5.
    pub epsilon: f64,
    /// Weight of the new batch in the running averages. 0.1.
    pub momentum: f64,
}

impl<const C: usize, D: Device<f32>> BuildOnDevice<D, f32> for builder::BatchNorm2D<C> {
    type Built = BatchNorm2D<C, f32, D>;
    fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
        Self::Built::try_build(device)
    }
}

impl<const C: usize, D: Device<f32>> TensorCollection<f32, D> for BatchNorm2D<C, f32, D> {
    type To<E2: Dtype, D2: Device<E2>> = BatchNorm2D<C, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "scale",
                    |s| &s.scale,
                    |s| &mut s.scale,
                    TensorOptions::reset_to_ones(),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_to_zeros(),
                ),
                Self::tensor(
                    "running_mean",
                    |s| &s.running_mean,
                    |s| &mut s.running_mean,
                    TensorOptions::detached(|t| t.try_fill_with_zeros()),
                ),
                Self::tensor(
                    "running_var",
                    |s| &s.running_var,
                    |s| &mut s.running_var,
                    TensorOptions::detached(|t| t.try_fill_with_ones()),
                ),
                Self::scalar(
                    "epsilon",
                    |s| &s.epsilon,
                    |s| &mut s.epsilon,
                    ScalarOptions::from_default(1e-5),
                ),
                Self::scalar(
                    "momentum",
                    |s| &s.momentum,
                    |s| &mut s.momentum,
                    ScalarOptions::from_default(0.1),
                ),
            ),
            |(scale, bias, running_mean, running_var, epsilon, momentum)| BatchNorm2D {
                scale,
                bias,
                running_mean,
                running_var,
                epsilon,
                momentum,
            },
        )
    }
}

impl<const C: usize, D: LabDevice> BatchNorm2D<C, f32, D> {
    /// Evaluation-mode batch norm as `y = x * a + c` per channel, computed on the device
    /// from the running statistics: `a = scale / sqrt(running_var + epsilon)`,
    /// `c = bias - running_mean * a`. The fused convolution blocks apply these as they write
    /// their output; [`Module::try_forward`] applies them to its input.
    pub fn try_folded(&self) -> Result<(Channels<D>, Channels<D>), D::Err> {
        let a = self.scale.clone().try_div(
            self.running_var
                .clone()
                .try_add(self.epsilon as f32)?
                .try_sqrt()?,
        )?;
        let c = self
            .bias
            .clone()
            .try_sub(self.running_mean.clone().try_mul(a.clone())?)?;
        Ok((a.try_reshape_like(&(C,))?, c.try_reshape_like(&(C,))?))
    }

    fn spec<S: Shape>(&self, shape: &S) -> BnSpec {
        let dims = shape.concrete();
        let (batch, plane) = (dims[0], dims.into_iter().skip(2).product());
        BnSpec {
            batch,
            channels: C,
            plane,
            epsilon: self.epsilon as f32,
        }
    }
}

impl<B: Dim, const C: usize, H: Dim, W: Dim, D: LabDevice>
    Module<Tensor<(B, Const<C>, H, W), f32, D>> for BatchNorm2D<C, f32, D>
{
    type Output = Tensor<(B, Const<C>, H, W), f32, D>;
    type Error = D::Err;

    /// Evaluation: normalises with the running statistics (which it leaves alone).
    fn try_forward(&self, x: Tensor<(B, Const<C>, H, W), f32, D>) -> Result<Self::Output, D::Err> {
        let spec = self.spec(x.shape());
        let (a, c) = self.try_folded()?;
        D::try_channel_affine(spec, x, &a, &c)
    }
}

impl<B: Dim, const C: usize, H: Dim, W: Dim, D: LabDevice>
    ModuleMut<Tensor<(B, Const<C>, H, W), f32, D, OwnedTape<f32, D>>> for BatchNorm2D<C, f32, D>
{
    type Output = Tensor<(B, Const<C>, H, W), f32, D, OwnedTape<f32, D>>;
    type Error = D::Err;

    /// Training: normalises with the batch's statistics and updates the running ones, on the
    /// device: `running = (1 - momentum) * running + momentum * batch`, with the batch's
    /// variance made unbiased (times `n / (n - 1)` for `n` values per channel).
    fn try_forward_mut(
        &mut self,
        x: Tensor<(B, Const<C>, H, W), f32, D, OwnedTape<f32, D>>,
    ) -> Result<Self::Output, D::Err> {
        self.try_train(x, false)
    }
}

impl<const C: usize, D: LabDevice> BatchNorm2D<C, f32, D> {
    /// Training mode followed by ReLU, `max(bn(x), 0)`, as one op where the device fuses them
    /// ([`LabDevice::try_batch_norm_relu_train`]): what the `cifar` model's blocks run.
    #[allow(clippy::type_complexity)]
    pub fn try_forward_mut_relu<B: Dim, H: Dim, W: Dim>(
        &mut self,
        x: Tensor<(B, Const<C>, H, W), f32, D, OwnedTape<f32, D>>,
    ) -> Result<Tensor<(B, Const<C>, H, W), f32, D, OwnedTape<f32, D>>, D::Err> {
        self.try_train(x, true)
    }

    #[allow(clippy::type_complexity)]
    fn try_train<S: Shape>(
        &mut self,
        x: Tensor<S, f32, D, OwnedTape<f32, D>>,
        relu: bool,
    ) -> Result<Tensor<S, f32, D, OwnedTape<f32, D>>, D::Err> {
        let spec = self.spec(x.shape());
        let (y, mean, var) = if relu {
            D::try_batch_norm_relu_train(spec, x, &self.scale, &self.bias)?
        } else {
            D::try_batch_norm_train(spec, x, &self.scale, &self.bias)?
        };
        let (m, n) = (self.momentum, (spec.batch * spec.plane) as f64);
        let unbias = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
        let per_channel = (Const::<C>,);
        let (mean, var) = (
            mean.try_reshape_like(&per_channel)?,
            var.try_reshape_like(&per_channel)?,
        );
        self.running_mean.try_axpy(1.0 - m, &mean, m)?;
        self.running_var.try_axpy(1.0 - m, &var, m * unbias)?;
        Ok(y)
    }
}

/// The device a batch norm's parameters live on.
impl<const C: usize, D: LabDevice> OnDevice for BatchNorm2D<C, f32, D> {
    type Device = D;
    fn device(&self) -> &D {
        self.scale.device()
    }
}
