//! Training and sampling for any configured model: tabular models through
//! [`synth_tabular::TabularModel`], image models through [`synth_image::ImageModel`] (the one
//! `match` on their kind is [`crate::config::ModelConfig::validated`]).

use crate::backend::{Backend, select_device};
use crate::config::{DataConfig, Model, RunConfig, toml_leaves};
use crate::evaluate::TrainingScorer;
use anyhow::{Context, bail, ensure};
use burn::tensor::Device;
use std::path::{Path, PathBuf};
use synth_core::checkpoint::CHECKPOINTS_DIR;
use synth_core::manifest::{FORMAT_VERSION, data_hash};
use synth_core::seed::derive_seed;
use synth_core::{Checkpoint, DType, Manifest, TableMeta, Trainable};
use synth_data::images::{load_idx, load_image_folder};
use synth_data::metadata::{METADATA_FILE, Metadata};
use synth_data::{TableFormat, TableWriter, infer_meta, read_table};
use synth_image::png::ImageShape;
use synth_image::{GRID_FILE, ImageModel, class_condition, write_pngs};
use synth_tabular::{
    ConditionFrequencies, DataTransformer, TRANSFORMER_FILE, TabularModel, TrainingTable,
};
use synth_train::{CheckpointScorer, PREVIEW_DIR, TrainOptions, TrainReport, train_scored};

/// The burn version pinned in the workspace `Cargo.toml`, recorded in manifests.
pub const BURN_VERSION: &str = "0.22.1";

/// What `synth-train` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct TrainRequest {
    /// The run config file.
    pub config: PathBuf,
    /// Overrides `train.backend`.
    pub backend: Option<Backend>,
    /// Fail when wgpu has no adapter instead of falling back to the CPU.
    pub strict_backend: bool,
    /// Overrides `train.epochs`.
    pub epochs: Option<usize>,
    /// Overrides `train.out_dir`.
    pub out_dir: Option<PathBuf>,
    /// Overrides `seed`.
    pub seed: Option<u64>,
    /// Continue from the latest checkpoint in the run folder.
    pub resume: bool,
    /// Start afresh in a run folder that holds an earlier run, deleting its checkpoints,
    /// metrics and previews first.
    pub overwrite: bool,
    /// Draw a progress bar.
    pub progress: bool,
    /// Raised to stop at the end of the current epoch (with its checkpoint).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// Trains the configured model, writing checkpoints and metrics into the run folder.
pub fn run_training(request: &TrainRequest) -> anyhow::Result<TrainReport> {
    let mut config = RunConfig::load(&request.config)?;
    if let Some(b) = request.backend {
        config.train.backend = b;
    }
    config.train.strict_backend |= request.strict_backend;
    if let Some(e) = request.epochs {
        config.train.epochs = e;
    }
    if let Some(dir) = &request.out_dir {
        config.train.out_dir = dir.clone();
    }
    if let Some(s) = request.seed {
        config.seed = s;
    }
    if config.model.is_image() {
        config.data.resolve_image_spec();
    }
    let model = config.validate()?;
    if !request.resume {
        claim_run_folder(&config.train.out_dir, request.overwrite)?;
    }
    let (backend, device) = select_device(config.train.backend, config.train.strict_backend)?;
    let path = &config.data.path;
    ensure!(
        path.exists(),
        "data.path {} does not exist (relative paths start from the working directory)",
        path.display()
    );
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        kind: config.model.kind().to_string(),
        synth_version: env!("CARGO_PKG_VERSION").to_string(),
        burn_version: BURN_VERSION.to_string(),
        backend: backend.name().to_string(),
        seed: config.seed,
        epoch: 0,
        step: 0,
        data_hash: training_data_hash(&config.data)?,
    };
    let resume_from = if request.resume {
        let checkpoint = resume_point(&config, &manifest)?;
        let prior = checkpoint.manifest()?;
        manifest.epoch = prior.epoch;
        manifest.step = prior.step;
        tracing::info!(checkpoint = %checkpoint.dir().display(), epoch = prior.epoch, "resuming");
        Some(checkpoint.into_dir())
    } else {
        None
    };
    let mut scorer = None;
    let mut trainer = match &model {
        Model::Table(model) => {
            let model = model.as_ref();
            let df = read_table(&config.data.path)?;
            if let Some(eval) = &config.eval {
                let seed = derive_seed(config.seed, "eval", 0);
                scorer = Some(TrainingScorer::new(model, &device, df.clone(), eval, seed)?);
            }
            table_trainer(&config, model, df, &device, resume_from.as_deref())?
        }
        Model::Image(model) => {
            image_trainer(&config, model.as_ref(), &device, resume_from.as_deref())?
        }
    };
    let options = TrainOptions {
        epochs: config.train.epochs,
        checkpoint_every: config.train.checkpoint_every,
        log_every: config.train.log_every,
        preview_every: config.train.preview_every,
        out_dir: config.train.out_dir.clone(),
        progress: request.progress,
        score_every: config.eval.as_ref().map_or(0, |e| {
            if e.every > 0 {
                e.every
            } else {
                config.train.checkpoint_every
            }
        }),
        stop: request.stop.clone(),
    };
    let scorer = scorer.as_mut().map(|s| s as &mut dyn CheckpointScorer);
    Ok(train_scored(
        &mut *trainer,
        &options,
        manifest,
        &config.to_toml(),
        scorer,
    )?)
}

