//! Grows a rare class of a table for training a classifier: how many new rows of the class
//! reach a share ([`Augmentation::plan`]), SMOTE-NC rows of the class as the baseline
//! ([`smote::oversample`]), and the augmented table, the real rows followed by the new ones
//! with an optional flag column ([`append_rows`]). The new rows may also come from a trained
//! model; this crate only checks and joins them.

pub mod smote;

use polars::prelude::*;
use std::collections::HashSet;
use synth_core::{ColumnKind, TableMeta};
use synth_data::numeric_values;

/// Why a table could not be augmented.
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// The target is not a column of the table.
    #[error("--target `{target}` is not a column of the table (columns: {columns})")]
    UnknownTarget {
        /// The target asked for.
        target: String,
        /// The table's columns.
        columns: String,
    },
    /// The target is not a discrete column.
    #[error(
        "--target `{target}` is a {kind} column; augmentation grows a class of a discrete column (train with it under data.discrete if it is one)"
    )]
    NotDiscrete {
        /// The target.
        target: String,
        /// Its kind.
        kind: &'static str,
    },
    /// No row holds the class.
    #[error("class `{class}` does not occur in column `{target}` (its classes: {found})")]
    UnknownClass {
        /// The target.
        target: String,
        /// The class asked for.
        class: String,
        /// The classes the column holds (the first 20).
        found: String,
    },
    /// The share is not a proportion.
    #[error("--to-share {share} must lie strictly between 0 and 1")]
    ShareOutOfRange {
        /// The share asked for.
        share: f64,
    },
    /// The class already makes up the share asked for.
    #[error(
        "class `{class}` already makes up {current:.4} of the {rows} rows, at least the share {share} asked for; ask for a larger share, or for a number of rows with --rows"
    )]
    ShareReached {
        /// The class.
        class: String,
        /// Its share now.
        current: f64,
        /// Rows of the table.
        rows: usize,
        /// The share asked for.
        share: f64,
    },
    /// Zero new rows asked for.
    #[error("--rows must be at least 1")]
    NoRows,
    /// SMOTE has fewer than two rows to interpolate between.
    #[error(
        "SMOTE needs at least 2 rows of the class to interpolate between; the table has {rows}"
    )]
    TooFewRows {
        /// Rows of the class.
        rows: usize,
    },
    /// SMOTE with zero neighbours.
    #[error("--neighbours must be at least 1")]
    NoNeighbours,
    /// The table and the model (or the new rows) have different columns.
    #[error("{0}")]
    ColumnsDiffer(String),
    /// The flag column's name is taken.
    #[error("--mark-synthetic `{column}` is already a column of the table; choose another name")]
    MarkExists {
        /// The name asked for.
        column: String,
    },
    /// A number is infinite.
    #[error("column `{column}`, row {row}: infinite value; SMOTE interpolates finite numbers only")]
    Infinite {
        /// The column.
        column: String,
        /// The row (0-based, after the header).
        row: usize,
    },
    /// A column could not be read as its kind says.
    #[error(transparent)]
    Data(#[from] synth_data::DataError),
    /// Polars failed on a column.
    #[error("column `{column}`: {source}")]
    Polars {
        /// The column.
        column: String,
        /// Polars' description.
        source: PolarsError,
    },
}

/// Result type of this crate.
pub type Result<T, E = AugmentError> = std::result::Result<T, E>;

/// How many new rows of the class to add.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// Exactly this many.
    Rows(usize),
    /// As many as make the class this share of all rows (the fewest that reach it).
    Share(f64),
}

/// What to grow: a class of a discrete column, by an amount, optionally flagging new rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Augmentation {
    /// The class column.
    pub target: String,
    /// The class, as text (numbers compare by value: `1` matches `1.0`); empty for missing.
    pub class: String,
    /// How many rows to add.
    pub amount: Amount,
    /// A boolean column to add, true on the new rows.
    pub mark: Option<String>,
}

/// A checked augmentation of one table.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The table's rows of the class.
    pub class_rows: Vec<usize>,
    /// Rows of the table.
    pub rows: usize,
    /// New rows to add.
    pub new_rows: usize,
}

