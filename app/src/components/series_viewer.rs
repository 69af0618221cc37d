//! One classified DICOM series in a viewer: its verdict, a strip of every slice's class
//! probabilities to click through, the current slice with its answer (mouse wheel, arrow keys, Page
//! Up/Down, Home/End, a slider), and where the model looked on it on demand. The Series page shows
//! uploaded series in it, the Studies page series fetched from the PACS.

use leptos::prelude::*;
use leptos::web_sys;
use wasm_bindgen::JsCast;

use crate::class_label;
use crate::components::chart_canvas::ChartCanvas;
use crate::components::heatmap::{explain_file, HeatmapOverlay};
use crate::components::probability_bars::ProbabilityBars;
use crate::components::windowed_slice::WindowedSlice;
use crate::error::AppError;
use crate::types::predict::ExplanationResponse;
use crate::types::series::{SeriesResult, SeriesSlice};

/// Where a slice's heatmap comes from.
#[derive(Clone, Copy)]
pub enum HeatmapSource {
    /// The files the browser sent: the slice's file goes to `/predict/explain`.
    Files(StoredValue<Vec<web_sys::File>, LocalStorage>),
    /// A PACS series: the server fetches the slice's instance again (`/pacs/explain`).
    Pacs(StoredValue<(String, String)>),
}

impl HeatmapSource {
    async fn explain(self, slice: SeriesSlice) -> Result<ExplanationResponse, AppError> {
        match self {
            HeatmapSource::Files(files) => {
                // A zip's entries are not files in the browser: only loose files can be explained.
                let file = files
                    .with_value(|f| f.iter().find(|file| file.name() == slice.filename).cloned())
                    .ok_or_else(|| {
                        AppError::BadRequest(
                            "this slice came in a zip: send the files themselves to see its heatmap"
                                .into(),
                        )
                    })?;
                explain_file(file).await
            }
            HeatmapSource::Pacs(series) => {
                let (study_uid, series_uid) = series.get_value();
                let instance_uid = slice.sop_instance_uid.ok_or_else(|| {
                    AppError::BadRequest("this slice has no SOP Instance UID to fetch it by".into())
                })?;
                crate::api::pacs::pacs_explain(study_uid, series_uid, instance_uid).await
            }
        }
    }
}

/// One series: its verdict, the current slice with its answer, and the ways to move through it.
#[component]
pub fn SeriesViewer(series: SeriesResult, heatmaps: HeatmapSource) -> impl IntoView {
    let slices = StoredValue::new(series.slices.clone());
    let total = series.slices.len();
    // Opens on the slice the verdict rests on most, else the middle one.
    let start = series
        .verdict
        .as_ref()
        .and_then(|v| v.driving_slices.get(v.driving_slices.len() / 2))
        .map_or(total / 2, |&position| position.saturating_sub(1));
    let current = RwSignal::new(start.min(total.saturating_sub(1)));
    let step = move |by: i64| {
        current.update(|index| {
            *index = (*index as i64 + by).clamp(0, total.saturating_sub(1) as i64) as usize;
        })
    };
    let explain = Action::new_local(move |slice: &SeriesSlice| heatmaps.explain(slice.clone()));
    // The window a radiologist set on a 16-bit slice, kept while scrolling (`None`: each file's).
    let window = RwSignal::new(None::<crate::components::windowed_slice::Window>);
    // A PACS slice's name is only its place in the fetch: its instance number says more.
    let show_filename = matches!(heatmaps, HeatmapSource::Files(_));
    let shown_heatmap = RwSignal::new(None::<usize>);
    let driving = series
        .verdict
        .as_ref()
        .map(|v| v.driving_slices.clone())
        .unwrap_or_default();
    let strip = StoredValue::new((series.slices.clone(), driving));
    let title = series
        .series_description
        .clone()
        .unwrap_or_else(|| "Series".to_owned());
    let verdict = series.verdict.clone();
    view! {
        <section class="card series" data-testid="series">
            <h2>{format!("{title} · {total} slices")}</h2>
            {match verdict {
                Some(verdict) => view! {
                    <div class="series-verdict" data-testid="series-verdict" data-class=verdict.class_name.clone()>
                        <p class="verdict">
                            <span class="class-name">{class_label(&verdict.class_name)}</span>
                            <span class="confidence">{format!("{:.1}%", verdict.confidence * 100.0)}</span>
                            {verdict.needs_review.then(|| view! { <span class="badge held">"needs review"</span> })}
                        </p>
                        <p class="muted">{verdict.reason.clone()}</p>
                    </div>
                }.into_any(),
                None => view! { <p class="warning">"No slice of this series could be answered."</p> }.into_any(),
            }}
            <div
                class="chart series-strip"
                data-testid="series-strip"
                on:click=move |event: web_sys::MouseEvent| {
                    let width = event
                        .target()
                        .and_then(|t| t.dyn_into::<web_sys::HtmlCanvasElement>().ok())
                        .map(|canvas| canvas.width());
                    if let Some(index) = width.and_then(|w| crate::charts::strip_slice_at(w, f64::from(event.offset_x()), total)) {
                        current.set(index);
                    }
                }
            >
                <ChartCanvas
                    label="Each slice's probability per class, left to right; click a slice to show it"
                    draw=move |canvas| {
                        let at = current.get();
                        strip.with_value(|(slices, driving)| crate::charts::series_strip(canvas, slices, driving, at))
                    }
                />
            </div>
            <p class="drift-key colour-key small" data-testid="series-key">
                {crate::CLASS_NAMES.iter().zip(crate::charts::CLASS_COLOURS).map(|(class, colour)| {
                    let style = format!("background: rgb({}, {}, {})", colour.0, colour.1, colour.2);
                    view! {
                        <span class="key-item">
                            <span class="swatch" style=style aria-hidden="true"></span>
                            {format!(" {} ", class_label(class))}
                        </span>
                    }
                }).collect_view()}
                <span class="key-item">
                    <span class="swatch swatch-band" aria-hidden="true"></span>" the slices the verdict rests on"
                </span>
            </p>
            <div class="series-controls">
                <label class="series-slider">
                    {move || format!("Slice {} of {total}", current.get() + 1)}
                    <input
                        type="range"
                        min="1"
                        max=total.to_string()
                        data-testid="series-slider"
                        prop:value=move || (current.get() + 1).to_string()
                        on:input=move |event| {
                            if let Ok(value) = event_target_value(&event).parse::<usize>() {
                                current.set(value.saturating_sub(1));
                            }
                        }
                    />
                </label>
                <button
                    type="button"
                    class="button small"
                    data-testid="series-heatmap"
                    disabled=move || explain.pending().get()
                    on:click=move |_| {
                        let index = current.get_untracked();
                        if let Some(slice) = slices.with_value(|s| s.get(index).cloned()) {
                            shown_heatmap.set(Some(index));
                            explain.dispatch_local(slice);
                        }
                    }
                >
                    {move || if explain.pending().get() { "Computing…" } else { "Show where the model looked on this slice" }}
                </button>
            </div>
            <div
                class="series-view"
                tabindex="0"
                role="group"
                aria-label="Slice viewer: arrow keys, Page Up/Down, Home and End move through the slices"
                data-testid="series-view"
                on:wheel=move |event: web_sys::WheelEvent| {
                    event.prevent_default();
                    step(if event.delta_y() > 0.0 { 1 } else { -1 });
                }
                on:keydown=move |event: web_sys::KeyboardEvent| {
                    let moved = match event.key().as_str() {
                        "ArrowDown" | "ArrowRight" => { step(1); true }
                        "ArrowUp" | "ArrowLeft" => { step(-1); true }
                        "PageDown" => { step(10); true }
                        "PageUp" => { step(-10); true }
                        "Home" => { current.set(0); true }
                        "End" => { current.set(total.saturating_sub(1)); true }
                        _ => false,
                    };
                    if moved {
                        event.prevent_default();
                    }
                }
            >
                {move || {
                    let index = current.get();
                    let slice = slices.with_value(|s| s.get(index).cloned());
                    slice.map(|slice| {
                        let heat = (shown_heatmap.get() == Some(index))
                            .then(|| explain.value().get())
                            .flatten();
                        view! { <SliceView slice heat show_filename window /> }
                    })
                }}
            </div>
        </section>
    }
}

