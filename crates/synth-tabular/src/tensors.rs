//! Small tensor helpers shared by the tabular models: host data to device tensors, and the
//! per-span output activations.

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{log_softmax, softmax};
use synth_core::{Activation, Span};

/// A `rows x cols` float tensor from row-major host data.
pub fn matrix(data: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// An index tensor from host row numbers.
pub fn indices(rows: &[u32], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = rows.iter().map(|&r| i64::from(r)).collect();
    Tensor::from_data(TensorData::new(data, [rows.len()]), device)
}

/// Gumbel-softmax over the last dimension: `softmax((logits + g) / tau)`, `g ~ Gumbel(0, 1)`.
pub fn gumbel_softmax(logits: Tensor<2>, tau: f64) -> Tensor<2> {
    let u = logits.random_like(Distribution::Uniform(1e-10, 1.0));
    let gumbel = u.log().neg().log().neg();
    softmax((logits + gumbel).div_scalar(tau), 1)
}

/// Applies each span's activation to raw generator output: tanh on scalars, gumbel-softmax
/// with temperature `tau` on one-hot spans.
pub fn activate(raw: Tensor<2>, spans: &[Span], tau: f64) -> Tensor<2> {
    let mut parts = Vec::with_capacity(spans.len());
    let mut offset = 0;
    for span in spans {
        let part = raw.clone().narrow(1, offset, span.width);
        parts.push(match span.activation {
            Activation::Tanh => part.tanh(),
            Activation::Softmax => gumbel_softmax(part, tau),
        });
        offset += span.width;
    }
    Tensor::cat(parts, 1)
}

/// Per-row cross-entropy `-sum(target * log_softmax(logits))` over the last dimension.
pub fn cross_entropy(logits: Tensor<2>, target: Tensor<2>) -> Tensor<2> {
    (log_softmax(logits, 1) * target).sum_dim(1).neg()
}

/// Host copy of a 2-D tensor as row-major `f32`.
pub fn to_host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("float tensor data")
}

/// The CPU device: burn-ndarray, the project's CPU backend. (burn 0.22 deprecates
/// burn-ndarray in favour of its `flex` backend; this is the one place that names it.)
#[allow(deprecated)]
pub fn cpu_device() -> Device {
    Device::ndarray()
}
