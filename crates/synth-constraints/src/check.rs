//! Whether constraints fit the table's columns, in which order derived columns are computed,
//! and which rows break a constraint.

use crate::constraint::{Constraint, DatePart};
use crate::{ConstraintError, Result, polars_error};
use chrono::{DateTime, Datelike, NaiveDate, Timelike};
use polars::prelude::*;
use std::collections::{HashMap, HashSet};
use synth_core::{ColumnKind, DType, TableMeta};
use synth_data::values::model_values;

/// Checks every constraint against the table's columns and the others; returns the indices
/// of the constraints that derive a column, in an order where every column is computed after
/// the columns it is computed from.
pub(crate) fn check_constraints(rules: &[Constraint], meta: &TableMeta) -> Result<Vec<usize>> {
    let available = || {
        meta.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut derived_by: HashMap<&str, usize> = HashMap::new();
    let mut grouped_by: HashMap<&str, usize> = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let invalid = |reason: String| ConstraintError::Invalid {
            constraint: rule.describe(i),
            reason,
        };
        let mut named = HashSet::new();
        for (key, column) in rule.columns() {
            let Some(c) = meta.column(column) else {
                return Err(ConstraintError::UnknownColumn {
                    constraint: rule.describe(i),
                    key,
                    column: column.to_string(),
                    available: available(),
                });
            };
            if !named.insert(column) {
                return Err(invalid(format!("it names column `{column}` twice")));
            }
            if !c.kind.is_modelled() {
                return Err(invalid(format!(
                    "column `{column}` is a {} column, left out of the model; constraints bind modelled columns (a `rule` can name any)",
                    c.kind.name()
                )));
            }
        }
        let column = |name: &str| meta.column(name).expect("checked above");
        match rule {
            Constraint::Inequality { low, high, gap, .. } => {
                if !(gap.is_finite() && *gap >= 0.0) {
                    return Err(invalid(format!("gap = {gap}: give a finite number >= 0")));
                }
                let (l, h) = (column(low), column(high));
                if h.kind != ColumnKind::Continuous {
                    return Err(invalid(format!(
                        "column `{high}` is discrete ({}); the high side of an inequality is learned as a difference, so it must be a continuous number, date or time (list it in `data.continuous`)",
                        h.dtype.name()
                    )));
                }
                if !(l.dtype.is_numeric() || l.dtype.is_temporal()) {
                    return Err(invalid(format!(
                        "column `{low}` holds {} values; an inequality binds numbers, dates or times",
                        l.dtype.name()
                    )));
                }
                if unit_family(l.dtype) != unit_family(h.dtype) {
                    return Err(invalid(format!(
                        "`{low}` holds {} values and `{high}` {} values; both sides must be numbers, dates, times or timestamps alike",
                        l.dtype.name(),
                        h.dtype.name()
                    )));
                }
            }
            Constraint::FixedCombinations { columns } => {
                if columns.len() < 2 {
                    return Err(invalid("give at least two columns".into()));
                }
                for name in columns {
                    if column(name).pii.is_some() {
                        return Err(invalid(format!(
                            "column `{name}` is personal (data.pii) and written as fakes; it cannot be in a fixed combination"
                        )));
                    }
                    if column(name).kind != ColumnKind::Discrete {
                        return Err(invalid(format!(
                            "column `{name}` is continuous; fixed combinations bind discrete (categorical) columns (list it in `data.discrete` if it is one)"
                        )));
                    }
                    if let Some(other) = grouped_by.insert(name, i) {
                        return Err(ConstraintError::Conflict(format!(
                            "column `{name}` is in {} and in {}; put all its columns in one fixed_combinations",
                            rules[other].describe(other),
                            rule.describe(i)
                        )));
                    }
                }
            }
            Constraint::Sum { column: target, of } => {
                if of.is_empty() {
                    return Err(invalid("`of` lists no column".into()));
                }
                for name in std::iter::once(target).chain(of) {
                    if !column(name).dtype.is_numeric() {
                        return Err(invalid(format!(
                            "column `{name}` holds {} values; a sum binds numbers",
                            column(name).dtype.name()
                        )));
                    }
                }
            }
            Constraint::DatePart {
                column: target,
                of,
                part,
            } => {
                let source = column(of);
                if !source.dtype.is_temporal() {
                    return Err(invalid(format!(
                        "column `{of}` holds {} values, not dates or times",
                        source.dtype.name()
                    )));
                }
                if source.dtype == DType::Time && !part.of_time() {
                    return Err(invalid(format!(
                        "column `{of}` holds times of day, which have no {part:?}"
                    )));
                }
                if source.dtype == DType::Date && part.of_time() {
                    return Err(invalid(format!(
                        "column `{of}` holds dates, which have no {part:?}"
                    )));
                }
                if source.time_zone.is_some() {
                    return Err(invalid(format!(
                        "column `{of}` holds timestamps in time zone {}, whose parts depend on the zone; use a `rule` instead",
                        source.time_zone.as_deref().unwrap_or_default()
                    )));
                }
                if !column(target).dtype.is_numeric() {
                    return Err(invalid(format!(
                        "column `{target}` holds {} values; a date part is a number",
                        column(target).dtype.name()
                    )));
                }
            }
            Constraint::Rule { expr } => {
                if let Err(e) = polars::sql::sql_expr(expr) {
                    return Err(invalid(format!(
                        "`{expr}` is not a polars SQL expression: {e}"
                    )));
                }
            }
        }
        if let Some((target, _)) = rule.derived()
            && let Some(other) = derived_by.insert(target, i)
        {
            return Err(ConstraintError::Conflict(format!(
                "column `{target}` is computed by {} and by {}; a column can be derived by one constraint only (write the other as a `rule`)",
                rules[other].describe(other),
                rule.describe(i)
            )));
        }
    }
    for (&column, &i) in &derived_by {
        if let Some(&group) = grouped_by.get(column) {
            return Err(ConstraintError::Conflict(format!(
                "column `{column}` is computed by {} and bound by {}; leave it out of one",
                rules[i].describe(i),
                rules[group].describe(group)
            )));
        }
    }
    derivation_order(rules, &derived_by)
}

