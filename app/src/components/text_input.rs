//! A required text field bound to a signal: typing updates the signal, and setting the signal
//! (e.g. clearing a form after it was sent) updates the field.

use leptos::prelude::*;

#[component]
pub fn TextInput(
    /// The input's `type`: `text` or `password`.
    kind: &'static str,
    value: RwSignal<String>,
    testid: &'static str,
    #[prop(optional)] name: Option<&'static str>,
    #[prop(optional)] placeholder: Option<&'static str>,
    #[prop(optional)] autocomplete: Option<&'static str>,
) -> impl IntoView {
    view! {
        <input
            type=kind
            name=name
            placeholder=placeholder
            autocomplete=autocomplete
            required
            data-testid=testid
            on:input=move |event| value.set(event_target_value(&event))
            prop:value=move || value.get()
        />
    }
}
