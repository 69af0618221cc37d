//! Drift: whether the slices reaching a model still look like the ones it was validated on. A new
//! scanner, sequence or hospital changes the inputs before it changes the answers anyone checks,
//! so each prediction carries a few cheap signals, and the model keeps their distribution on its
//! validation split (the baseline, in `trust.json`). Recent predictions are compared with it by the
//! population stability index (PSI) and the two-sample Kolmogorov-Smirnov statistic.
//!
//! Pure functions and plain data: the server decides which predictions are "recent".

use serde::{Deserialize, Serialize};

use crate::dataset::ImageCache;
use crate::CLASS_NAMES;

/// Bins of a numeric signal's PSI: the baseline's deciles, the usual choice for PSI.
pub const PSI_BINS: usize = 10;
/// Most values a baseline keeps per signal: evenly spaced order statistics of a larger split
/// describe its distribution as well for PSI and KS, and keep `trust.json` small.
pub const MAX_BASELINE_VALUES: usize = 1000;
/// A bin no slice fell into counts as this share, so a PSI stays finite (the usual floor).
const EMPTY_BIN_SHARE: f64 = 1e-4;

/// A signal drift is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// The not-an-MRI check's distance of the slice's features from the training slices'.
    NotMriDistance,
    /// The calibrated probability of the answered class.
    TopProbability,
    /// The share of answers per class.
    ClassMix,
    /// Mean grey level (0-255) of the head crop the model sees.
    MeanIntensity,
    /// Standard deviation of those grey levels: the slice's contrast.
    Contrast,
    /// The slice's size as sent, as the side of a square of as many pixels.
    Size,
}

impl Signal {
    pub const ALL: [Signal; 6] = [
        Signal::NotMriDistance,
        Signal::TopProbability,
        Signal::ClassMix,
        Signal::MeanIntensity,
        Signal::Contrast,
        Signal::Size,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Signal::NotMriDistance => "not-an-MRI distance",
            Signal::TopProbability => "top probability",
            Signal::ClassMix => "predicted class mix",
            Signal::MeanIntensity => "mean intensity",
            Signal::Contrast => "contrast",
            Signal::Size => "size",
        }
    }
}

/// What one slice shows of its source, measured on the way to the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SliceSignals {
    pub mean_intensity: f32,
    pub contrast: f32,
    /// `sqrt(width * height)` of the slice as sent, in pixels.
    pub size: f32,
}

impl SliceSignals {
    /// `model_pixels`: the 8-bit square the model is given (before normalisation); `width` and
    /// `height`: the slice before cropping.
    pub fn measure(model_pixels: &[u8], width: u32, height: u32) -> Self {
        let (mean, std) = mean_and_std(model_pixels);
        Self {
            mean_intensity: mean,
            contrast: std,
            size: (f64::from(width) * f64::from(height)).sqrt() as f32,
        }
    }
}

fn mean_and_std(pixels: &[u8]) -> (f32, f32) {
    let n = pixels.len().max(1) as f64;
    let (sum, sum_sq) = pixels.iter().fold((0.0f64, 0.0f64), |(s, q), &p| {
        let v = f64::from(p);
        (s + v, q + v * v)
    });
    let mean = sum / n;
    let variance = (sum_sq / n - mean * mean).max(0.0);
    (mean as f32, variance.sqrt() as f32)
}

/// A numeric signal's values on the baseline, sorted (at most [`MAX_BASELINE_VALUES`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericBaseline {
    pub values: Vec<f32>,
}

impl NumericBaseline {
    /// Sorts `values` and keeps evenly spaced order statistics when there are too many;
    /// non-finite values (a signal that could not be measured) are left out. `None` when empty.
    pub fn new(mut values: Vec<f32>) -> Option<Self> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(f32::total_cmp);
        if values.len() > MAX_BASELINE_VALUES {
            let last = values.len() - 1;
            values = (0..MAX_BASELINE_VALUES)
                .map(|i| values[i * last / (MAX_BASELINE_VALUES - 1)])
                .collect();
        }
        Some(Self { values })
    }

    /// The upper ends of the baseline's [`PSI_BINS`] quantile bins (the last bin is open), ties
    /// merged: a signal with few distinct values (most slices are 512 px) gets fewer bins.
    pub fn bin_edges(&self) -> Vec<f32> {
        let n = self.values.len();
        let mut edges: Vec<f32> = (1..PSI_BINS)
            .map(|i| self.values[(i * n).div_ceil(PSI_BINS).saturating_sub(1)])
            .collect();
        edges.dedup();
        // The top value as an edge would leave an empty last bin.
        if edges.last() == self.values.last() {
            edges.pop();
        }
        edges
    }
}

