//! The classifier behind utility and detection: forust's histogram gradient boosting with
//! settings close to scikit-learn's `HistGradientBoostingClassifier` defaults (100 trees,
//! learning rate 0.1, at most 31 leaves grown best-first, 256 bins with missing values routed
//! by gain, early stopping on a 10% validation split after 10 rounds without improvement when
//! there are more than 10,000 rows).
//!
//! scikit-learn splits categorical features natively by sorting categories by their gradient
//! statistics. forust has no categorical splits, so a category is encoded as its rank when the
//! training rows' categories are sorted by mean target: the order the native split searches,
//! fixed once per model. Categories the training rows lack are missing.

use crate::table::{MISSING, Table, Values};
use crate::{EvalError, Result};
use forust_ml::Matrix;
use forust_ml::gradientbooster::{GradientBooster, GrowPolicy};
use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;
use rand::seq::SliceRandom;
use synth_core::seed::seeded_rng;

/// Rows above which a validation split stops boosting early (scikit-learn's `"auto"`).
const EARLY_STOPPING_ROWS: usize = 10_000;

/// How each feature column becomes a number.
pub struct Encoder {
    features: Vec<usize>,
    /// Per feature: for a discrete column, the value of each code (NaN for unseen).
    ranks: Vec<Option<Vec<f64>>>,
}

impl Encoder {
    /// Learns the encoding of `features` (column indices) from `train`, ordering each discrete
    /// column's categories by the mean of `key` (one value per training row).
    pub fn fit(train: &Table, features: &[usize], key: &[f64], n_levels: &[usize]) -> Self {
        let ranks = features
            .iter()
            .map(|&column| {
                let codes = train.codes(column)?;
                let levels = n_levels[column];
                let mut sums = vec![(0.0f64, 0usize); levels];
                for (&c, &k) in codes.iter().zip(key) {
                    if c != MISSING {
                        sums[c as usize].0 += k;
                        sums[c as usize].1 += 1;
                    }
                }
                let mut seen: Vec<usize> = (0..levels).filter(|&c| sums[c].1 > 0).collect();
                let mean = |c: usize| sums[c].0 / sums[c].1 as f64;
                seen.sort_by(|&a, &b| mean(a).total_cmp(&mean(b)).then(a.cmp(&b)));
                let mut rank = vec![f64::NAN; levels];
                for (r, &c) in seen.iter().enumerate() {
                    rank[c] = r as f64;
                }
                Some(rank)
            })
            .collect();
        Encoder {
            features: features.to_vec(),
            ranks,
        }
    }

    /// The rows `index` of `table` as a column-major feature matrix.
    pub fn transform(&self, table: &Table, index: &[usize]) -> Vec<f64> {
        let mut data = Vec::with_capacity(index.len() * self.features.len());
        for (&column, rank) in self.features.iter().zip(&self.ranks) {
            match (&table.columns[column], rank) {
                (Values::Numeric(v), _) => data.extend(index.iter().map(|&i| v[i])),
                (Values::Categorical(c), Some(rank)) => data.extend(
                    index
                        .iter()
                        .map(|&i| rank.get(c[i] as usize).copied().unwrap_or(f64::NAN)),
                ),
                (Values::Categorical(_), None) => unreachable!("ranks exist for discrete columns"),
            }
        }
        data
    }
}

/// What a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// The probability of label 1 (labels 0 and 1).
    Binary,
    /// A number.
    Regression,
}

/// A boosted model on encoded features.
pub struct Booster {
    model: GradientBooster,
    objective: Objective,
    width: usize,
}

impl Booster {
    /// Fits on the column-major `features` (`y.len()` rows). With more than 10,000 rows a
    /// stratified (binary) or random 10% split, drawn from `seed`, stops boosting early.
    pub fn fit(features: &[f64], y: &[f64], objective: Objective, seed: u64) -> Result<Self> {
        let rows = y.len();
        let width = features.len() / rows.max(1);
        let (objective_type, metric) = match objective {
            Objective::Binary => (ObjectiveType::LogLoss, Metric::LogLoss),
            Objective::Regression => (ObjectiveType::SquaredLoss, Metric::RootMeanSquaredError),
        };
        let mut model = GradientBooster::default()
            .set_objective_type(objective_type)
            .set_iterations(100)
            .set_learning_rate(0.1)
            .set_max_leaves(31)
            .set_max_depth(64)
            .set_l2(1.0)
            .set_min_leaf_weight(1.0)
            .set_nbins(256)
            .set_seed(seed)
            .set_parallel(true);
        model.grow_policy = GrowPolicy::LossGuide;
        let boosting = |e: forust_ml::errors::ForustError| EvalError::Boosting(e.to_string());
        let weights = vec![1.0; rows];
        if rows > EARLY_STOPPING_ROWS {
            let (fit_rows, valid_rows) = validation_split(y, objective, seed);
            let take = |index: &[usize]| -> Vec<f64> {
                (0..width)
                    .flat_map(|c| index.iter().map(move |&i| features[c * rows + i]))
                    .collect()
            };
            let (fit_x, valid_x) = (take(&fit_rows), take(&valid_rows));
            let fit_y: Vec<f64> = fit_rows.iter().map(|&i| y[i]).collect();
            let valid_y: Vec<f64> = valid_rows.iter().map(|&i| y[i]).collect();
            let valid_w = vec![1.0; valid_rows.len()];
            model = model
                .set_evaluation_metric(Some(metric))
                .set_early_stopping_rounds(Some(10));
            let valid = Matrix::new(&valid_x, valid_rows.len(), width);
            model
                .fit(
                    &Matrix::new(&fit_x, fit_rows.len(), width),
                    &fit_y,
                    &weights[..fit_rows.len()],
                    Some(vec![(valid, &valid_y, &valid_w)]),
                )
                .map_err(boosting)?;
        } else {
            model
                .fit(&Matrix::new(features, rows, width), y, &weights, None)
                .map_err(boosting)?;
        }
        Ok(Booster {
            model,
            objective,
            width,
        })
    }

