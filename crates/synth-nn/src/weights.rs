//! Where a network's initial weights come from. Training draws them from the model's seeded
//! [`Noise`]; a sampler that loads a checkpoint builds its network from [`Placeholders`]:
//! parameters of the right shapes that burn initialises lazily, so nothing is drawn or
//! allocated before the saved record replaces them.

use crate::Noise;
use burn::module::{Param, ParamId};
use burn::nn::Linear;
use burn::prelude::*;

/// The source of a network's initial parameters.
pub trait Weights {
    /// The device the parameters live on.
    fn device(&self) -> &Device;

    /// A parameter of `shape` with entries `mean + std * N(0, 1)`.
    fn normal<const D: usize>(
        &mut self,
        shape: [usize; D],
        mean: f32,
        std: f32,
    ) -> Param<Tensor<D>>;

    /// A parameter of `shape` with entries uniform on `[low, high)`.
    fn uniform<const D: usize>(
        &mut self,
        shape: [usize; D],
        low: f32,
        high: f32,
    ) -> Param<Tensor<D>>;

    /// A linear layer with PyTorch's default initialisation: weight and bias uniform on
    /// `[-1/sqrt(input), 1/sqrt(input))`.
    fn linear(&mut self, input: usize, output: usize) -> Linear {
        let bound = 1.0 / (input as f32).sqrt();
        Linear {
            weight: self.uniform([input, output], -bound, bound),
            bias: Some(self.uniform([output], -bound, bound)),
        }
    }
}

impl Weights for Noise {
    fn device(&self) -> &Device {
        Noise::device(self)
    }

    fn normal<const D: usize>(
        &mut self,
        shape: [usize; D],
        mean: f32,
        std: f32,
    ) -> Param<Tensor<D>> {
        let n = shape.iter().product();
        let drawn = Noise::normal(self, 1, n).mul_scalar(std).add_scalar(mean);
        Param::from_tensor(drawn.reshape(shape))
    }

    fn uniform<const D: usize>(
        &mut self,
        shape: [usize; D],
        low: f32,
        high: f32,
    ) -> Param<Tensor<D>> {
        let n = shape.iter().product();
        Param::from_tensor(Noise::uniform(self, 1, n, low, high).reshape(shape))
    }
}

/// Parameters to be loaded: lazily initialised (to zeros, should one ever be read before a
/// record is loaded into it), so building a network from them draws and allocates nothing.
pub struct Placeholders {
    device: Device,
}

impl Placeholders {
    /// Placeholders on `device`.
    pub fn new(device: &Device) -> Self {
        Placeholders {
            device: device.clone(),
        }
    }

    fn lazy<const D: usize>(&self, shape: [usize; D]) -> Param<Tensor<D>> {
        Param::uninitialized(
            ParamId::new(),
            move |device, require_grad| {
                let zeros = Tensor::zeros(shape, device);
                if require_grad {
                    zeros.require_grad()
                } else {
                    zeros
                }
            },
            self.device.clone(),
            true,
            shape.into(),
        )
    }
}

impl Weights for Placeholders {
    fn device(&self) -> &Device {
        &self.device
    }

    fn normal<const D: usize>(&mut self, shape: [usize; D], _: f32, _: f32) -> Param<Tensor<D>> {
        self.lazy(shape)
    }

    fn uniform<const D: usize>(&mut self, shape: [usize; D], _: f32, _: f32) -> Param<Tensor<D>> {
        self.lazy(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cpu_device, load_module, to_host};

    #[test]
    fn noise_draws_and_placeholders_wait_for_the_record() {
        let device = cpu_device();
        let mut noise = Noise::new(3, &device);
        let drawn = noise.linear(4, 2);
        let bound = 0.5;
        let weight = to_host(drawn.weight.val());
        assert!(
            weight.iter().all(|w| (-bound..bound).contains(w)),
            "{weight:?}"
        );
        assert!(drawn.weight.is_initialized());

        let placeholder = Placeholders::new(&device).linear(4, 2);
        assert!(!placeholder.weight.is_initialized());
        assert_eq!(placeholder.weight.shape().dims::<2>(), [4, 2]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("linear.bpk");
        drawn.clone().into_record().save(&path).unwrap();
        let loaded = load_module(placeholder, &path).unwrap();
        assert_eq!(to_host(loaded.weight.val()), weight);

        let normal = Weights::normal(&mut Noise::new(1, &device), [2000], 1.0, 0.02);
        let values = to_host(normal.val().reshape([1, 2000]));
        let mean = values.iter().sum::<f32>() / 2000.0;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 2000.0).sqrt();
        assert!(
            (mean - 1.0).abs() < 0.003 && (sd - 0.02).abs() < 0.002,
            "{mean} {sd}"
        );
    }
}
