//! The audit trail: who changed what, when, from where, and how it ended.

use domain::AuditOutcome;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Principal;
use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::auth::AuditEntry;

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

/// Refusals are what an attacker can send in bulk, so they are counted into one row per minute,
/// client, actor, action and target: the first is written at once (who was refused is never
/// lost), the rest are counted here and added to the row by [`flush_refusals`] every few seconds,
/// so a flood costs a few writes a minute instead of one per request.
#[derive(Debug, Clone, Default)]
pub struct RefusalTally(Arc<Mutex<HashMap<String, Unwritten>>>);

#[derive(Debug, Clone)]
struct Unwritten {
    actor: String,
    action: String,
    target: Option<String>,
    client: Option<String>,
    detail: Option<String>,
    count: i64,
}

impl Unwritten {
    fn event(&self) -> db::audit::NewAuditEvent<'_> {
        db::audit::NewAuditEvent {
            actor: &self.actor,
            action: &self.action,
            target: self.target.as_deref(),
            outcome: AuditOutcome::Refused,
            client: self.client.as_deref(),
            detail: self.detail.as_deref(),
        }
    }
}

/// How often counted refusals are written.
pub const REFUSAL_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Records a refused request (see [`RefusalTally`]).
pub async fn audit_refusal(
    state: &AppState,
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
    let key = db::audit::refusal_key(&event);
    {
        let mut tally = state.refusals.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(counted) = tally.get_mut(&key) {
            counted.count += 1;
            return;
        }
        tally.insert(
            key.clone(),
            Unwritten {
                actor: event.actor.to_owned(),
                action: action.to_owned(),
                target: target.map(str::to_owned),
                client: event.client.map(str::to_owned),
                detail: detail.map(str::to_owned),
                count: 0,
            },
        );
    }
    if let Err(error) = db::audit::record_refusals(&state.db, &event, &key, 1).await {
        tracing::error!("cannot record the refusal {action}: {error}");
    }
}

/// Writes the refusals counted since the last flush, and forgets rows of past minutes.
pub async fn flush_refusals(state: &AppState) {
    let minute = &db::now_rfc3339()[..16];
    let due: Vec<(String, Unwritten)> = {
        let mut tally = state.refusals.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut due = Vec::new();
        tally.retain(|key, counted| {
            if counted.count > 0 {
                due.push((key.clone(), counted.clone()));
                counted.count = 0;
            }
            // This minute's rows exist: later refusals in it are counted again from zero.
            key.starts_with(minute)
        });
        due
    };
    for (key, counted) in due {
        if let Err(error) =
            db::audit::record_refusals(&state.db, &counted.event(), &key, counted.count).await
        {
            tracing::error!("cannot record {} counted refusals: {error}", counted.count);
        }
    }
}

/// Flushes counted refusals every [`REFUSAL_FLUSH_INTERVAL`] for as long as the server runs.
pub fn spawn_refusal_flush(state: AppState) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(REFUSAL_FLUSH_INTERVAL);
        loop {
            ticks.tick().await;
            flush_refusals(&state).await;
        }
    });
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
