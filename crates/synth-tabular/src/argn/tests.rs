use super::*;
use crate::test_support::{
    adult_slice, assert_close, mixed_table, train_epochs, tvd, values_transformer, wgpu_or_skip,
};
use polars::prelude::*;
use std::collections::HashMap;
use synth_core::Validate;

fn config(random_orders: f64) -> Valid<ArgnConfig> {
    ArgnConfig {
        random_orders,
        ..Default::default()
    }
    .validated(64)
    .unwrap()
}

fn trainer(df: &DataFrame, config: Valid<ArgnConfig>, seed: u64) -> ArgnTrainer {
    let (transformer, values) = values_transformer(df);
    ArgnTrainer::new(config, transformer, values, &crate::cpu_device(), seed).unwrap()
}

#[test]
fn tokens_round_trip_every_column_kind() {
    let df = mixed_table(3000);
    let (transformer, values) = values_transformer(&df);
    let columns = transformer.modelled_columns();
    let settings = ArgnConfig {
        sub_bins: 4,
        max_bins: 20,
        ..Default::default()
    };
    let (tokenizer, tokens) = Tokenizer::fit_encode(&values, &columns, &settings);
    // colour: 3 categories; small: 7 values; amount: binned with the mass at 0 and the missing
    // token, plus sub-bins; day: binned (over 300 distinct days)
    assert!(matches!(
        tokenizer.columns[0],
        ColumnTokens::Categories { count: 3 }
    ));
    assert!(
        matches!(&tokenizer.columns[1], ColumnTokens::Values { values, has_null: false } if values.len() == 7)
    );
    let ColumnTokens::Bins {
        has_null, masses, ..
    } = &tokenizer.columns[2]
    else {
        panic!("amount is binned: {:?}", tokenizer.columns[2]);
    };
    assert!(*has_null && masses == &[0.0], "{masses:?}");
    assert!(matches!(tokenizer.columns[3], ColumnTokens::Bins { .. }));
    assert_eq!(tokenizer.token_columns().len(), 6, "two sub-bin tokens");
    tokenizer.check(&columns).unwrap();

    assert_eq!(tokenizer.encode(&values, df.height()), tokens);
    let places: Vec<Option<u32>> = columns.iter().map(|(m, _)| m.places()).collect();
    assert_eq!(places[2], Some(2));
    let decoded = tokenizer.decode(&tokens, df.height(), &places, &[], &mut seeded_rng(1));
    assert_eq!(decoded[0], values[0]);
    assert_eq!(
        decoded[1], values[1],
        "few-valued numbers come back exactly"
    );
    for j in [2, 3] {
        let (ColumnValues::Numbers(before), ColumnValues::Numbers(after)) =
            (&values[j], &decoded[j])
        else {
            panic!("numbers");
        };
        let mut moved = 0;
        for (b, a) in before.iter().zip(after) {
            match (b, a) {
                (None, None) => {}
                (Some(b), Some(a)) => {
                    // the same (sub-)bin, at the column's precision
                    let column = &tokenizer.columns[j];
                    assert_eq!(
                        column.number_tokens(*a),
                        column.number_tokens(*b),
                        "{b} -> {a}"
                    );
                    if let Some(p) = places[j] {
                        let scaled = a * 10f64.powi(p as i32);
                        assert!((scaled - scaled.round()).abs() < 1e-6, "{a}");
                    }
                    if *b == 0.0 && j == 2 {
                        assert_eq!(*a, 0.0, "the point mass comes back exactly");
                    }
                    moved += usize::from(a != b);
                }
                _ => panic!("missing values stay missing: {b:?} -> {a:?}"),
            }
        }
        assert!(moved > 0, "values inside a bin are drawn, not copied");
    }
    // the decoded dates are written in the column's format
    let table = transformer.decode_values(&decoded, df.height(), 0).unwrap();
    let days = table.column("day").unwrap().str().unwrap().clone();
    assert!(
        days.iter()
            .flatten()
            .all(|d| d.len() == 10 && d.starts_with("2024-"))
    );
}

