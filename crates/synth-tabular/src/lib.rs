//! Tabular synthesis: the reversible data transformer (variational-mixture mode-specific
//! normalisation and one-hot encoding), CTGAN's conditional sampler, the [`TabularModel`]
//! interface, and the models: CTGAN and TVAE (neural, on the encoding), TabularARGN (neural,
//! on column values as tokens), GaussianCopula and the latent-class mixture (statistical, on
//! column values), and MST (differentially private, from noisy marginals).

pub mod argn;
pub mod condition;
pub mod copula;
pub mod ctgan;
pub mod mixture;
pub mod model;
pub mod mst;
pub mod sampler;
mod tensors;
#[cfg(test)]
mod test_support;
pub mod transform;
pub mod tvae;

use std::path::PathBuf;

pub use model::{
    ConditionFrequencies, RowSink, Sampled, TRANSFORMER_FILE, TabularModel, TabularSampler,
    TrainingTable,
};
pub use synth_nn::{cpu_device, flex_device, wgpu_device};
pub use transform::{
    ColumnValues, ConditionSpan, DataTransformer, EncodedTable, ModelledColumn, ReleasedDomain,
    TransformerConfig,
};

/// Errors of the tabular pipeline.
#[derive(Debug, thiserror::Error)]
pub enum TabularError {
    /// The table lacks a column the transformer was fitted on.
    #[error("the table has no column `{column}`, which the model was trained on")]
    MissingColumn {
        /// The column.
        column: String,
    },
    /// A polars operation on a column failed.
    #[error("column `{column}`: {source}")]
    Polars {
        /// The column.
        column: String,
        /// Polars' description.
        source: polars::error::PolarsError,
    },
    /// A column's values could not be read (e.g. a date in another format).
    #[error(transparent)]
    Data(#[from] synth_data::DataError),
    /// A continuous column has no present value.
    #[error("column `{column}` holds only missing values; add it to `data.ignore`")]
    AllMissing {
        /// The column.
        column: String,
    },
    /// An infinite value in a numeric column.
    #[error("column `{column}` holds an infinite value at row {row}; remove or replace it")]
    Infinite {
        /// The column.
        column: String,
        /// Zero-based row.
        row: usize,
    },
    /// An encoded matrix of the wrong width was given to `decode`.
    #[error("encoded matrix has width {found}, the transformer expects {expected}")]
    WidthMismatch {
        /// The transformer's width.
        expected: usize,
        /// The matrix's width.
        found: usize,
    },
    /// A transformer JSON could not be parsed.
    #[error("{}: invalid transformer JSON: {source}", path.as_ref().map_or("<text>".into(), |p| p.display().to_string()))]
    Json {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// The parser's description (with line and column).
        source: serde_json::Error,
    },
    /// A transformer file parses but does not describe a usable encoding.
    #[error("{}: the transformer is inconsistent: {message}; the checkpoint is damaged or was edited by hand, so sample from an intact copy or retrain", path.as_ref().map_or("<text>".into(), |p| p.display().to_string()))]
    InvalidTransformer {
        /// The file, when read from one.
        path: Option<PathBuf>,
        /// What is wrong, naming the column.
        message: String,
    },
    /// A value the transformer was not fitted with.
    #[error(
        "column `{column}`, row {row}: value `{value}` was not in the data the transformer was fitted on"
    )]
    UnseenCategory {
        /// The column.
        column: String,
        /// Zero-based row.
        row: usize,
        /// The value.
        value: String,
    },
    /// Values of the wrong kind were given for a column.
    #[error(
        "column `{column}`: values of the wrong kind (numbers for a discrete column or categories for a continuous one)"
    )]
    ValuesMismatch {
        /// The column.
        column: String,
    },
    /// A condition names a column without a conditional span.
    #[error("unknown condition column `{column}`; conditions can use: {available}")]
    UnknownConditionColumn {
        /// The column.
        column: String,
        /// Columns that can be conditioned on.
        available: String,
    },
    /// A condition names a value the column never took.
    #[error("column `{column}` has no value `{value}`; known values: {available}")]
    UnknownConditionValue {
        /// The column.
        column: String,
        /// The value.
        value: String,
        /// The known values.
        available: String,
    },
    /// Two conditions ask one column for different values: no row can satisfy both.
    #[error(
        "conditions `{column}={first}` and `{column}={second}` contradict each other: a row has one value per column"
    )]
    ContradictoryConditions {
        /// The column.
        column: String,
        /// The first value asked for.
        first: String,
        /// The other value.
        second: String,
    },
    /// More rows than can be held were asked for.
    #[error(
        "{rows} rows of {width} encoded values each are more than this machine can address; ask for fewer rows"
    )]
    TooManyRows {
        /// Rows asked for.
        rows: usize,
        /// Encoded width of a row.
        width: usize,
    },
    /// The rows could not be handed on (e.g. the output file could not be written).
    #[error("writing the sampled rows: {0}")]
    Output(synth_core::BoxError),
    /// A layer around a model's sampler (such as constraints) failed.
    #[error(transparent)]
    Wrapped(synth_core::BoxError),
    /// Invalid model settings (the message names the key).
    #[error("invalid config: {0}")]
    Config(String),
    /// A checkpoint file is missing, truncated or does not match the model.
    #[error(transparent)]
    Checkpoint(#[from] synth_nn::CheckpointError),
    /// A private model's budget cannot pay for a measurement.
    #[error(transparent)]
    Privacy(#[from] synth_privacy::PrivacyError),
    /// Conditional sampling found too few matching rows.
    #[error(
        "only {matched} of the requested rows satisfied the condition after generating {generated}; the model rarely produces it (train longer, or relax the condition)"
    )]
    ConditionUnreachable {
        /// Rows generated.
        generated: usize,
        /// Rows that matched.
        matched: usize,
    },
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result type of this crate.
pub type Result<T, E = TabularError> = std::result::Result<T, E>;

/// Reads and parses a JSON file of a checkpoint folder; errors name the file (and, for
/// JSON that does not parse, the line and column).
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| TabularError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| TabularError::Json {
        path: Some(path.to_path_buf()),
        source,
    })
}

impl TabularError {
    /// The error of a run of rows starting at `offset`, with its row counted over the table.
    pub(crate) fn at_row_offset(self, offset: usize) -> Self {
        match self {
            TabularError::Infinite { column, row } => TabularError::Infinite {
                column,
                row: row + offset,
            },
            other => other,
        }
    }
}
