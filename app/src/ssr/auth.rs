//! Who is calling: passwords (argon2), browser sessions and API tokens (256-bit random secrets
//! stored only as SHA-256 digests), and the audit trail. The HTTP layer resolves a [`Principal`] for
//! every request and puts it in the request's extensions; server functions read it from there.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

use crate::api::auth::{
    AuditEntry, CreatedToken, CurrentUser, Role, SessionInfo, TokenSummary, UserSummary,
};
use crate::error::AppError;
use crate::ssr::AppState;

/// The browser session cookie.
pub const SESSION_COOKIE: &str = "brainscan_session";
/// How long a login lasts.
pub const SESSION_HOURS: i64 = 12;
/// Shorter passwords are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// API tokens start with this, so a leaked one is recognisable in logs and secret scanners.
const TOKEN_PREFIX: &str = "bsk_";

/// The caller of one request, as the HTTP layer resolved it.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// A user name, `token:<name>`, or `anonymous`.
    pub subject: String,
    /// `None` for an anonymous caller.
    pub role: Option<Role>,
    /// The client's address as the server sees it (behind a trusted proxy, the forwarded one).
    pub client: Option<String>,
    /// The digest of the session cookie this request carried, so logout can end that session.
    pub session_digest: Option<String>,
    /// Whether the request came over https (directly or as the proxy says), for the cookie's `Secure`.
    pub https: bool,
}

impl Principal {
    pub fn anonymous(client: Option<String>, https: bool) -> Self {
        Self {
            subject: "anonymous".to_owned(),
            role: None,
            client,
            session_digest: None,
            https,
        }
    }

    pub fn allows(&self, required: Role) -> bool {
        self.role.is_some_and(|role| role.allows(required))
    }
}

/// This request's caller (anonymous if the HTTP layer resolved none, e.g. during tests of a page).
pub fn principal() -> Principal {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>().cloned())
        .unwrap_or_else(|| Principal::anonymous(None, false))
}

/// The caller, if its role includes `required`: 401 for nobody, 403 for too little.
pub fn require(required: Role) -> Result<Principal, AppError> {
    let caller = principal();
    check(&caller, required)?;
    Ok(caller)
}

pub fn check(caller: &Principal, required: Role) -> Result<(), AppError> {
    match caller.role {
        None => Err(AppError::Unauthorized(format!(
            "log in or send an API token (Authorization: Bearer ...); this needs the {required} role"
        ))),
        Some(role) if !role.allows(required) => Err(AppError::Forbidden(format!(
            "{} has the {role} role; this needs {required}",
            caller.subject
        ))),
        Some(_) => Ok(()),
    }
}

pub fn session_info(state: &AppState) -> SessionInfo {
    let caller = principal();
    SessionInfo {
        user: caller.role.map(|role| CurrentUser {
            username: caller.subject,
            role,
        }),
        public_read: state.service.public_read,
    }
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| {
            leptos::logging::error!("password hashing failed: {error}");
            AppError::Internal
        })
}

fn verify_password(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// The hex SHA-256 a session or API token is stored and looked up as.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random secret (256 bits, hex) and its digest.
fn new_secret(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = format!("{prefix}{}", hex::encode(bytes));
    let digest = digest(&secret);
    (secret, digest)
}

fn check_username(username: &str) -> Result<(), AppError> {
    let valid = !username.is_empty()
        && username.len() <= 64
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        && !username.starts_with("token:");
    if valid {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "a user name is 1-64 characters of letters, digits, '.', '_', '-' or '@'".to_owned(),
        ))
    }
}

pub async fn add_user(
    db: &db::SqlitePool,
    username: &str,
    password: &str,
    role: Role,
) -> Result<UserSummary, AppError> {
    check_username(username)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::BadRequest(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > 1024 {
        return Err(AppError::BadRequest(
            "a password is at most 1024 bytes".to_owned(),
        ));
    }
    let hash = hash_password(password)?;
    if db::accounts::insert_user(db, username, &hash, role.as_str())
        .await?
        .is_none()
    {
        return Err(AppError::BadRequest(format!(
            "the user {username} already exists"
        )));
    }
    let user = db::accounts::find_user(db, username)
        .await?
        .ok_or(AppError::Internal)?;
    user_summary(user)
}

/// Creates the first admin of a fresh deployment; does nothing once any user exists.
pub async fn bootstrap_admin(
    db: &db::SqlitePool,
    username: &str,
    password: &str,
) -> Result<bool, AppError> {
    if db::accounts::count_users(db).await? > 0 {
        return Ok(false);
    }
    add_user(db, username, password, Role::Admin).await?;
    Ok(true)
}

pub async fn remove_user(db: &db::SqlitePool, username: &str) -> Result<(), AppError> {
    let user = db::accounts::find_user(db, username)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user named {username}")))?;
    if user.role == Role::Admin.as_str() && db::accounts::count_admins(db).await? <= 1 {
        return Err(AppError::BadRequest(
            "the last admin cannot be removed; add another admin first".to_owned(),
        ));
    }
    db::accounts::delete_user(db, username).await?;
    Ok(())
}

fn user_summary(user: db::accounts::User) -> Result<UserSummary, AppError> {
    Ok(UserSummary {
        role: user.role.parse()?,
        username: user.username,
        created_at: user.created_at,
    })
}

pub async fn list_users(db: &db::SqlitePool) -> Result<Vec<UserSummary>, AppError> {
    db::accounts::list_users(db)
        .await?
        .into_iter()
        .map(user_summary)
        .collect()
}

pub async fn create_token(
    db: &db::SqlitePool,
    name: &str,
    role: Role,
    created_by: &str,
) -> Result<CreatedToken, AppError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "a token name is 1-64 printable characters".to_owned(),
        ));
    }
    let (token, digest) = new_secret(TOKEN_PREFIX);
    let id = db::accounts::insert_token(db, name, &digest, role.as_str(), created_by).await?;
    Ok(CreatedToken {
        id,
        name: name.to_owned(),
        role,
        token,
    })
}

