//! The Leptos application: the HTML shell, the router and every page. Imports run one way:
//! [`pages`] -> [`api`] (server functions) -> [`ssr`] (their server-only bodies, never compiled to
//! WASM) -> [`types`] (the wire types both sides exchange), so every type has one owner.
// The pages' view types nest deeply; the WASM build's layout queries need more than 128 levels.
#![recursion_limit = "256"]

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

pub mod api;
pub mod charts;
pub mod components;
pub mod error;
pub mod export;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod types;

use components::sidebar::Sidebar;
use pages::{
    data::DataPage, home::HomePage, insights::InsightsPage, login::LoginPage, model::ModelPage,
    monitor::MonitorPage, not_found::NotFoundPage, predict::PredictPage, retrain::RetrainPage,
    review::ReviewPage, series::SeriesPage, studies::StudiesPage, upload::UploadPage,
    users::UsersPage,
};

/// Product name shown in the UI and reported by the API.
pub const PRODUCT_NAME: &str = "BrainScan MRI";

pub use domain::{class_label, CLASS_NAMES};

/// A count of zero for every class, so reports list classes that have none yet.
pub fn zero_per_class<T: Default>() -> std::collections::BTreeMap<String, T> {
    CLASS_NAMES
        .iter()
        .map(|class| (class.to_string(), T::default()))
        .collect()
}

/// The HTML document the server renders around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_csp();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The page's content security policy names the nonce Leptos put on this response's inline scripts.
#[cfg(feature = "ssr")]
fn set_page_csp() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    if let Ok(value) = axum::http::HeaderValue::from_str(&ssr::page_csp(&nonce.to_string())) {
        response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let session = components::session::provide_session();

    // Set once the WASM bundle runs: styles and tests use it to tell a hydrated page from bare SSR.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Stylesheet id="leptos" href="/pkg/brainscan.css" />
        <Link rel="icon" href="/favicon.ico" />
        <Meta name="description" content="Brain-tumour MRI classification: predict, retrain, monitor." />
        <Title formatter=|page: String| format!("{page} · {PRODUCT_NAME}") />
        <Router>
            <div
                class="layout"
                data-hydrated=move || hydrated.get().to_string()
                data-session=session
            >
                <a class="skip-link" href="#content" on:click=skip_to_content>"Skip to content"</a>
                <Sidebar />
                <main id="content" class="content" tabindex="-1">
                    <Routes fallback=NotFoundPage>
                        <Route path=path!("") view=HomePage ssr=SsrMode::Async />
                        <Route path=path!("/predict") view=PredictPage />
                        <Route path=path!("/series") view=SeriesPage />
                        <Route path=path!("/studies") view=StudiesPage />
                        <Route path=path!("/insights") view=InsightsPage />
                        <Route path=path!("/model") view=ModelPage />
                        <Route path=path!("/upload") view=UploadPage />
                        <Route path=path!("/data") view=DataPage />
                        <Route path=path!("/review") view=ReviewPage />
                        <Route path=path!("/retrain") view=RetrainPage />
                        <Route path=path!("/monitor") view=MonitorPage />
                        <Route path=path!("/login") view=LoginPage />
                        <Route path=path!("/users") view=UsersPage />
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// Moves the keyboard focus to the page's content, past the menu (the skip link's target; the
/// router would otherwise treat the `#content` link as a navigation).
fn skip_to_content(event: leptos::ev::MouseEvent) {
    use wasm_bindgen::JsCast;
    event.prevent_default();
    let content = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.get_element_by_id("content"))
        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(content) = content {
        let _ = content.focus();
    }
}
