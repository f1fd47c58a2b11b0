//! The three models: their trainable parameter counts (the paper's layout, the `article`
//! model as Keras counts it) and layer tables, a batch of any size, the difference between
//! training and inference mode, learning a fixed batch, and a safetensors round trip.

use alexnet_lab::model::{Article, Cifar, Paper};
use alexnet_lab::prelude::*;
use alexnet_lab::reference;

#[test]
fn trainable_parameter_counts_match_the_written_numbers() {
    let dev = Cpu::default();
    // Krizhevsky et al. 2012: "60 million parameters"; the exact count of this layout.
    let paper = dev.build_module::<Paper, f32>();
    assert_eq!(paper.num_trainable_params(), 60_965_224);
    drop(paper);
    let article = dev.build_module::<Article, f32>();
    assert_eq!(article.num_trainable_params(), 58_325_066); // Keras: trainable params
    drop(article);
    let cifar = dev.build_module::<Cifar, f32>();
    assert_eq!(cifar.num_trainable_params(), 7_509_066);
}

#[test]
fn layer_tables_add_up_to_the_built_models() {
    for (name, want) in [
        (ModelName::Paper, 60_965_224),
        (ModelName::Article, 58_325_066),
        (ModelName::Cifar, 7_509_066),
    ] {
        let table = summary(name);
        assert_eq!(table.total_params(), want, "{name}");
        assert!(table.to_string().ends_with(&format!(
            "total params: {want} ({:.2} million)",
            want as f64 / 1e6
        )));
        assert!(table.to_html().starts_with("<table>"));
    }
    // The paper's table, row by row where the paper states the shape.
    let paper = summary(ModelName::Paper);
    let outputs: Vec<_> = paper
        .rows
        .iter()
        .filter(|r| r.layer.starts_with("Conv2D"))
        .map(|r| r.output.clone())
        .collect();
    assert_eq!(
        outputs,
        [
            vec![96, 55, 55],
            vec![256, 27, 27],
            vec![384, 13, 13],
            vec![384, 13, 13],
            vec![256, 13, 13]
        ]
    );
}

#[test]
fn the_ablation_variants_change_what_they_say_and_nothing_else() {
    use alexnet_lab::model::{CifarLrn, CifarNoDropout, CifarNoNorm, CifarTanh, LeNet5};
    let dev = Cpu::default();
    let cifar = 7_509_066;
    // Batch norm's scale and shift after each of the five convolutions.
    let bn = 2 * (64 + 192 + 384 + 256 + 256);
    let count = |n: usize, name: ModelName| {
        assert_eq!(summary(name).total_params(), n, "{name}'s table");
        n
    };
    let tanh = dev.build_module::<CifarTanh, f32>().num_trainable_params();
    let no_dropout = dev
        .build_module::<CifarNoDropout, f32>()
        .num_trainable_params();
    let lrn = dev.build_module::<CifarLrn, f32>().num_trainable_params();
    let no_norm = dev
        .build_module::<CifarNoNorm, f32>()
        .num_trainable_params();
    assert_eq!(count(tanh, ModelName::CifarTanh), cifar);
    assert_eq!(count(no_dropout, ModelName::CifarNoDropout), cifar);
    assert_eq!(count(lrn, ModelName::CifarLrn), cifar - bn);
    assert_eq!(count(no_norm, ModelName::CifarNoNorm), cifar - bn);
    // LeNet-5 on three channels, layer by layer: weights and biases.
    let lenet = (3 * 6 * 25 + 6)
        + (6 * 16 * 25 + 16)
        + (400 * 120 + 120)
        + (120 * 84 + 84)
        + (84 * 10 + 10);
    let built = dev.build_module::<LeNet5, f32>().num_trainable_params();
    assert_eq!(count(built, ModelName::LeNet5), lenet);
    assert_eq!(lenet, 62_006);
    // The layers each variant is made of, from its table.
    let layers = |name: ModelName, prefix: &str| {
        summary(name)
            .rows
            .iter()
            .filter(|r| r.layer.starts_with(prefix))
            .count()
    };
    assert_eq!(
        (
            layers(ModelName::CifarTanh, "Tanh"),
            layers(ModelName::CifarTanh, "ReLU")
        ),
        (7, 0)
    );
    assert_eq!(layers(ModelName::CifarNoDropout, "Dropout"), 0);
    assert_eq!(layers(ModelName::Cifar, "Dropout"), 2);
    assert_eq!(
        (
            layers(ModelName::CifarLrn, "LocalResponseNorm"),
            layers(ModelName::CifarLrn, "BatchNorm2D")
        ),
        (2, 0)
    );
    assert_eq!(layers(ModelName::CifarNoNorm, "BatchNorm2D"), 0);
    assert_eq!(
        ModelName::ALEXNETS,
        [ModelName::Paper, ModelName::Article, ModelName::Cifar]
    );
}

