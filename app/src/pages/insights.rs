use leptos::prelude::*;

use crate::components::{page_header::PageHeader, planned_features::PlannedFeatures};

const PLANNED: &[&str] = &[
    "Class distribution of the training data and of uploaded images.",
    "Per-class intensity and texture distributions, drawn in the browser.",
    "The active model's confusion matrix, per-class precision, recall and F1, and training curves.",
];

#[component]
pub fn InsightsPage() -> impl IntoView {
    view! {
        <PageHeader title="Insights" subtitle="What the data looks like and how the model behaves on it." />
        <PlannedFeatures features=PLANNED />
    }
}