impl Plan {
    /// The class's share of the rows before augmenting.
    pub fn share_before(&self) -> f64 {
        self.class_rows.len() as f64 / self.rows.max(1) as f64
    }

    /// The class's share of the rows after augmenting.
    pub fn share_after(&self) -> f64 {
        (self.class_rows.len() + self.new_rows) as f64 / (self.rows + self.new_rows).max(1) as f64
    }
}

impl Augmentation {
    /// Checks the target (a discrete column of `table` in `meta`), the class (present in the
    /// table), the amount and the flag column's name, and counts the rows to add.
    pub fn plan(&self, table: &DataFrame, meta: &TableMeta) -> Result<Plan> {
        let column = table
            .column(&self.target)
            .map_err(|_| AugmentError::UnknownTarget {
                target: self.target.clone(),
                columns: names(table).join(", "),
            })?;
        let kind = meta
            .column(&self.target)
            .map_or(ColumnKind::Ignored, |c| c.kind);
        if kind != ColumnKind::Discrete {
            return Err(AugmentError::NotDiscrete {
                target: self.target.clone(),
                kind: kind.name(),
            });
        }
        if let Some(mark) = &self.mark
            && table.column(mark).is_ok()
        {
            return Err(AugmentError::MarkExists {
                column: mark.clone(),
            });
        }
        let labels = labels(column).map_err(|source| AugmentError::Polars {
            column: self.target.clone(),
            source,
        })?;
        let wanted = class_label(&self.class, column.dtype().is_primitive_numeric());
        let class_rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == wanted).collect();
        if class_rows.is_empty() {
            let mut found: Vec<String> = Vec::new();
            for label in &labels {
                let shown = label.clone().unwrap_or_else(|| "(missing)".into());
                if found.len() < 20 && !found.contains(&shown) {
                    found.push(shown);
                }
            }
            return Err(AugmentError::UnknownClass {
                target: self.target.clone(),
                class: self.class.clone(),
                found: found.join(", "),
            });
        }
        let rows = table.height();
        let new_rows = match self.amount {
            Amount::Rows(0) => return Err(AugmentError::NoRows),
            Amount::Rows(n) => n,
            Amount::Share(share) => {
                rows_to_reach(class_rows.len(), rows, share).map_err(|e| match e {
                    AugmentError::ShareReached {
                        current,
                        rows,
                        share,
                        ..
                    } => AugmentError::ShareReached {
                        class: self.class.clone(),
                        current,
                        rows,
                        share,
                    },
                    other => other,
                })?
            }
        };
        Ok(Plan {
            class_rows,
            rows,
            new_rows,
        })
    }
}

/// The fewest new rows of a class that make it at least `share` of all rows, given that
/// `class_rows` of `rows` hold it now: the smallest k with (m + k) / (n + k) >= share.
pub fn rows_to_reach(class_rows: usize, rows: usize, share: f64) -> Result<usize> {
    if !(share > 0.0 && share < 1.0) {
        return Err(AugmentError::ShareOutOfRange { share });
    }
    let reached = |k: usize| (class_rows + k) as f64 >= share * (rows + k) as f64;
    if reached(0) {
        return Err(AugmentError::ShareReached {
            class: String::new(),
            current: class_rows as f64 / rows.max(1) as f64,
            rows,
            share,
        });
    }
    let estimate = (share * rows as f64 - class_rows as f64) / (1.0 - share);
    let mut k = estimate.ceil().max(1.0) as usize;
    while k > 1 && reached(k - 1) {
        k -= 1;
    }
    while !reached(k) {
        k += 1;
    }
    Ok(k)
}

