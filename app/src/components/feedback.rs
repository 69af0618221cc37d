//! A reviewer's verdict on one prediction: "right", or "wrong, it is <class>". Shown to annotators
//! and admins only (the server checks the role again); a correction becomes training data.

use leptos::prelude::*;

use crate::api::feedback::give_feedback;
use crate::components::session::use_session;
use crate::types::auth::Role;
use crate::types::feedback::{FeedbackResponse, Verdict};
use crate::types::retrain::UploadOutcome;

/// What the server did with a verdict, in a sentence.
fn recorded(response: &FeedbackResponse) -> String {
    let class = crate::class_label(&response.true_class);
    match (&response.verdict, &response.upload) {
        (Verdict::Right, _) => format!("Recorded: the answer {class} is right."),
        (Verdict::Wrong, Some(upload)) => {
            let what = match upload.outcome {
                UploadOutcome::Stored => "the slice now waits for the next retraining".to_owned(),
                UploadOutcome::Held => {
                    "the model is confident otherwise, so a second annotator must confirm it before \
                     it is trained on"
                        .to_owned()
                }
                UploadOutcome::Duplicate => {
                    "this slice was already in the training data".to_owned()
                }
                UploadOutcome::Rejected => format!(
                    "the slice cannot be trained on: {}",
                    upload.reason.clone().unwrap_or_default()
                ),
            };
            format!("Recorded as {class}; {what}.")
        }
        (Verdict::Wrong, None) => format!("Recorded as {class}."),
    }
}

/// "Was this right?" with a class picker for corrections. `on_done` runs after the server
/// recorded the verdict (the review queue drops the item).
#[component]
pub fn FeedbackButtons(
    prediction_id: i64,
    predicted_class: String,
    #[prop(optional)] on_done: Option<Callback<()>>,
) -> impl IntoView {
    if !use_session().allows(Role::Annotator) {
        return ().into_any();
    }
    let others: Vec<&'static str> = domain::CLASS_NAMES
        .iter()
        .copied()
        .filter(|class| *class != predicted_class)
        .collect();
    let correction = RwSignal::new(others.first().copied().unwrap_or_default().to_owned());
    let send = Action::new(move |(verdict, class): &(Verdict, Option<String>)| {
        give_feedback(prediction_id, *verdict, class.clone())
    });
    Effect::new(move |_| {
        if let (Some(Ok(_)), Some(done)) = (send.value().get(), on_done) {
            done.run(());
        }
    });
    let answered = crate::class_label(&predicted_class);
    let picker_id = format!("correction-{prediction_id}");
    view! {
        <div class="feedback" data-testid="feedback" role="group" aria-label="Review this answer">
            {move || match send.value().get() {
                Some(Ok(response)) => view! {
                    <p class="success small" role="status" data-testid="feedback-result">{recorded(&response)}</p>
                }
                .into_any(),
                _ => {
                    let others = others.clone();
                    let picker_id = picker_id.clone();
                    let answered = answered.clone();
                    view! {
                        <span class="small">"Was this answer right?"</span>
                        <button
                            type="button"
                            class="button small"
                            data-testid="feedback-right"
                            disabled=move || send.pending().get()
                            on:click=move |_| { send.dispatch((Verdict::Right, None)); }
                        >
                            {format!("Right, it is {answered}")}
                        </button>
                        <label class="small" for=picker_id.clone()>"Wrong, it is"</label>
                        <select
                            id=picker_id
                            data-testid="feedback-class"
                            on:change=move |event| correction.set(event_target_value(&event))
                        >
                            {others
                                .into_iter()
                                .map(|class| view! { <option value=class>{crate::class_label(class)}</option> })
                                .collect_view()}
                        </select>
                        <button
                            type="button"
                            class="button small"
                            data-testid="feedback-wrong"
                            disabled=move || send.pending().get()
                            on:click=move |_| {
                                send.dispatch((Verdict::Wrong, Some(correction.get_untracked())));
                            }
                        >
                            "Correct it"
                        </button>
                        {move || send.value().get().and_then(Result::err).map(|error| view! {
                            <p class="error small" role="alert" data-testid="feedback-error">{error.to_string()}</p>
                        })}
                    }
                    .into_any()
                }
            }}
        </div>
    }
    .into_any()
}
