//! A dense layer on the CPU: one `gemm` (AVX-512 where the processor has it) per product.

use super::matmul;

/// `y [batch, out] = x [batch, in] · wᵀ + b`, with `w [out, in]`.
pub fn forward(
    batch: usize,
    (i_n, o_n): (usize, usize),
    x: &[f32],
    w: &[f32],
    b: &[f32],
) -> Vec<f32> {
    let mut y: Vec<f32> = b.iter().copied().cycle().take(batch * o_n).collect();
    matmul(
        (batch, o_n, i_n),
        &mut y,
        o_n,
        true,
        (x, i_n, 1),
        (w, 1, i_n),
    );
    y
}

/// Adds the gradients of [`forward`] to `gx`, `gw` and `gb`, given the output's `gy`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    batch: usize,
    (i_n, o_n): (usize, usize),
    (x, w): (&[f32], &[f32]),
    gy: &[f32],
    (gx, gw, gb): (&mut [f32], &mut [f32], &mut [f32]),
) {
    // gx [batch, in] += gy [batch, out] · w [out, in]
    matmul((batch, i_n, o_n), gx, i_n, true, (gy, o_n, 1), (w, i_n, 1));
    // gw [out, in] += gyᵀ [out, batch] · x [batch, in]
    matmul((o_n, i_n, batch), gw, i_n, true, (gy, 1, o_n), (x, i_n, 1));
    for row in gy.chunks_exact(o_n) {
        gb.iter_mut().zip(row).for_each(|(g, v)| *g += v);
    }
}
