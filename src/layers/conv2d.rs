//! A 2-D convolution whose sizes are part of its type.

use super::device::{Channels, LabDevice, OnDevice};
use super::spec::{ConvSpec, Epilogue};
use dfdx::prelude::*;
use rand_distr::Uniform;

/// The dimension `C / G`: input channels seen by each group of a grouped convolution.
///
/// Stable Rust cannot write `C / G` inside a type, but a dimension type can compute it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerGroup<const C: usize, const G: usize>;

impl<const C: usize, const G: usize> Dim for PerGroup<C, G> {
    fn size(&self) -> usize {
        C / G
    }
    fn from_size(size: usize) -> Option<Self> {
        (size == C / G).then_some(Self)
    }
}

impl<const C: usize, const G: usize> ConstDim for PerGroup<C, G> {
    const SIZE: usize = C / G;
}

/// The weight shape `[OUT, IN / GROUPS, K, K]`.
pub type ConvWeightShape<const IN: usize, const OUT: usize, const K: usize, const G: usize> =
    (Const<OUT>, PerGroup<IN, G>, Const<K>, Const<K>);

pub mod builder {
    /// See [`super::Conv2D`]; this zero-sized twin goes in model type aliases.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Conv2D<
        const IN: usize,
        const OUT: usize,
        const K: usize,
        const STRIDE: usize,
        const PAD: usize,
        const OUT_SIZE: usize,
        const GROUPS: usize = 1,
    >;
}

/// A 2-D convolution with bias: `IN` channels to `OUT`, a `K x K` kernel, `STRIDE`, zero
/// padding `PAD` on every side, and `GROUPS` (the paper's split across two GPUs: each half
/// of the outputs sees only its half of the inputs).
///
/// `OUT_SIZE` is the output's height and width, `(IN_SIZE + 2 * PAD - K) / STRIDE + 1`; the
/// compiler checks it against the input it is given, so the model's type is its shape table.
/// PyTorch: `nn.Conv2d(IN, OUT, K, stride=STRIDE, padding=PAD, groups=GROUPS)`, initialised
/// like it (uniform in `±1/sqrt(fan_in)`, `fan_in = IN / GROUPS * K * K`).
///
/// ```
/// use alexnet_lab::prelude::*;
/// let dev = Cpu::default();
/// // AlexNet's first layer: 227x227 RGB to 96 maps of 55x55, since (227 - 11) / 4 + 1 = 55.
/// let conv = dev.build_module::<builders::Conv2D<3, 96, 11, 4, 0, 55>, f32>();
/// let x: Tensor<Rank4<1, 3, 227, 227>, f32, _> = dev.zeros();
/// let y: Tensor<Rank4<1, 96, 55, 55>, f32, _> = conv.forward(x);
/// ```
///
/// A size that does not follow from the input is a build error that names the formula:
/// ```compile_fail,E0080
/// use alexnet_lab::prelude::*;
/// let dev = Cpu::default();
/// let conv = dev.build_module::<builders::Conv2D<3, 96, 11, 4, 0, 56>, f32>();
/// let y = conv.forward(dev.zeros::<Rank4<1, 3, 227, 227>>()); // 55, not 56
/// ```
///
/// What it computes, as plain loops: [`crate::reference::conv_forward`] and
/// [`crate::reference::conv_backward`]; the tests check that this fast layer equals them.
///
/// Taught in `notebooks/02-convolution.ipynb`.
#[derive(Clone, Debug)]
pub struct Conv2D<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const STRIDE: usize,
    const PAD: usize,
    const OUT_SIZE: usize,
    const GROUPS: usize,
    E: Dtype,
    D: Storage<E>,
