//! Checking one computation against another: closeness, as the notebooks and tests check.

/// The largest `|got - want|` over all entries (infinite when the lengths differ, NaN when
/// any entry is NaN: `f64::max` would skip it).
///
/// ```
/// use alexnet_lab::reference::max_abs_diff;
/// assert_eq!(max_abs_diff(&[1.0, 2.5], &[1.0, 2.0]), 0.5);
/// assert!(max_abs_diff(&[f32::NAN, 2.0], &[1.0, 2.0]).is_nan());
/// ```
pub fn max_abs_diff(got: &[f32], want: &[f64]) -> f64 {
    if got.len() != want.len() {
        return f64::INFINITY;
    }
    got.iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs())
        .fold(0.0, |m, d| if d.is_nan() || d > m { d } else { m })
}

/// Asserts that `got` (what a layer computed, in `f32`) and `want` (the loops, in `f64`)
/// agree within `tol * (1 + |want|)` everywhere.
///
/// # Panics
/// When the lengths differ or an entry is off, naming `what`, the index and both values.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

/// `f32` values (what `tensor.as_vec()` gives) as `f64`.
pub fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}
