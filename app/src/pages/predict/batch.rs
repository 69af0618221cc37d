//! A batch's answers for triage: one table row per file (or DICOM frame) with its thumbnail, the
//! answer, confidence, the review flag and any refusal; sorting and filtering; a CSV download (the
//! same text `POST /predict/batch?format=csv` answers); and a detail panel with the heatmap.

use leptos::html::Dialog;
use leptos::prelude::*;
use leptos::web_sys;
use wasm_bindgen::JsCast;

use crate::class_label;
use crate::components::feedback::FeedbackButtons;
use crate::components::heatmap::{explain_file, HeatmapOverlay};
use crate::components::modal;
use crate::components::probability_bars::ProbabilityBars;
use crate::types::predict::{BatchItem, ExplanationResponse};
use domain::CLASS_NAMES;

/// How one row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowState {
    Answered,
    /// The not-an-MRI check refused it.
    Refused,
    /// The file could not be read.
    Failed,
}

/// One row of the table, with what sorting and filtering need.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    /// Position in the request: the "as uploaded" order.
    position: usize,
    /// Index of the file among those picked (a multi-frame DICOM file gives several rows).
    file: Option<usize>,
    filename: String,
    frame: Option<u32>,
    state: RowState,
    class_name: Option<String>,
    confidence: Option<f64>,
    needs_review: bool,
    /// Why it was refused or failed.
    note: String,
    item: BatchItem,
}

fn rows(items: &[BatchItem], file_names: &[String]) -> Vec<Row> {
    items
        .iter()
        .enumerate()
        .map(|(position, item)| {
            let (filename, state, class_name, confidence, needs_review, note, frame) = match item {
                BatchItem::Predicted {
                    filename,
                    prediction,
                } => (
                    filename.clone(),
                    RowState::Answered,
                    Some(prediction.predicted_class.clone()),
                    Some(prediction.confidence),
                    prediction.needs_review,
                    String::new(),
                    prediction.dicom.as_ref().map(|d| d.frame),
                ),
                BatchItem::Failed {
                    filename,
                    error,
                    detail,
                    ..
                } => {
                    let refused = error == "not_brain_mri";
                    (
                        filename.clone(),
                        if refused {
                            RowState::Refused
                        } else {
                            RowState::Failed
                        },
                        None,
                        None,
                        false,
                        detail.clone().unwrap_or_else(|| error.clone()),
                        None,
                    )
                }
            };
            Row {
                position,
                file: file_names.iter().position(|name| *name == filename),
                filename,
                frame,
                state,
                class_name,
                confidence,
                needs_review,
                note,
                item: item.clone(),
            }
        })
        .collect()
}

/// Which rows to show.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    All,
    NeedsReview,
    NotAnswered,
    Class(String),
}

impl Filter {
    fn parse(value: &str) -> Self {
        match value {
            "review" => Filter::NeedsReview,
            "unanswered" => Filter::NotAnswered,
            class if CLASS_NAMES.contains(&class) => Filter::Class(class.to_owned()),
            _ => Filter::All,
        }
    }

    fn keeps(&self, row: &Row) -> bool {
        match self {
            Filter::All => true,
            Filter::NeedsReview => row.needs_review,
            Filter::NotAnswered => row.state != RowState::Answered,
            Filter::Class(class) => row.class_name.as_deref() == Some(class),
        }
    }
}

/// The order rows are shown in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    Uploaded,
    LeastConfident,
    MostConfident,
    ByClass,
}

impl Order {
    fn parse(value: &str) -> Self {
        match value {
            "least" => Order::LeastConfident,
            "most" => Order::MostConfident,
            "class" => Order::ByClass,
            _ => Order::Uploaded,
        }
    }

    /// Unanswered rows carry no confidence: they come first when the least sure are wanted (they
    /// need a person most), last otherwise.
    fn sort(self, rows: &mut [Row]) {
        match self {
            Order::Uploaded => rows.sort_by_key(|row| row.position),
            Order::LeastConfident => rows.sort_by(|a, b| {
                a.confidence
                    .unwrap_or(-1.0)
                    .total_cmp(&b.confidence.unwrap_or(-1.0))
            }),
            Order::MostConfident => rows.sort_by(|a, b| {
                b.confidence
                    .unwrap_or(-1.0)
                    .total_cmp(&a.confidence.unwrap_or(-1.0))
            }),
            Order::ByClass => rows.sort_by(|a, b| {
                (a.class_name.is_none(), &a.class_name, a.position).cmp(&(
                    b.class_name.is_none(),
                    &b.class_name,
                    b.position,
                ))
            }),
        }
    }
}

