//! The `users`, `user_sessions` and `api_tokens` tables. Hashing happens above this layer: rows hold
//! argon2 PHC strings and SHA-256 digests of tokens, never a secret itself.

use serde::Serialize;

use crate::{DbResult, Pool};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: String,
    pub created_at: String,
}

/// Who a valid session cookie or API token speaks for.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Credential {
    /// The user's name, or `token:<name>` for an API token.
    pub subject: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Inserts a user; `None` if the name is taken (names compare case-insensitively).
pub async fn insert_user(
    db: &Pool,
    username: &str,
    password_hash: &str,
    role: &str,
) -> DbResult<Option<i64>> {
    Ok(sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(username)
    .bind(password_hash)
    .bind(role)
    .bind(crate::now_rfc3339())
    .fetch_optional(db)
    .await?)
}

pub async fn find_user(db: &Pool, username: &str) -> DbResult<Option<User>> {
    Ok(sqlx::query_as(
        "SELECT id, username, password_hash, role, created_at FROM users WHERE lower(username) = lower($1)",
    )
    .bind(username)
    .fetch_optional(db)
    .await?)
}

pub async fn list_users(db: &Pool) -> DbResult<Vec<User>> {
    Ok(sqlx::query_as(
        "SELECT id, username, password_hash, role, created_at FROM users ORDER BY lower(username)",
    )
    .fetch_all(db)
    .await?)
}

pub async fn count_users(db: &Pool) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db)
        .await?)
}

pub async fn count_admins(db: &Pool) -> DbResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
            .fetch_one(db)
            .await?,
    )
}

/// Removes a user and, through the foreign key, every session of theirs; whether one was removed.
pub async fn delete_user(db: &Pool, username: &str) -> DbResult<bool> {
    let result = sqlx::query("DELETE FROM users WHERE lower(username) = lower($1)")
        .bind(username)
        .execute(db)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// Records a new session, and forgets every expired one.
pub async fn insert_session(
    db: &Pool,
    token_sha256: &str,
    user_id: i64,
    expires_at: &str,
) -> DbResult<()> {
    sqlx::query("DELETE FROM user_sessions WHERE expires_at <= $1")
        .bind(crate::now_rfc3339())
        .execute(db)
        .await?;
    sqlx::query(
        "INSERT INTO user_sessions (token_sha256, user_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_sha256)
    .bind(user_id)
    .bind(crate::now_rfc3339())
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The user behind an unexpired session.
pub async fn session_credential(db: &Pool, token_sha256: &str) -> DbResult<Option<Credential>> {
    Ok(sqlx::query_as(
        "SELECT u.username AS subject, u.role AS role
         FROM user_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_sha256 = $1 AND s.expires_at > $2",
    )
    .bind(token_sha256)
    .bind(crate::now_rfc3339())
    .fetch_optional(db)
    .await?)
}

pub async fn delete_session(db: &Pool, token_sha256: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM user_sessions WHERE token_sha256 = $1")
        .bind(token_sha256)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn insert_token(
    db: &Pool,
    name: &str,
    token_sha256: &str,
    role: &str,
    created_by: &str,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO api_tokens (name, token_sha256, role, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(name)
    .bind(token_sha256)
    .bind(role)
    .bind(created_by)
    .bind(crate::now_rfc3339())
    .fetch_one(db)
    .await?)
}

/// How stale `last_used_at` may get: at most one write a minute per token, so every prediction a
/// script makes does not also write to the database.
const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::minutes(1);

/// The role of an unrevoked token, recording (to the minute) that it was used.
pub async fn token_credential(db: &Pool, token_sha256: &str) -> DbResult<Option<Credential>> {
    let found: Option<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT 'token:' || name, role, last_used_at FROM api_tokens
         WHERE token_sha256 = $1 AND revoked_at IS NULL",
    )
    .bind(token_sha256)
    .fetch_optional(db)
    .await?;
    let Some((subject, role, last_used_at)) = found else {
        return Ok(None);
    };
    let stale_before = (chrono::Utc::now() - LAST_USED_RESOLUTION)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    if last_used_at.is_none_or(|used| used < stale_before) {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_sha256 = $2")
            .bind(crate::now_rfc3339())
            .bind(token_sha256)
            .execute(db)
            .await?;
    }
    Ok(Some(Credential { subject, role }))
}

pub async fn list_tokens(db: &Pool) -> DbResult<Vec<ApiToken>> {
    Ok(sqlx::query_as(
        "SELECT id, name, role, created_by, created_at, last_used_at, revoked_at
         FROM api_tokens ORDER BY id",
    )
    .fetch_all(db)
    .await?)
}

/// Revokes a token; whether an unrevoked one with that id existed.
pub async fn revoke_token(db: &Pool, id: i64) -> DbResult<bool> {
    let result =
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(crate::now_rfc3339())
            .bind(id)
            .execute(db)
            .await?;
    Ok(result.rows_affected() > 0)
}

/// Until when logins to `username` are refused, if they are (RFC 3339).
pub async fn login_locked_until(db: &Pool, username: &str) -> DbResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT locked_until FROM login_failures WHERE username = $1")
            .bind(username)
            .fetch_optional(db)
            .await?
            .flatten(),
    )
}

/// Counts one more failed login to `username`; answers the count so far.
pub async fn add_login_failure(db: &Pool, username: &str) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO login_failures (username, failures) VALUES ($1, 1)
         ON CONFLICT (username) DO UPDATE SET failures = login_failures.failures + 1
         RETURNING failures",
    )
    .bind(username)
    .fetch_one(db)
    .await?)
}

pub async fn lock_login(db: &Pool, username: &str, until: &str) -> DbResult<()> {
    sqlx::query("UPDATE login_failures SET locked_until = $1 WHERE username = $2")
        .bind(until)
        .bind(username)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets the failures of `username` (after a successful login).
pub async fn clear_login_failures(db: &Pool, username: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(db)
        .await?;
    Ok(())
}
