//! Convolution on the CPU: unfold every patch of the batch into the columns of one matrix
//! (im2col), then one matrix product per group gives all outputs at once.

use super::matmul;
use crate::layers::spec::ConvSpec;
use rayon::prelude::*;

/// For one kernel offset, the output columns `ow` whose input column `ow * s + kj - p` is
/// inside the image: `lo..hi`.
fn valid_range(out: usize, inp: usize, s: usize, kj: usize, p: usize) -> (usize, usize) {
    let lo = (p.saturating_sub(kj)).div_ceil(s);
    let hi = (inp + p).saturating_sub(kj).div_ceil(s).min(out);
    (lo.min(hi), hi)
}

/// Patch matrix `[in_channels * k * k, batch * out_h * out_w]`; row `(c, ki, kj)`, column
/// `(b, oh, ow)` holds `x[b, c, oh * s + ki - p, ow * s + kj - p]`, or 0 in the padding.
pub fn im2col(s: &ConvSpec, x: &[f32]) -> Vec<f32> {
    let (l, k) = (s.out_len(), s.kernel);
    let cols_n = s.batch * l;
    let mut cols = vec![0.0f32; s.in_channels * k * k * cols_n];
    let (ow_lo, ow_hi): (Vec<usize>, Vec<usize>) = (0..k)
        .map(|kj| valid_range(s.out_w, s.in_w, s.stride, kj, s.pad))
        .unzip();
    cols.par_chunks_mut(cols_n)
        .enumerate()
        .for_each(|(r, row)| {
            let (c, ki, kj) = (r / (k * k), r / k % k, r % k);
            for b in 0..s.batch {
                let plane = &x[(b * s.in_channels + c) * s.in_h * s.in_w..][..s.in_h * s.in_w];
                for oh in 0..s.out_h {
                    let ih = (oh * s.stride + ki) as isize - s.pad as isize;
                    if ih < 0 || ih >= s.in_h as isize {
                        continue; // the row stays zero: padding
                    }
                    let src = &plane[ih as usize * s.in_w..][..s.in_w];
                    let dst = &mut row[b * l + oh * s.out_w..][..s.out_w];
                    let (lo, hi) = (ow_lo[kj], ow_hi[kj]);
                    if lo >= hi {
                        continue;
                    }
                    let first = lo * s.stride + kj - s.pad;
                    if s.stride == 1 {
                        dst[lo..hi].copy_from_slice(&src[first..first + hi - lo]);
                    } else {
                        let src = src[first..].iter().step_by(s.stride);
                        dst[lo..hi].iter_mut().zip(src).for_each(|(d, v)| *d = *v);
                    }
                }
            }
        });
    cols
}

/// The adjoint of [`im2col`]: adds every column entry back onto the pixel it came from.
fn col2im_add(s: &ConvSpec, cols: &[f32], gx: &mut [f32]) {
    let (l, k, hw) = (s.out_len(), s.kernel, s.in_h * s.in_w);
    let cols_n = s.batch * l;
    gx.par_chunks_mut(hw).enumerate().for_each(|(bc, plane)| {
        let (b, c) = (bc / s.in_channels, bc % s.in_channels);
        for ki in 0..k {
            for kj in 0..k {
                let (lo, hi) = valid_range(s.out_w, s.in_w, s.stride, kj, s.pad);
                let row = &cols[((c * k + ki) * k + kj) * cols_n + b * l..][..l];
                for oh in 0..s.out_h {
                    let ih = (oh * s.stride + ki) as isize - s.pad as isize;
                    if ih < 0 || ih >= s.in_h as isize {
                        continue;
                    }
                    if lo >= hi {
                        continue;
                    }
                    let dst = &mut plane[ih as usize * s.in_w..][..s.in_w];
                    let src = &row[oh * s.out_w..][lo..hi];
                    let first = lo * s.stride + kj - s.pad;
                    let dst = dst[first..].iter_mut().step_by(s.stride);
                    dst.zip(src).for_each(|(d, v)| *d += v);
                }
            }
        }
    });
}

/// `out[b, o, oh, ow] = bias[o] + sum_{c in group(o), ki, kj} w[o, c, ki, kj] * x[b, c, ..]`.
pub fn forward(s: &ConvSpec, x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f32> {
    let (l, cols_n) = (s.out_len(), s.batch * s.out_len());
    let cols = im2col(s, x);
    let (og, pk) = (s.out_channels / s.groups, s.group_patch_len());
    let mut prod = vec![0.0f32; s.out_channels * cols_n]; // [out, batch * l]
    for g in 0..s.groups {
        matmul(
            (og, cols_n, pk),
            &mut prod[g * og * cols_n..],
            cols_n,
            false,
            (&w[g * og * pk..], pk, 1),
            (&cols[g * pk * cols_n..], cols_n, 1),
        );
    }
    let mut out = vec![0.0f32; s.batch * s.out_channels * l];
    out.par_chunks_mut(l).enumerate().for_each(|(bo, dst)| {
        let (b, o) = (bo / s.out_channels, bo % s.out_channels);
        let src = &prod[o * cols_n + b * l..][..l];
        for (d, v) in dst.iter_mut().zip(src) {
            *d = v + bias[o];
        }
    });
    out
}

/// Adds the gradients of a convolution to `gx`, `gw` and `gb`, given the output's `gout`.
pub fn backward(
    s: &ConvSpec,
    (x, w): (&[f32], &[f32]),
    gout: &[f32],
    (gx, gw, gb): (&mut [f32], &mut [f32], &mut [f32]),
) {
    let (l, cols_n) = (s.out_len(), s.batch * s.out_len());
    let (og, pk) = (s.out_channels / s.groups, s.group_patch_len());
    // gout as [out, batch * l], the layout of the forward product.
    let mut gt = vec![0.0f32; s.out_channels * cols_n];
    gt.par_chunks_mut(cols_n).enumerate().for_each(|(o, row)| {
        for b in 0..s.batch {
            row[b * l..][..l].copy_from_slice(&gout[(b * s.out_channels + o) * l..][..l]);
        }
    });
    for (o, g) in gb.iter_mut().enumerate() {
        *g += gt[o * cols_n..][..cols_n].iter().sum::<f32>();
    }
    let cols = im2col(s, x);
    let mut gcols = vec![0.0f32; cols.len()];
    for g in 0..s.groups {
        let gt_g = &gt[g * og * cols_n..];
        // gw_g[og, pk] += gt_g[og, n] * cols_g^T[n, pk]
        matmul(
            (og, pk, cols_n),
            &mut gw[g * og * pk..],
            pk,
            true,
            (gt_g, cols_n, 1),
            (&cols[g * pk * cols_n..], 1, cols_n),
        );
        // gcols_g[pk, n] = w_g^T[pk, og] * gt_g[og, n]
        matmul(
            (pk, cols_n, og),
            &mut gcols[g * pk * cols_n..],
            cols_n,
            false,
            (&w[g * og * pk..], 1, pk),
            (gt_g, cols_n, 1),
        );
    }
    col2im_add(s, &gcols, gx);
}
