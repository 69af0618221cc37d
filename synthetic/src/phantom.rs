//! Synthetic axial MRI slices for load tests, benchmarks and tests: a thin bright scalp, a dark
//! skull, marrow and a cerebrospinal-fluid line around brain tissue with winding sulci (dark lines
//! along the contours of a smooth random field, denser towards the cortex), white matter a little
//! brighter inside, a midline fissure, two dark ventricles and, in three variants of four, a
//! soft-edged lesion (ring-enhancing or solid). Blurred as a scanner's point spread blurs.
//!
//! They cost the server what a real slice costs (same size, JPEG at the dataset's quality) and look
//! enough like MRI to the shipped model that its not-an-MRI check lets them through and it reads
//! them as no tumour (a test in `ml/tests/phantom.rs` holds both), so a load test or an HTTP test
//! without the dataset measures answers, not refusals. Drawings that lack the sulci (smooth
//! sinusoidal folds, stripes) are refused by EfficientNet-Lite0's check: its features see texture.
//! The browser tests draw the same anatomy in `end2end/tests/images.ts`.

use image::{GrayImage, Luma};

use crate::rng::Rng;

/// Smooth random field: values on a `cells` x `cells` lattice, smooth-step interpolated, in [0, 1).
struct ValueNoise {
    cells: usize,
    values: Vec<f32>,
}

impl ValueNoise {
    fn new(rng: &mut Rng, cells: usize) -> Self {
        let values = (0..(cells + 1) * (cells + 1))
            .map(|_| rng.next_f32())
            .collect();
        Self { cells, values }
    }

    /// The field at `(u, v)` in the unit square.
    fn at(&self, u: f32, v: f32) -> f32 {
        let cells = self.cells;
        let x = u.clamp(0.0, 0.9999) * cells as f32;
        let y = v.clamp(0.0, 0.9999) * cells as f32;
        let (ix, iy) = (x as usize, y as usize);
        let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
        let (sx, sy) = (smooth(x - ix as f32), smooth(y - iy as f32));
        let lattice = |i: usize, j: usize| self.values[j * (cells + 1) + i];
        let top = lattice(ix, iy) * (1.0 - sx) + lattice(ix + 1, iy) * sx;
        let bottom = lattice(ix, iy + 1) * (1.0 - sx) + lattice(ix + 1, iy + 1) * sx;
        top * (1.0 - sy) + bottom * sy
    }
}

/// A lesion: centre, radius in pixels, and whether it enhances as a ring (else solid).
struct Lesion {
    x: f32,
    y: f32,
    radius: f32,
    ring: bool,
}

/// One `size` x `size` slice; `variant` moves the head's outline, the sulci, the tissue and the
/// lesion.
pub fn slice(variant: u32, size: u32) -> GrayImage {
    let mut rng = Rng::new(0x5EED ^ (u64::from(variant) + 1).wrapping_mul(0x1000_0001));
    let side = size as f32;
    let centre = side / 2.0;
    let folds = [
        ValueNoise::new(&mut rng, 7),
        ValueNoise::new(&mut rng, 13),
        ValueNoise::new(&mut rng, 23),
    ];
    let tissue = ValueNoise::new(&mut rng, 5);
    let outline = ValueNoise::new(&mut rng, 6);
    let (half_width, half_height) = (rng.uniform(0.36, 0.42), rng.uniform(0.43, 0.47));
    let lesion = (variant % 4 != 2).then(|| Lesion {
        x: centre + rng.uniform(-0.15, 0.15) * side,
        y: centre + rng.uniform(-0.2, 0.2) * side,
        radius: side * rng.uniform(0.04, 0.08),
        ring: variant.is_multiple_of(2),
    });
    let mut grain = Rng::new(u64::from(variant).wrapping_mul(0x9E37) ^ 0xA5A5);
    let sharp = GrayImage::from_fn(size, size, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let (u, v) = (fx / side, fy / side);
        let (dx, dy) = (
            (fx - centre) / (side * half_width),
            (fy - centre) / (side * half_height),
        );
        let r = (dx * dx + dy * dy).sqrt() * (1.0 + 0.04 * (outline.at(u, v) - 0.5));
        let value = if r >= 1.0 {
            3.0
        } else if r > 0.965 {
            175.0 // scalp fat
        } else if r > 0.93 {
            22.0 // skull
        } else if r > 0.915 {
            120.0 // marrow and dura
        } else if r > 0.9 {
            30.0 // cerebrospinal fluid
        } else {
            brain(fx, fy, r, &folds, &tissue, lesion.as_ref(), side)
        };
        let noisy = value + grain.uniform(-3.0, 3.0);
        Luma([noisy.clamp(0.0, 255.0) as u8])
    });
    image::imageops::blur(&sharp, 1.5 * side / 512.0)
}

