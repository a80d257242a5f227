//! The contract between a model and the generic training loop (`synth-train`), so that
//! models implement it without depending on the loop.

use std::path::{Path, PathBuf};

/// Boxed error from a model's save.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A model the training loop can drive.
pub trait Trainable {
    /// Optimisation steps in one epoch.
    fn steps_per_epoch(&self) -> usize;
    /// Re-seeds every random stream for `epoch` (0-based), so that training from a checkpoint
    /// at an epoch boundary draws the same numbers as an uninterrupted run.
    fn begin_epoch(&mut self, epoch: usize);
    /// One optimisation step.
    fn train_step(&mut self);
    /// Mean of each loss since the previous call (reading them may sync with the device).
    fn take_losses(&mut self) -> Vec<(&'static str, f64)>;
    /// Figures about the whole epoch just ended (a validation loss, the learning rate),
    /// computed once after its last step; the loop writes them to `metrics.jsonl` beside the
    /// mean losses. Models without any report none.
    fn end_epoch(&mut self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
    /// Whether the model has stopped improving (early stopping): the loop then writes a
    /// checkpoint and ends, before `train.epochs`.
    fn converged(&self) -> bool {
        false
    }
    /// The name of a network holding a NaN or infinite weight, if any. The loop asks at the
    /// end of every epoch, before anything of it is written: such weights only ever produce
    /// NaN rows, whatever the losses said.
    fn non_finite_network(&self) -> Option<&'static str>;
    /// Writes the model's files (weights, optimizer state, ...) into `dir`.
    fn save(&self, dir: &Path) -> Result<(), BoxError>;
    /// Writes a preview of what the model generates after `epoch` epochs into `dir` (an image
    /// model writes a sample grid) and returns its path; models with nothing to show write
    /// nothing.
    fn write_preview(&self, _dir: &Path, _epoch: usize) -> Result<Option<PathBuf>, BoxError> {
        Ok(None)
    }
}
