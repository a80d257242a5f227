use super::*;
use crate::ConditionFrequencies;
use crate::tensors::Noise;
use crate::test_support::{adult_slice, assert_close, fitted, run_epochs, tvd, wgpu_or_skip};
use polars::prelude::*;
use synth_core::{ConfigError, Validate};

fn small_config() -> CtganConfig {
    CtganConfig {
        embedding_dim: 32,
        generator_dim: vec![64, 64],
        discriminator_dim: vec![64, 64],
        ..Default::default()
    }
}

/// `config`, validated for batches of 100.
fn valid(config: CtganConfig) -> Valid<CtganConfig> {
    config.validated(100).unwrap()
}

fn trainer(df: &DataFrame, config: CtganConfig, seed: u64) -> CtganTrainer {
    let (transformer, table) = fitted(df, seed);
    CtganTrainer::new(
        valid(config),
        transformer,
        table,
        &crate::cpu_device(),
        seed,
    )
    .unwrap()
}

#[test]
fn training_moves_marginals_towards_the_data() {
    let df = adult_slice(2000);
    let mut t = trainer(&df, small_config(), 3);
    let before = t.sampler().sample(2000, &[], 500, 1).unwrap().table;
    run_epochs(&mut t, 0..15);
    let losses = t.take_losses();
    assert_eq!(losses.len(), 2);
    assert!(losses.iter().all(|(_, v)| v.is_finite()), "{losses:?}");
    let after = t.sampler().sample(2000, &[], 500, 1).unwrap().table;
    assert_eq!(after.get_column_names(), df.get_column_names());
    for (a, b) in df.columns().iter().zip(after.columns()) {
        assert_eq!(a.dtype(), b.dtype());
    }
    let columns = [
        "workclass",
        "education",
        "marital-status",
        "relationship",
        "sex",
        "income",
    ];
    let mean =
        |s: &DataFrame| columns.iter().map(|c| tvd(&df, s, c)).sum::<f64>() / columns.len() as f64;
    let (tvd_before, tvd_after) = (mean(&before), mean(&after));
    assert!(
        tvd_after < 0.8 * tvd_before && tvd_after < 0.2,
        "mean TVD before {tvd_before:.3}, after {tvd_after:.3}"
    );
}

#[test]
fn unconditioned_rows_draw_conditions_by_the_chosen_frequencies() {
    let df = adult_slice(500);
    let mut s = trainer(&df, small_config(), 4).sampler();
    let draw = |s: &CtganSampler| s.unconditioned(4000, &mut seeded_rng(1));
    let data = s.conditions.sample_empirical(4000, &mut seeded_rng(1));
    let training = s.conditions.sample_train(4000, &mut seeded_rng(1));
    assert_ne!(
        data.as_ref().unwrap().vectors,
        training.as_ref().unwrap().vectors
    );
    assert_eq!(
        draw(&s).unwrap().vectors,
        data.unwrap().vectors,
        "the default"
    );
    let by_data = s.sample(300, &[], 100, 1).unwrap().table;
    s.set_condition_frequencies(ConditionFrequencies::Training)
        .unwrap();
    assert_eq!(draw(&s).unwrap().vectors, training.unwrap().vectors);
    assert!(
        !s.sample(300, &[], 100, 1)
            .unwrap()
            .table
            .equals_missing(&by_data)
    );
}

#[test]
fn checkpoint_round_trip_and_resume_are_exact() {
    let df = adult_slice(600);
    let dir = tempfile::tempdir().unwrap();
    let mut whole = trainer(&df, small_config(), 5);
    run_epochs(&mut whole, 0..2);

    let mut first = trainer(&df, small_config(), 5);
    run_epochs(&mut first, 0..1);
    first.save(dir.path()).unwrap();
    // the saved generator samples exactly like the in-memory one
    let loaded =
        CtganSampler::load(dir.path(), &valid(small_config()), &crate::cpu_device()).unwrap();
    let fresh = first.sampler();
    let mut rng = (seeded_rng(0), seeded_rng(0));
    let a = loaded.generate(50, None, &mut rng.0, &mut Noise::new(9, &loaded.device));
    assert_eq!(
        a,
        fresh.generate(50, None, &mut rng.1, &mut Noise::new(9, &fresh.device))
    );

    let mut resumed = trainer(&df, small_config(), 5).resume(dir.path()).unwrap();
    run_epochs(&mut resumed, 1..2);
    let (s1, s2) = (
        whole.sampler().sample(300, &[], 100, 2).unwrap(),
        resumed.sampler().sample(300, &[], 100, 2).unwrap(),
    );
    assert!(
        s1.table.equals_missing(&s2.table),
        "resumed training differs from an uninterrupted run"
    );
}

