//! Stride-1 convolution by Winograd's minimal filtering (Lavin and Gray, "Fast Algorithms
//! for Convolutional Neural Networks", 2015): F(2x2, 3x3) and F(2x2, 5x5) for training, and
//! for inference F(4x4, 3x3) and F(2x2, 5x5).
//!
//! Each `m x m` block of outputs (a *tile*) of a `k x k` filter needs an `n x n` patch of
//! input, `n = m + k - 1`. In the Winograd domain the filter and the patch each become `n²`
//! numbers, and the convolution becomes `n²` element-wise products instead of `m² k²`
//! multiply-adds:
//!
//! ```text
//! Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//! ```
//!
//! Summed over input channels, each of the `n²` positions `ξ` is one matrix product,
//! `M[ξ] (out x tiles) = U[ξ] (out x in) · V[ξ] (in x tiles)`: 36 / 16 = 2.25 times fewer
//! multiplications than im2col for F(2x2, 3x3), 144 / 36 = 4 times for F(4x4, 3x3),
//! 100 / 36 = 2.78 times for F(2x2, 5x5). Every step is linear, so training runs in the
//! same domain: the backward pass applies the transposes (adjoints) of the same transforms,
//! and the weight gradient is again `n²` products, `dU[ξ] = dM[ξ] · V[ξ]ᵀ`. For 5x5 filters
//! that weight gradient, summed over thousands of tiles, is off by up to 8e-4 (relative, on
//! a 96-channel 27x27 layer; the input gradient by 3.5e-6), so there the backward pass
//! computes only the input gradient and leaves the weights' to im2col
//! ([`weight_grad_applies`]). Training with 3x3 filters keeps the 2x2 tile, whose rounding
//! is 14 to 21 times smaller than that of the 4x4 tile (below), which has no adjoints.
//!
//! # The transforms
//!
//! All three tiles come from one construction (Toom-Cook; Lavin and Gray, section 4). A 1-D
//! run of `m` outputs `y_i = Σ_k d_{i+k} g_k` is the transpose of the product of the
//! polynomials `g(x)` (degree `k - 1`) and `y_0 + y_1 x + … + y_{m-1} x^{m-1}`, which has
//! degree `n - 1 = m + k - 2` and so is fixed by its values at `n` points: `n - 1` finite
//! points `p_i` and `∞` (the leading coefficient). With `f_i = Π_{l≠i} (p_i - p_l)`,
//! `M(x) = Π_l (x - p_l)` and `M_i(x) = M(x) / (x - p_i)`:
//!
//! - `A` (`n x m`): row `i` is `(1, p_i, …, p_i^{m-1})`; the `∞` row is `(0, …, 0, 1)`.
//! - `G` (`n x k`): row `i` is `(1, p_i, …, p_i^{k-1}) / f_i`; the `∞` row is
//!   `(0, …, 0, 1)`.
//! - `Bᵀ` (`n x n`): row `i` holds the coefficients of `M_i(x)`, lowest first; the `∞` row
//!   those of `M(x)`.
//!
//! F(2x2, 3x3) takes the points 0, 1, -1 (`f = -1, 2, 2`, the sign of the first row moved
//! from `G` into `Bᵀ`, and that of the `∞` row from `Bᵀ` into `A`), so
//! `A`, `B` and `G` hold only 0, ±1 and ±1/2: the transforms are exact additions and
//! halvings. F(2x2, 5x5) takes 0, 1, -1, 2, -2 (`f = 4, -6, -6, 24, 24`): `Bᵀ` holds the
//! integers of `M_i`, up to 5 (`M_0 = x⁴ - 5x² + 4`), `A` holds 0, ±1, ±2, and the fractions
//! 1/4, 1/6, 1/24 all sit in `G`, which runs once per filter, not once per tile.
//!
//! F(4x4, 3x3) takes the same points, so it has the same `f` and the same `Bᵀ`; these are
//! Lavin and Gray's matrices:
//!
//! ```text
//!        4  0 -5  0  1  0          1/4    0     0          1  1  1  1  1  0
//!        0 -4 -4  1  1  0         -1/6  -1/6  -1/6    Aᵀ = 0  1 -1  2 -2  0
//!   Bᵀ = 0  4 -4 -1  1  0     G = -1/6   1/6  -1/6         0  1  1  4  4  0
//!        0 -2 -1  2  1  0         1/24  1/12   1/6         0  1 -1  8 -8  1
//!        0  2 -1 -2  1  0         1/24 -1/12   1/6
//!        0  4  0 -5  0  1           0     0     1
//! ```
//!
//! `A` now holds the cubes of the points, up to 8, and an output sums 36 products, each
//! scaled by up to 64, where F(2x2, 3x3) sums 16 scaled by 1: its outputs carry 14 to 21
//! times the rounding. Against naive loops in `f64` (`tests/winograd_inference.rs`), the
//! `article` model's 384 -> 384 channel conv4 at 13x13 with its ReLU and batch norm is off by
//! up to 3.7e-5 (relative, `|Δ| / (1 + |y|)`), the `cifar` model's 64 -> 192 conv2 block at
//! 16x16 by 1.9e-5, against 1e-6 to 2e-6 for F(2x2, 3x3) on such layers; the tests allow
//! 1e-4. The larger coefficients of F(2x2, 5x5) likewise amplify rounding more than those
//! of F(2x2, 3x3): on a 96-channel 27x27 layer its outputs are off by up to 9e-6. The points
//! 0, ±1, ±1/2 instead of 0, ±1, ±2 did no better there (1.1e-3 against 8e-4 on the weight
//! gradient). `tests/layers.rs` checks the 1-D transforms of the 2x2 tiles in `f64` against
//! direct correlation, `tests/winograd_inference.rs` that of F(4x4, 3x3), and both the
//! layers against naive loops (and the training tiles against finite differences).
//!
//! # Blocks and layouts
//!
//! The batch is cut into *blocks* of whole images, about 128 tiles each (64 of 4x4), and
//! each core takes one block at a time through transform, products and inverse transform,
//! so the intermediate matrices stay in cache instead of making round trips to memory.
//! Within a block, `j` numbers its tiles, and the layouts are `V [in][ξ][j]`,
//! `M [out][ξ][j]`, `dM [out][ξ][j]`, `dV [in][ξ][j]`; the filters are `U [out][ξ][in]`;
//! `gemm` reads and writes every operand through strides, so no transposes are copied.
//! (With `ξ` outermost instead, a tile's 16 values would land a power-of-two stride apart,
//! and the stores would fight over the same cache sets: that layout ran the transforms 3
//! times slower.) The products and the inverse transform run a few output channels at a
//! time, about 2 MiB of `M`, which stays in cache between the two; the backward pass
//! likewise transforms the output's gradient a few channels at a time where it would
//! otherwise pass 4 MiB ([`grad_chunk`]).
//!
//! The transforms run on eight tiles at once (`LANES`), one to a vector lane: consecutive
//! `j` are consecutive in `V`, `M` and `dM`, so those sides load and store whole vectors,
//! and the image side gathers or scatters one tile per lane; only the input gradient's
//! pass, which adds overlapping tiles onto the image, goes one tile at a time. They are
//! compiled a second time for AVX2 (`Passes`, `GradPasses`).
//!
//! Training with 3x3 filters keeps each block's `V` for the backward pass (about 4 floats
//! per input pixel, against the 9 of an im2col matrix), transposed to `[ξ][j][in]`: `gemm`
//! runs the weight-gradient product 1.6 times faster from that layout.

