use super::*;
use crate::ImageSampler;
use crate::gan::{GENERATOR_FILE, bce_with_logits};
use crate::gan::{GanModel, ImageRun};
use std::path::PathBuf;
use synth_core::Trainable;
use synth_data::images::{ImageSpec, OnCorrupt, load_idx};
use synth_nn::{Noise, to_host};
use synth_nn::{cpu_device, matrix};

fn mnist(n: usize) -> ImageSet {
    let assets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets");
    let spec = ImageSpec {
        size: 28,
        channels: 1,
        on_corrupt: OnCorrupt::Fail,
    };
    let mut set = load_idx(&assets.join("mnist-2k-images-idx3-ubyte.gz"), None, &spec).unwrap();
    set.pixels.truncate(n * 28 * 28);
    set.len = n;
    set
}

fn small() -> DcganConfig {
    DcganConfig {
        feature_maps: 8,
        latent_dim: 16,
        ..Default::default()
    }
}

fn shape(channels: usize) -> ImageShape {
    ImageShape { channels, size: 28 }
}

fn run_epochs(t: &mut DcganTrainer, epochs: std::ops::Range<usize>) {
    for epoch in epochs {
        t.begin_epoch(epoch);
        for _ in 0..t.steps_per_epoch() {
            t.train_step();
        }
    }
}

fn mean(v: &[f32]) -> f32 {
    v.iter().sum::<f32>() / v.len() as f32
}

#[test]
fn both_networks_have_the_right_shapes_for_each_size() {
    let device = cpu_device();
    let mut noise = Noise::new(0, &device);
    for (size, channels) in [(28u32, 1usize), (32, 1), (32, 3), (64, 3)] {
        let layout = Layout::for_size(size).unwrap();
        let g = Generator::new(100, 64, channels, layout, &mut noise);
        let images = g.forward(noise.normal(2, 100));
        let s = size as usize;
        assert_eq!(images.dims(), [2, channels, s, s], "generator at {size}");
        let values = to_host(images.clone().reshape([2, channels * s * s]));
        assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
        let d = Discriminator::new(64, channels, layout, &mut noise);
        assert_eq!(d.forward(images).dims(), [2, 1], "discriminator at {size}");
    }
    assert!(
        Layout::for_size(48)
            .unwrap_err()
            .to_string()
            .contains("28, 32 or 64")
    );
}

#[test]
fn weights_start_from_the_papers_normal() {
    let device = cpu_device();
    let mut noise = Noise::new(1, &device);
    let g = Generator::new(100, 64, 1, Layout::for_size(28).unwrap(), &mut noise);
    let w = to_host(g.out.weight.val().reshape([1, 64 * 16]));
    let m = mean(&w);
    let sd = (w.iter().map(|x| (x - m).powi(2)).sum::<f32>() / w.len() as f32).sqrt();
    assert!(
        m.abs() < 0.003 && (sd - 0.02).abs() < 0.002,
        "mean {m} sd {sd}"
    );
    let gamma = to_host(g.blocks[0].bn.gamma.val().unsqueeze());
    assert!((mean(&gamma) - 1.0).abs() < 0.005, "{gamma:?}");
}

#[test]
fn bce_with_logits_matches_its_closed_form() {
    let device = cpu_device();
    let logits = [-30.0f32, -1.0, 0.0, 2.0, 40.0];
    let x = matrix(logits.to_vec(), 5, 1, &device);
    let softplus = |v: f64| (1.0 + v.exp()).ln();
    for real in [true, false] {
        let expected = logits
            .iter()
            .map(|&l| softplus(if real { -f64::from(l) } else { f64::from(l) }))
            .sum::<f64>()
            / 5.0;
        let got = f64::from(bce_with_logits(x.clone(), real).into_scalar::<f32>());
        assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
    }
}

