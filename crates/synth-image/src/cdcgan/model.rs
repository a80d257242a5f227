//! The class-conditional networks: DCGAN's generator fed the latent vector with a learned
//! class embedding appended (Mirza and Osindero 2014), and DCGAN's discriminator fed the
//! image with one more channel, a learned `size x size` plane per class.

use crate::dcgan::{Discriminator, Generator, Layout};
use burn::nn::{Embedding, EmbeddingConfig};
use burn::prelude::*;
use synth_nn::{ValueCount, Weights};

use super::CdcganConfig;

/// A class embedding with weights from N(0, 1) (PyTorch's and burn's default), from
/// `weights` so that a seed fixes them.
fn embedding(classes: usize, width: usize, weights: &mut impl Weights) -> Embedding {
    let mut embedding = EmbeddingConfig::new(classes, width).init(weights.device());
    embedding.weight = weights.normal([classes, width], 0.0, 1.0);
    embedding
}

/// One embedding row per label: `[n]` labels to `[n, width]`.
fn embed(embedding: &Embedding, labels: Tensor<1, Int>) -> Tensor<2> {
    let [n] = labels.dims();
    let [_, width] = embedding.weight.dims();
    embedding
        .forward(labels.reshape([n, 1]))
        .reshape([n, width])
}

/// The generator: `[z, embedding(label)]` through DCGAN's generator.
#[derive(Module, Debug)]
pub struct ConditionalGenerator {
    label: Embedding,
    net: Generator,
}

impl ConditionalGenerator {
    /// A generator for `classes` classes of `channels`-channel images laid out as `layout`.
    pub fn new(
        config: &CdcganConfig,
        classes: usize,
        channels: usize,
        layout: Layout,
        weights: &mut impl Weights,
    ) -> Self {
        ConditionalGenerator {
            label: embedding(classes, config.label_dim, weights),
            net: Generator::new(
                config.latent_dim + config.label_dim,
                config.feature_maps,
                channels,
                layout,
                weights,
            ),
        }
    }

    /// The number of values [`ConditionalGenerator::new`] stores for these sizes.
    pub fn values(
        config: &CdcganConfig,
        classes: usize,
        channels: usize,
        layout: Layout,
    ) -> ValueCount {
        Generator::values(
            config.latent_dim.saturating_add(config.label_dim),
            config.feature_maps,
            channels,
            layout,
        )
        .matrix(classes, config.label_dim)
    }

    /// Images for latent rows `z` (`[n, latent]`) of classes `labels` (`[n]`).
    pub fn forward(&self, z: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<4> {
        self.net
            .forward(Tensor::cat(vec![z, embed(&self.label, labels)], 1))
    }
}

/// The discriminator: the image and its class's plane through DCGAN's discriminator.
#[derive(Module, Debug)]
pub struct ConditionalDiscriminator {
    label: Embedding,
    net: Discriminator,
    size: usize,
}

impl ConditionalDiscriminator {
    /// A discriminator for `classes` classes of `channels`-channel `size x size` images.
    pub fn new(
        config: &CdcganConfig,
        classes: usize,
        channels: usize,
        size: usize,
        layout: Layout,
        weights: &mut impl Weights,
    ) -> Self {
        ConditionalDiscriminator {
            label: embedding(classes, size * size, weights),
            net: Discriminator::new(config.feature_maps, channels + 1, layout, weights),
            size,
        }
    }

    /// One logit per image of `images` (`[n, channels, size, size]`) as class `labels`.
    pub fn forward(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> Tensor<2> {
        let [n] = labels.dims();
        let plane = embed(&self.label, labels).reshape([n, 1, self.size, self.size]);
        self.net.forward(Tensor::cat(vec![images, plane], 1))
    }
}
