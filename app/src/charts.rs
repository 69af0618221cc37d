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
        .x_label_formatter(&|x| category_label(&labels, *x))
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
    let (root, size) = blank_area(canvas, STANDARD)?;
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
    let mut chart = ChartBuilder::on(&root)
        .margin(8)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * 7)
        .build_cartesian_2d(0.0..112.0, 0.0..rows as f64)
        .ok()?;
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
        .x_desc("probability")
        .label_style((FONT, size))
        .axis_desc_style((FONT, size))
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

/// The confusion matrix as a heatmap: each cell shaded by its share of the true class's images,
/// with the count written in it.
pub fn confusion_matrix(
    canvas: &HtmlCanvasElement,
    classes: &[String],
    matrix: &[Vec<u64>],
) -> Option<()> {
    let (root, size) = blank_area(
        canvas,
        Height {
            ratio: 0.8,
            min: 280,
            max: 620,
        },
    )?;
    let n = classes.len();
    let labels: Vec<String> = classes.iter().map(|c| crate::class_label(c)).collect();
    let top_down: Vec<String> = labels.iter().rev().cloned().collect();
    let mut chart = ChartBuilder::on(&root)
        .caption("Confusion matrix (validation images)", (FONT, size + 5))
        .margin(10)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * 7)
        .build_cartesian_2d(0.0..n as f64, 0.0..n as f64)
        .ok()?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n * 2 + 1)
        .y_labels(n * 2 + 1)
        .x_label_formatter(&|x| category_label(&labels, *x))
        .y_label_formatter(&|y| category_label(&top_down, *y))
        .x_desc("predicted class")
        .y_desc("true class")
        .label_style((FONT, size))
        .axis_desc_style((FONT, size))
        .draw()
        .ok()?;
    for (row, counts) in matrix.iter().enumerate().take(n) {
        let total = counts.iter().sum::<u64>().max(1) as f64;
        // The first class sits on the top row, as in a printed matrix.
        let y = (n - 1 - row) as f64;
        for (column, &count) in counts.iter().enumerate().take(n) {
            let share = count as f64 / total;
            let shade = RGBColor(
                (247.0 - share * 239.0) as u8,
                (251.0 - share * 203.0) as u8,
                (255.0 - share * 148.0) as u8,
            );
            let x = column as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    shade.filled(),
                )))
                .ok()?;
            let ink = if share > 0.5 { WHITE } else { BLACK };
            chart
                .draw_series(std::iter::once(Text::new(
                    count.to_string(),
                    (x + 0.42, y + 0.56),
                    (FONT, size + 2).into_font().color(&ink),
                )))
                .ok()?;
        }
    }
    root.present().ok()
}

/// Precision, recall and F1 side by side for each class.
pub fn class_scores(
    canvas: &HtmlCanvasElement,
    scores: &[crate::api::model::ClassScore],
) -> Option<()> {
    let (root, size) = blank_area(canvas, STANDARD)?;
    let labels: Vec<String> = scores
        .iter()
        .map(|s| crate::class_label(&s.class_name))
        .collect();
    // Scores of a usable model sit in the top tenth; starting the axis below the lowest one keeps
    // their differences visible, and the axis says where it starts.
    let lowest = scores
        .iter()
        .flat_map(|s| [s.precision, s.recall, s.f1])
        .fold(1.0, f64::min);
    let floor = ((lowest * 10.0).floor() / 10.0 - 0.1).max(0.0);
    let mut chart = ChartBuilder::on(&root)
        .caption("Per-class scores", (FONT, size + 5))
        .margin(10)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * 4)
        .build_cartesian_2d(0.0..scores.len() as f64, floor..1.0)
        .ok()?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(scores.len() * 2 + 1)
        .x_label_formatter(&|x| category_label(&labels, *x))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .x_desc("class")
        .y_desc("score (0-1)")
        .label_style((FONT, size))
        .axis_desc_style((FONT, size))
        .draw()
        .ok()?;
    type Metric = fn(&crate::api::model::ClassScore) -> f64;
    let metrics: [(&str, RGBColor, Metric); 3] = [
        ("precision", RGBColor(0, 114, 178), |s| s.precision),
        ("recall", RGBColor(230, 159, 0), |s| s.recall),
        ("F1", RGBColor(0, 158, 115), |s| s.f1),
    ];
    for (index, (name, colour, value)) in metrics.into_iter().enumerate() {
        let bars = scores.iter().enumerate().map(move |(i, score)| {
            let x0 = i as f64 + 0.1 + index as f64 * 0.27;
            Rectangle::new([(x0, floor), (x0 + 0.25, value(score))], colour.filled())
        });
        chart
            .draw_series(bars)
            .ok()?
            .label(name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
    }
    legend_at(&mut chart, size, SeriesLabelPosition::LowerRight)?;
    root.present().ok()
}

