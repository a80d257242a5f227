//! Constraints fitted to a table: the table the model learns in its place, and the way back.

use crate::check::{broken_rows, check_constraints, date_part};
use crate::constraint::{Constraint, OnViolation};
use crate::{ConstraintError, Result, polars_error};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use synth_core::{ColumnKind, ColumnMeta, DType, TableMeta, round_to};
use synth_data::values::{category_labels, labels_column, model_values, numbers_column};

/// File name of the fitted constraints inside a checkpoint folder.
pub const CONSTRAINTS_FILE: &str = "constraints.json";

/// Constraints checked against a table's columns: they turn the table into the one a model
/// learns ([`Constraints::to_model`]) and the model's rows back ([`Constraints::restore`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    rules: Vec<Constraint>,
    on_violation: OnViolation,
    /// The columns of the table (and of every output row).
    table: TableMeta,
    /// The columns of the table the model learns.
    model: TableMeta,
    /// The constraints that derive a column, in the order they are computed.
    #[serde(skip)]
    order: Vec<usize>,
}

impl Constraints {
    /// Checks `rules` against the table `df` described by `meta` and against every row
    /// (a row that breaks one is an error naming it, or left out with `OnViolation::Drop`);
    /// returns the fitted constraints and the table the model learns.
    pub fn fit(
        rules: Vec<Constraint>,
        on_violation: OnViolation,
        df: &DataFrame,
        meta: &TableMeta,
    ) -> Result<(Self, DataFrame)> {
        let order = check_constraints(&rules, meta)?;
        let mut constraints = Constraints {
            rules,
            on_violation,
            table: meta.clone(),
            model: meta.clone(),
            order,
        };
        let model_df = constraints.to_model(df)?;
        constraints.model = constraints.model_meta_of(&model_df)?;
        for (i, rule) in constraints.rules.iter().enumerate() {
            tracing::info!("{}", rule.describe(i));
        }
        Ok((constraints, model_df))
    }

    /// The constraints as declared.
    pub fn rules(&self) -> &[Constraint] {
        &self.rules
    }

    /// The columns of the output (the training table's).
    pub fn table(&self) -> &TableMeta {
        &self.table
    }

    /// The columns of the table the model learns.
    pub fn model(&self) -> &TableMeta {
        &self.model
    }

    /// `df` (the training table) as the model learns it, after the rows that break a
    /// constraint are refused or left out: inequalities' high sides as
    /// `ln(1 + high - low - gap)`, each fixed combination as one column, computed columns
    /// left out.
    pub fn to_model(&self, df: &DataFrame) -> Result<DataFrame> {
        let df = self.without_violations(df)?;
        let mut columns: Vec<Column> = Vec::new();
        for meta in &self.table.columns {
            let name = meta.name.as_str();
            let source = || df.column(name).map_err(polars_error(name));
            match self.role(name) {
                Role::Member(group, 0) => columns.push(self.joint_column(group, &df)?),
                Role::Member(..) | Role::Computed => {}
                Role::High { low, gap } => {
                    let lo =
                        model_values(self.meta(low), df.column(low).map_err(polars_error(low))?)?;
                    let hi = model_values(meta, source()?)?;
                    let z: Vec<Option<f64>> = lo
                        .into_iter()
                        .zip(hi)
                        .map(|pair| match pair {
                            (Some(lo), Some(hi)) => Some((hi - lo - gap).max(0.0).ln_1p()),
                            _ => None,
                        })
                        .collect();
                    columns.push(Column::new(name.into(), z));
                }
                Role::Plain => columns.push(source()?.clone()),
            }
        }
        DataFrame::new(df.height(), columns).map_err(polars_error("(the table the model learns)"))
    }

