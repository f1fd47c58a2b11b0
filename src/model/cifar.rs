//! `cifar`: AlexNet scaled to CIFAR-10's 32x32 images, the model a laptop can train.
//!
//! Five 3x3 convolutions (64, 192, 384, 256, 256 channels, padding 1 keeps the size), each
//! followed by batch norm and ReLU; 2x2 max pooling after the first, second and fifth;
//! then dropout and three dense layers (4096 -> 1024 -> 1024 -> 10). 7,509,066 trainable
//! parameters. Taught in `notebooks/08-alexnet.ipynb`.

use super::describe::{Describe, LayerRow};
use crate::layers::builders::{BatchNorm2D, Conv2D, Flatten, Linear, MaxPool2D};
use crate::layers::spec::Epilogue;
use crate::layers::{self, LabDevice};
use dfdx::nn::builders::{Dropout, ReLU};
use dfdx::prelude::*;

/// A 3x3 convolution with padding 1 (so `SIZE` in, `SIZE` out), batch norm, ReLU: the
/// layers `(Conv2D<IN, OUT, 3, 1, 1, SIZE>, BatchNorm2D<OUT>, ReLU)`, built as one
/// [`ConvBnReluBlock`] whose fields, parameter names and training pass are that tuple's.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConvBnRelu<const IN: usize, const OUT: usize, const SIZE: usize>;

/// The `cifar` model, input `[B, 3, 32, 32]`, output 10 logits.
pub type Cifar = (
    (ConvBnRelu<3, 64, 32>, MaxPool2D<2, 2, 16>), // [64, 32, 32] -> [64, 16, 16]
    (ConvBnRelu<64, 192, 16>, MaxPool2D<2, 2, 8>), // [192, 16, 16] -> [192, 8, 8]
    ConvBnRelu<192, 384, 8>,                      // [384, 8, 8]
    ConvBnRelu<384, 256, 8>,                      // [256, 8, 8]
    (ConvBnRelu<256, 256, 8>, MaxPool2D<2, 2, 4>), // [256, 8, 8] -> [256, 4, 4]
    (
        Flatten<4096>, // 256 * 4 * 4
        (Dropout, Linear<4096, 1024>, ReLU),
        (Dropout, Linear<1024, 1024>, ReLU),
        Linear<1024, 10>,
    ),
);

/// A built [`ConvBnRelu`]: convolution `.0`, batch norm `.1`, ReLU `.2`, exactly as the tuple
/// of the three would hold them (so checkpoints name the weights `0.weight`, `1.scale`, ...).
///
/// Training (`forward_mut`) runs the three layers one after another. Inference (`forward`)
/// folds the batch norm, with its running statistics, and the ReLU into the convolution:
/// each output is written once as `max((conv + bias) * a + c, 0)` with
/// `a = scale / sqrt(var + eps)` and `c = bias_bn - mean * a`, the same operations in the
/// same order as the three separate layers, so the same numbers, without two more passes
/// over the feature maps.
#[derive(Clone, Debug)]
pub struct ConvBnReluBlock<
    const IN: usize,
    const OUT: usize,
    const SIZE: usize,
    E: Dtype,
    D: Storage<E>,
>(
    pub layers::Conv2D<IN, OUT, 3, 1, 1, SIZE, 1, E, D>,
    pub layers::BatchNorm2D<OUT, E, D>,
    pub dfdx::nn::modules::ReLU,
);

impl<const I: usize, const O: usize, const S: usize, D: Device<f32>> BuildOnDevice<D, f32>
    for ConvBnRelu<I, O, S>
{
    type Built = ConvBnReluBlock<I, O, S, f32, D>;
    fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
        Self::Built::try_build(device)
    }
}

impl<const I: usize, const O: usize, const S: usize, D: Device<f32>> TensorCollection<f32, D>
    for ConvBnReluBlock<I, O, S, f32, D>
{
    type To<E2: Dtype, D2: Device<E2>> = ConvBnReluBlock<I, O, S, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("0", |s| &s.0, |s| &mut s.0),
                Self::module("1", |s| &s.1, |s| &mut s.1),
            ),
            |(conv, bn)| ConvBnReluBlock(conv, bn, Default::default()),
        )
    }
}

type Images<B, const C: usize, const H: usize, const W: usize, D, T = NoneTape> =
    Tensor<(B, Const<C>, Const<H>, Const<W>), f32, D, T>;

impl<
        B: Dim,
        const I: usize,
        const O: usize,
        const S: usize,
        const H: usize,
        const W: usize,
        D: LabDevice,
    > Module<Images<B, I, H, W, D>> for ConvBnReluBlock<I, O, S, f32, D>
{
    type Output = Images<B, O, S, S, D>;
    type Error = D::Err;

    /// Inference: one convolution with batch norm and ReLU applied as it writes. An input of
    /// any other size than `S` stops the build at the convolution's size check, as the
    /// unfused layer does.
    fn try_forward(&self, x: Images<B, I, H, W, D>) -> Result<Self::Output, D::Err> {
        let (a, c) = self.1.try_folded()?;
        self.0.try_forward_fused(x, &Epilogue::AffineRelu { a, c })
    }
}

impl<
        B: Dim,
        const I: usize,
        const O: usize,
        const S: usize,
        const H: usize,
        const W: usize,
        D: LabDevice,
    > ModuleMut<Images<B, I, H, W, D, OwnedTape<f32, D>>> for ConvBnReluBlock<I, O, S, f32, D>
{
    type Output = Images<B, O, S, S, D, OwnedTape<f32, D>>;
    type Error = D::Err;

    /// Training: the convolution, then batch norm (batch statistics, running averages) and
    /// ReLU.
    fn try_forward_mut(
        &mut self,
        x: Images<B, I, H, W, D, OwnedTape<f32, D>>,
    ) -> Result<Self::Output, D::Err> {
        let y = self.0.try_forward(x)?;
        // Batch norm and ReLU as one op where the device fuses them (the CPU does).
        self.1.try_forward_mut_relu(y)
    }
}

impl<const I: usize, const O: usize, const S: usize> Describe for ConvBnRelu<I, O, S> {
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        <(Conv2D<I, O, 3, 1, 1, S>, BatchNorm2D<O>, ReLU)>::describe(input, rows)
    }
}

impl<const I: usize, const O: usize, const S: usize, D: LabDevice> layers::OnDevice
    for ConvBnReluBlock<I, O, S, f32, D>
{
    type Device = D;
    fn device(&self) -> &D {
        self.0.weight.device()
    }
}
