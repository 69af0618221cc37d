//! The Data page (annotators and admins): every stored upload with filters, a zoomed view, and
//! relabelling or deleting the ones no version was trained on.

use leptos::html::Dialog;
use leptos::prelude::*;

use crate::api::data::{delete_upload, list_uploads, relabel_upload};
use crate::class_label;
use crate::components::loaded::Loaded;
use crate::components::modal;
use crate::components::page_header::PageHeader;
use crate::components::session::RequireRole;
use crate::components::time::LocalTime;
use crate::error::AppError;
use crate::types::auth::Role;
use crate::types::data::{UploadRow, UploadsPage};
use domain::CLASS_NAMES;

/// Uploads per page.
const PAGE_SIZE: i64 = 50;
const STATUSES: [(&str, &str); 5] = [
    ("pending", "Waiting for retraining"),
    ("used", "Trained on"),
    ("held", "Held for review"),
    ("reference", "Reference set"),
    ("discarded", "Deleted or discarded"),
];

/// The filters as chosen; empty means any.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filters {
    class_name: String,
    status: String,
    uploaded_by: String,
    purpose: String,
    from: String,
    until: String,
}

#[component]
pub fn DataPage() -> impl IntoView {
    view! {
        <PageHeader title="Data" subtitle="Every stored upload: look, relabel, delete." />
        <RequireRole role=Role::Annotator action="browse and curate uploads">
            <DataBrowser />
        </RequireRole>
    }
}

