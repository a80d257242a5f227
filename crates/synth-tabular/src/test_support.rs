//! Helpers shared by the models' tests: an Adult slice, a fitted transformer, an epoch loop
//! and a marginal distance.

use crate::transform::{DataTransformer, EncodedTable, TransformerConfig};
use polars::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use synth_core::Trainable;
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
