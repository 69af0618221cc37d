use leptos::prelude::*;

use crate::components::{page_header::PageHeader, planned_features::PlannedFeatures};

const PLANNED: &[&str] = &[
    "Dataset statistics as cards.",
    "Epoch and fine-tune-epoch controls and a trigger button.",
    "A live progress bar while a training job runs.",
    "Every training session with before and after metrics, and model versions with an activate button.",
];

#[component]
pub fn RetrainPage() -> impl IntoView {
    view! {
        <PageHeader title="Retrain" subtitle="Fine-tune the model on uploaded images and promote the result only if it is no worse." />
        <PlannedFeatures features=PLANNED />
    }
}
