//! What the adversarial image models share (spec section 5): a generator trained against a
//! discriminator with binary cross-entropy on logits, both with Adam, over shuffled
//! mini-batches of the image set held on the device; their checkpoint files; previews; and
//! the sampler over a trained generator. A model supplies only its two networks (see
//! [`crate::dcgan`] and [`crate::cdcgan`]).
//!
//! Class-conditional models get the labels of each real batch; the batch's fakes are
//! generated for the same labels, so the discriminator sees both at the data's class
//! frequencies.

use crate::classes::Classes;
use crate::model::{ImageModel, ImageSampler};
use crate::png::{ImageShape, grid_png, write_png};
use crate::{ImageModelError, Result};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use std::path::{Path, PathBuf};
use synth_core::Trainable;
use synth_core::seed::derive_seed;
use synth_data::images::ImageSet;
use synth_nn::{
    EpochBatches, LossMeter, Noise, Placeholders, ValueCount, adam, all_finite, indices,
    load_module, load_network, load_optimizer, reseed_epoch, to_host,
};

pub(crate) const GENERATOR_FILE: &str = "generator.bpk";
const DISCRIMINATOR_FILE: &str = "discriminator.bpk";
const GENERATOR_OPTIM_FILE: &str = "generator.optim";
const DISCRIMINATOR_OPTIM_FILE: &str = "discriminator.optim";
/// Images in a preview or sample grid.
pub(crate) const GRID_IMAGES: usize = 64;

/// A generator network: latent rows `[n, latent]` (and, for a class-conditional model, one
/// class label per row) to images `[n, channels, size, size]` in [-1, 1].
pub trait ImageGenerator: Module + 'static {
    /// The images for `z`; `labels` is given exactly when the model is class-conditional.
    fn generate(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4>;
}

/// A discriminator network: images (and their labels, for a class-conditional model) to one
/// logit each, `[n, 1]`.
pub trait ImageDiscriminator: Module + 'static {
    /// The logits for `images`; `labels` is given exactly when the model is class-conditional.
    fn logits(&self, images: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<2>;
}

/// An adversarial image model: its validated settings build the two networks for an image
/// set, or the generator of a checkpoint. Every such model is an [`ImageModel`] through this
/// trait: the training loop, checkpoint files, previews and sampler are [`GanTrainer`]'s and
/// [`GanSampler`]'s.
pub trait GanModel {
    /// The generator network.
    type Generator: ImageGenerator;
    /// The discriminator network.
    type Discriminator: ImageDiscriminator;
    /// The `[model] kind` name, also recorded in checkpoint manifests.
    const KIND: &'static str;

    /// A trainer with fresh networks for the image set, weights drawn from `seed`.
    fn gan_trainer(
        &self,
        images: &ImageSet,
        device: &Device,
        seed: u64,
    ) -> Result<GanTrainer<Self::Generator, Self::Discriminator>>;

    /// The generator of a checkpoint folder for images of `shape`.
    fn gan_sampler(
        &self,
        checkpoint: &Path,
        shape: ImageShape,
        device: &Device,
    ) -> Result<GanSampler<Self::Generator>>;
}

impl<M: GanModel> ImageModel for M {
    fn kind(&self) -> &'static str {
        M::KIND
    }

    fn trainer(
        &self,
        images: &ImageSet,
        device: &Device,
        seed: u64,
        resume_from: Option<&Path>,
    ) -> Result<Box<dyn Trainable>> {
        let trainer = self.gan_trainer(images, device, seed)?;
        Ok(Box::new(trainer.resumed(resume_from)?))
    }

    fn sampler(
        &self,
        checkpoint: &Path,
        shape: ImageShape,
        device: &Device,
    ) -> Result<Box<dyn ImageSampler>> {
        Ok(Box::new(self.gan_sampler(checkpoint, shape, device)?))
    }
}

/// What image model settings are checked against: the run's image size and batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRun {
    /// Width and height of the images (`data.image_size`).
    pub image_size: u32,
    /// Images per step (`train.batch_size`).
    pub batch_size: usize,
}

#[cfg(test)]
impl ImageRun {
    /// 28-pixel images (MNIST) in batches of `batch_size`.
    pub(crate) fn mnist(batch_size: usize) -> Self {
        ImageRun {
            image_size: 28,
            batch_size,
        }
    }
}

/// The training settings every adversarial image model has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GanSettings {
    /// Width of the latent vector.
    pub latent_dim: usize,
    /// Adam learning rate (both networks).
    pub learning_rate: f64,
    /// Adam betas (both networks).
    pub betas: (f64, f64),
}

/// Binary cross-entropy of logits against a constant target (1 real, 0 fake), averaged:
/// `mean(softplus(-l))` for 1 and `mean(softplus(l))` for 0, in a form stable for large |l|.
pub fn bce_with_logits(logits: Tensor<2>, target_real: bool) -> Tensor<1> {
    let l = if target_real { logits.neg() } else { logits };
    (l.clone().clamp_min(0.0) + l.abs().neg().exp().log1p()).mean()
}

