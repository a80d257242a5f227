//! The library API as a Rust user calls it: fit a DataFrame, sample DataFrames (conditions,
//! seeds, shards), resume, evaluate; the errors are typed.

use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use synth_augment::{Amount, Augmentation};
use synth_pipeline::augment::{AugmentRequest, Method, run_augmentation};
use synth_pipeline::evaluate::{EvalRequest, Frames, evaluate_frames};
use synth_pipeline::{
    Constraint, Draw, EpochObserver, ErrorKind, FitOptions, PipelineError, RunConfig, Shard,
    Synthesizer, fit,
};

fn adult(rows: usize) -> DataFrame {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/adult_2k.csv");
    synth_data::read_table(&path).unwrap().head(Some(rows))
}

fn mixture(out_dir: &Path, epochs: usize) -> RunConfig {
    let mut config = RunConfig::shipped("mixture").unwrap();
    config.data.path = PathBuf::from("(in memory)");
    config.train.out_dir = out_dir.to_path_buf();
    config.train.epochs = epochs;
    config.train.backend = synth_pipeline::backend::Backend::Ndarray;
    config
}

/// Fitting a DataFrame writes a run folder (checkpoint, metrics, metadata); sampling from it
/// gives the table's columns and types, the same rows for the same seed, and honours
/// conditions.
#[test]
fn fit_a_frame_then_sample_frames() {
    let tmp = tempfile::tempdir().unwrap();
    let table = adult(800);
    let report = fit(
        table.clone(),
        &mixture(tmp.path(), 3),
        &FitOptions::default(),
    )
    .unwrap();
    assert_eq!(report.epochs, 3);
    for file in ["metrics.jsonl", "metadata.toml"] {
        assert!(tmp.path().join(file).is_file(), "{file}");
    }
    let synthesizer = Synthesizer::open(tmp.path(), None).unwrap();
    assert_eq!(synthesizer.manifest().kind, "mixture");
    let draw = Draw {
        seed: Some(4),
        ..Draw::rows(500)
    };
    let rows = synthesizer.sample(&draw).unwrap().table;
    assert_eq!(rows.height(), 500);
    assert_eq!(rows.schema(), table.schema());
    assert_eq!(rows, synthesizer.sample(&draw).unwrap().table);
    let rich = Draw {
        conditions: vec![("income".into(), ">50K".into())],
        ..draw.clone()
    };
    let income = synthesizer.sample(&rich).unwrap().table["income"].clone();
    assert_eq!(income.str().unwrap().equal(">50K").sum(), Some(500));
}

/// Shards: part i of k has its share of the rows, its own seed, and is the same whoever
/// samples it; part 0 of 1 is the whole draw.
#[test]
fn shards_split_a_draw_reproducibly() {
    assert_eq!(
        (0..3)
            .map(|i| Shard::new(i, 3).unwrap().rows(10))
            .collect::<Vec<_>>(),
        [4, 3, 3]
    );
    assert_eq!(Shard::parse("0/1").unwrap(), Shard::WHOLE);
    assert_eq!(Shard::WHOLE.seed(9), 9);
    assert_ne!(
        Shard::new(0, 2).unwrap().seed(9),
        Shard::new(1, 2).unwrap().seed(9)
    );
    for bad in ["3/3", "1", "a/b", "1/0"] {
        assert!(Shard::parse(bad).is_err(), "{bad}");
    }
    let tmp = tempfile::tempdir().unwrap();
    fit(adult(400), &mixture(tmp.path(), 2), &FitOptions::default()).unwrap();
    let part = |i| {
        let draw = Draw {
            seed: Some(1),
            shard: Shard::new(i, 2).unwrap(),
            ..Draw::rows(301)
        };
        Synthesizer::open(tmp.path(), None)
            .unwrap()
            .sample(&draw)
            .unwrap()
            .table
    };
    let (first, second) = (part(0), part(1));
    assert_eq!((first.height(), second.height()), (151, 150));
    assert_eq!(first, part(0));
    assert_ne!(first.head(Some(150)), second);
}

