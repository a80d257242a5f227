//! TabularARGN (Tiwald et al. 2025): an any-order autoregressive network over categorical
//! tokens. Every column becomes one or two tokens ([`tokens`]); one head per token predicts
//! it from the embeddings of the tokens before it in the order ([`network`]). Training sums
//! the heads' cross-entropies with AdamW on a random column order (for a share of the
//! batches) or the table's, validates on held-out rows after every epoch, halves the learning rate on
//! a plateau and stops early, keeping the best weights. Sampling draws token after token,
//! conditioned columns first: a category, a value or a missing value is fixed exactly; the
//! first `present` condition is drawn from its head's distribution restricted to present
//! tokens, and rows failing any further one are drawn again.

mod config;
pub mod network;
pub mod tokens;

pub use config::ArgnConfig;
pub use network::{ArgnNet, Layout};
pub use tokens::{ColumnTokens, RARE_ROWS, TokenColumn, Tokenizer};

use crate::condition::{Fixed, parse_conditions};
use crate::model::{RowSink, TRANSFORMER_FILE, TabularModel, TabularSampler, TrainingTable};
use crate::tensors::OneHotBlock;
use crate::transform::column::MISSING_LABEL;
use crate::transform::{ColumnValues, DataTransformer, ModelledColumn};
use crate::{Result, TabularError, read_json};
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use polars::prelude::DataFrame;
use rand::RngExt;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use synth_core::seed::{SeededRng, derive_seed, seeded_rng};
use synth_core::{Trainable, Valid};
use synth_nn::{
    EpochBatches, LossMeter, Noise, Placeholders, all_finite, indices, load_module, load_network,
    load_optimizer, to_host,
};

/// The fitted tokenizer inside a checkpoint folder.
pub const TOKENS_FILE: &str = "tokens.json";
/// The best weights (by validation loss): what sampling uses.
const BEST_FILE: &str = "argn.bpk";
/// The weights of the last epoch, to resume from.
const LAST_FILE: &str = "argn-last.bpk";
const OPTIM_FILE: &str = "argn.optim";
const STATE_FILE: &str = "argn-state.json";

/// An epoch's validation loss counts as better than the best so far when it is lower by more
/// than this share of it (0.01 nats on Adult): under a shrinking learning rate the loss keeps
/// creeping down by less, long after the rows stopped changing. (A cross-entropy: never
/// negative.)
const MIN_IMPROVEMENT: f64 = 5e-4;

/// Rows per validation pass.
const VALIDATION_CHUNK: usize = 4096;

/// Where early stopping stands; saved with every checkpoint so a resumed run goes on alike.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Progress {
    /// The learning rate in use (halved on each plateau).
    learning_rate: f64,
    /// The lowest validation loss so far (per row, nats).
    best_loss: f64,
    /// Epochs since it last improved.
    stale_epochs: usize,
}

/// An `[rows, columns]` integer tensor from row-major host values.
fn int_matrix(values: &[u32], rows: usize, columns: usize, device: &Device) -> Tensor<2, Int> {
    indices(values, device).reshape([rows, columns])
}

/// The table order: token column `t` at rank `t`.
fn table_ranks(columns: usize) -> Vec<f32> {
    (0..columns).map(|t| t as f32).collect()
}

/// A batch's training order of the token columns (their ranks): a random order drawn from
/// `rng` with probability `random_orders`, else the table's.
fn training_ranks(random_orders: f64, layout: &Layout, rng: &mut SeededRng) -> Vec<f32> {
    if rng.random::<f64>() < random_orders {
        random_ranks(layout, rng)
    } else {
        table_ranks(layout.columns.len())
    }
}

/// A random column order: each modelled column's tokens keep their own order, side by side.
fn random_ranks(layout: &Layout, rng: &mut SeededRng) -> Vec<f32> {
    let columns = layout.columns.last().map_or(0, |c| c.column + 1);
    let mut order: Vec<usize> = (0..columns).collect();
    order.shuffle(rng);
    let mut position = vec![0usize; columns];
    for (p, &c) in order.iter().enumerate() {
        position[c] = p;
    }
    layout
        .columns
        .iter()
        .map(|c| (position[c.column] * 2 + c.part) as f32)
        .collect()
}