/// A tabular model's trainer: the table read, the transformer fitted (or loaded from the
/// checkpoint resumed) and the table encoded.
fn table_trainer(
    config: &RunConfig,
    model: &dyn TabularModel,
    df: polars::prelude::DataFrame,
    device: &Device,
    resume_from: Option<&Path>,
) -> anyhow::Result<Box<dyn Trainable>> {
    let transformer = match resume_from {
        Some(dir) => DataTransformer::load(&dir.join(TRANSFORMER_FILE))?,
        None => {
            let meta = match &config.data.metadata {
                Some(path) => Metadata::load(path)?.describe(&df, &config.data.columns, path)?,
                None => infer_meta(&df, &config.data.columns)?,
            };
            let written = config.train.out_dir.join(METADATA_FILE);
            std::fs::create_dir_all(&config.train.out_dir)
                .with_context(|| format!("cannot create {}", config.train.out_dir.display()))?;
            Metadata::from_meta(&meta).write(&written)?;
            tracing::info!(path = %written.display(), "column metadata written (edit it and train from it with data.metadata)");
            let started = std::time::Instant::now();
            let fitted = DataTransformer::fit(
                &df,
                &meta,
                &model.transformer_config(&config.transformer),
                derive_seed(config.seed, "transformer", 0),
            )?;
            tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                "transformer fitted"
            );
            fitted
        }
    };
    let started = std::time::Instant::now();
    let table = model.training_table(&transformer, &df, derive_seed(config.seed, "encode", 0))?;
    let rows = df.height();
    drop(df);
    if let TrainingTable::Encoded(encoded) = &table {
        tracing::info!(encoded_width = encoded.width, "encoded");
    }
    tracing::info!(
        rows,
        encode_seconds = started.elapsed().as_secs_f64(),
        model = model.kind(),
        "training"
    );
    Ok(model.trainer(transformer, table, device, config.seed, resume_from)?)
}

/// An image model's trainer over the configured images (a folder, or an IDX file with the
/// optional label file).
fn image_trainer(
    config: &RunConfig,
    model: &dyn ImageModel,
    device: &Device,
    resume_from: Option<&Path>,
) -> anyhow::Result<Box<dyn Trainable>> {
    let spec = config.data.image_spec();
    let path = &config.data.path;
    let images = if path.is_dir() {
        load_image_folder(path, &spec)?
    } else {
        load_idx(path, config.data.labels.as_deref(), &spec)?
    };
    tracing::info!(
        images = images.len,
        classes = images.classes.len(),
        size = spec.size,
        channels = spec.channels,
        model = model.kind(),
        "training"
    );
    Ok(model.trainer(&images, device, config.seed, resume_from)?)
}

/// The hash of the training data recorded in manifests: of `data.path`, and of the label
/// file too when there is one (so a resumed run cannot silently train on other labels).
fn training_data_hash(data: &DataConfig) -> anyhow::Result<String> {
    let hash =
        |path: &Path| data_hash(path).with_context(|| format!("cannot read {}", path.display()));
    let images = hash(&data.path)?;
    Ok(match &data.labels {
        Some(labels) => format!("{images}+{}", hash(labels)?),
        None => images,
    })
}