/// The observer hears each epoch; raising the stop flag from it ends the run at that epoch
/// with its checkpoint (an `Interrupted` error), and resuming with the same rows continues
/// it while other rows are refused.
#[test]
fn stop_from_the_observer_then_resume_only_with_the_same_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let epochs_heard = Arc::new(AtomicUsize::new(0));
    let (flag, heard) = (stop.clone(), epochs_heard.clone());
    let options = FitOptions {
        stop: Some(stop),
        on_epoch: Some(EpochObserver(Arc::new(move |summary| {
            heard.fetch_add(1, Ordering::SeqCst);
            if summary.epoch == 2 {
                flag.store(true, Ordering::SeqCst);
            }
        }))),
        ..FitOptions::default()
    };
    let config = mixture(tmp.path(), 6);
    let err = fit(adult(500), &config, &options).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted, "{err}");
    assert_eq!(epochs_heard.load(Ordering::SeqCst), 2);
    let resume = FitOptions {
        resume: true,
        ..FitOptions::default()
    };
    let other = fit(adult(499), &config, &resume).unwrap_err();
    assert!(
        other.to_string().contains("changed since this checkpoint"),
        "{other}"
    );
    let done = fit(adult(500), &config, &resume);
    assert!(done.is_ok_and(|report| report.epochs > 2));
    // a fresh fit into the same folder is refused unless overwriting
    let again = fit(adult(500), &config, &FitOptions::default()).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Input);
    assert!(again.to_string().contains("already holds a run"), "{again}");
}

/// Bad input comes back as typed errors of the input kind, naming what is wrong.
#[test]
fn bad_input_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = DataFrame::new_infer_height(vec![Column::new("a".into(), Vec::<i64>::new())]);
    let err = fit(
        empty.unwrap(),
        &mixture(tmp.path(), 1),
        &FitOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, PipelineError::Invalid(_)), "{err:?}");
    let mut images = RunConfig::shipped("dcgan").unwrap();
    images.train.out_dir = tmp.path().to_path_buf();
    let err = fit(adult(10), &images, &FitOptions::default()).unwrap_err();
    assert!(err.to_string().contains("trains on images"), "{err}");
    let err = Synthesizer::open(&tmp.path().join("none"), None)
        .err()
        .expect("no checkpoint there");
    assert_eq!(err.kind(), ErrorKind::Input, "{err}");
    fit(adult(300), &mixture(tmp.path(), 1), &FitOptions::default()).unwrap();
    let unknown = Draw {
        conditions: vec![("salary".into(), "high".into())],
        ..Draw::rows(5)
    };
    let err = Synthesizer::open(tmp.path(), None)
        .unwrap()
        .sample(&unknown)
        .err()
        .expect("an unknown column is refused");
    assert!(err.to_string().contains("salary"), "{err}");
}

/// Evaluating frames gives the report synth-eval writes: a table against itself scores
/// (almost) perfectly, and the report names the tables as the request does.
#[test]
fn evaluate_frames_in_memory() {
    let real = adult(400);
    let request = EvalRequest {
        real: "mine.csv".into(),
        synthetic: "copy".into(),
        ..EvalRequest::default()
    };
    let tables = Frames {
        real: &real,
        synthetic: &real,
        holdout: None,
    };
    let evaluated = evaluate_frames(&tables, &request, &synth_eval::NoProgress).expect("evaluates");
    assert!(evaluated.report.quality.overall.is_some_and(|q| q > 0.99));
    assert_eq!(evaluated.report.inputs.files.real, "mine.csv");
    let tmp = tempfile::tempdir().unwrap();
    evaluated.write(tmp.path()).unwrap();
    let written = std::fs::read_to_string(tmp.path().join("report.json")).unwrap();
    assert!(written.contains("\"overall\""));
}

