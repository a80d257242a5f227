//! CTGAN (Xu et al. 2019): conditional generator with training-by-sampling, pac critic,
//! WGAN-GP loss with an explicit input gradient, and conditional sampling with resampling.

mod config;
mod model;

pub use config::CtganConfig;
pub use model::{Critic, Generator, Masks, SamplingCondition, SamplingGenerator};

use crate::Result;
use crate::model::{
    ConditionFrequencies, RowSink, TRANSFORMER_FILE, TabularModel, TabularSampler, TrainingTable,
    sample_rows,
};
use crate::sampler::{ConditionalSampler, Conditions, FixedCondition};
use crate::tensors::{
    Noise, OneHotBlock, OutputActivation, activate_for_sampling, indices, matrix, to_host,
};
use crate::transform::{DataTransformer, EncodedTable};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use std::path::Path;
use synth_core::seed::derive_seed;
use synth_core::seed::{SeededRng, seeded_rng};
use synth_core::{Span, Trainable, Valid};
use synth_nn::{
    LossMeter, Placeholders, Weights, adam, all_finite, load_module, load_network, load_optimizer,
};

/// File names inside a checkpoint folder.
const GENERATOR_FILE: &str = "generator.bpk";
const CRITIC_FILE: &str = "critic.bpk";
const GENERATOR_OPTIM_FILE: &str = "generator.optim";
const CRITIC_OPTIM_FILE: &str = "critic.optim";

/// Rows of a sampling batch generated together on one thread.
const ROWS_PER_PIECE: usize = 250;

/// A trained CTGAN generator with what it needs to produce rows.
pub struct CtganSampler {
    config: Valid<CtganConfig>,
    transformer: DataTransformer,
    conditions: ConditionalSampler,
    /// The output spans, activated on the host (see [`activate_for_sampling`]).
    spans: Vec<Span>,
    generator: SamplingGenerator,
    device: Device,
    frequencies: ConditionFrequencies,
}

impl CtganSampler {
    /// Loads the generator of a checkpoint folder onto `device` (in evaluation mode: batch
    /// norm uses its running statistics).
    pub fn load(dir: &Path, config: &Valid<CtganConfig>, device: &Device) -> Result<Self> {
        let transformer = DataTransformer::load(&dir.join(TRANSFORMER_FILE))?;
        let device = device.clone().without_autodiff();
        let (input, output) = generator_widths(config, &transformer);
        let values = Generator::values(input, &config.generator_dim, output);
        let generator = load_network(&dir.join(GENERATOR_FILE), values, || {
            build_generator(config, &transformer, &mut Placeholders::new(&device))
        })?
        .valid();
        Ok(Self::new(config.clone(), transformer, generator, device))
    }

    fn new(
        config: Valid<CtganConfig>,
        transformer: DataTransformer,
        generator: Generator,
        device: Device,
    ) -> Self {
        let conditions =
            ConditionalSampler::new(transformer.condition_spans(), config.log_frequency);
        CtganSampler {
            generator: generator.for_sampling(config.embedding_dim),
            config,
            spans: transformer.spans(),
            transformer,
            conditions,
            device,
            frequencies: ConditionFrequencies::Data,
        }
    }

    /// Condition vectors for rows sampled without a condition.
    fn unconditioned(&self, batch: usize, rng: &mut SeededRng) -> Option<Conditions> {
        match self.frequencies {
            ConditionFrequencies::Data => self.conditions.sample_empirical(batch, rng),
            ConditionFrequencies::Training => self.conditions.sample_train(batch, rng),
        }
    }

    /// One batch of activated generator output (host, row-major), generated in pieces of
    /// [`ROWS_PER_PIECE`] rows on all threads, each piece with its own latent stream (so the
    /// output does not depend on the number of threads).
    fn generate(
        &self,
        batch: usize,
        fixed: Option<&[f32]>,
        rng: &mut SeededRng,
        noise: &mut Noise,
    ) -> Vec<f32> {
        let positions = match fixed {
            Some(_) => None,
            None => self
                .unconditioned(batch, rng)
                .map(|c| self.conditions.one_hot_positions(&c)),
        };
        let seed = noise.next_seed();
        let width = self.transformer.width().max(1);
        let mut rows = vec![0.0; batch * width];
        rows.par_chunks_mut(ROWS_PER_PIECE * width)
            .enumerate()
            .for_each(|(piece, out)| {
                let n = out.len() / width;
                let first = piece * ROWS_PER_PIECE;
                let condition = match (fixed, &positions) {
                    (Some(vector), _) => SamplingCondition::Same(vector.to_vec()),
                    (None, Some(p)) => SamplingCondition::OneHot(p[first..first + n].to_vec()),
                    (None, None) => SamplingCondition::None,
                };
                let latent = Noise::new(
                    derive_seed(seed, "sample.latent", piece as u64),
                    &self.device,
                )
                .normal(n, self.config.embedding_dim);
                out.copy_from_slice(&to_host(self.generator.forward(latent, &condition)));
                activate_for_sampling(
                    &self.spans,
                    out,
                    derive_seed(seed, "sample.activation", piece as u64),
                );
            });
        rows
    }
}

