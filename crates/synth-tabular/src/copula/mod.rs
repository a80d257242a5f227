//! GaussianCopula: a statistical baseline fitted in closed form. Each column is turned into a
//! standard normal score through its marginal (continuous: a fitted family or the data's
//! quantiles; discrete: categories as intervals of [0, 1], most frequent first, a row's score
//! drawn uniformly within its category's interval), the scores' correlation is estimated and
//! regularised to be positive definite, and rows are sampled as correlated normal scores sent
//! back through the marginals. Missing values of a continuous column are drawn independently
//! at the column's missing share (their score counts as 0 in the correlation).
//!
//! The fit is the one "epoch" of the training loop; its log-likelihood (the copula density of
//! the training scores, per row) is its loss. Conditions: a category or a value fixes that
//! column's score (a category to its interval), and the other scores are drawn from the
//! conditional normal; with several categories, rows failing them are drawn again
//! (rejection), and the first-pass match rate is reported.

mod config;
pub mod marginal;

pub use config::GaussianCopulaConfig;
pub use marginal::{Family, Marginal};

use crate::condition::{Fixed, parse_conditions};
use crate::model::{FittedOnce, RowSink, TabularModel, TabularSampler, TrainingTable, write_json};
use crate::transform::{ColumnValues, DataTransformer, ModelledColumn};
use crate::{Result, TRANSFORMER_FILE, TabularError, read_json};
use burn::tensor::Device;
use nalgebra::{DMatrix, DVector};
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};
use std::path::Path;
use std::time::Instant;
use synth_core::seed::derive_seed;
use synth_core::seed::{SeededRng, seeded_rng};
use synth_core::{ColumnKind, ColumnMeta, Trainable, Valid};

/// The fitted copula inside a checkpoint folder.
pub const COPULA_FILE: &str = "copula.json";

/// Probabilities are kept this far from 0 and 1 before the normal quantile (|z| <= 7).
const EDGE: f64 = 1e-12;

/// The smallest diagonal entry of an accepted Cholesky factor: each score keeps at least this
/// standard deviation given the ones before it, so solves with the factor stay accurate.
const MIN_PIVOT: f64 = 1e-3;

/// Shrinkages tried, in order, until the correlation has a well-conditioned Cholesky factor.
const SHRINKAGES: [f64; 8] = [0.0, 1e-9, 1e-6, 1e-4, 1e-3, 1e-2, 0.1, 1.0];

/// How one modelled column is sent to and from its normal score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CopulaColumn {
    /// A continuous column.
    Continuous {
        /// Its marginal.
        marginal: Marginal,
        /// Share of missing values.
        missing: f64,
    },
    /// A discrete column: category `order[j]` holds the interval `[ends[j], ends[j + 1])`.
    Discrete {
        /// Category indices, most frequent first.
        order: Vec<usize>,
        /// Interval ends, from 0 to 1 (one more than `order`).
        ends: Vec<f64>,
    },
}

/// A fitted Gaussian copula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedCopula {
    /// Per modelled column, in table order.
    pub columns: Vec<CopulaColumn>,
    /// Correlation of the normal scores, row-major, after shrinkage.
    pub correlation: Vec<f64>,
    /// The shrinkage towards the identity that made it positive definite.
    pub shrinkage: f64,
    /// Mean log-density of the training rows' scores under the copula.
    pub log_likelihood: f64,
}

