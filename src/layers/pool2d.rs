//! Max and average pooling whose output size is part of the type.

use super::device::LabDevice;
use super::spec::{PoolKind, PoolSpec};
use dfdx::prelude::*;

/// Max pooling: the largest value in each `K x K` window, windows `STRIDE` apart, no padding.
/// `OUT_SIZE = (IN_SIZE - K) / STRIDE + 1`, checked by the compiler. AlexNet's pools overlap
/// (`K = 3, STRIDE = 2`). PyTorch: `nn.MaxPool2d(K, STRIDE)`.
///
/// ```
/// use alexnet_lab::prelude::*;
/// let dev = Cpu::default();
/// // (55 - 3) / 2 + 1 = 27
/// let x: Tensor<Rank4<1, 96, 55, 55>, f32, _> = dev.zeros();
/// let y: Tensor<Rank4<1, 96, 27, 27>, f32, _> = MaxPool2D::<3, 2, 27>.forward(x);
/// ```
///
/// What it computes, as plain loops: [`crate::reference::pool_forward`] and, for where the
/// gradient goes (to the window's largest input), [`crate::reference::pool_backward`]; the
/// tests check that this fast layer equals them.
///
/// Taught in `notebooks/05-pooling.ipynb`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MaxPool2D<const K: usize, const STRIDE: usize, const OUT_SIZE: usize>;

/// Average pooling: the mean of each `K x K` window (shown beside [`MaxPool2D`] to contrast).
/// PyTorch: `nn.AvgPool2d(K, STRIDE)`.
///
/// What it computes, as plain loops: [`crate::reference::pool_forward`] and
/// [`crate::reference::pool_backward`] (each input gets an equal share of the gradient).
/// Taught in `notebooks/05-pooling.ipynb`.
#[derive(Clone, Copy, Debug, Default)]
pub struct AvgPool2D<const K: usize, const STRIDE: usize, const OUT_SIZE: usize>;

macro_rules! pool_layer {
    ($name:ident, $kind:expr) => {
        impl<const K: usize, const S: usize, const OS: usize> ZeroSizedModule for $name<K, S, OS> {}
        impl<const K: usize, const S: usize, const OS: usize> NonMutableModule for $name<K, S, OS> {}

        impl<
                B: Dim,
                const C: usize,
                const H: usize,
                const W: usize,
                const K: usize,
                const S: usize,
                const OS: usize,
                D: LabDevice,
                T: Tape<f32, D>,
            > Module<Tensor<(B, Const<C>, Const<H>, Const<W>), f32, D, T>> for $name<K, S, OS>
        {
            type Output = Tensor<(B, Const<C>, Const<OS>, Const<OS>), f32, D, T>;
            type Error = D::Err;

            fn try_forward(
                &self,
                x: Tensor<(B, Const<C>, Const<H>, Const<W>), f32, D, T>,
            ) -> Result<Self::Output, D::Err> {
                const {
                    assert!(K > 0 && S > 0, "pooling: K and STRIDE must be at least 1");
                    assert!(H >= K && W >= K, "pooling: window K is larger than the input");
                    assert!(
                        (H - K) / S + 1 == OS && (W - K) / S + 1 == OS,
                        "pooling: wrong OUT_SIZE. The output height and width must be \
                         (H - K) / STRIDE + 1 for the input's H and W; the note below names \
                         the layer (<K, STRIDE, OUT_SIZE>) and the input's sizes"
                    );
                }
                let batch = x.shape().0;
                let spec = PoolSpec {
                    kind: $kind,
                    batch: batch.size(),
                    channels: C,
                    in_h: H,
                    in_w: W,
                    out_h: OS,
                    out_w: OS,
                    kernel: K,
                    stride: S,
                };
                D::try_pool2d(spec, x, (batch, Const, Const, Const))
            }
        }
    };
}

pool_layer!(MaxPool2D, PoolKind::Max);
pool_layer!(AvgPool2D, PoolKind::Avg);
