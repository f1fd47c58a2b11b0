//! 3x3 stride-1 convolution by Winograd's minimal filtering, F(2x2, 3x3) (Lavin and Gray,
//! "Fast Algorithms for Convolutional Neural Networks", 2015).
//!
//! Each 2x2 block of outputs (a *tile*) needs a 4x4 patch of input. In the Winograd domain
//! the 3x3 filter and the 4x4 patch each become 16 numbers, and the convolution becomes 16
//! element-wise products instead of 36 multiply-adds:
//!
//! ```text
//! Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//! ```
//!
//! Summed over input channels, each of the 16 positions `ξ` is one matrix product,
//! `M[ξ] (out x tiles) = U[ξ] (out x in) · V[ξ] (in x tiles)`: 2.25 times fewer
//! multiplications than im2col for the same result. Every step is linear, so training runs
//! in the same domain: the backward pass applies the transposes (adjoints) of the same
//! transforms, and the weight gradient is again 16 products, `dU[ξ] = dM[ξ] · V[ξ]ᵀ`.
//! The matrices `A`, `B` and `G` hold only 0, ±1 and ±1/2, so the transforms are exact
//! additions and halvings, and the results agree with direct convolution to float rounding
//! (tested against naive loops in `tests/layers.rs`).
//!
//! The batch is cut into *blocks* of whole images, about 128 tiles each, and each core takes
//! one block at a time through transform, products and inverse transform, so the
//! intermediate matrices stay in cache instead of making round trips to memory. Within a
//! block, `j` numbers its tiles, and the layouts are `V [in][ξ][j]`, `M [out][ξ][j]`,
//! `dM [out][ξ][j]`, `dV [in][ξ][j]`; the filters are `U [out][ξ][in]`; `gemm` reads and
//! writes every operand through strides, so no transposes are copied. (With `ξ` outermost
//! instead, a tile's 16 values would land a power-of-two stride apart, and the stores would
//! fight over the same cache sets: that layout ran the transforms 3 times slower.)
//!
//! Training keeps each block's `V` for the backward pass (about 4 floats per input pixel,
//! against the 9 of an im2col matrix), transposed to `[ξ][j][in]`: `gemm` runs the
//! weight-gradient product 1.6 times faster from that layout.

use super::matmul_with;
use crate::layers::spec::{ConvSpec, Epilogue};
use gemm::Parallelism;
use rayon::prelude::*;

/// Whether [`forward`] and [`backward`] handle this convolution: 3x3, stride 1, no groups.
pub fn applies(s: &ConvSpec) -> bool {
    s.kernel == 3 && s.stride == 1 && s.groups == 1 && s.pad <= 2
}

/// Tiles per block, roughly: big enough for efficient products, small enough for cache.
const BLOCK_TILES: usize = 128;

/// The tiling of one convolution's output, and its blocks of whole images.
#[derive(Clone, Copy, Debug)]
struct Tiles {
    /// Tiles down and across one output map.
    h: usize,
    w: usize,
    /// Images per block (the last block may have fewer).
    images: usize,
}

impl Tiles {
    fn of(s: &ConvSpec) -> Self {
        let (h, w) = (s.out_h.div_ceil(2), s.out_w.div_ceil(2));
        Self {
            h,
            w,
            images: (BLOCK_TILES / (h * w)).clamp(1, s.batch.max(1)),
        }
    }
    fn per_image(&self) -> usize {
        self.h * self.w
    }
    /// Tiles in a block of `images` images.
    fn nb(&self, images: usize) -> usize {
        images * self.per_image()
    }
}

/// What the forward pass keeps for the backward pass: the transformed filters, and each
/// block's transformed input as `[ξ][j][in]`.
pub struct Saved {
    u: Vec<f32>,
    v: Vec<Vec<f32>>,
}

