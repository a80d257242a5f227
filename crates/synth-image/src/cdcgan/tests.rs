use super::*;
use crate::ImageSampler;
use crate::gan::GENERATOR_FILE;
use crate::gan::{GanModel, ImageRun};
use crate::{CLASSES_FILE, class_condition};
use std::path::PathBuf;
use synth_core::Trainable;
use synth_data::images::{ImageSpec, OnCorrupt, load_idx};
use synth_nn::{Noise, cpu_device, flex_device};

/// The first `n` embedded MNIST digits of the classes in `keep`, labelled by their position
/// in `keep` (the class names are the digits).
fn mnist(n: usize, keep: &[u32]) -> ImageSet {
    let assets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets");
    let spec = ImageSpec {
        size: 28,
        channels: 1,
        on_corrupt: OnCorrupt::Fail,
    };
    let all = load_idx(
        &assets.join("mnist-2k-images-idx3-ubyte.gz"),
        Some(&assets.join("mnist-2k-labels-idx1-ubyte.gz")),
        &spec,
    )
    .unwrap();
    let labels = all.labels.clone().unwrap();
    let mut set = ImageSet {
        pixels: Vec::new(),
        len: 0,
        labels: Some(Vec::new()),
        classes: keep.iter().map(u32::to_string).collect(),
        ..all.clone()
    };
    for (i, &label) in labels.iter().enumerate() {
        let position = keep.iter().position(|&k| k == label);
        if let Some(position) = position.filter(|_| set.len < n) {
            set.pixels
                .extend_from_slice(&all.pixels[i * 784..(i + 1) * 784]);
            set.labels.as_mut().unwrap().push(position as u32);
            set.len += 1;
        }
    }
    set
}

fn small() -> CdcganConfig {
    CdcganConfig {
        feature_maps: 8,
        latent_dim: 16,
        label_dim: 4,
        ..Default::default()
    }
}

const SHAPE: ImageShape = ImageShape {
    channels: 1,
    size: 28,
};

fn run_epochs(t: &mut CdcganTrainer, epochs: std::ops::Range<usize>) {
    for epoch in epochs {
        t.begin_epoch(epoch);
        for _ in 0..t.steps_per_epoch() {
            t.train_step();
        }
    }
}

/// The mean image of `images` (`values` per image).
fn mean_image(images: &[f32], values: usize) -> Vec<f32> {
    let n = (images.len() / values) as f32;
    (0..values)
        .map(|p| images.iter().skip(p).step_by(values).sum::<f32>() / n)
        .collect()
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f32>()
        .sqrt()
}

#[test]
fn networks_have_the_right_shapes_and_counts_match_the_weight_file() {
    let device = cpu_device();
    let mut noise = Noise::new(0, &device);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(GENERATOR_FILE);
    for (size, channels) in [(28u32, 1usize), (32, 3), (64, 3)] {
        let layout = Layout::for_size(size).unwrap();
        let s = size as usize;
        let g = ConditionalGenerator::new(&small(), 10, channels, layout, &mut noise);
        let labels = synth_nn::indices(&[3, 7], &device);
        let images = g.forward(noise.normal(2, 16), labels.clone());
        assert_eq!(images.dims(), [2, channels, s, s], "generator at {size}");
        let d = ConditionalDiscriminator::new(&small(), 10, channels, s, layout, &mut noise);
        assert_eq!(d.forward(images, labels).dims(), [2, 1]);
        g.into_record().save(&path).unwrap();
        assert_eq!(
            Some(synth_nn::stored_values(&path).unwrap()),
            ConditionalGenerator::values(&small(), 10, channels, layout).get(),
            "{size} {channels}"
        );
    }
}

/// A short run on zeros and ones: asked for a class, the generator draws images nearer that
/// class's mean digit than the other's (before training it does not).
#[test]
fn training_makes_each_class_look_like_its_digits() {
    let set = mnist(400, &[0, 1]);
    let labels = set.labels.clone().unwrap();
    let real_mean = |class: u32| {
        let pixels: Vec<f32> = labels
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == class)
            .flat_map(|(i, _)| set.pixels[i * 784..(i + 1) * 784].to_vec())
            .collect();
        mean_image(&pixels, 784)
    };
    let means = [real_mean(0), real_mean(1)];
    let config = CdcganConfig {
        learning_rate: 2e-3,
        ..small()
    };
    let mut t = config
        .validated(ImageRun::mnist(32))
        .unwrap()
        .gan_trainer(&set, &flex_device(), 3)
        .unwrap();
    assert_eq!(t.sampler().classes(), ["0", "1"]);
    run_epochs(&mut t, 0..15);
    let sampler = t.sampler();
    for class in [0usize, 1] {
        let generated = mean_image(&sampler.generate(64, Some(class), 1).unwrap(), 784);
        let (own, other) = (
            distance(&generated, &means[class]),
            distance(&generated, &means[1 - class]),
        );
        assert!(
            own < 0.8 * other,
            "class {class}: distance to its own mean digit {own}, to the other's {other}"
        );
    }
}

