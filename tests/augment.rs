//! End-to-end tests of growing a rare class: `synth-sample --augment` with CTGAN, TVAE and
//! SMOTE-NC, `synth-eval --augment`, and their bad inputs.

use assert_cmd::Command;
use polars::prelude::*;
use predicates::prelude::*;
use std::path::Path;
use synth_data::read_table;

const DATA: &str = "tests/fixtures/adult_2k.csv";
/// Rows of the fixture, and of them `>50K`.
const ROWS: usize = 2000;
const RICH: usize = 495;

fn train(config: &str, out: &Path) {
    Command::cargo_bin("synth-train")
        .unwrap()
        .args(["--config", config, "--out-dir", out.to_str().unwrap()])
        .arg("--quiet")
        .assert()
        .success();
}

fn augment(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("synth-sample")
        .unwrap()
        .args(["--augment", DATA])
        .args(args)
        .assert()
}

fn incomes(df: &DataFrame) -> Vec<String> {
    let column = df.column("income").unwrap().str().unwrap().clone();
    column.iter().map(|v| v.unwrap_or("").to_string()).collect()
}

/// The output holds the real rows unchanged, then exactly `new` rows of `>50K`, flagged.
fn check_augmented(out: &Path, new: usize) {
    let real = read_table(Path::new(DATA)).unwrap();
    let augmented = read_table(out).unwrap();
    assert_eq!(augmented.height(), ROWS + new);
    let flag = augmented
        .column("synthetic")
        .unwrap()
        .bool()
        .unwrap()
        .clone();
    let flagged: Vec<bool> = flag.iter().map(|f| f.unwrap()).collect();
    assert!(flagged[..ROWS].iter().all(|f| !f) && flagged[ROWS..].iter().all(|f| *f));
    let without_flag = augmented.drop("synthetic").unwrap();
    assert_eq!(
        without_flag.slice(0, ROWS),
        real,
        "the real rows come first, unchanged"
    );
    assert_eq!(without_flag.schema(), real.schema());
    let classes = incomes(&augmented);
    assert!(classes[ROWS..].iter().all(|c| c == ">50K"));
    let rich = classes.iter().filter(|c| *c == ">50K").count();
    assert_eq!(rich, RICH + new);
}

/// 495 of 2,000 rows to 40%: (495 + k) / (2000 + k) >= 0.4 <=> 0.6 k >= 305 <=> k >= 509.
const TO_40_PERCENT: usize = 509;

#[test]
fn ctgan_tvae_and_smote_add_exactly_the_rows_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    for (config, name) in [
        ("configs/smoke/ctgan.toml", "ctgan"),
        ("configs/smoke/tvae.toml", "tvae"),
    ] {
        let run = dir.path().join(name);
        train(config, &run);
        let out = dir.path().join(format!("{name}.csv"));
        let shown = augment(&[
            "--target",
            "income",
            "--checkpoint",
            run.to_str().unwrap(),
            "--class",
            ">50K",
            "--to-share",
            "0.4",
            "--mark-synthetic",
            "synthetic",
            "-o",
            out.to_str().unwrap(),
        ])
        .success()
        .stdout(predicate::str::contains("24.75% -> 40.02%"));
        if name == "tvae" {
            // TVAE rejection-samples the class and says how often its first pass hit it
            shown.stdout(predicate::str::contains("first-pass match rate"));
        }
        check_augmented(&out, TO_40_PERCENT);
    }
    // SMOTE needs no checkpoint; -n gives the count; Parquet keeps the types
    let out = dir.path().join("smote.parquet");
    augment(&[
        "--target",
        "income",
        "--method",
        "smote",
        "--class",
        ">50K",
        "-n",
        "300",
        "--mark-synthetic",
        "synthetic",
        "-o",
        out.to_str().unwrap(),
    ])
    .success();
    check_augmented(&out, 300);
    // same seed, same rows
    let again = dir.path().join("again.parquet");
    augment(&[
        "--target",
        "income",
        "--method",
        "smote",
        "--class",
        ">50K",
        "-n",
        "300",
        "--mark-synthetic",
        "synthetic",
        "-o",
        again.to_str().unwrap(),
    ])
    .success();
    assert_eq!(read_table(&out).unwrap(), read_table(&again).unwrap());

    // synth-eval --augment scores the real rows and each augmented table on holdout rows
    let holdout = dir.path().join("holdout.csv");
    let mut rows = read_table(Path::new(DATA)).unwrap().slice(1500, 500);
    synth_data::write_table(&mut rows, &holdout).unwrap();
    let report = dir.path().join("report");
    Command::cargo_bin("synth-eval")
        .unwrap()
        .args(["--real", DATA, "--holdout", holdout.to_str().unwrap()])
        .args(["--target", "income", "--class", ">50K", "--quiet"])
        .args(["--augment", &format!("smote={}", out.display())])
        .args(["--augment", dir.path().join("ctgan.csv").to_str().unwrap()])
        .args(["-o", report.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("smote").and(predicate::str::contains("PR AUC")));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("augmentation.json")).unwrap())
            .unwrap();
    let scores = json["scores"].as_array().unwrap();
    let labels: Vec<&str> = scores
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["real", "smote", "ctgan"]);
    let rows_of = |i: usize| {
        (
            scores[i]["train_rows"].as_u64(),
            scores[i]["class_rows"].as_u64(),
        )
    };
    assert_eq!(rows_of(0), (Some(2000), Some(495)));
    assert_eq!(rows_of(1), (Some(2300), Some(795)));
    assert_eq!(rows_of(2), (Some(2509), Some(1004)));
    let holdout_rich = incomes(&rows).iter().filter(|c| *c == ">50K").count();
    assert_eq!(
        json["holdout_class_rows"].as_u64(),
        Some(holdout_rich as u64)
    );
    for s in scores {
        let recall = s["recall"].as_f64().unwrap();
        assert!(recall > 0.3 && recall <= 1.0, "{s}");
    }
}