impl FittedCopula {
    /// Fits the copula to the modelled columns' values (`columns` from
    /// [`DataTransformer::modelled_columns`]).
    pub fn fit(
        config: &GaussianCopulaConfig,
        columns: &[ModelledColumn],
        values: &[ColumnValues],
        seed: u64,
    ) -> Result<Self> {
        for name in config.distributions.keys() {
            let Some((meta, _)) = columns.iter().find(|(m, _)| &m.name == name) else {
                return Err(TabularError::Config(format!(
                    "model.distributions names `{name}`, which is not a modelled column"
                )));
            };
            if meta.kind != ColumnKind::Continuous {
                return Err(TabularError::Config(format!(
                    "model.distributions: `{name}` is discrete; distributions apply to continuous columns"
                )));
            }
        }
        let rows = values.first().map_or(0, ColumnValues::rows);
        let mut rng = seeded_rng(derive_seed(seed, "copula.fit", 0));
        let mut fitted = Vec::with_capacity(values.len());
        let mut scores = Vec::with_capacity(values.len());
        for ((meta, categories), column) in columns.iter().zip(values) {
            let (copula_column, column_scores) = match (column, categories) {
                (ColumnValues::Numbers(numbers), _) => {
                    let family = config
                        .distributions
                        .get(&meta.name)
                        .copied()
                        .unwrap_or(config.default_distribution);
                    fit_continuous(meta, numbers, family, &mut rng)?
                }
                (ColumnValues::Categories(indices), Some((labels, _))) => {
                    fit_discrete(indices, labels.len(), &mut rng)
                }
                (ColumnValues::Categories(_), None) => {
                    return Err(TabularError::ValuesMismatch {
                        column: meta.name.clone(),
                    });
                }
            };
            fitted.push(copula_column);
            scores.push(column_scores);
        }
        let d = scores.len();
        let mut correlation = DMatrix::<f64>::identity(d, d);
        for a in 0..d {
            for b in 0..a {
                let r = pearson(&scores[a], &scores[b]);
                correlation[(a, b)] = r;
                correlation[(b, a)] = r;
            }
        }
        let (correlation, shrinkage, cholesky) = regularise(&correlation);
        let log_likelihood = log_likelihood(&cholesky, &scores, rows);
        Ok(FittedCopula {
            columns: fitted,
            correlation: correlation.transpose().as_slice().to_vec(),
            shrinkage,
            log_likelihood,
        })
    }

    /// Checks a loaded copula against its transformer's columns; the message names the part.
    pub fn check(&self, columns: &[ModelledColumn]) -> std::result::Result<(), String> {
        let d = columns.len();
        if self.columns.len() != d {
            return Err(format!(
                "{} copula columns for {d} modelled columns",
                self.columns.len()
            ));
        }
        if self.correlation.len() != d * d || !self.correlation.iter().all(|v| v.is_finite()) {
            return Err(format!("the correlation is not a finite {d} x {d} matrix"));
        }
        if nalgebra::Cholesky::new(self.correlation_matrix()).is_none() {
            return Err("the correlation is not positive definite".into());
        }
        for (column, (meta, categories)) in self.columns.iter().zip(columns) {
            let fail = |why: String| Err(format!("column `{}`: {why}", meta.name));
            match (column, categories) {
                (CopulaColumn::Continuous { marginal, missing }, None) => {
                    marginal.check().or_else(fail)?;
                    if !(0.0..=1.0).contains(missing) {
                        return fail(format!("missing share {missing} outside [0, 1]"));
                    }
                }
                (CopulaColumn::Discrete { order, ends }, Some((labels, _))) => {
                    let mut sorted = order.clone();
                    sorted.sort_unstable();
                    let valid_ends = ends.len() == order.len() + 1
                        && ends.first() == Some(&0.0)
                        && ends.last().is_some_and(|e| (e - 1.0).abs() < 1e-9)
                        && ends.windows(2).all(|w| w[0] <= w[1]);
                    if sorted != (0..labels.len()).collect::<Vec<_>>() || !valid_ends {
                        return fail("category intervals do not match the categories".into());
                    }
                }
                _ => return fail("kind differs from the transformer's".into()),
            }
        }
        Ok(())
    }

    fn correlation_matrix(&self) -> DMatrix<f64> {
        let d = self.columns.len();
        DMatrix::from_row_slice(d, d, &self.correlation)
    }
}

/// The standard normal quantile of `u`, kept finite.
fn normal_score(u: f64) -> f64 {
    standard_normal().inverse_cdf(u.clamp(EDGE, 1.0 - EDGE))
}

fn standard_normal() -> Normal {
    Normal::standard()
}

