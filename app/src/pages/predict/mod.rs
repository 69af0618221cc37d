mod batch;

use leptos::prelude::*;
use leptos::web_sys;

use batch::BatchTriage;

use crate::api::predict::{explain_prediction, predict, predict_batch};
use crate::components::feedback::FeedbackButtons;
use crate::components::file_picker::{selected_form_data, FilePicker, SelectedFiles};
use crate::components::heatmap::HeatmapOverlay;
use crate::components::page_header::PageHeader;
use crate::components::probability_bars::ProbabilityBars;
use crate::components::session::use_session;
use crate::error::AppError;
use crate::types::auth::Role;
use crate::types::predict::{BatchItem, DicomInfo, ExplanationResponse, PredictionResponse};

/// What the last request returned: one explained prediction or a batch.
#[derive(Clone)]
enum Outcome {
    Single(Box<ExplanationResponse>),
    /// The answers and the files they came from (for thumbnails and heatmaps).
    Batch(Vec<BatchItem>, Vec<web_sys::File>),
    /// A refused slice an annotator had classified anyway.
    Overridden(Box<PredictionResponse>),
}

/// What a click asks for: the form, how many files it holds, and whether an annotator overrides
/// the not-an-MRI refusal of the one file.
type Request = (web_sys::FormData, usize, bool);

#[component]
pub fn PredictPage() -> impl IntoView {
    let files = SelectedFiles::new();
    // Annotators and admins may overrule the not-an-MRI check (the server checks and audits it).
    let can_override = use_session().allows(Role::Annotator);
    let run = Action::new_local(move |data: &Request| {
        let (form, count, override_refusal) = data.clone();
        let picked = files.files();
        async move {
            if override_refusal {
                predict(form.into())
                    .await
                    .map(|prediction| Outcome::Overridden(Box::new(prediction)))
            } else if count == 1 {
                explain_prediction(form.into())
                    .await
                    .map(|explained| Outcome::Single(Box::new(explained)))
            } else {
                predict_batch(form.into())
                    .await
                    .map(|batch| Outcome::Batch(batch.results, picked))
            }
        }
    });
    let busy = run.pending();
    // The answer is announced (a live region) and takes the focus, so keyboard and screen-reader
    // users land on it instead of the page's top.
    let result_region = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if run.value().with(Option::is_some) {
            if let Some(region) = result_region.get_untracked() {
                let _ = region.focus();
            }
        }
    });
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let count = files.count();
        let field = if count == 1 { "file" } else { "files" };
        if let Some(form) = selected_form_data(&files, field) {
            run.dispatch_local((form, count, false));
        }
    };
    let override_refusal = move |_| {
        if let Some(form) = selected_form_data(&files, "file") {
            if form.append_with_str("override_refusal", "true").is_ok() {
                run.dispatch_local((form, 1, true));
            }
        }
    };

    view! {
        <PageHeader
            title="Predict"
            subtitle="Classify an MRI slice as glioma, meningioma, no tumour or pituitary."
        />
        <section class="card">
            <form class="stack" on:submit=submit data-testid="predict-form">
                <FilePicker files label="MRI slice(s)" multiple=true />
                <div class="actions">
                    <button
                        type="submit"
                        class="button primary"
                        data-testid="predict-submit"
                        disabled=move || files.count() == 0 || busy.get()
                    >
                        {move || {
                            if busy.get() {
                                "Classifying…".to_owned()
                            } else if files.count() > 1 {
                                format!("Classify {} images", files.count())
                            } else {
                                "Classify".to_owned()
                            }
                        }}
                    </button>
                </div>
            </form>
        </section>
        <div
            node_ref=result_region
            class="result-region"
            data-testid="predict-result-region"
            aria-live="polite"
            tabindex="-1"
        >
        {move || {
            run.value()
                .get()
                .map(|result| match result {
                    Ok(Outcome::Single(explained)) => {
                        let prediction = explained.prediction.clone();
                        view! {
                            <PredictionCard prediction title=None />
                            <section class="card" data-testid="explanation">
                                <h2>"Where the model looked"</h2>
                                <HeatmapOverlay explanation=*explained />
                                <p class="muted small">
                                    "Grad-CAM of the answer on a coarse feature map of the network: \
                                     brighter areas weighed more for this class. It shows what \
                                     the model used, not where the tumour is."
                                </p>
                            </section>
                        }
                            .into_any()
                    }
                    Ok(Outcome::Batch(items, files)) => view! { <BatchTriage items files /> }.into_any(),
                    Ok(Outcome::Overridden(prediction)) => {
                        view! { <PredictionCard prediction=*prediction title=None /> }.into_any()
                    }
                    Err(AppError::NotBrainMri { detail, score, threshold }) => {
                        let single = files.count() == 1;
                        view! {
                            <Refusal title=None detail score threshold />
                            {(can_override && single)
                                .then(|| {
                                    view! {
                                        <section class="card" data-testid="override-refusal">
                                            <p class="small">
                                                "You know this is a real MRI slice? Classify it \
                                                 anyway: the answer is flagged for review and \
                                                 the override is recorded in the audit trail."
                                            </p>
                                            <button
                                                type="button"
                                                class="button"
                                                data-testid="override-refusal-submit"
                                                disabled=move || busy.get()
                                                on:click=override_refusal
                                            >
                                                "Classify anyway"
                                            </button>
                                        </section>
                                    }
                                })}
                        }
                            .into_any()
                    }
                    Err(error) => {
                        view! {
                            <p class="error card" role="alert" data-testid="predict-error">
                                {error.to_string()}
                            </p>
                        }
                            .into_any()
                    }
                })
        }}
        </div>
    }
}

