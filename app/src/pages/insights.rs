use crate::charts;
use crate::components::chart_canvas::{drawing, ChartCard};
use leptos::prelude::*;

use crate::api::insights::get_visualization_data;
use crate::class_label;
use crate::components::loaded::Loaded;
use crate::components::page_header::PageHeader;
use crate::types::insights::{Distribution, Scatter, VisualizationData};

#[component]
pub fn InsightsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| get_visualization_data());
    view! {
        <PageHeader title="Insights" subtitle="What the data looks like and how the model behaves on it." />
        <Loaded resource=data loading="Loading the feature summaries…" render=move |data| view! { <Charts data /> } />
    }
}

/// One per-class feature distribution and what it says.
struct FeatureChart {
    testid: &'static str,
    title: &'static str,
    label: &'static str,
    chart_title: &'static str,
    axis: &'static str,
    of: fn(&VisualizationData) -> &Distribution,
    reading: String,
}

/// Medians per class, as "Glioma 41.2 · Meningioma ..." and the class with the highest one.
fn medians(distribution: &Distribution) -> (String, String) {
    let text = distribution
        .summaries
        .iter()
        .map(|(class, s)| format!("{} {:.1}", class_label(class), s.median))
        .collect::<Vec<_>>()
        .join(" · ");
    let highest = distribution
        .summaries
        .iter()
        .max_by(|a, b| a.1.median.total_cmp(&b.1.median))
        .map(|(class, _)| class_label(class))
        .unwrap_or_default();
    (text, highest)
}

fn correlation(scatter: &Scatter) -> f64 {
    let n = scatter.points.len().max(1) as f64;
    let (mx, my) = scatter
        .points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.x / n, y + p.y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for p in &scatter.points {
        sxy += (p.x - mx) * (p.y - my);
        sxx += (p.x - mx).powi(2);
        syy += (p.y - my).powi(2);
    }
    if sxx > 0.0 && syy > 0.0 {
        sxy / (sxx * syy).sqrt()
    } else {
        0.0
    }
}

#[component]
fn Charts(data: VisualizationData) -> impl IntoView {
    let training_total: usize = data.class_distribution.values().sum();
    let uploads_total: i64 = data.upload_class_distribution.values().sum();
    let (largest, smallest) = {
        let mut counts: Vec<(&String, &usize)> = data.class_distribution.iter().collect();
        counts.sort_by_key(|(_, n)| **n);
        let label = |entry: Option<&(&String, &usize)>| {
            entry.map_or(String::new(), |(c, n)| format!("{} ({n})", class_label(c)))
        };
        (label(counts.last()), label(counts.first()))
    };
    let (mean_medians, brightest) = medians(&data.mean_intensity_data);
    let (std_medians, most_varied) = medians(&data.std_intensity_data);
    let r = correlation(&data.gradient_data);
    let sampled = data.gradient_data.points.len();
    let sampled_from = data.gradient_data.sampled_from;

    let features = [
        FeatureChart {
            testid: "chart-mean-intensity",
            title: "Brightness",
            label: "Per-class distributions of mean intensity",
            chart_title: "Mean intensity per image",
            axis: "mean intensity (0-255)",
            of: |data| &data.mean_intensity_data,
            reading: format!(
                "Median mean intensity: {mean_medians}. {brightest} slices are the brightest on \
                 average, but the curves overlap widely: brightness alone cannot tell the classes \
                 apart, which is why the model looks at shape and texture."
            ),
        },
        FeatureChart {
            testid: "chart-std-intensity",
            title: "Contrast",
            label: "Per-class distributions of intensity standard deviation",
            chart_title: "Contrast (intensity spread) per image",
            axis: "standard deviation of intensity",
            of: |data| &data.std_intensity_data,
            reading: format!(
                "Median standard deviation of intensity: {std_medians}. {most_varied} images spread \
                 their grey levels the most; scanner settings vary within every class, one reason \
                 the training augments brightness and contrast."
            ),
        },
    ];
    // Charts are drawn in the browser; the server sends their canvases blank.
    let stored = StoredValue::new(data);

    view! {
        <ChartCard
            testid="chart-classes"
            title="Class balance"
            label="Bar chart of images per class, training and uploads"
            draw=drawing(stored, |canvas, data| {
                charts::class_distribution(
                    canvas,
                    &data.class_distribution,
                    &data.upload_class_distribution,
                )
            })
        >
            <p class="interpretation">
                {format!(
                    "{training_total} training images: the largest class is {largest}, the smallest {smallest}, \
                     so no class dominates and accuracy is a fair summary. {uploads_total} image(s) have \
                     been uploaded (for training and for the reference set, waiting, used, held or \
                     deleted: the Data page tells them apart)."
                )}
            </p>
        </ChartCard>
        {features
            .into_iter()
            .map(|feature| {
                view! {
                    <ChartCard
                        testid=feature.testid
                        title=feature.title
                        label=feature.label
                        draw=drawing(stored, move |canvas, data| {
                            charts::distribution(
                                canvas,
                                feature.chart_title,
                                feature.axis,
                                (feature.of)(data),
                            )
                        })
                    >
                        <p class="interpretation">{feature.reading}</p>
                    </ChartCard>
                }
            })
            .collect_view()}
        <ChartCard
            testid="chart-gradient"
            title="Edges against brightness"
            label="Scatter of mean gradient against mean intensity by class"
            draw=drawing(stored, |canvas, data| crate::charts::scatter(canvas, &data.gradient_data))
        >
            <p class="interpretation">
                {format!(
                    "Each dot is a training image ({sampled} sampled evenly from {sampled_from}). Edge strength \
                     and brightness are correlated (r = {r:.2}): brighter slices show more tissue boundaries. \
                     The classes form overlapping clouds, so these hand-made features are context, not a classifier."
                )}
            </p>
        </ChartCard>
    }
}
