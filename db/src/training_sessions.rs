//! The `training_sessions` table: one row per retraining job, from queued to its final state.

use serde::{Deserialize, Serialize};
use sqlx::AnyExecutor;

use crate::{Backend, DbError, DbResult, Pool};

pub use domain::{SessionScores, SessionStatus, TrainingSources};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct TrainingSession {
    pub id: i64,
    pub status: SessionStatus,
    pub epochs: i64,
    pub fine_tune_epochs: i64,
    /// Which pending images the job learns from.
    pub sources: TrainingSources,
    pub images_used: i64,
    /// Of the images learnt from, how many were reviewers' corrections of predictions.
    pub feedback_images: i64,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub scores: SessionScores,
    /// JSON array of per-epoch records.
    pub history: String,
    pub model_version: Option<String>,
    pub message: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// JSON: the running job's live progress, as its worker last reported it.
    pub progress: Option<String>,
    /// JSON: how the job ended (`domain::outcome::JobOutcome`); absent for jobs before it existed.
    pub outcome: Option<String>,
    /// Who asked the running job to stop; its worker stops at the next batch.
    pub cancel_requested_by: Option<String>,
}

/// Macro-averaged scores of one model on the validation set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// The end of a job that trained a model (completed or rejected).
#[derive(Debug, Clone)]
pub struct Finished<'a> {
    pub status: SessionStatus,
    pub images_used: i64,
    pub feedback_images: i64,
    pub before: Scores,
    pub after: Scores,
    pub history_json: &'a str,
    pub model_version: &'a str,
    pub message: &'a str,
    pub outcome_json: &'a str,
}

const COLUMNS: &str = "id, status, epochs, fine_tune_epochs, sources, images_used, \
    feedback_images, accuracy_before, \
    accuracy_after, precision_before, precision_after, recall_before, recall_after, f1_before, \
    f1_after, history, model_version, message, error, created_at, started_at, finished_at, \
    progress, outcome, cancel_requested_by";

