//! Prediction: `POST /predict` (multipart field `file`) and `POST /predict/batch` (multipart field
//! `files`), with the original service's field names. The Predict page calls the same functions.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

pub use domain::dicom::{DicomSummary, WindowUsed};

use crate::error::AppError;

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
    /// The slice as the model saw it (cropped to the head, square, `slice_size` pixels a side),
    /// PNG, base64.
    pub slice_png: String,
    pub slice_size: u32,
    /// The slice with the heatmap blended over it at 60% opacity, PNG, base64.
    pub overlay_png: String,
    pub explain_time_seconds: f64,
}

#[server(prefix = "", endpoint = "predict/explain", input = MultipartFormData)]
pub async fn explain_prediction(data: MultipartData) -> Result<ExplanationResponse, AppError> {
    use crate::ssr::{explanations, multipart};
    let state = crate::ssr::state()?;
    let form = multipart::read_form(data, &state.service.limits()).await?;
    let file = form.single_file("file")?;
    explanations::explain(&state, file.bytes).await
}

/// Any reader. With the text field `override_refusal=true`, an annotator (or admin) has a slice
/// the not-an-MRI check refused classified anyway: the answer is flagged for review, says
/// `refusal_overridden`, and the override goes into the audit trail.
#[server(prefix = "", endpoint = "predict", input = MultipartFormData)]
pub async fn predict(data: MultipartData) -> Result<PredictionResponse, AppError> {
    use crate::ssr::{multipart, predictions};
    let state = crate::ssr::state()?;
    let form = multipart::read_form(data, &state.service.limits()).await?;
    let override_refusal = match form.text("override_refusal") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "override_refusal must be true or false, not {other:?}"
            )))
        }
    };
    let file = form.single_file("file")?;
    if override_refusal {
        let caller = crate::ssr::auth::require(crate::api::auth::Role::Annotator)?;
        return predictions::classify_past_refusal(&state, &caller, file.bytes, &file.filename)
            .await;
    }
    predictions::classify(&state, file.bytes, db::predictions::Source::Api).await
}

#[server(prefix = "", endpoint = "predict/batch", input = MultipartFormData)]
pub async fn predict_batch(data: MultipartData) -> Result<BatchPredictionResponse, AppError> {
    use crate::ssr::{multipart, predictions};
    let state = crate::ssr::state()?;
    let form = multipart::read_form(data, &state.service.limits()).await?;
    let files = form.files_named("files")?;
    let total_images = files.len();
    let (filenames, images): (Vec<String>, Vec<Vec<u8>>) =
        files.into_iter().map(|f| (f.filename, f.bytes)).unzip();
    let outcomes = predictions::classify_many(
        &state,
        images,
        db::predictions::Source::Batch,
        predictions::Frames::Every,
    )
    .await?;
    let mut results = Vec::with_capacity(outcomes.len());
    for (file, outcome) in outcomes {
        let filename = filenames.get(file).cloned().unwrap_or_default();
        results.push(match outcome {
            Ok(prediction) => BatchItem::Predicted {
                filename,
                prediction,
            },
            Err(AppError::BadRequest(reason)) => BatchItem::Failed {
                filename,
                error: reason,
                detail: None,
                score: None,
                threshold: None,
            },
            Err(AppError::NotBrainMri {
                detail,
                score,
                threshold,
            }) => BatchItem::Failed {
                filename,
                error: "not_brain_mri".into(),
                detail: Some(detail),
                score,
                threshold,
            },
            Err(AppError::UnsupportedMediaType(reason)) => BatchItem::Failed {
                filename,
                error: reason,
                detail: None,
                score: None,
                threshold: None,
            },
            Err(other) => return Err(other),
        });
    }
    Ok(BatchPredictionResponse {
        results,
        total_images,
        timestamp: db::now_rfc3339(),
    })
}
