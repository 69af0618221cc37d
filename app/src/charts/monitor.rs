//! The Monitor page: predictions over time.

use std::collections::BTreeMap;

use plotters::prelude::*;
use web_sys::HtmlCanvasElement;

use super::*;

/// The Monitor page's charts: wide and low, so several fit on a screen.
const MONITOR_HEIGHT: Height = Height {
    ratio: 0.4,
    min: 220,
    max: 360,
};

/// Predictions per minute over the last `window` minutes, stacked by predicted class.
pub fn predictions_per_minute(
    canvas: &HtmlCanvasElement,
    counts: &[crate::types::monitor::MinuteCount],
    window: i64,
) -> Option<()> {
    let (root, size) = blank_area(canvas, MONITOR_HEIGHT)?;
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

/// Which figures a traffic-history chart shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HistoryFigures {
    /// Refusal, review, 4xx and 5xx rates, in percent.
    Rates,
    /// Time per image, p50 and p95, in milliseconds.
    Latency,
}

/// A series' name, its points and its colour.
type NamedLine<'a> = (&'a str, Vec<(f64, f64)>, RGBColor);

/// Rates or latency over the history's window, one point per stretch; stretches without traffic
/// have no point (a gap, not a zero).
pub fn traffic_history(
    canvas: &HtmlCanvasElement,
    history: &crate::types::monitor::MetricsHistory,
    figures: HistoryFigures,
) -> Option<()> {
    let (root, size) = blank_area(canvas, MONITOR_HEIGHT)?;
    let count = history.points.len() as f64;
    let hours = history.minutes_per_point >= 60;
    // x: how long before now each stretch ends, in minutes or hours.
    let per_point = history.minutes_per_point as f64 / if hours { 60.0 } else { 1.0 };
    let x_of = |index: usize| -((count - 1.0 - index as f64) * per_point);
    type Pick = fn(&crate::types::monitor::HistoryPoint) -> Option<f64>;
    let series: Vec<(&str, Pick, RGBColor)> = match figures {
        HistoryFigures::Rates => vec![
            (
                "refused",
                |p| p.refusal_rate.map(|r| r * 100.0),
                RGBColor(213, 94, 0),
            ),
            (
                "flagged for review",
                |p| p.review_rate.map(|r| r * 100.0),
                RGBColor(0, 114, 178),
            ),
            (
                "4xx",
                |p| p.client_error_rate.map(|r| r * 100.0),
                RGBColor(204, 121, 167),
            ),
            (
                "5xx",
                |p| p.server_error_rate.map(|r| r * 100.0),
                RGBColor(0, 0, 0),
            ),
        ],
        HistoryFigures::Latency => vec![
            ("p50", |p| p.p50_ms, RGBColor(0, 158, 115)),
            ("p95", |p| p.p95_ms, RGBColor(213, 94, 0)),
        ],
    };
    let lines: Vec<NamedLine> = series
        .into_iter()
        .map(|(name, pick, colour)| {
            let points = history
                .points
                .iter()
                .enumerate()
                .filter_map(|(index, point)| pick(point).map(|value| (x_of(index), value)))
                .collect();
            (name, points, colour)
        })
        .collect();
    let top = lines
        .iter()
        .flat_map(|(_, points, _)| points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let (title, y_desc, ceiling) = match figures {
        HistoryFigures::Rates => ("Rates", "% of requests or images", top.clamp(5.0, 100.0)),
        HistoryFigures::Latency => ("Time per image", "milliseconds", top.max(10.0)),
    };
    let x_desc = if hours { "hours ago" } else { "minutes ago" };
    let span = (count - 1.0).max(1.0) * per_point;
    let mut chart = chart_frame(&root, title, size, 4, -span..0.0, 0.0..ceiling * 1.15)?;
    chart
        .configure_mesh()
        .x_labels(7)
        .x_label_formatter(&|x| format!("{:.0}", x.abs()))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .shared_axes(size, x_desc, y_desc)
        .draw()
        .ok()?;
    for (name, points, colour) in lines {
        if !points.is_empty() {
            line_with_points(&mut chart, name, points, colour, 2)?;
        }
    }
    legend_at(&mut chart, size, SeriesLabelPosition::UpperLeft)?;
    root.present().ok()
}