/// "5 images: 3 answered (1 needs review), 1 refused as not an MRI, 1 unreadable."
fn summary(rows: &[Row]) -> String {
    let count = |state| rows.iter().filter(|row| row.state == state).count();
    let review = rows.iter().filter(|row| row.needs_review).count();
    let mut parts = vec![format!(
        "{} answered ({review} need{} review)",
        count(RowState::Answered),
        if review == 1 { "s" } else { "" }
    )];
    if count(RowState::Refused) > 0 {
        parts.push(format!(
            "{} refused as not a brain MRI",
            count(RowState::Refused)
        ));
    }
    if count(RowState::Failed) > 0 {
        parts.push(format!("{} unreadable", count(RowState::Failed)));
    }
    let by_class: Vec<String> = CLASS_NAMES
        .iter()
        .map(|class| {
            let n = rows
                .iter()
                .filter(|row| row.class_name.as_deref() == Some(*class))
                .count();
            format!("{} {n}", class_label(class))
        })
        .collect();
    format!(
        "{} images: {}. Answers: {}.",
        rows.len(),
        parts.join(", "),
        by_class.join(" · ")
    )
}

/// Offers `text` to the browser as a file download.
fn download(text: &str, filename: &str) -> Option<()> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/csv;charset=utf-8");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).ok()?;
    let document = web_sys::window()?.document()?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a").ok()?.dyn_into().ok()?;
    link.set_href(&url);
    link.set_download(filename);
    link.click();
    web_sys::Url::revoke_object_url(&url).ok()
}

