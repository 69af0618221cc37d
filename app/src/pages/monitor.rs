use leptos::prelude::*;

use crate::components::{page_header::PageHeader, planned_features::PlannedFeatures};

const PLANNED: &[&str] = &[
    "Uptime, total requests and requests per minute, refreshing live.",
    "Prediction latency p50 and p95 over a recent window.",
    "Predictions per class over time, the active model version and process memory.",
];

#[component]
pub fn MonitorPage() -> impl IntoView {
    view! {
        <PageHeader title="Monitor" subtitle="How the service is doing right now." />
        <PlannedFeatures features=PLANNED />
    }
}
