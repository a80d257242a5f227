//! The real, synthetic and holdout tables aligned on one schema: numbers as `f64` (NaN for
//! missing), categories as codes into one code book shared by the three tables.

use crate::{EvalError, Result};
use polars::prelude::*;
use std::collections::HashMap;
use synth_core::{ColumnKind, DType, TableMeta};
use synth_data::{OnUnparseable, column_dtype, display_format, temporal_values};

/// The code of a missing category.
pub const MISSING: u32 = u32::MAX;

/// One column's values in one table.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// A continuous column: NaN marks a missing value.
    Numeric(Vec<f64>),
    /// A discrete column: codes into [`SchemaColumn::levels`], [`MISSING`] for missing.
    Categorical(Vec<u32>),
}

/// One table, column by column in schema order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Number of rows.
    pub rows: usize,
    /// The columns, in the order of [`Schema::columns`].
    pub columns: Vec<Values>,
}

impl Table {
    /// The numbers of a continuous column (`None` for a discrete one).
    pub fn numeric(&self, column: usize) -> Option<&[f64]> {
        match &self.columns[column] {
            Values::Numeric(v) => Some(v),
            Values::Categorical(_) => None,
        }
    }

    /// The codes of a discrete column (`None` for a continuous one).
    pub fn codes(&self, column: usize) -> Option<&[u32]> {
        match &self.columns[column] {
            Values::Categorical(c) => Some(c),
            Values::Numeric(_) => None,
        }
    }

    /// The rows at `index`, in that order (repeats allowed).
    pub fn select(&self, index: &[usize]) -> Table {
        let columns = self
            .columns
            .iter()
            .map(|values| match values {
                Values::Numeric(v) => Values::Numeric(index.iter().map(|&i| v[i]).collect()),
                Values::Categorical(c) => {
                    Values::Categorical(index.iter().map(|&i| c[i]).collect())
                }
            })
            .collect();
        Table {
            rows: index.len(),
            columns,
        }
    }
}

/// One evaluated column.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaColumn {
    /// Column name.
    pub name: String,
    /// Continuous or discrete.
    pub kind: ColumnKind,
    /// A discrete column's categories as text, in code order (empty for continuous columns).
    pub levels: Vec<String>,
    /// Dates and times: their type and the format their values are shown in (the column's
    /// own for text, ISO-8601 for native ones); `None` for numbers and categories.
    pub date_format: Option<(DType, String)>,
}

/// The evaluated columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// In the real table's order.
    pub columns: Vec<SchemaColumn>,
}

impl Schema {
    /// The index of the column called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The column names, comma separated (for messages).
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        names.join(", ")
    }
}

/// The tables of one evaluation, aligned on one schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Tables {
    /// The evaluated columns.
    pub schema: Schema,
    /// The real (training) rows.
    pub real: Table,
    /// The synthetic rows.
    pub synthetic: Table,
    /// Real rows the generator never saw, if given.
    pub holdout: Option<Table>,
}

