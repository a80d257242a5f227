//! TVAE (Xu et al. 2019): a variational autoencoder over the transformer's encoding, with a
//! learnable sigma per scalar span, trained on shuffled mini-batches; sampling decodes
//! standard-normal latents. Conditions are met by rejection sampling.

mod config;
pub mod dp;
mod model;

pub use config::{CategoryDecoding, TvaeConfig};
pub use model::{
    Decoder, Encoder, SIGMA_INIT, SIGMA_MAX, SIGMA_MIN, SpanLayout, Tap, Tvae, reparameterize,
    tvae_loss, tvae_row_losses,
};

use crate::model::{
    RowSink, TRANSFORMER_FILE, TabularModel, TabularSampler, TrainingTable, one_mode, sample_rows,
};
use crate::tensors::{Noise, activate_for_sampling, indices, matrix, scalar_columns, to_host};
use crate::transform::TransformerConfig;
use crate::transform::{DataTransformer, EncodedTable};
use crate::{Result, TabularError};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use std::path::Path;
use synth_core::ConfigError;
use synth_core::seed::derive_seed;
use synth_core::{Span, Trainable, Valid};
use synth_nn::{
    EpochBatches, LossMeter, Placeholders, Weights, adam, all_finite, load_module, load_network,
    load_optimizer, reseed_epoch,
};
use synth_privacy::PrivacyConfig;

const ENCODER_FILE: &str = "encoder.bpk";
const DECODER_FILE: &str = "decoder.bpk";
const OPTIM_FILE: &str = "tvae.optim";

fn build_encoder(
    config: &TvaeConfig,
    transformer: &DataTransformer,
    weights: &mut impl Weights,
) -> Encoder {
    Encoder::new(
        transformer.width(),
        &config.encoder_dim,
        config.embedding_dim,
        weights,
    )
}

fn build_decoder(
    config: &TvaeConfig,
    transformer: &DataTransformer,
    weights: &mut impl Weights,
) -> Decoder {
    Decoder::new(
        config.embedding_dim,
        &config.decoder_dim,
        transformer.width(),
        scalar_columns(&transformer.spans()).len(),
        weights,
    )
}

/// A trained TVAE decoder with what it needs to produce rows.
pub struct TvaeSampler {
    config: Valid<TvaeConfig>,
    transformer: DataTransformer,
    /// The transformer's output spans.
    spans: Vec<Span>,
    /// Encoded column of each scalar span.
    scalar_columns: Vec<u32>,
    /// How each one-hot span becomes a category.
    categories: CategoryDecoding,
    decoder: Decoder,
    sigma: Vec<f32>,
    device: Device,
}

impl TvaeSampler {
    /// Loads the decoder of a checkpoint folder onto `device`.
    pub fn load(
        dir: &Path,
        config: &Valid<TvaeConfig>,
        categories: CategoryDecoding,
        device: &Device,
    ) -> Result<Self> {
        let transformer = DataTransformer::load(&dir.join(TRANSFORMER_FILE))?;
        let device = device.clone().without_autodiff();
        let values = Decoder::values(
            config.embedding_dim,
            &config.decoder_dim,
            transformer.width(),
            scalar_columns(&transformer.spans()).len(),
        );
        let decoder = load_network(&dir.join(DECODER_FILE), values, || {
            build_decoder(config, &transformer, &mut Placeholders::new(&device))
        })?
        .valid();
        Ok(Self::new(
            config.clone(),
            transformer,
            decoder,
            categories,
            device,
        ))
    }

    fn new(
        config: Valid<TvaeConfig>,
        transformer: DataTransformer,
        decoder: Decoder,
        categories: CategoryDecoding,
        device: Device,
    ) -> Self {
        let sigma = decoder
            .sigma()
            .map(|s| to_host(s.unsqueeze::<2>()))
            .unwrap_or_default();
        let spans = transformer.spans();
        TvaeSampler {
            scalar_columns: scalar_columns(&spans),
            spans,
            categories,
            config,
            transformer,
            decoder,
            sigma,
            device,
        }
    }

    /// The decoder's current sigma per scalar span.
    pub fn sigma(&self) -> &[f32] {
        &self.sigma
    }

