use super::*;
use crate::ConditionFrequencies;
use crate::tensors::Noise;
use crate::test_support::{adult_slice, assert_close, fitted, run_epochs, tvd, wgpu_or_skip};
use polars::prelude::DataFrame;
use synth_core::Validate;

fn small_config() -> Valid<TvaeConfig> {
    TvaeConfig {
        embedding_dim: 32,
        encoder_dim: vec![64, 64],
        decoder_dim: vec![64, 64],
        ..Default::default()
    }
    .validated(100)
    .unwrap()
}

fn trainer(df: &DataFrame, seed: u64) -> TvaeTrainer {
    let (transformer, table) = fitted(df, seed);
    TvaeTrainer::new(
        small_config(),
        transformer,
        table,
        &crate::cpu_device(),
        seed,
    )
    .unwrap()
}

#[test]
fn training_lowers_the_loss_and_moves_marginals_towards_the_data() {
    let df = adult_slice(2000);
    let mut t = trainer(&df, 3);
    assert_eq!(t.steps_per_epoch(), 20);
    let before = t.sampler().sample(2000, &[], 500, 1).unwrap().table;
    run_epochs(&mut t, 0..1);
    let first = t.take_losses()[0].1;
    // a VAE first learns the marginal means (the posterior collapses onto the prior), and
    // only after several hundred steps starts encoding rows: train long enough for that
    run_epochs(&mut t, 1..80);
    let last = t.take_losses()[0].1;
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    let sampler = t.sampler();
    assert!(
        sampler
            .sigma()
            .iter()
            .all(|s| (SIGMA_MIN..=SIGMA_MAX).contains(s)),
        "{:?}",
        sampler.sigma()
    );
    let after = sampler.sample(2000, &[], 500, 1).unwrap().table;
    assert_eq!(after.get_column_names(), df.get_column_names());
    for (a, b) in df.columns().iter().zip(after.columns()) {
        assert_eq!(a.dtype(), b.dtype());
    }
    let columns = ["workclass", "education", "marital-status", "sex", "income"];
    let mean =
        |s: &DataFrame| columns.iter().map(|c| tvd(&df, s, c)).sum::<f64>() / columns.len() as f64;
    let (tvd_before, tvd_after) = (mean(&before), mean(&after));
    assert!(
        tvd_after < 0.5 * tvd_before && tvd_after < 0.15,
        "mean TVD before {tvd_before:.3}, after {tvd_after:.3}"
    );
}

#[test]
fn checkpoint_round_trip_and_resume_are_exact() {
    let df = adult_slice(600);
    let dir = tempfile::tempdir().unwrap();
    let mut whole = trainer(&df, 5);
    run_epochs(&mut whole, 0..2);

    let mut first = trainer(&df, 5);
    run_epochs(&mut first, 0..1);
    first.save(dir.path()).unwrap();
    let loaded = TvaeSampler::load(
        dir.path(),
        &small_config(),
        CategoryDecoding::Argmax,
        &crate::cpu_device(),
    )
    .unwrap();
    let fresh = first.sampler();
    assert_eq!(loaded.sigma(), fresh.sigma());
    assert!(
        loaded
            .sample(200, &[], 64, 3)
            .unwrap()
            .table
            .equals_missing(&fresh.sample(200, &[], 64, 3).unwrap().table)
    );

    let mut resumed = trainer(&df, 5).resume(dir.path()).unwrap();
    run_epochs(&mut resumed, 1..2);
    let (s1, s2) = (
        whole.sampler().sample(300, &[], 100, 2).unwrap(),
        resumed.sampler().sample(300, &[], 100, 2).unwrap(),
    );
    assert!(
        s1.table.equals_missing(&s2.table),
        "resumed training differs from an uninterrupted run"
    );

    std::fs::write(dir.path().join(DECODER_FILE), b"truncated").unwrap();
    let err = TvaeSampler::load(
        dir.path(),
        &small_config(),
        CategoryDecoding::Argmax,
        &crate::cpu_device(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains(DECODER_FILE), "{err}");
}

#[test]
fn conditions_are_met_by_rejection_sampling() {
    let df = adult_slice(1000);
    let mut t = trainer(&df, 2);
    // long enough for the decoder to leave the majority-only collapse of its first steps
    run_epochs(&mut t, 0..60);
    let mut s = t.sampler();
    let condition = [("sex".to_string(), "Female".to_string())];
    let out = s.sample(150, &condition, 100, 4).unwrap();
    assert_eq!(out.table.height(), 150);
    let col = out.table.column("sex").unwrap();
    assert!(col.str().unwrap().iter().all(|v| v == Some("Female")));
    let rate = out.first_pass_match_rate.unwrap();
    assert!(rate > 0.0 && rate < 1.0, "{rate}");
    let err = s
        .sample(5, &[("sex".into(), "Other".into())], 10, 0)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("Female"), "{err}");
    let same = |seed| s.sample(100, &[], 100, seed).unwrap().table;
    assert!(same(7).equals_missing(&same(7)));
    assert!(!same(7).equals_missing(&same(8)));
    // TVAE has no condition vector: its rows always follow the data.
    s.set_condition_frequencies(ConditionFrequencies::Data)
        .unwrap();
    let err = s
        .set_condition_frequencies(ConditionFrequencies::Training)
        .unwrap_err()
        .to_string();
    assert!(err.contains("CTGAN"), "{err}");
}

