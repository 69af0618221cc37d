//! The Retrain page's model versions: every accuracy with the images it was measured on, every
//! version against the serving one (or "not comparable"), a side-by-side view of two versions, and
//! activation behind a dialog that shows what would change.

use leptos::html::Dialog;
use leptos::prelude::*;

use crate::api::retrain::compare_models;
use crate::charts;
use crate::class_label;
use crate::components::chart_canvas::ChartCanvas;
use crate::components::data_table::DataTable;
use crate::components::loaded::Loaded;
use crate::components::modal;
use crate::components::time::LocalTime;
use crate::error::AppError;
use crate::types::retrain::{ModelVersionInfo, ModelsResponse};
use domain::comparison::VersionComparison;

/// Activates a version: its name and, for one the gate rejected, the reason.
pub type ActivateAction = Action<(String, Option<String>), Result<ModelsResponse, AppError>>;

fn percent(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

fn points(value: f64) -> String {
    format!("{:+.1}", value * 100.0)
}

/// The "against the serving version" cell: the difference and its interval, or why there is none.
fn versus_serving(model: &ModelVersionInfo) -> (String, String) {
    match &model.versus_serving {
        None => ("serving".to_owned(), String::new()),
        Some(comparison) => match comparison.difference {
            Some(difference) => (
                format!(
                    "{} pts ({} to {})",
                    points(difference.difference),
                    points(difference.lower),
                    points(difference.upper)
                ),
                comparison.explanation.clone(),
            ),
            None => ("not comparable".to_owned(), comparison.explanation.clone()),
        },
    }
}

#[component]
pub fn ModelVersions(
    models: Vec<ModelVersionInfo>,
    activate: ActivateAction,
    /// Whether to offer activation (admins only).
    admin: bool,
) -> impl IntoView {
    let serving = models
        .iter()
        .find(|model| model.serving)
        .map(|model| model.version.clone());
    let compared = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(None::<ModelVersionInfo>);
    view! {
        <DataTable
            testid="models-table"
            headers=&["Version", "Status", "Accuracy", "Measured on", "Against the serving version", "Created", ""]
        >
            {models
                .into_iter()
                .map(|model| {
                    let (versus, versus_explanation) = versus_serving(&model);
                    let comparable = model
                        .versus_serving
                        .as_ref()
                        .is_some_and(|comparison| comparison.comparable);
                    let version = model.version.clone();
                    let for_dialog = model.clone();
                    view! {
                        <tr class:serving=model.serving data-version=model.version.clone()>
                            <td>{model.version.clone()}</td>
                            <td><span class=format!("badge {}", model.status)>{model.status.as_str()}</span></td>
                            <td>{percent(model.accuracy)}</td>
                            <td data-testid="measured-on">
                                {model.evaluated_on.map_or("not recorded".to_owned(), |set| set.describe())}
                            </td>
                            <td data-testid="versus-serving" class:muted=!comparable title=versus_explanation>
                                {versus}
                            </td>
                            <td><LocalTime utc=model.created_at.clone() /></td>
                            <td>
                                <div class="row-actions">
                                {(!model.serving).then(|| {
                                    let version = version.clone();
                                    view! {
                                        <button
                                            type="button"
                                            class="button small"
                                            data-testid="compare-version"
                                            on:click=move |_| compared.set(Some(version.clone()))
                                        >
                                            "Compare"
                                        </button>
                                    }
                                })}
                                {(!model.serving && admin).then(|| {
                                    let rejected = model.gate_rejected;
                                    view! {
                                        <button
                                            type="button"
                                            class="button small"
                                            on:click=move |_| confirming.set(Some(for_dialog.clone()))
                                        >
                                            {if rejected { "Force activate…" } else { "Activate…" }}
                                        </button>
                                    }
                                })}
                                </div>
                            </td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
        {move || {
            compared
                .get()
                .map(|version| {
                    view! {
                        <section class="comparison" data-testid="version-comparison" aria-live="polite">
                            <div class="comparison-head">
                                <h3>{format!("{version} against the serving version")}</h3>
                                <button type="button" class="button small" on:click=move |_| compared.set(None)>
                                    "Close"
                                </button>
                            </div>
                            <Comparison version />
                        </section>
                    }
                })
        }}
        <ActivationDialog confirming activate serving />
    }
}

/// `version` against the serving version, loaded when shown.
#[component]
fn Comparison(version: String) -> impl IntoView {
    let comparison = Resource::new(
        move || version.clone(),
        |version| compare_models(version, None),
    );
    view! {
        <Loaded
            resource=comparison
            loading="Comparing…"
            render=move |comparison| view! { <ComparisonView comparison /> }
        />
    }
}

#[component]
fn ComparisonView(comparison: VersionComparison) -> impl IntoView {
    let explanation = view! {
        <p class="interpretation" data-testid="comparison-explanation">{comparison.explanation.clone()}</p>
    };
    let (Some(first), Some(second)) = (comparison.first.clone(), comparison.second.clone()) else {
        return explanation.into_any();
    };
    let classes = comparison.classes.clone();
    let rows = classes
        .iter()
        .enumerate()
        .map(|(index, class)| {
            let a = first.recall.get(index).copied().flatten();
            let b = second.recall.get(index).copied().flatten();
            let recall = |value: Option<f64>| value.map_or("–".to_owned(), |v| format!("{v:.3}"));
            let change = a
                .zip(b)
                .map_or("no images".to_owned(), |(a, b)| points(a - b));
            view! {
                <tr>
                    <td>{class_label(class)}</td>
                    <td>{recall(a)}</td>
                    <td>{recall(b)}</td>
                    <td>{change}</td>
                </tr>
            }
        })
        .collect_view();
    let headers: &'static [&'static str] =
        &["Class", "Recall (this)", "Recall (serving)", "Change, pts"];
    let matrix = |scores: domain::comparison::ScoresOnSet| {
        let classes = classes.clone();
        let label = format!("Confusion matrix of {} on these images", scores.version);
        let title = format!("Confusion matrix of {}", scores.version);
        view! {
            <figure>
                <ChartCanvas
                    label
                    draw=move |canvas| {
                        charts::confusion_matrix(canvas, &title, &classes, &scores.confusion_matrix)
                    }
                />
                <figcaption>{format!("{} ({:.2}%)", scores.version, scores.accuracy * 100.0)}</figcaption>
            </figure>
        }
    };
    view! {
        {explanation}
        <DataTable testid="comparison-recall" headers>
            {rows}
        </DataTable>
        <div class="chart-pair compact">{matrix(first)} {matrix(second)}</div>
    }
    .into_any()
}

/// Asks before the serving model changes: what would change, on which images, and for a version
/// the gate rejected, its verdict and a reason for the audit trail.
#[component]
fn ActivationDialog(
    confirming: RwSignal<Option<ModelVersionInfo>>,
    activate: ActivateAction,
    serving: Option<String>,
) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    let reason = RwSignal::new(String::new());
    // Each confirmation starts without the last one's reason.
    Effect::new(move |_| {
        if confirming.with(Option::is_some) {
            reason.set(String::new());
        }
    });
    modal::follow_signal(dialog, move || confirming.with(Option::is_some));
    let serving = serving.unwrap_or_else(|| "no version".into());
    view! {
        <dialog
            node_ref=dialog
            class="dialog"
            data-testid="activation-dialog"
            aria-labelledby="activation-title"
            on:close=move |_| confirming.set(None)
        >
            {move || {
                confirming
                    .get()
                    .map(|model| {
                        let version = model.version.clone();
                        let verdict = model.gate_verdict.clone();
                        let forced = model.gate_rejected;
                        let serving = serving.clone();
                        view! {
                            <h2 id="activation-title">{format!("Serve {version} instead of {serving}?")}</h2>
                            <p>
                                "Every prediction from now on is answered by the new version, on every replica, \
                                 without a restart. You can switch back here at any time."
                            </p>
                            <Comparison version=version.clone() />
                            {verdict.map(|verdict| view! {
                                <p class="warning" data-testid="gate-verdict">
                                    <strong>"The activation gate kept it as a candidate: "</strong>
                                    {verdict}
                                </p>
                            })}
                            {forced.then(|| view! {
                                <label class="field">
                                    <span>"Why serve it anyway? (kept in the audit trail)"</span>
                                    <textarea
                                        data-testid="activation-reason"
                                        rows="3"
                                        required=true
                                        prop:value=move || reason.get()
                                        on:input=move |event| reason.set(event_target_value(&event))
                                    ></textarea>
                                </label>
                            })}
                            <div class="actions">
                                <button
                                    type="button"
                                    class="button"
                                    data-testid="activation-cancel"
                                    on:click=move |_| confirming.set(None)
                                >
                                    "Cancel"
                                </button>
                                <button
                                    type="button"
                                    class="button primary"
                                    data-testid="activation-confirm"
                                    disabled=move || forced && reason.get().trim().is_empty()
                                    on:click=move |_| {
                                        let reason = forced.then(|| reason.get_untracked().trim().to_owned());
                                        activate.dispatch((version.clone(), reason));
                                        confirming.set(None);
                                    }
                                >
                                    {if forced { "Force activate" } else { "Activate" }}
                                </button>
                            </div>
                        }
                    })
            }}
        </dialog>
    }
}
