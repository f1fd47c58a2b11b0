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
mod variants;

pub use article::{Article, ConvReluBn, ConvReluBnBlock};
pub use cifar::{Cifar, ConvBnRelu, ConvBnReluBlock};
pub use describe::{Describe, LayerRow};
pub use paper::Paper;
pub use summary::{summary, Summary};
pub use variants::{CifarLrn, CifarNoDropout, CifarNoNorm, CifarTanh, LeNet5};

use crate::{Error, Result};
use dfdx::shapes::{Const, ConstDim};

/// What the training pipeline needs to know about a course network, without building it:
/// its name, the side of its square input image and how many classes it scores. Written
/// once per model, in the registry below; `fit::<Cifar>(..)` reads it.
pub trait Network: 'static {
    /// The name the command line, checkpoints and notebooks use.
    const NAME: ModelName;
    /// The side of the square input image, in pixels.
    const INPUT_SIZE: usize;
    /// How many classes the last layer scores.
    const NUM_CLASSES: usize;
    /// `INPUT_SIZE` as a dimension type (`Const<32>`), for tensor shapes in generic code.
    type Side: ConstDim;
    /// `NUM_CLASSES` as a dimension type.
    type Classes: ConstDim;
}

/// The registry: each model's type, name, input size and classes, written once. It makes
/// [`ModelName`], the [`Network`] impls and `with_network!`, which runs generic code with
/// the model type a name stands for.
macro_rules! registry {
    ($d:tt $($(#[$doc:meta])* $ty:ident: $name:literal, $side:literal px, $classes:literal classes, trainable: $train:literal;)*) => {
        /// The models by name, as the CLI and notebooks spell them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum ModelName {
            $($(#[$doc])* $ty,)*
        }

        impl ModelName {
            /// All of them, in the order the course meets them.
            pub const ALL: [ModelName; [$(stringify!($ty)),*].len()] = [$(ModelName::$ty),*];

            /// The side of the square input image.
            pub fn input_size(self) -> usize {
                match self { $(ModelName::$ty => $side,)* }
            }

            /// How many classes the last layer scores.
            pub fn num_classes(self) -> usize {
                match self { $(ModelName::$ty => $classes,)* }
            }

            /// The name as written on the command line.
            pub fn as_str(self) -> &'static str {
                match self { $(ModelName::$ty => $name,)* }
            }

            /// Whether the course trains it on CIFAR-10 (10 classes); `paper` scores the
            /// 1000 ImageNet classes and is for looking at.
            pub fn is_trainable(self) -> bool {
                match self { $(ModelName::$ty => $train,)* }
            }
        }

        $(impl Network for $ty {
            const NAME: ModelName = ModelName::$ty;
            const INPUT_SIZE: usize = $side;
            const NUM_CLASSES: usize = $classes;
            type Side = Const<$side>;
            type Classes = Const<$classes>;
        })*

        /// `with_network!(name, N => body)`: `body` with the type alias `N` set to the model
        /// type that `name` (a [`ModelName`]) stands for.
        macro_rules! with_network {
            ($d name:expr, $d n:ident => $d body:expr) => {
                match $d name {
                    $($crate::model::ModelName::$ty => {
                        #[allow(dead_code)]
                        type $d n = $crate::model::$ty;
                        $d body
                    })*
                }
            };
        }
        pub(crate) use with_network;
    };
}

registry! {$
    /// The 2012 paper's network (1000 ImageNet classes): to be looked at.
    Paper: "paper", 227 px, 1000 classes, trainable: false;
    /// The article's Keras AlexNet on 227x227 images.
    Article: "article", 227 px, 10 classes, trainable: true;
    /// AlexNet scaled to CIFAR-10's 32x32 images.
    Cifar: "cifar", 32 px, 10 classes, trainable: true;
    /// `cifar` with tanh in place of ReLU (for the ablation).
    CifarTanh: "cifar-tanh", 32 px, 10 classes, trainable: true;
    /// `cifar` without dropout (for the ablation).
    CifarNoDropout: "cifar-no-dropout", 32 px, 10 classes, trainable: true;
    /// `cifar` with the paper's local response normalisation instead of batch norm.
    CifarLrn: "cifar-lrn", 32 px, 10 classes, trainable: true;
    /// `cifar` with no normalisation (for the ablation).
    CifarNoNorm: "cifar-no-norm", 32 px, 10 classes, trainable: true;
    /// LeNet-5, the 1998 network AlexNet is measured against.
    LeNet5: "lenet5", 32 px, 10 classes, trainable: true;
}

impl ModelName {
    /// The three AlexNets the course builds (the others are the ablation's variants).
    pub const ALEXNETS: [ModelName; 3] = [ModelName::Paper, ModelName::Article, ModelName::Cifar];
}

impl ModelName {
    /// An error if this model cannot be trained on CIFAR-10.
    ///
    /// # Errors
    /// The `paper` model.
    pub fn check_trainable(self) -> Result<()> {
        if self.is_trainable() {
            return Ok(());
        }
        Err(Error::Invalid {
            what: "model",
            why: format!(
                "the {self} model ({} classes) is for looking at; train cifar or article",
                self.num_classes()
            ),
        })
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
