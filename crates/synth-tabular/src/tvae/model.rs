//! TVAE's networks and loss (spec section 4): an MLP encoder to the mean and log-variance of
//! `q(z|x)`, an MLP decoder with a learnable sigma per scalar span, and the evidence lower
//! bound written per span.

use crate::tensors::{Noise, OneHotBlock, indices, one_hot_spans, scalar_columns};
use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::relu;
use synth_core::Span;
use synth_nn::{ValueCount, Weights};

/// Initial value of every sigma.
pub const SIGMA_INIT: f32 = 0.1;
/// Sigma is clamped to `[SIGMA_MIN, SIGMA_MAX]` after every optimiser step.
pub const SIGMA_MIN: f32 = 0.01;
/// Upper clamp of sigma.
pub const SIGMA_MAX: f32 = 1.0;

/// Where the scalar and the one-hot spans lie in an encoded row.
#[derive(Debug, Clone)]
pub struct SpanLayout {
    /// Encoded column of each scalar span.
    pub scalar_columns: Vec<u32>,
    /// The one-hot spans (`None` without any).
    pub one_hot: Option<OneHotBlock>,
}

impl SpanLayout {
    /// The layout of the transformer's spans, with index tensors on `device`.
    pub fn new(spans: &[Span], device: &Device) -> Self {
        let width = spans.iter().map(|s| s.width).sum();
        SpanLayout {
            scalar_columns: scalar_columns(spans),
            one_hot: OneHotBlock::new(&one_hot_spans(spans), width, device),
        }
    }
}

/// `Linear -> ReLU` layers of the given widths; returns the layers and the last width.
fn mlp(input: usize, hidden: &[usize], weights: &mut impl Weights) -> (Vec<Linear>, usize) {
    let mut width = input;
    let layers = hidden
        .iter()
        .map(|&h| {
            let layer = weights.linear(width, h);
            width = h;
            layer
        })
        .collect();
    (layers, width)
}

fn forward_mlp(layers: &[Linear], x: Tensor<2>) -> Tensor<2> {
    layers.iter().fold(x, |h, l| relu(l.forward(h)))
}

/// What one layer's per-example gradients are computed from: its input rows and a zero
/// "probe" added to its output. The gradient of a loss summed over rows with respect to the
/// probe is, row by row, each row's gradient with respect to the layer's output, so one
/// backward pass gives every row's gradient norm for the layer (DP-SGD's clipping).
pub struct Tap {
    /// The layer's input rows (`None` for a parameter added to the output directly, such as
    /// the decoder's sigma: its per-row gradient is the probe's).
    pub input: Option<Tensor<2>>,
    /// The zero tensor added to the output, tracked for its gradient.
    pub probe: Tensor<2>,
}

/// `layer(x)` with a probe on its output, recorded in `taps`.
fn probed(layer: &Linear, x: Tensor<2>, taps: &mut Vec<Tap>) -> Tensor<2> {
    let [rows, _] = x.dims();
    let [_, out] = layer.weight.val().dims();
    let probe = Tensor::zeros([rows, out], &x.device()).require_grad();
    let y = layer.forward(x.clone()) + probe.clone();
    taps.push(Tap {
        input: Some(x.detach()),
        probe,
    });
    y
}

/// [`forward_mlp`] with every layer probed.
fn forward_mlp_probed(layers: &[Linear], x: Tensor<2>, taps: &mut Vec<Tap>) -> Tensor<2> {
    layers.iter().fold(x, |h, l| relu(probed(l, h, taps)))
}

/// The encoder: `Linear -> ReLU` layers, then linear heads for the mean and log-variance.
#[derive(Module, Debug)]
pub struct Encoder {
    hidden: Vec<Linear>,
    mean: Linear,
    log_var: Linear,
}

impl Encoder {
    /// An encoder from `input` encoded columns to a `latent`-dimensional Gaussian.
    pub fn new(input: usize, hidden: &[usize], latent: usize, weights: &mut impl Weights) -> Self {
        let (hidden, width) = mlp(input, hidden, weights);
        Encoder {
            hidden,
            mean: weights.linear(width, latent),
            log_var: weights.linear(width, latent),
        }
    }

    /// Mean and log-variance of `q(z|x)` for each row.
    pub fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let h = forward_mlp(&self.hidden, x);
        (self.mean.forward(h.clone()), self.log_var.forward(h))
    }

    /// [`Encoder::forward`] with every layer probed (see [`Tap`]).
    pub fn forward_probed(&self, x: Tensor<2>, taps: &mut Vec<Tap>) -> (Tensor<2>, Tensor<2>) {
        let h = forward_mlp_probed(&self.hidden, x, taps);
        (
            probed(&self.mean, h.clone(), taps),
            probed(&self.log_var, h, taps),
        )
    }
}

