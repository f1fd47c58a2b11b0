//! The naive loops the layers are checked against live in the crate
//! (`alexnet_lab::reference`), where a learner can read them; test files that say
//! `mod reference;` get them through this module.
#![allow(unused_imports)]

pub use alexnet_lab::reference::*;
