//! `paper`: AlexNet as Krizhevsky, Sutskever and Hinton published it in 2012.
//!
//! Five convolutions; the second, fourth and fifth in two groups (the two GPUs: each half
//! of the filters sees only the half of the maps on its own GPU); local response
//! normalisation after the first two; overlapping 3x3/2 max pooling; three dense layers
//! with dropout on the first two; 1000 ImageNet classes. 60,965,224 parameters, the paper's
//! "60 million". Here to be looked at: its table, its shapes, its size.
//! Taught in `notebooks/08-alexnet.ipynb`.

use crate::layers::builders::{Conv2D, Flatten, Linear, LocalResponseNorm, MaxPool2D};
use dfdx::nn::builders::{Dropout, ReLU};

/// The `paper` model, input `[B, 3, 227, 227]`, output 1000 logits.
pub type Paper = (
    (
        Conv2D<3, 96, 11, 4, 0, 55>,
        ReLU,
        LocalResponseNorm<5>,
        MaxPool2D<3, 2, 27>,
    ),
    (
        Conv2D<96, 256, 5, 1, 2, 27, 2>,
        ReLU,
        LocalResponseNorm<5>,
        MaxPool2D<3, 2, 13>,
    ),
    (Conv2D<256, 384, 3, 1, 1, 13>, ReLU), // the one layer that crosses between the GPUs
    (Conv2D<384, 384, 3, 1, 1, 13, 2>, ReLU),
    (Conv2D<384, 256, 3, 1, 1, 13, 2>, ReLU, MaxPool2D<3, 2, 6>),
    (
        Flatten<9216>, // 256 * 6 * 6
        (Dropout, Linear<9216, 4096>, ReLU),
        (Dropout, Linear<4096, 4096>, ReLU),
        Linear<4096, 1000>,
    ),
);
