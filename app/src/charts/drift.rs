//! The Monitor page's drift charts: one signal's shares per bin on the validation split and in
//! the recent predictions, side by side.

use plotters::prelude::*;
use web_sys::HtmlCanvasElement;

use super::*;

const DRIFT_HEIGHT: Height = Height {
    ratio: 0.5,
    min: 220,
    max: 320,
};
/// The colours the page's key names (`.swatch-baseline`, `.swatch-recent` in the style sheet).
const BASELINE_COLOUR: RGBColor = RGBColor(150, 150, 150);
const RECENT_COLOUR: RGBColor = RGBColor(0, 114, 178);

/// Grouped bars per bin: grey for the validation split, blue for the recent predictions.
pub fn drift_signal(
    canvas: &HtmlCanvasElement,
    signal: &crate::types::drift::SignalDrift,
) -> Option<()> {
    let (root, size) = blank_area(canvas, DRIFT_HEIGHT)?;
    let bins = signal.bins.len();
    let plot_width = (canvas.width() as f64 - f64::from(size) * 4.0).max(1.0);
    // How many labels to skip between shown ones so that none overlap.
    let spacing = |labels: &[String]| {
        let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64;
        let label_width = widest * f64::from(size) * 0.6 + 8.0;
        ((label_width * bins as f64 / plot_width).ceil() as usize).max(1)
    };
    let labels: Vec<String> = if signal.signal == "class_mix" {
        // Every class is named; in a narrow chart, shortened.
        let full: Vec<String> = signal.bins.iter().map(|c| crate::class_label(c)).collect();
        if spacing(&full) == 1 {
            full
        } else {
            full.iter()
                .map(|label| match label.char_indices().nth(6) {
                    Some((at, _)) => format!("{}.", &label[..at]),
                    None => label.clone(),
                })
                .collect()
        }
    } else {
        signal.bins.clone()
    };
    let every = if signal.signal == "class_mix" {
        1
    } else {
        spacing(&labels)
    };
    let top = signal
        .baseline_shares
        .iter()
        .chain(&signal.recent_shares)
        .fold(0.0f64, |a, &b| a.max(b))
        .max(0.05);
    let mut chart = chart_frame(&root, "", size, 4, 0.0..bins as f64, 0.0..top * 1.1)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(bins * 2 + 1)
        .x_label_formatter(&|x| {
            let index = x.floor() as usize;
            if index.is_multiple_of(every) {
                category_label(&labels, *x)
            } else {
                String::new()
            }
        })
        .y_labels(5)
        .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
        .shared_axes(size, "", "share")
        .draw()
        .ok()?;
    // The page says once which colour is which (a legend in each small chart would hide bars).
    let series: [(RGBColor, &Vec<f64>, f64); 2] = [
        (BASELINE_COLOUR, &signal.baseline_shares, 0.08),
        (RECENT_COLOUR, &signal.recent_shares, 0.5),
    ];
    for (colour, shares, offset) in series {
        let bars = shares.iter().enumerate().map(move |(i, &share)| {
            let x0 = i as f64 + offset;
            Rectangle::new([(x0, 0.0), (x0 + 0.42, share)], colour.filled())
        });
        chart.draw_series(bars).ok()?;
    }
    root.present().ok()
}