/// `U = G g Gᵀ` for every (out, in) pair, as `[out][ξ][in]`.
fn transform_filters(s: &ConvSpec, w: &[f32]) -> Vec<f32> {
    let c_n = s.in_channels;
    let mut u = vec![0f32; s.out_channels * 16 * c_n];
    u.par_chunks_mut(16 * c_n).enumerate().for_each(|(o, uo)| {
        for c in 0..c_n {
            let g = &w[(o * c_n + c) * 9..][..9];
            // t = G g (4x3), then U = t Gᵀ (4x4).
            let mut t = [[0f32; 3]; 4];
            for j in 0..3 {
                let (g0, g1, g2) = (g[j], g[3 + j], g[6 + j]);
                t[0][j] = g0;
                t[1][j] = 0.5 * (g0 + g1 + g2);
                t[2][j] = 0.5 * (g0 - g1 + g2);
                t[3][j] = g2;
            }
            for (i, [t0, t1, t2]) in t.into_iter().enumerate() {
                let row = [t0, 0.5 * (t0 + t1 + t2), 0.5 * (t0 - t1 + t2), t2];
                for (j, val) in row.into_iter().enumerate() {
                    uo[(4 * i + j) * c_n + c] = val;
                }
            }
        }
    });
    u
}

/// Copies one `h x w` plane into a zeroed `ph x pw` buffer at offset `(pad, pad)`.
fn pad_plane(src: &[f32], (h, w): (usize, usize), pad: usize, dst: &mut [f32], pw: usize) {
    dst.fill(0.0);
    for r in 0..h {
        dst[(r + pad) * pw + pad..][..w].copy_from_slice(&src[r * w..][..w]);
    }
}

fn add4(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
    std::array::from_fn(|i| a[i] + b[i])
}

fn sub4(a: [f32; 4], b: [f32; 4]) -> [f32; 4] {
    std::array::from_fn(|i| a[i] - b[i])
}

/// `V = Bᵀ d B` for every input channel and tile of a block's images `x`, as `[in][ξ][j]`.
fn transform_input(s: &ConvSpec, tl: Tiles, x: &[f32], v: &mut [f32], p: &mut Vec<f32>) {
    let (ph, pw) = (2 * tl.h + 2, 2 * tl.w + 2);
    let (c_n, plane) = (s.in_channels, s.in_h * s.in_w);
    let images = x.len() / (c_n * plane);
    let nb = tl.nb(images);
    p.resize(ph * pw, 0.0);
    for c in 0..c_n {
        for bi in 0..images {
            let src = &x[(bi * c_n + c) * plane..][..plane];
            pad_plane(src, (s.in_h, s.in_w), s.pad, p, pw);
            for th in 0..tl.h {
                let j0 = bi * tl.per_image() + th * tl.w;
                let rows: [&[f32]; 4] = std::array::from_fn(|r| &p[(2 * th + r) * pw..][..pw]);
                for tw in 0..tl.w {
                    let d: [[f32; 4]; 4] = std::array::from_fn(|r| {
                        let row = &rows[r][2 * tw..][..4];
                        [row[0], row[1], row[2], row[3]]
                    });
                    // t = Bᵀ d (rows), then V = t B (columns).
                    let t = [
                        sub4(d[0], d[2]),
                        add4(d[1], d[2]),
                        sub4(d[2], d[1]),
                        sub4(d[1], d[3]),
                    ];
                    for (i, [a0, a1, a2, a3]) in t.into_iter().enumerate() {
                        let row = [a0 - a2, a1 + a2, a2 - a1, a1 - a3];
                        for (k, val) in row.into_iter().enumerate() {
                            v[(c * 16 + 4 * i + k) * nb + j0 + tw] = val;
                        }
                    }
                }
            }
        }
    }
}