/// An adversarial image model during training.
pub struct GanTrainer<G, D> {
    settings: GanSettings,
    seed: u64,
    generator: G,
    discriminator: D,
    generator_optim: ModuleOptimizer,
    discriminator_optim: ModuleOptimizer,
    images: Tensor<4>,
    labels: Option<Tensor<1, Int>>,
    classes: Option<Classes>,
    shape: ImageShape,
    batches: EpochBatches,
    noise: Noise,
    device: Device,
    losses: LossMeter,
}

impl<G: ImageGenerator, D: ImageDiscriminator> GanTrainer<G, D> {
    /// Fresh networks from `build`, which draws their weights from a stream of `seed`, for
    /// the image set, in batches of `batch_size` (checked with the model's settings); with
    /// `classes`, every batch carries its images' labels.
    pub(crate) fn new(
        settings: GanSettings,
        batch_size: usize,
        images: &ImageSet,
        classes: Option<Classes>,
        device: &Device,
        seed: u64,
        build: impl FnOnce(&mut Noise) -> (G, D),
    ) -> Result<Self> {
        let device = device.clone().autodiff();
        let labels = match &classes {
            Some(_) => {
                let labels = images
                    .labels
                    .as_deref()
                    .ok_or(ImageModelError::Unlabelled)?;
                Some(indices(labels, &device))
            }
            None => None,
        };
        let (generator, discriminator) =
            build(&mut Noise::new(derive_seed(seed, "weights", 0), &device));
        let optimizer = || adam(settings.betas, 0.0).init();
        let (s, c) = (images.size as usize, images.channels as usize);
        let tensor = Tensor::<1>::from_data(
            TensorData::new(images.pixels.clone(), [images.pixels.len()]),
            &device,
        )
        .reshape([images.len, c, s, s]);
        let mut trainer = GanTrainer {
            generator_optim: optimizer(),
            discriminator_optim: optimizer(),
            generator,
            discriminator,
            images: tensor,
            labels,
            classes,
            shape: ImageShape {
                channels: c,
                size: s,
            },
            batches: EpochBatches::new(images.len, batch_size),
            noise: Noise::new(seed, &device),
            losses: LossMeter::new(&["generator_loss", "discriminator_loss"]),
            device,
            seed,
            settings,
        };
        trainer.begin_epoch(0);
        Ok(trainer)
    }

    /// Restores networks and optimizer state from a checkpoint folder.
    pub fn resume(mut self, dir: &Path) -> Result<Self> {
        self.generator = load_module(self.generator, &dir.join(GENERATOR_FILE))?;
        self.discriminator = load_module(self.discriminator, &dir.join(DISCRIMINATOR_FILE))?;
        self.generator_optim =
            load_optimizer(self.generator_optim, &dir.join(GENERATOR_OPTIM_FILE))?;
        self.discriminator_optim = load_optimizer(
            self.discriminator_optim,
            &dir.join(DISCRIMINATOR_OPTIM_FILE),
        )?;
        Ok(self)
    }

    /// [`GanTrainer::resume`] from `dir` if given, else the fresh trainer.
    pub fn resumed(self, dir: Option<&Path>) -> Result<Self> {
        match dir {
            Some(dir) => self.resume(dir),
            None => Ok(self),
        }
    }

    /// A sampler over the current generator (evaluation mode).
    pub fn sampler(&self) -> GanSampler<G> {
        GanSampler {
            latent: self.settings.latent_dim,
            shape: self.shape,
            generator: self.generator.valid(),
            classes: self.classes.clone(),
            device: self.device.clone().without_autodiff(),
        }
    }
}

impl<G: ImageGenerator, D: ImageDiscriminator> Trainable for GanTrainer<G, D> {
    fn steps_per_epoch(&self) -> usize {
        self.batches.per_epoch()
    }

    fn begin_epoch(&mut self, epoch: usize) {
        reseed_epoch(self.seed, epoch, &mut self.noise, &mut self.batches);
    }

    /// The discriminator's update on a real batch and a fake one, then the generator's on the
    /// same fakes (non-saturating loss: fakes labelled real).
    fn train_step(&mut self) {
        let rows = indices(self.batches.next_batch(), &self.device);
        let labels = self
            .labels
            .as_ref()
            .map(|labels| labels.clone().select(0, rows.clone()));
        let real = self.images.clone().select(0, rows);
        let z = self.noise.normal(real.dims()[0], self.settings.latent_dim);
        let fake = self.generator.generate(z, labels.clone());
        let (d, lr) = (&self.discriminator, self.settings.learning_rate);

        let d_loss = bce_with_logits(d.logits(real, labels.clone()), true)
            + bce_with_logits(d.logits(fake.clone().detach(), labels.clone()), false);
        let grads = GradientsParams::from_grads(d_loss.backward(), d);
        self.discriminator = self
            .discriminator_optim
            .step(lr, self.discriminator.clone(), grads);

        let g_loss = bce_with_logits(self.discriminator.logits(fake, labels), true);
        let grads = GradientsParams::from_grads(g_loss.backward(), &self.generator);
        self.generator = self.generator_optim.step(lr, self.generator.clone(), grads);
        self.losses.add(0, g_loss);
        self.losses.add(1, d_loss);
        self.losses.end_step();
    }

