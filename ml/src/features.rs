//! Hand-made image features, as the original service extracted them for its insight charts:
//! intensity statistics, histogram shape, Sobel gradients, grey-level co-occurrence texture, size and
//! the share of the frame the head fills. Pure functions of a grayscale image.

use image::imageops::FilterType;
use image::GrayImage;
use serde::{Deserialize, Serialize};

/// Gradient and texture are computed on the image scaled to fit this square, so they describe the
/// anatomy rather than the scanner's resolution (and stay fast on large files).
pub const ANALYSIS_SIDE: u32 = 256;
/// Grey levels of the co-occurrence matrix (pixels are quantised to this many bins).
pub const GLCM_LEVELS: usize = 16;
/// Pixels brighter than this (0-255) count as head, as in preprocessing's crop.
pub const BRAIN_THRESHOLD: u8 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImageFeatures {
    pub width: u32,
    pub height: u32,
    pub aspect_ratio: f64,
    pub mean_intensity: f64,
    pub std_intensity: f64,
    pub variance_intensity: f64,
    pub median_intensity: f64,
    pub min_intensity: f64,
    pub max_intensity: f64,
    pub skewness: f64,
    /// Shannon entropy of the 256-bin histogram, in bits (0 to 8).
    pub entropy: f64,
    pub p10_intensity: f64,
    pub p90_intensity: f64,
    /// Share of pixels in the darkest and brightest eighth of the range.
    pub dark_fraction: f64,
    pub bright_fraction: f64,
    pub gradient_mean: f64,
    pub gradient_std: f64,
    pub glcm_contrast: f64,
    pub glcm_homogeneity: f64,
    pub glcm_energy: f64,
    pub glcm_correlation: f64,
    /// Share of pixels brighter than [`BRAIN_THRESHOLD`].
    pub brain_area_fraction: f64,
}

/// The CSV header, in [`ImageFeatures::csv_values`] order.
pub const CSV_COLUMNS: [&str; 22] = [
    "width",
    "height",
    "aspect_ratio",
    "mean_intensity",
    "std_intensity",
    "variance_intensity",
    "median_intensity",
    "min_intensity",
    "max_intensity",
    "skewness",
    "entropy",
    "p10_intensity",
    "p90_intensity",
    "dark_fraction",
    "bright_fraction",
    "gradient_mean",
    "gradient_std",
    "glcm_contrast",
    "glcm_homogeneity",
    "glcm_energy",
    "glcm_correlation",
    "brain_area_fraction",
];

impl ImageFeatures {
    pub fn csv_values(&self) -> [f64; 22] {
        [
            f64::from(self.width),
            f64::from(self.height),
            self.aspect_ratio,
            self.mean_intensity,
            self.std_intensity,
            self.variance_intensity,
            self.median_intensity,
            self.min_intensity,
            self.max_intensity,
            self.skewness,
            self.entropy,
            self.p10_intensity,
            self.p90_intensity,
            self.dark_fraction,
            self.bright_fraction,
            self.gradient_mean,
            self.gradient_std,
            self.glcm_contrast,
            self.glcm_homogeneity,
            self.glcm_energy,
            self.glcm_correlation,
            self.brain_area_fraction,
        ]
    }
}

