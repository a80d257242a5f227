//! `synth-eval`'s work: read the tables, take the column kinds from a checkpoint or infer them
//! as training does, evaluate, and write `report.json` and `index.html`. Also the scorer that
//! `synth-train`'s `[eval]` section runs on checkpoints while training.

use crate::error::{Context, PipelineError, Result, ensure, io};
use crate::run_folder::RunFolder;
use crate::sample::table_sampler;
use burn::tensor::Device;
use polars::prelude::DataFrame;
use std::path::{Path, PathBuf};
use synth_constraints::Constraints;
use synth_core::BoxError;
use synth_core::Checkpoint;
use synth_core::TableMeta;
use synth_data::{ColumnOverrides, infer_meta, read_table};
use synth_eval::augmentation::{AugmentationReport, augmentation_gain};
use synth_eval::{EvalOptions, LossCurves, Progress, Report, Tables};
use synth_tabular::{DataTransformer, TRANSFORMER_FILE, TabularModel};
use synth_train::CheckpointScorer;

/// The report's machine-readable file.
pub const REPORT_JSON: &str = "report.json";
/// The report's page.
pub const REPORT_HTML: &str = "index.html";

/// What `synth-eval` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct EvalRequest {
    /// The real (training) table.
    pub real: PathBuf,
    /// The synthetic table.
    pub synthetic: PathBuf,
    /// Real rows the generator never saw.
    pub holdout: Option<PathBuf>,
    /// Column to predict for the utility scores.
    pub target: Option<String>,
    /// Checkpoint (or run folder) whose column kinds and loss curves to use.
    pub checkpoint: Option<PathBuf>,
    /// Columns left out of the evaluation.
    pub ignore: Vec<String>,
    /// The report folder.
    pub output: PathBuf,
    /// Evaluation settings other than the target.
    pub options: EvalOptions,
}

/// Evaluates and writes the report folder; nothing is written when anything fails.
pub fn run_evaluation(request: &EvalRequest, progress: &dyn Progress) -> Result<Report> {
    let real = read_table(&request.real)?;
    let synthetic = read_table(&request.synthetic)?;
    let holdout = request.holdout.as_deref().map(read_table).transpose()?;
    let tables = Frames {
        real: &real,
        synthetic: &synthetic,
        holdout: holdout.as_ref(),
    };
    let evaluated = evaluate_frames(&tables, request, progress)?;
    evaluated.write(&request.output)?;
    Ok(evaluated.report)
}

/// Tables held in memory, to evaluate.
#[derive(Debug, Clone, Copy)]
pub struct Frames<'a> {
    /// The real (training) rows.
    pub real: &'a DataFrame,
    /// The synthetic rows.
    pub synthetic: &'a DataFrame,
    /// Real rows the generator never saw.
    pub holdout: Option<&'a DataFrame>,
}

/// A report with its page, not yet written.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// What `report.json` holds.
    pub report: Report,
    /// The page `index.html` shows.
    pub html: String,
}

impl Evaluated {
    /// Writes `report.json` and `index.html` into `dir`, each atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(&self.report).expect("a report serialises");
        write_report(dir, &[(REPORT_JSON, &json), (REPORT_HTML, &self.html)])
    }
}

/// Evaluates tables held in memory as [`run_evaluation`] evaluates files; `request` gives
/// the settings, and its paths only name the tables in the report (its output is unused).
pub fn evaluate_frames(
    tables: &Frames,
    request: &EvalRequest,
    progress: &dyn Progress,
) -> Result<Evaluated> {
    let (meta, run_dir) = column_kinds(
        tables.real,
        &request.real,
        request.checkpoint.as_deref(),
        &request.ignore,
    )?;
    let aligned = Tables::align(&meta, tables.real, tables.synthetic, tables.holdout)?;
    let mut options = request.options.clone();
    options.target = request.target.clone();
    let mut report = synth_eval::evaluate(&aligned, &options, progress)?;
    report.inputs.files = synth_eval::Files {
        real: request.real.display().to_string(),
        synthetic: request.synthetic.display().to_string(),
        holdout: request.holdout.as_ref().map(|p| p.display().to_string()),
        checkpoint: request.checkpoint.as_ref().map(|p| p.display().to_string()),
    };
    if let Some(path) = &request.checkpoint {
        report.differential_privacy = Checkpoint::find(path)?.manifest()?.privacy;
    }
    report.loss_curves = run_dir
        .and_then(|dir| std::fs::read_to_string(RunFolder::new(dir).metrics_file()).ok())
        .and_then(|text| LossCurves::from_metrics_jsonl(&text));
    let html = synth_eval::html::render(&report, &aligned);
    Ok(Evaluated { report, html })
}

