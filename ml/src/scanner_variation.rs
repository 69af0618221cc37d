//! Validation slices altered the way another scanner, PACS or export tool alters the same
//! anatomy: re-compressed as JPEG (quality 60-95) or saved as 16-bit PNG, a gamma of 0.7-1.4, a
//! contrast of x0.8-1.2 (a window that is wider or narrower), sometimes a slight blur, resized to a side of
//! 256-1,024 pixels. The not-an-MRI check must let these through as it lets the originals
//! through ([`crate::trust::Trust::fit`] sets its threshold on both); a check fitted on one
//! archive's exports alone refused real slices from other sources.
//!
//! Each altered slice goes through the same decoding and preprocessing as an upload.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::{self, FilterType};
use image::{GrayImage, ImageBuffer, Luma};
use rayon::prelude::*;

use crate::dataset::{ImageCache, LabeledImage};
use crate::preprocess::{self, PreprocessConfig};
use crate::rng::Rng;
use crate::{MlError, MlResult};

/// One slice's changes, drawn by [`Alteration::random`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alteration {
    pub gamma: f32,
    pub contrast: f32,
    /// Gaussian blur sigma in pixels of the original; 0 for none.
    pub blur_sigma: f32,
    /// Longer side after resizing.
    pub side: u32,
    pub encoding: Encoding,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoding {
    Jpeg { quality: u8 },
    Png16,
}

impl Alteration {
    pub fn random(rng: &mut Rng) -> Self {
        let gamma = rng.uniform(0.7, 1.4);
        let contrast = rng.uniform(0.8, 1.2);
        let blur_sigma = if rng.next_f32() < 0.5 {
            rng.uniform(0.3, 1.0)
        } else {
            0.0
        };
        let side = rng.uniform(256.0, 1024.0).round() as u32;
        let encoding = if rng.next_f32() < 0.5 {
            Encoding::Jpeg {
                quality: rng.uniform(60.0, 95.0).round() as u8,
            }
        } else {
            Encoding::Png16
        };
        Self {
            gamma,
            contrast,
            blur_sigma,
            side,
            encoding,
        }
    }

    /// The slice as the other source would deliver it: an encoded file.
    pub fn apply(&self, slice: &GrayImage) -> MlResult<Vec<u8>> {
        // A window that is wider or narrower: the levels scale, and air stays black.
        let levels = |value: u8| -> f32 {
            ((f32::from(value) / 255.0).powf(self.gamma) * 255.0 * self.contrast).clamp(0.0, 255.0)
        };
        let mut altered: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_fn(slice.width(), slice.height(), |x, y| {
                Luma([(levels(slice.get_pixel(x, y).0[0]) * 257.0).round() as u16])
            });
        if self.blur_sigma > 0.0 {
            altered = imageops::blur(&altered, self.blur_sigma);
        }
        let (width, height) = altered.dimensions();
        let scale = self.side as f32 / width.max(height) as f32;
        let (new_width, new_height) = (
            ((width as f32 * scale).round() as u32).max(1),
            ((height as f32 * scale).round() as u32).max(1),
        );
        let resized = imageops::resize(&altered, new_width, new_height, FilterType::Triangle);
        let mut bytes = Vec::new();
        let encoded = match self.encoding {
            Encoding::Jpeg { quality } => {
                let eight_bit = GrayImage::from_fn(new_width, new_height, |x, y| {
                    Luma([(resized.get_pixel(x, y).0[0] / 257) as u8])
                });
                JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(&eight_bit)
            }
            Encoding::Png16 => image::DynamicImage::ImageLuma16(resized)
                .write_with_encoder(PngEncoder::new(Cursor::new(&mut bytes))),
        };
        encoded.map_err(|e| MlError::Decode(format!("encoding an altered slice: {e}")))?;
        Ok(bytes)
    }
}

/// Every image of `items` altered once (seeded, one random [`Alteration`] each), decoded and
/// preprocessed as an upload would be. Images that fail to load are left out.
pub fn altered_cache(items: &[LabeledImage], config: &PreprocessConfig, seed: u64) -> ImageCache {
    let mut rng = Rng::new(seed);
    let alterations: Vec<Alteration> = items.iter().map(|_| Alteration::random(&mut rng)).collect();
    let prepared: Vec<Option<Vec<u8>>> = items
        .par_iter()
        .zip(&alterations)
        .map(|(item, alteration)| {
            let original = preprocess::load(&item.path).ok()?;
            let bytes = alteration.apply(&original).ok()?;
            let decoded = preprocess::decode(&bytes).ok()?;
            Some(preprocess::prepare(&decoded, config))
        })
        .collect();
    let mut cache = ImageCache {
        size: config.input_size,
        ..Default::default()
    };
    for (item, pixels) in items.iter().zip(prepared) {
        if let Some(pixels) = pixels {
            cache.push(&pixels, item.label);
        }
    }
    cache
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phantom() -> GrayImage {
        GrayImage::from_fn(200, 160, |x, y| {
            let (dx, dy) = (x as f32 - 100.0, y as f32 - 80.0);
            if dx * dx / 70.0f32.powi(2) + dy * dy / 60.0f32.powi(2) < 1.0 {
                Luma([(90.0 + 60.0 * ((x / 10 + y / 10) % 2) as f32) as u8])
            } else {
                Luma([0])
            }
        })
    }

    #[test]
    fn altered_slices_decode_at_their_new_size_and_keep_the_black_background() {
        let mut rng = Rng::new(5);
        let mut saw = (false, false);
        for _ in 0..12 {
            let alteration = Alteration::random(&mut rng);
            assert!((0.7..=1.4).contains(&alteration.gamma));
            assert!((256..=1024).contains(&alteration.side));
            let bytes = alteration.apply(&phantom()).expect("encodes");
            let decoded = preprocess::decode(&bytes).expect("decodes as an upload");
            assert_eq!(decoded.width(), alteration.side, "{alteration:?}");
            assert!(decoded.get_pixel(0, 0).0[0] < 12, "{alteration:?}");
            let centre = decoded
                .get_pixel(decoded.width() / 2, decoded.height() / 2)
                .0[0];
            assert!(centre > 40, "{alteration:?}: centre {centre}");
            match alteration.encoding {
                Encoding::Jpeg { quality } => {
                    assert!((60..=95).contains(&quality));
                    assert!(bytes.starts_with(&[0xFF, 0xD8]));
                    saw.0 = true;
                }
                Encoding::Png16 => {
                    // Bit depth 16 in the IHDR chunk.
                    assert_eq!(bytes[24], 16);
                    saw.1 = true;
                }
            }
        }
        assert!(saw.0 && saw.1, "both encodings drawn");
    }
}
