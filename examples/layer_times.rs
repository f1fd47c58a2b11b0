//! Per-layer timing of the `cifar` model at batch 64 and the `article` model at batch 32 (the
//! batch sizes of the README's comparison): where an inference pass and a training step spend
//! their time. `cargo run --release --example layer_times -- [cifar|article]` (both without
//! an argument). Its first line says when and where it ran; the README quotes
//! `assets/reports/layer-times.txt`, written by
//! `cargo run --release --example layer_times > assets/reports/layer-times.txt`.
//!
//! Each line is the median of 9 runs after 2 warm-ups: the layer's forward pass alone
//! (inference), and its forward pass with the tape plus the backward pass and the zeroing of
//! the gradients (training, as `Trainer::step` runs it, without the optimizer; the first
//! layer, as there, without the gradient of its input images).

use alexnet_lab::model::{ConvBnRelu, ConvReluBn};
use alexnet_lab::prelude::*;
use std::time::Instant;

mod provenance;

type Img<const C: usize, const S: usize> = Tensor<(usize, Const<C>, Const<S>, Const<S>), f32, Cpu>;

/// `b` images of `C` channels, `S` by `S`, drawn from a normal distribution.
fn random_images<const C: usize, const S: usize>(dev: &Cpu, b: usize) -> Img<C, S> {
    dev.sample_normal_like(&(b, Const, Const, Const))
}

/// Median milliseconds of `f` over 9 runs after two warm-ups.
fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    f();
    let mut t: Vec<f64> = (0..9)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[4]
}

/// Prints a layer's inference and training-step medians; returns them.
macro_rules! layer {
    ($name:expr, $m:expr, $x:expr) => {
        layer!(@time $name, $m, $x, false)
    };
    // The model's first layer, whose input's gradient the training step skips
    // (`LabDevice::try_no_input_gradient`).
    ($name:expr, $m:expr, $x:expr, images) => {
        layer!(@time $name, $m, $x, true)
    };
    (@time $name:expr, $m:expr, $x:expr, $images:expr) => {{
        // Built once (the expression builds a module, with its random initial weights).
        #[allow(unused_mut)]
        let mut m = $m;
        let infer = median_ms(|| drop(m.forward($x.clone())));
        // As the training step does: the gradients are allocated once, then lent to each
        // step and zeroed after it (cloning them would copy every weight's gradient).
        let mut grads = Some(m.alloc_grads());
        let train = median_ms(|| {
            let g = grads.take().expect("returned by the previous step");
            let x = $x.clone();
            let unread = $images.then(|| Cpu::try_no_input_gradient(&x).expect("registered"));
            let y = m.forward_mut(x.traced(g));
            drop(unread);
            let mut g = y.sum().backward();
            m.zero_grads(&mut g);
            grads = Some(g);
        });
        println!("{:<30} {:8.1} {:8.1}", $name, infer, train);
        (infer, train)
    }};
}

/// Sums the layers' medians as they are printed.
#[derive(Default)]
struct Total(f64, f64);

impl Total {
    fn add(&mut self, (i, t): (f64, f64)) {
        self.0 += i;
        self.1 += t;
    }
    fn print(&self) {
        println!("{:<30} {:8.1} {:8.1}", "sum of the layers", self.0, self.1);
    }
}

fn main() {
    alexnet_lab::memory::keep_freed_memory();
    let which = std::env::args().nth(1);
    let want = |m: &str| which.as_deref().map_or(true, |w| w == m);
    if !matches!(which.as_deref(), None | Some("cifar" | "article")) {
        eprintln!(
            "layer_times: unknown model {which:?}; give `cifar`, `article` or nothing (both)"
        );
        std::process::exit(2);
    }
    let isa = if std::is_x86_feature_detected!("avx512f") {
        "AVX-512"
    } else if std::is_x86_feature_detected!("avx2") {
        "AVX2 without AVX-512"
    } else {
        "neither AVX2 nor AVX-512"
    };
    println!(
        "# written by `cargo run --release --example layer_times` on {}, {}, {isa}; medians of 9 runs, milliseconds",
        provenance::now_utc(),
        provenance::machine()
    );
    if want("cifar") {
        cifar();
    }
    if want("article") {
        article();
    }
}

