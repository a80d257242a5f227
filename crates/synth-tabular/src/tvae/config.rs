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
    /// How sampling turns a categorical column's logits into a category (`None`: argmax, or
    /// a draw when the model is trained with DP-SGD; see [`TvaeConfig::category_decoding`]).
    pub categories: Option<CategoryDecoding>,
}

/// How TVAE's sampler picks each categorical column's category from the decoder's logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CategoryDecoding {
    /// The most likely category (the paper's decoding).
    Argmax,
    /// A draw from `softmax(logits)`, the decoder's categorical likelihood: a decoder that is
    /// unsure (DP-SGD's noisy training) still gives each category its share instead of giving
    /// every row the most likely one.
    Sample,
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
            categories: None,
        }
    }
}

impl TvaeConfig {
    /// The `model.kind` of TVAE configs and checkpoint manifests.
    pub const KIND: &str = "tvae";

    /// The decoding that `categories` asks for; unset, the paper's argmax, except that a model
    /// trained with DP-SGD (`private`) draws: its noisy decoder is rarely sure of a category,
    /// and argmax would give every row the most common one.
    pub fn category_decoding(&self, private: bool) -> CategoryDecoding {
        self.categories.unwrap_or(if private {
            CategoryDecoding::Sample
        } else {
            CategoryDecoding::Argmax
        })
    }
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
