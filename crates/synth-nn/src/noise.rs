//! The seeded source of every random tensor, and host <-> device conversions.

use burn::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use synth_core::seed::{SeededRng, seeded_rng};

/// The source of every random tensor of a model: weight initialisation, latent noise,
/// gumbel noise, dropout masks and penalty interpolation weights.
///
/// Draws are made on the host from a seeded generator and uploaded. burn's device
/// generators are process-wide, so two models (or two tests) in one process would interleave
/// their draws; owning the generator keeps a seed's output fixed, and gives the same numbers
/// on every backend, so an ndarray run and a wgpu run can start from identical weights.
/// The generator is [`SeededRng`], the one fixed algorithm of every draw (so a seed means the
/// same numbers in every build).
pub struct Noise {
    rng: SeededRng,
    device: Device,
}

impl Noise {
    /// A generator seeded with `seed` whose tensors live on `device`.
    pub fn new(seed: u64, device: &Device) -> Self {
        Noise {
            rng: seeded_rng(seed),
            device: device.clone(),
        }
    }

    /// Restarts the generator from `seed` (at each epoch, so a resumed run matches).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = seeded_rng(seed);
    }

    /// `rows x cols` draws from the standard normal.
    pub fn normal(&mut self, rows: usize, cols: usize) -> Tensor<2> {
        let data = self.normal_values(rows * cols);
        matrix(data, rows, cols, &self.device)
    }

    /// `n` draws from the standard normal, on the host.
    pub fn normal_values(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| self.rng.sample::<f32, _>(StandardNormal))
            .collect()
    }

    /// `rows x cols` draws from the uniform distribution on `[low, high)`.
    pub fn uniform(&mut self, rows: usize, cols: usize, low: f32, high: f32) -> Tensor<2> {
        let data = (0..rows * cols)
            .map(|_| self.rng.random_range(low..high))
            .collect();
        matrix(data, rows, cols, &self.device)
    }

    /// An inverted-dropout mask: each entry `1 / keep` with probability `keep`, else 0.
    pub fn dropout_mask(&mut self, rows: usize, cols: usize, keep: f64) -> Tensor<2> {
        let scale = (1.0 / keep) as f32;
        let data = (0..rows * cols)
            .map(|_| {
                if self.rng.random_bool(keep) {
                    scale
                } else {
                    0.0
                }
            })
            .collect();
        matrix(data, rows, cols, &self.device)
    }

    /// A seed for a stream of draws made elsewhere (e.g. on several threads), taken from this
    /// generator so that it follows the run's seed.
    pub fn next_seed(&mut self) -> u64 {
        self.rng.random()
    }

    /// The device the tensors are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// A `rows x cols` float tensor from row-major host data.
pub fn matrix(data: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// An index tensor from host row numbers.
pub fn indices(rows: &[u32], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = rows.iter().map(|&r| i64::from(r)).collect();
    Tensor::from_data(TensorData::new(data, [rows.len()]), device)
}

/// Host copy of a 2-D tensor as row-major `f32`.
pub fn to_host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor data")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Normal draws go through rand_distr's ziggurat: pinned, like the generator's own
    /// output in synth-core, so a dependency upgrade cannot silently change what a seed
    /// initialises and samples.
    #[test]
    fn normal_draws_of_a_seed_are_pinned() {
        let mut noise = Noise::new(7, &crate::cpu_device());
        let drawn = noise.normal_values(4);
        assert_eq!(
            drawn,
            [-1.826_675_3, -1.712_152_4, 0.709_995_9, -0.300_444_04]
        );
    }
}
