use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::status::get_server_status;
use crate::components::loaded::Loaded;
use crate::components::page_header::PageHeader;
use crate::components::polling::every;
use crate::components::stat_card::{StatCard, Tone};
use crate::types::status::ServerStatus;

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
            <StatCard title="Service" value=health_label tone={if healthy { Tone::Ok } else { Tone::Warn }} testid="health">
                {health_detail}
            </StatCard>
            <StatCard title="Uptime" value=status.uptime.uptime_formatted testid="uptime">
                "since " {status.started_at}
            </StatCard>
            <StatCard
                title="Requests served"
                value=status.uptime.total_requests
                testid="requests"
                value_testid="total-requests"
            >
                "checked " {status.health.timestamp}
            </StatCard>
            <StatCard
                title="Database"
                value={if status.database_ok { "Connected" } else { "Unavailable" }}
                tone={if status.database_ok { Tone::Ok } else { Tone::Bad }}
            >
                {status.predictions_recorded} " predictions recorded"
            </StatCard>
            <StatCard title="Version" value=status.version>
                "server build"
            </StatCard>
        </div>
    }
}
