use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::status::{get_server_status, ServerStatus};
use crate::components::loaded::Loaded;
use crate::components::page_header::PageHeader;
use crate::components::polling::every;

/// How often the status cards refresh themselves once the page is hydrated.
const STATUS_REFRESH: Duration = Duration::from_secs(10);

#[component]
pub fn HomePage() -> impl IntoView {
    let refreshes = RwSignal::new(0_u32);
    // The Home route renders with SsrMode::Async, so the first response already contains the status
    // and it is readable without WASM.
    let status = Resource::new(move || refreshes.get(), |_| get_server_status());

    every(STATUS_REFRESH, false, move || {
        refreshes.update(|count| *count += 1)
    });

    view! {
        <PageHeader
            title="Home"
            subtitle="Brain-tumour MRI classification with calibrated probabilities, continuous retraining and live monitoring."
        />
        <section class="card intro">
            <p>
                "Upload an axial MRI slice and the model classifies it as "
                <strong>"glioma"</strong> ", " <strong>"meningioma"</strong> ", "
                <strong>"no tumour"</strong> " or " <strong>"pituitary"</strong>
                " with a probability for each class. Labelled images uploaded in bulk feed the next "
                "retraining run, and every metric and training session is visible here."
            </p>
            <div class="actions">
                <A href="/predict" attr:class="button primary">"Classify an image"</A>
                <A href="/upload" attr:class="button">"Upload training images"</A>
            </div>
        </section>

        <section class="status" aria-labelledby="status-heading">
            <div class="section-title">
                <h2 id="status-heading">"Server status"</h2>
                <button
                    type="button"
                    class="button small"
                    data-testid="refresh-status"
                    on:click=move |_| refreshes.update(|count| *count += 1)
                >
                    "Refresh"
                </button>
            </div>
            <Loaded resource=status loading="Checking the server…" render=move |status| view! { <StatusCards status /> } />
        </section>
    }
}

#[component]
fn StatusCards(status: ServerStatus) -> impl IntoView {
    let healthy = status.health.model_loaded;
    let health_label = if healthy {
        "Healthy"
    } else {
        "No model loaded"
    };
    let health_detail = if healthy {
        "Ready to classify images."
    } else {
        "The server is up, but predictions need a trained model."
    };
    view! {
        <div class="cards" data-testid="status-cards">
            <article class="card stat" class:ok=healthy class:warn=!healthy data-testid="health">
                <h3>"Service"</h3>
                <p class="value">{health_label}</p>
                <p class="detail">{health_detail}</p>
            </article>
            <article class="card stat" data-testid="uptime">
                <h3>"Uptime"</h3>
                <p class="value">{status.uptime.uptime_formatted}</p>
                <p class="detail">"since " {status.started_at}</p>
            </article>
            <article class="card stat" data-testid="requests">
                <h3>"Requests served"</h3>
                <p class="value" data-testid="total-requests">{status.uptime.total_requests}</p>
                <p class="detail">"checked " {status.health.timestamp}</p>
            </article>
            <article class="card stat" class:ok=status.database_ok class:bad=!status.database_ok>
                <h3>"Database"</h3>
                <p class="value">{if status.database_ok { "Connected" } else { "Unavailable" }}</p>
                <p class="detail">{status.predictions_recorded} " predictions recorded"</p>
            </article>
            <article class="card stat">
                <h3>"Version"</h3>
                <p class="value">{status.version}</p>
                <p class="detail">"server build"</p>
            </article>
        </div>
    }
}