#[test]
fn training_pulls_generated_digits_towards_the_data() {
    let set = mnist(512);
    let real_mean = mean(&set.pixels);
    // a small network learns at the paper's rate too slowly for a unit test; raise it
    let config = DcganConfig {
        learning_rate: 2e-3,
        ..small()
    };
    // on burn-flex: burn-ndarray's transposed convolutions make these 192 steps take a minute
    let mut t = config
        .validated(ImageRun::mnist(32))
        .unwrap()
        .gan_trainer(&set, &synth_nn::flex_device(), 3)
        .unwrap();
    let before = (mean(&t.sampler().generate(64, None, 1).unwrap()) - real_mean).abs();
    // 192 steps: the generator first learns the dark background
    run_epochs(&mut t, 0..12);
    let losses = t.take_losses();
    assert!(losses.iter().all(|(_, v)| v.is_finite()), "{losses:?}");
    let after = (mean(&t.sampler().generate(64, None, 1).unwrap()) - real_mean).abs();
    assert!(
        after < 0.5 * before,
        "mean pixel gap to MNIST: before {before}, after {after}"
    );
}

#[test]
fn checkpoint_round_trip_and_resume_are_exact() {
    let set = mnist(128);
    let dir = tempfile::tempdir().unwrap();
    let mut whole = small()
        .validated(ImageRun::mnist(64))
        .unwrap()
        .gan_trainer(&set, &cpu_device(), 5)
        .unwrap();
    run_epochs(&mut whole, 0..2);
    let mut first = small()
        .validated(ImageRun::mnist(64))
        .unwrap()
        .gan_trainer(&set, &cpu_device(), 5)
        .unwrap();
    run_epochs(&mut first, 0..1);
    first.save(dir.path()).unwrap();
    let loaded = small()
        .validated(ImageRun::mnist(1))
        .unwrap()
        .gan_sampler(dir.path(), shape(1), &cpu_device())
        .unwrap();
    assert_eq!(
        loaded.generate(8, None, 3).unwrap(),
        first.sampler().generate(8, None, 3).unwrap()
    );
    let mut resumed = small()
        .validated(ImageRun::mnist(64))
        .unwrap()
        .gan_trainer(&set, &cpu_device(), 5)
        .unwrap()
        .resume(dir.path())
        .unwrap();
    run_epochs(&mut resumed, 1..2);
    assert_eq!(
        whole.sampler().generate(8, None, 3).unwrap(),
        resumed.sampler().generate(8, None, 3).unwrap()
    );
    let err = small()
        .validated(ImageRun::mnist(1))
        .unwrap()
        .gan_sampler(dir.path(), shape(3), &cpu_device())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(GENERATOR_FILE), "{err}");
}

#[test]
fn one_training_step_agrees_on_both_cpu_backends() {
    let set = mnist(64);
    let step = |device: &Device| {
        let mut t = small()
            .validated(ImageRun::mnist(32))
            .unwrap()
            .gan_trainer(&set, device, 6)
            .unwrap();
        t.begin_epoch(0);
        t.train_step();
        let losses: Vec<f64> = t.take_losses().iter().map(|(_, v)| *v).collect();
        (losses, t.sampler().generate(8, None, 2).unwrap())
    };
    let (ndarray_losses, ndarray_images) = step(&cpu_device());
    let (flex_losses, flex_images) = step(&synth_nn::flex_device());
    for (a, b) in ndarray_losses.iter().zip(&flex_losses) {
        assert!(
            (a - b).abs() < 1e-4,
            "losses {ndarray_losses:?} vs {flex_losses:?}"
        );
    }
    let worst = ndarray_images
        .iter()
        .zip(&flex_images)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "generated pixels differ by {worst}");
}

/// The closed-form count the loader checks equals what a saved generator holds, for every
/// image size.
#[test]
fn generator_value_count_matches_its_weight_file() {
    let device = cpu_device();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("generator.bpk");
    for (size, channels) in [(28, 1), (32, 3), (64, 3)] {
        let layout = Layout::for_size(size).unwrap();
        let g = Generator::new(16, 8, channels, layout, &mut Noise::new(0, &device));
        g.into_record().save(&path).unwrap();
        assert_eq!(
            Some(synth_nn::stored_values(&path).unwrap()),
            Generator::values(16, 8, channels, layout).get(),
            "{size} {channels}"
        );
    }
}
