//! Tables in and out: polars CSV/Parquet reading and writing, and inference of each column's
//! kind (continuous or discrete) with the user's overrides from the config.

mod error;
mod infer;
mod table;

pub use error::DataError;
pub use infer::{ColumnOverrides, infer_meta, numeric_values, polars_dtype, to_dtype};
pub use table::{TableFormat, read_table, write_table};

/// Result type of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
