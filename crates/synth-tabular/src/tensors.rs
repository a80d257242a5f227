//! Tensor helpers of the tabular models: the per-span output activations and the
//! cross-entropy; the seeded noise source and conversions come from `synth-nn`.

use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use synth_core::{Activation, Span};
pub use synth_nn::{Noise, indices, matrix, to_host};

/// Gumbel-softmax over the last dimension: `softmax((logits + g) / tau)`, `g ~ Gumbel(0, 1)`.
pub fn gumbel_softmax(logits: Tensor<2>, tau: f64, noise: &mut Noise) -> Tensor<2> {
    let [rows, cols] = logits.dims();
    let u = noise.uniform(rows, cols, 1e-10, 1.0);
    let gumbel = u.log().neg().log().neg();
    softmax((logits + gumbel).div_scalar(tau), 1)
}

/// Applies each span's activation to raw generator output: tanh on scalars, gumbel-softmax
/// with temperature `tau` on one-hot spans.
pub fn activate(raw: Tensor<2>, spans: &[Span], tau: f64, noise: &mut Noise) -> Tensor<2> {
    let mut parts = Vec::with_capacity(spans.len());
    let mut offset = 0;
    for span in spans {
        let part = raw.clone().narrow(1, offset, span.width);
        parts.push(match span.activation {
            Activation::Tanh => part.tanh(),
            Activation::Softmax => gumbel_softmax(part, tau, noise),
        });
        offset += span.width;
    }
    Tensor::cat(parts, 1)
}

/// Per-row cross-entropy `-sum(target * log_softmax(logits))` over the last dimension.
pub fn cross_entropy(logits: Tensor<2>, target: Tensor<2>) -> Tensor<2> {
    (log_softmax(logits, 1) * target).sum_dim(1).neg()
}
