//! The copula: correlation recovered from a known multivariate normal, conditional sampling
//! against theory, and the degenerate columns it must survive.

use super::*;
use crate::transform::TransformerConfig;
use polars::prelude::*;
use synth_core::{DType, Validate};
use synth_data::{ColumnOverrides, infer_meta};

/// Rows of (x, y, z) from a standard trivariate normal with correlations
/// x-y 0.8, x-z -0.5, y-z -0.3, through its Cholesky factor.
fn trivariate(n: usize, seed: u64) -> Vec<[f64; 3]> {
    let r = DMatrix::from_row_slice(3, 3, &[1.0, 0.8, -0.5, 0.8, 1.0, -0.3, -0.5, -0.3, 1.0]);
    let l = nalgebra::Cholesky::new(r).unwrap().l();
    let mut rng = seeded_rng(seed);
    (0..n)
        .map(|_| {
            let e = DVector::from_iterator(3, (0..3).map(|_| rng.sample(StandardNormal)));
            let v = &l * e;
            [v[0], v[1], v[2]]
        })
        .collect()
}

fn continuous(name: &str) -> ModelledColumn {
    (
        ColumnMeta::new(name, ColumnKind::Continuous, DType::F64),
        None,
    )
}

#[test]
fn correlation_of_a_known_normal_is_recovered() {
    let rows = trivariate(20_000, 1);
    let values: Vec<ColumnValues> = (0..3)
        .map(|k| ColumnValues::Numbers(rows.iter().map(|r| Some(10.0 + 3.0 * r[k])).collect()))
        .collect();
    let columns = vec![continuous("x"), continuous("y"), continuous("z")];
    let config = GaussianCopulaConfig {
        default_distribution: Family::Norm,
        ..GaussianCopulaConfig::default()
    };
    let fitted = FittedCopula::fit(&config, &columns, &values, 0).unwrap();
    let r = fitted.correlation_matrix();
    for (a, b, want) in [(0, 1, 0.8), (0, 2, -0.5), (1, 2, -0.3)] {
        assert!((r[(a, b)] - want).abs() < 0.02, "{a}-{b}: {}", r[(a, b)]);
    }
    assert_eq!(fitted.shrinkage, 0.0);
    let CopulaColumn::Continuous {
        marginal: Marginal::Norm { mean, sd },
        missing,
    } = &fitted.columns[0]
    else {
        panic!("{:?}", fitted.columns[0])
    };
    assert!((mean - 10.0).abs() < 0.1 && (sd - 3.0).abs() < 0.1 && *missing == 0.0);
    // log-likelihood of a normal copula with correlation R, in expectation: -1/2 log det R
    // (the quadratic term has mean trace(R^-1 R - I) = 0); det R = 1 - 0.64 - 0.25 - 0.09
    // + 2 (0.8)(-0.5)(-0.3) = 0.26
    assert!(
        (fitted.log_likelihood - (-0.5 * 0.26f64.ln())).abs() < 0.03,
        "{}",
        fitted.log_likelihood
    );
}

#[test]
fn discrete_columns_become_intervals_by_frequency() {
    let mut rng = seeded_rng(0);
    // categories 0, 1, 2 with counts 1, 3, 6: order 2, 1, 0; ends 0, 0.6, 0.9, 1
    let indices = [2, 1, 2, 0, 2, 1, 2, 2, 1, 2];
    let (column, scores) = fit_discrete(&indices, 3, &mut rng);
    let CopulaColumn::Discrete { order, ends } = column else {
        panic!()
    };
    assert_eq!(order, [2, 1, 0]);
    assert!(
        ends.iter()
            .zip([0.0, 0.6, 0.9, 1.0])
            .all(|(a, b)| (a - b).abs() < 1e-12)
    );
    // each score lies in its category's interval
    let normal = standard_normal();
    for (&c, &z) in indices.iter().zip(&scores) {
        let u = normal.cdf(z);
        let (lo, hi) = match c {
            2 => (0.0, 0.6),
            1 => (0.6, 0.9),
            _ => (0.9, 1.0),
        };
        assert!(u >= lo - 1e-9 && u <= hi + 1e-9, "{c}: {u}");
    }
}

