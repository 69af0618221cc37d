//! User accounts and API tokens, as the admin pages and `brainscan user|token` manage them.

use super::secrets::{hash_password, new_secret, TOKEN_PREFIX};
use super::MIN_PASSWORD_CHARS;
use crate::error::AppError;
use crate::types::auth::{CreatedToken, Role, TokenSummary, UserSummary};

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
    check_password(username, password)?;
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

/// Passwords shipped with the project that are too common to use (lower-cased, one per line).
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");
/// A password needs at least this many different characters.
const MIN_DISTINCT_CHARS: usize = 5;

/// Refuses what a guesser tries first: short, repetitive, the user name, or on the common list.
fn check_password(username: &str, password: &str) -> Result<(), AppError> {
    let refuse = |why: String| Err(AppError::BadRequest(why));
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return refuse(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if password.len() > 1024 {
        return refuse("a password is at most 1024 bytes".to_owned());
    }
    let distinct: std::collections::HashSet<char> = password.chars().collect();
    if distinct.len() < MIN_DISTINCT_CHARS {
        return refuse(format!(
            "a password needs at least {MIN_DISTINCT_CHARS} different characters"
        ));
    }
    let lower = password.to_lowercase();
    let name = username.to_lowercase();
    if lower == name || lower.chars().rev().collect::<String>() == name {
        return refuse("a password must not be the user name".to_owned());
    }
    if COMMON_PASSWORDS
        .lines()
        .filter(|line| !line.starts_with('#'))
        .any(|common| common == lower)
    {
        return refuse(
            "this password is on the list of common passwords guessers try first; choose another"
                .to_owned(),
        );
    }
    Ok(())
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
    if name.is_empty()
        || name.len() > 64
        || name.chars().any(crate::ssr::multipart::is_hidden_control)
    {
        return Err(AppError::BadRequest(
            "a token name is 1-64 printable characters, without direction or invisible marks"
                .to_owned(),
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
