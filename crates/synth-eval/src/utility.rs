//! Utility: train on synthetic rows and test on real holdout rows (TSTR), next to training on
//! the real rows (TRTR), with the same gradient-boosted model; classification for a discrete
//! target, regression for a continuous one.

use crate::boost::{Objective, fit_predict};
use crate::stats::{Interval, accuracy, bootstrap, f1_macro, mae, r2, roc_auc};
use crate::table::{MISSING, Schema, Table};
use crate::{EvalError, Result};
use serde::Serialize;

/// Scores of one model on the holdout rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// Rows the model was trained on.
    pub train_rows: usize,
    /// ROC AUC (one-vs-rest macro for more than two classes).
    pub roc_auc: Option<f64>,
    /// 95% bootstrap interval of the ROC AUC over the holdout rows.
    pub roc_auc_interval: Option<Interval>,
    /// Macro-averaged F1.
    pub f1_macro: Option<f64>,
    /// 95% bootstrap interval of the macro F1.
    pub f1_macro_interval: Option<Interval>,
    /// Share of holdout rows predicted right.
    pub accuracy: Option<f64>,
    /// 95% bootstrap interval of the accuracy.
    pub accuracy_interval: Option<Interval>,
    /// Regression: coefficient of determination.
    pub r2: Option<f64>,
    /// 95% bootstrap interval of R^2.
    pub r2_interval: Option<Interval>,
    /// Regression: mean absolute error.
    pub mae: Option<f64>,
    /// 95% bootstrap interval of the MAE.
    pub mae_interval: Option<Interval>,
}

/// The utility section of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Utility {
    /// The predicted column.
    pub target: String,
    /// `classification` or `regression`.
    pub task: &'static str,
    /// Classification: the classes, sorted (those of the holdout rows).
    pub classes: Vec<String>,
    /// Binary classification: the class whose probability the ROC AUC ranks by.
    pub positive_class: Option<String>,
    /// The model and its settings.
    pub model: &'static str,
    /// Trained on the synthetic rows.
    pub synthetic: Scores,
    /// Trained on the real rows.
    pub real: Scores,
    /// Holdout rows tested on.
    pub holdout_rows: usize,
}

/// Describes the model in the report.
pub const MODEL: &str = "forust gradient boosting: 100 trees, learning rate 0.1, 31 leaves, 256 bins, early stopping above 10,000 rows";

/// Trains on `real` and on `synthetic`, tests both on `holdout`.
pub fn utility(
    schema: &Schema,
    target: usize,
    real: &Table,
    synthetic: &Table,
    holdout: &Table,
    seed: u64,
) -> Result<Utility> {
    let name = schema.columns[target].name.clone();
    let features: Vec<usize> = (0..schema.columns.len()).filter(|&c| c != target).collect();
    let n_levels: Vec<usize> = schema.columns.iter().map(|c| c.levels.len()).collect();
    if let Some(codes) = holdout.codes(target) {
        let levels = &schema.columns[target].levels;
        // Classes of the holdout rows, sorted by name (the judge's order).
        let mut classes: Vec<u32> = codes.iter().copied().filter(|&c| c != MISSING).collect();
        classes.sort_unstable();
        classes.dedup();
        classes.sort_by(|&a, &b| levels[a as usize].cmp(&levels[b as usize]));
        for (table, codes) in [("real", real.codes(target)), ("holdout", Some(codes))] {
            let codes = codes.expect("discrete target");
            let mut present: Vec<u32> = codes
                .iter()
                .copied()
                .filter(|c| classes.contains(c))
                .collect();
            present.sort_unstable();
            present.dedup();
            if present.len() < 2 {
                let found = match present.first() {
                    Some(&c) => format!("only the class `{}`", levels[c as usize]),
                    None => "no class shared with the holdout rows".to_string(),
                };
                return Err(EvalError::SingleClass {
                    target: name,
                    table,
                    found,
                });
            }
        }
        let truth: Vec<usize> = codes
            .iter()
            .map(|c| classes.iter().position(|k| k == c).unwrap_or(usize::MAX))
            .collect();
        let tested: Vec<usize> = (0..holdout.rows)
            .filter(|&i| truth[i] != usize::MAX)
            .collect();
        let truth: Vec<usize> = tested.iter().map(|&i| truth[i]).collect();
        let score = |train: &Table| -> Result<Scores> {
            classify(
                train, target, &features, &n_levels, &classes, holdout, &tested, &truth, seed,
            )
        };
        let names: Vec<String> = classes
            .iter()
            .map(|&c| levels[c as usize].clone())
            .collect();
        return Ok(Utility {
            target: name,
            task: "classification",
            positive_class: (names.len() == 2).then(|| names[1].clone()),
            classes: names,
            model: MODEL,
            synthetic: score(synthetic)?,
            real: score(real)?,
            holdout_rows: tested.len(),
        });
    }
    let truth_all = holdout.numeric(target).expect("continuous target");
    let tested: Vec<usize> = (0..holdout.rows)
        .filter(|&i| !truth_all[i].is_nan())
        .collect();
    let truth: Vec<f64> = tested.iter().map(|&i| truth_all[i]).collect();
    let score = |train: &Table| -> Result<Scores> {
        regress(
            train, target, &features, &n_levels, holdout, &tested, &truth, seed,
        )
    };
    Ok(Utility {
        target: name,
        task: "regression",
        classes: Vec::new(),
        positive_class: None,
        model: MODEL,
        synthetic: score(synthetic)?,
        real: score(real)?,
        holdout_rows: tested.len(),
    })
}