use super::matmul_with;
use super::simd::multiversion;
use crate::layers::spec::{ConvSpec, Epilogue};
use gemm::Parallelism;
use rayon::prelude::*;

use std::ops::{Add, Neg, Sub};

/// Whether the layers send this convolution to [`forward`] and [`backward`]: one they
/// [`fit`], 3x3 with at least [`MIN_CHANNELS_3X3`] input channels or 5x5 with at least
/// [`MIN_CHANNELS_5X5`] (below those, im2col is faster).
pub fn applies(s: &ConvSpec) -> bool {
    let channels = match s.kernel {
        3 => MIN_CHANNELS_3X3,
        _ => MIN_CHANNELS_5X5,
    };
    fits(s) && s.in_channels >= channels
}

/// Whether [`forward`] and [`backward`] compute this convolution, at any channel count: a
/// 3x3 or 5x5 kernel, stride 1, no groups, padding below the kernel size.
pub fn fits(s: &ConvSpec) -> bool {
    matches!(s.kernel, 3 | 5) && s.stride == 1 && s.groups == 1 && s.pad < s.kernel
}

/// The fewest input channels for which the 3x3 tiles beat im2col. Below it the transforms,
/// whose cost grows with the output channels, outweigh what they save on a short inner
/// product. Measured at batch 64, 32x32 maps, 64 outputs, two threads (ms, im2col against
/// Winograd): inference 1.4-1.6 against 3.7-5.1 with 4 input channels, 2.3-2.4 against
/// 3.6-5.7 with 8, 4.5-5.2 against 4.5-6.7 with 16, 9.0-9.8 against 6.7-7.2 with 32; a
/// training step (input gradient included) 15-16 against 15-21 with 8, 25-32 against
/// 19-21 with 16. The `cifar` model's first layer (3 channels) is the one it moves.
pub const MIN_CHANNELS_3X3: usize = 16;

/// The fewest input channels for which F(2x2, 5x5) beats im2col: its transforms cost about
/// as much per input channel as the products save. Measured at batch 64, 32x32 maps and
/// 32 outputs, against im2col: 0.35 times as fast with 3 input channels, 0.6 with 8,
/// 0.86 with 16, 1.16 with 32 (and 1.4 on the `article` model's conv2, 96 channels).
pub const MIN_CHANNELS_5X5: usize = 32;

/// What the 1-D transforms compute on: single numbers, or whole rows of a tile at once.
trait Lin: Copy + Add<Output = Self> + Sub<Output = Self> + Neg<Output = Self> {
    /// `self * c` for a constant `c` of a transform (exact in `f32`, or rounded once).
    fn times(self, c: f64) -> Self;
}
impl Lin for f32 {
    #[inline(always)]
    fn times(self, c: f64) -> Self {
        self * c as f32
    }
}
impl Lin for f64 {
    fn times(self, c: f64) -> Self {
        self * c
    }
}
impl<const N: usize> Lin for Row<N> {
    #[inline(always)]
    fn times(mut self, c: f64) -> Self {
        for a in &mut self.0 {
            *a *= c as f32;
        }
        self
    }
}

/// One row of a tile, added and scaled element-wise: the first pass of a 2-D transform
/// works on rows, the second on the numbers of each row.
#[derive(Clone, Copy)]
struct Row<const N: usize>([f32; N]);

impl<const N: usize> Add for Row<N> {
    type Output = Self;
    #[inline(always)]
    fn add(mut self, o: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
        self
    }
}
impl<const N: usize> Sub for Row<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(mut self, o: Self) -> Self {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a -= b;
        }
        self
    }
}
impl<const N: usize> Neg for Row<N> {
    type Output = Self;
    #[inline(always)]
    fn neg(mut self) -> Self {
        for a in &mut self.0 {
            *a = -*a;
        }
        self
    }
}

/// The 1-D transforms of F(m, k) with `n = m + k - 1` (see the module's doc): `M` outputs
/// of a `K`-tap filter from `N` inputs.
trait Minimal<const N: usize, const K: usize, const M: usize> {
    /// `Bᵀ d`: an input patch into the Winograd domain.
    fn input<T: Lin>(d: [T; N]) -> [T; N];
    /// `G g`: a filter into the Winograd domain.
    fn filter<T: Lin>(g: [T; K]) -> [T; N];
    /// `Aᵀ m`: a product back to `M` outputs.
    fn output<T: Lin>(m: [T; N]) -> [T; M];
}

/// The adjoints (transposes) of the transforms of F(2, k), for the backward pass.
trait Adjoint<const N: usize, const K: usize>: Minimal<N, K, 2> {
    /// `B v`.
    fn input_adjoint<T: Lin>(v: [T; N]) -> [T; N];
    /// `Gᵀ u`.
    fn filter_adjoint<T: Lin>(u: [T; N]) -> [T; K];
    /// `A y`.
    fn output_adjoint<T: Lin>(y: [T; 2]) -> [T; N];
}

/// F(2, 3) on the points 0, 1, -1, ∞.
struct F2x3;

impl Minimal<4, 3, 2> for F2x3 {
    #[inline(always)]
    fn input<T: Lin>([d0, d1, d2, d3]: [T; 4]) -> [T; 4] {
        [d0 - d2, d1 + d2, d2 - d1, d1 - d3]
    }
    #[inline(always)]
    fn filter<T: Lin>([g0, g1, g2]: [T; 3]) -> [T; 4] {
        [g0, (g0 + g1 + g2).times(0.5), (g0 - g1 + g2).times(0.5), g2]
    }
    #[inline(always)]
    fn output<T: Lin>([m0, m1, m2, m3]: [T; 4]) -> [T; 2] {
        [m0 + m1 + m2, m1 - m2 - m3]
    }
}

