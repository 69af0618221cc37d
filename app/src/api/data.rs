//! The Data page's REST surface (annotators and admins): `GET /uploads` lists stored uploads with
//! filters, `POST /uploads/relabel` and `POST /uploads/delete` curate the ones no version was
//! trained on (audited), and `GET /uploads/{id}/image` serves one to look at.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use crate::types::data::{UploadRow, UploadsPage};

use crate::error::AppError;

/// `GET /uploads?class_name=&status=&uploaded_by=&purpose=&from=&until=&before=&limit=`
/// (annotator).
// Each argument is one query parameter of the REST endpoint, which clients name one by one.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "", endpoint = "uploads", input = GetUrl)]
pub async fn list_uploads(
    #[server(default)] class_name: Option<String>,
    #[server(default)] status: Option<String>,
    #[server(default)] uploaded_by: Option<String>,
    #[server(default)] purpose: Option<String>,
    #[server(default)] from: Option<String>,
    #[server(default)] until: Option<String>,
    #[server(default)] before: Option<i64>,
    #[server(default)] limit: Option<i64>,
) -> Result<UploadsPage, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
    crate::ssr::data::list(
        &state,
        crate::ssr::data::Filters {
            class_name,
            status,
            uploaded_by,
            purpose,
            from,
            until,
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
    let caller = crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
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
    let caller = crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
    let result = crate::ssr::data::delete(&state, &caller.subject, id).await;
    let target = format!("upload {id}");
    crate::ssr::auth::audit_result(&state.db, &caller, "upload.delete", Some(&target), &result)
        .await;
    result
}
