//! The generic training loop: epochs of steps, per-epoch reseeding (so a resumed run replays
//! an uninterrupted one), loss logging through tracing, an indicatif progress bar,
//! `metrics.jsonl`, atomic checkpoints every N epochs plus a `latest` pointer, and the
//! model's previews (an image model's sample grid) every N epochs in `samples/`, and optional
//! scoring of checkpoints as they are written (a [`CheckpointScorer`]) with a `best` pointer,
//! and early stopping when the model says it has converged.
//! It drives any [`Trainable`] and never names a concrete model.

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use synth_core::checkpoint::{BEST_FILE, CHECKPOINTS_DIR};
use synth_core::fsutil::{remove_stale_temporaries, write_atomic};
use synth_core::{BoxError, Checkpoint, CheckpointError, Manifest, Trainable};

/// Folder of the run folder that holds the models' previews.
pub const PREVIEW_DIR: &str = "samples";

/// File of the run folder the loop appends one JSON line per epoch to.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// Scores a checkpoint the loop has just written, e.g. by sampling rows from it and judging
/// them. The first score decides which checkpoint is the best (higher is better).
pub trait CheckpointScorer {
    /// Named scores of the checkpoint in `dir`.
    fn score(&mut self, dir: &Path) -> Result<Vec<(&'static str, f64)>, BoxError>;
}

/// How long and how to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Total epochs (including those of a resumed run).
    pub epochs: usize,
    /// Write a checkpoint every this many epochs (0: only at the end).
    pub checkpoint_every: usize,
    /// Read losses back from the device every this many steps.
    pub log_every: usize,
    /// Write the model's preview every this many epochs (0: never).
    pub preview_every: usize,
    /// Run folder: `metrics.jsonl` and `ckpt/` go here.
    pub out_dir: PathBuf,
    /// Draw a progress bar (when stderr is a terminal).
    pub progress: bool,
    /// Score a checkpoint every this many epochs and at the end (0: never); the loop writes
    /// a checkpoint at those epochs too.
    pub score_every: usize,
    /// Set (e.g. by a Ctrl-C handler) to stop at the end of the current epoch, with a
    /// checkpoint of it: a checkpoint inside an epoch could not be resumed exactly.
    pub stop: Option<Arc<AtomicBool>>,
    /// Told of every epoch as it ends, before `stop` is read (so it may raise it).
    pub on_epoch: Option<EpochObserver>,
}

/// What an ended epoch reports to an [`EpochObserver`].
#[derive(Debug, Clone, Copy)]
pub struct EpochSummary<'a> {
    /// Epochs completed, this one included.
    pub epoch: usize,
    /// The epoch target.
    pub epochs: usize,
    /// Wall-clock seconds of this epoch.
    pub seconds: f64,
    /// Its mean losses (and the model's end-of-epoch figures).
    pub losses: &'a [(&'static str, f64)],
}

/// A callback told of every epoch as it ends: progress for a caller that draws its own
/// (a notebook), or checks for an interrupt of its own (Python's Ctrl-C).
#[derive(Clone)]
pub struct EpochObserver(pub Arc<dyn Fn(&EpochSummary) + Send + Sync>);

impl std::fmt::Debug for EpochObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochObserver")
    }
}