#[test]
fn rare_values_are_withheld_and_extremes_clipped_on_request() {
    let mut df = mixed_table(3000);
    let colour: Vec<&str> = (0..3000)
        .map(|row| match row {
            0..3 => "purple",
            _ => ["red", "green", "blue"][row % 3],
        })
        .collect();
    df.replace("colour", Column::new("colour".into(), colour))
        .unwrap();
    let (transformer, values) = values_transformer(&df);
    let protect = ArgnConfig {
        protect_rare: true,
        ..Default::default()
    }
    .validated(64)
    .unwrap();
    let mut t = ArgnTrainer::new(protect, transformer, values, &crate::cpu_device(), 1).unwrap();
    let purple = t.transformer.modelled_columns()[0]
        .1
        .as_ref()
        .unwrap()
        .0
        .iter()
        .position(|l| l == "purple")
        .unwrap() as u32;
    assert_eq!(t.tokenizer.withheld[0], vec![purple]);
    assert!(
        t.tokenizer.withheld[1].is_empty(),
        "every small value is common"
    );
    train_epochs(&mut t, 0..2);
    let s = t.sampler();
    let out = s.sample(3000, &[], 1000, 1).unwrap().table;
    assert_eq!(share(&out, "colour", "purple"), 0.0);
    // amounts stay inside the first and last bins' inner ends
    let ColumnTokens::Bins { sub_bins, .. } = &t.tokenizer.columns[2] else {
        panic!("amount is binned");
    };
    let (low, high) = (sub_bins[0][0].high, sub_bins[sub_bins.len() - 1][0].low);
    let amounts = out.column("amount").unwrap().f64().unwrap().clone();
    let (min, max) = (amounts.min().unwrap(), amounts.max().unwrap());
    assert!(
        min >= 0.0 && max <= high && high < 4999.0,
        "{min} {max} {high}"
    );
    assert!(
        amounts
            .iter()
            .flatten()
            .filter(|&a| a > 0.0)
            .all(|a| a >= low)
    );
    let err = s
        .sample(5, &[("colour".into(), "purple".into())], 5, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("protect_rare"), "{err}");
}

#[test]
fn a_head_never_sees_its_own_or_later_columns() {
    let df = adult_slice(300);
    let t = trainer(&df, config(1.0), 1);
    let layout = &t.layout;
    let device = crate::cpu_device();
    let net = t.net.valid();
    let width = layout.columns.len();
    let mut rng = seeded_rng(5);
    let rows = 16;
    let random_tokens = |rng: &mut SeededRng| -> Vec<u32> {
        (0..rows * width)
            .map(|i| rng.random_range(0..layout.columns[i % width].vocab) as u32)
            .collect()
    };
    let output_mask = layout.output_mask(&device);
    for trial in 0..4 {
        let ranks = random_ranks(layout, &mut rng);
        let input_mask = layout.input_mask(&ranks, &device);
        let logits = |tokens: &[u32]| {
            to_host(net.logits(
                net.embed(int_matrix(tokens, rows, width, &device)),
                input_mask.clone(),
                output_mask.clone(),
            ))
        };
        let base = random_tokens(&mut rng);
        let head = trial * 3 % width;
        let (lo, lw) = layout.logits[head];
        let head_of = |all: &[f32]| -> Vec<f32> {
            all.chunks_exact(layout.logit_width())
                .flat_map(|row| row[lo..lo + lw].to_vec())
                .collect()
        };
        let reference = head_of(&logits(&base));
        // every token at or after the head in the order changed: the head's logits do not move
        let mut later = base.clone();
        let mut earlier = base.clone();
        for (i, token) in later.iter_mut().enumerate() {
            let t = i % width;
            if ranks[t] >= ranks[head] {
                *token = (*token + 1) % layout.columns[t].vocab as u32;
            }
        }
        assert_eq!(
            head_of(&logits(&later)),
            reference,
            "head {head} saw a later column"
        );
        // a token before it changed: they do (unless the head comes first)
        for (i, token) in earlier.iter_mut().enumerate() {
            let t = i % width;
            if ranks[t] < ranks[head] {
                *token = (*token + 1) % layout.columns[t].vocab as u32;
            }
        }
        if ranks.iter().any(|&r| r < ranks[head]) {
            assert_ne!(
                head_of(&logits(&earlier)),
                reference,
                "head {head} ignores its inputs"
            );
        }
        // the sampler's head-only pass agrees with the full pass
        let x = net.embed(int_matrix(&base, rows, width, &device));
        let alone = to_host(net.head_logits(x, &layout.head_mask(&ranks, head), layout, head));
        assert_close(&alone, &reference, 1e-5, "head-only logits");
    }
}

/// Rows where `b` depends on `a`: P(b = p | a = x) = 0.9, P(b = p | a = y) = 0.2, plus an
/// independent number.
fn dependent_table(rows: usize) -> DataFrame {
    let mut rng = seeded_rng(3);
    let (mut a, mut b, mut noise) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rows {
        let x = rng.random_bool(0.5);
        a.push(if x { "x" } else { "y" });
        b.push(if rng.random_bool(if x { 0.9 } else { 0.2 }) {
            "p"
        } else {
            "q"
        });
        noise.push(rng.random_range(0.0..100.0f64).round());
    }
    df!("a" => a, "b" => b, "noise" => noise).unwrap()
}

