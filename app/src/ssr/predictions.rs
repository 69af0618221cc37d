//! Classifying uploaded bytes with the serving model and recording each prediction.
//!
//! Decoding and preprocessing run on a blocking thread per request (they are independent and cheap);
//! the forward pass goes through the inference thread, which batches concurrent requests.

use std::sync::Arc;
use std::time::Instant;

use crate::api::predict::PredictionResponse;
use crate::error::AppError;
use crate::ssr::models::ServingModel;
use crate::ssr::AppState;

/// Classifies one image.
pub async fn classify(
    state: &AppState,
    bytes: Vec<u8>,
    source: db::predictions::Source,
) -> Result<PredictionResponse, AppError> {
    classify_many(state, vec![bytes], source)
        .await?
        .pop()
        .unwrap_or(Err(AppError::Internal))
}

/// Classifies several images in one forward pass. The outer error fails the whole request (no
/// model, server at capacity); an image that cannot be decoded (400) or is not a brain MRI slice
/// (422) fails alone.
pub async fn classify_many(
    state: &AppState,
    images: Vec<Vec<u8>>,
    source: db::predictions::Source,
) -> Result<Vec<Result<PredictionResponse, AppError>>, AppError> {
    let model = state.models.current().ok_or_else(|| {
        AppError::Unavailable("no model is loaded; check the server log and MODEL_DIR".into())
    })?;
    let started = Instant::now();
    let config = model.classifier.manifest().preprocess;
    let prepared = tokio::task::spawn_blocking(move || {
        images
            .iter()
            .map(|bytes| ml::preprocess::preprocess_bytes(bytes, &config))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|error| {
        leptos::logging::error!("preprocessing task failed: {error}");
        AppError::Internal
    })?;
    let inputs: Vec<f32> = prepared.iter().flatten().flatten().copied().collect();
    let mut predictions = if inputs.is_empty() {
        Vec::new()
    } else {
        forward(state, &model, inputs).await?
    }
    .into_iter();
    let seconds = started.elapsed().as_secs_f64();
    state.latencies.record(seconds * 1000.0);

    let mut results = Vec::with_capacity(prepared.len());
    for outcome in prepared {
        let result = match outcome {
            Err(error) => Err(image_error(error)),
            Ok(_) => match predictions.next() {
                Some(Ok(prediction)) => {
                    record(state, &model, &prediction, seconds, source).await?;
                    Ok(response(&model, prediction, seconds))
                }
                Some(Err(refusal)) => Err(refusal),
                None => Err(AppError::Internal),
            },
        };
        results.push(result);
    }
    Ok(results)
}

/// Queues the forward pass on the inference thread and waits for its rows, one result per image
/// (refused images as errors of their own). Records nothing: the upload label check calls it
/// directly, since its opinions are not predictions anyone asked for.
pub async fn forward(
    state: &AppState,
    model: &Arc<ServingModel>,
    inputs: Vec<f32>,
) -> Result<Vec<Result<ml::Prediction, AppError>>, AppError> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let reply: ml::batching::Reply = Box::new(move |result| {
        // The request may have been cancelled meanwhile; nobody is left to tell.
        let _ = sender.send(result);
    });
    state
        .inference
        .submit(model.classifier.clone(), inputs, reply)
        .map_err(|error| match error {
            ml::batching::SubmitError::Full => AppError::Unavailable(
                "the server is at capacity (too many predictions waiting); retry shortly".into(),
            ),
            ml::batching::SubmitError::Stopped => {
                leptos::logging::error!("the inference thread has stopped");
                AppError::Internal
            }
        })?;
    Ok(receiver
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(image_error)?
        .into_iter()
        .map(|result| result.map_err(image_error))
        .collect())
}

pub(crate) async fn record(
    state: &AppState,
    model: &ServingModel,
    prediction: &ml::Prediction,
    seconds: f64,
    source: db::predictions::Source,
) -> Result<(), AppError> {
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
    Ok(())
}

pub(crate) fn response(
    model: &ServingModel,
    prediction: ml::Prediction,
    seconds: f64,
) -> PredictionResponse {
    PredictionResponse {
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
        needs_review: prediction.needs_review,
        runner_up: prediction.runner_up,
        ood_score: prediction.ood_distance.map(f64::from),
    }
}

/// Bad image bytes are the client's problem (400); anything else the ML layer reports is ours.
pub fn image_error(error: ml::MlError) -> AppError {
    match error {
        ml::MlError::Decode(reason) => {
            AppError::BadRequest(format!("the file is not a readable image: {reason}"))
        }
        ml::MlError::EmptyImage => AppError::BadRequest("the file is empty (0 bytes)".into()),
        error @ ml::MlError::NotBrainMri {
            distance,
            threshold,
        } => AppError::NotBrainMri {
            detail: error.to_string(),
            score: f64::from(distance),
            threshold: f64::from(threshold),
        },
        other => {
            leptos::logging::error!("prediction failed: {other}");
            AppError::Internal
        }
    }
}
