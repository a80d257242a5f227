//! Loading module weights and optimizer state from checkpoint files, with errors that name
//! the file.
//!
//! A checkpoint may come from someone else. [`load_network`] reads a weight file's tensor
//! shapes from its header (burn-pack reads no weights for that) and compares the number of
//! values with the count the settings imply, before the network is built: a `config.toml` or
//! `transformer.json` that describes layers larger than the weights on disk is refused without
//! allocating them, so loading never holds more than the file's size. burn then checks every
//! tensor's name and shape as the weights are applied.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::ModuleOptimizer;
use burn::prelude::Tensor;
use burn::store::ModuleRecord;
use std::path::{Path, PathBuf};

/// A checkpoint file is missing, truncated or does not match the model.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot load checkpoint file: {message}")]
pub struct CheckpointError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// The number of values a network stores (weights, biases, batch-norm statistics), added up
/// layer by layer from its sizes; `None` once a product or sum overflows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueCount(Option<u128>);

impl ValueCount {
    /// No values.
    pub const ZERO: ValueCount = ValueCount(Some(0));

    /// The total, or `None` if it overflowed.
    pub fn get(self) -> Option<u128> {
        self.0
    }

    /// Adds `product(factors)` values.
    fn add(self, factors: &[usize]) -> Self {
        let product = factors
            .iter()
            .try_fold(1u128, |p, &f| p.checked_mul(f as u128));
        ValueCount(self.0.zip(product).and_then(|(a, b)| a.checked_add(b)))
    }

    /// A linear layer with bias.
    pub fn linear(self, input: usize, output: usize) -> Self {
        self.add(&[input, output]).add(&[output])
    }

    /// A batch norm layer: scale, shift, running mean and running variance.
    pub fn batch_norm(self, channels: usize) -> Self {
        self.add(&[4, channels])
    }

    /// A square-kernel convolution (plain or transposed) without bias.
    pub fn conv(self, input: usize, output: usize, kernel: usize) -> Self {
        self.add(&[input, output, kernel, kernel])
    }

    /// A `rows x cols` matrix (an embedding table).
    pub fn matrix(self, rows: usize, cols: usize) -> Self {
        self.add(&[rows, cols])
    }

    /// A plain vector of `n` values.
    pub fn vector(self, n: usize) -> Self {
        self.add(&[n])
    }
}

/// Loads a module's weights from a checkpoint file into `module` (whose shape must match).
pub fn load_module<M: Module>(module: M, path: &Path) -> Result<M, CheckpointError> {
    let record = ModuleRecord::load(path).map_err(|e| checkpoint_error(path, e.to_string()))?;
    module
        .try_load_record(record)
        .map_err(|e| checkpoint_error(path, format!("weights do not fit this model ({e})")))
}

/// Builds a network with `build` and loads its weights from `path`, after checking that the
/// file holds exactly `expected` values (the count the settings describe), so that settings
/// describing a larger network than the file are refused before anything is allocated.
pub fn load_network<M: Module>(
    path: &Path,
    expected: ValueCount,
    build: impl FnOnce() -> M,
) -> Result<M, CheckpointError> {
    let stored = stored_values(path)?;
    match expected.get() {
        Some(n) if n == stored => load_module(build(), path),
        described => Err(checkpoint_error(
            path,
            format!(
                "the file holds {stored} values but the checkpoint's settings describe a network of {}; config.toml or transformer.json does not belong with these weights",
                described.map_or("more than 2^128".into(), |n| n.to_string())
            ),
        )),
    }
}

/// The number of values in a weight file, from the shapes in its header (no weights are read).
pub fn stored_values(path: &Path) -> Result<u128, CheckpointError> {
    let tensors = burn_pack::Reader::from_file_exact(path)
        .and_then(burn_pack::Reader::into_tensors)
        .map_err(|e| checkpoint_error(path, e.to_string()))?;
    // saturating: a hostile header's dimensions must not overflow, and u128::MAX matches no
    // network the settings can describe
    Ok(tensors.iter().fold(0u128, |total, t| {
        let values = t
            .shape
            .iter()
            .fold(1u128, |p, &d| p.saturating_mul(d as u128));
        total.saturating_add(values)
    }))
}