fn share(df: &DataFrame, column: &str, value: &str) -> f64 {
    let col = df.column(column).unwrap().str().unwrap().clone();
    col.iter().filter(|v| *v == Some(value)).count() as f64 / df.height() as f64
}

#[test]
fn conditions_on_any_column_reproduce_the_conditional_frequencies() {
    let df = dependent_table(4000);
    let mut t = trainer(&df, config(1.0), 2);
    train_epochs(&mut t, 0..15);
    let s = t.sampler();
    // b comes after a in the table: any-order training makes P(a | b) exact too
    // P(a = x | b = p) = 0.45 / 0.55
    let given = |column: &str, value: &str| {
        let out = s
            .sample(4000, &[(column.to_string(), value.to_string())], 1000, 1)
            .unwrap();
        assert_eq!(out.first_pass_match_rate, Some(1.0), "exact, no rejection");
        assert!((share(&out.table, column, value) - 1.0).abs() < 1e-12);
        out.table
    };
    let x_given_p = share(&given("b", "p"), "a", "x");
    assert!(
        (x_given_p - 0.818).abs() < 0.04,
        "P(a=x | b=p) = {x_given_p}"
    );
    let p_given_y = share(&given("a", "y"), "b", "p");
    assert!((p_given_y - 0.2).abs() < 0.04, "P(b=p | a=y) = {p_given_y}");
    // a value of a number: written as given
    let out = s
        .sample(50, &[("noise".into(), "42".into())], 50, 2)
        .unwrap();
    let noise = out.table.column("noise").unwrap().f64().unwrap().clone();
    assert!(noise.iter().all(|v| v == Some(42.0)));
    // a range: every number inside it, exact on the first pass, its ends included
    for (range, (lo, hi)) in [
        ("20.5..30", (20.5, 30.0)),
        ("..10", (0.0, 10.0)),
        ("99..", (99.0, 100.0)),
    ] {
        let out = s
            .sample(300, &[("noise".into(), range.into())], 300, 2)
            .unwrap();
        assert_eq!(out.first_pass_match_rate, Some(1.0));
        let noise = out.table.column("noise").unwrap().f64().unwrap().clone();
        assert!(
            noise
                .iter()
                .all(|v| v.is_some_and(|v| (lo..=hi).contains(&v))),
            "{range}"
        );
    }
    for bad in ["30..20", "200..300", "a..b"] {
        let err = s
            .sample(5, &[("noise".into(), bad.into())], 5, 0)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("low..high"), "{bad}: {err}");
    }
    let err = s
        .sample(5, &[("a".into(), "z".into())], 5, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("x, y"), "{err}");

    // rebalancing b to 90% p keeps P(a | b) and gives b the shares asked for
    let mut balanced = t.sampler();
    balanced.set_rebalance("b", &[("p".into(), 0.9)]).unwrap();
    let out = balanced.sample(4000, &[], 1000, 5).unwrap().table;
    let p_share = share(&out, "b", "p");
    assert!((p_share - 0.9).abs() < 0.02, "b=p in {p_share}");
    let x = share(&out, "a", "x");
    // 0.9 * P(x | p) + 0.1 * P(x | q) = 0.9 * 0.818 + 0.1 * 0.111
    assert!((x - 0.747).abs() < 0.04, "a=x in {x}");
    for (column, shares, needle) in [
        ("b", vec![("z".to_string(), 0.5)], "p, q"),
        (
            "b",
            vec![("p".into(), 0.7), ("q".into(), 0.7)],
            "add up to 1.4",
        ),
        ("b", vec![("p".into(), 0.7), ("q".into(), 0.2)], "exactly 1"),
        ("noise", vec![("3".into(), 0.5)], "continuous"),
        ("c", vec![("p".into(), 0.5)], "a, b, noise"),
    ] {
        let err = balanced
            .set_rebalance(column, &shares)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }

    // imputation: a's gaps given b follow P(a | b); present cells stay as they are
    let mut gappy = dependent_table(4000);
    let a: Vec<Option<&str>> = gappy
        .column("a")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(row, v)| if row % 2 == 0 { None } else { v })
        .collect();
    let noise: Vec<Option<f64>> = gappy
        .column("noise")
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(row, v)| if row % 3 == 0 { None } else { v })
        .collect();
    gappy.replace("a", Column::new("a".into(), a)).unwrap();
    gappy
        .replace("noise", Column::new("noise".into(), noise))
        .unwrap();
    let (filled, cells) = s.impute(&gappy, 1000, 3).unwrap();
    assert_eq!(cells, 2000 + 1334);
    assert_eq!(filled.column("a").unwrap().null_count(), 0);
    assert_eq!(filled.column("noise").unwrap().null_count(), 0);
    let (truth, b) = (df.column("a").unwrap(), df.column("b").unwrap());
    let text = |c: &Column, row: usize| c.get(row).unwrap().str_value().to_string();
    // per value of b: rows, x in the data, x imputed (over the rows whose a was blanked)
    let mut tally = HashMap::<String, (f64, f64, f64)>::new();
    for row in 0..df.height() {
        let got = text(filled.column("a").unwrap(), row);
        if row % 2 == 1 {
            assert_eq!(got, text(truth, row), "a present cell changed");
        } else {
            let entry = tally.entry(text(b, row)).or_default();
            entry.0 += 1.0;
            entry.1 += f64::from(u8::from(text(truth, row) == "x"));
            entry.2 += f64::from(u8::from(got == "x"));
        }
        if row % 3 != 0 {
            let given = df.column("noise").unwrap().get(row).unwrap();
            assert_eq!(filled.column("noise").unwrap().get(row).unwrap(), given);
        }
    }
    for (value, (rows, data, imputed)) in tally {
        let (data, imputed) = (data / rows, imputed / rows);
        assert!(
            (data - imputed).abs() < 0.06,
            "P(a=x | b={value}): {data:.3} in the data, {imputed:.3} imputed"
        );
    }

    // a fixed-order model meets a condition on a later column by rejection
    let mut fixed = trainer(&df, config(0.0), 2);
    train_epochs(&mut fixed, 0..15);
    let out = fixed
        .sampler()
        .sample(2000, &[("b".into(), "p".into())], 1000, 1)
        .unwrap();
    let rate = out.first_pass_match_rate.unwrap();
    assert!((rate - 0.55).abs() < 0.05, "match rate {rate}");
    let x_given_p = share(&out.table, "a", "x");
    assert!(
        (x_given_p - 0.818).abs() < 0.05,
        "P(a=x | b=p) = {x_given_p}"
    );
    let mut fixed_sampler = fixed.sampler();
    let err = fixed_sampler
        .impute(&gappy, 100, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("random_orders"), "{err}");
    fixed_sampler
        .set_rebalance("b", &[("p".into(), 0.5)])
        .unwrap();
    let err = fixed_sampler
        .sample(10, &[], 10, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("random_orders"), "{err}");
}

