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

use domain::{SessionStatus, TrainingSources};

use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::retrain::{
    CancelResponse, RetrainOutlook, TriggerRequest, TriggerResponse, MAX_EPOCHS,
};
use domain::comparison::EvaluationSetKind;
use ml::finetune::data::MIN_REFERENCE_IMAGES;

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
    let sources = request.sources.unwrap_or(TrainingSources::Both);
    let pending = db::uploads::count_pending(&state.db, sources).await?;
    if pending == 0 {
        return Err(AppError::BadRequest(match sources {
            TrainingSources::Feedback => "no reviewer has corrected a prediction since the last \
                                          retraining: nothing to learn from feedback"
                .into(),
            _ => "there are no new uploaded images to learn from: upload labelled images with \
                  POST /retrain first"
                .into(),
        }));
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
        sources,
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

/// What a job started now would be judged on: the original split when the training folders and the
/// serving model's split are known, the reference set once it is large enough, else uploads (so the
/// result stays a candidate). The same order `ml::finetune::data::prepare` follows.
pub async fn readiness(state: &AppState) -> Result<RetrainOutlook, AppError> {
    let uploads = db::uploads::stats(&state.db).await?;
    let (pending_images, reference_images) = (uploads.pending, uploads.reference);
    let reference_needed = MIN_REFERENCE_IMAGES as i64;
    let original_split = state.service.data_dir.is_some()
        && state
            .models
            .current()
            .is_some_and(|model| model.classifier.manifest().dataset_split().is_some());
    let judged_on = if original_split {
        EvaluationSetKind::OriginalSplit
    } else if reference_images >= reference_needed {
        EvaluationSetKind::ReferenceSet
    } else {
        EvaluationSetKind::HeldOutUploads
    };
    let can_activate = judged_on.is_fixed();
    let explanation = match judged_on {
        EvaluationSetKind::OriginalSplit => "A new version is judged on the original validation \
            split and serves by itself if it scores at least as well as the serving one."
            .to_owned(),
        EvaluationSetKind::ReferenceSet => format!(
            "A new version is judged on the {reference_images}-image reference set and serves by \
             itself if it scores at least as well as the serving one."
        ),
        _ => format!(
            "A new version will be kept as a candidate, not activated: this server has no trusted \
             set to judge it on, and uploads cannot vouch for their own labels. To let it \
             activate, an admin uploads labelled images as the reference set ({reference_images} \
             of {reference_needed} so far). You can still compare a candidate and activate it by \
             hand."
        ),
    };
    Ok(RetrainOutlook {
        pending_images,
        judged_on,
        can_activate,
        reference_images,
        reference_needed,
        explanation,
    })
}

/// Stops job `session_id` for `by`: a queued one ends here, a running one at its next batch.
pub async fn cancel(
    state: &AppState,
    session_id: i64,
    by: &str,
) -> Result<CancelResponse, AppError> {
    use db::training_sessions::CancelRequest;
    let outcome = serde_json::to_string(&job::cancelled_outcome(by))
        .map_err(|e| AppError::BadRequest(format!("cannot encode the outcome: {e}")))?;
    let message = format!("cancelled by {by}");
    match db::training_sessions::request_cancel(&state.db, session_id, by, &message, &outcome)
        .await?
    {
        CancelRequest::EndedQueued => Ok(CancelResponse {
            session_id,
            status: SessionStatus::Failed,
            message: format!("session {session_id} was queued and is now cancelled"),
        }),
        CancelRequest::Requested => Ok(CancelResponse {
            session_id,
            status: SessionStatus::Running,
            message: format!(
                "session {session_id} stops at its next batch; nothing it trained is kept"
            ),
        }),
        CancelRequest::NotUnfinished => Err(AppError::NotFound(format!(
            "session {session_id} is not queued or running"
        ))),
    }
}