/// What an earlier run leaves in its run folder.
const RUN_FILES: [&str; 3] = [CHECKPOINTS_DIR, "metrics.jsonl", PREVIEW_DIR];

/// Makes sure a fresh run does not silently replace an earlier one in `out_dir`: an error
/// naming the folder and the choices, unless `overwrite` (then the earlier run's files go).
fn claim_run_folder(out_dir: &Path, overwrite: bool) -> anyhow::Result<()> {
    let earlier: Vec<PathBuf> = RUN_FILES
        .iter()
        .map(|name| out_dir.join(name))
        .filter(|p| p.exists())
        .collect();
    if earlier.is_empty() {
        return Ok(());
    }
    ensure!(
        overwrite,
        "run folder {} already holds a run ({}); continue it with --resume, train into a new folder (--out-dir or train.out_dir), or replace it with --overwrite",
        out_dir.display(),
        earlier
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for path in earlier {
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("--overwrite: cannot remove {}", path.display()))?;
        tracing::info!(path = %path.display(), "removed the earlier run's files (--overwrite)");
    }
    Ok(())
}

/// The checkpoint to resume from, after checking it belongs to this run.
fn resume_point(config: &RunConfig, manifest: &Manifest) -> anyhow::Result<Checkpoint> {
    let checkpoint = Checkpoint::find(&config.train.out_dir)
        .context("--resume needs an earlier run in train.out_dir")?;
    let prior = checkpoint.manifest()?;
    let dir = checkpoint.dir();
    ensure!(
        prior.kind == manifest.kind,
        "{}: checkpoint is a {} model, the config trains {}",
        dir.display(),
        prior.kind,
        manifest.kind
    );
    ensure!(
        prior.data_hash == manifest.data_hash,
        "{}: the data file {}{} changed since this checkpoint was written; resume needs the same data",
        dir.display(),
        config.data.path.display(),
        config
            .data
            .labels
            .as_ref()
            .map_or(String::new(), |l| format!(
                " or its label file {}",
                l.display()
            ))
    );
    ensure!(
        prior.epoch < config.train.epochs,
        "{}: already trained for {} epochs; raise train.epochs (or pass --epochs) to continue",
        dir.display(),
        prior.epoch
    );
    let saved_path = checkpoint.config_file();
    let saved = RunConfig::load(&saved_path)?;
    let changed = changed_settings(&saved, config)?;
    ensure!(
        changed.is_empty(),
        "--resume continues the run in {} exactly as {} configures it, but these settings differ: {}. Undo the changes (or the --seed), or start a new run in another folder (--out-dir)",
        config.train.out_dir.display(),
        saved_path.display(),
        changed.join(", ")
    );
    Ok(checkpoint)
}

