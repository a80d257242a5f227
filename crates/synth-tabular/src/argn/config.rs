//! TabularARGN settings (the `[model]` section with `kind = "argn"`).

use serde::{Deserialize, Serialize};
use synth_core::valid::{ConfigError, Validate, counts, in_range, non_negative, positive};

/// TabularARGN settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArgnConfig {
    /// Share of training batches in a fresh random column order, the others in the table's
    /// order (unconditional rows are drawn in the table's order). Above 0, conditions on any
    /// columns are exact; 0 trains the table's order alone and meets conditions by rejection.
    pub random_orders: f64,
    /// Numeric columns with fewer distinct values get one token per value.
    pub exact_below: usize,
    /// Most quantile bins of a numeric column with more distinct values.
    pub max_bins: usize,
    /// Sub-bins (quantiles within each bin) of a second, finer token of a binned column; 1
    /// gives one token per column and draws uniformly inside the bin.
    pub sub_bins: usize,
    /// Scales every embedding (about 3 * V^0.25) and hidden width (about 16 * ln V).
    pub width: f64,
    /// Dropout on the embeddings the heads read, while training.
    pub dropout: f64,
    /// AdamW learning rate at batch size 32; scaled by sqrt(batch / 32).
    pub learning_rate: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    /// Batch size from the table (2^floor(log2(rows / 64)), clipped to [8, 2048]) instead of
    /// `train.batch_size`.
    pub adaptive_batch: bool,
    /// Share of the training rows held out to validate every epoch (early stopping).
    pub validation_share: f64,
    /// Epochs without a better validation loss before the learning rate is halved.
    pub plateau_epochs: usize,
    /// Epochs without a better validation loss before training stops (the best weights
    /// are kept).
    pub patience: usize,
    /// Softmax temperature when sampling (below 1: more typical rows).
    pub temperature: f64,
    /// Nucleus sampling: only the most probable tokens holding this share of the
    /// probability are drawn from (1: all).
    pub top_p: f64,
    /// Rare-value protection: categories and exact values held by fewer than 10 training
    /// rows are never sampled, and binned numbers stay within their 1st and 99th bins.
    pub protect_rare: bool,
}

impl Default for ArgnConfig {
    fn default() -> Self {
        ArgnConfig {
            random_orders: 0.5,
            exact_below: 100,
            max_bins: 100,
            sub_bins: 1,
            width: 1.0,
            dropout: 0.25,
            learning_rate: 1e-3,
            weight_decay: 0.01,
            adaptive_batch: true,
            validation_share: 0.2,
            plateau_epochs: 3,
            patience: 6,
            temperature: 1.0,
            top_p: 1.0,
            protect_rare: false,
        }
    }
}

impl ArgnConfig {
    /// The `model.kind` of TabularARGN configs and checkpoint manifests.
    pub const KIND: &str = "argn";

    /// Whether the heads learn every column order, so conditions on any columns are exact.
    pub fn any_order(&self) -> bool {
        self.random_orders > 0.0
    }

    /// The batch size for `rows` training rows: the paper's rule with `adaptive_batch`,
    /// else `configured` (never more than the rows).
    pub fn batch_size(&self, rows: usize, configured: usize) -> usize {
        let batch = if self.adaptive_batch {
            let exponent = (rows as f64 / 64.0).max(1.0).log2().floor() as u32;
            (1usize << exponent.min(11)).clamp(8, 2048)
        } else {
            configured
        };
        batch.min(rows.max(1))
    }

    /// The learning rate at `batch`: scaled by sqrt(batch / 32) with `adaptive_batch`.
    pub fn scaled_learning_rate(&self, batch: usize) -> f64 {
        if self.adaptive_batch {
            self.learning_rate * (batch as f64 / 32.0).sqrt()
        } else {
            self.learning_rate
        }
    }
}

/// Checked against the batch size (the context).
impl Validate for ArgnConfig {
    type Context = usize;

    fn check(&self, batch_size: &usize) -> Result<(), ConfigError> {
        counts("train.batch_size", &[*batch_size])?;
        counts("model.max_bins", &[self.max_bins])?;
        counts("model.sub_bins", &[self.sub_bins])?;
        counts("model.patience", &[self.patience])?;
        counts("model.plateau_epochs", &[self.plateau_epochs])?;
        positive("model.width", self.width)?;
        positive("model.learning_rate", self.learning_rate)?;
        positive("model.temperature", self.temperature)?;
        in_range(
            "model.random_orders",
            "[0, 1]",
            self.random_orders,
            (0.0..=1.0).contains(&self.random_orders),
        )?;
        in_range(
            "model.dropout",
            "[0, 1)",
            self.dropout,
            (0.0..1.0).contains(&self.dropout),
        )?;
        non_negative("model.weight_decay", self.weight_decay)?;
        in_range(
            "model.validation_share",
            "[0, 0.5]",
            self.validation_share,
            (0.0..=0.5).contains(&self.validation_share),
        )?;
        in_range(
            "model.top_p",
            "(0, 1]",
            self.top_p,
            self.top_p > 0.0 && self.top_p <= 1.0,
        )?;
        if self.max_bins > 10_000 || self.sub_bins > 1_000 || self.exact_below > 10_000 {
            return Err(ConfigError::Unsupported {
                key: "model.max_bins",
                value: format!(
                    "{} (sub_bins {}, exact_below {})",
                    self.max_bins, self.sub_bins, self.exact_below
                ),
                supported: "at most 10,000 bins, 1,000 sub-bins and exact_below 10,000".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_and_learning_rate_follow_the_table() {
        let config = ArgnConfig::default();
        // 2^floor(log2(n / 64)), clipped to [8, 2048]
        assert_eq!(config.batch_size(20_839, 500), 256);
        assert_eq!(config.batch_size(100, 500), 8);
        assert_eq!(config.batch_size(5, 500), 5);
        assert_eq!(config.batch_size(10_000_000, 500), 2048);
        let lr = config.scaled_learning_rate(128);
        assert!((lr - 2e-3).abs() < 1e-12, "{lr}");
        let fixed = ArgnConfig {
            adaptive_batch: false,
            ..ArgnConfig::default()
        };
        assert_eq!(fixed.batch_size(20_839, 500), 500);
        assert_eq!(fixed.scaled_learning_rate(500), 1e-3);
    }

    #[test]
    fn settings_out_of_range_name_their_key() {
        for (config, key) in [
            (
                ArgnConfig {
                    dropout: 1.0,
                    ..Default::default()
                },
                "model.dropout",
            ),
            (
                ArgnConfig {
                    top_p: 0.0,
                    ..Default::default()
                },
                "model.top_p",
            ),
            (
                ArgnConfig {
                    max_bins: 0,
                    ..Default::default()
                },
                "model.max_bins",
            ),
            (
                ArgnConfig {
                    temperature: f64::NAN,
                    ..Default::default()
                },
                "model.temperature",
            ),
            (
                ArgnConfig {
                    validation_share: 0.9,
                    ..Default::default()
                },
                "model.validation_share",
            ),
        ] {
            let err = config.validated(64).unwrap_err().to_string();
            assert!(err.starts_with(key), "{key}: {err}");
        }
        assert!(ArgnConfig::default().validated(64).is_ok());
    }
}
