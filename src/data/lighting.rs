//! The paper's colour augmentation (section 4.1 of Krizhevsky, Sutskever and Hinton 2012):
//! principal component analysis of the training set's RGB values, then, for each training
//! image, one random RGB offset along those components added to every pixel. The idea: a
//! photo taken under brighter or differently tinted light still shows the same object, so
//! the label should not depend on such a change. The paper reports about one point less
//! top-1 error with it.
//!
//! The offset for one image is `sum over i of alpha_i * lambda_i * p_i`, with `p_i` the
//! eigenvectors and `lambda_i` the eigenvalues of the 3x3 covariance of the RGB values, and
//! each `alpha_i` drawn from a normal distribution of standard deviation [`PCA_ALPHA_STD`],
//! once per image per pass.
//!
//! Units: pixels are scaled to `[0, 1]` (not 0..255) and `lambda_i` is a variance (not a
//! standard deviation), in `[0, 1]` units squared. A variance is at most the sum of the
//! channels' variances; for photos whose channels spread by about 0.25, `lambda_1` is below
//! about 0.2, so a typical offset `0.1 * lambda_1` is about 0.02: a few grey levels of 255.
//! The formula depends on these units: with pixels in 0..255 the same `alpha * lambda`
//! would move them by hundreds of grey levels, and some reimplementations scale by
//! `sqrt(lambda_i)` instead, which gives larger shifts than the ones here.
//!
//! The offset applies to the whole `32 x 32` image the network sees, so after a random crop
//! it shifts the crop's zero padding too: the black band takes the same tint as the
//! picture.
//!
//! Grey photos (Fashion-MNIST: R = G = B in every pixel) vary along one direction only,
//! `(1, 1, 1) / sqrt(3)`: their covariance has one non-zero eigenvalue, and the augmentation
//! becomes a random change of brightness.
//!
//! Taught in `notebooks/11-what-made-alexnet-work.ipynb`.

use super::dataset::{Images, CHANNELS, IMAGE_SIZE, PIXELS};
use rand::Rng;
use rand_distr::{Distribution, Normal};

const PLANE: usize = IMAGE_SIZE * IMAGE_SIZE;

/// The paper's standard deviation of each random coefficient `alpha_i`.
pub const PCA_ALPHA_STD: f32 = 0.1;

/// The principal components of a set's RGB values (pixels in `[0, 1]`): `eigenvalues`, the
/// variances along the components, in descending order, and `eigenvectors[i]` the unit
/// eigenvector (as `[r, g, b]`) of `eigenvalues[i]`, its largest
/// component positive. Computed once from the training split, like
/// [`super::Normalization`], and stored with the run so a resumed run uses the same.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PcaLighting {
    pub eigenvalues: [f32; 3],
    pub eigenvectors: [[f32; 3]; 3],
}

impl PcaLighting {
    /// The principal components of every pixel of `images`: the 3x3 covariance of their
    /// RGB values scaled to `[0, 1]` (two passes in `f64`: the mean, then the centred
    /// products), decomposed by [`symmetric_eigen`]. An empty set gives zero eigenvalues.
    pub fn from_images(images: &Images) -> PcaLighting {
        let count = images.len() * PLANE;
        let rgb = |img: &[u8], p: usize| -> [f64; 3] {
            std::array::from_fn(|c| img[c * PLANE + p] as f64 / 255.0)
        };
        let mut mean = [0f64; 3];
        for img in images.pixels.chunks_exact(PIXELS) {
            for p in 0..PLANE {
                let v = rgb(img, p);
                (0..3).for_each(|c| mean[c] += v[c]);
            }
        }
        mean.iter_mut().for_each(|m| *m /= count.max(1) as f64);
        let mut cov = [[0f64; 3]; 3];
        for img in images.pixels.chunks_exact(PIXELS) {
            for p in 0..PLANE {
                let v = rgb(img, p);
                for a in 0..3 {
                    for b in 0..3 {
                        cov[a][b] += (v[a] - mean[a]) * (v[b] - mean[b]);
                    }
                }
            }
        }
        cov.iter_mut()
            .flatten()
            .for_each(|x| *x /= count.max(1) as f64);
        let (values, vectors) = symmetric_eigen(cov);
        PcaLighting {
            // A covariance has no negative variance: rounding can leave -1e-18.
            eigenvalues: values.map(|l| l.max(0.0) as f32),
            eigenvectors: vectors.map(|v| v.map(|x| x as f32)),
        }
    }

    /// The RGB offset (in `[0, 1]` pixel units) for coefficients `alphas`:
    /// `sum over i of alphas[i] * eigenvalues[i] * eigenvectors[i]`, the eigenvalues being
    /// variances (see the module's notes on units). The same offset is added to every pixel
    /// of one image, padding included.
    pub fn shift(&self, alphas: [f32; 3]) -> [f32; 3] {
        let mut out = [0f32; CHANNELS];
        let components = self.eigenvalues.iter().zip(&self.eigenvectors);
        for (&alpha, (&lambda, vector)) in alphas.iter().zip(components) {
            for (o, &x) in out.iter_mut().zip(vector) {
                *o += alpha * lambda * x;
            }
        }
        out
    }

    /// One image's coefficients: three draws from N(0, [`PCA_ALPHA_STD`]^2).
    pub fn sample_alphas(rng: &mut impl Rng) -> [f32; 3] {
        let normal = Normal::new(0.0f32, PCA_ALPHA_STD).expect("a positive, finite std");
        std::array::from_fn(|_| normal.sample(rng))
    }
}

/// The eigenvalues (descending) and unit eigenvectors (`vectors[i]` belongs to `values[i]`,
/// its largest component made positive) of a symmetric 3x3 matrix, by Jacobi rotations:
/// each rotation zeroes one off-diagonal entry, and the sum of the squared off-diagonal
/// entries falls quadratically until it is negligible next to the squared Frobenius norm of
/// the whole matrix (which rotations do not change, so a matrix with a zero diagonal
/// converges as well); the product of the rotations holds the eigenvectors in its columns.
pub fn symmetric_eigen(m: [[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut a = m;
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let scale: f64 = m.iter().flatten().map(|x| x * x).sum::<f64>() + 1e-300;
    for _sweep in 0..64 {
        let off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
        if off <= 1e-32 * scale {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            // The angle whose rotation zeroes a[p][q]: t = tan(angle), the smaller root.
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = if theta.abs() > 1e150 {
                0.5 / theta
            } else {
                theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
            };
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            for row in a.iter_mut() {
                let (kp, kq) = (row[p], row[q]);
                row[p] = c * kp - s * kq;
                row[q] = s * kp + c * kq;
            }
            let (row_p, row_q) = (a[p], a[q]);
            a[p] = std::array::from_fn(|k| c * row_p[k] - s * row_q[k]);
            a[q] = std::array::from_fn(|k| s * row_p[k] + c * row_q[k]);
            for row in v.iter_mut() {
                let (kp, kq) = (row[p], row[q]);
                row[p] = c * kp - s * kq;
                row[q] = s * kp + c * kq;
            }
        }
    }
    let mut order = [0, 1, 2];
    order.sort_by(|&i, &j| a[j][j].total_cmp(&a[i][i]));
    let values = order.map(|i| a[i][i]);
    let vectors = order.map(|i| {
        let col = [v[0][i], v[1][i], v[2][i]];
        let big = col
            .iter()
            .copied()
            .max_by(|x, y| x.abs().total_cmp(&y.abs()))
            .unwrap_or(1.0);
        let sign = if big < 0.0 { -1.0 } else { 1.0 };
        col.map(|x| sign * x)
    });
    (values, vectors)
}
