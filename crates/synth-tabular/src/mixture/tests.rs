use super::*;
use crate::copula::Marginal;
use crate::test_support::{
    adult_slice, assert_close, mixed_table, train_epochs, tvd, values_transformer, wgpu_or_skip,
};
use polars::prelude::*;
use synth_core::Validate;

fn config(components: usize) -> MixtureConfig {
    MixtureConfig {
        components,
        ..Default::default()
    }
}

/// Maximum likelihood without priors: no smoothing, no shrinkage, a negligible floor.
fn unregularised(components: usize) -> MixtureConfig {
    MixtureConfig {
        smoothing: 0.0,
        shrinkage: 0.0,
        variance_floor: 1e-9,
        ..config(components)
    }
}

/// A categorical leaf of two states and a Gaussian leaf without other states.
fn two_leaves() -> Vec<Leaf> {
    vec![
        Leaf::Category { count: 2 },
        Leaf::Gaussian {
            marginal: Marginal::Empirical {
                quantiles: vec![0.0, 1.0],
            },
            minimum: None,
            has_null: false,
        },
    ]
}

/// One EM iteration over `rows` in chunks of `chunk`: the statistics and the log-likelihood
/// under `parameters`.
fn em_pass(
    design: &Design,
    parameters: &Parameters,
    rows: &LeafRows,
    chunk: usize,
) -> (Statistics, f64) {
    em_pass_on(design, parameters, rows, chunk, &crate::cpu_device())
}

fn em_pass_on(
    design: &Design,
    parameters: &Parameters,
    rows: &LeafRows,
    chunk: usize,
    device: &Device,
) -> (Statistics, f64) {
    let expectation = Expectation::new(design, parameters, device);
    let mut accumulator = Accumulator::default();
    let mut log_likelihood = 0.0;
    for start in (0..rows.rows).step_by(chunk) {
        let end = rows.rows.min(start + chunk);
        log_likelihood += expectation.accumulate(design, rows, start..end, &mut accumulator);
    }
    (accumulator.finish().unwrap(), log_likelihood)
}

fn normal_density(z: f64, mean: f64, variance: f64) -> f64 {
    (-(z - mean).powi(2) / (2.0 * variance)).exp() / (2.0 * std::f64::consts::PI * variance).sqrt()
}

