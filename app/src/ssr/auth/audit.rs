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

/// Records a refused request, counted into one row per client, action and minute: refusals are
/// what an attacker can send in bulk.
pub async fn audit_refusal(
    db: &db::Pool,
    actor: &Principal,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
) {
    let event = db::audit::NewAuditEvent {
        actor: &actor.subject,
        action,
        target,
        outcome: AuditOutcome::Refused,
        client: actor.client.as_deref(),
        detail,
    };
    if let Err(error) = db::audit::record_refusal(db, &event).await {
        tracing::error!("cannot record the refusal {action}: {error}");
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

/// A page of the audit trail: up to `limit` events older than event `before`, newest first.
pub async fn audit_log(
    db: &db::Pool,
    limit: i64,
    before: Option<i64>,
) -> Result<Vec<AuditEntry>, AppError> {
    if !(1..=db::audit::MAX_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit is 1-{} events a page; page on with before=<the last id you got>",
            db::audit::MAX_PAGE
        )));
    }
    Ok(db::audit::page(db, limit, before).await?)
}