/// Fails unless `table` (called `table_name` in the message) has exactly the columns
/// `expected` (those of `expected_name`), in any order, naming the differences.
pub fn check_columns(
    table: &DataFrame,
    table_name: &str,
    expected: &[&str],
    expected_name: &str,
) -> Result<()> {
    let have: HashSet<&str> = names(table).into_iter().collect();
    let want: HashSet<&str> = expected.iter().copied().collect();
    let quoted = |list: Vec<&str>| -> String {
        let quoted: Vec<String> = list.iter().map(|n| format!("`{n}`")).collect();
        quoted.join(", ")
    };
    let lacking: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|n| !have.contains(n))
        .collect();
    let extra: Vec<&str> = names(table)
        .into_iter()
        .filter(|n| !want.contains(n))
        .collect();
    let mut parts = Vec::new();
    if !lacking.is_empty() {
        parts.push(format!("{table_name} lacks {}", quoted(lacking)));
    }
    if !extra.is_empty() {
        parts.push(format!("{expected_name} has no {}", quoted(extra)));
    }
    if parts.is_empty() {
        return Ok(());
    }
    Err(AugmentError::ColumnsDiffer(format!(
        "{table_name} and {expected_name} have different columns: {}",
        parts.join("; ")
    )))
}

/// The real rows followed by the new ones, in the real table's column order and types. Key
/// columns of new rows are missing (a generated key could repeat a real row's). With `mark`,
/// a boolean column of that name is true on the new rows.
pub fn append_rows(
    real: &DataFrame,
    new: &DataFrame,
    meta: &TableMeta,
    mark: Option<&str>,
) -> Result<DataFrame> {
    check_columns(new, "the new rows", &names(real), "the real rows")?;
    let columns = real
        .columns()
        .iter()
        .map(|column| {
            let name = column.name().to_string();
            let polars_err = |source| AugmentError::Polars {
                column: name.clone(),
                source,
            };
            let is_key = meta
                .column(&name)
                .is_some_and(|c| c.kind == ColumnKind::Key);
            if is_key {
                return Ok(Column::full_null(
                    column.name().clone(),
                    new.height(),
                    column.dtype(),
                ));
            }
            let source = new.column(&name).map_err(polars_err)?;
            source.strict_cast(column.dtype()).map_err(polars_err)
        })
        .collect::<Result<Vec<Column>>>()?;
    let new = DataFrame::new(new.height(), columns).map_err(|source| AugmentError::Polars {
        column: "(all)".into(),
        source,
    })?;
    let mut out = real.clone();
    let stack_err = |source| AugmentError::Polars {
        column: "(all)".into(),
        source,
    };
    out.vstack_mut(&new).map_err(stack_err)?;
    if let Some(mark) = mark {
        let flags: Vec<bool> = (0..out.height()).map(|i| i >= real.height()).collect();
        out.with_column(Column::new(mark.into(), flags))
            .map_err(stack_err)?;
    }
    out.rechunk_mut();
    Ok(out)
}

fn names(table: &DataFrame) -> Vec<&str> {
    table
        .get_column_names()
        .into_iter()
        .map(|n| n.as_str())
        .collect()
}

