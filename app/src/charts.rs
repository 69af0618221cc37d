//! Charts drawn in the browser on `<canvas>` with plotters. Browser-only: the server renders the
//! canvases empty and the WASM bundle draws them after hydration.

use std::collections::BTreeMap;

use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;

use crate::api::insights::{Distribution, Scatter};

/// One colour per class, in class order, readable on white and distinct for common colour blindness.
pub const CLASS_COLOURS: [RGBColor; 4] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
];
const FONT: &str = "sans-serif";

fn colour_of(class: &str) -> RGBColor {
    crate::CLASS_NAMES
        .iter()
        .position(|c| *c == class)
        .map_or(RGBColor(90, 90, 90), |i| CLASS_COLOURS[i])
}

/// Sizes the canvas to the width it is shown at (so text stays readable on a phone) and returns a
/// plotters backend for it.
fn backend(canvas: &HtmlCanvasElement) -> Option<CanvasBackend> {
    let width = canvas.client_width().clamp(280, 1100) as u32;
    let height = (width as f64 * 0.55).clamp(240.0, 460.0) as u32;
    canvas.set_width(width);
    canvas.set_height(height);
    CanvasBackend::with_canvas_object(canvas.clone())
}

fn font_size(width: u32) -> u32 {
    if width < 480 {
        12
    } else {
        15
    }
}

/// Grouped bars: training images and uploads per class.
pub fn class_distribution(
    canvas: &HtmlCanvasElement,
    training: &BTreeMap<String, usize>,
    uploads: &BTreeMap<String, i64>,
) -> Option<()> {
    let backend = backend(canvas)?;
    let width = canvas.width();
    let size = font_size(width);
    let root = backend.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let classes = crate::CLASS_NAMES;
    let max = training
        .values()
        .map(|&v| v as f64)
        .chain(uploads.values().map(|&v| v as f64))
        .fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("Images per class", (FONT, size + 5))
        .margin(10)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * 4)
        .build_cartesian_2d(0.0..classes.len() as f64, 0.0..max * 1.15)
        .ok()?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(classes.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let index = x.floor() as usize;
            if (x - index as f64 - 0.5).abs() < 0.01 && index < classes.len() {
                crate::class_label(classes[index])
            } else {
                String::new()
            }
        })
        .x_desc("class")
        .y_desc("images")
        .label_style((FONT, size))
        .axis_desc_style((FONT, size))
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

fn legend<X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'_, CanvasBackend, Cartesian2d<X, Y>>,
    size: u32,
) -> Option<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, size))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()
        .ok()
}

/// Overlaid per-class histograms (as outlined steps) of one feature, on shared bins.
pub fn distribution(
    canvas: &HtmlCanvasElement,
    title: &str,
    x_label: &str,
    data: &Distribution,
) -> Option<()> {
    let backend = backend(canvas)?;
    let size = font_size(canvas.width());
    let root = backend.into_drawing_area();
    root.fill(&WHITE).ok()?;
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
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, size + 5))
        .margin(10)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * 4)
        .build_cartesian_2d(low..high, 0.0..top * 1.15)
        .ok()?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("share of the class")
        .label_style((FONT, size))
        .axis_desc_style((FONT, size))
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
    let backend = backend(canvas)?;
    let size = font_size(canvas.width());
    let root = backend.into_drawing_area();
    root.fill(&WHITE).ok()?;
    let bounds = |f: fn(&crate::api::insights::ScatterPoint) -> f64| {
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
    let mut chart = ChartBuilder::on(&root)
        .caption("Edge strength against brightness", (FONT, size + 5))
        .margin(10)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * 4)
        .build_cartesian_2d(x_low * 0.95..x_high * 1.05, y_low * 0.95..y_high * 1.05)
        .ok()?;
    chart
        .configure_mesh()
        .x_desc("mean intensity (0-255)")
        .y_desc("mean Sobel gradient")
        .label_style((FONT, size))
        .axis_desc_style((FONT, size))
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