    fn take_losses(&mut self) -> Vec<(&'static str, f64)> {
        self.losses.take()
    }

    fn non_finite_network(&self) -> Option<&'static str> {
        if !all_finite(&self.generator) {
            Some("generator")
        } else if !all_finite(&self.discriminator) {
            Some("discriminator")
        } else {
            None
        }
    }

    fn save(&self, dir: &Path) -> std::result::Result<(), synth_core::BoxError> {
        self.generator
            .valid()
            .into_record()
            .save(dir.join(GENERATOR_FILE))?;
        self.discriminator
            .valid()
            .into_record()
            .save(dir.join(DISCRIMINATOR_FILE))?;
        self.generator_optim.save(dir.join(GENERATOR_OPTIM_FILE))?;
        self.discriminator_optim
            .save(dir.join(DISCRIMINATOR_OPTIM_FILE))?;
        if let Some(classes) = &self.classes {
            classes.save(dir)?;
        }
        Ok(())
    }

    /// A grid of 64 images from the same latents every epoch, `dir/epoch-NNNN.png`, so
    /// that successive grids show the generator learning; a class-conditional model's grid
    /// cycles through the classes (image `k` of class `k mod classes`).
    fn write_preview(
        &self,
        dir: &Path,
        epoch: usize,
    ) -> std::result::Result<Option<PathBuf>, synth_core::BoxError> {
        std::fs::create_dir_all(dir)?;
        let labels = self.classes.as_ref().map(|classes| {
            let count = classes.names().len() as u32;
            (0..GRID_IMAGES as u32).map(|k| k % count).collect()
        });
        let images = self.sampler().generate_labelled(
            GRID_IMAGES,
            labels,
            derive_seed(self.seed, "preview", 0),
        );
        let path = dir.join(format!("epoch-{epoch:04}.png"));
        write_png(&path, &grid_png(&images, self.shape))?;
        Ok(Some(path))
    }
}

/// A trained generator of an adversarial image model.
pub struct GanSampler<G> {
    latent: usize,
    shape: ImageShape,
    generator: G,
    classes: Option<Classes>,
    device: Device,
}

impl<G: ImageGenerator> GanSampler<G> {
    /// Builds the generator with `build` from placeholders (nothing is drawn) and loads its
    /// weights from the checkpoint folder, after checking that the weight file holds the
    /// `expected` number of values.
    pub(crate) fn load(
        dir: &Path,
        latent: usize,
        shape: ImageShape,
        classes: Option<Classes>,
        expected: ValueCount,
        build: impl FnOnce(&mut Placeholders) -> G,
        device: &Device,
    ) -> Result<Self> {
        let device = device.clone().without_autodiff();
        let generator = load_network(&dir.join(GENERATOR_FILE), expected, || {
            build(&mut Placeholders::new(&device))
        })?
        .valid();
        Ok(GanSampler {
            latent,
            shape,
            generator,
            classes,
            device,
        })
    }

    /// `n` images from latents drawn with `seed`, for `labels` (one per image) when the
    /// model is class-conditional.
    fn generate_labelled(&self, n: usize, labels: Option<Vec<u32>>, seed: u64) -> Vec<f32> {
        let mut noise = Noise::new(derive_seed(seed, "sample.noise", 0), &self.device);
        let z = noise.normal(n, self.latent);
        let labels = labels.map(|labels| indices(&labels, &self.device));
        let images = self.generator.generate(z, labels);
        let [n, c, h, w] = images.dims();
        to_host(images.reshape([n, c * h * w]))
    }
}

impl<G: ImageGenerator> ImageSampler for GanSampler<G> {
    fn shape(&self) -> ImageShape {
        self.shape
    }

    fn classes(&self) -> &[String] {
        self.classes.as_ref().map_or(&[], Classes::names)
    }

    fn generate(&self, n: usize, class: Option<usize>, seed: u64) -> Result<Vec<f32>> {
        let labels = match (&self.classes, class) {
            (None, None) => None,
            (None, Some(_)) => return Err(ImageModelError::NotConditional),
            (Some(classes), Some(class)) if class >= classes.names().len() => {
                return Err(ImageModelError::ClassIndex {
                    index: class,
                    count: classes.names().len(),
                });
            }
            (Some(classes), Some(class)) if classes.count(class) == 0 => {
                return Err(ImageModelError::UntrainedClass {
                    class: classes.names()[class].clone(),
                });
            }
            (Some(_), Some(class)) => Some(vec![class as u32; n]),
            (Some(classes), None) => Some(classes.draw(n, derive_seed(seed, "sample.classes", 0))),
        };
        Ok(self.generate_labelled(n, labels, seed))
    }
}
