//! What the 2012 paper's choices buy, one change at a time: variants of [`super::Cifar`] that
//! each swap one thing, and LeNet-5 (1998) as the baseline AlexNet was measured against.
//! `scripts/ablation.sh` trains them all on the same images with the same budget, beside
//! `cifar` with one training choice changed (`--augment`, `--augment --pca-lighting`,
//! `--init paper`), and tabulates their test accuracies.
//!
//! | model | the change from `cifar` |
//! | --- | --- |
//! | `cifar-tanh` | tanh in place of every ReLU (the paper's figure 1: ReLU trains several times faster) |
//! | `cifar-no-dropout` | no dropout before the dense layers |
//! | `cifar-lrn` | the paper's local response normalisation (after the ReLU of the first two convolutions) in place of batch norm |
//! | `cifar-no-norm` | neither normalisation |
//! | `lenet5` | not AlexNet: two 5x5 convolutions with tanh and average pooling, three dense layers (62,006 parameters with three input channels) |
//!
//! The variants are plain tuples of the layers (no fused inference blocks: they are for
//! measuring accuracy, not speed).

use super::cifar::ConvBnRelu;
use crate::layers::builders::{
    AvgPool2D, BatchNorm2D, Conv2D, Flatten, Linear, LocalResponseNorm, MaxPool2D,
};
use dfdx::nn::builders::{Dropout, ReLU, Tanh};

/// A 3x3 convolution with padding 1 (`SIZE` in, `SIZE` out).
type Conv3<const IN: usize, const OUT: usize, const SIZE: usize> = Conv2D<IN, OUT, 3, 1, 1, SIZE>;

/// `cifar` with tanh in place of every ReLU.
pub type CifarTanh = (
    (Conv3<3, 64, 32>, BatchNorm2D<64>, Tanh, MaxPool2D<2, 2, 16>),
    (
        Conv3<64, 192, 16>,
        BatchNorm2D<192>,
        Tanh,
        MaxPool2D<2, 2, 8>,
    ),
    (Conv3<192, 384, 8>, BatchNorm2D<384>, Tanh),
    (Conv3<384, 256, 8>, BatchNorm2D<256>, Tanh),
    (
        Conv3<256, 256, 8>,
        BatchNorm2D<256>,
        Tanh,
        MaxPool2D<2, 2, 4>,
    ),
    (
        Flatten<4096>,
        (Dropout, Linear<4096, 1024>, Tanh),
        (Dropout, Linear<1024, 1024>, Tanh),
        Linear<1024, 10>,
    ),
);

/// `cifar` without its two dropout layers.
pub type CifarNoDropout = (
    (ConvBnRelu<3, 64, 32>, MaxPool2D<2, 2, 16>),
    (ConvBnRelu<64, 192, 16>, MaxPool2D<2, 2, 8>),
    ConvBnRelu<192, 384, 8>,
    ConvBnRelu<384, 256, 8>,
    (ConvBnRelu<256, 256, 8>, MaxPool2D<2, 2, 4>),
    (
        Flatten<4096>,
        (Linear<4096, 1024>, ReLU),
        (Linear<1024, 1024>, ReLU),
        Linear<1024, 10>,
    ),
);

/// `cifar` normalised as the paper did: local response normalisation after the ReLU of the
/// first two convolutions (before their pooling), no batch norm.
pub type CifarLrn = (
    (
        Conv3<3, 64, 32>,
        ReLU,
        LocalResponseNorm<5>,
        MaxPool2D<2, 2, 16>,
    ),
    (
        Conv3<64, 192, 16>,
        ReLU,
        LocalResponseNorm<5>,
        MaxPool2D<2, 2, 8>,
    ),
    PlainTail,
);

/// `cifar` with no normalisation at all.
pub type CifarNoNorm = (
    (Conv3<3, 64, 32>, ReLU, MaxPool2D<2, 2, 16>),
    (Conv3<64, 192, 16>, ReLU, MaxPool2D<2, 2, 8>),
    PlainTail,
);

/// What follows the second pooling in the variants without batch norm: conv 3 to 5 with ReLU,
/// the last pooling, then `cifar`'s dense layers with dropout.
type PlainTail = (
    (Conv3<192, 384, 8>, ReLU),
    (Conv3<384, 256, 8>, ReLU),
    (Conv3<256, 256, 8>, ReLU, MaxPool2D<2, 2, 4>),
    (
        Flatten<4096>,
        (Dropout, Linear<4096, 1024>, ReLU),
        (Dropout, Linear<1024, 1024>, ReLU),
        Linear<1024, 10>,
    ),
);

/// LeNet-5 (LeCun et al., 1998) on a 32x32 image, as it read MNIST's 28x28 digits padded to
/// 32x32: 5x5 convolutions to 6 and 16 channels, each with tanh and 2x2 average pooling,
/// then dense layers 400 -> 120 -> 84 -> 10 with tanh (three input channels here, and every
/// second-layer filter sees all six maps).
pub type LeNet5 = (
    (Conv2D<3, 6, 5, 1, 0, 28>, Tanh, AvgPool2D<2, 2, 14>),
    (Conv2D<6, 16, 5, 1, 0, 10>, Tanh, AvgPool2D<2, 2, 5>),
    (
        Flatten<400>,
        (Linear<400, 120>, Tanh),
        (Linear<120, 84>, Tanh),
        Linear<84, 10>,
    ),
);
