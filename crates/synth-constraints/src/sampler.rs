//! Any model's sampler with constraints around it: its rows turned back into the table's
//! columns, rows that break a rule or a condition on a derived column dropped and replaced.

use crate::fitted::Constraints;
use crate::{ConstraintError, Result, polars_error};
use polars::prelude::*;
use synth_core::seed::derive_seed;
use synth_core::{ColumnKind, TableMeta};
use synth_data::keys::key_column;
use synth_data::values::category_labels;
use synth_tabular::{ConditionFrequencies, DataTransformer, RowSink, TabularError, TabularSampler};

/// A model's sampler whose rows obey the fitted constraints.
pub struct ConstrainedSampler {
    inner: Box<dyn TabularSampler>,
    constraints: Constraints,
}

/// How conditions are met: by the model (on its own columns), or by dropping rows.
#[derive(Debug, Default)]
struct ConditionPlan {
    model: Vec<(String, String)>,
    rejection: Vec<(String, String)>,
}

impl ConstrainedSampler {
    /// Wraps `inner`, a sampler of the model trained on the table the constraints made.
    pub fn new(inner: Box<dyn TabularSampler>, constraints: Constraints) -> Self {
        ConstrainedSampler { inner, constraints }
    }

    /// Splits `column = value` conditions into those the model meets and those met by
    /// rejection; a condition on a fixed combination's member becomes one on the learned
    /// combination when a single seen combination matches.
    fn plan(&self, conditions: &[(String, String)]) -> Result<ConditionPlan> {
        let table = self.constraints.table();
        let mut plan = ConditionPlan::default();
        let mut groups: Vec<(String, Vec<(String, String)>)> = Vec::new();
        for (column, value) in conditions {
            if table.column(column).is_none() {
                return Err(TabularError::UnknownConditionColumn {
                    column: column.clone(),
                    available: table
                        .columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
                .into());
            }
            if let Some((joint, _)) = self.constraints.combination_of(column) {
                match groups.iter_mut().find(|(j, _)| *j == joint) {
                    Some((_, list)) => list.push((column.clone(), value.clone())),
                    None => groups.push((joint, vec![(column.clone(), value.clone())])),
                }
            } else if self.constraints.transforms(column) {
                plan.rejection.push((column.clone(), value.clone()));
            } else {
                plan.model.push((column.clone(), value.clone()));
            }
        }
        for (joint, wanted) in groups {
            let (_, members) = self
                .constraints
                .combination_of(&wanted[0].0)
                .expect("a member");
            let categories = self
                .inner
                .transformer()
                .modelled_columns()
                .into_iter()
                .find(|(meta, _)| meta.name == joint)
                .and_then(|(_, categories)| categories)
                .map(|(labels, _)| labels)
                .unwrap_or_default();
            let matching: Vec<&String> = categories
                .iter()
                .filter(|label| {
                    let values: Vec<Option<String>> =
                        serde_json::from_str(label).unwrap_or_default();
                    wanted.iter().all(|(column, value)| {
                        let at = members.iter().position(|m| m == column).expect("a member");
                        values.get(at).map(|v| v.as_deref().unwrap_or("")) == Some(value.as_str())
                    })
                })
                .collect();
            match matching.as_slice() {
                [] => {
                    return Err(ConstraintError::Condition(format!(
                        "no combination of {} seen in the training data has {}; a fixed_combinations constraint allows only those",
                        members.join(", "),
                        wanted
                            .iter()
                            .map(|(c, v)| format!("{c} = {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                [one] => plan.model.push((joint, (*one).clone())),
                _ => plan.rejection.extend(wanted),
            }
        }
        Ok(plan)
    }

    /// The rows of a model's chunk that obey every constraint and the rejection conditions,
    /// restored to the table's columns; with the count of rows dropped per constraint.
    fn accept(
        &self,
        chunk: &DataFrame,
        plan: &ConditionPlan,
        dropped: &mut [usize],
    ) -> Result<DataFrame> {
        let restored = self.constraints.restore(chunk)?;
        let mut keep: Vec<bool> = vec![true; restored.height()];
        for (row, broken) in self
            .constraints
            .violations(&restored)?
            .into_iter()
            .enumerate()
        {
            if let Some(i) = broken {
                keep[row] = false;
                dropped[i] += 1;
            }
        }
        let table = self.constraints.table();
        for (column, value) in &plan.rejection {
            let meta = table.column(column).expect("checked");
            let cells = restored.column(column).map_err(polars_error(column))?;
            // as written out: numbers as numbers, dates and times as their text
            let labels = category_labels(meta, cells).map_err(polars_error(column))?;
            for (row, label) in labels.iter().enumerate() {
                if label.as_deref().unwrap_or("") != value {
                    if keep[row] {
                        *dropped.last_mut().expect("a slot for conditions") += 1;
                    }
                    keep[row] = false;
                }
            }
        }
        let mask: BooleanChunked = keep.into_iter().collect();
        restored
            .filter(&mask)
            .map_err(polars_error("(sampled rows)"))
    }

    fn sample_constrained(
        &self,
        n: usize,
        conditions: &[(String, String)],
        batch: usize,
        seed: u64,
        sink: &mut RowSink,
    ) -> Result<Option<f64>> {
        let plan = self.plan(conditions)?;
        let rules = self.constraints.rules();
        let mut dropped = vec![0usize; rules.len() + 1];
        let limit = n.saturating_mul(100).max(100_000);
        let (mut delivered, mut generated) = (0usize, 0usize);
        let mut first_pass: Option<(Option<f64>, f64)> = None;
        let mut round = 0u64;
        while delivered < n {
            if generated >= limit {
                let (worst, _) = dropped
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, d)| **d)
                    .expect("slots");
                let detail = if worst == rules.len() {
                    "the conditions on computed or combined columns dropped the most".to_string()
                } else {
                    format!("{} dropped the most", rules[worst].describe(worst))
                };
                return Err(ConstraintError::Unreachable {
                    generated,
                    kept: delivered,
                    detail,
                });
            }
            let kept_share = first_pass.map_or(1.0, |(_, share)| share.max(0.001));
            let want = if round == 0 {
                n
            } else {
                (((n - delivered) as f64 / kept_share * 1.2).ceil() as usize + 16)
                    .min(limit - generated)
            };
            let round_seed = if round == 0 {
                seed
            } else {
                derive_seed(seed, "constraints.round", round)
            };
            let mut failure = None;
            let (mut kept, mut drawn) = (0usize, 0usize);
            let inner_rate =
                self.inner
                    .sample_into(want, &plan.model, batch, round_seed, &mut |chunk| {
                        drawn += chunk.height();
                        if delivered >= n {
                            return Ok(());
                        }
                        let accepted = match self.accept(&chunk, &plan, &mut dropped) {
                            Ok(accepted) => accepted,
                            Err(e) => {
                                failure = Some(e);
                                return Err("constraints".into());
                            }
                        };
                        kept += accepted.height();
                        let take = accepted.height().min(n - delivered);
                        if take == 0 {
                            return Ok(());
                        }
                        let mut out = accepted.slice(0, take);
                        if let Err(e) =
                            renumber_keys(&mut out, self.constraints.table(), delivered as u64)
                        {
                            failure = Some(e);
                            return Err("constraints".into());
                        }
                        delivered += take;
                        sink(out)
                    });
            if let Some(e) = failure {
                return Err(e);
            }
            let inner_rate = inner_rate?;
            generated += drawn;
            if round == 0 {
                first_pass = Some((inner_rate, kept as f64 / drawn.max(1) as f64));
            }
            round += 1;
        }
        let (inner_rate, kept_share) = first_pass.unwrap_or((None, 1.0));
        let filtering = !plan.rejection.is_empty()
            || rules
                .iter()
                .any(|r| matches!(r, crate::Constraint::Rule { .. }));
        if filtering {
            tracing::info!(
                share = kept_share,
                generated,
                "constraints: share of sampled rows that met every rule and condition in the first pass"
            );
        }
        Ok(match (inner_rate, filtering) {
            (Some(rate), _) => Some(rate * kept_share),
            (None, true) => Some(kept_share),
            (None, false) => None,
        })
    }
}

/// Replaces the key columns of `df` (rows `first_row..` of the output) by the output's keys:
/// rows dropped or drawn in later rounds would otherwise repeat or skip numbers.
fn renumber_keys(df: &mut DataFrame, table: &TableMeta, first_row: u64) -> Result<()> {
    for meta in table.columns.iter().filter(|c| c.kind == ColumnKind::Key) {
        let keys = key_column(meta, first_row, df.height()).map_err(polars_error(&meta.name))?;
        df.replace(&meta.name, keys.into())
            .map_err(polars_error(&meta.name))?;
    }
    Ok(())
}

impl TabularSampler for ConstrainedSampler {
    fn transformer(&self) -> &DataTransformer {
        self.inner.transformer()
    }

    fn meta(&self) -> TableMeta {
        self.constraints.table().clone()
    }

    fn sample_into(
        &self,
        n: usize,
        condition: &[(String, String)],
        batch: usize,
        seed: u64,
        sink: &mut RowSink,
    ) -> synth_tabular::Result<Option<f64>> {
        self.sample_constrained(n, condition, batch, seed, sink)
            .map_err(|e| match e {
                ConstraintError::Model(inner) => inner,
                other => TabularError::Wrapped(Box::new(other)),
            })
    }

    fn impute(
        &self,
        _table: &DataFrame,
        _batch: usize,
        _seed: u64,
    ) -> synth_tabular::Result<(DataFrame, usize)> {
        Err(TabularError::Config(
            "imputing missing cells is not supported for a model trained with [[constraints]]; train without them to impute".into(),
        ))
    }

    fn set_rebalance(
        &mut self,
        column: &str,
        shares: &[(String, f64)],
    ) -> synth_tabular::Result<()> {
        if self.constraints.transforms(column) {
            return Err(TabularError::Config(format!(
                "--rebalance `{column}`: the column is bound by a constraint (computed or combined with others), so the model does not draw it on its own; rebalance another column"
            )));
        }
        self.inner.set_rebalance(column, shares)
    }

    fn set_condition_frequencies(
        &mut self,
        frequencies: ConditionFrequencies,
    ) -> synth_tabular::Result<()> {
        self.inner.set_condition_frequencies(frequencies)
    }
}
