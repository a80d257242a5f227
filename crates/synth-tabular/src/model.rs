//! What every tabular model provides, so the command-line tools dispatch on [`TabularModel`]
//! without naming a concrete model, plus the sampling loop with conditions they share.

use crate::sampler::{ConditionalSampler, FixedCondition};
use crate::tensors::Noise;
use crate::transform::{ColumnValues, DataTransformer, EncodedTable, TransformerConfig};
use crate::{Result, TabularError};
use burn::prelude::*;
use polars::prelude::DataFrame;
use std::path::Path;
use synth_core::seed::derive_seed;
use synth_core::seed::{SeededRng, seeded_rng};
use synth_core::{BoxError, TableMeta, Trainable};

/// File name of the fitted transformer inside a checkpoint folder.
pub const TRANSFORMER_FILE: &str = "transformer.json";

/// What a model is fitted on.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingTable {
    /// The mode-specific encoding (the neural models).
    Encoded(EncodedTable),
    /// Each modelled column's values (statistical models fitted in closed form).
    Values(Vec<ColumnValues>),
}

impl TrainingTable {
    /// The columns' values, for models fitted on them.
    pub fn values(self) -> Result<Vec<ColumnValues>> {
        match self {
            TrainingTable::Values(values) => Ok(values),
            TrainingTable::Encoded(_) => Err(TabularError::Config(
                "this model is fitted on column values, not on the encoded table".into(),
            )),
        }
    }

    /// The encoded table, for models trained on it.
    pub fn encoded(self) -> Result<EncodedTable> {
        match self {
            TrainingTable::Encoded(table) => Ok(table),
            TrainingTable::Values(_) => Err(TabularError::Config(
                "this model trains on the encoded table, not on column values".into(),
            )),
        }
    }
}

/// A tabular model's validated settings (one `[model]` kind, checked against the batch size
/// they train with), able to build a trainer and to load a sampler from a checkpoint.
pub trait TabularModel {
    /// The `[model] kind` name, also recorded in checkpoint manifests.
    fn kind(&self) -> &'static str;
    /// Whether the model is fitted on column values ([`TrainingTable::Values`]) rather than
    /// on the mode-specific encoding; such models need no mixture per continuous column, so
    /// the transformer fits a single mode (the column codec only).
    fn fitted_on_values(&self) -> bool {
        false
    }
    /// The transformer settings to fit with: `configured`, with one mode per continuous
    /// column for models fitted on values (the transformer is then the column codec alone).
    fn transformer_config(&self, configured: &TransformerConfig) -> TransformerConfig {
        if self.fitted_on_values() {
            one_mode(configured)
        } else {
            configured.clone()
        }
    }
    /// The transformer the model trains with and its checkpoints keep: the fitted one, or
    /// for a private model what of it may be released.
    fn released_transformer(&self, fitted: DataTransformer) -> Result<DataTransformer> {
        Ok(fitted)
    }
    /// What the model is fitted on from `df`: its modelled columns' values, or their
    /// encoding (mode draws from `seed`).
    fn training_table(
        &self,
        transformer: &DataTransformer,
        df: &DataFrame,
        seed: u64,
    ) -> Result<TrainingTable> {
        Ok(if self.fitted_on_values() {
            TrainingTable::Values(transformer.values(df)?)
        } else {
            TrainingTable::Encoded(transformer.encode(df, seed)?)
        })
    }
    /// A trainer with fresh weights drawn from `seed`, or with the weights and optimizer state
    /// of the checkpoint folder `resume_from`.
    fn trainer(
        &self,
        transformer: DataTransformer,
        table: TrainingTable,
        device: &Device,
        seed: u64,
        resume_from: Option<&Path>,
    ) -> Result<Box<dyn Trainable>>;
    /// The trained generator of a checkpoint folder, on `device`.
    fn sampler(&self, checkpoint: &Path, device: &Device) -> Result<Box<dyn TabularSampler>>;
}

/// `configured` with one mode per continuous column: no mixture is fitted.
pub(crate) fn one_mode(configured: &TransformerConfig) -> TransformerConfig {
    let mut config = configured.clone();
    config.mixture.max_modes = 1;
    config
}

