//! Max and average pooling on the CPU, one channel plane per task.

use super::simd::multiversion;
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
            .for_each_init(Rows::default, |rows, (p, (dst, arg))| {
                let src = &x[p * ihw..][..ihw];
                if s.kernel == 2 && s.stride == 2 {
                    max_2x2(s, src, dst, arg);
                    return;
                }
                max_separable(s, src, dst, arg, rows);
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

/// Max pooling for inference: the values only, with no winners to remember for a backward
/// pass (average pooling is [`forward`]'s). Each window is the maximum of `K` rows, so one
/// pass takes the maximum of the `K` input rows under a row of outputs, column by column
/// (contiguous, so vector selects), and a second the maximum of `K` neighbours of that at the
/// stride: 3 times faster on the `article` model's first pool than [`forward`], which must
/// meet the candidates in row-major order to name the first winner. The values are
/// [`forward`]'s (a NaN anywhere in a window makes it NaN), except that a tie between `0.0`
/// and `-0.0` may keep the other sign.
pub fn forward_eval(s: &PoolSpec, x: &[f32]) -> Vec<f32> {
    if s.kind != PoolKind::Max {
        return forward(s, x).0;
    }
    let (ihw, ohw) = (s.in_h * s.in_w, s.out_h * s.out_w);
    let mut out = vec![0.0f32; s.batch * s.channels * ohw];
    out.par_chunks_mut(ohw.max(1))
        .enumerate()
        .for_each_init(Vec::new, |col, (p, dst)| {
            max_values(s, &x[p * ihw..][..ihw], dst, col)
        });
    out
}

/// [`forward_eval`] of one plane; `col` is scratch for the column maxima of `K` rows.
fn max_values(s: &PoolSpec, src: &[f32], dst: &mut [f32], col: &mut Vec<f32>) {
    let w = s.in_w;
    assert!((s.out_w - 1) * s.stride + s.kernel <= w);
    col.resize(w, 0.0);
    for (oh, d) in dst.chunks_exact_mut(s.out_w).enumerate() {
        let top = oh * s.stride;
        col.copy_from_slice(&src[top * w..][..w]);
        for ki in 1..s.kernel {
            let row = &src[(top + ki) * w..][..w];
            col.iter_mut()
                .zip(row)
                .for_each(|(c, &v)| *c = max_nan(*c, v));
        }
        for (ow, d) in d.iter_mut().enumerate() {
            let win = &col[ow * s.stride..][..s.kernel];
            *d = win[1..].iter().fold(win[0], |m, &v| max_nan(m, v));
        }
    }
}

/// `max(best, v)`, where a NaN wins (see [`pick`]), branch-free.
#[inline(always)]
fn max_nan(best: f32, v: f32) -> f32 {
    pick(v, 0, best, 0).0
}

/// The running maximum after candidate `v` at index `i`: a larger value wins, and a NaN wins
/// and propagates, as in PyTorch.
///
/// Branch-free on purpose: which pixel wins is a coin toss a branch predictor loses half the
/// time, and on the baseline x86-64 target a select between two floats compiles to a branch.
/// So the choice is made with an integer mask on the bit patterns (with branches, AlexNet's
/// first pooling on random inputs ran 4 times slower).
#[inline(always)]
fn pick(v: f32, i: u32, best: f32, best_i: u32) -> (f32, u32) {
    let take = ((v > best) | v.is_nan()) as u32;
    let mask = take.wrapping_neg();
    let bits = (v.to_bits() & mask) | (best.to_bits() & !mask);
    (f32::from_bits(bits), (i & mask) | (best_i & !mask))
}

/// [`pick`] for every lane: `(best[j], best_i[j])` after candidate `cand[j]` at `idx(j)`.
#[inline(always)]
fn pick_row(best: &mut [f32], best_i: &mut [u32], cand: &[f32], idx: impl Fn(usize) -> u32) {
    for (j, ((b, bi), &v)) in best.iter_mut().zip(best_i.iter_mut()).zip(cand).enumerate() {
        (*b, *bi) = pick(v, idx(j), *b, *bi);
    }
}

multiversion! {
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
}

/// Any window, one plane, in two passes: the best of each row's stretch of `K` pixels for
/// every output column, then the best of `K` such rows for every output. Candidates meet in
/// the row-major scan's order, so the winner (first maximum, or last NaN) is the same. Each
/// loop runs across a whole row of outputs; candidate `kj` of every output column is first
/// copied into a contiguous row, so that the picks compile to vector selects (straight from
/// the strided reads they compared one pair at a time, with branches: 3 times slower). Not
/// compiled a second time for AVX2: with AVX2 the compiler turns these selects back into
/// branches (1.6 times the time of this baseline copy, measured).
fn max_separable(s: &PoolSpec, src: &[f32], dst: &mut [f32], arg: &mut [u32], h: &mut Rows) {
    let (ow_n, rows) = (s.out_w, (s.out_h - 1) * s.stride + s.kernel);
    let pad = ow_n;
    h.val.resize(rows * pad, 0.0);
    h.idx.resize(rows * pad, 0);
    h.cand.resize(pad, 0.0);
    h.best.resize(pad, 0.0);
    h.best_i.resize(pad, 0);
    assert!((ow_n - 1) * s.stride + s.kernel <= s.in_w);
    let step = s.stride as u32;
    for (r, (hv, hi)) in h
        .val
        .chunks_exact_mut(pad)
        .zip(h.idx.chunks_exact_mut(pad))
        .enumerate()
    {
        let row = &src[r * s.in_w..][..s.in_w];
        let base = (r * s.in_w) as u32;
        for kj in 0..s.kernel {
            let cand = &mut h.cand[..];
            for (ow, c) in cand[..ow_n].iter_mut().enumerate() {
                *c = row[ow * s.stride + kj];
            }
            let first = base + kj as u32;
            if kj == 0 {
                hv.copy_from_slice(cand);
                for (ow, i) in hi.iter_mut().enumerate() {
                    *i = first + ow as u32 * step;
                }
            } else {
                pick_row(hv, hi, cand, |j| first + j as u32 * step);
            }
        }
    }
    for oh in 0..s.out_h {
        let top = oh * s.stride;
        let (b, bi) = (&mut h.best[..], &mut h.best_i[..]);
        b.copy_from_slice(&h.val[top * pad..][..pad]);
        bi.copy_from_slice(&h.idx[top * pad..][..pad]);
        for ki in 1..s.kernel {
            let (hv, hi) = (
                &h.val[(top + ki) * pad..][..pad],
                &h.idx[(top + ki) * pad..][..pad],
            );
            pick_row(b, bi, hv, |j| hi[j]);
        }
        dst[oh * ow_n..][..ow_n].copy_from_slice(&b[..ow_n]);
        arg[oh * ow_n..][..ow_n].copy_from_slice(&bi[..ow_n]);
    }
}

/// Scratch rows for [`max_separable`]: each input row's best values and their indices.
#[derive(Default)]
struct Rows {
    val: Vec<f32>,
    idx: Vec<u32>,
    cand: Vec<f32>,
    best: Vec<f32>,
    best_i: Vec<u32>,
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
