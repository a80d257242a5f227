//! Helpers shared by the models' tests: an Adult slice, a fitted transformer, an epoch loop
//! and a marginal distance.

use crate::transform::{ColumnValues, DataTransformer, EncodedTable, TransformerConfig};
use polars::prelude::*;
use rand::RngExt;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use synth_core::Trainable;
use synth_core::seed::seeded_rng;
use synth_data::{ColumnOverrides, infer_meta, read_table};

/// The first `rows` rows of the embedded Adult table.
pub fn adult_slice(rows: usize) -> DataFrame {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/adult.csv");
    read_table(&path).unwrap().head(Some(rows))
}

/// A transformer fitted on `df` with inferred kinds, and `df` encoded by it.
pub fn fitted(df: &DataFrame, seed: u64) -> (DataTransformer, EncodedTable) {
    let meta = infer_meta(df, &ColumnOverrides::default()).unwrap();
    let transformer = DataTransformer::fit(df, &meta, &TransformerConfig::default(), seed).unwrap();
    let table = transformer.encode(df, seed).unwrap();
    (transformer, table)
}

/// Runs whole epochs as the training loop does.
pub fn run_epochs(t: &mut impl Trainable, epochs: std::ops::Range<usize>) {
    for epoch in epochs {
        t.begin_epoch(epoch);
        for _ in 0..t.steps_per_epoch() {
            t.train_step();
        }
    }
}

/// Whole epochs as the training loop runs them, each ended (validated, best kept): each
/// epoch's first end-of-epoch figure.
pub fn train_epochs(t: &mut impl Trainable, epochs: std::ops::Range<usize>) -> Vec<f64> {
    epochs
        .map(|epoch| {
            run_epochs(t, epoch..epoch + 1);
            t.end_epoch()[0].1
        })
        .collect()
}

/// Total variation distance between a column's category frequencies in two tables.
pub fn tvd(a: &DataFrame, b: &DataFrame, column: &str) -> f64 {
    let freq = |df: &DataFrame| -> HashMap<String, f64> {
        let col = df.column(column).unwrap().cast(&DataType::String).unwrap();
        let mut m = HashMap::new();
        for v in col.str().unwrap().iter() {
            *m.entry(v.unwrap_or("").to_string()).or_insert(0.0) += 1.0 / df.height() as f64;
        }
        m
    };
    let (fa, fb) = (freq(a), freq(b));
    let keys: HashSet<&String> = fa.keys().chain(fb.keys()).collect();
    0.5 * keys
        .into_iter()
        .map(|k| (fa.get(k).unwrap_or(&0.0) - fb.get(k).unwrap_or(&0.0)).abs())
        .sum::<f64>()
}

/// The wgpu device for the cross-backend tests. Without an adapter the test is skipped, except
/// under CI (`CI` set), whose script installs Mesa's software Vulkan driver (lavapipe).
pub fn wgpu_or_skip() -> Option<burn::tensor::Device> {
    let device = crate::wgpu_device();
    if device.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "no wgpu adapter under CI: .ci/run installs mesa-vulkan-drivers (lavapipe)"
        );
        eprintln!("skipped: no wgpu adapter (install mesa-vulkan-drivers to run this test)");
    }
    device
}

/// Asserts two sequences agree entry by entry within `tolerance` (absolute, or relative to
/// the larger magnitude when that exceeds 1).
pub fn assert_close(a: &[f32], b: &[f32], tolerance: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1.0))
        .fold(0.0f32, f32::max);
    eprintln!("{what}: largest difference {worst:e}");
    assert!(
        worst <= tolerance,
        "{what}: differ by {worst} > {tolerance}"
    );
}

/// A transformer fitted on `df` as the registry fits one for a model on values.
pub fn values_transformer(df: &DataFrame) -> (DataTransformer, Vec<ColumnValues>) {
    let meta = infer_meta(df, &ColumnOverrides::default()).unwrap();
    let mut settings = TransformerConfig::default();
    settings.mixture.max_modes = 1;
    let transformer = DataTransformer::fit(df, &meta, &settings, 0).unwrap();
    let values = transformer.values(df).unwrap();
    (transformer, values)
}

/// A table of every column kind: categories, a number with few values, a two-decimal
/// number with a point mass at 0, missing values and many distinct values, and dates.
pub fn mixed_table(rows: usize) -> DataFrame {
    let mut rng = seeded_rng(11);
    let colour: Vec<&str> = (0..rows)
        .map(|_| ["red", "green", "blue"][rng.random_range(0..3)])
        .collect();
    let small: Vec<f64> = (0..rows)
        .map(|_| 1.5 * rng.random_range(0..7) as f64)
        .collect();
    let amount: Vec<Option<f64>> = (0..rows)
        .map(|_| match rng.random_range(0..10) {
            0 => None,
            1..=4 => Some(0.0),
            _ => Some((rng.random_range(1.0..5000.0f64) * 100.0).round() / 100.0),
        })
        .collect();
    let day: Vec<String> = (0..rows)
        .map(|_| {
            format!(
                "2024-{:02}-{:02}",
                rng.random_range(1..13),
                rng.random_range(1..29)
            )
        })
        .collect();
    df!("colour" => colour, "small" => small, "amount" => amount, "day" => day).unwrap()
}
