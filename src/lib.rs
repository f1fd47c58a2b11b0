//! # alexnet-lab: learn how AlexNet works, in Rust
//!
//! The helper crate behind the course's notebooks and the `alexnet` command-line tool.
//!
//! - [`layers`]: the convolution, pooling, flatten and local-response-norm layers, with
//!   their sizes in their types, on stable Rust.
//! - [`model`]: the three networks (`paper`, `article`, `cifar`) and their layer tables.
//! - [`reference`](mod@reference): what each layer computes, as plain loops (the tests and notebooks
//!   check the fast layers against them).
//! - [`tensor_ids`]: models that live across notebook cells ([`tensor_ids::renumber`]).
//! - [`bench`](mod@bench): timing of training steps and inference.
//!
//! Start with `use alexnet_lab::prelude::*;`.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod bench;
pub mod data;
pub mod error;
pub mod history;
pub mod layers;
pub mod memory;
pub mod model;
pub mod plot;
pub mod prelude;
pub mod reference;
pub mod tensor_ids;
pub mod train;

pub use error::{Error, Result};
