use super::*;
use image::{Rgb, RgbImage};
use std::io::Write;

const GRAY_28: ImageSpec = ImageSpec {
    size: 28,
    channels: 1,
    on_corrupt: OnCorrupt::Fail,
};

/// A `w x h` RGB image whose left half is black and right half white.
fn halves(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        }
    })
}

fn idx_bytes(magic_rank: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, magic_rank];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn folders_load_recursively_with_classes_resized_and_scaled() {
    let dir = tempfile::tempdir().unwrap();
    for (class, name) in [("cats", "a.png"), ("cats", "deep/b.jpg"), ("dogs", "c.png")] {
        let path = dir.path().join(class).join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        halves(64, 40).save(&path).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();
    let spec = ImageSpec {
        size: 32,
        channels: 3,
        on_corrupt: OnCorrupt::Fail,
    };
    let set = load_image_folder(dir.path(), &spec).unwrap();
    assert_eq!((set.len, set.size, set.channels), (3, 32, 3));
    assert_eq!(set.pixels.len(), 3 * 3 * 32 * 32);
    assert_eq!(set.classes, vec!["cats", "dogs"]);
    assert_eq!(set.labels, Some(vec![0, 0, 1]));
    assert!(set.pixels.iter().all(|v| (-1.0..=1.0).contains(v)));
    // 64x40 covers 32x32 as 51x32, centre-cropped: the left edge is black, the right white
    let first_row = &set.pixels[..32];
    assert!(
        first_row[0] < -0.99 && first_row[31] > 0.99,
        "{first_row:?}"
    );
    // grayscale of the same folder
    let gray = load_image_folder(
        dir.path(),
        &ImageSpec {
            channels: 1,
            ..spec
        },
    )
    .unwrap();
    assert_eq!(gray.pixels.len(), 3 * 32 * 32);
}

#[test]
fn corrupt_images_fail_or_are_skipped_by_path() {
    let dir = tempfile::tempdir().unwrap();
    halves(28, 28).save(dir.path().join("good.png")).unwrap();
    std::fs::write(dir.path().join("broken.png"), b"\x89PNG\r\n\x1a\n garbage").unwrap();
    let err = load_image_folder(dir.path(), &GRAY_28)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("broken.png") && err.contains("on_corrupt"),
        "{err}"
    );
    let skip = ImageSpec {
        on_corrupt: OnCorrupt::Skip,
        ..GRAY_28
    };
    let set = load_image_folder(dir.path(), &skip).unwrap();
    assert_eq!(set.len, 1);
    assert_eq!(set.labels, None, "no class subfolders, no labels");

    let empty = tempfile::tempdir().unwrap();
    let err = load_image_folder(empty.path(), &GRAY_28).unwrap_err();
    assert!(matches!(err, DataError::NoImages { .. }), "{err}");
    let err = load_image_folder(&empty.path().join("missing"), &GRAY_28).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    let err = load_image_folder(
        dir.path(),
        &ImageSpec {
            channels: 4,
            ..GRAY_28
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("channels"), "{err}");
}

#[test]
fn idx_files_parse_plain_and_gzip_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    // two 28x28 images: all black, and all white
    let mut pixels = vec![0u8; 28 * 28];
    pixels.extend(vec![255u8; 28 * 28]);
    let images = idx_bytes(3, &[2, 28, 28], &pixels);
    let labels = idx_bytes(1, &[2], &[7, 3]);
    let (plain, zipped, label_path) = (
        dir.path().join("images-idx3-ubyte"),
        dir.path().join("images-idx3-ubyte.gz"),
        dir.path().join("labels-idx1-ubyte.gz"),
    );
    std::fs::write(&plain, &images).unwrap();
    std::fs::write(&zipped, gzip(&images)).unwrap();
    std::fs::write(&label_path, gzip(&labels)).unwrap();

    let a = load_idx(&plain, None, &GRAY_28).unwrap();
    let b = load_idx(&zipped, Some(&label_path), &GRAY_28).unwrap();
    assert_eq!(a.pixels, b.pixels);
    assert_eq!(a.len, 2);
    assert!(a.pixels[..784].iter().all(|&v| v == -1.0));
    assert!(a.pixels[784..].iter().all(|&v| v == 1.0));
    assert_eq!(b.labels, Some(vec![7, 3]));
    assert_eq!(b.classes.len(), 8);
    // resized to 32 pixels
    let big = load_idx(
        &plain,
        None,
        &ImageSpec {
            size: 32,
            ..GRAY_28
        },
    )
    .unwrap();
    assert_eq!(big.pixels.len(), 2 * 32 * 32);
}

