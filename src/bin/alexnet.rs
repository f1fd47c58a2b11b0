//! `alexnet`: the course's headless tool. Thin: parses, calls the library, reports.

use alexnet_lab::bench::bench;
use alexnet_lab::data::{self, download, synthetic};
use alexnet_lab::model::{summary, ModelName};
use alexnet_lab::plot;
use alexnet_lab::train::{self, OptimizerKind, Schedule, TrainConfig};
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
    /// Get CIFAR-10, or write the synthetic set.
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
        /// Also write metrics.json here
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Classify PNG or JPEG images of any size: the top 3 classes with probabilities.
    Predict {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Print a model's layer table: layer, output shape, parameters; ends "total params: N".
    Summary {
        /// paper | article | cifar
        #[arg(long, value_parser = parse_model)]
        model: ModelName,
    },
    /// Time full training steps (forward, backward, SGD update) and inference, after warm-up.
    Bench {
        /// cifar | article | paper
        #[arg(long, value_parser = parse_model)]
        model: ModelName,
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
        batch_size: u32,
        /// Timed steps (the median is reported)
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100000))]
        steps: u32,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Fetch, verify (MD5) and unpack CIFAR-10; nothing is fetched if a valid copy is there.
    Download {
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
        DataCommand::Download { data_dir } => {
            let dir = data::data_dir(data_dir.as_deref());
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let result = download::download(&dir, &mut |done, total| {
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(done);
            });
            bar.finish_and_clear();
            match result? {
                download::Fetched::AlreadyThere(p) => {
                    println!("CIFAR-10 is already in {}: nothing fetched", p.display())
                }
                download::Fetched::Unpacked(p) => {
                    println!("CIFAR-10 verified and unpacked into {}", p.display())
                }
            }
        }
        DataCommand::Synth {
            out,
            per_class,
            seed,
        } => {
            let per_class = per_class as usize;
            let set = synthetic::generate(per_class, (per_class / 5).max(1), seed);
            let folder = set.write(&out)?;
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
    /// Where CIFAR-10 lives [default: $ALEXNET_LAB_DATA, else data/ in the repo]
    #[arg(long, conflicts_with = "dataset")]
    data_dir: Option<PathBuf>,
    /// `synthetic` to use the procedurally drawn set instead of CIFAR-10
    #[arg(long, value_parser = ["synthetic"])]
    dataset: Option<String>,
    /// Synthetic set size: training images per class (test: a fifth)
    #[arg(long, default_value_t = synthetic::DEFAULT_PER_CLASS as u32, value_parser = clap::value_parser!(u32).range(1..=100000))]
    per_class: u32,
}

impl DataArgs {
    /// CIFAR-10 from the data folder, or the synthetic set when asked for or when CIFAR-10
    /// is not there (said out loud).
    fn load(&self, seed: u64) -> anyhow::Result<data::Cifar10> {
        let per_class = self.per_class as usize;
        if self.dataset.is_some() {
            return Ok(synthetic::generate(per_class, (per_class / 5).max(1), seed));
        }
        let dir = data::data_dir(self.data_dir.as_deref());
        let set = data::load_or_synthetic(&dir, per_class, seed)?;
        if set.source != data::Source::Files(data::locate(&dir).unwrap_or_default()) {
            eprintln!(
                "note: no CIFAR-10 in {} (run `alexnet data download`): using the synthetic set",
                dir.display()
            );
        }
        Ok(set)
    }
}

#[derive(clap::Args)]
struct TrainArgs {
    /// cifar | article
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
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: OptArg,
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    #[arg(long, default_value_t = 5e-4)]
    weight_decay: f64,
    /// constant | step (x0.1 every third of the run) | cosine
    #[arg(long, value_enum, default_value = "constant")]
    schedule: ScheduleArg,
    /// Validation images from the end of the training set [default: 5000, at most a tenth]
    #[arg(long)]
    val_size: Option<usize>,
    /// Random crops (4-pixel padding) and horizontal flips
    #[arg(long)]
    augment: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The run folder
    #[arg(long)]
    out: PathBuf,
    /// Continue the run saved in --out
    #[arg(long)]
    resume: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OptArg {
    Sgd,
    Adam,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ScheduleArg {
    Constant,
    Step,
    Cosine,
}

fn run_train(a: TrainArgs) -> anyhow::Result<()> {
    let set = a.data.load(a.seed)?;
    let n = set.train.len();
    let val_size = a.val_size.unwrap_or(data::DEFAULT_VAL_SIZE.min(n / 10));
    let optimizer = match a.optimizer {
        OptArg::Sgd => OptimizerKind::Sgd,
        OptArg::Adam => OptimizerKind::Adam,
    };
    let epochs = a.epochs as usize;
    let mut cfg = TrainConfig {
        model: a.model,
        optimizer,
        lr: a.lr.unwrap_or(if optimizer == OptimizerKind::Adam {
            1e-3
        } else {
            0.01
        }),
        momentum: a.momentum,
        weight_decay: a.weight_decay,
        num_epochs: epochs,
        batch_size: a.batch_size as usize,
        seed: a.seed,
        augment: a.augment,
        schedule: match a.schedule {
            ScheduleArg::Constant => Schedule::Constant,
            ScheduleArg::Step => Schedule::Step {
                every: epochs.div_ceil(3).max(1),
                gamma: 0.1,
            },
            ScheduleArg::Cosine => Schedule::Cosine,
        },
        val_size,
    };
    if a.resume {
        // A resumed run keeps the settings it started with; only --epochs may grow.
        let saved = train::checkpoint::read_state(&a.out)?.config;
        if saved.model != cfg.model {
            anyhow::bail!(
                "{}: the run in it trains `{}`, not `{}`",
                a.out.display(),
                saved.model,
                cfg.model
            );
        }
        cfg = TrainConfig {
            num_epochs: epochs,
            ..saved
        };
    }
    let splits = set.split(cfg.val_size)?;
    println!(
        "training {} on {} ({} train / {} validation / {} test images) into {}",
        cfg.model,
        match &splits.source {
            data::Source::Files(p) => format!("CIFAR-10 from {}", p.display()),
            data::Source::Synthetic { seed } => format!("the synthetic set (seed {seed})"),
        },
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
    let (history, metrics) = train::train(
        &cfg,
        &splits,
        &a.out,
        a.resume,
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
    write_metrics(
        &a.out,
        &cfg.model,
        history.epochs.len(),
        &splits.classes,
        &metrics,
    )?;
    write_figures(&a.out, &history, &splits.classes, &metrics)?;
    print_metrics(&splits.classes, &metrics);
    println!("wrote {}", a.out.display());
    Ok(())
}

fn write_metrics(
    dir: &std::path::Path,
    model: &ModelName,
    epochs: usize,
    classes: &[String],
    m: &train::Metrics,
) -> anyhow::Result<()> {
    let json = serde_json::json!({
        "model": model,
        "epochs": epochs,
        "test_accuracy": m.accuracy,
        "test_loss": m.loss,
        "per_class_accuracy": classes.iter().cloned().zip(m.per_class_accuracy.iter().map(|&a| serde_json::json!(a))).collect::<serde_json::Map<_, _>>(),
        "classes": classes,
        "confusion": m.confusion,
    });
    train::checkpoint::write_atomic(
        &dir.join("metrics.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    Ok(())
}

/// `curves.png` (loss and accuracy by epoch) and `confusion.png` (the confusion matrix above
/// the per-class accuracy).
fn write_figures(
    dir: &std::path::Path,
    history: &train::History,
    classes: &[String],
    m: &train::Metrics,
) -> anyhow::Result<()> {
    plot::curves(history)?.save(dir.join("curves.png"))?;
    let confusion = plot::confusion(&m.confusion, classes)?;
    let bars = plot::per_class_accuracy(&m.per_class_accuracy, classes)?;
    plot::Figure::stack(&[confusion, bars]).save(dir.join("confusion.png"))?;
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

fn run_dir(checkpoint: &std::path::Path) -> PathBuf {
    match checkpoint.parent() {
        Some(p) if checkpoint.is_file() => p.to_path_buf(),
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        _ if checkpoint.is_dir() => checkpoint.to_path_buf(),
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    }
}

/// Decodes an image file and resizes it to 32x32 CHW bytes.
fn load_image(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let img = image::open(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read the image ({e}); use a PNG or JPEG file",
            path.display()
        )
    })?;
    let small = img
        .resize_exact(32, 32, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let mut chw = vec![0u8; data::PIXELS];
    for (x, y, p) in small.enumerate_pixels() {
        for c in 0..3 {
            chw[(c * 32 + y as usize) * 32 + x as usize] = p[c];
        }
    }
    Ok(chw)
}

fn run_predict(checkpoint: PathBuf, paths: Vec<PathBuf>) -> anyhow::Result<()> {
    let mut images = data::Images::default();
    let mut ok = Vec::new();
    let mut failed = 0;
    for path in &paths {
        match load_image(path) {
            Ok(chw) => {
                images.push(&chw, 0);
                ok.push(path);
            }
            Err(e) => {
                eprintln!("alexnet: error: {e:#}");
                failed += 1;
            }
        }
    }
    if !images.is_empty() {
        let (classes, probs) = train::predict_checkpoint(&run_dir(&checkpoint), &images)?;
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
    match cli.command {
        Command::Data(cmd) => run_data(cmd)?,
        Command::Train(args) => run_train(args)?,
        Command::Evaluate {
            checkpoint,
            data,
            out,
        } => {
            let dir = run_dir(&checkpoint);
            let state = train::checkpoint::read_state(&dir)?;
            let set = data.load(state.config.seed)?;
            let (state, metrics) = train::evaluate_checkpoint(&dir, &set.test)?;
            println!(
                "{} checkpoint after {} epochs, {} test images",
                state.model,
                state.epochs_done,
                set.test.len()
            );
            print_metrics(&set.classes, &metrics);
            if let Some(out) = out {
                std::fs::create_dir_all(&out)?;
                write_metrics(
                    &out,
                    &state.model,
                    state.epochs_done,
                    &set.classes,
                    &metrics,
                )?;
                write_figures(&out, &state.history, &set.classes, &metrics)?;
            }
        }
        Command::Predict { checkpoint, images } => run_predict(checkpoint, images)?,
        Command::Summary { model } => println!("{}", summary(model)),
        Command::Bench {
            model,
            batch_size,
            steps,
        } => {
            let threads = rayon::current_num_threads();
            println!(
                "bench {model}: batch size {batch_size}, {steps} timed steps, {threads} threads"
            );
            let report = bench(model, batch_size as usize, steps as usize)?;
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