#[test]
fn checkpoint_round_trip_keeps_classes_and_resume_is_exact() {
    let set = mnist(128, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
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
        .gan_sampler(dir.path(), SHAPE, &cpu_device())
        .unwrap();
    assert_eq!(loaded.classes().len(), 10);
    for class in [None, Some(7)] {
        assert_eq!(
            loaded.generate(8, class, 3).unwrap(),
            first.sampler().generate(8, class, 3).unwrap()
        );
    }
    assert_ne!(
        loaded.generate(8, Some(7), 3).unwrap(),
        loaded.generate(8, Some(1), 3).unwrap()
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
        whole.sampler().generate(8, Some(2), 3).unwrap(),
        resumed.sampler().generate(8, Some(2), 3).unwrap()
    );

    // a damaged class file is named
    std::fs::write(
        dir.path().join(CLASSES_FILE),
        r#"{"names": [], "counts": []}"#,
    )
    .unwrap();
    let err = small()
        .validated(ImageRun::mnist(1))
        .unwrap()
        .gan_sampler(dir.path(), SHAPE, &cpu_device())
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(CLASSES_FILE) && err.contains("one count per class"),
        "{err}"
    );
}

#[test]
fn conditions_name_a_known_class_of_a_conditional_model() {
    let set = mnist(40, &[3, 5]);
    let t = small()
        .validated(ImageRun::mnist(20))
        .unwrap()
        .gan_trainer(&set, &cpu_device(), 1)
        .unwrap();
    let sampler = t.sampler();
    let condition = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    assert_eq!(class_condition(&sampler, &[]).unwrap(), None);
    assert_eq!(
        class_condition(&sampler, &condition("class", "5")).unwrap(),
        Some(1)
    );
    let unknown = class_condition(&sampler, &condition("class", "4"))
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("class=4") && unknown.contains("3, 5"),
        "{unknown}"
    );
    let other = class_condition(&sampler, &condition("digit", "5"))
        .unwrap_err()
        .to_string();
    assert!(other.contains("class=NAME"), "{other}");
    assert!(sampler.generate(2, Some(2), 0).is_err());

    let dcgan = crate::dcgan::DcganConfig {
        feature_maps: 8,
        latent_dim: 16,
        ..Default::default()
    }
    .validated(ImageRun::mnist(20))
    .unwrap()
    .gan_trainer(&set, &cpu_device(), 1)
    .unwrap()
    .sampler();
    let err = class_condition(&dcgan, &condition("class", "5"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not class-conditional"), "{err}");
    assert!(dcgan.generate(2, Some(0), 0).is_err());
}

#[test]
fn unlabelled_images_are_refused_and_classes_are_drawn_at_their_frequencies() {
    let mut set = mnist(40, &[3, 5]);
    set.labels = None;
    let err = small()
        .validated(ImageRun::mnist(20))
        .unwrap()
        .gan_trainer(&set, &cpu_device(), 1)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("data.labels"), "{err}");

    let mut labelled = mnist(40, &[3, 5]);
    labelled.labels = Some([vec![0; 30], vec![1; 10]].concat());
    let classes = Classes::of(&labelled).unwrap();
    // classes of the label file without images (IDX labels 0, 1 and 3: no twos) are known
    // but cannot be drawn
    let mut gap = labelled.clone();
    gap.classes = ["a", "b", "c", "d"].map(String::from).to_vec();
    gap.labels = Some([vec![0; 20], vec![1; 10], vec![3; 10]].concat());
    let sampler = small()
        .validated(ImageRun::mnist(20))
        .unwrap()
        .gan_trainer(&gap, &cpu_device(), 1)
        .unwrap()
        .sampler();
    assert_eq!(sampler.generate(2, Some(3), 0).unwrap().len(), 2 * 784);
    let err = sampler.generate(2, Some(2), 0).unwrap_err().to_string();
    assert!(err.contains("class=c") && err.contains("no image"), "{err}");
    let drawn = classes.draw(4000, 9);
    let share = drawn.iter().filter(|&&c| c == 0).count() as f64 / 4000.0;
    // 30 of 40 images: 0.75, with a binomial sd of 0.007
    assert!((share - 0.75).abs() < 0.03, "{share}");
}
