use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::page_header::PageHeader;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::ssr::set_status(axum::http::StatusCode::NOT_FOUND);
    view! {
        <PageHeader title="Page not found" subtitle="There is no page at this address." />
        <p>
            <A href="/">"Back to the home page"</A>
        </p>
    }
}