/// The trainer of a model fitted in closed form when its trainer is built (GaussianCopula,
/// MST): "training" is one step that reports the fit's figures, and a checkpoint holds the
/// transformer and the fit's own files.
pub struct FittedOnce {
    transformer: DataTransformer,
    figures: Vec<(&'static str, f64)>,
    non_finite: Option<&'static str>,
    save_fit: SaveFit,
    losses: Vec<(&'static str, f64)>,
}

/// Writes a fit's own files into a checkpoint folder.
type SaveFit = Box<dyn Fn(&Path) -> std::result::Result<(), BoxError> + Send>;

impl FittedOnce {
    /// A fit whose one step reports `figures`, that names itself `non_finite` when a fitted
    /// value is not finite, and whose files `save_fit` writes (beside the transformer).
    pub fn new(
        transformer: DataTransformer,
        figures: Vec<(&'static str, f64)>,
        non_finite: Option<&'static str>,
        save_fit: impl Fn(&Path) -> std::result::Result<(), BoxError> + Send + 'static,
    ) -> Self {
        FittedOnce {
            transformer,
            figures,
            non_finite,
            save_fit: Box::new(save_fit),
            losses: Vec::new(),
        }
    }
}

/// Writes `value` as pretty JSON to `dir/file`, atomically.
pub(crate) fn write_json(
    dir: &Path,
    file: &str,
    value: &impl serde::Serialize,
) -> std::result::Result<(), BoxError> {
    let json = serde_json::to_string_pretty(value)?;
    synth_core::fsutil::write_atomic(&dir.join(file), json.as_bytes())?;
    Ok(())
}

impl Trainable for FittedOnce {
    /// The whole fit is one step.
    fn steps_per_epoch(&self) -> usize {
        1
    }

    fn begin_epoch(&mut self, _epoch: usize) {}

    fn train_step(&mut self) {
        self.losses = self.figures.clone();
    }

    fn take_losses(&mut self) -> Vec<(&'static str, f64)> {
        std::mem::take(&mut self.losses)
    }

    fn non_finite_network(&self) -> Option<&'static str> {
        self.non_finite
    }

    fn save(&self, dir: &Path) -> std::result::Result<(), BoxError> {
        self.transformer.save(&dir.join(TRANSFORMER_FILE))?;
        (self.save_fit)(dir)
    }
}

/// Receives decoded rows chunk by chunk (e.g. writes them to a file).
pub type RowSink<'a> = dyn FnMut(DataFrame) -> std::result::Result<(), BoxError> + 'a;

/// A trained model that produces rows.
pub trait TabularSampler {
    /// The transformer the rows are decoded with: the columns, their types and formats.
    fn transformer(&self) -> &DataTransformer;

    /// The columns of the rows this sampler hands out: the transformer's, unless a layer
    /// around the model (constraints) turns its rows into others.
    fn meta(&self) -> TableMeta {
        self.transformer().meta()
    }

    /// Generates `n` rows in batches of `batch` and hands them to `sink` decoded, at most
    /// `batch` rows at a time, so memory does not grow with `n`. With `column = value`
    /// conditions every row satisfies them; returns the first-pass match rate then.
    fn sample_into(
        &self,
        n: usize,
        condition: &[(String, String)],
        batch: usize,
        seed: u64,
        sink: &mut RowSink,
    ) -> Result<Option<f64>>;

    /// [`TabularSampler::sample_into`] collected into one table (the same rows).
    fn sample(
        &self,
        n: usize,
        condition: &[(String, String)],
        batch: usize,
        seed: u64,
    ) -> Result<Sampled> {
        let mut table: Option<DataFrame> = None;
        let first_pass_match_rate = self.sample_into(n, condition, batch, seed, &mut |chunk| {
            match &mut table {
                None => table = Some(chunk),
                Some(all) => {
                    all.vstack_mut(&chunk)
                        .map_err(|source| TabularError::Polars {
                            column: "(sampled rows)".into(),
                            source,
                        })?;
                }
            }
            Ok(())
        })?;
        let mut table = table.unwrap_or_default();
        table.rechunk_mut();
        Ok(Sampled {
            table,
            first_pass_match_rate,
        })
    }

    /// `table` (the training table's columns) with its missing cells in modelled columns
    /// filled by draws from the model given each row's present cells, drawn `batch` rows at
    /// a time; returns the table and the number of cells filled. Only models that condition
    /// exactly on any set of columns can; the others refuse.
    fn impute(&self, _table: &DataFrame, _batch: usize, _seed: u64) -> Result<(DataFrame, usize)> {
        Err(TabularError::Config(
            "imputing missing cells needs a model that conditions on any set of columns: \
             train TabularARGN (kind = \"argn\") with random_orders above 0"
                .into(),
        ))
    }

    /// Draws discrete column `column` at the given shares of its categories (the others
    /// keep their training proportions within the rest) and every other column given it:
    /// a rebalanced table. Only models that can draw any column first can; the others refuse.
    fn set_rebalance(&mut self, _column: &str, _shares: &[(String, f64)]) -> Result<()> {
        Err(TabularError::Config(
            "rebalancing a column needs a model that can draw any column first: train \
             TabularARGN (kind = \"argn\")"
                .into(),
        ))
    }

    /// How rows sampled without a condition draw their condition vector. Only models
    /// trained with condition vectors (CTGAN) have a choice; the others always follow the
    /// data and refuse [`ConditionFrequencies::Training`].
    fn set_condition_frequencies(&mut self, frequencies: ConditionFrequencies) -> Result<()> {
        match frequencies {
            ConditionFrequencies::Data => Ok(()),
            ConditionFrequencies::Training => Err(TabularError::Config(
                "condition frequencies `training` apply to models trained with condition \
                 vectors (CTGAN); this model's rows always follow the data"
                    .into(),
            )),
        }
    }
}

/// Where the condition vectors of rows sampled without a condition come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionFrequencies {
    /// A discrete column uniformly, then its category at the data's frequency: the sample's
    /// marginals follow the data (the spec's choice, and the default).
    #[default]
    Data,
    /// The training-by-sampling distribution (log frequency unless the model was trained
    /// with `log_frequency = false`), as the Python reference samples: rare categories of
    /// every column are over-represented.
    Training,
}

/// Result of [`TabularSampler::sample`].
pub struct Sampled {
    /// The decoded rows.
    pub table: DataFrame,
    /// With a condition: share of generated rows satisfying it in the first pass.
    pub first_pass_match_rate: Option<f64>,
}

/// The sampling loop every tabular model shares: `generate(batch, condition, rng, noise)`
/// returns a batch of encoded rows (host, row-major); with a condition, rows that do not
/// satisfy it are discarded and more are generated until `n` do. Kept rows are decoded (each
/// batch's worth while the next batch is generated) and handed to `sink` in order; returns
/// the first-pass match rate of a condition.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample_rows(
    transformer: &DataTransformer,
    n: usize,
    condition: &[(String, String)],
    batch: usize,
    seed: u64,
    device: &Device,
    sink: &mut RowSink,
    mut generate: impl FnMut(usize, Option<&FixedCondition>, &mut SeededRng, &mut Noise) -> Vec<f32>
    + Send,
) -> Result<Option<f64>> {
    let mut noise = Noise::new(derive_seed(seed, "sample.noise", 0), device);
    let mut rng = seeded_rng(derive_seed(seed, "sample.conditions", 0));
    let fixed = if condition.is_empty() {
        None
    } else {
        Some(
            ConditionalSampler::new(transformer.condition_spans(), false)
                .fixed_condition(condition)?,
        )
    };
    let width = transformer.width();
    let batch = batch.max(1);
    let limit = n.saturating_mul(1000).max(100_000);
    n.checked_mul(width)
        .filter(|&values| values <= isize::MAX as usize / std::mem::size_of::<f32>())
        .ok_or(TabularError::TooManyRows { rows: n, width })?;
    let chunk_rows = batch.min(n);
    let mut kept: Vec<f32> = Vec::new();
    // rows put into chunks so far, and the chunks (with their first row's number) waiting to
    // be decoded: each is decoded while the next batch is generated
    let (mut queued, mut generated, mut matched_first_pass) = (0usize, 0usize, 0usize);
    let mut waiting: Vec<(EncodedTable, usize)> = Vec::new();
    while queued < n || !waiting.is_empty() {
        let more = queued < n;
        if more && generated >= limit {
            return Err(TabularError::ConditionUnreachable {
                generated,
                matched: queued + kept.len() / width,
            });
        }
        let chunks = std::mem::take(&mut waiting);
        let (decoded, data) = rayon::join(
            || {
                chunks
                    .iter()
                    .map(|(chunk, first)| transformer.decode(chunk, *first as u64))
                    .collect::<Result<Vec<_>>>()
            },
            || more.then(|| generate(batch, fixed.as_ref(), &mut rng, &mut noise)),
        );
        for table in decoded? {
            sink(table).map_err(TabularError::Output)?;
        }
        let Some(mut data) = data else { continue };
        // rows the chunks still need
        let room = n - queued;
        match &fixed {
            // every row is kept: the batch itself, not a row-by-row copy of it
            None => {
                generated += data.len() / width;
                data.truncate((room - kept.len() / width).min(data.len() / width) * width);
                if kept.is_empty() {
                    kept = data;
                } else {
                    kept.extend_from_slice(&data);
                }
            }
            Some(fixed) => {
                for row in data.chunks_exact(width) {
                    let ok = fixed.is_satisfied_by(row);
                    matched_first_pass += usize::from(ok && generated < n);
                    generated += 1;
                    if ok && kept.len() / width < room {
                        kept.extend_from_slice(row);
                    }
                }
            }
        }
        // full chunks, and the last one, wait to be decoded while the next batch is generated
        while kept.len() >= chunk_rows * width
            || (!kept.is_empty() && queued + kept.len() / width == n)
        {
            let rest = kept.split_off(kept.len().min(chunk_rows * width));
            let data = std::mem::replace(&mut kept, rest);
            let rows = data.len() / width;
            waiting.push((EncodedTable { data, rows, width }, queued));
            queued += rows;
        }
    }
    Ok(fixed.map(|_| matched_first_pass as f64 / n.max(1) as f64))
}
