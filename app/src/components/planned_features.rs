use leptos::prelude::*;

/// A card listing what a page will offer once its feature lands.
#[component]
pub fn PlannedFeatures(features: &'static [&'static str]) -> impl IntoView {
    view! {
        <section class="card planned" aria-labelledby="planned-heading">
            <h2 id="planned-heading">"Coming to this page"</h2>
            <ul>{features.iter().map(|feature| view! { <li>{*feature}</li> }).collect_view()}</ul>
        </section>
    }
}
