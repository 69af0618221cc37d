//! Server data on a page: one way to show it loading, loaded, or failed.

use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::AppError;

/// Renders `resource` with `render` once it has loaded, `loading` (or nothing) until then, and the
/// error as an alert if loading failed: the pages' one error arm. Keeps showing the previous value
/// while a refresh loads (a `Transition`), so polled panels do not flicker.
#[component]
pub fn Loaded<T, V, F>(
    resource: Resource<Result<T, AppError>>,
    render: F,
    /// Shown before the first value arrives.
    #[prop(optional)]
    loading: Option<&'static str>,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=move || loading.map(|text| view! { <p class="muted">{text}</p> })>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match resource.await {
                        Ok(value) => render(value).into_any(),
                        Err(error) => {
                            view! { <p class="error" role="alert">{error.to_string()}</p> }
                                .into_any()
                        }
                    }
                })
            }}
        </Transition>
    }
}
