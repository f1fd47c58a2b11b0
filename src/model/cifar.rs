//! `cifar`: AlexNet scaled to CIFAR-10's 32x32 images, the model a laptop can train.
//!
//! Five 3x3 convolutions (64, 192, 384, 256, 256 channels, padding 1 keeps the size), each
//! followed by batch norm and ReLU; 2x2 max pooling after the first, second and fifth;
//! then dropout and three dense layers (4096 -> 1024 -> 1024 -> 10). 7,509,066 trainable
//! parameters. Taught in `notebooks/07-alexnet.ipynb`.

use crate::layers::builders::{BatchNorm2D, Conv2D, Flatten, Linear, MaxPool2D};
use dfdx::nn::builders::{Dropout, ReLU};

/// A 3x3 convolution with padding 1 (so `SIZE` in, `SIZE` out), batch norm, ReLU.
pub type ConvBnRelu<const IN: usize, const OUT: usize, const SIZE: usize> =
    (Conv2D<IN, OUT, 3, 1, 1, SIZE>, BatchNorm2D<OUT>, ReLU);

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
