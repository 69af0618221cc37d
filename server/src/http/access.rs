//! Who may call what: one table for every route, read before any handler runs. Anything not named
//! here that changes state needs an admin, so a new endpoint is closed until someone opens it.

use app::types::auth::Role;
use axum::http::Method;

/// What a request needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, always: health checks, the login flow, the site's static files.
    Public,
    /// Predicting and reading: anyone when the deployment is public-read, else a viewer.
    Read,
    /// A signed-in user or token with at least this role.
    Role(Role),
}

impl Access {
    /// The role needed on a deployment whose public-read setting is `public_read`.
    pub fn required_role(self, public_read: bool) -> Option<Role> {
        match self {
            Access::Public => None,
            Access::Read if public_read => None,
            Access::Read => Some(Role::Viewer),
            Access::Role(role) => Some(role),
        }
    }
}

/// The site's static files: served to everyone, and nobody needs to be identified to get them.
const STATIC_PREFIXES: [&str; 2] = ["/pkg/", "/swagger-ui/"];
const STATIC_PATHS: [&str; 2] = ["/favicon.ico", "/health"];
/// Pages and reads anyone may open whatever the public-read setting: the login flow.
const PUBLIC_PATHS: [&str; 2] = ["/login", "/auth/me"];
/// Reads that show accounts or the audit trail.
const ADMIN_READS: [&str; 3] = ["/auth/users", "/auth/tokens", "/audit"];
/// Changes anyone may attempt: logging in and out.
const PUBLIC_WRITES: [&str; 2] = ["/auth/login", "/auth/logout"];
/// Reads carried by POST: predictions, and a server function the status page polls.
const READ_WRITES: [&str; 5] = [
    "/predict",
    "/predict/batch",
    "/predict/series",
    "/predict/explain",
    "/api/server_status",
];
/// The PACS: its study lists show patient names and IDs, so only signed-in users, whatever the
/// public-read setting.
const VIEWER_PREFIXES: [&str; 1] = ["/pacs/"];
const ANNOTATOR_WRITES: [&str; 7] = [
    "/pacs/store",
    "/retrain",
    "/retrain/review/decide",
    "/uploads/relabel",
    "/uploads/delete",
    "/predictions/feedback",
    "/predictions/explain",
];
/// Reads that show stored uploads (their images and who uploaded them) or kept prediction slices:
/// the annotators' review queues and the Data page.
const ANNOTATOR_READ_PREFIXES: [&str; 3] = ["/retrain/review", "/uploads", "/predictions/review"];

/// `/predictions/{id}/<action>`: one prediction's feedback or kept slice.
fn is_prediction_path(path: &str, action: &str) -> bool {
    path.strip_prefix("/predictions/")
        .and_then(|rest| rest.strip_suffix(action))
        .and_then(|id| id.strip_suffix('/'))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// A static file or the health check: a safe request for it needs no caller at all.
pub fn is_static(method: &Method, path: &str) -> bool {
    is_safe(method)
        && (STATIC_PATHS.contains(&path) || STATIC_PREFIXES.iter().any(|p| path.starts_with(p)))
}

fn is_safe(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD
}

pub fn required_access(method: &Method, path: &str) -> Access {
    if is_safe(method) {
        if is_static(method, path) || PUBLIC_PATHS.contains(&path) {
            Access::Public
        } else if is_prediction_path(path, "slice")
            || VIEWER_PREFIXES.iter().any(|p| path.starts_with(p))
        {
            // A patient's image: never public, whatever the public-read setting.
            Access::Role(Role::Viewer)
        } else if ADMIN_READS.contains(&path) {
            Access::Role(Role::Admin)
        } else if ANNOTATOR_READ_PREFIXES.iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        }) {
            Access::Role(Role::Annotator)
        } else {
            Access::Read
        }
    } else if *method != Method::POST {
        Access::Role(Role::Admin)
    } else if PUBLIC_WRITES.contains(&path) {
        Access::Public
    } else if READ_WRITES.contains(&path) {
        Access::Read
    } else if ANNOTATOR_WRITES.contains(&path) || is_prediction_path(path, "feedback") {
        Access::Role(Role::Annotator)
    } else if VIEWER_PREFIXES.iter().any(|p| path.starts_with(p)) {
        Access::Role(Role::Viewer)
    } else {
        Access::Role(Role::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_needs_the_role_the_issue_names() {
        let post = Method::POST;
        assert_eq!(required_access(&post, "/predict"), Access::Read);
        assert_eq!(required_access(&post, "/predict/batch"), Access::Read);
        assert_eq!(
            required_access(&post, "/retrain"),
            Access::Role(Role::Annotator)
        );
        for admin_only in [
            "/retrain/trigger",
            "/models/v1/activate",
            "/api/activate_model",
            "/auth/users/add",
            "/auth/users/remove",
            "/auth/tokens/create",
            "/auth/tokens/revoke",
            "/some/future/endpoint",
        ] {
            assert_eq!(
                required_access(&post, admin_only),
                Access::Role(Role::Admin),
                "{admin_only}"
            );
        }
        assert_eq!(
            required_access(&Method::DELETE, "/retrain"),
            Access::Role(Role::Admin)
        );
        assert_eq!(required_access(&post, "/auth/login"), Access::Public);
        assert_eq!(
            required_access(&post, "/retrain/review/decide"),
            Access::Role(Role::Annotator)
        );
    }

    #[test]
    fn kept_slices_need_an_account_and_feedback_an_annotator() {
        let get = Method::GET;
        assert_eq!(
            required_access(&get, "/predictions/12/slice").required_role(true),
            Some(Role::Viewer),
            "a patient's slice is never public"
        );
        assert_eq!(
            required_access(&get, "/predictions/review").required_role(true),
            Some(Role::Annotator)
        );
        for public_read_figures in ["/metrics/accuracy", "/metrics/drift"] {
            assert_eq!(
                required_access(&get, public_read_figures).required_role(true),
                None
            );
            assert_eq!(
                required_access(&get, public_read_figures).required_role(false),
                Some(Role::Viewer)
            );
        }
        for path in [
            "/predictions/12/feedback",
            "/predictions/feedback",
            "/predictions/explain",
        ] {
            assert_eq!(
                required_access(&Method::POST, path),
                Access::Role(Role::Annotator),
                "{path}"
            );
        }
        for not_one_prediction in ["/predictions//feedback", "/predictions/1/2/feedback"] {
            assert_eq!(
                required_access(&Method::POST, not_one_prediction),
                Access::Role(Role::Admin),
                "{not_one_prediction}"
            );
        }
    }

    #[test]
    fn held_uploads_are_for_annotators_whatever_the_public_read_setting() {
        let get = Method::GET;
        for path in ["/retrain/review", "/retrain/review/7/image"] {
            assert_eq!(
                required_access(&get, path).required_role(true),
                Some(Role::Annotator),
                "{path}"
            );
        }
        assert_eq!(
            required_access(&get, "/retrain/reviewers").required_role(true),
            None,
            "only the review path and what lies under it"
        );
    }

    #[test]
    fn reads_follow_the_public_read_setting_except_admin_pages() {
        let get = Method::GET;
        let read = required_access(&get, "/retrain/sessions");
        assert_eq!(read.required_role(true), None);
        assert_eq!(read.required_role(false), Some(Role::Viewer));
        assert_eq!(required_access(&get, "/health").required_role(false), None);
        assert_eq!(
            required_access(&get, "/pkg/brainscan.wasm").required_role(false),
            None
        );
        assert_eq!(
            required_access(&get, "/audit").required_role(true),
            Some(Role::Admin)
        );
    }
}
