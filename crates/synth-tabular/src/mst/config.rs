//! MST settings (the `[model]` section with `kind = "mst"`; the budget is `[privacy]`).

use serde::{Deserialize, Serialize};
use synth_core::valid::{ConfigError, Validate, counts};
use synth_privacy::PrivacyConfig;

/// MST settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MstConfig {
    /// Equal-width bins of a continuous column between its bounds (missing values are one
    /// more state).
    pub bins: usize,
    /// Share of the budget spent measuring the domains of columns not declared public
    /// (`privacy.public`); nothing is spent on it when every column is public.
    pub domain_share: f64,
}

impl Default for MstConfig {
    fn default() -> Self {
        MstConfig {
            bins: 32,
            domain_share: 0.1,
        }
    }
}

impl MstConfig {
    /// The `model.kind` of MST configs and checkpoint manifests.
    pub const KIND: &str = "mst";
}

/// Checked with the `[privacy]` settings (the context), which MST cannot train without.
impl Validate for MstConfig {
    type Context = PrivacyConfig;

    fn check(&self, privacy: &PrivacyConfig) -> Result<(), ConfigError> {
        counts("model.bins", &[self.bins])?;
        if self.bins > 4096 {
            return Err(ConfigError::OutOfRange {
                key: "model.bins",
                range: "[1, 4096]",
                value: self.bins as f64,
            });
        }
        if !(self.domain_share > 0.0 && self.domain_share < 1.0) {
            return Err(ConfigError::OutOfRange {
                key: "model.domain_share",
                range: "(0, 1)",
                value: self.domain_share,
            });
        }
        privacy.check(&())
    }
}
