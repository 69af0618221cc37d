//! The Monitor page: predictions over time.

use std::collections::BTreeMap;

use plotters::prelude::*;
use web_sys::HtmlCanvasElement;

use super::*;

/// Predictions per minute over the last `window` minutes, stacked by predicted class.
pub fn predictions_per_minute(
    canvas: &HtmlCanvasElement,
    counts: &[crate::api::monitor::MinuteCount],
    window: i64,
) -> Option<()> {
    let (root, size) = blank_area(
        canvas,
        Height {
            ratio: 0.4,
            min: 220,
            max: 360,
        },
    )?;
    let mut per_minute: BTreeMap<i64, i64> = BTreeMap::new();
    for entry in counts {
        *per_minute.entry(entry.minutes_ago).or_default() += entry.count;
    }
    let top = per_minute.values().copied().max().unwrap_or(0).max(1) as f64;
    let mut chart = chart_frame(
        &root,
        "Predictions per minute",
        size,
        4,
        -(window as f64)..1.0,
        0.0..top * 1.15,
    )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(7)
        .x_label_formatter(&|x| format!("{:.0}", x.min(0.0)))
        .y_labels((top as usize).min(8) + 1)
        .y_label_formatter(&|y| {
            // Counts are whole: label only the integer ticks.
            if (y - y.round()).abs() < 1e-6 {
                format!("{y:.0}")
            } else {
                String::new()
            }
        })
        .shared_axes(size, "minutes ago", "predictions")
        .draw()
        .ok()?;
    // Bars stack in class order: each class starts where the previous ones of that minute ended.
    let mut stacked: BTreeMap<i64, f64> = BTreeMap::new();
    for class in crate::CLASS_NAMES {
        let colour = colour_of(class);
        let bars: Vec<Rectangle<(f64, f64)>> = counts
            .iter()
            .filter(|entry| entry.class_name == class && entry.minutes_ago < window)
            .map(|entry| {
                let base = stacked.entry(entry.minutes_ago).or_default();
                let x = -(entry.minutes_ago as f64);
                let rect = Rectangle::new(
                    [(x - 0.4, *base), (x + 0.4, *base + entry.count as f64)],
                    colour.filled(),
                );
                *base += entry.count as f64;
                rect
            })
            .collect();
        chart
            .draw_series(bars)
            .ok()?
            .label(crate::class_label(class))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
    }
    legend_at(&mut chart, size, SeriesLabelPosition::UpperLeft)?;
    root.present().ok()
}
