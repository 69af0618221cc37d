//! Reviewers' verdicts on predictions, the review queue and the accuracy reviewed answers show.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::retrain::UploadFileResult;

/// Most queue items one request may list.
pub const MAX_QUEUE_PAGE: i64 = 100;

/// A reviewer's word on a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Right,
    Wrong,
}

/// The body of `POST /predictions/{id}/feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FeedbackRequest {
    pub verdict: Verdict,
    /// The true class, required when the verdict is `wrong`.
    #[serde(default)]
    pub class_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FeedbackResponse {
    pub feedback_id: i64,
    pub prediction_id: i64,
    pub verdict: Verdict,
    /// What the slice shows, by the reviewer's word.
    pub true_class: String,
    /// For a correction: the training upload it became (stored, held for a second look, a
    /// duplicate of a stored image, or rejected with the reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadFileResult>,
}

/// A kept prediction waiting for a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QueuedPrediction {
    pub prediction_id: i64,
    pub predicted_at: String,
    pub model_version: String,
    pub predicted_class: String,
    pub confidence: f64,
    pub probabilities: BTreeMap<String, f64>,
    pub needs_review: bool,
    /// Top probability minus the runner-up's: the queue shows the smallest first.
    pub margin: Option<f64>,
    /// Where the kept slice is served (reviewers only).
    pub slice_url: String,
    pub slice_expires_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReviewQueue {
    pub items: Vec<QueuedPrediction>,
    /// Unreviewed kept predictions matching the filters, listed or not.
    pub total: i64,
}

/// One class's recall on reviewed answers: of the slices reviewers said are this class, the share
/// the version answered right, with its 95% Wilson interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReviewedRecall {
    pub class_name: String,
    pub reviewed: i64,
    pub recall: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// How a model version did on the answers reviewers judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VersionAccuracy {
    pub model_version: String,
    pub serving: bool,
    /// Verdicts on this version's answers (a prediction judged by two reviewers counts twice).
    pub reviewed: i64,
    pub confirmed: i64,
    pub accuracy: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub per_class: Vec<ReviewedRecall>,
    /// `confusion[true][predicted]`, rows and columns in `classes` order.
    pub confusion: Vec<Vec<i64>>,
}

/// `GET /metrics/accuracy`: every version that has reviewed answers, the serving one first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LiveAccuracy {
    pub classes: Vec<String>,
    pub versions: Vec<VersionAccuracy>,
}
