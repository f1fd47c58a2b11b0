use alexnet_lab::prelude::*;
use std::time::Instant;
type Img<const C: usize, const S: usize> = Tensor<(usize, Const<C>, Const<S>, Const<S>), f32, Cpu>;
fn time<F: FnMut()>(name: &str, mut f: F) {
    f();
    let t = Instant::now();
    for _ in 0..5 {
        f();
    }
    println!(
        "{name:<40} {:8.1} ms",
        t.elapsed().as_secs_f64() * 1000.0 / 5.0
    );
}
fn main() {
    let dev = Cpu::seed_from_u64(0);
    let b = 64;
    let mut conv2 = dev.build_module::<builders::Conv2D<64, 192, 3, 1, 1, 16>, f32>();
    let mut bn2 = dev.build_module::<BatchNorm2D<192>, f32>();
    let x2: Img<64, 16> = dev.sample_normal_like(&(b, Const, Const, Const));
    let y2: Img<192, 16> = dev.sample_normal_like(&(b, Const, Const, Const));
    let mut g = conv2.alloc_grads();
    time("conv2 fwd (infer)", || {
        conv2.forward(x2.clone());
    });
    time("conv2 fwd+bwd", || {
        let y = conv2.forward_mut(x2.clone().traced(g.clone()));
        let _ = y.sum().backward();
    });
    let mut gb = bn2.alloc_grads();
    time("bn2 fwd+bwd (train)", || {
        let y = bn2.forward_mut(y2.clone().traced(gb.clone()));
        let _ = y.sum().backward();
    });
    time("relu fwd+bwd 3.1M", || {
        let y = y2.clone().traced(gb.clone()).relu();
        let _ = y.sum().backward();
    });
    time("maxpool fwd+bwd 3.1M", || {
        let y = MaxPool2D::<2, 2, 8>.forward(y2.clone().traced(gb.clone()));
        let _ = y.sum().backward();
    });
    let mut conv4 = dev.build_module::<builders::Conv2D<384, 256, 3, 1, 1, 8>, f32>();
    let x4: Img<384, 8> = dev.sample_normal_like(&(b, Const, Const, Const));
    let g4 = conv4.alloc_grads();
    time("conv4 fwd+bwd", || {
        let y = conv4.forward_mut(x4.clone().traced(g4.clone()));
        let _ = y.sum().backward();
    });
    let mut conv1 = dev.build_module::<builders::Conv2D<3, 64, 3, 1, 1, 32>, f32>();
    let x1: Img<3, 32> = dev.sample_normal_like(&(b, Const, Const, Const));
    let g1 = conv1.alloc_grads();
    time("conv1 fwd+bwd", || {
        let y = conv1.forward_mut(x1.clone().traced(g1.clone()));
        let _ = y.sum().backward();
    });
    let mut bn1 = dev.build_module::<BatchNorm2D<64>, f32>();
    let y1: Img<64, 32> = dev.sample_normal_like(&(b, Const, Const, Const));
    let gb1 = bn1.alloc_grads();
    time("bn1 fwd+bwd (train) 4.2M", || {
        let y = bn1.forward_mut(y1.clone().traced(gb1.clone()));
        let _ = y.sum().backward();
    });
    time("bn1 fwd (infer)", || {
        bn1.forward(y1.clone());
    });
    let mut fc = dev.build_module::<Linear<4096, 1024>, f32>();
    let xf: Tensor<(usize, Const<4096>), f32, _> = dev.sample_normal_like(&(b, Const));
    let gf = fc.alloc_grads();
    time("fc1 fwd+bwd", || {
        let y = fc.forward_mut(xf.clone().traced(gf.clone()));
        let _ = y.sum().backward();
    });
    let _ = &mut g;
}