#[test]
// Indices written as in the formulas (r[i][k]) read against them more easily than iterators.
#[allow(clippy::needless_range_loop)]
fn one_em_step_matches_a_hand_computed_case() {
    let leaves = two_leaves();
    let design = Design::new(&leaves);
    assert_eq!(design.width(), 2 + 3);
    // three rows: (state, score) = (0, 0.0), (0, 1.0), (1, -1.0)
    let rows = LeafRows {
        states: vec![0, 0, 0, 0, 1, 0],
        scores: vec![0.0, 1.0, -1.0],
        rows: 3,
    };
    let parameters = Parameters {
        weights: vec![0.4, 0.6],
        leaves: vec![
            em::LeafParameters {
                probabilities: vec![0.8, 0.2, 0.3, 0.7],
                means: vec![],
                variances: vec![],
            },
            em::LeafParameters {
                probabilities: vec![1.0, 1.0],
                means: vec![0.0, 1.0],
                variances: vec![1.0, 2.0],
            },
        ],
    };
    // by hand: r[i][k] = w_k p_k(state_i) N(z_i; mean_k, var_k), normalised over k
    let (states, scores) = ([0usize, 0, 1], [0.0, 1.0, -1.0]);
    let theta = [[0.8, 0.2], [0.3, 0.7]];
    let (weights, means, variances) = ([0.4, 0.6], [0.0, 1.0], [1.0, 2.0]);
    let mut r = [[0.0; 2]; 3];
    let mut log_likelihood = 0.0;
    for i in 0..3 {
        let joint: Vec<f64> = (0..2)
            .map(|k| {
                weights[k] * theta[k][states[i]] * normal_density(scores[i], means[k], variances[k])
            })
            .collect();
        let total = joint[0] + joint[1];
        log_likelihood += total.ln();
        for k in 0..2 {
            r[i][k] = joint[k] / total;
        }
    }
    let (statistics, computed) = em_pass(&design, &parameters, &rows, 2);
    assert!(
        (computed - log_likelihood).abs() < 1e-5,
        "{computed} vs {log_likelihood}"
    );
    let next = statistics.maximise(&design, &[vec![0.5, 0.5], vec![1.0]], &unregularised(2));
    for k in 0..2 {
        let n: f64 = (0..3).map(|i| r[i][k]).sum();
        let mean = (0..3).map(|i| r[i][k] * scores[i]).sum::<f64>() / n;
        let variance = (0..3)
            .map(|i| r[i][k] * (scores[i] - mean).powi(2))
            .sum::<f64>()
            / n;
        let p0 = (0..3)
            .filter(|&i| states[i] == 0)
            .map(|i| r[i][k])
            .sum::<f64>()
            / n;
        let close =
            |a: f64, b: f64, what: &str| assert!((a - b).abs() < 1e-5, "{what}[{k}]: {a} vs {b}");
        close(next.weights[k], n / 3.0, "weight");
        close(next.leaves[0].probabilities[2 * k], p0, "p(state 0)");
        close(
            next.leaves[0].probabilities[2 * k + 1],
            1.0 - p0,
            "p(state 1)",
        );
        close(next.leaves[1].means[k], mean, "mean");
        close(next.leaves[1].variances[k], variance, "variance");
    }
    // the priors: one pseudo-row of smoothing at frequencies (0.5, 0.5), one of shrinkage
    let smoothed = statistics.maximise(
        &design,
        &[vec![0.5, 0.5], vec![1.0]],
        &MixtureConfig {
            smoothing: 1.0,
            shrinkage: 1.0,
            ..unregularised(2)
        },
    );
    let n0: f64 = (0..3).map(|i| r[i][0]).sum();
    let s1: f64 = (0..3).map(|i| r[i][0] * scores[i]).sum();
    let s2: f64 = (0..3).map(|i| r[i][0] * scores[i] * scores[i]).sum();
    let p0 = ((0..2).map(|i| r[i][0]).sum::<f64>() + 0.5) / (n0 + 1.0);
    let mean = s1 / (n0 + 1.0);
    assert!((smoothed.leaves[0].probabilities[0] - p0).abs() < 1e-5);
    assert!((smoothed.leaves[1].means[0] - mean).abs() < 1e-5);
    assert!(
        (smoothed.leaves[1].variances[0] - ((s2 + 1.0) / (n0 + 1.0) - mean * mean)).abs() < 1e-5
    );
}

/// Full-batch EM on the Adult slice from `config`'s random start: the log-likelihood per
/// row under the parameters each iteration starts from.
fn adult_log_likelihoods(config: MixtureConfig, iterations: usize) -> (MixtureTrainer, Vec<f64>) {
    let (transformer, values) = values_transformer(&adult_slice(2000));
    let mut trainer = MixtureTrainer::new(
        config.validated(64).unwrap(),
        transformer,
        values,
        &crate::cpu_device(),
        5,
    )
    .unwrap();
    let lls = train_epochs(&mut trainer, 0..iterations);
    (trainer, lls)
}

#[test]
fn the_log_likelihood_never_decreases_over_full_batch_em() {
    let config = MixtureConfig {
        validation_share: 0.0,
        chunk_rows: 700,
        ..unregularised(20)
    };
    let (_, lls) = adult_log_likelihoods(config, 15);
    eprintln!("{lls:?}");
    for pair in lls.windows(2) {
        assert!(pair[1] >= pair[0] - 1e-4, "decreased: {lls:?}");
    }
    assert!(lls[14] > lls[0] + 1.0, "EM barely moved: {lls:?}");
}

