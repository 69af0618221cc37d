//! The Data page's REST surface (annotators and admins): `GET /uploads` lists stored uploads with
//! filters, `POST /uploads/relabel` and `POST /uploads/delete` curate the ones no version was
//! trained on (audited), and `GET /uploads/{id}/image` serves one to look at.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The most uploads one page lists.
pub const MAX_PAGE: i64 = 200;

/// One stored upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadRow {
    pub id: i64,
    pub filename: String,
    pub class_name: String,
    /// `pending`, `used` (trained on: kept as it is), `held`, `discarded` or `reference`.
    pub status: String,
    pub purpose: String,
    pub uploaded_by: Option<String>,
    pub uploaded_at: String,
    pub width: i64,
    pub height: i64,
    pub size_bytes: i64,
    /// Relabelling and deleting are open: no version was trained on it and it is not discarded.
    pub editable: bool,
    pub image_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadsPage {
    /// Newest first.
    pub uploads: Vec<UploadRow>,
    /// Every upload the filters keep (the page holds at most `limit`).
    pub total: i64,
}

/// `GET /uploads?class_name=&status=&uploaded_by=&before=&limit=` (annotator).
#[server(prefix = "", endpoint = "uploads", input = GetUrl)]
pub async fn list_uploads(
    #[server(default)] class_name: Option<String>,
    #[server(default)] status: Option<String>,
    #[server(default)] uploaded_by: Option<String>,
    #[server(default)] before: Option<i64>,
    #[server(default)] limit: Option<i64>,
) -> Result<UploadsPage, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(crate::api::auth::Role::Annotator)?;
    crate::ssr::data::list(
        &state,
        crate::ssr::data::Filters {
            class_name,
            status,
            uploaded_by,
            before,
            limit,
        },
    )
    .await
}

/// `POST /uploads/relabel {"id": 12, "class_name": "glioma"}` (annotator, audited).
#[server(prefix = "", endpoint = "uploads/relabel", input = Json)]
pub async fn relabel_upload(id: i64, class_name: String) -> Result<UploadRow, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::api::auth::Role::Annotator)?;
    let result = crate::ssr::data::relabel(&state, &caller.subject, id, &class_name).await;
    let target = format!("upload {id}");
    crate::ssr::auth::audit_result(&state.db, &caller, "upload.relabel", Some(&target), &result)
        .await;
    result
}

/// `POST /uploads/delete {"id": 12}` (annotator, audited): a soft delete, refused for an upload a
/// version was trained on.
#[server(prefix = "", endpoint = "uploads/delete", input = Json)]
pub async fn delete_upload(id: i64) -> Result<UploadRow, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::api::auth::Role::Annotator)?;
    let result = crate::ssr::data::delete(&state, &caller.subject, id).await;
    let target = format!("upload {id}");
    crate::ssr::auth::audit_result(&state.db, &caller, "upload.delete", Some(&target), &result)
        .await;
    result
}
