//! DCGAN (spec section 5): Radford et al.'s generator and discriminator, trained by the
//! shared adversarial loop of [`crate::gan`] (binary cross-entropy on logits, both networks
//! Adam 2e-4 with betas (0.5, 0.999)).

mod config;
mod model;

pub use config::{DcganConfig, Layout};
pub use model::{Discriminator, Generator};

use crate::Result;
use crate::gan::{
    GanModel, GanSampler, GanSettings, GanTrainer, ImageDiscriminator, ImageGenerator, ImageRun,
};
use crate::png::ImageShape;
use burn::prelude::*;
use std::path::Path;
use synth_core::valid::{ConfigError, Valid, Validate, betas, counts, positive};
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

/// Checked against the run's image size (28, 32 or 64) and batch size.
impl Validate for DcganConfig {
    type Context = ImageRun;

    fn check(&self, run: &ImageRun) -> std::result::Result<(), ConfigError> {
        counts("train.batch_size", &[run.batch_size])?;
        counts("model.latent_dim", &[self.latent_dim])?;
        counts("model.feature_maps", &[self.feature_maps])?;
        positive("model.learning_rate", self.learning_rate)?;
        betas("model.betas", self.betas)?;
        Layout::for_size(run.image_size).map(|_| ())
    }
}

impl GanModel for Valid<DcganConfig> {
    type Generator = Generator;
    type Discriminator = Discriminator;
    const KIND: &'static str = DcganConfig::KIND;

    fn gan_trainer(&self, images: &ImageSet, device: &Device, seed: u64) -> Result<DcganTrainer> {
        let layout = Layout::for_size(images.size)?;
        let channels = images.channels as usize;
        GanTrainer::new(
            self.settings(),
            self.context().batch_size,
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
        let layout = Layout::for_size(shape.size as u32)?;
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
