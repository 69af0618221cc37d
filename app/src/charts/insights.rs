//! The Insights page: the dataset's classes and image features.

use std::collections::BTreeMap;

use plotters::prelude::*;
use web_sys::HtmlCanvasElement;

use super::{blank_area, category_label, chart_frame, colour_of, legend, SharedAxes, STANDARD};
use crate::types::insights::{Distribution, Scatter};

/// Grouped bars: training images and uploads per class.
pub fn class_distribution(
    canvas: &HtmlCanvasElement,
    training: &BTreeMap<String, usize>,
    uploads: &BTreeMap<String, i64>,
) -> Option<()> {
    let (root, size) = blank_area(canvas, STANDARD)?;
    let classes = crate::CLASS_NAMES;
    let labels: Vec<String> = classes.iter().map(|c| crate::class_label(c)).collect();
    let max = training
        .values()
        .map(|&v| v as f64)
        .chain(uploads.values().map(|&v| v as f64))
        .fold(1.0, f64::max);
    let mut chart = chart_frame(
        &root,
        "Images per class",
        size,
        // Four-digit counts and the rotated axis name beside them.
        5,
        0.0..classes.len() as f64,
        0.0..max * 1.15,
    )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(classes.len() * 2 + 1)
        .x_label_formatter(&|x| category_label(&labels, *x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .shared_axes(size, "class", "images")
        .draw()
        .ok()?;
    let series = [
        ("training images", RGBColor(53, 84, 209), 0.12, true),
        ("uploads", RGBColor(230, 159, 0), 0.5, false),
    ];
    for (name, colour, offset, is_training) in series {
        let bars = classes.iter().enumerate().map(|(i, class)| {
            let value = if is_training {
                training.get(*class).copied().unwrap_or(0) as f64
            } else {
                uploads.get(*class).copied().unwrap_or(0) as f64
            };
            let x0 = i as f64 + offset;
            Rectangle::new([(x0, 0.0), (x0 + 0.38, value)], colour.filled())
        });
        chart
            .draw_series(bars)
            .ok()?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
    }
    legend(&mut chart, size)?;
    root.present().ok()
}

/// Overlaid per-class histograms (as outlined steps) of one feature, on shared bins.
pub fn distribution(
    canvas: &HtmlCanvasElement,
    title: &str,
    x_label: &str,
    data: &Distribution,
) -> Option<()> {
    let (root, size) = blank_area(canvas, STANDARD)?;
    let (low, high) = (*data.bin_edges.first()?, *data.bin_edges.last()?);
    // Shares rather than counts, so classes of different sizes compare.
    let shares: BTreeMap<&String, Vec<f64>> = data
        .histograms
        .iter()
        .map(|(class, counts)| {
            let total = counts.iter().sum::<usize>().max(1) as f64;
            (class, counts.iter().map(|&c| c as f64 / total).collect())
        })
        .collect();
    let top = shares
        .values()
        .flat_map(|v| v.iter().copied())
        .fold(0.01, f64::max);
    let mut chart = chart_frame(&root, title, size, 4, low..high, 0.0..top * 1.15)?;
    chart
        .configure_mesh()
        .shared_axes(size, x_label, "share of the class")
        .draw()
        .ok()?;
    for (class, values) in shares {
        let colour = colour_of(class);
        let mut points = Vec::with_capacity(values.len() * 2 + 2);
        for (i, share) in values.iter().enumerate() {
            points.push((data.bin_edges[i], *share));
            points.push((data.bin_edges[i + 1], *share));
        }
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(3)))
            .ok()?
            .label(crate::class_label(class))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(3))
            });
    }
    legend(&mut chart, size)?;
    root.present().ok()
}

/// Gradient mean against mean intensity, one colour per class.
pub fn scatter(canvas: &HtmlCanvasElement, data: &Scatter) -> Option<()> {
    let (root, size) = blank_area(canvas, STANDARD)?;
    let bounds = |f: fn(&crate::types::insights::ScatterPoint) -> f64| {
        data.points
            .iter()
            .map(f)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (x_low, x_high) = bounds(|p| p.x);
    let (y_low, y_high) = bounds(|p| p.y);
    if !x_low.is_finite() {
        return None;
    }
    let mut chart = chart_frame(
        &root,
        "Edge strength against brightness",
        size,
        4,
        x_low * 0.95..x_high * 1.05,
        y_low * 0.95..y_high * 1.05,
    )?;
    chart
        .configure_mesh()
        .shared_axes(size, "mean intensity (0-255)", "mean Sobel gradient")
        .draw()
        .ok()?;
    for class in crate::CLASS_NAMES {
        let colour = colour_of(class);
        let points = data
            .points
            .iter()
            .filter(|p| p.class_name == class)
            .map(|p| Circle::new((p.x, p.y), 3, colour.mix(0.7).filled()));
        chart
            .draw_series(points)
            .ok()?
            .label(crate::class_label(class))
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, colour.filled()));
    }
    legend(&mut chart, size)?;
    root.present().ok()
}
