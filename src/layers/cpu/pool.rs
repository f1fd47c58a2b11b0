//! Max and average pooling on the CPU, one channel plane per task.

use crate::layers::spec::{PoolKind, PoolSpec};
use rayon::prelude::*;

/// Pools every `kernel x kernel` window at `stride`. For max pooling it also returns, per
/// output, the index in its input plane of the winning pixel (the backward pass needs it).
pub fn forward(s: &PoolSpec, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    let (ihw, ohw) = (s.in_h * s.in_w, s.out_h * s.out_w);
    let planes = s.batch * s.channels;
    let mut out = vec![0.0f32; planes * ohw];
    let mut argmax = vec![
        0u32;
        if s.kind == PoolKind::Max {
            planes * ohw
        } else {
            0
        }
    ];
    let area = (s.kernel * s.kernel) as f32;
    let task = |p: usize, dst: &mut [f32], mut arg: Option<&mut [u32]>| {
        let src = &x[p * ihw..][..ihw];
        for oh in 0..s.out_h {
            for ow in 0..s.out_w {
                let (mut best, mut best_i, mut sum) = (f32::NEG_INFINITY, 0, 0.0f32);
                for ki in 0..s.kernel {
                    let row = (oh * s.stride + ki) * s.in_w + ow * s.stride;
                    for (kj, &v) in src[row..row + s.kernel].iter().enumerate() {
                        sum += v;
                        // A NaN wins and propagates, as in PyTorch.
                        if v > best || v.is_nan() {
                            (best, best_i) = (v, row + kj);
                        }
                    }
                }
                let o = oh * s.out_w + ow;
                match arg.as_deref_mut() {
                    Some(a) => (dst[o], a[o]) = (best, best_i as u32),
                    None => dst[o] = sum / area,
                }
            }
        }
    };
    match s.kind {
        PoolKind::Max => out
            .par_chunks_mut(ohw)
            .zip(argmax.par_chunks_mut(ohw))
            .enumerate()
            .for_each(|(p, (dst, arg))| task(p, dst, Some(arg))),
        PoolKind::Avg => out
            .par_chunks_mut(ohw)
            .enumerate()
            .for_each(|(p, dst)| task(p, dst, None)),
    }
    (out, argmax)
}

/// Adds the input gradient: max pooling routes each output's gradient to its winner,
/// average pooling spreads it evenly over the window.
pub fn backward(s: &PoolSpec, argmax: &[u32], gout: &[f32], gx: &mut [f32]) {
    let (ihw, ohw) = (s.in_h * s.in_w, s.out_h * s.out_w);
    let area = (s.kernel * s.kernel) as f32;
    gx.par_chunks_mut(ihw).enumerate().for_each(|(p, dst)| {
        let g = &gout[p * ohw..][..ohw];
        match s.kind {
            PoolKind::Max => {
                for (&i, &v) in argmax[p * ohw..][..ohw].iter().zip(g) {
                    dst[i as usize] += v;
                }
            }
            PoolKind::Avg => {
                for oh in 0..s.out_h {
                    for ow in 0..s.out_w {
                        let v = g[oh * s.out_w + ow] / area;
                        for ki in 0..s.kernel {
                            let row = (oh * s.stride + ki) * s.in_w + ow * s.stride;
                            dst[row..row + s.kernel].iter_mut().for_each(|d| *d += v);
                        }
                    }
                }
            }
        }
    });
}
