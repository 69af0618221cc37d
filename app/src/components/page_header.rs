use leptos::prelude::*;
use leptos_meta::Title;

/// The title block every page starts with; also sets the document title.
#[component]
pub fn PageHeader(title: &'static str, subtitle: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <header class="page-header">
            <h1>{title}</h1>
            <p class="subtitle">{subtitle}</p>
        </header>
    }
}