#[test]
fn model_names_parse_and_reject_typos() {
    assert_eq!("Cifar".parse::<ModelName>().unwrap(), ModelName::Cifar);
    assert_eq!("lenet5".parse::<ModelName>().unwrap(), ModelName::LeNet5);
    assert_eq!(
        "cifar-no-norm".parse::<ModelName>().unwrap(),
        ModelName::CifarNoNorm
    );
    let err = "alex".parse::<ModelName>().unwrap_err().to_string();
    assert!(err.contains("paper, article, cifar"), "{err}");
}

#[test]
fn cifar_inference_is_deterministic_and_training_mode_is_not() {
    let dev = Cpu::seed_from_u64(1);
    let mut model = dev.build_module::<Cifar, f32>();
    let x: Tensor<Rank4<4, 3, 32, 32>, f32, _> = dev.sample_normal();
    let a: Tensor<Rank2<4, 10>, f32, _> = model.forward(x.clone());
    let b = model.forward(x.clone());
    assert_eq!(a.as_vec(), b.as_vec(), "evaluation mode has no randomness");
    // Training mode: dropout draws new masks and batch norm uses the batch's statistics.
    let grads = model.alloc_grads();
    let c = model.forward_mut(x.clone().traced(grads));
    assert_ne!(a.as_vec(), c.retaped::<NoneTape>().as_vec());
}

#[test]
fn article_infers_each_image_of_a_runtime_sized_batch_as_it_would_alone() {
    // A batch whose size is known only at run time: inference treats its images
    // independently, so each row of the logits is what that image gives on its own.
    let dev = Cpu::seed_from_u64(3);
    let model = dev.build_module::<Article, f32>();
    let x: Tensor<Rank4<2, 3, 227, 227>, f32, _> = dev.sample_normal();
    let xv = x.as_vec();
    let batch = |images: &[f32]| -> Vec<f32> {
        let n = images.len() / (3 * 227 * 227);
        let x: Tensor<(usize, Const<3>, Const<227>, Const<227>), f32, _> =
            dev.tensor_from_vec(images.to_vec(), (n, Const, Const, Const));
        let y: Tensor<(usize, Const<10>), f32, _> = model.forward(x);
        assert_eq!(y.shape().0, n);
        y.as_vec()
    };
    let both = batch(&xv);
    let (first, second) = xv.split_at(xv.len() / 2);
    let alone = [batch(first), batch(second)].concat();
    assert!(both.iter().all(|v| v.is_finite()), "{both:?}");
    let diff = reference::max_abs_diff(&both, &reference::to64(&alone));
    let scale = alone.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    assert!(
        diff <= 1e-5 * scale,
        "{diff:e} of {scale:e}: {both:?} against {alone:?}"
    );
    // Two different images give different logits: the model reads its input.
    assert_ne!(both[..10], both[10..]);
}

