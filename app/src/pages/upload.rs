mod review_queue;

use leptos::prelude::*;
use leptos::web_sys;

use crate::api::retrain::{get_database_stats, upload_training_images};
use crate::components::file_picker::{selected_form_data, FilePicker, SelectedFiles};
use crate::components::page_header::PageHeader;
use crate::components::session::{use_session, RoleNotice};
use crate::components::stat_card::{StatCard, Tone};
use crate::types::auth::Role;
use crate::types::retrain::{UploadFileResult, UploadOutcome};
use crate::{class_label, CLASS_NAMES};
use review_queue::ReviewQueue;

/// Files stored, held, duplicates and rejections over every upload made on this page.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Totals {
    stored: usize,
    held: usize,
    duplicates: usize,
    rejected: usize,
}

#[component]
pub fn UploadPage() -> impl IntoView {
    let files = SelectedFiles::new();
    let session = use_session();
    let can_upload = session.allows(Role::Annotator);
    // Admins may put images in the trusted reference set the retraining gate judges on; the Retrain
    // page links here with `?purpose=reference` to preselect it.
    let asked_for_reference = leptos_router::hooks::use_query_map()
        .with_untracked(|query| query.get("purpose").as_deref() == Some("reference"));
    let reference = RwSignal::new(asked_for_reference);
    let class_name = RwSignal::new(CLASS_NAMES[0].to_owned());
    let results = RwSignal::new(Vec::<(String, UploadFileResult)>::new());
    let totals = RwSignal::new(Totals::default());
    let pending = RwSignal::new(None::<i64>);
    let uploads_changed = RwSignal::new(0u32);
    let upload = Action::new_local(move |form: &web_sys::FormData| {
        let form = form.clone();
        async move { upload_training_images(form.into()).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(response)) = upload.value().get() {
            totals.update(|t| {
                t.stored += response.stored;
                t.held += response.held;
                t.duplicates += response.duplicates;
                t.rejected += response.rejected;
            });
            pending.set(Some(response.pending_images));
            let class = response.class_name.clone();
            results.update(|list| {
                let mut batch: Vec<(String, UploadFileResult)> = response
                    .results
                    .into_iter()
                    .map(|r| (class.clone(), r))
                    .collect();
                batch.append(list);
                *list = batch;
            });
            files.clear();
            if response.held > 0 {
                uploads_changed.update(|n| *n += 1);
            }
        }
    });
    let busy = upload.pending();
    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        if let Some(form) = selected_form_data(&files, "files") {
            let purpose = if reference.get_untracked() {
                "reference"
            } else {
                "training"
            };
            if form
                .append_with_str("class_name", &class_name.get_untracked())
                .and_then(|()| form.append_with_str("purpose", purpose))
                .is_ok()
            {
                upload.dispatch_local(form);
            }
        }
    };

    view! {
        <PageHeader
            title="Upload"
            subtitle="Add labelled MRI slices to the pool the next retraining run learns from."
        />
        <RoleNotice role=Role::Annotator action="upload labelled images" />
        <section class="card" hidden=!can_upload>
            <form class="stack" on:submit=submit data-testid="upload-form">
                <label class="field">
                    <span>"Class of these images"</span>
                    <select
                        name="class_name"
                        data-testid="class-select"
                        on:change=move |event| class_name.set(event_target_value(&event))
                        prop:value=move || class_name.get()
                    >
                        {CLASS_NAMES
                            .iter()
                            .map(|class| view! { <option value=*class>{class_label(class)}</option> })
                            .collect_view()}
                    </select>
                </label>
                <FilePicker files label="Labelled images" multiple=true />
                {session.allows(Role::Admin).then(|| view! {
                    <label class="checkbox">
                        <input
                            type="checkbox"
                            data-testid="reference-set"
                            on:change=move |event| reference.set(event_target_checked(&event))
                            prop:checked=move || reference.get()
                        />
                        " Reference set: never trained on; new versions are judged on it"
                    </label>
                })}
                <div class="actions">
                    <button
                        type="submit"
                        class="button primary"
                        data-testid="upload-submit"
                        disabled=move || files.count() == 0 || busy.get()
                    >
                        {move || {
                            if busy.get() {
                                "Uploading…".to_owned()
                            } else {
                                format!("Upload {} file(s)", files.count())
                            }
                        }}
                    </button>
                </div>
            </form>
        </section>
        {move || {
            upload.value().get().and_then(Result::err).map(|error| {
                view! { <p class="error card" role="alert" data-testid="upload-error">{error.to_string()}</p> }
            })
        }}
        <DatabaseTotals uploads_changed />
        <h2 class="section-title">"This visit"</h2>
        <section class="cards" data-testid="upload-totals">
            <StatCard title="Stored" value={move || totals.get().stored} tone=Tone::Ok value_testid="total-stored" />
            <StatCard title="Held for review" value={move || totals.get().held} tone=Tone::Warn value_testid="total-held" />
            <StatCard title="Duplicates" value={move || totals.get().duplicates} value_testid="total-duplicates" />
            <StatCard
                title="Rejected"
                value={move || totals.get().rejected}
                tone=Tone::Warn
                value_testid="total-rejected"
            />
            <StatCard
                title="Waiting for retraining"
                value={move || pending.get().map_or("–".to_owned(), |n| n.to_string())}
            />
        </section>
        <section class="card">
            <h2>"This session's files"</h2>
            <ul class="file-results" data-testid="upload-results">
                {move || {
                    results
                        .get()
                        .into_iter()
                        .map(|(class, result)| {
                            let (label, css) = match result.outcome {
                                UploadOutcome::Stored => ("stored", "ok"),
                                UploadOutcome::Held => ("held for review", "warn"),
                                UploadOutcome::Duplicate => ("duplicate", "warn"),
                                UploadOutcome::Rejected => ("rejected", "bad"),
                            };
                            view! {
                                <li
                                    class=format!("file-result {css}")
                                    data-outcome=label
                                    data-upload-id=result.id.map(|id| id.to_string())
                                >
                                    <span class="name">{result.filename}</span>
                                    <span class="badge">{label}</span>
                                    <span class="muted">{class_label(&class)}</span>
                                    <span class="muted small">{result.reason.unwrap_or_default()}</span>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </section>
        {can_upload.then(|| view! { <ReviewQueue uploads_changed /> })}
    }
}

/// What the database holds, whatever this visit did: the totals the per-visit counters add to.
/// Asked for by the browser after hydration (and after each upload), so the server's streamed page
/// does not wait on it.
#[component]
fn DatabaseTotals(uploads_changed: RwSignal<u32>) -> impl IntoView {
    let stats = RwSignal::new(None::<crate::types::retrain::DatabaseStats>);
    Effect::new(move |_| {
        uploads_changed.track();
        leptos::task::spawn_local(async move {
            if let Ok(loaded) = get_database_stats().await {
                stats.set(Some(loaded));
            }
        });
    });
    move || {
        stats.get().map(|stats| {
            view! {
                <p class="reassurance" data-testid="upload-db-totals">
                    {format!(
                        "In the database: {} uploads, {} waiting for retraining, {} held for review, {} in the reference set. ",
                        stats.total_uploaded_images,
                        stats.pending_images,
                        stats.held_for_review,
                        stats.reference_images,
                    )}
                    <a href="/data">"Browse them on the Data page"</a>
                </p>
            }
        })
    }
}
