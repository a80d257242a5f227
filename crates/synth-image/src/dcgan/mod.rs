//! DCGAN (spec section 5): training with binary cross-entropy on logits, both networks Adam
//! 2e-4 with betas (0.5, 0.999), shuffled mini-batches of the image set on the device.

mod config;
mod model;

pub use config::{DcganConfig, Layout};
pub use model::{Discriminator, Generator, bce_with_logits};

use crate::png::{ImageShape, grid_png, image_png, write_png};
use crate::{ImageModelError, Result};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use std::path::{Path, PathBuf};
use synth_core::Trainable;
use synth_core::seed::derive_seed;
use synth_data::images::ImageSet;
use synth_nn::{
    EpochBatches, LossMeter, Noise, adam, all_finite, indices, load_module, load_network,
    load_optimizer, to_host,
};

const GENERATOR_FILE: &str = "generator.bpk";
const DISCRIMINATOR_FILE: &str = "discriminator.bpk";
const GENERATOR_OPTIM_FILE: &str = "generator.optim";
const DISCRIMINATOR_OPTIM_FILE: &str = "discriminator.optim";
/// Images in a preview or sample grid.
const GRID_IMAGES: usize = 64;
/// File name of the sample grid `synth-sample` writes beside the images.
pub const GRID_FILE: &str = "grid.png";

fn build_generator(
    config: &DcganConfig,
    channels: u32,
    layout: Layout,
    noise: &mut Noise,
) -> Generator {
    Generator::new(
        config.latent_dim,
        config.feature_maps,
        channels as usize,
        layout,
        noise,
    )
}

/// A trained generator.
pub struct DcganSampler {
    latent: usize,
    shape: ImageShape,
    generator: Generator,
    device: Device,
}

impl DcganSampler {
    /// Loads the generator of a checkpoint folder for `channels x size x size` images.
    pub fn load(
        dir: &Path,
        config: &DcganConfig,
        channels: u32,
        size: u32,
        device: &Device,
    ) -> Result<Self> {
        let device = device.clone().without_autodiff();
        let layout = Layout::for_size(size).map_err(ImageModelError::Config)?;
        let values = Generator::values(
            config.latent_dim,
            config.feature_maps,
            channels as usize,
            layout,
        );
        let generator = load_network(&dir.join(GENERATOR_FILE), values, || {
            build_generator(config, channels, layout, &mut Noise::new(0, &device))
        })?
        .valid();
        Ok(DcganSampler {
            latent: config.latent_dim,
            shape: ImageShape {
                channels: channels as usize,
                size: size as usize,
            },
            generator,
            device,
        })
    }

    /// `n` images (`n x channels x size x size`, values in [-1, 1]) from latents drawn with
    /// `seed`.
    pub fn generate(&self, n: usize, seed: u64) -> Vec<f32> {
        let mut noise = Noise::new(derive_seed(seed, "sample.noise", 0), &self.device);
        let z = noise.normal(n, self.latent);
        let images = self.generator.forward(z);
        let [n, c, h, w] = images.dims();
        to_host(images.reshape([n, c * h * w]))
    }

    /// Writes `n` generated images into `dir` as `00000.png`, `00001.png`, ... and the first
    /// 64 of them as a grid, [`GRID_FILE`]. Generates `batch` images at a time, batch `b`
    /// from latents drawn with a seed derived from `seed` and `b`: the same seed and batch
    /// size give the same images.
    pub fn write_pngs(&self, dir: &Path, n: usize, batch: usize, seed: u64) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| ImageModelError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let digits = (n.max(2) - 1).to_string().len().max(5);
        let mut grid = Vec::new();
        for (b, start) in (0..n).step_by(batch.max(1)).enumerate() {
            let count = batch.max(1).min(n - start);
            let images = self.generate(count, derive_seed(seed, "sample.batch", b as u64));
            for (k, image) in images.chunks_exact(self.shape.values()).enumerate() {
                let name = format!("{:0digits$}.png", start + k);
                write_png(&dir.join(name), &image_png(image, self.shape))?;
            }
            let wanted = (GRID_IMAGES * self.shape.values()).saturating_sub(grid.len());
            grid.extend_from_slice(&images[..wanted.min(images.len())]);
        }
        write_png(&dir.join(GRID_FILE), &grid_png(&grid, self.shape))
    }
}

