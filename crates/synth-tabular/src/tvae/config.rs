//! TVAE hyperparameters (the `[model]` section with `kind = "tvae"`), defaults from the spec.

use serde::{Deserialize, Serialize};
use synth_core::valid::{ConfigError, Validate, counts, non_negative, positive};

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
    /// The `model.kind` of TVAE configs and checkpoint manifests.
    pub const KIND: &str = "tvae";
}

/// Checked against the batch size (the context).
impl Validate for TvaeConfig {
    type Context = usize;

    fn check(&self, batch_size: &usize) -> Result<(), ConfigError> {
        counts("train.batch_size", &[*batch_size])?;
        counts("model.embedding_dim", &[self.embedding_dim])?;
        counts("model.encoder_dim", &self.encoder_dim)?;
        counts("model.decoder_dim", &self.decoder_dim)?;
        positive("model.learning_rate", self.learning_rate)?;
        positive("model.loss_factor", self.loss_factor)?;
        non_negative("model.weight_decay", self.weight_decay)
    }
}
