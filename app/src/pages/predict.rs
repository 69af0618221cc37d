use leptos::prelude::*;

use crate::components::{page_header::PageHeader, planned_features::PlannedFeatures};

const PLANNED: &[&str] = &[
    "Pick or drop an MRI slice and see a preview before it is sent.",
    "The predicted class with its calibrated confidence.",
    "A probability bar for each of glioma, meningioma, no tumour and pituitary.",
    "Batch mode: classify many files at once.",
];

#[component]
pub fn PredictPage() -> impl IntoView {
    view! {
        <PageHeader title="Predict" subtitle="Classify an MRI slice as glioma, meningioma, no tumour or pituitary." />
        <PlannedFeatures features=PLANNED />
    }
}