/// Errors of the training loop.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Writing metrics or a checkpoint failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The model failed to write its preview.
    #[error("writing a preview into {path}: {source}")]
    Preview {
        /// The preview folder.
        path: PathBuf,
        /// The model's error.
        source: BoxError,
    },
    /// Writing a checkpoint failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Scoring a checkpoint failed.
    #[error("scoring checkpoint {path}: {source}")]
    Score {
        /// The checkpoint folder.
        path: PathBuf,
        /// The scorer's error.
        source: BoxError,
    },
    /// A stop was requested (Ctrl-C, SIGTERM): the epoch in progress was finished and saved.
    #[error(
        "interrupted: stopped after epoch {epoch} of {epochs} with its checkpoint {}; continue with --resume",
        checkpoint.display()
    )]
    Interrupted {
        /// Epochs completed.
        epoch: usize,
        /// The epoch target.
        epochs: usize,
        /// The checkpoint written.
        checkpoint: PathBuf,
    },
    /// A loss became NaN or infinite: training stopped before writing anything of that epoch.
    #[error(
        "training diverged: {loss} = {value} in epoch {epoch} (step {step} of the epoch); nothing of this epoch was written, the last good checkpoint is {}. Lower the learning rates, or check the data for extreme values",
        last_checkpoint.as_ref().map_or("none (no checkpoint yet)".to_string(), |p| p.display().to_string())
    )]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// The step within it (1-based).
        step: usize,
        /// The loss's name.
        loss: &'static str,
        /// Its value.
        value: f64,
        /// The newest checkpoint on disk, which is kept.
        last_checkpoint: Option<PathBuf>,
    },
    /// A network's weights became NaN or infinite.
    #[error(
        "training diverged: the {network} holds NaN or infinite weights after epoch {epoch}; nothing of this epoch was written, the last good checkpoint is {}. Lower the learning rates, or check the data for extreme values",
        last_checkpoint.as_ref().map_or("none (no checkpoint yet)".to_string(), |p| p.display().to_string())
    )]
    NonFiniteWeights {
        /// The epoch (1-based).
        epoch: usize,
        /// The network's name.
        network: &'static str,
        /// The newest checkpoint on disk, which is kept.
        last_checkpoint: Option<PathBuf>,
    },
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// Epochs completed in total.
    pub epochs: usize,
    /// Steps completed in total.
    pub steps: u64,
    /// The last checkpoint folder written.
    pub checkpoint: PathBuf,
    /// Mean losses of the last epoch.
    pub last_losses: Vec<(&'static str, f64)>,
    /// Wall-clock seconds per epoch of this run.
    pub epoch_seconds: Vec<f64>,
    /// Whether the model converged (early stopping) before the epoch target.
    pub converged: bool,
}

/// Trains `model` from epoch `manifest.epoch` up to `options.epochs`, writing checkpoints
/// (with `manifest` updated and `config_toml` as the resolved config) and metrics.
pub fn train<M: Trainable + ?Sized>(
    model: &mut M,
    options: &TrainOptions,
    manifest: Manifest,
    config_toml: &str,
) -> Result<TrainReport, TrainError> {
    train_scored(model, options, manifest, config_toml, None)
}

