//! Column kind inference and the user's overrides.

use crate::{DataError, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use synth_core::{ColumnKind, ColumnMeta, DType, TableMeta, decimals_of};

/// The `[data]` overrides of inferred column kinds, and the inference limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnOverrides {
    /// Columns modelled as discrete whatever their type.
    pub discrete: Vec<String>,
    /// Numeric columns modelled as continuous even with few distinct values.
    pub continuous: Vec<String>,
    /// Columns left out of the model (and of the synthetic output).
    pub ignore: Vec<String>,
    /// An integer column with at most this many distinct values is inferred discrete.
    pub discrete_int_max_distinct: usize,
    /// A discrete column with more distinct values than this is an error (likely an identifier).
    pub max_categories: usize,
    /// `[min, max]` of continuous columns, replacing the data's range: decoded values are kept
    /// within these (with `enforce_min_max`), so they widen or narrow what comes out.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bounds: BTreeMap<String, [f64; 2]>,
}

impl Default for ColumnOverrides {
    fn default() -> Self {
        ColumnOverrides {
            discrete: Vec::new(),
            continuous: Vec::new(),
            ignore: Vec::new(),
            discrete_int_max_distinct: 10,
            max_categories: 1000,
            bounds: BTreeMap::new(),
        }
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
        _ => return None,
    })
}

/// The polars type for a synth type.
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

/// Integers beyond 2^53 in magnitude lose their exact value as `f64`.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;
/// Floats beyond this overflow when the mixture squares them (about 1.8e308 / 1e154), with room.
const MAX_MODELLED_FLOAT: f64 = 1e150;

/// Describes every column of `df` that is not ignored: its kind (inferred, then overridden),
/// storage type and numeric range. Rejects columns that cannot be modelled, naming them.
pub fn infer_meta(df: &DataFrame, overrides: &ColumnOverrides) -> Result<TableMeta> {
    check_override_names(df, overrides)?;
    let ignored: HashSet<&str> = overrides.ignore.iter().map(String::as_str).collect();
    let mut columns = Vec::new();
    for column in df.columns() {
        let name = column.name().as_str();
        if ignored.contains(name) {
            continue;
        }
        columns.push(describe_column(column, overrides)?);
    }
    Ok(TableMeta { columns })
}

fn describe_column(column: &Column, overrides: &ColumnOverrides) -> Result<ColumnMeta> {
    let name = column.name().to_string();
    let polars_err = |source: PolarsError| DataError::UnsupportedDtype {
        column: name.clone(),
        dtype: source.to_string(),
    };
    let dtype = to_dtype(column.dtype()).ok_or_else(|| DataError::UnsupportedDtype {
        column: name.clone(),
        dtype: column.dtype().to_string(),
    })?;
    let (mut min, mut max, mut decimals) = (None, None, None);
    if dtype.is_numeric() {
        let values = numeric_values(column).map_err(polars_err)?;
        if let Some(row) = values.iter().position(|v| v.is_some_and(f64::is_infinite)) {
            return Err(DataError::Infinite { column: name, row });
        }
        let limit = if dtype.is_integer() {
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
                column: name,
                row,
                value,
                limit: limit.1,
            });
        }
        let epsilon = if dtype == DType::F32 {
            f64::from(f32::EPSILON)
        } else {
            f64::EPSILON
        };
        let mut places = Some(0);
        for v in values.into_iter().flatten() {
            min = Some(min.map_or(v, |m: f64| m.min(v)));
            max = Some(max.map_or(v, |m: f64| m.max(v)));
            if !dtype.is_integer() {
                places = places.zip(decimals_of(v, epsilon)).map(|(a, b)| a.max(b));
            }
        }
        if !dtype.is_integer() {
            decimals = places;
        }
        if min.is_none() {
            return Err(DataError::AllNull { column: name });
        }
    } else if column.null_count() == column.len() {
        return Err(DataError::AllNull { column: name });
    }

    let forced_discrete = overrides.discrete.contains(&name);
    let forced_continuous = overrides.continuous.contains(&name);
    if forced_continuous && !dtype.is_numeric() {
        return Err(DataError::NotNumeric {
            column: name,
            dtype: column.dtype().to_string(),
        });
    }
    let distinct = column.n_unique().map_err(polars_err)?;
    let kind = if forced_discrete {
        ColumnKind::Discrete
    } else if forced_continuous
        || matches!(dtype, DType::F32 | DType::F64)
        || (dtype.is_integer() && distinct > overrides.discrete_int_max_distinct)
    {
        ColumnKind::Continuous
    } else {
        ColumnKind::Discrete
    };
    if kind == ColumnKind::Continuous
        && dtype.is_integer()
        && !forced_continuous
        && distinct == column.len()
        && distinct > overrides.max_categories
    {
        tracing::warn!(
            column = %name,
            distinct,
            "every value of this integer column is different, like an identifier's; it is modelled as a continuous number (add it to data.ignore if it is an id)"
        );
    }
    if let Some(&[low, high]) = overrides.bounds.get(&name) {
        if kind != ColumnKind::Continuous {
            return Err(DataError::BadBounds {
                column: name,
                reason: "the column is not continuous".into(),
            });
        }
        if !(low.is_finite() && high.is_finite() && low <= high) {
            return Err(DataError::BadBounds {
                column: name,
                reason: format!("[{low}, {high}] is not a finite range with min <= max"),
            });
        }
        (min, max) = (Some(low), Some(high));
    }
    if kind == ColumnKind::Discrete && distinct > overrides.max_categories {
        return Err(DataError::TooManyCategories {
            column: name,
            count: distinct,
            limit: overrides.max_categories,
        });
    }
    Ok(ColumnMeta {
        name,
        kind,
        dtype,
        min,
        max,
        decimals,
    })
}

fn check_override_names(df: &DataFrame, overrides: &ColumnOverrides) -> Result<()> {
    let names: Vec<&str> = df.columns().iter().map(|c| c.name().as_str()).collect();
    if let Some(column) = overrides
        .bounds
        .keys()
        .find(|c| !names.contains(&c.as_str()))
    {
        return Err(DataError::UnknownColumn {
            key: "bounds",
            column: column.clone(),
            available: names.join(", "),
        });
    }
    let mut seen = HashSet::new();
    for (key, list) in [
        ("discrete", &overrides.discrete),
        ("continuous", &overrides.continuous),
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
            bounds: [(column.to_string(), range)].into(),
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

    #[test]
    fn identifier_like_column_is_rejected() {
        let ids: Vec<String> = (0..50_000).map(|i| format!("id-{i}")).collect();
        let df = df!("id" => ids).unwrap();
        let msg = infer_meta(&df, &ColumnOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`id`") && msg.contains("50000"), "{msg}");
        let ov = ColumnOverrides {
            ignore: vec!["id".into()],
            ..Default::default()
        };
        assert!(infer_meta(&df, &ov).unwrap().columns.is_empty());
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
