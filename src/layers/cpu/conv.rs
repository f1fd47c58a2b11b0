//! Convolution on the CPU: unfold every patch of an image into the columns of a matrix
//! (im2col), then one matrix product per group gives all its outputs at once, already in
//! NCHW order. Each core takes whole images, so the patch matrix stays in cache (the whole
//! batch's would be 140 MB for AlexNet's first layer) and nothing is transposed.
//!
//! Ungrouped 3x3 and 5x5 stride-1 convolutions take [`super::winograd`] instead, which needs
//! 2.25 and 2.78 times fewer multiplications; for 5x5 filters in training, the weight
//! gradient stays here ([`backward_weights`]).

use super::matmul_with;
use super::simd::multiversion;
use crate::layers::spec::{ConvSpec, Epilogue};
use gemm::Parallelism;
use rayon::prelude::*;

/// For one kernel offset, the output columns `ow` whose input column `ow * s + kj - p` is
/// inside the image: `lo..hi`.
fn valid_range(out: usize, inp: usize, s: usize, kj: usize, p: usize) -> (usize, usize) {
    let lo = (p.saturating_sub(kj)).div_ceil(s);
    let hi = (inp + p).saturating_sub(kj).div_ceil(s).min(out);
    (lo.min(hi), hi)
}

/// Patch matrix `[in_channels * k * k, batch * out_h * out_w]` into `cols`; row `(c, ki, kj)`,
/// column `(b, oh, ow)` holds `x[b, c, oh * s + ki - p, ow * s + kj - p]`, or 0 in the padding.
pub fn im2col(s: &ConvSpec, x: &[f32], cols: &mut [f32]) {
    let (l, k) = (s.out_len(), s.kernel);
    let cols_n = s.batch * l;
    let (ow_lo, ow_hi): (Vec<usize>, Vec<usize>) = (0..k)
        .map(|kj| valid_range(s.out_w, s.in_w, s.stride, kj, s.pad))
        .unzip();
    for (r, row) in cols.chunks_exact_mut(cols_n).enumerate() {
        let (c, ki, kj) = (r / (k * k), r / k % k, r % k);
        row.fill(0.0);
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
    }
}

