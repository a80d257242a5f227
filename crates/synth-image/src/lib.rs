//! Image synthesis: DCGAN (Radford et al. 2016) for 28, 32 and 64-pixel images, trained on
//! the image sets of `synth-data`, and PNG output of what it generates (single images and
//! sample grids).

pub mod dcgan;
pub mod png;

/// Errors of the image models.
#[derive(Debug, thiserror::Error)]
pub enum ImageModelError {
    /// Invalid model settings (the message names the key).
    #[error("invalid config: {0}")]
    Config(String),
    /// A checkpoint file could not be loaded.
    #[error(transparent)]
    Checkpoint(#[from] synth_nn::CheckpointError),
    /// Writing an output file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result type of this crate.
pub type Result<T, E = ImageModelError> = std::result::Result<T, E>;