/// [`train`], with `scorer` scoring the checkpoints written every `options.score_every`
/// epochs: the scores go into `metrics.jsonl` (as `eval_<name>`, the first also as
/// `eval_score`), the log and the progress line, and `ckpt/best` names the checkpoint whose
/// first score is highest so far.
pub fn train_scored<M: Trainable + ?Sized>(
    model: &mut M,
    options: &TrainOptions,
    mut manifest: Manifest,
    config_toml: &str,
    mut scorer: Option<&mut dyn CheckpointScorer>,
) -> Result<TrainReport, TrainError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Io { path, source }
    };
    std::fs::create_dir_all(&options.out_dir).map_err(io(&options.out_dir))?;
    for dir in [
        options.out_dir.clone(),
        options.out_dir.join(CHECKPOINTS_DIR),
    ] {
        let removed = remove_stale_temporaries(&dir).map_err(io(&dir))?;
        if removed > 0 {
            tracing::info!(folder = %dir.display(), removed, "removed temporary files left by an interrupted run");
        }
    }
    let metrics_path = options.out_dir.join(METRICS_FILE);
    let mut metrics = open_metrics(&metrics_path, manifest.epoch).map_err(io(&metrics_path))?;

    let steps = model.steps_per_epoch();
    let start = manifest.epoch;
    let bar = progress_bar(
        options,
        (options.epochs.saturating_sub(start) * steps) as u64,
    );
    let mut report = TrainReport {
        epochs: start,
        steps: manifest.step,
        checkpoint: PathBuf::new(),
        last_losses: Vec::new(),
        epoch_seconds: Vec::new(),
        converged: false,
    };
    let mut best = best_score(&options.out_dir);
    for epoch in start..options.epochs {
        if model.converged() {
            tracing::info!(
                epoch,
                "the model had already converged: nothing left to train"
            );
            report.converged = true;
            break;
        }
        let started = Instant::now();
        model.begin_epoch(epoch);
        let mut totals: Vec<(&'static str, f64)> = Vec::new();
        let mut unread = 0usize;
        for step in 0..steps {
            model.train_step();
            bar.inc(1);
            unread += 1;
            if unread == options.log_every.max(1) || step + 1 == steps {
                let losses = model.take_losses();
                if let Some(&(loss, value)) = losses.iter().find(|(_, v)| !v.is_finite()) {
                    bar.finish_and_clear();
                    return Err(TrainError::Diverged {
                        epoch: epoch + 1,
                        step: step + 1,
                        loss,
                        value,
                        last_checkpoint: Checkpoint::find(&options.out_dir)
                            .ok()
                            .map(Checkpoint::into_dir),
                    });
                }
                accumulate(&mut totals, &losses, unread as f64);
                unread = 0;
                bar.set_message(format!(
                    "epoch {}/{} {}",
                    epoch + 1,
                    options.epochs,
                    format_losses(&losses)
                ));
            }
        }
        if let Some(network) = model.non_finite_network() {
            bar.finish_and_clear();
            return Err(TrainError::NonFiniteWeights {
                epoch: epoch + 1,
                network,
                last_checkpoint: Checkpoint::find(&options.out_dir)
                    .ok()
                    .map(Checkpoint::into_dir),
            });
        }
        let mut means: Vec<(&'static str, f64)> =
            totals.iter().map(|(k, v)| (*k, v / steps as f64)).collect();
        means.extend(model.end_epoch());
        let seconds = started.elapsed().as_secs_f64();
        manifest.epoch = epoch + 1;
        manifest.step += steps as u64;
        tracing::info!(epoch = epoch + 1, seconds, losses = %format_losses(&means), "epoch done");
        if let Some(observer) = &options.on_epoch {
            (observer.0)(&EpochSummary {
                epoch: manifest.epoch,
                epochs: options.epochs,
                seconds,
                losses: &means,
            });
        }
        let converged = model.converged();
        if converged {
            tracing::info!(epoch = manifest.epoch, "converged: stopping early");
        }
        let last = manifest.epoch == options.epochs || converged;
        let score_due = scorer.is_some()
            && options.score_every > 0
            && (last || manifest.epoch.is_multiple_of(options.score_every));
        let stopping = options
            .stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::SeqCst));
        let due = stopping
            || (options.checkpoint_every > 0
                && manifest.epoch.is_multiple_of(options.checkpoint_every));
        let mut scores = Vec::new();
        let written = if due || last || score_due {
            let checkpoint = write_checkpoint(model, &options.out_dir, &manifest, config_toml)?;
            report.checkpoint = checkpoint.dir().to_path_buf();
            tracing::info!(path = %report.checkpoint.display(), "checkpoint written");
            Some(checkpoint)
        } else {
            None
        };
        if let (true, Some(scorer), Some(written)) = (score_due, scorer.as_deref_mut(), &written) {
            scores = scorer
                .score(&report.checkpoint)
                .map_err(|source| TrainError::Score {
                    path: report.checkpoint.clone(),
                    source,
                })?;
            tracing::info!(epoch = manifest.epoch, scores = %format_losses(&scores), "checkpoint scored");
            bar.set_message(format!(
                "epoch {} scored: {}",
                manifest.epoch,
                format_losses(&scores)
            ));
            if let Some(&(_, first)) = scores.first()
                && best.is_none_or(|b| first > b)
            {
                best = Some(first);
                written.mark_best()?;
                tracing::info!(path = %report.checkpoint.display(), "best checkpoint so far");
            }
        }
        writeln!(
            metrics,
            "{}",
            metrics_line(&manifest, seconds, &means, &scores)
        )
        .map_err(io(&metrics_path))?;
        metrics.flush().map_err(io(&metrics_path))?;
        if options.preview_every > 0 && manifest.epoch.is_multiple_of(options.preview_every) {
            let dir = options.out_dir.join(PREVIEW_DIR);
            let written = model
                .write_preview(&dir, manifest.epoch)
                .map_err(|source| TrainError::Preview { path: dir, source })?;
            if let Some(path) = written {
                tracing::info!(path = %path.display(), "preview written");
            }
        }
        report.epochs = manifest.epoch;
        report.steps = manifest.step;
        report.last_losses = means;
        report.epoch_seconds.push(seconds);
        if converged {
            report.converged = true;
            break;
        }
        if stopping && !last {
            bar.finish_and_clear();
            return Err(TrainError::Interrupted {
                epoch: manifest.epoch,
                epochs: options.epochs,
                checkpoint: report.checkpoint,
            });
        }
    }
    bar.finish_and_clear();
    if report.checkpoint.as_os_str().is_empty() {
        report.checkpoint =
            write_checkpoint(model, &options.out_dir, &manifest, config_toml)?.into_dir();
    }
    Ok(report)
}

