//! Accounts, sessions, API tokens and the audit trail: `GET /auth/me`, `POST /auth/login`,
//! `POST /auth/logout`, `/auth/users`, `/auth/tokens` and `GET /audit`. Who may call what is decided
//! by the server's access policy before a server function runs; the functions check again.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use crate::types::auth::{
    AuditEntry, CreatedToken, CurrentUser, Role, SessionInfo, TokenSummary, UserSummary,
};

use crate::error::AppError;

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
