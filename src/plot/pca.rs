//! Principal component analysis to two dimensions, by power iteration with deflation: a map
//! of a layer's codes in which nearby points are images the layer describes alike.

use crate::{Error, Result};

/// The first two principal components of a set of feature vectors, and each vector's
/// coordinates along them.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    /// The mean feature vector (`dim` values), subtracted before projecting.
    pub mean: Vec<f32>,
    /// The two components: unit vectors of `dim` values, orthogonal, the first along the
    /// direction of largest variance, the second the largest across it. Each is signed so
    /// that its largest value (by absolute value) is positive.
    pub components: [Vec<f32>; 2],
    /// The variance along each component (the eigenvalues of the covariance matrix
    /// `C = (1/n) sum_i (x_i - mean)(x_i - mean)^T`), largest first.
    pub variances: [f32; 2],
    /// Each vector's coordinates: `(x_i - mean) . component`, one pair per vector.
    pub points: Vec<[f32; 2]>,
    /// Power iterations each component took.
    pub iterations: [usize; 2],
}

/// The most iterations [`pca_2d`] runs for one component.
pub const PCA_MAX_ITERATIONS: usize = 10_000;

/// PCA of `features` (one row of `dim` values per vector) to two dimensions. Each component
/// is found by power iteration, `v <- C v / |C v|` from a fixed start until `v` changes by
/// less than 1e-9 (at most [`PCA_MAX_ITERATIONS`]), with `C v` computed as
/// `(1/n) sum_i (x_i - mean) ((x_i - mean) . v)`, so `C` (`dim x dim`) is never built; the
/// second runs on the data with the first component removed from every vector
/// (**deflation**), which leaves `C - lambda_1 v_1 v_1^T`. In f64 throughout.
///
/// # Errors
/// When `features` is not whole rows of `dim` (`dim` at least 2), there are fewer than 3
/// vectors, or a value is not finite.
///
/// Taught in `notebooks/10-what-alexnet-learned.ipynb`.
pub fn pca_2d(features: &[f32], dim: usize) -> Result<Pca> {
    let n = features.len().checked_div(dim).unwrap_or(0);
    if dim < 2 || n < 3 || features.len() != n * dim {
        let why = format!(
            "{} values with dim {dim}: whole rows of dim (at least 2), at least 3 rows",
            features.len()
        );
        return Err(Error::Invalid { what: "PCA", why });
    }
    if let Some(i) = features.iter().position(|v| !v.is_finite()) {
        let why = format!("value {i} is {}", features[i]);
        return Err(Error::Invalid { what: "PCA", why });
    }
    let mut mean = vec![0f64; dim];
    for row in features.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64 / n as f64;
        }
    }
    let mut centred: Vec<f64> = features
        .chunks_exact(dim)
        .flat_map(|row| row.iter().zip(&mean).map(|(&v, m)| v as f64 - m))
        .collect();
    let mut components = Vec::new();
    let mut variances = [0f32; 2];
    let mut iterations = [0usize; 2];
    for k in 0..2 {
        let (v, lambda, its) = top_component(&centred, dim);
        // Deflation: remove this component from every vector.
        for row in centred.chunks_exact_mut(dim) {
            let along: f64 = row.iter().zip(&v).map(|(a, b)| a * b).sum();
            row.iter_mut().zip(&v).for_each(|(a, b)| *a -= along * b);
        }
        variances[k] = lambda as f32;
        iterations[k] = its;
        components.push(v);
    }
    let points = features
        .chunks_exact(dim)
        .map(|row| {
            let coordinate = |v: &[f64]| {
                let s: f64 = row
                    .iter()
                    .zip(&mean)
                    .zip(v)
                    .map(|((&x, m), c)| (x as f64 - m) * c)
                    .sum();
                s as f32
            };
            [coordinate(&components[0]), coordinate(&components[1])]
        })
        .collect();
    let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    Ok(Pca {
        mean: to32(&mean),
        components: [to32(&components[0]), to32(&components[1])],
        variances,
        points,
        iterations,
    })
}

/// `C v` for the covariance of the centred rows, without building `C`.
fn covariance_times(centred: &[f64], dim: usize, v: &[f64]) -> Vec<f64> {
    let n = (centred.len() / dim) as f64;
    let mut out = vec![0f64; dim];
    for row in centred.chunks_exact(dim) {
        let along: f64 = row.iter().zip(v).map(|(a, b)| a * b).sum();
        out.iter_mut()
            .zip(row)
            .for_each(|(o, a)| *o += along * a / n);
    }
    out
}

/// The unit vector `v` with the largest `v^T C v`, its eigenvalue and the iterations taken.
fn top_component(centred: &[f64], dim: usize) -> (Vec<f64>, f64, usize) {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    // A fixed start with a part along every direction.
    let mut v: Vec<f64> = (0..dim).map(|i| 1.0 + (i % 7) as f64 / 7.0).collect();
    let s = norm(&v);
    v.iter_mut().for_each(|x| *x /= s);
    let mut its = 0;
    while its < PCA_MAX_ITERATIONS {
        its += 1;
        let mut w = covariance_times(centred, dim, &v);
        let s = norm(&w);
        if s == 0.0 {
            break; // no variance left: any unit vector will do
        }
        w.iter_mut().for_each(|x| *x /= s);
        let change = w
            .iter()
            .zip(&v)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        v = w;
        if change < 1e-9 {
            break;
        }
    }
    let lambda: f64 = covariance_times(centred, dim, &v)
        .iter()
        .zip(&v)
        .map(|(a, b)| a * b)
        .sum();
    let largest = (0..dim).fold(0, |b, i| if v[i].abs() > v[b].abs() { i } else { b });
    if v[largest] < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    (v, lambda, its)
}
