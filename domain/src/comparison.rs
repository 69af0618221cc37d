//! Which images an accuracy figure was measured on, and when two figures may be set side by side.
//!
//! A candidate scored 100% on two uploads and a model scored 96.3% on 857 held-out slices are not
//! two points on one scale; the versions table and the Model page say "not comparable" unless both
//! figures come from the same fixed set of images.

use serde::{Deserialize, Serialize};

/// The kind of image set a version was scored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EvaluationSetKind {
    /// The original validation split of the training folders (stratified 15%, seed 42).
    OriginalSplit,
    /// The admins' reference set of uploads, never trained on.
    ReferenceSet,
    /// A share of one retraining run's own uploads, held out from that run only.
    HeldOutUploads,
    /// The training uploads themselves (too few to hold any out).
    TrainingUploads,
}

impl EvaluationSetKind {
    /// Whether the set is the same images for every version that reports it: only then can two
    /// versions' figures on it be compared. Held-out uploads are drawn anew by every run.
    pub fn is_fixed(self) -> bool {
        matches!(self, Self::OriginalSplit | Self::ReferenceSet)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::OriginalSplit => "original validation split",
            Self::ReferenceSet => "reference set",
            Self::HeldOutUploads => "held-out uploads",
            Self::TrainingUploads => "training uploads (not held out)",
        }
    }
}

/// What one accuracy figure was measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EvaluationSet {
    pub kind: EvaluationSetKind,
    pub images: u64,
}

impl EvaluationSet {
    /// "857 images of the original validation split".
    pub fn describe(&self) -> String {
        let noun = if self.images == 1 { "image" } else { "images" };
        format!("{} {noun} of the {}", self.images, self.kind.label())
    }

    /// Two figures are comparable when both come from the same fixed set of the same size. (The
    /// reference set can grow between two runs; a different size then says it is not the same set.)
    pub fn comparable_with(&self, other: &EvaluationSet) -> bool {
        self.kind == other.kind && self.kind.is_fixed() && self.images == other.images
    }
}

/// The 95% Wilson score interval of a proportion: `successes` of `trials`.
pub fn wilson_interval(successes: u64, trials: u64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The 95% interval of the difference `p1 - p2` of two proportions (Newcombe's hybrid score
/// method from the two Wilson intervals). It treats the two figures as independent samples; on the
/// same images the true interval is narrower, so this one errs on the side of "no difference shown".
pub fn difference_interval(
    successes_1: u64,
    trials_1: u64,
    successes_2: u64,
    trials_2: u64,
) -> (f64, f64) {
    let p1 = successes_1 as f64 / trials_1.max(1) as f64;
    let p2 = successes_2 as f64 / trials_2.max(1) as f64;
    let (l1, u1) = wilson_interval(successes_1, trials_1);
    let (l2, u2) = wilson_interval(successes_2, trials_2);
    let difference = p1 - p2;
    let lower = difference - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let upper = difference + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    (lower, upper)
}

/// One version's scores on the set a comparison uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoresOnSet {
    pub version: String,
    pub accuracy: f64,
    /// Recall per class, in the comparison's `classes` order; `None` for a class the set lacks.
    pub recall: Vec<Option<f64>>,
    /// Rows are true classes, columns the version's answers.
    pub confusion_matrix: Vec<Vec<u64>>,
}

/// `first - second` in accuracy, with its 95% interval (see [`difference_interval`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccuracyDifference {
    pub difference: f64,
    pub lower: f64,
    pub upper: f64,
}

impl AccuracyDifference {
    /// Whether the interval excludes zero: the images show a difference, not noise.
    pub fn is_clear(&self) -> bool {
        self.lower > 0.0 || self.upper < 0.0
    }
}

/// Two versions side by side, on the same images when the records allow it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionComparison {
    pub version: String,
    pub against: String,
    /// Both sides were scored on the same images; the figures below exist only then.
    pub comparable: bool,
    /// In words: on which images, or why the figures cannot be set side by side.
    pub explanation: String,
    pub evaluated_on: Option<EvaluationSet>,
    pub classes: Vec<String>,
    pub first: Option<ScoresOnSet>,
    pub second: Option<ScoresOnSet>,
    pub difference: Option<AccuracyDifference>,
}

const Z95: f64 = 1.959_963_984_540_054;

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-4
    }

    #[test]
    fn wilson_matches_the_published_example() {
        // Newcombe (1998), table I: 81 of 263 -> 0.2553 to 0.3662.
        let (lower, upper) = wilson_interval(81, 263);
        assert!(
            close(lower, 0.2553) && close(upper, 0.3662),
            "{lower} {upper}"
        );
        // All right on two images says little: 0.342 to 1.
        let (lower, upper) = wilson_interval(2, 2);
        assert!(close(lower, 0.3424) && close(upper, 1.0), "{lower} {upper}");
    }

    #[test]
    fn newcombe_difference_matches_the_published_example() {
        // Newcombe (1998b), example (a): 56/70 vs 48/80 -> 0.0524 to 0.3339.
        let (lower, upper) = difference_interval(56, 70, 48, 80);
        assert!(
            close(lower, 0.0524) && close(upper, 0.3339),
            "{lower} {upper}"
        );
    }

    #[test]
    fn only_the_same_fixed_set_is_comparable() {
        let split = EvaluationSet {
            kind: EvaluationSetKind::OriginalSplit,
            images: 857,
        };
        assert!(split.comparable_with(&split));
        let smaller = EvaluationSet {
            images: 800,
            ..split
        };
        assert!(!split.comparable_with(&smaller));
        let uploads = EvaluationSet {
            kind: EvaluationSetKind::HeldOutUploads,
            images: 857,
        };
        assert!(!uploads.comparable_with(&uploads), "each run draws its own");
        assert!(!split.comparable_with(&uploads));
        assert_eq!(
            split.describe(),
            "857 images of the original validation split"
        );
    }
}
