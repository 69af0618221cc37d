//! The Series page (any reader, as Predict): a whole DICOM series (its files, or one zip) classified
//! slice by slice with one verdict, shown in a viewer: scroll with the wheel, the arrow keys or the
//! slider, a strip of every slice's probabilities to click through, and where the model looked on
//! the current slice on demand.

use leptos::prelude::*;
use leptos::web_sys;
use wasm_bindgen::JsCast;

use crate::api::predict::predict_series;
use crate::components::page_header::PageHeader;
use crate::components::series_viewer::{HeatmapSource, SeriesViewer};
use crate::error::AppError;
use crate::types::series::SeriesPredictionResponse;

#[component]
pub fn SeriesPage() -> impl IntoView {
    let picked = StoredValue::new_local(Vec::<web_sys::File>::new());
    let count = RwSignal::new(0usize);
    let run = Action::new_local(move |_: &()| {
        let files = picked.get_value();
        async move {
            let form = web_sys::FormData::new().map_err(|_| AppError::Internal)?;
            for file in &files {
                form.append_with_blob_and_filename("files", file, &file.name())
                    .map_err(|_| AppError::Internal)?;
            }
            // The viewer needs each slice's picture.
            form.append_with_str("images", "true")
                .map_err(|_| AppError::Internal)?;
            predict_series(form.into())
                .await
                .map(|answer| (answer, files))
        }
    });
    let on_change = move |event: web_sys::Event| {
        let list = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlInputElement>().ok())
            .and_then(|input| input.files());
        let files: Vec<web_sys::File> = list
            .map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect())
            .unwrap_or_default();
        count.set(files.len());
        picked.set_value(files);
    };
    view! {
        <PageHeader
            title="Series"
            subtitle="A whole DICOM series: every slice classified, one verdict, and a viewer to check it."
        />
        <form
            class="card stack"
            on:submit=move |event: web_sys::SubmitEvent| {
                event.prevent_default();
                run.dispatch_local(());
            }
        >
            <label class="drop-zone">
                <span class="drop-title">"DICOM files of a series, or one zip of them"</span>
                <span class="muted">"Instances are grouped by study and series and put in order by their position."</span>
                <input
                    type="file"
                    multiple=true
                    accept=".dcm,.dicom,.zip,application/dicom,application/zip"
                    data-testid="series-input"
                    on:change=on_change
                />
            </label>
            <button
                type="submit"
                class="button primary"
                data-testid="series-submit"
                disabled=move || count.get() == 0 || run.pending().get()
            >
                {move || match (run.pending().get(), count.get()) {
                    (true, _) => "Classifying…".to_owned(),
                    (false, 0) => "Choose files".to_owned(),
                    (false, n) => format!("Classify {n} file(s)"),
                }}
            </button>
        </form>
        {move || match run.value().get() {
            None => None,
            Some(Err(error)) => Some(view! { <p class="error card" role="alert" data-testid="series-error">{error.to_string()}</p> }.into_any()),
            Some(Ok((answer, files))) => Some(view! { <SeriesResults answer files /> }.into_any()),
        }}
    }
}

#[component]
fn SeriesResults(answer: SeriesPredictionResponse, files: Vec<web_sys::File>) -> impl IntoView {
    let files = StoredValue::new_local(files);
    let rejected = answer.rejected.clone();
    view! {
        <p class="muted small" data-testid="series-rule">{answer.rule.clone()}</p>
        {answer
            .series
            .into_iter()
            .map(|series| view! { <SeriesViewer series heatmaps=HeatmapSource::Files(files) /> })
            .collect_view()}
        {(!rejected.is_empty()).then(|| view! {
            <section class="card" data-testid="series-rejected">
                <h2>"Not classified"</h2>
                <ul>
                    {rejected.into_iter().map(|file| view! {
                        <li><strong>{file.filename}</strong>" — "{file.detail}</li>
                    }).collect_view()}
                </ul>
            </section>
        })}
    }
}