#[test]
fn damaged_checkpoint_files_are_clear_errors() {
    let df = adult_slice(300);
    let dir = tempfile::tempdir().unwrap();
    let t = trainer(&df, small_config(), 1);
    t.save(dir.path()).unwrap();
    let path = dir.path().join(GENERATOR_FILE);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = CtganSampler::load(dir.path(), &valid(small_config()), &crate::cpu_device())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("generator.bpk"), "{err}");
    std::fs::write(&path, bytes).unwrap();
    let wider = CtganConfig {
        generator_dim: vec![80, 64],
        ..small_config()
    };
    let err = CtganSampler::load(dir.path(), &valid(wider), &crate::cpu_device())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("generator.bpk"), "{err}");
}

#[test]
fn conditional_sampling_returns_only_matching_rows() {
    let df = adult_slice(1000);
    let mut t = trainer(&df, small_config(), 2);
    run_epochs(&mut t, 0..3);
    let s = t.sampler();
    let condition = [
        ("sex".to_string(), "Female".to_string()),
        ("income".to_string(), ">50K".to_string()),
    ];
    let out = s.sample(200, &condition, 100, 4).unwrap();
    assert_eq!(out.table.height(), 200);
    for (column, value) in &condition {
        let col = out.table.column(column).unwrap();
        assert!(
            col.str().unwrap().iter().all(|v| v == Some(value.as_str())),
            "{column}"
        );
    }
    let rate = out.first_pass_match_rate.unwrap();
    assert!((0.0..=1.0).contains(&rate));
    let err = s
        .sample(5, &[("sex".into(), "Other".into())], 10, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("Female") && err.contains("Male"), "{err}");
    let same = |seed| s.sample(100, &[], 100, seed).unwrap().table;
    assert!(same(7).equals_missing(&same(7)));
    assert!(!same(7).equals_missing(&same(8)));
}

#[test]
fn a_batch_that_is_not_a_multiple_of_pac_is_rejected() {
    let err = small_config().validated(95).unwrap_err();
    assert!(
        matches!(&err, ConfigError::Unsupported { key: "train.batch_size", value, .. } if value == "95"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("multiple of model.pac (10)"),
        "{err}"
    );
    let err = CtganConfig {
        dropout: 1.0,
        ..small_config()
    }
    .validated(100)
    .unwrap_err();
    assert_eq!(err.to_string(), "model.dropout must be in [0, 1) (got 1)");
}

#[test]
fn one_training_step_agrees_across_backends() {
    let df = adult_slice(300);
    let (transformer, table) = fitted(&df, 4);
    let step = |device: &Device| {
        let mut t = CtganTrainer::new(
            valid(small_config()),
            transformer.clone(),
            table.clone(),
            device,
            4,
        )
        .unwrap();
        t.begin_epoch(0);
        t.train_step();
        let losses: Vec<f32> = t.take_losses().iter().map(|(_, v)| *v as f32).collect();
        // the updated generator (and its batch-norm statistics) on fixed inputs
        let s = t.sampler();
        let rows = s.generate(64, None, &mut seeded_rng(0), &mut Noise::new(9, &s.device));
        (losses, rows)
    };
    let (cpu_losses, cpu_rows) = step(&crate::cpu_device());
    let mut others = vec![("flex", crate::flex_device())];
    others.extend(wgpu_or_skip().map(|gpu| ("wgpu", gpu)));
    for (name, device) in others {
        let (losses, rows) = step(&device);
        assert_close(&cpu_losses, &losses, 1e-4, &format!("losses on {name}"));
        assert_close(&cpu_rows, &rows, 1e-3, &format!("generated rows on {name}"));
    }
}
