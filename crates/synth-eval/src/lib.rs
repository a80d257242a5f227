//! Judges a synthetic table against the real one: fidelity (SDMetrics 0.32's quality report),
//! utility (train on synthetic, test on real, next to train on real), privacy (distance to
//! closest record, overfitting protection, exact copies, membership inference), diversity
//! (range and category coverage) and detection (a real-vs-synthetic classifier). Every random
//! figure comes with its spread. [`evaluate`] returns a [`Report`] that serialises to the
//! stable `report.json` schema; [`html::render`] draws it as a self-contained page.
//! [`augmentation::augmentation_gain`] measures whether rows added to a rare class help a
//! classifier find it.

pub mod augmentation;
mod boost;
mod detection;
mod error;
pub mod fidelity;
pub mod html;
pub mod privacy;
pub mod stats;
pub mod table;
mod utility;

pub use detection::Detection;
pub use error::{EvalError, Result};
pub use fidelity::Quality;
pub use privacy::Privacy;
pub use stats::Interval;
pub use table::Tables;
pub use utility::{Scores, Utility, utility};

use serde::Serialize;
use std::time::Instant;

/// Version of the `report.json` layout; raised when a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Settings of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Column to predict for the utility scores (needs a holdout table).
    pub target: Option<String>,
    /// Seed of every random choice (subsamples, bootstrap, validation splits).
    pub seed: u64,
    /// Training subsamples drawn for the overfitting-protection score.
    pub overfitting_repeats: usize,
    /// Rows of each table the detection classifier uses at most.
    pub detection_rows: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            target: None,
            seed: 0,
            overfitting_repeats: 5,
            detection_rows: 10_000,
        }
    }
}

/// Progress of a long evaluation: each step announces its size, then reports work done.
pub trait Progress: Sync {
    /// A step of `units` units of work starts.
    fn step(&self, name: &'static str, units: u64);
    /// `units` more units are done.
    fn advance(&self, units: u64);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn step(&self, _: &'static str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// The files an evaluation read, as the caller names them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Files {
    /// The real (training) table.
    pub real: String,
    /// The synthetic table.
    pub synthetic: String,
    /// The holdout table.
    pub holdout: Option<String>,
    /// The checkpoint whose column kinds were used.
    pub checkpoint: Option<String>,
}

/// Row counts of the evaluated tables.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rows {
    /// Real rows.
    pub real: usize,
    /// Synthetic rows.
    pub synthetic: usize,
    /// Holdout rows.
    pub holdout: Option<usize>,
}

/// What was evaluated, and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inputs {
    /// The files (filled in by the caller).
    pub files: Files,
    /// Row counts.
    pub rows: Rows,
    /// The utility target.
    pub target: Option<String>,
    /// The seed.
    pub seed: u64,
    /// Each evaluated column and its kind.
    pub columns: Vec<ColumnInfo>,
}

/// An evaluated column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnInfo {
    /// Name.
    pub name: String,
    /// `continuous` or `discrete`.
    pub kind: synth_core::ColumnKind,
}

/// Diversity: how much of the real data's variety the synthetic rows cover.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diversity {
    /// Mean range coverage over continuous columns.
    pub range_coverage: Option<f64>,
    /// Mean category coverage over discrete columns.
    pub category_coverage: Option<f64>,
}

/// Seconds each part took.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Seconds {
    /// Fidelity and diversity.
    pub quality: f64,
    /// Utility (both models).
    pub utility: f64,
    /// Detection.
    pub detection: f64,
    /// Privacy.
    pub privacy: f64,
}

/// A training run's losses per epoch, from its `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LossCurves {
    /// Epoch numbers.
    pub epochs: Vec<f64>,
    /// Each loss's name and its value per epoch (NaN where a line lacks it).
    pub series: Vec<(String, Vec<f64>)>,
}

