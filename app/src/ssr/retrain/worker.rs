//! The worker: claims queued jobs from the database and runs them, one at a time, with a heartbeat
//! that carries the job's progress. A job whose worker stops heartbeating (killed, machine lost) is
//! failed by the next worker that looks, so a new trigger can run.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::job;
use super::progress::ProgressReporter;
use crate::ssr::AppState;
use crate::types::retrain::TriggerRequest;

/// How often a running job's worker writes its progress and says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A running job not heard from for this long is failed.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// How often an idle worker looks for queued jobs when nobody wakes it.
const POLL: Duration = Duration::from_secs(2);

/// Wakes this process's worker when a job is queued here, so it starts at once.
#[derive(Clone, Default)]
pub struct RetrainWorker {
    wake: Arc<Notify>,
}

impl RetrainWorker {
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Starts this process's worker on the current runtime.
pub fn spawn(state: AppState) {
    let name = format!("brainscan-{}", std::process::id());
    tokio::spawn(async move {
        loop {
            match next_job(&state, &name).await {
                Ok(Some(session_id)) => run(&state, session_id).await,
                Ok(None) => {
                    let _ = tokio::time::timeout(POLL, state.retrain.wake.notified()).await;
                }
                Err(error) => {
                    tracing::error!(%error, "the retraining worker cannot reach the database");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
}

/// Fails jobs whose worker fell silent, then claims the oldest queued one.
async fn next_job(state: &AppState, name: &str) -> Result<Option<i64>, db::DbError> {
    fail_silent_jobs(state).await?;
    db::training_sessions::claim_next(&state.db, name).await
}

/// Fails running jobs whose worker has not been heard from for [`SILENCE_LIMIT`]. Workers call it
/// before claiming, and triggers before queueing, so a dead worker blocks nobody even where no
/// worker is left to notice it.
pub(super) async fn fail_silent_jobs(state: &AppState) -> Result<(), db::DbError> {
    let silence = chrono::Duration::from_std(SILENCE_LIMIT).unwrap_or(chrono::Duration::MAX);
    let cutoff =
        (chrono::Utc::now() - silence).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let failed = db::training_sessions::fail_silent(&state.db, &cutoff).await?;
    if failed > 0 {
        tracing::warn!(
            failed,
            "failed retraining jobs whose worker stopped heartbeating"
        );
    }
    Ok(())
}

/// Runs one claimed job with its heartbeat; never panics the worker, and always leaves the session
/// in a final state.
async fn run(state: &AppState, session_id: i64) {
    let request = match db::training_sessions::find(&state.db, session_id).await {
        Ok(Some(row)) => TriggerRequest {
            epochs: u32::try_from(row.epochs).unwrap_or(1),
            fine_tune_epochs: u32::try_from(row.fine_tune_epochs).unwrap_or(0),
            sources: Some(row.sources),
        },
        Ok(None) => return,
        Err(error) => {
            tracing::error!(session_id, %error, "cannot read a claimed session");
            return;
        }
    };
    let epochs = (request.epochs + request.fine_tune_epochs) as usize;
    let (reporter, mut progress) = ProgressReporter::new(epochs);
    let pool = state.db.clone();
    let stopper = reporter.clone();
    // The heartbeat also carries the other way: an admin's stop request, whichever process took it.
    let heartbeat = tokio::spawn(async move {
        loop {
            let json = serde_json::to_string(&*progress.borrow_and_update()).unwrap_or_default();
            if let Err(error) = db::training_sessions::heartbeat(&pool, session_id, &json).await {
                tracing::warn!(session_id, %error, "a heartbeat was not recorded");
            }
            if let Ok(Some(_)) = db::training_sessions::cancel_requested_by(&pool, session_id).await
            {
                stopper.request_stop();
            }
            tokio::time::sleep(HEARTBEAT).await;
        }
    });
    let result = job::execute(state, session_id, request, reporter).await;
    heartbeat.abort();
    let Err(error) = result else { return };
    let (message, outcome) = match error {
        job::JobError::Cancelled => {
            let by = db::training_sessions::cancel_requested_by(&state.db, session_id)
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| "an admin".into());
            tracing::info!(session_id, by, "retraining session cancelled");
            (format!("cancelled by {by}"), job::cancelled_outcome(&by))
        }
        error => {
            tracing::error!(session_id, %error, "retraining session failed");
            let message = error.public_message();
            let outcome = job::failed_outcome(&message);
            (message, outcome)
        }
    };
    let outcome_json = serde_json::to_string(&outcome).unwrap_or_default();
    if let Err(db_error) =
        db::training_sessions::fail(&state.db, session_id, &message, &outcome_json).await
    {
        tracing::error!(session_id, error = %db_error, "cannot record the end of a session");
    }
}
