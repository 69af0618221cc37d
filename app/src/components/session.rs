//! Who is using the app, fetched once per page load and shared through context, so every page can
//! show only the controls the user's role may use (the server enforces the same rules).

use leptos::prelude::*;

use crate::api::auth::{get_session_info, Role, SessionInfo};
use crate::error::AppError;

#[derive(Clone, Copy)]
pub struct Session(OnceResource<Result<SessionInfo, AppError>>);

/// Called once by the app's root.
pub fn provide_session() {
    provide_context(Session(OnceResource::new(get_session_info())));
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

impl Session {
    /// The session once loaded (inside a `Suspense`/`Transition`).
    pub async fn info(self) -> Option<SessionInfo> {
        self.0.await.ok()
    }
}

/// A full page load, so every part of the app sees the new session.
pub fn reload_to(path: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(path);
    }
}

/// Shows `children` when the user's role includes `role`; otherwise says what is needed.
#[component]
pub fn RequireRole(
    role: Role,
    /// What the hidden controls would do, e.g. "upload labelled images".
    action: &'static str,
    children: ChildrenFn,
) -> impl IntoView {
    let session = use_session();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let info = session.info().await;
                if info.as_ref().is_some_and(|info| info.allows(role)) {
                    children.with_value(|children| children()).into_any()
                } else {
                    let signed_in = info.and_then(|info| info.user);
                    view! {
                        <p class="notice card" data-testid="role-notice">
                            {match signed_in {
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
                    .into_any()
                }
            })}
        </Suspense>
    }
}
