//! Runtime choice of instruction set for the memory-bound kernels.
//!
//! The crate is built for the baseline of its target (x86-64 without AVX, or ARM), so that
//! one binary runs everywhere. Loops the compiler can vectorise only with wider registers
//! and masked selects (pooling's picks, the batch-norm and Winograd passes) are compiled a
//! second time with AVX2 and FMA enabled, and [`multiversion!`] picks that copy when the
//! processor has them (`is_x86_feature_detected!` caches its answer). Elsewhere, and on
//! other architectures, the portable copy runs: the same source, so the same results.
//! Setting `ALEXNET_LAB_PORTABLE=1` in the environment forces the portable copies (to
//! compare the two).

use std::sync::OnceLock;

/// Whether this processor runs the AVX2 + FMA copies (and `ALEXNET_LAB_PORTABLE` is unset).
#[inline]
pub fn has_avx2() -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        let portable = std::env::var_os("ALEXNET_LAB_PORTABLE").is_some_and(|v| v != "0");
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        avx2 && !portable
    })
}

/// Defines `fn $name(args) -> ret` that runs `$body` compiled for AVX2 + FMA where the
/// processor has them, and compiled for the baseline target otherwise.
///
/// The function it defines is safe: it checks the processor (once, through [`has_avx2`])
/// before it calls the AVX2 copy, inside its one `unsafe` block, so callers write none.
/// `$body` itself is safe code (the macro compiles it as a safe function).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY (the contract of this `unsafe fn`): call it only where the
                // processor has AVX2 and FMA; `#[target_feature]` lets the compiler use
                // them here, and executing them elsewhere is undefined behaviour. It does
                // nothing else unsafe: `body` is a safe function.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::layers::cpu::simd::has_avx2() {
                    // SAFETY: `has_avx2` answered true, so `is_x86_feature_detected!`
                    // found AVX2 and FMA on this processor: the one requirement of `avx2`.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;