impl TabularSampler for CtganSampler {
    fn transformer(&self) -> &DataTransformer {
        &self.transformer
    }

    /// Without `condition`, conditions follow the data's category frequencies (or the
    /// training distribution, see [`TabularSampler::set_condition_frequencies`]). With
    /// `column = value` pairs, every row's condition vector carries them, and rows that do not
    /// satisfy them are discarded and regenerated until `n` do.
    fn sample_into(
        &self,
        n: usize,
        condition: &[(String, String)],
        batch: usize,
        seed: u64,
        sink: &mut RowSink,
    ) -> Result<Option<f64>> {
        let generate = |batch: usize,
                        fixed: Option<&FixedCondition>,
                        rng: &mut SeededRng,
                        noise: &mut Noise| {
            self.generate(batch, fixed.map(|f| f.vector.as_slice()), rng, noise)
        };
        sample_rows(
            &self.transformer,
            n,
            condition,
            batch,
            seed,
            &self.device,
            sink,
            generate,
        )
    }

    fn set_condition_frequencies(&mut self, frequencies: ConditionFrequencies) -> Result<()> {
        self.frequencies = frequencies;
        Ok(())
    }
}

/// CTGAN during training: both networks, their optimizers, the encoded table on the device
/// and the training-by-sampling index.
pub struct CtganTrainer {
    config: Valid<CtganConfig>,
    batch_size: usize,
    seed: u64,
    transformer: DataTransformer,
    conditions: ConditionalSampler,
    activation: OutputActivation,
    /// The condition spans of the generator's output, for the conditional loss.
    condition_block: Option<OneHotBlock>,
    generator: Generator,
    critic: Critic,
    generator_optim: ModuleOptimizer,
    critic_optim: ModuleOptimizer,
    data: Tensor<2>,
    rows: usize,
    device: Device,
    rng: SeededRng,
    noise: Noise,
    /// Generator and critic loss sums (critic losses averaged per step).
    losses: LossMeter,
}

impl CtganTrainer {
    /// Fresh networks (initialised from `seed`) for the encoded table.
    pub fn new(
        config: Valid<CtganConfig>,
        transformer: DataTransformer,
        table: EncodedTable,
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        let batch_size = *config.context();
        let device = device.clone().autodiff();
        let mut weights = Noise::new(derive_seed(seed, "weights", 0), &device);
        let generator = build_generator(&config, &transformer, &mut weights);
        let cond_width = ConditionalSampler::new(transformer.condition_spans(), true).cond_width();
        let critic = Critic::new(
            transformer.width() + cond_width,
            &config.discriminator_dim,
            config.pac,
            config.dropout,
            &mut weights,
        );
        let optimizer = |decay: f64| adam(config.betas, decay).init();
        let conditions =
            ConditionalSampler::new(transformer.condition_spans(), config.log_frequency)
                .with_rows(&table);
        let (rows, width) = (table.rows, table.width);
        let condition_spans: Vec<(usize, usize)> = conditions
            .spans()
            .iter()
            .map(|s| (s.data_offset, s.labels.len()))
            .collect();
        Ok(CtganTrainer {
            generator_optim: optimizer(config.generator_decay),
            critic_optim: optimizer(config.discriminator_decay),
            activation: OutputActivation::new(&transformer.spans(), &device),
            condition_block: OneHotBlock::new(&condition_spans, transformer.width(), &device),
            data: matrix(table.data, rows, width, &device),
            rows,
            batch_size,
            seed,
            conditions,
            generator,
            critic,
            transformer,
            config,
            rng: seeded_rng(seed),
            noise: Noise::new(seed, &device),
            device,
            losses: LossMeter::new(&["generator_loss", "critic_loss"]),
        })
    }

