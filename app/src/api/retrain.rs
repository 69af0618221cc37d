//! Retraining over REST and in the browser: `POST /retrain` (upload labelled images),
//! `POST /retrain/trigger`, `GET /retrain/status`, `GET /retrain/sessions?limit=5`,
//! `GET /database/stats`, `GET /models` and model activation.

use std::collections::BTreeMap;

use domain::comparison::{EvaluationSet, EvaluationSetKind, VersionComparison};
use domain::outcome::JobOutcome;
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json, MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

pub use domain::{JobPhase, ModelStatus, RetrainState, SessionScores, SessionStatus};

use crate::error::AppError;

/// Epoch limits for a retraining request.
pub const MAX_EPOCHS: u32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UploadOutcome {
    /// Queued for the next retraining job (or added to the reference set).
    Stored,
    /// Stored, but the serving model confidently contradicts its label: it waits for an annotator
    /// (`GET /retrain/review`) and is not trained on until one confirms or relabels it.
    Held,
    Duplicate,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadFileResult {
    pub filename: String,
    pub outcome: UploadOutcome,
    /// The upload's row id (for a duplicate, the row that already holds the bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadResponse {
    pub class_name: String,
    pub results: Vec<UploadFileResult>,
    pub stored: usize,
    /// Stored but held for review (not counted in `stored`).
    pub held: usize,
    pub duplicates: usize,
    pub rejected: usize,
    /// Uploads waiting for the next retraining job, all classes.
    pub pending_images: i64,
}

/// The optional body of `POST /models/{version}/activate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ActivateRequest {
    /// Serve a version the activation gate rejected.
    #[serde(default)]
    pub force: bool,
    /// Why, when forcing; recorded in the audit trail.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TriggerRequest {
    pub epochs: u32,
    #[serde(default)]
    pub fine_tune_epochs: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TriggerResponse {
    pub session_id: i64,
    pub status: SessionStatus,
    pub message: String,
}

/// Live progress of the running job (absent when none runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LiveProgress {
    pub phase: JobPhase,
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: Option<f64>,
    pub accuracy: Option<f64>,
    pub eta_seconds: Option<f64>,
    /// 0-1 over the whole job.
    pub fraction: f64,
}

