//! TVAE hyperparameters (the `[model]` section with `kind = "tvae"`), defaults from the spec.

use serde::{Deserialize, Serialize};

/// TVAE settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TvaeConfig {
    /// Width of the latent space.
    pub embedding_dim: usize,
    /// Sizes of the encoder's hidden layers.
    pub encoder_dim: Vec<usize>,
    /// Sizes of the decoder's hidden layers.
    pub decoder_dim: Vec<usize>,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Weight of the reconstruction term against the KL term.
    pub loss_factor: f64,
}

impl Default for TvaeConfig {
    fn default() -> Self {
        TvaeConfig {
            embedding_dim: 128,
            encoder_dim: vec![128, 128],
            decoder_dim: vec![128, 128],
            learning_rate: 1e-3,
            weight_decay: 1e-5,
            loss_factor: 2.0,
        }
    }
}

impl TvaeConfig {
    /// Checks the settings; the message names the key.
    pub fn validate(&self, batch_size: usize) -> Result<(), String> {
        if batch_size == 0 {
            return Err("train.batch_size must be at least 1".into());
        }
        if self.embedding_dim == 0 {
            return Err("model.embedding_dim must be positive".into());
        }
        if self.encoder_dim.contains(&0) || self.decoder_dim.contains(&0) {
            return Err("model.encoder_dim and model.decoder_dim entries must be positive".into());
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.learning_rate) {
            return Err("model.learning_rate must be positive".into());
        }
        if !positive(self.loss_factor) {
            return Err("model.loss_factor must be positive".into());
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err("model.weight_decay must be zero or positive".into());
        }
        Ok(())
    }
}
