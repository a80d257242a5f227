//! Expectation-maximisation for the mixture, as matrix products on a burn device. A row is a
//! line of the design matrix: the one-hot states of every leaf, then per Gaussian leaf its
//! value-state indicator `m`, its score `z` and `z^2` (both 0 unless `m`). Every component's
//! log-density of a row is then one product with a table of log-parameters (per state
//! `ln p`; per Gaussian `-(ln 2 pi v + mu^2 / v) / 2` on `m`, `mu / v` on `z`, `-1 / 2v` on
//! `z^2`), so the E-step is `R = softmax(A T + ln w)` and the M-step's sufficient
//! statistics are `R^T A`, accumulated chunk by chunk: only `chunk x components`
//! responsibilities are ever held.

use super::config::MixtureConfig;
use super::leaves::{Leaf, LeafRows, VALUE_STATE};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::ops::Range;
use synth_nn::matrix;

/// The smallest probability a log-parameter is taken of (a smoothing of 0 can give 0, whose
/// logarithm times a 0 in the design matrix would be NaN).
const LOG_FLOOR: f64 = 1e-30;

/// One leaf's parameters in every component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeafParameters {
    /// `components x states`, row-major: each component's probability of each state.
    pub probabilities: Vec<f64>,
    /// Gaussian leaves: each component's mean of the value's normal score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub means: Vec<f64>,
    /// Gaussian leaves: each component's variance of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variances: Vec<f64>,
}

/// The mixture's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    /// Each component's weight (they sum to 1).
    pub weights: Vec<f64>,
    /// Per leaf, in column order.
    pub leaves: Vec<LeafParameters>,
}

impl Parameters {
    /// Number of components.
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    /// Component `k`'s probabilities of leaf `j`'s states.
    pub fn probabilities(&self, j: usize, k: usize) -> &[f64] {
        let p = &self.leaves[j].probabilities;
        let states = p.len() / self.components();
        &p[k * states..(k + 1) * states]
    }

    /// Whether every parameter is finite.
    pub fn is_finite(&self) -> bool {
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        finite(&self.weights)
            && self
                .leaves
                .iter()
                .all(|l| finite(&l.probabilities) && finite(&l.means) && finite(&l.variances))
    }

    /// Checks loaded parameters against the leaves (the message says what is wrong).
    pub fn check(&self, leaves: &[Leaf]) -> std::result::Result<(), String> {
        let k = self.components();
        let distribution = |p: &[f64]| {
            p.iter().all(|x| x.is_finite() && *x >= 0.0)
                && (p.iter().sum::<f64>() - 1.0).abs() < 1e-6
        };
        if k == 0 || !distribution(&self.weights) {
            return Err("the component weights are not a distribution".into());
        }
        if self.leaves.len() != leaves.len() {
            return Err(format!(
                "{} leaves of parameters for {} columns",
                self.leaves.len(),
                leaves.len()
            ));
        }
        for (j, (p, leaf)) in self.leaves.iter().zip(leaves).enumerate() {
            let states = leaf.states();
            let gaussian = if leaf.is_gaussian() { k } else { 0 };
            let fail = |why: &str| Err(format!("leaf {j}: {why}"));
            if p.probabilities.len() != k * states
                || !p.probabilities.chunks(states).all(distribution)
            {
                return fail("the state probabilities are not one distribution per component");
            }
            if p.means.len() != gaussian
                || p.variances.len() != gaussian
                || !p.means.iter().all(|m| m.is_finite())
                || !p.variances.iter().all(|v| v.is_finite() && *v > 0.0)
            {
                return fail("the Gaussians' means and variances are not finite and positive");
            }
        }
        Ok(())
    }
}

/// Where each leaf sits among the design matrix's columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Per leaf: its first state's column (`None`: a single state, nothing to learn).
    offsets: Vec<Option<usize>>,
    /// Per leaf: its index among the Gaussian leaves.
    gaussians: Vec<Option<usize>>,
    /// Columns of the states.
    states: usize,
    /// Number of Gaussian leaves.
    gaussian_count: usize,
}

impl Design {
    /// The design of `leaves`.
    pub fn new(leaves: &[Leaf]) -> Self {
        let (mut offsets, mut gaussians) = (Vec::new(), Vec::new());
        let (mut states, mut gaussian_count) = (0, 0);
        for leaf in leaves {
            offsets.push((leaf.states() > 1).then_some(states));
            if leaf.states() > 1 {
                states += leaf.states();
            }
            gaussians.push(leaf.is_gaussian().then_some(gaussian_count));
            gaussian_count += usize::from(leaf.is_gaussian());
        }
        Design {
            offsets,
            gaussians,
            states,
            gaussian_count,
        }
    }

