//! The Studies page (viewers and above: it shows patient names and IDs): the PACS's studies over
//! DICOMweb, a study's series, a series classified and shown in the viewer, and (annotators and
//! admins) its result sent back to the PACS as a Secondary Capture series.

use leptos::prelude::*;

use crate::api::pacs::{pacs_classify, pacs_series, pacs_store, pacs_studies};
use crate::class_label;
use crate::components::loaded::Loaded;
use crate::components::page_header::PageHeader;
use crate::components::series_viewer::{HeatmapSource, SeriesViewer};
use crate::components::session::{use_session, RequireRole};
use crate::error::AppError;
use crate::types::auth::Role;
use crate::types::pacs::{PacsClassification, SeriesRow, StoredSeriesResult, StudyList, StudyRow};

/// Studies per page.
const PAGE_SIZE: usize = 25;

#[component]
pub fn StudiesPage() -> impl IntoView {
    view! {
        <PageHeader
            title="Studies"
            subtitle="The PACS's studies: open one, classify a series, send the result back."
        />
        <RequireRole role=Role::Viewer action="browse the PACS's studies">
            <StudyBrowser />
        </RequireRole>
    }
}

#[component]
fn StudyBrowser() -> impl IntoView {
    let offset = RwSignal::new(0usize);
    let mr_only = RwSignal::new(true);
    // The search as submitted: (patient ID, patient name).
    let search = RwSignal::new((String::new(), String::new()));
    let patient_id = RwSignal::new(String::new());
    let patient_name = RwSignal::new(String::new());
    let opened = RwSignal::new(None::<StudyRow>);
    let studies = Resource::new(
        move || (offset.get(), mr_only.get(), search.get()),
        |(offset, mr_only, (id, name))| {
            let given = |text: String| (!text.trim().is_empty()).then_some(text);
            pacs_studies(
                Some(PAGE_SIZE),
                Some(offset),
                Some(mr_only),
                given(id),
                given(name),
            )
        },
    );
    view! {
        <section class="card stack" data-testid="studies">
            <form
                class="inline-form"
                role="search"
                on:submit=move |event: leptos::web_sys::SubmitEvent| {
                    event.prevent_default();
                    offset.set(0);
                    search.set((patient_id.get_untracked(), patient_name.get_untracked()));
                }
            >
                <label class="field">
                    "Patient ID"
                    <input type="search" data-testid="studies-patient-id" bind:value=patient_id />
                </label>
                <label class="field">
                    "Patient name"
                    <input type="search" data-testid="studies-patient-name" placeholder="family given" bind:value=patient_name />
                </label>
                <button type="submit" class="button small primary" data-testid="studies-search">"Search"</button>
                <label class="checkbox">
                    <input
                        type="checkbox"
                        data-testid="studies-mr-only"
                        prop:checked=move || mr_only.get()
                        on:change=move |event| {
                            mr_only.set(event_target_checked(&event));
                            offset.set(0);
                        }
                    />
                    " MR studies only"
                </label>
                <button type="button" class="button small" data-testid="studies-refresh" on:click=move |_| studies.refetch()>
                    "Refresh"
                </button>
            </form>
            <Loaded resource=studies loading="Asking the PACS…" render=move |list| view! { <StudyTable list offset opened /> } />
        </section>
        {move || opened.get().map(|study| view! { <StudyDetail study /> })}
    }
}

