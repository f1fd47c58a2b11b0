//! A dense (fully connected) layer, dfdx's `Linear` with the crate's fast CPU product.

use super::device::{LabDevice, OnDevice};
use dfdx::prelude::*;
use rand_distr::Uniform;

pub mod builder {
    /// See [`super::Linear`]; this zero-sized twin goes in model type aliases.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Linear<const IN: usize, const OUT: usize>;
}

/// `y = x · Wᵀ + b`: every output is a weighted sum of every input, plus a bias. `IN` inputs
/// to `OUT` outputs, `OUT x IN + OUT` parameters.
///
/// The same fields, initialisation (uniform in `±1/sqrt(IN)`) and checkpoint names
/// (`weight`, `bias`) as dfdx's `Linear`, which it replaces in the prelude: dfdx 0.13 on stable
/// multiplies with AVX2 only, and this layer's CPU path uses AVX-512 where there is one, about
/// three times faster on the models' first dense layer. PyTorch: `nn.Linear(IN, OUT)`.
///
/// ```
/// use alexnet_lab::prelude::*;
/// let dev = Cpu::default();
/// let fc = dev.build_module::<Linear<4, 2>, f32>();
/// let y: Tensor<Rank2<3, 2>, f32, _> = fc.forward(dev.ones::<Rank2<3, 4>>());
/// // With all-ones input each output is its row of weights summed, plus its bias.
/// let w = fc.weight.array();
/// let b = fc.bias.array();
/// assert!((y.array()[0][1] - (w[1].iter().sum::<f32>() + b[1])).abs() < 1e-6);
/// ```
///
/// What it computes, as plain loops: [`crate::reference::linear_forward`] and
/// [`crate::reference::linear_backward`]; the tests check that this fast layer equals them.
///
/// Taught in `notebooks/07-flatten-dense-dropout.ipynb`.
#[derive(Clone, Debug)]
pub struct Linear<const IN: usize, const OUT: usize, E: Dtype, D: Storage<E>> {
    /// `[OUT, IN]`
    pub weight: Tensor<Rank2<OUT, IN>, E, D>,
    /// `[OUT]`
    pub bias: Tensor<Rank1<OUT>, E, D>,
}

impl<const I: usize, const O: usize, D: Device<f32>> BuildOnDevice<D, f32>
    for builder::Linear<I, O>
{
    type Built = Linear<I, O, f32, D>;
    fn try_build_on_device(device: &D) -> Result<Self::Built, D::Err> {
        Self::Built::try_build(device)
    }
}

impl<const I: usize, const O: usize, D: Device<f32>> TensorCollection<f32, D>
    for Linear<I, O, f32, D>
{
    type To<E2: Dtype, D2: Device<E2>> = Linear<I, O, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    TensorOptions::reset_with(|t| fan_in_uniform::<I, D, _>(t)),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_with(|t| fan_in_uniform::<I, D, _>(t)),
                ),
            ),
            |(weight, bias)| Linear { weight, bias },
        )
    }
}

/// Fills `t` uniformly in `±1/sqrt(IN)` (dfdx's and PyTorch's default for dense layers).
fn fan_in_uniform<const I: usize, D: Device<f32>, S: Shape>(
    t: &mut Tensor<S, f32, D>,
) -> Result<(), D::Err> {
    let bound = 1.0 / (I as f32).sqrt();
    t.try_fill_with_distr(Uniform::new(-bound, bound))
}

impl<B: Dim, const I: usize, const O: usize, D: LabDevice, T: Tape<f32, D>>
    Module<Tensor<(B, Const<I>), f32, D, T>> for Linear<I, O, f32, D>
{
    type Output = Tensor<(B, Const<O>), f32, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<(B, Const<I>), f32, D, T>) -> Result<Self::Output, D::Err> {
        D::try_linear(x, &self.weight, &self.bias)
    }
}

/// One sample: `[IN]` to `[OUT]`.
impl<const I: usize, const O: usize, D: LabDevice, T: Tape<f32, D>>
    Module<Tensor<Rank1<I>, f32, D, T>> for Linear<I, O, f32, D>
{
    type Output = Tensor<Rank1<O>, f32, D, T>;
    type Error = D::Err;

    fn try_forward(&self, x: Tensor<Rank1<I>, f32, D, T>) -> Result<Self::Output, D::Err> {
        let x = x.try_reshape::<Rank2<1, I>>()?;
        D::try_linear(x, &self.weight, &self.bias)?.try_reshape()
    }
}

impl<const I: usize, const O: usize, E: Dtype, D: Storage<E>> NonMutableModule
    for Linear<I, O, E, D>
{
}

/// The device a dense layer's weights live on.
impl<const I: usize, const O: usize, D: LabDevice> OnDevice for Linear<I, O, f32, D> {
    type Device = D;
    fn device(&self) -> &D {
        self.weight.device()
    }
}
