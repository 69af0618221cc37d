//! Whether to trust an answer: refuse inputs that are not brain MRI slices (a Mahalanobis distance
//! on the network's pooled features), flag answers that are too unsure to stand alone (a confidence
//! threshold), and the calibration figures both are chosen from. Everything is fitted on the
//! model's own training and validation split and kept beside the weights in `trust.json`.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::ImageCache;
use crate::drift::DriftBaseline;
use crate::model::Model;
use crate::preprocess::PreprocessConfig;
use crate::train::{argmax, features_and_logits, softmax_row};
use crate::{MlError, MlResult, CLASS_NAMES};

pub const TRUST_FILE: &str = "trust.json";
/// Share of validation MRI slices the out-of-distribution threshold lets through, at least.
pub const MRI_PASS_RATE: f64 = 0.995;
/// Accuracy the answers that are not flagged for review must reach on the validation split.
pub const UNFLAGGED_ACCURACY: f64 = 0.995;
/// Bins of the reliability diagram and the expected calibration error.
pub const RELIABILITY_BINS: usize = 10;
/// Fewest images a fit may rest on: below these, a covariance of 192 or more features and a 99.5th
/// percentile are noise (a retraining on a few dozen uploads keeps its base model's check instead).
pub const MIN_FIT_IMAGES: usize = 200;
pub const MIN_THRESHOLD_IMAGES: usize = 50;
/// How the out-of-distribution detector reads the features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OodConfig {
    /// Covariance shrinkage towards its mean variance: pooled ReLU features have near-constant
    /// dimensions, and without it the inverse would magnify their noise.
    pub shrinkage: f64,
    /// Scale every feature vector to unit length (times the square root of its width) first, so
    /// the distance weighs the pattern of the features, not their overall strength.
    pub normalise: bool,
}

impl Default for OodConfig {
    /// Normalised features, shrinkage 0.2, chosen by `ml/examples/ood_sweep.rs` on the shipped
    /// Lite0 v4 model with the threshold letting 99.5% of the validation slices and of their altered
    /// copies through: it refuses 100% of the non-MRI set (322 images) and lets all validation
    /// slices through; raw features refuse 87-91% (photographs 59-67%). Models fitted before keep
    /// the setting stored in their `trust.json` (the CNN: raw features, shrinkage 0.05).
    fn default() -> Self {
        Self {
            shrinkage: 0.2,
            normalise: true,
        }
    }
}

/// Mahalanobis distance to the nearest class mean under one shared covariance (Lee et al. 2018),
/// stored as a whitening matrix so scoring is one triangular product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OodDetector {
    pub feature_width: usize,
    /// `L^-1` of the shrunk covariance's Cholesky factor, row-major, `feature_width^2`.
    pub whitening: Vec<f32>,
    /// Each class's mean feature vector, already whitened.
    pub whitened_means: Vec<Vec<f32>>,
    /// A slice whose distance (root mean square per whitened dimension) is above this is refused.
    pub threshold: f32,
    /// Features are scaled to unit length before whitening ([`OodConfig::normalise`]).
    #[serde(default)]
    pub normalised: bool,
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    pub lower: f32,
    pub upper: f32,
    pub count: usize,
    pub mean_confidence: f32,
    pub accuracy: f32,
}

/// What the fit measured on the validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustReport {
    pub validation_images: usize,
    /// Share of validation MRI slices the out-of-distribution check lets through.
    pub mri_pass_rate: f64,
    /// The same share of the validation slices altered as other sources alter them, where the
    /// fit had them.
    #[serde(default)]
    pub altered_pass_rate: Option<f64>,
    /// Share of validation answers flagged for review, and the accuracy of the others.
    pub flagged_share: f64,
    pub unflagged_accuracy: f64,
    /// Expected calibration error before (temperature 1) and after temperature calibration.
    pub ece_uncalibrated: f64,
    pub ece_calibrated: f64,
    pub reliability_uncalibrated: Vec<ReliabilityBin>,
    pub reliability_calibrated: Vec<ReliabilityBin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trust {
    pub ood: OodDetector,
    /// Answers whose calibrated top probability is below this need a radiologist's review.
    pub review_threshold: f32,
    pub report: TrustReport,
    /// What the validation split's slices and answers looked like, for drift
    /// ([`crate::drift`]); absent in checks fitted before drift was measured.
    #[serde(default)]
    pub drift_baseline: Option<DriftBaseline>,
}