#[test]
fn bad_augmentation_requests_are_named_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let o = out.to_str().unwrap();
    let fails = |args: &[&str], message: &str| {
        let mut all = vec!["--method", "smote", "-o", o];
        all.extend_from_slice(args);
        augment(&all)
            .failure()
            .stderr(predicate::str::contains(message));
        assert!(!out.exists(), "{args:?} left a file");
    };
    fails(
        &["--class", "x", "--target", "salary", "-n", "5"],
        "`salary` is not a column",
    );
    fails(
        &["--class", "39", "--target", "age", "-n", "5"],
        "`age` is a continuous column",
    );
    fails(
        &["--target", "income", "--class", "rich", "-n", "5"],
        "its classes: <=50K, >50K",
    );
    fails(
        &["--target", "income", "--class", ">50K", "--to-share", "0.2"],
        "already makes up 0.2475",
    );
    fails(
        &["--target", "income", "--class", ">50K", "--to-share", "1.5"],
        "strictly between 0 and 1",
    );
    fails(
        &[
            "--target",
            "income",
            "--class",
            ">50K",
            "--to-share",
            "0.5",
            "-n",
            "3",
        ],
        "either -n/--rows or --to-share",
    );
    fails(
        &[
            "--target",
            "income",
            "--class",
            ">50K",
            "-n",
            "3",
            "--mark-synthetic",
            "age",
        ],
        "already a column",
    );
    // the model method needs a checkpoint, whose columns the table must have
    augment(&["--target", "income", "--class", ">50K", "-n", "3", "-o", o])
        .failure()
        .stderr(predicate::str::contains("needs --checkpoint"));
    let run = dir.path().join("run");
    train("configs/smoke/tvae.toml", &run);
    let narrow = dir.path().join("narrow.csv");
    let mut table = read_table(Path::new(DATA)).unwrap().drop("race").unwrap();
    synth_data::write_table(&mut table, &narrow).unwrap();
    Command::cargo_bin("synth-sample")
        .unwrap()
        .args(["--augment", narrow.to_str().unwrap(), "--target", "income"])
        .args(["--class", ">50K", "-n", "3", "-o", o])
        .args(["--checkpoint", run.to_str().unwrap()])
        .assert()
        .failure()
        .stderr(predicate::str::contains("lacks `race`"));
    assert!(!out.exists());
    // synth-eval --augment: a class the holdout rows lack, an augmented table lacking columns
    let report = dir.path().join("report");
    let eval = |augmented: &str, class: &str, message: &str| {
        Command::cargo_bin("synth-eval")
            .unwrap()
            .args(["--real", DATA, "--holdout", DATA, "--target", "income"])
            .args(["--class", class, "--augment", augmented, "--quiet"])
            .args(["-o", report.to_str().unwrap()])
            .assert()
            .failure()
            .stderr(predicate::str::contains(message));
        assert!(!report.exists());
    };
    eval(
        DATA,
        "rich",
        "class `rich` of `income` does not occur in the holdout",
    );
    eval(narrow.to_str().unwrap(), ">50K", "lacks column(s) race");
}
