//! One retraining run, start to end: prepare the images, fine-tune the serving model into a new
//! version, let the activation gate decide, and record the outcome.

use std::path::Path;
use std::time::Instant;

use domain::outcome::{JobOutcome, OutcomeKind};
use domain::{JobPhase, PreprocessingStatus};
use ml::dataset::LabeledImage;
use ml::finetune::data::{FineTuneSources, OriginalData, PreparedData, ValidationSet};
use ml::finetune::{self, FineTuneOutcome, FineTuneRequest};

use super::activation::{decide, Evidence};
use super::progress::{ProgressObserver, ProgressReporter};
use crate::error::AppError;
use crate::ssr::models::ServingModel;
use crate::ssr::AppState;
use crate::types::retrain::TriggerRequest;

#[derive(Debug, thiserror::Error)]
pub(super) enum JobError {
    #[error("{0}")]
    Db(#[from] db::DbError),
    #[error("{0}")]
    Ml(#[from] ml::MlError),
    #[error("{0}")]
    Storage(#[from] storage::StorageError),
    #[error("{0}")]
    Job(String),
    /// An admin asked the job to stop.
    #[error("cancelled")]
    Cancelled,
}

impl JobError {
    /// What the session's record shows: database and model errors can name files and SQL, so
    /// those stay in the server log.
    pub(super) fn public_message(&self) -> String {
        match self {
            JobError::Db(_) => {
                "a database error stopped the job; the details are in the server log".to_owned()
            }
            JobError::Ml(_) => {
                "a model error stopped the job; the details are in the server log".to_owned()
            }
            JobError::Storage(_) => {
                "a storage error stopped the job; the details are in the server log".to_owned()
            }
            JobError::Job(message) => message.clone(),
            JobError::Cancelled => "cancelled".to_owned(),
        }
    }
}

/// How a job that produced no version ended, for the session's `outcome`.
pub(super) fn failed_outcome(reason: &str) -> JobOutcome {
    JobOutcome {
        kind: OutcomeKind::Failed,
        headline: "The job failed; the serving version is unchanged".into(),
        reason: reason.to_owned(),
        next_step: "Fix what the reason names, then retrain; the uploads are still waiting.".into(),
        link: None,
    }
}

/// How a cancelled job ended.
pub(super) fn cancelled_outcome(by: &str) -> JobOutcome {
    JobOutcome {
        kind: OutcomeKind::Cancelled,
        headline: format!("Cancelled by {by}"),
        reason: "An admin stopped the job before it finished; no new version was kept.".into(),
        next_step: "The uploads it would have learnt from are still waiting: retrain when ready."
            .into(),
        link: None,
    }
}

impl From<AppError> for JobError {
    fn from(error: AppError) -> Self {
        JobError::Job(error.to_string())
    }
}

pub(super) async fn execute(
    state: &AppState,
    session_id: i64,
    request: TriggerRequest,
    reporter: ProgressReporter,
) -> Result<(), JobError> {
    let serving = state
        .models
        .current()
        .ok_or_else(|| JobError::Job("no model is loaded to retrain".into()))?;
    let sources = request.sources.unwrap_or(domain::TrainingSources::Both);
    let uploads = db::uploads::pending(&state.db, sources).await?;
    if uploads.is_empty() {
        return Err(JobError::Job(format!(
            "no new images to learn from ({})",
            sources.as_str()
        )));
    }
    let feedback_images = uploads
        .iter()
        .filter(|row| row.prediction_id.is_some())
        .count() as i64;
    reporter.set_phase(JobPhase::Preprocessing);
    let prepared = prepare(state, session_id, &serving, &uploads).await?;
    if reporter.stop_requested() {
        return Err(JobError::Cancelled);
    }

    let version = format!(
        "v{}-s{session_id}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    let models = &state.service.storage.models;
    let out_dir = models.staging_dir(&version)?;
    let validation_set = prepared.validation_set;
    let images_used = prepared.train.len() as i64;
    let trained = fine_tune(
        state,
        &serving,
        prepared,
        NewVersion {
            name: &version,
            dir: &out_dir,
        },
        session_id,
        request,
        reporter.clone(),
    )
    .await;
    // A stop request ends training early (or before its first epoch, as an error): either way the
    // half-trained version is dropped, not judged.
    if reporter.stop_requested() {
        if let Err(error) = std::fs::remove_dir_all(&out_dir) {
            tracing::warn!(session_id, %error, "cannot remove a cancelled job's files");
        }
        return Err(JobError::Cancelled);
    }
    let outcome = trained?;

    reporter.set_phase(JobPhase::Saving);
    // Only a version whose every file is in the store gets a row: no replica can be asked to load
    // half of one.
    let registered_path = models
        .publish(&version, ml::artifact::MANIFEST_FILE)
        .await?;
    let evaluated_on = domain::comparison::EvaluationSet {
        kind: validation_set.kind(),
        images: outcome.after.images,
    };
    let metrics_json = crate::ssr::versions::stored_metrics(
        &outcome.after,
        evaluated_on,
        &serving.version,
        &outcome.before,
    )
    .map_err(|e| JobError::Job(format!("cannot encode metrics: {e}")))?;
    db::model_versions::insert_candidate(
        &state.db,
        &db::model_versions::NewModelVersion {
            version: &version,
            path: &registered_path,
            metrics_json: &metrics_json,
            parent_version: Some(&serving.version),
        },
    )
    .await?;

    let evidence = Evidence {
        before: outcome.before.accuracy,
        after: outcome.after.accuracy,
        validation_images: outcome.after.images,
        trusted: validation_set.is_trusted(),
        tolerance: state.service.activation_tolerance,
    };
    let decision = decide(&evidence);
    if decision == super::Decision::Activate {
        crate::ssr::models::activate(state, &version).await?;
    }
    let mut note = validation_note(validation_set, outcome.after.images);
    if let Some(trust_note) = &outcome.trust_note {
        tracing::warn!(
            session_id,
            trust_note,
            "retraining kept the base model's trust check"
        );
        note = format!("{note}; {trust_note}");
    }
    let message = decision.message(&version, &evidence, &note);
    let outcome_json = serde_json::to_string(&decision.outcome(&version, &evidence, evaluated_on))
        .map_err(|e| JobError::Job(format!("cannot encode the outcome: {e}")))?;
    let history_json = serde_json::to_string(&outcome.history)
        .map_err(|e| JobError::Job(format!("cannot encode history: {e}")))?;
    let upload_ids: Vec<i64> = uploads.iter().map(|row| row.id).collect();
    let mut tx = state.db.begin().await.map_err(db::DbError::from)?;
    db::uploads::mark_used(&mut tx, &upload_ids, session_id).await?;
    db::training_sessions::finish(
        &mut *tx,
        session_id,
        &db::training_sessions::Finished {
            status: decision.session_status(),
            images_used,
            feedback_images,
            before: scores(&outcome.before),
            after: scores(&outcome.after),
            history_json: &history_json,
            model_version: &version,
            message: &message,
            outcome_json: &outcome_json,
        },
    )
    .await?;
    tx.commit().await.map_err(db::DbError::from)?;
    Ok(())
}

/// How validation was done, said in the session message when it is weaker than the original split.
fn validation_note(set: ValidationSet, images: u64) -> String {
    match set {
        ValidationSet::OriginalSplit => String::new(),
        ValidationSet::ReferenceSet => format!("; judged on the {images}-image reference set"),
        ValidationSet::HeldOutUploads => "; validated on held-out uploads (start the server with \
            --data-dir / TRAINING_DATA_DIR to validate on the original split)"
            .to_owned(),
        ValidationSet::TrainingUploads => "; too few uploads to hold any out, so validation \
            reused the training uploads"
            .to_owned(),
    }
}

/// Decodes the images off the async threads and records the preprocessing log either way.
async fn prepare(
    state: &AppState,
    session_id: i64,
    serving: &ServingModel,
    uploads: &[db::uploads::UploadedImage],
) -> Result<PreparedData, JobError> {
    let manifest = serving.classifier.manifest();
    let preprocess = manifest.preprocess;
    let upload_store = &state.service.storage.uploads;
    let upload_items = labeled_images(uploads, upload_store).await?;
    let reference = db::uploads::reference(&state.db).await?;
    let reference_items = labeled_images(&reference, upload_store).await?;
    let split = manifest.dataset_split();
    let data_dir = state.service.data_dir.clone();
    if data_dir.is_some() && split.is_none() {
        tracing::warn!(
            version = %serving.version,
            "the serving model's manifest records no dataset split, so its original validation \
             images are unknown; judging on the reference set or held-out uploads instead"
        );
    }
    let started = Instant::now();
    let prepared = tokio::task::spawn_blocking(move || {
        let original = data_dir
            .as_deref()
            .zip(split)
            .map(|(dir, split)| OriginalData { dir, split });
        ml::finetune::data::prepare(
            &FineTuneSources {
                uploads: &upload_items,
                reference: &reference_items,
                original,
                seed: session_id as u64,
            },
            &preprocess,
        )
    })
    .await
    .map_err(|e| JobError::Job(format!("preprocessing panicked: {e}")))?;
    let (status, processed, error) = match &prepared {
        Ok(prepared) => (
            PreprocessingStatus::Completed,
            prepared.images_processed as i64,
            None,
        ),
        Err(error) => (PreprocessingStatus::Failed, 0, Some(error.to_string())),
    };
    db::preprocessing_logs::insert(
        &state.db,
        &db::preprocessing_logs::NewPreprocessingLog {
            training_session_id: Some(session_id),
            images_processed: processed,
            features_extracted: 0,
            seconds: started.elapsed().as_secs_f64(),
            status,
            error: error.as_deref(),
        },
    )
    .await?;
    Ok(prepared?)
}

/// The version a job trains: its name and the local folder it is written into.
struct NewVersion<'a> {
    name: &'a str,
    dir: &'a Path,
}

/// Trains the new version off the async threads, reporting its progress.
async fn fine_tune(
    state: &AppState,
    serving: &ServingModel,
    prepared: PreparedData,
    version: NewVersion<'_>,
    session_id: i64,
    request: TriggerRequest,
    reporter: ProgressReporter,
) -> Result<FineTuneOutcome, JobError> {
    let base_dir = serving.path.clone();
    let training_backend = state.service.training_backend;
    let out_dir = version.dir.to_path_buf();
    let version = version.name.to_owned();
    let outcome = tokio::task::spawn_blocking(move || {
        reporter.set_phase(JobPhase::Training);
        let mut observer = ProgressObserver {
            reporter,
            started: Instant::now(),
            regular_epochs: request.epochs as usize,
        };
        let device = training_backend.device()?;
        finetune::fine_tune(
            &FineTuneRequest {
                base_dir: &base_dir,
                out_dir: &out_dir,
                version: &version,
                train_images: &prepared.train,
                validation_images: &prepared.validation,
                epochs: request.epochs as usize,
                fine_tune_epochs: request.fine_tune_epochs as usize,
                // A tenth of the serving architecture's from-scratch peak (see `ml::finetune`).
                learning_rate: None,
                seed: session_id as u64,
                data_description: prepared.description.clone(),
            },
            &device,
            &mut observer,
        )
    })
    .await
    .map_err(|e| JobError::Job(format!("training panicked: {e}")))??;
    Ok(outcome)
}

/// Stored uploads as the training code's labelled image files (copied from a remote store into this
/// process's cache first).
async fn labeled_images(
    rows: &[db::uploads::UploadedImage],
    uploads: &storage::Area,
) -> Result<Vec<LabeledImage>, JobError> {
    let mut images = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(label) = domain::class_index(&row.class_name) {
            let path = uploads.local_file(&row.stored_path).await?;
            images.push(LabeledImage { path, label });
        }
    }
    Ok(images)
}

fn scores(report: &ml::EvaluationReport) -> db::training_sessions::Scores {
    db::training_sessions::Scores {
        accuracy: report.accuracy,
        precision: report.macro_avg.precision,
        recall: report.macro_avg.recall,
        f1: report.macro_avg.f1,
    }
}