/// Adult with a computed column (capital-total = capital-gain + capital-loss) and constraints
/// of every kind that its rows obey: education and its number go together, age is at least
/// education-num + 5, the total is a sum, and a rule (hours-per-week <= 80) that nine rows
/// break, left out of training.
fn constrained_adult(out_dir: &Path, kind: &str) -> (RunConfig, DataFrame) {
    let mut table = adult(600);
    let total = (&table["capital-gain"] + &table["capital-loss"]).unwrap();
    table
        .with_column(total.with_name("capital-total".into()))
        .unwrap();
    let mut config = RunConfig::shipped(kind).unwrap();
    config.data.path = PathBuf::from("(in memory)");
    config.data.columns.discrete = vec!["education-num".into()];
    config.data.on_violation = synth_pipeline::OnViolation::Drop;
    config.train.out_dir = out_dir.to_path_buf();
    config.train.epochs = 1;
    config.train.backend = synth_pipeline::backend::Backend::Ndarray;
    config.constraints = vec![
        Constraint::FixedCombinations {
            columns: vec!["education".into(), "education-num".into()],
        },
        Constraint::Inequality {
            low: "education-num".into(),
            high: "age".into(),
            strict: false,
            gap: 5.0,
        },
        Constraint::Sum {
            column: "capital-total".into(),
            of: vec!["capital-gain".into(), "capital-loss".into()],
        },
        Constraint::Rule {
            expr: "\"hours-per-week\" <= 80".into(),
        },
    ];
    (config, table)
}

/// Which rows of `rows` break one of `constrained_adult`'s constraints (`seen` holds the
/// training table's education pairs).
fn broken_rows(rows: &DataFrame, seen: &std::collections::HashSet<(String, i64)>) -> usize {
    let int = |name: &str| -> Vec<Option<i64>> {
        rows[name]
            .cast(&DataType::Int64)
            .unwrap()
            .i64()
            .unwrap()
            .iter()
            .collect()
    };
    let (age, number, hours) = (int("age"), int("education-num"), int("hours-per-week"));
    let (gain, loss, total) = (
        int("capital-gain"),
        int("capital-loss"),
        int("capital-total"),
    );
    let education: Vec<Option<&str>> = rows["education"].str().unwrap().iter().collect();
    (0..rows.height())
        .filter(|&r| {
            let pair = (education[r].unwrap().to_string(), number[r].unwrap());
            !seen.contains(&pair)
                || age[r].unwrap() < number[r].unwrap() + 5
                || total[r] != Some(gain[r].unwrap() + loss[r].unwrap())
                || hours[r].unwrap() > 80
        })
        .count()
}

