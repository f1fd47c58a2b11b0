//! The fast CPU path: matrix products by `gemm` (AVX-512 where the processor has it) inside
//! each layer's own split of the work across cores (images, blocks of tiles, blocks of
//! weights), and rayon over channels for the memory-bound parts.
//!
//! These are plain functions on slices; `super::device` wires them into dfdx's tape.

pub mod bn;
pub mod conv;
pub mod dense;
pub mod lrn;
pub mod pool;
pub mod simd;
pub mod winograd;

/// `dst[m x n] (+)= a[m x k] * b[k x n]` with explicit row/column strides for `a` and `b`
/// (so transposes are free) and a row-major `dst` with row stride `dst_rs`.
///
/// # Panics
/// If a stride walks out of a slice, or `dst`'s rows overlap (`dst_rs < n` with more than
/// one row); both checked before the unsafe call.
///
/// `parallelism`: `Parallelism::None` for products that run side by side on rayon's
/// threads (the layers split their work by images or weight blocks; on these sizes that is
/// faster than `gemm`'s own threading).
pub(crate) fn matmul_with(
    parallelism: gemm::Parallelism,
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    (a, a_rs, a_cs): (&[f32], usize, usize),
    (b, b_rs, b_cs): (&[f32], usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    // Rows of `dst` one after another, none overlapping the next: `gemm` writes them as
    // separate rows (and from separate threads under `Parallelism::Rayon`).
    assert!(m == 1 || dst_rs >= n, "matmul: dst rows overlap");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    // The last index each operand touches, `None` if computing it overflows.
    let end = |r: usize, rs: usize, c: usize, cs: usize| {
        r.checked_mul(rs)?.checked_add(c.checked_mul(cs)?)
    };
    assert!(
        end(m - 1, dst_rs, n, 1).is_some_and(|e| e <= dst.len()),
        "matmul: dst too small"
    );
    assert!(
        end(m - 1, a_rs, k - 1, a_cs).is_some_and(|e| e < a.len()),
        "matmul: lhs too small"
    );
    assert!(
        end(k - 1, b_rs, n - 1, b_cs).is_some_and(|e| e < b.len()),
        "matmul: rhs too small"
    );
    // SAFETY: every index the product touches was bounds-checked above (`dst`'s last
    // element is `(m - 1) * dst_rs + n - 1`, the operands' `(r - 1) * rs + (c - 1) * cs`),
    // `dst`'s rows do not overlap (checked above), so no element of it is written twice at
    // once; the three slices cannot alias (`dst` is `&mut`), and f32 is a type gemm supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::matmul_with;
    use gemm::Parallelism;

    #[test]
    fn product_with_padded_rows() {
        // [1 2; 3 4] * [1 0; 0 1] into rows of stride 3.
        let mut dst = [9.0; 5];
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [1.0, 0.0, 0.0, 1.0];
        matmul_with(
            Parallelism::None,
            (2, 2, 2),
            &mut dst,
            3,
            false,
            (&a, 2, 1),
            (&b, 2, 1),
        );
        assert_eq!(dst, [1.0, 2.0, 9.0, 3.0, 4.0]);
    }

    #[test]
    #[should_panic(expected = "matmul: dst rows overlap")]
    fn overlapping_dst_rows_are_refused() {
        let mut dst = [0.0; 4];
        let a = [1.0; 4];
        let b = [1.0; 4];
        matmul_with(
            Parallelism::None,
            (2, 2, 2),
            &mut dst,
            1,
            false,
            (&a, 2, 1),
            (&b, 2, 1),
        );
    }
}
