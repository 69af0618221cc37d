//! Accounts, sessions, API tokens and the audit trail: `GET /auth/me`, `POST /auth/login`,
//! `POST /auth/logout`, `/auth/users`, `/auth/tokens` and `GET /audit`. Who may call what is decided
//! by the server's access policy before a server function runs; the functions check again.

use std::fmt;
use std::str::FromStr;

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What a user or token may do; each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Predict, read every page and statistic.
    Viewer,
    /// Also upload labelled images for retraining.
    Annotator,
    /// Also trigger retraining, activate versions, manage users and tokens, read the audit trail.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Annotator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Annotator => "annotator",
            Role::Admin => "admin",
        }
    }

    /// Whether this role includes everything `required` may do.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AppError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == value)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "role must be one of viewer, annotator, admin (got {value:?})"
                ))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CurrentUser {
    /// The user's name, or `token:<name>` for an API token.
    pub username: String,
    pub role: Role,
}

/// Who the caller is, and whether reading needs an account on this deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub user: Option<CurrentUser>,
    pub public_read: bool,
}

impl SessionInfo {
    /// Whether the caller's role includes `required`.
    pub fn allows(&self, required: Role) -> bool {
        self.user
            .as_ref()
            .is_some_and(|user| user.role.allows(required))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub username: String,
    pub role: Role,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenSummary {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A freshly created API token: the secret is in this answer only, never stored or shown again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
}

pub use domain::AuditEntry;

#[server(prefix = "", endpoint = "auth/me", input = GetUrl)]
pub async fn get_session_info() -> Result<SessionInfo, AppError> {
    let state = crate::ssr::state()?;
    Ok(crate::ssr::auth::session_info(&state))
}

#[server(prefix = "", endpoint = "auth/login", input = Json)]
pub async fn login(username: String, password: String) -> Result<CurrentUser, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::login(&state, &username, &password).await
}

#[server(prefix = "", endpoint = "auth/logout", input = Json)]
pub async fn logout() -> Result<(), AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::logout(&state).await
}

#[server(prefix = "", endpoint = "auth/users", input = GetUrl)]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(Role::Admin)?;
    crate::ssr::auth::list_users(&state.db).await
}

#[server(prefix = "", endpoint = "auth/users/add", input = Json)]
pub async fn add_user(
    username: String,
    password: String,
    role: Role,
) -> Result<UserSummary, AppError> {
    let state = crate::ssr::state()?;
    let admin = crate::ssr::auth::require(Role::Admin)?;
    let result = crate::ssr::auth::add_user(&state.db, &username, &password, role).await;
    crate::ssr::auth::audit_result(&state.db, &admin, "user.add", Some(&username), &result).await;
    result
}

#[server(prefix = "", endpoint = "auth/users/remove", input = Json)]
pub async fn remove_user(username: String) -> Result<(), AppError> {
    let state = crate::ssr::state()?;
    let admin = crate::ssr::auth::require(Role::Admin)?;
    let result = crate::ssr::auth::remove_user(&state.db, &username).await;
    crate::ssr::auth::audit_result(&state.db, &admin, "user.remove", Some(&username), &result)
        .await;
    result
}

#[server(prefix = "", endpoint = "auth/tokens", input = GetUrl)]
pub async fn list_tokens() -> Result<Vec<TokenSummary>, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(Role::Admin)?;
    crate::ssr::auth::list_tokens(&state.db).await
}

#[server(prefix = "", endpoint = "auth/tokens/create", input = Json)]
pub async fn create_token(name: String, role: Role) -> Result<CreatedToken, AppError> {
    let state = crate::ssr::state()?;
    let admin = crate::ssr::auth::require(Role::Admin)?;
    let result = crate::ssr::auth::create_token(&state.db, &name, role, &admin.subject).await;
    crate::ssr::auth::audit_result(&state.db, &admin, "token.create", Some(&name), &result).await;
    result
}

#[server(prefix = "", endpoint = "auth/tokens/revoke", input = Json)]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let state = crate::ssr::state()?;
    let admin = crate::ssr::auth::require(Role::Admin)?;
    let result = crate::ssr::auth::revoke_token(&state.db, id).await;
    let target = id.to_string();
    crate::ssr::auth::audit_result(&state.db, &admin, "token.revoke", Some(&target), &result).await;
    result
}

#[server(prefix = "", endpoint = "audit", input = GetUrl)]
pub async fn audit_log(
    #[server(default)] limit: Option<i64>,
    #[server(default)] before: Option<i64>,
) -> Result<Vec<AuditEntry>, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(Role::Admin)?;
    crate::ssr::auth::audit_log(&state.db, limit.unwrap_or(100), before).await
}
