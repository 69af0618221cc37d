//! Resolving credentials to callers, and logging in and out of browser sessions.

use domain::AuditOutcome;

use super::audit::{audit, audit_refusal};
use super::secrets::{digest, new_secret, verify_password, DUMMY_HASH};
use super::{principal, Principal, SESSION_COOKIE, SESSION_HOURS};
use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::auth::{CurrentUser, Role};

/// Resolves an `Authorization: Bearer` token; `None` if unknown or revoked.
pub async fn token_caller(db: &db::Pool, token: &str) -> Result<Option<(String, Role)>, AppError> {
    credential(db::accounts::token_credential(db, &digest(token)).await?)
}

/// Resolves a session cookie's value; `None` if unknown or expired.
pub async fn session_caller(
    db: &db::Pool,
    session_digest: &str,
) -> Result<Option<(String, Role)>, AppError> {
    credential(db::accounts::session_credential(db, session_digest).await?)
}

fn credential(found: Option<db::accounts::Credential>) -> Result<Option<(String, Role)>, AppError> {
    found
        .map(|credential| Ok((credential.subject, credential.role.parse()?)))
        .transpose()
}

/// Checks the password, opens a session and sets its cookie. Unknown names take as long as wrong
/// passwords, so the answer's timing does not tell which names exist.
pub async fn login(
    state: &AppState,
    username: &str,
    password: &str,
) -> Result<CurrentUser, AppError> {
    let caller = principal();
    // Long names cannot be accounts; one key for all of them keeps the table bounded.
    let account: String = username.chars().take(64).collect();
    if let Some(wait) = lock_remaining(state, &account).await? {
        state.security.count_login_lockout();
        audit_refusal(
            state,
            &caller,
            "login.locked",
            Some(&account),
            Some("too many failed logins for this account"),
        )
        .await;
        crate::ssr::budget::set_retry_after(wait);
        return Err(AppError::TooManyRequests(format!(
            "too many failed logins for this account; try again in {wait} s"
        )));
    }
    let user = db::accounts::find_user(&state.db, username).await?;
    let stored = user.as_ref().map(|user| user.password_hash.clone());
    let password_owned = password.to_owned();
    let verified = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => verify_password(&hash, &password_owned),
        None => {
            verify_password(DUMMY_HASH, &password_owned);
            false
        }
    })
    .await
    .map_err(|_| AppError::Internal)?;
    let user = match (user, verified) {
        (Some(user), true) => user,
        _ => {
            let failures = db::accounts::add_login_failure(&state.db, &account).await?;
            let detail = match lock_seconds(failures) {
                Some(seconds) => {
                    let until = chrono::Utc::now() + chrono::Duration::seconds(seconds);
                    let until = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                    db::accounts::lock_login(&state.db, &account, &until).await?;
                    format!("wrong user name or password ({failures} in a row; locked {seconds} s)")
                }
                None => format!("wrong user name or password ({failures} in a row)"),
            };
            audit(
                &state.db,
                &caller,
                "login",
                Some(username),
                AuditOutcome::Refused,
                Some(&detail),
            )
            .await;
            return Err(AppError::Unauthorized(
                "wrong user name or password".to_owned(),
            ));
        }
    };
    let role: Role = user.role.parse()?;
    db::accounts::clear_login_failures(&state.db, &account).await?;
    let (secret, digest) = new_secret("");
    let expires = chrono::Utc::now() + chrono::Duration::hours(SESSION_HOURS);
    let expires_at = expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    db::accounts::insert_session(&state.db, &digest, user.id, &expires_at).await?;
    set_cookie(&session_cookie(&secret, SESSION_HOURS * 3600, caller.https));
    let actor = Principal {
        subject: user.username.clone(),
        role: Some(role),
        ..caller
    };
    audit(
        &state.db,
        &actor,
        "login",
        Some(&user.username),
        AuditOutcome::Ok,
        None,
    )
    .await;
    Ok(CurrentUser {
        username: user.username,
        role,
    })
}

/// Failed logins an account allows before it locks.
pub const FREE_LOGIN_FAILURES: i64 = 5;
/// The first lock; each further failure doubles it, up to [`MAX_LOGIN_LOCK_SECONDS`].
const FIRST_LOGIN_LOCK_SECONDS: i64 = 30;
const MAX_LOGIN_LOCK_SECONDS: i64 = 900;

/// How long the account locks after its `failures`-th failure in a row: five are free, then 30 s,
/// 60 s, 120 s... up to 15 minutes. A guesser gets about 13 tries an hour per account, wherever
/// they come from.
fn lock_seconds(failures: i64) -> Option<i64> {
    let over = failures - FREE_LOGIN_FAILURES;
    (over >= 0).then(|| {
        FIRST_LOGIN_LOCK_SECONDS
            .saturating_mul(1_i64 << over.min(20))
            .min(MAX_LOGIN_LOCK_SECONDS)
    })
}

/// Seconds until `account` accepts logins again, if it is locked now.
async fn lock_remaining(state: &AppState, account: &str) -> Result<Option<u64>, AppError> {
    let Some(until) = db::accounts::login_locked_until(&state.db, account).await? else {
        return Ok(None);
    };
    let until = chrono::DateTime::parse_from_rfc3339(&until).map_err(|error| {
        tracing::error!("unreadable login lock time {until:?}: {error}");
        AppError::Internal
    })?;
    let left = until
        .signed_duration_since(chrono::Utc::now())
        .num_milliseconds();
    Ok((left > 0).then(|| (left as u64).div_ceil(1000)))
}

/// Ends the session of the cookie this request carried, whatever else it carried or lacked, and
/// clears the cookie.
pub async fn logout(state: &AppState) -> Result<(), AppError> {
    let caller = principal();
    if let Some(digest) = &caller.session_digest {
        db::accounts::delete_session(&state.db, digest).await?;
        audit(&state.db, &caller, "logout", None, AuditOutcome::Ok, None).await;
    }
    set_cookie(&session_cookie("", 0, caller.https));
    Ok(())
}

/// `HttpOnly` keeps scripts away from it, `SameSite=Strict` keeps other sites' requests from
/// carrying it, `Secure` (over https) keeps it off plain connections.
fn session_cookie(value: &str, max_age_seconds: i64, https: bool) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{}",
        if https { "; Secure" } else { "" }
    )
}

fn set_cookie(cookie: &str) {
    if let (Some(response), Ok(value)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        axum::http::HeaderValue::from_str(cookie),
    ) {
        response.append_header(axum::http::header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_locks_after_five_failures_for_doubling_times_up_to_fifteen_minutes() {
        let locks: Vec<Option<i64>> = (1..=12).map(lock_seconds).collect();
        assert_eq!(&locks[..4], [None; 4]);
        assert_eq!(
            &locks[4..],
            [
                Some(30),
                Some(60),
                Some(120),
                Some(240),
                Some(480),
                Some(900),
                Some(900),
                Some(900)
            ]
        );
        assert_eq!(lock_seconds(10_000), Some(900));
        // What a guesser gets in an hour: the five free tries, then one per lock that ends.
        let (mut elapsed, mut tries) = (0, 5);
        while let Some(wait) = lock_seconds(tries) {
            if elapsed + wait > 3600 {
                break;
            }
            elapsed += wait;
            tries += 1;
        }
        assert!(
            tries < 100 && tries == 12,
            "{tries} tries in the first hour"
        );
    }
}
