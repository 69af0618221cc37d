//! A prediction as REST clients and the Predict page receive it: probabilities, review flag, DICOM
//! summary, batch items and Grad-CAM explanations.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use domain::dicom::{DicomSummary, WindowUsed};

/// One image's answer, field for field as the original service returned it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PredictionResponse {
    pub predicted_class: String,
    pub confidence: f64,
    /// Every class's calibrated probability.
    pub probabilities: BTreeMap<String, f64>,
    pub prediction_time_seconds: f64,
    pub timestamp: String,
    pub model_version: String,
    /// The calibrated top probability is below the model's review threshold: a radiologist
    /// should look before anyone relies on this answer.
    #[serde(default)]
    pub needs_review: bool,
    /// The second most likely class.
    #[serde(default)]
    pub runner_up: Option<String>,
    /// How far the slice's features lie from the training slices' (about 1 is typical; above the
    /// model's threshold the image is refused as not a brain MRI).
    #[serde(default)]
    pub ood_score: Option<f64>,
    /// For a DICOM input: what the file says about the acquisition (never about the patient)
    /// and which frame this answer read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dicom: Option<Box<DicomInfo>>,
    /// The not-an-MRI check refused this slice and an annotator had it classified anyway
    /// (`override_refusal`); the answer needs review.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refusal_overridden: bool,
    /// The recorded prediction, for feedback (`POST /predictions/{id}/feedback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_id: Option<i64>,
    /// Until when the server keeps this slice (the pixels only, as an 8-bit PNG) for reviewers, so
    /// a correction can become training data; absent when it is not kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slice_kept_until: Option<String>,
}

/// A DICOM input's de-identified summary. A single prediction reads the middle frame of a
/// multi-frame file; a batch answers every frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DicomInfo {
    /// The frame this answer read, 1-based as DICOM numbers them, of `frames`.
    pub frame: u32,
    #[serde(flatten)]
    pub summary: DicomSummary,
}

/// One file of a batch: its prediction, or why it could not be classified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum BatchItem {
    Predicted {
        filename: String,
        #[serde(flatten)]
        prediction: PredictionResponse,
    },
    Failed {
        filename: String,
        /// The reason (for unreadable files), or `not_brain_mri` with `detail`, `score` and
        /// `threshold` for an image the model refuses.
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        score: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        threshold: Option<f64>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BatchPredictionResponse {
    /// One entry per file, or per frame of a multi-frame DICOM file (its `dicom.frame` says which).
    pub results: Vec<BatchItem>,
    /// Files received.
    pub total_images: usize,
    pub timestamp: String,
}

/// A prediction and where the model looked for it (Grad-CAM of the predicted class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExplanationResponse {
    #[serde(flatten)]
    pub prediction: PredictionResponse,
    /// `grid_height` rows of `grid_width` cells, 0-1 (the hottest cell is 1), over `slice_png`.
    pub heatmap: Vec<Vec<f32>>,
    pub grid_width: usize,
    pub grid_height: usize,
    /// The slice the model saw (cropped to the head, square), PNG, base64, drawn from the original
    /// pixels at `slice_size` pixels a side: the model's input size or more (up to 448), so a large
    /// scan is not shown blurred.
    pub slice_png: String,
    pub slice_size: u32,
    /// The slice with the heatmap blended over it at 60% opacity, PNG, base64.
    pub overlay_png: String,
    pub explain_time_seconds: f64,
}
