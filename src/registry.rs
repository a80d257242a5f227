//! Training and sampling for any configured model, through [`synth_tabular::TabularModel`]
//! (the one `match` on the model kind is [`crate::config::ModelConfig::model`]).

use crate::backend::{Backend, select_device};
use crate::config::RunConfig;
use anyhow::{Context, bail, ensure};
use std::path::PathBuf;
use synth_core::Manifest;
use synth_core::manifest::{FORMAT_VERSION, file_hash};
use synth_core::seed::derive_seed;
use synth_data::{TableFormat, infer_meta, read_table, write_table};
use synth_tabular::{DataTransformer, TRANSFORMER_FILE};
use synth_train::{CONFIG_FILE, TrainOptions, TrainReport, resolve_checkpoint, train};

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
    /// Draw a progress bar.
    pub progress: bool,
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
    config.validate()?;
    let (backend, device) = select_device(config.train.backend, config.train.strict_backend)?;
    let df = read_table(&config.data.path)?;
    let data_hash = file_hash(&config.data.path)
        .with_context(|| format!("cannot read {}", config.data.path.display()))?;
    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        kind: config.model.kind().to_string(),
        synth_version: env!("CARGO_PKG_VERSION").to_string(),
        burn_version: BURN_VERSION.to_string(),
        backend: backend.name().to_string(),
        seed: config.seed,
        epoch: 0,
        step: 0,
        data_hash,
    };
    let resume_from = if request.resume {
        Some(resume_point(&config, &manifest)?)
    } else {
        None
    };
    let transformer = match &resume_from {
        Some(dir) => DataTransformer::load(&dir.join(TRANSFORMER_FILE))?,
        None => {
            let meta = infer_meta(&df, &config.data.columns)?;
            DataTransformer::fit(
                &df,
                &meta,
                &config.transformer,
                derive_seed(config.seed, "transformer", 0),
            )?
        }
    };
    let table = transformer.encode(&df, derive_seed(config.seed, "encode", 0))?;
    if let Some(dir) = &resume_from {
        let prior = Manifest::load(dir)?;
        manifest.epoch = prior.epoch;
        manifest.step = prior.step;
        tracing::info!(checkpoint = %dir.display(), epoch = prior.epoch, "resuming");
    }
    let options = TrainOptions {
        epochs: config.train.epochs,
        checkpoint_every: config.train.checkpoint_every,
        log_every: config.train.log_every,
        out_dir: config.train.out_dir.clone(),
        progress: request.progress,
    };
    tracing::info!(
        rows = table.rows,
        encoded_width = table.width,
        model = config.model.kind(),
        "training"
    );
    let mut trainer = config.model.model().trainer(
        config.train.batch_size,
        transformer,
        &table,
        &device,
        config.seed,
        resume_from.as_deref(),
    )?;
    Ok(train(&mut *trainer, &options, manifest, &config.to_toml())?)
}

/// The checkpoint to resume from, after checking it belongs to this run.
fn resume_point(config: &RunConfig, manifest: &Manifest) -> anyhow::Result<PathBuf> {
    let dir = resolve_checkpoint(&config.train.out_dir)
        .context("--resume needs an earlier run in train.out_dir")?;
    let prior = Manifest::load(&dir)?;
    ensure!(
        prior.kind == manifest.kind,
        "{}: checkpoint is a {} model, the config trains {}",
        dir.display(),
        prior.kind,
        manifest.kind
    );
    ensure!(
        prior.data_hash == manifest.data_hash,
        "{}: the data file {} changed since this checkpoint was written; resume needs the same data",
        dir.display(),
        config.data.path.display()
    );
    ensure!(
        prior.epoch < config.train.epochs,
        "{}: already trained for {} epochs; raise train.epochs (or pass --epochs) to continue",
        dir.display(),
        prior.epoch
    );
    Ok(dir)
}

/// What `synth-sample` was asked to do.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    /// A checkpoint folder, a `ckpt` folder or a run folder.
    pub checkpoint: PathBuf,
    /// Rows to generate.
    pub rows: usize,
    /// Output file (`.csv` or `.parquet`).
    pub output: PathBuf,
    /// Seed (default: the run's seed).
    pub seed: Option<u64>,
    /// `column = value` conditions.
    pub conditions: Vec<(String, String)>,
    /// Overrides the checkpoint's backend.
    pub backend: Option<Backend>,
    /// Fail when wgpu has no adapter instead of falling back to the CPU.
    pub strict_backend: bool,
    /// Rows generated per batch.
    pub batch_size: usize,
}

/// What sampling produced.
#[derive(Debug, Clone)]
pub struct SampleReport {
    /// The checkpoint folder used.
    pub checkpoint: PathBuf,
    /// Rows written.
    pub rows: usize,
    /// With conditions: share of first-pass rows that satisfied them.
    pub first_pass_match_rate: Option<f64>,
}

/// Generates rows from a checkpoint and writes them as CSV or Parquet.
pub fn run_sampling(request: &SampleRequest) -> anyhow::Result<SampleReport> {
    TableFormat::from_path(&request.output)?;
    ensure!(request.rows > 0, "-n must be at least 1");
    let dir = resolve_checkpoint(&request.checkpoint)?;
    let manifest = Manifest::load(&dir)?;
    let config = RunConfig::load(&dir.join(CONFIG_FILE))?;
    if manifest.kind != config.model.kind() {
        bail!(
            "{}: manifest says {}, config says {}",
            dir.display(),
            manifest.kind,
            config.model.kind()
        );
    }
    let (_, device) = select_device(
        request.backend.unwrap_or(config.train.backend),
        request.strict_backend,
    )?;
    let seed = request.seed.unwrap_or(manifest.seed);
    let sampled = config.model.model().sampler(&dir, &device)?.sample(
        request.rows,
        &request.conditions,
        request.batch_size,
        seed,
    )?;
    let mut table = sampled.table;
    write_table(&mut table, &request.output)?;
    Ok(SampleReport {
        checkpoint: dir,
        rows: table.height(),
        first_pass_match_rate: sampled.first_pass_match_rate,
    })
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
    }
}
