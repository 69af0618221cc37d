//! Labelled images on disk -> a preprocessed in-memory cache -> augmented training batches.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classes::CLASS_NAMES;
use crate::preprocess::{self, PreprocessConfig};
use crate::rng::Rng;
use crate::{MlError, MlResult};

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "bmp", "webp", "gif", "tif", "dcm"];

/// An image by its extension, or a DICOM file by its preamble whatever its name (scanners
/// often name files by UID, `1.2.840.113619.2.55.3`, or with no extension at all).
fn is_image_file(path: &Path) -> bool {
    use std::io::Read;
    let known = path
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
    let mut head = [0u8; 132];
    known
        || (path.is_file()
            && std::fs::File::open(path)
                .and_then(|mut file| file.read_exact(&mut head))
                .is_ok()
            && crate::dicom::is_dicom(&head))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledImage {
    pub path: PathBuf,
    pub label: usize,
}

/// Lists `root/<class>/*` for the four classes. A missing root, a missing or empty class folder, or a
/// folder that is not a class name is an error, so a mistyped path never trains a three-class model.
pub fn scan_class_folders(root: &Path) -> MlResult<Vec<LabeledImage>> {
    let entries = std::fs::read_dir(root).map_err(|e| MlError::io(root, e))?;
    let mut unknown = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| MlError::io(root, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !CLASS_NAMES.contains(&name.as_str()) && !name.starts_with('.')
        {
            unknown.push(name);
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(MlError::Dataset(format!(
            "{} has folders that are not classes: {} (expected {})",
            root.display(),
            unknown.join(", "),
            CLASS_NAMES.join(", ")
        )));
    }
    let mut items = Vec::new();
    for (label, class) in CLASS_NAMES.iter().enumerate() {
        let dir = root.join(class);
        if !dir.is_dir() {
            return Err(MlError::Dataset(format!(
                "missing class folder {}",
                dir.display()
            )));
        }
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| MlError::io(&dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| is_image_file(path))
            .collect();
        if paths.is_empty() {
            return Err(MlError::Dataset(format!(
                "class folder {} has no images",
                dir.display()
            )));
        }
        // Directory order differs between file systems; sorting keeps splits reproducible.
        paths.sort();
        items.extend(paths.into_iter().map(|path| LabeledImage { path, label }));
    }
    Ok(items)
}

/// Splits each class separately so both parts keep the class proportions; the same seed always
/// gives the same split.
pub fn stratified_split(
    items: &[LabeledImage],
    validation_fraction: f64,
    seed: u64,
) -> (Vec<LabeledImage>, Vec<LabeledImage>) {
    let labels: Vec<usize> = items.iter().map(|item| item.label).collect();
    let (train, validation) = stratified_indices(&labels, validation_fraction, seed);
    let pick = |indices: Vec<usize>| indices.into_iter().map(|i| items[i].clone()).collect();
    (pick(train), pick(validation))
}

/// [`stratified_split`] on positions: `(train, validation)` indices into `labels`.
pub fn stratified_indices(
    labels: &[usize],
    validation_fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for label in 0..CLASS_NAMES.len() {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == label).collect();
        rng.shuffle(&mut members);
        let held_out = (members.len() as f64 * validation_fraction).round() as usize;
        validation.extend_from_slice(&members[..held_out]);
        train.extend_from_slice(&members[held_out..]);
    }
    (train, validation)
}

/// Preprocessed model-sized images kept in memory, so epochs never decode JPEGs again.
#[derive(Debug, Clone, Default)]
pub struct ImageCache {
    pub size: usize,
    pub pixels: Vec<u8>,
    pub labels: Vec<usize>,
    /// A teacher model's logits for every image (row-major, one row of `CLASS_NAMES.len()` per
    /// image) when the cache is used for distillation; empty otherwise.
    pub teacher_logits: Vec<f32>,
    /// Each image's size as read, `sqrt(width * height)` pixels, when the cache was built from
    /// files ([`build_cache`]); empty otherwise. The drift baseline's size signal comes from it.
    pub source_sizes: Vec<f32>,
}

impl ImageCache {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image(&self, index: usize) -> &[u8] {
        let area = self.size * self.size;
        &self.pixels[index * area..(index + 1) * area]
    }

    pub fn push(&mut self, pixels: &[u8], label: usize) {
        self.pixels.extend_from_slice(pixels);
        self.labels.push(label);
    }

    /// The teacher's logits for the image at `index`, when the cache has them.
    pub fn teacher_logits(&self, index: usize) -> Option<&[f32]> {
        let classes = CLASS_NAMES.len();
        self.teacher_logits
            .get(index * classes..(index + 1) * classes)
    }

    /// The image's size as read, when every image's is known.
    pub fn source_size(&self, index: usize) -> Option<&f32> {
        if self.source_sizes.len() == self.len() {
            self.source_sizes.get(index)
        } else {
            None
        }
    }

    pub fn has_teacher_logits(&self) -> bool {
        !self.is_empty() && self.teacher_logits.len() == self.len() * CLASS_NAMES.len()
    }

    /// A new cache with the images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> ImageCache {
        let mut subset = ImageCache {
            size: self.size,
            ..Default::default()
        };
        for &index in indices {
            subset.push(self.image(index), self.labels[index]);
            if let Some(logits) = self.teacher_logits(index) {
                subset.teacher_logits.extend_from_slice(logits);
            }
            if let Some(&size) = self.source_size(index) {
                subset.source_sizes.push(size);
            }
        }
        subset
    }

    /// Appends every image of `other` (same size). Teacher logits survive only when both have
    /// them: a partly distilled cache would silently train some images without their teacher.
    pub fn extend_from(&mut self, other: &ImageCache) {
        let both_distilled = self.has_teacher_logits() && other.has_teacher_logits();
        let both_sized =
            self.source_sizes.len() == self.len() && other.source_sizes.len() == other.len();
        if both_sized {
            self.source_sizes.extend_from_slice(&other.source_sizes);
        } else {
            self.source_sizes.clear();
        }
        self.pixels.extend_from_slice(&other.pixels);
        self.labels.extend_from_slice(&other.labels);
        if both_distilled {
            self.teacher_logits.extend_from_slice(&other.teacher_logits);
        } else {
            self.teacher_logits.clear();
        }
    }

    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; CLASS_NAMES.len()];
        for &label in &self.labels {
            counts[label] += 1;
        }
        counts
    }

    /// Mean and standard deviation of all cached pixels on the 0-1 scale.
    pub fn pixel_statistics(&self) -> (f32, f32) {
        let n = self.pixels.len().max(1) as f64;
        let (sum, sum_sq) = self.pixels.iter().fold((0.0f64, 0.0f64), |(s, q), &p| {
            let v = p as f64 / 255.0;
            (s + v, q + v * v)
        });
        let mean = sum / n;
        let variance = (sum_sq / n - mean * mean).max(1e-6);
        (mean as f32, variance.sqrt() as f32)
    }
}

