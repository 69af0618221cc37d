//! PNG reports of a training run: loss and accuracy curves per epoch, and the confusion matrix.
//! Rendered with plotters into an RGB buffer and encoded with `image`; the font is embedded so the
//! plots look the same on every machine, with or without system fonts.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};

use crate::metrics::EvaluationReport;
use crate::train::EpochRecord;
use crate::{MlError, MlResult};

pub(crate) const FONT_FAMILY: &str = "sans-serif";
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER_FONT: Once = Once::new();

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 520;
const TRAIN_COLOUR: RGBColor = RGBColor(31, 119, 180);
const VALIDATION_COLOUR: RGBColor = RGBColor(214, 39, 40);

fn plot_error(error: impl std::fmt::Display) -> MlError {
    MlError::Plot(error.to_string())
}

pub(crate) fn ensure_font() {
    // The embedded font is valid TrueType; registering it can only fail if the bytes were corrupted,
    // in which case plots render without text rather than not at all.
    REGISTER_FONT.call_once(|| {
        let _ = register_font(FONT_FAMILY, FontStyle::Normal, FONT);
    });
}

/// Draws into a white `width`x`height` canvas and saves it as PNG.
fn render_png(
    path: &Path,
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> MlResult<()>,
) -> MlResult<()> {
    render_rgb(width, height, draw)?
        .save(path)
        .map_err(plot_error)
}

/// Draws into a white `width`x`height` canvas, with the embedded font registered.
pub(crate) fn render_rgb(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> MlResult<()>,
) -> MlResult<image::RgbImage> {
    ensure_font();
    let mut buffer = vec![0u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        draw(&root)?;
        root.present().map_err(plot_error)?;
    }
    image::RgbImage::from_raw(width, height, buffer)
        .ok_or_else(|| plot_error("plot buffer has the wrong size"))
}

/// Two panels side by side: loss and accuracy per epoch, train against validation.
pub fn training_curves_png(history: &[EpochRecord], path: &Path) -> MlResult<()> {
    if history.is_empty() {
        return Err(plot_error("no epochs to plot"));
    }
    render_png(path, WIDTH, HEIGHT, |root| {
        let (left, right) = root.split_horizontally(WIDTH / 2);
        let last_epoch = history.len() as f64 + 0.5;
        let losses = history
            .iter()
            .flat_map(|r| [r.train_loss, r.validation_loss])
            .filter(|v| v.is_finite());
        let loss_max = losses.fold(0.0f64, f64::max) * 1.1;
        let accuracies = history
            .iter()
            .flat_map(|r| [r.train_accuracy, r.validation_accuracy]);
        let accuracy_min = (accuracies.fold(1.0f64, f64::min) - 0.05).max(0.0);
        let panels = [
            (
                &left,
                "Loss per epoch",
                "cross-entropy",
                0.0..loss_max.max(1e-3),
                (|r: &EpochRecord| r.train_loss) as fn(&EpochRecord) -> f64,
                (|r: &EpochRecord| r.validation_loss) as fn(&EpochRecord) -> f64,
                SeriesLabelPosition::UpperRight,
            ),
            (
                &right,
                "Accuracy per epoch",
                "accuracy",
                accuracy_min..1.0,
                |r: &EpochRecord| r.train_accuracy,
                |r: &EpochRecord| r.validation_accuracy,
                // Accuracy climbs towards the top right, where the legend would hide it.
                SeriesLabelPosition::LowerRight,
            ),
        ];
        for (area, title, y_label, y_range, train_value, validation_value, legend) in panels {
            let mut chart = ChartBuilder::on(area)
                .caption(title, (FONT_FAMILY, 26))
                .margin(16)
                .x_label_area_size(48)
                .y_label_area_size(64)
                .build_cartesian_2d(0.5..last_epoch, y_range)
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(y_label)
                .x_labels(history.len().min(20))
                .x_label_formatter(&|x| format!("{x:.0}"))
                .label_style((FONT_FAMILY, 16))
                .axis_desc_style((FONT_FAMILY, 18))
                .draw()
                .map_err(plot_error)?;
            for (name, colour, value) in [
                ("train", TRAIN_COLOUR, train_value),
                ("validation", VALIDATION_COLOUR, validation_value),
            ] {
                let points: Vec<(f64, f64)> = history
                    .iter()
                    .map(|r| (r.epoch as f64, value(r)))
                    .filter(|(_, v)| v.is_finite())
                    .collect();
                chart
                    .draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))
                    .map_err(plot_error)?
                    .label(name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                    });
                chart
                    .draw_series(
                        points
                            .into_iter()
                            .map(|p| Circle::new(p, 4, colour.filled())),
                    )
                    .map_err(plot_error)?;
            }
            chart
                .configure_series_labels()
                .position(legend)
                .label_font((FONT_FAMILY, 16))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(plot_error)?;
        }
        Ok(())
    })
}

