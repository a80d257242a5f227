//! Augmentation gain: whether adding rows of a rare class to the real training rows (by a
//! generator or by SMOTE) helps a classifier find that class in real rows it never saw. The
//! same gradient boosting as the utility scores is trained on the real rows alone and on each
//! augmented table to tell the class from the rest, and tested on the holdout rows: recall,
//! precision and F1 of the class at probability 0.5, and the areas under its
//! precision-recall and ROC curves, with bootstrap intervals over the holdout rows.

use crate::boost::{Objective, fit_predict};
use crate::stats::{Interval, average_precision, bootstrap, f1, precision_recall, roc_auc};
use crate::table::{MISSING, Tables};
use crate::{EvalError, Progress, Result};
use polars::prelude::DataFrame;
use serde::Serialize;
use synth_core::TableMeta;

/// The probability above which a holdout row counts as predicted of the class.
pub const DECISION_THRESHOLD: f64 = 0.5;

/// Version of the `augmentation.json` layout.
pub const AUGMENTATION_SCHEMA_VERSION: u32 = 1;

/// One training table's scores on the class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScores {
    /// `real` for the real rows alone, else the augmented table's label.
    pub label: String,
    /// Rows trained on (those with a target value).
    pub train_rows: usize,
    /// Of them, rows of the class.
    pub class_rows: usize,
    /// The class's share of the training rows.
    pub class_share: f64,
    /// Share of the holdout rows of the class predicted as the class.
    pub recall: f64,
    /// Share of the holdout rows predicted as the class that are of it (0 when none is).
    pub precision: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// 95% bootstrap interval of the F1.
    pub f1_interval: Option<Interval>,
    /// Area under the precision-recall curve (average precision).
    pub pr_auc: Option<f64>,
    /// 95% bootstrap interval of the PR AUC.
    pub pr_auc_interval: Option<Interval>,
    /// Area under the ROC curve of the class's probability.
    pub roc_auc: Option<f64>,
}

/// Everything `augmentation.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AugmentationReport {
    /// [`AUGMENTATION_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The class column.
    pub target: String,
    /// The class.
    pub class: String,
    /// The classifier and its settings.
    pub model: &'static str,
    /// [`DECISION_THRESHOLD`].
    pub threshold: f64,
    /// Holdout rows tested on (those with a target value).
    pub holdout_rows: usize,
    /// Of them, rows of the class.
    pub holdout_class_rows: usize,
    /// The real rows alone first, then each augmented table in the order given.
    pub scores: Vec<ClassScores>,
}

/// Scores a classifier of `class` in column `target` trained on the real rows alone and on
/// each augmented table (label, rows), all tested on the holdout rows; column kinds from
/// `meta`. Each augmented table must have the real table's columns.
pub fn augmentation_gain(
    meta: &TableMeta,
    (real, holdout): (&DataFrame, &DataFrame),
    augmented: &[(String, DataFrame)],
    (target, class): (&str, &str),
    seed: u64,
    progress: &dyn Progress,
) -> Result<AugmentationReport> {
    progress.step(
        "augmentation: train on each table",
        augmented.len() as u64 + 1,
    );
    let mut scores = Vec::with_capacity(augmented.len() + 1);
    let mut holdout_counts = (0, 0);
    for (i, (label, table)) in augmented.iter().enumerate() {
        let tables = Tables::align(meta, real, table, Some(holdout))?;
        let holdout = tables.holdout.as_ref().expect("aligned with a holdout");
        let classifier = ClassTask::new(&tables, target, class)?;
        if i == 0 {
            holdout_counts = (classifier.tested.len(), classifier.holdout_class_rows());
            scores.push(classifier.score("real", &tables.real, holdout, seed)?);
            progress.advance(1);
        }
        scores.push(classifier.score(label, &tables.synthetic, holdout, seed)?);
        progress.advance(1);
    }
    Ok(AugmentationReport {
        schema_version: AUGMENTATION_SCHEMA_VERSION,
        target: target.to_string(),
        class: class.to_string(),
        model: crate::utility::MODEL,
        threshold: DECISION_THRESHOLD,
        holdout_rows: holdout_counts.0,
        holdout_class_rows: holdout_counts.1,
        scores,
    })
}

