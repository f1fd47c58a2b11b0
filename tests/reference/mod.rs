//! The naive loops the layers are checked against live in the crate
//! (`alexnet_lab::reference`), where a learner can read them; test files that say
//! `mod reference;` get them through this module.
#![allow(unused_imports, dead_code)]

pub use alexnet_lab::reference::*;

use alexnet_lab::layers;
use alexnet_lab::prelude::*;

/// Gives a batch norm running statistics and a scale and shift that are not the identity,
/// with some negative scales (so a folded `a` can be negative).
pub fn randomise_bn<const C: usize>(bn: &mut layers::BatchNorm2D<C, f32, Cpu>, seed: u64) {
    let dev = Cpu::seed_from_u64(seed);
    let normal = |shift: f32, spread: f32| -> Vec<f32> {
        let t: Tensor<Rank1<C>, f32, _> = dev.sample_normal();
        t.as_vec().iter().map(|v| shift + spread * v).collect()
    };
    bn.running_mean.copy_from(&normal(0.1, 0.5));
    let var: Vec<f32> = normal(0.0, 1.0).iter().map(|v| 0.2 + v.abs()).collect();
    bn.running_var.copy_from(&var);
    bn.scale.copy_from(&normal(0.3, 1.0));
    bn.bias.copy_from(&normal(0.0, 0.5));
}

/// Batch norm's evaluation-mode `(a, c)` per channel in `f64`: `bn(v) = v * a + c`.
pub fn bn_affine64<const C: usize>(bn: &layers::BatchNorm2D<C, f32, Cpu>) -> (Vec<f64>, Vec<f64>) {
    let (m, v) = (
        to64(&bn.running_mean.as_vec()),
        to64(&bn.running_var.as_vec()),
    );
    let (g, b) = (to64(&bn.scale.as_vec()), to64(&bn.bias.as_vec()));
    (0..C)
        .map(|c| {
            let a = g[c] / (v[c] + bn.epsilon).sqrt();
            (a, b[c] - m[c] * a)
        })
        .unzip()
}
