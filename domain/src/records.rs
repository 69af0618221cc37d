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
    pub outcome: crate::AuditOutcome,
    pub client: Option<String>,
    pub detail: Option<String>,
    /// How many times it happened: refused requests are counted per client, action and minute.
    pub count: i64,
}

/// A retraining session's macro-averaged validation scores of the serving model (`_before`) and
/// the fine-tuned one (`_after`); empty until the job has evaluated both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionScores {
    pub accuracy_before: Option<f64>,
    pub accuracy_after: Option<f64>,
    pub precision_before: Option<f64>,
    pub precision_after: Option<f64>,
    pub recall_before: Option<f64>,
    pub recall_after: Option<f64>,
    pub f1_before: Option<f64>,
    pub f1_after: Option<f64>,
}
