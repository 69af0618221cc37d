mod versions;

use std::time::Duration;

use leptos::prelude::*;

use crate::api::retrain::{
    activate_model, cancel_retrain, get_database_stats, get_retrain_status, list_models,
    retrain_readiness, retrain_sessions, trigger_retrain,
};
use crate::components::data_table::DataTable;
use crate::components::loaded::Loaded;
use crate::components::page_header::PageHeader;
use crate::components::polling::every;
use crate::components::session::{use_session, RequireRole};
use crate::components::stat_card::{StatCard, Tone};
use crate::components::time::LocalTime;
use crate::types::auth::Role;
use crate::types::retrain::{
    CancelResponse, DatabaseStats, RetrainOutlook, RetrainStatus, SessionStatus, SessionSummary,
    TrainingSources, MAX_EPOCHS,
};
use versions::ModelVersions;

/// How often the page asks for progress while a job runs.
const POLL_RUNNING: Duration = Duration::from_secs(1);

/// What tells two snapshots of a session apart for the page: its id and its state.
fn session_key(session: &SessionSummary) -> (i64, SessionStatus) {
    (session.id, session.status)
}

fn percent(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

#[component]
pub fn RetrainPage() -> impl IntoView {
    let admin = use_session().allows(Role::Admin);
    // Bumped after every change (trigger, activation, job finished) to reload the tables.
    let refreshes = RwSignal::new(0_u32);
    let stats = Resource::new(move || refreshes.get(), |_| get_database_stats());
    let sessions = Resource::new(move || refreshes.get(), |_| retrain_sessions(Some(10)));
    let models = Resource::new(move || refreshes.get(), |_| list_models());
    let outlook = Resource::new(move || refreshes.get(), |_| retrain_readiness());
    let cancel = Action::new(move |session_id: &i64| cancel_retrain(*session_id));
    let status = RwSignal::new(None::<RetrainStatus>);
    let epochs = RwSignal::new(3_u32);
    let fine_tune_epochs = RwSignal::new(1_u32);
    let sources = RwSignal::new(TrainingSources::Both);

    let trigger = Action::new(
        move |&(epochs, fine_tune_epochs, sources): &(u32, u32, TrainingSources)| async move {
            trigger_retrain(epochs, fine_tune_epochs, Some(sources)).await
        },
    );
    let activate = Action::new(move |(version, reason): &(String, Option<String>)| {
        activate_model(version.clone(), reason.is_some(), reason.clone())
    });
    Effect::new(move |_| {
        if activate.value().get().is_some() {
            refreshes.update(|n| *n += 1);
        }
    });
    // Poll the job status in the browser. Every panel reloads whenever the latest session the server
    // reports (its id and state) differs from the one the last reload was asked for, or, before any,
    // from the newest one the sessions table shows: a job that starts and ends between two polls, or
    // before the first one, still refreshes every panel. After a trigger the next poll always reloads:
    // the trigger's own reload may have read the statistics a moment before the job finished and the
    // sessions a moment after, and the table alone would then never look out of date.
    let reloaded_for = StoredValue::new(None::<Option<(i64, SessionStatus)>>);
    // The newest session the table shows, copied out by an effect: the poller runs outside any
    // <Suspense/>, where reading the resource itself would warn on hydration.
    let newest_shown = StoredValue::new(None::<Option<(i64, SessionStatus)>>);
    Effect::new(move |_| {
        if let Some(Ok(list)) = sessions.get() {
            newest_shown.set_value(Some(list.sessions.first().map(session_key)));
        }
    });
    every(POLL_RUNNING, true, move || {
        leptos::task::spawn_local(async move {
            if let Ok(latest) = get_retrain_status().await {
                let reported = latest.session.as_ref().map(session_key);
                let baseline = reloaded_for
                    .get_value()
                    .or_else(|| newest_shown.get_value());
                if baseline.is_some_and(|baseline| baseline != reported) {
                    reloaded_for.set_value(Some(reported));
                    refreshes.update(|n| *n += 1);
                }
                status.set(Some(latest));
            }
        })
    });
    Effect::new(move |_| {
        if trigger.value().get().is_some() {
            reloaded_for.set_value(Some(None));
            refreshes.update(|n| *n += 1);
        }
    });
    let running = move || status.get().is_some_and(|s| s.progress.is_some());

    view! {
        <PageHeader
            title="Retrain"
            subtitle="Fine-tune the model on uploaded images and activate the result if it is at least as good."
        />
        <Loaded resource=stats loading="Loading statistics…" render=move |stats| view! { <StatsCards stats /> } />

        <RequireRole role=Role::Admin action="start retraining or activate versions">
        <section class="card stack" data-testid="retrain-controls">
            <h2>"Start a retraining run"</h2>
            <Loaded resource=outlook render=move |outlook| view! { <Outlook outlook /> } />
            <EpochSlider label="Epochs" min=1 value=epochs testid="epochs" />
            <EpochSlider label="Fine-tune epochs" min=0 value=fine_tune_epochs testid="fine-tune-epochs" />
            <label class="field">
                <span>"Learn from"</span>
                <select
                    data-testid="retrain-sources"
                    on:change=move |event| {
                        if let Ok(chosen) = event_target_value(&event).parse() {
                            sources.set(chosen);
                        }
                    }
                >
                    <option value="both">"Uploads and reviewers' corrections"</option>
                    <option value="uploads">"Uploads only"</option>
                    <option value="feedback">"Reviewers' corrections only"</option>
                </select>
            </label>
            <div class="actions">
                <button
                    type="button"
                    class="button primary"
                    data-testid="trigger-retrain"
                    disabled=move || running() || trigger.pending().get()
                    on:click=move |_| {
                        trigger.dispatch((
                            epochs.get_untracked(),
                            fine_tune_epochs.get_untracked(),
                            sources.get_untracked(),
                        ));
                    }
                >
                    "Retrain now"
                </button>
            </div>
            {move || {
                trigger.value().get().map(|result| match result {
                    Ok(started) => view! { <p class="success" data-testid="trigger-result">{started.message}</p> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert" data-testid="trigger-result">{error.to_string()}</p> }.into_any(),
                })
            }}
        </section>
        </RequireRole>

        <section class="card" data-testid="retrain-status">
            <h2>"Current job"</h2>
            {move || match status.get() {
                None => view! { <p class="muted">"Checking…"</p> }.into_any(),
                Some(status) => view! { <JobStatus status cancel admin /> }.into_any(),
            }}
        </section>

        <section class="card">
            <h2>"Recent sessions"</h2>
            <Loaded resource=sessions loading="Loading sessions…" render=move |list| view! { <SessionsTable sessions=list.sessions /> } />
        </section>

        <section class="card">
            <h2>"Model versions"</h2>
            {move || {
                activate.value().get().and_then(Result::err).map(|error| {
                    view! { <p class="error" role="alert">{error.to_string()}</p> }
                })
            }}
            <Loaded
                resource=models
                loading="Loading models…"
                render=move |list| view! { <ModelVersions models=list.models activate admin /> }
            />
        </section>
    }
}

/// A labelled range input from `min` to [`MAX_EPOCHS`] bound to `value`.
#[component]
fn EpochSlider(
    label: &'static str,
    min: u32,
    value: RwSignal<u32>,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{move || format!("{label}: {}", value.get())}</span>
            <input
                type="range"
                min=min.to_string()
                max=MAX_EPOCHS.to_string()
                data-testid=testid
                prop:value=move || value.get().to_string()
                on:input=move |event| {
                    if let Ok(parsed) = event_target_value(&event).parse() {
                        value.set(parsed);
                    }
                }
            />
        </label>
    }
}

#[component]
fn StatsCards(stats: DatabaseStats) -> impl IntoView {
    let by_class = stats
        .images_by_class
        .iter()
        .map(|(class, count)| format!("{} {count}", crate::class_label(class)))
        .collect::<Vec<_>>()
        .join(" · ");
    view! {
        <section class="cards" data-testid="database-stats">
            <StatCard title="Uploaded images" value=stats.total_uploaded_images value_testid="stat-uploaded">
                {by_class}
            </StatCard>
            <StatCard title="Waiting for retraining" value=stats.pending_images value_testid="stat-pending">
                {stats.processed_images} " already used"
            </StatCard>
            <StatCard title="Training sessions" value=stats.total_training_sessions>
                {stats.completed_sessions} " completed"
            </StatCard>
            <StatCard
                title="Serving model"
                value={stats.active_model_version.unwrap_or_else(|| "none".into())}
                tone=Tone::Ok
                small=true
            >
                {stats.total_predictions} " predictions recorded"
            </StatCard>
        </section>
    }
}

/// Before the click: what a new version would be judged on, and whether it could serve by itself.
#[component]
fn Outlook(outlook: RetrainOutlook) -> impl IntoView {
    let class = if outlook.can_activate {
        "reassurance"
    } else {
        "warning"
    };
    view! {
        <div class=class data-testid="retrain-outlook">
            <p>
                <strong>{format!("{} uploads waiting. ", outlook.pending_images)}</strong>
                {outlook.explanation}
            </p>
            {(!outlook.can_activate).then(|| view! {
                <p><a href="/upload?purpose=reference" data-testid="reference-upload-link">"Upload reference images"</a></p>
            })}
        </div>
    }
}

#[component]
fn JobStatus(
    status: RetrainStatus,
    cancel: Action<i64, Result<CancelResponse, crate::error::AppError>>,
    admin: bool,
) -> impl IntoView {
    let progress = status.progress.clone();
    let session = status.session.clone();
    let unfinished = session
        .as_ref()
        .filter(|s| matches!(s.status, SessionStatus::Queued | SessionStatus::Running));
    let cancellable = unfinished
        .filter(|s| admin && !s.cancel_requested)
        .map(|s| s.id);
    let stopping = unfinished.is_some_and(|s| s.cancel_requested);
    let outcome = session.and_then(|s| s.outcome);
    view! {
        <p data-testid="job-state">
            <span class=format!("badge {}", status.status)>{status.status.as_str()}</span>
            " "
            {if outcome.is_some() { String::new() } else { status.message.clone() }}
        </p>
        {outcome.map(|outcome| view! {
            <dl class="outcome" data-testid="job-outcome" data-kind=format!("{:?}", outcome.kind)>
                <dt>"Outcome"</dt>
                <dd data-testid="outcome-headline">{outcome.headline}</dd>
                <dt>"Why"</dt>
                <dd data-testid="outcome-reason">{outcome.reason}</dd>
                <dt>"What next"</dt>
                <dd data-testid="outcome-next">
                    {outcome.next_step}
                    {outcome.link.map(|link| view! { " " <a href=link.href>{link.label}</a> })}
                </dd>
            </dl>
        })}
        {progress.map(|live| {
            let eta = live.eta_seconds.map_or(String::new(), |s| format!(" · about {s:.0} s left"));
            view! {
                <div class="progress" data-testid="job-progress">
                    <progress max="1" value=live.fraction.to_string() aria-label="Retraining progress"></progress>
                    <p class="muted">
                        {format!(
                            "{} · epoch {}/{} · batch {}/{} · loss {} · accuracy {}{eta}",
                            live.phase,
                            live.epoch,
                            live.epochs,
                            live.batch,
                            live.batches,
                            live.loss.map_or("–".into(), |l| format!("{l:.3}")),
                            percent(live.accuracy),
                        )}
                    </p>
                </div>
            }
        })}
        {stopping.then(|| view! { <p class="muted" data-testid="job-stopping">"Stopping at the next batch…"</p> })}
        {cancellable.map(|session_id| view! {
            <div class="actions">
                <button
                    type="button"
                    class="button danger"
                    data-testid="cancel-retrain"
                    disabled=move || cancel.pending().get()
                    on:click=move |_| {
                        cancel.dispatch(session_id);
                    }
                >
                    "Cancel this job"
                </button>
            </div>
        })}
        {move || {
            cancel.value().get().and_then(Result::err).map(|error| {
                view! { <p class="error" role="alert">{error.to_string()}</p> }
            })
        }}
    }
}

#[component]
fn SessionsTable(sessions: Vec<SessionSummary>) -> impl IntoView {
    if sessions.is_empty() {
        return view! { <p class="muted" data-testid="sessions-empty">"No retraining sessions yet."</p> }
            .into_any();
    }
    view! {
        <DataTable
            testid="sessions-table"
            headers=&["#", "Started", "Status", "Epochs", "Images", "Accuracy before → after", "F1 before → after", "Model", "Message"]
        >
            {sessions
                .into_iter()
                .map(|s| {
                    let why = s.outcome.as_ref().map(|o| o.reason.clone());
                    view! {
                        <tr>
                            <td>{s.id}</td>
                            <td><LocalTime utc=s.started_at.unwrap_or(s.created_at) /></td>
                            <td><span class=format!("badge {}", s.status)>{s.status.as_str()}</span></td>
                            <td>{format!("{} + {}", s.epochs, s.fine_tune_epochs)}</td>
                            <td data-testid="session-images">
                                {if s.feedback_images > 0 {
                                    format!(
                                        "{} ({} correction{})",
                                        s.images_used,
                                        s.feedback_images,
                                        if s.feedback_images == 1 { "" } else { "s" }
                                    )
                                } else {
                                    s.images_used.to_string()
                                }}
                            </td>
                            <td>{format!("{} → {}", percent(s.scores.accuracy_before), percent(s.scores.accuracy_after))}</td>
                            <td>{format!("{} → {}", percent(s.scores.f1_before), percent(s.scores.f1_after))}</td>
                            <td>{s.model_version.unwrap_or_default()}</td>
                            <td class="message" title=why>
                                {s.outcome.map(|o| o.headline).or(s.error).or(s.message).unwrap_or_default()}
                            </td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
    .into_any()
}
