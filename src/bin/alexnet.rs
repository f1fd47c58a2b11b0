//! `alexnet`: the course's headless tool. Thin: parses, calls the library, reports.

use alexnet_lab::bench::bench;
use alexnet_lab::data::{self, download, synthetic};
use alexnet_lab::model::{summary, ModelName};
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

fn parse_model(s: &str) -> Result<ModelName, String> {
    s.parse().map_err(|e: alexnet_lab::Error| e.to_string())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Data(cmd) => run_data(cmd)?,
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
