//! From logits to a loss, and one step of the optimizer.

/// Softmax of one row of logits: `exp(z_i) / sum_j exp(z_j)`, probabilities that sum to 1.
/// (The largest logit is subtracted first: the same result, without overflow.)
/// Taught in `notebooks/03-relu-and-softmax.ipynb`.
pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let top = logits.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(z));
    let exp: Vec<f64> = logits.iter().map(|&z| (z - top).exp()).collect();
    let total: f64 = exp.iter().sum();
    exp.iter().map(|e| e / total).collect()
}

/// Cross-entropy from logits, averaged over a batch: `logits: [n, classes]`, one label per
/// row; each row's loss is `-ln(softmax(row)[label])`, the surprise at the right answer.
/// The models end in logits and the loss applies the softmax itself.
///
/// The crate's training loss (dfdx's `cross_entropy_with_logits_loss` with one-hot
/// targets) equals it. Taught in `notebooks/09-training.ipynb`.
pub fn cross_entropy(classes: usize, logits: &[f64], labels: &[usize]) -> f64 {
    let n = labels.len();
    let mut total = 0.0;
    for (r, &label) in labels.iter().enumerate() {
        let p = softmax(&logits[r * classes..(r + 1) * classes]);
        total -= p[label].ln();
    }
    total / n as f64
}

/// The gradient of [`cross_entropy`] for the logits: `(softmax(row) - onehot(label)) / n`.
/// The right class is pushed up, every other class down by its probability.
pub fn cross_entropy_backward(classes: usize, logits: &[f64], labels: &[usize]) -> Vec<f64> {
    let n = labels.len();
    let mut g = vec![0.0; n * classes];
    for (r, &label) in labels.iter().enumerate() {
        let p = softmax(&logits[r * classes..(r + 1) * classes]);
        for k in 0..classes {
            let target = if k == label { 1.0 } else { 0.0 };
            g[r * classes + k] = (p[k] - target) / n as f64;
        }
    }
    g
}

/// One step of SGD with momentum and weight decay, PyTorch's rule (the crate's
/// optimizer, `OptimizerKind::Sgd`), for every weight `w` with gradient `g`:
///
/// ```text
/// d = g + weight_decay * w          (L2 weight decay, added to the gradient)
/// velocity = momentum * velocity + d   (velocity starts at 0)
/// w = w - lr * velocity
/// ```
///
/// Taught in `notebooks/09-training.ipynb`.
pub fn sgd_momentum_step(
    w: &mut [f64],
    g: &[f64],
    velocity: &mut [f64],
    (lr, momentum, weight_decay): (f64, f64, f64),
) {
    for i in 0..w.len() {
        let d = g[i] + weight_decay * w[i];
        velocity[i] = momentum * velocity[i] + d;
        w[i] -= lr * velocity[i];
    }
}