/// Log-frequencies of each token column's values in `tokens` (row-major), smoothed by half
/// a count: the output biases the heads start from.
fn log_frequencies(layout: &Layout, tokens: &[u32]) -> Vec<f32> {
    let width = layout.columns.len();
    let mut counts = vec![0.5f64; layout.logit_width()];
    for row in tokens.chunks_exact(width) {
        for (t, &token) in row.iter().enumerate() {
            counts[layout.logits[t].0 + token as usize] += 1.0;
        }
    }
    layout
        .logits
        .iter()
        .flat_map(|&(o, w)| {
            let total: f64 = counts[o..o + w].iter().sum();
            counts[o..o + w]
                .iter()
                .map(move |c| (c / total).ln() as f32)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The tokens of a table's rows on the device, with each token's position in the heads'
/// log-softmax block (what the loss gathers).
struct TokenRows {
    tokens: Tensor<2, Int>,
    positions: Tensor<2, Int>,
    rows: usize,
}

impl TokenRows {
    fn new(tokens: &[u32], block: &OneHotBlock, width: usize, device: &Device) -> Self {
        let rows = tokens.len() / width.max(1);
        let positions: Vec<u32> = tokens
            .chunks_exact(width)
            .flat_map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(t, &token)| block.position(t, token as usize) as u32)
            })
            .collect();
        TokenRows {
            tokens: int_matrix(tokens, rows, width, device),
            positions: int_matrix(&positions, rows, width, device),
            rows,
        }
    }

    fn select(&self, rows: Tensor<1, Int>) -> (Tensor<2, Int>, Tensor<2, Int>) {
        (
            self.tokens.clone().select(0, rows.clone()),
            self.positions.clone().select(0, rows),
        )
    }
}

/// The loss summed over `rows`' tokens (nats): the heads' log-softmax gathered at the tokens.
fn summed_loss(
    net: &ArgnNet,
    (tokens, positions): (Tensor<2, Int>, Tensor<2, Int>),
    masks: (Tensor<2>, Tensor<2>),
    dropout: Option<Tensor<2>>,
    block: &OneHotBlock,
) -> Tensor<1> {
    let mut x = net.embed(tokens);
    if let Some(keep) = dropout {
        x = x * keep;
    }
    let logits = net.logits(x, masks.0, masks.1);
    block.log_softmax(logits).gather(1, positions).sum().neg()
}

/// TabularARGN during training.
pub struct ArgnTrainer {
    config: Valid<ArgnConfig>,
    seed: u64,
    transformer: DataTransformer,
    tokenizer: Tokenizer,
    layout: Layout,
    net: ArgnNet,
    /// The weights with the lowest validation loss so far (inference device).
    best: ArgnNet,
    optim: ModuleOptimizer,
    progress: Progress,
    train: TokenRows,
    validation: Option<TokenRows>,
    block: OneHotBlock,
    output_mask: Tensor<2>,
    batches: EpochBatches,
    noise: Noise,
    orders: SeededRng,
    device: Device,
    losses: LossMeter,
}

impl ArgnTrainer {
    /// Fits the tokenizer on `values` and builds a fresh network (weights from `seed`);
    /// `validation_share` of the rows (drawn from `seed`) are held out for early stopping.
    pub fn new(
        config: Valid<ArgnConfig>,
        transformer: DataTransformer,
        values: Vec<ColumnValues>,
        device: &Device,
        seed: u64,
    ) -> Result<Self> {
        let columns = transformer.modelled_columns();
        let rows = values.first().map_or(0, ColumnValues::rows);
        if rows == 0 {
            return Err(TabularError::Config(
                "the table has no rows to train on".into(),
            ));
        }
        let (tokenizer, tokens) = Tokenizer::fit_encode(&values, &columns, &config);
        let layout = Layout::new(tokenizer.token_columns(), config.width);
        let width = layout.columns.len();

        let mut order: Vec<usize> = (0..rows).collect();
        order.shuffle(&mut seeded_rng(derive_seed(seed, "argn.split", 0)));
        let held_out = ((rows as f64 * config.validation_share) as usize).min(rows - 1);
        let gather = |picked: &[usize]| -> Vec<u32> {
            picked
                .iter()
                .flat_map(|&r| tokens[r * width..(r + 1) * width].iter().copied())
                .collect()
        };
        let (validation_rows, train_rows) = order.split_at(held_out);
        let (train_tokens, validation_tokens) = (gather(train_rows), gather(validation_rows));

        let device = device.clone().autodiff();
        let spans: Vec<(usize, usize)> = layout.logits.clone();
        let block = OneHotBlock::new(&spans, layout.logit_width(), &device)
            .ok_or_else(|| TabularError::Config("the table has no modelled column".into()))?;
        let biases = log_frequencies(&layout, &train_tokens);
        let mut weights = Noise::new(derive_seed(seed, "weights", 0), &device);
        let net = ArgnNet::new(&layout, Some(&biases), &mut weights);
        let batch = config.batch_size(train_rows.len(), *config.context());
        let learning_rate = config.scaled_learning_rate(batch);
        let optim = AdamWConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(config.weight_decay as f32)
            .init();
        let inference = device.clone().without_autodiff();
        let mut trainer = ArgnTrainer {
            best: net.valid(),
            train: TokenRows::new(&train_tokens, &block, width, &device),
            validation: (held_out > 0)
                .then(|| TokenRows::new(&validation_tokens, &block, width, &inference)),
            output_mask: layout.output_mask(&device),
            batches: EpochBatches::new(train_rows.len(), batch),
            noise: Noise::new(seed, &device),
            orders: seeded_rng(seed),
            losses: LossMeter::new(&["loss"]),
            progress: Progress {
                learning_rate,
                best_loss: f64::INFINITY,
                stale_epochs: 0,
            },
            net,
            optim,
            block,
            layout,
            tokenizer,
            transformer,
            config,
            seed,
            device,
        };
        trainer.begin_epoch(0);
        Ok(trainer)
    }