#[test]
fn em_recovers_a_known_two_component_mixture() {
    let leaves = two_leaves();
    let design = Design::new(&leaves);
    // component A (weight 0.3): state 0 w.p. 0.9, score ~ N(-2, 0.25);
    // component B (weight 0.7): state 0 w.p. 0.2, score ~ N(1.5, 1)
    let mut rng = seeded_rng(3);
    let n = 6000;
    let (mut states, mut scores) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let a = rng.random::<f64>() < 0.3;
        let (p0, mean, sd) = if a { (0.9, -2.0, 0.5) } else { (0.2, 1.5, 1.0) };
        states.extend([u32::from(rng.random::<f64>() >= p0), 0]);
        scores.push((mean + sd * rng.sample::<f64, _>(StandardNormal)) as f32);
    }
    let rows = LeafRows {
        states,
        scores,
        rows: n,
    };
    let config = unregularised(2);
    let frequencies = design.frequencies(&leaves, &rows);
    let assignment: Vec<usize> = (0..n).map(|_| rng.random_range(0..2)).collect();
    let mut parameters = Statistics::of_assignment(&design, &rows, &assignment, 2).maximise(
        &design,
        &frequencies,
        &config,
    );
    for _ in 0..200 {
        let (statistics, _) = em_pass(&design, &parameters, &rows, 1024);
        parameters = statistics.maximise(&design, &frequencies, &config);
    }
    let a = usize::from(parameters.leaves[1].means[1] < parameters.leaves[1].means[0]);
    let b = 1 - a;
    let close = |found: f64, truth: f64, within: f64, what: &str| {
        assert!((found - truth).abs() < within, "{what}: {found} vs {truth}")
    };
    close(parameters.weights[a], 0.3, 0.03, "weight of A");
    close(parameters.weights[b], 0.7, 0.03, "weight of B");
    close(parameters.probabilities(0, a)[0], 0.9, 0.04, "p_A(state 0)");
    close(parameters.probabilities(0, b)[0], 0.2, 0.04, "p_B(state 0)");
    close(parameters.leaves[1].means[a], -2.0, 0.08, "mean of A");
    close(parameters.leaves[1].means[b], 1.5, 0.08, "mean of B");
    close(
        parameters.leaves[1].variances[a],
        0.25,
        0.05,
        "variance of A",
    );
    close(parameters.leaves[1].variances[b], 1.0, 0.1, "variance of B");
}

/// A sampler over a mixture of `components` fitted for a few iterations on `df`.
fn fitted_sampler(df: &DataFrame, components: usize) -> MixtureSampler {
    let (transformer, values) = values_transformer(df);
    let mut trainer = MixtureTrainer::new(
        config(components).validated(64).unwrap(),
        transformer.clone(),
        values,
        &crate::cpu_device(),
        9,
    )
    .unwrap();
    train_epochs(&mut trainer, 0..5);
    MixtureSampler::new(transformer, trainer.fitted()).unwrap()
}

/// The share of rows of `df` whose `column` (as text) is `value`.
fn share(df: &DataFrame, column: &str, value: &str) -> f64 {
    let text = df.column(column).unwrap().cast(&DataType::String).unwrap();
    let hits = text
        .str()
        .unwrap()
        .iter()
        .filter(|v| *v == Some(value))
        .count();
    hits as f64 / df.height() as f64
}

/// P(column `target` = state | what `given` allows) by enumerating the components.
fn enumerated(
    sampler: &MixtureSampler,
    given: usize,
    allowed: &Allowed,
    target: usize,
) -> Vec<f64> {
    let parameters = &sampler.fitted.parameters;
    let states = sampler.fitted.leaves[target].states();
    let mut out = vec![0.0; states];
    for k in 0..parameters.components() {
        let condition: f64 = allowed
            .weights(
                parameters.probabilities(given, k),
                sampler.gaussian(given, k),
            )
            .iter()
            .sum();
        for (s, p) in parameters.probabilities(target, k).iter().enumerate() {
            out[s] += parameters.weights[k] * condition * p;
        }
    }
    let total: f64 = out.iter().sum();
    out.iter().map(|p| p / total).collect()
}

