//! MST on a slice of Adult: the budget is spent exactly, the release holds no statistic it
//! did not pay for, marginals and the chosen pairs survive the noise, conditions are exact,
//! and bad settings are named.

use super::*;
use crate::test_support::{adult_slice, tvd};
use crate::transform::TransformerConfig;
use polars::prelude::*;
use synth_core::Validate;
use synth_data::{ColumnOverrides, infer_meta};
use synth_privacy::PrivacyConfig;

fn privacy(epsilon: f64, public: &[&str]) -> PrivacyConfig {
    PrivacyConfig {
        epsilon,
        delta: 1e-9,
        public: public.iter().map(|s| s.to_string()).collect(),
        clip_norm: 1.0,
        reproducible_noise: true,
    }
}

fn model(privacy: PrivacyConfig) -> Valid<MstConfig> {
    MstConfig::default().validated(privacy).unwrap()
}

/// A fitted sampler of `df` (through a checkpoint folder, as synth-sample loads it), and the
/// fit's ledger.
fn trained(df: &DataFrame, model: &Valid<MstConfig>) -> (MstSampler, Budget, tempfile::TempDir) {
    let meta = infer_meta(df, &ColumnOverrides::default()).unwrap();
    let config = model.transformer_config(&TransformerConfig::default());
    let transformer = DataTransformer::fit(df, &meta, &config, 1).unwrap();
    let table = model.training_table(&transformer, df, 1).unwrap();
    let (released, fitted, budget) = fit(model, &transformer, &table.values().unwrap(), 1).unwrap();
    let trainer = fitted_once(released, fitted, budget.clone());
    let dir = tempfile::tempdir().unwrap();
    trainer.save(dir.path()).unwrap();
    (MstSampler::load(dir.path()).unwrap(), budget, dir)
}

fn sample(s: &MstSampler, n: usize, condition: &[(&str, &str)]) -> DataFrame {
    let condition: Vec<(String, String)> = condition
        .iter()
        .map(|(c, v)| (c.to_string(), v.to_string()))
        .collect();
    s.sample(n, &condition, 1000, 3).unwrap().table
}

#[test]
fn mst_spends_its_budget_and_keeps_marginals_and_pairs() {
    let df = adult_slice(4000);
    let (s, budget, dir) = trained(&df, &model(privacy(10.0, &[])));
    // the whole budget, and no more, at the asked delta
    assert!((budget.epsilon_spent() - 10.0).abs() < 1e-6, "{budget:?}");
    assert!(budget.spent() <= budget.rho * (1.0 + 1e-9));
    assert_eq!(budget.spends.len(), 4, "{budget:?}");
    let out = sample(&s, 4000, &[]);
    assert_eq!(out.height(), 4000);
    assert_eq!(out.get_column_names(), df.get_column_names());
    for column in ["sex", "race", "relationship", "income", "workclass"] {
        let d = tvd(&df, &out, column);
        assert!(d < 0.06, "{column}: {d}");
    }
    // a strong pair survives: the share of husbands among men and among women
    let husbands = |t: &DataFrame, sex: &str| {
        let t = t
            .clone()
            .lazy()
            .filter(
                col("sex")
                    .cast(DataType::String)
                    .str()
                    .contains(lit(sex), false),
            )
            .collect()
            .unwrap();
        let rel = t
            .column("relationship")
            .unwrap()
            .cast(&DataType::String)
            .unwrap();
        let n = rel
            .str()
            .unwrap()
            .iter()
            .filter(|v| v.is_some_and(|v| v.contains("Husband")))
            .count();
        n as f64 / t.height().max(1) as f64
    };
    assert!(husbands(&df, "Male") > 0.5);
    assert!(husbands(&out, "Male") > 0.4, "{}", husbands(&out, "Male"));
    assert!(
        husbands(&out, "Female") < 0.05,
        "{}",
        husbands(&out, "Female")
    );
    // the released transformer holds no counts, and the ledger is saved
    let text = std::fs::read_to_string(dir.path().join(TRANSFORMER_FILE)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for column in json["columns"].as_array().unwrap() {
        if let Some(counts) = column["encoding"]["counts"].as_array() {
            assert!(counts.iter().all(|c| c == 0), "{column}");
        }
        if let Some(counts) = column["encoding"]["presence_counts"].as_array() {
            assert!(counts.iter().all(|c| c == 0), "{column}");
        }
    }
    let ledger: Budget =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(PRIVACY_FILE)).unwrap())
            .unwrap();
    assert_eq!(ledger, budget);
}

