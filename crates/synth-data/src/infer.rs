//! Column kind inference and the user's overrides: numbers, categories, dates and times
//! (native, or ISO-8601 text), keys (identifiers, unique per row) and ignored columns.

use crate::keys::{MIN_KEY_ROWS, first_repeat, integer_stride, key_shape};
use crate::temporal::{
    OnUnparseable, detect_iso_format, format_dtype, format_value, has_offset, native_dtype,
    offset_of, parse_text,
};
use crate::{DataError, Result, temporal_values};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use synth_core::{ColumnKind, ColumnMeta, DType, KeyShape, TableMeta, decimals_of};

/// A bound in `data.bounds` or a metadata file: a number, or (for a date or time column) a
/// date or time written in the column's format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    /// A number (numeric columns).
    Number(f64),
    /// A date or time (temporal columns).
    Text(String),
}

/// The `[data]` overrides of inferred column kinds, and the inference limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnOverrides {
    /// Columns modelled as discrete whatever their type.
    pub discrete: Vec<String>,
    /// Numeric columns modelled as continuous even with few distinct values.
    pub continuous: Vec<String>,
    /// Identifier columns (integers or text, unique per row): left out of the model and
    /// regenerated as unique values of the same shape. Unique columns are detected without
    /// being listed: text, and integers that fill their range at their stride or whose name
    /// says they are an id (`id`, `customer_id`, `orderId`, `key`, `invoice_no`, ...).
    pub keys: Vec<String>,
    /// Columns never taken as keys, even when unique per row (a unique measurement whose
    /// name or values look like an id's); they are modelled as their kind says.
    pub not_keys: Vec<String>,
    /// Columns left out of the model; written back as missing values.
    pub ignore: Vec<String>,
    /// Personal text columns: learned as pseudonyms (discrete), written out as plausible
    /// fakes of the same kind (names, emails, phone numbers, addresses, or text of the same
    /// length and alphabet).
    pub pii: Vec<String>,
    /// Columns that look personal but are not: no warning for them.
    pub not_pii: Vec<String>,
    /// The same real value of a `pii` column comes out as the same fake (within an output,
    /// and in every output of the checkpoint); `false` draws a fresh fake for every row.
    pub pii_consistent: bool,
    /// An integer column with at most this many distinct values is inferred discrete.
    pub discrete_int_max_distinct: usize,
    /// A discrete column with more distinct values than this is an error (likely an identifier).
    pub max_categories: usize,
    /// `[min, max]` of continuous columns, replacing the data's range: decoded values are kept
    /// within these (with `enforce_min_max`), so they widen or narrow what comes out. Dates
    /// and times are given as text in the column's format.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bounds: BTreeMap<String, [Bound; 2]>,
    /// `chrono` formats of text columns that hold dates, times or timestamps (e.g.
    /// `"%d/%m/%Y"`); ISO-8601 text is recognised without one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub formats: BTreeMap<String, String>,
    /// A value of a date or time column that is not in its format: `fail` (an error naming
    /// the row) or `missing` (read as a missing value).
    pub on_unparseable: OnUnparseable,
}

impl Default for ColumnOverrides {
    fn default() -> Self {
        ColumnOverrides {
            discrete: Vec::new(),
            continuous: Vec::new(),
            keys: Vec::new(),
            not_keys: Vec::new(),
            ignore: Vec::new(),
            pii: Vec::new(),
            not_pii: Vec::new(),
            pii_consistent: true,
            discrete_int_max_distinct: 10,
            max_categories: 1000,
            bounds: BTreeMap::new(),
            formats: BTreeMap::new(),
            on_unparseable: OnUnparseable::Fail,
        }
    }
}

impl ColumnOverrides {
    /// True when any column is named: in a kind list, `bounds` or `formats`.
    pub fn names_columns(&self) -> bool {
        !(self.discrete.is_empty()
            && self.continuous.is_empty()
            && self.keys.is_empty()
            && self.not_keys.is_empty()
            && self.ignore.is_empty()
            && self.bounds.is_empty()
            && self.formats.is_empty())
    }
}

/// The synth type of a polars type, if it is one we model.
pub fn to_dtype(dtype: &DataType) -> Option<DType> {
    Some(match dtype {
        DataType::Boolean => DType::Bool,
        DataType::Int8 => DType::I8,
        DataType::Int16 => DType::I16,
        DataType::Int32 => DType::I32,
        DataType::Int64 => DType::I64,
        DataType::UInt8 => DType::U8,
        DataType::UInt16 => DType::U16,
        DataType::UInt32 => DType::U32,
        DataType::UInt64 => DType::U64,
        DataType::Float32 => DType::F32,
        DataType::Float64 => DType::F64,
        DataType::String => DType::Str,
        other => return native_dtype(other).map(|(dtype, _)| dtype),
    })
}