pub fn extract(image: &GrayImage) -> ImageFeatures {
    let (width, height) = image.dimensions();
    let pixels = image.as_raw();
    let n = pixels.len().max(1) as f64;
    let mut histogram = [0u64; 256];
    for &p in pixels {
        histogram[p as usize] += 1;
    }
    let mean = pixels.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
    let variance = pixels
        .iter()
        .map(|&p| (f64::from(p) - mean).powi(2))
        .sum::<f64>()
        / n;
    let std = variance.sqrt();
    let skewness = if std > 0.0 {
        pixels
            .iter()
            .map(|&p| ((f64::from(p) - mean) / std).powi(3))
            .sum::<f64>()
            / n
    } else {
        0.0
    };
    let entropy = -histogram
        .iter()
        .filter(|&&count| count > 0)
        .map(|&count| {
            let p = count as f64 / n;
            p * p.log2()
        })
        .sum::<f64>();
    let share = |range: std::ops::Range<usize>| histogram[range].iter().sum::<u64>() as f64 / n;
    let brain = share(BRAIN_THRESHOLD as usize + 1..256);

    let analysed = scaled_to_fit(image, ANALYSIS_SIDE);
    let (gradient_mean, gradient_std) = sobel_statistics(&analysed);
    let texture = glcm_texture(&analysed);
    ImageFeatures {
        width,
        height,
        aspect_ratio: f64::from(width) / f64::from(height.max(1)),
        mean_intensity: mean,
        std_intensity: std,
        variance_intensity: variance,
        median_intensity: percentile(&histogram, 0.5),
        min_intensity: histogram.iter().position(|&c| c > 0).unwrap_or(0) as f64,
        max_intensity: histogram.iter().rposition(|&c| c > 0).unwrap_or(0) as f64,
        skewness,
        entropy: entropy.max(0.0),
        p10_intensity: percentile(&histogram, 0.1),
        p90_intensity: percentile(&histogram, 0.9),
        dark_fraction: share(0..32),
        bright_fraction: share(224..256),
        gradient_mean,
        gradient_std,
        glcm_contrast: texture.contrast,
        glcm_homogeneity: texture.homogeneity,
        glcm_energy: texture.energy,
        glcm_correlation: texture.correlation,
        brain_area_fraction: brain,
    }
}

/// The smallest grey value with at least `fraction` of the pixels at or below it.
fn percentile(histogram: &[u64; 256], fraction: f64) -> f64 {
    let total: u64 = histogram.iter().sum();
    let target = (total as f64 * fraction).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (value, &count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= target {
            return value as f64;
        }
    }
    255.0
}

fn scaled_to_fit(image: &GrayImage, side: u32) -> GrayImage {
    let (width, height) = image.dimensions();
    if width <= side && height <= side {
        return image.clone();
    }
    let scale = f64::from(side) / f64::from(width.max(height));
    let (w, h) = (
        ((f64::from(width) * scale).round() as u32).max(1),
        ((f64::from(height) * scale).round() as u32).max(1),
    );
    image::imageops::resize(image, w, h, FilterType::Triangle)
}

/// Mean and standard deviation of the Sobel gradient magnitude over interior pixels.
fn sobel_statistics(image: &GrayImage) -> (f64, f64) {
    let (width, height) = image.dimensions();
    if width < 3 || height < 3 {
        return (0.0, 0.0);
    }
    let at = |x: u32, y: u32| f64::from(image.get_pixel(x, y).0[0]);
    let mut magnitudes = Vec::with_capacity(((width - 2) * (height - 2)) as usize);
    for y in 1..height - 1 {
        for x in 1..width - 1 {
            let gx = at(x + 1, y - 1) + 2.0 * at(x + 1, y) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x - 1, y)
                - at(x - 1, y + 1);
            let gy = at(x - 1, y + 1) + 2.0 * at(x, y + 1) + at(x + 1, y + 1)
                - at(x - 1, y - 1)
                - 2.0 * at(x, y - 1)
                - at(x + 1, y - 1);
            magnitudes.push((gx * gx + gy * gy).sqrt());
        }
    }
    let n = magnitudes.len() as f64;
    let mean = magnitudes.iter().sum::<f64>() / n;
    let variance = magnitudes.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

struct Texture {
    contrast: f64,
    homogeneity: f64,
    energy: f64,
    correlation: f64,
}