    /// Restores the weights (last and best), optimizer and early-stopping state from a
    /// checkpoint folder.
    pub fn resume(mut self, dir: &Path) -> Result<Self> {
        self.net = load_module(self.net, &dir.join(LAST_FILE))?;
        self.best = load_module(self.best, &dir.join(BEST_FILE))?;
        self.optim = load_optimizer(self.optim, &dir.join(OPTIM_FILE))?;
        self.progress = read_json(&dir.join(STATE_FILE))?;
        Ok(self)
    }

    /// A sampler over the best weights so far.
    pub fn sampler(&self) -> ArgnSampler {
        ArgnSampler::new(
            self.config.clone(),
            self.transformer.clone(),
            self.tokenizer.clone(),
            self.layout.clone(),
            self.best.clone(),
            self.device.clone().without_autodiff(),
        )
    }

    /// The mean validation loss per row under the current weights (no dropout), in the
    /// order unconditional rows are drawn in: the table's, or with random orders only, a
    /// random order per chunk that is the same every epoch.
    fn validation_loss(&self, validation: &TokenRows) -> f64 {
        let net = self.net.valid();
        let device = self.device.clone().without_autodiff();
        let block = OneHotBlock::new(&self.layout.logits, self.layout.logit_width(), &device)
            .expect("the trainer has columns");
        let output_mask = self.layout.output_mask(&device);
        let mut orders = seeded_rng(derive_seed(self.seed, "argn.validation", 0));
        let random_orders = if self.config.random_orders < 1.0 {
            0.0
        } else {
            1.0
        };
        let mut total = 0.0;
        for start in (0..validation.rows).step_by(VALIDATION_CHUNK) {
            let rows: Vec<u32> =
                (start as u32..validation.rows.min(start + VALIDATION_CHUNK) as u32).collect();
            let ranks = training_ranks(random_orders, &self.layout, &mut orders);
            let masks = (self.layout.input_mask(&ranks, &device), output_mask.clone());
            let picked = validation.select(indices(&rows, &device));
            let loss = summed_loss(&net, picked, masks, None, &block);
            total += f64::from(loss.into_scalar::<f32>());
        }
        total / validation.rows as f64
    }
}

impl Trainable for ArgnTrainer {
    fn steps_per_epoch(&self) -> usize {
        self.batches.per_epoch()
    }

    fn begin_epoch(&mut self, epoch: usize) {
        synth_nn::reseed_epoch(self.seed, epoch, &mut self.noise, &mut self.batches);
        self.orders = seeded_rng(derive_seed(self.seed, "argn.order", epoch as u64));
    }

    /// One step on the next mini-batch, in a random column order or the table's.
    fn train_step(&mut self) {
        let rows = indices(self.batches.next_batch(), &self.device);
        let picked = self.train.select(rows);
        let batch = picked.0.dims()[0];
        let ranks = training_ranks(self.config.random_orders, &self.layout, &mut self.orders);
        let masks = (
            self.layout.input_mask(&ranks, &self.device),
            self.output_mask.clone(),
        );
        let dropout = (self.config.dropout > 0.0).then(|| {
            self.noise.dropout_mask(
                batch,
                self.layout.embedding_width(),
                1.0 - self.config.dropout,
            )
        });
        let loss =
            summed_loss(&self.net, picked, masks, dropout, &self.block).div_scalar(batch as f64);
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        self.net = self
            .optim
            .step(self.progress.learning_rate, self.net.clone(), grads);
        self.losses.add(0, loss);
        self.losses.end_step();
    }

    fn take_losses(&mut self) -> Vec<(&'static str, f64)> {
        self.losses.take()
    }

    /// Validates, keeps the best weights, halves the learning rate after `plateau_epochs`
    /// epochs without improvement.
    fn end_epoch(&mut self) -> Vec<(&'static str, f64)> {
        let Some(validation) = &self.validation else {
            self.best = self.net.valid();
            return vec![("learning_rate", self.progress.learning_rate)];
        };
        let loss = self.validation_loss(validation);
        let progress = &mut self.progress;
        if loss < progress.best_loss * (1.0 - MIN_IMPROVEMENT) {
            progress.best_loss = loss;
            progress.stale_epochs = 0;
            self.best = self.net.valid();
        } else {
            progress.stale_epochs += 1;
            if progress
                .stale_epochs
                .is_multiple_of(self.config.plateau_epochs)
            {
                progress.learning_rate /= 2.0;
            }
        }
        vec![
            ("validation_loss", loss),
            ("learning_rate", progress.learning_rate),
        ]
    }

