//! One training step at batch 128 on 28-pixel MNIST digits with the paper's settings (latent
//! 100, 64 feature maps): DCGAN, and the class-conditional DCGAN (with its label embeddings) on
//! the same digits and their labels, side by side; CPU backend (`SYNTH_BACKEND=wgpu` for the
//! GPU).
//!
//! `cargo bench --profile dev --bench dcgan`

use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;
use synth_core::{Trainable, Validate};
use synth_data::images::{ImageSpec, OnCorrupt, load_idx};
use synth_image::cdcgan::CdcganConfig;
use synth_image::dcgan::DcganConfig;
use synth_image::gan::{GanModel, ImageRun};

fn image_steps(c: &mut Criterion) {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let spec = ImageSpec {
        size: 28,
        channels: 1,
        on_corrupt: OnCorrupt::Fail,
    };
    let images = load_idx(
        &assets.join("mnist-2k-images-idx3-ubyte.gz"),
        Some(&assets.join("mnist-2k-labels-idx1-ubyte.gz")),
        &spec,
    )
    .unwrap();
    let (_, device) = synth_pipeline::backend::device_from_env().unwrap();
    let run = ImageRun {
        image_size: 28,
        batch_size: 128,
    };
    let dcgan = DcganConfig::default().validated(run).unwrap();
    let cdcgan = CdcganConfig::default().validated(run).unwrap();
    let trainers: [(&str, Box<dyn Trainable>); 2] = [
        (
            "mnist28_step_batch128",
            Box::new(dcgan.gan_trainer(&images, &device, 0).unwrap()),
        ),
        (
            "conditional_mnist28_step_batch128",
            Box::new(cdcgan.gan_trainer(&images, &device, 0).unwrap()),
        ),
    ];
    let mut group = c.benchmark_group("dcgan");
    group.sample_size(10);
    for (name, mut trainer) in trainers {
        group.bench_function(name, |b| {
            b.iter(|| {
                trainer.train_step();
                trainer.take_losses()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, image_steps);
criterion_main!(benches);
