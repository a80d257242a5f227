//! Image synthesis: DCGAN (Radford et al. 2016) and its class-conditional variant for 28, 32
//! and 64-pixel images, trained on the image sets of `synth-data` behind one interface
//! ([`ImageModel`], [`ImageSampler`]), and PNG output of what they generate (single images
//! and sample grids).

pub mod cdcgan;
mod classes;
pub mod dcgan;
pub mod gan;
mod model;
pub mod png;

pub use classes::{CLASSES_FILE, Classes};
pub use model::{GRID_FILE, ImageModel, ImageSampler, class_condition, write_pngs};

/// Errors of the image models.
#[derive(Debug, thiserror::Error)]
pub enum ImageModelError {
    /// Invalid model settings (the message names the key).
    #[error("invalid config: {0}")]
    Config(#[from] synth_core::ConfigError),
    /// A class-conditional model was given images without labels.
    #[error(
        "a class-conditional model trains on labelled images: set data.labels to the IDX label file of data.path, or put the images in one subfolder per class"
    )]
    Unlabelled,
    /// A class was asked of a model that has none.
    #[error(
        "this model is not class-conditional, so it takes no class=NAME condition; train a class-conditional model (model.kind = \"cdcgan\") on labelled images"
    )]
    NotConditional,
    /// A class index beyond the model's classes.
    #[error("class index {index}: the model has {count} classes")]
    ClassIndex {
        /// The index asked for.
        index: usize,
        /// The number of classes.
        count: usize,
    },
    /// A class of the label file with no training image (an IDX label file names the classes
    /// 0 to its largest label).
    #[error(
        "class={class}: the training data had no image of this class, so the model cannot draw one"
    )]
    UntrainedClass {
        /// The class asked for.
        class: String,
    },
    /// A class the model was not trained on.
    #[error("class={class}: the model knows the classes {classes}")]
    UnknownClass {
        /// The class asked for.
        class: String,
        /// The classes the model knows, comma-separated.
        classes: String,
    },
    /// A condition image models do not take.
    #[error("--condition {0}: image models take one condition, class=NAME")]
    Condition(String),
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
