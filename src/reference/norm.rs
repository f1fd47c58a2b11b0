//! Normalisation: batch norm (2015) and the 2012 paper's local response normalisation.

/// What [`batch_norm_train`] returns: the output and the batch's statistics per channel.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchStats {
    /// The normalised, scaled and shifted values, the shape of the input.
    pub y: Vec<f64>,
    /// The mean of each channel over the batch's images and positions.
    pub mean: Vec<f64>,
    /// The variance of each channel (divided by `n`, the count, not `n - 1`).
    pub var: Vec<f64>,
}

/// Batch norm in training mode, for `x: [b, c, plane]` (`plane = height * width`): for
/// each channel, the mean and variance over all `b * plane` values of that channel (every
/// image, every position), then
///
/// `y = scale[c] * (x - mean[c]) / sqrt(var[c] + eps) + shift[c]`.
///
/// So each channel leaves with mean `shift[c]` and standard deviation about `scale[c]`,
/// whatever came in. The fast layer that equals these loops: [`crate::layers::BatchNorm2D`]
/// (its `forward_mut`, whose `bias` is `shift` here). Taught in
/// `notebooks/06-batch-normalization.ipynb`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train(
    b: usize,
    c: usize,
    plane: usize,
    x: &[f64],
    scale: &[f64],
    shift: &[f64],
    eps: f64,
) -> BatchStats {
    let n = (b * plane) as f64;
    let (mut mean, mut var) = (vec![0.0; c], vec![0.0; c]);
    for ch in 0..c {
        for bi in 0..b {
            for p in 0..plane {
                mean[ch] += x[(bi * c + ch) * plane + p] / n;
            }
        }
        for bi in 0..b {
            for p in 0..plane {
                var[ch] += (x[(bi * c + ch) * plane + p] - mean[ch]).powi(2) / n;
            }
        }
    }
    let y = batch_norm_eval(b, c, plane, x, scale, shift, (&mean, &var), eps);
    BatchStats { y, mean, var }
}

/// Batch norm in evaluation mode: the same formula with the running statistics
/// `(running_mean, running_var)` learned in training instead of the batch's, so one
/// image's output no longer depends on the others in its batch.
///
/// The fast layer that equals these loops: [`crate::layers::BatchNorm2D`] (its `forward`).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_eval(
    b: usize,
    c: usize,
    plane: usize,
    x: &[f64],
    scale: &[f64],
    shift: &[f64],
    (running_mean, running_var): (&[f64], &[f64]),
    eps: f64,
) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for bi in 0..b {
        for ch in 0..c {
            for p in 0..plane {
                let i = (bi * c + ch) * plane + p;
                let normalised = (x[i] - running_mean[ch]) / (running_var[ch] + eps).sqrt();
                y[i] = scale[ch] * normalised + shift[ch];
            }
        }
    }
    y
}

/// After each training batch the running statistics move a step `momentum` (0.1) towards
/// the batch's: `running = (1 - momentum) * running + momentum * batch`. The variance
/// stored is the unbiased one, `var * n / (n - 1)` with `n` the values per channel
/// (`b * plane`), as in PyTorch.
///
/// The fast layer that equals these loops: [`crate::layers::BatchNorm2D`] (its `forward_mut`).
pub fn update_running_stats(
    (running_mean, running_var): (&mut [f64], &mut [f64]),
    batch: &BatchStats,
    n: usize,
    momentum: f64,
) {
    let unbias = if n > 1 {
        n as f64 / (n - 1) as f64
    } else {
        1.0
    };
    for ch in 0..running_mean.len() {
        running_mean[ch] = (1.0 - momentum) * running_mean[ch] + momentum * batch.mean[ch];
        running_var[ch] = (1.0 - momentum) * running_var[ch] + momentum * batch.var[ch] * unbias;
    }
}

/// Local response normalisation as the 2012 paper writes it (section 3.3), for
/// `x: [b, c, plane]`: each value divided by the energy of the `n` channels around it at
/// the same position,
///
/// `y[c] = x[c] / (k + alpha * sum over c' from c - n/2 to c + n/2 of x[c']^2)^beta`,
///
/// with `k = 2, alpha = 1e-4, beta = 0.75` (channels past either end are left out).
///
/// The fast layer that equals these loops: [`crate::layers::LocalResponseNorm`].
pub fn lrn_forward(b: usize, c: usize, plane: usize, n: usize, x: &[f64]) -> Vec<f64> {
    let (k, alpha, beta) = (2.0, 1e-4, 0.75);
    let mut y = vec![0.0; x.len()];
    for bi in 0..b {
        for ci in 0..c {
            for p in 0..plane {
                let lo = ci.saturating_sub(n / 2);
                let hi = (ci + (n - 1) / 2).min(c - 1);
                let sum: f64 = (lo..=hi)
                    .map(|c2| x[(bi * c + c2) * plane + p].powi(2))
                    .sum();
                let i = (bi * c + ci) * plane + p;
                y[i] = x[i] / (k + alpha * sum).powf(beta);
            }
        }
    }
    y
}

/// Batch norm's backward pass in training mode, for the output gradient `gy: [b, c, plane]`:
/// returns `(gx, gscale, gshift)`.
///
/// With `xhat = (x - mean) / sqrt(var + eps)` and `y = scale * xhat + shift`, per channel and
/// with `n = b * plane` values in it:
///
/// ```text
/// gshift = sum of gy
/// gscale = sum of gy * xhat
/// gx     = scale / sqrt(var + eps) * (gy - mean(gy) - xhat * mean(gy * xhat))
/// ```
///
/// The two means are there because every input moved the batch's mean and variance, and
/// through them every output of its channel: the gradient a value would get through its own
/// output alone, `scale / sqrt(var + eps) * gy`, loses the part shared by the whole channel
/// and the part along `xhat`. So `gx` sums to 0 over each channel and is orthogonal to `xhat`.
///
/// The fast layer that equals these loops: [`crate::layers::BatchNorm2D`] (its `forward_mut`,
/// differentiated by the tape). Taught in `notebooks/06-batch-normalization.ipynb`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward(
    b: usize,
    c: usize,
    plane: usize,
    x: &[f64],
    scale: &[f64],
    gy: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let zeros = vec![0.0; c];
    let stats = batch_norm_train(b, c, plane, x, &vec![1.0; c], &zeros, eps);
    let xhat = &stats.y; // scale 1 and shift 0: the normalised values themselves
    let n = (b * plane) as f64;
    let (mut gx, mut gscale, mut gshift) = (vec![0.0; x.len()], zeros.clone(), zeros);
    let at = |bi: usize, ch: usize, p: usize| (bi * c + ch) * plane + p;
    for ch in 0..c {
        for bi in 0..b {
            for p in 0..plane {
                gshift[ch] += gy[at(bi, ch, p)];
                gscale[ch] += gy[at(bi, ch, p)] * xhat[at(bi, ch, p)];
            }
        }
        let (mean_gy, mean_gy_xhat) = (gshift[ch] / n, gscale[ch] / n);
        let k = scale[ch] / (stats.var[ch] + eps).sqrt();
        for bi in 0..b {
            for p in 0..plane {
                let i = at(bi, ch, p);
                gx[i] = k * (gy[i] - mean_gy - xhat[i] * mean_gy_xhat);
            }
        }
    }
    (gx, gscale, gshift)
}
