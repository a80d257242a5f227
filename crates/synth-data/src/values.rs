//! A column's cells as the models see them, and back: category labels of discrete columns,
//! model values (numbers; dates and times as days or seconds) of continuous ones.

use crate::{
    DataError, OnUnparseable, numeric_values, polars_dtype, temporal_column, temporal_values,
};
use polars::prelude::*;
use synth_core::{ColumnMeta, DType, round_to};

/// A discrete column's cells as category labels (integers without a fraction, `true` and
/// `false`, text as it is), `None` for missing cells.
pub fn category_labels(meta: &ColumnMeta, column: &Column) -> PolarsResult<Vec<Option<String>>> {
    if meta.dtype.is_numeric() {
        let integer = meta.dtype.is_integer();
        return Ok(numeric_values(column)?
            .into_iter()
            .map(|v| {
                v.map(|x| {
                    if integer {
                        format!("{}", x as i64)
                    } else {
                        format!("{x}")
                    }
                })
            })
            .collect());
    }
    let text = column.cast(&DataType::String)?;
    Ok(text.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

/// The column of `meta`'s type holding category labels (the inverse of
/// [`category_labels`]).
pub fn labels_column<'a>(
    meta: &ColumnMeta,
    labels: impl Iterator<Item = Option<&'a str>>,
) -> PolarsResult<Series> {
    let name = meta.name.as_str().into();
    match meta.dtype {
        DType::Bool => Ok(Series::new(
            name,
            labels.map(|v| v.map(|s| s == "true")).collect::<Vec<_>>(),
        )),
        DType::Str => Ok(Series::new(name, labels.collect::<Vec<_>>())),
        numeric => {
            Series::new(name, labels.collect::<Vec<_>>()).strict_cast(&polars_dtype(numeric))
        }
    }
}

/// A numeric, date or time column's model values: numbers (NaN as missing), dates as days
/// and times as seconds. Text that does not parse in the column's format is missing:
/// inference has already refused it unless `data.on_unparseable = "missing"`.
pub fn model_values(meta: &ColumnMeta, column: &Column) -> crate::Result<Vec<Option<f64>>> {
    if meta.dtype.is_temporal() {
        temporal_values(column, meta, OnUnparseable::Missing)
    } else {
        numeric_values(column).map_err(DataError::reading(&meta.name))
    }
}

/// A continuous column of `meta`'s type holding `values` (days or seconds for dates and
/// times), each kept within the column's range when `enforce_min_max` and rounded to its
/// decimal places.
pub fn numbers_column(
    meta: &ColumnMeta,
    mut values: Vec<Option<f64>>,
    enforce_min_max: bool,
) -> PolarsResult<Series> {
    for x in values.iter_mut().flatten() {
        if enforce_min_max {
            *x = x.clamp(meta.min.unwrap_or(*x), meta.max.unwrap_or(*x));
        }
        if let Some(places) = meta.places() {
            *x = round_to(*x, places);
        }
    }
    if meta.dtype.is_temporal() {
        return temporal_column(meta, &values);
    }
    Series::new(meta.name.as_str().into(), values).cast(&polars_dtype(meta.dtype))
}