/// Whether every float parameter of `module` (weights, biases, batch-norm statistics) is
/// finite. Reads one flag per parameter back from the device.
pub fn all_finite<M: Module>(module: &M) -> bool {
    struct Check(bool);
    impl ModuleVisitor for Check {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0 {
                self.0 = param.val().is_finite().all().into_scalar::<bool>();
            }
        }
    }
    let mut check = Check(true);
    module.visit(&mut check);
    check.0
}

/// Loads an optimizer's state from a checkpoint file.
pub fn load_optimizer(
    optim: ModuleOptimizer,
    path: &Path,
) -> Result<ModuleOptimizer, CheckpointError> {
    optim
        .load(path)
        .map_err(|e| checkpoint_error(path, e.to_string()))
}

fn checkpoint_error(path: &Path, message: String) -> CheckpointError {
    CheckpointError {
        path: path.to_path_buf(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Noise, Weights, cpu_device};
    use burn::nn::{BatchNorm, BatchNormConfig, Linear};

    #[derive(Module, Debug)]
    struct Block {
        fc: Linear,
        bn: BatchNorm,
    }

    #[test]
    fn counts_match_hand_computed_sizes_and_saved_files() {
        // Linear 3 -> 5: 15 weights + 5 biases; batch norm over 5: 4 x 5; conv 2 -> 3, 4 x 4: 96
        assert_eq!(ValueCount::ZERO.linear(3, 5).get(), Some(20));
        assert_eq!(ValueCount::ZERO.batch_norm(5).get(), Some(20));
        assert_eq!(ValueCount::ZERO.conv(2, 3, 4).get(), Some(96));
        assert_eq!(ValueCount::ZERO.linear(3, 5).vector(7).get(), Some(27));
        assert_eq!(ValueCount::ZERO.matrix(10, 50).get(), Some(500));
        // sizes whose count overflows are unknown, never wrapped
        assert_eq!(
            ValueCount::ZERO
                .conv(usize::MAX, usize::MAX, usize::MAX)
                .get(),
            None
        );
        assert_eq!(ValueCount::ZERO.conv(usize::MAX, usize::MAX, 2).get(), None);

        let device = cpu_device();
        let block = Block {
            fc: Noise::new(1, &device).linear(3, 5),
            bn: BatchNormConfig::new(5).init(&device),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("block.bpk");
        block.clone().into_record().save(&path).unwrap();
        let count = ValueCount::ZERO.linear(3, 5).batch_norm(5);
        assert_eq!(Some(stored_values(&path).unwrap()), count.get());

        let build = || Block {
            fc: Noise::new(2, &device).linear(3, 5),
            bn: BatchNormConfig::new(5).init(&device),
        };
        let loaded = load_network(&path, count, build).unwrap();
        assert_eq!(
            loaded.fc.weight.val().into_data(),
            block.fc.weight.val().into_data()
        );
        // settings describing another network are refused before `build` runs
        let err = load_network(
            &path,
            ValueCount::ZERO.linear(3, 6).batch_norm(6),
            || -> Block { panic!("built before the size check") },
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("holds 40 values")
                && err.to_string().contains("network of 48")
                && err.to_string().contains("block.bpk"),
            "{err}"
        );
        // one NaN anywhere is found
        assert!(all_finite(&loaded));
        let mut broken = loaded;
        let mut bias = broken
            .bn
            .beta
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        bias[4] = f32::NAN;
        broken.bn.beta = Param::from_tensor(Tensor::from_data(
            burn::tensor::TensorData::new(bias, [5]),
            &device,
        ));
        assert!(!all_finite(&broken));
        // a truncated file is named
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(
            stored_values(&path)
                .unwrap_err()
                .to_string()
                .contains("block.bpk")
        );
    }
}