    fn converged(&self) -> bool {
        self.validation.is_some() && self.progress.stale_epochs >= self.config.patience
    }

    fn non_finite_network(&self) -> Option<&'static str> {
        (!all_finite(&self.net)).then_some("argn network")
    }

    fn save(&self, dir: &Path) -> std::result::Result<(), synth_core::BoxError> {
        self.transformer.save(&dir.join(TRANSFORMER_FILE))?;
        let tokens = serde_json::to_string(&self.tokenizer)?;
        synth_core::fsutil::write_atomic(&dir.join(TOKENS_FILE), tokens.as_bytes())?;
        self.best.clone().into_record().save(dir.join(BEST_FILE))?;
        self.net.valid().into_record().save(dir.join(LAST_FILE))?;
        self.optim.save(dir.join(OPTIM_FILE))?;
        let state = serde_json::to_string(&self.progress)?;
        synth_core::fsutil::write_atomic(&dir.join(STATE_FILE), state.as_bytes())?;
        Ok(())
    }
}

/// What sampling does with one token column.
#[derive(Debug, Clone, PartialEq)]
enum Draw {
    /// Drawn from its head.
    Free,
    /// Set to this token (a condition's category, value or missing value).
    Fixed(u32),
    /// Drawn from its head among the allowed tokens only (the first `present` condition).
    Restricted(Vec<bool>),
    /// Drawn from its head; the row is drawn again unless the token is allowed.
    Checked(Vec<bool>),
    /// Drawn from these probabilities, first, whatever the model says (a rebalanced column).
    Weighted(Vec<f64>),
    /// Drawn from its head in its usual place, never one of the withheld tokens (rare-value
    /// protection).
    Protected(Vec<bool>),
}

/// How a sample is drawn under its conditions.
struct Plan {
    /// Per token column.
    draws: Vec<Draw>,
    /// Per modelled column: the value a condition writes as given.
    values: Vec<Option<f64>>,
    /// Per modelled column: the range a condition keeps its numbers in.
    ranges: Vec<Option<(f64, f64)>>,
}

/// A trained network with its tokenizer and transformer.
pub struct ArgnSampler {
    config: Valid<ArgnConfig>,
    transformer: DataTransformer,
    columns: Vec<ModelledColumn>,
    tokenizer: Tokenizer,
    layout: Layout,
    net: ArgnNet,
    device: Device,
    /// A discrete column drawn from given shares instead of the model's (`set_rebalance`).
    rebalance: Option<(usize, Vec<f64>)>,
}

impl ArgnSampler {
    /// Loads a checkpoint folder's transformer, tokenizer and best weights onto `device`.
    pub fn load(dir: &Path, config: &Valid<ArgnConfig>, device: &Device) -> Result<Self> {
        let transformer = DataTransformer::load(&dir.join(TRANSFORMER_FILE))?;
        let path = dir.join(TOKENS_FILE);
        let tokenizer: Tokenizer = read_json(&path)?;
        tokenizer
            .check(&transformer.modelled_columns())
            .map_err(|message| TabularError::InvalidTransformer {
                path: Some(path),
                message,
            })?;
        let device = device.clone().without_autodiff();
        let layout = Layout::new(tokenizer.token_columns(), config.width);
        let net = load_network(&dir.join(BEST_FILE), ArgnNet::values(&layout), || {
            ArgnNet::new(&layout, None, &mut Placeholders::new(&device))
        })?;
        Ok(Self::new(
            config.clone(),
            transformer,
            tokenizer,
            layout,
            net,
            device,
        ))
    }

    fn new(
        config: Valid<ArgnConfig>,
        transformer: DataTransformer,
        tokenizer: Tokenizer,
        layout: Layout,
        net: ArgnNet,
        device: Device,
    ) -> Self {
        ArgnSampler {
            layout,
            columns: transformer.modelled_columns(),
            config,
            transformer,
            tokenizer,
            net,
            device,
            rebalance: None,
        }
    }