/// An image that could not be used, and why.
#[derive(Debug)]
pub struct SkippedImage {
    pub path: PathBuf,
    pub error: MlError,
}

/// Decodes and preprocesses `items` in parallel; unreadable files are returned, not fatal.
/// `on_progress` is called with the number of images finished so far.
pub fn build_cache(
    items: &[LabeledImage],
    config: &PreprocessConfig,
    on_progress: &(dyn Fn(usize) + Sync),
) -> (ImageCache, Vec<SkippedImage>) {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<MlResult<(Vec<u8>, f32)>> = items
        .par_iter()
        .map(|item| {
            let result = preprocess::load(&item.path).map(|image| {
                let size = (f64::from(image.width()) * f64::from(image.height())).sqrt() as f32;
                (preprocess::prepare(&image, config), size)
            });
            on_progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
            result
        })
        .collect();
    let mut cache = ImageCache {
        size: config.input_size,
        ..Default::default()
    };
    let mut skipped = Vec::new();
    for (item, result) in items.iter().zip(results) {
        match result {
            Ok((pixels, size)) => {
                cache.push(&pixels, item.label);
                cache.source_sizes.push(size);
            }
            Err(error) => skipped.push(SkippedImage {
                path: item.path.clone(),
                error,
            }),
        }
    }
    (cache, skipped)
}

/// Random, label-preserving changes applied to training images only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AugmentConfig {
    pub flip_probability: f32,
    pub max_rotation_degrees: f32,
    pub max_shift_fraction: f32,
    pub max_zoom: f32,
    pub max_brightness: f32,
    pub max_contrast: f32,
    /// Every training image magnified this much before the random zoom: 1.125 with a shift of
    /// +-1/16 is the reference's "resize to size + size/8, random crop to size".
    #[serde(default = "no_zoom")]
    pub base_zoom: f32,
    /// Brightness as a gain, `x * (1 +- max_gain) +- max_offset_levels` on 0-255 grey levels:
    /// unlike `max_brightness` and `max_contrast` (around mid-grey), a black background stays
    /// nearly black.
    #[serde(default)]
    pub max_gain: f32,
    #[serde(default)]
    pub max_offset_levels: f32,
}