/// The decoder: `Linear -> ReLU` layers, then a linear layer to the encoded width, and one
/// learnable output sigma per scalar span (none when the table has no continuous column).
#[derive(Module, Debug)]
pub struct Decoder {
    hidden: Vec<Linear>,
    out: Linear,
    sigma: Option<Param<Tensor<1>>>,
}

impl Decoder {
    /// A decoder from the latent space to `output` encoded columns with `scalars` sigmas.
    pub fn new(
        latent: usize,
        hidden: &[usize],
        output: usize,
        scalars: usize,
        weights: &mut impl Weights,
    ) -> Self {
        let (hidden, width) = mlp(latent, hidden, weights);
        let sigma = (scalars > 0)
            .then(|| Param::from_tensor(Tensor::full([scalars], SIGMA_INIT, weights.device())));
        Decoder {
            hidden,
            out: weights.linear(width, output),
            sigma,
        }
    }

    /// The number of values [`Decoder::new`] stores for these sizes, computed without
    /// building it (checked against a weight file before loading).
    pub fn values(latent: usize, hidden: &[usize], output: usize, scalars: usize) -> ValueCount {
        let mut width = latent;
        let mut count = ValueCount::ZERO;
        for &h in hidden {
            count = count.linear(width, h);
            width = h;
        }
        count.linear(width, output).vector(scalars)
    }

    /// Raw reconstructions (before tanh / softmax) of latent rows.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        self.out.forward(forward_mlp(&self.hidden, z))
    }

    /// The sigma of each scalar span.
    pub fn sigma(&self) -> Option<Tensor<1>> {
        self.sigma.as_ref().map(|s| s.val())
    }

    /// [`Decoder::forward`] with every layer probed, and sigma repeated for each of `rows`
    /// rows with a probe of its own (see [`Tap`]).
    pub fn forward_probed(
        &self,
        z: Tensor<2>,
        taps: &mut Vec<Tap>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let [rows, _] = z.dims();
        let recon = probed(&self.out, forward_mlp_probed(&self.hidden, z, taps), taps);
        let sigma = self.sigma().map(|sigma| {
            let k = sigma.dims()[0];
            let probe = Tensor::zeros([rows, k], &sigma.device()).require_grad();
            taps.push(Tap {
                input: None,
                probe: probe.clone(),
            });
            sigma.reshape([1, k]).repeat_dim(0, rows) + probe
        });
        (recon, sigma)
    }

    /// Clamps sigma into `[SIGMA_MIN, SIGMA_MAX]`, keeping it a trainable leaf.
    pub fn clamp_sigma(self) -> Self {
        Decoder {
            sigma: self
                .sigma
                .map(|p| p.map(|s| s.clamp(SIGMA_MIN, SIGMA_MAX).detach().require_grad())),
            ..self
        }
    }
}

/// The encoder and decoder, trained together by one optimizer.
#[derive(Module, Debug)]
pub struct Tvae {
    /// `q(z|x)`.
    pub encoder: Encoder,
    /// `p(x|z)`.
    pub decoder: Decoder,
}

/// Draws `z = mean + exp(log_var / 2) * eps` with `eps ~ N(0, I)` from `noise`.
pub fn reparameterize(mean: Tensor<2>, log_var: Tensor<2>, noise: &mut Noise) -> Tensor<2> {
    let [rows, cols] = mean.dims();
    let eps = noise.normal(rows, cols);
    mean + eps * log_var.mul_scalar(0.5).exp()
}

/// The negative evidence lower bound of each row: `factor` times the reconstruction loss
/// (squared error over `2 sigma^2` plus `ln sigma` per scalar span, cross-entropy per
/// one-hot span) plus the KL divergence of `q(z|x)` from the standard normal. `sigma` is one
/// row of per-span values shared by every row, or one row per row (DP-SGD's probed sigma).
pub fn tvae_row_losses(
    recon: Tensor<2>,
    x: Tensor<2>,
    (mean, log_var): (Tensor<2>, Tensor<2>),
    sigma: Option<Tensor<2>>,
    layout: &SpanLayout,
    factor: f64,
) -> Tensor<1> {
    let [batch, _] = x.dims();
    let device = x.device();
    let mut reconstruction: Tensor<2> = Tensor::zeros([batch, 1], &device);
    if let Some(sigma) = sigma {
        let columns = indices(&layout.scalar_columns, &device);
        let target = x.clone().select(1, columns.clone());
        let predicted = recon.clone().select(1, columns).tanh();
        let variance = sigma.clone().powi_scalar(2);
        let squared = (target - predicted).powi_scalar(2) / variance.mul_scalar(2.0);
        reconstruction = reconstruction + squared.sum_dim(1) + sigma.log().sum_dim(1);
    }
    if let Some(one_hot) = &layout.one_hot {
        reconstruction = reconstruction + one_hot.cross_entropy_rows(recon, x);
    }
    let kl = (log_var.clone().add_scalar(1.0) - mean.powi_scalar(2) - log_var.exp())
        .sum_dim(1)
        .mul_scalar(-0.5);
    (reconstruction.mul_scalar(factor) + kl).reshape([batch])
}