/// A continuous column's marginal and its rows' scores (a value repeated across several
/// quantiles scores uniformly within their range; missing values score 0).
fn fit_continuous(
    meta: &ColumnMeta,
    numbers: &[Option<f64>],
    family: Family,
    rng: &mut SeededRng,
) -> Result<(CopulaColumn, Vec<f64>)> {
    let mut present: Vec<f64> = numbers.iter().flatten().copied().collect();
    if present.is_empty() {
        return Err(TabularError::AllMissing {
            column: meta.name.clone(),
        });
    }
    present.sort_by(f64::total_cmp);
    let marginal = Marginal::fit(family, &present).ok_or_else(|| {
        TabularError::Config(format!(
            "column `{}`: a {family:?} distribution cannot describe its values (a constant column needs `empirical` or `auto`)",
            meta.name
        ))
    })?;
    tracing::info!(column = %meta.name, family = ?marginal.family(), "copula marginal");
    let scores = numbers
        .iter()
        .map(|v| match v {
            None => 0.0,
            Some(x) => {
                let (lo, hi) = marginal.cdf_range(*x);
                normal_score(if hi > lo {
                    rng.random_range(lo..hi)
                } else {
                    lo
                })
            }
        })
        .collect();
    let missing = (numbers.len() - present.len()) as f64 / numbers.len() as f64;
    Ok((CopulaColumn::Continuous { marginal, missing }, scores))
}

/// A discrete column's intervals (most frequent category first) and its rows' scores, each
/// drawn uniformly within the row's category's interval.
fn fit_discrete(
    indices: &[usize],
    categories: usize,
    rng: &mut SeededRng,
) -> (CopulaColumn, Vec<f64>) {
    let mut counts = vec![0usize; categories];
    for &i in indices {
        counts[i] += 1;
    }
    let mut order: Vec<usize> = (0..categories).collect();
    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    let total = indices.len().max(1) as f64;
    let mut ends = vec![0.0];
    for &c in &order {
        ends.push(ends.last().expect("starts at 0") + counts[c] as f64 / total);
    }
    *ends.last_mut().expect("one end per category") = 1.0;
    let mut start = vec![0.0; categories];
    let mut end = vec![0.0; categories];
    for (j, &c) in order.iter().enumerate() {
        (start[c], end[c]) = (ends[j], ends[j + 1]);
    }
    let scores = indices
        .iter()
        .map(|&c| {
            let u = if end[c] > start[c] {
                rng.random_range(start[c]..end[c])
            } else {
                start[c]
            };
            normal_score(u)
        })
        .collect();
    (CopulaColumn::Discrete { order, ends }, scores)
}

