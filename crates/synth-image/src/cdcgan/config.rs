//! Class-conditional DCGAN settings (the `[model]` section with `kind = "cdcgan"`): DCGAN's,
//! plus the width of the generator's class embedding.

use crate::dcgan::DcganConfig;
use serde::{Deserialize, Serialize};

/// Class-conditional DCGAN settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CdcganConfig {
    /// Width of the latent vector.
    pub latent_dim: usize,
    /// Width of the class embedding appended to the generator's latent vector.
    pub label_dim: usize,
    /// Feature maps of the generator's last and the discriminator's first block.
    pub feature_maps: usize,
    /// Adam learning rate (both networks).
    pub learning_rate: f64,
    /// Adam betas (both networks).
    pub betas: (f64, f64),
}

impl Default for CdcganConfig {
    fn default() -> Self {
        let dcgan = DcganConfig::default();
        CdcganConfig {
            latent_dim: dcgan.latent_dim,
            label_dim: 50,
            feature_maps: dcgan.feature_maps,
            learning_rate: dcgan.learning_rate,
            betas: dcgan.betas,
        }
    }
}

impl CdcganConfig {
    /// The `model.kind` of class-conditional DCGAN configs and checkpoint manifests.
    pub const KIND: &str = "cdcgan";

    /// The settings the two models share, as DCGAN's.
    pub fn unconditional(&self) -> DcganConfig {
        DcganConfig {
            latent_dim: self.latent_dim,
            feature_maps: self.feature_maps,
            learning_rate: self.learning_rate,
            betas: self.betas,
        }
    }
}
