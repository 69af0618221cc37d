//! Retraining as a background job: one at a time, tracked live in memory and durably in
//! `training_sessions`, producing a new model version that serves only if the activation gate
//! accepts it.

mod activation;
mod job;
mod progress;
mod status;
mod worker;

pub use activation::{decide, Decision, Evidence, MIN_VALIDATION_IMAGES};
pub use status::{sessions, status};
pub use worker::{spawn as spawn_worker, RetrainWorker, HEARTBEAT, SILENCE_LIMIT};

use domain::SessionStatus;

use crate::api::retrain::{TriggerRequest, TriggerResponse, MAX_EPOCHS};
use crate::error::AppError;
use crate::ssr::AppState;

/// Validates the request and queues a session for a worker (this process's, or another's); answers
/// at once. The database, not this process, allows one unfinished job.
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
    worker::fail_silent_jobs(state).await?;
    let session_id = match db::training_sessions::create(
        &state.db,
        i64::from(request.epochs),
        i64::from(request.fine_tune_epochs),
    )
    .await
    {
        Ok(session_id) => session_id,
        Err(db::DbError::JobUnfinished { session_id }) => {
            return Err(AppError::RetrainBusy { session_id })
        }
        Err(error) => return Err(error.into()),
    };
    state.retrain.wake();
    crate::ssr::set_status(axum::http::StatusCode::ACCEPTED);
    Ok(TriggerResponse {
        session_id,
        status: SessionStatus::Queued,
        message: format!(
            "retraining on {pending} new image(s) started; follow it at GET /retrain/status"
        ),
    })
}