    /// One batch of decoded rows (host, row-major): `tanh` plus `N(0, sigma^2)` noise on each
    /// scalar span; one-hot spans stay raw (decoding takes their argmax) or, with
    /// `categories = "sample"`, hold a category drawn from their softmax.
    fn generate(&self, batch: usize, noise: &mut Noise) -> Vec<f32> {
        let z = noise.normal(batch, self.config.embedding_dim);
        let mut rows = to_host(self.decoder.forward(z));
        let width = self.transformer.width();
        let scalars = &self.scalar_columns;
        match self.categories {
            CategoryDecoding::Sample => {
                activate_for_sampling(&self.spans, &mut rows, noise.next_seed());
            }
            CategoryDecoding::Argmax => {
                for row in rows.chunks_exact_mut(width) {
                    scalars
                        .iter()
                        .for_each(|&c| row[c as usize] = row[c as usize].tanh());
                }
            }
        }
        let jitter = noise.normal_values(batch * scalars.len());
        for (row, eps) in rows
            .chunks_exact_mut(width)
            .zip(jitter.chunks_exact(scalars.len().max(1)))
        {
            for ((&column, &sigma), &e) in scalars.iter().zip(&self.sigma).zip(eps) {
                row[column as usize] += sigma * e;
            }
        }
        rows
    }
}

impl TabularSampler for TvaeSampler {
    fn transformer(&self) -> &DataTransformer {
        &self.transformer
    }

    /// TVAE has no conditional input: with `column = value` conditions, rows are generated
    /// unconditionally and those that do not satisfy them are discarded (rejection sampling).
    fn sample_into(
        &self,
        n: usize,
        condition: &[(String, String)],
        batch: usize,
        seed: u64,
        sink: &mut RowSink,
    ) -> Result<Option<f64>> {
        sample_rows(
            &self.transformer,
            n,
            condition,
            batch,
            seed,
            &self.device,
            sink,
            |batch, _, _, noise| self.generate(batch, noise),
        )
    }
}

/// TVAE during training: the networks, their optimizer, the encoded table on the device and
/// the epoch's shuffled row order.
pub struct TvaeTrainer {
    config: Valid<TvaeConfig>,
    seed: u64,
    transformer: DataTransformer,
    layout: SpanLayout,
    model: Tvae,
    optim: ModuleOptimizer,
    data: Tensor<2>,
    batches: EpochBatches,
    device: Device,
    noise: Noise,
    losses: LossMeter,
    /// DP-SGD, for a run with `[privacy]`.
    dp: Option<dp::DpSgd>,
}

impl TvaeTrainer {
    /// Fresh networks (initialised from `seed`) for the encoded table.
    pub fn new(
        config: Valid<TvaeConfig>,
        transformer: DataTransformer,
        table: EncodedTable,
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        let batch_size = *config.context();
        let device = device.clone().autodiff();
        let mut weights = Noise::new(derive_seed(seed, "weights", 0), &device);
        let model = Tvae {
            encoder: build_encoder(&config, &transformer, &mut weights),
            decoder: build_decoder(&config, &transformer, &mut weights),
        };
        let optim = adam((0.9, 0.999), config.weight_decay).init();
        let (rows, width) = (table.rows, table.width);
        let mut trainer = TvaeTrainer {
            layout: SpanLayout::new(&transformer.spans(), &device),
            data: matrix(table.data, rows, width, &device),
            batches: EpochBatches::new(rows, batch_size),
            noise: Noise::new(seed, &device),
            losses: LossMeter::new(&["loss"]),
            dp: None,
            seed,
            transformer,
            model,
            optim,
            config,
            device,
        };
        trainer.begin_epoch(0);
        Ok(trainer)
    }

    /// Restores the networks and optimizer state from a checkpoint folder.
    pub fn resume(mut self, dir: &Path) -> Result<Self> {
        self.model.encoder = load_module(self.model.encoder, &dir.join(ENCODER_FILE))?;
        self.model.decoder = load_module(self.model.decoder, &dir.join(DECODER_FILE))?;
        self.optim = load_optimizer(self.optim, &dir.join(OPTIM_FILE))?;
        Ok(self)
    }

    /// A sampler over the current decoder (on the inference device).
    pub fn sampler(&self) -> TvaeSampler {
        TvaeSampler::new(
            self.config.clone(),
            self.transformer.clone(),
            self.model.decoder.valid(),
            self.config.category_decoding(self.dp.is_some()),
            self.device.clone().without_autodiff(),
        )
    }
}