/// Reliability diagram: each confidence bin's accuracy against its mean confidence, before and
/// after temperature calibration, over the diagonal a perfectly calibrated model would follow.
pub fn reliability(
    canvas: &HtmlCanvasElement,
    trust: &crate::api::model::TrustSummary,
) -> Option<()> {
    let (root, size) = blank_area(canvas, STANDARD)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Reliability on the validation split", (FONT, size + 5))
        .margin(10)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * 4)
        .build_cartesian_2d(0.0..1.0f64, 0.0..1.0f64)
        .ok()?;
    chart
        .configure_mesh()
        .x_desc("confidence")
        .y_desc("accuracy")
        .x_label_formatter(&|x| format!("{x:.1}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .label_style((FONT, size))
        .axis_desc_style((FONT, size))
        .draw()
        .ok()?;
    let grey = RGBColor(150, 150, 150);
    chart
        .draw_series(LineSeries::new(
            vec![(0.0, 0.0), (1.0, 1.0)],
            grey.stroke_width(1),
        ))
        .ok()?
        .label("perfectly calibrated")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], grey.stroke_width(1)));
    for (name, bins, colour) in [
        (
            format!("raw (ECE {:.3})", trust.ece_uncalibrated),
            &trust.reliability_uncalibrated,
            RGBColor(213, 94, 0),
        ),
        (
            format!("calibrated (ECE {:.3})", trust.ece_calibrated),
            &trust.reliability_calibrated,
            RGBColor(0, 114, 178),
        ),
    ] {
        let points: Vec<(f64, f64)> = bins
            .iter()
            .filter(|bin| bin.count > 0)
            .map(|bin| (bin.mean_confidence, bin.accuracy))
            .collect();
        line_with_points(&mut chart, name, points, colour, 4)?;
    }
    legend_at(&mut chart, size, SeriesLabelPosition::UpperLeft)?;
    root.present().ok()
}

/// Which per-epoch figure a training-curve chart shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CurveMetric {
    Loss,
    Accuracy,
}

/// Train against validation, one point per epoch.
pub fn training_curve(
    canvas: &HtmlCanvasElement,
    curve: &crate::api::model::TrainingCurve,
    metric: CurveMetric,
) -> Option<()> {
    let (root, size) = blank_area(canvas, STANDARD)?;
    let pick = |train: bool| -> Vec<(f64, f64)> {
        curve
            .epochs
            .iter()
            .filter_map(|e| {
                let value = match (metric, train) {
                    (CurveMetric::Loss, true) => Some(e.train_loss),
                    (CurveMetric::Loss, false) => e.validation_loss,
                    (CurveMetric::Accuracy, true) => Some(e.train_accuracy * 100.0),
                    (CurveMetric::Accuracy, false) => e.validation_accuracy.map(|a| a * 100.0),
                };
                value.filter(|v| v.is_finite()).map(|v| (e.epoch as f64, v))
            })
            .collect()
    };
    let (train, validation) = (pick(true), pick(false));
    let last_epoch = curve
        .epochs
        .iter()
        .map(|e| e.epoch)
        .max()
        .unwrap_or(1)
        .max(2) as f64;
    let (title, y_desc) = match metric {
        CurveMetric::Loss => ("Loss per epoch", "cross-entropy loss"),
        CurveMetric::Accuracy => ("Accuracy per epoch", "accuracy (%)"),
    };
    let values = train.iter().chain(&validation).map(|p| p.1);
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !low.is_finite() {
        return None;
    }
    let pad = ((high - low) * 0.08).max(0.01);
    let y_range = match metric {
        CurveMetric::Loss => 0.0f64.max(low - pad)..high + pad,
        CurveMetric::Accuracy => (low - pad).max(0.0)..(high + pad).min(100.5),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, size + 5))
        .margin(10)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * 4)
        .build_cartesian_2d(1.0..last_epoch, y_range)
        .ok()?;
    chart
        .configure_mesh()
        .x_labels((last_epoch as usize).min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("epoch")
        .y_desc(y_desc)
        .label_style((FONT, size))
        .axis_desc_style((FONT, size))
        .draw()
        .ok()?;
    for (name, points, colour) in [
        ("train", train, RGBColor(0, 114, 178)),
        ("validation", validation, RGBColor(213, 94, 0)),
    ] {
        if points.is_empty() {
            continue;
        }
        line_with_points(&mut chart, name, points, colour, 3)?;
    }
    legend(&mut chart, size)?;
    root.present().ok()
}

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
    let mut chart = ChartBuilder::on(&root)
        .caption("Predictions per minute", (FONT, size + 5))
        .margin(10)
        .x_label_area_size(size * 3)
        .y_label_area_size(size * 4)
        .build_cartesian_2d(-(window as f64)..1.0, 0.0..top * 1.15)
        .ok()?;
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
        .x_desc("minutes ago")
        .y_desc("predictions")
        .label_style((FONT, size))
        .axis_desc_style((FONT, size))
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