/// The polars type for a synth type (timestamps without a time zone).
pub fn polars_dtype(dtype: DType) -> DataType {
    match dtype {
        DType::Bool => DataType::Boolean,
        DType::I8 => DataType::Int8,
        DType::I16 => DataType::Int16,
        DType::I32 => DataType::Int32,
        DType::I64 => DataType::Int64,
        DType::U8 => DataType::UInt8,
        DType::U16 => DataType::UInt16,
        DType::U32 => DataType::UInt32,
        DType::U64 => DataType::UInt64,
        DType::F32 => DataType::Float32,
        DType::F64 => DataType::Float64,
        DType::Str => DataType::String,
        DType::Date => DataType::Date,
        DType::Time => DataType::Time,
        DType::DatetimeMs => DataType::Datetime(TimeUnit::Milliseconds, None),
        DType::DatetimeUs => DataType::Datetime(TimeUnit::Microseconds, None),
        DType::DatetimeNs => DataType::Datetime(TimeUnit::Nanoseconds, None),
    }
}

/// A numeric column's values as `f64`, with nulls and NaN both read as missing (`None`).
pub fn numeric_values(column: &Column) -> PolarsResult<Vec<Option<f64>>> {
    let cast = column.cast(&DataType::Float64)?;
    Ok(cast
        .f64()?
        .iter()
        .map(|v| v.filter(|x| !x.is_nan()))
        .collect())
}

/// The format a temporal column's dates and times are written in for people: its own for
/// text columns, ISO-8601 for native ones.
pub fn display_format(meta: &ColumnMeta) -> &str {
    match (&meta.format, meta.dtype) {
        (Some(format), _) => format,
        (None, DType::Date) => "%Y-%m-%d",
        (None, DType::Time) => "%H:%M:%S%.f",
        (None, _) => "%Y-%m-%dT%H:%M:%S%.f",
    }
}

/// A bound as a model value of the column `meta` (numbers for numeric columns, text in the
/// column's format for temporal ones).
pub fn bound_value(meta: &ColumnMeta, bound: &Bound) -> std::result::Result<f64, String> {
    match bound {
        Bound::Number(x) if !meta.dtype.is_temporal() => Ok(*x),
        Bound::Number(x) => Err(format!(
            "{x} is a number; give a {} column's bounds as text in its format `{}`",
            meta.dtype.name(),
            display_format(meta)
        )),
        Bound::Text(text) if meta.dtype.is_temporal() => {
            parse_text(text, display_format(meta), meta.dtype).ok_or_else(|| {
                format!(
                    "`{text}` is not in the column's format `{}`",
                    display_format(meta)
                )
            })
        }
        Bound::Text(text) => Err(format!("`{text}` is text; give numbers")),
    }
}

/// A model value of the column `meta` as a bound: a number, or a date or time in the
/// column's format (`None` outside the dates `chrono` represents). The inverse of
/// [`bound_value`].
pub fn bound_of(meta: &ColumnMeta, x: f64) -> Option<Bound> {
    if meta.dtype.is_temporal() {
        format_value(
            x,
            display_format(meta),
            meta.dtype,
            meta.time_zone.as_deref(),
        )
        .map(Bound::Text)
    } else {
        Some(Bound::Number(x))
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::Number(x) => write!(f, "{x}"),
            Bound::Text(text) => f.write_str(text),
        }
    }
}

/// Integers beyond 2^53 in magnitude lose their exact value as `f64`.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;
/// Floats beyond this overflow when the mixture squares them (about 1.8e308 / 1e154), with room.
const MAX_MODELLED_FLOAT: f64 = 1e150;

/// Describes every column of `df`: its kind (inferred, then overridden), storage type,
/// format, range, precision and missing share. Rejects columns that cannot be modelled,
/// naming them.
pub fn infer_meta(df: &DataFrame, overrides: &ColumnOverrides) -> Result<TableMeta> {
    check_override_names(df, overrides)?;
    let mut columns = Vec::new();
    for column in df.columns() {
        let meta = if overrides.ignore.iter().any(|c| c == column.name().as_str()) {
            ignored_column(column)
        } else {
            describe_column(column, overrides)?
        };
        tracing::info!(column = %meta.name, "{}", summary(&meta));
        columns.push(meta);
    }
    let meta = TableMeta { columns };
    if meta.modelled().next().is_none() {
        let columns = meta
            .columns
            .iter()
            .map(|c| format!("`{}` {}", c.name, c.kind.name()));
        return Err(DataError::NothingToModel {
            columns: columns.collect::<Vec<_>>().join(", "),
        });
    }
    Ok(meta)
}

/// One line describing what was inferred of a column, for the training log.
pub fn summary(meta: &ColumnMeta) -> String {
    let mut line = format!("{} {}", meta.kind.name(), meta.dtype.name());
    if let Some(format) = &meta.format {
        line += &format!(" in format {format}");
    }
    if let (Some(min), Some(max)) = (meta.min, meta.max) {
        let show = |x: f64| bound_of(meta, x).map(|b| b.to_string()).unwrap_or_default();
        line += &format!(", from {} to {}", show(min), show(max));
    }
    if let Some(places) = meta.decimals {
        line += &format!(", {places} decimals");
    }
    match &meta.key {
        Some(KeyShape::Integer { start, step }) => {
            line += &format!(
                ", regenerated as {start}, {}, ...",
                start.saturating_add(*step)
            )
        }
        Some(KeyShape::Text {
            prefix,
            digits,
            start,
        }) => {
            line += &format!(
                ", regenerated as {prefix}{start:0digits$}, {prefix}{:0digits$}, ...",
                start.saturating_add(1)
            )
        }
        None => {}
    }
    if meta.missing > 0.0 {
        line += &format!(", {:.1}% missing", 100.0 * meta.missing);
    }
    line
}

