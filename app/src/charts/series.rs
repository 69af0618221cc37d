//! The Series page's strip: every slice's probability per class, left to right, the current slice
//! shaded and the slices the verdict rests on marked; a click picks a slice ([`strip_slice_at`]).

use plotters::prelude::*;
use web_sys::HtmlCanvasElement;

use super::*;

const STRIP_HEIGHT: Height = Height {
    ratio: 0.28,
    min: 170,
    max: 240,
};
/// Font sizes of room for the y labels (as `chart_frame` is given it).
const Y_LABEL_CHARS: u32 = 4;
const MARGIN: f64 = 10.0;

/// The slice (0-based) under `x` pixels on a strip `width` pixels wide, for `count` slices.
pub fn strip_slice_at(width: u32, x: f64, count: usize) -> Option<usize> {
    let left = MARGIN + f64::from(font_size(width) * Y_LABEL_CHARS);
    let right = f64::from(width) - MARGIN;
    if count == 0 || x < left || x > right {
        return None;
    }
    Some(
        (((x - left) / (right - left)) * count as f64)
            .floor()
            .min(count as f64 - 1.0) as usize,
    )
}

pub fn series_strip(
    canvas: &HtmlCanvasElement,
    slices: &[crate::types::series::SeriesSlice],
    driving: &[usize],
    current: usize,
) -> Option<()> {
    let (root, size) = blank_area(canvas, STRIP_HEIGHT)?;
    let count = slices.len().max(1);
    let mut chart = chart_frame(&root, "", size, Y_LABEL_CHARS, 0.0..count as f64, 0.0..1.05)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(3)
        .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
        .shared_axes(size, "slice", "")
        .draw()
        .ok()?;
    let band = |i: usize, colour: RGBAColor| {
        Rectangle::new([(i as f64, 0.0), (i as f64 + 1.0, 1.05)], colour.filled())
    };
    chart
        .draw_series(
            driving
                .iter()
                .map(|&p| band(p.saturating_sub(1), RGBColor(255, 214, 140).mix(0.45))),
        )
        .ok()?;
    chart
        .draw_series([band(current, RGBColor(20, 20, 20).mix(0.15))])
        .ok()?;
    for class in crate::CLASS_NAMES {
        let colour = colour_of(class);
        // A refused slice breaks the line.
        let mut segment: Vec<(f64, f64)> = Vec::new();
        let mut segments = Vec::new();
        for (i, slice) in slices.iter().enumerate() {
            match slice.prediction.as_ref().and_then(|p| {
                p.probabilities
                    .iter()
                    .find(|(c, _)| c.as_str() == class)
                    .map(|(_, v)| *v)
            }) {
                Some(p) => segment.push((i as f64 + 0.5, p)),
                None => segments.push(std::mem::take(&mut segment)),
            }
        }
        segments.push(segment);
        for points in segments.into_iter().filter(|s| !s.is_empty()) {
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .ok()?;
        }
    }
    root.present().ok()
}
