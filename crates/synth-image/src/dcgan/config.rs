//! DCGAN hyperparameters (the `[model]` section with `kind = "dcgan"`), defaults from the paper.

use serde::{Deserialize, Serialize};
use synth_core::ConfigError;

/// DCGAN settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DcganConfig {
    /// Width of the latent vector.
    pub latent_dim: usize,
    /// Feature maps of the generator's last and the discriminator's first block.
    pub feature_maps: usize,
    /// Adam learning rate (both networks).
    pub learning_rate: f64,
    /// Adam betas (both networks).
    pub betas: (f64, f64),
}

impl Default for DcganConfig {
    fn default() -> Self {
        DcganConfig {
            latent_dim: 100,
            feature_maps: 64,
            learning_rate: 2e-4,
            betas: (0.5, 0.999),
        }
    }
}

impl DcganConfig {
    /// The `model.kind` of DCGAN configs and checkpoint manifests.
    pub const KIND: &str = "dcgan";
}

/// The spatial plan of both networks: a `base x base` start and `steps` doublings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Side of the first (generator) / last (discriminator) feature map.
    pub base: usize,
    /// Stride-2 (transposed) convolutions between `base` and the image size.
    pub steps: usize,
}

impl Layout {
    /// 28 = 7 x 2^2 (MNIST), 32 = 4 x 2^3, 64 = 4 x 2^4.
    pub fn for_size(size: u32) -> Result<Self, ConfigError> {
        match size {
            28 => Ok(Layout { base: 7, steps: 2 }),
            32 => Ok(Layout { base: 4, steps: 3 }),
            64 => Ok(Layout { base: 4, steps: 4 }),
            other => Err(ConfigError::Unsupported {
                key: "data.image_size",
                value: other.to_string(),
                supported: "DCGAN's networks support 28, 32 or 64 pixels".into(),
            }),
        }
    }
}