/// An ignored column: written back as missing values of its type (text when synth does not
/// know the type).
fn ignored_column(column: &Column) -> ColumnMeta {
    let (dtype, time_zone) = dtype_and_zone(column.dtype()).unwrap_or((DType::Str, None));
    ColumnMeta {
        time_zone,
        missing: missing_share(column.null_count(), column.len()),
        ..ColumnMeta::new(column.name().as_str(), ColumnKind::Ignored, dtype)
    }
}

/// The synth type of a polars type, with a timestamp's time zone.
fn dtype_and_zone(dtype: &DataType) -> Option<(DType, Option<String>)> {
    native_dtype(dtype).or_else(|| to_dtype(dtype).map(|d| (d, None)))
}

fn missing_share(missing: usize, rows: usize) -> f64 {
    missing as f64 / rows.max(1) as f64
}

fn describe_column(column: &Column, overrides: &ColumnOverrides) -> Result<ColumnMeta> {
    let name = column.name().to_string();
    let (dtype, time_zone) =
        dtype_and_zone(column.dtype()).ok_or_else(|| DataError::UnsupportedDtype {
            column: name.clone(),
            dtype: column.dtype().to_string(),
        })?;
    let mut meta = ColumnMeta {
        time_zone,
        ..ColumnMeta::new(name.clone(), ColumnKind::Continuous, dtype)
    };
    // personal columns hold pseudonyms by now: categories, never a key
    let forced_discrete = overrides.discrete.contains(&name) || overrides.pii.contains(&name);
    let forced_continuous = overrides.continuous.contains(&name);
    let forced_key = overrides.keys.contains(&name);
    if let Some(format) = overrides.formats.get(&name) {
        let bad = |reason: String| DataError::BadFormat {
            column: name.clone(),
            reason,
        };
        if dtype != DType::Str {
            return Err(bad(format!(
                "the column holds {} values, not text; only text columns take a format",
                column.dtype()
            )));
        }
        meta.dtype = format_dtype(format).map_err(bad)?;
        meta.format = Some(format.clone());
    } else if dtype == DType::Str && !forced_discrete && !forced_key {
        let text = column.str().map_err(DataError::reading(&name))?;
        match detect_iso_format(text) {
            Ok(Some((format, temporal))) => {
                meta.dtype = temporal;
                meta.format = Some(format.to_string());
            }
            Ok(None) => {}
            Err((format, row)) if overrides.on_unparseable == OnUnparseable::Fail => {
                return Err(DataError::MixedFormats {
                    column: name,
                    format: format.to_string(),
                    row,
                    value: text.get(row).unwrap_or_default().to_string(),
                });
            }
            Err((format, _)) => {
                meta.dtype = format_dtype(format).expect("an ISO format");
                meta.format = Some(format.to_string());
            }
        }
    }
    if let Some(format) = meta.format.as_deref().filter(|f| has_offset(f)) {
        // timestamps with a UTC offset are instants, written back at the first one's offset
        let text = column.str().map_err(DataError::reading(&name))?;
        meta.time_zone = text.iter().flatten().find_map(|v| offset_of(v, format));
    }
    if meta.dtype.is_temporal() && (forced_discrete || forced_key) {
        return Err(DataError::BadFormat {
            column: name,
            reason: "a date or time column is modelled as continuous; it cannot be listed in `data.discrete` or `data.keys`".into(),
        });
    }
    if forced_continuous && !(meta.dtype.is_numeric() || meta.dtype.is_temporal()) {
        return Err(DataError::NotNumeric {
            column: name,
            dtype: column.dtype().to_string(),
        });
    }

    let values = if meta.dtype.is_numeric() {
        Some(checked_numbers(column, &meta)?)
    } else if meta.dtype.is_temporal() {
        Some(temporal_values(column, &meta, overrides.on_unparseable)?)
    } else {
        None
    };
    let missing = values.as_ref().map_or(column.null_count(), |values| {
        values.iter().filter(|v| v.is_none()).count()
    });
    meta.missing = missing_share(missing, column.len());
    if let Some(format) = meta
        .format
        .as_ref()
        .filter(|_| missing > column.null_count())
    {
        tracing::warn!(column = %name, count = missing - column.null_count(), format = %format, "values that are not in the column's format are read as missing (data.on_unparseable = \"missing\")");
    }
    if let Some(values) = &values {
        let epsilon = if meta.dtype == DType::F32 {
            f64::from(f32::EPSILON)
        } else {
            f64::EPSILON
        };
        let mut places = Some(0);
        for &v in values.iter().flatten() {
            meta.min = Some(meta.min.map_or(v, |m: f64| m.min(v)));
            meta.max = Some(meta.max.map_or(v, |m: f64| m.max(v)));
            places = places.zip(decimals_of(v, epsilon)).map(|(a, b)| a.max(b));
        }
        if !meta.dtype.is_whole() {
            meta.decimals = places;
        }
    }
    if meta.missing == 1.0 {
        return Err(DataError::AllNull { column: name });
    }

    let distinct = column.n_unique().map_err(DataError::reading(&name))?;
    let present = column.len() - column.null_count();
    let unique = distinct - usize::from(column.null_count() > 0) == present;
    if forced_key {
        return key_column_meta(column, meta);
    }
    let keyable = meta.dtype.is_integer() || meta.dtype == DType::Str;
    // integer ids fill most of their range at their stride (1, 2, 3, ... or 10, 20, 30, ...,
    // some deleted); unique integers spread thinly over a wide range (amounts, epoch times)
    // are numbers, unless the column's name says it is an id
    let dense = match (meta.min, meta.max, &values) {
        (Some(min), Some(max), Some(values)) if meta.dtype.is_integer() => {
            let integers: Vec<i64> = values.iter().flatten().map(|&v| v as i64).collect();
            let stride = integer_stride(&integers) as f64;
            (max - min) / stride + 1.0 <= 2.0 * present as f64
        }
        _ => true,
    };
    let not_key = overrides.not_keys.contains(&name);
    if keyable
        && unique
        && (dense || names_an_id(&name))
        && present >= MIN_KEY_ROWS
        && !forced_discrete
        && !forced_continuous
        && !not_key
    {
        return key_column_meta(column, meta);
    }
    meta.kind = if forced_discrete {
        ColumnKind::Discrete
    } else if forced_continuous
        || meta.dtype.is_temporal()
        || matches!(meta.dtype, DType::F32 | DType::F64)
        || (meta.dtype.is_integer() && distinct > overrides.discrete_int_max_distinct)
    {
        ColumnKind::Continuous
    } else {
        ColumnKind::Discrete
    };
    if meta.kind == ColumnKind::Continuous
        && meta.dtype.is_integer()
        && !forced_continuous
        && unique
        && distinct > overrides.max_categories
    {
        tracing::warn!(
            column = %name,
            distinct,
            "every value of this integer column is different, like an identifier's, but they spread over a wide range and its name does not say id; it is modelled as a continuous number (list it in data.keys if it is an id, in data.not_keys to silence this)"
        );
    }
    if meta.kind != ColumnKind::Continuous {
        (meta.min, meta.max, meta.decimals) = (None, None, None);
    }
    if let Some([low, high]) = overrides.bounds.get(&name) {
        let bad = |reason: String| DataError::BadBounds {
            column: name.clone(),
            reason,
        };
        if meta.kind != ColumnKind::Continuous {
            return Err(bad("the column is not continuous".into()));
        }
        let (low, high) = (
            bound_value(&meta, low).map_err(bad)?,
            bound_value(&meta, high).map_err(bad)?,
        );
        if !(low.is_finite() && high.is_finite() && low <= high) {
            return Err(bad(format!(
                "[{low}, {high}] is not a finite range with min <= max"
            )));
        }
        (meta.min, meta.max) = (Some(low), Some(high));
    }
    if meta.kind == ColumnKind::Discrete && distinct > overrides.max_categories {
        return Err(DataError::TooManyCategories {
            column: name,
            count: distinct,
            limit: overrides.max_categories,
        });
    }
    Ok(meta)
}