impl TvaeTrainer {
    /// One DP-SGD step (see [`dp`]): a Poisson batch, each row's gradient clipped, the sum
    /// noised. No loss is recorded: the batch's loss is not private.
    fn private_step(&mut self) {
        let Some(dp) = self.dp.as_mut() else {
            return;
        };
        let rows = dp.next_batch();
        if rows.is_empty() {
            return;
        }
        let n = rows.len();
        let x = self.data.clone().select(0, indices(&rows, &self.device));
        let eps = self.noise.normal(n, self.config.embedding_dim);
        let (layout, factor) = (&self.layout, self.config.loss_factor);
        let latent = |mean: Tensor<2>, log_var: Tensor<2>| {
            mean + eps.clone() * log_var.mul_scalar(0.5).exp()
        };
        // pass 1: every row's gradient norm, from the probes
        let mut taps = Vec::new();
        let (mean, log_var) = self.model.encoder.forward_probed(x.clone(), &mut taps);
        let (recon, sigma) = self
            .model
            .decoder
            .forward_probed(latent(mean.clone(), log_var.clone()), &mut taps);
        let losses = tvae_row_losses(recon, x.clone(), (mean, log_var), sigma, layout, factor);
        let norms = dp::per_row_norms(&taps, &losses.sum().backward());
        let factors = dp.clip_factors(&norms);
        // pass 2: the sum of the clipped gradients, then the noise
        let (mean, log_var) = self.model.encoder.forward(x.clone());
        let recon = self
            .model
            .decoder
            .forward(latent(mean.clone(), log_var.clone()));
        let sigma = self.model.decoder.sigma().map(|s| {
            let k = s.dims()[0];
            s.reshape([1, k])
        });
        let losses = tvae_row_losses(recon, x, (mean, log_var), sigma, layout, factor);
        let factors = Tensor::<1>::from_data(TensorData::new(factors, [n]), &self.device);
        let weighted = (losses * factors).sum();
        let mut grads = GradientsParams::from_grads(weighted.backward(), &self.model);
        dp.privatise(&self.model, &mut grads);
        let mut model = self
            .optim
            .step(self.config.learning_rate, self.model.clone(), grads);
        model.decoder = model.decoder.clamp_sigma();
        self.model = model;
    }
}

impl Trainable for TvaeTrainer {
    fn steps_per_epoch(&self) -> usize {
        match &self.dp {
            Some(dp) => dp.steps_per_epoch(),
            None => self.batches.per_epoch(),
        }
    }

    fn begin_epoch(&mut self, epoch: usize) {
        reseed_epoch(self.seed, epoch, &mut self.noise, &mut self.batches);
    }

    /// One step on the next mini-batch of the epoch's order (the last one may be smaller),
    /// or a DP-SGD step.
    fn train_step(&mut self) {
        if self.dp.is_some() {
            self.private_step();
            return;
        }
        let rows = indices(self.batches.next_batch(), &self.device);
        let x = self.data.clone().select(0, rows);
        let (mean, log_var) = self.model.encoder.forward(x.clone());
        let z = reparameterize(mean.clone(), log_var.clone(), &mut self.noise);
        let recon = self.model.decoder.forward(z);
        let loss = tvae_loss(
            recon,
            x,
            (mean, log_var),
            self.model.decoder.sigma(),
            &self.layout,
            self.config.loss_factor,
        );
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let mut model = self
            .optim
            .step(self.config.learning_rate, self.model.clone(), grads);
        model.decoder = model.decoder.clamp_sigma();
        self.model = model;
        self.losses.add(0, loss);
        self.losses.end_step();
    }

    fn take_losses(&mut self) -> Vec<(&'static str, f64)> {
        match &self.dp {
            Some(dp) => {
                let record = dp.record();
                vec![
                    ("epsilon_spent", record.epsilon_spent),
                    ("noise_multiplier", record.noise_multiplier),
                ]
            }
            None => self.losses.take(),
        }
    }

    fn non_finite_network(&self) -> Option<&'static str> {
        if !all_finite(&self.model.encoder) {
            Some("encoder")
        } else if !all_finite(&self.model.decoder) {
            Some("decoder")
        } else {
            None
        }
    }

    fn save(&self, dir: &Path) -> std::result::Result<(), synth_core::BoxError> {
        self.transformer.save(&dir.join(TRANSFORMER_FILE))?;
        self.model
            .encoder
            .valid()
            .into_record()
            .save(dir.join(ENCODER_FILE))?;
        self.model
            .decoder
            .valid()
            .into_record()
            .save(dir.join(DECODER_FILE))?;
        self.optim.save(dir.join(OPTIM_FILE))?;
        if let Some(dp) = &self.dp {
            let json = serde_json::to_string_pretty(&dp.record())?;
            synth_core::fsutil::write_atomic(&dir.join(dp::DP_SGD_FILE), json.as_bytes())?;
        }
        Ok(())
    }
}

