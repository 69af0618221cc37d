//! The Monitor page: live metrics, traffic history, accuracy on reviewed answers and input drift.

mod drift;

use std::time::Duration;

use crate::components::chart_canvas::ChartCanvas;
use leptos::prelude::*;

use crate::api::feedback::get_live_accuracy;
use crate::api::monitor::{get_metrics, get_metrics_history};
use crate::charts::HistoryFigures;
use crate::class_label;
use crate::components::page_header::PageHeader;
use crate::components::polling::every;
use crate::components::stat_card::{StatCard, Tone};
use crate::types::feedback::{LiveAccuracy, VersionAccuracy};
use crate::types::monitor::{HistoryWindow, MetricsHistory, MetricsReport, HISTORY_MINUTES};

const REFRESH: Duration = Duration::from_secs(2);
/// The history changes by the minute: polled less often.
const HISTORY_REFRESH: Duration = Duration::from_secs(15);

#[component]
pub fn MonitorPage() -> impl IntoView {
    let report = RwSignal::new(None::<Result<MetricsReport, String>>);
    every(REFRESH, true, move || {
        leptos::task::spawn_local(async move {
            report.set(Some(get_metrics().await.map_err(|e| e.to_string())));
        })
    });
    let drift = drift::poll_drift();
    view! {
        <PageHeader title="Monitor" subtitle="How the service is doing right now." />
        <drift::DriftBanner report=drift />
        {move || match report.get() {
            None => view! { <p class="muted">"Loading live metrics…"</p> }.into_any(),
            Some(Err(error)) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
            Some(Ok(report)) => view! { <MetricsView report /> }.into_any(),
        }}
        <TrafficHistory />
        <ReviewedAccuracy />
        <drift::InputDrift report=drift />
    }
}

/// A share with its 95% interval, e.g. "87.5% (52.9–97.8%)".
fn share_with_interval(share: Option<f64>, low: Option<f64>, high: Option<f64>) -> String {
    match (share, low, high) {
        (Some(share), Some(low), Some(high)) => format!(
            "{:.1}% ({:.1}–{:.1}%)",
            share * 100.0,
            low * 100.0,
            high * 100.0
        ),
        _ => "–".into(),
    }
}

