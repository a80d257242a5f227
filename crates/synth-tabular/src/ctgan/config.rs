//! CTGAN hyperparameters (the `[model]` section with `kind = "ctgan"`), defaults from the paper.

use serde::{Deserialize, Serialize};

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
    /// Checks the settings against each other and the batch size; the message names the key.
    pub fn validate(&self, batch_size: usize) -> Result<(), String> {
        if self.pac == 0 || batch_size == 0 || !batch_size.is_multiple_of(self.pac) {
            return Err(format!(
                "train.batch_size ({batch_size}) must be a positive multiple of model.pac ({})",
                self.pac
            ));
        }
        if self.embedding_dim == 0 {
            return Err("model.embedding_dim must be positive".into());
        }
        if self.generator_dim.contains(&0) || self.discriminator_dim.contains(&0) {
            return Err(
                "model.generator_dim and model.discriminator_dim entries must be positive".into(),
            );
        }
        if self.discriminator_steps == 0 {
            return Err("model.discriminator_steps must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err("model.dropout must be in [0, 1)".into());
        }
        if self.tau <= 0.0 {
            return Err("model.tau must be positive".into());
        }
        Ok(())
    }
}
