//! The registry of values whose gradient nothing reads ([`NoInputGradient`]): a training
//! step's images, whose gradient the first convolution then skips.

use super::host::Host;
use dfdx::prelude::*;
use std::cell::RefCell;

/// Values whose gradient nothing reads ([`LabDevice::try_no_input_gradient`]) on this
/// thread: which guard registered them, where they start and how many, and their tensor,
/// held so that the memory cannot be freed and reused by another tensor meanwhile.
struct Unread {
    guard: u64,
    start: *const f32,
    len: usize,
    _keep: Box<dyn std::any::Any>,
}

thread_local! {
    static UNREAD: RefCell<Vec<Unread>> = const { RefCell::new(Vec::new()) };
}

/// While it lives, the device skips the gradient of the images it was made for
/// ([`LabDevice::try_no_input_gradient`]); dropping it removes that registration and no
/// other, in whatever order guards drop.
#[must_use = "the input's gradient is skipped only while the guard lives"]
pub struct NoInputGradient {
    /// The registration this guard owns (`None` on devices that compute the gradient).
    pub(super) guard: Option<u64>,
}

impl NoInputGradient {
    /// Registers the values `host` lends, which it keeps alive, on this thread.
    pub(super) fn register<S: Shape>(host: Host<S>) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let guard = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unread = Unread {
            guard,
            start: host.as_ptr(),
            len: host.len(),
            _keep: Box::new(host),
        };
        UNREAD.with(|u| u.borrow_mut().push(unread));
        NoInputGradient { guard: Some(guard) }
    }
}

impl Drop for NoInputGradient {
    fn drop(&mut self) {
        if let Some(guard) = self.guard {
            UNREAD.with(|u| u.borrow_mut().retain(|r| r.guard != guard));
        }
    }
}

impl std::fmt::Debug for NoInputGradient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoInputGradient")
    }
}

/// Whether `x` is the very data registered by [`LabDevice::try_no_input_gradient`] on this
/// thread (the same memory, so the same tensor or one sharing its data).
pub(super) fn gradient_unread(x: &[f32]) -> bool {
    UNREAD.with(|u| {
        u.borrow()
            .iter()
            .any(|u| std::ptr::eq(u.start, x.as_ptr()) && u.len == x.len())
    })
}