/// Pearson correlation (0 when either side is constant).
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(1) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa > 0.0 && sbb > 0.0 {
        (sab / (saa * sbb).sqrt()).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// The correlation shrunk towards the identity by the first of [`SHRINKAGES`] that makes it
/// positive definite with pivots of at least [`MIN_PIVOT`] (a perfectly collinear pair needs
/// some), with its Cholesky factor.
fn regularise(
    correlation: &DMatrix<f64>,
) -> (DMatrix<f64>, f64, nalgebra::Cholesky<f64, nalgebra::Dyn>) {
    let identity = DMatrix::<f64>::identity(correlation.nrows(), correlation.ncols());
    for shrinkage in SHRINKAGES {
        let shrunk = correlation * (1.0 - shrinkage) + &identity * shrinkage;
        if let Some(cholesky) = nalgebra::Cholesky::new(shrunk.clone())
            && cholesky.l().diagonal().min() >= MIN_PIVOT
        {
            return (shrunk, shrinkage, cholesky);
        }
    }
    let cholesky = nalgebra::Cholesky::new(identity.clone()).expect("the identity");
    (identity, 1.0, cholesky)
}

/// Mean over rows of the Gaussian copula's log-density of the scores:
/// -1/2 log det R - 1/2 z^T (R^-1 - I) z.
fn log_likelihood(
    cholesky: &nalgebra::Cholesky<f64, nalgebra::Dyn>,
    scores: &[Vec<f64>],
    rows: usize,
) -> f64 {
    let d = scores.len();
    let log_det: f64 = 2.0 * cholesky.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let mut total = 0.0;
    for row in 0..rows {
        let z = DVector::from_iterator(d, scores.iter().map(|s| s[row]));
        let solved = cholesky.solve(&z);
        total += z.dot(&solved) - z.dot(&z);
    }
    -0.5 * log_det - 0.5 * total / rows.max(1) as f64
}

/// A copula ready to sample: its transformer, columns and Cholesky factor.
pub struct CopulaSampler {
    transformer: DataTransformer,
    columns: Vec<ModelledColumn>,
    copula: FittedCopula,
}

impl CopulaSampler {
    /// The copula and transformer of a checkpoint folder, checked against each other.
    pub fn load(dir: &Path) -> Result<Self> {
        let transformer = DataTransformer::load(&dir.join(TRANSFORMER_FILE))?;
        let path = dir.join(COPULA_FILE);
        let copula: FittedCopula = read_json(&path)?;
        Self::new(transformer, copula).map_err(|e| match e {
            TabularError::InvalidTransformer { message, .. } => TabularError::InvalidTransformer {
                path: Some(path),
                message,
            },
            other => other,
        })
    }

    fn new(transformer: DataTransformer, copula: FittedCopula) -> Result<Self> {
        let columns = transformer.modelled_columns();
        copula
            .check(&columns)
            .map_err(|message| TabularError::InvalidTransformer {
                path: None,
                message,
            })?;
        Ok(CopulaSampler {
            transformer,
            columns,
            copula,
        })
    }

    /// What each condition fixes; errors name unknown columns and list known values.
    fn conditions(&self, pairs: &[(String, String)]) -> Result<Vec<(usize, Fixed)>> {
        let fixed = parse_conditions(&self.columns, pairs, |j| match &self.copula.columns[j] {
            CopulaColumn::Continuous { missing, .. } => *missing,
            CopulaColumn::Discrete { .. } => 0.0,
        })?;
        if let Some((j, _)) = fixed.iter().find(|(_, f)| matches!(f, Fixed::Range(..))) {
            return Err(TabularError::Config(format!(
                "column `{}`: the copula conditions on one value; value ranges (`low..high`) need TabularARGN",
                self.columns[*j].0.name
            )));
        }
        Ok(fixed)
    }

    /// The interval of normal scores category `category` of column `j` covers.
    fn score_interval(&self, j: usize, category: usize) -> (f64, f64) {
        let CopulaColumn::Discrete { order, ends } = &self.copula.columns[j] else {
            unreachable!("categories belong to discrete columns")
        };
        let at = order.iter().position(|&c| c == category).expect("checked");
        let to_score = |u: f64| {
            if u <= 0.0 {
                f64::NEG_INFINITY
            } else if u >= 1.0 {
                f64::INFINITY
            } else {
                normal_score(u)
            }
        };
        (to_score(ends[at]), to_score(ends[at + 1]))
    }

    /// Empty value buffers, one per modelled column, of its kind.
    fn buffers(&self, capacity: usize) -> Vec<ColumnValues> {
        self.copula
            .columns
            .iter()
            .map(|c| match c {
                CopulaColumn::Continuous { .. } => {
                    ColumnValues::Numbers(Vec::with_capacity(capacity))
                }
                CopulaColumn::Discrete { .. } => {
                    ColumnValues::Categories(Vec::with_capacity(capacity))
                }
            })
            .collect()
    }

    /// Appends column `j`'s value for the score `z` to its buffer: what a condition on the
    /// column fixes, else the marginal's value (missing when the uniform draw `presence`
    /// falls below the column's missing share).
    fn push_value(
        &self,
        j: usize,
        z: f64,
        presence: f64,
        fixed: Option<Fixed>,
        out: &mut ColumnValues,
    ) {
        let u = standard_normal().cdf(z);
        match (&self.copula.columns[j], out) {
            (CopulaColumn::Continuous { marginal, missing }, ColumnValues::Numbers(v)) => {
                v.push(match fixed {
                    Some(Fixed::Value(x)) => Some(x),
                    Some(Fixed::Presence(false)) => None,
                    Some(Fixed::Presence(true)) => Some(marginal.inverse_cdf(u)),
                    _ => (presence >= *missing).then(|| marginal.inverse_cdf(u)),
                })
            }
            (CopulaColumn::Discrete { order, ends }, ColumnValues::Categories(v)) => {
                v.push(match fixed {
                    Some(Fixed::Category(c)) => c,
                    _ => order[ends[1..].partition_point(|&e| e <= u).min(order.len() - 1)],
                })
            }
            _ => unreachable!("the buffers follow the columns' kinds"),
        }
    }
}

/// The normal scores of the free coordinates given fixed ones: `mean = gain * z_fixed`,
/// covariance `factor * factor^T`.
struct Conditional {
    free: Vec<usize>,
    fixed: Vec<usize>,
    gain: DMatrix<f64>,
    factor: DMatrix<f64>,
}

impl Conditional {
    fn new(correlation: &DMatrix<f64>, fixed: &[usize]) -> Self {
        let d = correlation.nrows();
        let free: Vec<usize> = (0..d).filter(|j| !fixed.contains(j)).collect();
        let pick = |rows: &[usize], cols: &[usize]| {
            DMatrix::from_fn(rows.len(), cols.len(), |r, c| {
                correlation[(rows[r], cols[c])]
            })
        };
        let (ff, fx, xx) = (pick(&free, &free), pick(&free, fixed), pick(fixed, fixed));
        let (gain, covariance) = if fixed.is_empty() {
            (DMatrix::zeros(free.len(), 0), ff)
        } else {
            let (_, _, xx_cholesky) = regularise(&xx);
            let gain = xx_cholesky.solve(&fx.transpose()).transpose();
            let covariance = &ff - &gain * fx.transpose();
            (gain, covariance)
        };
        let (_, _, cholesky) = regularise(&((&covariance + covariance.transpose()) * 0.5));
        Conditional {
            free,
            fixed: fixed.to_vec(),
            gain,
            factor: cholesky.l(),
        }
    }

    /// Scores of every coordinate: the fixed ones as given, the free ones drawn.
    fn draw(&self, z_fixed: &[f64], rng: &mut SeededRng, out: &mut [f64]) {
        let zf = DVector::from_column_slice(z_fixed);
        let eps = DVector::from_iterator(
            self.free.len(),
            (0..self.free.len()).map(|_| rng.sample(StandardNormal)),
        );
        let z = &self.gain * zf + &self.factor * eps;
        for (k, &j) in self.free.iter().enumerate() {
            out[j] = z[k];
        }
        for (k, &j) in self.fixed.iter().enumerate() {
            out[j] = z_fixed[k];
        }
    }
}

impl TabularSampler for CopulaSampler {
    fn transformer(&self) -> &DataTransformer {
        &self.transformer
    }

    /// Draws rows in batches of `batch`; see the module notes for conditions.
    fn sample_into(
        &self,
        n: usize,
        condition: &[(String, String)],
        batch: usize,
        seed: u64,
        sink: &mut RowSink,
    ) -> Result<Option<f64>> {
        let fixed = self.conditions(condition)?;
        let d = self.columns.len();
        let correlation = self.copula.correlation_matrix();
        let mut rng = seeded_rng(derive_seed(seed, "copula.sample", 0));
        let points: Vec<(usize, f64)> = fixed
            .iter()
            .filter_map(|&(j, f)| match f {
                Fixed::Value(x) => {
                    let CopulaColumn::Continuous { marginal, .. } = &self.copula.columns[j] else {
                        unreachable!("values belong to continuous columns")
                    };
                    Some((j, normal_score(marginal.cdf(x))))
                }
                _ => None,
            })
            .collect();
        let intervals: Vec<(usize, (f64, f64))> = fixed
            .iter()
            .filter_map(|&(j, f)| match f {
                Fixed::Category(c) => Some((j, self.score_interval(j, c))),
                _ => None,
            })
            .collect();
        let point_columns: Vec<usize> = points.iter().map(|p| p.0).collect();
        // One category: its score drawn exactly from its truncated conditional normal, then
        // the rest conditioned on it too. Several: drawn with the rest and checked.
        let exact = intervals.len() == 1;
        let first = Conditional::new(&correlation, &point_columns);
        let (truncated, rest) = if exact {
            let (j, _) = intervals[0];
            let mut both = point_columns.clone();
            both.push(j);
            let k = first
                .free
                .iter()
                .position(|&f| f == j)
                .expect("a free coordinate");
            let gain_row: Vec<f64> = first.gain.row(k).iter().copied().collect();
            let sd = first.factor.row(k).norm();
            (Some((gain_row, sd)), Conditional::new(&correlation, &both))
        } else {
            (None, first)
        };
        let limit = n.saturating_mul(1000).max(100_000);
        let (mut delivered, mut generated, mut matched_first_pass) = (0usize, 0usize, 0usize);
        let mut z = vec![0.0; d];
        let batch = batch.max(1);
        while delivered < n {
            let want = batch.min(n - delivered);
            let mut columns = self.buffers(want);
            let mut kept = 0;
            while kept < want {
                if generated >= limit {
                    return Err(TabularError::ConditionUnreachable {
                        generated,
                        matched: delivered + kept,
                    });
                }
                let mut z_fixed: Vec<f64> = points.iter().map(|p| p.1).collect();
                if let (Some((gain_row, sd)), Some(&(_, (lo, hi)))) =
                    (&truncated, intervals.first())
                {
                    let mean: f64 = gain_row.iter().zip(&z_fixed).map(|(g, v)| g * v).sum();
                    let normal = standard_normal();
                    let (a, b) = (normal.cdf((lo - mean) / sd), normal.cdf((hi - mean) / sd));
                    let u = if b > a { rng.random_range(a..b) } else { a };
                    z_fixed.push(mean + sd * normal_score(u));
                }
                rest.draw(&z_fixed, &mut rng, &mut z);
                let ok = exact
                    || intervals
                        .iter()
                        .all(|&(j, (lo, hi))| z[j] >= lo && z[j] < hi);
                matched_first_pass += usize::from(ok && generated < n);
                generated += 1;
                if !ok {
                    continue;
                }
                for (j, column) in columns.iter_mut().enumerate() {
                    let presence = rng.random::<f64>();
                    let condition = fixed.iter().find(|(k, _)| *k == j).map(|f| f.1);
                    self.push_value(j, z[j], presence, condition, column);
                }
                kept += 1;
            }
            let table = self
                .transformer
                .decode_values(&columns, want, delivered as u64)?;
            sink(table).map_err(TabularError::Output)?;
            delivered += want;
        }
        Ok((!fixed.is_empty()).then(|| matched_first_pass as f64 / n.max(1) as f64))
    }
}

impl TabularModel for Valid<GaussianCopulaConfig> {
    fn kind(&self) -> &'static str {
        GaussianCopulaConfig::KIND
    }

    fn fitted_on_values(&self) -> bool {
        true
    }

    /// Fits now (a resumed run has nothing left to fit: one epoch is the whole fit).
    fn trainer(
        &self,
        transformer: DataTransformer,
        table: TrainingTable,
        _device: &Device,
        seed: u64,
        _resume_from: Option<&Path>,
    ) -> Result<Box<dyn Trainable>> {
        let values = table.values()?;
        let started = Instant::now();
        let fitted = FittedCopula::fit(self, &transformer.modelled_columns(), &values, seed)?;
        // fitted when built, so that a column no family can describe fails before the loop
        let figures = vec![
            ("log_likelihood", fitted.log_likelihood),
            ("fit_seconds", started.elapsed().as_secs_f64()),
        ];
        let finite =
            fitted.correlation.iter().all(|v| v.is_finite()) && fitted.log_likelihood.is_finite();
        Ok(Box::new(FittedOnce::new(
            transformer,
            figures,
            (!finite).then_some("copula"),
            move |dir| write_json(dir, COPULA_FILE, &fitted),
        )))
    }

    fn sampler(&self, checkpoint: &Path, _device: &Device) -> Result<Box<dyn TabularSampler>> {
        Ok(Box::new(CopulaSampler::load(checkpoint)?))
    }
}

#[cfg(test)]
mod tests;
