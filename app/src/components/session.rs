//! Who is using the app, known while the page renders: the server resolves it from the request and
//! writes it into the page (`data-session` on the layout), and the browser reads it back from there
//! before hydrating, so every page can show only the controls the user's role may use without an
//! extra request or a `Suspense` (the server enforces the same rules on every request).

use leptos::prelude::*;

use crate::types::auth::{Role, SessionInfo};

#[derive(Debug, Clone)]
pub struct Session(SessionInfo);

/// Called once by the app's root; answers the JSON the root writes into `data-session`.
pub fn provide_session() -> String {
    let info = current();
    let json = serde_json::to_string(&info).unwrap_or_default();
    provide_context(Session(info));
    json
}

#[cfg(feature = "ssr")]
fn current() -> SessionInfo {
    // No state in context is normal once: the router lists its routes at start-up by rendering the
    // app without a request (an error there would be logged on every start).
    match use_context::<crate::ssr::AppState>() {
        Some(state) => crate::ssr::auth::session_info(&state),
        None => anonymous(),
    }
}

#[cfg(not(feature = "ssr"))]
fn current() -> SessionInfo {
    leptos::web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.query_selector("[data-session]").ok().flatten())
        .and_then(|element| element.get_attribute("data-session"))
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_else(anonymous)
}

fn anonymous() -> SessionInfo {
    SessionInfo {
        user: None,
        public_read: true,
    }
}

pub fn use_session() -> SessionInfo {
    use_context::<Session>()
        .map(|session| session.0)
        .unwrap_or_else(anonymous)
}

/// A full page load, so every part of the app sees the new session.
pub fn reload_to(path: &str) {
    if let Some(window) = leptos::web_sys::window() {
        let _ = window.location().assign(path);
    }
}

/// Shows `children` when the user's role includes `role`; otherwise says what is needed.
#[component]
pub fn RequireRole(
    role: Role,
    /// What the hidden controls would do, e.g. "upload labelled images".
    action: &'static str,
    children: Children,
) -> impl IntoView {
    let info = use_session();
    if info.allows(role) {
        children().into_any()
    } else {
        notice(info, role, action).into_any()
    }
}

/// Says what role `action` needs, when the user lacks it; nothing otherwise.
#[component]
pub fn RoleNotice(role: Role, action: &'static str) -> impl IntoView {
    let info = use_session();
    (!info.allows(role)).then(|| notice(info, role, action))
}

fn notice(info: SessionInfo, role: Role, action: &'static str) -> impl IntoView {
    view! {
        <p class="notice card" data-testid="role-notice">
            {match info.user {
                Some(user) => format!(
                    "Signed in as {} ({}). To {action} you need the {role} role; ask an admin.",
                    user.username, user.role
                ),
                None => format!("Log in with the {role} role or above to {action}."),
            }}
            " "
            <a href="/login">"Log in"</a>
        </p>
    }
}
