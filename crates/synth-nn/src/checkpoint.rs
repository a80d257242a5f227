//! Loading module weights and optimizer state from checkpoint files, with errors that name
//! the file.

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use std::path::{Path, PathBuf};

/// A checkpoint file is missing, truncated or does not match the model.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot load checkpoint file: {message}")]
pub struct CheckpointError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// Loads a module's weights from a checkpoint file into `module` (whose shape must match).
pub fn load_module<M: Module>(module: M, path: &Path) -> Result<M, CheckpointError> {
    let record = ModuleRecord::load(path).map_err(|e| checkpoint_error(path, e.to_string()))?;
    module
        .try_load_record(record)
        .map_err(|e| checkpoint_error(path, format!("weights do not fit this model ({e})")))
}

/// Loads an optimizer's state from a checkpoint file.
pub fn load_optimizer(
    optim: ModuleOptimizer,
    path: &Path,
) -> Result<ModuleOptimizer, CheckpointError> {
    optim
        .load(path)
        .map_err(|e| checkpoint_error(path, e.to_string()))
}

fn checkpoint_error(path: &Path, message: String) -> CheckpointError {
    CheckpointError {
        path: path.to_path_buf(),
        message,
    }
}