#[test]
fn conditions_match_the_models_conditional_by_enumeration() {
    let df = mixed_table(3000);
    let sampler = fitted_sampler(&df, 8);
    // colour (0), small (1: a few values), amount (2: Gaussian with a point mass at 0 and
    // missing values), day (3)
    assert!(matches!(sampler.fitted.leaves[1], Leaf::Values { .. }));
    let Leaf::Gaussian {
        minimum, has_null, ..
    } = &sampler.fitted.leaves[2]
    else {
        panic!("amount is Gaussian: {:?}", sampler.fitted.leaves[2]);
    };
    assert_eq!((*minimum, *has_null), (Some(0.0), true));
    let Leaf::Values { values: smalls, .. } = sampler.fitted.leaves[1].clone() else {
        unreachable!()
    };
    let colours = sampler.columns[0].1.as_ref().unwrap().0.clone();
    let n = 20_000;
    let cases: [(&str, &str, usize, usize); 3] = [
        ("colour", "red", 0, 1),
        ("amount", "missing", 2, 0),
        ("amount", "100..2000", 2, 0),
    ];
    for (column, value, given, target) in cases {
        let condition = vec![(column.to_string(), value.to_string())];
        let plan = sampler.plan(&condition).unwrap();
        let expected = enumerated(&sampler, given, plan[given].as_ref().unwrap(), target);
        let rows = sampler.sample(n, &condition, 4096, 1).unwrap();
        assert_eq!(rows.first_pass_match_rate, Some(1.0));
        let table = rows.table;
        assert_eq!(table.height(), n);
        for (s, p) in expected.iter().enumerate() {
            let label = if target == 1 {
                format!("{:?}", smalls[s])
            } else {
                colours[s].clone()
            };
            let found = share(&table, &sampler.columns[target].0.name, &label);
            assert!(
                (found - p).abs() < 0.015,
                "{column}={value}: P({label}) {found} vs {p} by enumeration"
            );
        }
        let amounts = table.column("amount").unwrap().f64().unwrap().clone();
        match value {
            "missing" => assert_eq!(amounts.null_count(), n),
            "100..2000" => assert!(
                amounts
                    .iter()
                    .all(|a| a.is_some_and(|a| (100.0..=2000.0).contains(&a)))
            ),
            _ => {}
        }
    }
    // a value of the Gaussian column is written as given
    let rows = sampler
        .sample(500, &[("amount".into(), "1234.56".into())], 256, 2)
        .unwrap()
        .table;
    let amounts = rows.column("amount").unwrap().f64().unwrap().clone();
    assert!(amounts.iter().all(|a| a == Some(1234.56)));
    // errors name the column and what it can take
    for (column, value, needle) in [
        ("colour", "purple", "red"),
        ("small", "2.0", "a value the column took"),
        ("shade", "red", "colour"),
    ] {
        let err = sampler
            .sample(10, &[(column.into(), value.into())], 10, 1)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(needle), "{column}={value}: {err}");
    }
}

#[test]
fn training_on_adult_reproduces_its_columns_and_their_relations() {
    let (trainer, lls) = adult_log_likelihoods(config(30), 12);
    assert!(lls[11] > lls[0] + 1.0, "{lls:?}");
    let real = adult_slice(2000);
    let sampler = MixtureSampler::new(trainer.transformer.clone(), trainer.fitted()).unwrap();
    let synthetic = sampler.sample(6000, &[], 1000, 4).unwrap().table;
    for column in ["relationship", "education", "income"] {
        let distance = tvd(&real, &synthetic, column);
        assert!(distance < 0.06, "{column}: total variation {distance}");
    }
    // the share of high incomes among husbands and among never-married people
    let rich = |df: &DataFrame, marital: &str| {
        let text = |c: &str| df.column(c).unwrap().str().unwrap().clone();
        let (status, income) = (text("marital-status"), text("income"));
        let pairs: Vec<bool> = status
            .iter()
            .zip(income.iter())
            .filter(|(s, _)| *s == Some(marital))
            .map(|(_, i)| i == Some(">50K"))
            .collect();
        pairs.iter().filter(|&&r| r).count() as f64 / pairs.len() as f64
    };
    for marital in ["Married-civ-spouse", "Never-married"] {
        let (found, truth) = (rich(&synthetic, marital), rich(&real, marital));
        assert!(
            (found - truth).abs() < 0.08,
            "{marital}: {found} vs {truth}"
        );
    }
}