/// The evaluated columns and their kinds: from a checkpoint's transformer (with its run
/// folder, for the loss curves) or inferred from the real table as training infers them;
/// without the `ignore`d columns.
fn column_kinds(
    real: &DataFrame,
    real_path: &Path,
    checkpoint: Option<&Path>,
    ignore: &[String],
) -> Result<(TableMeta, Option<PathBuf>)> {
    let (meta, run_dir) = match checkpoint {
        Some(path) => {
            let (dir, mut meta) = checkpoint_columns(path)?;
            meta.columns.retain(|c| !ignore.contains(&c.name));
            // runs/x/ckpt/epoch-NNNN -> runs/x
            (
                meta,
                dir.parent().and_then(Path::parent).map(Path::to_path_buf),
            )
        }
        None => {
            let overrides = ColumnOverrides {
                ignore: ignore.to_vec(),
                ..ColumnOverrides::default()
            };
            let meta = infer_meta(real, &overrides).with_context(|| {
                format!(
                    "cannot infer the column kinds of {} (use --ignore COLUMN for an identifier, or --checkpoint for a run's kinds)",
                    real_path.display()
                )
            })?;
            (meta, None)
        }
    };
    check_not_empty(&meta)?;
    Ok((meta, run_dir))
}

/// The checkpoint folder `path` refers to and the columns its transformer describes; an
/// image checkpoint (which has none) is an error saying so.
pub(crate) fn checkpoint_columns(path: &Path) -> Result<(PathBuf, TableMeta)> {
    let dir = Checkpoint::find(path)?.into_dir();
    let transformer_path = dir.join(TRANSFORMER_FILE);
    if !transformer_path.is_file() {
        return Err(PipelineError::Invalid(format!(
            "checkpoint {} has no {TRANSFORMER_FILE}: only tabular checkpoints (TabularARGN, CTGAN, TVAE, GaussianCopula) describe table columns",
            dir.display()
        )));
    }
    let meta = table_columns(&dir)?;
    Ok((dir, meta))
}

/// The columns of the rows a tabular checkpoint samples: its transformer's, or the training
/// table's when it was trained with constraints.
pub(crate) fn table_columns(dir: &Path) -> Result<TableMeta> {
    Ok(match Constraints::load(dir)? {
        Some(constraints) => constraints.table().clone(),
        None => DataTransformer::load(&dir.join(TRANSFORMER_FILE))?.meta(),
    })
}

fn check_not_empty(meta: &TableMeta) -> Result<()> {
    if meta.modelled().next().is_none() {
        return Err(PipelineError::Invalid(
            "no column left to evaluate (every column is ignored or a key)".into(),
        ));
    }
    Ok(())
}

/// Writes the report's files (name, text) into `dir`, each atomically, once all are rendered.
fn write_report(dir: &Path, files: &[(&str, &str)]) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(io(dir))
        .context("cannot create the report folder")?;
    for &(name, text) in files {
        let path = dir.join(name);
        synth_core::fsutil::write_atomic(&path, text.as_bytes())
            .map_err(io(&path))
            .context("cannot write the report")?;
    }
    Ok(())
}

/// The augmentation gain's machine-readable file.
pub const AUGMENTATION_JSON: &str = "augmentation.json";

/// What `synth-eval --augment` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct AugmentEvalRequest {
    /// The real training table (before augmenting).
    pub real: PathBuf,
    /// The augmented tables, each with its label.
    pub augmented: Vec<(String, PathBuf)>,
    /// Real rows none of the tables holds, to test on.
    pub holdout: PathBuf,
    /// The class column.
    pub target: String,
    /// The class.
    pub class: String,
    /// Checkpoint (or run folder) whose column kinds to use.
    pub checkpoint: Option<PathBuf>,
    /// Columns left out.
    pub ignore: Vec<String>,
    /// The report folder.
    pub output: PathBuf,
    /// Seed of the classifiers' validation splits and the bootstrap.
    pub seed: u64,
}