/// A discrete column's values as text (`None` for missing); numbers in their shortest form,
/// so that `1`, `1.0` and `1.00` are one class.
fn labels(column: &Column) -> PolarsResult<Vec<Option<String>>> {
    if column.dtype().is_primitive_numeric() {
        return Ok(numeric_values(column)?
            .into_iter()
            .map(|v| v.map(|x| x.to_string()))
            .collect());
    }
    let text = column.cast(&DataType::String)?;
    Ok(text.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

/// The label `class` matches: `None` for the empty text, a number's shortest form in a
/// numeric column.
fn class_label(class: &str, numeric: bool) -> Option<String> {
    if class.is_empty() {
        return None;
    }
    match class.trim().parse::<f64>() {
        Ok(x) if numeric => Some(x.to_string()),
        _ => Some(class.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synth_core::{ColumnMeta, DType};

    fn table() -> (DataFrame, TableMeta) {
        let df = df!(
            "id" => [1i64, 2, 3, 4, 5],
            "amount" => [1.5f64, 2.0, 3.0, 4.0, 5.0],
            "fraud" => [0i64, 0, 1, 0, 0],
        )
        .unwrap();
        let meta = TableMeta {
            columns: vec![
                ColumnMeta::new("id", ColumnKind::Key, DType::I64),
                ColumnMeta::new("amount", ColumnKind::Continuous, DType::F64),
                ColumnMeta::new("fraud", ColumnKind::Discrete, DType::I64),
            ],
        };
        (df, meta)
    }

    fn fraud(amount: Amount) -> Augmentation {
        Augmentation {
            target: "fraud".into(),
            class: "1".into(),
            amount,
            mark: None,
        }
    }

    #[test]
    fn rows_to_reach_a_share_by_hand() {
        // 10 of 1000 at 5%: (10 + k) / (1000 + k) >= 0.05 <=> 0.95 k >= 40 <=> k >= 42.1
        assert_eq!(rows_to_reach(10, 1000, 0.05).unwrap(), 43);
        // 1 of 4 to 1/2: (1 + k) / (4 + k) >= 0.5 <=> k >= 2 exactly
        assert_eq!(rows_to_reach(1, 4, 0.5).unwrap(), 2);
        assert!(matches!(
            rows_to_reach(1, 4, 0.25),
            Err(AugmentError::ShareReached { .. })
        ));
        for share in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(matches!(
                rows_to_reach(1, 4, share),
                Err(AugmentError::ShareOutOfRange { .. })
            ));
        }
    }

    #[test]
    fn plan_finds_the_class_by_value() {
        let (df, meta) = table();
        let plan = fraud(Amount::Share(0.5)).plan(&df, &meta).unwrap();
        assert_eq!(plan.class_rows, [2]);
        // (1 + k) / (5 + k) >= 0.5 <=> k >= 3
        assert_eq!(plan.new_rows, 3);
        assert_eq!(plan.share_before(), 0.2);
        assert_eq!(plan.share_after(), 0.5);
        let as_float = Augmentation {
            class: "1.0".into(),
            ..fraud(Amount::Rows(4))
        };
        assert_eq!(as_float.plan(&df, &meta).unwrap().new_rows, 4);
    }

    #[test]
    fn bad_requests_are_named() {
        let (df, meta) = table();
        let err = |a: Augmentation| a.plan(&df, &meta).unwrap_err().to_string();
        let wrong_target = Augmentation {
            target: "label".into(),
            ..fraud(Amount::Rows(1))
        };
        assert!(err(wrong_target).contains("`label` is not a column"));
        let continuous = Augmentation {
            target: "amount".into(),
            ..fraud(Amount::Rows(1))
        };
        assert!(err(continuous).contains("is a continuous column"));
        let absent = Augmentation {
            class: "2".into(),
            ..fraud(Amount::Rows(1))
        };
        assert!(err(absent).contains("its classes: 0, 1"));
        assert!(err(fraud(Amount::Share(0.1))).contains("already makes up 0.2000"));
        assert!(err(fraud(Amount::Rows(0))).contains("at least 1"));
        let taken = Augmentation {
            mark: Some("amount".into()),
            ..fraud(Amount::Rows(1))
        };
        assert!(err(taken).contains("already a column"));
    }

    #[test]
    fn appended_rows_follow_the_real_ones_with_a_flag() {
        let (df, meta) = table();
        // new rows in another column order and type; their keys must not be kept
        let new = df!(
            "fraud" => [1i32, 1],
            "id" => [1i64, 2],
            "amount" => [9.0f64, 8.0],
        )
        .unwrap();
        let out = append_rows(&df, &new, &meta, Some("synthetic")).unwrap();
        assert_eq!(out.height(), 7);
        assert_eq!(
            names(&out),
            ["id", "amount", "fraud", "synthetic"],
            "real order, then the flag"
        );
        assert_eq!(out.column("fraud").unwrap().dtype(), &DataType::Int64);
        assert_eq!(out.column("id").unwrap().null_count(), 2);
        let flags: Vec<Option<bool>> = out
            .column("synthetic")
            .unwrap()
            .bool()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(flags.iter().filter(|f| **f == Some(true)).count(), 2);
        assert_eq!(flags[5], Some(true));
        assert_eq!(flags[4], Some(false));
        let short = df!("fraud" => [1i64], "id" => [1i64]).unwrap();
        let err = append_rows(&df, &short, &meta, None).unwrap_err();
        assert!(err.to_string().contains("`amount`"), "{err}");
    }
}
