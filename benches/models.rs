//! One training epoch (GaussianCopula: the whole fit, from the table; TabularARGN: its
//! tokenizer and network set-up too; the mixture: one EM iteration's E-steps, and its leaves
//! and random start) and sampling 50,000 rows
//! for each tabular model on the embedded Adult table (26,049 rows), with the default (paper)
//! settings, on the CPU backend (`SYNTH_BACKEND=wgpu` for the GPU).
//!
//! `cargo bench --profile dev --bench models` (the dev profile optimises dependencies at
//! level 2, see the workspace `Cargo.toml`; `--release` takes far longer to build).

use criterion::{Criterion, criterion_group, criterion_main};
use polars::prelude::DataFrame;
use std::path::Path;
use synth_core::Validate;
use synth_data::{ColumnOverrides, infer_meta, read_table};
use synth_tabular::argn::ArgnConfig;
use synth_tabular::copula::GaussianCopulaConfig;
use synth_tabular::ctgan::CtganConfig;
use synth_tabular::mixture::MixtureConfig;
use synth_tabular::tvae::TvaeConfig;
use synth_tabular::{DataTransformer, TabularModel, TrainingTable, TransformerConfig};

const BATCH: usize = 500;

/// The transformer and training input `model` is fitted on, as `synth-train` builds them.
fn fit_input(model: &dyn TabularModel, df: &DataFrame) -> (DataTransformer, TrainingTable) {
    let meta = infer_meta(df, &ColumnOverrides::default()).unwrap();
    let config = model.transformer_config(&TransformerConfig::default());
    let transformer = DataTransformer::fit(df, &meta, &config, 0).unwrap();
    let table = model.training_table(&transformer, df, 0).unwrap();
    (transformer, table)
}

fn bench_model(c: &mut Criterion, name: &str, model: &dyn TabularModel) {
    let df = read_table(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/adult.csv")).unwrap();
    let (_, device) = synth_pipeline::backend::device_from_env().unwrap();
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    let build = || {
        let (transformer, table) = fit_input(model, &df);
        model.trainer(transformer, table, &device, 0, None).unwrap()
    };
    if model.fitted_on_values() {
        // the copula: building the trainer is the whole fit; TabularARGN: its tokenizer and
        // fresh network; the mixture: its leaves and random start
        group.bench_function("adult_fit", |b| b.iter(build));
    }
    let mut trainer = build();
    if trainer.steps_per_epoch() > 1 {
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
    } else {
        trainer.train_step();
    }
    let checkpoint = tempfile::tempdir().unwrap();
    trainer.save(checkpoint.path()).unwrap();
    let sampler = model.sampler(checkpoint.path(), &device).unwrap();
    group.bench_function("sample_50k", |b| {
        b.iter(|| sampler.sample(50_000, &[], 10_000, 1).unwrap())
    });
    group.finish();
}

fn models(c: &mut Criterion) {
    bench_model(
        c,
        "ctgan",
        &CtganConfig::default().validated(BATCH).unwrap(),
    );
    bench_model(c, "tvae", &TvaeConfig::default().validated(BATCH).unwrap());
    let copula = GaussianCopulaConfig::default().validated(BATCH).unwrap();
    bench_model(c, "gaussiancopula", &copula);
    let argn = ArgnConfig::default().validated(BATCH).unwrap();
    bench_model(c, "argn", &argn);
    let mixture = MixtureConfig::default().validated(BATCH).unwrap();
    bench_model(c, "mixture", &mixture);
}

criterion_group!(benches, models);
criterion_main!(benches);
