//! `alexnet`: the course's headless tool. Thin: parses, calls the library, reports.

use alexnet_lab::bench::bench;
use alexnet_lab::model::{summary, ModelName};
use clap::{Parser, Subcommand};
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

fn parse_model(s: &str) -> Result<ModelName, String> {
    s.parse().map_err(|e: alexnet_lab::Error| e.to_string())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
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
