//! Data in and out. Tables: polars CSV/Parquet reading and writing, and inference of each
//! column's kind (continuous, discrete, key or ignored; dates and times are continuous) with
//! the user's overrides from the config. Images:
//! PNG/JPEG folders and MNIST-style IDX files, shaped and scaled for the image models.

mod error;
pub mod images;
mod infer;
pub mod keys;
pub mod metadata;
pub mod pii;
mod table;
pub mod temporal;
pub mod values;

pub use error::DataError;
pub use infer::{
    Bound, ColumnOverrides, bound_value, display_format, infer_meta, numeric_values, polars_dtype,
    summary, to_dtype,
};
pub use table::{TableFormat, TableWriter, read_table, write_table};
pub use temporal::{OnUnparseable, column_dtype, temporal_column, temporal_values};

/// Result type of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