impl LiveProgress {
    /// A job in `phase` that has not reached its first batch.
    pub fn new(phase: JobPhase, epochs: usize) -> Self {
        Self {
            phase,
            epoch: 0,
            epochs,
            batch: 0,
            batches: 0,
            loss: None,
            accuracy: None,
            eta_seconds: None,
            fraction: 0.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionSummary {
    pub id: i64,
    pub status: SessionStatus,
    pub epochs: i64,
    pub fine_tune_epochs: i64,
    pub images_used: i64,
    #[serde(flatten)]
    pub scores: SessionScores,
    pub history: serde_json::Value,
    pub model_version: Option<String>,
    pub message: Option<String>,
    pub error: Option<String>,
    /// How the job ended, in fields (what, why, what next); absent while it runs.
    pub outcome: Option<JobOutcome>,
    /// An admin asked the running job to stop; it stops at its next batch.
    pub cancel_requested: bool,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetrainStatus {
    /// `idle` when no session exists yet; otherwise the latest session's status.
    pub status: RetrainState,
    pub session: Option<SessionSummary>,
    pub progress: Option<LiveProgress>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionsResponse {
    pub sessions: Vec<SessionSummary>,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DatabaseStats {
    pub total_uploaded_images: i64,
    pub processed_images: i64,
    pub pending_images: i64,
    /// Uploads in the trusted reference set new versions are judged on (never trained on).
    pub reference_images: i64,
    /// Uploads the label check held, waiting for an annotator.
    pub held_for_review: i64,
    pub total_training_sessions: i64,
    pub completed_sessions: i64,
    pub images_by_class: BTreeMap<String, i64>,
    pub total_predictions: i64,
    pub uploaded_bytes: i64,
    pub active_model_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelVersionInfo {
    pub version: String,
    pub status: ModelStatus,
    pub created_at: String,
    pub activated_at: Option<String>,
    pub parent_version: Option<String>,
    pub accuracy: Option<f64>,
    pub macro_f1: Option<f64>,
    pub metrics: serde_json::Value,
    pub serving: bool,
    /// The activation gate rejected it: serving it needs `force` and a reason.
    pub gate_rejected: bool,
    /// What the gate said when it rejected it (the session's message).
    pub gate_verdict: Option<String>,
    /// The images `accuracy` was measured on; absent for versions saved before it was recorded.
    pub evaluated_on: Option<EvaluationSet>,
    /// This version against the serving one on the same images, or why that cannot be done;
    /// absent for the serving version itself.
    pub versus_serving: Option<VersionComparison>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelsResponse {
    pub models: Vec<ModelVersionInfo>,
    pub active_version: Option<String>,
}

#[server(prefix = "", endpoint = "retrain", input = MultipartFormData)]
pub async fn upload_training_images(data: MultipartData) -> Result<UploadResponse, AppError> {
    use crate::ssr::{multipart, uploads};
    use domain::AuditOutcome;
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::api::auth::Role::Annotator)?;
    let form = multipart::read_form(data, &state.service.limits()).await?;
    let class_name = uploads::parse_class_name(form.text("class_name"))?;
    let purpose = uploads::parse_purpose(form.text("purpose"))?;
    if purpose == db::uploads::Purpose::Reference {
        // The reference set is what the gate trusts; only admins may add to it.
        crate::ssr::auth::check(&caller, crate::api::auth::Role::Admin)?;
    }
    let files = form.files_named("files")?;
    let results = uploads::store_all(&state, &class_name, purpose, &caller.subject, files).await?;
    let count = |outcome| results.iter().filter(|r| r.outcome == outcome).count();
    let (stored, held, duplicates, rejected) = (
        count(UploadOutcome::Stored),
        count(UploadOutcome::Held),
        count(UploadOutcome::Duplicate),
        count(UploadOutcome::Rejected),
    );
    let detail = format!(
        "{}: stored {stored}, held for review {held}, duplicates {duplicates}, rejected {rejected}",
        purpose.as_str()
    );
    let outcome = if stored + held + duplicates == 0 {
        AuditOutcome::Failed
    } else {
        AuditOutcome::Ok
    };
    crate::ssr::auth::audit(
        &state.db,
        &caller,
        "upload",
        Some(&class_name),
        outcome,
        Some(&detail),
    )
    .await;
    if stored + held + duplicates == 0 {
        let reasons: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "{}: {}",
                    r.filename,
                    r.reason.as_deref().unwrap_or("rejected")
                )
            })
            .collect();
        return Err(AppError::BadRequest(format!(
            "no file was stored: {}",
            reasons.join("; ")
        )));
    }
    Ok(UploadResponse {
        class_name,
        results,
        stored,
        held,
        duplicates,
        rejected,
        pending_images: db::uploads::count_pending(&state.db).await?,
    })
}

/// What a retraining started now would be judged on, said before anyone clicks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetrainOutlook {
    /// Uploads waiting to be learnt from.
    pub pending_images: i64,
    /// The images a new version would be scored on.
    pub judged_on: EvaluationSetKind,
    /// Whether a new version that scores at least as well would serve without a person: only when
    /// it is judged on a set uploads cannot change.
    pub can_activate: bool,
    pub reference_images: i64,
    /// Reference images needed before the reference set is used.
    pub reference_needed: i64,
    /// In the page's words: what happens on a click, and what would let the server activate.
    pub explanation: String,
}

/// `GET /retrain/readiness`: whether a retraining started now could activate its result.
#[server(prefix = "", endpoint = "retrain/readiness", input = GetUrl)]
pub async fn retrain_readiness() -> Result<RetrainOutlook, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::retrain::readiness(&state).await
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CancelResponse {
    pub session_id: i64,
    /// `failed` when a queued job ended at once; `running` while a running one stops.
    pub status: SessionStatus,
    pub message: String,
}

/// `POST /retrain/cancel {"session_id": N}` (admin): stops a queued or running job, audited. A
/// running job stops at its next batch and keeps nothing.
#[server(prefix = "", endpoint = "retrain/cancel", input = Json)]
pub async fn cancel_retrain(session_id: i64) -> Result<CancelResponse, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::api::auth::Role::Admin)?;
    let result = crate::ssr::retrain::cancel(&state, session_id, &caller.subject).await;
    let target = format!("session {session_id}");
    crate::ssr::auth::audit_result(&state.db, &caller, "retrain.cancel", Some(&target), &result)
        .await;
    result
}

#[server(prefix = "", endpoint = "retrain/trigger", input = Json)]
pub async fn trigger_retrain(
    epochs: u32,
    #[server(default)] fine_tune_epochs: u32,
) -> Result<TriggerResponse, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::api::auth::Role::Admin)?;
    let result = crate::ssr::retrain::trigger(
        &state,
        TriggerRequest {
            epochs,
            fine_tune_epochs,
        },
    )
    .await;
    let target = result
        .as_ref()
        .ok()
        .map(|r| format!("session {}", r.session_id));
    crate::ssr::auth::audit_result(
        &state.db,
        &caller,
        "retrain.trigger",
        target.as_deref(),
        &result,
    )
    .await;
    result
}

#[server(prefix = "", endpoint = "retrain/status", input = GetUrl)]
pub async fn get_retrain_status() -> Result<RetrainStatus, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::retrain::status(&state).await
}

#[server(prefix = "", endpoint = "retrain/sessions", input = GetUrl)]
pub async fn retrain_sessions(
    #[server(default)] limit: Option<i64>,
) -> Result<SessionsResponse, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::retrain::sessions(&state, limit.unwrap_or(5)).await
}

#[server(prefix = "", endpoint = "database/stats", input = GetUrl)]
pub async fn get_database_stats() -> Result<DatabaseStats, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::stats::database_stats(&state).await
}

#[server(prefix = "", endpoint = "models", input = GetUrl)]
pub async fn list_models() -> Result<ModelsResponse, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::models::list(&state).await
}

/// `GET /models/compare?version=A&against=B`: two versions on the same images (per-class recall,
/// confusion matrices, the accuracy difference with its 95% interval), or "not comparable" with the
/// two sets named. `against` defaults to the serving version.
#[server(prefix = "", endpoint = "models/compare", input = GetUrl)]
pub async fn compare_models(
    version: String,
    #[server(default)] against: Option<String>,
) -> Result<VersionComparison, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::models::compare(&state, &version, against.as_deref()).await
}

/// The UI's way to activate a version; REST clients use `POST /models/{version}/activate`.
#[server(endpoint = "activate_model")]
pub async fn activate_model(
    version: String,
    #[server(default)] force: bool,
    #[server(default)] reason: Option<String>,
) -> Result<ModelsResponse, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::api::auth::Role::Admin)?;
    crate::ssr::models::activate_as(&state, &caller, &version, force, reason.as_deref()).await?;
    crate::ssr::models::list(&state).await
}
