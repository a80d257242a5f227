//! `synth-eval`: judges a synthetic table against the real one.

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use synth_eval::augmentation::AugmentationReport;
use synth_eval::{EvalOptions, Interval, Progress, Report};
use synth_pipeline::evaluate::{
    AUGMENTATION_JSON, AugmentEvalRequest, EvalRequest, REPORT_HTML, REPORT_JSON,
    run_augmentation_gain, run_evaluation,
};

/// Judge a synthetic table against the real one: fidelity, utility, privacy, diversity and
/// detection, in one report.
///
/// Fidelity is SDMetrics 0.32's quality score (column shapes and column pair trends). With
/// --holdout (real rows the generator never saw) it adds the DCR overfitting protection and a
/// membership-inference attack; with --target too, the utility of the synthetic rows for
/// predicting that column (train on synthetic, test on holdout, next to train on real).
/// Random figures come with their spread. Writes REPORT/report.json (schema in the README) and
/// REPORT/index.html (self-contained, works offline) and prints a summary. Tables are CSV or
/// Parquet; column kinds come from --checkpoint or are inferred as synth-train infers them.
///
/// With --augment (instead of --synthetic) it measures whether growing a rare class helped:
/// the same gradient boosting is trained to find --class of --target on the real rows alone
/// and on each augmented table (synth-sample --augment's output), and tested on the
/// --holdout rows; recall, precision and F1 of the class at probability 0.5 and the PR and
/// ROC AUC, side by side. Writes REPORT/augmentation.json and prints the table.
#[derive(Parser, Debug)]
#[command(
    version,
    after_help = "Examples:\n  synth-eval --real train.csv --synthetic synthetic.csv -o report/\n  synth-eval --real train.csv --synthetic synthetic.csv --holdout test.csv --target income --checkpoint runs/adult-ctgan -o report/\n  synth-eval --real train.csv --holdout test.csv --target is_fraud --class 1 --augment ctgan=aug-ctgan.csv --augment smote=aug-smote.csv -o report/"
)]
struct Args {
    /// The real table the generator was trained on (.csv or .parquet).
    #[arg(long)]
    real: PathBuf,
    /// The synthetic table (same columns).
    #[arg(long, required_unless_present = "augment")]
    synthetic: Option<PathBuf>,
    /// An augmented training table to score, as LABEL=TABLE or TABLE (labelled by its file
    /// name); repeatable. Needs --holdout, --target and --class.
    #[arg(long, value_name = "[LABEL=]TABLE", conflicts_with = "synthetic", requires_all = ["holdout", "target", "class"])]
    augment: Vec<String>,
    /// --augment: the class whose recall, precision and F1 are scored.
    #[arg(long, value_name = "VALUE", requires = "augment")]
    class: Option<String>,
    /// Real rows the generator never saw (same columns): needed for utility, overfitting
    /// protection and membership inference.
    #[arg(long)]
    holdout: Option<PathBuf>,
    /// Column to predict for the utility scores (needs --holdout); discrete: classification,
    /// continuous: regression.
    #[arg(long)]
    target: Option<String>,
    /// Checkpoint or run folder: column kinds from its transformer, loss curves from its
    /// metrics.jsonl.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Leave a column out of the evaluation (e.g. an identifier); repeatable.
    #[arg(long, value_name = "COLUMN")]
    ignore: Vec<String>,
    /// Report folder (created if missing; report.json and index.html are replaced).
    #[arg(short, long, default_value = "report")]
    output: PathBuf,
    /// Seed of every random choice (subsamples, bootstrap resamples, validation splits).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training subsamples behind the overfitting-protection score and its spread.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=50))]
    repeats: u64,
    /// Rows of each table the real-vs-synthetic detection classifier uses at most.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(30..))]
    detection_rows: u64,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

/// A progress bar per step.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn step(&self, name: &'static str, units: u64) {
        self.0.set_position(0);
        self.0.set_length(units);
        self.0.set_message(name);
    }
    fn advance(&self, units: u64) {
        self.0.inc(units);
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    synth::init_logging();
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(1);
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {percent:>3}%  {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar
    };
    if !args.augment.is_empty() {
        let report = run_augmentation_gain(
            &AugmentEvalRequest {
                real: args.real,
                augmented: args.augment.iter().map(|a| labelled(a)).collect(),
                holdout: args.holdout.expect("clap requires --holdout"),
                target: args.target.expect("clap requires --target"),
                class: args.class.expect("clap requires --class"),
                checkpoint: args.checkpoint,
                ignore: args.ignore,
                output: args.output.clone(),
                seed: args.seed,
            },
            &Bar(bar.clone()),
        );
        bar.finish_and_clear();
        let report = report?;
        print_augmentation(&report);
        println!("report: {}", args.output.join(AUGMENTATION_JSON).display());
        return Ok(());
    }
    let request = EvalRequest {
        real: args.real,
        synthetic: args
            .synthetic
            .expect("clap requires --synthetic without --augment"),
        holdout: args.holdout,
        target: args.target,
        checkpoint: args.checkpoint,
        ignore: args.ignore,
        output: args.output.clone(),
        options: EvalOptions {
            target: None,
            seed: args.seed,
            overfitting_repeats: args.repeats as usize,
            detection_rows: args.detection_rows as usize,
        },
    };
    let report = run_evaluation(&request, &Bar(bar.clone()));
    bar.finish_and_clear();
    let report = report?;
    print_summary(&report);
    println!(
        "report: {} and {}",
        args.output.join(REPORT_HTML).display(),
        args.output.join(REPORT_JSON).display()
    );
    Ok(())
}