impl Trust {
    /// Fits the detector on the training images' features and chooses both thresholds on the
    /// validation images'. With `altered` (the validation slices as other scanners and exports
    /// deliver them, [`crate::scanner_variation`]), the not-an-MRI threshold lets at least
    /// [`MRI_PASS_RATE`] of those through as well. `model` must be in inference mode.
    pub fn fit(
        model: &Model,
        train: &ImageCache,
        validation: &ImageCache,
        altered: Option<&ImageCache>,
        preprocess: &PreprocessConfig,
        temperature: f32,
        device: &Device,
    ) -> MlResult<Self> {
        if train.len() < MIN_FIT_IMAGES || validation.len() < MIN_THRESHOLD_IMAGES {
            return Err(MlError::Dataset(format!(
                "too few images to fit the trust check on ({} training, {} validation; at least \
                 {MIN_FIT_IMAGES} and {MIN_THRESHOLD_IMAGES} are needed)",
                train.len(),
                validation.len()
            )));
        }
        let fitted = features_and_logits(model, train, preprocess, 32, device)?;
        let mut ood = OodDetector::fit_with(
            &fitted.features,
            fitted.feature_width,
            &train.labels,
            OodConfig::default(),
        )?;
        let held_out = features_and_logits(model, validation, preprocess, 32, device)?;
        let distances_of = |features: &[f32]| -> Vec<f32> {
            features
                .chunks(held_out.feature_width)
                .map(|row| ood.distance(row))
                .collect()
        };
        let distances = distances_of(&held_out.features);
        let altered_distances = match altered.filter(|cache| !cache.is_empty()) {
            Some(altered) => {
                distances_of(&features_and_logits(model, altered, preprocess, 32, device)?.features)
            }
            None => Vec::new(),
        };
        ood.threshold = mri_threshold(&[&distances, &altered_distances]);
        let pass_rate = |distances: &[f32]| {
            distances.iter().filter(|&&d| d <= ood.threshold).count() as f64
                / distances.len().max(1) as f64
        };
        let mri_pass_rate = pass_rate(&distances);
        let altered_pass_rate =
            (!altered_distances.is_empty()).then(|| pass_rate(&altered_distances));

        let answers = |t: f32| -> Vec<(f32, bool)> {
            held_out
                .logits
                .chunks(CLASS_NAMES.len())
                .zip(&validation.labels)
                .map(|(row, &label)| {
                    let p = softmax_row(row, t);
                    let best = argmax(&p);
                    (p[best], best == label)
                })
                .collect()
        };
        let calibrated_rows: Vec<Vec<f32>> = held_out
            .logits
            .chunks(CLASS_NAMES.len())
            .map(|row| softmax_row(row, temperature))
            .collect();
        let drift_baseline =
            DriftBaseline::from_validation(validation, &distances, &calibrated_rows);
        let calibrated = answers(temperature);
        let uncalibrated = answers(1.0);
        let (review_threshold, flagged_share, unflagged_accuracy) =
            review_threshold(&calibrated, UNFLAGGED_ACCURACY);
        let (reliability_uncalibrated, ece_uncalibrated) = reliability(&uncalibrated);
        let (reliability_calibrated, ece_calibrated) = reliability(&calibrated);
        Ok(Self {
            ood,
            review_threshold,
            report: TrustReport {
                validation_images: validation.len(),
                mri_pass_rate,
                altered_pass_rate,
                flagged_share,
                unflagged_accuracy,
                ece_uncalibrated,
                ece_calibrated,
                reliability_uncalibrated,
                reliability_calibrated,
            },
            drift_baseline: Some(drift_baseline),
        })
    }

    pub fn needs_review(&self, confidence: f32) -> bool {
        confidence < self.review_threshold
    }