    /// Columns of the design matrix.
    pub fn width(&self) -> usize {
        self.states + 3 * self.gaussian_count
    }

    /// Rows `range` of `rows` as a row-major design matrix.
    pub fn rows(&self, rows: &LeafRows, range: Range<usize>) -> Vec<f32> {
        let (width, leaves, g) = (self.width(), self.offsets.len(), self.gaussian_count);
        let mut out = vec![0f32; range.len() * width];
        for (line, row) in out.chunks_exact_mut(width).zip(range) {
            let states = &rows.states[row * leaves..(row + 1) * leaves];
            for (j, &state) in states.iter().enumerate() {
                if let Some(offset) = self.offsets[j] {
                    line[offset + state as usize] = 1.0;
                }
                if let Some(i) = self.gaussians[j]
                    && state as usize == VALUE_STATE
                {
                    let z = rows.scores[row * g + i];
                    line[self.states + i] = 1.0;
                    line[self.states + g + i] = z;
                    line[self.states + 2 * g + i] = z * z;
                }
            }
        }
        out
    }

    /// The `width x components` table of log-parameters (row-major) whose product with a
    /// design row is each component's log-density of the row.
    pub fn log_table(&self, parameters: &Parameters) -> Vec<f32> {
        let k = parameters.components();
        let g = self.gaussian_count;
        let mut table = vec![0f32; self.width() * k];
        for (j, leaf) in parameters.leaves.iter().enumerate() {
            if let Some(offset) = self.offsets[j] {
                let states = leaf.probabilities.len() / k;
                for c in 0..k {
                    for s in 0..states {
                        let p = leaf.probabilities[c * states + s].max(LOG_FLOOR);
                        table[(offset + s) * k + c] = p.ln() as f32;
                    }
                }
            }
            if let Some(i) = self.gaussians[j] {
                for c in 0..k {
                    let (mean, variance) = (leaf.means[c], leaf.variances[c]);
                    table[(self.states + i) * k + c] =
                        (-0.5 * ((2.0 * PI * variance).ln() + mean * mean / variance)) as f32;
                    table[(self.states + g + i) * k + c] = (mean / variance) as f32;
                    table[(self.states + 2 * g + i) * k + c] = (-0.5 / variance) as f32;
                }
            }
        }
        table
    }

    /// Each categorical leaf's state frequencies over `rows` (what smoothing spreads its
    /// pseudo-rows by); empty for single-state leaves.
    pub fn frequencies(&self, leaves: &[Leaf], rows: &LeafRows) -> Vec<Vec<f64>> {
        let mut counts: Vec<Vec<f64>> = leaves.iter().map(|l| vec![0.0; l.states()]).collect();
        for line in rows.states.chunks_exact(leaves.len()) {
            for (j, &state) in line.iter().enumerate() {
                counts[j][state as usize] += 1.0;
            }
        }
        for c in &mut counts {
            let total: f64 = c.iter().sum();
            c.iter_mut().for_each(|x| *x /= total.max(1.0));
        }
        counts
    }
}

/// The M-step's sufficient statistics: per component the responsibility-weighted sums of
/// every design column, and the components' total responsibilities.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    /// `components x width`, row-major.
    pub sums: Vec<f64>,
    /// Per component.
    pub counts: Vec<f64>,
}

impl Statistics {
    /// The statistics of rows each wholly in one component (`assignment[row]`): random
    /// responsibilities to start EM from.
    pub fn of_assignment(
        design: &Design,
        rows: &LeafRows,
        assignment: &[usize],
        components: usize,
    ) -> Self {
        let width = design.width();
        let mut sums = vec![0.0; components * width];
        let mut counts = vec![0.0; components];
        for (row, &k) in assignment.iter().enumerate() {
            let line = design.rows(rows, row..row + 1);
            for (sum, &x) in sums[k * width..(k + 1) * width].iter_mut().zip(&line) {
                *sum += f64::from(x);
            }
            counts[k] += 1.0;
        }
        Statistics { sums, counts }
    }

