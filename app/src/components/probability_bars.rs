use std::collections::BTreeMap;

use leptos::html::Canvas;
use leptos::prelude::*;

/// The class probabilities as a bar chart drawn in the browser, with the exact values listed under
/// it (for screen readers, and for the server-rendered page before the chart exists).
#[component]
pub fn ProbabilityBars(probabilities: BTreeMap<String, f64>) -> impl IntoView {
    let best = probabilities
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(class, _)| class.clone());
    let canvas = NodeRef::<Canvas>::new();
    let stored = StoredValue::new(probabilities.clone());
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(canvas) = canvas.get() {
            stored.with_value(|probabilities| crate::charts::probabilities(&canvas, probabilities));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (canvas, stored);
    });
    view! {
        <figure class="probability-chart" data-testid="probability-bars">
            <canvas node_ref=canvas aria-label="Bar chart of the probability of each class"></canvas>
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
