//! DP-SGD for TVAE (Abadi et al. 2016): each step draws a Poisson batch (every row with
//! probability `q`), clips every row's gradient to L2 norm `clip_norm`, sums them, adds
//! Gaussian noise of standard deviation `noise_multiplier * clip_norm` to every parameter's
//! gradient and divides by the expected batch size. The noise multiplier is the smallest whose
//! RDP accounting ([`synth_privacy::dp_sgd_noise`]) over all the run's steps stays within
//! `[privacy]`'s epsilon at its delta.
//!
//! Per-row gradients are exact and cost two passes: a first backward pass with a zero probe
//! on every layer's output gives each row's gradient with respect to each layer's output
//! `g_i`; a dense layer's per-row weight gradient is the outer product `a_i g_i^T` of its input
//! row and that gradient, so its squared norm is `|a_i|^2 |g_i|^2` (plus `|g_i|^2` for the
//! bias), summed over the layers (the per-layer norm identity; Goodfellow 2015). A second
//! backward pass of the loss weighted by each row's clipping factor gives the sum of the
//! clipped gradients.

use super::model::Tap;
use crate::{Result, TabularError};
use burn::module::{ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Gradients;
use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use synth_privacy::{PrivacyConfig, dp_sgd_epsilon, dp_sgd_noise, gaussian_noise, noise_source};

/// The file of a DP-SGD run's privacy record in a checkpoint folder.
pub const DP_SGD_FILE: &str = "privacy.json";

/// What a DP-SGD run spends, as recorded in `privacy.json` and the logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpSgdRecord {
    /// The epsilon asked for.
    pub epsilon: f64,
    /// The delta asked for.
    pub delta: f64,
    /// Each row's chance to be in a step's batch (`train.batch_size / rows`).
    pub sampling_rate: f64,
    /// The noise's standard deviation over the clipping norm.
    pub noise_multiplier: f64,
    /// Every row's gradient is clipped to this L2 norm.
    pub clip_norm: f64,
    /// The steps the noise was calibrated for (`train.epochs` times the steps of an epoch).
    pub planned_steps: usize,
    /// The steps taken so far.
    pub steps: usize,
    /// The epsilon of the steps taken, at `delta`.
    pub epsilon_spent: f64,
}

/// The state of DP-SGD during a run.
pub struct DpSgd {
    record: DpSgdRecord,
    rows: usize,
    per_epoch: usize,
    rng: StdRng,
}

impl DpSgd {
    /// The calibration for `epochs` epochs of `rows` rows in expected batches of `batch`, or
    /// an error naming the keys when no noise can meet the budget.
    pub fn new(
        privacy: &PrivacyConfig,
        rows: usize,
        batch: usize,
        epochs: usize,
        seed: u64,
    ) -> Result<Self> {
        if privacy.delta * rows as f64 >= 1.0 {
            return Err(TabularError::Config(format!(
                "privacy.delta = {} is not below 1 / rows (the table has {rows} rows); lower it",
                privacy.delta
            )));
        }
        let q = (batch as f64 / rows.max(1) as f64).min(1.0);
        let per_epoch = rows.div_ceil(batch.max(1)).max(1);
        let planned_steps = epochs * per_epoch;
        let sigma = dp_sgd_noise(q, planned_steps, privacy.epsilon, privacy.delta).ok_or_else(|| {
            TabularError::Config(format!(
                "privacy.epsilon = {} cannot be met by {planned_steps} DP-SGD steps at a sampling rate of {q:.4} with any noise; raise privacy.epsilon, or lower train.epochs or train.batch_size",
                privacy.epsilon
            ))
        })?;
        Ok(DpSgd {
            record: DpSgdRecord {
                epsilon: privacy.epsilon,
                delta: privacy.delta,
                sampling_rate: q,
                noise_multiplier: sigma,
                clip_norm: privacy.clip_norm,
                planned_steps,
                steps: 0,
                epsilon_spent: 0.0,
            },
            rows,
            per_epoch,
            rng: noise_source(privacy, seed),
        })
    }

    /// Steps per epoch (the expected batches that cover the rows once).
    pub fn steps_per_epoch(&self) -> usize {
        self.per_epoch
    }

    /// The next step's Poisson batch (possibly empty); counts the step.
    pub fn next_batch(&mut self) -> Vec<u32> {
        self.record.steps += 1;
        let q = self.record.sampling_rate;
        (0..self.rows as u32)
            .filter(|_| self.rng.random::<f64>() < q)
            .collect()
    }

    /// The record, with the epsilon of the steps taken.
    pub fn record(&self) -> DpSgdRecord {
        let mut record = self.record.clone();
        record.epsilon_spent = dp_sgd_epsilon(
            record.sampling_rate,
            record.noise_multiplier,
            record.steps,
            record.delta,
        );
        record
    }

    /// Each row's clipping factor `min(1, clip_norm / norm)`.
    pub fn clip_factors(&self, norms: &[f32]) -> Vec<f32> {
        let clip = self.record.clip_norm as f32;
        norms
            .iter()
            .map(|n| (clip / n.max(1e-12)).min(1.0))
            .collect()
    }

    /// Adds the noise to the summed clipped gradients of `module`'s parameters and divides
    /// them by the expected batch size.
    pub fn privatise<M: Module>(&mut self, module: &M, grads: &mut GradientsParams) {
        let mut visitor = Noisy {
            grads,
            std: self.record.noise_multiplier * self.record.clip_norm,
            scale: 1.0 / (self.record.sampling_rate * self.rows as f64),
            rng: &mut self.rng,
        };
        module.visit(&mut visitor);
    }
}

/// Adds `N(0, std^2)` to every gradient and scales it.
struct Noisy<'a> {
    grads: &'a mut GradientsParams,
    std: f64,
    scale: f64,
    rng: &'a mut StdRng,
}

impl ModuleVisitor for Noisy<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(grad) = self.grads.remove::<D>(param.id) else {
            return;
        };
        let shape = grad.shape();
        let noise: Vec<f32> = (0..shape.num_elements())
            .map(|_| gaussian_noise(self.std, self.rng) as f32)
            .collect();
        let noise = Tensor::<D>::from_data(TensorData::new(noise, shape), &grad.device());
        self.grads
            .register::<D>(param.id, (grad + noise).mul_scalar(self.scale));
    }
}

/// Each row's gradient norm over every probed layer (see the module notes), from the
/// gradients of the loss summed over the rows.
pub fn per_row_norms(taps: &[Tap], grads: &Gradients) -> Vec<f32> {
    let mut total: Option<Tensor<2>> = None;
    for tap in taps {
        let Some(g) = tap.probe.grad(grads) else {
            continue;
        };
        let g2 = g.powi_scalar(2).sum_dim(1);
        let squared = match &tap.input {
            // weight: |a|^2 |g|^2, bias: |g|^2
            Some(a) => {
                let a2 = a.clone().inner().powi_scalar(2).sum_dim(1);
                g2.clone() * a2 + g2
            }
            None => g2,
        };
        total = Some(match total {
            Some(t) => t + squared,
            None => squared,
        });
    }
    total.map_or_else(Vec::new, |t| crate::tensors::to_host(t.sqrt()))
}
