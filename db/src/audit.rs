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

/// The most of any text field stored: a client chooses paths, names and details.
pub const MAX_FIELD_CHARS: usize = 200;
/// The largest page [`page`] answers.
pub const MAX_PAGE: i64 = 500;

fn clipped(text: &str) -> &str {
    domain::text::clipped(text, MAX_FIELD_CHARS)
}

pub async fn record(db: &Pool, event: &NewAuditEvent<'_>) -> DbResult<()> {
    insert(db, event, None, 1).await
}

/// The row a refusal is counted into: one per minute, client, actor, action and target. Starts
/// with the minute (`YYYY-MM-DDTHH:MM`).
pub fn refusal_key(event: &NewAuditEvent<'_>) -> String {
    let minute = &crate::now_rfc3339()[..16];
    format!(
        "{minute}|{}|{}|{}|{}",
        clipped(event.client.unwrap_or_default()),
        clipped(event.actor),
        clipped(event.action),
        clipped(event.target.unwrap_or_default())
    )
}

/// Adds `count` refusals to the row `key` names, creating it from `event` if it is new.
pub async fn record_refusals(
    db: &Pool,
    event: &NewAuditEvent<'_>,
    key: &str,
    count: i64,
) -> DbResult<()> {
    insert(db, event, Some(key), count).await
}

async fn insert(
    db: &Pool,
    event: &NewAuditEvent<'_>,
    refusal_key: Option<&str>,
    count: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, actor, action, target, outcome, client, detail, count,
                                   refusal_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $8)
         ON CONFLICT (refusal_key) DO UPDATE SET count = audit_events.count + $9",
    )
    .bind(crate::now_rfc3339())
    .bind(clipped(event.actor))
    .bind(clipped(event.action))
    .bind(event.target.map(clipped))
    .bind(event.outcome)
    .bind(event.client.map(clipped))
    .bind(event.detail.map(clipped))
    .bind(refusal_key)
    .bind(count)
    .execute(db)
    .await?;
    Ok(())
}

/// Up to `limit` events older than event `before` (or the newest), newest first.
pub async fn page(db: &Pool, limit: i64, before: Option<i64>) -> DbResult<Vec<AuditEntry>> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor, action, target, outcome, client, detail, count
         FROM audit_events WHERE id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit.clamp(1, MAX_PAGE))
    .fetch_all(db)
    .await?)
}