/// `Y = Aᵀ M A` plus the bias, then the epilogue, into a block's NCHW output `y` (tiles past
/// the edge of an odd size are dropped).
#[allow(clippy::needless_range_loop)] // `tw` indexes 16 slices at once
fn transform_output(
    s: &ConvSpec,
    tl: Tiles,
    m: &[f32],
    bias: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
) {
    let (o_n, plane) = (s.out_channels, s.out_len());
    let nb = tl.nb(y.len() / (o_n * plane));
    for (bo, y) in y.chunks_exact_mut(plane).enumerate() {
        let (bi, o) = (bo / o_n, bo % o_n);
        for th in 0..tl.h {
            let j0 = bi * tl.per_image() + th * tl.w;
            let ms: [&[f32]; 16] = std::array::from_fn(|xi| &m[(o * 16 + xi) * nb + j0..][..tl.w]);
            for tw in 0..tl.w {
                let q: [f32; 16] = std::array::from_fn(|xi| ms[xi][tw]);
                // t = Aᵀ M (2x4), then Y = t A (2x2).
                let r0: [f32; 4] = std::array::from_fn(|j| q[j] + q[4 + j] + q[8 + j]);
                let r1: [f32; 4] = std::array::from_fn(|j| q[4 + j] - q[8 + j] - q[12 + j]);
                for (i, [a0, a1, a2, a3]) in [r0, r1].into_iter().enumerate() {
                    let oh = 2 * th + i;
                    if oh >= s.out_h {
                        continue;
                    }
                    let ow = 2 * tw;
                    y[oh * s.out_w + ow] = ep.apply(o, a0 + a1 + a2 + bias[o]);
                    if ow + 1 < s.out_w {
                        y[oh * s.out_w + ow + 1] = ep.apply(o, a1 - a2 - a3 + bias[o]);
                    }
                }
            }
        }
    }
}

/// Scratch buffers of one worker, reused across its blocks.
#[derive(Default)]
struct Scratch {
    plane: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
}

/// A zeroed-or-stale buffer of `n` floats, for a pass that overwrites all of it.
fn sized(buf: &mut Vec<f32>, n: usize) -> &mut [f32] {
    buf.resize(n, 0.0);
    &mut buf[..n]
}

/// The convolution's output `[batch, out, out_h, out_w]` with `epilogue` applied, and, when
/// `keep` (training), what the backward pass needs.
pub fn forward(
    s: &ConvSpec,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    epilogue: &Epilogue,
    keep: bool,
) -> (Vec<f32>, Option<Saved>) {
    debug_assert!(applies(s));
    let tl = Tiles::of(s);
    let (o_n, c_n) = (s.out_channels, s.in_channels);
    let (in_image, out_image) = (c_n * s.in_h * s.in_w, o_n * s.out_len());
    let u = transform_filters(s, w);
    let mut out = vec![0f32; s.batch * out_image];
    let v: Vec<Vec<f32>> = out
        .par_chunks_mut(tl.images * out_image)
        .zip(x.par_chunks(tl.images * in_image))
        .map_init(Scratch::default, |sc, (y, x)| {
            let nb = tl.nb(x.len() / in_image);
            let v = sized(&mut sc.a, 16 * c_n * nb);
            transform_input(s, tl, x, v, &mut sc.plane);
            let m = sized(&mut sc.b, 16 * o_n * nb);
            // M[ξ] (out x j) = U[ξ] (out x in) · V[ξ] (in x j)
            for xi in 0..16 {
                matmul_with(
                    Parallelism::None,
                    (o_n, nb, c_n),
                    &mut m[xi * nb..],
                    16 * nb,
                    false,
                    (&u[xi * c_n..], 16 * c_n, 1),
                    (&v[xi * nb..], 16 * nb, 1),
                );
            }
            transform_output(s, tl, m, bias, epilogue, y);
            if keep {
                transpose_for_backward(v, c_n, nb)
            } else {
                Vec::new()
            }
        })
        .collect();
    (out, keep.then_some(Saved { u, v }))
}

/// `V [in][ξ][j]` to `[ξ][j][in]`.
fn transpose_for_backward(v: &[f32], c_n: usize, nb: usize) -> Vec<f32> {
    let mut vt = vec![0f32; v.len()];
    for (xi, dst) in vt.chunks_exact_mut(nb * c_n).enumerate() {
        for c0 in (0..c_n).step_by(16) {
            let cs = 16.min(c_n - c0);
            let rows: [&[f32]; 16] =
                std::array::from_fn(|k| &v[((c0 + k.min(cs - 1)) * 16 + xi) * nb..][..nb]);
            for (j, d) in dst.chunks_exact_mut(c_n).enumerate() {
                for (k, d) in d[c0..c0 + cs].iter_mut().enumerate() {
                    *d = rows[k][j];
                }
            }
        }
    }
    vt
}

