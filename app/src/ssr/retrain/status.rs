//! `GET /retrain/status` and `GET /retrain/sessions`: the newest session with live progress, and
//! the history.

use domain::{JobPhase, RetrainState, SessionStatus};

use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::retrain::{LiveProgress, RetrainStatus, SessionSummary, SessionsResponse};

fn summary(row: db::training_sessions::TrainingSession) -> SessionSummary {
    // Sessions that ended before outcomes were recorded, or that a restart or a silent worker
    // failed, still get one: their error is the reason.
    let outcome = row
        .outcome
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .or_else(|| {
            (row.status == SessionStatus::Failed)
                .then(|| super::job::failed_outcome(row.error.as_deref().unwrap_or("unknown")))
        });
    SessionSummary {
        outcome,
        cancel_requested: row.cancel_requested_by.is_some()
            && matches!(row.status, SessionStatus::Queued | SessionStatus::Running),
        history: serde_json::from_str(&row.history).unwrap_or(serde_json::Value::Null),
        id: row.id,
        status: row.status,
        epochs: row.epochs,
        fine_tune_epochs: row.fine_tune_epochs,
        sources: row.sources,
        images_used: row.images_used,
        feedback_images: row.feedback_images,
        scores: row.scores,
        model_version: row.model_version,
        message: row.message,
        error: row.error,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
    }
}

pub async fn status(state: &AppState) -> Result<RetrainStatus, AppError> {
    let latest = db::training_sessions::latest(&state.db).await?;
    let Some(row) = latest else {
        return Ok(RetrainStatus {
            status: RetrainState::Idle,
            session: None,
            progress: None,
            message: "no retraining session yet".into(),
        });
    };
    let progress = live_progress(&row);
    let session = summary(row);
    let message = match (&progress, &session.error, &session.message) {
        (Some(live), _, _) => format!(
            "session {} {}: epoch {}/{}, batch {}/{}",
            session.id, live.phase, live.epoch, live.epochs, live.batch, live.batches
        ),
        (None, Some(error), _) => format!("session {} failed: {error}", session.id),
        (None, None, Some(message)) => message.clone(),
        (None, None, None) => format!("session {} is {}", session.id, session.status),
    };
    Ok(RetrainStatus {
        status: session.status.into(),
        progress,
        session: Some(session),
        message,
    })
}

/// What the job's worker last reported (every process reads the same row); a queued job has not
/// started.
fn live_progress(row: &db::training_sessions::TrainingSession) -> Option<LiveProgress> {
    match row.status {
        SessionStatus::Queued => Some(LiveProgress::new(
            JobPhase::Queued,
            (row.epochs + row.fine_tune_epochs).max(0) as usize,
        )),
        SessionStatus::Running => Some(
            row.progress
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_else(|| {
                    LiveProgress::new(
                        JobPhase::Preprocessing,
                        (row.epochs + row.fine_tune_epochs).max(0) as usize,
                    )
                }),
        ),
        _ => None,
    }
}

pub async fn sessions(state: &AppState, limit: i64) -> Result<SessionsResponse, AppError> {
    if !(1..=100).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and 100 (got {limit})"
        )));
    }
    let rows = db::training_sessions::recent(&state.db, limit).await?;
    let (total, _) = db::training_sessions::counts(&state.db).await?;
    Ok(SessionsResponse {
        sessions: rows.into_iter().map(summary).collect(),
        total,
    })
}
