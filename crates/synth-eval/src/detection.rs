//! Detection: how well a classifier tells real rows from synthetic ones. The same boosted
//! model is trained on equal numbers of real and synthetic rows and scored by stratified
//! 3-fold cross-validated ROC AUC: 0.5 means indistinguishable, 1.0 fully separable.

use crate::Result;
use crate::boost::{Objective, fit_predict};
use crate::stats::{Interval, mean, roc_auc};
use crate::table::{Schema, Table, Values};
use rand::seq::index::sample;
use serde::Serialize;
use synth_core::seed::seeded_rng;

/// Folds of the cross-validation.
const FOLDS: usize = 3;

/// The detection section of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// Mean over the folds of the held-out ROC AUC.
    pub roc_auc: Option<f64>,
    /// Smallest and largest fold AUC.
    pub roc_auc_interval: Option<Interval>,
    /// SDMetrics' detection score, 1 - (2 max(AUC, 0.5) - 1): 1 is indistinguishable.
    pub score: Option<f64>,
    /// Real rows and synthetic rows used (each).
    pub rows_per_side: usize,
    /// Number of folds.
    pub folds: usize,
}

/// Cross-validates a real-vs-synthetic classifier on at most `max_rows` rows of each table.
pub fn detection(
    schema: &Schema,
    real: &Table,
    synthetic: &Table,
    max_rows: usize,
    seed: u64,
) -> Result<Detection> {
    let n = real.rows.min(synthetic.rows).min(max_rows);
    let mut rng = seeded_rng(seed);
    let mut real_rows = sample(&mut rng, real.rows, n).into_vec();
    let mut synthetic_rows = sample(&mut rng, synthetic.rows, n).into_vec();
    real_rows.sort_unstable();
    synthetic_rows.sort_unstable();
    let both = stack(&real.select(&real_rows), &synthetic.select(&synthetic_rows));
    let label: Vec<f64> = (0..2 * n).map(|i| f64::from(u8::from(i >= n))).collect();
    // Row i and row n + i share a fold, so every fold holds as many real as synthetic rows.
    let fold = |i: usize| (i % n) % FOLDS;
    let features: Vec<usize> = (0..schema.columns.len()).collect();
    let n_levels: Vec<usize> = schema.columns.iter().map(|c| c.levels.len()).collect();
    let mut aucs = Vec::new();
    for k in 0..FOLDS.min(n) {
        let train_rows: Vec<usize> = (0..2 * n).filter(|&i| fold(i) != k).collect();
        let test_rows: Vec<usize> = (0..2 * n).filter(|&i| fold(i) == k).collect();
        let train = both.select(&train_rows);
        let y: Vec<f64> = train_rows.iter().map(|&i| label[i]).collect();
        let p = fit_predict(
            &train,
            &y,
            &features,
            &n_levels,
            Objective::Binary,
            seed,
            (&both, &test_rows),
        )?;
        let truth: Vec<bool> = test_rows.iter().map(|&i| label[i] == 1.0).collect();
        aucs.extend(roc_auc(&truth, &p));
    }
    let auc = mean(&aucs);
    Ok(Detection {
        roc_auc: auc,
        roc_auc_interval: Interval::min_max(&aucs),
        score: auc.map(|a| 1.0 - (2.0 * a.max(0.5) - 1.0)),
        rows_per_side: n,
        folds: aucs.len(),
    })
}

/// The rows of `a` followed by those of `b`.
fn stack(a: &Table, b: &Table) -> Table {
    let columns = a
        .columns
        .iter()
        .zip(&b.columns)
        .map(|pair| match pair {
            (Values::Numeric(x), Values::Numeric(y)) => {
                Values::Numeric(x.iter().chain(y).copied().collect())
            }
            (Values::Categorical(x), Values::Categorical(y)) => {
                Values::Categorical(x.iter().chain(y).copied().collect())
            }
            _ => unreachable!("aligned tables share each column's kind"),
        })
        .collect();
    Table {
        rows: a.rows + b.rows,
        columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::SchemaColumn;
    use synth_core::ColumnKind;

    fn table(n: usize, shift: f64) -> Table {
        Table {
            rows: n,
            columns: vec![
                Values::Numeric((0..n).map(|i| (i * 7919 % 1000) as f64 + shift).collect()),
                Values::Categorical((0..n).map(|i| (i % 3) as u32).collect()),
            ],
        }
    }

    #[test]
    fn separable_tables_are_detected_and_equal_ones_are_not() {
        let schema = Schema {
            columns: vec![
                SchemaColumn {
                    name: "x".into(),
                    kind: ColumnKind::Continuous,
                    levels: vec![],
                    date_format: None,
                },
                SchemaColumn {
                    name: "c".into(),
                    kind: ColumnKind::Discrete,
                    levels: vec!["a".into(), "b".into(), "c".into()],
                    date_format: None,
                },
            ],
        };
        let real = table(3000, 0.0);
        let same = detection(&schema, &real, &table(3000, 0.0), 10_000, 1).unwrap();
        assert_eq!((same.rows_per_side, same.folds), (3000, 3));
        assert!((same.roc_auc.unwrap() - 0.5).abs() < 0.05, "{same:?}");
        // Shifted by half the range: the upper half of each is pure.
        let shifted = detection(&schema, &real, &table(3000, 500.0), 1000, 1).unwrap();
        assert_eq!(shifted.rows_per_side, 1000);
        let auc = shifted.roc_auc.unwrap();
        assert!(auc > 0.7, "{shifted:?}");
        let i = shifted.roc_auc_interval.unwrap();
        assert!(i.low <= auc && auc <= i.high);
        assert!((shifted.score.unwrap() - (2.0 - 2.0 * auc)).abs() < 1e-12);
    }
}
