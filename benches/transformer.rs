//! Transformer fit + encode on the embedded Adult table (26,049 rows, 15 columns).

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use synth_data::{ColumnOverrides, infer_meta, read_table};
use synth_tabular::{DataTransformer, TransformerConfig};

fn transformer(c: &mut Criterion) {
    let df = read_table(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/adult.csv")).unwrap();
    let meta = infer_meta(&df, &ColumnOverrides::default()).unwrap();
    let config = TransformerConfig::default();
    let mut group = c.benchmark_group("transformer");
    group.sample_size(10);
    group.bench_function("adult_fit_encode", |b| {
        b.iter(|| {
            let t = DataTransformer::fit(&df, &meta, &config, 0).unwrap();
            t.encode(&df, 0).unwrap()
        })
    });
    let fitted = DataTransformer::fit(&df, &meta, &config, 0).unwrap();
    let encoded = fitted.encode(&df, 0).unwrap();
    group.bench_function("adult_decode", |b| {
        b.iter(|| fitted.decode(&encoded, 0).unwrap())
    });
    group.finish();
}

criterion_group!(benches, transformer);
criterion_main!(benches);
