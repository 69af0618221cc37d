//! Feedback on predictions: `POST /predictions/feedback` (the Predict page's and the review
//! queue's form of `POST /predictions/{id}/feedback`), `GET /predictions/review` (the review
//! queue) and `GET /metrics/accuracy` (live accuracy from reviewed answers). Verdicts and the queue
//! are for annotators and admins; the accuracy figures are for whoever may read the Monitor.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use crate::types::feedback::{FeedbackResponse, LiveAccuracy, ReviewQueue, Verdict};

use crate::error::AppError;

/// A reviewer's verdict on prediction `prediction_id` (annotator, audited, once per reviewer).
#[server(prefix = "", endpoint = "predictions/feedback", input = Json)]
pub async fn give_feedback(
    prediction_id: i64,
    verdict: Verdict,
    #[server(default)] class_name: Option<String>,
) -> Result<FeedbackResponse, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
    let request = crate::types::feedback::FeedbackRequest {
        verdict,
        class_name,
    };
    crate::ssr::feedback::submit(&state, &caller, prediction_id, request).await
}

/// `GET /predictions/review?model_version=&class_name=&limit=` (annotator).
#[server(prefix = "", endpoint = "predictions/review", input = GetUrl)]
pub async fn predictions_to_review(
    #[server(default)] model_version: Option<String>,
    #[server(default)] class_name: Option<String>,
    #[server(default)] limit: Option<i64>,
) -> Result<ReviewQueue, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
    crate::ssr::feedback::queue(
        &state,
        model_version.as_deref(),
        class_name.as_deref(),
        limit,
    )
    .await
}

/// `GET /metrics/accuracy`: each version's accuracy on reviewed answers.
#[server(prefix = "", endpoint = "metrics/accuracy", input = GetUrl)]
pub async fn get_live_accuracy() -> Result<LiveAccuracy, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::feedback::live_accuracy(&state).await
}

/// `GET /metrics/drift`: the serving model's recent inputs against its validation split.
#[server(prefix = "", endpoint = "metrics/drift", input = GetUrl)]
pub async fn get_drift() -> Result<crate::types::drift::DriftReport, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::drift::report(&state).await
}

/// `POST /predictions/explain`: where the serving model looks on a kept prediction's slice (the
/// review queue's heatmap). Annotators and admins, as for every kept slice's pixels.
#[server(prefix = "", endpoint = "predictions/explain", input = Json)]
pub async fn explain_kept_prediction(
    prediction_id: i64,
) -> Result<crate::types::predict::ExplanationResponse, AppError> {
    crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
    let state = crate::ssr::state()?;
    crate::ssr::explanations::explain_kept(&state, prediction_id).await
}
