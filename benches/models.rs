//! One training epoch and sampling 50,000 rows for each tabular model on the embedded Adult
//! table (26,049 rows), with the default (paper) settings, on the CPU backend
//! (`SYNTH_BACKEND=wgpu` for the GPU).
//!
//! `cargo bench --profile dev --bench models` (the dev profile optimises dependencies at
//! level 2, see the workspace `Cargo.toml`; `--release` takes far longer to build).

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use synth_data::{ColumnOverrides, infer_meta, read_table};
use synth_tabular::ctgan::CtganConfig;
use synth_tabular::tvae::TvaeConfig;
use synth_tabular::{DataTransformer, TabularModel, TrainingTable, TransformerConfig};

const BATCH: usize = 500;

fn bench_model(c: &mut Criterion, name: &str, model: &dyn TabularModel) {
    let df = read_table(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/adult.csv")).unwrap();
    let meta = infer_meta(&df, &ColumnOverrides::default()).unwrap();
    let transformer = DataTransformer::fit(&df, &meta, &TransformerConfig::default(), 0).unwrap();
    let table = transformer.encode(&df, 0).unwrap();
    let (_, device) = synth::backend::device_from_env().unwrap();
    let mut trainer = model
        .trainer(
            BATCH,
            transformer,
            TrainingTable::Encoded(table),
            &device,
            0,
            None,
        )
        .unwrap();
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    let mut epoch = 0;
    group.bench_function("adult_epoch", |b| {
        b.iter(|| {
            trainer.begin_epoch(epoch);
            for _ in 0..trainer.steps_per_epoch() {
                trainer.train_step();
            }
            epoch += 1;
            trainer.take_losses()
        })
    });
    let checkpoint = tempfile::tempdir().unwrap();
    trainer.save(checkpoint.path()).unwrap();
    let sampler = model.sampler(checkpoint.path(), &device).unwrap();
    group.bench_function("sample_50k", |b| {
        b.iter(|| sampler.sample(50_000, &[], 10_000, 1).unwrap())
    });
    group.finish();
}

fn models(c: &mut Criterion) {
    bench_model(c, "ctgan", &CtganConfig::default());
    bench_model(c, "tvae", &TvaeConfig::default());
}

criterion_group!(benches, models);
criterion_main!(benches);
