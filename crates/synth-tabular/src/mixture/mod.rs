//! A latent-class mixture: every row comes from one of K components, and inside a component
//! the columns are independent ([`leaves`]: categorical over a column's categories or values,
//! Gaussian on a number's normal scores, with states for a point mass and for missing
//! values). It is fitted by expectation-maximisation ([`em`]) from random responsibilities,
//! one iteration per epoch, on burn tensors (the E-step and the sufficient statistics are
//! matrix products, chunk by chunk), and stops when the held-out rows' log-likelihood stops
//! improving, keeping the best parameters.
//!
//! Sampling draws a component, then each column from it. Conditions on any columns
//! (categories, values, ranges, present or missing) are exact, without rejection: each
//! component is weighted by its probability of the conditions, and the conditioned columns
//! are drawn from it restricted to what they allow (a range's scores from the truncated
//! Gaussian).

mod config;
pub mod em;
pub mod leaves;

pub use config::MixtureConfig;
pub use em::{Design, Expectation, Parameters, Statistics};
pub use leaves::{Leaf, LeafRows};

use crate::condition::{Fixed, parse_conditions};
use crate::model::{RowSink, TRANSFORMER_FILE, TabularModel, TabularSampler, TrainingTable};
use crate::transform::{ColumnValues, DataTransformer, ModelledColumn};
use crate::{Result, TabularError, read_json};
use burn::prelude::*;
use em::Accumulator;
use leaves::{VALUE_STATE, fit_leaves, score, standard_normal};
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use statrs::distribution::{Continuous, ContinuousCDF};
use std::path::Path;
use synth_core::seed::{SeededRng, derive_seed, seeded_rng};
use synth_core::{Trainable, Valid};

/// The fitted mixture with the best held-out log-likelihood: what sampling reads.
pub const MIXTURE_FILE: &str = "mixture.json";
/// The parameters of the last iteration and where early stopping stands, to resume from.
const STATE_FILE: &str = "mixture-state.json";

/// A fitted mixture: its leaves and parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedMixture {
    /// Per modelled column.
    pub leaves: Vec<Leaf>,
    /// Weights and per-component leaf parameters.
    pub parameters: Parameters,
}

/// Where EM stands; saved with every checkpoint so a resumed run goes on alike.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Progress {
    /// The best held-out log-likelihood per row so far.
    best: Option<f64>,
    /// Iterations since it last improved by `tolerance`.
    stale: usize,
}

/// What a checkpoint keeps besides the best parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    parameters: Parameters,
    progress: Progress,
}

/// The mixture during EM.
pub struct MixtureTrainer {
    config: Valid<MixtureConfig>,
    transformer: DataTransformer,
    leaves: Vec<Leaf>,
    design: Design,
    frequencies: Vec<Vec<f64>>,
    train: LeafRows,
    validation: Option<LeafRows>,
    current: Parameters,
    best: Parameters,
    progress: Progress,
    expectation: Expectation,
    accumulator: Accumulator,
    next_chunk: usize,
    log_likelihood: f64,
    device: Device,
}

impl MixtureTrainer {
    /// Fits the leaves on `values`, holds out `validation_share` of the rows (drawn from
    /// `seed`) and starts from each training row given to a random component.
    pub fn new(
        config: Valid<MixtureConfig>,
        transformer: DataTransformer,
        values: Vec<ColumnValues>,
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        let columns = transformer.modelled_columns();
        let rows = values.first().map_or(0, ColumnValues::rows);
        if rows == 0 {
            return Err(TabularError::Config(
                "the table has no rows to train on".into(),
            ));
        }
        let leaves = fit_leaves(&columns, &values, &config)?;
        let mut scores = seeded_rng(derive_seed(seed, "mixture.scores", 0));
        let encoded = leaves::encode(&leaves, &values, &mut scores).map_err(|(j, row, x)| {
            TabularError::UnseenCategory {
                column: columns[j].0.name.clone(),
                row,
                value: x.to_string(),
            }
        })?;
        let mut order: Vec<usize> = (0..rows).collect();
        order.shuffle(&mut seeded_rng(derive_seed(seed, "mixture.split", 0)));
        let held_out = ((rows as f64 * config.validation_share) as usize).min(rows - 1);
        let (validation_rows, train_rows) = order.split_at(held_out);
        let train = encoded.select(train_rows);
        let validation = (held_out > 0).then(|| encoded.select(validation_rows));

        let design = Design::new(&leaves);
        let frequencies = design.frequencies(&leaves, &train);
        let mut init = seeded_rng(derive_seed(seed, "mixture.init", 0));
        let assignment: Vec<usize> = (0..train.rows)
            .map(|_| init.random_range(0..config.components))
            .collect();
        let current = Statistics::of_assignment(&design, &train, &assignment, config.components)
            .maximise(&design, &frequencies, &config);
        tracing::info!(
            components = config.components,
            rows = train.rows,
            held_out,
            design_width = design.width(),
            "mixture: EM from random responsibilities"
        );
        Ok(MixtureTrainer {
            expectation: Expectation::new(&design, &current, device),
            best: current.clone(),
            current,
            progress: Progress {
                best: None,
                stale: 0,
            },
            accumulator: Accumulator::default(),
            next_chunk: 0,
            log_likelihood: 0.0,
            device: device.clone(),
            config,
            transformer,
            leaves,
            design,
            frequencies,
            train,
            validation,
        })
    }

