//! The CPU's per-thread state, pinned down: which kernels run ([`CpuPath`]), which
//! images' gradient is skipped (`try_no_input_gradient`) and the generic path's element limit
//! (`any_device::set_element_limit`, a test's way to make it split batches) belong to the
//! thread that set them.
//! A training step runs on one thread from start to end (the kernels' own worker threads
//! read neither), so work moved to another thread starts from the defaults; these tests say
//! so where a reader would otherwise have to guess.

use alexnet_lab::layers::{builders, CpuPath, LabDevice};
use alexnet_lab::prelude::*;

type Cpu32<S> = Tensor<S, f32, Cpu>;

#[test]
fn a_cpu_path_set_on_one_thread_leaves_the_others_at_the_default() {
    let default = std::thread::spawn(CpuPath::current).join().unwrap();
    let other = match default {
        CpuPath::Native => CpuPath::Generic,
        CpuPath::Generic => CpuPath::Native,
    };
    other.run(|| {
        assert_eq!(
            CpuPath::current(),
            other,
            "this thread's path is the one set"
        );
        let seen = std::thread::spawn(CpuPath::current).join().unwrap();
        assert_eq!(
            seen, default,
            "a new thread starts from the default, not from this one's"
        );
    });
    assert_eq!(
        CpuPath::current(),
        default,
        "run restores the path it found"
    );
}

#[test]
fn an_unread_gradient_registered_on_one_thread_is_computed_on_another() {
    let dev = Cpu::seed_from_u64(3);
    let conv = dev.build_module::<builders::Conv2D<3, 4, 11, 4, 0, 3>, f32>();
    let x: Cpu32<Rank4<1, 3, 19, 19>> = dev.sample_normal();
    let input_gradient = |x: &Cpu32<Rank4<1, 3, 19, 19>>| {
        let y = conv.forward(x.trace(Gradients::leaky()));
        let mut g = y.sum().backward();
        g.get_or_alloc_mut(x).unwrap().to_vec()
    };
    // The native kernels on both threads: the generic path computes every gradient anyway.
    let native = |x: &Cpu32<Rank4<1, 3, 19, 19>>| CpuPath::Native.run(|| input_gradient(x));
    let guard = Cpu::try_no_input_gradient(&x).unwrap();
    let here = native(&x);
    assert!(
        here.iter().all(|&v| v == 0.0),
        "skipped on the thread that registered it"
    );
    let there = std::thread::scope(|s| s.spawn(|| native(&x)).join().unwrap());
    assert!(
        there.iter().any(|&v| v != 0.0) && there.iter().all(|v| v.is_finite()),
        "computed on another thread, which registered nothing"
    );
    drop(guard);
    assert_eq!(
        input_gradient(&x),
        there,
        "and the same as here once the guard is gone"
    );
}

#[test]
fn an_element_limit_lowered_on_one_thread_leaves_the_others_at_the_maximum() {
    use alexnet_lab::layers::any_device::{set_element_limit, MAX_ELEMENTS};
    let old = set_element_limit(700);
    let elsewhere = std::thread::spawn(|| set_element_limit(MAX_ELEMENTS))
        .join()
        .unwrap();
    let here = set_element_limit(old);
    assert_eq!(here, 700, "this thread keeps the limit it set");
    assert_eq!(
        elsewhere, MAX_ELEMENTS,
        "a new thread starts from the maximum, not from this one's"
    );
}