#[test]
fn rare_categories_are_not_released_unless_public() {
    let df = adult_slice(2000);
    let counts = |t: &DataFrame| {
        let c = t
            .column("native-country")
            .unwrap()
            .cast(&DataType::String)
            .unwrap();
        let mut m = std::collections::HashMap::new();
        for v in c.str().unwrap().iter() {
            *m.entry(v.unwrap_or("").to_string()).or_insert(0usize) += 1;
        }
        m
    };
    let real = counts(&df);
    let singletons: Vec<&String> = real
        .iter()
        .filter(|(_, n)| **n == 1)
        .map(|(k, _)| k)
        .collect();
    assert!(!singletons.is_empty());
    let (s, _, _) = trained(&df, &model(privacy(10.0, &[])));
    let out = counts(&sample(&s, 20_000, &[]));
    for rare in &singletons {
        assert!(!out.contains_key(*rare), "{rare} was released");
    }
    // declared public, the whole category list is the domain (and costs nothing)
    let (s, budget, _) = trained(&df, &model(privacy(1.0, &["*"])));
    assert_eq!(budget.spends.len(), 3, "no domain spend: {budget:?}");
    assert_eq!(budget.selection_delta, 0.0);
    let labels = &s.transformer.modelled_columns()[s
        .transformer
        .modelled_columns()
        .iter()
        .position(|(m, _)| m.name == "native-country")
        .unwrap()]
    .1
    .clone()
    .unwrap()
    .0;
    for rare in &singletons {
        assert!(labels.contains(*rare));
    }
}

#[test]
fn conditions_are_exact() {
    let df = adult_slice(3000);
    let (s, _, _) = trained(&df, &model(privacy(5.0, &["*"])));
    let out = sample(&s, 500, &[("sex", "Female"), ("age", "30..40")]);
    let sex = out.column("sex").unwrap().cast(&DataType::String).unwrap();
    assert!(sex.str().unwrap().iter().all(|v| v == Some("Female")));
    let age = out.column("age").unwrap().cast(&DataType::Float64).unwrap();
    assert!(
        age.f64()
            .unwrap()
            .iter()
            .all(|v| v.is_some_and(|a| (30.0..=40.0).contains(&a)))
    );
    let err = s
        .sample(10, &[("nope".into(), "1".into())], 10, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn bad_budgets_are_named() {
    let df = adult_slice(500);
    let meta = infer_meta(&df, &ColumnOverrides::default()).unwrap();
    let run = |privacy: PrivacyConfig| {
        let m = model(privacy);
        let config = m.transformer_config(&TransformerConfig::default());
        let transformer = DataTransformer::fit(&df, &meta, &config, 1).unwrap();
        let values = m
            .training_table(&transformer, &df, 1)
            .unwrap()
            .values()
            .unwrap();
        fit(&m, &transformer, &values, 1)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let mut large_delta = privacy(1.0, &["*"]);
    large_delta.delta = 0.01;
    let err = run(large_delta);
    assert!(
        err.contains("privacy.delta") && err.contains("500 rows"),
        "{err}"
    );
    let err = run(privacy(1.0, &["agee"]));
    assert!(err.contains("privacy.public names `agee`"), "{err}");
    // public bounds the data exceeds
    let mut narrow = meta.clone();
    let age = narrow.columns.iter_mut().find(|c| c.name == "age").unwrap();
    (age.min, age.max) = (Some(20.0), Some(60.0));
    let m = model(privacy(1.0, &["*"]));
    let config = m.transformer_config(&TransformerConfig::default());
    let transformer = DataTransformer::fit(&df, &narrow, &config, 1).unwrap();
    let values = m
        .training_table(&transformer, &df, 1)
        .unwrap()
        .values()
        .unwrap();
    let err = fit(&m, &transformer, &values, 1)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`age`") && err.contains("[20, 60]") && err.contains("privacy.public"),
        "{err}"
    );
    let err = run(privacy(1e-4, &[]));
    assert!(
        err.contains("privacy.epsilon") && err.contains("column `"),
        "{err}"
    );
    let err = MstConfig::default()
        .validated(privacy(-1.0, &[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("privacy.epsilon"), "{err}");
}

#[test]
fn a_damaged_model_file_is_named() {
    let df = adult_slice(300);
    let (_, _, dir) = trained(&df, &model(privacy(5.0, &["*"])));
    let path = dir.path().join(MST_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["tree"]["order"] = serde_json::json!([0, 0]);
    std::fs::write(&path, json.to_string()).unwrap();
    let err = MstSampler::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("mst.json") && err.contains("order"), "{err}");
    std::fs::write(&path, "{").unwrap();
    let err = MstSampler::load(dir.path()).err().unwrap().to_string();
    assert!(err.contains("mst.json"), "{err}");
}