    /// Restores the parameters (last and best) and early-stopping state from a checkpoint.
    pub fn resume(mut self, dir: &Path) -> Result<Self> {
        let fitted: FittedMixture = read_json(&dir.join(MIXTURE_FILE))?;
        let state: State = read_json(&dir.join(STATE_FILE))?;
        if fitted.leaves != self.leaves {
            return Err(TabularError::Config(format!(
                "{}: the checkpoint's columns were fitted on other data; train afresh",
                dir.join(MIXTURE_FILE).display()
            )));
        }
        for (parameters, file) in [
            (&fitted.parameters, MIXTURE_FILE),
            (&state.parameters, STATE_FILE),
        ] {
            parameters
                .check(&self.leaves)
                .and_then(|()| {
                    if parameters.components() == self.config.components {
                        Ok(())
                    } else {
                        Err(format!(
                            "{} components where model.components is {}",
                            parameters.components(),
                            self.config.components
                        ))
                    }
                })
                .map_err(|message| TabularError::InvalidTransformer {
                    path: Some(dir.join(file)),
                    message,
                })?;
        }
        self.best = fitted.parameters;
        self.current = state.parameters;
        self.progress = state.progress;
        self.expectation = Expectation::new(&self.design, &self.current, &self.device);
        Ok(self)
    }

    /// The fitted mixture with the best parameters so far.
    pub fn fitted(&self) -> FittedMixture {
        FittedMixture {
            leaves: self.leaves.clone(),
            parameters: self.best.clone(),
        }
    }

    /// The held-out log-likelihood per row under the current parameters.
    fn validation_log_likelihood(&self, validation: &LeafRows) -> f64 {
        let total: f64 = (0..validation.rows)
            .step_by(self.config.chunk_rows)
            .map(|start| {
                let end = validation.rows.min(start + self.config.chunk_rows);
                self.expectation
                    .log_likelihood(&self.design, validation, start..end)
            })
            .sum();
        total / validation.rows as f64
    }
}

impl Trainable for MixtureTrainer {
    /// One E-step chunk per step; an epoch is one EM iteration.
    fn steps_per_epoch(&self) -> usize {
        self.train.rows.div_ceil(self.config.chunk_rows)
    }

    fn begin_epoch(&mut self, _epoch: usize) {
        self.next_chunk = 0;
        self.log_likelihood = 0.0;
        self.accumulator = Accumulator::default();
    }

    fn train_step(&mut self) {
        let start = self.next_chunk * self.config.chunk_rows;
        let end = self.train.rows.min(start + self.config.chunk_rows);
        self.log_likelihood += self.expectation.accumulate(
            &self.design,
            &self.train,
            start..end,
            &mut self.accumulator,
        );
        self.next_chunk += 1;
    }

    fn take_losses(&mut self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }

    /// The M-step; then the held-out log-likelihood under the new parameters decides
    /// whether they are the best so far.
    fn end_epoch(&mut self) -> Vec<(&'static str, f64)> {
        let Some(statistics) = std::mem::take(&mut self.accumulator).finish() else {
            return Vec::new();
        };
        let mut metrics = vec![(
            "log_likelihood",
            self.log_likelihood / self.train.rows as f64,
        )];
        self.current = statistics.maximise(&self.design, &self.frequencies, &self.config);
        self.expectation = Expectation::new(&self.design, &self.current, &self.device);
        let Some(validation) = &self.validation else {
            self.best = self.current.clone();
            return metrics;
        };
        let held_out = self.validation_log_likelihood(validation);
        let progress = &mut self.progress;
        if progress
            .best
            .is_none_or(|best| held_out > best + self.config.tolerance)
        {
            progress.best = Some(held_out);
            progress.stale = 0;
            self.best = self.current.clone();
        } else {
            progress.stale += 1;
        }
        metrics.push(("validation_log_likelihood", held_out));
        metrics
    }