/// The distribution of every signal on a model's validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftBaseline {
    pub images: usize,
    /// Absent for a model without a not-an-MRI check.
    pub not_mri_distance: Option<NumericBaseline>,
    pub top_probability: Option<NumericBaseline>,
    /// Share of answers per class, in [`CLASS_NAMES`] order.
    pub class_mix: Vec<f64>,
    pub mean_intensity: Option<NumericBaseline>,
    pub contrast: Option<NumericBaseline>,
    /// Absent when the images' original sizes were not known.
    pub size: Option<NumericBaseline>,
}

impl DriftBaseline {
    /// From the validation split as the model scored it: per image, its not-an-MRI distance
    /// (empty without a check) and its calibrated probabilities (one row of [`CLASS_NAMES`] each);
    /// the image signals come from the cache's pixels and recorded sizes.
    pub fn from_validation(
        validation: &ImageCache,
        distances: &[f32],
        probabilities: &[Vec<f32>],
    ) -> Self {
        let mut class_counts = vec![0usize; CLASS_NAMES.len()];
        let mut top = Vec::with_capacity(probabilities.len());
        for row in probabilities {
            let best = crate::train::argmax(row);
            if let Some(count) = class_counts.get_mut(best) {
                *count += 1;
            }
            top.push(row[best]);
        }
        let answered = probabilities.len().max(1) as f64;
        let (mut means, mut contrasts) = (Vec::new(), Vec::new());
        for index in 0..validation.len() {
            let (mean, std) = mean_and_std(validation.image(index));
            means.push(mean);
            contrasts.push(std);
        }
        Self {
            images: validation.len(),
            not_mri_distance: NumericBaseline::new(distances.to_vec()),
            top_probability: NumericBaseline::new(top),
            class_mix: class_counts
                .iter()
                .map(|&count| count as f64 / answered)
                .collect(),
            mean_intensity: NumericBaseline::new(means),
            contrast: NumericBaseline::new(contrasts),
            size: NumericBaseline::new(
                (0..validation.len())
                    .filter_map(|index| validation.source_size(index).copied())
                    .collect(),
            ),
        }
    }

    pub fn numeric(&self, signal: Signal) -> Option<&NumericBaseline> {
        match signal {
            Signal::NotMriDistance => self.not_mri_distance.as_ref(),
            Signal::TopProbability => self.top_probability.as_ref(),
            Signal::MeanIntensity => self.mean_intensity.as_ref(),
            Signal::Contrast => self.contrast.as_ref(),
            Signal::Size => self.size.as_ref(),
            Signal::ClassMix => None,
        }
    }
}

/// One signal compared: the shares per bin on both sides (what the chart draws) and the figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalDrift {
    pub signal: Signal,
    /// A label per bin: a range of values, or a class name.
    pub bins: Vec<String>,
    pub baseline_shares: Vec<f64>,
    pub recent_shares: Vec<f64>,
    pub psi: f64,
    /// Absent for the class mix, which has no order.
    pub ks: Option<f64>,
    pub recent_values: usize,
}

/// A numeric signal's recent values against its baseline; `None` when there are no recent values.
pub fn compare_numeric(
    signal: Signal,
    baseline: &NumericBaseline,
    recent: &[f32],
) -> Option<SignalDrift> {
    let mut recent: Vec<f32> = recent.iter().copied().filter(|v| v.is_finite()).collect();
    if recent.is_empty() {
        return None;
    }
    recent.sort_by(f32::total_cmp);
    let edges = baseline.bin_edges();
    let baseline_shares = shares_in_bins(&baseline.values, &edges);
    let recent_shares = shares_in_bins(&recent, &edges);
    Some(SignalDrift {
        signal,
        bins: bin_labels(&edges),
        psi: psi(&baseline_shares, &recent_shares),
        ks: Some(ks_statistic(&baseline.values, &recent)),
        baseline_shares,
        recent_shares,
        recent_values: recent.len(),
    })
}

/// The recent answers' class mix against the baseline's; `counts` in [`CLASS_NAMES`] order.
pub fn compare_class_mix(baseline: &[f64], counts: &[usize]) -> Option<SignalDrift> {
    let total: usize = counts.iter().sum();
    if total == 0 || baseline.len() != counts.len() {
        return None;
    }
    let recent_shares: Vec<f64> = counts.iter().map(|&c| c as f64 / total as f64).collect();
    Some(SignalDrift {
        signal: Signal::ClassMix,
        bins: CLASS_NAMES.iter().map(|c| c.to_string()).collect(),
        psi: psi(baseline, &recent_shares),
        ks: None,
        baseline_shares: baseline.to_vec(),
        recent_shares,
        recent_values: total,
    })
}