#[test]
fn malformed_idx_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let truncated = write("t.idx", &idx_bytes(3, &[2, 28, 28], &[0u8; 100]));
    let err = load_idx(&truncated, None, &GRAY_28)
        .unwrap_err()
        .to_string();
    assert!(err.contains("t.idx") && err.contains("truncated"), "{err}");
    let labels_as_images = write("l.idx", &idx_bytes(1, &[2], &[1, 2]));
    let err = load_idx(&labels_as_images, None, &GRAY_28)
        .unwrap_err()
        .to_string();
    assert!(err.contains("l.idx") && err.contains("magic"), "{err}");
    let short = write("s.idx", &[0, 0]);
    let err = load_idx(&short, None, &GRAY_28).unwrap_err().to_string();
    assert!(err.contains("header"), "{err}");
    let bad_gzip = write("g.idx.gz", &[0x1f, 0x8b, 1, 2, 3]);
    let err = load_idx(&bad_gzip, None, &GRAY_28).unwrap_err().to_string();
    assert!(err.contains("gzip"), "{err}");
    let images = write("i.idx", &idx_bytes(3, &[1, 28, 28], &[0u8; 784]));
    let labels = write("two.idx", &idx_bytes(1, &[2], &[1, 2]));
    let err = load_idx(&images, Some(&labels), &GRAY_28)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 labels for 1 images"), "{err}");
    let err = load_idx(&dir.path().join("none.idx"), None, &GRAY_28).unwrap_err();
    assert!(matches!(err, DataError::NotFound { .. }), "{err}");
}

#[test]
fn idx_headers_cannot_overflow_or_expand_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    // u32::MAX^3 overflows a 64-bit size: an error, not a panic.
    let huge = write("huge.idx", &idx_bytes(3, &[u32::MAX; 3], &[0u8; 16]));
    let err = load_idx(&huge, None, &GRAY_28).unwrap_err().to_string();
    assert!(
        err.contains("huge.idx") && err.contains("describe more than"),
        "{err}"
    );
    // A gzip bomb: a 1-image header followed by 64 MiB of zeros, a few KiB compressed. Only
    // the declared 784 bytes (and one more) are decompressed.
    let mut bomb = idx_bytes(3, &[1, 28, 28], &[0u8; 784]);
    bomb.extend(std::iter::repeat_n(0u8, 64 << 20));
    let packed = gzip(&bomb);
    assert!(packed.len() < 1 << 20);
    let path = write("bomb.idx.gz", &packed);
    let err = load_idx(&path, None, &GRAY_28).unwrap_err().to_string();
    assert!(err.contains("the file has more"), "{err}");
}

#[test]
fn embedded_mnist_subset_loads_with_all_ten_digits() {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets");
    let set = load_idx(
        &assets.join("mnist-2k-images-idx3-ubyte.gz"),
        Some(&assets.join("mnist-2k-labels-idx1-ubyte.gz")),
        &GRAY_28,
    )
    .unwrap();
    assert_eq!(set.len, 2000);
    let labels = set.labels.unwrap();
    for digit in 0..10 {
        assert!(labels.contains(&digit), "digit {digit}");
    }
    // MNIST is mostly background: its mean intensity is about 0.13 of white
    let mean = set.pixels.iter().sum::<f32>() / set.pixels.len() as f32;
    assert!((mean - (0.13 * 2.0 - 1.0)).abs() < 0.03, "{mean}");
}