fn empty_scores(train_rows: usize) -> Scores {
    Scores {
        train_rows,
        roc_auc: None,
        roc_auc_interval: None,
        f1_macro: None,
        f1_macro_interval: None,
        accuracy: None,
        accuracy_interval: None,
        r2: None,
        r2_interval: None,
        mae: None,
        mae_interval: None,
    }
}

/// One-vs-rest probabilities of each class for the `tested` holdout rows, from models trained
/// on the rows of `train` whose target is one of `classes` (a class absent from those rows
/// gets probability 0).
#[allow(clippy::too_many_arguments)]
fn classify(
    train: &Table,
    target: usize,
    features: &[usize],
    n_levels: &[usize],
    classes: &[u32],
    holdout: &Table,
    tested: &[usize],
    truth: &[usize],
    seed: u64,
) -> Result<Scores> {
    let codes = train.codes(target).expect("discrete target");
    let rows: Vec<usize> = (0..train.rows)
        .filter(|&i| classes.contains(&codes[i]))
        .collect();
    let train = train.select(&rows);
    let codes = train.codes(target).expect("discrete target");
    let k = classes.len();
    // Binary: one model for the second class; more: one model per class.
    let modelled: Vec<usize> = if k == 2 { vec![1] } else { (0..k).collect() };
    let mut proba = vec![vec![0.0; tested.len()]; k];
    for &class in &modelled {
        let y: Vec<f64> = codes
            .iter()
            .map(|&c| f64::from(u8::from(c == classes[class])))
            .collect();
        let positives = y.iter().filter(|&&v| v == 1.0).count();
        proba[class] = if positives == 0 || positives == y.len() {
            // A single class in the training rows: the model can only predict it.
            vec![if positives == 0 { 0.0 } else { 1.0 }; tested.len()]
        } else {
            fit_predict(
                &train,
                &y,
                features,
                n_levels,
                Objective::Binary,
                seed,
                (holdout, tested),
            )?
        };
    }
    if k == 2 {
        proba[0] = proba[1].iter().map(|p| 1.0 - p).collect();
    } else {
        for row in 0..tested.len() {
            let total: f64 = (0..k).map(|c| proba[c][row]).sum();
            for p in proba.iter_mut() {
                p[row] = if total > 0.0 {
                    p[row] / total
                } else {
                    1.0 / k as f64
                };
            }
        }
    }
    let predicted: Vec<usize> = (0..tested.len())
        .map(|row| {
            (0..k).fold(0, |best, c| {
                if proba[c][row] > proba[best][row] {
                    c
                } else {
                    best
                }
            })
        })
        .collect();
    let auc = |index: &[usize]| -> Option<f64> {
        let ovr: Vec<Option<f64>> = (if k == 2 { 1..2 } else { 0..k })
            .map(|c| {
                let positive: Vec<bool> = index.iter().map(|&i| truth[i] == c).collect();
                let scores: Vec<f64> = index.iter().map(|&i| proba[c][i]).collect();
                roc_auc(&positive, &scores)
            })
            .collect();
        ovr.iter()
            .copied()
            .collect::<Option<Vec<f64>>>()
            .map(|v| v.iter().sum::<f64>() / v.len() as f64)
    };
    let picked =
        |index: &[usize], v: &[usize]| -> Vec<usize> { index.iter().map(|&i| v[i]).collect() };
    let all: Vec<usize> = (0..tested.len()).collect();
    let metrics = |index: &[usize]| {
        let (t, p) = (picked(index, truth), picked(index, &predicted));
        [
            auc(index),
            Some(f1_macro(&t, &p, k)),
            Some(accuracy(&t, &p)),
        ]
    };
    let [roc, f1, acc] = metrics(&all);
    let [roc_i, f1_i, acc_i] = bootstrap(tested.len(), seed, metrics);
    Ok(Scores {
        roc_auc: roc,
        roc_auc_interval: roc_i,
        f1_macro: f1,
        f1_macro_interval: f1_i,
        accuracy: acc,
        accuracy_interval: acc_i,
        ..empty_scores(rows.len())
    })
}