/// Share of `values` in each bin `(-inf, e0], (e0, e1], ..., (e_last, inf)`.
pub fn shares_in_bins(values: &[f32], edges: &[f32]) -> Vec<f64> {
    let mut counts = vec![0usize; edges.len() + 1];
    for value in values {
        counts[edges.partition_point(|edge| edge < value)] += 1;
    }
    let total = values.len().max(1) as f64;
    counts.iter().map(|&c| c as f64 / total).collect()
}

/// Labels for the bins `edges` bound, with as many decimals as it takes to tell adjacent edges apart
/// (top probabilities crowd below 1).
fn bin_labels(edges: &[f32]) -> Vec<String> {
    let decimals = (0..=4)
        .find(|&decimals| {
            let shown: Vec<String> = edges.iter().map(|e| format!("{e:.decimals$}")).collect();
            shown.windows(2).all(|pair| pair[0] != pair[1])
        })
        .unwrap_or(4);
    let format = |v: f32| format!("{v:.decimals$}");
    let mut labels = Vec::with_capacity(edges.len() + 1);
    let mut lower: Option<f32> = None;
    for &edge in edges {
        labels.push(match lower {
            None => format!("≤ {}", format(edge)),
            Some(lower) => format!("{}–{}", format(lower), format(edge)),
        });
        lower = Some(edge);
    }
    labels.push(match lower {
        None => "all".to_string(),
        Some(lower) => format!("> {}", format(lower)),
    });
    labels
}