pub async fn revoke_token(db: &db::SqlitePool, id: i64) -> Result<(), AppError> {
    if db::accounts::revoke_token(db, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no active token with id {id}")))
    }
}

pub async fn list_tokens(db: &db::SqlitePool) -> Result<Vec<TokenSummary>, AppError> {
    db::accounts::list_tokens(db)
        .await?
        .into_iter()
        .map(|token| {
            Ok(TokenSummary {
                role: token.role.parse()?,
                id: token.id,
                name: token.name,
                created_by: token.created_by,
                created_at: token.created_at,
                last_used_at: token.last_used_at,
                revoked_at: token.revoked_at,
            })
        })
        .collect()
}

/// Resolves an `Authorization: Bearer` token; `None` if unknown or revoked.
pub async fn token_caller(
    db: &db::SqlitePool,
    token: &str,
) -> Result<Option<(String, Role)>, AppError> {
    credential(db::accounts::token_credential(db, &digest(token)).await?)
}

/// Resolves a session cookie's value; `None` if unknown or expired.
pub async fn session_caller(
    db: &db::SqlitePool,
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
            audit(
                &state.db,
                &caller,
                "login",
                Some(username),
                "refused",
                Some("wrong user name or password"),
            )
            .await;
            return Err(AppError::Unauthorized(
                "wrong user name or password".to_owned(),
            ));
        }
    };
    let role: Role = user.role.parse()?;
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
    audit(&state.db, &actor, "login", Some(&user.username), "ok", None).await;
    Ok(CurrentUser {
        username: user.username,
        role,
    })
}

pub async fn logout(state: &AppState) -> Result<(), AppError> {
    let caller = principal();
    if let Some(digest) = &caller.session_digest {
        db::accounts::delete_session(&state.db, digest).await?;
        audit(&state.db, &caller, "logout", None, "ok", None).await;
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

/// A valid argon2 hash of a random password, verified against when a user name is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$7nWqmkJ0kH1p3Rr0i9cJb8oU4q3m1m9l2i2o8b6Y0cA";

/// The actor the command line records its changes as.
pub fn command_line() -> Principal {
    Principal {
        subject: "cli".to_owned(),
        role: Some(Role::Admin),
        ..Principal::anonymous(None, false)
    }
}

/// Records an event; a database failure is logged and never fails the request it describes.
pub async fn audit(
    db: &db::SqlitePool,
    actor: &Principal,
    action: &str,
    target: Option<&str>,
    outcome: &str,
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
        leptos::logging::error!("cannot record the audit event {action}: {error}");
    }
}

/// Records an action's outcome: `ok`, or `failed` with the error's message.
pub async fn audit_result<T>(
    db: &db::SqlitePool,
    actor: &Principal,
    action: &str,
    target: Option<&str>,
    result: &Result<T, AppError>,
) {
    match result {
        Ok(_) => audit(db, actor, action, target, "ok", None).await,
        Err(error) => {
            audit(
                db,
                actor,
                action,
                target,
                "failed",
                Some(&error.to_string()),
            )
            .await
        }
    }
}

pub async fn audit_log(db: &db::SqlitePool, limit: i64) -> Result<Vec<AuditEntry>, AppError> {
    Ok(db::audit::recent(db, limit.clamp(1, 1000))
        .await?
        .into_iter()
        .map(|event| AuditEntry {
            id: event.id,
            at: event.at,
            actor: event.actor,
            action: event.action,
            target: event.target,
            outcome: event.outcome,
            client: event.client,
            detail: event.detail,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery "));
        assert!(!verify_password("not a hash", "correct horse battery"));
    }

    #[test]
    fn the_dummy_hash_parses_so_unknown_users_cost_a_full_verification() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password(DUMMY_HASH, "anything"));
    }

    #[test]
    fn secrets_are_random_and_stored_only_as_their_digest() {
        let (first, first_digest) = new_secret(TOKEN_PREFIX);
        let (second, _) = new_secret(TOKEN_PREFIX);
        assert_ne!(first, second);
        assert!(first.starts_with(TOKEN_PREFIX) && first.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(first_digest, digest(&first));
        assert!(!first_digest.contains(&first[TOKEN_PREFIX.len()..]));
    }

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Admin.allows(Role::Annotator));
        assert!(Role::Annotator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Annotator));
        let viewer = Principal {
            role: Some(Role::Viewer),
            ..Principal::anonymous(None, false)
        };
        assert_eq!(check(&viewer, Role::Admin).unwrap_err().status(), 403);
        assert_eq!(
            check(&Principal::anonymous(None, false), Role::Viewer)
                .unwrap_err()
                .status(),
            401
        );
    }
}
