use crate::charts::{self, CurveMetric};
use crate::components::chart_canvas::{drawing, ChartCanvas, ChartCard};
use leptos::prelude::*;

use crate::api::feedback::get_live_accuracy;
use crate::api::model::get_model_report;
use crate::class_label;
use crate::components::data_table::DataTable;
use crate::components::loaded::Loaded;
use crate::components::page_header::PageHeader;
use crate::components::stat_card::{StatCard, Tone};
use crate::types::model::{ModelReport, TrainingCurve};

#[component]
pub fn ModelPage() -> impl IntoView {
    let report = Resource::new(|| (), |_| get_model_report());
    view! {
        <PageHeader title="Model" subtitle="How the serving model scores and how its training went." />
        <Loaded resource=report loading="Loading the model report…" render=move |report| view! { <ModelView report /> } />
    }
}

fn percent(value: f64) -> String {
    format!("{:.2}%", value * 100.0)
}

/// "Best validation accuracy 96.3% at epoch 15 of 20; final train accuracy 97.1%."
fn describe_curve(curve: &TrainingCurve) -> String {
    let best = curve
        .epochs
        .iter()
        .filter_map(|e| e.validation_accuracy.map(|a| (e.epoch, a)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let last = curve.epochs.last();
    match (best, last) {
        (Some((epoch, accuracy)), Some(last)) => format!(
            "Best validation accuracy {} at epoch {epoch} of {}; the last epoch trained at {} \
             accuracy. A validation curve that follows the training curve means the model \
             generalises rather than memorises.",
            percent(accuracy),
            last.epoch,
            percent(last.train_accuracy),
        ),
        (None, Some(last)) => format!(
            "{} epochs, ending at {} training accuracy; this run validated on nothing.",
            last.epoch,
            percent(last.train_accuracy)
        ),
        _ => "This run recorded no epochs.".into(),
    }
}

/// The serving version's accuracy on the answers reviewers judged, beside the validation figure.
#[component]
fn ReviewedInUse(version: String) -> impl IntoView {
    let live = Resource::new(|| (), |_| get_live_accuracy());
    view! {
        <Suspense fallback=|| view! { <StatCard title="Right in use" value="…".to_owned()>"loading"</StatCard> }>
            {move || {
                let version = version.clone();
                live.get().map(move |live| {
                    let reviewed = live
                        .ok()
                        .and_then(|live| live.versions.into_iter().find(|v| v.model_version == version));
                    match reviewed {
                        Some(v) if v.reviewed > 0 => view! {
                            <StatCard title="Right in use" value={v.accuracy.map(percent).unwrap_or_default()} testid="model-in-use-card">
                                {format!(
                                    "of {} reviewed answers (95%: {}–{})",
                                    v.reviewed,
                                    v.low.map(percent).unwrap_or_default(),
                                    v.high.map(percent).unwrap_or_default()
                                )}
                            </StatCard>
                        }
                        .into_any(),
                        _ => view! {
                            <StatCard title="Right in use" value="–".to_owned() testid="model-in-use-card">
                                "no answer of this version reviewed yet (Review page)"
                            </StatCard>
                        }
                        .into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn ModelView(report: ModelReport) -> impl IntoView {
    let selected_curve = RwSignal::new(0usize);
    let trust = report.trust.clone();

    let confusion_text = match report.most_common_confusion() {
        Some((truth, predicted, count)) => {
            let support = report
                .per_class
                .iter()
                .find(|s| s.class_name == truth)
                .map_or(0, |s| s.support);
            format!(
                "Rows are the true class, columns the model's answer; the diagonal is right. The most \
                 common mistake: {} read as {} ({count} of {support} images).",
                class_label(truth),
                class_label(predicted),
            )
        }
        None => "Every validation image lies on the diagonal: no mistakes.".into(),
    };
    let weakest = report
        .per_class
        .iter()
        .min_by(|a, b| a.recall.total_cmp(&b.recall))
        .map(|s| {
            format!(
                "{} (recall {})",
                class_label(&s.class_name),
                percent(s.recall)
            )
        })
        .unwrap_or_default();
    let curve_labels: Vec<(usize, String)> = report
        .curves
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.label.clone()))
        .collect();
    let has_curves = !curve_labels.is_empty();

    let stored = StoredValue::new(report.clone());
    let draw_curve = move |canvas: &web_sys::HtmlCanvasElement, metric| {
        let curve_index = selected_curve.get();
        stored.with_value(|report| {
            charts::training_curve(canvas, report.curves.get(curve_index)?, metric)
        })
    };
    let curve_text = move || {
        stored.with_value(|report| {
            report
                .curves
                .get(selected_curve.get())
                .map(describe_curve)
                .unwrap_or_default()
        })
    };

    view! {
        <section class="cards" data-testid="model-cards">
            <StatCard
                title="Serving version"
                value={report.version.clone()}
                tone=Tone::Ok
                value_testid="model-version"
                small=true
            >
                "activated " {report.activated_at.clone().unwrap_or_else(|| "–".into())}

            </StatCard>
            <StatCard title="Validation accuracy" value={percent(report.accuracy)} value_testid="model-accuracy" testid="model-accuracy-card">
                {report
                    .evaluated_on
                    .map_or_else(
                        || format!("on {} held-out images", report.validation_images),
                        |set| format!("on {}", set.describe()),
                    )}
            </StatCard>
            <ReviewedInUse version=report.version.clone() />
            <StatCard title="Macro F1" value={format!("{:.3}", report.macro_f1)}>
                "unweighted mean over the classes"
            </StatCard>
            <StatCard title="Size" value={format!("{:.0}k", report.parameters as f64 / 1000.0)}>
                {format!(
                    "parameters · {} · {1}×{1} px input",
                    report.architecture,
                    report.input_size
                )}

            </StatCard>
        </section>
        <ChartCard
            testid="chart-confusion"
            title="Where it goes wrong"
            label="Confusion matrix heatmap"
            draw=drawing(stored, |canvas, report| {
                charts::confusion_matrix(
                    canvas,
                    "Confusion matrix (validation images)",
                    &report.classes,
                    &report.confusion_matrix,
                )
            })
        >
            <p class="interpretation">{confusion_text}</p>
        </ChartCard>
        <ChartCard
            testid="chart-class-scores"
            title="Per-class precision, recall and F1"
            label="Bar chart of precision, recall and F1 per class"
            draw=drawing(stored, |canvas, report| charts::class_scores(canvas, &report.per_class))
        >
            <DataTable testid="class-scores" headers=&["Class", "Precision", "Recall", "F1", "Images"]>
                {report
                    .per_class
                    .iter()
                    .map(|s| {
                        view! {
                            <tr>
                                <td>{class_label(&s.class_name)}</td>
                                <td>{format!("{:.3}", s.precision)}</td>
                                <td>{format!("{:.3}", s.recall)}</td>
                                <td>{format!("{:.3}", s.f1)}</td>
                                <td>{s.support}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </DataTable>
            <p class="interpretation">
                {format!(
                    "Precision: of the images the model called this class, the share that were. Recall: of \
                     the images of this class, the share it found. The weakest class is {weakest}: a \
                     radiologist should look twice when the model is unsure between it and another class."
                )}
            </p>
        </ChartCard>
        {trust
            .map(|trust| {
                view! {
                    <ChartCard
                        testid="chart-reliability"
                        title="How far to trust an answer"
                        label="Reliability diagram: accuracy against confidence, raw and calibrated"
                        draw=drawing(stored, |canvas, report| {
                            charts::reliability(canvas, report.trust.as_ref()?)
                        })
                    >
                        <p class="interpretation" data-testid="trust-summary">
                            {format!(
                                "Expected calibration error {:.3} before temperature calibration, {:.3} \
                                 after (the mean gap between confidence and accuracy). Answers below {} confidence are marked \"needs review\" ({} of \
                                 validation answers); the others were {} right. Images farther than \
                                 {:.2} from the training slices' features are refused as not a brain \
                                 MRI ({} of validation slices pass{}).",
                                trust.ece_uncalibrated,
                                trust.ece_calibrated,
                                percent(trust.review_threshold),
                                percent(trust.flagged_share),
                                percent(trust.unflagged_accuracy),
                                trust.ood_threshold,
                                percent(trust.mri_pass_rate),
                                trust
                                    .altered_pass_rate
                                    .map(|rate| {
                                        format!(
                                            ", {} of them as other scanners and exports alter them",
                                            percent(rate),
                                        )
                                    })
                                    .unwrap_or_default(),
                            )}
                        </p>
                    </ChartCard>
                }
            })}
        <section class="card chart" data-testid="chart-training">
            <h2>"Training curves"</h2>
            {if has_curves {
                view! {
                    <label class="field">
                        <span>"Training run"</span>
                        <select
                            data-testid="curve-select"
                            on:change=move |event| {
                                if let Ok(index) = event_target_value(&event).parse() {
                                    selected_curve.set(index);
                                }
                            }
                        >
                            {curve_labels
                                .into_iter()
                                .map(|(i, label)| view! { <option value=i.to_string()>{label}</option> })
                                .collect_view()}
                        </select>
                    </label>
                    <div class="chart-pair">
                        <ChartCanvas
                            label="Loss per epoch, train and validation"
                            draw=move |canvas| draw_curve(canvas, CurveMetric::Loss)
                        />
                        <ChartCanvas
                            label="Accuracy per epoch, train and validation"
                            draw=move |canvas| draw_curve(canvas, CurveMetric::Accuracy)
                        />
                    </div>
                    <p class="interpretation">{curve_text}</p>
                }
                    .into_any()
            } else {
                view! { <p class="muted">"No training history was recorded for this model."</p> }
                    .into_any()
            }}
        </section>
    }
}
