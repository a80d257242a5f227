//! DCGAN (spec section 5): Radford et al.'s generator and discriminator, trained by the
//! shared adversarial loop of [`crate::gan`] (binary cross-entropy on logits, both networks
//! Adam 2e-4 with betas (0.5, 0.999)).

mod config;
mod model;

pub use config::{DcganConfig, Layout};
pub use model::{Discriminator, Generator};

use crate::gan::{
    GanModel, GanSampler, GanSettings, GanTrainer, ImageDiscriminator, ImageGenerator,
};
use crate::png::ImageShape;
use crate::{ImageModelError, Result};
use burn::prelude::*;
use std::path::Path;
use synth_data::images::ImageSet;

/// DCGAN during training.
pub type DcganTrainer = GanTrainer<Generator, Discriminator>;
/// A trained DCGAN generator.
pub type DcganSampler = GanSampler<Generator>;

impl ImageGenerator for Generator {
    fn generate(&self, z: Tensor<2>, _labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        self.forward(z)
    }
}

impl ImageDiscriminator for Discriminator {
    fn logits(&self, images: Tensor<4>, _labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        self.forward(images)
    }
}

impl DcganConfig {
    /// The shared training settings.
    pub fn settings(&self) -> GanSettings {
        GanSettings {
            latent_dim: self.latent_dim,
            learning_rate: self.learning_rate,
            betas: self.betas,
        }
    }
}

impl GanModel for DcganConfig {
    type Generator = Generator;
    type Discriminator = Discriminator;
    const KIND: &'static str = Self::KIND;

    fn validate(&self, image_size: u32) -> std::result::Result<(), String> {
        if self.latent_dim == 0 || self.feature_maps == 0 {
            return Err("model.latent_dim and model.feature_maps must be positive".into());
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err("model.learning_rate must be positive".into());
        }
        Layout::for_size(image_size).map(|_| ())
    }

    fn gan_trainer(
        &self,
        batch_size: usize,
        images: &ImageSet,
        device: &Device,
        seed: u64,
    ) -> Result<DcganTrainer> {
        GanModel::validate(self, images.size).map_err(ImageModelError::Config)?;
        let layout = Layout::for_size(images.size).map_err(ImageModelError::Config)?;
        let channels = images.channels as usize;
        GanTrainer::new(
            self.settings(),
            batch_size,
            images,
            None,
            device,
            seed,
            |noise| {
                let generator =
                    Generator::new(self.latent_dim, self.feature_maps, channels, layout, noise);
                let discriminator = Discriminator::new(self.feature_maps, channels, layout, noise);
                (generator, discriminator)
            },
        )
    }

    fn gan_sampler(
        &self,
        checkpoint: &Path,
        shape: ImageShape,
        device: &Device,
    ) -> Result<DcganSampler> {
        let layout = Layout::for_size(shape.size as u32).map_err(ImageModelError::Config)?;
        let (latent, maps, channels) = (self.latent_dim, self.feature_maps, shape.channels);
        GanSampler::load(
            checkpoint,
            latent,
            shape,
            None,
            Generator::values(latent, maps, channels, layout),
            |weights| Generator::new(latent, maps, channels, layout, weights),
            device,
        )
    }
}

#[cfg(test)]
mod tests;