#[component]
fn SliceView(
    slice: SeriesSlice,
    heat: Option<Result<crate::types::predict::ExplanationResponse, AppError>>,
    show_filename: bool,
    window: RwSignal<Option<crate::components::windowed_slice::Window>>,
) -> impl IntoView {
    let label = format!("Slice {} ({})", slice.position, slice.filename);
    let picture = match (&heat, &slice.image_png, &slice.values) {
        (Some(Ok(explained)), _, _) => {
            view! { <HeatmapOverlay explanation=explained.clone() /> }.into_any()
        }
        (_, _, Some(values)) => {
            let file = &slice.dicom.summary;
            let file_window = (f64::from(file.window.center), f64::from(file.window.width));
            let inverted = file.photometric_interpretation == "MONOCHROME1";
            view! {
                <WindowedSlice values=values.clone() window file_window inverted label=label.clone() />
            }
            .into_any()
        }
        (_, Some(png), _) => view! {
            <img
                class="series-slice"
                src=format!("data:image/png;base64,{png}")
                alt=label.clone()
                data-testid="series-slice"
            />
        }
        .into_any(),
        _ => view! { <p class="muted">"No picture of this slice."</p> }.into_any(),
    };
    let caption = format!(
        "Slice {}{}{}",
        slice.position,
        if show_filename {
            format!(" · {}", slice.filename)
        } else {
            String::new()
        },
        slice
            .instance_number
            .map(|n| format!(" · instance {n}"))
            .unwrap_or_default()
    );
    view! {
        <div class="series-slice-view" data-testid="series-current" data-position=slice.position>
            {picture}
            <div class="stack">
                <p class="muted small">{caption}</p>
                {match slice.prediction {
                    Some(prediction) => view! {
                        <p class="verdict">
                            <span class="class-name">{class_label(&prediction.predicted_class)}</span>
                            <span class="confidence">{format!("{:.1}%", prediction.confidence * 100.0)}</span>
                        </p>
                        <ProbabilityBars probabilities=prediction.probabilities.clone() />
                    }.into_any(),
                    None => view! { <p class="warning">{slice.detail.unwrap_or_else(|| "Not answered.".into())}</p> }.into_any(),
                }}
                {match heat {
                    Some(Err(error)) => Some(view! { <p class="error small" role="alert">{error.to_string()}</p> }),
                    _ => None,
                }}
            </div>
        </div>
    }
}