impl Adjoint<4, 3> for F2x3 {
    #[inline(always)]
    fn input_adjoint<T: Lin>([v0, v1, v2, v3]: [T; 4]) -> [T; 4] {
        [v0, v1 - v2 + v3, v1 + v2 - v0, -v3]
    }
    #[inline(always)]
    fn filter_adjoint<T: Lin>([u0, u1, u2, u3]: [T; 4]) -> [T; 3] {
        let (s, d) = ((u1 + u2).times(0.5), (u1 - u2).times(0.5));
        [u0 + s, d, s + u3]
    }
    #[inline(always)]
    fn output_adjoint<T: Lin>([y0, y1]: [T; 2]) -> [T; 4] {
        [y0, y0 + y1, y0 - y1, -y1]
    }
}

/// F(2, 5) on the points 0, 1, -1, 2, -2, ∞.
struct F2x5;

impl Minimal<6, 5, 2> for F2x5 {
    #[inline(always)]
    fn input<T: Lin>([d0, d1, d2, d3, d4, d5]: [T; 6]) -> [T; 6] {
        let (a, b) = (d4 - d2.times(4.0), d3 - d1.times(4.0));
        let (c, e) = (d4 - d2, (d3 - d1).times(2.0));
        [
            d0.times(4.0) - d2.times(5.0) + d4,
            a + b,
            a - b,
            c + e,
            c - e,
            d1.times(4.0) - d3.times(5.0) + d5,
        ]
    }
    #[inline(always)]
    fn filter<T: Lin>([g0, g1, g2, g3, g4]: [T; 5]) -> [T; 6] {
        let (e1, o1) = (g0 + g2 + g4, g1 + g3);
        let (e2, o2) = (
            g0 + g2.times(4.0) + g4.times(16.0),
            g1.times(2.0) + g3.times(8.0),
        );
        [
            g0.times(0.25),
            (e1 + o1).times(-1.0 / 6.0),
            (e1 - o1).times(-1.0 / 6.0),
            (e2 + o2).times(1.0 / 24.0),
            (e2 - o2).times(1.0 / 24.0),
            g4,
        ]
    }
    #[inline(always)]
    fn output<T: Lin>([m0, m1, m2, m3, m4, m5]: [T; 6]) -> [T; 2] {
        [m0 + m1 + m2 + m3 + m4, m1 - m2 + (m3 - m4).times(2.0) + m5]
    }
}

impl Adjoint<6, 5> for F2x5 {
    #[inline(always)]
    fn input_adjoint<T: Lin>([v0, v1, v2, v3, v4, v5]: [T; 6]) -> [T; 6] {
        let (s12, d12) = (v1 + v2, v1 - v2);
        let (s34, d34) = (v3 + v4, v3 - v4);
        [
            v0.times(4.0),
            (d12 - v5).times(-4.0) - d34.times(2.0),
            v0.times(-5.0) - s12.times(4.0) - s34,
            d12 + d34.times(2.0) - v5.times(5.0),
            v0 + s12 + s34,
            v5,
        ]
    }
    #[inline(always)]
    fn filter_adjoint<T: Lin>([u0, u1, u2, u3, u4, u5]: [T; 6]) -> [T; 5] {
        let (s1, d1) = ((u1 + u2).times(-1.0 / 6.0), (u1 - u2).times(-1.0 / 6.0));
        let (s2, d2) = ((u3 + u4).times(1.0 / 24.0), (u3 - u4).times(1.0 / 24.0));
        [
            u0.times(0.25) + s1 + s2,
            d1 + d2.times(2.0),
            s1 + s2.times(4.0),
            d1 + d2.times(8.0),
            s1 + s2.times(16.0) + u5,
        ]
    }
    #[inline(always)]
    fn output_adjoint<T: Lin>([y0, y1]: [T; 2]) -> [T; 6] {
        let y2 = y1.times(2.0);
        [y0, y0 + y1, y0 - y1, y0 + y2, y0 - y2, y1]
    }
}

/// F(4, 3) on the points 0, 1, -1, 2, -2, ∞ (those of [`F2x5`], whose `Bᵀ` it shares), for
/// inference only: no [`Adjoint`].
struct F4x3;

impl Minimal<6, 3, 4> for F4x3 {
    #[inline(always)]
    fn input<T: Lin>(d: [T; 6]) -> [T; 6] {
        F2x5::input(d)
    }
    #[inline(always)]
    fn filter<T: Lin>([g0, g1, g2]: [T; 3]) -> [T; 6] {
        let (e1, e2, o2) = (g0 + g2, g0 + g2.times(4.0), g1.times(2.0));
        [
            g0.times(0.25),
            (e1 + g1).times(-1.0 / 6.0),
            (e1 - g1).times(-1.0 / 6.0),
            (e2 + o2).times(1.0 / 24.0),
            (e2 - o2).times(1.0 / 24.0),
            g2,
        ]
    }
    #[inline(always)]
    fn output<T: Lin>([m0, m1, m2, m3, m4, m5]: [T; 6]) -> [T; 4] {
        let (s12, d12) = (m1 + m2, m1 - m2);
        let (s34, d34) = (m3 + m4, m3 - m4);
        [
            m0 + s12 + s34,
            d12 + d34.times(2.0),
            s12 + s34.times(4.0),
            d12 + d34.times(8.0) + m5,
        ]
    }
}

/// A tile's forward passes over a block, each compiled a second time for AVX2 + FMA (where
/// eight tiles fill a vector register) and picked at run time ([`multiversion!`]).
trait Passes<const M: usize> {
    fn block_input(s: &ConvSpec, tl: Tiles<M>, x: &[f32], v: &mut [f32], p: &mut Vec<f32>);
    fn block_output(
        s: &ConvSpec,
        tl: Tiles<M>,
        m: (&[f32], usize),
        bias: &[f32],
        ep: &Epilogue,
        y: &mut [f32],
        p: &mut Vec<f32>,
    );
}

/// The backward passes, likewise (for the 2x2 tiles, which have an [`Adjoint`]).
trait GradPasses {
    fn block_output_grad(
        s: &ConvSpec,
        tl: Tiles<2>,
        gy: (&[f32], usize),
        dm: &mut [f32],
        p: &mut Vec<f32>,
        gb: &mut [f32],
    );
    fn block_input_grad(s: &ConvSpec, tl: Tiles<2>, dv: &[f32], gx: &mut [f32], p: &mut Vec<f32>);
}