#[test]
fn training_learns_adult_and_stops_early() {
    let df = adult_slice(2000);
    let quick = ArgnConfig {
        patience: 2,
        plateau_epochs: 1,
        ..Default::default()
    }
    .validated(64)
    .unwrap();
    let mut t = trainer(&df, quick, 3);
    // 1,600 training rows: batch 2^floor(log2(25)) = 16, 100 steps per epoch
    assert_eq!(t.steps_per_epoch(), 100);
    let before = t.sampler().sample(2000, &[], 500, 1).unwrap().table;
    let mut validation = Vec::new();
    for epoch in 0..60 {
        validation.extend(train_epochs(&mut t, epoch..epoch + 1));
        if t.converged() {
            break;
        }
    }
    assert!(t.converged(), "no early stop in 60 epochs: {validation:?}");
    let best = validation.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(best < 0.9 * validation[0], "validation loss {validation:?}");
    assert!(t.progress.learning_rate < ArgnConfig::default().scaled_learning_rate(16));
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
        "income",
    ];
    let mean =
        |s: &DataFrame| columns.iter().map(|c| tvd(&df, s, c)).sum::<f64>() / columns.len() as f64;
    // the initial biases already give the marginals; training must keep them and learn pairs
    assert!(
        mean(&before) < 0.08 && mean(&after) < 0.06,
        "{} {}",
        mean(&before),
        mean(&after)
    );
    // a pair the columns' marginals alone cannot give: married husbands
    let pair = |s: &DataFrame| {
        let rel = s.column("relationship").unwrap().str().unwrap().clone();
        let sex = s.column("sex").unwrap().str().unwrap().clone();
        rel.iter()
            .zip(sex.iter())
            .filter(|(r, x)| *r == Some("Husband") && *x == Some("Female"))
            .count() as f64
            / s.height() as f64
    };
    assert!(
        pair(&after) < 0.01 && pair(&before) > 0.05,
        "female husbands: {} -> {}",
        pair(&before),
        pair(&after)
    );
}

