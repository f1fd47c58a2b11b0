//! The classifier's pieces: ReLU, flatten, dense layers and dropout.

/// ReLU, `max(0, x)` for every value. dfdx's `ReLU` equals it.
///
/// Taught in `notebooks/03-relu-and-softmax.ipynb`.
pub fn relu_forward(x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect()
}

/// ReLU's backward pass: the gradient passes where the input was positive, and stops
/// (zero) where it was not.
pub fn relu_backward(x: &[f64], gy: &[f64]) -> Vec<f64> {
    x.iter()
        .zip(gy)
        .map(|(&v, &g)| if v > 0.0 { g } else { 0.0 })
        .collect()
}

/// Flatten's order, for `x: [b, c, h, w]`: image `n`'s vector holds channel 0 row by row,
/// then channel 1, and so on, so value `(c, i, j)` lands at `(c * h + i) * w + j`. (For
/// row-major data that is the same memory, read as `[b, c * h * w]`.)
///
/// The layer that equals these loops: [`crate::layers::Flatten`].
///
/// Taught in `notebooks/07-flatten-dense-dropout.ipynb`.
pub fn flatten(b: usize, (c, h, w): (usize, usize, usize), x: &[f64]) -> Vec<f64> {
    let n = c * h * w;
    let mut y = vec![0.0; b * n];
    for bi in 0..b {
        for ci in 0..c {
            for i in 0..h {
                for j in 0..w {
                    y[bi * n + (ci * h + i) * w + j] = x[((bi * c + ci) * h + i) * w + j];
                }
            }
        }
    }
    y
}

/// A dense layer, `y = W x + b` for each of `n` inputs: `x: [n, inputs]`,
/// `w: [outputs, inputs]`, `bias: [outputs]`, so
/// `y[r, o] = bias[o] + sum over i of w[o, i] * x[r, i]`. Returns `y: [n, outputs]`.
/// (`outputs * inputs + outputs` parameters.)
///
/// The fast layer that equals these loops: [`crate::layers::Linear`].
///
/// Taught in `notebooks/07-flatten-dense-dropout.ipynb`.
pub fn linear_forward(
    (n, inputs, outputs): (usize, usize, usize),
    x: &[f64],
    w: &[f64],
    bias: &[f64],
) -> Vec<f64> {
    let mut y = vec![0.0; n * outputs];
    for r in 0..n {
        for o in 0..outputs {
            let mut acc = bias[o];
            for i in 0..inputs {
                acc += w[o * inputs + i] * x[r * inputs + i];
            }
            y[r * outputs + o] = acc;
        }
    }
    y
}

/// The dense layer's backward pass for an output gradient `gy: [n, outputs]`: returns
/// `(gx, gw, gb)` with `gx = gy W`, `gw = gyᵀ x` (summed over the `n` inputs) and
/// `gb` the sum of `gy` over the inputs.
///
/// The fast layer that equals these loops: [`crate::layers::Linear`].
pub fn linear_backward(
    (n, inputs, outputs): (usize, usize, usize),
    x: &[f64],
    w: &[f64],
    gy: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut gx, mut gw, mut gb) = (
        vec![0.0; n * inputs],
        vec![0.0; outputs * inputs],
        vec![0.0; outputs],
    );
    for r in 0..n {
        for o in 0..outputs {
            let g = gy[r * outputs + o];
            gb[o] += g;
            for i in 0..inputs {
                gx[r * inputs + i] += g * w[o * inputs + i];
                gw[o * inputs + i] += g * x[r * inputs + i];
            }
        }
    }
    (gx, gw, gb)
}

/// Dropout in training, given its mask: a value is kept where `keep` is true and scaled
/// by `1 / (1 - p)` (so the expected sum is unchanged), and zeroed elsewhere. In
/// evaluation dropout does nothing. The backward pass applies the same mask and scale to
/// the gradient. dfdx's `Dropout` (p = 0.5) draws `keep` at random for each value.
///
/// Taught in `notebooks/07-flatten-dense-dropout.ipynb`.
pub fn dropout_forward(x: &[f64], keep: &[bool], p: f64) -> Vec<f64> {
    x.iter()
        .zip(keep)
        .map(|(&v, &k)| if k { v / (1.0 - p) } else { 0.0 })
        .collect()
}

/// Dropout as the 2012 paper did it: in training, a value is kept unscaled where `keep` is
/// true and zeroed elsewhere; at test time nothing is dropped and every value is scaled by
/// `1 - p` instead (one half for the paper's p = 0.5). Both ways give the next layer the
/// same expected input in training as at test time: the paper's is `1 - p` times the
/// inverted one's ([`dropout_forward`]), a constant factor the next layer's weights absorb.
/// The inverted form, which frameworks use, does its scaling in training so that the
/// trained network runs unchanged at test time.
///
/// Taught in `notebooks/11-what-made-alexnet-work.ipynb`.
pub fn dropout_paper_forward(x: &[f64], keep: &[bool], p: f64, training: bool) -> Vec<f64> {
    if training {
        x.iter()
            .zip(keep)
            .map(|(&v, &k)| if k { v } else { 0.0 })
            .collect()
    } else {
        x.iter().map(|&v| v * (1.0 - p)).collect()
    }
}