/// The derived constraints ordered so that each comes after those deriving its inputs; a
/// cycle (`a <= b` and `b <= a`) is a conflict.
fn derivation_order(rules: &[Constraint], derived_by: &HashMap<&str, usize>) -> Result<Vec<usize>> {
    let mut order = Vec::new();
    let mut state: HashMap<usize, bool> = HashMap::new(); // false: visiting, true: done
    fn visit(
        i: usize,
        rules: &[Constraint],
        derived_by: &HashMap<&str, usize>,
        state: &mut HashMap<usize, bool>,
        order: &mut Vec<usize>,
    ) -> Result<()> {
        match state.get(&i) {
            Some(true) => return Ok(()),
            Some(false) => {
                return Err(ConstraintError::Conflict(format!(
                    "{} depends on itself through other constraints (a cycle such as a <= b and b <= a); remove one of them",
                    rules[i].describe(i)
                )));
            }
            None => {}
        }
        state.insert(i, false);
        let (_, inputs) = rules[i].derived().expect("a derived constraint");
        for input in inputs {
            if let Some(&j) = derived_by.get(input) {
                visit(j, rules, derived_by, state, order)?;
            }
        }
        state.insert(i, true);
        order.push(i);
        Ok(())
    }
    let mut derived: Vec<usize> = derived_by.values().copied().collect();
    derived.sort_unstable();
    for i in derived {
        visit(i, rules, derived_by, &mut state, &mut order)?;
    }
    Ok(order)
}

/// Which values two sides of an inequality must share: numbers, dates, times, or
/// timestamps (seconds, whatever their unit).
fn unit_family(dtype: DType) -> u8 {
    match dtype {
        DType::Date => 1,
        DType::Time => 2,
        DType::DatetimeMs | DType::DatetimeUs | DType::DatetimeNs => 3,
        _ => 0,
    }
}

/// The part `part` of the model value `x` of a `dtype` column (days for dates, seconds for
/// times and timestamps); `None` outside the dates chrono represents.
pub(crate) fn date_part(x: f64, dtype: DType, part: DatePart) -> Option<f64> {
    if dtype == DType::Time {
        let seconds = x.rem_euclid(86_400.0);
        return Some(match part {
            DatePart::Hour => (seconds / 3600.0).floor(),
            DatePart::Minute => (seconds / 60.0).floor() % 60.0,
            _ => seconds.floor() % 60.0,
        });
    }
    let at = if dtype == DType::Date {
        NaiveDate::from_ymd_opt(1970, 1, 1)?
            .checked_add_signed(chrono::TimeDelta::try_days(x.round() as i64)?)?
            .and_hms_opt(0, 0, 0)?
    } else {
        let whole = x.floor();
        DateTime::from_timestamp(whole as i64, ((x - whole) * 1e9) as u32)?.naive_utc()
    };
    Some(f64::from(match part {
        DatePart::Year => at.year() as u32,
        DatePart::Quarter => at.month0() / 3 + 1,
        DatePart::Month => at.month(),
        DatePart::Day => at.day(),
        DatePart::Weekday => at.weekday().number_from_monday(),
        DatePart::DayOfYear => at.ordinal(),
        DatePart::Hour => at.hour(),
        DatePart::Minute => at.minute(),
        DatePart::Second => at.second(),
    }))
}

