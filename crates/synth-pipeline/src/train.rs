//! Training any configured model into a run folder: from the table or images a config names
//! ([`run_training`], what `synth-train` runs) or from a DataFrame in memory ([`fit`], what
//! the Python package runs). Tabular models go through [`synth_tabular::TabularModel`], image
//! models through [`synth_image::ImageModel`].

use crate::backend::{Backend, select_device};
use crate::config::{DataConfig, Model, RunConfig};
use crate::error::{Context, PipelineError, Result, ensure, io};
use crate::evaluate::TrainingScorer;
use crate::run_folder::RunFolder;
use burn::tensor::Device;
use polars::prelude::{CsvWriter, DataFrame, SerWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use synth_constraints::Constraints;
use synth_core::manifest::Guarantee;
use synth_core::manifest::{DataHasher, FORMAT_VERSION, data_hash};
use synth_core::seed::derive_seed;
use synth_core::{BoxError, Manifest, TableMeta, Trainable};
use synth_data::images::{load_idx, load_image_folder};
use synth_data::metadata::Metadata;
use synth_data::pii::{mark_pii, pseudonymise_table};
use synth_data::{infer_meta, read_table};
use synth_image::ImageModel;
use synth_privacy::PrivacyConfig;
use synth_tabular::{DataTransformer, TRANSFORMER_FILE, TabularModel, TrainingTable};
use synth_train::{CheckpointScorer, EpochObserver, TrainOptions, TrainReport, train_scored};

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
    /// How to run the loop.
    pub options: FitOptions,
}

/// How a run trains, beyond what its config says.
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// Continue from the latest checkpoint in the run folder.
    pub resume: bool,
    /// Start afresh in a run folder that holds an earlier run, deleting its checkpoints,
    /// metrics and previews first.
    pub overwrite: bool,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Raised to stop at the end of the current epoch (with its checkpoint).
    pub stop: Option<Arc<AtomicBool>>,
    /// Told of every epoch as it ends (before the stop flag is read).
    pub on_epoch: Option<EpochObserver>,
}

/// Trains the model a config file configures, on the data it names, writing checkpoints and
/// metrics into the run folder.
pub fn run_training(request: &TrainRequest) -> Result<TrainReport> {
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
    train(&config, None, &request.options)
}

/// Trains a tabular model on `table` (instead of the file `config.data.path` names, which is
/// then only a label in the saved config), writing checkpoints and metrics into
/// `config.train.out_dir` exactly as [`run_training`] does. A resumed run must be given the
/// same rows.
pub fn fit(table: DataFrame, config: &RunConfig, options: &FitOptions) -> Result<TrainReport> {
    ensure(!config.model.is_image(), || {
        format!(
            "{} trains on images read from data.path, not on a DataFrame",
            config.model.kind()
        )
    })?;
    ensure(table.height() > 0 && table.width() > 0, || {
        format!(
            "the table to fit has {} rows and {} columns; give at least one row and one column",
            table.height(),
            table.width()
        )
    })?;
    train(config, Some(table), options)
}

/// Trains `config`'s model on `table`, or on the data `config.data.path` names.
fn train(
    config: &RunConfig,
    table: Option<DataFrame>,
    options: &FitOptions,
) -> Result<TrainReport> {
    let model = config.validate()?;
    let folder = RunFolder::new(&config.train.out_dir);
    if !options.resume {
        folder.claim(options.overwrite)?;
    }
    let (backend, device) = select_device(config.train.backend, config.train.strict_backend)?;
    let data_hash = match &table {
        Some(table) => frame_hash(table)?,
        None => {
            ensure(config.data.path.exists(), || {
                format!(
                    "data.path {} does not exist (relative paths start from the working directory)",
                    config.data.path.display()
                )
            })?;
            training_data_hash(&config.data)?
        }
    };
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        kind: config.model.kind().to_string(),
        synth_version: env!("CARGO_PKG_VERSION").to_string(),
        burn_version: BURN_VERSION.to_string(),
        backend: backend.name().to_string(),
        seed: config.seed,
        epoch: 0,
        step: 0,
        data_hash: match config.privacy {
            Some(_) => "withheld (differentially private run)".into(),
            None => data_hash,
        },
        privacy: config.privacy.as_ref().map(|p| Guarantee {
            epsilon: p.epsilon,
            delta: p.delta,
        }),
    };
    let resume_from = if options.resume {
        let checkpoint = folder.resume_point(config, &manifest)?;
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
            let df = match table {
                Some(table) => table,
                None => read_table(&config.data.path)?,
            };
            if let Some(eval) = &config.eval {
                let seed = derive_seed(config.seed, "eval", 0);
                scorer = Some(TrainingScorer::new(model, &device, df.clone(), eval, seed)?);
            }
            table_trainer(config, &folder, model, df, &device, resume_from.as_deref())?
        }
        Model::Image(model) => {
            image_trainer(config, model.as_ref(), &device, resume_from.as_deref())?
        }
    };
    let loop_options = TrainOptions {
        epochs: config.train.epochs,
        checkpoint_every: config.train.checkpoint_every,
        log_every: config.train.log_every,
        preview_every: config.train.preview_every,
        out_dir: config.train.out_dir.clone(),
        progress: options.progress,
        score_every: config.eval.as_ref().map_or(0, |e| {
            if e.every > 0 {
                e.every
            } else {
                config.train.checkpoint_every
            }
        }),
        stop: options.stop.clone(),
        on_epoch: options.on_epoch.clone(),
    };
    let scorer = scorer.as_mut().map(|s| s as &mut dyn CheckpointScorer);
    Ok(train_scored(
        &mut *trainer,
        &loop_options,
        manifest,
        &config.to_toml(),
        scorer,
    )?)
}