fn no_zoom() -> f32 {
    1.0
}

impl AugmentConfig {
    /// The reference recipe's augmentation (see [`crate::train::TrainConfig::lite0_recipe`]):
    /// flip, rotation within +-12 degrees, a random 1/(1 + 1/8) crop, brightness x0.85-1.15 and
    /// +-12 levels.
    pub fn lite0_recipe() -> Self {
        Self {
            flip_probability: 0.5,
            max_rotation_degrees: 12.0,
            max_shift_fraction: 1.0 / 16.0,
            max_zoom: 0.0,
            max_brightness: 0.0,
            max_contrast: 0.0,
            base_zoom: 1.125,
            max_gain: 0.15,
            max_offset_levels: 12.0,
        }
    }
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            flip_probability: 0.5,
            max_rotation_degrees: 10.0,
            max_shift_fraction: 0.06,
            max_zoom: 0.1,
            max_brightness: 0.08,
            max_contrast: 0.12,
            base_zoom: 1.0,
            max_gain: 0.0,
            max_offset_levels: 0.0,
        }
    }
}

/// Writes a randomly flipped, rotated, shifted, zoomed and brightness/contrast-jittered copy of the
/// `size`x`size` image `src` into `out` as normalised floats (bilinear sampling, black outside),
/// resampled onto an `output_size`x`output_size` grid (smaller during progressive resizing).
pub fn augment_into(
    src: &[u8],
    size: usize,
    output_size: usize,
    augment: &AugmentConfig,
    preprocess: &PreprocessConfig,
    rng: &mut Rng,
    out: &mut [f32],
) {
    let flip = rng.next_f32() < augment.flip_probability;
    let angle = rng
        .uniform(-augment.max_rotation_degrees, augment.max_rotation_degrees)
        .to_radians();
    let zoom = augment.base_zoom * (1.0 + rng.uniform(-augment.max_zoom, augment.max_zoom));
    let shift_x =
        rng.uniform(-augment.max_shift_fraction, augment.max_shift_fraction) * size as f32;
    let shift_y =
        rng.uniform(-augment.max_shift_fraction, augment.max_shift_fraction) * size as f32;
    let brightness = rng.uniform(-augment.max_brightness, augment.max_brightness);
    let contrast = 1.0 + rng.uniform(-augment.max_contrast, augment.max_contrast);
    let gain = 1.0 + rng.uniform(-augment.max_gain, augment.max_gain);
    let level_shift = rng.uniform(-augment.max_offset_levels, augment.max_offset_levels) / 255.0;

    // Inverse mapping: for each output pixel, where in the source it comes from.
    let centre = (size as f32 - 1.0) / 2.0;
    let (sin, cos) = angle.sin_cos();
    let inverse_zoom = 1.0 / zoom;
    let sample = |x: f32, y: f32| -> f32 {
        if x < 0.0 || y < 0.0 || x > (size - 1) as f32 || y > (size - 1) as f32 {
            return 0.0;
        }
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(size - 1), (y0 + 1).min(size - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let p = |xx: usize, yy: usize| src[yy * size + xx] as f32;
        let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
        let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    };
    let scale = 1.0 / (255.0 * preprocess.std);
    let offset = preprocess.mean / preprocess.std;
    // Output pixel centres in source pixel units.
    let step = size as f32 / output_size as f32;
    let to_source = |i: usize| (i as f32 + 0.5) * step - 0.5;
    for y in 0..output_size {
        for x in 0..output_size {
            let dx = to_source(x) - centre - shift_x;
            let dy = to_source(y) - centre - shift_y;
            let mut sx = (cos * dx + sin * dy) * inverse_zoom + centre;
            let sy = (-sin * dx + cos * dy) * inverse_zoom + centre;
            if flip {
                sx = (size - 1) as f32 - sx;
            }
            let value = sample(sx, sy) / 255.0 * gain + level_shift;
            let jittered = ((value - 0.5) * contrast + 0.5 + brightness).clamp(0.0, 1.0);
            out[y * output_size + x] = jittered * 255.0 * scale - offset;
        }
    }
}

/// How a training batch is augmented: the random changes, their generator, and the side of the
/// images handed to the model.
pub struct Augmentation<'a> {
    pub config: &'a AugmentConfig,
    pub rng: &'a mut Rng,
    pub output_size: usize,
}