/// `dM = A dY Aᵀ` for every output channel and tile of a block's output gradient `gy`, as
/// `[out][ξ][j]`; adds the sum of `gy` per channel to `gb`.
fn transform_output_grad(
    s: &ConvSpec,
    tl: Tiles,
    gy: &[f32],
    dm: &mut [f32],
    p: &mut Vec<f32>,
    gb: &mut [f32],
) {
    let (o_n, plane) = (s.out_channels, s.out_len());
    let nb = tl.nb(gy.len() / (o_n * plane));
    let (ph, pw) = (2 * tl.h, 2 * tl.w);
    p.resize(ph * pw, 0.0);
    for (bo, src) in gy.chunks_exact(plane).enumerate() {
        let (bi, o) = (bo / o_n, bo % o_n);
        gb[o] += src.iter().sum::<f32>();
        pad_plane(src, (s.out_h, s.out_w), 0, p, pw);
        for th in 0..tl.h {
            let j0 = bi * tl.per_image() + th * tl.w;
            let (g0, g1) = (&p[2 * th * pw..][..pw], &p[(2 * th + 1) * pw..][..pw]);
            for tw in 0..tl.w {
                let (y00, y01, y10, y11) = (g0[2 * tw], g0[2 * tw + 1], g1[2 * tw], g1[2 * tw + 1]);
                // t = A dY (4x2), then dM = t Aᵀ (4x4).
                let t = [
                    [y00, y01],
                    [y00 + y10, y01 + y11],
                    [y00 - y10, y01 - y11],
                    [-y10, -y11],
                ];
                for (i, [a0, a1]) in t.into_iter().enumerate() {
                    let row = [a0, a0 + a1, a0 - a1, -a1];
                    for (k, val) in row.into_iter().enumerate() {
                        dm[(o * 16 + 4 * i + k) * nb + j0 + tw] = val;
                    }
                }
            }
        }
    }
}

/// Adds `Gᵀ dU G` (the adjoint of the filter transform) to the weight gradient.
fn add_filter_grad(s: &ConvSpec, du: &[f32], gw: &mut [f32]) {
    let (o_n, c_n) = (s.out_channels, s.in_channels);
    gw.par_chunks_mut(c_n * 9).enumerate().for_each(|(o, gwo)| {
        for c in 0..c_n {
            let q: [f32; 16] = std::array::from_fn(|xi| du[(xi * o_n + o) * c_n + c]);
            // t = Gᵀ dU (3x4), then dg = t G (3x3).
            let t: [[f32; 4]; 3] = [
                std::array::from_fn(|j| q[j] + 0.5 * (q[4 + j] + q[8 + j])),
                std::array::from_fn(|j| 0.5 * (q[4 + j] - q[8 + j])),
                std::array::from_fn(|j| 0.5 * (q[4 + j] + q[8 + j]) + q[12 + j]),
            ];
            let g = &mut gwo[c * 9..][..9];
            for (i, [a0, a1, a2, a3]) in t.into_iter().enumerate() {
                g[3 * i] += a0 + 0.5 * (a1 + a2);
                g[3 * i + 1] += 0.5 * (a1 - a2);
                g[3 * i + 2] += 0.5 * (a1 + a2) + a3;
            }
        }
    });
}