/// [`Passes`] for the tile `$w` of `$n x $n` values, `$k x $k` filters and `$m x $m`
/// outputs.
macro_rules! passes {
    ($w:ty, $n:literal, $k:literal, $m:literal) => {
        impl Passes<$m> for $w {
            fn block_input(
                s: &ConvSpec,
                tl: Tiles<$m>,
                x: &[f32],
                v: &mut [f32],
                p: &mut Vec<f32>,
            ) {
                multiversion! {
                    fn run(s: &ConvSpec, tl: Tiles<$m>, x: &[f32], v: &mut [f32], p: &mut Vec<f32>) {
                        transform_input::<$w, $n, $k, $m>(s, tl, x, v, p)
                    }
                }
                run(s, tl, x, v, p)
            }
            fn block_output(
                s: &ConvSpec,
                tl: Tiles<$m>,
                m: (&[f32], usize),
                bias: &[f32],
                ep: &Epilogue,
                y: &mut [f32],
                p: &mut Vec<f32>,
            ) {
                multiversion! {
                    fn run(
                        s: &ConvSpec,
                        tl: Tiles<$m>,
                        m: (&[f32], usize),
                        bias: &[f32],
                        ep: &Epilogue,
                        y: &mut [f32],
                        p: &mut Vec<f32>,
                    ) {
                        transform_output::<$w, $n, $k, $m>(s, tl, m, bias, ep, y, p)
                    }
                }
                run(s, tl, m, bias, ep, y, p)
            }
        }
    };
}
passes!(F2x3, 4, 3, 2);
passes!(F2x5, 6, 5, 2);
passes!(F4x3, 6, 3, 4);

/// [`GradPasses`] for the 2x2 tile `$w` of `$n x $n` values and `$k x $k` filters.
macro_rules! grad_passes {
    ($w:ty, $n:literal, $k:literal) => {
        impl GradPasses for $w {
            fn block_output_grad(
                s: &ConvSpec,
                tl: Tiles<2>,
                gy: (&[f32], usize),
                dm: &mut [f32],
                p: &mut Vec<f32>,
                gb: &mut [f32],
            ) {
                multiversion! {
                    fn run(
                        s: &ConvSpec,
                        tl: Tiles<2>,
                        gy: (&[f32], usize),
                        dm: &mut [f32],
                        p: &mut Vec<f32>,
                        gb: &mut [f32],
                    ) {
                        transform_output_grad::<$w, $n, $k>(s, tl, gy, dm, p, gb)
                    }
                }
                run(s, tl, gy, dm, p, gb)
            }
            fn block_input_grad(
                s: &ConvSpec,
                tl: Tiles<2>,
                dv: &[f32],
                gx: &mut [f32],
                p: &mut Vec<f32>,
            ) {
                multiversion! {
                    fn run(s: &ConvSpec, tl: Tiles<2>, dv: &[f32], gx: &mut [f32], p: &mut Vec<f32>) {
                        add_input_grad::<$w, $n, $k>(s, tl, dv, gx, p)
                    }
                }
                run(s, tl, dv, gx, p)
            }
        }
    };
}
grad_passes!(F2x3, 4, 3);
grad_passes!(F2x5, 6, 5);

/// `Aᵀ [(G g) ⊙ (Bᵀ d)]` in `f64` for a `kernel`-tap filter `g` and an input run `d` of
/// `kernel + 1` values: the two outputs of the 1-D transforms the layers use for training,
/// which equal the correlation `y_i = Σ_k d_{i+k} g_k`. `None` for a kernel without a tile.
#[cfg(test)]
fn correlate_1d(kernel: usize, d: &[f64], g: &[f64]) -> Option<[f64; 2]> {
    match kernel {
        3 => Some(correlate::<F2x3, 4, 3, 2>(d, g)),
        5 => Some(correlate::<F2x5, 6, 5, 2>(d, g)),
        _ => None,
    }
}

/// The same for F(4, 3), the tile of 3x3 inference: the four outputs of `Aᵀ [(G g) ⊙ (Bᵀ d)]`
/// for a 3-tap filter `g` and an input run `d` of 6 values.
#[cfg(test)]
fn correlate_1d_4x3(d: &[f64], g: &[f64]) -> [f64; 4] {
    correlate::<F4x3, 6, 3, 4>(d, g)
}

#[cfg(test)]
fn correlate<W: Minimal<N, K, M>, const N: usize, const K: usize, const M: usize>(
    d: &[f64],
    g: &[f64],
) -> [f64; M] {
    let (u, v) = (W::filter::<f64>(array(g)), W::input::<f64>(array(d)));
    W::output(std::array::from_fn(|i| u[i] * v[i]))
}

/// `⟨Bᵀ x, y⟩ - ⟨x, B y⟩`, `⟨G x, y⟩ - ⟨x, Gᵀ y⟩` and `⟨Aᵀ y, x⟩ - ⟨y, A x⟩` in `f64`
/// for vectors of `kernel + 1` values (the first `kernel`, or two, where a transform takes
/// fewer): all zero when each adjoint the backward pass uses is the transpose of its
/// forward transform. `None` for a kernel without a tile.
#[cfg(test)]
fn adjoint_gaps_1d(kernel: usize, x: &[f64], y: &[f64]) -> Option<[f64; 3]> {
    fn run<W: Adjoint<N, K>, const N: usize, const K: usize>(x: &[f64], y: &[f64]) -> [f64; 3] {
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
        let (xn, yn): ([f64; N], [f64; N]) = (array(x), array(y));
        let (x2, xk): ([f64; 2], [f64; K]) = (array(x), array(x));
        [
            dot(&W::input(xn), &yn) - dot(&xn, &W::input_adjoint(yn)),
            dot(&W::filter(xk), &yn) - dot(&xk, &W::filter_adjoint(yn)),
            dot(&W::output(yn), &x2) - dot(&yn, &W::output_adjoint(x2)),
        ]
    }
    match kernel {
        3 => Some(run::<F2x3, 4, 3>(x, y)),
        5 => Some(run::<F2x5, 6, 5>(x, y)),
        _ => None,
    }
}

/// The first `N` values of `s`.
#[cfg(test)]
fn array<const N: usize>(s: &[f64]) -> [f64; N] {
    std::array::from_fn(|i| s[i])
}

/// 2x2 tiles per block, roughly: big enough for efficient products, small enough for cache.
/// Blocks of 4x4 tiles take half as many (64), which hold about as many Winograd-domain
/// values (36 x 64 against 16 x 128 per channel): with 128, `gemm` repacked each block's
/// `V` for every chunk of output channels (only 64 channels of `M` fit in [`out_chunk`]'s
/// 2 MiB), and F(4x4, 3x3) ran 1.25 times slower on the `cifar` model's conv4 (384 -> 256
/// channels at 8x8, batch 64, one thread: 18.2 ms against 14.7; 32 tiles: 15.3 ms).
const BLOCK_TILES: usize = 128;

/// The tiling of one convolution's output into `M x M` tiles, and its blocks of whole images.
#[derive(Clone, Copy, Debug)]
struct Tiles<const M: usize> {
    /// Tiles down and across one output map.
    h: usize,
    w: usize,
    /// Images per block (the last block may have fewer).
    images: usize,
}

