//! Per-layer timing of the `cifar` model's heaviest layers at batch 64: where a training
//! step's time goes. `cargo run --release --example layer_times`

use alexnet_lab::prelude::*;
use std::time::Instant;

type Img<const C: usize, const S: usize> = Tensor<(usize, Const<C>, Const<S>, Const<S>), f32, Cpu>;
const B: usize = 64;

/// Mean milliseconds of `f` over 5 runs after one warm-up.
fn time(name: &str, mut f: impl FnMut()) {
    f();
    let t = Instant::now();
    for _ in 0..5 {
        f();
    }
    println!(
        "{name:<34} {:7.1} ms",
        t.elapsed().as_secs_f64() * 1000.0 / 5.0
    );
}

/// Forward in training mode and backward of a sum, for a module `m` and input `x`.
macro_rules! train_step {
    ($m:expr, $x:expr) => {{
        let grads = $m.alloc_grads();
        let (m, x) = (&mut $m, &$x);
        move || {
            let y = m.forward_mut(x.clone().traced(grads.clone()));
            let _ = y.sum().backward();
        }
    }};
}

fn main() {
    alexnet_lab::alloc::keep_freed_memory();
    let dev = Cpu::seed_from_u64(0);
    let x1: Img<3, 32> = dev.sample_normal_like(&(B, Const, Const, Const));
    let x2: Img<64, 16> = dev.sample_normal_like(&(B, Const, Const, Const));
    let x4: Img<384, 8> = dev.sample_normal_like(&(B, Const, Const, Const));
    let y1: Img<64, 32> = dev.sample_normal_like(&(B, Const, Const, Const));
    let xf: Tensor<(usize, Const<4096>), f32, _> = dev.sample_normal_like(&(B, Const));
    let mut conv1 = dev.build_module::<builders::Conv2D<3, 64, 3, 1, 1, 32>, f32>();
    let mut conv2 = dev.build_module::<builders::Conv2D<64, 192, 3, 1, 1, 16>, f32>();
    let mut conv4 = dev.build_module::<builders::Conv2D<384, 256, 3, 1, 1, 8>, f32>();
    let mut bn1 = dev.build_module::<BatchNorm2D<64>, f32>();
    let mut fc1 = dev.build_module::<Linear<4096, 1024>, f32>();
    time("conv2 forward (inference)", || {
        drop(conv2.forward(x2.clone()))
    });
    time("conv1 3->64 @32 train step", train_step!(conv1, x1));
    time("conv2 64->192 @16 train step", train_step!(conv2, x2));
    time("conv4 384->256 @8 train step", train_step!(conv4, x4));
    time("batch norm 64 @32 train step", train_step!(bn1, y1));
    time("batch norm 64 @32 inference", || {
        drop(bn1.forward(y1.clone()))
    });
    time("relu 64 @32 train step", || {
        let _ = y1.leaky_trace().relu().sum().backward();
    });
    time("max pool 64 @32 train step", || {
        let _ = MaxPool2D::<2, 2, 16>
            .forward(y1.leaky_trace())
            .sum()
            .backward();
    });
    time("linear 4096->1024 train step", train_step!(fc1, xf));
}