#[component]
fn StudyTable(
    list: StudyList,
    offset: RwSignal<usize>,
    opened: RwSignal<Option<StudyRow>>,
) -> impl IntoView {
    let count = list.studies.len();
    let first = list.offset;
    let summary = if count == 0 {
        "No study found.".to_owned()
    } else {
        format!("Studies {} to {}.", first + 1, first + count)
    };
    view! {
        <p role="status" data-testid="studies-summary">{summary}</p>
        <div class="table-scroll" tabindex="0" role="region" aria-label="studies table">
            <table class="studies-table" data-testid="studies-table">
                <thead>
                    <tr>
                        <th>"Date"</th>
                        <th>"Patient"</th>
                        <th>"Description"</th>
                        <th>"Modalities"</th>
                        <th>"Series · images"</th>
                        <th>"Last verdict"</th>
                        <th><span class="visually-hidden">"Open"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.studies.into_iter().map(|study| {
                        let open = study.clone();
                        let counts = format!(
                            "{} · {}",
                            study.series_count.map_or("?".into(), |n| n.to_string()),
                            study.instance_count.map_or("?".into(), |n| n.to_string()),
                        );
                        view! {
                            <tr data-testid="study-row" data-uid=study.study_instance_uid.clone()>
                                <td data-label="Date">{study.study_date.clone().unwrap_or_else(|| "—".into())}</td>
                                <td class="study-patient">
                                    {study.patient_name.clone().unwrap_or_else(|| "—".into())}
                                    {study.patient_id.clone().map(|id| view! { <span class="muted small">" · "{id}</span> })}
                                </td>
                                <td data-label=study.study_description.is_some().then_some("Description")>
                                    {study.study_description.clone().unwrap_or_default()}
                                </td>
                                <td data-label="Modalities">{study.modalities.join(", ")}</td>
                                <td data-label="Series · images">{counts}</td>
                                <td><VerdictBadge result=study.last_result.clone() /></td>
                                <td class="study-open">
                                    <button
                                        type="button"
                                        class="button small"
                                        data-testid="study-open"
                                        on:click=move |_| opened.set(Some(open.clone()))
                                    >
                                        "Open"
                                    </button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <div class="inline-form">
            <button
                type="button"
                class="button small"
                disabled=first == 0
                on:click=move |_| offset.update(|o| *o = o.saturating_sub(PAGE_SIZE))
            >
                "Newer"
            </button>
            <button
                type="button"
                class="button small"
                disabled=count < PAGE_SIZE
                on:click=move |_| offset.update(|o| *o += PAGE_SIZE)
            >
                "Older"
            </button>
        </div>
    }
}

#[component]
fn VerdictBadge(result: Option<StoredSeriesResult>) -> impl IntoView {
    result.map(|result| {
        let text = match (&result.class_name, result.confidence) {
            (Some(class), Some(confidence)) => {
                format!("{} {:.0}%", class_label(class), confidence * 100.0)
            }
            _ => "no verdict".to_owned(),
        };
        let sent = result.sent_to_pacs_at.is_some();
        view! {
            <span class="badge" data-testid="verdict-badge" data-class=result.class_name.clone().unwrap_or_default()>
                {text}
                {result.needs_review.then_some(" · review")}
                {sent.then_some(" · in PACS")}
            </span>
        }
    })
}

#[component]
fn StudyDetail(study: StudyRow) -> impl IntoView {
    let study_uid = study.study_instance_uid.clone();
    let series = Resource::new(
        {
            let study_uid = study_uid.clone();
            move || study_uid.clone()
        },
        pacs_series,
    );
    let title = [
        study.patient_name.clone(),
        study.patient_id.clone(),
        study.study_date.clone(),
        study.study_description.clone(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let title = if title.is_empty() {
        "Study".to_owned()
    } else {
        title
    };
    let classification = RwSignal::new(None::<Result<PacsClassification, AppError>>);
    view! {
        <section class="card stack" data-testid="study-detail">
            <h2>{title}</h2>
            <Loaded resource=series loading="Listing the study's series…" render=move |found| {
                let study_uid = found.study_instance_uid.clone();
                view! {
                    <ul class="series-list">
                        {found.series.into_iter().map(|row| {
                            view! { <SeriesLine row study_uid=study_uid.clone() classification /> }
                        }).collect_view()}
                    </ul>
                }
            } />
        </section>
        {move || match classification.get() {
            None => None,
            Some(Err(error)) => Some(view! { <p class="error card" role="alert" data-testid="pacs-error">{error.to_string()}</p> }.into_any()),
            Some(Ok(answer)) => Some(view! { <PacsResult answer /> }.into_any()),
        }}
    }
}

#[component]
fn SeriesLine(
    row: SeriesRow,
    study_uid: String,
    classification: RwSignal<Option<Result<PacsClassification, AppError>>>,
) -> impl IntoView {
    let can_store = use_session().allows(Role::Annotator);
    let series_uid = row.series_instance_uid.clone();
    let request = StoredValue::new((study_uid, series_uid));
    let classify = Action::new(move |store: &bool| {
        let (study_uid, series_uid) = request.get_value();
        let store = *store;
        async move {
            let answer = if store {
                pacs_store(study_uid, series_uid, true).await
            } else {
                pacs_classify(study_uid, series_uid, true).await
            };
            classification.set(Some(answer));
        }
    });
    let busy = classify.pending();
    let label = format!(
        "{} {}",
        row.modality.clone().unwrap_or_else(|| "?".into()),
        row.series_description
            .clone()
            .unwrap_or_else(|| "series".into())
    );
    let images = row
        .instance_count
        .map(|n| format!("{n} images"))
        .unwrap_or_default();
    view! {
        <li class="series-line" data-testid="pacs-series" data-modality=row.modality.clone().unwrap_or_default()>
            <span class="series-line-name">
                <strong>{label}</strong>
                <span class="muted small">{images}</span>
            </span>
            <VerdictBadge result=row.last_result.clone() />
            {if row.classifiable {
                view! {
                    <span class="row-actions">
                        <button
                            type="button"
                            class="button small primary"
                            data-testid="pacs-classify"
                            disabled=move || busy.get()
                            on:click=move |_| { classify.dispatch(false); }
                        >
                            {move || if busy.get() { "Working…" } else { "Classify" }}
                        </button>
                        {can_store.then(|| view! {
                            <button
                                type="button"
                                class="button small"
                                data-testid="pacs-store"
                                title="Classify, then store each slice's heatmap with its answer in the PACS"
                                disabled=move || busy.get()
                                on:click=move |_| { classify.dispatch(true); }
                            >
                                "Send result to PACS"
                            </button>
                        })}
                    </span>
                }.into_any()
            } else {
                view! { <span class="muted small">"Only MR series are classified"</span> }.into_any()
            }}
        </li>
    }
}

#[component]
fn PacsResult(answer: PacsClassification) -> impl IntoView {
    let timing = format!(
        "Fetched from the PACS in {:.2} s, classified in {:.2} s.",
        answer.fetch_seconds, answer.classify_seconds
    );
    let stored = answer.stored.clone().map(|stored| {
        view! {
            <p class="notice card" role="status" data-testid="pacs-stored">
                {format!(
                    "Stored {} image(s) in the PACS as series {} of this study{}.",
                    stored.images,
                    stored.series_instance_uid,
                    if stored.failed > 0 { format!(" ({} refused)", stored.failed) } else { String::new() }
                )}
            </p>
        }
    });
    view! {
        <p class="muted small" data-testid="pacs-timing">{timing}</p>
        {stored}
        {answer.result.series.into_iter().map(|series| {
            let uids = StoredValue::new((
                series.study_instance_uid.clone().unwrap_or_default(),
                series.series_instance_uid.clone().unwrap_or_default(),
            ));
            view! { <SeriesViewer series heatmaps=HeatmapSource::Pacs(uids) /> }
        }).collect_view()}
    }
}
