//! The audit trail: who changed what, when, from where, and how it ended.

use domain::AuditOutcome;

use super::Principal;
use crate::api::auth::AuditEntry;
use crate::error::AppError;

/// Records an event; a database failure is logged and never fails the request it describes.
pub async fn audit(
    db: &db::Pool,
    actor: &Principal,
    action: &str,
    target: Option<&str>,
    outcome: AuditOutcome,
    detail: Option<&str>,
) {
    let event = db::audit::NewAuditEvent {
        actor: &actor.subject,
        action,
        target,
        outcome,
        client: actor.client.as_deref(),
        detail,
    };
    if let Err(error) = db::audit::record(db, &event).await {
        tracing::error!("cannot record the audit event {action}: {error}");
    }
}

/// Records an action's outcome: `ok`, or `failed` with the error's message.
pub async fn audit_result<T>(
    db: &db::Pool,
    actor: &Principal,
    action: &str,
    target: Option<&str>,
    result: &Result<T, AppError>,
) {
    match result {
        Ok(_) => audit(db, actor, action, target, AuditOutcome::Ok, None).await,
        Err(error) => {
            audit(
                db,
                actor,
                action,
                target,
                AuditOutcome::Failed,
                Some(&error.to_string()),
            )
            .await
        }
    }
}

pub async fn audit_log(db: &db::Pool, limit: i64) -> Result<Vec<AuditEntry>, AppError> {
    Ok(db::audit::recent(db, limit.clamp(1, 1000)).await?)
}
