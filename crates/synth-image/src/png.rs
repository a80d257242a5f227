//! Generated images to PNG files: values in [-1, 1] to 8-bit pixels, single images and a
//! square grid of many, written atomically.

use crate::{ImageModelError, Result};
use image::{ExtendedColorType, ImageEncoder, codecs::png::PngEncoder};
use std::path::Path;
use synth_core::fsutil::write_atomic;

/// Pixels of padding between and around the tiles of a grid (black).
const GRID_PADDING: usize = 2;

/// The shape of the images in a flat `n x channels x size x size` buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// 1 (grayscale) or 3 (RGB).
    pub channels: usize,
    /// Width and height in pixels.
    pub size: usize,
}

impl ImageShape {
    /// Values per image.
    pub fn values(&self) -> usize {
        self.channels * self.size * self.size
    }
}

/// A value in [-1, 1] as an 8-bit intensity (values outside are clamped).
pub fn to_byte(value: f32) -> u8 {
    ((value.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Encodes interleaved 8-bit pixels (`width x height x channels`) as a PNG.
fn encode(bytes: &[u8], width: usize, height: usize, channels: usize) -> Vec<u8> {
    let color = if channels == 1 {
        ExtendedColorType::L8
    } else {
        ExtendedColorType::Rgb8
    };
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(bytes, width as u32, height as u32, color)
        .expect("the buffer matches the dimensions, and writing to memory cannot fail");
    png
}

/// One image (channel-major, as the networks produce it) as a PNG.
pub fn image_png(image: &[f32], shape: ImageShape) -> Vec<u8> {
    let plane = shape.size * shape.size;
    let bytes: Vec<u8> = (0..plane * shape.channels)
        .map(|i| to_byte(image[(i % shape.channels) * plane + i / shape.channels]))
        .collect();
    encode(&bytes, shape.size, shape.size, shape.channels)
}

/// The images of `images` tiled row by row into a square-ish grid, as a PNG.
pub fn grid_png(images: &[f32], shape: ImageShape) -> Vec<u8> {
    let n = images.len() / shape.values();
    let columns = (n as f64).sqrt().ceil().max(1.0) as usize;
    let rows = n.div_ceil(columns).max(1);
    let step = shape.size + GRID_PADDING;
    let (width, height) = (columns * step + GRID_PADDING, rows * step + GRID_PADDING);
    let c = shape.channels;
    let plane = shape.size * shape.size;
    let mut bytes = vec![0u8; width * height * c];
    for (k, image) in images.chunks_exact(shape.values()).enumerate() {
        let (top, left) = (
            GRID_PADDING + (k / columns) * step,
            GRID_PADDING + (k % columns) * step,
        );
        for y in 0..shape.size {
            for x in 0..shape.size {
                for ch in 0..c {
                    bytes[((top + y) * width + left + x) * c + ch] =
                        to_byte(image[ch * plane + y * shape.size + x]);
                }
            }
        }
    }
    encode(&bytes, width, height, c)
}

/// Writes `png` to `path` atomically.
pub fn write_png(path: &Path, png: &[u8]) -> Result<()> {
    write_atomic(path, png).map_err(|source| ImageModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> image::DynamicImage {
        image::load_from_memory_with_format(png, image::ImageFormat::Png).unwrap()
    }

    #[test]
    fn values_map_to_bytes_at_both_ends_and_the_middle() {
        assert_eq!(to_byte(-1.0), 0);
        assert_eq!(to_byte(1.0), 255);
        assert_eq!(to_byte(0.0), 128);
        assert_eq!(to_byte(-7.0), 0);
        assert_eq!(to_byte(7.0), 255);
    }

    #[test]
    fn an_rgb_image_keeps_its_pixels_and_channel_order() {
        let shape = ImageShape {
            channels: 3,
            size: 2,
        };
        // channel-major: red plane, green plane, blue plane
        let image = [
            1.0, -1.0, -1.0, 1.0, // red
            -1.0, 1.0, -1.0, 0.0, // green
            -1.0, -1.0, 1.0, -1.0, // blue
        ];
        let decoded = decode(&image_png(&image, shape)).to_rgb8();
        assert_eq!(decoded.dimensions(), (2, 2));
        assert_eq!(decoded.get_pixel(0, 0).0, [255, 0, 0]);
        assert_eq!(decoded.get_pixel(1, 0).0, [0, 255, 0]);
        assert_eq!(decoded.get_pixel(0, 1).0, [0, 0, 255]);
        assert_eq!(decoded.get_pixel(1, 1).0, [255, 128, 0]);
    }

    #[test]
    fn a_grid_tiles_images_with_padding() {
        let shape = ImageShape {
            channels: 1,
            size: 3,
        };
        // five images, each a constant grey level: a 3 x 2 grid
        let levels = [-1.0f32, -0.5, 0.0, 0.5, 1.0];
        let images: Vec<f32> = levels.iter().flat_map(|&v| [v; 9]).collect();
        let grid = decode(&grid_png(&images, shape)).to_luma8();
        let step = 3 + GRID_PADDING;
        assert_eq!(
            grid.dimensions(),
            (
                (3 * step + GRID_PADDING) as u32,
                (2 * step + GRID_PADDING) as u32
            )
        );
        for (k, &v) in levels.iter().enumerate() {
            let (x, y) = (GRID_PADDING + (k % 3) * step, GRID_PADDING + (k / 3) * step);
            assert_eq!(
                grid.get_pixel(x as u32 + 2, y as u32 + 1).0,
                [to_byte(v)],
                "{k}"
            );
        }
        assert_eq!(grid.get_pixel(0, 0).0, [0], "padding is black");
    }
}