    /// Restores networks and optimizer state from a checkpoint folder, to continue training.
    pub fn resume(mut self, dir: &Path) -> Result<Self> {
        self.generator = load_module(self.generator, &dir.join(GENERATOR_FILE))?;
        self.critic = load_module(self.critic, &dir.join(CRITIC_FILE))?;
        self.generator_optim =
            load_optimizer(self.generator_optim, &dir.join(GENERATOR_OPTIM_FILE))?;
        self.critic_optim = load_optimizer(self.critic_optim, &dir.join(CRITIC_OPTIM_FILE))?;
        Ok(self)
    }

    /// A sampler over the current generator (evaluation mode, on the inference device).
    pub fn sampler(&self) -> CtganSampler {
        let generator = self.generator.valid();
        CtganSampler::new(
            self.config.clone(),
            self.transformer.clone(),
            generator,
            self.device.clone().without_autodiff(),
        )
    }

    /// The critic's update: `mean D(fake) - mean D(real) + lambda * penalty`.
    fn critic_step(&mut self) {
        let b = self.batch_size;
        let latent = self.noise.normal(b, self.config.embedding_dim);
        let (input, real, cond_fake, cond_real) =
            match self.conditions.sample_train(b, &mut self.rng) {
                Some(c) => {
                    let mut perm: Vec<u32> = (0..b as u32).collect();
                    perm.shuffle(&mut self.rng);
                    let span: Vec<usize> = perm.iter().map(|&i| c.span[i as usize]).collect();
                    let category: Vec<usize> =
                        perm.iter().map(|&i| c.category[i as usize]).collect();
                    let rows = self.conditions.sample_rows(&span, &category, &mut self.rng);
                    let cond = self.cond_tensor(&c);
                    let cond_real = cond.clone().select(0, indices(&perm, &self.device));
                    (
                        Tensor::cat(vec![latent, cond.clone()], 1),
                        self.gather(&rows),
                        Some(cond),
                        Some(cond_real),
                    )
                }
                None => {
                    let rows = self.conditions.sample_uniform_rows(b, &mut self.rng);
                    (latent, self.gather(&rows), None, None)
                }
            };
        let fake = self.activation.apply(
            self.generator.forward(input).detach(),
            self.config.tau,
            &mut self.noise,
        );
        let fake = with_condition(fake, cond_fake);
        let real = with_condition(real, cond_real);
        // Fake and real rows in one pass (pac groups never straddle the two halves).
        let scores = self.critic.forward(
            Tensor::cat(vec![fake.clone(), real.clone()], 0),
            &mut self.noise,
        );
        let groups = b / self.config.pac;
        let score_fake = scores.clone().narrow(0, 0, groups).mean();
        let score_real = scores.narrow(0, groups, groups).mean();
        let penalty =
            self.critic
                .gradient_penalty(real, fake, self.config.gp_lambda, &mut self.noise);
        let loss = score_fake - score_real + penalty;
        let grads = GradientsParams::from_grads(loss.backward(), &self.critic);
        self.critic =
            self.critic_optim
                .step(self.config.discriminator_lr, self.critic.clone(), grads);
        let per_step = loss.div_scalar(self.config.discriminator_steps as f64);
        self.losses.add(1, per_step);
    }

    /// The generator's update: `-mean D(fake) + conditional cross-entropy`.
    fn generator_step(&mut self) {
        let b = self.batch_size;
        let latent = self.noise.normal(b, self.config.embedding_dim);
        let conditions = self.conditions.sample_train(b, &mut self.rng);
        let (input, cond) = match &conditions {
            Some(c) => {
                let cond = self.cond_tensor(c);
                (Tensor::cat(vec![latent, cond.clone()], 1), Some(cond))
            }
            None => (latent, None),
        };
        let raw = self.generator.forward(input);
        let fake = with_condition(
            self.activation
                .apply(raw.clone(), self.config.tau, &mut self.noise),
            cond,
        );
        // Only the generator is updated: the critic's weight gradients are not needed.
        let critic = self.critic.clone().set_require_grad(false);
        let mut loss = critic.forward(fake, &mut self.noise).mean().neg();
        if let Some(c) = &conditions {
            loss = loss + self.conditional_loss(raw, c);
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.generator);
        self.generator =
            self.generator_optim
                .step(self.config.generator_lr, self.generator.clone(), grads);
        self.losses.add(0, loss);
    }

