//! Local response normalisation, the 2012 paper's "brightness normalisation" (section 3.3).

use super::device::LabDevice;
use super::spec::LrnSpec;
use dfdx::prelude::*;

/// Each activation divided by the energy of its neighbours across `SIZE` channels:
/// `b[c] = a[c] / (k + alpha * sum_{c' = c - SIZE/2 ..= c + SIZE/2} a[c']^2)^beta`, with the
/// paper's constants `k = 2, SIZE = 5, alpha = 1e-4, beta = 0.75`.
///
/// PyTorch's `nn.LocalResponseNorm(5, alpha, 0.75, 2)` divides `alpha` by `SIZE`; this layer
/// follows the paper, so it matches PyTorch with `alpha = 5e-4`. Batch normalisation (2015)
/// replaced it; the `paper` model keeps it to be faithful.
///
/// ```
/// use alexnet_lab::prelude::*;
/// let dev = Cpu::default();
/// let x: Tensor<Rank4<1, 96, 55, 55>, f32, _> = dev.ones();
/// let y = LocalResponseNorm::<5>.forward(x);
/// // Inside the stack each 1 meets 5 neighbours: 1 / (2 + 1e-4 * 5)^0.75.
/// let expected = 1.0 / (2.0f32 + 5e-4).powf(0.75);
/// assert!((y.array()[0][50][0][0] - expected).abs() < 1e-6);
/// ```
///
/// What it computes, as plain loops: [`crate::reference::lrn_forward`]; the tests check
/// that this fast layer equals it (and its gradient equals finite differences).
///
/// Taught in `notebooks/08-alexnet.ipynb`, where the `paper` model appears.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalResponseNorm<const SIZE: usize = 5>;

impl<const SIZE: usize> LocalResponseNorm<SIZE> {
    /// The paper's `k`.
    pub const K: f32 = 2.0;
    /// The paper's `alpha`.
    pub const ALPHA: f32 = 1e-4;
    /// The paper's `beta`.
    pub const BETA: f32 = 0.75;
}

impl<const SIZE: usize> ZeroSizedModule for LocalResponseNorm<SIZE> {}
impl<const SIZE: usize> NonMutableModule for LocalResponseNorm<SIZE> {}

impl<B: Dim, const C: usize, H: Dim, W: Dim, const SIZE: usize, D: LabDevice, T: Tape<f32, D>>
    Module<Tensor<(B, Const<C>, H, W), f32, D, T>> for LocalResponseNorm<SIZE>
{
    type Output = Tensor<(B, Const<C>, H, W), f32, D, T>;
    type Error = D::Err;

    fn try_forward(
        &self,
        x: Tensor<(B, Const<C>, H, W), f32, D, T>,
    ) -> Result<Self::Output, D::Err> {
        const { assert!(SIZE > 0, "LocalResponseNorm: SIZE must be at least 1") };
        let (b, _, h, w) = *x.shape();
        let spec = LrnSpec {
            batch: b.size(),
            channels: C,
            plane: h.size() * w.size(),
            size: SIZE,
            alpha: Self::ALPHA,
            beta: Self::BETA,
            k: Self::K,
        };
        D::try_lrn(spec, x)
    }
}