/// Builds the `[batch, 1, size, size]` input tensor and `[batch]` label tensor for `indices`: augmented
/// and resampled to the augmentation's output size, or exactly the cached images without one.
pub fn batch_tensors(
    cache: &ImageCache,
    indices: &[usize],
    preprocess: &PreprocessConfig,
    augmentation: Option<Augmentation<'_>>,
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let size = augmentation
        .as_ref()
        .map_or(cache.size, |augmentation| augmentation.output_size);
    let area = size * size;
    let mut inputs = vec![0.0f32; indices.len() * area];
    match augmentation {
        Some(Augmentation {
            config: augment,
            rng,
            ..
        }) => {
            // One seed per image from the run's generator keeps results independent of thread timing.
            let seeds: Vec<u64> = indices.iter().map(|_| rng.next_u64()).collect();
            inputs
                .par_chunks_mut(area)
                .zip(indices.par_iter().zip(seeds))
                .for_each(|(out, (&i, seed))| {
                    augment_into(
                        cache.image(i),
                        cache.size,
                        size,
                        augment,
                        preprocess,
                        &mut Rng::new(seed),
                        out,
                    );
                });
        }
        None => {
            for (out, &i) in inputs.chunks_mut(area).zip(indices) {
                preprocess::normalise_into(cache.image(i), preprocess, out);
            }
        }
    }
    let labels: Vec<i64> = indices.iter().map(|&i| cache.labels[i] as i64).collect();
    let images = Tensor::<4>::from_data(
        TensorData::new(inputs, [indices.len(), 1, size, size]),
        device,
    );
    let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [indices.len()]), device);
    (images, targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch_images(root: &Path, class: &str, n: usize) {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..n {
            image::GrayImage::from_pixel(8, 8, image::Luma([100]))
                .save(dir.join(format!("{i}.png")))
                .unwrap();
        }
    }

    #[test]
    fn teacher_logits_follow_their_images_through_subsets_and_merges() {
        let mut cache = ImageCache {
            size: 1,
            ..Default::default()
        };
        for (pixel, label) in [(10u8, 0usize), (20, 1), (30, 2)] {
            cache.push(&[pixel], label);
            cache
                .teacher_logits
                .extend([pixel as f32, 0.0, 0.0, label as f32]);
        }
        assert!(cache.has_teacher_logits());
        let subset = cache.subset(&[2, 0]);
        assert_eq!(subset.teacher_logits(0), Some(&[30.0, 0.0, 0.0, 2.0][..]));
        assert_eq!(subset.teacher_logits(1), Some(&[10.0, 0.0, 0.0, 0.0][..]));
        let mut merged = subset.clone();
        merged.extend_from(&cache);
        assert!(merged.has_teacher_logits());
        assert_eq!(merged.teacher_logits(3), Some(&[20.0, 0.0, 0.0, 1.0][..]));
        // Images without a teacher's view make the whole cache undistilled, never misaligned.
        let mut plain = ImageCache {
            size: 1,
            ..Default::default()
        };
        plain.push(&[40], 3);
        merged.extend_from(&plain);
        assert!(!merged.has_teacher_logits());
        assert_eq!(merged.teacher_logits(0), None);
    }

    #[test]
    fn scan_finds_every_class_and_rejects_bad_layouts() {
        let dir = tempfile::tempdir().unwrap();
        for class in CLASS_NAMES {
            touch_images(dir.path(), class, 3);
        }
        std::fs::write(dir.path().join("glioma/notes.txt"), "ignored").unwrap();
        std::fs::write(dir.path().join("glioma/README"), "no extension, not DICOM").unwrap();
        let dicom = crate::dicom_writer::DicomWriter::default()
            .write(&[vec![100; 64]], 8, 8)
            .unwrap();
        // Scanners name files by UID, without an extension; the preamble tells them apart.
        std::fs::write(dir.path().join("notumor/1.2.840.99"), &dicom).unwrap();
        std::fs::write(dir.path().join("notumor/slice.DCM"), &dicom).unwrap();
        let items = scan_class_folders(dir.path()).unwrap();
        assert_eq!(items.len(), 14);
        assert_eq!(items.iter().filter(|i| i.label == 0).count(), 3);
        assert_eq!(items.iter().filter(|i| i.label == 2).count(), 5);

        std::fs::create_dir(dir.path().join("banana")).unwrap();
        let error = scan_class_folders(dir.path()).unwrap_err().to_string();
        assert!(error.contains("banana"), "{error}");
        std::fs::remove_dir(dir.path().join("banana")).unwrap();

        for file in std::fs::read_dir(dir.path().join("pituitary")).unwrap() {
            std::fs::remove_file(file.unwrap().path()).unwrap();
        }
        let error = scan_class_folders(dir.path()).unwrap_err().to_string();
        assert!(error.contains("no images"), "{error}");

        std::fs::remove_dir(dir.path().join("pituitary")).unwrap();
        let error = scan_class_folders(dir.path()).unwrap_err().to_string();
        assert!(error.contains("missing class folder"), "{error}");

        assert!(scan_class_folders(&dir.path().join("nope")).is_err());
    }

    #[test]
    fn split_is_stratified_disjoint_and_reproducible() {
        let items: Vec<LabeledImage> = (0..400)
            .map(|i| LabeledImage {
                path: PathBuf::from(format!("{i}.jpg")),
                label: i % 4,
            })
            .collect();
        let (train, validation) = stratified_split(&items, 0.2, 42);
        assert_eq!(train.len() + validation.len(), 400);
        assert_eq!(validation.len(), 80);
        for label in 0..4 {
            assert_eq!(validation.iter().filter(|i| i.label == label).count(), 20);
        }
        assert!(validation.iter().all(|v| !train.contains(v)));
        assert_eq!(stratified_split(&items, 0.2, 42).1, validation);
        assert_ne!(stratified_split(&items, 0.2, 43).1, validation);
    }

    #[test]
    fn augmentation_keeps_shape_and_range_and_is_seeded() {
        let size = 16;
        let src: Vec<u8> = (0..size * size).map(|i| (i % 256) as u8).collect();
        let preprocess = PreprocessConfig::new(size);
        let augment = AugmentConfig::default();
        let mut a = vec![0.0; size * size];
        let mut b = vec![0.0; size * size];
        let run = |seed: u64, out: &mut [f32]| {
            augment_into(
                &src,
                size,
                size,
                &augment,
                &preprocess,
                &mut Rng::new(seed),
                out,
            )
        };
        run(5, &mut a);
        run(5, &mut b);
        assert_eq!(a, b);
        let (low, high) = (
            -preprocess.mean / preprocess.std,
            (1.0 - preprocess.mean) / preprocess.std,
        );
        assert!(a.iter().all(|v| *v >= low - 1e-4 && *v <= high + 1e-4));

        // With every change switched off, augmentation is exactly normalisation.
        let identity = AugmentConfig {
            flip_probability: 0.0,
            max_rotation_degrees: 0.0,
            max_shift_fraction: 0.0,
            max_zoom: 0.0,
            max_brightness: 0.0,
            max_contrast: 0.0,
            base_zoom: 1.0,
            max_gain: 0.0,
            max_offset_levels: 0.0,
        };
        augment_into(
            &src,
            size,
            size,
            &identity,
            &preprocess,
            &mut Rng::new(1),
            &mut a,
        );
        preprocess::normalise_into(&src, &preprocess, &mut b);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-4);
        }

        // A gain keeps black black and scales the rest; around mid-grey, contrast would lift it.
        let gain_only = AugmentConfig {
            max_gain: 0.15,
            ..identity
        };
        let to_level = |v: f32| (v * preprocess.std + preprocess.mean) * 255.0;
        let mut gains = Vec::new();
        for seed in 0..8 {
            augment_into(
                &src,
                size,
                size,
                &gain_only,
                &preprocess,
                &mut Rng::new(seed),
                &mut a,
            );
            assert!(
                to_level(a[0]).abs() < 1e-2,
                "black became {}",
                to_level(a[0])
            );
            gains.push(to_level(a[100]) / src[100] as f32);
        }
        assert!(
            gains
                .iter()
                .all(|g| (0.85 - 1e-3..=1.15 + 1e-3).contains(g)),
            "{gains:?}"
        );
        assert!(gains.iter().any(|g| (g - 1.0).abs() > 0.02), "{gains:?}");

        // Half the output size averages 2x2 blocks of a constant-per-block image exactly.
        let blocks: Vec<u8> = (0..size * size)
            .map(|i| (((i / size) / 2 * 8 + (i % size) / 2) * 4) as u8)
            .collect();
        let half = size / 2;
        let mut small = vec![0.0; half * half];
        augment_into(
            &blocks,
            size,
            half,
            &identity,
            &preprocess,
            &mut Rng::new(1),
            &mut small,
        );
        let mut expected = vec![0.0; half * half];
        let block_values: Vec<u8> = (0..half * half).map(|i| (i * 4) as u8).collect();
        preprocess::normalise_into(&block_values, &preprocess, &mut expected);
        for (x, y) in small.iter().zip(&expected) {
            assert!((x - y).abs() < 1e-3, "{x} vs {y}");
        }
    }
}