/// `LABEL=TABLE`, or `TABLE` labelled by its file name.
fn labelled(text: &str) -> (String, PathBuf) {
    match text.split_once('=') {
        Some((label, path)) if !label.is_empty() && !path.is_empty() => {
            (label.to_string(), PathBuf::from(path))
        }
        _ => {
            let path = PathBuf::from(text);
            let name = path
                .file_stem()
                .map_or(text.into(), |s| s.to_string_lossy().into_owned());
            (name, path)
        }
    }
}

fn print_augmentation(r: &AugmentationReport) {
    println!(
        "class `{}` of `{}`: {} of {} holdout rows; one classifier per training table, the class predicted at p >= {}",
        r.class, r.target, r.holdout_class_rows, r.holdout_rows, r.threshold
    );
    let width = r
        .scores
        .iter()
        .map(|s| s.label.len())
        .max()
        .unwrap_or(0)
        .max(14);
    println!(
        "{:<width$}  {:>7}  {:>7}  {:>6}  {:>9}  {:<20}  {:<20}",
        "training table",
        "rows",
        "class",
        "recall",
        "precision",
        "F1 [95% interval]",
        "PR AUC [95% interval]"
    );
    for s in &r.scores {
        println!(
            "{:<width$}  {:>7}  {:>6.2}%  {:>6.3}  {:>9.3}  {:<20}  {:<20}",
            s.label,
            s.train_rows,
            100.0 * s.class_share,
            s.recall,
            s.precision,
            with_spread(Some(s.f1), s.f1_interval),
            with_spread(s.pr_auc, s.pr_auc_interval),
        );
    }
}

fn value(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

fn with_spread(v: Option<f64>, interval: Option<Interval>) -> String {
    match interval {
        Some(i) => format!("{} [{:.3}, {:.3}]", value(v), i.low, i.high),
        None => value(v),
    }
}

fn print_summary(r: &Report) {
    let mut rows: Vec<(String, String)> = vec![
        ("quality (overall)".into(), value(r.quality.overall)),
        ("  column shapes".into(), value(r.quality.column_shapes)),
        (
            "  column pair trends".into(),
            value(r.quality.column_pair_trends),
        ),
    ];
    if let Some(u) = &r.utility {
        if u.task == "classification" {
            let s = &u.synthetic;
            rows.push((
                format!("utility: {} ROC AUC, synthetic", u.target),
                with_spread(s.roc_auc, s.roc_auc_interval),
            ));
            rows.push((
                "  real".into(),
                with_spread(u.real.roc_auc, u.real.roc_auc_interval),
            ));
            rows.push((
                "  F1 macro synthetic / real".into(),
                format!("{} / {}", value(s.f1_macro), value(u.real.f1_macro)),
            ));
            rows.push((
                "  accuracy synthetic / real".into(),
                format!("{} / {}", value(s.accuracy), value(u.real.accuracy)),
            ));
        } else {
            let s = &u.synthetic;
            rows.push((
                format!("utility: {} R^2, synthetic", u.target),
                with_spread(s.r2, s.r2_interval),
            ));
            rows.push(("  real".into(), with_spread(u.real.r2, u.real.r2_interval)));
            rows.push((
                "  MAE synthetic / real".into(),
                format!("{} / {}", value(s.mae), value(u.real.mae)),
            ));
        }
    }
    let p = &r.privacy;
    rows.push((
        "DCR synthetic -> train (median)".into(),
        value(p.dcr_synthetic_to_train_median),
    ));
    if p.dcr_holdout_to_train_median.is_some() {
        rows.push((
            "DCR holdout -> train (median)".into(),
            value(p.dcr_holdout_to_train_median),
        ));
        rows.push((
            "DCR overfitting protection".into(),
            with_spread(
                p.dcr_overfitting_protection,
                p.dcr_overfitting_protection_interval,
            ),
        ));
        rows.push((
            "membership inference AUC".into(),
            with_spread(
                p.membership_inference_auc,
                p.membership_inference_auc_interval,
            ),
        ));
    }
    rows.push((
        "exact copies of training rows".into(),
        format!("{} ({:.2}%)", p.exact_copies, 100.0 * p.exact_copy_share),
    ));
    rows.push((
        "detection ROC AUC".into(),
        with_spread(r.detection.roc_auc, r.detection.roc_auc_interval),
    ));
    rows.push((
        "category / range coverage".into(),
        format!(
            "{} / {}",
            value(r.diversity.category_coverage),
            value(r.diversity.range_coverage)
        ),
    ));
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
}