    /// The parameters that maximise the expected log-likelihood given these statistics,
    /// with the priors of `config`: categorical leaves smoothed by `smoothing` pseudo-rows
    /// at the table's `frequencies`; Gaussians pulled towards N(0, 1) by `shrinkage`
    /// pseudo-rows, their variance at least `variance_floor`.
    pub fn maximise(
        &self,
        design: &Design,
        frequencies: &[Vec<f64>],
        config: &MixtureConfig,
    ) -> Parameters {
        let k = self.counts.len();
        let width = design.width();
        let g = design.gaussian_count;
        let total: f64 = self.counts.iter().sum();
        let weights = self
            .counts
            .iter()
            .map(|n| {
                if total > 0.0 {
                    n / total
                } else {
                    1.0 / k as f64
                }
            })
            .collect();
        let leaves = frequencies
            .iter()
            .enumerate()
            .map(|(j, prior)| {
                let states = prior.len();
                let mut probabilities = vec![1.0; k * states];
                if let Some(offset) = design.offsets[j] {
                    for c in 0..k {
                        let sums = &self.sums[c * width + offset..c * width + offset + states];
                        let mass: f64 = sums.iter().sum::<f64>() + config.smoothing;
                        for s in 0..states {
                            probabilities[c * states + s] = if mass > 0.0 {
                                (sums[s] + config.smoothing * prior[s]) / mass
                            } else {
                                prior[s]
                            };
                        }
                    }
                }
                let (mut means, mut variances) = (Vec::new(), Vec::new());
                if let Some(i) = design.gaussians[j] {
                    for c in 0..k {
                        let at = |part: usize| self.sums[c * width + design.states + part * g + i];
                        let (m, s1, s2) = (at(0), at(1), at(2));
                        let n = m + config.shrinkage;
                        let (mean, variance) = if n > 0.0 {
                            let mean = s1 / n;
                            (mean, (s2 + config.shrinkage) / n - mean * mean)
                        } else {
                            (0.0, 1.0)
                        };
                        means.push(mean);
                        variances.push(variance.max(config.variance_floor));
                    }
                }
                LeafParameters {
                    probabilities,
                    means,
                    variances,
                }
            })
            .collect();
        Parameters { weights, leaves }
    }
}

/// The E-step under one set of parameters, on a device.
pub struct Expectation {
    table: Tensor<2>,
    log_weights: Tensor<2>,
    device: Device,
}

/// What the E-step computes for a chunk of rows.
struct Joint {
    design_rows: Tensor<2>,
    scaled: Tensor<2>,
    totals: Tensor<2>,
    log_likelihood: f64,
}

/// Statistics summed on the device over chunks.
#[derive(Default)]
pub struct Accumulator {
    sums: Option<Tensor<2>>,
    counts: Option<Tensor<2>>,
}

impl Accumulator {
    /// The statistics on the host.
    pub fn finish(self) -> Option<Statistics> {
        let host = |t: Tensor<2>| -> Vec<f64> {
            synth_nn::to_host(t).into_iter().map(f64::from).collect()
        };
        Some(Statistics {
            sums: host(self.sums?),
            counts: host(self.counts?),
        })
    }
}

fn add(total: &mut Option<Tensor<2>>, part: Tensor<2>) {
    *total = Some(match total.take() {
        Some(t) => t + part,
        None => part,
    });
}

impl Expectation {
    /// The E-step under `parameters`.
    pub fn new(design: &Design, parameters: &Parameters, device: &Device) -> Self {
        let k = parameters.components();
        let log_weights: Vec<f32> = parameters
            .weights
            .iter()
            .map(|w| w.max(LOG_FLOOR).ln() as f32)
            .collect();
        Expectation {
            table: matrix(design.log_table(parameters), design.width(), k, device),
            log_weights: matrix(log_weights, 1, k, device),
            device: device.clone(),
        }
    }

    /// Rows `range` of `rows`: their design matrix, each row's and component's joint
    /// density divided by the row's largest, and those rows' log-likelihoods.
    fn joint(&self, design: &Design, rows: &LeafRows, range: Range<usize>) -> Joint {
        let n = range.len();
        let design_rows = matrix(design.rows(rows, range), n, design.width(), &self.device);
        let joint = design_rows.clone().matmul(self.table.clone()) + self.log_weights.clone();
        let top = joint.clone().max_dim(1);
        let scaled = (joint - top.clone()).exp();
        let totals = scaled.clone().sum_dim(1);
        let log_likelihood = f64::from((totals.clone().log() + top).sum().into_scalar::<f32>());
        Joint {
            design_rows,
            scaled,
            totals,
            log_likelihood,
        }
    }

    /// The summed log-likelihood of rows `range`.
    pub fn log_likelihood(&self, design: &Design, rows: &LeafRows, range: Range<usize>) -> f64 {
        self.joint(design, rows, range).log_likelihood
    }

    /// Adds the statistics of rows `range` (their responsibilities times their design rows)
    /// to `accumulator`; returns their summed log-likelihood.
    pub fn accumulate(
        &self,
        design: &Design,
        rows: &LeafRows,
        range: Range<usize>,
        accumulator: &mut Accumulator,
    ) -> f64 {
        let joint = self.joint(design, rows, range);
        let responsibilities = joint.scaled / joint.totals;
        add(&mut accumulator.counts, responsibilities.clone().sum_dim(0));
        add(
            &mut accumulator.sums,
            responsibilities.transpose().matmul(joint.design_rows),
        );
        joint.log_likelihood
    }
}
