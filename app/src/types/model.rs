//! The serving model's report: per-class scores, training curves and calibration (reliability bins).

use serde::{Deserialize, Serialize};

/// How many retraining sessions' curves the report carries at most.
pub const MAX_CURVES: i64 = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClassScore {
    pub class_name: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Validation images of this class.
    pub support: u64,
}

/// One epoch of a training run. Validation figures are absent for runs that validated nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EpochPoint {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    #[serde(default)]
    pub validation_loss: Option<f64>,
    #[serde(default)]
    pub validation_accuracy: Option<f64>,
}

/// The per-epoch history of one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrainingCurve {
    pub label: String,
    /// The retraining session that produced it; `None` for the serving model's own training.
    pub session_id: Option<i64>,
    pub epochs: Vec<EpochPoint>,
}

/// One bin of a reliability diagram: validation answers whose confidence fell in
/// `[lower, upper)`, their mean confidence and how many of them were right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

/// The serving model's trust check, measured on its validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrustSummary {
    /// Images farther than this from the training slices' features are refused as not MRI.
    pub ood_threshold: f64,
    /// Share of validation MRI slices that pass the refusal.
    pub mri_pass_rate: f64,
    /// The same share of those slices altered as other scanners and exports deliver them
    /// (re-compressed, gamma, contrast, blur, resized, 16-bit), where the fit measured it.
    #[serde(default)]
    pub altered_pass_rate: Option<f64>,
    /// Answers below this calibrated confidence are flagged `needs_review`.
    pub review_threshold: f64,
    pub flagged_share: f64,
    /// Accuracy of the validation answers that are not flagged.
    pub unflagged_accuracy: f64,
    /// Expected calibration error before and after temperature calibration.
    pub ece_uncalibrated: f64,
    pub ece_calibrated: f64,
    pub reliability_uncalibrated: Vec<ReliabilityBin>,
    pub reliability_calibrated: Vec<ReliabilityBin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelReport {
    pub version: String,
    pub created_at: String,
    pub activated_at: Option<String>,
    pub parameters: usize,
    /// The network: `cnn` or `efficientnet-lite0`.
    pub architecture: String,
    pub input_size: u32,
    /// Validation images the scores below were measured on.
    pub validation_images: u64,
    /// Which set those images are; absent for versions saved before it was recorded.
    #[serde(default)]
    pub evaluated_on: Option<domain::comparison::EvaluationSet>,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub classes: Vec<String>,
    pub per_class: Vec<ClassScore>,
    /// Rows are true classes, columns predicted classes, both in `classes` order.
    pub confusion_matrix: Vec<Vec<u64>>,
    /// The serving model's own training first, then retraining sessions, newest first.
    pub curves: Vec<TrainingCurve>,
    /// Absent for models saved before the trust check existed.
    #[serde(default)]
    pub trust: Option<TrustSummary>,
}

impl ModelReport {
    /// The off-diagonal cell with the most images: (true class, predicted class, count).
    pub fn most_common_confusion(&self) -> Option<(&str, &str, u64)> {
        let mut worst: Option<(usize, usize, u64)> = None;
        for (row, counts) in self.confusion_matrix.iter().enumerate() {
            for (column, &count) in counts.iter().enumerate() {
                if row != column && count > 0 && worst.is_none_or(|(_, _, c)| count > c) {
                    worst = Some((row, column, count));
                }
            }
        }
        let (row, column, count) = worst?;
        Some((
            self.classes.get(row)?.as_str(),
            self.classes.get(column)?.as_str(),
            count,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(confusion_matrix: Vec<Vec<u64>>) -> ModelReport {
        ModelReport {
            version: "v1".into(),
            created_at: String::new(),
            activated_at: None,
            parameters: 0,
            architecture: "cnn".into(),
            input_size: 112,
            validation_images: 0,
            evaluated_on: None,
            accuracy: 0.0,
            macro_f1: 0.0,
            classes: vec!["a".into(), "b".into(), "c".into()],
            per_class: vec![],
            confusion_matrix,
            curves: vec![],
            trust: None,
        }
    }

    #[test]
    fn the_most_common_confusion_ignores_the_diagonal() {
        let r = report(vec![vec![90, 1, 0], vec![7, 80, 2], vec![0, 3, 99]]);
        assert_eq!(r.most_common_confusion(), Some(("b", "a", 7)));
        let perfect = report(vec![vec![5, 0, 0], vec![0, 5, 0], vec![0, 0, 5]]);
        assert_eq!(perfect.most_common_confusion(), None);
    }
}
