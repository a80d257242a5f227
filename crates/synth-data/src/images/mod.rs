//! Image sets for the image models: a folder of PNG/JPEG files (searched recursively; images
//! inside first-level subfolders take the subfolder's name as their class) or MNIST-style IDX
//! files (plain or gzip). Every image is resized to cover the configured square size,
//! centre-cropped, converted to the configured channels and scaled to [-1, 1].

use crate::{DataError, Result};
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What to do with an image file that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnCorrupt {
    /// Stop with an error naming the file (the default: nothing is silently lost).
    #[default]
    Fail,
    /// Log a warning naming the file and leave it out.
    Skip,
}

/// How to load and shape images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageSpec {
    /// Width and height in pixels after resizing and cropping.
    pub size: u32,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: u32,
    /// Handling of undecodable files in folders.
    pub on_corrupt: OnCorrupt,
}

impl ImageSpec {
    fn check(&self) -> Result<()> {
        if self.size == 0 || !matches!(self.channels, 1 | 3) {
            return Err(DataError::InvalidImageSpec {
                size: self.size,
                channels: self.channels,
            });
        }
        Ok(())
    }
}

/// Images as one `n x channels x size x size` array of values in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// Pixel values, image after image, channel-major within an image.
    pub pixels: Vec<f32>,
    /// Number of images.
    pub len: usize,
    /// Width and height.
    pub size: u32,
    /// Channels per pixel.
    pub channels: u32,
    /// Class index per image (folders with class subfolders, IDX with a labels file).
    pub labels: Option<Vec<u32>>,
    /// Class names (subfolder names, or the digits of an IDX label file).
    pub classes: Vec<String>,
}

impl ImageSet {
    fn new(spec: &ImageSpec) -> Self {
        ImageSet {
            pixels: Vec::new(),
            len: 0,
            size: spec.size,
            channels: spec.channels,
            labels: None,
            classes: Vec::new(),
        }
    }

    /// Resizes to cover `size x size`, centre-crops, converts the channels and appends.
    fn push(&mut self, image: &DynamicImage) {
        let fitted = image.resize_to_fill(self.size, self.size, FilterType::Triangle);
        let bytes = if self.channels == 1 {
            fitted.to_luma8().into_raw()
        } else {
            fitted.to_rgb8().into_raw()
        };
        let c = self.channels as usize;
        let plane = (self.size * self.size) as usize;
        self.pixels.reserve(plane * c);
        for channel in 0..c {
            self.pixels
                .extend((0..plane).map(|p| f32::from(bytes[p * c + channel]) / 127.5 - 1.0));
        }
        self.len += 1;
    }
}

