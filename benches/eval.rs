//! The full synth-eval report at Adult's size: the embedded 26,049 real rows, 50,000
//! synthetic rows and 6,512 holdout rows, target `income`. The synthetic rows draw each
//! column independently from the real ones (a product of the marginals) and the holdout
//! rows are real rows drawn with replacement, so the work is that of a real evaluation.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::RngExt;
use std::path::Path;
use synth_core::seed::seeded_rng;
use synth_data::{ColumnOverrides, infer_meta, read_table};
use synth_eval::table::{Table, Values};
use synth_eval::{EvalOptions, NoProgress, Tables, evaluate};

fn resample(real: &Table, rows: usize, per_column: bool, seed: u64) -> Table {
    let mut rng = seeded_rng(seed);
    let shared: Vec<usize> = (0..rows).map(|_| rng.random_range(0..real.rows)).collect();
    let columns = real
        .columns
        .iter()
        .map(|values| {
            let index: Vec<usize> = if per_column {
                (0..rows).map(|_| rng.random_range(0..real.rows)).collect()
            } else {
                shared.clone()
            };
            match values {
                Values::Numeric(v) => Values::Numeric(index.iter().map(|&i| v[i]).collect()),
                Values::Categorical(c) => {
                    Values::Categorical(index.iter().map(|&i| c[i]).collect())
                }
            }
        })
        .collect();
    Table { rows, columns }
}

fn full_report(c: &mut Criterion) {
    let df = read_table(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/adult.csv")).unwrap();
    let meta = infer_meta(&df, &ColumnOverrides::default()).unwrap();
    let mut tables = Tables::align(&meta, &df, &df, None).unwrap();
    tables.synthetic = resample(&tables.real, 50_000, true, 1);
    tables.holdout = Some(resample(&tables.real, 6_512, false, 2));
    let options = EvalOptions {
        target: Some("income".into()),
        ..EvalOptions::default()
    };
    let mut group = c.benchmark_group("eval");
    group.sample_size(10);
    group.bench_function("adult_full_report", |b| {
        b.iter(|| evaluate(&tables, &options, &NoProgress).unwrap())
    });
    group.finish();
}

criterion_group!(benches, full_report);
criterion_main!(benches);
