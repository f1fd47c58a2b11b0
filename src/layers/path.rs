//! Which kernels the CPU runs: its native ones, or the device-generic ones a GPU runs
//! ([`CpuPath`]), chosen per thread.

use std::cell::Cell;

/// Which kernels the CPU runs on the current thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuPath {
    /// The fast native kernels of [`super::cpu`] (the default).
    Native,
    /// The device-generic ops of [`super::any_device`], the ones CUDA runs, with dfdx's CUDA
    /// preconditions checked on every product ([`any_device::check_operand`]).
    Generic,
}

/// The environment variable that sets the CPU's default path: `generic` or `native`.
pub const CPU_PATH_VAR: &str = "ALEXNET_LAB_CPU_PATH";

thread_local! {
    static CPU_PATH: Cell<CpuPath> = Cell::new(match std::env::var(CPU_PATH_VAR) {
        Ok(v) if v.eq_ignore_ascii_case("generic") => CpuPath::Generic,
        _ => CpuPath::Native,
    });
}

impl CpuPath {
    /// The path the CPU takes on this thread: `$ALEXNET_LAB_CPU_PATH` (`generic` or
    /// `native`), else native, unless [`CpuPath::set`] changed it.
    pub fn current() -> CpuPath {
        CPU_PATH.with(Cell::get)
    }

    /// Sends this thread's CPU layers down `self` from now on; returns the previous path.
    /// The path is read when a layer runs forward; its backward pass follows that choice.
    pub fn set(self) -> CpuPath {
        CPU_PATH.with(|p| p.replace(self))
    }

    /// Runs `f` with this thread's CPU on `self`, then restores the previous path.
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(CpuPath);
        impl Drop for Restore {
            fn drop(&mut self) {
                self.0.set();
            }
        }
        let _restore = Restore(self.set());
        f()
    }
}

pub(super) fn generic_on_cpu() -> bool {
    CpuPath::current() == CpuPath::Generic
}
