//! The classes of a labelled image set, as a class-conditional model keeps them: their names
//! (what `--condition class=NAME` names) and how many training images each had (the
//! frequencies unconditioned samples draw their classes from). Saved as [`CLASSES_FILE`]
//! in the checkpoint.

use crate::{ImageModelError, Result};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use serde::{Deserialize, Serialize};
use std::path::Path;
use synth_core::fsutil::write_atomic;
use synth_core::seed::seeded_rng;
use synth_data::images::ImageSet;
use synth_nn::CheckpointError;

/// File name of the classes in a checkpoint folder.
pub const CLASSES_FILE: &str = "classes.json";

/// Class names and training counts, in label order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classes {
    names: Vec<String>,
    counts: Vec<u64>,
}

impl Classes {
    /// The classes of a labelled image set (IDX images with a label file, or a folder with
    /// one subfolder per class).
    pub fn of(images: &ImageSet) -> Result<Self> {
        let labels = images
            .labels
            .as_deref()
            .ok_or(ImageModelError::Unlabelled)?;
        let mut counts = vec![0u64; images.classes.len()];
        for &label in labels {
            counts[label as usize] += 1;
        }
        Ok(Classes {
            names: images.classes.clone(),
            counts,
        })
    }

    /// Class names in label order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How many training images class `index` had.
    pub fn count(&self, index: usize) -> u64 {
        self.counts.get(index).copied().unwrap_or(0)
    }

    /// `n` labels drawn at the training frequencies from `seed`.
    pub fn draw(&self, n: usize, seed: u64) -> Vec<u32> {
        let weights = WeightedIndex::new(&self.counts).expect("checked on creation and load");
        let mut rng = seeded_rng(seed);
        (0..n).map(|_| weights.sample(&mut rng) as u32).collect()
    }

    /// Writes [`CLASSES_FILE`] into `dir`.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).expect("classes serialise");
        write_atomic(&dir.join(CLASSES_FILE), json.as_bytes())
    }

    /// Reads [`CLASSES_FILE`] from a checkpoint folder, checking that it describes at least
    /// one class with a count for each and some training images.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(CLASSES_FILE);
        let invalid = |message: String| CheckpointError {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| invalid(e.to_string()))?;
        let classes: Classes = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if classes.names.is_empty()
            || classes.names.len() != classes.counts.len()
            || WeightedIndex::new(&classes.counts).is_err()
        {
            return Err(invalid(format!(
                "{} class names and {} counts: expected one count per class, not all zero",
                classes.names.len(),
                classes.counts.len()
            ))
            .into());
        }
        Ok(classes)
    }
}