impl Tables {
    /// Aligns the frames on the columns of `meta` (the evaluated columns and their kinds, from
    /// the real table or a checkpoint). Every frame must hold each of them, the synthetic and
    /// holdout frames no column the real frame lacks; a continuous column must be numeric in
    /// each.
    pub fn align(
        meta: &TableMeta,
        real: &DataFrame,
        synthetic: &DataFrame,
        holdout: Option<&DataFrame>,
    ) -> Result<Self> {
        let named = [("real", Some(real)), ("synthetic", Some(synthetic))];
        for (table, frame) in named.into_iter().chain([("holdout", holdout)]) {
            let Some(frame) = frame else { continue };
            if frame.height() == 0 {
                return Err(EvalError::EmptyTable { table });
            }
            let missing: Vec<&str> = meta
                .modelled()
                .map(|c| c.name.as_str())
                .filter(|name| frame.column(name).is_err())
                .collect();
            if !missing.is_empty() {
                return Err(EvalError::MissingColumns {
                    table,
                    columns: quoted(&missing),
                });
            }
            if table == "real" {
                continue;
            }
            let extra: Vec<&str> = frame
                .get_column_names()
                .into_iter()
                .map(|n| n.as_str())
                .filter(|name| real.column(name).is_err())
                .collect();
            if !extra.is_empty() {
                return Err(EvalError::ExtraColumns {
                    table,
                    columns: quoted(&extra),
                });
            }
        }

        let mut schema = Vec::with_capacity(meta.columns.len());
        let mut tables = vec![Vec::new(), Vec::new(), Vec::new()];
        let frames = [("real", Some(real)), ("synthetic", Some(synthetic))]
            .into_iter()
            .chain([("holdout", holdout)]);
        let frames: Vec<(&'static str, &DataFrame)> = frames
            .filter_map(|(table, frame)| frame.map(|f| (table, f)))
            .collect();
        for column in meta.modelled() {
            let mut book = CodeBook::default();
            for (slot, (table, frame)) in frames.iter().enumerate() {
                let series = frame.column(&column.name).expect("presence checked above");
                let polars_err = |source| EvalError::Polars {
                    table,
                    column: column.name.clone(),
                    source,
                };
                let wrong_type = || EvalError::ColumnType {
                    table,
                    column: column.name.clone(),
                    found: series.dtype().to_string(),
                };
                let values = match column.kind {
                    ColumnKind::Continuous if column.dtype.is_temporal() => {
                        if column_dtype(column).ok().as_ref() != Some(series.dtype()) {
                            return Err(wrong_type());
                        }
                        // a value that is not a date in the column's format counts as missing
                        let values = temporal_values(series, column, OnUnparseable::Missing)
                            .map_err(|_| wrong_type())?;
                        Values::Numeric(values.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
                    }
                    ColumnKind::Continuous => {
                        if !series.dtype().is_primitive_numeric() {
                            return Err(wrong_type());
                        }
                        let cast = series.cast(&DataType::Float64).map_err(polars_err)?;
                        let values = cast.f64().map_err(polars_err)?;
                        Values::Numeric(values.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
                    }
                    ColumnKind::Discrete => {
                        Values::Categorical(book.encode(series).map_err(polars_err)?)
                    }
                    ColumnKind::Key | ColumnKind::Ignored => unreachable!("not modelled"),
                };
                tables[slot].push(values);
            }
            schema.push(SchemaColumn {
                name: column.name.clone(),
                kind: column.kind,
                levels: book.levels,
                date_format: column
                    .dtype
                    .is_temporal()
                    .then(|| (column.dtype, display_format(column).to_string())),
            });
        }
        let mut tables = tables
            .into_iter()
            .zip(&frames)
            .map(|(columns, (_, frame))| Table {
                rows: frame.height(),
                columns,
            });
        let real = tables.next().expect("the real table");
        let synthetic = tables.next().expect("the synthetic table");
        Ok(Tables {
            schema: Schema { columns: schema },
            real,
            synthetic,
            holdout: tables.next(),
        })
    }
}

fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

/// Category texts to codes, shared by the tables of one column. Numbers are compared by value
/// (`1`, `1.0` and `1.00` are one category), as they are when read back from a CSV file.
#[derive(Default)]
struct CodeBook {
    codes: HashMap<String, u32>,
    levels: Vec<String>,
}

impl CodeBook {
    fn encode(&mut self, column: &Column) -> PolarsResult<Vec<u32>> {
        let text = if column.dtype().is_primitive_numeric() {
            let cast = column.cast(&DataType::Float64)?;
            cast.f64()?
                .iter()
                .map(|v| v.filter(|x| !x.is_nan()).map(|x| x.to_string()))
                .collect::<Vec<_>>()
        } else {
            let cast = column.cast(&DataType::String)?;
            cast.str()?.iter().map(|v| v.map(str::to_string)).collect()
        };
        Ok(text
            .into_iter()
            .map(|value| match value {
                None => MISSING,
                Some(value) => {
                    let next = self.levels.len() as u32;
                    *self.codes.entry(value).or_insert_with_key(|value| {
                        self.levels.push(value.clone());
                        next
                    })
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synth_core::ColumnMeta;

    fn meta() -> TableMeta {
        let col = |name: &str, kind| ColumnMeta::new(name, kind, DType::Str);
        TableMeta {
            columns: vec![
                col("age", ColumnKind::Continuous),
                col("city", ColumnKind::Discrete),
            ],
        }
    }

    #[test]
    fn aligns_columns_and_shares_codes() {
        let real = df!("age" => [1i64, 2, 3], "city" => ["a", "b", "a"], "note" => ["x", "y", "z"])
            .unwrap();
        let syn =
            df!("city" => [Some("b"), None, Some("c")], "age" => [1.5f64, f64::NAN, 2.0]).unwrap();
        let t = Tables::align(&meta(), &real, &syn, None).unwrap();
        assert_eq!(t.schema.columns[1].levels, ["a", "b", "c"]);
        assert_eq!(t.real.codes(1).unwrap(), [0, 1, 0]);
        assert_eq!(t.synthetic.codes(1).unwrap(), [1, MISSING, 2]);
        assert_eq!(t.real.numeric(0).unwrap(), [1.0, 2.0, 3.0]);
        assert!(t.synthetic.numeric(0).unwrap()[1].is_nan());
        assert!(t.holdout.is_none());
    }

    /// Dates are compared as days, in each table's own format; keys are not evaluated.
    #[test]
    fn dates_are_days_and_keys_are_left_out() {
        let m = TableMeta {
            columns: vec![
                ColumnMeta::new("id", ColumnKind::Key, DType::I64),
                ColumnMeta {
                    format: Some("%Y-%m-%d".into()),
                    ..ColumnMeta::new("day", ColumnKind::Continuous, DType::Date)
                },
            ],
        };
        let real = df!("id" => [1i64, 2], "day" => ["1970-01-02", "1970-01-11"]).unwrap();
        let syn = df!("id" => [7i64, 8], "day" => [Some("1970-01-05"), None]).unwrap();
        let t = Tables::align(&m, &real, &syn, None).unwrap();
        assert_eq!(t.schema.names(), "day");
        assert_eq!(t.real.numeric(0).unwrap(), [1.0, 10.0]);
        assert_eq!(t.synthetic.numeric(0).unwrap()[0], 4.0);
        let numbers = df!("id" => [7i64, 8], "day" => [3i64, 4]).unwrap();
        let err = Tables::align(&m, &real, &numbers, None).unwrap_err();
        assert!(err.to_string().contains("`day`"), "{err}");
    }

    #[test]
    fn numeric_categories_compare_by_value() {
        let m = TableMeta {
            columns: vec![ColumnMeta::new("k", ColumnKind::Discrete, DType::I64)],
        };
        let real = df!("k" => [1i64, 2]).unwrap();
        let syn = df!("k" => [2.0f64, 1.0]).unwrap();
        let t = Tables::align(&m, &real, &syn, None).unwrap();
        assert_eq!(t.synthetic.codes(0).unwrap(), [1, 0]);
    }

    #[test]
    fn differing_columns_are_named() {
        let real = df!("age" => [1i64, 2], "city" => ["a", "b"]).unwrap();
        let missing = df!("age" => [1i64]).unwrap();
        let err = Tables::align(&meta(), &real, &missing, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("synthetic table lacks column(s) `city`"),
            "{err}"
        );
        let extra = df!("age" => [1i64], "city" => ["a"], "zip" => [5i64]).unwrap();
        let err = Tables::align(&meta(), &real, &extra, None).unwrap_err();
        assert!(err.to_string().contains("`zip`"), "{err}");
        let text = df!("age" => ["old"], "city" => ["a"]).unwrap();
        let err = Tables::align(&meta(), &real, &syn_ok(), Some(&text)).unwrap_err();
        assert!(
            matches!(&err, EvalError::ColumnType { table: "holdout", column, .. } if column == "age"),
            "{err}"
        );
        // Kinds from a checkpoint may name a column the real table lacks.
        let no_city = df!("age" => [1i64, 2]).unwrap();
        let err = Tables::align(&meta(), &no_city, &syn_ok(), None).unwrap_err();
        assert!(
            err.to_string()
                .contains("real table lacks column(s) `city`"),
            "{err}"
        );
        let empty = df!("age" => Vec::<i64>::new(), "city" => Vec::<&str>::new()).unwrap();
        let err = Tables::align(&meta(), &real, &empty, None).unwrap_err();
        assert!(
            matches!(err, EvalError::EmptyTable { table: "synthetic" }),
            "{err}"
        );
    }

    fn syn_ok() -> DataFrame {
        df!("age" => [1i64], "city" => ["a"]).unwrap()
    }

    #[test]
    fn select_repeats_rows() {
        let real = df!("age" => [1i64, 2, 3], "city" => ["a", "b", "c"]).unwrap();
        let t = Tables::align(&meta(), &real, &syn_ok(), None).unwrap();
        let s = t.real.select(&[2, 2, 0]);
        assert_eq!(s.rows, 3);
        assert_eq!(s.numeric(0).unwrap(), [3.0, 3.0, 1.0]);
        assert_eq!(s.codes(1).unwrap(), [2, 2, 0]);
    }
}
