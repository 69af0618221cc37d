//! Classifying uploaded bytes with the serving model and recording each prediction.
//!
//! Decoding and preprocessing run on a blocking thread per request (they are independent and cheap);
//! the forward pass goes through the inference thread, which batches concurrent requests.

use std::sync::Arc;
use std::time::Instant;

use crate::error::AppError;
use crate::ssr::models::ServingModel;
use crate::ssr::AppState;
use crate::types::predict::{DicomInfo, PredictionResponse};

/// Frames one request may send through the model: a batch's files and their DICOM frames.
pub const MAX_FRAMES_PER_REQUEST: usize = 64;

/// Which frames of a multi-frame DICOM file to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frames {
    /// The middle one: a single prediction.
    Middle,
    /// Each one: a batch.
    Every,
}

/// One answer: the index of the file it belongs to, and its prediction or why there is none.
pub type Answer = (usize, Result<PredictionResponse, AppError>);

/// The model serving now, or 503 when none could be loaded.
pub fn serving_model(state: &AppState) -> Result<Arc<ServingModel>, AppError> {
    state.models.current().ok_or_else(|| {
        AppError::Unavailable("no model is loaded; check the server log and MODEL_DIR".into())
    })
}

/// Runs one image's model work on a blocking thread; a panic there is logged and answered 500,
/// and the ML layer's error becomes the client's 4xx where it is the image's fault.
pub async fn on_blocking_thread<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, ml::MlError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| {
            tracing::error!("{what} task failed: {error}");
            AppError::Internal
        })?
        .map_err(image_error)
}

/// Classifies one image (of a DICOM file, its middle frame).
pub async fn classify(
    state: &AppState,
    bytes: Vec<u8>,
    source: db::predictions::Source,
) -> Result<PredictionResponse, AppError> {
    classify_many(state, vec![bytes], source, Frames::Middle)
        .await?
        .pop()
        .map_or(Err(AppError::Internal), |(_, answer)| answer)
}