impl<const M: usize> Tiles<M> {
    fn of(s: &ConvSpec) -> Self {
        let (h, w) = (s.out_h.div_ceil(M), s.out_w.div_ceil(M));
        Self {
            h,
            w,
            images: (BLOCK_TILES * 2 / M / (h * w)).clamp(1, s.batch.max(1)),
        }
    }
    fn per_image(&self) -> usize {
        self.h * self.w
    }
    /// Tiles in a block of `images` images.
    fn nb(&self, images: usize) -> usize {
        images * self.per_image()
    }
    /// For every tile `j` of a block of `images` images, each image padded to `ph x pw`
    /// and all stacked, the offset of the tile's top-left value; then offsets 0 up to a
    /// whole number of [`LANES`].
    fn corners(&self, images: usize, (ph, pw): (usize, usize)) -> Vec<usize> {
        let mut at = Vec::with_capacity(self.nb(images) + LANES);
        for bi in 0..images {
            for th in 0..self.h {
                at.extend((0..self.w).map(|tw| bi * ph * pw + M * (th * pw + tw)));
            }
        }
        at.resize(at.len().next_multiple_of(LANES), 0);
        at
    }
}

/// What the forward pass keeps for the backward pass: the transformed filters, and, where
/// [`weight_grad_applies`], each block's transformed input as `[ξ][j][in]`.
pub struct Saved {
    u: Vec<f32>,
    v: Vec<Vec<f32>>,
}