> {
    /// `[OUT, IN / GROUPS, K, K]`
    pub weight: Tensor<ConvWeightShape<IN, OUT, K, GROUPS>, E, D>,
    /// `[OUT]`
    pub bias: Tensor<Rank1<OUT>, E, D>,
}

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        const G: usize,
        D: Device<f32>,
    > BuildOnDevice<D, f32> for builder::Conv2D<I, O, K, S, P, OS, G>
{
    type Built = Conv2D<I, O, K, S, P, OS, G, f32, D>;
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
        const G: usize,
        D: Device<f32>,
    > TensorCollection<f32, D> for Conv2D<I, O, K, S, P, OS, G, f32, D>
{
    type To<E2: Dtype, D2: Device<E2>> = Conv2D<I, O, K, S, P, OS, G, E2, D2>;

    fn iter_tensors<V: ModuleVisitor<Self, f32, D>>(
        visitor: &mut V,
    ) -> Result<Option<Self::To<V::E2, V::D2>>, V::Err> {
        visitor.visit_fields(
            (
                Self::tensor(
                    "weight",
                    |s| &s.weight,
                    |s| &mut s.weight,
                    TensorOptions::reset_with(|t| pytorch_fan_in::<I, K, G, D, _>(t)),
                ),
                Self::tensor(
                    "bias",
                    |s| &s.bias,
                    |s| &mut s.bias,
                    TensorOptions::reset_with(|t| pytorch_fan_in::<I, K, G, D, _>(t)),
                ),
            ),
            |(weight, bias)| Conv2D { weight, bias },
        )
    }
}

/// Fills `t` uniformly in `±1/sqrt(IN / G * K * K)` (PyTorch's default for conv layers).
fn pytorch_fan_in<const I: usize, const K: usize, const G: usize, D: Device<f32>, S: Shape>(
    t: &mut Tensor<S, f32, D>,
) -> Result<(), D::Err> {
    let bound = 1.0 / ((I / G * K * K) as f32).sqrt();
    t.try_fill_with_distr(Uniform::new(-bound, bound))
}

impl<
        B: Dim,
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        const G: usize,
        const H: usize,
        const W: usize,
        D: LabDevice,
        T: Tape<f32, D>,
    > Module<Tensor<(B, Const<I>, Const<H>, Const<W>), f32, D, T>>
    for Conv2D<I, O, K, S, P, OS, G, f32, D>
{
    type Output = Tensor<(B, Const<O>, Const<OS>, Const<OS>), f32, D, T>;
    type Error = D::Err;

    fn try_forward(
        &self,
        x: Tensor<(B, Const<I>, Const<H>, Const<W>), f32, D, T>,
    ) -> Result<Self::Output, D::Err> {
        let batch = x.shape().0;
        let spec = Self::spec::<H, W>(batch.size());
        D::try_conv2d(
            spec,
            x,
            &self.weight,
            &self.bias,
            (batch, Const, Const, Const),
        )
    }
}

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        const G: usize,
        D: LabDevice,
    > Conv2D<I, O, K, S, P, OS, G, f32, D>
{
    /// The sizes as plain numbers for a batch of `batch` `H x W` images, after the
    /// compile-time checks ([`Conv2DSizes`]) that stop a build with a wrong size.
    fn spec<const H: usize, const W: usize>(batch: usize) -> ConvSpec {
        let () = Conv2DSizes::<I, O, K, S, P, OS, G, H, W>::CHECK;
        ConvSpec {
            batch,
            in_channels: I,
            out_channels: O,
            in_h: H,
            in_w: W,
            out_h: OS,
            out_w: OS,
            kernel: K,
            stride: S,
            pad: P,
            groups: G,
        }
    }

    /// Inference with `epilogue` (the activation and evaluation-mode batch norm that follow
    /// the convolution in a model) applied as each output is written: what the models'
    /// fused blocks run. The same numbers as the separate layers, one pass over the output.
    #[allow(clippy::type_complexity)]
    pub fn try_forward_fused<B: Dim, const H: usize, const W: usize>(
        &self,
        x: Tensor<(B, Const<I>, Const<H>, Const<W>), f32, D>,
        epilogue: &Epilogue<Channels<D>>,
    ) -> Result<Tensor<(B, Const<O>, Const<OS>, Const<OS>), f32, D>, D::Err> {
        let batch = x.shape().0;
        let spec = Self::spec::<H, W>(batch.size());
        let shape = (batch, Const, Const, Const);
        D::try_conv2d_eval(spec, x, &self.weight, &self.bias, epilogue, shape)
    }
}

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        const G: usize,
        E: Dtype,
        D: Storage<E>,
    > NonMutableModule for Conv2D<I, O, K, S, P, OS, G, E, D>
{
}

/// The sizes of a convolution `Conv2D<IN, OUT, K, STRIDE, PAD, OUT_SIZE, GROUPS>` on an input
/// of `H` x `W`, checked when the program is built: reading [`Conv2DSizes::CHECK`] in code
/// the compiler builds for these sizes stops the build with a message naming the rule and,
/// in its note, every number (`Conv2DSizes<3, 64, 3, 1, 1, 32, 1, 28, 28>`). `Conv2D` and
/// the fused blocks of the models read it.
pub struct Conv2DSizes<
    const IN: usize,
    const OUT: usize,
    const K: usize,
    const STRIDE: usize,
    const PAD: usize,
    const OUT_SIZE: usize,
    const GROUPS: usize,
    const H: usize,
    const W: usize,
>;

impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        const G: usize,
        const H: usize,
        const W: usize,
    > Conv2DSizes<I, O, K, S, P, OS, G, H, W>
{
    /// Evaluates to `()` when the sizes fit; otherwise the build stops here.
    pub const CHECK: () = {
        assert!(
            G > 0 && I % G == 0 && O % G == 0,
            "Conv2D: GROUPS must divide IN and OUT"
        );
        assert!(S > 0, "Conv2D: STRIDE must be at least 1");
        assert!(
            H + 2 * P >= K && W + 2 * P >= K,
            "Conv2D: kernel K is larger than the padded input H + 2*PAD"
        );
        assert!(
            (H + 2 * P - K) / S + 1 == OS && (W + 2 * P - K) / S + 1 == OS,
            "Conv2D: wrong OUT_SIZE. The output height and width must be (H + 2*PAD - K) / STRIDE + 1 \
             for the input's H and W; the compiler names every size below, \
             as Conv2DSizes<IN, OUT, K, STRIDE, PAD, OUT_SIZE, GROUPS, H, W>"
        );
    };
}

/// The device a convolution's weights live on.
impl<
        const I: usize,
        const O: usize,
        const K: usize,
        const S: usize,
        const P: usize,
        const OS: usize,
        const G: usize,
        D: LabDevice,
    > OnDevice for Conv2D<I, O, K, S, P, OS, G, f32, D>
{
    type Device = D;
    fn device(&self) -> &D {
        self.weight.device()
    }
}
