//! `article`: the AlexNet the course's article builds in Keras, on 227x227 images.
//!
//! Five convolutions (96@11x11 stride 4, 256@5x5 pad 2, 384@3x3, 384@3x3, 256@3x3 pad 1),
//! each followed by ReLU and batch norm; 3x3 max pooling with stride 2 (overlapping) after
//! the first, second and fifth; dense 9216 -> 4096 -> 4096 -> 10 with dropout 0.5.
//! 58,325,066 trainable parameters. Taught in `notebooks/07-alexnet.ipynb`.

use crate::layers::builders::{BatchNorm2D, Conv2D, Flatten, Linear, MaxPool2D};
use dfdx::nn::builders::{Dropout, ReLU};

/// The `article` model, input `[B, 3, 227, 227]`, output 10 logits.
pub type Article = (
    (
        Conv2D<3, 96, 11, 4, 0, 55>,
        ReLU,
        BatchNorm2D<96>,
        MaxPool2D<3, 2, 27>,
    ), // (227 - 11) / 4 + 1 = 55; (55 - 3) / 2 + 1 = 27
    (
        Conv2D<96, 256, 5, 1, 2, 27>,
        ReLU,
        BatchNorm2D<256>,
        MaxPool2D<3, 2, 13>,
    ), // 27 + 4 - 5 + 1 = 27; (27 - 3) / 2 + 1 = 13
    (Conv2D<256, 384, 3, 1, 1, 13>, ReLU, BatchNorm2D<384>),
    (Conv2D<384, 384, 3, 1, 1, 13>, ReLU, BatchNorm2D<384>),
    (
        Conv2D<384, 256, 3, 1, 1, 13>,
        ReLU,
        BatchNorm2D<256>,
        MaxPool2D<3, 2, 6>,
    ), // (13 - 3) / 2 + 1 = 6
    (
        Flatten<9216>, // 256 * 6 * 6
        (Linear<9216, 4096>, ReLU, Dropout),
        (Linear<4096, 4096>, ReLU, Dropout),
        Linear<4096, 10>,
    ),
);