    /// Reads `trust.json` from a model folder; `None` for models saved before it existed.
    pub fn load(dir: &Path) -> MlResult<Option<Self>> {
        let path = dir.join(TRUST_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| MlError::io(&path, e))?;
        let trust: Trust = serde_json::from_str(&text).map_err(|e| MlError::Manifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let width = trust.ood.feature_width;
        if trust.ood.whitening.len() != width * width
            || trust.ood.whitened_means.iter().any(|m| m.len() != width)
        {
            return Err(MlError::ModelMismatch {
                dir: dir.to_path_buf(),
                reason: format!("{TRUST_FILE} does not describe {width}-wide features"),
            });
        }
        Ok(Some(trust))
    }

    /// Writes `trust.json` under a temporary name first, so a reader never sees half a file.
    pub fn save(&self, dir: &Path) -> MlResult<()> {
        let path = dir.join(TRUST_FILE);
        let temporary = dir.join(format!("{TRUST_FILE}.tmp"));
        let json = serde_json::to_string(self).map_err(|e| MlError::Training(e.to_string()))?;
        std::fs::write(&temporary, json + "\n").map_err(|e| MlError::io(&temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| MlError::io(&path, e))
    }
}

impl OodDetector {
    /// Class means and one shared, shrunk covariance of row-major `features`.
    pub fn fit(features: &[f32], width: usize, labels: &[usize]) -> MlResult<Self> {
        Self::fit_with(features, width, labels, OodConfig::default())
    }

    pub fn fit_with(
        features: &[f32],
        width: usize,
        labels: &[usize],
        config: OodConfig,
    ) -> MlResult<Self> {
        let normalised_rows;
        let features = if config.normalise {
            normalised_rows = features
                .chunks(width.max(1))
                .flat_map(normalise)
                .collect::<Vec<f32>>();
            normalised_rows.as_slice()
        } else {
            features
        };
        let shrinkage = config.shrinkage;
        let count = labels.len();
        if width == 0 || features.len() != count * width {
            return Err(MlError::Training(format!(
                "{} features for {count} images of width {width}",
                features.len()
            )));
        }
        let classes = CLASS_NAMES.len();
        let mut means = vec![vec![0.0f64; width]; classes];
        let mut counts = vec![0usize; classes];
        for (row, &label) in features.chunks(width).zip(labels) {
            counts[label] += 1;
            for (mean, &value) in means[label].iter_mut().zip(row) {
                *mean += f64::from(value);
            }
        }
        if let Some(missing) = counts.iter().position(|&n| n == 0) {
            return Err(MlError::Dataset(format!(
                "no training images of class {} to fit the trust check on",
                CLASS_NAMES[missing]
            )));
        }
        for (mean, &n) in means.iter_mut().zip(&counts) {
            mean.iter_mut().for_each(|m| *m /= n as f64);
        }
        let mut covariance = vec![0.0f64; width * width];
        let mut centred = vec![0.0f64; width];
        for (row, &label) in features.chunks(width).zip(labels) {
            for ((c, &value), &mean) in centred.iter_mut().zip(row).zip(&means[label]) {
                *c = f64::from(value) - mean;
            }
            for i in 0..width {
                let ci = centred[i];
                let target = &mut covariance[i * width..i * width + i + 1];
                for (cell, &cj) in target.iter_mut().zip(&centred[..=i]) {
                    *cell += ci * cj;
                }
            }
        }
        let mean_variance = (0..width).map(|i| covariance[i * width + i]).sum::<f64>()
            / (count as f64 * width as f64);
        for i in 0..width {
            for j in 0..=i {
                let value = covariance[i * width + j] / count as f64 * (1.0 - shrinkage);
                covariance[i * width + j] = value;
            }
            covariance[i * width + i] += shrinkage * mean_variance + 1e-9;
        }
        let inverse_factor = inverse_cholesky(&covariance, width)?;
        let whitening: Vec<f32> = inverse_factor.iter().map(|&v| v as f32).collect();
        let mut detector = Self {
            feature_width: width,
            whitening,
            whitened_means: Vec::new(),
            threshold: f32::INFINITY,
            normalised: config.normalise,
        };
        detector.whitened_means = means
            .iter()
            .map(|mean| {
                let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
                detector.whiten(&mean)
            })
            .collect();
        Ok(detector)
    }

    fn whiten(&self, features: &[f32]) -> Vec<f32> {
        let width = self.feature_width;
        (0..width)
            .map(|i| {
                let row = &self.whitening[i * width..i * width + i + 1];
                dot(row, &features[..row.len()])
            })
            .collect()
    }

    /// Root-mean-square whitened distance to the nearest class mean (about 1 for a typical
    /// training slice, whatever the feature width).
    pub fn distance(&self, features: &[f32]) -> f32 {
        let whitened = if self.normalised {
            self.whiten(&normalise(features))
        } else {
            self.whiten(features)
        };
        let nearest = self
            .whitened_means
            .iter()
            .map(|mean| {
                mean.iter()
                    .zip(&whitened)
                    .map(|(m, x)| (x - m) * (x - m))
                    .sum::<f32>()
            })
            .fold(f32::INFINITY, f32::min);
        (nearest / self.feature_width as f32).sqrt()
    }

    pub fn is_brain_mri(&self, distance: f32) -> bool {
        distance <= self.threshold
    }
}

/// Dot product in eight independent partial sums: a single running sum is a dependency chain the
/// compiler may not reorder, and it made the 1280-wide whitening (0.8M products per image) cost
/// 0.46 ms on the inference thread.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut partial = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            partial[lane] += x[lane] * y[lane];
        }
    }
    partial.iter().sum::<f32>() + tail
}

