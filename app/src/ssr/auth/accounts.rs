//! User accounts and API tokens, as the admin pages and `brainscan user|token` manage them.

use super::secrets::{hash_password, new_secret, TOKEN_PREFIX};
use super::MIN_PASSWORD_CHARS;
use crate::api::auth::{CreatedToken, Role, TokenSummary, UserSummary};
use crate::error::AppError;

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
    db: &db::Pool,
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
    db: &db::Pool,
    username: &str,
    password: &str,
) -> Result<bool, AppError> {
    if db::accounts::count_users(db).await? > 0 {
        return Ok(false);
    }
    add_user(db, username, password, Role::Admin).await?;
    Ok(true)
}

pub async fn remove_user(db: &db::Pool, username: &str) -> Result<(), AppError> {
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

pub async fn list_users(db: &db::Pool) -> Result<Vec<UserSummary>, AppError> {
    db::accounts::list_users(db)
        .await?
        .into_iter()
        .map(user_summary)
        .collect()
}

pub async fn create_token(
    db: &db::Pool,
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

pub async fn revoke_token(db: &db::Pool, id: i64) -> Result<(), AppError> {
    if db::accounts::revoke_token(db, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no active token with id {id}")))
    }
}

pub async fn list_tokens(db: &db::Pool) -> Result<Vec<TokenSummary>, AppError> {
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