    fn converged(&self) -> bool {
        self.validation.is_some() && self.progress.stale >= self.config.patience
    }

    fn non_finite_network(&self) -> Option<&'static str> {
        (!self.current.is_finite()).then_some("mixture parameters")
    }

    fn save(&self, dir: &Path) -> std::result::Result<(), synth_core::BoxError> {
        self.transformer.save(&dir.join(TRANSFORMER_FILE))?;
        let fitted = serde_json::to_string(&self.fitted())?;
        synth_core::fsutil::write_atomic(&dir.join(MIXTURE_FILE), fitted.as_bytes())?;
        let state = serde_json::to_string(&State {
            parameters: self.current.clone(),
            progress: self.progress.clone(),
        })?;
        synth_core::fsutil::write_atomic(&dir.join(STATE_FILE), state.as_bytes())?;
        Ok(())
    }
}

/// What the conditions allow in one leaf.
#[derive(Debug, Clone, PartialEq)]
struct Allowed {
    /// The states it may take.
    states: Vec<bool>,
    /// The normal scores a Gaussian leaf's value state is kept within; equal ends: one
    /// value, weighed by the Gaussian's density there.
    scores: Option<(f64, f64)>,
    /// A number written as given (a `column=value` condition).
    value: Option<f64>,
    /// The range numbers are kept in.
    range: Option<(f64, f64)>,
}

impl Allowed {
    fn only(states: usize, state: usize) -> Self {
        Allowed {
            states: (0..states).map(|s| s == state).collect(),
            scores: None,
            value: None,
            range: None,
        }
    }

    /// Each state's probability in a component (its `probabilities`, and for a Gaussian
    /// leaf `gaussian = (mean, variance)`) of taking it within what is allowed.
    fn weights(&self, probabilities: &[f64], gaussian: Option<(f64, f64)>) -> Vec<f64> {
        probabilities
            .iter()
            .zip(&self.states)
            .enumerate()
            .map(|(s, (&p, &ok))| match (ok, s, gaussian, self.scores) {
                (false, ..) => 0.0,
                (true, VALUE_STATE, Some((mean, variance)), Some((lo, hi))) => {
                    p * interval_mass(lo, hi, mean, variance.sqrt())
                }
                _ => p,
            })
            .collect()
    }
}

/// The probability of N(mean, sd^2) within `[lo, hi]` (its density at `lo` when the ends are
/// equal), computed on the side of the mean where the tails keep their precision.
fn interval_mass(lo: f64, hi: f64, mean: f64, sd: f64) -> f64 {
    let normal = standard_normal();
    let (a, b) = ((lo - mean) / sd, (hi - mean) / sd);
    if lo >= hi {
        normal.pdf(a) / sd
    } else if a > 0.0 {
        normal.cdf(-a) - normal.cdf(-b)
    } else {
        normal.cdf(b) - normal.cdf(a)
    }
}

/// A draw of N(mean, sd^2) restricted to `[lo, hi]` (by its inverse CDF, on the side of the
/// mean where the tails keep their precision).
fn truncated_normal(lo: f64, hi: f64, mean: f64, sd: f64, rng: &mut SeededRng) -> f64 {
    if lo >= hi {
        return lo;
    }
    let normal = standard_normal();
    let (a, b) = ((lo - mean) / sd, (hi - mean) / sd);
    let x = if a > 0.0 {
        let (p, q) = (normal.cdf(-b), normal.cdf(-a));
        -normal.inverse_cdf(if q > p { rng.random_range(p..q) } else { p })
    } else {
        let (p, q) = (normal.cdf(a), normal.cdf(b));
        normal.inverse_cdf(if q > p { rng.random_range(p..q) } else { p })
    };
    (mean + sd * x).clamp(lo, hi)
}

/// An index drawn in proportion to `weights` (not all zero).
fn draw_index(weights: &[f64], rng: &mut SeededRng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return i;
        }
        u -= w;
    }
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

/// A fitted mixture with its transformer, ready to sample.
pub struct MixtureSampler {
    transformer: DataTransformer,
    columns: Vec<ModelledColumn>,
    fitted: FittedMixture,
}

impl MixtureSampler {
    /// The mixture and transformer of a checkpoint folder, checked against each other.
    pub fn load(dir: &Path) -> Result<Self> {
        let transformer = DataTransformer::load(&dir.join(TRANSFORMER_FILE))?;
        let path = dir.join(MIXTURE_FILE);
        let fitted: FittedMixture = read_json(&path)?;
        Self::new(transformer, fitted).map_err(|message| TabularError::InvalidTransformer {
            path: Some(path),
            message,
        })
    }

