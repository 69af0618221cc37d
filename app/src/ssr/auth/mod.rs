//! Who is calling: passwords (argon2), browser sessions and API tokens (256-bit random secrets
//! stored only as SHA-256 digests), and the audit trail. The HTTP layer resolves a [`Principal`] for
//! every request and puts it in the request's extensions; server functions read it from there.

mod accounts;
mod audit;
mod login;
mod secrets;

pub use accounts::{
    add_user, bootstrap_admin, create_token, list_tokens, list_users, remove_user, revoke_token,
};
pub use audit::{
    audit, audit_log, audit_refusal, audit_result, flush_refusals, spawn_refusal_flush,
    RefusalTally,
};
pub use login::{login, logout, session_caller, token_caller};
pub use secrets::{digest, hash_password};

use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::auth::{CurrentUser, Role, SessionInfo};

/// The browser session cookie.
pub const SESSION_COOKIE: &str = "brainscan_session";
/// How long a login lasts.
pub const SESSION_HOURS: i64 = 12;
/// Shorter passwords are refused.
pub const MIN_PASSWORD_CHARS: usize = 10;

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

/// The actor the command line records its changes as.
pub fn command_line() -> Principal {
    Principal {
        subject: "cli".to_owned(),
        role: Some(Role::Admin),
        ..Principal::anonymous(None, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
