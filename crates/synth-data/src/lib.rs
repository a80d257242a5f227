//! Data in and out. Tables: polars CSV/Parquet reading and writing, and inference of each
//! column's kind (continuous or discrete) with the user's overrides from the config. Images:
//! PNG/JPEG folders and MNIST-style IDX files, shaped and scaled for the image models.

mod error;
pub mod images;
mod infer;
mod table;

pub use error::DataError;
pub use infer::{ColumnOverrides, infer_meta, numeric_values, polars_dtype, to_dtype};
pub use table::{TableFormat, TableWriter, read_table, write_table};

/// Result type of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
