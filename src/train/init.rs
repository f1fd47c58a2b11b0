//! How a network's weights start: as the crate's layers set them when a model is built, or
//! by the 2012 paper's rule (its section 5).
//!
//! The layers' own start is defined in [`crate::layers`] (the `reset_with` of each layer's
//! tensors): a convolution's or dense layer's weights and biases uniform in
//! `±1/sqrt(fan_in)`, `fan_in` being the inputs one output sees (`IN / GROUPS * K * K` for a
//! convolution, `IN` for a dense layer), the bound PyTorch's default gives; batch norm's
//! scale 1 and shift 0.
//!
//! The paper's rule: every weight drawn from a Gaussian of mean 0 and standard deviation
//! 0.01; the biases of the second, fourth and fifth convolutions and of the hidden dense
//! layers set to 1, all other biases to 0. With a bias of 1 those ReLUs start with positive
//! inputs, so they pass gradients from the first step; the paper credits this with faster
//! progress early in training.
//!
//! The rule is applied by the model's parameters ([`super::parameters`] order, through
//! [`super::set_parameters`]), so it works for every registered model: a tensor named
//! `weight` with four dimensions is a convolution's, with two a dense layer's; the `bias`
//! beside it (same module) is that layer's bias; every other tensor (batch norm's scale and
//! shift) is left as it is. Convolutions and dense layers are counted in the model's order,
//! the last dense layer is the output layer and the others are hidden. `lenet5` (two
//! convolutions, three dense layers) gets the same rule by position: bias 1 in its second
//! convolution and its two hidden dense layers. The tanh variants get it too, though the
//! paper chose the biases of 1 for ReLU.
//!
//! Taught in `notebooks/11-what-made-alexnet-work.ipynb`.

use super::inspect::{parameters, set_parameters, NamedTensor};
use crate::data::INIT_STREAM;
use crate::{Error, Result};
use dfdx::nn::tensor_collection::TensorCollection;
use dfdx::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// The standard deviation of the paper's initial weights.
pub const PAPER_WEIGHT_STD: f32 = 0.01;

/// The convolutions (counted from 1) whose biases the paper starts at 1.
pub const PAPER_CONVS_WITH_BIAS_ONE: [usize; 3] = [2, 4, 5];

/// How the weights of a fresh run start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// The layers' own, set when the model is built: weights and biases uniform in
    /// `±1/sqrt(fan_in)` (the bound of PyTorch's default), batch norm's scale 1 and shift 0.
    #[default]
    Default,
    /// The paper's: weights from N(0, 0.01^2); biases 1 in the 2nd, 4th and 5th convolutions
    /// and the hidden dense layers, 0 elsewhere.
    Paper,
}

impl std::str::FromStr for Init {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "default" => Ok(Init::Default),
            "paper" => Ok(Init::Paper),
            _ => Err(Error::Invalid {
                what: "init",
                why: format!("'{s}' is not one of default, paper"),
            }),
        }
    }
}

impl std::fmt::Display for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Init::Default => "default",
            Init::Paper => "paper",
        })
    }
}

/// Sets the weights of `model` (a built model, on any device) as `init` says, drawing from
/// `seed`'s own stream ([`crate::data::INIT_STREAM`] mixed in, so the draws are not those of
/// the batches seeded with the same number): the same seed gives the same weights.
/// `Init::Default` leaves the model as it is (its layers set it when it was built).
///
/// ```
/// use alexnet_lab::prelude::*;
/// use alexnet_lab::train::{initialise, Init};
/// let dev = Cpu::seed_from_u64(0);
/// let mut model = dev.build_module::<Cifar, f32>();
/// initialise(&mut model, Init::Paper, 0)?;
/// assert_eq!(model.1 .0 .0.bias.as_vec(), vec![1.0; 192]); // the second convolution's
/// assert_eq!(model.0 .0 .0.bias.as_vec(), vec![0.0; 64]); // the first one's
/// # Ok::<(), alexnet_lab::Error>(())
/// ```
///
/// # Errors
/// A device failure while reading or writing the tensors.
pub fn initialise<M, D>(model: &mut M, init: Init, seed: u64) -> Result<()>
where
    M: TensorCollection<f32, D>,
    D: Device<f32>,
{
    match init {
        Init::Default => Ok(()),
        Init::Paper => paper(model, seed),
    }
}

/// What the paper's rule does with one trainable tensor.
enum Role {
    /// Drawn from N(0, 0.01^2).
    Weight,
    /// Filled with this constant.
    Bias(f32),
    /// Left as it is: these values written back.
    Keep(Vec<f32>),
}

fn paper<M: TensorCollection<f32, D>, D: Device<f32>>(model: &mut M, seed: u64) -> Result<()> {
    let slots = parameters(model)?;
    let dense_layers = slots.iter().filter(|s| is_weight(s, 2)).count();
    let (mut convs, mut denses) = (0, 0);
    // The module of the last weight seen, and the bias its layer gets.
    let mut last: Option<(String, f32)> = None;
    let mut roles = Vec::with_capacity(slots.len());
    for slot in slots {
        let module = module_of(&slot.name);
        let role = if is_weight(&slot, 4) || is_weight(&slot, 2) {
            let bias = if slot.dims.len() == 4 {
                convs += 1;
                PAPER_CONVS_WITH_BIAS_ONE.contains(&convs)
            } else {
                denses += 1;
                denses < dense_layers
            };
            last = Some((module.to_string(), if bias { 1.0 } else { 0.0 }));
            Role::Weight
        } else {
            match &last {
                Some((m, b)) if slot.name.ends_with("bias") && m == module => Role::Bias(*b),
                _ => Role::Keep(slot.values),
            }
        };
        roles.push(role);
    }
    let mut rng = StdRng::seed_from_u64(seed ^ INIT_STREAM);
    let normal = Normal::new(0.0f32, PAPER_WEIGHT_STD).expect("a positive, finite std");
    set_parameters(model, |i, _name, dims| {
        let n = dims.iter().product();
        match &mut roles[i] {
            Role::Weight => (0..n).map(|_| normal.sample(&mut rng)).collect(),
            Role::Bias(b) => vec![*b; n],
            Role::Keep(values) => std::mem::take(values),
        }
    })
}

/// A weight of a convolution (`rank` 4) or a dense layer (`rank` 2).
fn is_weight(slot: &NamedTensor, rank: usize) -> bool {
    slot.name.ends_with("weight") && slot.dims.len() == rank
}

/// The module a tensor belongs to: its name without the last part (`0.0.0` of
/// `0.0.0.weight`).
fn module_of(name: &str) -> &str {
    name.rsplit_once('.').map_or("", |(m, _)| m)
}
