//! The Predict page: one image's class probabilities.

use std::collections::BTreeMap;

use plotters::prelude::*;
use web_sys::HtmlCanvasElement;

use super::*;

/// One horizontal bar per class with its probability written beside it.
pub fn probabilities(
    canvas: &HtmlCanvasElement,
    probabilities: &BTreeMap<String, f64>,
) -> Option<()> {
    let (root, size) = blank_area(
        canvas,
        Height {
            ratio: 0.32,
            min: 170,
            max: 230,
        },
    )?;
    // Most likely class on top.
    let mut ranked: Vec<(&String, f64)> = probabilities.iter().map(|(c, p)| (c, *p)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let rows = ranked.len();
    let labels: Vec<String> = ranked
        .iter()
        .rev()
        .map(|(class, _)| crate::class_label(class))
        .collect();
    let mut chart = chart_frame(&root, "", size, 7, 0.0..112.0, 0.0..rows as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows * 2 + 1)
        .y_label_formatter(&|y| category_label(&labels, *y))
        .x_labels(6)
        .x_label_formatter(&|x| {
            if *x <= 100.0 {
                format!("{x:.0}%")
            } else {
                String::new()
            }
        })
        .shared_axes(size, "probability", "")
        .draw()
        .ok()?;
    for (rank, (class, probability)) in ranked.iter().enumerate() {
        let y = (rows - 1 - rank) as f64;
        let percent = probability * 100.0;
        let colour = colour_of(class);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.18), (percent, y + 0.82)],
                colour.filled(),
            )))
            .ok()?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{percent:.1}%"),
                (percent + 1.5, y + 0.62),
                (FONT, size).into_font(),
            )))
            .ok()?;
    }
    root.present().ok()
}
