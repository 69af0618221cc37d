//! Retraining as a background job: one at a time, tracked live in memory and durably in
//! `training_sessions`, producing a new model version that serves only if the activation gate
//! accepts it.

mod activation;
mod job;
mod status;
mod tracker;

pub use activation::{decide, Decision, Evidence, MIN_VALIDATION_IMAGES};
pub use status::{sessions, status};
pub use tracker::RetrainTracker;

use domain::SessionStatus;

use crate::api::retrain::{TriggerRequest, TriggerResponse, MAX_EPOCHS};
use crate::error::AppError;
use crate::ssr::AppState;

/// Validates the request, records a queued session and starts the job; answers at once.
pub async fn trigger(
    state: &AppState,
    request: TriggerRequest,
) -> Result<TriggerResponse, AppError> {
    if !(1..=MAX_EPOCHS).contains(&request.epochs) || request.fine_tune_epochs > MAX_EPOCHS {
        return Err(AppError::BadRequest(format!(
            "epochs must be between 1 and {MAX_EPOCHS} and fine_tune_epochs between 0 and \
             {MAX_EPOCHS} (got {} and {})",
            request.epochs, request.fine_tune_epochs
        )));
    }
    let _trigger = state.retrain.trigger.lock().await;
    if let Some(session_id) = state.retrain.running_session() {
        return Err(AppError::RetrainBusy { session_id });
    }
    let pending = db::uploads::count_pending(&state.db).await?;
    if pending == 0 {
        return Err(AppError::BadRequest(
            "there are no new uploaded images to learn from: upload labelled images with \
             POST /retrain first"
                .into(),
        ));
    }
    if !state.model_loaded() {
        return Err(AppError::Unavailable(
            "no model is loaded to retrain".into(),
        ));
    }
    let session_id = db::training_sessions::create(
        &state.db,
        i64::from(request.epochs),
        i64::from(request.fine_tune_epochs),
    )
    .await?;
    let total_epochs = (request.epochs + request.fine_tune_epochs) as usize;
    state.retrain.start(session_id, total_epochs);
    let job_state = state.clone();
    tokio::spawn(async move { run(job_state, session_id, request).await });
    crate::ssr::set_status(axum::http::StatusCode::ACCEPTED);
    Ok(TriggerResponse {
        session_id,
        status: SessionStatus::Queued,
        message: format!(
            "retraining on {pending} new image(s) started; follow it at GET /retrain/status"
        ),
    })
}

/// The job: never panics the server, always leaves the session in a final state and the tracker
/// empty.
async fn run(state: AppState, session_id: i64, request: TriggerRequest) {
    if let Err(error) = job::execute(&state, session_id, request).await {
        tracing::error!(session_id, %error, "retraining session failed");
        if let Err(db_error) =
            db::training_sessions::fail(&state.db, session_id, &error.public_message()).await
        {
            tracing::error!(session_id, error = %db_error, "cannot record the failure of a session");
        }
    }
    state.retrain.finish();
}
