use std::path::PathBuf;

/// Why a table could not be read, written or described.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data file does not exist.
    #[error("data file {path} does not exist; check `data.path` in the config")]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// The file extension names no format we read or write.
    #[error("{path}: unsupported file type; use a .csv or .parquet file")]
    UnsupportedFormat {
        /// The offending file.
        path: PathBuf,
    },
    /// Polars failed to parse or write the file.
    #[error("{path}: {source}")]
    Polars {
        /// The file being read or written.
        path: PathBuf,
        /// Polars' own description (for CSV it names the offending line or field).
        source: polars::error::PolarsError,
    },
    /// An I/O error around the file.
    #[error("{path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The header names a column more than once.
    #[error(
        "{path}: the header names column(s) {columns} more than once; give every column its own name"
    )]
    DuplicateColumns {
        /// The file.
        path: PathBuf,
        /// The repeated names, quoted and comma separated.
        columns: String,
    },
    /// The table has no rows or no columns.
    #[error("{path}: the table is empty (no data rows or no columns to model)")]
    Empty {
        /// The empty file.
        path: PathBuf,
    },
    /// An override names a column the table does not have.
    #[error(
        "`data.{key}` names column `{column}`, which the table does not have (columns: {available})"
    )]
    UnknownColumn {
        /// The config key (`discrete`, `continuous`, `keys`, `ignore`, `bounds` or `formats`).
        key: &'static str,
        /// The unknown name.
        column: String,
        /// The table's columns, comma separated.
        available: String,
    },
    /// A column is listed under two overrides.
    #[error(
        "column `{column}` is listed in more than one of `data.discrete`, `data.continuous`, `data.keys`, `data.ignore` (or in both `data.keys` and `data.not_keys`)"
    )]
    ConflictingOverride {
        /// The column.
        column: String,
    },
    /// A column holds only nulls.
    #[error("column `{column}` holds only missing values; add it to `data.ignore`")]
    AllNull {
        /// The column.
        column: String,
    },
    /// A discrete column has more categories than one-hot encoding can sensibly hold.
    #[error(
        "column `{column}` has {count} distinct values, more than `data.max_categories` = {limit}; add it to `data.ignore` (e.g. an identifier) or raise the limit"
    )]
    TooManyCategories {
        /// The column.
        column: String,
        /// Its number of distinct values.
        count: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A numeric column holds an infinite value.
    #[error(
        "column `{column}` holds an infinite value at row {row}; remove or replace it (NaN is read as missing)"
    )]
    Infinite {
        /// The column.
        column: String,
        /// Zero-based data row.
        row: usize,
    },
    /// A number too large to model: the mixture squares values, so |x| above ~1e154 overflows,
    /// and an integer beyond 2^53 would not come back exactly.
    #[error(
        "column `{column}` holds {value} at row {row}, beyond what synth models exactly ({limit}); rescale the column, or add it to `data.ignore`"
    )]
    TooLarge {
        /// The column.
        column: String,
        /// Zero-based data row.
        row: usize,
        /// The value.
        value: f64,
        /// The limit that applies, in words.
        limit: &'static str,
    },
    /// `data.bounds` of a column cannot apply.
    #[error("`data.bounds` of column `{column}`: {reason}")]
    BadBounds {
        /// The column.
        column: String,
        /// Why.
        reason: String,
    },
    /// A value of a date or time column is not in the column's format.
    #[error(
        "column `{column}`: row {row} holds `{value}`, which is not a date or time in the format `{format}`; fix the value, give the column's format in `data.formats`, or set `data.on_unparseable = \"missing\"` to read such values as missing"
    )]
    Unparseable {
        /// The column.
        column: String,
        /// Zero-based data row.
        row: usize,
        /// The value.
        value: String,
        /// The format it was read with.
        format: String,
    },
    /// Most values of a text column are ISO dates or times, but not all.
    #[error(
        "column `{column}` looks like dates or times in the format `{format}`, but row {row} holds `{value}` (mixed formats?); give the column's format in `data.formats` and set `data.on_unparseable = \"missing\"` to read other values as missing, or list the column in `data.discrete` to keep it as text"
    )]
    MixedFormats {
        /// The column.
        column: String,
        /// The format most values are in.
        format: String,
        /// Zero-based data row of the first value in another format.
        row: usize,
        /// That value.
        value: String,
    },
    /// `data.formats` gives a column a format that cannot apply.
    #[error("`data.formats` of column `{column}`: {reason}")]
    BadFormat {
        /// The column.
        column: String,
        /// Why.
        reason: String,
    },
    /// A column named in `data.keys` repeats a value.
    #[error(
        "column `{column}` is listed in `data.keys` but rows {first} and {second} both hold `{value}`; a key's values must be unique (remove it from `data.keys`, or de-duplicate the data)"
    )]
    DuplicateKey {
        /// The column.
        column: String,
        /// Zero-based row of the first occurrence.
        first: usize,
        /// Zero-based row of the repeat.
        second: usize,
        /// The repeated value.
        value: String,
    },
    /// Every column is a key or ignored.
    #[error(
        "every column is a key or ignored ({columns}); nothing is left to model: list a column in `data.discrete` or `data.continuous` to model it"
    )]
    NothingToModel {
        /// The columns with their kinds.
        columns: String,
    },
    /// A metadata file (`data.metadata`) cannot describe the table.
    #[error("{path}: {message}")]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong, naming the column or key.
        message: String,
    },
    /// A column type the pipeline does not model.
    #[error(
        "column `{column}` has type {dtype}, which synth does not model; add it to `data.ignore`"
    )]
    UnsupportedDtype {
        /// The column.
        column: String,
        /// Polars' name of the type.
        dtype: String,
    },
    /// `data.continuous` names a non-numeric column.
    #[error(
        "column `{column}` is listed in `data.continuous` but holds {dtype} values; only numeric columns can be continuous"
    )]
    NotNumeric {
        /// The column.
        column: String,
        /// Polars' name of the type.
        dtype: String,
    },
    /// An image file could not be decoded.
    #[error(
        "{path}: not a readable image ({message}); fix or remove it, or set `data.on_corrupt = \"skip\"`"
    )]
    CorruptImage {
        /// The image file.
        path: PathBuf,
        /// The decoder's description.
        message: String,
    },
    /// An IDX file is malformed.
    #[error("{path}: not a valid IDX file: {message}")]
    Idx {
        /// The IDX file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A folder holds no PNG or JPEG image.
    #[error("{path}: no readable .png/.jpg/.jpeg images found (searched recursively)")]
    NoImages {
        /// The folder.
        path: PathBuf,
    },
    /// Image size or channel count out of range.
    #[error(
        "image size {size} with {channels} channels: the size must be positive and the channels 1 (grayscale) or 3 (RGB)"
    )]
    InvalidImageSpec {
        /// Requested size.
        size: u32,
        /// Requested channels.
        channels: u32,
    },
}

impl DataError {
    /// Maps a polars failure to read column `column`'s values to an error naming the column.
    pub(crate) fn reading(column: &str) -> impl Fn(polars::error::PolarsError) -> DataError + '_ {
        move |source| DataError::UnsupportedDtype {
            column: column.to_string(),
            dtype: source.to_string(),
        }
    }
}