impl TabularModel for Valid<TvaeConfig> {
    fn kind(&self) -> &'static str {
        TvaeConfig::KIND
    }

    fn trainer(
        &self,
        transformer: DataTransformer,
        table: TrainingTable,
        device: &Device,
        seed: u64,
        resume_from: Option<&Path>,
    ) -> Result<Box<dyn Trainable>> {
        let table = table.encoded()?;
        let trainer = TvaeTrainer::new(self.clone(), transformer, table, device, seed)?;
        Ok(Box::new(match resume_from {
            Some(dir) => trainer.resume(dir)?,
            None => trainer,
        }))
    }

    fn sampler(&self, checkpoint: &Path, device: &Device) -> Result<Box<dyn TabularSampler>> {
        Ok(Box::new(TvaeSampler::load(
            checkpoint,
            self,
            self.category_decoding(false),
            device,
        )?))
    }
}

/// TVAE trained with DP-SGD: `[privacy]` on `kind = "tvae"`. Every column's domain must be
/// public (`privacy.public = ["*"]`): the transformer keeps the public bounds and categories
/// and nothing else of the data ([`DataTransformer::released_public`]), and the noise is
/// calibrated for `epochs` epochs.
pub struct PrivateTvae {
    config: Valid<TvaeConfig>,
    privacy: Valid<PrivacyConfig>,
    epochs: usize,
}

impl PrivateTvae {
    /// The private model, or an error naming `privacy.public` when a domain is not public.
    pub fn new(
        config: Valid<TvaeConfig>,
        privacy: Valid<PrivacyConfig>,
        epochs: usize,
    ) -> std::result::Result<Self, ConfigError> {
        if !privacy.public.iter().any(|c| c == "*") {
            return Err(ConfigError::Unsupported {
                key: "privacy.public",
                value: format!("{:?}", privacy.public),
                supported: "DP-SGD TVAE takes every column's domain as public: set privacy.public = [\"*\"] with the bounds and categories in data.metadata (MST measures domains privately)".into(),
            });
        }
        Ok(PrivateTvae {
            config,
            privacy,
            epochs,
        })
    }
}

impl TabularModel for PrivateTvae {
    fn kind(&self) -> &'static str {
        TvaeConfig::KIND
    }

    /// One mode per continuous column: the released transformer replaces it anyway.
    fn transformer_config(&self, configured: &TransformerConfig) -> TransformerConfig {
        one_mode(configured)
    }

    /// The public bounds and categories, no statistics of the data.
    fn released_transformer(&self, fitted: DataTransformer) -> Result<DataTransformer> {
        fitted.released_public()
    }

    fn trainer(
        &self,
        transformer: DataTransformer,
        table: TrainingTable,
        device: &Device,
        seed: u64,
        resume_from: Option<&Path>,
    ) -> Result<Box<dyn Trainable>> {
        if resume_from.is_some() {
            return Err(TabularError::Config(
                "a DP-SGD run cannot be resumed: its noise was calibrated for the whole run; train it again from the start".into(),
            ));
        }
        let table = table.encoded()?;
        let dp = dp::DpSgd::new(
            &self.privacy,
            table.rows,
            *self.config.context(),
            self.epochs,
            derive_seed(seed, "dp-sgd.noise", 0),
        )?;
        let record = dp.record();
        tracing::info!(
            epsilon = record.epsilon,
            delta = record.delta,
            sampling_rate = record.sampling_rate,
            noise_multiplier = record.noise_multiplier,
            clip_norm = record.clip_norm,
            steps = record.planned_steps,
            "DP-SGD calibrated"
        );
        let mut trainer = TvaeTrainer::new(self.config.clone(), transformer, table, device, seed)?;
        trainer.dp = Some(dp);
        Ok(Box::new(trainer))
    }

    fn sampler(&self, checkpoint: &Path, device: &Device) -> Result<Box<dyn TabularSampler>> {
        Ok(Box::new(TvaeSampler::load(
            checkpoint,
            &self.config,
            self.config.category_decoding(true),
            device,
        )?))
    }
}

#[cfg(test)]
mod tests;