    /// The sampler of `fitted`, checked against the transformer's columns.
    pub fn new(
        transformer: DataTransformer,
        fitted: FittedMixture,
    ) -> std::result::Result<Self, String> {
        let columns = transformer.modelled_columns();
        if fitted.leaves.len() != columns.len() {
            return Err(format!(
                "{} leaves for {} modelled columns",
                fitted.leaves.len(),
                columns.len()
            ));
        }
        for (leaf, column) in fitted.leaves.iter().zip(&columns) {
            leaf.check(column)
                .map_err(|why| format!("column `{}`: {why}", column.0.name))?;
        }
        fitted.parameters.check(&fitted.leaves)?;
        Ok(MixtureSampler {
            transformer,
            columns,
            fitted,
        })
    }

    /// What the conditions allow in each leaf (`None`: unconstrained).
    fn plan(&self, conditions: &[(String, String)]) -> Result<Vec<Option<Allowed>>> {
        let leaves = &self.fitted.leaves;
        let fixed = parse_conditions(&self.columns, conditions, |j| {
            if leaves[j].missing_state().is_some() {
                0.5
            } else {
                0.0
            }
        })?;
        let mut plan = vec![None; leaves.len()];
        for (j, what) in fixed {
            let leaf = &leaves[j];
            let states = leaf.states();
            let unknown = |value: String, available: &str| TabularError::UnknownConditionValue {
                column: self.columns[j].0.name.clone(),
                value,
                available: available.into(),
            };
            let allowed = match what {
                Fixed::Category(c) => Allowed::only(states, c),
                Fixed::Presence(present) => {
                    let missing = leaf
                        .missing_state()
                        .expect("parsed against the missing share");
                    Allowed {
                        states: (0..states).map(|s| (s != missing) == present).collect(),
                        ..Allowed::only(states, missing)
                    }
                }
                Fixed::Value(x) => {
                    let (state, (lo, hi)) = leaf.locate(x).ok_or_else(|| {
                        unknown(
                            x.to_string(),
                            "a value the column took in the training data",
                        )
                    })?;
                    let point = score(lo.clamp(1e-12, 1.0 - 1e-12));
                    Allowed {
                        scores: (leaf.is_gaussian() && state == VALUE_STATE).then(|| {
                            if hi > lo {
                                (score(lo), score(hi))
                            } else {
                                (point, point)
                            }
                        }),
                        value: Some(x),
                        ..Allowed::only(states, state)
                    }
                }
                Fixed::Range(lo, hi) => {
                    let mut allowed = Allowed {
                        range: Some((lo, hi)),
                        ..Allowed::only(states, usize::MAX)
                    };
                    match leaf {
                        Leaf::Values { values, .. } => {
                            for (s, v) in values.iter().enumerate() {
                                allowed.states[s] = (lo..=hi).contains(v);
                            }
                        }
                        Leaf::Gaussian {
                            marginal, minimum, ..
                        } => {
                            if let Some(m) = minimum {
                                allowed.states[1] = (lo..=hi).contains(m);
                            }
                            let (u_lo, u_hi) = (marginal.cdf_range(lo).0, marginal.cdf_range(hi).1);
                            allowed.states[VALUE_STATE] = u_hi > u_lo;
                            allowed.scores = Some((score(u_lo), score(u_hi)));
                        }
                        Leaf::Category { .. } => unreachable!("ranges belong to numbers"),
                    }
                    if !allowed.states.contains(&true) {
                        return Err(unknown(
                            format!("{lo}..{hi}"),
                            "a range holding a value the column took in the training data",
                        ));
                    }
                    allowed
                }
            };
            plan[j] = Some(allowed);
        }
        Ok(plan)
    }

    /// Component `k`'s mean and variance of leaf `j`'s Gaussian, if it has one.
    fn gaussian(&self, j: usize, k: usize) -> Option<(f64, f64)> {
        let p = &self.fitted.parameters.leaves[j];
        (!p.means.is_empty()).then(|| (p.means[k], p.variances[k]))
    }

    /// Each component's probability given the conditions of `plan`.
    fn posterior(&self, plan: &[Option<Allowed>]) -> Result<Vec<f64>> {
        let parameters = &self.fitted.parameters;
        let log_weights: Vec<f64> = (0..parameters.components())
            .map(|k| {
                let conditions: f64 = plan
                    .iter()
                    .enumerate()
                    .filter_map(|(j, allowed)| {
                        let allowed = allowed.as_ref()?;
                        let weights =
                            allowed.weights(parameters.probabilities(j, k), self.gaussian(j, k));
                        Some(weights.iter().sum::<f64>().ln())
                    })
                    .sum();
                parameters.weights[k].ln() + conditions
            })
            .collect();
        let top = log_weights
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        if !top.is_finite() {
            return Err(TabularError::Config(
                "no component of the mixture can produce rows meeting these conditions \
                 (their probability under the model is 0)"
                    .into(),
            ));
        }
        Ok(log_weights.iter().map(|l| (l - top).exp()).collect())
    }

