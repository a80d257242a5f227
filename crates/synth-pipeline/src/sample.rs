//! Sampling from a checkpoint: rows written to a CSV or Parquet file or images to a folder
//! ([`run_sampling`], what `synth-sample` runs), or rows returned as a DataFrame
//! ([`Synthesizer`], what the Python package runs). A [`Shard`] splits one draw into parts
//! that any number of processes or machines produce independently.

use crate::backend::{Backend, select_device};
use crate::config::{Model, RunConfig};
use crate::error::{Context, PipelineError, Result, ensure};
use burn::tensor::Device;
use std::path::{Path, PathBuf};
use synth_constraints::{ConstrainedSampler, Constraints};
use synth_core::seed::derive_seed;
use synth_core::{Checkpoint, DType, Manifest, TableMeta};
use synth_data::{TableFormat, TableWriter, read_table};
use synth_image::png::ImageShape;
use synth_image::{GRID_FILE, class_condition, write_pngs};
use synth_tabular::{ConditionFrequencies, Sampled, TabularModel, TabularSampler};

/// What `synth-sample` was asked to do.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    /// A checkpoint folder, a `ckpt` folder or a run folder.
    pub checkpoint: PathBuf,
    /// Rows (tables) or images to generate.
    pub rows: usize,
    /// Tables: the output file (`.csv` or `.parquet`). Images: the output folder.
    pub output: PathBuf,
    /// Seed (default: the run's seed).
    pub seed: Option<u64>,
    /// `column = value` conditions (tables only).
    pub conditions: Vec<(String, String)>,
    /// Overrides the checkpoint's backend.
    pub backend: Option<Backend>,
    /// Fail when wgpu has no adapter instead of falling back to the CPU.
    pub strict_backend: bool,
    /// Rows or images generated per batch.
    pub batch_size: usize,
    /// Tables: how rows without a condition draw their condition vector (CTGAN).
    pub condition_frequencies: ConditionFrequencies,
    /// Tables: instead of new rows, this table's rows with their missing cells filled.
    pub impute: Option<PathBuf>,
    /// Tables: `(column, value, share)`: one discrete column drawn at these shares.
    pub rebalance: Vec<(String, String, f64)>,
    /// Tables: only this part of the `rows` rows.
    pub shard: Shard,
}

/// What sampling produced.
#[derive(Debug, Clone)]
pub struct SampleReport {
    /// The checkpoint folder used.
    pub checkpoint: PathBuf,
    /// Rows or images written.
    pub rows: usize,
    /// What was written: `rows` or `images`.
    pub unit: &'static str,
    /// With conditions: share of first-pass rows that satisfied them.
    pub first_pass_match_rate: Option<f64>,
    /// With `impute`: the number of cells filled.
    pub filled: Option<usize>,
}

