//! Flatten: feature maps to one vector per image, the bridge from convolutions to dense layers.

use dfdx::prelude::*;

/// `[B, C, H, W]` to `[B, N]` with `N = C * H * W`, checked by the compiler (stable Rust
/// cannot compute `C * H * W` in a type, so the layer names it). PyTorch: `nn.Flatten()`.
///
/// ```
/// use alexnet_lab::prelude::*;
/// let dev = Cpu::default();
/// let x: Tensor<Rank4<2, 256, 6, 6>, f32, _> = dev.zeros();
/// let y: Tensor<Rank2<2, 9216>, f32, _> = Flatten::<9216>.forward(x); // 256 * 6 * 6
/// ```
///
/// The order it lays values out in, as plain loops: [`crate::reference::flatten`] (channel
/// by channel, each row by row); a test checks that this layer equals it.
///
/// Taught in `notebooks/07-flatten-dense-dropout.ipynb`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flatten<const N: usize>;

impl<const N: usize> ZeroSizedModule for Flatten<N> {}
impl<const N: usize> NonMutableModule for Flatten<N> {}

impl<B: Dim, const C: usize, const H: usize, const W: usize, const N: usize, E, D, T>
    Module<Tensor<(B, Const<C>, Const<H>, Const<W>), E, D, T>> for Flatten<N>
where
    E: Dtype,
    D: Device<E>,
    T: Tape<E, D>,
{
    type Output = Tensor<(B, Const<N>), E, D, T>;
    type Error = D::Err;

    fn try_forward(
        &self,
        x: Tensor<(B, Const<C>, Const<H>, Const<W>), E, D, T>,
    ) -> Result<Self::Output, D::Err> {
        const {
            assert!(
                C * H * W == N,
                "Flatten: wrong N. It must be C * H * W of its input; the note below names the input's sizes"
            );
        }
        let batch = x.shape().0;
        x.try_reshape_like(&(batch, Const::<N>))
    }
}
