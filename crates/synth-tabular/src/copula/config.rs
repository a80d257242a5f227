//! GaussianCopula settings (the `[model]` section with `kind = "gaussiancopula"`).

use super::marginal::Family;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use synth_core::valid::{ConfigError, Validate, counts};

/// GaussianCopula settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GaussianCopulaConfig {
    /// The marginal family of continuous columns: `auto` (the best-fitting parametric family
    /// when it passes a Kolmogorov-Smirnov test at 5%, else the empirical distribution),
    /// `norm`, `truncnorm`, `beta`, `gamma`, `uniform` or `empirical`.
    pub default_distribution: Family,
    /// Per-column families, overriding `default_distribution`: `{ age = "beta" }`.
    pub distributions: BTreeMap<String, Family>,
}

impl Default for GaussianCopulaConfig {
    fn default() -> Self {
        GaussianCopulaConfig {
            default_distribution: Family::Auto,
            distributions: BTreeMap::new(),
        }
    }
}

impl GaussianCopulaConfig {
    /// The `model.kind` of GaussianCopula configs and checkpoint manifests.
    pub const KIND: &str = "gaussiancopula";
}

/// Checked against the batch size (the context), which the copula does not use but a run
/// still needs; the distributions are checked against the columns when fitted.
impl Validate for GaussianCopulaConfig {
    type Context = usize;

    fn check(&self, batch_size: &usize) -> Result<(), ConfigError> {
        counts("train.batch_size", &[*batch_size])
    }
}
