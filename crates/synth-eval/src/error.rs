//! Why an evaluation could not run.

/// Why an evaluation could not run. Every variant names the table and columns involved.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A table lacks evaluated columns (those of the real table, or of the checkpoint).
    #[error(
        "the {table} table lacks column(s) {columns} that the evaluation needs; evaluate tables with the same columns (or leave the column out with --ignore)"
    )]
    MissingColumns {
        /// `real`, `synthetic` or `holdout`.
        table: &'static str,
        /// The missing names, comma separated.
        columns: String,
    },
    /// The synthetic table has columns the real table does not have.
    #[error(
        "the {table} table has column(s) {columns} that the real table does not have; evaluate tables with the same columns"
    )]
    ExtraColumns {
        /// `synthetic` or `holdout`.
        table: &'static str,
        /// The extra names, comma separated.
        columns: String,
    },
    /// A continuous column holds non-numbers in one of the tables.
    #[error(
        "column `{column}` is continuous (numeric) but holds {found} values in the {table} table; the tables must hold the same kind of values"
    )]
    ColumnType {
        /// `real`, `synthetic` or `holdout`.
        table: &'static str,
        /// The column.
        column: String,
        /// The type found there.
        found: String,
    },
    /// A table has no rows.
    #[error("the {table} table has no rows")]
    EmptyTable {
        /// `real`, `synthetic` or `holdout`.
        table: &'static str,
    },
    /// The target is not one of the evaluated columns.
    #[error("target `{target}` is not a column of the real table (columns: {available})")]
    UnknownTarget {
        /// The requested target.
        target: String,
        /// The evaluated columns, comma separated.
        available: String,
    },
    /// Utility was asked for without real rows to test on.
    #[error(
        "a utility target needs holdout rows to test on (--holdout): real rows the generator never saw"
    )]
    TargetNeedsHoldout,
    /// A classification target with fewer than two classes.
    #[error(
        "target `{target}` has {found} in the {table} table; a classifier needs at least two classes"
    )]
    SingleClass {
        /// The target column.
        target: String,
        /// `real` or `holdout`.
        table: &'static str,
        /// What was found, e.g. "only the class `<=50K`".
        found: String,
    },
    /// Augmentation gain asked for a class of a continuous column.
    #[error(
        "target `{target}` is continuous; augmentation gain scores a class of a discrete column"
    )]
    ContinuousClassTarget {
        /// The target column.
        target: String,
    },
    /// The class to score does not occur where it must.
    #[error(
        "class `{class}` of `{target}` does not occur in the {table} table; name a class the table holds"
    )]
    ClassAbsent {
        /// The target column.
        target: String,
        /// The class.
        class: String,
        /// The table lacking it.
        table: &'static str,
    },
    /// A training table for the augmentation gain lacks the class or the other classes.
    #[error(
        "training table `{label}` has {found}; a classifier of the class needs rows of it and of other classes"
    )]
    OneSided {
        /// The training table's label.
        label: String,
        /// What it has, e.g. "no row of the class".
        found: &'static str,
    },
    /// Polars could not convert a column.
    #[error("column `{column}` of the {table} table: {source}")]
    Polars {
        /// `real`, `synthetic` or `holdout`.
        table: &'static str,
        /// The column.
        column: String,
        /// Polars' description.
        source: polars::error::PolarsError,
    },
    /// The gradient-boosting library refused its input.
    #[error("gradient boosting failed: {0}")]
    Boosting(String),
}

/// Result type of this crate.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;