/// A table where `x` drives the category `level` and `y` follows `x`.
fn driven_table(n: usize) -> DataFrame {
    let rows = trivariate(n, 7);
    let x: Vec<f64> = rows
        .iter()
        .map(|r| (r[0] * 100.0).round() / 100.0)
        .collect();
    let y: Vec<f64> = rows
        .iter()
        .map(|r| (r[1] * 100.0).round() / 100.0)
        .collect();
    let level: Vec<&str> = rows
        .iter()
        .map(|r| {
            if r[0] + 0.5 * r[2] > 0.8 {
                "high"
            } else {
                "low"
            }
        })
        .collect();
    let shade: Vec<&str> = rows
        .iter()
        .map(|r| if r[2] > 0.0 { "dark" } else { "light" })
        .collect();
    df!("x" => x, "y" => y, "level" => level, "shade" => shade).unwrap()
}

fn fitted_sampler(df: &DataFrame) -> CopulaSampler {
    let meta = infer_meta(df, &ColumnOverrides::default()).unwrap();
    let config = GaussianCopulaConfig::default()
        .validated(1)
        .unwrap()
        .transformer_config(&TransformerConfig::default());
    let transformer = DataTransformer::fit(df, &meta, &config, 0).unwrap();
    let values = transformer.values(df).unwrap();
    let copula = FittedCopula::fit(
        &GaussianCopulaConfig::default(),
        &transformer.modelled_columns(),
        &values,
        0,
    )
    .unwrap();
    CopulaSampler::new(transformer, copula).unwrap()
}

fn sample(s: &CopulaSampler, n: usize, condition: &[(&str, &str)]) -> (DataFrame, Option<f64>) {
    let pairs: Vec<(String, String)> = condition
        .iter()
        .map(|(c, v)| (c.to_string(), v.to_string()))
        .collect();
    let mut all: Option<DataFrame> = None;
    let rate = s
        .sample_into(n, &pairs, 1000, 3, &mut |chunk| {
            match &mut all {
                None => all = Some(chunk),
                Some(a) => {
                    a.vstack_mut(&chunk)?;
                }
            }
            Ok(())
        })
        .unwrap();
    (all.unwrap(), rate)
}

fn mean(df: &DataFrame, column: &str) -> f64 {
    df.column(column).unwrap().f64().unwrap().mean().unwrap()
}

fn share(df: &DataFrame, column: &str, value: &str) -> f64 {
    let c = df.column(column).unwrap().str().unwrap().clone();
    c.iter().filter(|v| *v == Some(value)).count() as f64 / df.height() as f64
}

#[test]
fn conditions_follow_the_conditional_distribution() {
    let df = driven_table(20_000);
    let s = fitted_sampler(&df);
    let (free, rate) = sample(&s, 20_000, &[]);
    assert_eq!(rate, None);
    assert_eq!(free.height(), 20_000);
    assert_eq!(free.schema(), df.schema());
    assert!((share(&free, "level", "high") - share(&df, "level", "high")).abs() < 0.02);
    // one category: drawn exactly from the conditional (every first-pass row matches), so x
    // among its rows is what the model's own unconditional rows of that category show
    let high = free
        .filter(&free.column("level").unwrap().str().unwrap().equal("high"))
        .unwrap();
    let (rich, rate) = sample(&s, 5_000, &[("level", "high")]);
    assert_eq!(rate, Some(1.0));
    assert_eq!(share(&rich, "level", "high"), 1.0);
    let (conditioned, filtered) = (mean(&rich, "x"), mean(&high, "x"));
    assert!(
        (conditioned - filtered).abs() < 0.06,
        "{conditioned} vs {filtered}"
    );
    assert!(conditioned > mean(&free, "x") + 0.3, "{conditioned}");
    // y follows x (correlation 0.8): its conditional mean moves with it
    assert!((mean(&rich, "y") - mean(&high, "y")).abs() < 0.06);
    // a value: exactly that value, and the category its score implies more often
    let (at, rate) = sample(&s, 4_000, &[("x", "1.5")]);
    assert_eq!(rate, Some(1.0));
    let xs: Vec<f64> = at
        .column("x")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert!(xs.iter().all(|&x| x == 1.5));
    assert!(
        (mean(&at, "y") - 0.8 * 1.5).abs() < 0.1,
        "{}",
        mean(&at, "y")
    );
    // two categories: rejection, with the first-pass rate reported and every row matching
    let (both, rate) = sample(&s, 1_000, &[("level", "high"), ("shade", "light")]);
    let rate = rate.unwrap();
    assert!(rate > 0.0 && rate < 0.5, "{rate}");
    assert_eq!(share(&both, "level", "high"), 1.0);
    assert_eq!(share(&both, "shade", "light"), 1.0);
    // bad conditions are named
    let pairs = |c: &str, v: &str| vec![(c.to_string(), v.to_string())];
    let err = |c: &str, v: &str| {
        s.sample_into(1, &pairs(c, v), 10, 0, &mut |_| Ok(()))
            .err()
            .unwrap()
            .to_string()
    };
    assert!(
        err("level", "medium").contains("known values: low, high")
            || err("level", "medium").contains("known values: high, low")
    );
    assert!(err("x", "99").contains("from"));
    assert!(err("width", "1").contains("unknown condition column"));
    // x never misses a value
    assert!(err("x", "missing").contains("has no value `missing`"));
}