/// TVAE's loss on a batch: [`tvae_row_losses`] averaged over the rows.
pub fn tvae_loss(
    recon: Tensor<2>,
    x: Tensor<2>,
    (mean, log_var): (Tensor<2>, Tensor<2>),
    sigma: Option<Tensor<1>>,
    layout: &SpanLayout,
    factor: f64,
) -> Tensor<1> {
    let [batch, _] = x.dims();
    let sigma = sigma.map(|s| {
        let k = s.dims()[0];
        s.reshape([1, k])
    });
    tvae_row_losses(recon, x, (mean, log_var), sigma, layout, factor)
        .sum()
        .div_scalar(batch as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensors::{matrix, to_host};

    /// The closed-form count the loader checks equals what a saved decoder holds.
    #[test]
    fn decoder_value_count_matches_its_weight_file() {
        let device = crate::cpu_device();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decoder.bpk");
        for (latent, hidden, output, scalars) in [(4, vec![8, 6], 9, 2), (3, vec![], 5, 0)] {
            let d = Decoder::new(
                latent,
                &hidden,
                output,
                scalars,
                &mut Noise::new(0, &device),
            );
            d.into_record().save(&path).unwrap();
            assert_eq!(
                Some(synth_nn::stored_values(&path).unwrap()),
                Decoder::values(latent, &hidden, output, scalars).get(),
                "{latent} {hidden:?} {output} {scalars}"
            );
        }
    }

    #[test]
    fn loss_matches_a_hand_computed_value() {
        let device = crate::cpu_device();
        let layout = SpanLayout::new(&[Span::scalar(), Span::one_hot(2)], &device);
        assert_eq!(layout.scalar_columns, vec![0]);
        let x = matrix(vec![0.5, 1.0, 0.0, -0.2, 0.0, 1.0], 2, 3, &device);
        let recon = matrix(vec![0.1, 2.0, 0.0, 0.3, 0.0, 1.0], 2, 3, &device);
        let mean = matrix(vec![0.1, -0.3], 2, 1, &device);
        let log_var = matrix(vec![0.2, -0.1], 2, 1, &device);
        let sigma = Tensor::<1>::from_data(TensorData::new(vec![0.5f32], [1]), &device);
        let loss = tvae_loss(recon, x, (mean, log_var), Some(sigma), &layout, 2.0);
        let loss = f64::from(loss.into_scalar::<f32>());

        // by hand: squared error over 2 sigma^2, plus log(sigma) per row
        let scalar = ((0.5 - 0.1f64.tanh()).powi(2) + (-0.2 - 0.3f64.tanh()).powi(2)) / 0.5
            + 2.0 * 0.5f64.ln();
        // cross-entropy: row 1 picks logit 2 over 0, row 2 picks logit 1 over 0
        let ce = (1.0 + (-2.0f64).exp()).ln() + (1.0 + (-1.0f64).exp()).ln();
        let kl = -0.5 * ((1.0 + 0.2 - 0.01 - 0.2f64.exp()) + (1.0 - 0.1 - 0.09 - (-0.1f64).exp()));
        let expected = (2.0 * (scalar + ce) + kl) / 2.0;
        assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
    }

    #[test]
    fn sigma_is_clamped_and_stays_trainable() {
        let device = crate::cpu_device().autodiff();
        let mut noise = Noise::new(0, &device);
        let mut decoder = Decoder::new(4, &[8], 5, 3, &mut noise);
        assert_eq!(to_host(decoder.sigma().unwrap().unsqueeze()), vec![0.1; 3]);
        decoder.sigma = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![-5.0f32, 0.5, 3.0], [3]),
            &device,
        )));
        let decoder = decoder.clamp_sigma();
        let sigma = decoder.sigma().unwrap();
        assert!(sigma.is_require_grad());
        assert_eq!(to_host(sigma.clone().unsqueeze()), vec![0.01, 0.5, 1.0]);
        let grads = sigma.log().sum().backward();
        let grad = decoder.sigma.as_ref().unwrap().grad(&grads).unwrap();
        assert_eq!(to_host(grad.unsqueeze()), vec![100.0, 2.0, 1.0]);
        // a table without continuous columns has no sigma
        assert!(Decoder::new(4, &[8], 5, 0, &mut noise).sigma().is_none());
    }
}
