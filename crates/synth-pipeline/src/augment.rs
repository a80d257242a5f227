//! `synth-sample --augment`: a training table with its rare class grown, by the checkpoint's
//! generator (conditioned on the class) or by SMOTE-NC, written as the real rows followed by
//! the new ones.

use crate::backend::Backend;
use crate::config::Model;
use crate::error::{Context, PipelineError, Result, ensure};
use crate::evaluate::checkpoint_columns;
use crate::sample::{Opened, float_decimals, open_checkpoint, table_sampler};
use std::path::PathBuf;
use synth_augment::{Amount, Augmentation, append_rows, check_columns, smote};
use synth_core::Manifest;
use synth_data::{ColumnOverrides, TableFormat, TableWriter, infer_meta, read_table};

/// Where the new rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The checkpoint's generator: CTGAN conditioned on the class, TVAE by rejection.
    Model,
    /// SMOTE-NC between rows of the class (needs no checkpoint).
    Smote,
}

/// What `synth-sample --augment` was asked to do.
#[derive(Debug, Clone)]
pub struct AugmentRequest {
    /// The real training table to grow.
    pub base: PathBuf,
    /// A tabular checkpoint (or run folder): needed by `Method::Model`; for SMOTE it supplies
    /// the column kinds (otherwise inferred from the table as training infers them).
    pub checkpoint: Option<PathBuf>,
    /// The class column, the class, how many rows, and the optional flag column.
    pub augmentation: Augmentation,
    /// Where the new rows come from.
    pub method: Method,
    /// SMOTE: neighbours per row.
    pub neighbours: usize,
    /// The output table (`.csv` or `.parquet`).
    pub output: PathBuf,
    /// Seed (default: the run's seed, or 0 without a checkpoint).
    pub seed: Option<u64>,
    /// Overrides the checkpoint's backend.
    pub backend: Option<Backend>,
    /// Fail when wgpu has no adapter instead of falling back to the CPU.
    pub strict_backend: bool,
    /// Rows generated per batch (model).
    pub batch_size: usize,
}

/// What augmenting produced.
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentReport {
    /// Rows of the real table.
    pub real_rows: usize,
    /// New rows of the class.
    pub new_rows: usize,
    /// The class's share before.
    pub share_before: f64,
    /// The class's share after.
    pub share_after: f64,
    /// Model method with TVAE (or CTGAN on a non-conditional column): the share of
    /// first-pass rows that were of the class.
    pub first_pass_match_rate: Option<f64>,
}

/// Reads the base table, checks the request against it (and the checkpoint), makes the new
/// rows and writes base + new rows to the output; nothing is written when anything fails.
pub fn run_augmentation(request: &AugmentRequest) -> Result<AugmentReport> {
    TableFormat::from_path(&request.output)?;
    ensure(request.batch_size > 0, || {
        "--batch-size must be at least 1".into()
    })?;
    let base = read_table(&request.base)?;
    let base_name = request.base.display().to_string();
    // The model method samples from the checkpoint on a device; SMOTE only needs its column
    // kinds (and run seed), or none at all.
    let (sampler, meta, run_seed) = match (request.method, &request.checkpoint) {
        (Method::Model, None) => {
            return Err(PipelineError::Invalid(
                "--method model needs --checkpoint (a TabularARGN, CTGAN, TVAE or GaussianCopula run); --method smote works without one".into(),
            ));
        }
        (Method::Model, Some(path)) => {
            let Opened {
                dir,
                model,
                device,
                manifest,
                ..
            } = open_checkpoint(path, request.backend, request.strict_backend)?;
            let Model::Table(model) = model else {
                return Err(PipelineError::Invalid(format!(
                    "--augment grows a class of a table; {} is a {} (image) checkpoint",
                    dir.display(),
                    manifest.kind
                )));
            };
            let sampler = table_sampler(model.as_ref(), &dir, &device)?;
            let meta = sampler.meta();
            (Some(sampler), meta, Some(manifest.seed))
        }
        (Method::Smote, Some(path)) => {
            let (dir, meta) = checkpoint_columns(path)?;
            (None, meta, Some(Manifest::load(&dir)?.seed))
        }
        (Method::Smote, None) => {
            let meta = infer_meta(&base, &ColumnOverrides::default()).with_context(|| {
                format!(
                    "cannot infer the column kinds of {base_name} (give --checkpoint for a run's kinds)"
                )
            })?;
            (None, meta, None)
        }
    };
    let model_columns: Vec<&str> = meta.columns.iter().map(|c| c.name.as_str()).collect();
    check_columns(&base, &base_name, &model_columns, "the checkpoint")?;
    let plan = request
        .augmentation
        .plan(&base, &meta)
        .with_context(|| format!("--augment {base_name}"))?;
    let seed = request.seed.or(run_seed).unwrap_or(0);
    tracing::info!(
        class_rows = plan.class_rows.len(),
        rows = plan.rows,
        new_rows = plan.new_rows,
        share_before = plan.share_before(),
        share_after = plan.share_after(),
        method = ?request.method,
        "augmenting"
    );
    let a = &request.augmentation;
    let mut first_pass_match_rate = None;
    let new = match &sampler {
        Some(sampler) => {
            let condition = [(a.target.clone(), a.class.clone())];
            let sampled = sampler
                .sample(plan.new_rows, &condition, request.batch_size, seed)
                .with_context(|| {
                    format!(
                        "sampling class `{}` of `{}` from the checkpoint",
                        a.class, a.target
                    )
                })?;
            first_pass_match_rate = sampled.first_pass_match_rate;
            sampled.table
        }
        None => smote::oversample(
            &base,
            &meta,
            &plan.class_rows,
            plan.new_rows,
            request.neighbours,
            seed,
        )?,
    };
    let mut out = append_rows(&base, &new, &meta, a.mark.as_deref())?;
    let mut writer = TableWriter::create(&request.output)?.fixed_decimals(float_decimals(&meta));
    writer.write(&mut out)?;
    writer.finish()?;
    Ok(AugmentReport {
        real_rows: plan.rows,
        new_rows: plan.new_rows,
        share_before: plan.share_before(),
        share_after: plan.share_after(),
        first_pass_match_rate,
    })
}

/// `--rows N` or `--to-share F`, exactly one of them.
pub fn amount(rows: Option<usize>, share: Option<f64>) -> Result<Amount> {
    match (rows, share) {
        (Some(n), None) => Ok(Amount::Rows(n)),
        (None, Some(s)) => Ok(Amount::Share(s)),
        (Some(_), Some(_)) => Err(PipelineError::Invalid(
            "give either -n/--rows or --to-share, not both".into(),
        )),
        (None, None) => Err(PipelineError::Invalid(
            "--augment needs -n/--rows N (new rows) or --to-share F (class share)".into(),
        )),
    }
}