/// The class to find, and the holdout rows to find it in, on one alignment of the tables.
struct ClassTask {
    target: usize,
    code: u32,
    features: Vec<usize>,
    n_levels: Vec<usize>,
    /// Holdout rows with a target value, and whether each is of the class.
    tested: Vec<usize>,
    truth: Vec<bool>,
}

impl ClassTask {
    fn new(tables: &Tables, target: &str, class: &str) -> Result<Self> {
        let schema = &tables.schema;
        let column = schema
            .position(target)
            .ok_or_else(|| EvalError::UnknownTarget {
                target: target.to_string(),
                available: schema.names(),
            })?;
        let levels = &schema.columns[column].levels;
        let holdout = tables
            .holdout
            .as_ref()
            .ok_or(EvalError::TargetNeedsHoldout)?;
        let Some(codes) = holdout.codes(column) else {
            return Err(EvalError::ContinuousClassTarget {
                target: target.to_string(),
            });
        };
        // numbers are categories by value: `1` names the level `1` of 1.0 values
        let wanted = match class.trim().parse::<f64>() {
            Ok(x) if !levels.iter().any(|l| l == class) => x.to_string(),
            _ => class.to_string(),
        };
        let code = levels.iter().position(|l| *l == wanted);
        let tested: Vec<usize> = (0..holdout.rows).filter(|&i| codes[i] != MISSING).collect();
        let truth: Vec<bool> = tested
            .iter()
            .map(|&i| code == Some(codes[i] as usize))
            .collect();
        let Some(code) = code.filter(|_| truth.contains(&true)) else {
            return Err(EvalError::ClassAbsent {
                target: target.to_string(),
                class: class.to_string(),
                table: "holdout",
            });
        };
        Ok(ClassTask {
            target: column,
            code: code as u32,
            features: (0..schema.columns.len()).filter(|&c| c != column).collect(),
            n_levels: schema.columns.iter().map(|c| c.levels.len()).collect(),
            tested,
            truth,
        })
    }

    fn holdout_class_rows(&self) -> usize {
        self.truth.iter().filter(|&&t| t).count()
    }