/// The tolerance of comparing `a` and `b`: a billionth of their size (numbers that went
/// through decimal text and back differ by less).
pub(crate) fn tolerance(a: f64, b: f64) -> f64 {
    1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// For each row of `df` (the output's columns), whether it breaks constraint `rule` (fixed
/// combinations hold by construction and are not checked here).
pub(crate) fn broken_rows(
    rule: &Constraint,
    df: &DataFrame,
    meta: &TableMeta,
) -> Result<Vec<bool>> {
    let values = |name: &str| -> Result<Vec<Option<f64>>> {
        let column = df.column(name).map_err(polars_error(name))?;
        Ok(model_values(meta.column(name).expect("checked"), column)?)
    };
    let rows = df.height();
    Ok(match rule {
        Constraint::Inequality {
            low,
            high,
            strict,
            gap,
        } => values(low)?
            .into_iter()
            .zip(values(high)?)
            .map(|pair| match pair {
                (Some(lo), Some(hi)) => {
                    let room = hi - lo - gap;
                    let tol = tolerance(hi, lo);
                    if *strict { room <= tol } else { room < -tol }
                }
                _ => false,
            })
            .collect(),
        Constraint::FixedCombinations { .. } => vec![false; rows],
        Constraint::Sum { column, of } => {
            let target_meta = meta.column(column).expect("checked");
            let half_unit = target_meta
                .places()
                .map_or(0.0, |p| 0.5 * 10f64.powi(-(p as i32)));
            let parts = of.iter().map(|c| values(c)).collect::<Result<Vec<_>>>()?;
            values(column)?
                .into_iter()
                .enumerate()
                .map(|(r, total)| {
                    let sum: Option<f64> = parts.iter().map(|p| p[r]).sum();
                    match (total, sum) {
                        (Some(t), Some(s)) => (t - s).abs() > half_unit + tolerance(t, s),
                        _ => false,
                    }
                })
                .collect()
        }
        Constraint::DatePart { column, of, part } => {
            let dtype = meta.column(of).expect("checked").dtype;
            values(column)?
                .into_iter()
                .zip(values(of)?)
                .map(|pair| match pair {
                    (Some(target), Some(x)) => date_part(x, dtype, *part) != Some(target),
                    _ => false,
                })
                .collect()
        }
        Constraint::Rule { expr } => rule_rows(expr, df)?
            .into_iter()
            .map(|keep| keep == Some(false))
            .collect(),
    })
}

/// The value of the rule `expr` on each row of `df`.
pub(crate) fn rule_rows(expr: &str, df: &DataFrame) -> Result<Vec<Option<bool>>> {
    let failed = |e: PolarsError| ConstraintError::Invalid {
        constraint: format!("rule `{expr}`"),
        reason: format!(
            "{e} (the rule sees the columns {})",
            df.get_column_names()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let parsed = polars::sql::sql_expr(expr).map_err(failed)?;
    let out = df
        .clone()
        .lazy()
        .select([parsed.alias("__rule")])
        .collect()
        .map_err(failed)?;
    let column = out.column("__rule").map_err(failed)?;
    let Ok(flags) = column.bool() else {
        return Err(ConstraintError::Invalid {
            constraint: format!("rule `{expr}`"),
            reason: format!(
                "it gives {} values, not true or false; write a comparison such as `a <= b`",
                column.dtype()
            ),
        });
    };
    let flags: Vec<Option<bool>> = flags.iter().collect();
    Ok(match flags.len() {
        n if n == df.height() => flags,
        1 => vec![flags[0]; df.height()],
        n => {
            return Err(ConstraintError::Invalid {
                constraint: format!("rule `{expr}`"),
                reason: format!(
                    "it gives {n} values for {} rows; write a condition on each row, not an aggregate",
                    df.height()
                ),
            });
        }
    })
}
