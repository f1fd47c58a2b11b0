//! The three AlexNets as types that read like the paper's table, and their layer tables.
//!
//! | name | input | what it is for |
//! | --- | --- | --- |
//! | [`Paper`] | 3x227x227 | the 2012 paper, to be looked at (60,965,224 parameters) |
//! | [`Article`] | 3x227x227 | the article's Keras AlexNet, the one the course teaches |
//! | [`Cifar`] | 3x32x32 | the one a laptop can train on CIFAR-10 |
//!
//! Build one with `dev.build_module::<Cifar, f32>()`. `model.forward(x)` is inference
//! (batch norm uses its running statistics, dropout is off); `model.forward_mut(x.traced(grads))`
//! is training (batch statistics, dropout on), as everywhere in dfdx.
//!
//! ```
//! use alexnet_lab::prelude::*;
//! let dev = Cpu::default();
//! let model = dev.build_module::<Cifar, f32>();
//! let images: Tensor<Rank4<2, 3, 32, 32>, f32, _> = dev.zeros();
//! let logits: Tensor<Rank2<2, 10>, f32, _> = model.forward(images);
//! ```
//!
//! The sizes are checked when the program is built: 28x28 images (MNIST's size) in the
//! 32x32 model stop the build at its first convolution, whose output would be
//! `(28 + 2*1 - 3) / 1 + 1 = 28`, not the 32 its type says.
//! ```compile_fail,E0080
//! use alexnet_lab::prelude::*;
//! let dev = Cpu::default();
//! let model = dev.build_module::<Cifar, f32>();
//! let images: Tensor<Rank4<2, 3, 28, 28>, f32, _> = dev.zeros();
//! let logits = model.forward(images);
//! ```

mod article;
mod cifar;
mod describe;
mod paper;
mod summary;

pub use article::{Article, ConvReluBn, ConvReluBnBlock};
pub use cifar::{Cifar, ConvBnRelu, ConvBnReluBlock};
pub use describe::{Describe, LayerRow};
pub use paper::Paper;
pub use summary::{summary, Summary};

use crate::{Error, Result};

/// The models by name, as the CLI and notebooks spell them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelName {
    Paper,
    Article,
    Cifar,
}

impl ModelName {
    /// All three, in the order the course meets them.
    pub const ALL: [ModelName; 3] = [ModelName::Paper, ModelName::Article, ModelName::Cifar];

    /// The side of the square input image.
    pub fn input_size(self) -> usize {
        match self {
            ModelName::Paper | ModelName::Article => 227,
            ModelName::Cifar => 32,
        }
    }

    /// How many classes the last layer scores.
    pub fn num_classes(self) -> usize {
        match self {
            ModelName::Paper => 1000,
            ModelName::Article | ModelName::Cifar => 10,
        }
    }

    /// The name as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelName::Paper => "paper",
            ModelName::Article => "article",
            ModelName::Cifar => "cifar",
        }
    }
}

impl std::fmt::Display for ModelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ModelName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ModelName::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownModel(s.to_string()))
    }
}
