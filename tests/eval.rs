//! End-to-end tests through the `synth-eval` binary: known tables with known answers, a
//! trained checkpoint's sample, and bad input that must fail clearly and write nothing.

use assert_cmd::Command;
use polars::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use synth_data::{read_table, write_table};

/// Rows `offset..offset + len` of the embedded Adult table, written to `dir/name`.
fn adult_slice(dir: &Path, name: &str, offset: i64, len: usize) -> PathBuf {
    let mut df = read_table(Path::new("assets/adult.csv"))
        .unwrap()
        .slice(offset, len);
    let path = dir.join(name);
    write_table(&mut df, &path).unwrap();
    path
}

fn eval(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("synth-eval")
        .unwrap()
        .arg("--quiet")
        .args(args)
        .assert()
}

/// `synth-eval` of `synthetic` against `real`, with `holdout` rows and the `income` target.
fn judge(real: &Path, synthetic: &Path, holdout: &Path, out: &Path) -> assert_cmd::assert::Assert {
    eval(&[
        "--real",
        path(real),
        "--synthetic",
        path(synthetic),
        "--holdout",
        path(holdout),
        "--target",
        "income",
        "-o",
        path(out),
    ])
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn number(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} missing in {v:#}"))
}

#[test]
fn copies_and_fresh_rows_get_the_scores_they_deserve() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let train = adult_slice(d, "train.csv", 0, 1500);
    let holdout = adult_slice(d, "holdout.csv", 1500, 1500);
    let fresh = adult_slice(d, "fresh.parquet", 3000, 1500);

    // A "generator" that copies its training rows.
    let out = d.join("copies");
    let assert = judge(&train, &train, &holdout, &out).success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains("quality (overall)") && stdout.contains("exact copies"),
        "{stdout}"
    );
    let r = report(&out);
    assert_eq!(r["schema_version"], 1);
    assert_eq!(number(&r, "/quality/overall"), 1.0);
    assert_eq!(number(&r, "/quality/column_shapes"), 1.0);
    assert_eq!(number(&r, "/quality/column_pair_trends"), 1.0);
    assert_eq!(number(&r, "/privacy/exact_copy_share"), 1.0);
    assert_eq!(number(&r, "/privacy/exact_copies"), 1500.0);
    assert_eq!(number(&r, "/privacy/dcr_synthetic_to_train_median"), 0.0);
    assert!(
        number(&r, "/privacy/dcr_holdout_to_train_median") > 0.01,
        "{r:#}"
    );
    // Every copied row is closer to the training rows than to the holdout: no protection.
    assert!(
        number(&r, "/privacy/dcr_overfitting_protection") < 0.05,
        "{r:#}"
    );
    assert!(
        number(&r, "/privacy/membership_inference_auc") > 0.95,
        "{r:#}"
    );
    // The copies cannot be told from the real rows.
    assert!(
        (number(&r, "/detection/roc_auc") - 0.5).abs() < 0.08,
        "{r:#}"
    );
    // Training on copies is training on the real rows.
    assert_eq!(
        r["utility"]["synthetic"]["roc_auc"],
        r["utility"]["real"]["roc_auc"]
    );
    let auc = number(&r, "/utility/real/roc_auc");
    assert!(
        auc > 0.8,
        "a boosted model reaches ~0.88 on 1,500 Adult rows: {auc}"
    );
    let low = number(&r, "/utility/real/roc_auc_interval/low");
    let high = number(&r, "/utility/real/roc_auc_interval/high");
    assert!(
        low < auc && auc < high && high - low < 0.1,
        "{low} {auc} {high}"
    );
    assert_eq!(r["utility"]["positive_class"], ">50K");

    // Fresh real rows: faithful, useful, and no copies.
    let out = d.join("fresh");
    judge(&train, &fresh, &holdout, &out).success();
    let r = report(&out);
    assert!(number(&r, "/quality/overall") > 0.85, "{r:#}");
    assert!(number(&r, "/quality/overall") < 1.0);
    assert!(number(&r, "/privacy/exact_copy_share") < 0.01, "{r:#}");
    assert!(
        number(&r, "/privacy/dcr_overfitting_protection") > 0.8,
        "{r:#}"
    );
    let mia = number(&r, "/privacy/membership_inference_auc");
    assert!((mia - 0.5).abs() < 0.08, "{mia}");
    assert!(number(&r, "/utility/synthetic/roc_auc") > 0.8, "{r:#}");

    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("native-country") && html.contains("hours-per-week")
    );
    assert!(
        !html.contains("<script") && !html.contains("http"),
        "self-contained"
    );
}