#[test]
fn checkpoint_round_trip_and_resume_are_exact() {
    let df = adult_slice(1500);
    let (transformer, values) = values_transformer(&df);
    let dir = tempfile::tempdir().unwrap();
    let make = || {
        MixtureTrainer::new(
            MixtureConfig {
                validation_share: 0.2,
                ..config(10)
            }
            .validated(64)
            .unwrap(),
            transformer.clone(),
            values.clone(),
            &crate::cpu_device(),
            3,
        )
        .unwrap()
    };
    let mut straight = make();
    train_epochs(&mut straight, 0..3);
    straight.save(dir.path()).unwrap();
    train_epochs(&mut straight, 3..6);
    let mut resumed = make().resume(dir.path()).unwrap();
    train_epochs(&mut resumed, 3..6);
    assert_eq!(resumed.fitted(), straight.fitted());
    assert_eq!(resumed.progress, straight.progress);

    // the saved mixture samples what the trainer's did
    let mut again = make();
    train_epochs(&mut again, 0..3);
    let saved = MixtureSampler::load(dir.path()).unwrap();
    let direct = MixtureSampler::new(transformer.clone(), again.fitted()).unwrap();
    let condition = [("sex".to_string(), "Female".to_string())];
    assert_eq!(
        saved.sample(300, &condition, 128, 5).unwrap().table,
        direct.sample(300, &condition, 128, 5).unwrap().table
    );

    // a damaged file names itself and what is wrong
    let path = dir.path().join(MIXTURE_FILE);
    let mut fitted = again.fitted();
    fitted.parameters.weights[0] += 0.5;
    std::fs::write(&path, serde_json::to_string(&fitted).unwrap()).unwrap();
    let err = MixtureSampler::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("mixture.json") && err.contains("weights"),
        "{err}"
    );
    std::fs::write(&path, "{\"leaves\": [").unwrap();
    let err = MixtureSampler::load(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("mixture.json") && err.contains("line"),
        "{err}"
    );
}

#[test]
fn settings_are_checked_where_they_are_defined() {
    for (changed, key) in [
        (
            MixtureConfig {
                components: 0,
                ..config(5)
            },
            "model.components",
        ),
        (
            MixtureConfig {
                smoothing: -1.0,
                ..config(5)
            },
            "model.smoothing",
        ),
        (
            MixtureConfig {
                variance_floor: 0.0,
                ..config(5)
            },
            "model.variance_floor",
        ),
        (
            MixtureConfig {
                validation_share: 1.0,
                ..config(5)
            },
            "model.validation_share",
        ),
        (
            MixtureConfig {
                point_mass_share: f64::NAN,
                ..config(5)
            },
            "model.point_mass_share",
        ),
    ] {
        let err = changed.validated(64).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn an_em_iteration_agrees_across_backends() {
    let Some(gpu) = wgpu_or_skip() else {
        return;
    };
    let (trainer, _) = adult_log_likelihoods(config(40), 2);
    let pass = |device: &Device| {
        em_pass_on(
            &trainer.design,
            &trainer.current,
            &trainer.train,
            512,
            device,
        )
    };
    let ((cpu, cpu_ll), (wgpu, wgpu_ll)) = (pass(&crate::cpu_device()), pass(&gpu));
    let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    assert_close(
        &f32s(&cpu.counts),
        &f32s(&wgpu.counts),
        1e-4,
        "responsibility totals",
    );
    assert_close(
        &f32s(&cpu.sums),
        &f32s(&wgpu.sums),
        1e-4,
        "sufficient statistics",
    );
    assert!(
        (cpu_ll - wgpu_ll).abs() < 1e-4 * cpu_ll.abs(),
        "{cpu_ll} vs {wgpu_ll}"
    );
}
