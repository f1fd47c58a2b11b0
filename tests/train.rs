//! Training: the optimizers against dfdx's, resume equals uninterrupted (also with the
//! paper's colour augmentation and initialisation), older run folders still resume,
//! refusals, a diverging loss, and a model that really learns.

use crate::reference::{adam_run, small_run, tmp_dir, whole_and_resumed};
use alexnet_lab::data::{synthetic, PcaLighting};
use alexnet_lab::model::{Cifar, CifarNoNorm};
use alexnet_lab::prelude::*;
use alexnet_lab::train::{self, checkpoint, fit, Init, Optimizer, OptimizerKind, TrainConfig};
use alexnet_lab::Error;
use dfdx::optim::Optimizer as _;

type Update<'a, M> = Box<dyn FnMut(&mut M, &Gradients<f32, Cpu>) + 'a>;

/// The small network the optimizer tests train.
type Net = (Linear<6, 5>, ReLU, Linear<5, 3>);
type NetOnCpu = <Net as BuildOnDevice<Cpu, f32>>::Built;

/// Every parameter of `net` by name: both layers' weights and biases.
fn params(net: &NetOnCpu) -> [(&'static str, Vec<f32>); 4] {
    [
        ("layer 1 weight", net.0.weight.as_vec()),
        ("layer 1 bias", net.0.bias.as_vec()),
        ("layer 2 weight", net.2.weight.as_vec()),
        ("layer 2 bias", net.2.bias.as_vec()),
    ]
}

/// Three updates of a small network with our optimizer and with dfdx's must agree.
fn compare_with_dfdx(kind: OptimizerKind) {
    let dev = Cpu::seed_from_u64(5);
    let mut ours = dev.build_module::<Net, f32>();
    let mut theirs = ours.clone();
    let mut opt = Optimizer::new(kind, 0.05, 0.9, 0.01);
    let wd = Some(WeightDecay::L2(0.01));
    let mut reference: Update<_> = match kind {
        OptimizerKind::Sgd => {
            let mut sgd = Sgd::new(
                &theirs,
                SgdConfig {
                    lr: 0.05,
                    momentum: Some(Momentum::Classic(0.9)),
                    weight_decay: wd,
                },
            );
            Box::new(move |m, g| sgd.update(m, g).unwrap())
        }
        OptimizerKind::Adam => {
            let mut adam = Adam::new(
                &theirs,
                AdamConfig {
                    lr: 0.05,
                    betas: [0.9, 0.999],
                    eps: 1e-8,
                    weight_decay: wd,
                },
            );
            Box::new(move |m, g| adam.update(m, g).unwrap())
        }
    };
    for step in 0..3 {
        let x: Tensor<Rank2<4, 6>, f32, _> = dev.sample_normal();
        let g1 = ours.forward(x.leaky_trace()).square().sum().backward();
        let g2 = theirs.forward(x.leaky_trace()).square().sum().backward();
        opt.step(&mut ours, &g1).unwrap();
        reference(&mut theirs, &g2);
        for (name, a, b) in params(&ours)
            .into_iter()
            .zip(params(&theirs))
            .map(|((n, a), (_, b))| (n, a, b))
        {
            assert_eq!(a.len(), b.len(), "{kind:?} step {step}: {name}");
            for (a, b) in a.iter().zip(&b) {
                // Written so that a NaN on either side fails.
                assert!(
                    (a - b).abs() < 1e-5,
                    "{kind:?} step {step}: {name}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn sgd_with_momentum_and_weight_decay_matches_dfdx() {
    compare_with_dfdx(OptimizerKind::Sgd);
}

#[test]
fn adam_matches_dfdx() {
    compare_with_dfdx(OptimizerKind::Adam);
}

/// `update` (borrowed gradients; SGD fused on the CPU) against `step` (copied gradients,
/// separate ops): the same weights and state to the bit, after fresh and restored state,
/// and when a run switches from one to the other.
fn update_equals_step(kind: OptimizerKind, weight_decay: f64) {
    let dev = Cpu::seed_from_u64(6);
    let start = dev.build_module::<Net, f32>();
    let batches: Vec<Tensor<Rank2<4, 6>, f32, _>> = (0..6).map(|_| dev.sample_normal()).collect();
    let run = |use_update: &dyn Fn(usize) -> bool| {
        let mut net = start.clone();
        let mut opt = Optimizer::new(kind, 0.05, 0.9, weight_decay);
        for (i, x) in batches.iter().enumerate() {
            let mut grads = net.forward(x.leaky_trace()).square().sum().backward();
            if i == 3 {
                // A checkpoint's round trip halfway: state to the host and back.
                let state = opt.state_to_host().unwrap();
                opt = Optimizer::new(kind, 0.05, 0.9, weight_decay);
                opt.set_state(state, 3);
            }
            if use_update(i) {
                opt.update(&mut net, &mut grads).unwrap();
            } else {
                opt.step(&mut net, &grads).unwrap();
            }
        }
        (params(&net), opt.state_to_host().unwrap())
    };
    let by_step = run(&|_| false);
    let by_update = run(&|_| true);
    let mixed = run(&|i| i % 2 == 0);
    // `assert_eq!` fails on a NaN anywhere (NaN != NaN).
    assert_eq!(by_update, by_step, "{kind:?}, weight decay {weight_decay}");
    assert_eq!(
        mixed, by_step,
        "{kind:?}, weight decay {weight_decay}, mixed"
    );
    for ((name, moved), (_, before)) in by_step.0.iter().zip(params(&start)) {
        assert_ne!(*moved, before, "{name} moved");
    }
}

#[test]
fn update_borrowing_the_gradients_equals_step_to_the_bit() {
    for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        for wd in [0.0, 0.01] {
            update_equals_step(kind, wd);
        }
    }
}

fn same_history(a: &train::History, b: &train::History) {
    assert_eq!(a.epochs.len(), b.epochs.len());
    for (x, y) in a.epochs.iter().zip(&b.epochs) {
        assert_eq!(
            (x.epoch, x.train_loss, x.train_acc, x.val_loss, x.val_acc),
            (y.epoch, y.train_loss, y.train_acc, y.val_loss, y.val_acc)
        );
    }
}

#[test]
fn a_resumed_run_ends_exactly_where_an_uninterrupted_one_does() {
    let (cfg, splits) = small_run(2);
    let (whole, parts) = (tmp_dir("train-whole"), tmp_dir("train-parts"));
    let ((model, h_whole), (resumed, h_parts)) = whole_and_resumed(&cfg, &splits, &whole, &parts);
    same_history(&h_whole, &h_parts);
    assert_eq!(
        model.0 .0 .0.weight.as_vec(),
        resumed.0 .0 .0.weight.as_vec()
    );
    assert_eq!(
        std::fs::read(whole.join(checkpoint::MODEL_FILE)).unwrap(),
        std::fs::read(parts.join(checkpoint::MODEL_FILE)).unwrap(),
        "identical weights and batch-norm statistics"
    );
    assert_eq!(
        std::fs::read(whole.join(checkpoint::OPTIMIZER_FILE)).unwrap(),
        std::fs::read(parts.join(checkpoint::OPTIMIZER_FILE)).unwrap()
    );
    std::fs::remove_dir_all(whole).unwrap();
    std::fs::remove_dir_all(parts).unwrap();
}

#[test]
fn a_run_with_the_papers_colour_shifts_and_initialisation_resumes_exactly() {
    let (cfg, splits) = small_run(2);
    let cfg = TrainConfig {
        pca_lighting: true,
        init: Init::Paper,
        ..cfg
    };
    let (whole, parts) = (tmp_dir("train-pca-whole"), tmp_dir("train-pca-parts"));
    let ((_, h_whole), (_, h_parts)) = whole_and_resumed(&cfg, &splits, &whole, &parts);
    same_history(&h_whole, &h_parts);
    for file in [checkpoint::MODEL_FILE, checkpoint::OPTIMIZER_FILE] {
        assert_eq!(
            std::fs::read(whole.join(file)).unwrap(),
            std::fs::read(parts.join(file)).unwrap(),
            "{file}"
        );
    }
    // The components were computed once from the training split and saved with the run.
    let state = checkpoint::read_state(&parts).unwrap();
    assert_eq!(
        state.lighting,
        Some(PcaLighting::from_images(&splits.train))
    );
    assert!(state.config.pca_lighting && state.config.init == Init::Paper);
    // The colour shifts changed what the network saw: without them, another first epoch.
    let plain = tmp_dir("train-pca-plain");
    let one = TrainConfig {
        num_epochs: 1,
        pca_lighting: false,
        ..cfg.clone()
    };
    let mut model = Cpu::seed_from_u64(cfg.seed).build_module::<Cifar, f32>();
    let h_plain = fit::<Cifar>(&mut model, &one, &splits, &plain, false).unwrap();
    assert!(checkpoint::read_state(&plain).unwrap().lighting.is_none());
    let (a, b) = (h_plain.epochs[0].train_loss, h_whole.epochs[0].train_loss);
    assert!(a.is_finite() && b.is_finite() && a != b, "{a} vs {b}");
    for dir in [whole, parts, plain] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn validation_batches_get_no_colour_shift() {
    // cifar-no-norm (no batch norm, whose running statistics the training batches would
    // move) with a learning rate of 0: the weights stay as built, so the validation loss
    // depends only on the validation images as the network sees them.
    let (cfg, splits) = small_run(1);
    let cfg = TrainConfig {
        model: ModelName::CifarNoNorm,
        lr: 0.0,
        ..cfg
    };
    let mut losses = Vec::new();
    for pca_lighting in [false, true] {
        let dir = tmp_dir(&format!("train-val-lighting-{pca_lighting}"));
        let mut model = Cpu::seed_from_u64(4).build_module::<CifarNoNorm, f32>();
        let cfg = TrainConfig {
            pca_lighting,
            ..cfg.clone()
        };
        let h = fit::<CifarNoNorm>(&mut model, &cfg, &splits, &dir, false).unwrap();
        let e = &h.epochs[0];
        losses.push((e.train_loss, e.val_loss));
        std::fs::remove_dir_all(dir).unwrap();
    }
    let [(train_plain, val_plain), (train_shifted, val_shifted)] = losses[..] else {
        unreachable!()
    };
    assert!(val_plain.is_finite() && train_plain.is_finite() && train_shifted.is_finite());
    assert_eq!(
        val_plain, val_shifted,
        "validation loss without and with the colour shifts"
    );
    // The shifts were on: the training batches differed.
    assert_ne!(train_plain, train_shifted);
    println!(
        "validation loss {val_plain} both ways; training loss {train_plain} vs {train_shifted}"
    );
}

#[test]
fn fit_starts_a_fresh_run_from_the_papers_initialisation() {
    // A learning rate of 0 leaves the weights where the initialisation put them.
    let (cfg, splits) = small_run(1);
    let cfg = TrainConfig {
        lr: 0.0,
        init: Init::Paper,
        ..cfg
    };
    let dir = tmp_dir("train-init");
    let mut model = Cpu::seed_from_u64(0).build_module::<Cifar, f32>();
    fit::<Cifar>(&mut model, &cfg, &splits, &dir, false).unwrap();
    assert_eq!(model.0 .0 .0.bias.as_vec(), vec![0.0; 64], "conv 1");
    assert_eq!(model.1 .0 .0.bias.as_vec(), vec![1.0; 192], "conv 2");
    assert_eq!(model.5 .1 .1.bias.as_vec(), vec![1.0; 1024], "dense 1");
    let w = model.5 .1 .1.weight.as_vec();
    let std = (w.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
    assert!((std - 0.01).abs() < 2e-4, "dense 1: {std}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_run_saved_before_the_papers_options_existed_still_resumes() {
    let (cfg, splits) = small_run(1);
    let dir = tmp_dir("train-old-state");
    let mut model = Cpu::seed_from_u64(0).build_module::<Cifar, f32>();
    fit::<Cifar>(&mut model, &cfg, &splits, &dir, false).unwrap();
    // The state file as it was written before: no lighting, no pca_lighting, no init.
    let path = dir.join(checkpoint::STATE_FILE);
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let state = json.as_object_mut().unwrap();
    assert!(state.remove("lighting").is_some());
    let config = state["config"].as_object_mut().unwrap();
    assert!(config.remove("pca_lighting").is_some() && config.remove("init").is_some());
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    let state = checkpoint::read_state(&dir).unwrap();
    assert_eq!(state.lighting, None);
    assert_eq!(
        state.config, cfg,
        "the missing settings read as off and default"
    );
    let more = TrainConfig {
        num_epochs: 2,
        ..cfg.clone()
    };
    let history = fit::<Cifar>(&mut model, &more, &splits, &dir, true).unwrap();
    assert_eq!(history.epochs.len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn checkpoints_of_another_model_or_damaged_ones_are_refused() {
    let (cfg, splits) = small_run(1);
    let dir = tmp_dir("train-refuse");
    let mut model = Cpu::seed_from_u64(0).build_module::<Cifar, f32>();
    fit::<Cifar>(&mut model, &cfg, &splits, &dir, false).unwrap();
    // A second fresh run into the same folder would overwrite it: refused.
    let err = fit::<Cifar>(&mut model, &cfg, &splits, &dir, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("resume it"), "{err}");
    // Another model's checkpoint.
    let err = checkpoint::load_model(&dir, ModelName::Article, &mut model)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("checkpoint of the `cifar` model, not `article`"),
        "{err}"
    );
    // A damaged weights file.
    let path = dir.join(checkpoint::MODEL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let mut more = cfg.clone();
    more.num_epochs = 2;
    let err = fit::<Cifar>(&mut model, &more, &splits, &dir, true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.safetensors") && err.contains("damaged"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_diverging_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let (cfg, splits) = small_run(1);
    let dir = tmp_dir("train-nan");
    let mut model = Cpu::seed_from_u64(0).build_module::<Cifar, f32>();
    fit::<Cifar>(&mut model, &cfg, &splits, &dir, false).unwrap();
    let good = std::fs::read(dir.join(checkpoint::MODEL_FILE)).unwrap();
    let wild = TrainConfig {
        num_epochs: 3,
        lr: 1e30,
        ..cfg.clone()
    };
    let err = fit::<Cifar>(&mut model, &wild, &splits, &dir, true).unwrap_err();
    assert!(matches!(err, Error::Diverged { epoch: 2, .. }), "{err}");
    assert!(err.to_string().contains("lower the learning rate"));
    assert_eq!(
        std::fs::read(dir.join(checkpoint::MODEL_FILE)).unwrap(),
        good,
        "the checkpoint of epoch 1 is untouched"
    );
    assert_eq!(checkpoint::read_state(&dir).unwrap().epochs_done, 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cifar_learns_the_synthetic_set() {
    // 900 training images, 4 epochs of Adam: a few minutes of CPU at most in release mode.
    // Threshold 50% test accuracy against 10% chance: with 200 test images, 100 right by
    // guessing has probability below 1e-40, so passing means the network learned shapes.
    let splits = synthetic::generate(100, 20, 7).split(100).unwrap();
    let dir = tmp_dir("train-learn");
    let (history, metrics) = adam_run(4, 32, &splits, &dir);
    assert!(history.epochs.last().unwrap().train_loss < history.epochs[0].train_loss);
    assert!(
        metrics.accuracy > 0.5,
        "test accuracy {} on 200 images",
        metrics.accuracy
    );
    std::fs::remove_dir_all(dir).unwrap();
}