    /// The model's rows (the columns of [`Constraints::model`]) with the output's columns:
    /// fixed combinations split, derived columns computed in order.
    pub fn restore(&self, df: &DataFrame) -> Result<DataFrame> {
        let rows = df.height();
        let mut restored: HashMap<&str, Column> = HashMap::new();
        for meta in &self.table.columns {
            let name = meta.name.as_str();
            match self.role(name) {
                Role::Member(group, 0) => {
                    let columns = self.split_joint(group, df)?;
                    for column in columns {
                        let member = self.table.column(column.name().as_str()).expect("a member");
                        restored.insert(member.name.as_str(), column);
                    }
                }
                Role::Plain => {
                    restored.insert(name, df.column(name).map_err(polars_error(name))?.clone());
                }
                Role::Member(..) | Role::High { .. } | Role::Computed => {}
            }
        }
        for &i in &self.order {
            let rule = &self.rules[i];
            let (target, _) = rule.derived().expect("derived");
            let meta = self.meta(target);
            let input = |name: &str| model_values(self.meta(name), &restored[name]);
            let values: Vec<Option<f64>> = match rule {
                Constraint::Inequality {
                    low, strict, gap, ..
                } => {
                    let z = model_values(
                        self.model.column(target).expect("a modelled column"),
                        df.column(target).map_err(polars_error(target))?,
                    )?;
                    input(low)?
                        .into_iter()
                        .zip(z)
                        .map(|pair| match pair {
                            (Some(lo), Some(z)) => Some(high_side(meta, lo, z, *gap, *strict)),
                            _ => None,
                        })
                        .collect()
                }
                Constraint::Sum { of, .. } => {
                    let parts = of
                        .iter()
                        .map(|c| input(c))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    (0..rows)
                        .map(|r| parts.iter().map(|p| p[r]).sum())
                        .collect()
                }
                Constraint::DatePart { of, part, .. } => {
                    let dtype = self.meta(of).dtype;
                    input(of)?
                        .into_iter()
                        .map(|x| x.and_then(|x| date_part(x, dtype, *part)))
                        .collect()
                }
                Constraint::FixedCombinations { .. } | Constraint::Rule { .. } => {
                    unreachable!("not derived")
                }
            };
            restored.insert(target, values_column(meta, values)?);
        }
        let columns = self
            .table
            .columns
            .iter()
            .map(|c| {
                restored
                    .remove(c.name.as_str())
                    .expect("every column restored")
            })
            .collect();
        DataFrame::new(rows, columns).map_err(polars_error("(restored rows)"))
    }

    /// For each row of `df` (the output's columns), the first constraint it breaks.
    pub fn violations(&self, df: &DataFrame) -> Result<Vec<Option<usize>>> {
        let mut first = vec![None; df.height()];
        for (i, rule) in self.rules.iter().enumerate() {
            for (row, broken) in broken_rows(rule, df, &self.table)?.into_iter().enumerate() {
                if broken && first[row].is_none() {
                    first[row] = Some(i);
                }
            }
        }
        Ok(first)
    }

    /// True when `column` is computed from others or learned in another form, so that a
    /// condition on it is met by rejection rather than by the model.
    pub fn transforms(&self, column: &str) -> bool {
        !matches!(self.role(column), Role::Plain)
    }

    /// The fixed combination holding `column`: the learned column's name and its members.
    pub fn combination_of(&self, column: &str) -> Option<(String, &[String])> {
        match self.role(column) {
            Role::Member(group, _) => Some((joint_name(group), group)),
            _ => None,
        }
    }