/// Generates rows (written as CSV or Parquet) or images (written as PNG files and a grid into
/// a folder) from a checkpoint.
pub fn run_sampling(request: &SampleRequest) -> Result<SampleReport> {
    ensure(request.rows > 0 || request.impute.is_some(), || {
        "-n must be at least 1".into()
    })?;
    ensure(request.batch_size > 0, || {
        "--batch-size must be at least 1".into()
    })?;
    let Opened {
        dir,
        manifest,
        config,
        model,
        device,
    } = open_checkpoint(&request.checkpoint, request.backend, request.strict_backend)?;
    let seed = request.shard.seed(request.seed.unwrap_or(manifest.seed));
    let mut report = SampleReport {
        checkpoint: dir.clone(),
        rows: request.rows,
        unit: "rows",
        first_pass_match_rate: None,
        filled: None,
    };
    match model {
        Model::Table(model) => {
            TableFormat::from_path(&request.output)?;
            let mut sampler = table_sampler(model.as_ref(), &dir, &device)?;
            sampler
                .set_condition_frequencies(request.condition_frequencies)
                .with_context(|| {
                    format!(
                        "--condition-frequencies on {} ({} checkpoint)",
                        dir.display(),
                        manifest.kind
                    )
                })?;
            if let Some((column, _, _)) = request.rebalance.first() {
                ensure(
                    request.rebalance.iter().all(|(c, _, _)| c == column),
                    || {
                        format!(
                            "--rebalance names one column (its categories' shares); got {}",
                            request
                                .rebalance
                                .iter()
                                .map(|(c, _, _)| c.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                )?;
                let shares: Vec<(String, f64)> = request
                    .rebalance
                    .iter()
                    .map(|(_, value, share)| (value.clone(), *share))
                    .collect();
                sampler.set_rebalance(column, &shares).with_context(|| {
                    format!(
                        "--rebalance on {} ({} checkpoint)",
                        dir.display(),
                        manifest.kind
                    )
                })?;
            }
            // Rows go to the file a batch at a time: memory does not grow with -n, and
            // nothing appears at the output path unless every row was written.
            let mut writer = TableWriter::create(&request.output)?
                .fixed_decimals(float_decimals(&sampler.meta()));
            if let Some(path) = &request.impute {
                ensure(request.conditions.is_empty(), || {
                    "--impute fills each row's missing cells given its present ones; it takes no --condition".into()
                })?;
                let table = read_table(path)?;
                let (mut filled, cells) = sampler
                    .impute(&table, request.batch_size, seed)
                    .with_context(|| {
                        format!(
                            "imputing {} with {} ({} checkpoint)",
                            path.display(),
                            dir.display(),
                            manifest.kind
                        )
                    })?;
                writer.write(&mut filled)?;
                writer.finish()?;
                report.rows = filled.height();
                report.filled = Some(cells);
                return Ok(report);
            }
            let mut rows = 0;
            report.first_pass_match_rate = sampler.sample_into(
                request.shard.rows(request.rows),
                &request.conditions,
                request.batch_size,
                seed,
                &mut |mut chunk| {
                    rows += chunk.height();
                    Ok(writer.write(&mut chunk)?)
                },
            )?;
            writer.finish()?;
            report.rows = rows;
        }
        Model::Image(model) => {
            ensure(request.shard == Shard::WHOLE, || {
                "--shard splits a table's rows; image models sample whole".into()
            })?;
            ensure(
                request.condition_frequencies == ConditionFrequencies::Data,
                || {
                    format!(
                        "--condition-frequencies applies to tabular models; {} is a {} checkpoint",
                        dir.display(),
                        manifest.kind
                    )
                },
            )?;
            ensure(!request.output.is_file(), || {
                format!(
                    "-o {}: an image model writes PNG files into a folder; name a folder, not a file",
                    request.output.display()
                )
            })?;
            let spec = config.data.image_spec();
            let shape = ImageShape {
                channels: spec.channels as usize,
                size: spec.size as usize,
            };
            let sampler = model.sampler(&dir, shape, &device)?;
            let class = class_condition(&*sampler, &request.conditions)
                .with_context(|| format!("{} ({} checkpoint)", dir.display(), manifest.kind))?;
            write_pngs(
                &*sampler,
                &request.output,
                request.rows,
                request.batch_size,
                class,
                seed,
            )?;
            tracing::info!(grid = %request.output.join(GRID_FILE).display(), "sample grid written");
            report.unit = "images";
        }
    }
    Ok(report)
}

/// A checkpoint opened for sampling.
pub(crate) struct Opened {
    /// The checkpoint folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The run's config, as saved beside it.
    pub config: RunConfig,
    /// Its model, validated.
    pub model: Model,
    /// The device to sample on.
    pub device: Device,
}

/// Resolves a checkpoint (or `ckpt`/run folder), reads its manifest and config (which must
/// agree on the model), and picks the device: `backend`, or the one the model was trained on.
pub(crate) fn open_checkpoint(
    path: &Path,
    backend: Option<Backend>,
    strict_backend: bool,
) -> Result<Opened> {
    let checkpoint = Checkpoint::find(path)?;
    let manifest = checkpoint.manifest()?;
    let (config, model) = RunConfig::load_validated(&checkpoint.config_file())?;
    let dir = checkpoint.into_dir();
    if manifest.kind != config.model.kind() {
        return Err(PipelineError::Invalid(format!(
            "{}: manifest says {}, config says {}",
            dir.display(),
            manifest.kind,
            config.model.kind()
        )));
    }
    let (_, device) = select_device(backend.unwrap_or(config.train.backend), strict_backend)?;
    Ok(Opened {
        dir,
        manifest,
        config,
        model,
        device,
    })
}

/// The sampler of a tabular checkpoint folder: its model's, inside the constraints it was
/// trained with (if any), so that every row it hands out obeys them.
pub(crate) fn table_sampler(
    model: &dyn TabularModel,
    dir: &Path,
    device: &Device,
) -> Result<Box<dyn TabularSampler>> {
    let sampler = model.sampler(dir, device)?;
    Ok(match Constraints::load(dir)? {
        Some(constraints) => Box::new(ConstrainedSampler::new(sampler, constraints)),
        None => sampler,
    })
}

/// The decimal places of each float column, for CSV output: floats keep the places learned
/// from the data (`12.30`, not `12.3`).
pub(crate) fn float_decimals(meta: &TableMeta) -> Vec<(String, u32)> {
    meta.columns
        .iter()
        .filter(|c| matches!(c.dtype, DType::F32 | DType::F64))
        .filter_map(|c| Some((c.name.clone(), c.decimals?)))
        .collect()
}

/// One part of a draw of rows, so that `count` processes (or machines) each sampling their
/// part produce, together, the same rows whichever engine runs them: part `index` (0-based)
/// has `rows / count` rows (one more for the first `rows % count` parts) and its own seed
/// derived from the draw's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl Shard {
    /// The whole draw: every row, the draw's own seed.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Part `index` of `count`; an error unless `index < count`.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        ensure(index < count, || {
            format!(
                "shard {index} of {count}: the shard index must be below the number of shards (0-based)"
            )
        })?;
        Ok(Shard { index, count })
    }

    /// Parses `I/K` (part I of K, 0-based).
    pub fn parse(text: &str) -> Result<Self> {
        let wrong = || {
            PipelineError::Invalid(format!(
                "expected a shard as INDEX/COUNT (e.g. 0/4), got `{text}`"
            ))
        };
        let (index, count) = text.split_once('/').ok_or_else(wrong)?;
        let number = |part: &str| part.trim().parse::<usize>().map_err(|_| wrong());
        Shard::new(number(index)?, number(count)?)
    }

    /// The rows of this part of a draw of `rows`.
    pub fn rows(self, rows: usize) -> usize {
        rows / self.count + usize::from(self.index < rows % self.count)
    }

    /// The seed of this part of a draw seeded `seed` (the seed itself for the whole draw).
    pub fn seed(self, seed: u64) -> u64 {
        if self == Shard::WHOLE {
            seed
        } else {
            derive_seed(seed, &format!("shard {} of {}", self.index, self.count), 0)
        }
    }
}