    /// How each token column is drawn under `conditions`, the values they fix and the
    /// ranges they keep numbers in.
    fn plan(&self, conditions: &[(String, String)]) -> Result<Plan> {
        // `present` and `missing` are both possible where the column had missing values
        // (and present ones: a column of missing values only is refused when fitted)
        let fixed = parse_conditions(&self.columns, conditions, |j| {
            match &self.tokenizer.columns[j] {
                ColumnTokens::Values { has_null, .. } | ColumnTokens::Bins { has_null, .. } => {
                    if *has_null {
                        0.5
                    } else {
                        0.0
                    }
                }
                ColumnTokens::Categories { .. } => 0.0,
            }
        })?;
        let mut draws = vec![Draw::Free; self.layout.columns.len()];
        let mut values = vec![None; self.columns.len()];
        let mut ranges = vec![None; self.columns.len()];
        let any_order = self.config.any_order();
        let mut restricted = false;
        for (j, what) in fixed {
            let (first, parts) = self.layout.tokens_of(j);
            let vocab = self.layout.columns[first].vocab;
            let unknown = |value: String, available: &str| TabularError::UnknownConditionValue {
                column: self.columns[j].0.name.clone(),
                value,
                available: available.into(),
            };
            // Ok: the column's tokens; Err: the first tokens it may take
            let wanted: std::result::Result<(u32, u32), Vec<bool>> = match what {
                Fixed::Category(c) => Ok((c as u32, 0)),
                Fixed::Presence(false) => Ok((0, 0)),
                Fixed::Value(x) => {
                    values[j] = Some(x);
                    Ok(self.tokenizer.columns[j].number_tokens(x).ok_or_else(|| {
                        unknown(
                            x.to_string(),
                            "a value the column took in the training data",
                        )
                    })?)
                }
                Fixed::Presence(true) => {
                    let mut allowed = vec![true; vocab];
                    allowed[0] = false;
                    Err(allowed)
                }
                Fixed::Range(lo, hi) => {
                    ranges[j] = Some((lo, hi));
                    let within = self.tokenizer.columns[j].tokens_within(lo, hi);
                    if within.is_empty() {
                        return Err(unknown(
                            format!("{lo}..{hi}"),
                            "a range holding a value of the training data",
                        ));
                    }
                    let mut allowed = vec![false; vocab];
                    for k in within {
                        allowed[k as usize] = true;
                    }
                    Err(allowed)
                }
            };
            match wanted {
                Ok((a, b)) if any_order => {
                    draws[first] = Draw::Fixed(a);
                    if parts > 1 {
                        draws[first + 1] = Draw::Fixed(b);
                    }
                }
                Ok((a, _)) => {
                    let mut allowed = vec![false; vocab];
                    allowed[a as usize] = true;
                    draws[first] = Draw::Checked(allowed);
                }
                Err(allowed) => {
                    draws[first] = if any_order && !restricted {
                        restricted = true;
                        Draw::Restricted(allowed)
                    } else {
                        Draw::Checked(allowed)
                    };
                }
            }
        }
        // protected rare values are never drawn; a condition may not ask for one
        for (t, withheld) in self.tokenizer.withheld.iter().enumerate() {
            if withheld.is_empty() {
                continue;
            }
            let mut allowed = vec![true; self.layout.columns[t].vocab];
            for &k in withheld {
                allowed[k as usize] = false;
            }
            draws[t] = match &draws[t] {
                Draw::Free => Draw::Protected(allowed),
                Draw::Fixed(k) if !allowed[*k as usize] => {
                    let column = &self.columns[self.layout.columns[t].column].0.name;
                    return Err(TabularError::Config(format!(
                        "column `{column}`: the value asked for is held by fewer than {RARE_ROWS} training rows, and this model was trained with protect_rare = true, which never samples it"
                    )));
                }
                other => other.clone(),
            };
        }
        if let Some((j, shares)) = &self.rebalance {
            let (t, _) = self.layout.tokens_of(*j);
            // a condition on the column wins: its rows already have the asked-for value
            if let Draw::Free | Draw::Protected(_) = &draws[t] {
                let mut shares = shares.clone();
                if let Draw::Protected(allowed) = &draws[t] {
                    let kept: f64 = shares
                        .iter()
                        .zip(allowed)
                        .filter(|(_, a)| **a)
                        .map(|(p, _)| p)
                        .sum();
                    if kept <= 0.0 {
                        return Err(TabularError::Config(format!(
                            "--rebalance: every share asked for falls on values held by fewer than {RARE_ROWS} training rows, which protect_rare = true never samples"
                        )));
                    }
                    for (p, &a) in shares.iter_mut().zip(allowed) {
                        *p = if a { *p / kept } else { 0.0 };
                    }
                }
                if !any_order {
                    return Err(TabularError::Config(
                        "rebalancing draws the column first, which needs a model trained on \
                         random column orders (model.random_orders above 0)"
                            .into(),
                    ));
                }
                draws[t] = Draw::Weighted(shares);
            }
        }
        Ok(Plan {
            draws,
            values,
            ranges,
        })
    }

