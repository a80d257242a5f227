//! Latent-class mixture settings (the `[model]` section with `kind = "mixture"`).

use serde::{Deserialize, Serialize};
use synth_core::valid::{ConfigError, Validate, counts, in_range};

/// Latent-class mixture settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixtureConfig {
    /// Number of latent classes (components). More fit the table more closely; too many
    /// memorise its rows (see the README's table of quality and DCR against `components`).
    pub components: usize,
    /// Numeric columns with fewer distinct values are categorical leaves (one probability per
    /// value); the others Gaussian leaves on their normal scores.
    pub categorical_below: usize,
    /// A numeric column's minimum holding at least this share of its present values (a
    /// capital gain of 0) gets an indicator of its own beside the Gaussian.
    pub point_mass_share: f64,
    /// Pseudo-rows of additive smoothing per component and categorical leaf, spread over the
    /// values at their frequencies in the whole table.
    pub smoothing: f64,
    /// Pseudo-rows per component pulling each Gaussian leaf towards the column's overall
    /// distribution of normal scores, N(0, 1).
    pub shrinkage: f64,
    /// Smallest variance of a Gaussian leaf (on the normal-score scale, where the column's
    /// variance is 1).
    pub variance_floor: f64,
    /// Share of the rows held out: EM stops when their log-likelihood stops improving, and the
    /// best parameters are kept.
    pub validation_share: f64,
    /// Held-out log-likelihood gain per row (nats) an iteration must make to count as better.
    pub tolerance: f64,
    /// Iterations without a better held-out log-likelihood before EM stops.
    pub patience: usize,
    /// Rows per E-step chunk: the responsibilities held at once are `chunk_rows x components`
    /// (memory), whatever the table's size.
    pub chunk_rows: usize,
}

impl Default for MixtureConfig {
    fn default() -> Self {
        MixtureConfig {
            components: 1000,
            categorical_below: 20,
            point_mass_share: 0.05,
            smoothing: 0.1,
            shrinkage: 0.1,
            variance_floor: 1e-3,
            validation_share: 0.1,
            tolerance: 1e-3,
            patience: 3,
            chunk_rows: 4096,
        }
    }
}

impl MixtureConfig {
    /// The `model.kind` of mixture configs and checkpoint manifests.
    pub const KIND: &str = "mixture";
}

/// Checked against the batch size (the context), which EM does not use but a run still
/// needs.
impl Validate for MixtureConfig {
    type Context = usize;

    fn check(&self, batch_size: &usize) -> Result<(), ConfigError> {
        counts("train.batch_size", &[*batch_size])?;
        counts("model.components", &[self.components])?;
        counts("model.categorical_below", &[self.categorical_below])?;
        counts("model.patience", &[self.patience])?;
        counts("model.chunk_rows", &[self.chunk_rows])?;
        for (key, value) in [
            ("model.point_mass_share", self.point_mass_share),
            ("model.variance_floor", self.variance_floor),
        ] {
            in_range(key, "(0, 1]", value, value > 0.0 && value <= 1.0)?;
        }
        for (key, value) in [
            ("model.smoothing", self.smoothing),
            ("model.shrinkage", self.shrinkage),
            ("model.tolerance", self.tolerance),
        ] {
            in_range(key, "[0, inf)", value, value >= 0.0)?;
        }
        in_range(
            "model.validation_share",
            "[0, 1)",
            self.validation_share,
            (0.0..1.0).contains(&self.validation_share),
        )?;
        Ok(())
    }
}
