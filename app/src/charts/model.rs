//! The Model page: how the serving model scores, how sure it is, and how it trained.

use plotters::prelude::*;
use web_sys::HtmlCanvasElement;

use super::*;

/// The confusion matrix as a heatmap: each cell shaded by its share of the true class's images,
/// with the count written in it.
pub fn confusion_matrix(
    canvas: &HtmlCanvasElement,
    title: &str,
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
    let mut chart = chart_frame(&root, title, size, 7, 0.0..n as f64, 0.0..n as f64)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n * 2 + 1)
        .y_labels(n * 2 + 1)
        .x_label_formatter(&|x| category_label(&labels, *x))
        .y_label_formatter(&|y| category_label(&top_down, *y))
        .shared_axes(size, "predicted class", "true class")
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
    scores: &[crate::types::model::ClassScore],
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
    let mut chart = chart_frame(
        &root,
        "Per-class scores",
        size,
        4,
        0.0..scores.len() as f64,
        floor..1.0,
    )?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(scores.len() * 2 + 1)
        .x_label_formatter(&|x| category_label(&labels, *x))
        .y_label_formatter(&|y| format!("{y:.2}"))
        .shared_axes(size, "class", "score (0-1)")
        .draw()
        .ok()?;
    type Metric = fn(&crate::types::model::ClassScore) -> f64;
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
    trust: &crate::types::model::TrustSummary,
) -> Option<()> {
    let (root, size) = blank_area(canvas, STANDARD)?;
    let mut chart = chart_frame(
        &root,
        "Reliability on the validation split",
        size,
        4,
        0.0..1.0f64,
        0.0..1.0f64,
    )?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format!("{x:.1}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .shared_axes(size, "confidence", "accuracy")
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
    curve: &crate::types::model::TrainingCurve,
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
    let mut chart = chart_frame(&root, title, size, 4, 1.0..last_epoch, y_range)?;
    chart
        .configure_mesh()
        .x_labels((last_epoch as usize).min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .shared_axes(size, "epoch", y_desc)
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
    // Loss falls and accuracy rises towards the last epochs: the legend goes where the curves are
    // not, so it never hides how training ended.
    let corner = match metric {
        CurveMetric::Loss => SeriesLabelPosition::UpperRight,
        CurveMetric::Accuracy => SeriesLabelPosition::LowerRight,
    };
    legend_at(&mut chart, size, corner)?;
    root.present().ok()
}
