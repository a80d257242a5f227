//! CTGAN hyperparameters (the `[model]` section with `kind = "ctgan"`), defaults from the paper.

use serde::{Deserialize, Serialize};
use synth_core::valid::{ConfigError, Validate, betas, counts, non_negative, positive};

/// CTGAN settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CtganConfig {
    /// Width of the generator's noise input.
    pub embedding_dim: usize,
    /// Sizes of the generator's residual blocks.
    pub generator_dim: Vec<usize>,
    /// Sizes of the critic's hidden layers.
    pub discriminator_dim: Vec<usize>,
    /// Rows per critic input group; the batch size must be a multiple of it.
    pub pac: usize,
    /// Critic updates per generator update.
    pub discriminator_steps: usize,
    /// Adam learning rate of the generator.
    pub generator_lr: f64,
    /// Adam learning rate of the critic.
    pub discriminator_lr: f64,
    /// L2 weight decay of the generator.
    pub generator_decay: f64,
    /// L2 weight decay of the critic.
    pub discriminator_decay: f64,
    /// Adam betas (both networks).
    pub betas: (f64, f64),
    /// Gumbel-softmax temperature.
    pub tau: f64,
    /// Training categories drawn by log(1 + count) instead of count.
    pub log_frequency: bool,
    /// Gradient-penalty weight.
    pub gp_lambda: f64,
    /// Critic dropout probability.
    pub dropout: f64,
}

impl Default for CtganConfig {
    fn default() -> Self {
        CtganConfig {
            embedding_dim: 128,
            generator_dim: vec![256, 256],
            discriminator_dim: vec![256, 256],
            pac: 10,
            discriminator_steps: 1,
            generator_lr: 2e-4,
            discriminator_lr: 2e-4,
            generator_decay: 1e-6,
            discriminator_decay: 1e-6,
            betas: (0.5, 0.9),
            tau: 0.2,
            log_frequency: true,
            gp_lambda: 10.0,
            dropout: 0.5,
        }
    }
}

impl CtganConfig {
    /// The `model.kind` of CTGAN configs and checkpoint manifests.
    pub const KIND: &str = "ctgan";
}

/// Checked against the batch size (the context), which must be a multiple of `pac`.
impl Validate for CtganConfig {
    type Context = usize;

    fn check(&self, batch_size: &usize) -> Result<(), ConfigError> {
        counts("model.pac", &[self.pac])?;
        if *batch_size == 0 || !batch_size.is_multiple_of(self.pac) {
            return Err(ConfigError::Unsupported {
                key: "train.batch_size",
                value: batch_size.to_string(),
                supported: format!("must be a positive multiple of model.pac ({})", self.pac),
            });
        }
        counts("model.embedding_dim", &[self.embedding_dim])?;
        counts("model.generator_dim", &self.generator_dim)?;
        counts("model.discriminator_dim", &self.discriminator_dim)?;
        counts("model.discriminator_steps", &[self.discriminator_steps])?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError::OutOfRange {
                key: "model.dropout",
                range: "[0, 1)",
                value: self.dropout,
            });
        }
        positive("model.tau", self.tau)?;
        positive("model.generator_lr", self.generator_lr)?;
        positive("model.discriminator_lr", self.discriminator_lr)?;
        non_negative("model.generator_decay", self.generator_decay)?;
        non_negative("model.discriminator_decay", self.discriminator_decay)?;
        non_negative("model.gp_lambda", self.gp_lambda)?;
        betas("model.betas", self.betas)
    }
}