/// Grey level of the brain at pixel `(fx, fy)`, `r` its elliptical radius (0 centre, 0.9 edge).
fn brain(
    fx: f32,
    fy: f32,
    r: f32,
    folds: &[ValueNoise; 3],
    tissue: &ValueNoise,
    lesion: Option<&Lesion>,
    side: f32,
) -> f32 {
    let centre = side / 2.0;
    let (u, v) = (fx / side, fy / side);
    let field = 0.5 * folds[0].at(u, v) + 0.3 * folds[1].at(u, v) + 0.2 * folds[2].at(u, v);
    // Grey matter towards the cortex, where the sulci are wider and darker.
    let cortex = ((r - 0.55) / 0.35).clamp(0.0, 1.0);
    let mut value = 95.0 + 25.0 * (tissue.at(u, v) - 0.5) + 12.0 * (1.0 - cortex);
    let contour = ((field * 9.0).fract() - 0.5).abs();
    if contour < 0.06 + 0.03 * cortex {
        value -= 45.0 * (0.4 + 0.6 * cortex);
    }
    if (fx - centre).abs() < side * 0.006 && (fy - centre).abs() > side * 0.12 {
        value = 35.0; // the fissure between the hemispheres
    }
    for offset in [-1.0, 1.0] {
        let ex = (fx - (centre + offset * side * 0.06)) / (side * 0.04);
        let ey = (fy - (centre - side * 0.02)) / (side * 0.12);
        if ex * ex + ey * ey < 1.0 {
            value = 28.0; // a ventricle
        }
    }
    if let Some(lesion) = lesion {
        let angle = (fy - lesion.y).atan2(fx - lesion.x);
        // An irregular edge: the radius follows the tissue field around the centre.
        let wobble =
            1.0 + 0.25 * (tissue.at(0.5 + 0.3 * angle.cos(), 0.5 + 0.3 * angle.sin()) - 0.5);
        let d = (fx - lesion.x).hypot(fy - lesion.y) / (lesion.radius * wobble);
        let core = match (lesion.ring, d > 0.65) {
            (true, true) => 165.0,
            (true, false) => 70.0, // necrotic centre
            (false, _) => 135.0 - 15.0 * d,
        };
        let blend = ((1.15 - d) / 0.3).clamp(0.0, 1.0);
        value = value * (1.0 - blend) + core * blend;
    }
    value
}

/// [`slice`] as a baseline JPEG at quality 90, about what the dataset's files use.
pub fn slice_jpeg(variant: u32, size: u32) -> Result<Vec<u8>, image::ImageError> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(&slice(variant, size))?;
    Ok(bytes)
}

/// A PNG whose valid header claims `width` x `height` RGBA pixels and whose data is empty: the
/// decompression bomb's shape, for tests that the claim alone gets an image refused.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut header = b"IHDR".to_vec();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d".to_vec();
    png.extend_from_slice(&header);
    png.extend_from_slice(&crc32(&header).to_be_bytes());
    for empty in [b"IDAT", b"IEND"] {
        png.extend_from_slice(&0u32.to_be_bytes());
        png.extend_from_slice(empty);
        png.extend_from_slice(&crc32(empty).to_be_bytes());
    }
    png
}

/// PNG's chunk checksum (CRC-32, polynomial 0xEDB88320), so a forged header is otherwise valid.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn slices_are_mri_like_deterministic_and_differ_by_variant() {
        let a = super::slice_jpeg(1, 512).unwrap();
        assert_ne!(a, super::slice_jpeg(2, 512).unwrap());
        assert_eq!(super::slice_jpeg(1, 512).unwrap(), a);
        let decoded = image::load_from_memory(&a).unwrap().to_luma8();
        assert_eq!(decoded.dimensions(), (512, 512));
        // Black corners, a bright skull ring, mid-grey brain: an MRI's histogram, not noise's.
        assert!(decoded.get_pixel(5, 5)[0] < 20);
        let top_column: Vec<u8> = (0..128).map(|y| decoded.get_pixel(256, y)[0]).collect();
        assert!(
            top_column.iter().any(|&v| v > 130),
            "a bright scalp at the top: {top_column:?}"
        );
        let mean = decoded.pixels().map(|p| f64::from(p[0])).sum::<f64>() / (512.0 * 512.0);
        assert!((40.0..140.0).contains(&mean), "{mean}");
    }
}