/// A tabular checkpoint opened for sampling rows into DataFrames.
pub struct Synthesizer {
    dir: PathBuf,
    manifest: Manifest,
    config: RunConfig,
    model: Box<dyn TabularModel>,
    device: Device,
}

/// A draw of rows from a [`Synthesizer`].
#[derive(Debug, Clone)]
pub struct Draw {
    /// Rows of the whole draw (the shard gets its part).
    pub rows: usize,
    /// Seed (default: the run's seed).
    pub seed: Option<u64>,
    /// `column = value` conditions.
    pub conditions: Vec<(String, String)>,
    /// Rows generated per batch.
    pub batch_size: usize,
    /// The part of the draw to sample.
    pub shard: Shard,
}

impl Draw {
    /// `rows` rows with the run's seed, no condition, in batches of 10,000.
    pub fn rows(rows: usize) -> Self {
        Draw {
            rows,
            seed: None,
            conditions: Vec::new(),
            batch_size: 10_000,
            shard: Shard::WHOLE,
        }
    }
}

impl Synthesizer {
    /// Opens a checkpoint folder, a `ckpt` folder or a run folder of a tabular model, on
    /// `backend` (default: the one it was trained on).
    pub fn open(path: &Path, backend: Option<Backend>) -> Result<Self> {
        let Opened {
            dir,
            manifest,
            config,
            model,
            device,
        } = open_checkpoint(path, backend, false)?;
        match model {
            Model::Table(model) => Ok(Synthesizer {
                dir,
                manifest,
                config,
                model,
                device,
            }),
            Model::Image(_) => Err(PipelineError::Invalid(format!(
                "{} holds a {} image model; a Synthesizer samples tables (use synth-sample for images)",
                dir.display(),
                manifest.kind
            ))),
        }
    }

    /// The checkpoint folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The checkpoint's manifest (kind, seed, epochs trained).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The run's config, as saved with the checkpoint.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// Samples the draw's rows (its shard's part), conditions satisfied.
    pub fn sample(&self, draw: &Draw) -> Result<Sampled> {
        ensure(draw.batch_size > 0, || {
            "the batch size must be at least 1".into()
        })?;
        let seed = draw.shard.seed(draw.seed.unwrap_or(self.manifest.seed));
        let sampler = table_sampler(self.model.as_ref(), &self.dir, &self.device)?;
        Ok(sampler.sample(
            draw.shard.rows(draw.rows),
            &draw.conditions,
            draw.batch_size,
            seed,
        )?)
    }
}
