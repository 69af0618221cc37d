//! The annotators' queue of held uploads: each one with its image, the label it came with and what
//! the serving model saw instead, and the three decisions (keep the label, relabel, discard).

use leptos::prelude::*;

use crate::api::review::{held_uploads, review_upload};
use crate::types::review::{HeldUpload, ReviewDecision};
use crate::{class_label, CLASS_NAMES};

/// `uploads_changed` is bumped by the page after every upload, so new holds show at once.
///
/// Loaded in the browser only (a `LocalResource`, no `Suspense`): the Upload page holds a local
/// action (browser `FormData`), and a suspended server render would drop it on another thread.
#[component]
pub fn ReviewQueue(uploads_changed: RwSignal<u32>) -> impl IntoView {
    let decide = Action::new(
        |(id, decision, class_name): &(i64, ReviewDecision, Option<String>)| {
            let (id, decision, class_name) = (*id, *decision, class_name.clone());
            async move { review_upload(id, decision, class_name).await }
        },
    );
    // Reloaded after every upload and every decision.
    let held = LocalResource::new(move || {
        let _ = (uploads_changed.get(), decide.version().get());
        held_uploads(Some(50))
    });

    view! {
        <section class="card stack" data-testid="review-queue">
            <h2>"Held for review"</h2>
            <p class="muted small">
                "The serving model gave these images' labels at most 5% while it was at least 70% \
                 sure of another class. They are not trained on until someone decides."
            </p>
            {move || {
                decide.value().get().and_then(Result::err).map(|error| {
                    view! { <p class="error" role="alert" data-testid="review-error">{error.to_string()}</p> }
                })
            }}
            {move || match held.get() {
                None => view! { <p class="muted">"Loading held uploads…"</p> }.into_any(),
                Some(Ok(response)) if response.held.is_empty() => view! {
                    <p class="muted" data-testid="review-empty">"Nothing is held: every upload's label agreed with the model well enough."</p>
                }.into_any(),
                Some(Ok(response)) => view! {
                    <p data-testid="review-count">
                        {format!("{} held", response.total)}
                        {(response.total > response.held.len() as i64)
                            .then(|| format!(" (showing the oldest {})", response.held.len()))}
                    </p>
                    <ul class="review-list">
                        {response.held.into_iter()
                            .map(|item| view! { <HeldItem item decide /> })
                            .collect_view()}
                    </ul>
                }.into_any(),
                Some(Err(error)) => view! { <p class="error">{error.to_string()}</p> }.into_any(),
            }}
        </section>
    }
}

type DecideAction = Action<
    (i64, ReviewDecision, Option<String>),
    Result<crate::types::review::ReviewResult, crate::error::AppError>,
>;

#[component]
fn HeldItem(item: HeldUpload, decide: DecideAction) -> impl IntoView {
    let id = item.id;
    // Relabelling offers the model's class first: it is the likeliest right answer.
    let relabel_to = RwSignal::new(item.predicted_class.clone());
    let busy = decide.pending();
    let others: Vec<&'static str> = CLASS_NAMES
        .iter()
        .copied()
        .filter(|class| *class != item.class_name)
        .collect();
    view! {
        <li class="review-item" data-testid="review-item" data-upload-id=id.to_string()>
            // The full-size image opens in its own tab: a thumbnail is too small to judge a label.
            <a href=item.image_url.clone() target="_blank" rel="noopener" title="Open at full size">
                <img src=item.image_url.clone() alt=format!("held upload {}", item.filename) loading="lazy" />
            </a>
            <div class="stack">
                <span class="name">{item.filename.clone()}</span>
                <span>
                    "Uploaded as " <strong>{class_label(&item.class_name)}</strong>
                    {format!(" ({:.1}% to the model)", item.label_probability * 100.0)}
                </span>
                <span>
                    "The model reads " <strong>{class_label(&item.predicted_class)}</strong>
                    {format!(" ({:.1}%, {})", item.predicted_probability * 100.0, item.model_version)}
                </span>
                <span class="muted small">
                    {format!("by {} at {}", item.uploaded_by.clone().unwrap_or_else(|| "unknown".into()), item.uploaded_at)}
                </span>
                <div class="actions">
                    <button type="button" class="button small" data-testid="review-confirm"
                        disabled=move || busy.get()
                        on:click=move |_| { decide.dispatch((id, ReviewDecision::Confirm, None)); }>
                        {format!("Keep {}", class_label(&item.class_name))}
                    </button>
                    <select data-testid="review-relabel-class"
                        on:change=move |event| relabel_to.set(event_target_value(&event))
                        prop:value=move || relabel_to.get()>
                        {others.into_iter()
                            .map(|class| view! { <option value=class>{class_label(class)}</option> })
                            .collect_view()}
                    </select>
                    <button type="button" class="button small primary" data-testid="review-relabel"
                        disabled=move || busy.get()
                        on:click=move |_| {
                            decide.dispatch((id, ReviewDecision::Relabel, Some(relabel_to.get_untracked())));
                        }>
                        "Relabel"
                    </button>
                    <button type="button" class="button small" data-testid="review-discard"
                        disabled=move || busy.get()
                        on:click=move |_| { decide.dispatch((id, ReviewDecision::Discard, None)); }>
                        "Discard"
                    </button>
                </div>
            </div>
        </li>
    }
}