/// Haralick texture from a symmetric, normalised co-occurrence matrix of horizontally and vertically
/// adjacent pixels, quantised to [`GLCM_LEVELS`] grey levels.
fn glcm_texture(image: &GrayImage) -> Texture {
    let (width, height) = image.dimensions();
    let level = |x: u32, y: u32| image.get_pixel(x, y).0[0] as usize * GLCM_LEVELS / 256;
    let mut matrix = vec![0.0f64; GLCM_LEVELS * GLCM_LEVELS];
    let mut add = |a: usize, b: usize| {
        matrix[a * GLCM_LEVELS + b] += 1.0;
        matrix[b * GLCM_LEVELS + a] += 1.0;
    };
    for y in 0..height {
        for x in 0..width {
            if x + 1 < width {
                add(level(x, y), level(x + 1, y));
            }
            if y + 1 < height {
                add(level(x, y), level(x, y + 1));
            }
        }
    }
    let total: f64 = matrix.iter().sum();
    if total == 0.0 {
        return Texture {
            contrast: 0.0,
            homogeneity: 1.0,
            energy: 1.0,
            correlation: 1.0,
        };
    }
    let p = |i: usize, j: usize| matrix[i * GLCM_LEVELS + j] / total;
    let mut mean = 0.0;
    for i in 0..GLCM_LEVELS {
        for j in 0..GLCM_LEVELS {
            mean += i as f64 * p(i, j);
        }
    }
    let (mut contrast, mut homogeneity, mut energy, mut variance, mut covariance) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..GLCM_LEVELS {
        for j in 0..GLCM_LEVELS {
            let pij = p(i, j);
            let d = i as f64 - j as f64;
            contrast += pij * d * d;
            homogeneity += pij / (1.0 + d * d);
            energy += pij * pij;
            variance += pij * (i as f64 - mean).powi(2);
            covariance += pij * (i as f64 - mean) * (j as f64 - mean);
        }
    }
    Texture {
        contrast,
        homogeneity,
        energy: energy.sqrt(),
        // A constant image has no variance; it is perfectly correlated with itself.
        correlation: if variance > 0.0 {
            covariance / variance
        } else {
            1.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_constant_image_has_no_spread_gradient_or_texture() {
        let f = extract(&GrayImage::from_pixel(40, 20, Luma([100])));
        assert_eq!((f.width, f.height), (40, 20));
        assert!(close(f.aspect_ratio, 2.0));
        assert!(close(f.mean_intensity, 100.0) && close(f.median_intensity, 100.0));
        assert!(close(f.variance_intensity, 0.0) && close(f.std_intensity, 0.0));
        assert!(close(f.skewness, 0.0) && close(f.entropy, 0.0));
        assert!(close(f.gradient_mean, 0.0) && close(f.gradient_std, 0.0));
        assert!(close(f.glcm_contrast, 0.0));
        assert!(close(f.glcm_homogeneity, 1.0) && close(f.glcm_energy, 1.0));
        assert!(close(f.brain_area_fraction, 1.0));
    }

    #[test]
    fn a_checkerboard_has_maximal_glcm_contrast_and_one_bit_of_entropy() {
        let board = GrayImage::from_fn(32, 32, |x, y| {
            Luma([if (x + y) % 2 == 0 { 0 } else { 255 }])
        });
        let f = extract(&board);
        // Every neighbour pair spans the full range of levels.
        let max_level = (GLCM_LEVELS - 1) as f64;
        assert!(
            close(f.glcm_contrast, max_level * max_level),
            "{}",
            f.glcm_contrast
        );
        assert!(close(f.glcm_correlation, -1.0), "{}", f.glcm_correlation);
        assert!(close(f.entropy, 1.0));
        assert!(close(f.brain_area_fraction, 0.5));
        assert!(close(f.dark_fraction, 0.5) && close(f.bright_fraction, 0.5));
        assert!((f.min_intensity, f.max_intensity) == (0.0, 255.0));
    }

    #[test]
    fn a_vertical_edge_has_a_gradient_and_the_right_skew() {
        // Mostly dark with a bright stripe: positive skew, gradients only along the edge.
        let image = GrayImage::from_fn(64, 64, |x, _| Luma([if x >= 56 { 200 } else { 10 }]));
        let f = extract(&image);
        assert!(f.skewness > 1.0, "{}", f.skewness);
        assert!(f.gradient_mean > 0.0);
        // Interior columns 1..=62; the edge touches two of them, each with magnitude 4 * 190.
        let expected_mean = 2.0 * 4.0 * 190.0 / 62.0;
        assert!(
            (f.gradient_mean - expected_mean).abs() < 1e-6,
            "{}",
            f.gradient_mean
        );
        assert!(close(f.p10_intensity, 10.0) && close(f.p90_intensity, 200.0));
    }

    #[test]
    fn large_images_are_analysed_at_a_bounded_size_but_report_their_own() {
        let f = extract(&GrayImage::from_pixel(1024, 512, Luma([50])));
        assert_eq!((f.width, f.height), (1024, 512));
        assert!(close(f.gradient_mean, 0.0));
        assert_eq!(f.csv_values().len(), CSV_COLUMNS.len());
    }
}
