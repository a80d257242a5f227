//! The interface every image model implements, so that training and sampling name no
//! concrete model: a model is its settings (the `[model]` section), which build a trainer
//! for an image set and load a sampler from a checkpoint folder.

use crate::gan::GRID_IMAGES;
use crate::png::{ImageShape, grid_png, image_png, write_png};
use crate::{ImageModelError, Result};
use burn::tensor::Device;
use std::path::Path;
use synth_core::Trainable;
use synth_core::seed::derive_seed;
use synth_data::images::ImageSet;

/// File name of the sample grid written beside the images.
pub const GRID_FILE: &str = "grid.png";

/// An image model's validated settings (checked against the run's image and batch sizes),
/// and what it does with them.
pub trait ImageModel {
    /// The `[model] kind` name, also recorded in checkpoint manifests.
    fn kind(&self) -> &'static str;
    /// A trainer with fresh weights drawn from `seed`, or with the weights and optimizer
    /// state of the checkpoint folder `resume_from`.
    fn trainer(
        &self,
        images: &ImageSet,
        device: &Device,
        seed: u64,
        resume_from: Option<&Path>,
    ) -> Result<Box<dyn Trainable>>;
    /// The trained generator of a checkpoint folder for images of `shape`, on `device`.
    fn sampler(
        &self,
        checkpoint: &Path,
        shape: ImageShape,
        device: &Device,
    ) -> Result<Box<dyn ImageSampler>>;
}

/// A trained model that produces images.
pub trait ImageSampler {
    /// Channels and size of the images.
    fn shape(&self) -> ImageShape;
    /// The classes a condition may name, in label order; empty for an unconditional model.
    fn classes(&self) -> &[String];
    /// `n` images (`n x channels x size x size` values in [-1, 1]) from latents drawn with
    /// `seed`: all of class `class` (an index into [`ImageSampler::classes`]), or, without
    /// one, of classes drawn at their training frequencies. A class for an unconditional
    /// model is an error.
    fn generate(&self, n: usize, class: Option<usize>, seed: u64) -> Result<Vec<f32>>;
}

/// The class index named by `class=NAME` among `conditions` (`synth-sample --condition`),
/// or `None` without conditions. Any other condition, more than one, a class the model
/// does not know, or a class for an unconditional model is an error that says what is
/// possible.
pub fn class_condition(
    sampler: &dyn ImageSampler,
    conditions: &[(String, String)],
) -> Result<Option<usize>> {
    let classes = sampler.classes();
    match conditions {
        [] => Ok(None),
        [(key, name)] if key == "class" => {
            if classes.is_empty() {
                return Err(ImageModelError::NotConditional);
            }
            classes
                .iter()
                .position(|c| c == name)
                .map(Some)
                .ok_or_else(|| ImageModelError::UnknownClass {
                    class: name.clone(),
                    classes: classes.join(", "),
                })
        }
        _ => Err(ImageModelError::Condition(
            conditions
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        )),
    }
}

/// Writes `n` generated images into `dir` as `00000.png`, `00001.png`, ... and the first 64
/// of them as a grid, [`GRID_FILE`]. Generates `batch` images at a time, batch `b` from
/// latents drawn with a seed derived from `seed` and `b`: the same seed and batch size give
/// the same images.
pub fn write_pngs(
    sampler: &dyn ImageSampler,
    dir: &Path,
    n: usize,
    batch: usize,
    class: Option<usize>,
    seed: u64,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| ImageModelError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let shape = sampler.shape();
    let digits = (n.max(2) - 1).to_string().len().max(5);
    let mut grid = Vec::new();
    for (b, start) in (0..n).step_by(batch.max(1)).enumerate() {
        let count = batch.max(1).min(n - start);
        let images = sampler.generate(count, class, derive_seed(seed, "sample.batch", b as u64))?;
        for (k, image) in images.chunks_exact(shape.values()).enumerate() {
            let name = format!("{:0digits$}.png", start + k);
            write_png(&dir.join(name), &image_png(image, shape))?;
        }
        let wanted = (GRID_IMAGES * shape.values()).saturating_sub(grid.len());
        grid.extend_from_slice(&images[..wanted.min(images.len())]);
    }
    write_png(&dir.join(GRID_FILE), &grid_png(&grid, shape))
}