/// Whether a column's name says it holds identifiers: `id`, `uuid`, `key`, or ending in
/// `_id`, `-id`, ` id`, `Id`, `ID`, `_key`, `_no`, `_nr` or `_number` (any case for the
/// separated forms).
fn names_an_id(name: &str) -> bool {
    let lower = name.to_lowercase();
    if matches!(lower.as_str(), "id" | "uuid" | "key") {
        return true;
    }
    let camel = name.len() > 2 && (name.ends_with("Id") || name.ends_with("ID"));
    let separated = ["id", "key", "no", "nr", "number"].iter().any(|word| {
        ["_", "-", " "]
            .iter()
            .any(|sep| lower.ends_with(&format!("{sep}{word}")))
    });
    camel || separated
}

/// `meta` as a key column, after checking its values are unique integers or text.
fn key_column_meta(column: &Column, meta: ColumnMeta) -> Result<ColumnMeta> {
    let name = meta.name.clone();
    if !(meta.dtype.is_integer() || meta.dtype == DType::Str) {
        return Err(DataError::BadFormat {
            column: name,
            reason: format!(
                "only integer and text columns can be keys, this one holds {} values",
                column.dtype()
            ),
        });
    }
    if let Some((first, second, value)) = first_repeat(column).map_err(DataError::reading(&name))? {
        return Err(DataError::DuplicateKey {
            column: name,
            first,
            second,
            value,
        });
    }
    let key = key_shape(column, meta.dtype).map_err(DataError::reading(&name))?;
    Ok(ColumnMeta {
        key: Some(key),
        missing: meta.missing,
        ..ColumnMeta::new(name, ColumnKind::Key, meta.dtype)
    })
}

