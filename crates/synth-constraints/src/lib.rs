//! Business rules every synthetic row obeys, declared as `[[constraints]]` in a run config:
//!
//! - `inequality`: `low <= high` (or `<`, optionally with a gap) between two numeric, date or
//!   time columns, by reformulation: the model learns `ln(1 + high - low - gap)` in place of
//!   `high`, and `high` is rebuilt from the sampled `low`, so it cannot fall below it;
//! - `fixed_combinations`: categorical columns that take only the combinations seen in the
//!   data, modelled as one column of those combinations and split again;
//! - `sum` and `date_part`: a column that is an exact function of others, computed after
//!   sampling rather than modelled;
//! - `rule`: any condition written as a polars SQL expression (`discount <= price`), met by
//!   rejection: rows that break it are dropped and more are sampled, with the share kept
//!   reported.
//!
//! [`Constraints::fit`] checks the rules against the table's columns and every training row,
//! and turns the table into the one the model learns; a [`ConstrainedSampler`] wraps any
//! model's sampler and turns its rows back, so that every row it hands out obeys every rule.
//! The fitted rules are saved beside the model in each checkpoint ([`CONSTRAINTS_FILE`]).

mod check;
mod constraint;
mod fitted;
mod sampler;

pub use constraint::{Constraint, DatePart, OnViolation};
pub use fitted::{CONSTRAINTS_FILE, Constraints};
pub use sampler::ConstrainedSampler;

/// Why constraints could not be fitted, applied or loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConstraintError {
    /// A constraint names a column the table does not have.
    #[error(
        "{constraint}: `{key}` names column `{column}`, which the table does not have (columns: {available})"
    )]
    UnknownColumn {
        /// The constraint, as `constraints[i] (...)`.
        constraint: String,
        /// The key naming the column.
        key: &'static str,
        /// The column named.
        column: String,
        /// The table's columns.
        available: String,
    },
    /// A constraint that cannot apply to the columns it names, or to its settings.
    #[error("{constraint}: {reason}")]
    Invalid {
        /// The constraint, as `constraints[i] (...)`.
        constraint: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Constraints that contradict one another or cannot be applied together.
    #[error("{0}")]
    Conflict(String),
    /// A training row breaks a constraint.
    #[error(
        "{constraint}: row {row} of the training table breaks it ({values}); fix the data, or set `data.on_violation = \"drop\"` to leave such rows out"
    )]
    Violated {
        /// The constraint, as `constraints[i] (...)`.
        constraint: String,
        /// The zero-based row.
        row: usize,
        /// The row's values of the constraint's columns.
        values: String,
    },
    /// A rule that sampling could not meet.
    #[error(
        "the constraints kept {kept} of {generated} sampled rows ({detail}); the model rarely produces rows that meet them: check the rules and conditions against the data, or train longer"
    )]
    Unreachable {
        /// Rows sampled.
        generated: usize,
        /// Rows that met every constraint and condition.
        kept: usize,
        /// Which constraint or condition dropped the most rows.
        detail: String,
    },
    /// A condition the constraints cannot honour.
    #[error("{0}")]
    Condition(String),
    /// Polars failed on a column.
    #[error("column `{column}`: {source}")]
    Polars {
        /// The column (or a description of the table).
        column: String,
        /// Polars' error.
        source: polars::error::PolarsError,
    },
    /// Reading a constraints file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A constraints file is not valid JSON of the expected shape.
    #[error(
        "{path}: not a valid constraints file ({reason}); the checkpoint is damaged: sample from another checkpoint of the run"
    )]
    BadFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A column's values could not be read.
    #[error(transparent)]
    Data(#[from] synth_data::DataError),
    /// The wrapped model failed.
    #[error(transparent)]
    Model(#[from] synth_tabular::TabularError),
}

/// Result type of this crate.
pub type Result<T, E = ConstraintError> = std::result::Result<T, E>;

/// The error of polars failing on `column`.
fn polars_error(column: &str) -> impl FnOnce(polars::error::PolarsError) -> ConstraintError + '_ {
    move |source| ConstraintError::Polars {
        column: column.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests;
