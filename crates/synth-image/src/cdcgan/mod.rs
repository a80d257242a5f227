//! Class-conditional DCGAN (Mirza and Osindero 2014 on Radford et al.'s networks): the
//! class label enters the generator as a learned embedding appended to the latent vector and
//! the discriminator as a learned image plane, so `synth-sample --condition class=7` draws
//! sevens. Trained by the shared adversarial loop of [`crate::gan`] on labelled images (an
//! IDX file with its label file, or a folder with one subfolder per class); the class names
//! and counts are saved in the checkpoint ([`crate::CLASSES_FILE`]).

mod config;
mod model;

pub use config::CdcganConfig;
pub use model::{ConditionalDiscriminator, ConditionalGenerator};

use crate::dcgan::Layout;
use crate::gan::{GanModel, GanSampler, GanTrainer, ImageDiscriminator, ImageGenerator, ImageRun};
use crate::png::ImageShape;
use crate::{Classes, Result};
use burn::prelude::*;
use std::path::Path;
use synth_core::valid::{ConfigError, Valid, Validate, counts};
use synth_data::images::ImageSet;

/// The class-conditional DCGAN during training.
pub type CdcganTrainer = GanTrainer<ConditionalGenerator, ConditionalDiscriminator>;
/// A trained class-conditional generator.
pub type CdcganSampler = GanSampler<ConditionalGenerator>;

const LABELS_ALWAYS_GIVEN: &str =
    "the training loop and the sampler give a class-conditional model's networks labels";

impl ImageGenerator for ConditionalGenerator {
    fn generate(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        self.forward(z, labels.expect(LABELS_ALWAYS_GIVEN))
    }
}

impl ImageDiscriminator for ConditionalDiscriminator {
    fn logits(&self, images: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        self.forward(images, labels.expect(LABELS_ALWAYS_GIVEN))
    }
}

/// Checked as DCGAN's settings, plus the class embedding's width.
impl Validate for CdcganConfig {
    type Context = ImageRun;

    fn check(&self, run: &ImageRun) -> std::result::Result<(), ConfigError> {
        counts("model.label_dim", &[self.label_dim])?;
        self.unconditional().check(run)
    }
}

impl GanModel for Valid<CdcganConfig> {
    type Generator = ConditionalGenerator;
    type Discriminator = ConditionalDiscriminator;
    const KIND: &'static str = CdcganConfig::KIND;

    fn gan_trainer(&self, images: &ImageSet, device: &Device, seed: u64) -> Result<CdcganTrainer> {
        let classes = Classes::of(images)?;
        let count = classes.names().len();
        let layout = Layout::for_size(images.size)?;
        let (channels, size) = (images.channels as usize, images.size as usize);
        GanTrainer::new(
            self.unconditional().settings(),
            self.context().batch_size,
            images,
            Some(classes),
            device,
            seed,
            |noise| {
                let generator = ConditionalGenerator::new(self, count, channels, layout, noise);
                let discriminator =
                    ConditionalDiscriminator::new(self, count, channels, size, layout, noise);
                (generator, discriminator)
            },
        )
    }

    fn gan_sampler(
        &self,
        checkpoint: &Path,
        shape: ImageShape,
        device: &Device,
    ) -> Result<CdcganSampler> {
        let layout = Layout::for_size(shape.size as u32)?;
        let classes = Classes::load(checkpoint)?;
        let count = classes.names().len();
        GanSampler::load(
            checkpoint,
            self.latent_dim,
            shape,
            Some(classes),
            ConditionalGenerator::values(self, count, shape.channels, layout),
            |weights| ConditionalGenerator::new(self, count, shape.channels, layout, weights),
            device,
        )
    }
}

#[cfg(test)]
mod tests;
