//! Records the database stores and the API answers field for field.

use serde::{Deserialize, Serialize};

/// One audited action: who did what to the system, when, from where, and whether it was allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `ok`, `refused` or `failed`.
    pub outcome: String,
    pub client: Option<String>,
    pub detail: Option<String>,
}
