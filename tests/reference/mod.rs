//! Naive loop implementations in f64: the references the layers are checked against.
#![allow(dead_code, clippy::too_many_arguments)]

/// Sizes of a square convolution case.
#[derive(Clone, Copy, Debug)]
pub struct Conv {
    pub b: usize,
    pub c: usize,
    pub o: usize,
    pub k: usize,
    pub s: usize,
    pub p: usize,
    pub g: usize,
    pub h: usize,
    pub os: usize,
}

impl Conv {
    fn x_at(&self, x: &[f64], b: usize, c: usize, ih: isize, iw: isize) -> f64 {
        let h = self.h as isize;
        if ih < 0 || iw < 0 || ih >= h || iw >= h {
            0.0
        } else {
            x[((b * self.c + c) * self.h + ih as usize) * self.h + iw as usize]
        }
    }
}

/// `y[b,o,i,j] = bias[o] + sum_{c in group(o), ki, kj} w[o,c,ki,kj] * x[b, g*cg + c, i*s+ki-p, j*s+kj-p]`.
pub fn conv_forward(s: Conv, x: &[f64], w: &[f64], bias: &[f64]) -> Vec<f64> {
    let (cg, og) = (s.c / s.g, s.o / s.g);
    let mut y = vec![0.0; s.b * s.o * s.os * s.os];
    for b in 0..s.b {
        for o in 0..s.o {
            let grp = o / og;
            for i in 0..s.os {
                for j in 0..s.os {
                    let mut acc = bias[o];
                    for c in 0..cg {
                        for ki in 0..s.k {
                            for kj in 0..s.k {
                                let ih = (i * s.s + ki) as isize - s.p as isize;
                                let iw = (j * s.s + kj) as isize - s.p as isize;
                                acc += w[((o * cg + c) * s.k + ki) * s.k + kj]
                                    * s.x_at(x, b, grp * cg + c, ih, iw);
                            }
                        }
                    }
                    y[((b * s.o + o) * s.os + i) * s.os + j] = acc;
                }
            }
        }
    }
    y
}

/// The same loops run backwards: `(gx, gw, gb)` for an output gradient `gy`.
pub fn conv_backward(s: Conv, x: &[f64], w: &[f64], gy: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (cg, og) = (s.c / s.g, s.o / s.g);
    let (mut gx, mut gw, mut gb) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; s.o]);
    for b in 0..s.b {
        for o in 0..s.o {
            let grp = o / og;
            for i in 0..s.os {
                for j in 0..s.os {
                    let g = gy[((b * s.o + o) * s.os + i) * s.os + j];
                    gb[o] += g;
                    for c in 0..cg {
                        for ki in 0..s.k {
                            for kj in 0..s.k {
                                let ih = (i * s.s + ki) as isize - s.p as isize;
                                let iw = (j * s.s + kj) as isize - s.p as isize;
                                let wi = ((o * cg + c) * s.k + ki) * s.k + kj;
                                let xc = grp * cg + c;
                                gw[wi] += g * s.x_at(x, b, xc, ih, iw);
                                if ih >= 0 && iw >= 0 && ih < s.h as isize && iw < s.h as isize {
                                    let xi =
                                        ((b * s.c + xc) * s.h + ih as usize) * s.h + iw as usize;
                                    gx[xi] += g * w[wi];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    (gx, gw, gb)
}

/// Max (or average) of each `k x k` window at stride `s`, no padding; `planes` maps of `h x h`.
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
                let window = (0..k * k).map(|t| x[(p * h + i * s + t / k) * h + j * s + t % k]);
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

/// LRN as the paper writes it, for `[b, c, plane]`.
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

/// Central finite differences of `sum(f(v) * r)` with respect to every entry of `v`.
pub fn finite_diff(v: &[f64], r: &[f64], f: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f64> {
    let eps = 1e-4;
    let loss = |v: &[f64]| f(v).iter().zip(r).map(|(a, b)| a * b).sum::<f64>();
    let mut v = v.to_vec();
    (0..v.len())
        .map(|i| {
            let orig = v[i];
            v[i] = orig + eps;
            let up = loss(&v);
            v[i] = orig - eps;
            let down = loss(&v);
            v[i] = orig;
            (up - down) / (2.0 * eps)
        })
        .collect()
}

/// Asserts two arrays agree within `tol * (1 + |want|)` everywhere.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

pub fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}
