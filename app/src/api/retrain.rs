//! Retraining over REST and in the browser: `POST /retrain` (upload labelled images),
//! `POST /retrain/trigger`, `GET /retrain/status`, `GET /retrain/sessions?limit=5`,
//! `GET /database/stats`, `GET /models` and model activation.

use domain::comparison::VersionComparison;
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json, MultipartData, MultipartFormData};

use crate::types::retrain::{
    CancelResponse, DatabaseStats, ModelsResponse, RetrainOutlook, RetrainStatus, SessionsResponse,
    TriggerResponse, UploadResponse,
};

use crate::error::AppError;

#[server(prefix = "", endpoint = "retrain", input = MultipartFormData)]
pub async fn upload_training_images(data: MultipartData) -> Result<UploadResponse, AppError> {
    use crate::ssr::{multipart, uploads};
    use crate::types::retrain::UploadOutcome;
    use domain::AuditOutcome;
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
    let form = multipart::read_form(data, &state.service.limits()).await?;
    let class_name = uploads::parse_class_name(form.text("class_name"))?;
    let purpose = uploads::parse_purpose(form.text("purpose"))?;
    if purpose == db::uploads::Purpose::Reference {
        // The reference set is what the gate trusts; only admins may add to it.
        crate::ssr::auth::check(&caller, crate::types::auth::Role::Admin)?;
    }
    let files = form.files_named("files")?;
    let labelling = uploads::Labelling {
        class_name: &class_name,
        purpose,
        uploaded_by: &caller.subject,
        prediction_id: None,
    };
    let results = uploads::store_all(&state, labelling, files).await?;
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
        pending_images: db::uploads::count_pending(&state.db, domain::TrainingSources::Both)
            .await?,
    })
}

/// `GET /retrain/readiness`: whether a retraining started now could activate its result.
#[server(prefix = "", endpoint = "retrain/readiness", input = GetUrl)]
pub async fn retrain_readiness() -> Result<RetrainOutlook, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::retrain::readiness(&state).await
}

/// `POST /retrain/cancel {"session_id": N}` (admin): stops a queued or running job, audited. A
/// running job stops at its next batch and keeps nothing.
#[server(prefix = "", endpoint = "retrain/cancel", input = Json)]
pub async fn cancel_retrain(session_id: i64) -> Result<CancelResponse, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::types::auth::Role::Admin)?;
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
    #[server(default)] sources: Option<crate::types::retrain::TrainingSources>,
) -> Result<TriggerResponse, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::types::auth::Role::Admin)?;
    let result = crate::ssr::retrain::trigger(
        &state,
        crate::types::retrain::TriggerRequest {
            epochs,
            fine_tune_epochs,
            sources,
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
    let caller = crate::ssr::auth::require(crate::types::auth::Role::Admin)?;
    crate::ssr::models::activate_as(&state, &caller, &version, force, reason.as_deref()).await?;
    crate::ssr::models::list(&state).await
}
