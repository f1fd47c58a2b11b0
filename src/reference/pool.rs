//! Pooling: each `k x k` window (windows `s` apart, no padding) becomes one value.

/// The index in `x` of the pixel at row `t / k`, column `t % k` of window `(i, j)` of plane `p`.
fn window_index(p: usize, h: usize, k: usize, s: usize, (i, j): (usize, usize), t: usize) -> usize {
    (p * h + i * s + t / k) * h + j * s + t % k
}

/// Max pooling (`max = true`: the largest value of each window) or average pooling (the
/// mean of each window), for `planes` maps of `h x h` (`planes = batch * channels`).
/// Returns `planes` maps of `os x os`, `os = (h - k) / s + 1`. With `k = 3, s = 2`
/// (AlexNet's pools) neighbouring windows overlap by one pixel.
///
/// The fast layers that equal these loops: [`crate::layers::MaxPool2D`],
/// [`crate::layers::AvgPool2D`]. Taught in `notebooks/05-pooling.ipynb`.
pub fn pool_forward(
    max: bool,
    planes: usize,
    h: usize,
    k: usize,
    s: usize,
    os: usize,
    x: &[f64],
) -> Vec<f64> {
    let mut y = vec![0.0; planes * os * os];
    for p in 0..planes {
        for i in 0..os {
            for j in 0..os {
                let window = (0..k * k).map(|t| x[window_index(p, h, k, s, (i, j), t)]);
                y[(p * os + i) * os + j] = if max {
                    window.fold(f64::NEG_INFINITY, f64::max)
                } else {
                    window.sum::<f64>() / (k * k) as f64
                };
            }
        }
    }
    y
}

/// Where the gradient goes: for an output gradient `gy` (`planes` maps of `os x os`)
/// returns the input gradient (`planes` maps of `h x h`).
///
/// Max pooling sends each output's gradient to the one input that won its window (the
/// first of equal values, row by row, as PyTorch does); every other input of the window
/// gets nothing from it. Average pooling shares it equally, `gy / (k * k)` to each input.
/// Where windows overlap, an input collects from every window it belongs to.
///
/// The fast layers that equal these loops: [`crate::layers::MaxPool2D`],
/// [`crate::layers::AvgPool2D`]. Taught in `notebooks/05-pooling.ipynb`.
#[allow(clippy::too_many_arguments)]
pub fn pool_backward(
    max: bool,
    planes: usize,
    h: usize,
    k: usize,
    s: usize,
    os: usize,
    x: &[f64],
    gy: &[f64],
) -> Vec<f64> {
    let mut gx = vec![0.0; planes * h * h];
    for p in 0..planes {
        for i in 0..os {
            for j in 0..os {
                let g = gy[(p * os + i) * os + j];
                if max {
                    let mut winner = window_index(p, h, k, s, (i, j), 0);
                    for t in 1..k * k {
                        let at = window_index(p, h, k, s, (i, j), t);
                        if x[at] > x[winner] {
                            winner = at;
                        }
                    }
                    gx[winner] += g;
                } else {
                    for t in 0..k * k {
                        gx[window_index(p, h, k, s, (i, j), t)] += g / (k * k) as f64;
                    }
                }
            }
        }
    }
    gx
}