    /// Cross-entropy of the chosen span's raw logits against the chosen category (only the
    /// chosen span counts), summed and divided by the batch size.
    fn conditional_loss(&self, raw: Tensor<2>, c: &Conditions) -> Tensor<1> {
        let block = self
            .condition_block
            .as_ref()
            .expect("conditions exist only with condition spans");
        let log_probs = block.log_softmax(raw);
        let [rows, _] = log_probs.dims();
        let chosen: Vec<u32> = c
            .span
            .iter()
            .zip(&c.category)
            .map(|(&s, &k)| block.position(s, k) as u32)
            .collect();
        let chosen = indices(&chosen, &self.device).reshape([rows, 1]);
        log_probs
            .gather(1, chosen)
            .sum()
            .neg()
            .div_scalar(rows as f64)
    }

    fn cond_tensor(&self, c: &Conditions) -> Tensor<2> {
        matrix(
            c.vectors.clone(),
            c.span.len(),
            self.conditions.cond_width(),
            &self.device,
        )
    }

    fn gather(&self, rows: &[u32]) -> Tensor<2> {
        self.data.clone().select(0, indices(rows, &self.device))
    }
}

impl Trainable for CtganTrainer {
    fn steps_per_epoch(&self) -> usize {
        (self.rows / self.batch_size).max(1)
    }

    fn begin_epoch(&mut self, epoch: usize) {
        self.noise
            .reseed(derive_seed(self.seed, "epoch.noise", epoch as u64));
        self.rng = seeded_rng(derive_seed(self.seed, "epoch.sampler", epoch as u64));
    }

    fn train_step(&mut self) {
        for _ in 0..self.config.discriminator_steps {
            self.critic_step();
        }
        self.generator_step();
        self.losses.end_step();
    }

    fn take_losses(&mut self) -> Vec<(&'static str, f64)> {
        self.losses.take()
    }

    fn non_finite_network(&self) -> Option<&'static str> {
        if !all_finite(&self.generator) {
            Some("generator")
        } else if !all_finite(&self.critic) {
            Some("critic")
        } else {
            None
        }
    }

    fn save(&self, dir: &Path) -> std::result::Result<(), synth_core::BoxError> {
        self.transformer.save(&dir.join(TRANSFORMER_FILE))?;
        // `valid()` folds pending batch-norm running-statistic updates into the saved values.
        self.generator
            .valid()
            .into_record()
            .save(dir.join(GENERATOR_FILE))?;
        self.critic
            .valid()
            .into_record()
            .save(dir.join(CRITIC_FILE))?;
        self.generator_optim.save(dir.join(GENERATOR_OPTIM_FILE))?;
        self.critic_optim.save(dir.join(CRITIC_OPTIM_FILE))?;
        Ok(())
    }
}

fn with_condition(rows: Tensor<2>, cond: Option<Tensor<2>>) -> Tensor<2> {
    match cond {
        Some(c) => Tensor::cat(vec![rows, c], 1),
        None => rows,
    }
}

/// The generator's input (noise + condition) and output (encoded row) widths.
fn generator_widths(config: &CtganConfig, transformer: &DataTransformer) -> (usize, usize) {
    let cond_width = ConditionalSampler::new(transformer.condition_spans(), true).cond_width();
    (
        config.embedding_dim.saturating_add(cond_width),
        transformer.width(),
    )
}

fn build_generator(
    config: &CtganConfig,
    transformer: &DataTransformer,
    weights: &mut impl Weights,
) -> Generator {
    let (input, output) = generator_widths(config, transformer);
    Generator::new(input, &config.generator_dim, output, weights)
}

impl TabularModel for Valid<CtganConfig> {
    fn kind(&self) -> &'static str {
        CtganConfig::KIND
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
        let trainer = CtganTrainer::new(self.clone(), transformer, table, device, seed)?;
        Ok(Box::new(match resume_from {
            Some(dir) => trainer.resume(dir)?,
            None => trainer,
        }))
    }

    fn sampler(&self, checkpoint: &Path, device: &Device) -> Result<Box<dyn TabularSampler>> {
        Ok(Box::new(CtganSampler::load(checkpoint, self, device)?))
    }
}

#[cfg(test)]
mod tests;
