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
use crate::gan::{GanModel, GanSampler, GanTrainer, ImageDiscriminator, ImageGenerator};
use crate::png::ImageShape;
use crate::{Classes, ImageModelError, Result};
use burn::prelude::*;
use std::path::Path;
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

impl GanModel for CdcganConfig {
    type Generator = ConditionalGenerator;
    type Discriminator = ConditionalDiscriminator;
    const KIND: &'static str = Self::KIND;

    fn validate(&self, image_size: u32) -> std::result::Result<(), String> {
        if self.label_dim == 0 {
            return Err("model.label_dim must be positive".into());
        }
        GanModel::validate(&self.unconditional(), image_size)
    }

    fn gan_trainer(
        &self,
        batch_size: usize,
        images: &ImageSet,
        device: &Device,
        seed: u64,
    ) -> Result<CdcganTrainer> {
        GanModel::validate(self, images.size).map_err(ImageModelError::Config)?;
        let classes = Classes::of(images)?;
        let count = classes.names().len();
        let layout = Layout::for_size(images.size).map_err(ImageModelError::Config)?;
        let (channels, size) = (images.channels as usize, images.size as usize);
        GanTrainer::new(
            self.unconditional().settings(),
            batch_size,
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
        let layout = Layout::for_size(shape.size as u32).map_err(ImageModelError::Config)?;
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