fn cifar() {
    const B: usize = 64;
    let dev = Cpu::seed_from_u64(0);
    let (x3, x64, x64h, x192, x192h, x384, x256) = (
        random_images::<3, 32>(&dev, B),
        random_images::<64, 32>(&dev, B),
        random_images::<64, 16>(&dev, B),
        random_images::<192, 16>(&dev, B),
        random_images::<192, 8>(&dev, B),
        random_images::<384, 8>(&dev, B),
        random_images::<256, 8>(&dev, B),
    );
    let f4096: Tensor<(usize, Const<4096>), f32, _> = dev.sample_normal_like(&(B, Const));
    let f1024: Tensor<(usize, Const<1024>), f32, _> = dev.sample_normal_like(&(B, Const));
    println!(
        "{:<30} {:>8} {:>8}",
        "cifar layer, batch 64 (ms)", "infer", "train"
    );
    let mut total = Total::default();
    let mut add = |r| total.add(r);
    add(layer!(
        "conv1 3->64 @32",
        dev.build_module::<builders::Conv2D<3, 64, 3, 1, 1, 32>, f32>(),
        x3,
        images
    ));
    add(layer!(
        "batch norm + relu 64 @32",
        dev.build_module::<(BatchNorm2D<64>, ReLU), f32>(),
        x64
    ));
    add(layer!("max pool 64 @32", MaxPool2D::<2, 2, 16>, x64));
    add(layer!(
        "conv2 64->192 @16",
        dev.build_module::<builders::Conv2D<64, 192, 3, 1, 1, 16>, f32>(),
        x64h
    ));
    add(layer!(
        "batch norm + relu 192 @16",
        dev.build_module::<(BatchNorm2D<192>, ReLU), f32>(),
        x192
    ));
    add(layer!("max pool 192 @16", MaxPool2D::<2, 2, 8>, x192));
    add(layer!(
        "conv3 192->384 @8",
        dev.build_module::<builders::Conv2D<192, 384, 3, 1, 1, 8>, f32>(),
        x192h
    ));
    add(layer!(
        "batch norm + relu 384 @8",
        dev.build_module::<(BatchNorm2D<384>, ReLU), f32>(),
        x384
    ));
    add(layer!(
        "conv4 384->256 @8",
        dev.build_module::<builders::Conv2D<384, 256, 3, 1, 1, 8>, f32>(),
        x384
    ));
    add(layer!(
        "batch norm + relu 256 @8",
        dev.build_module::<(BatchNorm2D<256>, ReLU), f32>(),
        x256
    ));
    add(layer!(
        "conv5 256->256 @8",
        dev.build_module::<builders::Conv2D<256, 256, 3, 1, 1, 8>, f32>(),
        x256
    ));
    add(layer!(
        "batch norm + relu 256 @8",
        dev.build_module::<(BatchNorm2D<256>, ReLU), f32>(),
        x256
    ));
    add(layer!("max pool 256 @8", MaxPool2D::<2, 2, 4>, x256));
    add(layer!(
        "dense 4096->1024 + relu",
        dev.build_module::<(Linear<4096, 1024>, ReLU), f32>(),
        f4096
    ));
    add(layer!(
        "dense 1024->1024 + relu",
        dev.build_module::<(Linear<1024, 1024>, ReLU), f32>(),
        f1024
    ));
    add(layer!(
        "dense 1024->10",
        dev.build_module::<Linear<1024, 10>, f32>(),
        f1024
    ));
    total.print();
    println!("the model's blocks (inference folds batch norm and ReLU into the convolution)");
    let mut blocks = Total::default();
    let mut add = |r| blocks.add(r);
    add(layer!(
        "conv1 + bn + relu 3->64 @32",
        dev.build_module::<ConvBnRelu<3, 64, 32>, f32>(),
        x3,
        images
    ));
    add(layer!(
        "conv2 + bn + relu 64->192 @16",
        dev.build_module::<ConvBnRelu<64, 192, 16>, f32>(),
        x64h
    ));
    add(layer!(
        "conv3 + bn + relu 192->384 @8",
        dev.build_module::<ConvBnRelu<192, 384, 8>, f32>(),
        x192h
    ));
    add(layer!(
        "conv4 + bn + relu 384->256 @8",
        dev.build_module::<ConvBnRelu<384, 256, 8>, f32>(),
        x384
    ));
    add(layer!(
        "conv5 + bn + relu 256->256 @8",
        dev.build_module::<ConvBnRelu<256, 256, 8>, f32>(),
        x256
    ));
    blocks.print();
    let model = dev.build_module::<Cifar, f32>();
    layer!("whole model (no optimizer)", model, x3);
}