    /// Trains on `train`'s rows with a target value and scores the holdout rows.
    fn score(
        &self,
        label: &str,
        train: &crate::table::Table,
        holdout: &crate::table::Table,
        seed: u64,
    ) -> Result<ClassScores> {
        let codes = train.codes(self.target).expect("a discrete target");
        let rows: Vec<usize> = (0..train.rows).filter(|&i| codes[i] != MISSING).collect();
        let y: Vec<f64> = rows
            .iter()
            .map(|&i| f64::from(u8::from(codes[i] == self.code)))
            .collect();
        let class_rows = y.iter().filter(|&&v| v == 1.0).count();
        if class_rows == 0 || class_rows == rows.len() {
            return Err(EvalError::OneSided {
                label: label.to_string(),
                found: if class_rows == 0 {
                    "no row of the class"
                } else {
                    "only rows of the class"
                },
            });
        }
        let proba = fit_predict(
            &train.select(&rows),
            &y,
            &self.features,
            &self.n_levels,
            Objective::Binary,
            seed,
            (holdout, &self.tested),
        )?;
        let metrics = |index: &[usize]| {
            let truth: Vec<bool> = index.iter().map(|&i| self.truth[i]).collect();
            let predicted: Vec<bool> = index
                .iter()
                .map(|&i| proba[i] >= DECISION_THRESHOLD)
                .collect();
            let scores: Vec<f64> = index.iter().map(|&i| proba[i]).collect();
            let (precision, recall) = precision_recall(&truth, &predicted);
            [
                Some(precision),
                Some(recall),
                Some(f1(precision, recall)),
                average_precision(&truth, &scores),
                roc_auc(&truth, &scores),
            ]
        };
        let all: Vec<usize> = (0..self.tested.len()).collect();
        let [precision, recall, f1_all, pr_auc, roc] = metrics(&all);
        let [_, _, f1_interval, pr_auc_interval, _] = bootstrap(all.len(), seed, metrics);
        Ok(ClassScores {
            label: label.to_string(),
            train_rows: rows.len(),
            class_rows,
            class_share: class_rows as f64 / rows.len() as f64,
            recall: recall.unwrap_or(0.0),
            precision: precision.unwrap_or(0.0),
            f1: f1_all.unwrap_or(0.0),
            f1_interval,
            pr_auc,
            pr_auc_interval,
            roc_auc: roc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoProgress;
    use polars::prelude::*;
    use synth_core::{ColumnKind, ColumnMeta, DType};

    /// A rare class `y = "r"` when x > 0.9: rows spaced evenly over [0, 1).
    fn rows(n: usize, offset: usize) -> DataFrame {
        let x: Vec<f64> = (0..n)
            .map(|i| ((i * 37 + offset) % n) as f64 / n as f64)
            .collect();
        let y: Vec<&str> = x.iter().map(|&v| if v > 0.9 { "r" } else { "c" }).collect();
        df!("x" => x, "y" => y).unwrap()
    }

    fn meta() -> TableMeta {
        TableMeta {
            columns: vec![
                ColumnMeta::new("x", ColumnKind::Continuous, DType::F64),
                ColumnMeta::new("y", ColumnKind::Discrete, DType::Str),
            ],
        }
    }

    #[test]
    fn a_learnable_class_is_found_and_tables_are_scored_in_order() {
        let (real, holdout) = (rows(400, 1), rows(300, 2));
        let augmented = vec![("copy".to_string(), rows(400, 5))];
        let report = augmentation_gain(
            &meta(),
            (&real, &holdout),
            &augmented,
            ("y", "r"),
            0,
            &NoProgress,
        )
        .unwrap();
        assert_eq!(report.holdout_rows, 300);
        // x > 0.9 on an even grid of 300: 29 rows (0.9033 .. 0.9967)
        assert_eq!(report.holdout_class_rows, 29);
        let labels: Vec<&str> = report.scores.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["real", "copy"]);
        let real_scores = &report.scores[0];
        assert_eq!(real_scores.train_rows, 400);
        assert_eq!(real_scores.class_rows, 39);
        assert!(
            real_scores.recall > 0.9 && real_scores.precision > 0.9,
            "{real_scores:?}"
        );
        assert!(real_scores.pr_auc.unwrap() > 0.9);
        let i = real_scores.f1_interval.unwrap();
        assert!(i.low <= real_scores.f1 && real_scores.f1 <= i.high);
    }

    #[test]
    fn classes_and_targets_are_checked() {
        let (real, holdout) = (rows(100, 1), rows(100, 2));
        let augmented = vec![("a".to_string(), rows(100, 3))];
        let run = |target: &str, class: &str| {
            augmentation_gain(
                &meta(),
                (&real, &holdout),
                &augmented,
                (target, class),
                0,
                &NoProgress,
            )
            .unwrap_err()
            .to_string()
        };
        assert!(run("y", "q").contains("class `q` of `y` does not occur in the holdout"));
        assert!(run("x", "1").contains("`x` is continuous"));
        assert!(run("z", "r").contains("`z` is not a column"));
        // a training table without the class cannot train a classifier of it
        let none = vec![("none".to_string(), rows(100, 3).slice(0, 5))];
        let none_of_class = none[0]
            .1
            .column("y")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .all(|v| v == Some("c"));
        assert!(none_of_class);
        let err = augmentation_gain(
            &meta(),
            (&real, &holdout),
            &none,
            ("y", "r"),
            0,
            &NoProgress,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no row of the class"), "{err}");
    }
}