    /// The sampling order: with any-order training, fixed tokens first, then restricted
    /// ones, then the rest in table order; else the table order.
    fn ranks(&self, draws: &[Draw]) -> Vec<f32> {
        let stage = |d: &Draw| match d {
            Draw::Fixed(_) | Draw::Weighted(_) => 0,
            Draw::Restricted(_) => 1,
            Draw::Free | Draw::Checked(_) | Draw::Protected(_) => 2,
        };
        let mut order: Vec<usize> = (0..draws.len()).collect();
        if self.config.any_order() {
            order.sort_by_key(|&t| (stage(&draws[t]), t));
        }
        let mut ranks = vec![0.0; draws.len()];
        for (rank, &t) in order.iter().enumerate() {
            ranks[t] = rank as f32;
        }
        ranks
    }

    /// One batch of rows' tokens (row-major), the `Fixed` ones set.
    fn generate(
        &self,
        rows: usize,
        draws: &[Draw],
        ranks: &[f32],
        rng: &mut SeededRng,
    ) -> Vec<u32> {
        let width = draws.len();
        let mut tokens = vec![0u32; rows * width];
        for (t, draw) in draws.iter().enumerate() {
            match draw {
                Draw::Fixed(token) => {
                    for row in 0..rows {
                        tokens[row * width + t] = *token;
                    }
                }
                Draw::Weighted(shares) => {
                    let logits: Vec<f32> = shares.iter().map(|p| p.ln() as f32).collect();
                    for row in 0..rows {
                        tokens[row * width + t] = draw_token(&logits, None, 1.0, 1.0, rng);
                    }
                }
                _ => {}
            }
        }
        self.fill(&mut tokens, draws, ranks, rng);
        tokens
    }

    /// Draws every token column of `tokens` (row-major) that `draws` does not fix, head
    /// after head in the order of `ranks`; the fixed ones are read as they are.
    fn fill(&self, tokens: &mut [u32], draws: &[Draw], ranks: &[f32], rng: &mut SeededRng) {
        let width = draws.len();
        let rows = tokens.len() / width.max(1);
        let mut order: Vec<usize> = (0..width).collect();
        order.sort_by(|&a, &b| ranks[a].total_cmp(&ranks[b]));
        for t in order {
            let allowed = match &draws[t] {
                Draw::Fixed(_) | Draw::Weighted(_) => continue,
                Draw::Restricted(allowed) | Draw::Protected(allowed) => Some(allowed.as_slice()),
                Draw::Free | Draw::Checked(_) => None,
            };
            let x = self
                .net
                .embed(int_matrix(tokens, rows, width, &self.device));
            let mask = self.layout.head_mask(ranks, t);
            let logits = to_host(self.net.head_logits(x, &mask, &self.layout, t));
            let vocab = self.layout.columns[t].vocab;
            for (row, logits) in logits.chunks_exact(vocab).enumerate() {
                tokens[row * width + t] = draw_token(
                    logits,
                    allowed,
                    self.config.temperature,
                    self.config.top_p,
                    rng,
                );
            }
        }
    }

    /// The decimal places each modelled column's numbers are drawn at.
    fn places(&self) -> Vec<Option<u32>> {
        self.columns.iter().map(|(m, _)| m.places()).collect()
    }

    /// The tokens a missing cell of column `j` may be filled with: all but its missing one.
    fn present_tokens(&self, j: usize, vocab: usize) -> Vec<bool> {
        let mut allowed = vec![true; vocab];
        let missing = match &self.tokenizer.columns[j] {
            ColumnTokens::Categories { .. } => self.columns[j]
                .1
                .as_ref()
                .and_then(|(labels, _)| labels.iter().position(|l| l == MISSING_LABEL)),
            ColumnTokens::Values { has_null, .. } | ColumnTokens::Bins { has_null, .. } => {
                has_null.then_some(0)
            }
        };
        if let Some(m) = missing {
            allowed[m] = false;
        }
        allowed
    }
}

/// A token drawn from `softmax(logits / temperature)` (restricted to `allowed`), among the
/// most probable tokens holding `top_p` of the probability.
fn draw_token(
    logits: &[f32],
    allowed: Option<&[bool]>,
    temperature: f64,
    top_p: f64,
    rng: &mut SeededRng,
) -> u32 {
    let ok = |i: usize| allowed.is_none_or(|a| a[i]);
    let top = logits
        .iter()
        .enumerate()
        .filter(|&(i, _)| ok(i))
        .map(|(_, &l)| f64::from(l))
        .fold(f64::NEG_INFINITY, f64::max);
    let mut weights: Vec<(usize, f64)> = logits
        .iter()
        .enumerate()
        .filter(|&(i, _)| ok(i))
        .map(|(i, &l)| (i, ((f64::from(l) - top) / temperature).exp()))
        .collect();
    if top_p < 1.0 {
        weights.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let total: f64 = weights.iter().map(|w| w.1).sum();
        let mut kept = 0.0;
        let keep = weights
            .iter()
            .position(|w| {
                kept += w.1;
                kept >= top_p * total
            })
            .map_or(weights.len(), |i| i + 1);
        weights.truncate(keep);
    }
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut u = rng.random::<f64>() * total;
    for &(i, w) in &weights {
        if u < w {
            return i as u32;
        }
        u -= w;
    }
    weights.last().map_or(0, |w| w.0 as u32)
}