#[test]
fn one_training_step_agrees_across_backends() {
    let df = adult_slice(300);
    let (transformer, table) = fitted(&df, 4);
    let step = |device: &Device| {
        let mut t = TvaeTrainer::new(
            small_config(),
            transformer.clone(),
            table.clone(),
            device,
            4,
        )
        .unwrap();
        t.begin_epoch(0);
        t.train_step();
        let losses: Vec<f32> = t.take_losses().iter().map(|(_, v)| *v as f32).collect();
        let s = t.sampler();
        let mut rows = s.sigma().to_vec();
        rows.extend(s.generate(64, &mut Noise::new(9, &s.device)));
        (losses, rows)
    };
    let (cpu_losses, cpu_rows) = step(&crate::cpu_device());
    let mut others = vec![("flex", crate::flex_device())];
    others.extend(wgpu_or_skip().map(|gpu| ("wgpu", gpu)));
    for (name, device) in others {
        let (losses, rows) = step(&device);
        assert_close(&cpu_losses, &losses, 1e-4, &format!("losses on {name}"));
        assert_close(
            &cpu_rows,
            &rows,
            1e-4,
            &format!("sigma and decoded rows on {name}"),
        );
    }
}

/// Every parameter's gradient, flattened in visiting order.
struct Flatten<'a> {
    grads: &'a GradientsParams,
    values: Vec<f32>,
}

impl burn::module::ModuleVisitor for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.values
                .extend(g.into_data().convert::<f32>().try_to_vec::<f32>().unwrap());
        }
    }
}

/// DP-SGD's per-row gradient norms (one probed backward pass, the per-layer identity) equal
/// the norms of gradients computed one row at a time, and its weighted second pass equals the
/// sum of the rows' gradients each scaled by its clipping factor.
#[test]
fn per_row_clipping_matches_gradients_computed_one_row_at_a_time() {
    let df = adult_slice(300);
    let (transformer, table) = fitted(&df, 2);
    let device = crate::cpu_device().autodiff();
    let config = TvaeConfig {
        embedding_dim: 4,
        encoder_dim: vec![8],
        decoder_dim: vec![6, 5],
        ..Default::default()
    };
    let mut weights = Noise::new(1, &device);
    let model = Tvae {
        encoder: build_encoder(&config, &transformer, &mut weights),
        decoder: build_decoder(&config, &transformer, &mut weights),
    };
    let layout = SpanLayout::new(&transformer.spans(), &device);
    let rows = 5;
    let data = matrix(
        table.data[..rows * table.width].to_vec(),
        rows,
        table.width,
        &device,
    );
    let eps = Noise::new(2, &device).normal(rows, 4);
    let losses = |x: Tensor<2>, eps: Tensor<2>, probes: Option<&mut Vec<Tap>>| {
        let (mean, log_var, recon, sigma) = match probes {
            Some(taps) => {
                let (mean, log_var) = model.encoder.forward_probed(x.clone(), taps);
                let z = mean.clone() + eps * log_var.clone().mul_scalar(0.5).exp();
                let (recon, sigma) = model.decoder.forward_probed(z, taps);
                (mean, log_var, recon, sigma)
            }
            None => {
                let (mean, log_var) = model.encoder.forward(x.clone());
                let z = mean.clone() + eps * log_var.clone().mul_scalar(0.5).exp();
                let k = model.decoder.sigma().unwrap().dims()[0];
                let sigma = model.decoder.sigma().map(|s| s.reshape([1, k]));
                (mean, log_var, model.decoder.forward(z), sigma)
            }
        };
        tvae_row_losses(recon, x, (mean, log_var), sigma, &layout, 2.0)
    };
    let flat = |loss: Tensor<1>| {
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let mut visitor = Flatten {
            grads: &grads,
            values: Vec::new(),
        };
        model.visit(&mut visitor);
        visitor.values
    };
    let mut taps = Vec::new();
    let all = losses(data.clone(), eps.clone(), Some(&mut taps));
    let norms = dp::per_row_norms(&taps, &all.sum().backward());
    assert_eq!(norms.len(), rows);
    let one_at_a_time: Vec<Vec<f32>> = (0..rows)
        .map(|i| {
            let pick = |t: &Tensor<2>| t.clone().slice([i..i + 1, 0..t.dims()[1]]);
            flat(losses(pick(&data), pick(&eps), None).sum())
        })
        .collect();
    for (norm, grad) in norms.iter().zip(&one_at_a_time) {
        let direct = grad.iter().map(|g| g * g).sum::<f32>().sqrt();
        assert!((norm - direct).abs() < 1e-3 * direct, "{norm} vs {direct}");
    }
    // clipping at the median norm: some rows are scaled down, some kept
    let mut sorted = norms.clone();
    sorted.sort_by(f32::total_cmp);
    let clip = f64::from(sorted[rows / 2]);
    let factors: Vec<f32> = norms.iter().map(|n| (clip as f32 / n).min(1.0)).collect();
    let weighted = losses(data, eps, None)
        * Tensor::<1>::from_data(TensorData::new(factors.clone(), [rows]), &device);
    let clipped_sum = flat(weighted.sum());
    for (k, value) in clipped_sum.iter().enumerate() {
        let want: f32 = (0..rows).map(|i| factors[i] * one_at_a_time[i][k]).sum();
        assert!(
            (value - want).abs() < 1e-3 * (1.0 + want.abs()),
            "{k}: {value} vs {want}"
        );
    }
    let clipped_norm = |i: usize| {
        one_at_a_time[i]
            .iter()
            .map(|g| (g * factors[i]).powi(2))
            .sum::<f32>()
            .sqrt()
    };
    assert!((0..rows).all(|i| clipped_norm(i) <= clip as f32 * 1.001));
}

