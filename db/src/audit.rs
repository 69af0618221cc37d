//! The `audit_events` table: who did what to the system, when, from where, and whether it was allowed.

use crate::{DbResult, Pool};
pub use domain::AuditOutcome;

#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub outcome: AuditOutcome,
    pub client: Option<&'a str>,
    pub detail: Option<&'a str>,
}

pub use domain::AuditEntry;

pub async fn record(db: &Pool, event: &NewAuditEvent<'_>) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, actor, action, target, outcome, client, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(crate::now_rfc3339())
    .bind(event.actor)
    .bind(event.action)
    .bind(event.target)
    .bind(event.outcome)
    .bind(event.client)
    .bind(event.detail)
    .execute(db)
    .await?;
    Ok(())
}

/// The newest `limit` events, newest first.
pub async fn recent(db: &Pool, limit: i64) -> DbResult<Vec<AuditEntry>> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor, action, target, outcome, client, detail
         FROM audit_events ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?)
}