    /// Predictions for the column-major `features`: probabilities of label 1, or numbers.
    pub fn predict(&self, features: &[f64]) -> Vec<f64> {
        let rows = features.len() / self.width.max(1);
        let raw = self
            .model
            .predict(&Matrix::new(features, rows, self.width), true);
        match self.objective {
            Objective::Binary => raw.into_iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect(),
            Objective::Regression => raw,
        }
    }
}

/// Encodes the feature columns of `train` (categories ranked by the mean of `y`), fits a model
/// of `objective` on all its rows, and predicts the rows `rows` of `test`.
pub fn fit_predict(
    train: &Table,
    y: &[f64],
    features: &[usize],
    n_levels: &[usize],
    objective: Objective,
    seed: u64,
    (test, rows): (&Table, &[usize]),
) -> Result<Vec<f64>> {
    let encoder = Encoder::fit(train, features, y, n_levels);
    let all: Vec<usize> = (0..train.rows).collect();
    let model = Booster::fit(&encoder.transform(train, &all), y, objective, seed)?;
    Ok(model.predict(&encoder.transform(test, rows)))
}

/// Rows to fit on and 10% to validate on; a binary target is split class by class.
fn validation_split(y: &[f64], objective: Objective, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = seeded_rng(seed);
    let groups: Vec<Vec<usize>> = match objective {
        Objective::Binary => [0.0, 1.0]
            .iter()
            .map(|&label| (0..y.len()).filter(|&i| y[i] == label).collect())
            .collect(),
        Objective::Regression => vec![(0..y.len()).collect()],
    };
    let (mut fit, mut valid) = (Vec::new(), Vec::new());
    for mut group in groups {
        group.shuffle(&mut rng);
        let n_valid = group.len() / 10;
        valid.extend_from_slice(&group[..n_valid]);
        fit.extend_from_slice(&group[n_valid..]);
    }
    fit.sort_unstable();
    valid.sort_unstable();
    (fit, valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_ranked_by_mean_target() {
        let table = Table {
            rows: 6,
            columns: vec![Values::Categorical(vec![0, 0, 1, 1, 2, MISSING])],
        };
        // Means: code 0 -> 1.0, code 1 -> 0.0, code 2 -> 0.5; code 3 unseen.
        let key = [1.0, 1.0, 0.0, 0.0, 0.5, 1.0];
        let enc = Encoder::fit(&table, &[0], &key, &[4]);
        let x = enc.transform(&table, &[0, 2, 4, 5]);
        assert_eq!(&x[..3], [2.0, 0.0, 1.0]);
        assert!(x[3].is_nan());
        let unseen = Table {
            rows: 1,
            columns: vec![Values::Categorical(vec![3])],
        };
        assert!(enc.transform(&unseen, &[0])[0].is_nan());
    }

    #[test]
    fn learns_a_threshold_and_an_interaction() {
        // y = 1 when x > 0.5 xor c == 1: needs both features.
        let n = 2000;
        let x: Vec<f64> = (0..n).map(|i| (i * 7919 % n) as f64 / n as f64).collect();
        let c: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| f64::from(u8::from((x[i] > 0.5) != (c[i] == 1.0))))
            .collect();
        let features: Vec<f64> = x.iter().chain(&c).copied().collect();
        let model = Booster::fit(&features, &y, Objective::Binary, 0).unwrap();
        let p = model.predict(&features);
        let correct = p
            .iter()
            .zip(&y)
            .filter(|(p, y)| (**p > 0.5) == (**y == 1.0))
            .count();
        assert!(correct as f64 / n as f64 > 0.98, "{correct}");
    }

    #[test]
    fn validation_split_is_stratified() {
        let y: Vec<f64> = (0..1000).map(|i| f64::from(u8::from(i < 100))).collect();
        let (fit, valid) = validation_split(&y, Objective::Binary, 4);
        assert_eq!((fit.len(), valid.len()), (900, 100));
        assert_eq!(valid.iter().filter(|&&i| y[i] == 1.0).count(), 10);
    }
}
