use leptos::prelude::*;

use crate::components::{page_header::PageHeader, planned_features::PlannedFeatures};

const PLANNED: &[&str] = &[
    "Multi-select or drag-and-drop labelled images.",
    "A class selector and a per-file result: stored, duplicate or rejected with the reason.",
    "Running totals of what has been uploaded per class.",
];

#[component]
pub fn UploadPage() -> impl IntoView {
    view! {
        <PageHeader title="Upload" subtitle="Add labelled MRI slices for the next retraining run." />
        <PlannedFeatures features=PLANNED />
    }
}
