//! The `[[constraints]]` entries of a run config, as the user writes them.

use serde::{Deserialize, Serialize};

/// One business rule of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Constraint {
    /// `low <= high` (`low < high` when `strict`), or with a gap: `high - low >= gap`
    /// (`> gap`), between two numeric columns, two dates, two times or two timestamps (the
    /// gap in the columns' unit: days for dates, seconds for times and timestamps). Rows
    /// where either is missing are not bound.
    Inequality {
        /// The smaller column (numeric, date or time; discrete or continuous).
        low: String,
        /// The larger column (continuous); the model learns `ln(1 + high - low - gap)` in its
        /// place.
        high: String,
        /// `high - low > gap` rather than `>=`.
        #[serde(default)]
        strict: bool,
        /// The least difference (at least 0).
        #[serde(default)]
        gap: f64,
    },
    /// Categorical columns that take only the combinations of values seen together in the
    /// data (a city and its country), learned as one column of those combinations.
    FixedCombinations {
        /// The columns (at least two, all discrete).
        columns: Vec<String>,
    },
    /// `column` is the sum of the columns `of`, computed after sampling rather than
    /// learned (missing when any of them is).
    Sum {
        /// The computed column.
        column: String,
        /// The columns it adds up.
        of: Vec<String>,
    },
    /// `column` is a part of the date or timestamp `of` (its year, month, ...), computed
    /// after sampling rather than learned.
    DatePart {
        /// The computed column (numeric).
        column: String,
        /// The date, time or timestamp column it is taken from.
        of: String,
        /// Which part.
        part: DatePart,
    },
    /// Any condition on a row, as a polars SQL expression over the output's columns
    /// (`"discount <= price AND status <> 'void'"`), met by rejection: rows for which it is
    /// false are dropped and more are sampled. A missing (NULL) result passes, as in SQL's
    /// CHECK. Dates and times read from text are compared as that text.
    Rule {
        /// The expression.
        expr: String,
    },
}

/// A part of a date, time or timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum DatePart {
    Year,
    Quarter,
    Month,
    Day,
    /// 1 (Monday) to 7 (Sunday), as ISO 8601 numbers them.
    Weekday,
    /// 1 to 366.
    DayOfYear,
    Hour,
    Minute,
    Second,
}

impl DatePart {
    /// True for the parts of a time of day (a `time` column has only these).
    pub fn of_time(self) -> bool {
        matches!(self, DatePart::Hour | DatePart::Minute | DatePart::Second)
    }
}

/// What training does with a row that breaks a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnViolation {
    /// Stop with an error naming the row and the constraint.
    #[default]
    Fail,
    /// Leave the row out of training, with a warning counting such rows.
    Drop,
}

impl Constraint {
    /// The constraint as messages name it: `constraints[2] (inequality checkin <= checkout)`.
    pub fn describe(&self, index: usize) -> String {
        let what = match self {
            Constraint::Inequality {
                low,
                high,
                strict,
                gap,
            } => {
                let op = if *strict { ">" } else { ">=" };
                if *gap == 0.0 {
                    format!("inequality {high} {op} {low}")
                } else {
                    format!("inequality {high} - {low} {op} {gap}")
                }
            }
            Constraint::FixedCombinations { columns } => {
                format!("fixed_combinations of {}", columns.join(", "))
            }
            Constraint::Sum { column, of } => format!("sum {column} = {}", of.join(" + ")),
            Constraint::DatePart { column, of, part } => {
                format!("date_part {column} = {part:?} of {of}")
            }
            Constraint::Rule { expr } => format!("rule {expr}"),
        };
        format!("constraints[{index}] ({what})")
    }

    /// Every column the constraint names, with the key naming it.
    pub fn columns(&self) -> Vec<(&'static str, &str)> {
        match self {
            Constraint::Inequality { low, high, .. } => vec![("low", low), ("high", high)],
            Constraint::FixedCombinations { columns } => {
                columns.iter().map(|c| ("columns", c.as_str())).collect()
            }
            Constraint::Sum { column, of } => std::iter::once(("column", column.as_str()))
                .chain(of.iter().map(|c| ("of", c.as_str())))
                .collect(),
            Constraint::DatePart { column, of, .. } => vec![("column", column), ("of", of)],
            Constraint::Rule { .. } => Vec::new(),
        }
    }

    /// The column the constraint computes from others after sampling, if any (the high side
    /// of an inequality, a sum, a date part), with the columns it is computed from.
    pub fn derived(&self) -> Option<(&str, Vec<&str>)> {
        match self {
            Constraint::Inequality { low, high, .. } => Some((high, vec![low])),
            Constraint::Sum { column, of } => {
                Some((column, of.iter().map(String::as_str).collect()))
            }
            Constraint::DatePart { column, of, .. } => Some((column, vec![of])),
            Constraint::FixedCombinations { .. } | Constraint::Rule { .. } => None,
        }
    }
}