#[test]
fn training_scores_checkpoints_and_eval_reads_their_kinds_and_losses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = d.join("run");
    let holdout = adult_slice(d, "holdout.csv", 2000, 500);
    // The smoke config (20 epochs) plus scoring every 10 epochs while training.
    let config = d.join("tvae.toml");
    let smoke = std::fs::read_to_string("configs/smoke/tvae.toml").unwrap();
    let eval_section = format!(
        "\n[eval]\nholdout = \"{}\"\ntarget = \"income\"\nrows = 500\nevery = 10\n",
        path(&holdout)
    );
    std::fs::write(&config, smoke + &eval_section).unwrap();
    Command::cargo_bin("synth-train")
        .unwrap()
        .args([
            "--config",
            path(&config),
            "--out-dir",
            path(&run),
            "--quiet",
        ])
        .assert()
        .success();
    let lines: Vec<Value> = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines[8].get("eval_quality").is_none());
    let mut scores = Vec::new();
    for line in [&lines[9], &lines[19]] {
        let auc = line["eval_roc_auc"].as_f64().unwrap();
        assert_eq!(
            line["eval_score"].as_f64(),
            Some(auc),
            "the utility decides"
        );
        let q = line["eval_quality"].as_f64().unwrap();
        assert!(q > 0.3 && q < 1.0 && auc > 0.0 && auc < 1.0, "{line}");
        scores.push(auc);
    }
    let best = std::fs::read_to_string(run.join("ckpt/best")).unwrap();
    let expected = if scores[1] > scores[0] {
        "epoch-0020"
    } else {
        "epoch-0010"
    };
    assert_eq!(best, expected, "{scores:?}");
    assert!(run.join("ckpt").join(&best).join("manifest.toml").is_file());
    let synthetic = d.join("synthetic.csv");
    Command::cargo_bin("synth-sample")
        .unwrap()
        .args([
            "--checkpoint",
            path(&run),
            "-n",
            "1000",
            "-o",
            path(&synthetic),
        ])
        .assert()
        .success();
    let out = d.join("report");
    eval(&[
        "--real",
        "tests/fixtures/adult_2k.csv",
        "--synthetic",
        path(&synthetic),
        "--holdout",
        path(&holdout),
        "--target",
        "income",
        "--checkpoint",
        path(&run),
        "-o",
        path(&out),
    ])
    .success();
    let r = report(&out);
    assert_eq!(
        r["loss_curves"]["epochs"].as_array().unwrap().len(),
        20,
        "{:#}",
        r["loss_curves"]
    );
    let kinds: Vec<(&str, &str)> = r["inputs"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert!(
        kinds.contains(&("age", "continuous")) && kinds.contains(&("sex", "discrete")),
        "{kinds:?}"
    );
    assert_eq!(kinds.len(), 15);
    // A 20-epoch smoke TVAE: well short of the data, yet it has learned something about it.
    let q = number(&r, "/quality/overall");
    assert!(q > 0.6 && q < 0.95, "{q}");
    let tstr = number(&r, "/utility/synthetic/roc_auc");
    assert!(
        tstr > 0.6 && tstr < number(&r, "/utility/real/roc_auc"),
        "{tstr}"
    );
    assert!(
        number(&r, "/detection/roc_auc") > 0.9,
        "a smoke model is easy to tell apart"
    );
    assert!(
        std::fs::read_to_string(out.join("index.html"))
            .unwrap()
            .contains("Training losses")
    );
}