#[test]
fn checkpoint_round_trip_and_resume_are_exact() {
    let df = adult_slice(600);
    let dir = tempfile::tempdir().unwrap();
    let settings = config(1.0);
    let mut whole = trainer(&df, settings.clone(), 5);
    train_epochs(&mut whole, 0..2);

    let mut first = trainer(&df, settings.clone(), 5);
    train_epochs(&mut first, 0..1);
    first.save(dir.path()).unwrap();
    let loaded = ArgnSampler::load(dir.path(), &settings, &crate::cpu_device()).unwrap();
    let fresh = first.sampler();
    let rows = |s: &ArgnSampler, seed| s.sample(300, &[], 128, seed).unwrap().table;
    assert!(rows(&loaded, 3).equals_missing(&rows(&fresh, 3)));
    assert!(!rows(&loaded, 3).equals_missing(&rows(&loaded, 4)));

    let mut resumed = trainer(&df, settings.clone(), 5)
        .resume(dir.path())
        .unwrap();
    train_epochs(&mut resumed, 1..2);
    assert_eq!(resumed.progress, whole.progress);
    assert!(
        rows(&whole.sampler(), 2).equals_missing(&rows(&resumed.sampler(), 2)),
        "resumed training differs from an uninterrupted run"
    );

    std::fs::write(dir.path().join(BEST_FILE), b"truncated").unwrap();
    let err = ArgnSampler::load(dir.path(), &settings, &crate::cpu_device())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(BEST_FILE), "{err}");
    std::fs::write(dir.path().join(TOKENS_FILE), b"{\"columns\": []}").unwrap();
    let err = ArgnSampler::load(dir.path(), &settings, &crate::cpu_device())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(TOKENS_FILE) && err.contains("token columns"),
        "{err}"
    );
}

#[test]
fn top_p_and_temperature_narrow_the_draws() {
    let logits = [2.0f32, 1.0, 0.0, -1.0];
    let mut rng = seeded_rng(0);
    let mut counts = [0usize; 4];
    for _ in 0..20_000 {
        counts[draw_token(&logits, None, 1.0, 1.0, &mut rng) as usize] += 1;
    }
    // softmax([2, 1, 0, -1]) = 0.644, 0.237, 0.087, 0.032
    for (count, p) in counts.iter().zip([0.644, 0.237, 0.087, 0.032]) {
        assert!((*count as f64 / 20_000.0 - p).abs() < 0.01, "{counts:?}");
    }
    // top_p 0.8 keeps the two most probable (0.644 + 0.237 >= 0.8)
    for _ in 0..1000 {
        assert!(draw_token(&logits, None, 1.0, 0.8, &mut rng) < 2);
        assert_eq!(
            draw_token(
                &logits,
                Some(&[false, false, true, true]),
                1.0,
                1.0,
                &mut rng
            ) / 2,
            1
        );
    }
    let cold = (0..1000)
        .filter(|_| draw_token(&logits, None, 0.1, 1.0, &mut rng) == 0)
        .count();
    assert!(cold > 995, "{cold}");
}

#[test]
fn one_training_step_agrees_across_backends() {
    let df = adult_slice(300);
    let (transformer, values) = values_transformer(&df);
    let step = |device: &Device| {
        let mut t =
            ArgnTrainer::new(config(1.0), transformer.clone(), values.clone(), device, 4).unwrap();
        t.begin_epoch(0);
        t.train_step();
        let mut figures: Vec<f32> = t.take_losses().iter().map(|(_, v)| *v as f32).collect();
        figures.extend(t.end_epoch().iter().map(|(_, v)| *v as f32));
        let s = t.sampler();
        let draws = vec![Draw::Free; s.layout.columns.len()];
        let ranks = s.ranks(&draws);
        let x = s.net.embed(int_matrix(
            &t.tokenizer.encode(&values, 300)[..20 * draws.len()],
            20,
            draws.len(),
            &s.device,
        ));
        let last = draws.len() - 1;
        let logits =
            to_host(
                s.net
                    .head_logits(x, &s.layout.head_mask(&ranks, last), &s.layout, last),
            );
        (figures, logits)
    };
    let (cpu_figures, cpu_logits) = step(&crate::cpu_device());
    let mut others = vec![("flex", crate::flex_device())];
    others.extend(wgpu_or_skip().map(|gpu| ("wgpu", gpu)));
    for (name, device) in others {
        let (figures, logits) = step(&device);
        assert_close(&cpu_figures, &figures, 1e-4, &format!("losses on {name}"));
        assert_close(
            &cpu_logits,
            &logits,
            1e-4,
            &format!("head logits on {name}"),
        );
    }
}