#[test]
fn degenerate_columns_are_fitted_not_refused() {
    let n = 500;
    let rows = trivariate(n, 3);
    let x: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    let twice: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
    let constant = vec![4.0; n];
    let lonely: Vec<Option<f64>> = (0..n).map(|i| (i == 7).then_some(3.5)).collect();
    let df = df!(
        "x" => x,
        "twice" => twice,
        "constant" => constant,
        "lonely" => lonely,
        "kind" => (0..n).map(|i| if i % 3 == 0 { "a" } else { "b" }).collect::<Vec<_>>(),
    )
    .unwrap();
    let overrides = ColumnOverrides {
        continuous: vec!["constant".into(), "lonely".into()],
        ..ColumnOverrides::default()
    };
    let meta = infer_meta(&df, &overrides).unwrap();
    let config = GaussianCopulaConfig::default()
        .validated(1)
        .unwrap()
        .transformer_config(&TransformerConfig::default());
    let transformer = DataTransformer::fit(&df, &meta, &config, 0).unwrap();
    let values = transformer.values(&df).unwrap();
    let copula = FittedCopula::fit(
        &GaussianCopulaConfig::default(),
        &transformer.modelled_columns(),
        &values,
        0,
    )
    .unwrap();
    // x and twice are perfectly collinear: shrunk until positive definite
    assert!(copula.shrinkage > 0.0, "{}", copula.shrinkage);
    assert!(copula.log_likelihood.is_finite());
    let s = CopulaSampler::new(transformer, copula).unwrap();
    let (out, _) = sample(&s, 300, &[]);
    let constant: Vec<f64> = out
        .column("constant")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert!(constant.iter().all(|&v| v == 4.0));
    let lonely = out.column("lonely").unwrap();
    assert!(lonely.null_count() > 290, "mostly missing, as in the data");
    assert!(lonely.f64().unwrap().iter().flatten().all(|v| v == 3.5));
    // the collinear pair stays (nearly) collinear
    let (a, b) = (
        out.column("x").unwrap().f64().unwrap(),
        out.column("twice").unwrap().f64().unwrap(),
    );
    let pairs: Vec<(f64, f64)> = a.into_no_null_iter().zip(b.into_no_null_iter()).collect();
    let r = pearson(
        &pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
        &pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
    );
    assert!(r > 0.95, "{r}");
    // a family that cannot describe a constant column is a clear error
    let config = GaussianCopulaConfig {
        distributions: [("constant".to_string(), Family::Beta)].into(),
        ..GaussianCopulaConfig::default()
    };
    let err = FittedCopula::fit(&config, &s.columns, &values, 0).unwrap_err();
    assert!(err.to_string().contains("`constant`"), "{err}");
    let config = GaussianCopulaConfig {
        distributions: [("kind".to_string(), Family::Norm)].into(),
        ..GaussianCopulaConfig::default()
    };
    let err = FittedCopula::fit(&config, &s.columns, &values, 0).unwrap_err();
    assert!(err.to_string().contains("`kind` is discrete"), "{err}");
}

#[test]
fn damaged_copulas_are_refused() {
    let df = driven_table(200);
    let s = fitted_sampler(&df);
    let mut broken = s.copula.clone();
    broken.correlation[1] = 2.0;
    broken.correlation[4] = 2.0;
    assert!(
        broken
            .check(&s.columns)
            .unwrap_err()
            .contains("positive definite")
    );
    let mut short = s.copula.clone();
    short.correlation.pop();
    assert!(short.check(&s.columns).unwrap_err().contains("4 x 4"));
    let mut nan = s.copula.clone();
    if let CopulaColumn::Continuous { missing, .. } = &mut nan.columns[0] {
        *missing = 3.0;
    }
    assert!(nan.check(&s.columns).unwrap_err().contains("missing share"));
}
