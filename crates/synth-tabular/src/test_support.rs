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
