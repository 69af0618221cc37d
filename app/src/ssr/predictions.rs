//! Classifying uploaded bytes with the serving model, off the async runtime, and recording it.

use std::time::Instant;

use crate::api::predict::PredictionResponse;
use crate::error::AppError;
use crate::ssr::AppState;

/// Decodes, preprocesses and classifies `bytes` on a blocking thread (the forward pass is CPU-bound
/// and must not stall other requests), then records the prediction.
pub async fn classify(
    state: &AppState,
    bytes: Vec<u8>,
    source: db::predictions::Source,
) -> Result<PredictionResponse, AppError> {
    let model = state.models.current().ok_or_else(|| {
        AppError::Unavailable("no model is loaded; check the server log and MODEL_DIR".into())
    })?;
    let serving = model.clone();
    let (result, seconds) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let result = serving.classifier.predict_bytes(&bytes);
        (result, started.elapsed().as_secs_f64())
    })
    .await
    .map_err(|error| {
        leptos::logging::error!("prediction task failed: {error}");
        AppError::Internal
    })?;
    let prediction = result.map_err(image_error)?;
    state.latencies.record(seconds * 1000.0);
    db::predictions::insert(
        &state.db,
        &db::predictions::NewPrediction {
            model_version: &model.version,
            predicted_class: &prediction.predicted_class,
            confidence: f64::from(prediction.confidence),
            latency_ms: seconds * 1000.0,
            source,
        },
    )
    .await?;
    Ok(PredictionResponse {
        predicted_class: prediction.predicted_class,
        confidence: f64::from(prediction.confidence),
        probabilities: prediction
            .probabilities
            .into_iter()
            .map(|(class, p)| (class, f64::from(p)))
            .collect(),
        prediction_time_seconds: seconds,
        timestamp: db::now_rfc3339(),
        model_version: model.version.clone(),
    })
}

/// Bad image bytes are the client's problem (400); anything else the ML layer reports is ours.
pub fn image_error(error: ml::MlError) -> AppError {
    match error {
        ml::MlError::Decode(reason) => {
            AppError::BadRequest(format!("the file is not a readable image: {reason}"))
        }
        ml::MlError::EmptyImage => AppError::BadRequest("the file is empty (0 bytes)".into()),
        other => {
            leptos::logging::error!("prediction failed: {other}");
            AppError::Internal
        }
    }
}
