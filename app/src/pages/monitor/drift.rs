//! The Monitor page's drift section: a banner while a signal drifts, the verdict, and a chart per
//! signal of the validation split against the recent predictions.

use leptos::prelude::*;

use crate::api::feedback::get_drift;
use crate::components::chart_canvas::ChartCanvas;
use crate::components::polling::every;
use crate::types::drift::{DriftReport, DriftStatus, SignalDrift};

/// Drift changes with traffic, not by the second.
const DRIFT_REFRESH: std::time::Duration = std::time::Duration::from_secs(15);

/// The drift report, fetched now and every [`DRIFT_REFRESH`]; `None` until the first answer.
pub fn poll_drift() -> RwSignal<Option<Result<DriftReport, String>>> {
    let report = RwSignal::new(None);
    every(DRIFT_REFRESH, true, move || {
        leptos::task::spawn_local(async move {
            report.set(Some(get_drift().await.map_err(|e| e.to_string())));
        })
    });
    report
}

/// Shown at the top of the page while a signal drifts.
#[component]
pub fn DriftBanner(report: RwSignal<Option<Result<DriftReport, String>>>) -> impl IntoView {
    move || {
        report
            .get()
            .and_then(Result::ok)
            .and_then(|report| report.alert())
            .map(|alert| {
                view! {
                        <div class="warning drift-banner" role="alert" data-testid="drift-banner">
                            <p>
                                <strong>"The slices reaching the model have changed. "</strong>
                                {format!(
                                    "Over {}, {} drifted from version {}'s validation split (alert above PSI {:.2}). A new scanner, sequence or site? Review recent answers before trusting them.",
                                    over(&alert.window, alert.recent_predictions),
                                    alert.signals.join(", "),
                                    alert.model_version,
                                    alert.psi_alert,
                                )}
                            </p>
                            <p><a href="/review">"Open the review queue"</a></p>
                        </div>
                    }
                })
    }
}

#[component]
pub fn InputDrift(report: RwSignal<Option<Result<DriftReport, String>>>) -> impl IntoView {
    view! {
        <section class="card" data-testid="drift">
            <h2>"Input drift"</h2>
            <p class="muted small">
                "Each recent prediction against the serving model's validation split: the population \
                 stability index (PSI: below 0.1 stable, above 0.2 a shift worth acting on) and the \
                 Kolmogorov-Smirnov statistic (KS: the largest gap between the two distributions, 0-1)."
            </p>
            {move || match report.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
                Some(Ok(report)) => view! { <DriftFigures report /> }.into_any(),
            }}
        </section>
    }
}

/// "the last 500 predictions", or a period with its count: "the last 1 day(s) (812 predictions)".
fn over(window: &str, predictions: usize) -> String {
    if window.ends_with("predictions") {
        window.to_owned()
    } else {
        format!("{window} ({predictions} predictions)")
    }
}

fn verdict(report: &DriftReport) -> String {
    let version = report.model_version.clone().unwrap_or_default();
    match report.status {
        DriftStatus::NoBaseline if report.model_version.is_none() => {
            "No model is serving.".to_owned()
        }
        DriftStatus::NoBaseline => format!(
            "Version {version} has no drift baseline (its trust check predates drift measurement; `brainscan trust --drift-only` adds one)."
        ),
        DriftStatus::Collecting => format!(
            "Collecting: {} of the {} predictions needed over {}.",
            report.recent_predictions, report.min_predictions, report.window
        ),
        DriftStatus::Stable => format!(
            "Stable: over {}, no signal's PSI is above {:.2}.",
            over(&report.window, report.recent_predictions),
            report.psi_alert
        ),
        DriftStatus::Drifting => format!(
            "Drifting: over {}, a signal's PSI is above {:.2}.",
            over(&report.window, report.recent_predictions),
            report.psi_alert
        ),
    }
}

#[component]
fn DriftFigures(report: DriftReport) -> impl IntoView {
    let status = match report.status {
        DriftStatus::Drifting => "drifting",
        DriftStatus::Stable => "stable",
        DriftStatus::Collecting => "collecting",
        DriftStatus::NoBaseline => "no-baseline",
    };
    let text = verdict(&report);
    let baseline = format!(
        "Baseline: {} validation slices of version {}.",
        report.baseline_images,
        report.model_version.clone().unwrap_or_default()
    );
    view! {
        <p data-testid="drift-status" data-status=status>{text}</p>
        {(report.baseline_images > 0).then(|| view! { <p class="muted small">{baseline}</p> })}
        {(!report.signals.is_empty()).then(|| view! {
            <p class="drift-key small">
                <span class="swatch swatch-baseline" aria-hidden="true"></span>" validation split "
                <span class="swatch swatch-recent" aria-hidden="true"></span>" recent predictions"
            </p>
        })}
        <div class="chart-pair compact">
            {report.signals.into_iter().map(|signal| view! { <SignalChart signal /> }).collect_view()}
        </div>
    }
}

#[component]
fn SignalChart(signal: SignalDrift) -> impl IntoView {
    let figures = match signal.ks {
        Some(ks) => format!("PSI {:.3} · KS {:.3}", signal.psi, ks),
        None => format!("PSI {:.3}", signal.psi),
    };
    let label = format!(
        "{}: share of slices per bin on the validation split and in the {} recent predictions",
        signal.label, signal.recent_values
    );
    let testid = format!("drift-{}", signal.signal);
    let drifting = signal.drifting;
    let title = signal.label.clone();
    let stored = StoredValue::new(signal);
    view! {
        <figure class="drift-signal" class:drifting=drifting data-testid=testid>
            <figcaption>
                <strong>{title}</strong>
                " "
                <span class:drift-alert=drifting>{figures}</span>
            </figcaption>
            <ChartCanvas label draw=move |canvas| stored.with_value(|signal| crate::charts::drift_signal(canvas, signal)) />
        </figure>
    }
}