/// `categories = "sample"` draws each one-hot span's category from the softmax of the logits
/// that `argmax` decoding keeps raw: over many rows, each category's share is the mean of its
/// softmax probability.
#[test]
fn sampled_categories_follow_the_decoders_softmax() {
    let df = adult_slice(300);
    let device = crate::cpu_device();
    let t = trainer(&df, 6);
    let decoder = t.model.decoder.valid();
    let sampler = |categories| {
        TvaeSampler::new(
            small_config(),
            t.transformer.clone(),
            decoder.clone(),
            categories,
            device.clone(),
        )
    };
    // unset, the paper's argmax, except after DP-SGD
    assert_eq!(
        small_config().category_decoding(false),
        CategoryDecoding::Argmax
    );
    assert_eq!(
        small_config().category_decoding(true),
        CategoryDecoding::Sample
    );
    let chosen = TvaeConfig {
        categories: Some(CategoryDecoding::Argmax),
        ..TvaeConfig::default()
    };
    assert_eq!(chosen.category_decoding(true), CategoryDecoding::Argmax);
    let n = 20_000;
    let logits = to_host(decoder.forward(Noise::new(9, &device).normal(n, 32)));
    let raw = sampler(CategoryDecoding::Argmax).generate(n, &mut Noise::new(9, &device));
    let drawn = sampler(CategoryDecoding::Sample).generate(n, &mut Noise::new(9, &device));
    let width = t.transformer.width();
    let mut offset = 0;
    for span in t.transformer.spans() {
        if span.activation == synth_core::Activation::Softmax {
            let (mut expected, mut observed) = (vec![0.0f64; span.width], vec![0.0f64; span.width]);
            for ((l, a), d) in logits
                .chunks_exact(width)
                .zip(raw.chunks_exact(width))
                .zip(drawn.chunks_exact(width))
            {
                let l = &l[offset..offset + span.width];
                assert_eq!(
                    l,
                    &a[offset..offset + span.width],
                    "argmax keeps the logits"
                );
                let d = &d[offset..offset + span.width];
                assert_eq!(d.iter().filter(|&&v| v == 1.0).count(), 1, "{d:?}");
                assert_eq!(d.iter().filter(|&&v| v == 0.0).count(), span.width - 1);
                let top = l.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let total: f64 = l.iter().map(|&v| f64::from((v - top).exp())).sum();
                for c in 0..span.width {
                    expected[c] += f64::from((l[c] - top).exp()) / total / n as f64;
                    observed[c] += f64::from(d[c]) / n as f64;
                }
            }
            for (e, o) in expected.iter().zip(&observed) {
                assert!(
                    (e - o).abs() < 0.012,
                    "expected {expected:?}, drew {observed:?}"
                );
            }
        }
        offset += span.width;
    }
}