/// A tabular model's trainer: the constraints and the transformer fitted (or loaded from the
/// checkpoint resumed) and the table encoded.
fn table_trainer(
    config: &RunConfig,
    folder: &RunFolder,
    model: &dyn TabularModel,
    mut df: DataFrame,
    device: &Device,
    resume_from: Option<&Path>,
) -> Result<Box<dyn Trainable>> {
    let pii = pseudonymise_table(&mut df, &config.data.columns, config.seed)?;
    let mut constraints = None;
    let mut private_metadata = None;
    let transformer = match resume_from {
        Some(dir) => {
            constraints = Constraints::load(dir)?;
            if let Some(c) = &constraints {
                df = c.to_model(&df)?;
            }
            DataTransformer::load(&dir.join(TRANSFORMER_FILE))?
        }
        None => {
            let mut meta = match &config.data.metadata {
                Some(path) => Metadata::load(path)?.describe(&df, &config.data.columns, path)?,
                None => infer_meta(&df, &config.data.columns)?,
            };
            mark_pii(&mut meta, &pii);
            match &config.privacy {
                // written once the private fit succeeds: a refused budget writes nothing
                Some(privacy) => {
                    private_metadata = Some(without_private_statistics(&meta, privacy))
                }
                None => {
                    let written = folder.write_metadata(&meta)?;
                    tracing::info!(path = %written.display(), "column metadata written (edit it and train from it with data.metadata)");
                }
            }
            if !config.constraints.is_empty() {
                let (fitted, model_df) = Constraints::fit(
                    config.constraints.clone(),
                    config.data.on_violation,
                    &df,
                    &meta,
                )?;
                (df, meta) = (model_df, fitted.model().clone());
                constraints = Some(fitted);
            }
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
            model.released_transformer(fitted)?
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
    let trainer = model.trainer(transformer, table, device, config.seed, resume_from)?;
    if let Some(meta) = private_metadata {
        folder.write_metadata(&meta)?;
    }
    Ok(match constraints {
        Some(constraints) => Box::new(Constrained {
            trainer,
            constraints,
        }),
        None => trainer,
    })
}

/// The column metadata a private run writes into its run folder: without the statistics of
/// the columns whose domain is not declared public (min, max, missing share), which only the
/// model's private measurements may publish.
fn without_private_statistics(meta: &TableMeta, privacy: &PrivacyConfig) -> TableMeta {
    let mut meta = meta.clone();
    for column in meta
        .columns
        .iter_mut()
        .filter(|c| !privacy.is_public(&c.name))
    {
        (column.min, column.max, column.missing) = (None, None, 0.0);
    }
    meta
}

/// A tabular model's trainer whose checkpoints also hold the constraints it was trained with.
struct Constrained {
    trainer: Box<dyn Trainable>,
    constraints: Constraints,
}

impl Trainable for Constrained {
    fn steps_per_epoch(&self) -> usize {
        self.trainer.steps_per_epoch()
    }
    fn begin_epoch(&mut self, epoch: usize) {
        self.trainer.begin_epoch(epoch);
    }
    fn train_step(&mut self) {
        self.trainer.train_step();
    }
    fn take_losses(&mut self) -> Vec<(&'static str, f64)> {
        self.trainer.take_losses()
    }
    fn end_epoch(&mut self) -> Vec<(&'static str, f64)> {
        self.trainer.end_epoch()
    }
    fn converged(&self) -> bool {
        self.trainer.converged()
    }
    fn non_finite_network(&self) -> Option<&'static str> {
        self.trainer.non_finite_network()
    }
    fn save(&self, dir: &Path) -> std::result::Result<(), BoxError> {
        self.trainer.save(dir)?;
        Ok(self.constraints.save(dir)?)
    }
    fn write_preview(
        &self,
        dir: &Path,
        epoch: usize,
    ) -> std::result::Result<Option<PathBuf>, BoxError> {
        self.trainer.write_preview(dir, epoch)
    }
}

/// An image model's trainer over the configured images (a folder, or an IDX file with the
/// optional label file).
fn image_trainer(
    config: &RunConfig,
    model: &dyn ImageModel,
    device: &Device,
    resume_from: Option<&Path>,
) -> Result<Box<dyn Trainable>> {
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
fn training_data_hash(data: &DataConfig) -> Result<String> {
    let hash = |path: &Path| {
        data_hash(path)
            .map_err(io(path))
            .context("cannot read the training data")
    };
    let images = hash(&data.path)?;
    Ok(match &data.labels {
        Some(labels) => format!("{images}+{}", hash(labels)?),
        None => images,
    })
}

/// The hash of a table held in memory, as [`data_hash`] would give for it written as CSV:
/// a resumed [`fit`] must be given the same rows.
fn frame_hash(table: &DataFrame) -> Result<String> {
    let mut hasher = DataHasher::default();
    CsvWriter::new(&mut hasher)
        .finish(&mut table.clone())
        .map_err(|e| PipelineError::Invalid(format!("cannot hash the table to fit: {e}")))?;
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burn_version_matches_the_workspace_pin() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let manifest = std::fs::read_to_string(root).unwrap();
        assert!(
            manifest.contains(&format!("burn = {{ version = \"={BURN_VERSION}\"")),
            "update BURN_VERSION"
        );
    }
}
