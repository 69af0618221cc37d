//! Stored uploads as the Data page lists them: one row per upload and a page of rows with totals.

use serde::{Deserialize, Serialize};

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
    /// The prediction a reviewer corrected into this upload (absent for a bulk upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UploadsPage {
    /// Newest first.
    pub uploads: Vec<UploadRow>,
    /// Every upload the filters keep (the page holds at most `limit`).
    pub total: i64,
}