fn article() {
    const B: usize = 32;
    let dev = Cpu::seed_from_u64(0);
    let (x3, x96, x96h, x256, x256h, x384, x256s) = (
        random_images::<3, 227>(&dev, B),
        random_images::<96, 55>(&dev, B),
        random_images::<96, 27>(&dev, B),
        random_images::<256, 27>(&dev, B),
        random_images::<256, 13>(&dev, B),
        random_images::<384, 13>(&dev, B),
        random_images::<256, 13>(&dev, B),
    );
    let f9216: Tensor<(usize, Const<9216>), f32, _> = dev.sample_normal_like(&(B, Const));
    let f4096: Tensor<(usize, Const<4096>), f32, _> = dev.sample_normal_like(&(B, Const));
    println!(
        "{:<30} {:>8} {:>8}",
        "article layer, batch 32 (ms)", "infer", "train"
    );
    let mut total = Total::default();
    let mut add = |r| total.add(r);
    add(layer!(
        "conv1 3->96 11x11/4 @55 + relu",
        dev.build_module::<(builders::Conv2D<3, 96, 11, 4, 0, 55>, ReLU), f32>(),
        x3,
        images
    ));
    add(layer!(
        "batch norm 96 @55",
        dev.build_module::<BatchNorm2D<96>, f32>(),
        x96
    ));
    add(layer!("max pool 3x3/2 96 @55", MaxPool2D::<3, 2, 27>, x96));
    add(layer!(
        "conv2 96->256 5x5 @27 + relu",
        dev.build_module::<(builders::Conv2D<96, 256, 5, 1, 2, 27>, ReLU), f32>(),
        x96h
    ));
    add(layer!(
        "batch norm 256 @27",
        dev.build_module::<BatchNorm2D<256>, f32>(),
        x256
    ));
    add(layer!(
        "max pool 3x3/2 256 @27",
        MaxPool2D::<3, 2, 13>,
        x256
    ));
    add(layer!(
        "conv3 256->384 @13 + relu",
        dev.build_module::<(builders::Conv2D<256, 384, 3, 1, 1, 13>, ReLU), f32>(),
        x256h
    ));
    add(layer!(
        "batch norm 384 @13",
        dev.build_module::<BatchNorm2D<384>, f32>(),
        x384
    ));
    add(layer!(
        "conv4 384->384 @13 + relu",
        dev.build_module::<(builders::Conv2D<384, 384, 3, 1, 1, 13>, ReLU), f32>(),
        x384
    ));
    add(layer!(
        "batch norm 384 @13",
        dev.build_module::<BatchNorm2D<384>, f32>(),
        x384
    ));
    add(layer!(
        "conv5 384->256 @13 + relu",
        dev.build_module::<(builders::Conv2D<384, 256, 3, 1, 1, 13>, ReLU), f32>(),
        x384
    ));
    add(layer!(
        "batch norm 256 @13",
        dev.build_module::<BatchNorm2D<256>, f32>(),
        x256s
    ));
    add(layer!(
        "max pool 3x3/2 256 @13",
        MaxPool2D::<3, 2, 6>,
        x256s
    ));
    add(layer!(
        "dense 9216->4096 + relu",
        dev.build_module::<(Linear<9216, 4096>, ReLU), f32>(),
        f9216
    ));
    add(layer!(
        "dense 4096->4096 + relu",
        dev.build_module::<(Linear<4096, 4096>, ReLU), f32>(),
        f4096
    ));
    add(layer!(
        "dense 4096->10",
        dev.build_module::<Linear<4096, 10>, f32>(),
        f4096
    ));
    total.print();
    println!("the model's blocks (inference folds ReLU and batch norm into the convolution)");
    let mut blocks = Total::default();
    let mut add = |r| blocks.add(r);
    add(layer!(
        "conv1 + relu + bn + pool",
        dev.build_module::<ConvReluBn<3, 96, 11, 4, 0, 55, MaxPool2D<3, 2, 27>>, f32>(),
        x3,
        images
    ));
    add(layer!(
        "conv2 + relu + bn + pool",
        dev.build_module::<ConvReluBn<96, 256, 5, 1, 2, 27, MaxPool2D<3, 2, 13>>, f32>(),
        x96h
    ));
    add(layer!(
        "conv3 + relu + bn",
        dev.build_module::<ConvReluBn<256, 384, 3, 1, 1, 13>, f32>(),
        x256h
    ));
    add(layer!(
        "conv4 + relu + bn",
        dev.build_module::<ConvReluBn<384, 384, 3, 1, 1, 13>, f32>(),
        x384
    ));
    add(layer!(
        "conv5 + relu + bn + pool",
        dev.build_module::<ConvReluBn<384, 256, 3, 1, 1, 13, MaxPool2D<3, 2, 6>>, f32>(),
        x384
    ));
    blocks.print();
    let model = dev.build_module::<Article, f32>();
    layer!("whole model (no optimizer)", model, x3);
}