#[allow(clippy::too_many_arguments)]
fn regress(
    train: &Table,
    target: usize,
    features: &[usize],
    n_levels: &[usize],
    holdout: &Table,
    tested: &[usize],
    truth: &[f64],
    seed: u64,
) -> Result<Scores> {
    let values = train.numeric(target).expect("continuous target");
    let rows: Vec<usize> = (0..train.rows).filter(|&i| !values[i].is_nan()).collect();
    let y: Vec<f64> = rows.iter().map(|&i| values[i]).collect();
    let train = train.select(&rows);
    let predicted = fit_predict(
        &train,
        &y,
        features,
        n_levels,
        Objective::Regression,
        seed,
        (holdout, tested),
    )?;
    let metrics = |index: &[usize]| {
        let t: Vec<f64> = index.iter().map(|&i| truth[i]).collect();
        let p: Vec<f64> = index.iter().map(|&i| predicted[i]).collect();
        [r2(&t, &p), Some(mae(&t, &p))]
    };
    let [r2_all, mae_all] = metrics(&(0..truth.len()).collect::<Vec<_>>());
    let [r2_i, mae_i] = bootstrap(truth.len(), seed, metrics);
    Ok(Scores {
        r2: r2_all,
        r2_interval: r2_i,
        mae: mae_all,
        mae_interval: mae_i,
        ..empty_scores(rows.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{SchemaColumn, Values};
    use synth_core::ColumnKind;

    /// Rows where `y` follows `x` (and the discrete `c` shifts it), `n` of them from `offset`.
    fn rows(n: usize, offset: usize, classes: bool) -> Table {
        let x: Vec<f64> = (0..n)
            .map(|i| ((i + offset) * 7919 % 1000) as f64 / 10.0)
            .collect();
        let c: Vec<u32> = (0..n).map(|i| ((i + offset) % 2) as u32).collect();
        let y = if classes {
            // Three classes by thresholds on x: "a" < 30 <= "b" < 70 <= "c".
            Values::Categorical(
                x.iter()
                    .map(|&v| u32::from(v >= 30.0) + u32::from(v >= 70.0))
                    .collect(),
            )
        } else {
            Values::Numeric(
                x.iter()
                    .zip(&c)
                    .map(|(&v, &k)| 2.0 * v + 10.0 * f64::from(k))
                    .collect(),
            )
        };
        Table {
            rows: n,
            columns: vec![Values::Numeric(x), Values::Categorical(c), y],
        }
    }

    fn schema(target_kind: ColumnKind) -> Schema {
        let col = |name: &str, kind, levels: &[&str]| SchemaColumn {
            name: name.into(),
            kind,
            levels: levels.iter().map(|l| l.to_string()).collect(),
            date_format: None,
        };
        Schema {
            columns: vec![
                col("x", ColumnKind::Continuous, &[]),
                col("c", ColumnKind::Discrete, &["even", "odd"]),
                // Codes 0, 1, 2 name "b", "a", "c": the classes must come out sorted by name.
                col(
                    "y",
                    target_kind,
                    if target_kind == ColumnKind::Discrete {
                        &["b", "a", "c"]
                    } else {
                        &[]
                    },
                ),
            ],
        }
    }

    #[test]
    fn multiclass_scores_one_vs_rest_with_classes_sorted_by_name() {
        let (train, holdout) = (rows(1200, 0, true), rows(400, 5000, true));
        let u = utility(
            &schema(ColumnKind::Discrete),
            2,
            &train,
            &train,
            &holdout,
            0,
        )
        .unwrap();
        assert_eq!(u.task, "classification");
        assert_eq!(u.classes, ["a", "b", "c"]);
        assert_eq!(u.positive_class, None);
        let auc = u.synthetic.roc_auc.unwrap();
        assert!(auc > 0.98, "thresholds on x are easy: {auc}");
        assert!(u.synthetic.accuracy.unwrap() > 0.95);
        assert_eq!(u.synthetic.roc_auc, u.real.roc_auc);
        // A "synthetic" table whose labels are shuffled teaches nothing.
        let mut noise = train.clone();
        if let Values::Categorical(y) = &mut noise.columns[2] {
            y.rotate_left(7);
            y.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v = ((*v as usize + i) % 3) as u32);
        }
        let u = utility(
            &schema(ColumnKind::Discrete),
            2,
            &train,
            &noise,
            &holdout,
            0,
        )
        .unwrap();
        let auc = u.synthetic.roc_auc.unwrap();
        assert!((auc - 0.5).abs() < 0.1, "{auc}");
        let i = u.synthetic.roc_auc_interval.unwrap();
        assert!(i.low <= auc && auc <= i.high, "{i:?}");
    }

    #[test]
    fn regression_reports_r2_and_mae() {
        let (train, holdout) = (rows(1500, 0, false), rows(400, 5000, false));
        let u = utility(
            &schema(ColumnKind::Continuous),
            2,
            &train,
            &train,
            &holdout,
            0,
        )
        .unwrap();
        assert_eq!(u.task, "regression");
        assert!(u.synthetic.r2.unwrap() > 0.95, "{:?}", u.synthetic);
        // y spans 0..208: an error of a few units at most.
        assert!(u.synthetic.mae.unwrap() < 5.0, "{:?}", u.synthetic);
        assert_eq!(u.synthetic.roc_auc, None);
    }

    #[test]
    fn a_single_real_class_is_an_error_naming_it() {
        let mut train = rows(300, 0, true);
        train.columns[2] = Values::Categorical(vec![1; 300]);
        let holdout = rows(100, 5000, true);
        let err = utility(
            &schema(ColumnKind::Discrete),
            2,
            &train,
            &train,
            &holdout,
            0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("only the class `a`"), "{err}");
    }
}