/// Queues a job. The database holds at most one queued or running job: while one is unfinished this
/// answers [`DbError::JobUnfinished`] with its id, whichever process asks.
pub async fn create(
    db: &Pool,
    epochs: i64,
    fine_tune_epochs: i64,
    sources: TrainingSources,
) -> DbResult<i64> {
    let inserted = sqlx::query_scalar(
        "INSERT INTO training_sessions (status, epochs, fine_tune_epochs, created_at, sources)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(SessionStatus::Queued)
    .bind(epochs)
    .bind(fine_tune_epochs)
    .bind(crate::now_rfc3339())
    .bind(sources)
    .fetch_one(db)
    .await;
    match inserted {
        Ok(id) => Ok(id),
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            match unfinished(db).await? {
                Some(session_id) => Err(DbError::JobUnfinished { session_id }),
                // It finished in between: the caller may try again.
                None => Err(sqlx::Error::Database(error).into()),
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// The queued or running job, if any.
pub async fn unfinished(db: impl AnyExecutor<'_>) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM training_sessions WHERE status IN ($1, $2) ORDER BY id DESC LIMIT 1",
    )
    .bind(SessionStatus::Queued)
    .bind(SessionStatus::Running)
    .fetch_optional(db)
    .await?)
}

/// Claims the queued job for `worker`, if there is one: it is then running, and only this worker's
/// heartbeats keep it so.
pub async fn claim_next(db: &Pool, worker: &str) -> DbResult<Option<i64>> {
    // On PostgreSQL, workers on other machines may claim at the same moment: SKIP LOCKED makes each
    // take a different row (or none) instead of waiting on the one another is claiming. SQLite has one
    // writer at a time, so the status check alone settles it.
    let lock = match Backend::of(db) {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let now = crate::now_rfc3339();
    Ok(sqlx::query_scalar(&format!(
        "UPDATE training_sessions SET status = $1, started_at = $2, worker = $3, heartbeat_at = $4
         WHERE id = (SELECT id FROM training_sessions WHERE status = $5 ORDER BY id LIMIT 1 {lock})
           AND status = $6
         RETURNING id"
    ))
    .bind(SessionStatus::Running)
    .bind(&now)
    .bind(worker)
    .bind(&now)
    .bind(SessionStatus::Queued)
    .bind(SessionStatus::Queued)
    .fetch_optional(db)
    .await?)
}

/// Records a running job's live progress (JSON) and that its worker is alive.
pub async fn heartbeat(db: impl AnyExecutor<'_>, id: i64, progress_json: &str) -> DbResult<()> {
    sqlx::query(
        "UPDATE training_sessions SET progress = $1, heartbeat_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(progress_json)
    .bind(crate::now_rfc3339())
    .bind(id)
    .bind(SessionStatus::Running)
    .execute(db)
    .await?;
    Ok(())
}

/// Fails running jobs whose worker has not been heard from since `stale_before` (RFC 3339), so a
/// new job can start; answers how many.
pub async fn fail_silent(db: impl AnyExecutor<'_>, stale_before: &str) -> DbResult<u64> {
    let result = sqlx::query(
        "UPDATE training_sessions
         SET status = $1, progress = NULL, finished_at = $2,
             error = 'the worker running it stopped sending heartbeats'
         WHERE status = $3 AND heartbeat_at < $4",
    )
    .bind(SessionStatus::Failed)
    .bind(crate::now_rfc3339())
    .bind(SessionStatus::Running)
    .bind(stale_before)
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

pub async fn finish(db: impl AnyExecutor<'_>, id: i64, end: &Finished<'_>) -> DbResult<()> {
    sqlx::query(
        "UPDATE training_sessions SET status = $1, images_used = $2,
             accuracy_before = $3, accuracy_after = $4, precision_before = $5, precision_after = $6,
             recall_before = $7, recall_after = $8, f1_before = $9, f1_after = $10,
             history = $11, model_version = $12, message = $13, finished_at = $14, progress = NULL,
             outcome = $15, feedback_images = $16
         WHERE id = $17",
    )
    .bind(end.status)
    .bind(end.images_used)
    .bind(end.before.accuracy)
    .bind(end.after.accuracy)
    .bind(end.before.precision)
    .bind(end.after.precision)
    .bind(end.before.recall)
    .bind(end.after.recall)
    .bind(end.before.f1)
    .bind(end.after.f1)
    .bind(end.history_json)
    .bind(end.model_version)
    .bind(end.message)
    .bind(crate::now_rfc3339())
    .bind(end.outcome_json)
    .bind(end.feedback_images)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Ends a job that did not produce a version: `error` for older clients, `outcome_json` for pages.
pub async fn fail(
    db: impl AnyExecutor<'_>,
    id: i64,
    error: &str,
    outcome_json: &str,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE training_sessions SET status = $1, error = $2, finished_at = $3, progress = NULL,
             outcome = $4
         WHERE id = $5",
    )
    .bind(SessionStatus::Failed)
    .bind(error)
    .bind(crate::now_rfc3339())
    .bind(outcome_json)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// What asking to cancel a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRequest {
    /// The job was still queued: it ended at once.
    EndedQueued,
    /// The job is running: its worker stops it at the next batch.
    Requested,
    /// The job had already ended (or never existed).
    NotUnfinished,
}

/// Cancels job `id` on behalf of `by`: a queued one ends here (failed, with `outcome_json`), a
/// running one is flagged for its worker.
pub async fn request_cancel(
    db: &Pool,
    id: i64,
    by: &str,
    queued_error: &str,
    queued_outcome_json: &str,
) -> DbResult<CancelRequest> {
    let ended = sqlx::query(
        "UPDATE training_sessions SET status = $1, error = $2, finished_at = $3, progress = NULL,
             outcome = $4, cancel_requested_by = $5
         WHERE id = $6 AND status = $7",
    )
    .bind(SessionStatus::Failed)
    .bind(queued_error)
    .bind(crate::now_rfc3339())
    .bind(queued_outcome_json)
    .bind(by)
    .bind(id)
    .bind(SessionStatus::Queued)
    .execute(db)
    .await?;
    if ended.rows_affected() > 0 {
        return Ok(CancelRequest::EndedQueued);
    }
    let flagged = sqlx::query(
        "UPDATE training_sessions SET cancel_requested_by = $1 WHERE id = $2 AND status = $3",
    )
    .bind(by)
    .bind(id)
    .bind(SessionStatus::Running)
    .execute(db)
    .await?;
    Ok(if flagged.rows_affected() > 0 {
        CancelRequest::Requested
    } else {
        CancelRequest::NotUnfinished
    })
}

/// Who asked running job `id` to stop, if anyone.
pub async fn cancel_requested_by(db: impl AnyExecutor<'_>, id: i64) -> DbResult<Option<String>> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT cancel_requested_by FROM training_sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .flatten())
}

/// Marks sessions a crash or restart left queued or running as failed; returns how many.
pub async fn fail_interrupted(db: impl AnyExecutor<'_>) -> DbResult<u64> {
    let result = sqlx::query(
        "UPDATE training_sessions
         SET status = $1, error = 'interrupted: the server stopped before the job finished',
             finished_at = $2, progress = NULL
         WHERE status IN ($3, $4)",
    )
    .bind(SessionStatus::Failed)
    .bind(crate::now_rfc3339())
    .bind(SessionStatus::Queued)
    .bind(SessionStatus::Running)
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

pub async fn find(db: impl AnyExecutor<'_>, id: i64) -> DbResult<Option<TrainingSession>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM training_sessions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

pub async fn latest(db: impl AnyExecutor<'_>) -> DbResult<Option<TrainingSession>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM training_sessions ORDER BY id DESC LIMIT 1"
    ))
    .fetch_optional(db)
    .await?)
}

pub async fn recent(db: impl AnyExecutor<'_>, limit: i64) -> DbResult<Vec<TrainingSession>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM training_sessions ORDER BY id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// `(all sessions, completed sessions)`.
pub async fn counts(db: impl AnyExecutor<'_>) -> DbResult<(i64, i64)> {
    Ok(sqlx::query_as(&format!(
        "SELECT COUNT(*), {} FROM training_sessions",
        crate::count_where("status = $1")
    ))
    .bind(SessionStatus::Completed)
    .fetch_one(db)
    .await?)
}

/// Whether the session that produced `version` left it rejected by the activation gate.
pub async fn rejected_by_gate(db: impl AnyExecutor<'_>, version: &str) -> DbResult<bool> {
    let rejected: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM training_sessions WHERE model_version = $1 AND status = $2",
    )
    .bind(version)
    .bind(SessionStatus::Rejected)
    .fetch_one(db)
    .await?;
    Ok(rejected > 0)
}

/// Every version the activation gate rejected, with the verdict its session recorded.
pub async fn gate_rejected_versions(
    db: impl AnyExecutor<'_>,
) -> DbResult<Vec<(String, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT model_version, MAX(message) FROM training_sessions
         WHERE status = $1 AND model_version IS NOT NULL
         GROUP BY model_version",
    )
    .bind(SessionStatus::Rejected)
    .fetch_all(db)
    .await?)
}
