use std::collections::BTreeMap;

use leptos::prelude::*;

/// One horizontal bar per class, longest for the most likely.
#[component]
pub fn ProbabilityBars(probabilities: BTreeMap<String, f64>) -> impl IntoView {
    let best = probabilities
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(class, _)| class.clone());
    view! {
        <ul class="bars" data-testid="probability-bars">
            {probabilities
                .into_iter()
                .map(|(class, probability)| {
                    let percent = probability * 100.0;
                    let is_best = best.as_deref() == Some(class.as_str());
                    view! {
                        <li class="bar" class:best=is_best data-class=class.clone()>
                            <span class="bar-label">{crate::class_label(&class)}</span>
                            <span class="bar-track">
                                <span class="bar-fill" style=format!("width: {percent:.1}%")></span>
                            </span>
                            <span class="bar-value">{format!("{percent:.1}%")}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
