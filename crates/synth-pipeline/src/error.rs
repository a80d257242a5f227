//! The pipeline's one error type: each model crate's typed error, plus the pipeline's own
//! refusals and the context (a file, a flag) an error happened in.

use std::path::PathBuf;
use synth_augment::AugmentError;
use synth_constraints::ConstraintError;
use synth_core::manifest::ManifestError;
use synth_core::{CheckpointError, ConfigError};
use synth_data::DataError;
use synth_eval::EvalError;
use synth_image::ImageModelError;
use synth_tabular::TabularError;
use synth_train::TrainError;

/// Anything the pipeline can fail with. Messages name the file, column, key or flag and say
/// what to do; [`PipelineError::kind`] sorts them for bindings (bad input, files, interrupts).
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A setting or input the pipeline refuses; the message says which and what to do.
    #[error("{0}")]
    Invalid(String),
    /// An error, with what was being done when it happened.
    #[error("{context}: {inner}")]
    Context {
        /// What was being done (a file, a flag, a checkpoint).
        context: String,
        /// The error.
        inner: Box<PipelineError>,
    },
    /// Reading or writing a file or folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A config file that is not valid TOML or has unknown keys.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    /// A setting out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A damaged or missing checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A damaged or newer manifest.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Reading, inferring or writing a table or images.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A tabular model.
    #[error(transparent)]
    Tabular(#[from] TabularError),
    /// An image model.
    #[error(transparent)]
    Image(#[from] ImageModelError),
    /// The training loop (including a stop requested by Ctrl-C).
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Evaluation.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// Augmentation.
    #[error(transparent)]
    Augment(#[from] AugmentError),
    /// Constraints.
    #[error(transparent)]
    Constraint(#[from] ConstraintError),
}

/// The pipeline's result.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

/// What kind of failure an error is, for callers that map errors onto their own (Python's
/// `ValueError`, `OSError`, `KeyboardInterrupt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A setting, table, column or value the user must change.
    Input,
    /// A file or folder could not be read or written.
    Io,
    /// A stop was requested; the epoch in progress was finished and saved.
    Interrupted,
    /// Training diverged, or another failure inside a model.
    Model,
}

impl PipelineError {
    /// Which kind of failure this is (for a context, the kind of the error inside it).
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::Context { inner, .. } => inner.kind(),
            PipelineError::Io { .. }
            | PipelineError::Checkpoint(CheckpointError::Io { .. })
            | PipelineError::Constraint(ConstraintError::Io { .. }) => ErrorKind::Io,
            PipelineError::Train(TrainError::Interrupted { .. }) => ErrorKind::Interrupted,
            PipelineError::Train(_) | PipelineError::Image(_) => ErrorKind::Model,
            _ => ErrorKind::Input,
        }
    }
}

/// Refuses with `message` unless `condition` holds.
pub(crate) fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<()> {
    if condition {
        Ok(())
    } else {
        Err(PipelineError::Invalid(message()))
    }
}

/// Adds what was being done to an error, as anyhow's `context` does for binaries.
pub(crate) trait Context<T> {
    /// The error, inside `context`.
    fn context(self, context: impl Into<String>) -> Result<T>;
    /// [`Context::context`], the context built only on failure.
    fn with_context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<PipelineError>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.with_context(|| context.into())
    }

    fn with_context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| PipelineError::Context {
            context: context(),
            inner: Box::new(e.into()),
        })
    }
}

/// An I/O error on `path`.
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> PipelineError {
    let path = path.to_path_buf();
    move |source| PipelineError::Io { path, source }
}
