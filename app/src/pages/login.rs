use leptos::prelude::*;
use leptos::web_sys;
use leptos_router::hooks::use_query_map;

use crate::api::auth::login;
use crate::components::page_header::PageHeader;
use crate::components::session::reload_to;
use crate::components::text_input::TextInput;

/// Where to go after logging in: a path on this site only (never `//other.site`).
fn safe_next(next: Option<String>) -> String {
    next.filter(|path| path.starts_with('/') && !path.starts_with("//") && !path.contains('\\'))
        .unwrap_or_else(|| "/".to_owned())
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let attempt = Action::new(move |(name, secret): &(String, String)| {
        let (name, secret) = (name.clone(), secret.clone());
        async move { login(name, secret).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = attempt.value().get() {
            reload_to(&safe_next(query.get_untracked().get("next")));
        }
    });
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        attempt.dispatch((username.get_untracked(), password.get_untracked()));
    };

    view! {
        <PageHeader title="Log in" subtitle="Uploading, retraining and administration need an account." />
        <section class="card narrow">
            <form class="stack" on:submit=submit data-testid="login-form">
                <label class="field">
                    <span>"User name"</span>
                    <TextInput kind="text" value=username testid="login-username" name="username" autocomplete="username" />
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <TextInput
                        kind="password"
                        value=password
                        testid="login-password"
                        name="password"
                        autocomplete="current-password"
                    />
                </label>
                <div class="actions">
                    <button
                        type="submit"
                        class="button primary"
                        data-testid="login-submit"
                        disabled=move || attempt.pending().get()
                    >
                        {move || if attempt.pending().get() { "Logging in…" } else { "Log in" }}
                    </button>
                </div>
                {move || {
                    attempt.value().get().and_then(Result::err).map(|error| {
                        view! { <p class="error" role="alert" data-testid="login-error">{error.to_string()}</p> }
                    })
                }}
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_on_this_site_are_followed_after_login() {
        assert_eq!(safe_next(Some("/retrain".into())), "/retrain");
        assert_eq!(safe_next(Some("//evil.example".into())), "/");
        assert_eq!(safe_next(Some("https://evil.example".into())), "/");
        assert_eq!(safe_next(Some("/\\evil.example".into())), "/");
        assert_eq!(safe_next(None), "/");
    }
}