impl LossCurves {
    /// Reads the numeric fields of each line of a `metrics.jsonl` (other than `epoch`, `step`,
    /// `seconds` and the `eval_` scores) as curves; `None` when no line has an epoch.
    pub fn from_metrics_jsonl(text: &str) -> Option<Self> {
        let lines: Vec<serde_json::Map<String, serde_json::Value>> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|m: &serde_json::Map<_, _>| m.get("epoch").is_some_and(|e| e.is_number()))
            .collect();
        if lines.is_empty() {
            return None;
        }
        let mut names: Vec<String> = Vec::new();
        for line in &lines {
            for (key, value) in line {
                let skip = ["epoch", "step", "seconds"].contains(&key.as_str())
                    || key.starts_with("eval_");
                if !skip && value.is_number() && !names.contains(key) {
                    names.push(key.clone());
                }
            }
        }
        let value = |line: &serde_json::Map<String, serde_json::Value>, key: &str| {
            line.get(key).and_then(|v| v.as_f64()).unwrap_or(f64::NAN)
        };
        Some(LossCurves {
            epochs: lines.iter().map(|l| value(l, "epoch")).collect(),
            series: names
                .into_iter()
                .map(|name| {
                    let values = lines.iter().map(|l| value(l, &name)).collect();
                    (name, values)
                })
                .collect(),
        })
    }
}

/// Everything `report.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What was evaluated.
    pub inputs: Inputs,
    /// Fidelity of the synthetic rows to the real rows.
    pub quality: Quality,
    /// Coverage of the real ranges and categories.
    pub diversity: Diversity,
    /// Train-on-synthetic next to train-on-real (with a target and a holdout).
    pub utility: Option<Utility>,
    /// Distances to the training rows, copies, membership inference.
    pub privacy: Privacy,
    /// Real-vs-synthetic classifier.
    pub detection: Detection,
    /// The training run's loss curves (with a checkpoint).
    pub loss_curves: Option<LossCurves>,
    /// The differential-privacy guarantee of the model that generated the rows (with the
    /// checkpoint of a private model): the scores here are not themselves private.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differential_privacy: Option<synth_core::manifest::Guarantee>,
    /// Time per part.
    pub seconds: Seconds,
}

/// Runs every evaluation on aligned tables.
pub fn evaluate(tables: &Tables, options: &EvalOptions, progress: &dyn Progress) -> Result<Report> {
    let schema = &tables.schema;
    let target = match &options.target {
        None => None,
        Some(name) => Some(
            schema
                .position(name)
                .ok_or_else(|| EvalError::UnknownTarget {
                    target: name.clone(),
                    available: schema.names(),
                })?,
        ),
    };
    if target.is_some() && tables.holdout.is_none() {
        return Err(EvalError::TargetNeedsHoldout);
    }
    let mut seconds = Seconds::default();
    let mut clock = Instant::now();
    let mut lap = |slot: &mut f64| {
        *slot = clock.elapsed().as_secs_f64();
        clock = Instant::now();
    };

    progress.step("fidelity", 1);
    let quality = fidelity::quality(schema, &tables.real, &tables.synthetic);
    let diversity = Diversity {
        range_coverage: stats::mean_present(quality.columns.iter().map(|c| c.range_coverage)),
        category_coverage: stats::mean_present(quality.columns.iter().map(|c| c.category_coverage)),
    };
    progress.advance(1);
    lap(&mut seconds.quality);

    let utility = match (target, &tables.holdout) {
        (Some(target), Some(holdout)) => {
            progress.step("utility: train on synthetic and on real", 1);
            let u = utility::utility(
                schema,
                target,
                &tables.real,
                &tables.synthetic,
                holdout,
                options.seed,
            )?;
            progress.advance(1);
            Some(u)
        }
        _ => None,
    };
    lap(&mut seconds.utility);

    progress.step("detection: real-vs-synthetic classifier", 1);
    let detection = detection::detection(
        schema,
        &tables.real,
        &tables.synthetic,
        options.detection_rows,
        options.seed,
    )?;
    progress.advance(1);
    lap(&mut seconds.detection);

    let privacy = privacy::privacy(
        &tables.real,
        &tables.synthetic,
        tables.holdout.as_ref(),
        options.overfitting_repeats,
        options.seed,
        progress,
    );
    lap(&mut seconds.privacy);

    Ok(Report {
        schema_version: SCHEMA_VERSION,
        inputs: Inputs {
            files: Files::default(),
            rows: Rows {
                real: tables.real.rows,
                synthetic: tables.synthetic.rows,
                holdout: tables.holdout.as_ref().map(|h| h.rows),
            },
            target: options.target.clone(),
            seed: options.seed,
            columns: schema
                .columns
                .iter()
                .map(|c| ColumnInfo {
                    name: c.name.clone(),
                    kind: c.kind,
                })
                .collect(),
        },
        quality,
        diversity,
        utility,
        privacy,
        detection,
        loss_curves: None,
        differential_privacy: None,
        seconds,
    })
}