/// Trains the classifier on the real rows and on each augmented table, tests them on the
/// holdout rows and writes `augmentation.json`; nothing is written when anything fails.
/// Columns an augmented table has beyond the real table's (a flag column marking the new
/// rows) are left out.
pub fn run_augmentation_gain(
    request: &AugmentEvalRequest,
    progress: &dyn Progress,
) -> Result<AugmentationReport> {
    let real = read_table(&request.real)?;
    let holdout = read_table(&request.holdout)?;
    let (meta, _) = column_kinds(
        &real,
        &request.real,
        request.checkpoint.as_deref(),
        &request.ignore,
    )?;
    let mut augmented = Vec::with_capacity(request.augmented.len());
    for (label, path) in &request.augmented {
        let mut table = read_table(path)?;
        let extra: Vec<String> = table
            .get_column_names()
            .into_iter()
            .filter(|name| real.column(name).is_err())
            .map(|name| name.to_string())
            .collect();
        let lacking: Vec<&str> = real
            .get_column_names()
            .into_iter()
            .map(|name| name.as_str())
            .filter(|name| table.column(name).is_err())
            .collect();
        ensure(lacking.is_empty(), || {
            format!(
                "--augment {}: lacks column(s) {} of the real table {}",
                path.display(),
                lacking.join(", "),
                request.real.display()
            )
        })?;
        if !extra.is_empty() {
            tracing::info!(table = %path.display(), columns = ?extra, "left out: not columns of the real table");
            table = table.drop_many(extra);
        }
        augmented.push((label.clone(), table));
    }
    let report = augmentation_gain(
        &meta,
        (&real, &holdout),
        &augmented,
        (&request.target, &request.class),
        request.seed,
        progress,
    )?;
    let json = serde_json::to_string_pretty(&report).expect("a report serialises");
    write_report(&request.output, &[(AUGMENTATION_JSON, &json)])?;
    Ok(report)
}

/// Scores a tabular checkpoint while training: samples rows from it, then their quality
/// against the training table and, with a target, their train-on-synthetic utility on the
/// holdout rows (which then decides the best checkpoint; otherwise quality does).
pub struct TrainingScorer<'a> {
    model: &'a dyn TabularModel,
    device: Device,
    training: DataFrame,
    holdout: Option<DataFrame>,
    target: Option<String>,
    rows: usize,
    seed: u64,
}

impl<'a> TrainingScorer<'a> {
    /// Reads the holdout table now, so a bad path or target fails before training starts.
    pub fn new(
        model: &'a dyn TabularModel,
        device: &Device,
        training: DataFrame,
        eval: &crate::config::EvalConfig,
        seed: u64,
    ) -> Result<Self> {
        let holdout = eval.holdout.as_deref().map(read_table).transpose()?;
        if let Some(target) = &eval.target
            && training.column(target).is_err()
        {
            return Err(PipelineError::Invalid(format!(
                "eval.target `{target}` is not a column of the training table (columns: {})",
                training
                    .get_column_names()
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(TrainingScorer {
            model,
            device: device.clone(),
            training,
            holdout,
            target: eval.target.clone(),
            rows: eval.rows,
            seed,
        })
    }
}

impl CheckpointScorer for TrainingScorer<'_> {
    fn score(&mut self, dir: &Path) -> Result<Vec<(&'static str, f64)>, BoxError> {
        let meta = table_columns(dir)?;
        let sampler = table_sampler(self.model, dir, &self.device)?;
        let sampled = sampler.sample(self.rows, &[], 10_000, self.seed)?;
        let tables = Tables::align(&meta, &self.training, &sampled.table, self.holdout.as_ref())?;
        let quality =
            synth_eval::fidelity::quality(&tables.schema, &tables.real, &tables.synthetic);
        let mut scores = Vec::new();
        if let (Some(target), Some(holdout)) = (&self.target, &tables.holdout) {
            let column = tables
                .schema
                .position(target)
                .ok_or_else(|| format!("eval.target `{target}` is not a modelled column"))?;
            let u = synth_eval::utility(
                &tables.schema,
                column,
                &tables.real,
                &tables.synthetic,
                holdout,
                self.seed,
            )?;
            match u.task {
                "classification" => {
                    scores.push(("roc_auc", u.synthetic.roc_auc.unwrap_or(f64::NAN)))
                }
                _ => scores.push(("r2", u.synthetic.r2.unwrap_or(f64::NAN))),
            }
        }
        scores.extend(
            [
                ("quality", quality.overall),
                ("column_shapes", quality.column_shapes),
                ("column_pair_trends", quality.column_pair_trends),
            ]
            .map(|(name, v)| (name, v.unwrap_or(f64::NAN))),
        );
        Ok(scores)
    }
}
