//! Borrowing a CPU tensor's values in place ([`Host`]): what the native kernels read.

use dfdx::prelude::*;

/// A CPU tensor's values in row-major order, borrowed in place: what the native kernels read.
///
/// dfdx 0.13 lends no slice of a tensor's data (its `as_vec` and `copy_into` copy, which
/// for `article`'s first dense layer is 151 MB per batch). A `Host` holds a row-major
/// tensor (made so by `try_contiguous`, which shares the data when it already is) and derefs
/// to its values: element `[0, .., 0]` is the first of them, found through dfdx's own
/// bounds-checked indexing, so nothing here depends on dfdx's private fields. Cloning a
/// `Host` shares the data, as cloning a tensor does; a backward pass keeps one instead of a
/// copy of the values.
#[derive(Clone, Debug)]
pub(super) struct Host<S: Shape>(pub(super) Tensor<S, f32, Cpu>);

impl<S: Shape> Host<S> {
    /// `t` in row-major order (a copy only when it is not already) and its tape.
    pub(super) fn split<T: Tape<f32, Cpu>>(
        t: Tensor<S, f32, Cpu, T>,
    ) -> Result<(Self, T), CpuError> {
        let (t, tape) = t.try_contiguous()?.split_tape();
        Ok((Host(t), tape))
    }

    /// A parameter's values.
    pub(super) fn of(t: &Tensor<S, f32, Cpu>) -> Result<Self, CpuError> {
        Ok(Self::split(t.clone())?.0)
    }
}

impl<S: Shape> std::ops::Deref for Host<S> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        let t = &self.0;
        let n = t.shape().num_elements();
        if n == 0 {
            return &[];
        }
        let mut last = t.shape().concrete();
        for i in 0..S::NUM_DIMS {
            last[i] -= 1;
        }
        let first: *const f32 = &t[S::Concrete::default()];
        let end: *const f32 = &t[last];
        // The two addresses compared as integers (`offset_from` would itself assume the
        // one allocation this checks): `[last]` lies exactly `n - 1` values after
        // `[0, .., 0]`, not before it. `n` values exist, so `(n - 1) * 4` cannot overflow.
        assert_eq!(
            (end as usize).checked_sub(first as usize),
            Some((n - 1) * std::mem::size_of::<f32>()),
            "contiguous data"
        );
        // SAFETY: the tensor is row-major (`Host::split` made it so), so its elements
        // `[0, .., 0]` and `[last]` are entries 0 and `n - 1` of one `Vec` (dfdx's indexing
        // checked both against its length, and the assertion above that `[last]` lies
        // exactly `n - 1` values after `[0, .., 0]`), and the `n` values from the first to
        // the last are the tensor's in order, all in that one allocation. The slice borrows
        // `self`, which holds the `Arc` that owns that `Vec`; dfdx writes to data only
        // through a unique `Arc` (`Arc::make_mut` copies shared data first), so nothing
        // changes the values while the slice lives. The pointer comes from a reference to
        // the first element and reads past it. Rust has not fixed its aliasing rules yet:
        // Tree Borrows, the newer of Miri's two models, allows that within the allocation;
        // Stacked Borrows does not. dfdx 0.13 offers no other way to read a tensor without
        // copying it.
        unsafe { std::slice::from_raw_parts(first, n) }
    }
}

/// A tensor without its tape, its tape, and its values in row-major order, borrowed.
#[allow(clippy::type_complexity)]
pub(super) fn split_values<S: Shape, T: Tape<f32, Cpu>>(
    t: Tensor<S, f32, Cpu, T>,
) -> Result<(Tensor<S, f32, Cpu>, T, Host<S>), CpuError> {
    let (host, tape) = Host::split(t)?;
    Ok((host.0.clone(), tape, host))
}