    /// Writes the fitted constraints into a checkpoint folder.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(CONSTRAINTS_FILE);
        let text = serde_json::to_string_pretty(self).expect("constraints serialise to JSON");
        std::fs::write(&path, text).map_err(|source| ConstraintError::Io { path, source })
    }

    /// The constraints saved in a checkpoint folder, `None` when it has none; a damaged file
    /// is an error naming it.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(CONSTRAINTS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ConstraintError::Io { path, source }),
        };
        let bad = |reason: String| ConstraintError::BadFile {
            path: path.clone(),
            reason,
        };
        let mut constraints: Constraints =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        constraints.order = check_constraints(&constraints.rules, &constraints.table)
            .map_err(|e| bad(e.to_string()))?;
        let expected: Vec<String> = constraints.expected_model_columns();
        let found: Vec<&str> = constraints
            .model
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        if found != expected {
            return Err(bad(format!(
                "the model's columns {found:?} are not the ones the constraints make ({expected:?})"
            )));
        }
        Ok(Some(constraints))
    }

    /// The names of the model's columns, from the table's and the constraints.
    fn expected_model_columns(&self) -> Vec<String> {
        self.table
            .columns
            .iter()
            .filter_map(|c| match self.role(&c.name) {
                Role::Member(group, 0) => Some(joint_name(group)),
                Role::Member(..) | Role::Computed => None,
                Role::High { .. } | Role::Plain => Some(c.name.clone()),
            })
            .collect()
    }

    /// `df` without the rows that break a constraint, or the first such row as an error.
    fn without_violations(&self, df: &DataFrame) -> Result<DataFrame> {
        let violations = self.violations(df)?;
        let broken = violations.iter().filter(|v| v.is_some()).count();
        if broken == 0 {
            return Ok(df.clone());
        }
        let (row, i) = violations
            .iter()
            .enumerate()
            .find_map(|(row, v)| v.map(|i| (row, i)))
            .expect("a broken row");
        let rule = &self.rules[i];
        if self.on_violation == OnViolation::Fail {
            return Err(ConstraintError::Violated {
                constraint: rule.describe(i),
                row,
                values: self.row_values(rule, df, row),
            });
        }
        tracing::warn!(
            rows = broken,
            first_row = row,
            "{} training rows break a constraint (the first, row {row}, breaks {}); they are left out (data.on_violation = \"drop\")",
            broken,
            rule.describe(i)
        );
        let keep: BooleanChunked = violations.iter().map(|v| v.is_none()).collect();
        df.filter(&keep).map_err(polars_error("(training rows)"))
    }

    /// The row's cells of the columns `rule` names, for messages: `a = 3, b = 1` (personal
    /// columns as `(personal)`).
    fn row_values(&self, rule: &Constraint, df: &DataFrame, row: usize) -> String {
        let names: Vec<&str> = match rule {
            Constraint::Rule { .. } => df.get_column_names().iter().map(|c| c.as_str()).collect(),
            _ => rule.columns().into_iter().map(|(_, c)| c).collect(),
        };
        names
            .iter()
            .filter_map(|name| {
                if self.table.column(name).is_some_and(|c| c.pii.is_some()) {
                    // the table holds its pseudonym, and the real value must not be shown
                    return Some(format!("{name} = (personal)"));
                }
                let value = df.column(name).ok()?.get(row).ok()?;
                Some(format!("{name} = {value}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What the constraints make of column `name`.
    fn role(&self, name: &str) -> Role<'_> {
        for rule in &self.rules {
            match rule {
                Constraint::FixedCombinations { columns } => {
                    if let Some(position) = columns.iter().position(|c| c == name) {
                        return Role::Member(columns, position);
                    }
                }
                Constraint::Inequality { low, high, gap, .. } if high == name => {
                    return Role::High { low, gap: *gap };
                }
                Constraint::Sum { column, .. } | Constraint::DatePart { column, .. }
                    if column == name =>
                {
                    return Role::Computed;
                }
                _ => {}
            }
        }
        Role::Plain
    }

    fn meta(&self, name: &str) -> &ColumnMeta {
        self.table.column(name).expect("a checked column")
    }

    /// The learned column of a fixed combination: each row's members' labels as a JSON list.
    fn joint_column(&self, group: &[String], df: &DataFrame) -> Result<Column> {
        let labels = group
            .iter()
            .map(|name| {
                let column = df.column(name).map_err(polars_error(name))?;
                category_labels(self.meta(name), column).map_err(polars_error(name))
            })
            .collect::<Result<Vec<_>>>()?;
        let joint: Vec<String> = (0..df.height())
            .map(|r| {
                let row: Vec<&Option<String>> = labels.iter().map(|l| &l[r]).collect();
                serde_json::to_string(&row).expect("labels serialise")
            })
            .collect();
        Ok(Column::new(joint_name(group).into(), joint))
    }

    /// The members of a fixed combination, from the model's learned column.
    fn split_joint(&self, group: &[String], df: &DataFrame) -> Result<Vec<Column>> {
        let name = joint_name(group);
        let joint = df.column(&name).map_err(polars_error(&name))?;
        let text = joint.str().map_err(polars_error(&name))?;
        let mut members: Vec<Vec<Option<String>>> =
            vec![Vec::with_capacity(df.height()); group.len()];
        for value in text.iter() {
            let labels: Vec<Option<String>> = match value {
                Some(v) => serde_json::from_str(v).map_err(|e| ConstraintError::Invalid {
                    constraint: format!("column `{name}`"),
                    reason: format!("`{v}` is not a combination of {} labels: {e}", group.len()),
                })?,
                None => vec![None; group.len()],
            };
            if labels.len() != group.len() {
                return Err(ConstraintError::Invalid {
                    constraint: format!("column `{name}`"),
                    reason: format!(
                        "`{value:?}` holds {} labels, not {}",
                        labels.len(),
                        group.len()
                    ),
                });
            }
            for (member, label) in members.iter_mut().zip(labels) {
                member.push(label);
            }
        }
        group
            .iter()
            .zip(members)
            .map(|(column, labels)| {
                labels_column(self.meta(column), labels.iter().map(|l| l.as_deref()))
                    .map(Column::from)
                    .map_err(polars_error(column))
            })
            .collect()
    }

    /// The model's column descriptions: the table's, the high sides of inequalities as
    /// continuous numbers over their learned range, each fixed combination as a discrete
    /// column, computed columns left out.
    fn model_meta_of(&self, model_df: &DataFrame) -> Result<TableMeta> {
        let mut columns = Vec::new();
        for meta in &self.table.columns {
            match self.role(&meta.name) {
                Role::Member(group, 0) => columns.push(ColumnMeta::new(
                    joint_name(group),
                    ColumnKind::Discrete,
                    DType::Str,
                )),
                Role::Member(..) | Role::Computed => {}
                Role::High { .. } => {
                    let column = model_df
                        .column(&meta.name)
                        .map_err(polars_error(&meta.name))?;
                    let z: Vec<Option<f64>> =
                        synth_data::numeric_values(column).map_err(polars_error(&meta.name))?;
                    let present: Vec<f64> = z.iter().flatten().copied().collect();
                    columns.push(ColumnMeta {
                        min: present.iter().copied().reduce(f64::min),
                        max: present.iter().copied().reduce(f64::max),
                        missing: 1.0 - present.len() as f64 / z.len().max(1) as f64,
                        ..ColumnMeta::new(meta.name.clone(), ColumnKind::Continuous, DType::F64)
                    });
                }
                Role::Plain => columns.push(meta.clone()),
            }
        }
        Ok(TableMeta { columns })
    }
}

/// What the constraints make of one column.
enum Role<'a> {
    /// Member `position` of a fixed combination.
    Member(&'a [String], usize),
    /// The high side of an inequality.
    High { low: &'a str, gap: f64 },
    /// Computed from other columns.
    Computed,
    /// Learned as it is.
    Plain,
}

/// The name of a fixed combination's learned column.
fn joint_name(group: &[String]) -> String {
    group.join("+")
}

/// The high side of an inequality from the sampled low side `lo` and the learned `z`: within
/// the column's range where that keeps the inequality, rounded to the column's places, and
/// never below `lo + gap` (above it when `strict`).
fn high_side(meta: &ColumnMeta, lo: f64, z: f64, gap: f64, strict: bool) -> f64 {
    let base = lo + gap;
    let mut hi = base + z.max(0.0).exp_m1();
    if let Some(max) = meta.max.filter(|&max| max >= base) {
        hi = hi.min(max);
    }
    if !hi.is_finite() {
        hi = base;
    }
    let below = |hi: f64| if strict { hi <= base } else { hi < base };
    match meta.places() {
        Some(places) => {
            let unit = 10f64.powi(-(places as i32));
            hi = round_to(hi, places);
            if below(hi) {
                hi = round_to((base / unit).ceil() * unit, places);
            }
            if below(hi) {
                hi = round_to(hi + unit, places);
            }
        }
        None if below(hi) => hi = base.next_up(),
        None => {}
    }
    hi
}

/// A column of `meta`'s type holding model values: labels for a discrete column, numbers,
/// dates or times for a continuous one.
fn values_column(meta: &ColumnMeta, values: Vec<Option<f64>>) -> Result<Column> {
    let series = if meta.kind == ColumnKind::Discrete {
        let labels: Vec<Option<String>> = values
            .iter()
            .map(|v| {
                v.map(|x| {
                    if meta.dtype.is_integer() {
                        format!("{}", x.round() as i64)
                    } else {
                        format!("{x}")
                    }
                })
            })
            .collect();
        labels_column(meta, labels.iter().map(|l| l.as_deref()))
    } else {
        numbers_column(meta, values, false)
    };
    series.map(Column::from).map_err(polars_error(&meta.name))
}