/// Adds `B dV Bᵀ` (the adjoint of the input transform) of every tile of a block onto its
/// images' input gradient `gx`.
fn add_input_grad(s: &ConvSpec, tl: Tiles, dv: &[f32], gx: &mut [f32], p: &mut Vec<f32>) {
    let (c_n, plane) = (s.in_channels, s.in_h * s.in_w);
    let nb = tl.nb(gx.len() / (c_n * plane));
    let (ph, pw) = (2 * tl.h + 2, 2 * tl.w + 2);
    p.resize(ph * pw, 0.0);
    for (bc, gxp) in gx.chunks_exact_mut(plane).enumerate() {
        let (bi, c) = (bc / c_n, bc % c_n);
        p.fill(0.0);
        for th in 0..tl.h {
            let j0 = bi * tl.per_image() + th * tl.w;
            let vs: [&[f32]; 16] = std::array::from_fn(|xi| &dv[(c * 16 + xi) * nb + j0..][..tl.w]);
            for tw in 0..tl.w {
                let q: [f32; 16] = std::array::from_fn(|xi| vs[xi][tw]);
                let row = |i: usize| [q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]];
                // t = B dV (rows), then dd = t Bᵀ (columns).
                let t = [
                    row(0),
                    add4(sub4(row(1), row(2)), row(3)),
                    sub4(add4(row(1), row(2)), row(0)),
                    row(3).map(|v| -v),
                ];
                for (i, [a0, a1, a2, a3]) in t.into_iter().enumerate() {
                    let dst = &mut p[(2 * th + i) * pw + 2 * tw..][..4];
                    dst[0] += a0;
                    dst[1] += a1 - a2 + a3;
                    dst[2] += a1 + a2 - a0;
                    dst[3] -= a3;
                }
            }
        }
        for r in 0..s.in_h {
            let src = &p[(r + s.pad) * pw + s.pad..][..s.in_w];
            for (d, v) in gxp[r * s.in_w..][..s.in_w].iter_mut().zip(src) {
                *d += v;
            }
        }
    }
}

/// One worker's share of the weight and bias gradients: `dU [ξ][out][in]` and `[out]`.
struct Partial {
    du: Vec<f32>,
    gb: Vec<f32>,
}

/// Adds the gradients of the convolution to `gx`, `gw` and `gb`, given the output's `gout`.
pub fn backward(
    s: &ConvSpec,
    saved: &Saved,
    gout: &[f32],
    (gx, gw, gb): (&mut [f32], &mut [f32], &mut [f32]),
) {
    let tl = Tiles::of(s);
    let (o_n, c_n) = (s.out_channels, s.in_channels);
    let (in_image, out_image) = (c_n * s.in_h * s.in_w, o_n * s.out_len());
    let new_partial = || Partial {
        du: vec![0f32; 16 * o_n * c_n],
        gb: vec![0f32; o_n],
    };
    let total = gx
        .par_chunks_mut(tl.images * in_image)
        .zip(gout.par_chunks(tl.images * out_image))
        .zip(saved.v.par_iter())
        .with_min_len(saved.v.len().div_ceil(2 * rayon::current_num_threads()))
        .fold(
            || (new_partial(), Scratch::default()),
            |(mut acc, mut sc), ((gx, gy), v)| {
                let nb = tl.nb(gx.len() / in_image);
                let dm = sized(&mut sc.a, 16 * o_n * nb);
                transform_output_grad(s, tl, gy, dm, &mut sc.plane, &mut acc.gb);
                let dv = sized(&mut sc.b, 16 * c_n * nb);
                for xi in 0..16 {
                    let dmx = &dm[xi * nb..];
                    // dU[ξ] (out x in) += dM[ξ] (out x j) · V[ξ]ᵀ (j x in)
                    matmul_with(
                        Parallelism::None,
                        (o_n, c_n, nb),
                        &mut acc.du[xi * o_n * c_n..],
                        c_n,
                        true,
                        (dmx, 16 * nb, 1),
                        (&v[xi * nb * c_n..], c_n, 1),
                    );
                    // dV[ξ] (in x j) = U[ξ]ᵀ (in x out) · dM[ξ] (out x j)
                    matmul_with(
                        Parallelism::None,
                        (c_n, nb, o_n),
                        &mut dv[xi * nb..],
                        16 * nb,
                        false,
                        (&saved.u[xi * c_n..], 1, 16 * c_n),
                        (dmx, 16 * nb, 1),
                    );
                }
                let dv = &sc.b[..16 * c_n * nb];
                add_input_grad(s, tl, dv, gx, &mut sc.plane);
                (acc, sc)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(new_partial, |mut a, b| {
            a.du.iter_mut().zip(&b.du).for_each(|(x, y)| *x += y);
            a.gb.iter_mut().zip(&b.gb).for_each(|(x, y)| *x += y);
            a
        });
    add_filter_grad(s, &total.du, gw);
    for (g, d) in gb.iter_mut().zip(&total.gb) {
        *g += d;
    }
}