#[component]
pub fn BatchTriage(items: Vec<BatchItem>, files: Vec<web_sys::File>) -> impl IntoView {
    let file_names: Vec<String> = files.iter().map(web_sys::File::name).collect();
    // Object URLs of the picked files, for the thumbnails; DICOM files (which a browser cannot
    // draw) get none. Released when the results go.
    let thumbnails: Vec<String> = files
        .iter()
        .map(|file| {
            let name = file.name().to_ascii_lowercase();
            if name.ends_with(".dcm") || name.ends_with(".dicom") {
                String::new()
            } else {
                web_sys::Url::create_object_url_with_blob(file).unwrap_or_default()
            }
        })
        .collect();
    let released = thumbnails.clone();
    on_cleanup(move || {
        for url in released.iter().filter(|url| !url.is_empty()) {
            let _ = web_sys::Url::revoke_object_url(url);
        }
    });
    let all_rows = rows(&items, &file_names);
    let summary_text = summary(&all_rows);
    let csv = crate::export::batch_csv(&items);
    let files = StoredValue::new_local(files);
    let thumbnails = StoredValue::new(thumbnails);
    let all_rows = StoredValue::new(all_rows);
    let filter = RwSignal::new(Filter::All);
    let order = RwSignal::new(Order::Uploaded);
    let detail = RwSignal::new(None::<Row>);
    let shown = move || {
        let mut rows: Vec<Row> = all_rows.with_value(|rows| {
            rows.iter()
                .filter(|row| filter.with(|f| f.keeps(row)))
                .cloned()
                .collect()
        });
        order.get().sort(&mut rows);
        rows
    };

    let controls = view! {
            <div class="triage-controls">
                <label class="field">
                    <span>"Show"</span>
                    <select
                        data-testid="batch-filter"
                        on:change=move |event| filter.set(Filter::parse(&event_target_value(&event)))
                    >
                        <option value="all">"All images"</option>
                        <option value="review">"Needs review"</option>
                        <option value="unanswered">"Refused or unreadable"</option>
                        {CLASS_NAMES
                            .iter()
                            .map(|class| view! { <option value=*class>{format!("Answered {}", class_label(class))}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label class="field">
                    <span>"Order"</span>
                    <select
                        data-testid="batch-order"
                        on:change=move |event| order.set(Order::parse(&event_target_value(&event)))
                    >
                        <option value="uploaded">"As picked"</option>
                        <option value="least">"Least confident first"</option>
                        <option value="most">"Most confident first"</option>
                        <option value="class">"By answer"</option>
                    </select>
                </label>
                <button
                    type="button"
                    class="button"
                    data-testid="batch-csv"
                    on:click=move |_| {
                        let _ = download(&csv, "predictions.csv");
                    }
                >
                    "Download CSV"
                </button>
            </div>
    }
    .into_any();
    let table = view! {
            <div class="table-scroll" tabindex="0" role="region" aria-label="batch results table">
                <table data-testid="batch-table">
                    <thead>
                        <tr>
                            <th><span class="visually-hidden">"Thumbnail"</span></th>
                            <th>"File"</th>
                            <th>"Answer"</th>
                            <th>"Confidence"</th>
                            <th>"Review"</th>
                            <th>"Refusal"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=shown key=|row| row.position let:row>
                            <BatchRow row=row.clone() thumbnail=thumbnails.with_value(|t| row.file.and_then(|i| t.get(i).cloned()).unwrap_or_default()) detail />
                        </For>
                    </tbody>
                </table>
            </div>
    }
    .into_any();
    view! {
        <section class="card" data-testid="batch-results">
            <h2>"Batch results"</h2>
            <p data-testid="batch-summary" role="status">{summary_text}</p>
            {controls}
            {table}
            <p class="muted small" data-testid="batch-shown">
                {move || format!("{} of {} shown", shown().len(), all_rows.with_value(Vec::len))}
            </p>
        </section>
        <DetailPanel detail files />
    }
}

#[component]
fn BatchRow(row: Row, thumbnail: String, detail: RwSignal<Option<Row>>) -> impl IntoView {
    let state = match row.state {
        RowState::Answered => "answered",
        RowState::Refused => "refused",
        RowState::Failed => "unreadable",
    };
    let name = match row.frame {
        Some(frame) => format!("{} (frame {frame})", row.filename),
        None => row.filename.clone(),
    };
    let for_detail = row.clone();
    let details_label = format!("{name}: details and heatmap");
    view! {
        <tr data-state=state data-testid="batch-row">
            <td>
                {if thumbnail.is_empty() {
                    view! { <span class="thumb placeholder" aria-hidden="true">"DICOM"</span> }.into_any()
                } else {
                    view! { <img class="thumb" src=thumbnail alt="" loading="lazy" /> }.into_any()
                }}
            </td>
            <td>
                <button
                    type="button"
                    class="link-button filename"
                    data-testid="row-details"
                    aria-label=details_label
                    on:click=move |_| detail.set(Some(for_detail.clone()))
                >
                    {name}
                </button>
            </td>
            <td data-testid="row-class">{row.class_name.as_deref().map_or("—".to_owned(), |c| class_label(c).to_string())}</td>
            <td data-testid="row-confidence">{row.confidence.map_or("—".to_owned(), |c| format!("{:.1}%", c * 100.0))}</td>
            <td>{row.needs_review.then(|| view! { <span class="badge candidate">"needs review"</span> })}</td>
            <td class="message">
                {match row.state {
                    RowState::Answered => String::new(),
                    RowState::Refused => format!("Not a brain MRI: {}", row.note),
                    RowState::Failed => format!("Unreadable: {}", row.note),
                }}
            </td>
        </tr>
    }
}

/// One row in full: the probabilities and, for an answered image, where the model looked.
#[component]
fn DetailPanel(
    detail: RwSignal<Option<Row>>,
    files: StoredValue<Vec<web_sys::File>, LocalStorage>,
) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    let explain = Action::new_local(|file: &web_sys::File| explain_file(file.clone()));
    Effect::new(move |_| {
        // DICOM frames beyond the first are not re-read for a heatmap: the explanation reads the
        // file's middle frame, which may not be this row's.
        let Some(row) = detail.get() else { return };
        if row.state == RowState::Answered && row.frame.is_none_or(|f| f <= 1) {
            if let Some(file) = row
                .file
                .and_then(|i| files.with_value(|f| f.get(i).cloned()))
            {
                explain.dispatch_local(file);
            }
        }
    });
    modal::follow_signal(dialog, move || detail.with(Option::is_some));
    view! {
        <dialog
            node_ref=dialog
            class="dialog drawer"
            data-testid="batch-detail"
            aria-labelledby="batch-detail-title"
            on:close=move |_| detail.set(None)
        >
            {move || {
                detail
                    .get()
                    .map(|row| {
                        let probabilities = match &row.item {
                            BatchItem::Predicted { prediction, .. } => Some(prediction.probabilities.clone()),
                            BatchItem::Failed { .. } => None,
                        };
                        // An answer can be confirmed or corrected from here too, as on a single prediction.
                        let feedback = match &row.item {
                            BatchItem::Predicted { prediction, .. } => prediction
                                .prediction_id
                                .map(|id| (id, prediction.predicted_class.clone())),
                            BatchItem::Failed { .. } => None,
                        };
                        view! {
                            <div class="comparison-head">
                                <h2 id="batch-detail-title" class="filename">{row.filename.clone()}</h2>
                                <button type="button" class="button small" on:click=move |_| detail.set(None)>
                                    "Close"
                                </button>
                            </div>
                            {row.class_name.as_deref().map(|class| view! {
                                <p class="verdict">
                                    <span class="class-name">{class_label(class)}</span>
                                    <span class="confidence">{format!("{:.1}% confidence", row.confidence.unwrap_or_default() * 100.0)}</span>
                                </p>
                            })}
                            {(!row.note.is_empty()).then(|| view! { <p class="warning">{row.note.clone()}</p> })}
                            {probabilities.map(|probabilities| view! { <ProbabilityBars probabilities /> })}
                            {feedback.map(|(id, class)| view! { <FeedbackButtons prediction_id=id predicted_class=class /> })}
                            {(row.state == RowState::Answered).then(|| view! {
                                <section data-testid="batch-detail-heatmap">
                                    <h3>"Where the model looked"</h3>
                                    {move || match explain.value().get() {
                                        None => view! { <p class="muted">"Computing the heatmap…"</p> }.into_any(),
                                        Some(Ok(explained)) => view! { <Explained explained /> }.into_any(),
                                        Some(Err(error)) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                                    }}
                                </section>
                            })}
                        }
                    })
            }}
        </dialog>
    }
}

#[component]
fn Explained(explained: ExplanationResponse) -> impl IntoView {
    view! { <HeatmapOverlay explanation=explained /> }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::predict::PredictionResponse;

    fn answered(filename: &str, class: &str, confidence: f64, needs_review: bool) -> BatchItem {
        BatchItem::Predicted {
            filename: filename.into(),
            prediction: PredictionResponse {
                predicted_class: class.into(),
                confidence,
                probabilities: Default::default(),
                prediction_time_seconds: 0.0,
                timestamp: String::new(),
                model_version: "v1".into(),
                needs_review,
                runner_up: None,
                ood_score: None,
                dicom: None,
                refusal_overridden: false,
                prediction_id: None,
                slice_kept_until: None,
            },
        }
    }

    fn refused(filename: &str) -> BatchItem {
        BatchItem::Failed {
            filename: filename.into(),
            error: "not_brain_mri".into(),
            detail: Some("far from every training slice".into()),
            score: Some(3.0),
            threshold: Some(1.0),
        }
    }

    fn names(rows: &[Row]) -> Vec<&str> {
        rows.iter().map(|row| row.filename.as_str()).collect()
    }

    #[test]
    fn rows_sort_and_filter_for_triage() {
        let items = [
            answered("a", "glioma", 0.99, false),
            refused("b"),
            answered("c", "pituitary", 0.55, true),
            answered("d", "glioma", 0.80, false),
        ];
        let mut rows = rows(&items, &["a".into(), "b".into(), "c".into(), "d".into()]);
        assert_eq!(rows[2].file, Some(2));
        Order::LeastConfident.sort(&mut rows);
        assert_eq!(
            names(&rows),
            ["b", "c", "d", "a"],
            "unanswered first, then least sure"
        );
        Order::MostConfident.sort(&mut rows);
        assert_eq!(names(&rows), ["a", "d", "c", "b"]);
        Order::ByClass.sort(&mut rows);
        assert_eq!(names(&rows), ["a", "d", "c", "b"]);
        Order::Uploaded.sort(&mut rows);
        assert_eq!(names(&rows), ["a", "b", "c", "d"]);
        let kept = |filter: Filter| {
            rows.iter()
                .filter(|row| filter.keeps(row))
                .map(|row| row.filename.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(kept(Filter::parse("review")), ["c"]);
        assert_eq!(kept(Filter::parse("unanswered")), ["b"]);
        assert_eq!(kept(Filter::parse("glioma")), ["a", "d"]);
        assert_eq!(kept(Filter::parse("all")).len(), 4);
        assert_eq!(
            summary(&rows),
            "4 images: 3 answered (1 needs review), 1 refused as not a brain MRI. Answers: \
             Glioma 2 · Meningioma 0 · No tumour 0 · Pituitary 1."
        );
    }
}