#[test]
fn cifar_learns_a_fixed_batch() {
    // Eight images with fixed labels: a working forward, backward and update must drive the
    // loss down (SGD, lr 0.01, momentum 0.9, as the Keras reference).
    let dev = Cpu::seed_from_u64(2);
    let mut model = dev.build_module::<Cifar, f32>();
    let x: Tensor<Rank4<8, 3, 32, 32>, f32, _> = dev.sample_normal();
    let labels: [usize; 8] = [0, 1, 2, 3, 4, 5, 6, 7];
    let mut onehot = [[0.0f32; 10]; 8];
    for (row, &l) in onehot.iter_mut().zip(&labels) {
        row[l] = 1.0;
    }
    let y: Tensor<Rank2<8, 10>, f32, _> = dev.tensor(onehot);
    let mut opt = Sgd::new(
        &model,
        SgdConfig {
            lr: 0.01,
            momentum: Some(Momentum::Classic(0.9)),
            weight_decay: None,
        },
    );
    let mut grads = model.alloc_grads();
    let mut losses = vec![];
    for _ in 0..15 {
        let loss =
            cross_entropy_with_logits_loss(model.forward_mut(x.clone().traced(grads)), y.clone());
        losses.push(loss.array());
        grads = loss.backward();
        opt.update(&mut model, &grads).unwrap();
        model.zero_grads(&mut grads);
    }
    let first = losses[0];
    let last = *losses.last().unwrap();
    assert!(
        first > 1.5,
        "an untrained model is near ln(10) = 2.3, got {first}"
    );
    assert!(
        last < 0.5 * first,
        "loss should fall by half at least: {losses:?}"
    );
}

#[test]
fn safetensors_round_trip_keeps_every_parameter_and_running_statistic() {
    let dev = Cpu::seed_from_u64(4);
    let mut model = dev.build_module::<Cifar, f32>();
    // One training-mode pass so batch norm's running statistics leave their defaults.
    let x: Tensor<Rank4<2, 3, 32, 32>, f32, _> = dev.sample_normal();
    let grads = model.alloc_grads();
    let _ = model.forward_mut(x.clone().traced(grads));
    let dir = crate::reference::empty_dir("models-cifar");
    let path = dir.join("cifar.safetensors");
    model.save_safetensors(&path).unwrap();
    let mut loaded = dev.build_module::<Cifar, f32>(); // different random weights
    assert_ne!(
        loaded.forward(x.clone()).as_vec(),
        model.forward(x.clone()).as_vec()
    );
    loaded.load_safetensors(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        loaded.forward(x.clone()).as_vec(),
        model.forward(x).as_vec()
    );
}

#[test]
fn a_grouped_convolution_keeps_its_per_group_weight_layout_in_the_file() {
    // 4 input channels in 2 groups: each of the 6 filters sees 2 channels, and the file
    // stores the weight as [out, in / groups, k, k], the layout the plain loops read.
    let dev = Cpu::seed_from_u64(5);
    let conv = dev.build_module::<builders::Conv2D<4, 6, 5, 1, 2, 9, 2>, f32>();
    let dir = crate::reference::empty_dir("models-grouped");
    let path = dir.join("conv.safetensors");
    conv.save_safetensors(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // A safetensors file: an 8-byte little-endian header length, then the JSON header.
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    assert_eq!(
        header["weight"]["shape"],
        serde_json::json!([6, 2, 5, 5]),
        "{header}"
    );
    assert_eq!(header["bias"]["shape"], serde_json::json!([6]), "{header}");

    let mut loaded = dev.build_module::<builders::Conv2D<4, 6, 5, 1, 2, 9, 2>, f32>();
    loaded.load_safetensors(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let x: Tensor<Rank4<2, 4, 9, 9>, f32, _> = dev.sample_normal();
    let got = loaded.forward(x.clone()).as_vec();
    let s = reference::Conv {
        b: 2,
        c: 4,
        o: 6,
        k: 5,
        s: 1,
        p: 2,
        g: 2,
        h: 9,
        os: 9,
    };
    let want = reference::conv_forward(
        s,
        &reference::to64(&x.as_vec()),
        &reference::to64(&conv.weight.as_vec()),
        &reference::to64(&conv.bias.as_vec()),
    );
    reference::assert_close("grouped convolution from the file", &got, &want, 1e-5);
}
