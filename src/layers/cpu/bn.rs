//! Batch normalisation on the CPU, fused: one pass for the statistics, one for the output,
//! channels and planes in parallel. (dfdx's version chains about ten single-threaded ops.)

use crate::layers::spec::BnSpec;
use rayon::prelude::*;

/// Per-channel sums over the batch of `f(channel, x, g)` at each position of the planes of
/// `x` and `g`: f32 within a plane (16 running sums, so the compiler can vectorise; one
/// running sum is a chain of dependent additions), f64 across planes.
fn channel_sums(
    s: &BnSpec,
    (x, g): (&[f32], &[f32]),
    f: impl Fn(usize, f32, f32) -> f32 + Sync,
) -> Vec<f64> {
    (0..s.channels)
        .into_par_iter()
        .map(|c| {
            (0..s.batch)
                .map(|b| {
                    let start = (b * s.channels + c) * s.plane;
                    let (xp, gp) = (&x[start..][..s.plane], &g[start..][..s.plane]);
                    let mut acc = [0f32; 16];
                    let (xc, gc) = (xp.chunks_exact(16), gp.chunks_exact(16));
                    let tail: f32 = xc
                        .remainder()
                        .iter()
                        .zip(gc.remainder())
                        .map(|(&xv, &gv)| f(c, xv, gv))
                        .sum();
                    for (xs, gs) in xc.zip(gc) {
                        for j in 0..16 {
                            acc[j] += f(c, xs[j], gs[j]);
                        }
                    }
                    (acc.iter().sum::<f32>() + tail) as f64
                })
                .sum()
        })
        .collect()
}

/// The batch's per-channel mean and biased variance.
pub fn stats(s: &BnSpec, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let n = (s.batch * s.plane) as f64;
    let mean: Vec<f32> = channel_sums(s, (x, x), |_, v, _| v)
        .iter()
        .map(|m| (m / n) as f32)
        .collect();
    let var = channel_sums(s, (x, x), |c, v, _| {
        let d = v - mean[c];
        d * d
    });
    (mean, var.iter().map(|v| (v / n) as f32).collect())
}

/// `y = x * a[c] + b[c]` for every plane, then `max(y, 0)` if `relu`.
pub fn affine(s: &BnSpec, x: &[f32], a: &[f32], b: &[f32], relu: bool) -> Vec<f32> {
    let mut y = vec![0f32; x.len()];
    y.par_chunks_mut(s.plane).enumerate().for_each(|(p, dst)| {
        let c = p % s.channels;
        let src = &x[p * s.plane..(p + 1) * s.plane];
        if relu {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = (v * a[c] + b[c]).max(0.0);
            }
        } else {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = v * a[c] + b[c];
            }
        }
    });
    y
}

/// The per-channel `(a, b)` of `gamma * (x - mean) / sqrt(var + eps) + beta` as `x * a + b`.
pub fn fold(
    s: &BnSpec,
    mean: &[f32],
    var: &[f32],
    gamma: &[f32],
    beta: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    (0..s.channels)
        .map(|c| {
            let a = gamma[c] / (var[c] + s.epsilon).sqrt();
            (a, beta[c] - mean[c] * a)
        })
        .unzip()
}

/// Adds the gradients of a training-mode batch norm: with `xh = (x - mean) * inv_std`,
/// `gbeta = sum g`, `ggamma = sum g * xh`, `gx = gamma * inv_std * (g - mean(g) - xh * mean(g * xh))`.
///
/// `relu_mask`: the `(a, b)` of [`affine`] when ReLU followed in the same op; then `g` is the
/// gradient after ReLU, and each value counts where `x * a[c] + b[c] > 0` and as 0 elsewhere
/// (what ReLU's backward pass would have handed on).
pub fn backward(
    s: &BnSpec,
    x: &[f32],
    g: &[f32],
    (gamma, mean, var): (&[f32], &[f32], &[f32]),
    relu_mask: Option<(&[f32], &[f32])>,
    (gx, ggamma, gbeta): (&mut [f32], &mut [f32], &mut [f32]),
) {
    match relu_mask {
        None => backward_masked(
            s,
            x,
            g,
            (gamma, mean, var),
            |_, _, gv| gv,
            (gx, ggamma, gbeta),
        ),
        Some((a, b)) => backward_masked(
            s,
            x,
            g,
            (gamma, mean, var),
            // The ReLU's gradient: g where its input was positive.
            |c, xv, gv| if xv * a[c] + b[c] > 0.0 { gv } else { 0.0 },
            (gx, ggamma, gbeta),
        ),
    }
}

/// [`backward`] with the output's gradient at each value given by `grad(c, x, g)`.
fn backward_masked(
    s: &BnSpec,
    x: &[f32],
    g: &[f32],
    (gamma, mean, var): (&[f32], &[f32], &[f32]),
    grad: impl Fn(usize, f32, f32) -> f32 + Sync,
    (gx, ggamma, gbeta): (&mut [f32], &mut [f32], &mut [f32]),
) {
    let n = (s.batch * s.plane) as f64;
    let inv_std: Vec<f32> = var.iter().map(|v| 1.0 / (v + s.epsilon).sqrt()).collect();
    let sum_g = channel_sums(s, (x, g), &grad);
    let sum_gxh = channel_sums(s, (x, g), |c, xv, gv| {
        grad(c, xv, gv) * (xv - mean[c]) * inv_std[c]
    });
    for c in 0..s.channels {
        gbeta[c] += sum_g[c] as f32;
        ggamma[c] += sum_gxh[c] as f32;
    }
    gx.par_chunks_mut(s.plane).enumerate().for_each(|(p, dst)| {
        let c = p % s.channels;
        let (mg, mgx) = ((sum_g[c] / n) as f32, (sum_gxh[c] / n) as f32);
        let k = gamma[c] * inv_std[c];
        for (j, d) in dst.iter_mut().enumerate() {
            let i = p * s.plane + j;
            let xh = (x[i] - mean[c]) * inv_std[c];
            *d += k * (grad(c, x[i], g[i]) - mg - xh * mgx);
        }
    });
}
