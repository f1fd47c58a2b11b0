//! `article`: the AlexNet the course's article builds in Keras, on 227x227 images.
//!
//! Five convolutions (96@11x11 stride 4, 256@5x5 pad 2, 384@3x3, 384@3x3, 256@3x3 pad 1),
//! each followed by ReLU and batch norm; 3x3 max pooling with stride 2 (overlapping) after
//! the first, second and fifth; dense 9216 -> 4096 -> 4096 -> 10 with dropout 0.5.
//! 58,325,066 trainable parameters. Taught in `notebooks/08-alexnet.ipynb`.

use super::describe::{Describe, LayerRow};
use crate::layers::builders::{BatchNorm2D, Conv2D, Flatten, Linear, MaxPool2D};
use crate::layers::spec::Epilogue;
use crate::layers::{self, LabDevice};
use dfdx::nn::builders::{Dropout, ReLU};
use dfdx::prelude::*;

/// The `article` model, input `[B, 3, 227, 227]`, output 10 logits.
pub type Article = (
    // (227 - 11) / 4 + 1 = 55; (55 - 3) / 2 + 1 = 27
    ConvReluBn<3, 96, 11, 4, 0, 55, MaxPool2D<3, 2, 27>>,
    // 27 + 4 - 5 + 1 = 27; (27 - 3) / 2 + 1 = 13
    ConvReluBn<96, 256, 5, 1, 2, 27, MaxPool2D<3, 2, 13>>,
    ConvReluBn<256, 384, 3, 1, 1, 13>,
    ConvReluBn<384, 384, 3, 1, 1, 13>,
    // (13 - 3) / 2 + 1 = 6
    ConvReluBn<384, 256, 3, 1, 1, 13, MaxPool2D<3, 2, 6>>,
    (
        Flatten<9216>, // 256 * 6 * 6
        (Linear<9216, 4096>, ReLU, Dropout),
        (Linear<4096, 4096>, ReLU, Dropout),
        Linear<4096, 10>,
    ),
);

/// A convolution `Conv2D<IN, OUT, K, STRIDE, PAD, OUT_SIZE>`, ReLU, batch norm, then `NEXT`
/// (a pooling layer, or `()` for nothing): the layers of the tuple
/// `(Conv2D<..>, ReLU, BatchNorm2D<OUT>, NEXT)`, built as one [`ConvReluBnBlock`] whose
/// fields, parameter names and training pass are that tuple's.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConvReluBn<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const STRIDE: usize,
    const PAD: usize,
    const OUT_SIZE: usize,
    NEXT = (),
>(std::marker::PhantomData<NEXT>);

/// A built [`ConvReluBn`]: convolution `.0`, ReLU `.1`, batch norm `.2`, the next layer `.3`,
/// as the tuple of the four would hold them (so checkpoints name the weights `0.weight`,
/// `2.scale`, ...).
///
/// Training (`forward_mut`) runs the layers one after another. Inference (`forward`) folds
/// the ReLU and the batch norm, with its running statistics, into the convolution: each
/// output is written once as `max(conv + bias, 0) * a + c` with `a = scale / sqrt(var + eps)`
/// and `c = bias_bn - mean * a`, the same operations in the same order as the separate
/// layers, so the same numbers, without two more passes over the feature maps.
#[derive(Clone, Debug)]
pub struct ConvReluBnBlock<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const STRIDE: usize,
    const PAD: usize,
    const OUT_SIZE: usize,
    NEXT,
    E: Dtype,
    D: Storage<E>,
>(
    pub layers::Conv2D<IN, OUT, K, STRIDE, PAD, OUT_SIZE, 1, E, D>,
    pub dfdx::nn::modules::ReLU,
    pub layers::BatchNorm2D<OUT, E, D>,
    pub NEXT,
);

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        N: BuildOnDevice<D, f32>,
        D: Device<f32>,
    > BuildOnDevice<D, f32> for ConvReluBn<I, O, K, S, P, OS, N>
where
    N::Built: TensorCollection<f32, D> + Default,
{
    type Built = ConvReluBnBlock<I, O, K, S, P, OS, N::Built, f32, D>;
    fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
        Self::Built::try_build(device)
    }
}

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        N: TensorCollection<f32, D> + Default,
        D: Device<f32>,
    > TensorCollection<f32, D> for ConvReluBnBlock<I, O, K, S, P, OS, N, f32, D>
{
    type To<E2: Dtype, D2: Device<E2>> = ConvReluBnBlock<I, O, K, S, P, OS, N, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::module("0", |s| &s.0, |s| &mut s.0),
                Self::module("2", |s| &s.2, |s| &mut s.2),
            ),
            |(conv, bn)| ConvReluBnBlock(conv, Default::default(), bn, Default::default()),
        )
    }
}

type Images<B, const C: usize, const H: usize, const W: usize, D, T = NoneTape> =
    Tensor<(B, Const<C>, Const<H>, Const<W>), f32, D, T>;

impl<
        B: Dim,
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        const H: usize,
        const W: usize,
        N: Module<Images<B, O, OS, OS, D>, Error = D::Err>,
        D: LabDevice,
    > Module<Images<B, I, H, W, D>> for ConvReluBnBlock<I, O, K, S, P, OS, N, f32, D>
{
    type Output = N::Output;
    type Error = D::Err;

    /// Inference: one convolution with ReLU and batch norm applied as it writes, then `NEXT`.
    fn try_forward(&self, x: Images<B, I, H, W, D>) -> Result<Self::Output, D::Err> {
        let (a, c) = self.2.try_folded()?;
        let y = self
            .0
            .try_forward_fused(x, &Epilogue::ReluAffine { a, c })?;
        self.3.try_forward(y)
    }
}

impl<
        B: Dim,
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        const H: usize,
        const W: usize,
        N: ModuleMut<Images<B, O, OS, OS, D, OwnedTape<f32, D>>, Error = D::Err>,
        D: LabDevice,
    > ModuleMut<Images<B, I, H, W, D, OwnedTape<f32, D>>>
    for ConvReluBnBlock<I, O, K, S, P, OS, N, f32, D>
{
    type Output = N::Output;
    type Error = D::Err;

    /// Training: the layers one after another (batch statistics, running averages).
    fn try_forward_mut(
        &mut self,
        x: Images<B, I, H, W, D, OwnedTape<f32, D>>,
    ) -> Result<Self::Output, D::Err> {
        let y = self.0.try_forward(x)?;
        let y = self.1.try_forward(y)?;
        let y = self.2.try_forward_mut(y)?;
        self.3.try_forward_mut(y)
    }
}

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        N: Describe,
    > Describe for ConvReluBn<I, O, K, S, P, OS, N>
{
    fn describe(input: &[usize], rows: &mut Vec<LayerRow>) -> Vec<usize> {
        <(Conv2D<I, O, K, S, P, OS>, ReLU, BatchNorm2D<O>, N)>::describe(input, rows)
    }
}

/// Nothing after the batch norm: no rows.
impl Describe for () {
    fn describe(input: &[usize], _: &mut Vec<LayerRow>) -> Vec<usize> {
        input.to_vec()
    }
}

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        NEXT,
        D: LabDevice,
    > layers::OnDevice for ConvReluBnBlock<I, O, K, S, P, OS, NEXT, f32, D>
{
    type Device = D;
    fn device(&self) -> &D {
        self.0.weight.device()
    }
}
