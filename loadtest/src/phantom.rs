//! Synthetic axial MRI slices: a skull ring, cerebrospinal fluid, grey and white matter with
//! low-frequency texture, two ventricles, sometimes a lesion, and scanner noise. Realistic enough to
//! cost the server what a real slice costs (same size, same JPEG entropy), without the dataset.

use image::{GrayImage, Luma};

/// A deterministic pseudo-random stream (xorshift64*), so every run sends the same images.
struct Noise(u64);

impl Noise {
    fn next_unit(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// One `size` x `size` slice as JPEG bytes; `variant` moves the anatomy, the texture and the lesion.
pub fn slice_jpeg(variant: u32, size: u32) -> Vec<u8> {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15 ^ ((u64::from(variant) + 1) * 0x1000_0001));
    let centre = size as f32 / 2.0;
    let (head_a, head_b) = (
        size as f32 * (0.36 + 0.03 * noise.next_unit()),
        size as f32 * 0.44,
    );
    let phase = noise.next_unit() * std::f32::consts::TAU;
    let lesion = (variant % 4 != 2).then(|| {
        (
            centre + (noise.next_unit() - 0.5) * head_a,
            centre + (noise.next_unit() - 0.5) * head_b,
            size as f32 * (0.04 + 0.06 * noise.next_unit()),
            if variant.is_multiple_of(2) {
                235.0
            } else {
                70.0
            },
        )
    });
    let image = GrayImage::from_fn(size, size, |x, y| {
        let (dx, dy) = (x as f32 - centre, y as f32 - centre);
        let r = (dx / head_a).powi(2) + (dy / head_b).powi(2);
        let mut value: f32 = if r > 1.0 {
            4.0
        } else if r > 0.86 {
            215.0 // skull and scalp
        } else if r > 0.80 {
            35.0 // cerebrospinal fluid
        } else {
            let texture = 14.0 * ((x as f32 * 0.045 + phase).sin() * (y as f32 * 0.06).cos())
                + 8.0 * ((x as f32 + y as f32) * 0.13).sin();
            let white = if r < 0.45 { 35.0 } else { 0.0 };
            let ventricle = ((dx.abs() - size as f32 * 0.06) / (size as f32 * 0.035)).powi(2)
                + (dy / (size as f32 * 0.11)).powi(2)
                < 1.0;
            if ventricle {
                45.0
            } else {
                115.0 + white + texture
            }
        };
        if let Some((lx, ly, radius, brightness)) = lesion {
            let d = ((x as f32 - lx).powi(2) + (y as f32 - ly).powi(2)).sqrt();
            if d < radius && r < 0.8 {
                value = brightness - 20.0 * d / radius;
            }
        }
        value += (noise.next_unit() - 0.5) * 18.0;
        Luma([value.clamp(0.0, 255.0) as u8])
    });
    let mut bytes = Vec::new();
    // The dataset's files are baseline JPEGs at about this quality.
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90);
    encoder
        .encode_image(&image)
        .expect("encoding an in-memory image cannot fail");
    bytes
}

#[cfg(test)]
mod tests {
    #[test]
    fn slices_decode_to_the_asked_size_and_differ_by_variant() {
        let a = super::slice_jpeg(1, 512);
        let b = super::slice_jpeg(2, 512);
        assert_ne!(a, b);
        let decoded = image::load_from_memory(&a).unwrap().to_luma8();
        assert_eq!(decoded.dimensions(), (512, 512));
        // Black corners, a bright skull ring, mid-grey brain: an MRI-like histogram, not noise.
        assert!(decoded.get_pixel(5, 5)[0] < 20);
        let mean = decoded.pixels().map(|p| p[0] as f64).sum::<f64>() / (512.0 * 512.0);
        assert!((40.0..140.0).contains(&mean), "{mean}");
        assert_eq!(super::slice_jpeg(1, 512), a, "deterministic");
    }
}