    /// Empty value buffers, one per leaf, of its kind.
    fn buffers(&self, capacity: usize) -> Vec<ColumnValues> {
        self.fitted
            .leaves
            .iter()
            .map(|leaf| match leaf {
                Leaf::Category { .. } => ColumnValues::Categories(Vec::with_capacity(capacity)),
                _ => ColumnValues::Numbers(Vec::with_capacity(capacity)),
            })
            .collect()
    }

    /// Draws one row from component `k` into `columns`, each leaf within what `plan` allows.
    fn draw_row(
        &self,
        k: usize,
        plan: &[Option<Allowed>],
        rng: &mut SeededRng,
        columns: &mut [ColumnValues],
    ) {
        for (j, (leaf, column)) in self.fitted.leaves.iter().zip(columns).enumerate() {
            let probabilities = self.fitted.parameters.probabilities(j, k);
            let gaussian = self.gaussian(j, k);
            let allowed = plan[j].as_ref();
            let state = match allowed {
                None => draw_index(probabilities, rng),
                Some(a) => draw_index(&a.weights(probabilities, gaussian), rng),
            };
            match column {
                ColumnValues::Categories(v) => v.push(state),
                ColumnValues::Numbers(v) => {
                    let z = match (gaussian, allowed.and_then(|a| a.scores)) {
                        (Some((mean, variance)), Some((lo, hi))) => {
                            truncated_normal(lo, hi, mean, variance.sqrt(), rng)
                        }
                        (Some((mean, variance)), None) => {
                            mean + variance.sqrt() * rng.sample::<f64, _>(StandardNormal)
                        }
                        (None, _) => 0.0,
                    };
                    let number = match allowed {
                        Some(Allowed { value: Some(x), .. }) => Some(*x),
                        Some(Allowed {
                            range: Some((lo, hi)),
                            ..
                        }) => leaf.number(state, z).map(|x| x.clamp(*lo, *hi)),
                        _ => leaf.number(state, z),
                    };
                    v.push(number);
                }
            }
        }
    }
}

impl TabularSampler for MixtureSampler {
    fn transformer(&self) -> &DataTransformer {
        &self.transformer
    }

    /// Every row meets the conditions at the first draw (the match rate is 1).
    fn sample_into(
        &self,
        n: usize,
        condition: &[(String, String)],
        batch: usize,
        seed: u64,
        sink: &mut RowSink,
    ) -> Result<Option<f64>> {
        let plan = self.plan(condition)?;
        let posterior = self.posterior(&plan)?;
        let mut rng = seeded_rng(derive_seed(seed, "mixture.sample", 0));
        let batch = batch.max(1);
        let mut delivered = 0;
        while delivered < n {
            let chunk = batch.min(n - delivered);
            let mut columns = self.buffers(chunk);
            for _ in 0..chunk {
                let k = draw_index(&posterior, &mut rng);
                self.draw_row(k, &plan, &mut rng, &mut columns);
            }
            let table = self
                .transformer
                .decode_values(&columns, chunk, delivered as u64)?;
            sink(table).map_err(TabularError::Output)?;
            delivered += chunk;
        }
        Ok((!condition.is_empty()).then_some(1.0))
    }
}

impl TabularModel for Valid<MixtureConfig> {
    fn kind(&self) -> &'static str {
        MixtureConfig::KIND
    }

    fn fitted_on_values(&self) -> bool {
        true
    }

    fn trainer(
        &self,
        transformer: DataTransformer,
        table: TrainingTable,
        device: &Device,
        seed: u64,
        resume_from: Option<&Path>,
    ) -> Result<Box<dyn Trainable>> {
        let values = table.values()?;
        let trainer = MixtureTrainer::new(self.clone(), transformer, values, device, seed)?;
        Ok(Box::new(match resume_from {
            Some(dir) => trainer.resume(dir)?,
            None => trainer,
        }))
    }

    fn sampler(&self, checkpoint: &Path, _device: &Device) -> Result<Box<dyn TabularSampler>> {
        Ok(Box::new(MixtureSampler::load(checkpoint)?))
    }
}

#[cfg(test)]
mod tests;
