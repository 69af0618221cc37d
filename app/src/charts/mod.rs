//! Charts drawn in the browser on `<canvas>` with plotters, one module per page, on the frame,
//! axes, colours and legends every chart shares. The code is compiled into the server too, where it
//! is never called: [`crate::components::chart_canvas::ChartCanvas`] draws only in the browser, so
//! pages need no feature gates of their own.

mod drift;
mod insights;
mod model;
mod monitor;
mod prediction;
mod series;

pub use drift::drift_signal;
pub use insights::{class_distribution, distribution, scatter};
pub use model::{class_scores, confusion_matrix, reliability, training_curve, CurveMetric};
pub use monitor::{predictions_per_minute, traffic_history, HistoryFigures};
pub use prediction::probabilities;
pub use series::{series_strip, strip_slice_at};

use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use web_sys::HtmlCanvasElement;

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

type Area = DrawingArea<CanvasBackend, plotters::coord::Shift>;

/// How tall a chart is for its width: `ratio` of it, kept within `min..=max` pixels.
struct Height {
    ratio: f64,
    min: u32,
    max: u32,
}

/// Most charts: a little over half as tall as wide.
const STANDARD: Height = Height {
    ratio: 0.55,
    min: 240,
    max: 460,
};

/// Sizes the canvas to the width it is shown at (so text stays readable on a phone), clears it to
/// white and returns the area to draw on with the font size for that width.
fn blank_area(canvas: &HtmlCanvasElement, height: Height) -> Option<(Area, u32)> {
    let width = canvas.client_width().clamp(280, 1100) as u32;
    let pixels = (width as f64 * height.ratio).clamp(height.min as f64, height.max as f64) as u32;
    canvas.set_width(width);
    canvas.set_height(pixels);
    let root = CanvasBackend::with_canvas_object(canvas.clone())?.into_drawing_area();
    root.fill(&WHITE).ok()?;
    Some((root, font_size(width)))
}

/// The label for axis positions at category centres (`i + 0.5`), empty elsewhere.
fn category_label(labels: &[String], position: f64) -> String {
    let index = position.floor();
    if index >= 0.0 && (position - index - 0.5).abs() < 0.01 {
        labels.get(index as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

fn font_size(width: u32) -> u32 {
    if width < 480 {
        12
    } else {
        15
    }
}

type Chart<'a> = ChartContext<'a, CanvasBackend, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The frame every chart shares: its title (none when empty) over a plot of `x` by `y`, with room
/// for `y_label_chars` font sizes of labels on the left.
fn chart_frame<'a>(
    root: &'a Area,
    title: &str,
    size: u32,
    y_label_chars: u32,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Option<Chart<'a>> {
    let mut builder = ChartBuilder::on(root);
    if !title.is_empty() {
        builder.caption(title, (FONT, size + 5));
    }
    builder
        .margin(10)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * y_label_chars)
        .build_cartesian_2d(x, y)
        .ok()
}

/// Axis descriptions and label fonts, the same on every chart.
trait SharedAxes {
    fn shared_axes(&mut self, size: u32, x_desc: &str, y_desc: &str) -> &mut Self;
}

impl<X: Ranged, Y: Ranged> SharedAxes for MeshStyle<'_, '_, X, Y, CanvasBackend> {
    fn shared_axes(&mut self, size: u32, x_desc: &str, y_desc: &str) -> &mut Self {
        self.x_desc(x_desc)
            .y_desc(y_desc)
            .label_style((FONT, size))
            .axis_desc_style((FONT, size))
    }
}

/// A labelled line through `points` with a dot on each, as the legend shows it.
fn line_with_points<X, Y>(
    chart: &mut ChartContext<'_, CanvasBackend, Cartesian2d<X, Y>>,
    name: impl Into<String>,
    points: Vec<(f64, f64)>,
    colour: RGBColor,
    radius: i32,
) -> Option<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
        .ok()?
        .label(name)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], colour.stroke_width(3)));
    chart
        .draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, radius, colour.filled())),
        )
        .ok()?;
    Some(())
}

fn legend<X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'_, CanvasBackend, Cartesian2d<X, Y>>,
    size: u32,
) -> Option<()> {
    legend_at(chart, size, SeriesLabelPosition::UpperRight)
}

fn legend_at<X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'_, CanvasBackend, Cartesian2d<X, Y>>,
    size: u32,
    position: SeriesLabelPosition,
) -> Option<()> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, size))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()
        .ok()
}
