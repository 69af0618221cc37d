//! Suspect labels: `GET /retrain/review` lists the training uploads the serving model confidently
//! contradicted (held, not trained on); `POST /retrain/review/decide` confirms, relabels or discards
//! one; `GET /retrain/review/{id}/image` serves a held image to look at. Annotators and admins only.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use crate::types::review::{HeldUploadsResponse, ReviewDecision, ReviewResult};

use crate::error::AppError;

#[server(prefix = "", endpoint = "retrain/review", input = GetUrl)]
pub async fn held_uploads(
    #[server(default)] limit: Option<i64>,
) -> Result<HeldUploadsResponse, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
    crate::ssr::review::held(&state, limit.unwrap_or(50)).await
}

#[server(prefix = "", endpoint = "retrain/review/decide", input = Json)]
pub async fn review_upload(
    id: i64,
    decision: ReviewDecision,
    #[server(default)] class_name: Option<String>,
) -> Result<ReviewResult, AppError> {
    let state = crate::ssr::state()?;
    let caller = crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
    crate::ssr::review::decide(&state, &caller, id, decision, class_name.as_deref()).await
}