/// `features` scaled to a length of `sqrt(width)` (so each dimension is about 1), or as they are
/// when all zero.
fn normalise(features: &[f32]) -> Vec<f32> {
    let length = features.iter().map(|x| x * x).sum::<f32>().sqrt();
    if length <= f32::EPSILON {
        return features.to_vec();
    }
    let scale = (features.len() as f32).sqrt() / length;
    features.iter().map(|x| x * scale).collect()
}

/// `L^-1` for the lower Cholesky factor `L` of the symmetric positive-definite `matrix` (only its
/// lower triangle is read), row-major and lower-triangular.
fn inverse_cholesky(matrix: &[f64], n: usize) -> MlResult<Vec<f64>> {
    let mut factor = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| factor[i * n + k] * factor[j * n + k]).sum();
            let value = matrix[i * n + j] - dot;
            if i == j {
                if value <= 0.0 {
                    return Err(MlError::Training(
                        "the feature covariance is not positive definite".into(),
                    ));
                }
                factor[i * n + i] = value.sqrt();
            } else {
                factor[i * n + j] = value / factor[j * n + j];
            }
        }
    }
    // Forward substitution, one column of the identity at a time.
    let mut inverse = vec![0.0f64; n * n];
    for column in 0..n {
        for i in column..n {
            let known: f64 = (column..i)
                .map(|k| factor[i * n + k] * inverse[k * n + column])
                .sum();
            let identity = if i == column { 1.0 } else { 0.0 };
            inverse[i * n + column] = (identity - known) / factor[i * n + i];
        }
    }
    Ok(inverse)
}

/// The value below which a `share` of `values` lie (the smallest value with at least that share
/// at or below it).
/// The distance that lets [`MRI_PASS_RATE`] of every non-empty set of MRI slices' distances
/// through (the validation slices, and the same slices altered as other scanners deliver them).
pub fn mri_threshold(distance_sets: &[&[f32]]) -> f32 {
    distance_sets
        .iter()
        .filter(|distances| !distances.is_empty())
        .map(|distances| quantile(distances, MRI_PASS_RATE))
        .fold(f32::NEG_INFINITY, f32::max)
}

fn quantile(values: &[f32], share: f64) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let index = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

/// The lowest confidence threshold whose unflagged answers are at least `target` accurate,
/// with the share it flags and the accuracy of the rest. `answers`: (confidence, correct).
pub fn review_threshold(answers: &[(f32, bool)], target: f64) -> (f32, f64, f64) {
    let mut sorted = answers.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut correct = 0usize;
    let mut best: Option<(usize, usize)> = None;
    for (index, &(_, right)) in sorted.iter().enumerate() {
        correct += usize::from(right);
        let kept = index + 1;
        let ties_follow = sorted
            .get(kept)
            .is_some_and(|next| next.0 == sorted[index].0);
        if !ties_follow && correct as f64 >= target * kept as f64 {
            best = Some((kept, correct));
        }
    }
    match best {
        Some((kept, correct)) => (
            sorted[kept - 1].0,
            1.0 - kept as f64 / sorted.len() as f64,
            correct as f64 / kept as f64,
        ),
        // Not even the most confident answer is reliable enough: flag everything (a probability
        // never exceeds 1, and a finite threshold survives JSON).
        None => (f32::from_bits(1.0f32.to_bits() + 1), 1.0, 0.0),
    }
}

