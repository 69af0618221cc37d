//! The bodies of the Data page's endpoints: listing, relabelling and soft-deleting uploads.

use db::uploads::{ListedUpload, UploadFilter, UploadStatus};

use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::data::{UploadRow, UploadsPage, MAX_PAGE};

/// The list's filters as the request gave them.
pub struct Filters {
    pub class_name: Option<String>,
    pub status: Option<String>,
    pub uploaded_by: Option<String>,
    pub purpose: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub from: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    pub until: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// A `from`/`until` day: `YYYY-MM-DD`, or a clear 400.
fn parse_day(field: &str, value: Option<String>) -> Result<Option<String>, AppError> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(day) => chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d")
            .map(|date| Some(date.format("%Y-%m-%d").to_string()))
            .map_err(|_| {
                AppError::BadRequest(format!(
                    "{field} must be a day as YYYY-MM-DD (got {})",
                    domain::text::clipped(&day, 20)
                ))
            }),
    }
}

fn row(listed: ListedUpload) -> UploadRow {
    let status = UploadStatus::of(&listed);
    UploadRow {
        editable: !matches!(status, UploadStatus::Used | UploadStatus::Discarded),
        status: status.as_str().to_owned(),
        image_url: format!("/uploads/{}/image", listed.id),
        id: listed.id,
        filename: listed.filename,
        class_name: listed.class_name,
        purpose: listed.purpose,
        uploaded_by: listed.uploaded_by,
        uploaded_at: listed.uploaded_at,
        width: listed.width,
        height: listed.height,
        size_bytes: listed.size_bytes,
        prediction_id: listed.prediction_id,
    }
}

pub async fn list(state: &AppState, filters: Filters) -> Result<UploadsPage, AppError> {
    let limit = filters.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE} (got {limit})"
        )));
    }
    let class_name = filters
        .class_name
        .filter(|name| !name.is_empty())
        .map(|name| crate::ssr::uploads::parse_class_name(Some(&name)))
        .transpose()?;
    let status = match filters.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(wanted) => Some(
            UploadStatus::ALL
                .into_iter()
                .find(|status| status.as_str() == wanted)
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "status must be one of pending, used, held, discarded, reference (got {})",
                        domain::text::clipped(wanted, 40)
                    ))
                })?,
        ),
    };
    let uploaded_by = filters.uploaded_by.filter(|name| !name.is_empty());
    let purpose = filters
        .purpose
        .filter(|p| !p.is_empty())
        .map(|p| crate::ssr::uploads::parse_purpose(Some(&p)))
        .transpose()?;
    let uploaded_from = parse_day("from", filters.from)?;
    let uploaded_until = parse_day("until", filters.until)?;
    let (rows, total) = db::uploads::browse(
        &state.db,
        &UploadFilter {
            class_name: class_name.as_deref(),
            status,
            uploaded_by: uploaded_by.as_deref(),
            purpose: purpose.map(|p| p.as_str()),
            uploaded_from: uploaded_from.as_deref(),
            uploaded_until: uploaded_until.as_deref(),
            before_id: filters.before,
            limit,
        },
    )
    .await?;
    Ok(UploadsPage {
        uploads: rows.into_iter().map(row).collect(),
        total,
    })
}

async fn find(state: &AppState, id: i64) -> Result<ListedUpload, AppError> {
    db::uploads::listed(&state.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no upload {id}")))
}

/// Why `listed` cannot change, in the caller's words.
fn refusal(listed: &ListedUpload, verb: &str) -> AppError {
    let reason = match UploadStatus::of(listed) {
        UploadStatus::Used => {
            "a retraining session trained on it, so a model version depends on it as it is"
        }
        UploadStatus::Held => {
            "it is held for review: decide it in the review queue on the Upload page"
        }
        UploadStatus::Discarded => "it is already deleted",
        _ => "it changed meanwhile",
    };
    AppError::Conflict(format!("upload {} cannot be {verb}: {reason}", listed.id))
}

pub async fn relabel(
    state: &AppState,
    by: &str,
    id: i64,
    class_name: &str,
) -> Result<UploadRow, AppError> {
    let class_name = crate::ssr::uploads::parse_class_name(Some(class_name))?;
    let before = find(state, id).await?;
    let detail = serde_json::json!({
        "relabelled_by": by,
        "at": db::now_rfc3339(),
        "from": before.class_name,
        "to": class_name,
    })
    .to_string();
    if !db::uploads::relabel(&state.db, id, &class_name, &detail).await? {
        return Err(refusal(&before, "relabelled"));
    }
    Ok(row(find(state, id).await?))
}

pub async fn delete(state: &AppState, by: &str, id: i64) -> Result<UploadRow, AppError> {
    let before = find(state, id).await?;
    let detail = serde_json::json!({
        "deleted_by": by,
        "at": db::now_rfc3339(),
        "status_before": UploadStatus::of(&before).as_str(),
    })
    .to_string();
    if !db::uploads::discard(&state.db, id, &detail).await? {
        return Err(refusal(&before, "deleted"));
    }
    Ok(row(find(state, id).await?))
}

/// The stored bytes of upload `id` and their content type.
pub async fn image(state: &AppState, id: i64) -> Result<(Vec<u8>, &'static str), AppError> {
    let listed = find(state, id).await?;
    read_stored(state, id, &listed.stored_path).await
}

/// Reads an upload's file from the store, typed by the extension `inspect` gave it from its bytes.
/// The path was made by the server from the content hash; the store refuses any name that could
/// leave the uploads area anyway. Failures are logged here and answered without the path.
pub async fn read_stored(
    state: &AppState,
    id: i64,
    stored_path: &str,
) -> Result<(Vec<u8>, &'static str), AppError> {
    let bytes = state
        .service
        .storage
        .uploads
        .read(stored_path)
        .await
        .map_err(|error| {
            tracing::error!("cannot read upload {id}: {error}");
            AppError::Internal
        })?;
    let content_type = image::ImageFormat::from_path(std::path::Path::new(stored_path))
        .map_or("application/octet-stream", |format| format.to_mime_type());
    Ok((bytes, content_type))
}
