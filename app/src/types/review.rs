//! Held uploads waiting for an annotator and the decisions one can take on them.

use serde::{Deserialize, Serialize};

/// How many held uploads one page of the review list shows at most.
pub const MAX_REVIEW_PAGE: i64 = 200;

/// A held upload, with what the model saw instead of its label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HeldUpload {
    pub id: i64,
    pub filename: String,
    /// The label it was uploaded with.
    pub class_name: String,
    /// The class the serving model gave it, and with what probability.
    pub predicted_class: String,
    pub predicted_probability: f64,
    /// The probability the model gave the uploaded label.
    pub label_probability: f64,
    /// The version that judged it.
    pub model_version: String,
    pub uploaded_at: String,
    pub uploaded_by: Option<String>,
    /// Where to fetch the image (annotators only).
    pub image_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HeldUploadsResponse {
    pub held: Vec<HeldUpload>,
    /// Every held upload, also those beyond `limit`.
    pub total: i64,
}

/// What an annotator decides about a held upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ReviewDecision {
    /// The uploaded label is right: train on it.
    Confirm,
    /// The label is wrong: train on it as `class_name`.
    Relabel,
    /// Never train on it (kept for the record).
    Discard,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReviewResult {
    pub id: i64,
    pub decision: ReviewDecision,
    /// The label it keeps (for a discarded upload, the one it had).
    pub class_name: String,
    /// Uploads now waiting for the next retraining job.
    pub pending_images: i64,
    /// Uploads still held.
    pub held_remaining: i64,
}
