//! Prediction: `POST /predict` (multipart field `file`) and `POST /predict/batch` (multipart field
//! `files`), with the original service's field names. The Predict page calls the same functions.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};

use crate::types::predict::{BatchPredictionResponse, ExplanationResponse, PredictionResponse};

use crate::error::AppError;

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
        let caller = crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
        return predictions::classify_past_refusal(&state, &caller, file.bytes, &file.filename)
            .await;
    }
    predictions::classify(&state, file.bytes, db::predictions::Source::Api).await
}

#[server(prefix = "", endpoint = "predict/batch", input = MultipartFormData)]
pub async fn predict_batch(data: MultipartData) -> Result<BatchPredictionResponse, AppError> {
    use crate::ssr::{multipart, predictions};
    use crate::types::predict::BatchItem;
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

/// `POST /predict/series` (multipart field `files`: DICOM files, or one zip of them): any reader, as
/// `/predict`. Each series found is ordered and answered slice by slice, with one verdict.
#[server(prefix = "", endpoint = "predict/series", input = MultipartFormData)]
pub async fn predict_series(
    data: MultipartData,
) -> Result<crate::types::series::SeriesPredictionResponse, AppError> {
    use crate::ssr::{multipart, series};
    let state = crate::ssr::state()?;
    let limits = multipart::UploadLimits {
        max_files: series::MAX_SERIES_SLICES,
        ..state.service.limits()
    };
    let form = multipart::read_form(data, &limits).await?;
    let pictures = match form.text("images") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "images must be true or false, not {other:?}"
            )))
        }
    };
    let files = form.files_named("files")?;
    series::classify_series(&state, files, pictures, db::series_results::Source::Upload).await
}