/// Every tabular model, trained with constraints of every kind, hands out rows that obey
/// them all, in the table's columns and types; a condition on a combined column is met.
#[test]
fn every_model_samples_rows_that_obey_the_constraints() {
    for kind in ["mixture", "gaussiancopula", "tvae", "ctgan", "argn"] {
        let tmp = tempfile::tempdir().unwrap();
        let (config, table) = constrained_adult(tmp.path(), kind);
        fit(table.clone(), &config, &FitOptions::default()).unwrap();
        assert!(
            tmp.path().join("ckpt/latest/constraints.json").is_file()
                || std::fs::read_dir(tmp.path().join("ckpt"))
                    .unwrap()
                    .any(|e| e.unwrap().path().join("constraints.json").is_file()),
            "{kind}: the checkpoint holds its constraints"
        );
        let synthesizer = Synthesizer::open(tmp.path(), None).unwrap();
        let seen: std::collections::HashSet<(String, i64)> = table["education"]
            .str()
            .unwrap()
            .iter()
            .flatten()
            .zip(table["education-num"].i64().unwrap().into_no_null_iter())
            .map(|(e, n)| (e.to_string(), n))
            .collect();
        let rows = synthesizer.sample(&Draw::rows(400)).unwrap().table;
        assert_eq!(rows.height(), 400, "{kind}");
        assert_eq!(rows.schema(), table.schema(), "{kind}");
        assert_eq!(broken_rows(&rows, &seen), 0, "{kind}");
        if kind == "mixture" {
            let draw = Draw {
                conditions: vec![("education".into(), "Bachelors".into())],
                ..Draw::rows(200)
            };
            let rows = synthesizer.sample(&draw).unwrap().table;
            assert_eq!(
                rows["education"].str().unwrap().equal("Bachelors").sum(),
                Some(200)
            );
            assert_eq!(
                rows["education-num"].i64().unwrap().equal(13).sum(),
                Some(200)
            );
            assert_eq!(broken_rows(&rows, &seen), 0);
            let unseen = Draw {
                conditions: vec![
                    ("education".into(), "Bachelors".into()),
                    ("education-num".into(), "9".into()),
                ],
                ..Draw::rows(10)
            };
            let error = synthesizer
                .sample(&unseen)
                .err()
                .expect("refused")
                .to_string();
            assert!(
                error.contains("no combination of education, education-num"),
                "{error}"
            );
            // --augment grows >50K from the constrained checkpoint: the new rows obey too
            let base = tmp.path().join("base.csv");
            synth_data::write_table(&mut table.clone(), &base).unwrap();
            let output = tmp.path().join("augmented.csv");
            let report = run_augmentation(&AugmentRequest {
                base,
                checkpoint: Some(tmp.path().to_path_buf()),
                augmentation: Augmentation {
                    target: "income".into(),
                    class: ">50K".into(),
                    amount: Amount::Rows(150),
                    mark: None,
                },
                method: Method::Model,
                neighbours: 5,
                output: output.clone(),
                seed: Some(3),
                backend: None,
                strict_backend: false,
                batch_size: 1000,
            })
            .unwrap();
            assert_eq!(report.new_rows, 150);
            let augmented = synth_data::read_table(&output).unwrap();
            let new = augmented.slice(table.height() as i64, 150);
            assert_eq!(new["income"].str().unwrap().equal(">50K").sum(), Some(150));
            assert_eq!(broken_rows(&new, &seen), 0);
        }
    }
}

/// Personal columns (`data.pii`) come out as fakes: no real value in the output nor in the
/// checkpoint, emails as emails, names as names, the same customer as the same fake.
#[test]
fn personal_columns_come_out_as_consistent_fakes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/transactions.csv");
    let mut table = synth_data::read_table(&path).unwrap();
    let customers: Vec<String> = table["customer"]
        .str()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    let emails: Vec<String> = customers.iter().map(|c| format!("{c}@bank.test")).collect();
    let names: Vec<String> = customers
        .iter()
        .map(|c| format!("Zyx{c} Qwertyuiop"))
        .collect();
    table
        .with_column(Column::new("email".into(), emails.clone()))
        .unwrap();
    table
        .with_column(Column::new("customer_name".into(), names.clone()))
        .unwrap();
    let mut config = mixture(tmp.path(), 1);
    config.data.columns.pii = vec!["email".into(), "customer_name".into()];
    config.data.columns.ignore = vec!["customer".into()];
    fit(table, &config, &FitOptions::default()).unwrap();
    let synthesizer = Synthesizer::open(tmp.path(), None).unwrap();
    let rows = synthesizer.sample(&Draw::rows(500)).unwrap().table;
    let column = |name: &str| -> Vec<String> {
        rows[name]
            .str()
            .unwrap()
            .iter()
            .flatten()
            .map(str::to_string)
            .collect()
    };
    let (fake_emails, fake_names) = (column("email"), column("customer_name"));
    assert_eq!((fake_emails.len(), fake_names.len()), (500, 500));
    for email in &fake_emails {
        assert!(!emails.contains(email), "{email} leaked");
        assert!(email.contains("@example."), "{email}");
    }
    for name in &fake_names {
        assert!(!names.contains(name), "{name} leaked");
        assert!(name.split_whitespace().count() >= 2, "{name}");
    }
    // 49 customers: at most 49 fakes each, and each recurs
    let distinct = |values: &[String]| {
        values
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len()
    };
    assert!(distinct(&fake_emails) <= 49 && distinct(&fake_names) <= 49);
    assert!(distinct(&fake_emails) > 5);
    let checkpoint = std::fs::read_to_string(synthesizer.dir().join("transformer.json")).unwrap();
    assert!(!checkpoint.contains("bank.test") && !checkpoint.contains("Zyx"));
}
