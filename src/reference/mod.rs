//! # What each layer computes, as plain loops
//!
//! The layers in [`crate::layers`] are fast: they unfold images into matrices, use
//! Winograd's transform, split work across cores. This module is the other half: the same
//! arithmetic written as the naive loops a textbook would write, one function per layer, in
//! `f64` so its own rounding is negligible. The tests check every fast layer against these
//! loops (forward and backward), and the notebooks call them to show that "the fast layer
//! equals these loops".
//!
//! Tensors here are plain slices in row-major order with their sizes passed explicitly:
//! an activation `[B, C, H, W]` is `x[((b * C + c) * H + i) * W + j]`. Convert a tensor
//! with [`to64`]`(&t.as_vec())`.
//!
//! | layer | forward | backward (where the gradient goes) | taught in |
//! | --- | --- | --- | --- |
//! | convolution | [`conv_forward`] | [`conv_backward`] | `notebooks/02-convolution.ipynb` |
//! | ReLU | [`relu_forward`] | [`relu_backward`] | `notebooks/03-relu-and-softmax.ipynb` |
//! | softmax, cross-entropy | [`softmax`], [`cross_entropy`] | [`cross_entropy_backward`] | `notebooks/03-relu-and-softmax.ipynb`, `notebooks/09-training.ipynb` |
//! | max / average pooling | [`pool_forward`] | [`pool_backward`] | `notebooks/05-pooling.ipynb` |
//! | batch norm | [`batch_norm_train`], [`batch_norm_eval`], [`update_running_stats`] | [`batch_norm_backward`] | `notebooks/06-batch-normalization.ipynb` |
//! | flatten | [`flatten`] | (the same order) | `notebooks/07-flatten-dense-dropout.ipynb` |
//! | dense `W x + b` | [`linear_forward`] | [`linear_backward`] | `notebooks/07-flatten-dense-dropout.ipynb` |
//! | dropout | [`dropout_forward`] | (the same mask) | `notebooks/07-flatten-dense-dropout.ipynb` |
//! | dropout, the paper's way | [`dropout_paper_forward`] | (the same mask) | `notebooks/11-what-made-alexnet-work.ipynb` |
//! | local response norm | [`lrn_forward`] | (finite differences) | `notebooks/08-alexnet.ipynb` |
//! | SGD with momentum | [`sgd_momentum_step`] | | `notebooks/09-training.ipynb` |
//!
//! ```
//! use alexnet_lab::prelude::*;
//! use alexnet_lab::reference::{self, Conv};
//! let dev = Cpu::seed_from_u64(0);
//! let conv = dev.build_module::<builders::Conv2D<2, 2, 3, 1, 1, 4>, f32>();
//! let x: Tensor<Rank4<1, 2, 4, 4>, f32, _> = dev.sample_normal();
//! let sizes = Conv { b: 1, c: 2, o: 2, k: 3, s: 1, p: 1, g: 1, h: 4, os: 4 };
//! let by_hand = reference::conv_forward(
//!     sizes,
//!     &reference::to64(&x.as_vec()),
//!     &reference::to64(&conv.weight.as_vec()),
//!     &reference::to64(&conv.bias.as_vec()),
//! );
//! reference::assert_close("conv", &conv.forward(x).as_vec(), &by_hand, 1e-5);
//! ```

mod check;
mod conv;
mod dense;
mod loss;
mod norm;
mod pool;

pub use check::{assert_close, max_abs_diff, to64};
pub use conv::{conv_backward, conv_forward, Conv};
pub use dense::{
    dropout_forward, dropout_paper_forward, flatten, linear_backward, linear_forward,
    relu_backward, relu_forward,
};
pub use loss::{cross_entropy, cross_entropy_backward, sgd_momentum_step, softmax};
pub use norm::{
    batch_norm_backward, batch_norm_eval, batch_norm_train, lrn_forward, update_running_stats,
    BatchStats,
};
pub use pool::{pool_backward, pool_forward};
