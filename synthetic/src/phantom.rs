//! Synthetic axial MRI slices for load tests and benchmarks: a bright scalp ring, a dark
//! cerebrospinal-fluid gap, brain tissue with smooth folds and fine grain, two dark ventricles and,
//! in most variants, a lesion. They cost the server what a real slice costs (same size, JPEG at
//! the dataset's quality) and pass the shipped model's not-an-MRI check (a test holds that), so
//! a load test without the dataset measures answers, not refusals. The browser tests draw the
//! same anatomy in `end2end/tests/images.ts`.

use image::{GrayImage, Luma};

use crate::rng::Rng;

/// One `size` x `size` slice; `variant` moves the folds, the grain and the lesion.
pub fn slice(variant: u32, size: u32) -> GrayImage {
    let mut rng = Rng::new(0x5EED ^ (u64::from(variant) + 1).wrapping_mul(0x1000_0001));
    let phases: Vec<f32> = (0..8)
        .map(|_| rng.uniform(0.0, std::f32::consts::TAU))
        .collect();
    let frequencies: Vec<f32> = (0..4).map(|_| rng.uniform(2.0, 6.0)).collect();
    let side = size as f32;
    let centre = side / 2.0;
    // A lesion in three variants of four, bright (enhancing) or dark (necrotic), off-centre.
    let lesion = (variant % 4 != 2).then(|| {
        (
            centre + rng.uniform(-0.15, 0.15) * side,
            centre + rng.uniform(-0.2, 0.2) * side,
            side * rng.uniform(0.04, 0.08),
            if variant.is_multiple_of(2) {
                190.0
            } else {
                55.0
            },
        )
    });
    let mut grain = Rng::new(u64::from(variant).wrapping_mul(0x9E37) ^ 0xA5A5);
    GrayImage::from_fn(size, size, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let (dx, dy) = ((fx - centre) / (side * 0.4), (fy - centre) / (side * 0.46));
        let r = (dx * dx + dy * dy).sqrt();
        let value = if r >= 1.0 {
            2.0
        } else if r > 0.9 {
            190.0 // scalp and skull
        } else if r > 0.86 {
            25.0 // cerebrospinal fluid
        } else {
            let (u, v) = (fx / side, fy / side);
            let folds: f32 = (0..4)
                .map(|i| {
                    (frequencies[i]
                        * std::f32::consts::TAU
                        * (u * phases[i].cos() + v * phases[i].sin())
                        + phases[(i + 3) % 8])
                        .sin()
                })
                .sum();
            let mut value = 105.0 + 15.0 * folds / 4.0;
            for offset in [-1.0, 1.0] {
                let ex = (fx - (centre + offset * side * 0.07)) / (side * 0.05);
                let ey = (fy - (centre - side * 0.02)) / (side * 0.13);
                if ex * ex + ey * ey < 1.0 {
                    value = 30.0; // a ventricle
                }
            }
            if let Some((lx, ly, radius, brightness)) = lesion {
                let d = ((fx - lx).powi(2) + (fy - ly).powi(2)).sqrt();
                if d < radius {
                    value = brightness - 20.0 * d / radius;
                }
            }
            value
        };
        let noisy = value + grain.uniform(-8.0, 8.0);
        Luma([noisy.clamp(0.0, 255.0) as u8])
    })
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
        assert!(
            decoded.get_pixel(256, 256 - 220)[0] > 150,
            "the skull at the top"
        );
        let mean = decoded.pixels().map(|p| f64::from(p[0])).sum::<f64>() / (512.0 * 512.0);
        assert!((40.0..140.0).contains(&mean), "{mean}");
    }
}