impl TabularSampler for ArgnSampler {
    fn transformer(&self) -> &DataTransformer {
        &self.transformer
    }

    /// The column's named categories get the shares asked for, the others share the rest in
    /// proportion to their training counts; the column is drawn first and the rest of each
    /// row given it.
    fn set_rebalance(&mut self, column: &str, shares: &[(String, f64)]) -> Result<()> {
        let Some(j) = self.columns.iter().position(|(m, _)| m.name == column) else {
            return Err(TabularError::UnknownConditionColumn {
                column: column.into(),
                available: self
                    .columns
                    .iter()
                    .map(|(m, _)| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let Some((labels, counts)) = &self.columns[j].1 else {
            return Err(TabularError::Config(format!(
                "--rebalance: `{column}` is continuous; rebalancing sets the shares of a discrete column's categories"
            )));
        };
        let mut asked: Vec<Option<f64>> = vec![None; labels.len()];
        for (value, share) in shares {
            let k = labels.iter().position(|l| l == value).ok_or_else(|| {
                TabularError::UnknownConditionValue {
                    column: column.into(),
                    value: value.clone(),
                    available: labels.join(", "),
                }
            })?;
            if !(0.0..=1.0).contains(share) {
                return Err(TabularError::Config(format!(
                    "--rebalance: the share of `{column}={value}` must be between 0 and 1 (got {share})"
                )));
            }
            asked[k] = Some(*share);
        }
        let named: f64 = asked.iter().flatten().sum();
        let rest: f64 = (0..labels.len())
            .filter(|&k| asked[k].is_none())
            .map(|k| counts[k] as f64)
            .sum();
        let all_named = rest == 0.0;
        if named > 1.0 + 1e-9 || (all_named && (named - 1.0).abs() > 1e-6) {
            return Err(TabularError::Config(format!(
                "--rebalance: the shares asked for `{column}` add up to {named}; they must add up to at most 1 (exactly 1 when every category{} is named)",
                if all_named { "" } else { " the data holds" }
            )));
        }
        let probabilities = (0..labels.len())
            .map(|k| asked[k].unwrap_or_else(|| (1.0 - named) * counts[k] as f64 / rest))
            .collect();
        self.rebalance = Some((j, probabilities));
        Ok(())
    }

    /// Rows are grouped by which modelled columns they miss; in each group the present cells
    /// are fixed and come first in the order, and each missing cell is drawn from its head
    /// restricted to present values (so a row's first gap is drawn exactly from its
    /// conditional; later gaps of the same row from theirs renormalised without the missing
    /// value). Present cells are kept as they are, numbers exactly.
    fn impute(&self, table: &DataFrame, batch: usize, seed: u64) -> Result<(DataFrame, usize)> {
        if !self.config.any_order() {
            return Err(TabularError::Config(
                "imputing needs a model trained on random column orders (model.random_orders \
                 above 0); this one learned the table's order only"
                    .into(),
            ));
        }
        let (values, missing): (Vec<ColumnValues>, Vec<Vec<bool>>) = self
            .transformer
            .values_with_gaps(table)?
            .into_iter()
            .unzip();
        let rows = table.height();
        let mut tokens = self
            .tokenizer
            .encode_cells(&values, rows, |j, row| missing[j][row])
            .map_err(|(j, row, x)| TabularError::UnseenCategory {
                column: self.columns[j].0.name.clone(),
                row,
                value: x.to_string(),
            })?;
        let width = self.layout.columns.len();
        let mut patterns: BTreeMap<Vec<bool>, Vec<usize>> = BTreeMap::new();
        for row in 0..rows {
            let gaps: Vec<bool> = missing.iter().map(|m| m[row]).collect();
            patterns.entry(gaps).or_default().push(row);
        }
        let mut rng = seeded_rng(derive_seed(seed, "argn.impute", 0));
        let mut filled = 0;
        for (gaps, members) in patterns.iter().filter(|(gaps, _)| gaps.contains(&true)) {
            let draws: Vec<Draw> = self
                .layout
                .columns
                .iter()
                .map(|c| {
                    if gaps[c.column] {
                        Draw::Restricted(self.present_tokens(c.column, c.vocab))
                    } else {
                        Draw::Fixed(0)
                    }
                })
                .collect();
            let ranks = self.ranks(&draws);
            for chunk in members.chunks(batch.max(1)) {
                let mut group: Vec<u32> = chunk
                    .iter()
                    .flat_map(|&r| tokens[r * width..(r + 1) * width].iter().copied())
                    .collect();
                self.fill(&mut group, &draws, &ranks, &mut rng);
                for (drawn, &r) in group.chunks_exact(width).zip(chunk) {
                    tokens[r * width..(r + 1) * width].copy_from_slice(drawn);
                }
            }
            filled += members.len() * gaps.iter().filter(|&&g| g).count();
        }
        let mut values_rng = seeded_rng(derive_seed(seed, "argn.impute.values", 0));
        let mut decoded =
            self.tokenizer
                .decode(&tokens, rows, &self.places(), &[], &mut values_rng);
        // present numbers stay exactly as given (decoding would draw inside their bin)
        for ((out, given), missing) in decoded.iter_mut().zip(&values).zip(&missing) {
            if let (ColumnValues::Numbers(out), ColumnValues::Numbers(given)) = (out, given) {
                for (row, cell) in out.iter_mut().enumerate() {
                    if !missing[row] {
                        *cell = given[row];
                    }
                }
            }
        }
        let mut result = self.transformer.decode_values(&decoded, rows, 0)?;
        // the columns the model does not learn (keys, ignored) are copied as they are
        let meta = self.transformer.meta();
        for column in meta.columns.iter().filter(|m| !m.kind.is_modelled()) {
            let polars = |source| TabularError::Polars {
                column: column.name.clone(),
                source,
            };
            let original = table.column(&column.name).map_err(polars)?.clone();
            result.replace(&column.name, original).map_err(polars)?;
        }
        Ok((result, filled))
    }

    fn sample_into(
        &self,
        n: usize,
        condition: &[(String, String)],
        batch: usize,
        seed: u64,
        sink: &mut RowSink,
    ) -> Result<Option<f64>> {
        let Plan {
            draws,
            values,
            ranges,
        } = self.plan(condition)?;
        let ranks = self.ranks(&draws);
        let width = draws.len();
        let places = self.places();
        let mut rng = seeded_rng(derive_seed(seed, "argn.sample", 0));
        let mut values_rng = seeded_rng(derive_seed(seed, "argn.values", 0));
        let batch = batch.max(1);
        let limit = n.saturating_mul(1000).max(100_000);
        let (mut delivered, mut generated, mut matched_first_pass) = (0usize, 0usize, 0usize);
        let mut kept: Vec<u32> = Vec::new();
        while delivered < n {
            if generated >= limit {
                return Err(TabularError::ConditionUnreachable {
                    generated,
                    matched: delivered + kept.len() / width,
                });
            }
            let chunk = batch.min(n - delivered);
            let tokens = self.generate(chunk, &draws, &ranks, &mut rng);
            for row in tokens.chunks_exact(width) {
                let ok = draws.iter().zip(row).all(|(d, &token)| match d {
                    Draw::Checked(allowed) => allowed[token as usize],
                    _ => true,
                });
                matched_first_pass += usize::from(ok && generated < n);
                generated += 1;
                if ok && kept.len() / width < chunk {
                    kept.extend_from_slice(row);
                }
            }
            if kept.len() / width == chunk {
                let mut decoded =
                    self.tokenizer
                        .decode(&kept, chunk, &places, &ranges, &mut values_rng);
                for (column, value) in decoded.iter_mut().zip(&values) {
                    if let (ColumnValues::Numbers(numbers), Some(x)) = (column, value) {
                        numbers.fill(Some(*x));
                    }
                }
                let table = self
                    .transformer
                    .decode_values(&decoded, chunk, delivered as u64)?;
                sink(table).map_err(TabularError::Output)?;
                delivered += chunk;
                kept.clear();
            }
        }
        Ok((!condition.is_empty()).then(|| matched_first_pass as f64 / n.max(1) as f64))
    }
}

impl TabularModel for Valid<ArgnConfig> {
    fn kind(&self) -> &'static str {
        ArgnConfig::KIND
    }

    fn fitted_on_values(&self) -> bool {
        true
    }

    fn trainer(
        &self,
        transformer: DataTransformer,
        table: TrainingTable,
        device: &Device,
        seed: u64,
        resume_from: Option<&Path>,
    ) -> Result<Box<dyn Trainable>> {
        let values = table.values()?;
        let trainer = ArgnTrainer::new(self.clone(), transformer, values, device, seed)?;
        Ok(Box::new(match resume_from {
            Some(dir) => trainer.resume(dir)?,
            None => trainer,
        }))
    }

    fn sampler(&self, checkpoint: &Path, device: &Device) -> Result<Box<dyn TabularSampler>> {
        Ok(Box::new(ArgnSampler::load(checkpoint, self, device)?))
    }
}

#[cfg(test)]
mod tests;
