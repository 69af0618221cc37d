//! Who is calling and what they may do: roles, the signed-in user, accounts, API token summaries
//! (never their secrets) and audit entries.

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use std::fmt;
use std::str::FromStr;

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