/// A heatmap of the confusion matrix: rows are true classes, columns predictions; each cell shows its
/// count and is shaded by the share of its row, so classes of different sizes compare fairly.
pub fn confusion_matrix_png(report: &EvaluationReport, path: &Path) -> MlResult<()> {
    let classes = &report.classes;
    let matrix = &report.confusion_matrix.0;
    let n = classes.len();
    if n == 0 || matrix.len() != n || matrix.iter().any(|row| row.len() != n) {
        return Err(plot_error("confusion matrix does not match the class list"));
    }
    let side = 720u32;
    render_png(path, side, side, |root| {
        let title = format!(
            "Confusion matrix ({} images, accuracy {:.2}%)",
            report.images,
            report.accuracy * 100.0
        );
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT_FAMILY, 24))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(120)
            .build_cartesian_2d(0..n, 0..n)
            .map_err(plot_error)?;
        let label = |index: &usize| classes.get(*index).cloned().unwrap_or_default();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted class")
            .y_desc("true class")
            .x_labels(n)
            .y_labels(n)
            .x_label_offset(side as i32 / (2 * n as i32 + 2))
            .y_label_offset(-(side as i32) / (2 * n as i32 + 2))
            .x_label_formatter(&label)
            // Row 0 is drawn at the top, like a printed matrix.
            .y_label_formatter(&|index: &usize| {
                (n - 1)
                    .checked_sub(*index)
                    .map(|row| label(&row))
                    .unwrap_or_default()
            })
            .label_style((FONT_FAMILY, 16))
            .axis_desc_style((FONT_FAMILY, 18))
            .draw()
            .map_err(plot_error)?;
        for (row_index, row) in matrix.iter().enumerate() {
            let row_total = row.iter().sum::<u64>().max(1) as f64;
            for (column, &count) in row.iter().enumerate() {
                let share = count as f64 / row_total;
                let y = n - 1 - row_index;
                let fill = RGBColor(
                    (255.0 * (1.0 - 0.85 * share)) as u8,
                    (255.0 * (1.0 - 0.6 * share)) as u8,
                    255,
                );
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(column, y), (column + 1, y + 1)],
                        fill.filled(),
                    )))
                    .map_err(plot_error)?;
                let text_colour = if share > 0.55 { WHITE } else { BLACK };
                let centred = |size: u32| {
                    TextStyle::from((FONT_FAMILY, size).into_font())
                        .color(&text_colour)
                        .pos(Pos::new(HPos::Center, VPos::Center))
                };
                let (left, top) = chart.backend_coord(&(column, y + 1));
                let (right, bottom) = chart.backend_coord(&(column + 1, y));
                let (x_mid, y_mid) = ((left + right) / 2, (top + bottom) / 2);
                root.draw(&Text::new(
                    count.to_string(),
                    (x_mid, y_mid - 12),
                    centred(26),
                ))
                .map_err(plot_error)?;
                root.draw(&Text::new(
                    format!("{:.1}%", share * 100.0),
                    (x_mid, y_mid + 16),
                    centred(17),
                ))
                .map_err(plot_error)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ConfusionMatrix;

    fn history() -> Vec<EpochRecord> {
        (1..=4)
            .map(|epoch| EpochRecord {
                epoch,
                train_loss: 1.0 / epoch as f64,
                train_accuracy: 0.6 + 0.08 * epoch as f64,
                validation_loss: 1.2 / epoch as f64,
                validation_accuracy: 0.55 + 0.09 * epoch as f64,
                learning_rate: 1e-3,
                seconds: 1.0,
            })
            .collect()
    }

    /// Counts pixels close to `colour`: proof that a series or cell was actually drawn.
    fn pixels_near(image: &image::RgbImage, colour: RGBColor) -> usize {
        image
            .pixels()
            .filter(|p| {
                (p.0[0] as i32 - colour.0 as i32).abs() < 30
                    && (p.0[1] as i32 - colour.1 as i32).abs() < 30
                    && (p.0[2] as i32 - colour.2 as i32).abs() < 30
            })
            .count()
    }

    #[test]
    fn training_curves_draw_both_series_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        training_curves_png(&history(), &path).unwrap();
        let image = image::open(&path).unwrap().into_rgb8();
        assert_eq!(image.dimensions(), (WIDTH, HEIGHT));
        assert!(
            pixels_near(&image, TRAIN_COLOUR) > 500,
            "train line missing"
        );
        assert!(
            pixels_near(&image, VALIDATION_COLOUR) > 500,
            "validation line missing"
        );
        // Captions, ticks and legends are black text.
        assert!(pixels_near(&image, BLACK) > 1_000, "text missing");
    }

    #[test]
    fn confusion_matrix_shades_cells_by_row_share() {
        let truth = [0, 0, 0, 0, 1, 1, 1, 1];
        let predicted = [0, 0, 0, 0, 1, 1, 1, 0];
        let matrix = ConfusionMatrix::from_labels(&truth, &predicted, 2);
        let report = EvaluationReport::new(&["glioma", "meningioma"], matrix, None, 0.0);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("confusion.png");
        confusion_matrix_png(&report, &path).unwrap();
        let image = image::open(&path).unwrap().into_rgb8();
        // A full row share is the darkest blue; an empty cell stays white.
        let darkest = RGBColor(38, 102, 255);
        assert!(
            pixels_near(&image, darkest) > 10_000,
            "diagonal cell missing"
        );
    }

    #[test]
    fn empty_history_is_an_error_not_a_blank_plot() {
        let dir = tempfile::tempdir().unwrap();
        assert!(training_curves_png(&[], &dir.path().join("x.png")).is_err());
    }
}
