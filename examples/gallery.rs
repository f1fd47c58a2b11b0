//! Renders every figure of the course on the synthetic set into a folder, to look at them:
//! `cargo run --release --example gallery -- /tmp/gallery`.

use alexnet_lab::data::synthetic;
use alexnet_lab::plot;
use alexnet_lab::prelude::*;
use alexnet_lab::train::{EpochStats, History};

fn main() -> alexnet_lab::Result<()> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "gallery".into()));
    std::fs::create_dir_all(&out).map_err(|e| alexnet_lab::Error::io(&out, e))?;
    let data = synthetic::generate(10, 2, 0);
    plot::image_grid(&data.train, &data.classes, 8)?.save(out.join("grid.png"))?;
    plot::image_channels(&data.train, 3, &data.classes)?.save(out.join("channels.png"))?;

    let dev = Cpu::seed_from_u64(0);
    let model = dev.build_module::<Cifar, f32>();
    let x: Tensor<Rank4<1, 3, 32, 32>, f32, _> = dev.tensor(
        data.train
            .image(0)
            .iter()
            .map(|&p| p as f32 / 255.0)
            .collect::<Vec<_>>(),
    );
    let maps = model.0.forward(x); // first block: conv, batch norm, ReLU, pool
    plot::feature_maps(&maps.as_vec(), (64, 16, 16), "feature maps after block 1")?
        .save(out.join("maps.png"))?;
    let w = model.0 .0 .0.weight.as_vec();
    plot::filters(&w, (64, 3, 3), "first-layer filters (untrained)")?
        .save(out.join("filters.png"))?;

    let epochs = (1..=8)
        .map(|e| {
            let t = e as f64;
            EpochStats {
                epoch: e,
                train_loss: 2.3 / t.sqrt(),
                train_acc: 1.0 - 0.9 / t.sqrt(),
                val_loss: 2.2 / t.powf(0.4),
                val_acc: 0.9 - 0.8 / t.sqrt(),
                seconds: 1.0,
                images_per_s: 1.0,
            }
        })
        .collect();
    plot::curves(&History { epochs })?.save(out.join("curves.png"))?;
    let confusion: Vec<Vec<usize>> = (0..10)
        .map(|i| {
            (0..10)
                .map(|j| if i == j { 80 } else { (i * 7 + j * 3) % 5 })
                .collect()
        })
        .collect();
    plot::confusion(&confusion, &data.classes)?.save(out.join("confusion.png"))?;
    let acc: Vec<f64> = (0..10).map(|i| 0.5 + 0.05 * i as f64).collect();
    plot::per_class_accuracy(&acc, &data.classes)?.save(out.join("per_class.png"))?;
    let normal: Tensor<Rank1<4000>, f32, _> = dev.sample_normal();
    let after = normal.as_vec();
    let before: Vec<f32> = after.iter().map(|v| 3.0 * v + 2.0).collect();
    plot::histogram(
        "Activations before and after batch norm",
        "activation",
        &[("before", &before), ("after", &after)],
        40,
    )?
    .save(out.join("histogram.png"))?;
    plot::function_plot(
        "ReLU",
        (-3.0, 3.0),
        &[("relu(x) = max(0, x)", &|x: f32| x.max(0.0))],
    )?
    .save(out.join("relu.png"))?;
    let logits = [2.0f32, 1.0, 0.1, -1.0];
    let exp: Vec<f32> = logits.iter().map(|v| v.exp()).collect();
    let probs: Vec<f32> = exp.iter().map(|v| v / exp.iter().sum::<f32>()).collect();
    let names: Vec<String> = data.classes[..4].to_vec();
    plot::bars(
        "softmax: probabilities that sum to 1",
        &names,
        &probs,
        "probability",
    )?
    .save(out.join("softmax.png"))?;
    println!("wrote the figures into {}", out.display());
    Ok(())
}