/// A numeric column's values, after checking none is infinite or too large to model.
fn checked_numbers(column: &Column, meta: &ColumnMeta) -> Result<Vec<Option<f64>>> {
    let name = &meta.name;
    let values = numeric_values(column).map_err(DataError::reading(name))?;
    if let Some(row) = values.iter().position(|v| v.is_some_and(f64::is_infinite)) {
        return Err(DataError::Infinite {
            column: name.clone(),
            row,
        });
    }
    let limit = if meta.dtype.is_integer() {
        (MAX_EXACT_INTEGER, "integers up to 2^53 in magnitude")
    } else {
        (MAX_MODELLED_FLOAT, "numbers up to 1e150 in magnitude")
    };
    if let Some((row, value)) = values
        .iter()
        .enumerate()
        .find_map(|(row, v)| v.filter(|x| x.abs() > limit.0).map(|x| (row, x)))
    {
        return Err(DataError::TooLarge {
            column: name.clone(),
            row,
            value,
            limit: limit.1,
        });
    }
    Ok(values)
}

/// Checks that every column the overrides name is in `df`, and that no column is given
/// contradicting overrides.
pub(crate) fn check_override_names(df: &DataFrame, overrides: &ColumnOverrides) -> Result<()> {
    let names: Vec<&str> = df.columns().iter().map(|c| c.name().as_str()).collect();
    for (key, mut listed) in [
        (
            "bounds",
            Box::new(overrides.bounds.keys()) as Box<dyn Iterator<Item = &String>>,
        ),
        ("formats", Box::new(overrides.formats.keys())),
        ("not_keys", Box::new(overrides.not_keys.iter())),
        ("pii", Box::new(overrides.pii.iter())),
        ("not_pii", Box::new(overrides.not_pii.iter())),
    ] {
        if let Some(column) = listed.find(|c| !names.contains(&c.as_str())) {
            return Err(DataError::UnknownColumn {
                key,
                column: column.clone(),
                available: names.join(", "),
            });
        }
    }
    let mut seen = HashSet::new();
    for (key, list) in [
        ("discrete", &overrides.discrete),
        ("continuous", &overrides.continuous),
        ("keys", &overrides.keys),
        ("ignore", &overrides.ignore),
    ] {
        for column in list {
            if !names.contains(&column.as_str()) {
                return Err(DataError::UnknownColumn {
                    key,
                    column: column.clone(),
                    available: names.join(", "),
                });
            }
            if !seen.insert(column.as_str()) {
                return Err(DataError::ConflictingOverride {
                    column: column.clone(),
                });
            }
        }
    }
    if let Some(column) = overrides.pii.iter().find(|c| {
        [
            &overrides.not_pii,
            &overrides.keys,
            &overrides.continuous,
            &overrides.ignore,
        ]
        .iter()
        .any(|list| list.contains(c))
    }) {
        return Err(DataError::BadFormat {
            column: column.clone(),
            reason: "a `data.pii` column is learned as pseudonyms (discrete) and written as fakes; leave it out of `data.not_pii`, `data.keys`, `data.continuous` and `data.ignore`".into(),
        });
    }
    if let Some(column) = overrides
        .not_keys
        .iter()
        .find(|c| overrides.keys.contains(c))
    {
        return Err(DataError::ConflictingOverride {
            column: column.clone(),
        });
    }
    if let Some(column) = overrides
        .ignore
        .iter()
        .find(|c| overrides.bounds.contains_key(*c))
    {
        return Err(DataError::BadBounds {
            column: column.clone(),
            reason: "the column is in `data.ignore`".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> DataFrame {
        df!(
            "age" => [23i64, 35, 47, 51, 62, 19, 28, 33, 44, 55, 66, 71],
            "kids" => [0i64, 1, 2, 0, 1, 2, 0, 1, 3, 0, 1, 2],
            "income" => [1.5f64, 2.5, 3.5, 4.0, 2.0, 1.0, 0.5, 9.0, 3.0, 2.2, 1.1, 0.7],
            "city" => ["a", "b", "a", "c", "a", "b", "a", "c", "a", "b", "a", "c"],
            "member" => [true, false, true, true, false, true, true, false, true, true, false, true]
        )
        .unwrap()
    }

    fn kinds(meta: &TableMeta) -> Vec<(&str, ColumnKind)> {
        meta.columns
            .iter()
            .map(|c| (c.name.as_str(), c.kind))
            .collect()
    }

    #[test]
    fn infers_kinds_dtypes_and_ranges() {
        let meta = infer_meta(&frame(), &ColumnOverrides::default()).unwrap();
        use ColumnKind::*;
        assert_eq!(
            kinds(&meta),
            [
                ("age", Continuous),
                ("kids", Discrete),
                ("income", Continuous),
                ("city", Discrete),
                ("member", Discrete)
            ]
        );
        let age = meta.column("age").unwrap();
        assert_eq!(
            (age.dtype, age.min, age.max),
            (DType::I64, Some(19.0), Some(71.0))
        );
        assert_eq!(meta.column("member").unwrap().dtype, DType::Bool);
    }

    /// `data.bounds` replaces a continuous column's range; it must name a continuous, kept
    /// column of the table with a finite `min <= max`.
    #[test]
    fn bounds_replace_the_range_or_are_named_errors() {
        let with = |column: &str, range: [f64; 2]| ColumnOverrides {
            bounds: [(column.to_string(), range.map(Bound::Number))].into(),
            ..ColumnOverrides::default()
        };
        let meta = infer_meta(&frame(), &with("age", [0.0, 120.0])).unwrap();
        let age = meta.column("age").unwrap();
        assert_eq!((age.min, age.max), (Some(0.0), Some(120.0)));
        assert_eq!(
            meta.column("income").unwrap().max,
            Some(9.0),
            "others keep theirs"
        );
        for (overrides, expected) in [
            (
                with("city", [0.0, 1.0]),
                "`city`: the column is not continuous",
            ),
            (
                with("age", [50.0, 20.0]),
                "`age`: [50, 20] is not a finite range",
            ),
            (with("age", [0.0, f64::INFINITY]), "is not a finite range"),
            (with("zip", [0.0, 1.0]), "zip"),
            (
                ColumnOverrides {
                    ignore: vec!["age".into()],
                    ..with("age", [0.0, 1.0])
                },
                "`age`: the column is in `data.ignore`",
            ),
        ] {
            let err = infer_meta(&frame(), &overrides).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    /// Precision is learned per float column: the most places any value needs; integers and
    /// numbers that need more than ten places get none.
    #[test]
    fn learns_each_float_columns_decimals() {
        let meta = infer_meta(&frame(), &ColumnOverrides::default()).unwrap();
        assert_eq!(meta.column("income").unwrap().decimals, Some(1));
        assert_eq!(meta.column("age").unwrap().decimals, None);
        let df = df!(
            "amount" => [12.35f64, 7.0, 1999.99, 0.05],
            "ratio" => [1.0f64 / 3.0, 0.5, 0.25, 1.0],
            "small" => [0.1f32, 0.25, 1.125, 3.0]
        )
        .unwrap();
        let meta = infer_meta(&df, &ColumnOverrides::default()).unwrap();
        let places = |c: &str| meta.column(c).unwrap().decimals;
        assert_eq!(places("amount"), Some(2));
        assert_eq!(places("ratio"), None);
        // 0.1f32 widened to f64 is 0.100000001490116..., one place within f32's precision
        assert_eq!(places("small"), Some(3));
    }

    #[test]
    fn overrides_change_kinds_and_drop_columns() {
        let ov = ColumnOverrides {
            discrete: vec!["age".into()],
            continuous: vec!["kids".into()],
            ignore: vec!["city".into()],
            ..Default::default()
        };
        let meta = infer_meta(&frame(), &ov).unwrap();
        use ColumnKind::*;
        assert_eq!(
            kinds(&meta),
            [
                ("age", Discrete),
                ("kids", Continuous),
                ("income", Continuous),
                ("city", Ignored),
                ("member", Discrete)
            ]
        );
    }

    #[test]
    fn unknown_override_column_is_named() {
        let ov = ColumnOverrides {
            discrete: vec!["agee".into()],
            ..Default::default()
        };
        let msg = infer_meta(&frame(), &ov).unwrap_err().to_string();
        assert!(
            msg.contains("agee") && msg.contains("data.discrete") && msg.contains("age"),
            "{msg}"
        );
    }

    #[test]
    fn conflicting_and_non_numeric_overrides_are_errors() {
        let ov = ColumnOverrides {
            discrete: vec!["age".into()],
            ignore: vec!["age".into()],
            ..Default::default()
        };
        assert!(matches!(
            infer_meta(&frame(), &ov),
            Err(DataError::ConflictingOverride { .. })
        ));
        let ov = ColumnOverrides {
            continuous: vec!["city".into()],
            ..Default::default()
        };
        assert!(matches!(
            infer_meta(&frame(), &ov),
            Err(DataError::NotNumeric { .. })
        ));
    }

    #[test]
    fn a_table_of_keys_and_ignored_columns_is_an_error() {
        let df = df!("id" => (0..30i64).collect::<Vec<_>>(), "x" => [1.5f64; 30]).unwrap();
        let ov = ColumnOverrides {
            ignore: vec!["x".into()],
            ..Default::default()
        };
        let err = infer_meta(&df, &ov).unwrap_err().to_string();
        assert!(
            err.contains("`id` key, `x` ignored") && err.contains("nothing is left"),
            "{err}"
        );
    }

    #[test]
    fn all_null_column_is_an_error() {
        let df = df!("a" => [1.0f64, 2.0], "b" => [None::<&str>, None]).unwrap();
        let msg = infer_meta(&df, &ColumnOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`b`") && msg.contains("data.ignore"), "{msg}");
        let df = df!("a" => [None::<f64>, Some(f64::NAN)]).unwrap();
        assert!(matches!(
            infer_meta(&df, &ColumnOverrides::default()),
            Err(DataError::AllNull { .. })
        ));
    }

    #[test]
    fn infinite_value_is_an_error_nan_is_missing() {
        let df = df!("x" => [1.0f64, f64::INFINITY, 3.0]).unwrap();
        let err = infer_meta(&df, &ColumnOverrides::default()).unwrap_err();
        assert!(
            matches!(err, DataError::Infinite { ref column, row: 1 } if column == "x"),
            "{err}"
        );
        let df = df!("x" => [1.0f64, f64::NAN, 3.0]).unwrap();
        let meta = infer_meta(&df, &ColumnOverrides::default()).unwrap();
        assert_eq!(
            (meta.columns[0].min, meta.columns[0].max),
            (Some(1.0), Some(3.0))
        );
        assert_eq!(
            numeric_values(df.column("x").unwrap()).unwrap(),
            [Some(1.0), None, Some(3.0)]
        );
    }

    /// Unique text, and unique integers that fill their range, are keys; unique integers
    /// spread over a wide range are numbers; overrides decide either way.
    #[test]
    fn keys_are_detected_and_described() {
        let ids: Vec<String> = (0..50_000).map(|i| format!("id-{i:05}")).collect();
        let sequence: Vec<i64> = (0..50_000).map(|i| 1000 + 2 * i).collect();
        let spread: Vec<i64> = (0..50_000).map(|i| i * 1_000_003 + i % 7).collect();
        let df = df!("id" => ids, "n" => sequence, "amount" => spread).unwrap();
        let meta = infer_meta(&df, &ColumnOverrides::default()).unwrap();
        use synth_core::KeyShape;
        let id = meta.column("id").unwrap();
        assert_eq!(id.kind, ColumnKind::Key);
        assert_eq!(
            id.key,
            Some(KeyShape::Text {
                prefix: "id-".into(),
                digits: 5,
                start: 0
            })
        );
        let n = meta.column("n").unwrap();
        assert_eq!(
            (n.kind, &n.key),
            (
                ColumnKind::Key,
                &Some(KeyShape::Integer {
                    start: 1000,
                    step: 2
                })
            )
        );
        assert_eq!(meta.column("amount").unwrap().kind, ColumnKind::Continuous);

        let ov = ColumnOverrides {
            continuous: vec!["n".into()],
            keys: vec!["amount".into()],
            ignore: vec!["id".into()],
            ..Default::default()
        };
        let meta = infer_meta(&df, &ov).unwrap();
        assert_eq!(
            kinds(&meta),
            [
                ("id", ColumnKind::Ignored),
                ("n", ColumnKind::Continuous),
                ("amount", ColumnKind::Key)
            ]
        );
        // ids with gaps: issued ten apart and most deleted (sparse even at their stride),
        // they are a key by name; the same values under another name are a measurement,
        // and data.not_keys keeps a named column a number
        let sparse: Vec<i64> = (0..100).map(|i| 70 + 10 * (i * i)).collect();
        let ids =
            df!("order_id" => sparse.clone(), "weight" => sparse.clone(), "customerId" => sparse)
                .unwrap();
        let id_meta = infer_meta(&ids, &ColumnOverrides::default()).unwrap();
        assert_eq!(
            id_meta.column("order_id").unwrap().key,
            Some(KeyShape::Integer {
                start: 70,
                step: 10
            })
        );
        assert_eq!(id_meta.column("customerId").unwrap().kind, ColumnKind::Key);
        assert_eq!(
            id_meta.column("weight").unwrap().kind,
            ColumnKind::Continuous
        );
        let ov = ColumnOverrides {
            not_keys: vec!["order_id".into()],
            ..Default::default()
        };
        let id_meta = infer_meta(&ids, &ov).unwrap();
        assert_eq!(
            id_meta.column("order_id").unwrap().kind,
            ColumnKind::Continuous
        );
        for (name, id) in [
            ("id", true),
            ("Invoice No", true),
            ("user-key", true),
            ("UUID", true),
            ("ID", true),
            ("paid", false),
            ("kidney", false),
            ("monkey", false),
            ("width", false),
        ] {
            assert_eq!(names_an_id(name), id, "{name}");
        }
        let both = ColumnOverrides {
            keys: vec!["weight".into()],
            not_keys: vec!["weight".into()],
            ..Default::default()
        };
        let error = infer_meta(&ids, &both).unwrap_err().to_string();
        assert!(
            error.contains("`weight`") && error.contains("data.not_keys"),
            "{error}"
        );
    }

    #[test]
    fn listed_keys_must_be_unique_integers_or_text() {
        let df = df!(
            "id" => [Some(5i64), Some(6), None, Some(5)],
            "x" => [1.5f64, 2.5, 3.5, 4.5]
        )
        .unwrap();
        let keys = |column: &str| ColumnOverrides {
            keys: vec![column.into()],
            ..Default::default()
        };
        let err = infer_meta(&df, &keys("id")).unwrap_err().to_string();
        assert!(
            err.contains("`id`") && err.contains("rows 0 and 3") && err.contains("`5`"),
            "{err}"
        );
        let err = infer_meta(&df, &keys("x")).unwrap_err().to_string();
        assert!(
            err.contains("`x`") && err.contains("only integer and text"),
            "{err}"
        );
        let df = df!("id" => [Some(5i64), Some(6), None, Some(7)], "x" => [1.5f64, 2.5, 3.5, 4.5])
            .unwrap();
        let meta = infer_meta(&df, &keys("id")).unwrap();
        assert_eq!(
            (meta.columns[0].kind, meta.columns[0].missing),
            (ColumnKind::Key, 0.25)
        );
    }

    /// ISO text and native columns become continuous dates and times with their format,
    /// range (days or seconds), precision and missing share.
    #[test]
    fn dates_and_times_are_recognised() {
        let df = df!(
            "day" => [Some("2024-01-01"), Some("2024-01-31"), None, Some("2024-01-10")],
            "at" => ["2024-01-01T10:00:00.5", "2024-01-01T10:00:01", "2024-01-01T09:00:00", "2024-01-01T10:00:00"],
            "clock" => ["08:00", "09:30", "23:59", "00:00"],
            "eu" => ["01/02/2024", "02/02/2024", "03/02/2024", "04/02/2024"]
        )
        .unwrap();
        let ov = ColumnOverrides {
            formats: [("eu".to_string(), "%d/%m/%Y".to_string())].into(),
            ..Default::default()
        };
        let meta = infer_meta(&df, &ov).unwrap();
        let day = meta.column("day").unwrap();
        assert_eq!(
            (day.kind, day.dtype, day.format.as_deref()),
            (ColumnKind::Continuous, DType::Date, Some("%Y-%m-%d"))
        );
        assert_eq!(
            (day.min, day.max, day.missing),
            (Some(19_723.0), Some(19_753.0), 0.25)
        );
        let at = meta.column("at").unwrap();
        assert_eq!((at.dtype, at.decimals), (DType::DatetimeUs, Some(1)));
        assert_eq!(at.min, Some(1_704_099_600.0));
        let clock = meta.column("clock").unwrap();
        assert_eq!(
            (clock.dtype, clock.min, clock.max),
            (DType::Time, Some(0.0), Some(86_340.0))
        );
        let eu = meta.column("eu").unwrap();
        assert_eq!((eu.dtype, eu.min), (DType::Date, Some(19_754.0)));
        let bounded = ColumnOverrides {
            bounds: [(
                "day".to_string(),
                [
                    Bound::Text("2023-12-31".into()),
                    Bound::Text("2024-12-31".into()),
                ],
            )]
            .into(),
            ..ov
        };
        let day = infer_meta(&df, &bounded)
            .unwrap()
            .column("day")
            .unwrap()
            .clone();
        assert_eq!((day.min, day.max), (Some(19_722.0), Some(20_088.0)));
    }

    #[test]
    fn bad_dates_are_named() {
        let df = df!(
            "day" => ["2024-01-01", "2024-01-02", "2024-01-03", "02/01/2024"],
            "eu" => ["01/02/2024", "02/02/2024", "31/02/2024", "04/02/2024"]
        )
        .unwrap();
        let err = infer_meta(
            &df,
            &ColumnOverrides {
                ignore: vec!["eu".into()],
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`day`")
                && err.contains("row 3")
                && err.contains("02/01/2024")
                && err.contains("data.formats"),
            "{err}"
        );
        let ov = ColumnOverrides {
            formats: [("eu".to_string(), "%d/%m/%Y".to_string())].into(),
            ignore: vec!["day".into()],
            ..Default::default()
        };
        let err = infer_meta(&df, &ov).unwrap_err().to_string();
        assert!(
            err.contains("`eu`") && err.contains("row 2") && err.contains("31/02/2024"),
            "{err}"
        );
        let lenient = ColumnOverrides {
            on_unparseable: OnUnparseable::Missing,
            ignore: vec![],
            ..ov
        };
        let meta = infer_meta(&df, &lenient).unwrap();
        assert_eq!(meta.column("day").unwrap().missing, 0.25);
        assert_eq!(meta.column("eu").unwrap().missing, 0.25);
        for (column, other, format, expected) in [
            ("eu", "day", "%Q", "not a valid"),
            ("day", "eu", "%Y", "does not describe"),
        ] {
            let ov = ColumnOverrides {
                formats: [(column.to_string(), format.to_string())].into(),
                ignore: vec![other.into()],
                ..Default::default()
            };
            let err = infer_meta(&df, &ov).unwrap_err().to_string();
            assert!(
                err.contains(&format!("`{column}`")) && err.contains(expected),
                "{err}"
            );
        }
    }

    #[test]
    fn numbers_beyond_exact_modelling_are_refused() {
        let df = df!("x" => [1.0f64, -3e200, 2.0]).unwrap();
        let err = infer_meta(&df, &ColumnOverrides::default()).unwrap_err();
        assert!(
            matches!(&err, DataError::TooLarge { column, row: 1, .. } if column == "x"),
            "{err}"
        );
        assert!(
            err.to_string().contains("`x`") && err.to_string().contains("row 1"),
            "{err}"
        );
        let big = (1i64 << 53) + 1;
        let ids: Vec<i64> = (0..20).map(|i| big + i).collect();
        let err = infer_meta(&df!("id" => ids).unwrap(), &ColumnOverrides::default()).unwrap_err();
        assert!(err.to_string().contains("2^53"), "{err}");
        let df = df!("x" => [1e149f64, -2.0], "n" => [1i64 << 53, 0]).unwrap();
        assert!(infer_meta(&df, &ColumnOverrides::default()).is_ok());
    }

    #[test]
    fn dtype_mapping_round_trips() {
        for d in [
            DType::Bool,
            DType::I8,
            DType::I32,
            DType::I64,
            DType::U8,
            DType::U32,
            DType::F32,
            DType::F64,
            DType::Str,
        ] {
            assert_eq!(to_dtype(&polars_dtype(d)), Some(d));
        }
    }
}