/// `U = G g Gᵀ` for every (out, in) pair, as `[out][ξ][in]`.
fn transform_filters<W: Minimal<N, K, M>, const N: usize, const K: usize, const M: usize>(
    s: &ConvSpec,
    w: &[f32],
) -> Vec<f32> {
    let c_n = s.in_channels;
    let mut u = vec![0f32; s.out_channels * N * N * c_n];
    u.par_chunks_mut(N * N * c_n)
        .enumerate()
        .for_each(|(o, uo)| {
            for c in 0..c_n {
                let g = &w[(o * c_n + c) * K * K..][..K * K];
                // t = G g (n x k), then U = t Gᵀ (n x n).
                let t = W::filter(std::array::from_fn(|r| {
                    Row::<K>(std::array::from_fn(|q| g[r * K + q]))
                }));
                for (i, row) in t.into_iter().enumerate() {
                    for (j, val) in W::filter(row.0).into_iter().enumerate() {
                        uo[(N * i + j) * c_n + c] = val;
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

/// `V = Bᵀ d B` for every input channel and tile of a block's images `x`, as `[in][ξ][j]`,
/// [`LANES`] tiles at a time.
#[inline(always)]
fn transform_input<W: Minimal<N, K, M>, const N: usize, const K: usize, const M: usize>(
    s: &ConvSpec,
    tl: Tiles<M>,
    x: &[f32],
    v: &mut [f32],
    p: &mut Vec<f32>,
) {
    let (ph, pw) = (M * tl.h + K - 1, M * tl.w + K - 1);
    let (c_n, plane) = (s.in_channels, s.in_h * s.in_w);
    let images = x.len() / (c_n * plane);
    let nb = tl.nb(images);
    let at = tl.corners(images, (ph, pw));
    p.resize(images * ph * pw, 0.0);
    for (c, vc) in v.chunks_exact_mut(N * N * nb).enumerate() {
        for (bi, p) in p.chunks_exact_mut(ph * pw).enumerate() {
            let src = &x[(bi * c_n + c) * plane..][..plane];
            pad_plane(src, (s.in_h, s.in_w), s.pad, p, pw);
        }
        for (j0, at) in (0..nb)
            .step_by(LANES)
            .zip(at.chunks_exact(LANES).map(lanes))
        {
            let d: [[Row<LANES>; N]; N] = gather(p, &at, pw);
            // t = Bᵀ d (down each column), then V = t B (along each row).
            let t: [[Row<LANES>; N]; N] = std::array::from_fn(|q| W::input(col(&d, q)));
            for i in 0..N {
                for (k, val) in W::input(col(&t, i)).into_iter().enumerate() {
                    store(&mut vc[(N * i + k) * nb..][j0..nb], val);
                }
            }
        }
    }
}

/// `Y = Aᵀ M A` plus the bias, then the epilogue, into a block's NCHW output `y` (the parts
/// of tiles past the edge of a size not a multiple of `M` are dropped), [`LANES`] tiles at a
/// time.
#[inline(always)]
fn transform_output<W: Minimal<N, K, M>, const N: usize, const K: usize, const M: usize>(
    s: &ConvSpec,
    tl: Tiles<M>,
    (m, o0): (&[f32], usize),
    bias: &[f32],
    ep: &Epilogue,
    y: &mut [f32],
    p: &mut Vec<f32>,
) {
    let (o_n, plane) = (s.out_channels, s.out_len());
    let images = y.len() / (o_n * plane);
    let nb = tl.nb(images);
    let (ph, pw) = (M * tl.h, M * tl.w);
    let at = tl.corners(images, (ph, pw));
    p.resize(images * ph * pw, 0.0);
    for (o, mo) in (o0..).zip(m.chunks_exact(N * N * nb)) {
        for (j0, at) in (0..nb)
            .step_by(LANES)
            .zip(at.chunks_exact(LANES).map(lanes))
        {
            let q: [[Row<LANES>; N]; N] = load_tile(mo, nb, j0);
            // t = Aᵀ M (down each column), then Y = t A (along each row).
            let mut t = [[Row([0f32; LANES]); M]; N];
            for (k, tk) in t.iter_mut().enumerate() {
                *tk = W::output(col(&q, k));
            }
            for i in 0..M {
                let mut yi = W::output(col(&t, i));
                for v in &mut yi {
                    *v = finish(ep, o, bias[o], *v);
                }
                for (l, &a) in at.iter().enumerate().take(nb - j0) {
                    for (d, v) in p[a + i * pw..][..M].iter_mut().zip(&yi) {
                        *d = v.0[l];
                    }
                }
            }
        }
        for bi in 0..images {
            let dst = &mut y[(bi * o_n + o) * plane..][..plane];
            for (r, dst) in dst.chunks_exact_mut(s.out_w).enumerate() {
                dst.copy_from_slice(&p[(bi * ph + r) * pw..][..s.out_w]);
            }
        }
    }
}

/// Output channels per product and inverse transform, for `per_channel` values of `M`
/// each: about 2 MiB of `M` at a time (1 to 2 MiB ran fastest; all of a conv2 block's
/// 7 MiB at once ran F(2x2, 5x5) 1.3 times slower), rounded down to a multiple of the 64
/// rows of `gemm`'s widest kernel (of 16 below that), and at least 16 channels.
fn out_chunk(per_channel: usize) -> usize {
    let c = ((2 << 20) / (4 * per_channel)).max(16);
    let unit = if c >= 64 { 64 } else { 16 };
    c / unit * unit
}

/// Output channels per step of the backward pass, for `o_n` channels of `per_channel`
/// values of `dM` each: all of them up to 4 MiB of `dM`, else [`out_chunk`]'s share. Split
/// into 2 MiB pieces, the 7 MiB of the `article` model's conv2 (5x5, 256 outputs, one
/// 27x27 image a block) run its backward pass 1.3 times faster (60 against 77 ms at batch 32,
/// medians of 5 alternated runs); the 3x3 layers' 2-2.4 MiB ran 5-12% slower split than
/// whole, since every piece after the first adds its share onto `dV` again.
fn grad_chunk(o_n: usize, per_channel: usize) -> usize {
    if 4 * o_n * per_channel <= 4 << 20 {
        o_n
    } else {
        out_chunk(per_channel).min(o_n)
    }
}

/// Tiles a transform works on at once, one to a lane of its vectors.
const LANES: usize = 8;

/// The [`LANES`] values at the start of `s`, or as many as it has, then zeros.
#[inline(always)]
fn load(s: &[f32]) -> Row<LANES> {
    if let Some(s) = s.first_chunk::<LANES>() {
        return Row(*s);
    }
    let mut r = [0f32; LANES];
    r[..s.len()].copy_from_slice(s);
    Row(r)
}

/// Column `q` of `m`.
#[inline(always)]
fn col<T: Copy, const R: usize, const C: usize>(m: &[[T; C]; R], q: usize) -> [T; R] {
    let mut out = [m[0][q]; R];
    for (o, row) in out.iter_mut().zip(m) {
        *o = row[q];
    }
    out
}

/// The `R x C` patches at the offsets `at` of `p` (rows `pw` apart), one to a lane.
#[inline(always)]
fn gather<const R: usize, const C: usize>(
    p: &[f32],
    at: &[usize; LANES],
    pw: usize,
) -> [[Row<LANES>; C]; R] {
    let mut d = [[Row([0f32; LANES]); C]; R];
    for (l, &a) in at.iter().enumerate() {
        for (r, dr) in d.iter_mut().enumerate() {
            let src = &p[a + r * pw..][..C];
            for (dq, &v) in dr.iter_mut().zip(src) {
                dq.0[l] = v;
            }
        }
    }
    d
}

/// The `n x n` values `ξ` of the [`LANES`] tiles from `j0` of a `[ξ][j]` matrix of `nb`
/// tiles.
#[inline(always)]
fn load_tile<const N: usize>(m: &[f32], nb: usize, j0: usize) -> [[Row<LANES>; N]; N] {
    let mut q = [[Row([0f32; LANES]); N]; N];
    for (i, qi) in q.iter_mut().enumerate() {
        for (k, q) in qi.iter_mut().enumerate() {
            *q = load(&m[(N * i + k) * nb..][j0..nb]);
        }
    }
    q
}

/// The offsets of one step's tiles.
fn lanes(at: &[usize]) -> [usize; LANES] {
    std::array::from_fn(|l| at[l])
}

/// Stores `val` at the start of `dst`, as many lanes as fit.
#[inline(always)]
fn store(dst: &mut [f32], val: Row<LANES>) {
    if let Some(dst) = dst.first_chunk_mut::<LANES>() {
        *dst = val.0;
    } else {
        let n = dst.len();
        dst.copy_from_slice(&val.0[..n]);
    }
}

/// `v + bias`, then the epilogue of channel `o`, on every lane.
#[inline(always)]
fn finish(ep: &Epilogue, o: usize, bias: f32, v: Row<LANES>) -> Row<LANES> {
    let mut v = v.0;
    for v in &mut v {
        *v += bias;
    }
    match ep {
        Epilogue::Identity => {}
        Epilogue::Relu => v.iter_mut().for_each(|v| *v = v.max(0.0)),
        Epilogue::AffineRelu { a, c } => {
            let (a, c) = (a[o], c[o]);
            v.iter_mut().for_each(|v| *v = (*v * a + c).max(0.0));
        }
        Epilogue::ReluAffine { a, c } => {
            let (a, c) = (a[o], c[o]);
            v.iter_mut().for_each(|v| *v = v.max(0.0) * a + c);
        }
    }
    Row(v)
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
/// `keep` (training), what the backward pass needs. 3x3 filters take F(4x4, 3x3) for
/// inference and F(2x2, 3x3) for training (see the module's doc); 5x5 filters F(2x2, 5x5).
pub fn forward(
    s: &ConvSpec,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    epilogue: &Epilogue,
    keep: bool,
) -> (Vec<f32>, Option<Saved>) {
    debug_assert!(fits(s));
    match (s.kernel, keep) {
        (3, false) => forward_with::<F4x3, 6, 3, 4>(s, x, w, bias, epilogue, false),
        (3, true) => forward_with::<F2x3, 4, 3, 2>(s, x, w, bias, epilogue, true),
        _ => forward_with::<F2x5, 6, 5, 2>(s, x, w, bias, epilogue, keep),
    }
}

/// [`forward`] with the tile `W`; `keep` only for a tile with an [`Adjoint`] (`M == 2`).
fn forward_with<W, const N: usize, const K: usize, const M: usize>(
    s: &ConvSpec,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    epilogue: &Epilogue,
    keep: bool,
) -> (Vec<f32>, Option<Saved>)
where
    W: Minimal<N, K, M> + Passes<M>,
{
    debug_assert!(!keep || M == 2);
    let tl = Tiles::<M>::of(s);
    let nn = N * N;
    let (o_n, c_n) = (s.out_channels, s.in_channels);
    let (in_image, out_image) = (c_n * s.in_h * s.in_w, o_n * s.out_len());
    let u = transform_filters::<W, N, K, M>(s, w);
    let mut out = vec![0f32; s.batch * out_image];
    let v: Vec<Vec<f32>> = out
        .par_chunks_mut(tl.images * out_image)
        .zip(x.par_chunks(tl.images * in_image))
        .map_init(Scratch::default, |sc, (y, x)| {
            let nb = tl.nb(x.len() / in_image);
            let v = sized(&mut sc.a, nn * c_n * nb);
            W::block_input(s, tl, x, v, &mut sc.plane);
            // A few output channels at a time, so that their products stay in cache
            // for the inverse transform.
            let oc = out_chunk(nn * nb).min(o_n);
            let m = sized(&mut sc.b, nn * oc * nb);
            for o0 in (0..o_n).step_by(oc) {
                let oc = oc.min(o_n - o0);
                // M[ξ] (out x j) = U[ξ] (out x in) · V[ξ] (in x j)
                for xi in 0..nn {
                    matmul_with(
                        Parallelism::None,
                        (oc, nb, c_n),
                        &mut m[xi * nb..],
                        nn * nb,
                        false,
                        (&u[o0 * nn * c_n + xi * c_n..], nn * c_n, 1),
                        (&v[xi * nb..], nn * nb, 1),
                    );
                }
                let m = (&m[..nn * oc * nb], o0);
                W::block_output(s, tl, m, bias, epilogue, y, &mut sc.plane);
            }
            if keep && weight_grad_applies(s) {
                transpose_for_backward(v, nn, c_n, nb)
            } else {
                Vec::new()
            }
        })
        .collect();
    (out, keep.then_some(Saved { u, v }))
}

/// `V [in][ξ][j]` (`nn` positions `ξ`) to `[ξ][j][in]`.
fn transpose_for_backward(v: &[f32], nn: usize, c_n: usize, nb: usize) -> Vec<f32> {
    let mut vt = vec![0f32; v.len()];
    for (xi, dst) in vt.chunks_exact_mut(nb * c_n).enumerate() {
        for c0 in (0..c_n).step_by(16) {
            let cs = 16.min(c_n - c0);
            let rows: [&[f32]; 16] =
                std::array::from_fn(|k| &v[((c0 + k.min(cs - 1)) * nn + xi) * nb..][..nb]);
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
/// `[out][ξ][j]`, [`LANES`] tiles at a time; adds the sum of `gy` per channel to `gb`.
#[inline(always)]
fn transform_output_grad<W: Adjoint<N, K>, const N: usize, const K: usize>(
    s: &ConvSpec,
    tl: Tiles<2>,
    (gy, o0): (&[f32], usize),
    dm: &mut [f32],
    p: &mut Vec<f32>,
    gb: &mut [f32],
) {
    let (o_n, plane) = (s.out_channels, s.out_len());
    let images = gy.len() / (o_n * plane);
    let nb = tl.nb(images);
    let (ph, pw) = (2 * tl.h, 2 * tl.w);
    let at = tl.corners(images, (ph, pw));
    p.resize(images * ph * pw, 0.0);
    for (o, dmo) in (o0..).zip(dm.chunks_exact_mut(N * N * nb)) {
        for (bi, p) in p.chunks_exact_mut(ph * pw).enumerate() {
            let src = &gy[(bi * o_n + o) * plane..][..plane];
            gb[o] += src.iter().sum::<f32>();
            pad_plane(src, (s.out_h, s.out_w), 0, p, pw);
        }
        for (j0, at) in (0..nb)
            .step_by(LANES)
            .zip(at.chunks_exact(LANES).map(lanes))
        {
            let dy: [[Row<LANES>; 2]; 2] = gather(p, &at, pw);
            // t = A dY (down each column), then dM = t Aᵀ (along each row).
            let t: [[Row<LANES>; N]; 2] = std::array::from_fn(|q| W::output_adjoint(col(&dy, q)));
            for i in 0..N {
                for (k, val) in W::output_adjoint(col(&t, i)).into_iter().enumerate() {
                    store(&mut dmo[(N * i + k) * nb..][j0..nb], val);
                }
            }
        }
    }
}

/// Adds `Gᵀ dU G` (the adjoint of the filter transform) to the weight gradient.
fn add_filter_grad<W: Adjoint<N, K>, const N: usize, const K: usize>(
    s: &ConvSpec,
    du: &[f32],
    gw: &mut [f32],
) {
    let (o_n, c_n) = (s.out_channels, s.in_channels);
    gw.par_chunks_mut(c_n * K * K)
        .enumerate()
        .for_each(|(o, gwo)| {
            for c in 0..c_n {
                let q: [Row<N>; N] = std::array::from_fn(|i| {
                    Row(std::array::from_fn(|k| {
                        du[((N * i + k) * o_n + o) * c_n + c]
                    }))
                });
                // t = Gᵀ dU (k x n), then dg = t G (k x k).
                let g = &mut gwo[c * K * K..][..K * K];
                for (i, row) in W::filter_adjoint(q).into_iter().enumerate() {
                    for (k, val) in W::filter_adjoint(row.0).into_iter().enumerate() {
                        g[K * i + k] += val;
                    }
                }
            }
        });
}

/// Adds `B dV Bᵀ` (the adjoint of the input transform) of every tile of a block onto its
/// images' input gradient `gx`, one tile at a time with its rows as vectors. (Eight tiles
/// at a time, like the other passes, ran F(2x2, 3x3) training 5% slower: the scattered
/// additions onto `gx` then go one number at a time.)
#[inline(always)]
fn add_input_grad<W: Adjoint<N, K>, const N: usize, const K: usize>(
    s: &ConvSpec,
    tl: Tiles<2>,
    dv: &[f32],
    gx: &mut [f32],
    p: &mut Vec<f32>,
) {
    let (c_n, plane) = (s.in_channels, s.in_h * s.in_w);
    let nb = tl.nb(gx.len() / (c_n * plane));
    let (ph, pw) = (2 * tl.h + K - 1, 2 * tl.w + K - 1);
    p.resize(ph * pw, 0.0);
    for (bc, gxp) in gx.chunks_exact_mut(plane).enumerate() {
        let (bi, c) = (bc / c_n, bc % c_n);
        p.fill(0.0);
        let dvc = &dv[c * N * N * nb..][..N * N * nb];
        for th in 0..tl.h {
            let j0 = bi * tl.per_image() + th * tl.w;
            for tw in 0..tl.w {
                let mut q = [Row([0f32; N]); N];
                for (i, qi) in q.iter_mut().enumerate() {
                    for (k, v) in qi.0.iter_mut().enumerate() {
                        *v = dvc[(N * i + k) * nb + j0 + tw];
                    }
                }
                // t = B dV (rows), then dd = t Bᵀ (columns).
                for (i, row) in W::input_adjoint(q).into_iter().enumerate() {
                    let dst = &mut p[(2 * th + i) * pw + 2 * tw..][..N];
                    for (d, v) in dst.iter_mut().zip(W::input_adjoint(row.0)) {
                        *d += v;
                    }
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

/// Whether [`backward`] also computes the weight and bias gradients: for 3x3 filters. For
/// 5x5 filters it leaves them to im2col ([`super::conv::backward_weights`]): summed over a
/// batch of tiles in the Winograd domain, the weight gradient of F(2x2, 5x5) comes out
/// with relative errors near 1e-3 (against 1e-6 for the input gradient), too coarse for the
/// tests' tolerance of 1e-4 (`tests/layers.rs`).
pub fn weight_grad_applies(s: &ConvSpec) -> bool {
    fits(s) && s.kernel == 3
}

/// Adds the gradients of the convolution to `gx`, `gw` and `gb`, given the output's `gout`;
/// only to `gx` where not [`weight_grad_applies`].
pub fn backward(
    s: &ConvSpec,
    saved: &Saved,
    gout: &[f32],
    grads: (&mut [f32], &mut [f32], &mut [f32]),
) {
    match s.kernel {
        3 => backward_with::<F2x3, 4, 3>(s, saved, gout, grads),
        _ => backward_with::<F2x5, 6, 5>(s, saved, gout, grads),
    }
}

fn backward_with<W: Adjoint<N, K> + GradPasses, const N: usize, const K: usize>(
    s: &ConvSpec,
    saved: &Saved,
    gout: &[f32],
    (gx, gw, gb): (&mut [f32], &mut [f32], &mut [f32]),
) {
    if s.out_channels == 0 {
        return; // no outputs: every gradient is zero, nothing to add
    }
    let tl = Tiles::<2>::of(s);
    let nn = N * N;
    let (o_n, c_n) = (s.out_channels, s.in_channels);
    let (in_image, out_image) = (c_n * s.in_h * s.in_w, o_n * s.out_len());
    let weights = weight_grad_applies(s);
    let new_partial = || Partial {
        du: vec![0f32; if weights { nn * o_n * c_n } else { 0 }],
        gb: vec![0f32; o_n],
    };
    let blocks = s.batch.div_ceil(tl.images);
    let total = gx
        .par_chunks_mut(tl.images * in_image)
        .zip(gout.par_chunks(tl.images * out_image))
        .enumerate()
        .with_min_len(blocks.div_ceil(2 * rayon::current_num_threads()))
        .fold(
            || (new_partial(), Scratch::default()),
            |(mut acc, mut sc), (block, (gx, gy))| {
                let nb = tl.nb(gx.len() / in_image);
                let dv = sized(&mut sc.b, nn * c_n * nb);
                // A few output channels at a time where they are many (as in the forward
                // pass), so that their transformed gradient stays in cache for the products.
                let oc = grad_chunk(o_n, nn * nb);
                let dm = sized(&mut sc.a, nn * oc * nb);
                for o0 in (0..o_n).step_by(oc) {
                    let oc = oc.min(o_n - o0);
                    let dm = &mut dm[..nn * oc * nb];
                    W::block_output_grad(s, tl, (gy, o0), dm, &mut sc.plane, &mut acc.gb);
                    for xi in 0..nn {
                        let dmx = &dm[xi * nb..];
                        if weights {
                            // dU[ξ] (out x in) += dM[ξ] (out x j) · V[ξ]ᵀ (j x in)
                            matmul_with(
                                Parallelism::None,
                                (oc, c_n, nb),
                                &mut acc.du[xi * o_n * c_n + o0 * c_n..],
                                c_n,
                                true,
                                (dmx, nn * nb, 1),
                                (&saved.v[block][xi * nb * c_n..], c_n, 1),
                            );
                        }
                        // dV[ξ] (in x j) (+)= U[ξ]ᵀ (in x out) · dM[ξ] (out x j)
                        matmul_with(
                            Parallelism::None,
                            (c_n, nb, oc),
                            &mut dv[xi * nb..],
                            nn * nb,
                            o0 > 0,
                            (&saved.u[o0 * nn * c_n + xi * c_n..], 1, nn * c_n),
                            (dmx, nn * nb, 1),
                        );
                    }
                }
                let dv = &sc.b[..nn * c_n * nb];
                W::block_input_grad(s, tl, dv, gx, &mut sc.plane);
                (acc, sc)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(new_partial, |mut a, b| {
            a.du.iter_mut().zip(&b.du).for_each(|(x, y)| *x += y);
            a.gb.iter_mut().zip(&b.gb).for_each(|(x, y)| *x += y);
            a
        });
    if weights {
        add_filter_grad::<W, N, K>(s, &total.du, gw);
        for (g, d) in gb.iter_mut().zip(&total.gb) {
            *g += d;
        }
    }
}

/// The 1-D transforms of every tile in `f64`, against the correlation written as a loop.
#[cfg(test)]
mod tests {
    use super::{adjoint_gaps_1d, correlate_1d, correlate_1d_4x3};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// `y_i = Σ_k d_{i+k} g_k` for the first `M` outputs.
    fn correlate_direct<const M: usize>(d: &[f64], g: &[f64]) -> [f64; M] {
        std::array::from_fn(|i| g.iter().enumerate().map(|(k, gk)| d[i + k] * gk).sum())
    }

    fn unit(n: usize, i: usize) -> Vec<f64> {
        (0..n).map(|j| if j == i { 1.0 } else { 0.0 }).collect()
    }

    /// Every unit filter against every unit input (so all of them, by linearity), and
    /// random ones.
    fn cases(n: usize, k: usize, seed: u64) -> Vec<(Vec<f64>, Vec<f64>)> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut random = |len: usize| (0..len).map(|_| rng.gen_range(-10.0..10.0)).collect();
        let mut cases = Vec::new();
        for i in 0..n {
            for j in 0..k {
                cases.push((unit(n, i), unit(k, j)));
            }
        }
        for _ in 0..50 {
            cases.push((random(n), random(k)));
        }
        cases
    }

    fn assert_exact(what: &str, got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (got, want) in got.iter().zip(want) {
            assert!(
                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "{what}: got {got}, want {want}"
            );
        }
    }

    #[test]
    fn training_tiles_correlate_exactly_and_their_adjoints_are_transposes() {
        for k in [3, 5] {
            for (d, g) in cases(k + 1, k, k as u64) {
                let got = correlate_1d(k, &d, &g).unwrap();
                assert_exact(
                    &format!("F(2, {k}) {d:?} * {g:?}"),
                    &got,
                    &correlate_direct::<2>(&d, &g),
                );
            }
            for (x, y) in cases(k + 1, k + 1, 10 + k as u64) {
                let gaps = adjoint_gaps_1d(k, &x, &y).unwrap();
                assert!(
                    gaps.iter().all(|g| g.abs() < 1e-9),
                    "F(2, {k}) adjoint gaps {gaps:?}"
                );
            }
        }
        assert!(correlate_1d(7, &[0.0; 8], &[0.0; 7]).is_none());
        assert!(adjoint_gaps_1d(7, &[0.0; 8], &[0.0; 8]).is_none());
    }

    #[test]
    fn inference_tile_f43_correlates_exactly() {
        for (d, g) in cases(6, 3, 1) {
            let got = correlate_1d_4x3(&d, &g);
            assert_exact(
                &format!("F(4, 3) {d:?} * {g:?}"),
                &got,
                &correlate_direct::<4>(&d, &g),
            );
        }
    }
}
