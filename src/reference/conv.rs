//! Convolution: every output is a weighted sum over a `K x K` window of every input channel
//! of its group, plus a bias. (Deep learning's "convolution" is cross-correlation: the
//! kernel is not flipped.)

/// The sizes of a square convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    /// Images in the batch.
    pub b: usize,
    /// Input channels.
    pub c: usize,
    /// Output channels (filters).
    pub o: usize,
    /// Kernel side.
    pub k: usize,
    /// Stride.
    pub s: usize,
    /// Zero padding on every side.
    pub p: usize,
    /// Groups: output channel `o` sees only the `c / g` input channels of its group.
    pub g: usize,
    /// Input height and width.
    pub h: usize,
    /// Output height and width, `(h + 2p - k) / s + 1`.
    pub os: usize,
}

impl Conv {
    /// The input value at `(b, c, ih, iw)`, zero in the padding outside the image.
    fn x_at(&self, x: &[f64], b: usize, c: usize, ih: isize, iw: isize) -> f64 {
        let h = self.h as isize;
        if ih < 0 || iw < 0 || ih >= h || iw >= h {
            0.0
        } else {
            x[((b * self.c + c) * self.h + ih as usize) * self.h + iw as usize]
        }
    }
}

/// The forward pass, for `x: [b, c, h, h]`, `w: [o, c / g, k, k]`, `bias: [o]`:
///
/// `y[b,o,i,j] = bias[o] + sum over c, ki, kj of w[o,c,ki,kj] * x[b, grp*c/g + c, i*s+ki-p, j*s+kj-p]`,
///
/// where `grp = o / (o_total / g)` is the group of output channel `o`. Each filter's
/// weights are shared by every output position: `o * (c / g) * k * k + o` parameters,
/// whatever the image size. Returns `y: [b, o, os, os]`.
///
/// The fast layer that equals these loops: [`crate::layers::Conv2D`].
/// Taught in `notebooks/02-convolution.ipynb`.
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

/// The same loops run backwards for an output gradient `gy: [b, o, os, os]`: returns
/// `(gx, gw, gb)`, the gradients for the input, the weights and the bias.
///
/// Every product `w * x` of the forward pass sends `gy * x` to the weight and `gy * w` to
/// the input value it read (none to the padding); the bias gets the sum of `gy` over every
/// image and position of its channel.
///
/// The fast layer that equals these loops: [`crate::layers::Conv2D`].
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
