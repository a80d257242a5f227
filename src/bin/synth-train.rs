//! `synth-train`: trains a model from a TOML run config.

use clap::Parser;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use synth_pipeline::backend::Backend;
use synth_pipeline::{FitOptions, TrainRequest};

/// Train a synthetic-data model (TabularARGN, CTGAN, TVAE or GaussianCopula on a table; DCGAN, or the
/// class-conditional cdcgan on labelled images; chosen by `[model] kind`) from a TOML run
/// config.
///
/// Writes `metrics.jsonl` (one line per epoch) and checkpoints
/// (`<out_dir>/ckpt/epoch-NNNN/`, with `<out_dir>/ckpt/latest` naming the newest) into the
/// run folder; image models also write a grid of samples every `train.preview_every` epochs
/// (`<out_dir>/samples/epoch-NNNN.png`). Tables: the log names each column's inferred kind,
/// type, format, range and missing share, and `<out_dir>/metadata.toml` records them; edit it
/// and train from it with `[data] metadata = "..."`. Logs go to stderr; set RUST_LOG (e.g.
/// RUST_LOG=debug) for more detail.
///
/// Ctrl-C (or SIGTERM) finishes the current epoch, writes its checkpoint and exits non-zero;
/// `--resume` then continues exactly. A second Ctrl-C exits at once.
#[derive(Parser, Debug)]
#[command(
    version,
    after_help = "Examples:\n  synth-train --config configs/argn.toml\n  synth-train --config configs/ctgan.toml\n  synth-train --config configs/tvae.toml --backend wgpu\n  synth-train --config configs/ctgan.toml --epochs 400 --resume\n  synth-train --config configs/dcgan.toml --backend wgpu\n  synth-train --config configs/cdcgan.toml"
)]
struct Args {
    /// Run config (TOML): seed, [data], [transformer], [train], [model].
    #[arg(short, long)]
    config: PathBuf,
    /// Compute backend; overrides `train.backend`.
    #[arg(long, value_enum)]
    backend: Option<Backend>,
    /// With --backend cuda, wgpu or auto: fail when the GPU cannot be used (no adapter; for
    /// CUDA no driver, an old driver or no libdevice) instead of falling back to the CPU.
    #[arg(long)]
    strict_backend: bool,
    /// Total epochs; overrides `train.epochs`.
    #[arg(long)]
    epochs: Option<usize>,
    /// Run folder; overrides `train.out_dir`.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Master seed; overrides `seed`.
    #[arg(long)]
    seed: Option<u64>,
    /// Continue from the latest checkpoint in the run folder (same data and model settings).
    #[arg(long)]
    resume: bool,
    /// Start afresh in a run folder that holds an earlier run: its checkpoints, metrics.jsonl
    /// and previews are deleted first. Without it, training into such a folder is an error.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// The first Ctrl-C (or SIGTERM, SIGHUP) asks training to stop after the current epoch, with a
/// checkpoint; a second one exits at once (the last checkpoint on disk stays intact).
fn stop_on_signal() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("interrupted again: exiting now; the last checkpoint on disk is intact");
            std::process::exit(130);
        }
        eprintln!(
            "interrupted: finishing this epoch and writing its checkpoint (interrupt again to exit now)"
        );
    })?;
    Ok(stop)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    synth::init_logging();
    let stop = stop_on_signal()?;
    let report = synth_pipeline::run_training(&TrainRequest {
        config: args.config,
        backend: args.backend,
        strict_backend: args.strict_backend,
        epochs: args.epochs,
        out_dir: args.out_dir,
        seed: args.seed,
        options: FitOptions {
            resume: args.resume,
            overwrite: args.overwrite,
            stop: Some(stop),
            progress: !args.quiet && std::io::stderr().is_terminal(),
            on_epoch: None,
        },
    })?;
    let mean_epoch =
        report.epoch_seconds.iter().sum::<f64>() / report.epoch_seconds.len().max(1) as f64;
    println!(
        "trained {} epochs ({} steps), {:.2} s per epoch",
        report.epochs, report.steps, mean_epoch
    );
    if report.converged {
        println!(
            "stopped early: the score on the held-out rows stopped improving; the checkpoint holds the best weights"
        );
    }
    for (name, value) in &report.last_losses {
        println!("  last epoch {name}: {value:.4}");
    }
    println!("checkpoint: {}", report.checkpoint.display());
    Ok(())
}