/// Writes the model's checkpoint for the epoch of `manifest` into `out_dir` (see
/// [`Checkpoint::write`]).
fn write_checkpoint<M: Trainable + ?Sized>(
    model: &M,
    out_dir: &Path,
    manifest: &Manifest,
    config_toml: &str,
) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::write(out_dir, manifest, config_toml, |dir| model.save(dir))
}

/// The first score of the checkpoint `ckpt/best` names, from `metrics.jsonl` (a resumed run
/// keeps its best).
fn best_score(out_dir: &Path) -> Option<f64> {
    let name = std::fs::read_to_string(out_dir.join(CHECKPOINTS_DIR).join(BEST_FILE)).ok()?;
    let epoch: u64 = name.trim().strip_prefix("epoch-")?.parse().ok()?;
    let text = std::fs::read_to_string(out_dir.join(METRICS_FILE)).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<Map<String, Value>>(l).ok())
        .filter(|m| m.get("epoch").and_then(Value::as_u64) == Some(epoch))
        .find_map(|m| m.get(SCORE_KEY).and_then(Value::as_f64))
}

/// Whether `name` is a checkpoint folder's name, `epoch-` and digits: a pointer file may name
/// nothing else (no other folder, no path out of `ckpt/`).
/// Opens `metrics.jsonl` for appending, first dropping lines past `keep_epochs` (a resumed
/// run rewrites the epochs after its checkpoint).
fn open_metrics(path: &Path, keep_epochs: usize) -> std::io::Result<std::fs::File> {
    let kept: Vec<String> = match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .filter(|l| {
                serde_json::from_str::<Value>(l)
                    .ok()
                    .and_then(|v| v.get("epoch").and_then(Value::as_u64))
                    .is_some_and(|e| e as usize <= keep_epochs)
            })
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut text = kept.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())?;
    std::fs::OpenOptions::new().append(true).open(path)
}

/// The metrics-line key of the score that decides the best checkpoint (a copy of the first).
const SCORE_KEY: &str = "eval_score";

/// One `metrics.jsonl` line: epoch, step, seconds, the losses, and the checkpoint's scores as
/// `eval_<name>` plus [`SCORE_KEY`].
fn metrics_line(
    manifest: &Manifest,
    seconds: f64,
    losses: &[(&'static str, f64)],
    scores: &[(&'static str, f64)],
) -> String {
    let mut line = Map::new();
    line.insert("epoch".into(), manifest.epoch.into());
    line.insert("step".into(), manifest.step.into());
    line.insert("seconds".into(), seconds.into());
    for (name, value) in losses {
        line.insert((*name).into(), (*value).into());
    }
    for (name, value) in scores {
        line.insert(format!("eval_{name}"), (*value).into());
    }
    if let Some(&(_, first)) = scores.first() {
        line.insert(SCORE_KEY.into(), first.into());
    }
    Value::Object(line).to_string()
}

fn accumulate(totals: &mut Vec<(&'static str, f64)>, losses: &[(&'static str, f64)], weight: f64) {
    for &(name, value) in losses {
        match totals.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += value * weight,
            None => totals.push((name, value * weight)),
        }
    }
}

fn format_losses(losses: &[(&'static str, f64)]) -> String {
    losses
        .iter()
        .map(|(k, v)| format!("{k} {v:.4}"))
        .collect::<Vec<_>>()
        .join("  ")
}

fn progress_bar(options: &TrainOptions, total: u64) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests;
