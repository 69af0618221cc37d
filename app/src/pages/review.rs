//! The Review page (annotators and admins): the predictions the server kept, those flagged for
//! review first and then the ones the model hesitated on most, each with its slice, probabilities
//! and one-click confirm or correct. A correction becomes training data.

use leptos::prelude::*;

use crate::api::feedback::{explain_kept_prediction, predictions_to_review};
use crate::api::retrain::list_models;
use crate::class_label;
use crate::components::feedback::FeedbackButtons;
use crate::components::heatmap::HeatmapOverlay;
use crate::components::loaded::Loaded;
use crate::components::page_header::PageHeader;
use crate::components::probability_bars::ProbabilityBars;
use crate::components::session::RequireRole;
use crate::components::time::LocalTime;
use crate::types::auth::Role;
use crate::types::feedback::{QueuedPrediction, ReviewQueue};
use domain::CLASS_NAMES;

/// Predictions listed at once.
const PAGE_SIZE: i64 = 20;

#[component]
pub fn ReviewPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Review"
            subtitle="Confirm or correct the model's answers; corrections become training data."
        />
        <RequireRole role=Role::Annotator action="review predictions">
            <ReviewQueueView />
        </RequireRole>
    }
}

#[component]
fn ReviewQueueView() -> impl IntoView {
    let version = RwSignal::new(String::new());
    let class_name = RwSignal::new(String::new());
    // Bumped after each verdict, to fetch the next items.
    let revision = RwSignal::new(0u32);
    let queue = Resource::new(
        move || (version.get(), class_name.get(), revision.get()),
        |(version, class_name, _)| {
            let some = |value: String| (!value.is_empty()).then_some(value);
            predictions_to_review(some(version), some(class_name), Some(PAGE_SIZE))
        },
    );
    let versions = Resource::new(|| (), |_| list_models());
    // Judged items stay on screen with what became of them until the reviewer asks for more.
    let judged = RwSignal::new(0u32);
    let reviewed = Callback::new(move |()| judged.update(|n| *n += 1));
    let next = move |_| {
        judged.set(0);
        revision.update(|n| *n += 1);
    };
    view! {
        <section class="card">
            <form class="triage-controls" data-testid="review-filters" on:submit=|event| event.prevent_default()>
                <label class="field">
                    <span>"Model version"</span>
                    <select data-testid="review-version" on:change=move |event| version.set(event_target_value(&event))>
                        <option value="">"Any version"</option>
                        <Suspense fallback=|| ()>
                            {move || versions.get().and_then(Result::ok).map(|list| {
                                list.models
                                    .into_iter()
                                    .map(|model| view! { <option value=model.version.clone()>{model.version.clone()}</option> })
                                    .collect_view()
                            })}
                        </Suspense>
                    </select>
                </label>
                <label class="field">
                    <span>"Answered class"</span>
                    <select data-testid="review-class" on:change=move |event| class_name.set(event_target_value(&event))>
                        <option value="">"Any class"</option>
                        {CLASS_NAMES.iter().map(|class| view! { <option value=*class>{class_label(class)}</option> }).collect_view()}
                    </select>
                </label>
            </form>
            <p class="muted small">
                "Answers flagged for review come first, then those whose two most likely classes were \
                 closest: a correction there teaches the model most. Slices are kept for a limited \
                 time and only their pixels."
            </p>
        </section>
        <Loaded
            resource=queue
            loading="Loading the review queue…"
            render=move |queue| view! { <QueueList queue reviewed /> }
        />
        <div class="actions">
            <button type="button" class="button" data-testid="review-next" on:click=next>
                {move || match judged.get() {
                    0 => "Refresh the queue".to_owned(),
                    1 => "1 reviewed: show the next".to_owned(),
                    n => format!("{n} reviewed: show the next"),
                }}
            </button>
        </div>
    }
}

#[component]
fn QueueList(queue: ReviewQueue, reviewed: Callback<()>) -> impl IntoView {
    if queue.items.is_empty() {
        return view! {
            <p class="card muted" data-testid="review-empty">
                "Nothing to review: every kept prediction has a verdict."
            </p>
        }
        .into_any();
    }
    let total = queue.total;
    let shown = queue.items.len();
    view! {
        <p class="muted" data-testid="review-count">
            {format!("{shown} of {total} unreviewed predictions")}
        </p>
        <ul class="queue-list" data-testid="queue-list">
            {queue.items.into_iter().map(|item| view! { <QueueItem item reviewed /> }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn QueueItem(item: QueuedPrediction, reviewed: Callback<()>) -> impl IntoView {
    let label = class_label(&item.predicted_class);
    let margin = item
        .margin
        .map(|m| format!("margin {:.0} pts", m * 100.0))
        .unwrap_or_default();
    let id = item.prediction_id;
    let explain = Action::new(move |_: &()| explain_kept_prediction(id));
    let answered_by = item.model_version.clone();
    let slice = view! {
        <img
            class="queue-slice"
            src=item.slice_url.clone()
            alt=format!("Slice of prediction {}", item.prediction_id)
            loading="lazy"
        />
    };
    view! {
        <li class="card queue-item" data-testid="queue-item" data-prediction=item.prediction_id>
            <div class="queue-figure">
                {move || match explain.value().get() {
                    Some(Ok(explained)) => {
                        let note = (explained.prediction.model_version != answered_by).then(|| {
                            format!(
                                "Explained by the serving version {}, not {} that answered.",
                                explained.prediction.model_version, answered_by
                            )
                        });
                        view! {
                            <HeatmapOverlay explanation=explained />
                            {note.map(|note| view! { <p class="muted small">{note}</p> })}
                        }
                        .into_any()
                    }
                    Some(Err(error)) => view! {
                        {slice.clone()}
                        <p class="error small" role="alert">{error.to_string()}</p>
                    }
                    .into_any(),
                    None => view! {
                        {slice.clone()}
                        <button
                            type="button"
                            class="button small"
                            data-testid="queue-heatmap"
                            disabled=move || explain.pending().get()
                            on:click=move |_| {
                                explain.dispatch(());
                            }
                        >
                            {move || if explain.pending().get() { "Computing…" } else { "Show where the model looked" }}
                        </button>
                    }
                    .into_any(),
                }}
            </div>
            <div class="stack">
                <p class="verdict">
                    <span class="class-name">{label}</span>
                    <span class="confidence">{format!("{:.1}% confidence", item.confidence * 100.0)}</span>
                    {item.needs_review.then(|| view! { <span class="badge held">"needs review"</span> })}
                </p>
                <p class="muted small">
                    {format!("prediction {} · model {} · {margin} · ", item.prediction_id, item.model_version)}
                    <LocalTime utc=item.predicted_at.clone() />
                </p>
                <ProbabilityBars probabilities=item.probabilities.clone() />
                <FeedbackButtons
                    prediction_id=item.prediction_id
                    predicted_class=item.predicted_class.clone()
                    on_done=reviewed
                />
            </div>
        </li>
    }
}