#[component]
fn DataBrowser() -> impl IntoView {
    let filters = RwSignal::new(Filters::default());
    // Bumped after a change to reload the list.
    let revision = RwSignal::new(0u32);
    let page = Resource::new(
        move || (filters.get(), revision.get()),
        |(filters, _)| {
            let some = |value: String| (!value.is_empty()).then_some(value);
            list_uploads(
                some(filters.class_name),
                some(filters.status),
                some(filters.uploaded_by),
                some(filters.purpose),
                some(filters.from),
                some(filters.until),
                None,
                Some(PAGE_SIZE),
            )
        },
    );
    let zoomed = RwSignal::new(None::<UploadRow>);
    let relabel =
        Action::new(|(id, class_name): &(i64, String)| relabel_upload(*id, class_name.clone()));
    let delete = Action::new(|id: &i64| delete_upload(*id));
    Effect::new(move |_| {
        if relabel.version().get() + delete.version().get() > 0 {
            revision.update(|n| *n += 1);
        }
    });
    let last_error = move || {
        [
            relabel.value().get().and_then(Result::err),
            delete.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    };
    let set = move |change: fn(&mut Filters, String)| {
        move |event: leptos::ev::Event| {
            let value = event_target_value(&event);
            filters.update(|filters| change(filters, value));
        }
    };
    view! {
        <section class="card">
            <form class="triage-controls" data-testid="data-filters" on:submit=|event| event.prevent_default()>
                <label class="field">
                    <span>"Class"</span>
                    <select data-testid="data-class" on:change=set(|f, v| f.class_name = v)>
                        <option value="">"Any class"</option>
                        {CLASS_NAMES.iter().map(|class| view! { <option value=*class>{class_label(class)}</option> }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span>"Status"</span>
                    <select data-testid="data-status" on:change=set(|f, v| f.status = v)>
                        <option value="">"Any status"</option>
                        {STATUSES.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span>"Purpose"</span>
                    <select data-testid="data-purpose" on:change=set(|f, v| f.purpose = v)>
                        <option value="">"Any purpose"</option>
                        <option value="training">"Training"</option>
                        <option value="reference">"Reference set"</option>
                    </select>
                </label>
                <label class="field">
                    <span>"Uploaded from"</span>
                    <input type="date" data-testid="data-from" on:change=set(|f, v| f.from = v) />
                </label>
                <label class="field">
                    <span>"until"</span>
                    <input type="date" data-testid="data-until" on:change=set(|f, v| f.until = v) />
                </label>
                <label class="field">
                    <span>"Uploaded by"</span>
                    <input type="text" data-testid="data-uploader" placeholder="any account" on:change=set(|f, v| f.uploaded_by = v) />
                </label>
            </form>
            {move || last_error().map(|error| view! { <p class="error" role="alert" data-testid="data-error">{error.to_string()}</p> })}
            <Loaded
                resource=page
                loading="Loading uploads…"
                render=move |page| view! { <UploadsTable page zoomed relabel delete /> }
            />
        </section>
        <ZoomDialog zoomed />
    }
}

type RelabelAction = Action<(i64, String), Result<UploadRow, AppError>>;
type DeleteAction = Action<i64, Result<UploadRow, AppError>>;

#[component]
fn UploadsTable(
    page: UploadsPage,
    zoomed: RwSignal<Option<UploadRow>>,
    relabel: RelabelAction,
    delete: DeleteAction,
) -> impl IntoView {
    let shown = page.uploads.len();
    let summary = format!(
        "{} upload{} match{}; the newest {shown} shown.",
        page.total,
        if page.total == 1 { "" } else { "s" },
        if page.total == 1 { "es" } else { "" },
    );
    view! {
        <p data-testid="data-summary" role="status">{summary}</p>
        <div class="table-scroll" tabindex="0" role="region" aria-label="uploads table">
            <table data-testid="data-table">
                <thead>
                    <tr>
                        <th><span class="visually-hidden">"Image"</span></th>
                        <th>"File"</th>
                        <th>"Label"</th>
                        <th>"Status"</th>
                        <th>"Uploaded"</th>
                        <th><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {page
                        .uploads
                        .into_iter()
                        .map(|upload| view! { <UploadLine upload zoomed relabel delete /> })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn UploadLine(
    upload: UploadRow,
    zoomed: RwSignal<Option<UploadRow>>,
    relabel: RelabelAction,
    delete: DeleteAction,
) -> impl IntoView {
    let id = upload.id;
    let for_zoom = upload.clone();
    let label = class_label(&upload.class_name).to_owned();
    let status = STATUSES
        .iter()
        .find(|(value, _)| *value == upload.status)
        .map_or(upload.status.clone(), |(_, label)| (*label).to_owned());
    let current = upload.class_name.clone();
    let zoom_label = format!("Zoom into {}", upload.filename);
    let confirming = RwSignal::new(false);
    view! {
        <tr data-upload-id=id data-status=upload.status.clone() data-testid="data-row">
            <td>
                <button type="button" class="link-button" aria-label=zoom_label on:click=move |_| zoomed.set(Some(for_zoom.clone()))>
                    <img class="thumb" src=upload.image_url.clone() alt="" loading="lazy" />
                </button>
            </td>
            <td class="filename">
                {upload.filename.clone()}
                <span class="muted small">{format!(" · {}×{} · {}", upload.width, upload.height, upload.purpose)}</span>
                {upload.prediction_id.map(|prediction| view! {
                    <span class="muted small" data-testid="data-provenance">
                        {format!(" · a reviewer's correction of prediction {prediction}")}
                    </span>
                })}
            </td>
            <td>
                {if upload.editable {
                    view! {
                        <label class="visually-hidden" for=format!("label-{id}")>"Label"</label>
                        <select
                            id=format!("label-{id}")
                            data-testid="data-relabel"
                            on:change=move |event| {
                                let chosen = event_target_value(&event);
                                if chosen != current {
                                    relabel.dispatch((id, chosen));
                                }
                            }
                        >
                            {CLASS_NAMES
                                .iter()
                                .map(|class| view! { <option value=*class selected=*class == upload.class_name>{class_label(class)}</option> })
                                .collect_view()}
                        </select>
                    }
                        .into_any()
                } else {
                    view! { <span data-testid="data-label">{label}</span> }.into_any()
                }}
            </td>
            <td><span class=format!("badge {}", upload.status) data-testid="data-status-badge">{status}</span></td>
            <td>
                <LocalTime utc=upload.uploaded_at.clone() />
                <span class="muted small">{upload.uploaded_by.clone().map(|by| format!(" by {by}")).unwrap_or_default()}</span>
            </td>
            <td>
                <div class="row-actions">
                {upload.editable.then(|| view! {
                    {move || if confirming.get() {
                        view! {
                            <span class="small">"Delete it? It stays on record, out of training."</span>
                            <button type="button" class="button small danger" data-testid="data-delete-confirm"
                                on:click=move |_| { delete.dispatch(id); }>
                                "Delete"
                            </button>
                            <button type="button" class="button small" on:click=move |_| confirming.set(false)>
                                "Keep"
                            </button>
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" class="button small" data-testid="data-delete"
                                on:click=move |_| confirming.set(true)>
                                "Delete…"
                            </button>
                        }.into_any()
                    }}
                })}
                </div>
            </td>
        </tr>
    }
}

/// One upload at full size.
#[component]
fn ZoomDialog(zoomed: RwSignal<Option<UploadRow>>) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    modal::follow_signal(dialog, move || zoomed.with(Option::is_some));
    view! {
        <dialog node_ref=dialog class="dialog" data-testid="data-zoom" aria-labelledby="zoom-title" on:close=move |_| zoomed.set(None)>
            {move || zoomed.get().map(|upload| view! {
                <div class="comparison-head">
                    <h2 id="zoom-title" class="filename">{upload.filename.clone()}</h2>
                    <button type="button" class="button small" on:click=move |_| zoomed.set(None)>"Close"</button>
                </div>
                <img class="zoomed" src=upload.image_url.clone() alt=format!("{}, labelled {}", upload.filename, class_label(&upload.class_name)) />
                <p class="muted">{format!("{} × {} px, {} KB, labelled {}", upload.width, upload.height, upload.size_bytes / 1024, class_label(&upload.class_name))}</p>
            })}
        </dialog>
    }
}