#[test]
fn bad_input_fails_naming_the_problem_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let real = adult_slice(d, "real.csv", 0, 300);
    let holdout = adult_slice(d, "holdout.csv", 300, 300);
    let write = |name: &str, mut df: DataFrame| {
        let p = d.join(name);
        write_table(&mut df, &p).unwrap();
        p
    };
    let base = read_table(&real).unwrap();
    let missing = write("missing.csv", base.drop("sex").unwrap());
    let mut extra = base.clone();
    extra
        .with_column(Column::new("zip".into(), vec![1i64; 300]))
        .unwrap();
    let extra = write("extra.csv", extra);
    let mut text_age = base.clone();
    text_age
        .with_column(Column::new("age".into(), vec!["old"; 300]))
        .unwrap();
    let text_age = write("text_age.csv", text_age);
    let mut one_class = base.clone();
    one_class
        .with_column(Column::new("income".into(), vec!["<=50K"; 300]))
        .unwrap();
    let one_class = write("one_class.csv", one_class);
    let empty = d.join("empty.csv");
    std::fs::write(&empty, "age,sex\n").unwrap();

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--synthetic", path(&missing)], "lacks column(s) `sex`"),
        (vec!["--synthetic", path(&extra)], "`zip`"),
        (vec!["--synthetic", path(&text_age)], "`age`"),
        (vec!["--synthetic", path(&empty)], "empty"),
        (
            vec![
                "--synthetic",
                path(&real),
                "--holdout",
                path(&holdout),
                "--target",
                "incme",
            ],
            "`incme` is not a column",
        ),
        (
            vec!["--synthetic", path(&real), "--target", "income"],
            "--holdout",
        ),
        (
            vec![
                "--synthetic",
                path(&real),
                "--holdout",
                path(&one_class),
                "--target",
                "income",
            ],
            "only the class `<=50K`",
        ),
        (
            vec!["--synthetic", path(&real), "--checkpoint", path(d)],
            "no checkpoint",
        ),
    ];
    for (args, expected) in cases {
        let out = d.join("report");
        let mut all = vec!["--real", path(&real), "-o", path(&out)];
        all.extend(&args);
        let assert = eval(&all).failure();
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}

/// Dates, times and keys through the binary: the key is left out, dates and times are scored
/// as days and seconds (fresh rows of the same table score high, the same rows a year later
/// score zero), and the page labels their histograms as dates.
#[test]
fn dates_are_scored_as_dates_and_keys_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("tests/fixtures/transactions.csv").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let part = |name: &str, rows: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{}\n{}\n", lines[0], rows.join("\n"))).unwrap();
        path
    };
    let real = part("real.csv", &lines[1..601]);
    let fresh = part("fresh.csv", &lines[601..]);
    let later: Vec<String> = lines[601..]
        .iter()
        .map(|l| l.replace(",2024-", ",2025-"))
        .collect();
    let later = part(
        "later.csv",
        &later.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let score = |synthetic: &Path, out: &str| {
        let out = dir.path().join(out);
        eval(&[
            "--real",
            path(&real),
            "--synthetic",
            path(synthetic),
            "-o",
            path(&out),
        ])
        .success();
        let r = report(&out);
        let columns = r
            .pointer("/quality/columns")
            .unwrap()
            .as_array()
            .unwrap()
            .clone();
        let of = |name: &str| {
            columns
                .iter()
                .find(|c| c["name"] == name)
                .map(|c| c["score"].as_f64().unwrap())
        };
        assert_eq!(of("tx_id"), None, "the key is not scored");
        let html = std::fs::read_to_string(out.join("index.html")).unwrap();
        (
            of("ts").unwrap(),
            of("date").unwrap(),
            of("local_time").unwrap(),
            html,
        )
    };
    let (ts, date, time, html) = score(&fresh, "fresh");
    assert!(ts > 0.9 && date > 0.9 && time > 0.9, "{ts} {date} {time}");
    assert!(html.contains(">2024-01-0"), "date labels on the histograms");
    let (ts, date, time, _) = score(&later, "later");
    assert!(ts < 0.05 && date < 0.05, "a year later: {ts} {date}");
    assert!(time > 0.9, "times of day do not move: {time}");
}
