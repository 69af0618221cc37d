//! Uploads, retraining jobs, sessions, model versions and the database totals.

use domain::comparison::{EvaluationSet, EvaluationSetKind, VersionComparison};
use domain::outcome::JobOutcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use domain::{
    JobPhase, ModelStatus, RetrainState, SessionScores, SessionStatus, TrainingSources,
};

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
    /// What to learn from: bulk uploads, reviewers' corrections, or both (the default).
    #[serde(default)]
    pub sources: Option<TrainingSources>,
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
    /// What the job learns from: bulk uploads, reviewers' corrections, or both.
    pub sources: TrainingSources,
    pub images_used: i64,
    /// Of the images learnt from, how many were reviewers' corrections of predictions.
    pub feedback_images: i64,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CancelResponse {
    pub session_id: i64,
    /// `failed` when a queued job ended at once; `running` while a running one stops.
    pub status: SessionStatus,
    pub message: String,
}