/// Classifies several images in one forward pass, one answer per image or per DICOM frame (in
/// order). The outer error fails the whole request (no model, server at capacity, too many
/// frames); an image that cannot be decoded (400), is not a brain MRI slice (422) or is encoded
/// in a way this build cannot decode (415) fails alone.
pub async fn classify_many(
    state: &AppState,
    images: Vec<Vec<u8>>,
    source: db::predictions::Source,
    frames: Frames,
) -> Result<Vec<Answer>, AppError> {
    let model = serving_model(state)?;
    let started = Instant::now();
    let config = model.classifier.manifest().preprocess;
    let keep = state.service.slice_retention.is_some();
    let prepared = tokio::task::spawn_blocking(move || {
        images
            .iter()
            .enumerate()
            .flat_map(|(file, bytes)| prepare_frames(file, bytes, &config, frames, keep))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|error| {
        tracing::error!("preprocessing task failed: {error}");
        AppError::Internal
    })?;
    if prepared.len() > MAX_FRAMES_PER_REQUEST {
        return Err(AppError::PayloadTooLarge(format!(
            "the request holds {} images and DICOM frames; the limit is {MAX_FRAMES_PER_REQUEST}",
            prepared.len()
        )));
    }
    crate::ssr::budget::charge_images(prepared.len())?;
    let inputs: Vec<f32> = prepared
        .iter()
        .filter_map(|(_, outcome)| outcome.as_ref().ok())
        .flat_map(|(input, ..)| input.iter().copied())
        .collect();
    let mut predictions = if inputs.is_empty() {
        Vec::new()
    } else {
        forward(state, &model, inputs).await?
    }
    .into_iter();
    let seconds = started.elapsed().as_secs_f64();
    let images = prepared
        .iter()
        .filter(|(_, outcome)| outcome.is_ok())
        .count();
    if images > 0 {
        // A batch of 50 is one request but 50 predictions: the Monitor shows both times.
        state.latencies.record(seconds * 1000.0 / images as f64);
        state.request_latencies.record(seconds * 1000.0);
    }

    let mut results = Vec::with_capacity(prepared.len());
    for (file, outcome) in prepared {
        let result = match outcome {
            Err(error) => {
                let error = image_error(error);
                if matches!(error, AppError::NotBrainMri { .. }) {
                    state.traffic.count_refusal();
                }
                Err(error)
            }
            Ok((_, dicom, frame, signals)) => match predictions.next() {
                Some(Ok(prediction)) => {
                    state.traffic.count_prediction(
                        seconds * 1000.0 / images.max(1) as f64,
                        prediction.needs_review,
                    );
                    let slice = frame.map(crate::ssr::feedback::SliceSource::Frame);
                    let recorded = Recorded {
                        seconds,
                        source,
                        slice,
                        signals: Some(signals),
                    };
                    let mut answer = record(state, &model, prediction, recorded).await?;
                    answer.dicom = dicom;
                    Ok(answer)
                }
                Some(Err(refusal)) => {
                    if matches!(refusal, AppError::NotBrainMri { .. }) {
                        state.traffic.count_refusal();
                    }
                    Err(refusal)
                }
                None => Err(AppError::Internal),
            },
        };
        results.push((file, result));
    }
    Ok(results)
}

/// Classifies one image the not-an-MRI check may refuse, answering it anyway (flagged for review)
/// for `caller`, who must already be known to hold the annotator role. Bypasses the batching
/// thread (overrides are rare, and their answer differs from a batch's). Every override that
/// reaches the model is audited with the score and threshold, whether or not the check objected.
pub async fn classify_past_refusal(
    state: &AppState,
    caller: &crate::ssr::auth::Principal,
    bytes: Vec<u8>,
    filename: &str,
) -> Result<PredictionResponse, AppError> {
    let model = serving_model(state)?;
    let started = Instant::now();
    let classifier = model.classifier.clone();
    let kept_bytes = state
        .service
        .slice_retention
        .is_some()
        .then(|| bytes.clone());
    let (prediction, signals) = on_blocking_thread("override prediction", move || {
        let prediction = classifier.predict_bytes_past_refusal(&bytes)?;
        let signals = measure_signals(&bytes, &classifier.manifest().preprocess);
        Ok((prediction, signals))
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    let threshold = model
        .classifier
        .trust()
        .map(|trust| trust.ood.threshold)
        .unwrap_or(f32::INFINITY);
    let detail = format!(
        "{}; score {:.2}, threshold {threshold:.2}; answered {} ({:.3})",
        if prediction.refusal_overridden {
            "refused as not a brain MRI, classified on the annotator's word"
        } else {
            "override asked for a slice the check accepts"
        },
        prediction.ood_distance.unwrap_or(f32::NAN),
        prediction.predicted_class,
        prediction.confidence
    );
    crate::ssr::auth::audit(
        &state.db,
        caller,
        "predict.override_refusal",
        Some(filename),
        domain::AuditOutcome::Ok,
        Some(&detail),
    )
    .await;
    let recorded = Recorded {
        seconds,
        source: db::predictions::Source::Api,
        slice: kept_bytes.map(crate::ssr::feedback::SliceSource::Bytes),
        signals,
    };
    record(state, &model, prediction, recorded).await
}

/// The drift signals of an encoded slice (of a DICOM file, its middle frame), for the paths whose
/// model call decodes the file itself; `None` when it does not decode.
pub fn measure_signals(
    bytes: &[u8],
    config: &ml::preprocess::PreprocessConfig,
) -> Option<ml::drift::SliceSignals> {
    let frame = ml::preprocess::decode(bytes).ok()?;
    let pixels = ml::preprocess::prepare(&frame, config);
    Some(ml::drift::SliceSignals::measure(
        &pixels,
        frame.width(),
        frame.height(),
    ))
}

/// A frame's model input, its DICOM summary, when slices are kept the frame itself, and its
/// drift signals.
type PreparedFrame = (
    Vec<f32>,
    Option<Box<DicomInfo>>,
    Option<image::GrayImage>,
    ml::drift::SliceSignals,
);
type Prepared = (usize, Result<PreparedFrame, ml::MlError>);

/// Decodes one file into the model's input for each frame asked for (one for an ordinary image),
/// with the decoded frame when `keep` (the slice a reviewer will see).
fn prepare_frames(
    file: usize,
    bytes: &[u8],
    config: &ml::preprocess::PreprocessConfig,
    frames: Frames,
    keep: bool,
) -> Vec<Prepared> {
    let input = match ml::preprocess::decode_input(bytes) {
        Ok(input) => input,
        Err(error) => return vec![(file, Err(error))],
    };
    let chosen: Vec<usize> = match frames {
        Frames::Middle => vec![input.middle_index()],
        Frames::Every => (0..input.frames.len()).collect(),
    };
    chosen
        .into_iter()
        .map(|index| {
            let frame = &input.frames[index];
            let prepared = ml::preprocess::prepare(frame, config);
            let signals =
                ml::drift::SliceSignals::measure(&prepared, frame.width(), frame.height());
            let pixels = ml::preprocess::normalised(&prepared, config);
            let dicom = input
                .dicom
                .as_ref()
                .map(|summary| Box::new(dicom_info(summary, index)));
            let kept = keep.then(|| frame.clone());
            (file, Ok((pixels, dicom, kept, signals)))
        })
        .collect()
}

/// The API's view of a DICOM input: the de-identified summary and the frame read.
pub fn dicom_info(summary: &ml::dicom::DicomSummary, index: usize) -> DicomInfo {
    DicomInfo {
        frame: index as u32 + 1,
        summary: summary.clone(),
    }
}

/// Queues the forward pass on the inference thread and waits for its rows, one result per image
/// (refused images as errors of their own). Records nothing: the upload label check calls it
/// directly, since its opinions are not predictions anyone asked for.
pub async fn forward(
    state: &AppState,
    model: &Arc<ServingModel>,
    inputs: Vec<f32>,
) -> Result<Vec<Result<ml::Prediction, AppError>>, AppError> {
    // The inference threads take turns between clients, so one cannot starve the others.
    let client = crate::ssr::auth::principal().client.unwrap_or_default();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let reply: ml::batching::Reply = Box::new(move |result| {
        // The request may have been cancelled meanwhile; nobody is left to tell.
        let _ = sender.send(result);
    });
    state
        .inference
        .submit(&client, model.classifier.clone(), inputs, reply)
        .map_err(|error| match error {
            ml::batching::SubmitError::Full => AppError::Unavailable(
                "the server is at capacity (too many predictions waiting); retry shortly".into(),
            ),
            ml::batching::SubmitError::Stopped => {
                tracing::error!("the inference thread has stopped");
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

/// How a prediction came about, besides its answer.
pub(crate) struct Recorded {
    /// The request's model time.
    pub seconds: f64,
    pub source: db::predictions::Source,
    /// The slice to keep for reviewers, when the server keeps slices.
    pub slice: Option<crate::ssr::feedback::SliceSource>,
    /// What the slice showed of its source, for drift.
    pub signals: Option<ml::drift::SliceSignals>,
}

/// Records a prediction and answers it as the client will see it; with a slice (when the server
/// keeps slices) it is kept for reviewers in the background, off the request's path, and the
/// answer says until when.
pub(crate) async fn record(
    state: &AppState,
    model: &ServingModel,
    prediction: ml::Prediction,
    recorded: Recorded,
) -> Result<PredictionResponse, AppError> {
    let Recorded {
        seconds,
        source,
        slice,
        signals,
    } = recorded;
    let probabilities: std::collections::BTreeMap<&str, f32> = prediction
        .probabilities
        .iter()
        .map(|(class, p)| (class.as_str(), *p))
        .collect();
    let mut ranked: Vec<f32> = probabilities.values().copied().collect();
    ranked.sort_by(|a, b| b.total_cmp(a));
    let margin = match ranked.as_slice() {
        [top, second, ..] => f64::from(top - second),
        _ => 1.0,
    };
    let probabilities = serde_json::to_string(&probabilities).map_err(|error| {
        tracing::error!("cannot encode probabilities: {error}");
        AppError::Internal
    })?;
    let id = db::predictions::insert(
        &state.db,
        &db::predictions::NewPrediction {
            model_version: &model.version,
            predicted_class: &prediction.predicted_class,
            confidence: f64::from(prediction.confidence),
            latency_ms: seconds * 1000.0,
            source,
            probabilities: &probabilities,
            needs_review: prediction.needs_review,
            margin,
            signals: signals.map(|signals| db::predictions::InputSignals {
                ood_distance: prediction.ood_distance.map(f64::from),
                mean_intensity: f64::from(signals.mean_intensity),
                contrast: f64::from(signals.contrast),
                slice_size: f64::from(signals.size),
            }),
        },
    )
    .await?;
    let slice_kept_until =
        slice.and_then(|slice| crate::ssr::feedback::keep_slice(state, id, slice));
    Ok(PredictionResponse {
        prediction_id: Some(id),
        slice_kept_until,
        ..response(model, prediction, seconds)
    })
}

/// The answer to `prediction` as the client sees it, before it is recorded.
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
        dicom: None,
        refusal_overridden: prediction.refusal_overridden,
        prediction_id: None,
        slice_kept_until: None,
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
            score: Some(f64::from(distance)),
            threshold: Some(f64::from(threshold)),
        },
        error @ ml::MlError::NotMrModality { .. } => AppError::NotBrainMri {
            detail: error.to_string(),
            score: None,
            threshold: None,
        },
        error @ ml::MlError::UnsupportedTransferSyntax { .. } => {
            AppError::UnsupportedMediaType(error.to_string())
        }
        other => {
            tracing::error!("prediction failed: {other}");
            AppError::Internal
        }
    }
}