/// The settings of `new` that differ from `saved`, as `key (saved -> new)`, leaving out those
/// a resumed run may change because they do not change the model: the epoch target, the run
/// folder, the backend, logging, checkpoint and preview cadence, `[eval]`, and the data path
/// (the data itself is checked by hash).
fn changed_settings(saved: &RunConfig, new: &RunConfig) -> anyhow::Result<Vec<String>> {
    let mut comparable = new.clone();
    let train = &mut comparable.train;
    train.epochs = saved.train.epochs;
    train.out_dir.clone_from(&saved.train.out_dir);
    train.backend = saved.train.backend;
    train.strict_backend = saved.train.strict_backend;
    train.log_every = saved.train.log_every;
    train.checkpoint_every = saved.train.checkpoint_every;
    train.preview_every = saved.train.preview_every;
    comparable.eval.clone_from(&saved.eval);
    comparable.data.path.clone_from(&saved.data.path);
    let flat = |config: &RunConfig| -> anyhow::Result<Vec<(String, String)>> {
        let value = toml::Value::try_from(config)?;
        Ok(toml_leaves(&value)
            .into_iter()
            .map(|(key, leaf)| (key, leaf.to_string()))
            .collect())
    };
    let (before, after) = (flat(saved)?, flat(&comparable)?);
    let mut keys: Vec<&String> = before.iter().chain(&after).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    let value = |list: &[(String, String)], key: &str| {
        list.iter()
            .find(|(k, _)| k == key)
            .map_or("(unset)".to_string(), |(_, v)| v.clone())
    };
    Ok(keys
        .into_iter()
        .filter_map(|key| {
            let (a, b) = (value(&before, key), value(&after, key));
            (a != b).then(|| format!("{key} ({a} -> {b})"))
        })
        .collect())
}

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
pub fn run_sampling(request: &SampleRequest) -> anyhow::Result<SampleReport> {
    ensure!(
        request.rows > 0 || request.impute.is_some(),
        "-n must be at least 1"
    );
    ensure!(request.batch_size > 0, "--batch-size must be at least 1");
    let Opened {
        dir,
        manifest,
        config,
        model,
        device,
    } = open_checkpoint(&request.checkpoint, request.backend, request.strict_backend)?;
    let seed = request.seed.unwrap_or(manifest.seed);
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
            let mut sampler = model.sampler(&dir, &device)?;
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
                ensure!(
                    request.rebalance.iter().all(|(c, _, _)| c == column),
                    "--rebalance names one column (its categories' shares); got {}",
                    request
                        .rebalance
                        .iter()
                        .map(|(c, _, _)| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
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
                .fixed_decimals(float_decimals(&sampler.transformer().meta()));
            if let Some(path) = &request.impute {
                ensure!(
                    request.conditions.is_empty(),
                    "--impute fills each row's missing cells given its present ones; it takes no --condition"
                );
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
                request.rows,
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
            ensure!(
                request.condition_frequencies == ConditionFrequencies::Data,
                "--condition-frequencies applies to tabular models; {} is a {} checkpoint",
                dir.display(),
                manifest.kind
            );
            ensure!(
                !request.output.is_file(),
                "-o {}: an image model writes PNG files into a folder; name a folder, not a file",
                request.output.display()
            );
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
) -> anyhow::Result<Opened> {
    let checkpoint = Checkpoint::find(path)?;
    let manifest = checkpoint.manifest()?;
    let (config, model) = RunConfig::load_validated(&checkpoint.config_file())?;
    let dir = checkpoint.into_dir();
    if manifest.kind != config.model.kind() {
        bail!(
            "{}: manifest says {}, config says {}",
            dir.display(),
            manifest.kind,
            config.model.kind()
        );
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

/// The decimal places of each float column, for CSV output: floats keep the places learned
/// from the data (`12.30`, not `12.3`).
pub(crate) fn float_decimals(meta: &TableMeta) -> Vec<(String, u32)> {
    meta.columns
        .iter()
        .filter(|c| matches!(c.dtype, DType::F32 | DType::F64))
        .filter_map(|c| Some((c.name.clone(), c.decimals?)))
        .collect()
}

/// Parses a `column=value:share` rebalancing (the share after the last colon).
pub fn parse_rebalance(text: &str) -> Result<(String, String, f64), String> {
    let wrong = || format!("expected COLUMN=VALUE:SHARE with SHARE between 0 and 1, got `{text}`");
    let (pair, share) = text.rsplit_once(':').ok_or_else(wrong)?;
    let share: f64 = share.trim().parse().map_err(|_| wrong())?;
    if !(0.0..=1.0).contains(&share) {
        return Err(wrong());
    }
    let (column, value) = parse_condition(pair)?;
    Ok((column, value, share))
}

/// Parses a `column=value` condition.
pub fn parse_condition(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((c, v)) if !c.trim().is_empty() => Ok((c.trim().to_string(), v.to_string())),
        _ => Err(format!("expected COLUMN=VALUE, got `{text}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn burn_version_matches_the_workspace_pin() {
        let manifest =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                .unwrap();
        assert!(
            manifest.contains(&format!("burn = {{ version = \"={BURN_VERSION}\"")),
            "update BURN_VERSION"
        );
    }

    #[test]
    fn conditions_parse() {
        assert_eq!(
            parse_condition("income=>50K").unwrap(),
            ("income".into(), ">50K".into())
        );
        assert_eq!(parse_condition("a=").unwrap(), ("a".into(), "".into()));
        assert!(parse_condition("income").is_err());
        assert!(parse_condition("=x").is_err());
        assert_eq!(
            parse_rebalance("time=12:30:0.25").unwrap(),
            ("time".into(), "12:30".into(), 0.25)
        );
        for bad in ["income=>50K", "income=>50K:1.5", "income=>50K:x", "=a:0.5"] {
            assert!(parse_rebalance(bad).is_err(), "{bad}");
        }
    }
}
