//! `POST /predict/explain`: a prediction with its Grad-CAM heatmap. It runs on a blocking thread
//! of its own rather than the batching inference thread, since its backward pass cannot share a
//! batch. The rate limiter's prediction budget bounds each client; a small pool of permits bounds
//! them all, so a crowd of explanations cannot take every core from plain predictions, and one
//! client may run one explanation at a time, so it cannot hold every permit.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine;

use crate::error::AppError;
use crate::ssr::predictions::{dicom_info, on_blocking_thread, record, serving_model};
use crate::ssr::AppState;
use crate::types::predict::{ExplanationResponse, PredictionResponse};

/// Opacity of the heatmap in the overlay PNG (the Predict page draws its own, with a slider).
const OVERLAY_OPACITY: f32 = 0.6;
/// Explanations computed at once, at most (the machine this was sized on has two cores).
static EXPLAIN_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// Clients with an explanation running.
static EXPLAINING: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
/// What a busy answer tells the client to wait: about one explanation's time.
const BUSY_RETRY_SECONDS: u64 = 2;

/// A client's one explanation slot, given back when the explanation ends (or is cancelled).
pub(crate) struct ClientSlot(String);

impl ClientSlot {
    fn take(client: String) -> Option<Self> {
        let mut explaining = EXPLAINING.lock().unwrap_or_else(|p| p.into_inner());
        // Not `then_some`: it would build (and drop, under this lock) a slot on refusal too.
        if explaining.insert(client.clone()) {
            Some(Self(client))
        } else {
            None
        }
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        EXPLAINING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

fn busy(why: &str) -> AppError {
    crate::ssr::budget::set_retry_after(BUSY_RETRY_SECONDS);
    AppError::Unavailable(format!("{why}; retry in {BUSY_RETRY_SECONDS} s"))
}

/// This client's explanation slot and one of the server's permits, or 503 when either is taken.
pub(crate) fn explanation_turn(
) -> Result<(ClientSlot, tokio::sync::SemaphorePermit<'static>), AppError> {
    let client = crate::ssr::auth::principal().client.unwrap_or_default();
    let slot = ClientSlot::take(client)
        .ok_or_else(|| busy("this client already has an explanation in progress"))?;
    let permit = EXPLAIN_PERMITS
        .try_acquire()
        .map_err(|_| busy("the server is at capacity (too many explanations in progress)"))?;
    Ok((slot, permit))
}

/// A kept prediction's slice explained by the serving model, for a reviewer: where the model looks
/// on it now (the answering version may have been replaced; the answer says which version
/// explained). Records no prediction and counts none: nobody asked for a new answer.
pub async fn explain_kept(state: &AppState, id: i64) -> Result<ExplanationResponse, AppError> {
    let bytes = crate::ssr::feedback::slice(state, id).await?;
    explain_unrecorded(state, bytes, Some(id)).await
}

/// `bytes` explained by the serving model without recording or counting a prediction (a kept
/// slice, a PACS instance already classified); the answer carries `prediction_id` if it has one.
pub async fn explain_unrecorded(
    state: &AppState,
    bytes: Vec<u8>,
    prediction_id: Option<i64>,
) -> Result<ExplanationResponse, AppError> {
    let model = serving_model(state)?;
    let _turn = explanation_turn()?;
    let started = Instant::now();
    let classifier = model.classifier.clone();
    // A slice an annotator had classified past the not-an-MRI check is refused here as before
    // (422): its heatmap would explain a model looking at something it does not know.
    let explanation = on_blocking_thread("explanation without a prediction", move || {
        classifier.explain_bytes(&bytes)
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let answer = PredictionResponse {
        prediction_id,
        dicom: explanation
            .dicom
            .as_ref()
            .map(|frame| Box::new(dicom_info(&frame.summary, frame.index))),
        ..crate::ssr::predictions::response(&model, explanation.prediction.clone(), seconds)
    };
    explanation_response(&explanation, answer, seconds)
}

pub async fn explain(state: &AppState, bytes: Vec<u8>) -> Result<ExplanationResponse, AppError> {
    let model = serving_model(state)?;
    let _turn = explanation_turn()?;
    let started = Instant::now();
    let classifier = model.classifier.clone();
    let kept_bytes = state
        .service
        .slice_retention
        .is_some()
        .then(|| bytes.clone());
    let explained = on_blocking_thread("explanation", move || {
        let explanation = classifier.explain_bytes(&bytes)?;
        let signals =
            crate::ssr::predictions::measure_signals(&bytes, &classifier.manifest().preprocess);
        Ok((explanation, signals))
    });
    let (explanation, signals) = match explained.await {
        Ok(explained) => explained,
        Err(error) => {
            if matches!(error, AppError::NotBrainMri { .. }) {
                state.traffic.count_refusal();
            }
            return Err(error);
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    // One slice, one request: the Monitor's time per image and per request both count it.
    state.latencies.record(seconds * 1000.0);
    state.request_latencies.record(seconds * 1000.0);
    state
        .traffic
        .count_prediction(seconds * 1000.0, explanation.prediction.needs_review);
    let recorded = crate::ssr::predictions::Recorded {
        seconds,
        source: db::predictions::Source::Api,
        slice: kept_bytes.map(crate::ssr::feedback::SliceSource::Bytes),
        signals,
    };
    let recorded = record(state, &model, explanation.prediction.clone(), recorded).await?;
    let answer = PredictionResponse {
        dicom: explanation
            .dicom
            .as_ref()
            .map(|frame| Box::new(dicom_info(&frame.summary, frame.index))),
        ..recorded
    };
    explanation_response(&explanation, answer, seconds)
}

/// The explanation as the client sees it: the slice, its heat grid and the overlay, with `answer`.
fn explanation_response(
    explanation: &ml::explain::Explanation,
    answer: PredictionResponse,
    seconds: f64,
) -> Result<ExplanationResponse, AppError> {
    let slice_png = png_base64(image::DynamicImage::ImageLuma8(explanation.view.clone()))?;
    let overlay_png = png_base64(image::DynamicImage::ImageRgb8(
        explanation.overlay(OVERLAY_OPACITY),
    ))?;
    let heatmap = explanation
        .heatmap
        .chunks(explanation.grid_width.max(1))
        .map(<[f32]>::to_vec)
        .collect();
    Ok(ExplanationResponse {
        heatmap,
        grid_width: explanation.grid_width,
        grid_height: explanation.grid_height,
        slice_png,
        slice_size: explanation.view.width(),
        overlay_png,
        explain_time_seconds: seconds,
        prediction: answer,
    })
}

fn png_base64(image: image::DynamicImage) -> Result<String, AppError> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|error| {
            tracing::error!("cannot encode an explanation PNG: {error}");
            AppError::Internal
        })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}
