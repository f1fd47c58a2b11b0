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
    match s.kind {
        PoolKind::Max => out
            .par_chunks_mut(ohw)
            .zip(argmax.par_chunks_mut(ohw))
            .enumerate()
            .for_each_init(Vec::new, |hbest, (p, (dst, arg))| {
                let src = &x[p * ihw..][..ihw];
                if s.kernel == 2 && s.stride == 2 {
                    max_2x2(s, src, dst, arg);
                    return;
                }
                max_separable(s, src, dst, arg, hbest);
            }),
        PoolKind::Avg => out.par_chunks_mut(ohw).enumerate().for_each(|(p, dst)| {
            let src = &x[p * ihw..][..ihw];
            for oh in 0..s.out_h {
                for ow in 0..s.out_w {
                    let mut sum = 0.0f32;
                    for ki in 0..s.kernel {
                        let row = (oh * s.stride + ki) * s.in_w + ow * s.stride;
                        sum += src[row..row + s.kernel].iter().sum::<f32>();
                    }
                    dst[oh * s.out_w + ow] = sum / area;
                }
            }
        }),
    }
    (out, argmax)
}

/// The running maximum after candidate `v` at index `i`: a larger value wins, and a NaN wins
/// and propagates, as in PyTorch. Written as selects, not branches: which pixel wins is a
/// coin toss a branch predictor loses half the time (with branches, the `cifar` model's
/// first pooling ran 4 times slower).
#[inline(always)]
fn pick(v: f32, i: u32, best: f32, best_i: u32) -> (f32, u32) {
    let take = (v > best) | v.is_nan();
    (if take { v } else { best }, if take { i } else { best_i })
}

/// 2x2 windows at stride 2 (the `cifar` model's pools), one plane, straight-line code.
fn max_2x2(s: &PoolSpec, src: &[f32], dst: &mut [f32], arg: &mut [u32]) {
    let w = s.in_w;
    for oh in 0..s.out_h {
        let top = 2 * oh * w;
        let (r0, r1) = (&src[top..][..2 * s.out_w], &src[top + w..][..2 * s.out_w]);
        let (d, a) = (
            &mut dst[oh * s.out_w..][..s.out_w],
            &mut arg[oh * s.out_w..][..s.out_w],
        );
        for (ow, ((d, a), (p, q))) in d
            .iter_mut()
            .zip(a.iter_mut())
            .zip(r0.chunks_exact(2).zip(r1.chunks_exact(2)))
            .enumerate()
        {
            let i = (top + 2 * ow) as u32;
            let (m, mi) = pick(p[1], i + 1, p[0], i);
            let (m, mi) = pick(q[0], i + w as u32, m, mi);
            (*d, *a) = pick(q[1], i + w as u32 + 1, m, mi);
        }
    }
}

/// Any window, one plane, in two passes: the best of each row's stretch of `K` pixels for
/// every output column, then the best of `K` such rows for every output. The order in which
/// candidates meet is the row-major scan's, so the winner (first maximum, or last NaN) is
/// the same; a 3x3 window costs 6 comparisons instead of 9, all straight-line code.
fn max_separable(
    s: &PoolSpec,
    src: &[f32],
    dst: &mut [f32],
    arg: &mut [u32],
    hbest: &mut Vec<(f32, u32)>,
) {
    let rows = (s.out_h - 1) * s.stride + s.kernel;
    hbest.resize(rows * s.out_w, (0.0, 0));
    for (r, h) in hbest.chunks_exact_mut(s.out_w).enumerate() {
        let row = &src[r * s.in_w..][..s.in_w];
        for (ow, h) in h.iter_mut().enumerate() {
            let first = ow * s.stride;
            let mut best = (row[first], (r * s.in_w + first) as u32);
            for (kj, &v) in row[first..first + s.kernel].iter().enumerate().skip(1) {
                best = pick(v, (r * s.in_w + first + kj) as u32, best.0, best.1);
            }
            *h = best;
        }
    }
    for oh in 0..s.out_h {
        let (d, a) = (
            &mut dst[oh * s.out_w..][..s.out_w],
            &mut arg[oh * s.out_w..][..s.out_w],
        );
        let top = oh * s.stride;
        for ow in 0..s.out_w {
            let mut best = hbest[top * s.out_w + ow];
            for ki in 1..s.kernel {
                let (v, i) = hbest[(top + ki) * s.out_w + ow];
                best = pick(v, i, best.0, best.1);
            }
            (d[ow], a[ow]) = best;
        }
    }
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