/// Population stability index of `actual` against `expected` (shares over the same bins):
/// `sum((a - e) * ln(a / e))`, an empty bin counted as [`EMPTY_BIN_SHARE`]. Below 0.1 is
/// commonly read as stable, above 0.2 as a shift worth acting on.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(EMPTY_BIN_SHARE), a.max(EMPTY_BIN_SHARE));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical
/// distribution functions. Both slices must be sorted.
pub fn ks_statistic(a: &[f32], b: &[f32]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut largest) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        // Step past every value equal to the smaller one on both sides: ties move together.
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        largest = largest.max((i as f64 / n - j as f64 / m).abs());
    }
    largest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_matches_a_hand_computation() {
        // (0.7 - 0.5) ln(0.7/0.5) + (0.3 - 0.5) ln(0.3/0.5)
        //   = 0.2 * 0.336472 + 0.2 * 0.510826 = 0.169460
        let value = psi(&[0.5, 0.5], &[0.7, 0.3]);
        assert!((value - 0.169_460).abs() < 1e-5, "{value}");
        assert_eq!(psi(&[0.25; 4], &[0.25; 4]), 0.0);
        // An empty recent bin counts as 1e-4: (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(2)
        //   = 0.4999 * 8.517193 + 0.5 * 0.693147 = 4.604318
        let value = psi(&[0.5, 0.5], &[0.0, 1.0]);
        assert!((value - 4.604_322).abs() < 1e-4, "{value}");
    }

    #[test]
    fn ks_matches_a_hand_computation() {
        // F_a - F_b at 1, 2, 3, 4: 1/4, 2/4, 3/4 - 1/4, 1 - 2/4: the largest gap is 0.5.
        assert_eq!(
            ks_statistic(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]),
            0.5
        );
        // At 3: F_a = 1, F_b = 2/4 (1.5 and 2.5): 0.5.
        assert_eq!(ks_statistic(&[1.0, 2.0, 3.0], &[1.5, 2.5, 3.5, 4.5]), 0.5);
        // Ties move together: equal samples have no gap, disjoint ones the largest.
        assert_eq!(ks_statistic(&[1.0, 1.0, 2.0], &[1.0, 1.0, 2.0]), 0.0);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
    }

    #[test]
    fn bins_are_the_baselines_deciles_and_ties_merge() {
        let baseline = NumericBaseline::new((1..=100).rev().map(|v| v as f32).collect()).unwrap();
        assert_eq!(
            baseline.bin_edges(),
            vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]
        );
        let shares = shares_in_bins(&baseline.values, &baseline.bin_edges());
        assert!(
            shares.iter().all(|&s| (s - 0.1).abs() < 1e-12),
            "{shares:?}"
        );
        // Nine in ten slices at 512 px, one at 256: one edge, two bins.
        let mut sizes = vec![512.0; 90];
        sizes.extend(vec![256.0; 10]);
        let baseline = NumericBaseline::new(sizes).unwrap();
        assert_eq!(baseline.bin_edges(), vec![256.0]);
        assert_eq!(
            shares_in_bins(&baseline.values, &baseline.bin_edges()),
            vec![0.1, 0.9]
        );
    }

    #[test]
    fn a_shifted_sample_drifts_and_the_same_one_does_not() {
        let values: Vec<f32> = (0..500).map(|i| (i % 100) as f32).collect();
        let baseline = NumericBaseline::new(values.clone()).unwrap();
        let same = compare_numeric(Signal::MeanIntensity, &baseline, &values).unwrap();
        assert!(same.psi < 1e-9 && same.ks == Some(0.0), "{same:?}");
        let shifted: Vec<f32> = values.iter().map(|v| v + 30.0).collect();
        let moved = compare_numeric(Signal::MeanIntensity, &baseline, &shifted).unwrap();
        assert!(moved.psi > 0.2, "{moved:?}");
        assert!((moved.ks.unwrap() - 0.3).abs() < 1e-9, "{moved:?}");
        assert_eq!(moved.bins.len(), moved.recent_shares.len());
    }

    #[test]
    fn class_mix_psi_is_over_the_classes() {
        let drift = compare_class_mix(&[0.25; 4], &[50, 50, 0, 0]).unwrap();
        // 2 * (0.5 - 0.25) ln 2 + 2 * (1e-4 - 0.25) ln(1e-4 / 0.25) = 0.346574 + 3.910458
        assert!((drift.psi - 4.257_02).abs() < 1e-3, "{}", drift.psi);
        assert_eq!(drift.ks, None);
        assert!(compare_class_mix(&[0.25; 4], &[0; 4]).is_none());
    }

    #[test]
    fn bin_labels_have_the_decimals_that_tell_edges_apart() {
        assert_eq!(
            bin_labels(&[256.0, 512.0]),
            vec!["≤ 256", "256–512", "> 512"]
        );
        assert_eq!(
            bin_labels(&[0.991, 0.997, 0.999]),
            vec!["≤ 0.991", "0.991–0.997", "0.997–0.999", "> 0.999"]
        );
        assert_eq!(bin_labels(&[]), vec!["all"]);
    }

    #[test]
    fn large_baselines_keep_evenly_spaced_order_statistics() {
        let baseline = NumericBaseline::new((0..10_000).map(|v| v as f32).collect()).unwrap();
        assert_eq!(baseline.values.len(), MAX_BASELINE_VALUES);
        assert_eq!(baseline.values[0], 0.0);
        assert_eq!(baseline.values[MAX_BASELINE_VALUES - 1], 9999.0);
        assert!(NumericBaseline::new(vec![f32::NAN]).is_none());
    }

    #[test]
    fn the_baseline_holds_what_the_model_answered_and_what_its_images_showed() {
        let mut validation = ImageCache {
            size: 2,
            ..Default::default()
        };
        validation.push(&[0, 0, 100, 100], 0);
        validation.source_sizes.push(512.0);
        validation.push(&[10, 10, 10, 10], 2);
        validation.source_sizes.push(256.0);
        let probabilities = vec![vec![0.7, 0.1, 0.1, 0.1], vec![0.1, 0.1, 0.2, 0.6]];
        let baseline = DriftBaseline::from_validation(&validation, &[0.5, 1.5], &probabilities);
        assert_eq!(baseline.images, 2);
        assert_eq!(baseline.class_mix, vec![0.5, 0.0, 0.0, 0.5]);
        assert_eq!(baseline.top_probability.unwrap().values, vec![0.6, 0.7]);
        assert_eq!(baseline.not_mri_distance.unwrap().values, vec![0.5, 1.5]);
        assert_eq!(baseline.mean_intensity.unwrap().values, vec![10.0, 50.0]);
        assert_eq!(baseline.contrast.unwrap().values, vec![0.0, 50.0]);
        assert_eq!(baseline.size.unwrap().values, vec![256.0, 512.0]);
        // Without a not-an-MRI check or known sizes, those signals have no baseline.
        validation.source_sizes.clear();
        let bare = DriftBaseline::from_validation(&validation, &[], &probabilities);
        assert!(bare.not_mri_distance.is_none() && bare.size.is_none());
    }

    #[test]
    fn slice_signals_measure_the_model_input_and_the_sent_size() {
        let signals = SliceSignals::measure(&[0, 0, 100, 100], 512, 128);
        assert_eq!(signals.mean_intensity, 50.0);
        assert_eq!(signals.contrast, 50.0);
        assert_eq!(signals.size, 256.0);
    }
}
