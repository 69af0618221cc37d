//! Held uploads: listing them, serving their images, and recording an annotator's decision (audited)
//! so only labels a person stood behind reach training.

use domain::AuditOutcome;

use crate::error::AppError;
use crate::ssr::auth::Principal;
use crate::ssr::AppState;
use crate::types::review::{HeldUpload, HeldUploadsResponse, ReviewDecision, ReviewResult};

pub async fn held(state: &AppState, limit: i64) -> Result<HeldUploadsResponse, AppError> {
    let max = crate::types::review::MAX_REVIEW_PAGE;
    if !(1..=max).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and {max} (got {limit})"
        )));
    }
    let (rows, total) = db::uploads::held(&state.db, limit).await?;
    Ok(HeldUploadsResponse {
        held: rows.into_iter().map(held_upload).collect(),
        total,
    })
}

/// Why an upload is held: the serving model's confident disagreement with its label. Written into
/// `review_detail` at upload, read back for the review list.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Hold {
    pub model_version: String,
    pub uploaded_label: String,
    #[serde(flatten)]
    pub contradiction: ml::label_check::Contradiction,
}

fn held_upload(row: db::uploads::HeldUpload) -> HeldUpload {
    // A detail that cannot be read shows as unknown rather than failing the whole list.
    let hold: Option<Hold> = row
        .review_detail
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok());
    let (model_version, predicted_class, predicted, label) = match hold {
        Some(hold) => (
            hold.model_version,
            hold.contradiction.predicted_class,
            hold.contradiction.predicted_probability,
            hold.contradiction.label_probability,
        ),
        None => (String::new(), String::new(), 0.0, 0.0),
    };
    HeldUpload {
        image_url: format!("/retrain/review/{}/image", row.id),
        id: row.id,
        filename: row.filename,
        class_name: row.class_name,
        predicted_class,
        predicted_probability: f64::from(predicted),
        label_probability: f64::from(label),
        model_version,
        uploaded_at: row.uploaded_at,
        uploaded_by: row.uploaded_by,
    }
}

/// Records `decision` on held upload `id`; `class_name` is required for a relabel. Every attempt,
/// refused or not, goes to the audit trail.
pub async fn decide(
    state: &AppState,
    caller: &Principal,
    id: i64,
    decision: ReviewDecision,
    class_name: Option<&str>,
) -> Result<ReviewResult, AppError> {
    let result = record_decision(state, caller, id, decision, class_name).await;
    let target = format!("upload {id}");
    let detail = match &result {
        Ok((decided, own)) => format!(
            "{} as {}{}",
            format!("{decision:?}").to_lowercase(),
            decided.class_name,
            if *own {
                " (an admin deciding on their own upload)"
            } else {
                ""
            }
        ),
        Err(error) => error.to_string(),
    };
    let result = result.map(|(decided, _)| decided);
    crate::ssr::auth::audit(
        &state.db,
        caller,
        "upload.review",
        Some(&target),
        AuditOutcome::of(&result),
        Some(&detail),
    )
    .await;
    result
}

async fn record_decision(
    state: &AppState,
    caller: &Principal,
    id: i64,
    decision: ReviewDecision,
    class_name: Option<&str>,
) -> Result<(ReviewResult, bool), AppError> {
    let row = db::uploads::held_one(&state.db, id)
        .await?
        .ok_or_else(|| not_held(id))?;
    // Four eyes: a hold exists because the uploader may be wrong, so someone else decides.
    let own = row.uploaded_by.as_deref() == Some(caller.subject.as_str());
    if own && !caller.allows(crate::types::auth::Role::Admin) {
        return Err(AppError::Forbidden(format!(
            "you uploaded upload {id}; another annotator or an admin must decide on it"
        )));
    }
    let (review, label) = match decision {
        ReviewDecision::Confirm => (db::uploads::Review::Confirmed, row.class_name.clone()),
        ReviewDecision::Discard => (db::uploads::Review::Discarded, row.class_name.clone()),
        ReviewDecision::Relabel => {
            let label = crate::ssr::uploads::parse_class_name(class_name)?;
            if label == row.class_name {
                return Err(AppError::BadRequest(format!(
                    "upload {id} is already labelled {label}; use decision \"confirm\" to keep it"
                )));
            }
            (db::uploads::Review::Relabelled, label)
        }
    };
    let mut detail: serde_json::Value = row
        .review_detail
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    if let Some(object) = detail.as_object_mut() {
        object.insert("decision".into(), review.as_str().into());
        object.insert("decided_by".into(), caller.subject.clone().into());
        object.insert("decided_at".into(), db::now_rfc3339().into());
        object.insert("uploaded_label".into(), row.class_name.clone().into());
    }
    if !db::uploads::decide(&state.db, id, review, &label, &detail.to_string()).await? {
        // Another annotator decided it between our read and our write.
        return Err(not_held(id));
    }
    let stats = db::uploads::stats(&state.db).await?;
    Ok((
        ReviewResult {
            id,
            decision,
            class_name: label,
            pending_images: stats.pending,
            held_remaining: stats.held,
        },
        own,
    ))
}

fn not_held(id: i64) -> AppError {
    AppError::NotFound(format!(
        "upload {id} is not held for review (unknown, or already decided)"
    ))
}

/// The stored bytes of held upload `id` and their content type.
pub async fn held_image(state: &AppState, id: i64) -> Result<(Vec<u8>, &'static str), AppError> {
    let row = db::uploads::held_one(&state.db, id)
        .await?
        .ok_or_else(|| not_held(id))?;
    crate::ssr::data::read_stored(state, id, &row.stored_path).await
}