/// The adjoint of [`im2col`]: adds every column entry back onto the pixel it came from.
fn col2im_add(s: &ConvSpec, cols: &[f32], gx: &mut [f32]) {
    let (l, k, hw) = (s.out_len(), s.kernel, s.in_h * s.in_w);
    let cols_n = s.batch * l;
    gx.chunks_exact_mut(hw).enumerate().for_each(|(bc, plane)| {
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

/// The same convolution for one image.
fn one_image(s: &ConvSpec) -> ConvSpec {
    ConvSpec { batch: 1, ..*s }
}

/// `out[b, o, oh, ow] = bias[o] + sum_{c in group(o), ki, kj} w[o, c, ki, kj] * x[b, c, ..]`,
/// then `epilogue` (applied to each image's output while it is still in cache).
pub fn forward(s: &ConvSpec, x: &[f32], w: &[f32], bias: &[f32], epilogue: &Epilogue) -> Vec<f32> {
    let s1 = one_image(s);
    let (l, og, pk) = (s.out_len(), s.out_channels / s.groups, s.group_patch_len());
    let in_image = s.in_channels * s.in_h * s.in_w;
    let mut out = vec![0.0f32; s.batch * s.out_channels * l];
    out.par_chunks_mut(s.out_channels * l)
        .zip(x.par_chunks(in_image))
        .for_each_init(Vec::new, |cols, (y, x)| {
            cols.resize(s.in_channels * s.kernel * s.kernel * l, 0.0);
            im2col(&s1, x, cols);
            for (o, row) in y.chunks_exact_mut(l).enumerate() {
                row.fill(bias[o]);
            }
            for g in 0..s.groups {
                // y_g [og, l] = bias + w_g [og, pk] · cols_g [pk, l]
                matmul_with(
                    Parallelism::None,
                    (og, l, pk),
                    &mut y[g * og * l..],
                    l,
                    true,
                    (&w[g * og * pk..], pk, 1),
                    (&cols[g * pk * l..], l, 1),
                );
            }
            if *epilogue != Epilogue::Identity {
                for (o, row) in y.chunks_exact_mut(l).enumerate() {
                    apply_epilogue(epilogue, o, row);
                }
            }
        });
    out
}

multiversion! {
/// `epilogue` on one channel plane `row` of channel `o`, in place.
fn apply_epilogue(epilogue: &Epilogue, o: usize, row: &mut [f32]) {
    match epilogue {
        Epilogue::Identity => {}
        Epilogue::Relu => row.iter_mut().for_each(|v| *v = v.max(0.0)),
        Epilogue::AffineRelu { a, c } => {
            let (a, c) = (a[o], c[o]);
            row.iter_mut().for_each(|v| *v = (*v * a + c).max(0.0));
        }
        Epilogue::ReluAffine { a, c } => {
            let (a, c) = (a[o], c[o]);
            row.iter_mut().for_each(|v| *v = v.max(0.0) * a + c);
        }
    }
}
}

/// Adds the gradients of a convolution to `gx`, `gw` and `gb`, given the output's `gout`.
pub fn backward(
    s: &ConvSpec,
    (x, w): (&[f32], &[f32]),
    gout: &[f32],
    (gx, gw, gb): (&mut [f32], &mut [f32], &mut [f32]),
) {
    let s1 = one_image(s);
    let (l, og, pk) = (s.out_len(), s.out_channels / s.groups, s.group_patch_len());
    let (in_image, out_image) = (s.in_channels * s.in_h * s.in_w, s.out_channels * l);
    let sizes = (gw.len(), gb.len());
    let parts = gx
        .par_chunks_mut(in_image)
        .zip(x.par_chunks(in_image))
        .zip(gout.par_chunks(out_image))
        .with_min_len(images_per_thread(s))
        .fold(
            || (Partial::new(sizes), Vec::new()),
            |(mut part, mut gcols), ((gx, x), gy)| {
                part.add_image(&s1, x, gy);
                gcols.resize(s.in_channels * s.kernel * s.kernel * l, 0.0);
                for g in 0..s.groups {
                    // gcols_g [pk, l] = w_gᵀ [pk, og] · gy_g [og, l]
                    matmul_with(
                        Parallelism::None,
                        (pk, l, og),
                        &mut gcols[g * pk * l..],
                        l,
                        false,
                        (&w[g * og * pk..], 1, pk),
                        (&gy[g * og * l..], l, 1),
                    );
                }
                col2im_add(&s1, &gcols, gx);
                (part, gcols)
            },
        )
        .map(|(part, _)| part);
    Partial::add_all(parts, (gw, gb));
}

/// Adds the weight and bias gradients of a convolution (not the input's) to `gw` and `gb`,
/// given the output's `gout`: the part of [`backward`] that [`super::winograd`] leaves to
/// im2col for 5x5 filters.
pub fn backward_weights(s: &ConvSpec, x: &[f32], gout: &[f32], (gw, gb): (&mut [f32], &mut [f32])) {
    let s1 = one_image(s);
    let (in_image, out_image) = (
        s.in_channels * s.in_h * s.in_w,
        s.out_channels * s.out_len(),
    );
    let sizes = (gw.len(), gb.len());
    let parts = x
        .par_chunks(in_image)
        .zip(gout.par_chunks(out_image))
        .with_min_len(images_per_thread(s))
        .fold(
            || Partial::new(sizes),
            |mut part, (x, gy)| {
                part.add_image(&s1, x, gy);
                part
            },
        );
    Partial::add_all(parts, (gw, gb));
}

/// Whole images per task: one share of the batch per thread, each summing its own
/// [`Partial`] (fewer partial sums to add up than one per image).
fn images_per_thread(s: &ConvSpec) -> usize {
    s.batch.max(1).div_ceil(rayon::current_num_threads())
}

/// One thread's share of the weight and bias gradients, and its patch-matrix scratch.
struct Partial {
    dw: Vec<f32>,
    db: Vec<f32>,
    cols: Vec<f32>,
}

impl Partial {
    /// Zeros for `(weights, biases)` values.
    fn new((nw, nb): (usize, usize)) -> Self {
        Partial {
            dw: vec![0f32; nw],
            db: vec![0f32; nb],
            cols: Vec::new(),
        }
    }

    /// Adds one image's gradients: `db[o] += sum gy[o]`, `dw_g += gy_g · cols_gᵀ`.
    fn add_image(&mut self, s1: &ConvSpec, x: &[f32], gy: &[f32]) {
        let (l, og, pk) = (
            s1.out_len(),
            s1.out_channels / s1.groups,
            s1.group_patch_len(),
        );
        self.cols
            .resize(s1.in_channels * s1.kernel * s1.kernel * l, 0.0);
        im2col(s1, x, &mut self.cols);
        for (o, row) in gy.chunks_exact(l).enumerate() {
            self.db[o] += row.iter().sum::<f32>();
        }
        for g in 0..s1.groups {
            // dw_g [og, pk] += gy_g [og, l] · cols_gᵀ [l, pk]
            matmul_with(
                Parallelism::None,
                (og, pk, l),
                &mut self.dw[g * og * pk..],
                pk,
                true,
                (&gy[g * og * l..], l, 1),
                (&self.cols[g * pk * l..], 1, l),
            );
        }
    }

    /// Sums the threads' shares into `gw` and `gb`.
    fn add_all(parts: impl ParallelIterator<Item = Self>, (gw, gb): (&mut [f32], &mut [f32])) {
        let (dw, db) = parts.map(|p| (p.dw, p.db)).reduce(
            || (vec![0f32; gw.len()], vec![0f32; gb.len()]),
            |(mut a, mut b), (c, d)| {
                a.iter_mut().zip(&c).for_each(|(x, y)| *x += y);
                b.iter_mut().zip(&d).for_each(|(x, y)| *x += y);
                (a, b)
            },
        );
        gw.iter_mut().zip(&dw).for_each(|(g, d)| *g += d);
        gb.iter_mut().zip(&db).for_each(|(g, d)| *g += d);
    }
}
