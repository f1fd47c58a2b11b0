//! Keeping freed buffers for reuse. A training step allocates and frees the same large
//! buffers (activations, patch matrices, gradients) every time; glibc returns blocks over
//! its mmap threshold to the kernel, and the next step pays a page fault for every 4 KiB of
//! them again (about a tenth of a step, measured with `perf`). Raising the thresholds keeps
//! that memory in the process, for the rest of the process's life: a process-wide choice,
//! so the library makes it only where it is asked to. The `alexnet` tool calls it before
//! training, evaluating, predicting and benchmarking, and [`crate::bench::bench`] calls it
//! (its figures are for a process tuned this way); `fit` does not, so a notebook keeps
//! glibc's defaults unless it calls this itself. A no-op off Linux/glibc.

/// Makes large freed allocations reusable without page faults (Linux with glibc only).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::Once;
        static ONCE: Once = Once::new();
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator tuning values; it is safe to call at
            // any time, and these two values are documented in mallopt(3).
            unsafe {
                mallopt(M_MMAP_THRESHOLD, 1 << 30);
                mallopt(M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
}
