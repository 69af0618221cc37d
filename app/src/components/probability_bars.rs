use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::components::chart_canvas::ChartCanvas;

/// The class probabilities as a bar chart drawn in the browser, with the exact values listed under
/// it (for screen readers, and for the server-rendered page before the chart exists).
#[component]
pub fn ProbabilityBars(probabilities: BTreeMap<String, f64>) -> impl IntoView {
    let best = probabilities
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(class, _)| class.clone());
    let stored = StoredValue::new(probabilities.clone());
    view! {
        <figure class="probability-chart" data-testid="probability-bars">
            <ChartCanvas
                label="Bar chart of the probability of each class"
                draw=move |canvas| stored.with_value(|p| crate::charts::probabilities(canvas, p))
            />
            <ul class="bar-values">
                {probabilities
                    .into_iter()
                    .map(|(class, probability)| {
                        let is_best = best.as_deref() == Some(class.as_str());
                        view! {
                            <li class="bar" class:best=is_best data-class=class.clone()>
                                <span class="bar-label">{crate::class_label(&class)}</span>
                                " "
                                <span class="bar-value">{format!("{:.1}%", probability * 100.0)}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </figure>
    }
}
