//! DCGAN's networks: a generator of transposed convolutions (batch norm, ReLU, tanh output)
//! and a discriminator of strided convolutions (LeakyReLU 0.2, batch norm except on the first
//! block) ending in one logit. Convolutions have no bias and start from N(0, 0.02); batch-norm
//! scales from N(1, 0.02).

use super::config::Layout;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use synth_nn::{ValueCount, Weights};

/// Standard deviation of the initial weights.
const INIT_STD: f32 = 0.02;
/// Slope of the discriminator's LeakyReLU.
const LEAKY_SLOPE: f64 = 0.2;

fn batch_norm(channels: usize, weights: &mut impl Weights) -> BatchNorm {
    let mut bn = BatchNormConfig::new(channels).init(weights.device());
    bn.gamma = weights.normal([channels], 1.0, INIT_STD);
    bn
}

/// Transposed convolution, batch norm, ReLU.
#[derive(Module, Debug)]
pub(crate) struct UpBlock {
    conv: ConvTranspose2d,
    pub(crate) bn: BatchNorm,
}

fn conv_transpose(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    weights: &mut impl Weights,
) -> ConvTranspose2d {
    let mut conv = ConvTranspose2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding([padding, padding])
        .with_bias(false)
        .init(weights.device());
    conv.weight = weights.normal(conv.weight.shape().dims(), 0.0, INIT_STD);
    conv
}

fn conv(
    channels: [usize; 2],
    kernel: usize,
    stride: usize,
    padding: usize,
    weights: &mut impl Weights,
) -> Conv2d {
    let mut conv = Conv2dConfig::new(channels, [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .init(weights.device());
    conv.weight = weights.normal(conv.weight.shape().dims(), 0.0, INIT_STD);
    conv
}

/// The generator: latent `[n, latent]` to images `[n, channels, size, size]` in [-1, 1].
#[derive(Module, Debug)]
pub struct Generator {
    pub(crate) blocks: Vec<UpBlock>,
    pub(crate) out: ConvTranspose2d,
    latent: usize,
}

impl Generator {
    /// A generator for `channels`-channel images laid out as `layout`.
    pub fn new(
        latent: usize,
        feature_maps: usize,
        channels: usize,
        layout: Layout,
        weights: &mut impl Weights,
    ) -> Self {
        let mut width = feature_maps << (layout.steps - 1);
        let mut blocks = vec![UpBlock {
            conv: conv_transpose([latent, width], layout.base, 1, 0, weights),
            bn: batch_norm(width, weights),
        }];
        for _ in 1..layout.steps {
            blocks.push(UpBlock {
                conv: conv_transpose([width, width / 2], 4, 2, 1, weights),
                bn: batch_norm(width / 2, weights),
            });
            width /= 2;
        }
        Generator {
            blocks,
            out: conv_transpose([width, channels], 4, 2, 1, weights),
            latent,
        }
    }

    /// The number of values [`Generator::new`] stores for these sizes, computed without
    /// building it (checked against a weight file before loading).
    pub fn values(
        latent: usize,
        feature_maps: usize,
        channels: usize,
        layout: Layout,
    ) -> ValueCount {
        let mut width = feature_maps.saturating_mul(1 << (layout.steps - 1));
        let mut count = ValueCount::ZERO
            .conv(latent, width, layout.base)
            .batch_norm(width);
        for _ in 1..layout.steps {
            count = count.conv(width, width / 2, 4).batch_norm(width / 2);
            width /= 2;
        }
        count.conv(width, channels, 4)
    }

    /// Images for latent rows `z` (`[n, latent]`).
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [n, _] = z.dims();
        let x = z.reshape([n, self.latent, 1, 1]);
        let h = self
            .blocks
            .iter()
            .fold(x, |h, b| relu(b.bn.forward(b.conv.forward(h))));
        self.out.forward(h).tanh()
    }
}

/// Strided convolution, optional batch norm, LeakyReLU.
#[derive(Module, Debug)]
struct DownBlock {
    conv: Conv2d,
    bn: Option<BatchNorm>,
}

/// The discriminator: images to one logit each (`[n, 1]`).
#[derive(Module, Debug)]
pub struct Discriminator {
    blocks: Vec<DownBlock>,
    out: Conv2d,
}

impl Discriminator {
    /// A discriminator for `channels`-channel images laid out as `layout`.
    pub fn new(
        feature_maps: usize,
        channels: usize,
        layout: Layout,
        weights: &mut impl Weights,
    ) -> Self {
        let mut width = feature_maps;
        let mut blocks = vec![DownBlock {
            conv: conv([channels, width], 4, 2, 1, weights),
            bn: None,
        }];
        for _ in 1..layout.steps {
            blocks.push(DownBlock {
                conv: conv([width, width * 2], 4, 2, 1, weights),
                bn: Some(batch_norm(width * 2, weights)),
            });
            width *= 2;
        }
        Discriminator {
            blocks,
            out: conv([width, 1], layout.base, 1, 0, weights),
        }
    }

    /// One logit per image.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let h = self.blocks.iter().fold(images, |h, b| {
            let z = b.conv.forward(h);
            let z = match &b.bn {
                Some(bn) => bn.forward(z),
                None => z,
            };
            leaky_relu(z, LEAKY_SLOPE)
        });
        let [n, ..] = h.dims();
        self.out.forward(h).reshape([n, 1])
    }
}
