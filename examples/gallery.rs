//! Regenerates the course figures the README shows, from a `cifar` network trained briefly
//! on the best data in the data folder (CIFAR-10, else Fashion-MNIST, else the synthetic set;
//! 150 training and 30 test images of each class): `make figures`, or
//! `cargo run --release --example gallery -- [OUT_DIR]` (default `assets/figures`). It also
//! writes `gallery.txt` there: when, on what machine, from which data, and the accuracy.

use alexnet_lab::data::{
    data_dir, load_or_synthetic, one_hot, BatchConfig, Batches, Images, Normalization,
};
use alexnet_lab::plot;
use alexnet_lab::prelude::*;
use alexnet_lab::train::{EpochStats, History};
use alexnet_lab::{Error, Result};

use std::time::Instant;

mod provenance;
use provenance::{machine, now_utc};

type Model = <Cifar as BuildOnDevice<Cpu, f32>>::Built;
const EPOCHS: usize = 4;

fn main() -> Result<()> {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "assets/figures".into()),
    );
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    let data = load_or_synthetic(&data_dir(None), 150, 0)?;
    println!("training on {}", data.source);
    let norm = Normalization::from_images(&data.train);
    let dev = Cpu::seed_from_u64(0);
    let save = |fig: plot::Figure, name: &str| fig.save(out.join(name));

    save(
        plot::augmentations(data.train.image(0), 4, 7, 1)?,
        "augmentations.png",
    )?;
    let (model, history) = train(&data.train, &data.test, norm, &dev)?;
    save(plot::curves(&history)?, "curves.png")?;

    let x = images_tensor(&data.test.slice(0..1), norm, &dev);
    let block1 = model.0.forward(x.clone()); // [1, 64, 16, 16]
    let title = "after conv, batch norm, ReLU and 2x2 max pooling: 64 maps of 16x16";
    save(
        plot::image_and_maps(data.test.image(0), &block1.as_vec(), (64, 16, 16), title)?,
        "feature-maps.png",
    )?;

    let (guesses, features) = guesses_and_features(&model, &data.test, norm, &dev);
    save(
        plot::mistakes(&data.test, &guesses, &data.classes, 4)?,
        "mistakes.png",
    )?;
    save(
        plot::neighbours(&data.test, &features, 1024, &[0, 1, 2, 3], 6, &data.classes)?,
        "neighbours.png",
    )?;

    let mut pixels = vec![0f32; 3072];
    norm.apply(data.test.image(0), &mut pixels);
    let truth = data.test.labels[0] as usize;
    let (map, side) = plot::occlusion_map(&pixels, (8, 2, 0.0), |covered| {
        let x: Tensor<Rank4<1, 3, 32, 32>, f32, _> = dev.tensor(covered.to_vec());
        model.forward(x).softmax::<Axis<1>>().as_vec()[truth]
    })?;
    let title = format!(
        "covering an 8x8 square: the drop in P({})",
        data.classes[truth]
    );
    save(
        plot::occlusion(data.test.image(0), &map, side, &title)?,
        "occlusion.png",
    )?;
    let note = format!(
        "Figures written by `make figures` on {} on {}, from a cifar network trained for {EPOCHS} \
         epochs on {} images of {} (the first 150 of each class); test accuracy {:.1}% on {} \
         test images.\n",
        now_utc(),
        machine(),
        data.train.len(),
        data.source.kind(),
        100.0 * history.epochs.last().map_or(0.0, |e| e.val_acc),
        data.test.len()
    );
    let path = out.join("gallery.txt");
    std::fs::write(&path, &note).map_err(|e| Error::io(&path, e))?;
    print!("{note}");
    println!("wrote the figures into {}", out.display());
    Ok(())
}

/// Every image of `images`, normalised, as one batch.
fn images_tensor(
    images: &Images,
    norm: Normalization,
    dev: &Cpu,
) -> Tensor<(usize, Const<3>, Const<32>, Const<32>), f32, Cpu> {
    let mut pixels = vec![0f32; images.len() * 3072];
    for (i, chunk) in pixels.chunks_mut(3072).enumerate() {
        norm.apply(images.image(i), chunk);
    }
    dev.tensor_from_vec(pixels, (images.len(), Const, Const, Const))
}

/// A few epochs of Adam on the training images; the test images stand in for validation.
fn train(
    train: &Images,
    test: &Images,
    norm: Normalization,
    dev: &Cpu,
) -> Result<(Model, History)> {
    let mut model = dev.build_module::<Cifar, f32>();
    let mut opt = Adam::new(&model, AdamConfig::default());
    let mut history = History { epochs: Vec::new() };
    for epoch in 1..=EPOCHS {
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0, 0);
        let cfg = BatchConfig::train(32, false, epoch as u64);
        for batch in Batches::<32, _>::new(train, norm, cfg, dev.clone()) {
            let n = batch.labels.len();
            let grads = model.alloc_grads();
            let logits = model.forward_mut(batch.images.traced(grads));
            let guesses = alexnet_lab::train::argmax_rows(&logits.as_vec(), 10);
            correct += guesses
                .iter()
                .zip(&batch.labels)
                .filter(|(g, l)| g == l)
                .count();
            let loss =
                cross_entropy_with_logits_loss(logits, one_hot::<10, _>(&batch.labels, dev)?);
            loss_sum += loss.array() as f64 * n as f64;
            seen += n;
            let grads = loss.backward();
            opt.update(&mut model, &grads)
                .map_err(|e| Error::Device(format!("{e:?}")))?;
        }
        let (val_loss, val_acc) = evaluate(&model, test, norm, dev);
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / seen as f64,
            train_acc: correct as f64 / seen as f64,
            val_loss,
            val_acc,
            seconds: start.elapsed().as_secs_f64(),
            images_per_s: seen as f64 / start.elapsed().as_secs_f64(),
        };
        println!(
            "epoch {epoch}: train loss {:.3}, test accuracy {:.1}%",
            stats.train_loss,
            100.0 * val_acc
        );
        history.epochs.push(stats);
    }
    Ok((model, history))
}

/// Loss and accuracy on `images` in evaluation mode.
fn evaluate(model: &Model, images: &Images, norm: Normalization, dev: &Cpu) -> (f64, f64) {
    let logits = model.forward(images_tensor(images, norm, dev)).as_vec();
    let labels: Vec<usize> = images.labels.iter().map(|&l| l as usize).collect();
    let (loss, correct) = alexnet_lab::train::loss_and_correct(&logits, &labels, 10);
    (loss, correct as f64 / images.len() as f64)
}

/// The network's guess for every image, and its last hidden layer (1024 values per image).
fn guesses_and_features(
    model: &Model,
    images: &Images,
    norm: Normalization,
    dev: &Cpu,
) -> (Vec<usize>, Vec<f32>) {
    let x = images_tensor(images, norm, dev);
    let maps = model.4.forward(
        model
            .3
            .forward(model.2.forward(model.1.forward(model.0.forward(x)))),
    );
    let head = &model.5;
    let hidden = head.2.forward(head.1.forward(head.0.forward(maps))); // [n, 1024]
    let logits = head.3.forward(hidden.clone());
    let guesses = alexnet_lab::train::argmax_rows(&logits.as_vec(), 10);
    (guesses, hidden.as_vec())
}