#[component]
fn PredictionCard(prediction: PredictionResponse, title: Option<String>) -> impl IntoView {
    let label = crate::class_label(&prediction.predicted_class);
    view! {
        <section class="card result" data-testid="prediction">
            {title.map(|title| view! { <h2 class="filename">{title}</h2> })}
            <p class="verdict">
                <span class="class-name" data-testid="predicted-class">{label}</span>
                <span class="confidence">
                    {format!("{:.1}% confidence", prediction.confidence * 100.0)}
                </span>
            </p>
            {prediction
                .refusal_overridden
                .then(|| {
                    view! {
                        <p class="needs-review" role="status" data-testid="refusal-overridden">
                            <strong>"Classified on your word"</strong>
                            " — the model's check said this is not a brain MRI slice; \
                             treat the answer with care."
                        </p>
                    }
                })}
            {prediction
                .needs_review
                .then(|| {
                    let runner_up = prediction
                        .runner_up
                        .as_deref()
                        .map(crate::class_label)
                        .unwrap_or_default();
                    view! {
                        <p class="needs-review" role="status" data-testid="needs-review">
                            <strong>"Needs review"</strong>
                            {format!(
                                " — the model is unsure; the runner-up is {runner_up}. \
                                 Have a radiologist read this slice."
                            )}
                        </p>
                    }
                })}
            <ProbabilityBars probabilities=prediction.probabilities.clone() />
            {prediction.dicom.clone().map(|dicom| view! { <DicomDetails dicom=*dicom /> })}
            {prediction
                .prediction_id
                .map(|id| {
                    view! { <FeedbackButtons prediction_id=id predicted_class=prediction.predicted_class.clone() /> }
                })}
            {prediction
                .slice_kept_until
                .as_deref()
                .map(|until| {
                    view! {
                        <p class="muted small" data-testid="slice-kept">
                            {format!(
                                "This server keeps the slice (its pixels only, no file header) for \
                                 reviewers until {}, so an annotator can confirm or correct the answer.",
                                until.get(..10).unwrap_or(until)
                            )}
                        </p>
                    }
                })}
            <p class="muted small">
                {format!(
                    "model {} · {:.1} ms",
                    prediction.model_version,
                    prediction.prediction_time_seconds * 1000.0,
                )}
            </p>
        </section>
    }
}

/// What a DICOM input's file says about the acquisition (the server keeps nothing about the
/// patient, so there is nothing of the kind to show).
#[component]
fn DicomDetails(dicom: DicomInfo) -> impl IntoView {
    let frame = dicom.frame;
    let dicom = dicom.summary;
    let optional = |value: Option<String>| value.unwrap_or_else(|| "—".into());
    let rows = [
        (
            "Frame",
            if dicom.frames > 1 {
                format!("{frame} of {} (the middle one)", dicom.frames)
            } else {
                "1 of 1".into()
            },
        ),
        ("Modality", dicom.modality),
        ("Manufacturer", optional(dicom.manufacturer)),
        (
            "Field strength",
            optional(dicom.magnetic_field_strength.map(|t| format!("{t} T"))),
        ),
        ("Series", optional(dicom.series_description)),
        (
            "Slice thickness",
            optional(dicom.slice_thickness.map(|mm| format!("{mm} mm"))),
        ),
        (
            "Matrix",
            format!(
                "{} x {}, {}-bit {}",
                dicom.columns, dicom.rows, dicom.bits_stored, dicom.photometric_interpretation
            ),
        ),
        (
            "Window",
            format!(
                "center {}, width {} ({})",
                dicom.window.center,
                dicom.window.width,
                if dicom.window.from_file {
                    "from the file"
                } else {
                    "min-max; the file sets none"
                }
            ),
        ),
        ("Transfer syntax", dicom.transfer_syntax),
    ];
    view! {
        <dl class="dicom-details" data-testid="dicom-details">
            {rows
                .into_iter()
                .map(|(name, value)| view! { <dt>{name}</dt> <dd>{value}</dd> })
                .collect_view()}
        </dl>
    }
}

/// An image the model refused to classify because it is not a brain MRI slice.
#[component]
fn Refusal(
    title: Option<String>,
    detail: String,
    score: Option<f64>,
    threshold: Option<f64>,
) -> impl IntoView {
    view! {
        <section class="card result refused" role="alert" data-testid="predict-refused">
            {title.map(|title| view! { <h2 class="filename">{title}</h2> })}
            <p class="verdict">
                <span class="class-name">"Not a brain MRI slice"</span>
            </p>
            <p>{detail}</p>
            {score
                .zip(threshold)
                .map(|(score, threshold)| {
                    view! {
                        <p class="muted small">
                            {format!("distance {score:.2} · threshold {threshold:.2}")}
                        </p>
                    }
                })}
        </section>
    }
}