/// Accuracy in use: what reviewers said about each version's answers.
#[component]
fn ReviewedAccuracy() -> impl IntoView {
    let live = RwSignal::new(None::<Result<LiveAccuracy, String>>);
    every(HISTORY_REFRESH, true, move || {
        leptos::task::spawn_local(async move {
            live.set(Some(get_live_accuracy().await.map_err(|e| e.to_string())));
        })
    });
    view! {
        <section class="card" data-testid="live-accuracy">
            <h2>"Accuracy on reviewed answers"</h2>
            <p class="muted small">
                "Reviewers confirm or correct answers on the Review page and the Predict page. Each \
                 verdict counts once; the figures in brackets are 95% intervals (Wilson), wide while \
                 few answers are reviewed."
            </p>
            {move || match live.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error" role="alert">{error}</p> }.into_any(),
                Some(Ok(live)) if live.versions.is_empty() => view! {
                    <p class="muted" data-testid="live-accuracy-empty">"No answer has been reviewed yet."</p>
                }
                .into_any(),
                Some(Ok(live)) => view! { <VersionsReviewed live /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn VersionsReviewed(live: LiveAccuracy) -> impl IntoView {
    let classes = live.classes.clone();
    let first = live.versions.first().cloned();
    view! {
        <div class="table-scroll" tabindex="0" role="region" aria-label="Accuracy on reviewed answers per version">
            <table class="data-table" data-testid="live-accuracy-table">
                <thead>
                    <tr>
                        <th scope="col">"Version"</th>
                        <th scope="col">"Reviewed"</th>
                        <th scope="col">"Confirmed right"</th>
                        {classes.iter().map(|class| view! { <th scope="col">{format!("{} recall", class_label(class))}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody>
                    {live.versions.iter().map(|version| view! { <VersionRow version=version.clone() /> }).collect_view()}
                </tbody>
            </table>
        </div>
        {first.map(|version| {
            let title = "Reviewed answers".to_owned();
            let caption = format!(
                "{}: true class by row (the reviewers' word), answer by column.",
                version.model_version
            );
            let matrix: Vec<Vec<u64>> = version
                .confusion
                .iter()
                .map(|row| row.iter().map(|&n| n.max(0) as u64).collect())
                .collect();
            let stored = StoredValue::new((title, classes.clone(), matrix));
            view! {
                <div class="chart" data-testid="live-confusion">
                    <ChartCanvas
                        label="Confusion matrix of reviewed answers: true class by row, answer by column"
                        draw=move |canvas| stored.with_value(|(title, classes, matrix)| {
                            crate::charts::confusion_matrix(canvas, title, classes, matrix)
                        })
                    />
                    <p class="muted small">{caption}</p>
                </div>
            }
        })}
    }
}

#[component]
fn VersionRow(version: VersionAccuracy) -> impl IntoView {
    view! {
        <tr data-testid="live-accuracy-row">
            <td>
                {version.model_version.clone()}
                {version.serving.then(|| view! { " " <span class="badge completed">"serving"</span> })}
            </td>
            <td>{version.reviewed}</td>
            <td>{share_with_interval(version.accuracy, version.low, version.high)}</td>
            {version
                .per_class
                .iter()
                .map(|class| {
                    let text = if class.reviewed == 0 {
                        "–".to_owned()
                    } else {
                        format!(
                            "{} of {}",
                            share_with_interval(class.recall, class.low, class.high),
                            class.reviewed
                        )
                    };
                    view! { <td>{text}</td> }
                })
                .collect_view()}
        </tr>
    }
}

/// Rates and latency over 1 hour, 24 hours or 7 days, every server process added up.
#[component]
fn TrafficHistory() -> impl IntoView {
    let window = RwSignal::new(HistoryWindow::Hour);
    let history = RwSignal::new(None::<Result<MetricsHistory, String>>);
    let load = move || {
        let chosen = window.get_untracked();
        leptos::task::spawn_local(async move {
            let loaded = get_metrics_history(chosen.as_str().to_owned())
                .await
                .map_err(|e| e.to_string());
            history.set(Some(loaded));
        });
    };
    every(HISTORY_REFRESH, true, load);
    let stored = move || history.get().and_then(Result::ok);
    let summary = move || {
        stored().map(|history| {
            let sum = |pick: fn(&crate::types::monitor::HistoryPoint) -> i64| {
                history.points.iter().map(pick).sum::<i64>()
            };
            format!(
                "{} requests and {} images classified in this window ({} minute{} per point).",
                sum(|p| p.requests),
                sum(|p| p.predictions),
                history.minutes_per_point,
                if history.minutes_per_point == 1 {
                    ""
                } else {
                    "s"
                }
            )
        })
    };
    view! {
        <section class="card chart" data-testid="traffic-history">
            <div class="comparison-head">
                <h2>"Over time"</h2>
                <label class="field">
                    <span>"Window"</span>
                    <select
                        data-testid="history-window"
                        on:change=move |event| {
                            if let Some(chosen) = HistoryWindow::parse(&event_target_value(&event)) {
                                window.set(chosen);
                                load();
                            }
                        }
                    >
                        <option value="1h">"Last hour"</option>
                        <option value="24h">"Last 24 hours"</option>
                        <option value="7d">"Last 7 days"</option>
                    </select>
                </label>
            </div>
            <p class="muted" data-testid="history-summary">{summary}</p>
            {move || history.get().and_then(Result::err).map(|error| view! { <p class="error" role="alert">{error}</p> })}
            <div class="chart-pair">
                <ChartCanvas
                    label="Line chart of refusal, review, 4xx and 5xx rates over time"
                    testid="history-rates"
                    draw=move |canvas| {
                        let history = stored()?;
                        crate::charts::traffic_history(canvas, &history, HistoryFigures::Rates)
                    }
                />
                <ChartCanvas
                    label="Line chart of the time per image, median and 95th percentile, over time"
                    testid="history-latency"
                    draw=move |canvas| {
                        let history = stored()?;
                        crate::charts::traffic_history(canvas, &history, HistoryFigures::Latency)
                    }
                />
            </div>
            <p class="interpretation">
                "Refused: images the not-an-MRI check turned away; flagged: answers below the review \
                 threshold; 4xx and 5xx: shares of requests answered with client and server errors. \
                 A rise in refusals or flags can mean the images reaching the model changed."
            </p>
        </section>
    }
}

fn megabytes(bytes: Option<u64>) -> String {
    bytes.map_or("–".into(), |b| {
        format!("{:.0} MB", b as f64 / (1024.0 * 1024.0))
    })
}

#[component]
fn MetricsView(report: MetricsReport) -> impl IntoView {
    let latency = report.prediction_latency.clone();
    let request_latency = report.request_latency.clone();
    let per_minute = StoredValue::new(report.predictions_per_minute.clone());
    let minutes: Vec<String> = {
        let mut minutes: Vec<String> = report
            .predictions_per_minute
            .iter()
            .map(|m| m.minute.clone())
            .collect();
        minutes.dedup();
        minutes
    };
    let count_at = |minute: &str, class: &str| {
        report
            .predictions_per_minute
            .iter()
            .find(|m| m.minute == minute && m.class_name == class)
            .map_or(0, |m| m.count)
    };
    let rows: Vec<(String, Vec<i64>)> = minutes
        .iter()
        .map(|minute| {
            let counts = crate::CLASS_NAMES
                .iter()
                .map(|c| count_at(minute, c))
                .collect();
            (minute.replace('T', " "), counts)
        })
        .collect();
    view! {
        <section class="cards" data-testid="monitor-cards">
            <StatCard title="Uptime" value={report.uptime_formatted.clone()} tone=Tone::Ok>
                "since start-up"
            </StatCard>
            <StatCard title="Requests" value=report.total_requests value_testid="metric-requests">
                {report.requests_last_minute} " in the last minute, monitoring polls aside"
            </StatCard>
            <StatCard
                title="Time per image"
                value={latency.as_ref().map_or("–".into(), |l| format!("{:.1} ms", l.p50_ms))}
                value_testid="metric-latency"
            >
                {latency.as_ref().map_or("no predictions yet".into(), |l| {
                    format!("p50; p95 {:.1} ms over the last {} requests", l.p95_ms, l.samples)
                })}

            </StatCard>
            <StatCard
                title="Time per request"
                value={request_latency.as_ref().map_or("–".into(), |l| format!("{:.1} ms", l.p50_ms))}
                value_testid="metric-request-latency"
            >
                {request_latency.as_ref().map_or("no predictions yet".into(), |l| {
                    format!("p50; p95 {:.1} ms; a batch is one request", l.p95_ms)
                })}

            </StatCard>
            <StatCard title="Predictions" value=report.predictions_total value_testid="metric-predictions">
                {report
                    .predictions_by_class
                    .iter()
                    .map(|(c, n)| format!("{} {n}", class_label(c)))
                    .collect::<Vec<_>>()
                    .join(" · ")}

            </StatCard>
            <StatCard
                title="Serving model"
                value={report.active_model_version.clone().unwrap_or_else(|| "none".into())}
                small=true
            >
                "activated " {report.active_model_activated_at.clone().unwrap_or_else(|| "–".into())}

            </StatCard>
            <StatCard title="Memory" value={megabytes(report.memory_rss_bytes)} value_testid="metric-memory">
                "resident set of the server process"
            </StatCard>
            <StatCard
                title="Locked logins"
                value={report.login_lockouts_total.to_string()}
                value_testid="metric-login-lockouts"
            >
                "attempts refused since start-up: the account had too many failures in a row"
            </StatCard>
        </section>
        <section class="card chart" data-testid="chart-predictions-per-minute">
            <h2>{format!("Predictions per class, last {HISTORY_MINUTES} minutes")}</h2>
            <ChartCanvas
                label="Stacked bar chart of predictions per minute by class"
                draw=move |canvas| {
                    per_minute.with_value(|counts| {
                        crate::charts::predictions_per_minute(canvas, counts, HISTORY_MINUTES)
                    })
                }
            />
            {if rows.is_empty() {
                view! { <p class="muted">"No predictions in this window."</p> }.into_any()
            } else {
                view! {
                    <details class="table-scroll">
                        <summary>"The numbers, per minute (UTC)"</summary>
                        <table data-testid="predictions-per-minute">
                            <thead>
                                <tr>
                                    <th>"Minute"</th>
                                    {crate::CLASS_NAMES.iter().map(|c| view! { <th>{class_label(c)}</th> }).collect_view()}
                                </tr>
                            </thead>
                            <tbody>
                                {rows
                                    .into_iter()
                                    .map(|(minute, counts)| {
                                        view! {
                                            <tr>
                                                <td>{minute}</td>
                                                {counts.into_iter().map(|n| view! { <td>{n}</td> }).collect_view()}
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </details>
                }
                    .into_any()
            }}
        </section>
    }
}