/// DCGAN during training.
pub struct DcganTrainer {
    config: DcganConfig,
    seed: u64,
    generator: Generator,
    discriminator: Discriminator,
    generator_optim: ModuleOptimizer,
    discriminator_optim: ModuleOptimizer,
    images: Tensor<4>,
    shape: ImageShape,
    batches: EpochBatches,
    noise: Noise,
    device: Device,
    losses: LossMeter,
}

impl DcganTrainer {
    /// Fresh networks (initialised from `seed`) for the image set.
    pub fn new(
        config: DcganConfig,
        batch_size: usize,
        images: &ImageSet,
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        config
            .validate(images.size)
            .map_err(ImageModelError::Config)?;
        if batch_size == 0 {
            return Err(ImageModelError::Config(
                "train.batch_size must be at least 1".into(),
            ));
        }
        let device = device.clone().autodiff();
        let mut weights = Noise::new(derive_seed(seed, "weights", 0), &device);
        let layout = Layout::for_size(images.size).map_err(ImageModelError::Config)?;
        let generator = build_generator(&config, images.channels, layout, &mut weights);
        let discriminator = Discriminator::new(
            config.feature_maps,
            images.channels as usize,
            layout,
            &mut weights,
        );
        let optimizer = || adam(config.betas, 0.0).init();
        let (s, c) = (images.size as usize, images.channels as usize);
        let tensor = Tensor::<1>::from_data(
            TensorData::new(images.pixels.clone(), [images.pixels.len()]),
            &device,
        )
        .reshape([images.len, c, s, s]);
        let mut trainer = DcganTrainer {
            generator_optim: optimizer(),
            discriminator_optim: optimizer(),
            generator,
            discriminator,
            images: tensor,
            shape: ImageShape {
                channels: c,
                size: s,
            },
            batches: EpochBatches::new(images.len, batch_size),
            noise: Noise::new(seed, &device),
            losses: LossMeter::new(&["generator_loss", "discriminator_loss"]),
            device,
            seed,
            config,
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

    /// A sampler over the current generator (evaluation mode).
    pub fn sampler(&self) -> DcganSampler {
        DcganSampler {
            latent: self.config.latent_dim,
            shape: self.shape,
            generator: self.generator.valid(),
            device: self.device.clone().without_autodiff(),
        }
    }
}

impl Trainable for DcganTrainer {
    fn steps_per_epoch(&self) -> usize {
        self.batches.per_epoch()
    }

    fn begin_epoch(&mut self, epoch: usize) {
        let epoch = epoch as u64;
        self.noise
            .reseed(derive_seed(self.seed, "epoch.noise", epoch));
        self.batches
            .shuffle(derive_seed(self.seed, "epoch.shuffle", epoch));
    }

    /// The discriminator's update on a real batch and a fake one, then the generator's on the
    /// same fakes (non-saturating loss: fakes labelled real).
    fn train_step(&mut self) {
        let rows = indices(self.batches.next_batch(), &self.device);
        let real = self.images.clone().select(0, rows);
        let z = self.noise.normal(real.dims()[0], self.config.latent_dim);
        let fake = self.generator.forward(z);

        let d_loss = bce_with_logits(self.discriminator.forward(real), true)
            + bce_with_logits(self.discriminator.forward(fake.clone().detach()), false);
        let grads = GradientsParams::from_grads(d_loss.backward(), &self.discriminator);
        self.discriminator = self.discriminator_optim.step(
            self.config.learning_rate,
            self.discriminator.clone(),
            grads,
        );

        let g_loss = bce_with_logits(self.discriminator.forward(fake), true);
        let grads = GradientsParams::from_grads(g_loss.backward(), &self.generator);
        self.generator =
            self.generator_optim
                .step(self.config.learning_rate, self.generator.clone(), grads);
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
        Ok(())
    }

    /// A grid of 64 images from the same latents every epoch, `dir/epoch-NNNN.png`, so
    /// that successive grids show the generator learning.
    fn write_preview(
        &self,
        dir: &Path,
        epoch: usize,
    ) -> std::result::Result<Option<PathBuf>, synth_core::BoxError> {
        std::fs::create_dir_all(dir)?;
        let images = self
            .sampler()
            .generate(GRID_IMAGES, derive_seed(self.seed, "preview", 0));
        let path = dir.join(format!("epoch-{epoch:04}.png"));
        write_png(&path, &grid_png(&images, self.shape))?;
        Ok(Some(path))
    }
}

#[cfg(test)]
mod tests;