/// Loads every PNG/JPEG under `folder`, in sorted path order.
pub fn load_image_folder(folder: &Path, spec: &ImageSpec) -> Result<ImageSet> {
    spec.check()?;
    if !folder.is_dir() {
        return Err(DataError::NotFound {
            path: folder.to_path_buf(),
        });
    }
    let mut files = Vec::new();
    collect_images(folder, &mut files)?;
    files.sort();
    let class_of = |path: &Path| -> Option<String> {
        let relative = path.strip_prefix(folder).ok()?;
        let mut parts = relative.components();
        let first = parts.next()?;
        parts
            .next()
            .map(|_| first.as_os_str().to_string_lossy().into_owned())
    };
    // images directly in `folder` next to class subfolders form the class "."
    let class_name = |path: &Path| class_of(path).unwrap_or_else(|| ".".into());
    let mut classes: Vec<String> = files.iter().map(|f| class_name(f)).collect();
    classes.sort();
    classes.dedup();
    let mut set = ImageSet::new(spec);
    let mut labels = Vec::new();
    for path in &files {
        let image = match image::open(path) {
            Ok(image) => image,
            Err(e) => match spec.on_corrupt {
                OnCorrupt::Fail => {
                    return Err(DataError::CorruptImage {
                        path: path.clone(),
                        message: e.to_string(),
                    });
                }
                OnCorrupt::Skip => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping unreadable image");
                    continue;
                }
            },
        };
        set.push(&image);
        let class = classes.binary_search(&class_name(path)).unwrap_or_default();
        labels.push(class as u32);
    }
    if set.len == 0 {
        return Err(DataError::NoImages {
            path: folder.to_path_buf(),
        });
    }
    if classes != ["."] {
        set.labels = Some(labels);
        set.classes = classes;
    }
    Ok(set)
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect_images(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads an IDX image file (`magic 0x00000803`, u8 pixels, n x rows x cols), plain or gzip,
/// with an optional IDX label file (`0x00000801`) of the same length.
pub fn load_idx(images: &Path, labels: Option<&Path>, spec: &ImageSpec) -> Result<ImageSet> {
    spec.check()?;
    let (dims, bytes) = read_idx(images, 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    let mut set = ImageSet::new(spec);
    for i in 0..n {
        let start = i * rows * cols;
        let raw = bytes[start..start + rows * cols].to_vec();
        let gray = GrayImage::from_raw(cols as u32, rows as u32, raw)
            .expect("buffer length checked by read_idx");
        set.push(&DynamicImage::ImageLuma8(gray));
    }
    if let Some(path) = labels {
        let (label_dims, values) = read_idx(path, 1)?;
        if label_dims[0] != n {
            return Err(DataError::Idx {
                path: path.to_path_buf(),
                message: format!("{} labels for {n} images", label_dims[0]),
            });
        }
        let classes = values.iter().copied().max().map_or(0, |m| m as usize + 1);
        set.classes = (0..classes).map(|c| c.to_string()).collect();
        set.labels = Some(values.into_iter().map(u32::from).collect());
    }
    Ok(set)
}

/// The most data an IDX file may declare: 4 GiB, far beyond any image set synth trains on.
const MAX_IDX_BYTES: usize = 1 << 32;

/// Reads an IDX file of unsigned bytes with `rank` dimensions: its dimensions and data.
fn read_idx(path: &Path, rank: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    let invalid = |message: String| DataError::Idx {
        path: path.to_path_buf(),
        message,
    };
    let raw = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let too_short = |len: usize| invalid(format!("only {len} bytes, shorter than its header"));
    let damaged = |e: std::io::Error| invalid(format!("gzip stream is damaged ({e})"));
    // Decompress only as much as the header declares (plus one byte to notice more), so a
    // small file cannot expand into memory without bound.
    let mut reader: Box<dyn Read + '_> = if raw.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(raw.as_slice()))
    } else {
        Box::new(raw.as_slice())
    };
    let header_len = 4 + 4 * rank;
    let mut header = Vec::with_capacity(header_len);
    reader
        .by_ref()
        .take(header_len as u64)
        .read_to_end(&mut header)
        .map_err(damaged)?;
    if header.len() < 4 {
        return Err(too_short(header.len()));
    }
    if header[0] != 0 || header[1] != 0 || header[2] != 0x08 || usize::from(header[3]) != rank {
        return Err(invalid(format!(
            "expected unsigned-byte data of rank {rank} (magic 00 00 08 0{rank}), found {:02x} {:02x} {:02x} {:02x}",
            header[0], header[1], header[2], header[3]
        )));
    }
    if header.len() < header_len {
        return Err(too_short(header.len()));
    }
    let dims: Vec<usize> = header[4..]
        .chunks_exact(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |total, &d| total.checked_mul(d))
        .filter(|&total| total <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            invalid(format!(
                "dimensions {dims:?} describe more than {MAX_IDX_BYTES} bytes; not a data set synth can load"
            ))
        })?;
    let mut data = Vec::new();
    reader
        .take(expected as u64 + 1)
        .read_to_end(&mut data)
        .map_err(damaged)?;
    if data.len() != expected || dims.contains(&0) {
        let found = if data.len() > expected {
            "more".to_string()
        } else {
            data.len().to_string()
        };
        return Err(invalid(format!(
            "dimensions {dims:?} need {expected} bytes of data, the file has {found} (truncated or not an IDX file?)"
        )));
    }
    Ok((dims, data))
}

#[cfg(test)]
mod tests;
