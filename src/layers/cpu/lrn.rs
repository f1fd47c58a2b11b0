//! Local response normalisation on the CPU, one image per task.

use crate::layers::spec::LrnSpec;
use rayon::prelude::*;

/// Channels `c'` that normalise channel `c`: `c - n/2 ..= c + (n-1)/2`, clipped.
fn window(s: &LrnSpec, c: usize) -> std::ops::Range<usize> {
    c.saturating_sub(s.size / 2)..(c + (s.size - 1) / 2 + 1).min(s.channels)
}

/// `d[c] = k + alpha * sum_{c' in window(c)} a[c']^2` for one image `[channels, plane]`.
fn denominators(s: &LrnSpec, a: &[f32]) -> Vec<f32> {
    let mut d = vec![s.k; a.len()];
    for c in 0..s.channels {
        let dst = &mut d[c * s.plane..][..s.plane];
        for c2 in window(s, c) {
            for (d, &v) in dst.iter_mut().zip(&a[c2 * s.plane..][..s.plane]) {
                *d += s.alpha * v * v;
            }
        }
    }
    d
}

/// `b[c] = a[c] / d[c]^beta`.
pub fn forward(s: &LrnSpec, x: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    let img = s.channels * s.plane;
    out.par_chunks_mut(img).enumerate().for_each(|(b, dst)| {
        let a = &x[b * img..][..img];
        for ((o, &v), d) in dst.iter_mut().zip(a).zip(denominators(s, a)) {
            *o = v * d.powf(-s.beta);
        }
    });
    out
}

/// `gx[j] += g[j] d[j]^-beta - 2 alpha beta a[j] sum_{c: j in window(c)} g[c] a[c] d[c]^(-beta-1)`.
pub fn backward(s: &LrnSpec, x: &[f32], gout: &[f32], gx: &mut [f32]) {
    let img = s.channels * s.plane;
    gx.par_chunks_mut(img).enumerate().for_each(|(b, dst)| {
        let (a, g) = (&x[b * img..][..img], &gout[b * img..][..img]);
        let d = denominators(s, a);
        let t: Vec<f32> = (0..img)
            .map(|i| g[i] * a[i] * d[i].powf(-s.beta - 1.0))
            .collect();
        for j in 0..s.channels {
            // c with j in window(c): j - (n-1)/2 ..= j + n/2
            let cs = j.saturating_sub((s.size - 1) / 2)..(j + s.size / 2 + 1).min(s.channels);
            for p in 0..s.plane {
                let i = j * s.plane + p;
                let sum: f32 = cs.clone().map(|c| t[c * s.plane + p]).sum();
                dst[i] += g[i] * d[i].powf(-s.beta) - 2.0 * s.alpha * s.beta * a[i] * sum;
            }
        }
    });
}