/// Reliability diagram (equal-width confidence bins) and expected calibration error.
pub fn reliability(answers: &[(f32, bool)]) -> (Vec<ReliabilityBin>, f64) {
    let mut bins: Vec<ReliabilityBin> = (0..RELIABILITY_BINS)
        .map(|b| ReliabilityBin {
            lower: b as f32 / RELIABILITY_BINS as f32,
            upper: (b + 1) as f32 / RELIABILITY_BINS as f32,
            count: 0,
            mean_confidence: 0.0,
            accuracy: 0.0,
        })
        .collect();
    for &(confidence, right) in answers {
        let index = ((confidence * RELIABILITY_BINS as f32) as usize).min(RELIABILITY_BINS - 1);
        let bin = &mut bins[index];
        bin.count += 1;
        bin.mean_confidence += confidence;
        bin.accuracy += f32::from(u8::from(right));
    }
    let mut ece = 0.0f64;
    for bin in &mut bins {
        if bin.count > 0 {
            bin.mean_confidence /= bin.count as f32;
            bin.accuracy /= bin.count as f32;
            ece += bin.count as f64 / answers.len().max(1) as f64
                * f64::from((bin.accuracy - bin.mean_confidence).abs());
        }
    }
    (bins, ece)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn the_lane_split_dot_product_matches_the_plain_sum() {
        for length in [0, 1, 7, 8, 9, 1280] {
            let a: Vec<f32> = (0..length).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..length).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x * y)).sum();
            let fast = f64::from(super::dot(&a, &b));
            assert!((fast - plain).abs() < 1e-3, "{length}: {fast} vs {plain}");
        }
    }

    #[test]
    fn whitening_inverts_the_covariance() {
        let matrix = [4.0, 0.0, 2.0, 3.0];
        let inverse = inverse_cholesky(&matrix, 2).unwrap();
        // L = [[2, 0], [1, sqrt 2]]; L^-1 L must be the identity.
        let factor = [2.0, 0.0, 1.0, 2f64.sqrt()];
        for i in 0..2 {
            for j in 0..2 {
                let product: f64 = (0..2).map(|k| inverse[i * 2 + k] * factor[k * 2 + j]).sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((product - expected).abs() < 1e-12, "{i},{j}: {product}");
            }
        }
    }

    #[test]
    fn points_near_a_class_are_close_and_far_points_are_far() {
        let mut rng = Rng::new(7);
        let width = 6;
        let mut features = Vec::new();
        let mut labels = Vec::new();
        for i in 0..400 {
            let class = i % CLASS_NAMES.len();
            for d in 0..width {
                let centre = if d == class { 5.0 } else { 0.0 };
                features.push(centre + rng.uniform(-1.0, 1.0));
            }
            labels.push(class);
        }
        let detector = OodDetector::fit(&features, width, &labels).unwrap();
        let typical = detector.distance(&[5.0, 0.2, -0.3, 0.0, 0.1, 0.0]);
        let far = detector.distance(&[5.0, 5.0, 5.0, -5.0, 4.0, 3.0]);
        assert!(typical < 1.5, "typical {typical}");
        assert!(far > 4.0 * typical, "far {far} vs typical {typical}");
    }

    #[test]
    fn the_review_threshold_keeps_only_answers_accurate_enough() {
        // Confident answers are right, the two least confident are wrong.
        let answers = [
            (0.99, true),
            (0.95, true),
            (0.9, true),
            (0.8, true),
            (0.6, false),
            (0.5, false),
        ];
        let (threshold, flagged, accuracy) = review_threshold(&answers, 0.995);
        assert_eq!(threshold, 0.8);
        assert!((flagged - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(accuracy, 1.0);
        // Lower demands keep more answers.
        let (threshold, flagged, _) = review_threshold(&answers, 0.8);
        assert_eq!(threshold, 0.6);
        assert!((flagged - 1.0 / 6.0).abs() < 1e-9);
        // When no answer is good enough, every one is flagged, even at probability 1.
        let (threshold, flagged, _) = review_threshold(&[(1.0, false), (0.9, true)], 0.995);
        assert!(threshold > 1.0 && threshold.is_finite());
        assert_eq!(flagged, 1.0);
    }

    #[test]
    fn a_perfectly_calibrated_model_has_no_calibration_error() {
        // In the 0.7-0.8 bin, 3 of 4 right at confidence 0.75: calibrated. At 0.95, all right and
        // 0.05 under-confident.
        let answers = [
            (0.75, true),
            (0.75, true),
            (0.75, true),
            (0.75, false),
            (0.95, true),
            (0.95, true),
            (0.95, true),
            (0.95, true),
        ];
        let (bins, ece) = reliability(&answers);
        assert_eq!(bins[7].count, 4);
        assert!((bins[7].accuracy - 0.75).abs() < 1e-6);
        assert!((ece - 0.5 * 0.05).abs() < 1e-6, "{ece}");
    }
}
