//! Images that are not brain MRI slices, made on the fly and seeded, for measuring and testing the
//! refusal of the trust check: flat colours, noise, gradients, charts, text documents, web-page
//! screenshots, cartoons, and crops of photographs (the ones `scripts/fetch-pretrained.sh` takes
//! from the scikit-image wheel). Nothing here is a mock of an MRI: every kind is something a user
//! could upload by mistake.

use std::path::Path;

use image::{Rgb, RgbImage};
use plotters::prelude::*;

use crate::plots::{render_rgb, FONT_FAMILY as PLOT_FONT};
use crate::rng::Rng;
use crate::{MlError, MlResult};

/// The generated kinds (photographs come from files, see [`photo_crops`]).
pub const KINDS: [&str; 7] = [
    "flat",
    "noise",
    "gradient",
    "chart",
    "document",
    "screenshot",
    "cartoon",
];

fn colour(rng: &mut Rng) -> Rgb<u8> {
    Rgb([
        (rng.next_f32() * 255.0) as u8,
        (rng.next_f32() * 255.0) as u8,
        (rng.next_f32() * 255.0) as u8,
    ])
}

fn plot_colour(rng: &mut Rng) -> RGBColor {
    let Rgb([r, g, b]) = colour(rng);
    RGBColor(r, g, b)
}

fn draw_error(error: impl std::fmt::Display) -> MlError {
    MlError::Plot(error.to_string())
}

/// Image number `index` of `kind` (one of [`KINDS`]); the same arguments give the same pixels.
pub fn generate(kind: &str, index: u64) -> MlResult<RgbImage> {
    let mut rng = Rng::new(
        index
            .wrapping_mul(7919)
            .wrapping_add(kind.len() as u64 * 104_729),
    );
    let side = 192 + rng.below(320) as u32;
    let (width, height) = (side, (side as f32 * rng.uniform(0.6, 1.4)) as u32);
    match kind {
        "flat" => {
            // Half of them grey: a uniform grey frame must be refused as well as a coloured one.
            let fill = if index.is_multiple_of(2) {
                let v = (rng.next_f32() * 255.0) as u8;
                Rgb([v, v, v])
            } else {
                colour(&mut rng)
            };
            Ok(RgbImage::from_pixel(width, height, fill))
        }
        "noise" => {
            let grey = index.is_multiple_of(2);
            let scale = 1 + rng.below(6) as u32;
            let mut coarse = RgbImage::new(width / scale + 1, height / scale + 1);
            for pixel in coarse.pixels_mut() {
                *pixel = if grey {
                    let v = (rng.next_f32() * 255.0) as u8;
                    Rgb([v, v, v])
                } else {
                    colour(&mut rng)
                };
            }
            Ok(RgbImage::from_fn(width, height, |x, y| {
                *coarse.get_pixel(x / scale, y / scale)
            }))
        }
        "gradient" => {
            let (from, to) = (colour(&mut rng), colour(&mut rng));
            let radial = index.is_multiple_of(3);
            let angle = rng.uniform(0.0, std::f32::consts::TAU);
            let (cos, sin) = (angle.cos(), angle.sin());
            Ok(RgbImage::from_fn(width, height, |x, y| {
                let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
                let t = if radial {
                    (((u - 0.5).powi(2) + (v - 0.5).powi(2)).sqrt() * 1.4).min(1.0)
                } else {
                    ((u - 0.5) * cos + (v - 0.5) * sin + 0.5).clamp(0.0, 1.0)
                };
                let mix = |a: u8, b: u8| (f32::from(a) * (1.0 - t) + f32::from(b) * t) as u8;
                Rgb([
                    mix(from.0[0], to.0[0]),
                    mix(from.0[1], to.0[1]),
                    mix(from.0[2], to.0[2]),
                ])
            }))
        }
        "chart" => chart(&mut rng, width.max(240), height.max(200), index),
        "document" => document(&mut rng, width.max(240), height.max(240)),
        "screenshot" => screenshot(&mut rng, width.max(320), height.max(240)),
        "cartoon" => cartoon(&mut rng, width, height),
        other => Err(MlError::Dataset(format!("unknown non-MRI kind {other}"))),
    }
}

fn chart(rng: &mut Rng, width: u32, height: u32, index: u64) -> MlResult<RgbImage> {
    let points = 5 + rng.below(20);
    let values: Vec<f32> = (0..points).map(|_| rng.uniform(0.0, 100.0)).collect();
    let series = plot_colour(rng);
    render_rgb(width, height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .caption(format!("Figure {index}"), (PLOT_FONT, 18))
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0f32..points as f32, 0f32..110f32)
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .label_style((PLOT_FONT, 12))
            .draw()
            .map_err(draw_error)?;
        if index.is_multiple_of(2) {
            chart
                .draw_series(values.iter().enumerate().map(|(i, &v)| {
                    Rectangle::new(
                        [(i as f32 + 0.15, 0.0), (i as f32 + 0.85, v)],
                        series.filled(),
                    )
                }))
                .map_err(draw_error)?;
        } else {
            chart
                .draw_series(LineSeries::new(
                    values.iter().enumerate().map(|(i, &v)| (i as f32 + 0.5, v)),
                    series.stroke_width(2),
                ))
                .map_err(draw_error)?;
        }
        Ok(())
    })
}

const WORDS: [&str; 16] = [
    "patient",
    "report",
    "the",
    "results",
    "of",
    "scan",
    "invoice",
    "total",
    "meeting",
    "agenda",
    "and",
    "review",
    "quarterly",
    "summary",
    "notes",
    "page",
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    (0..words)
        .map(|_| WORDS[rng.below(WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn document(rng: &mut Rng, width: u32, height: u32) -> MlResult<RgbImage> {
    let size = 12 + rng.below(8) as i32;
    let lines: Vec<String> = (0..(height as i32 / (size + 6)).max(1))
        .map(|_| {
            let words = 3 + rng.below(8);
            sentence(rng, words)
        })
        .collect();
    render_rgb(width, height, |root| {
        for (line, text) in lines.iter().enumerate() {
            root.draw(&Text::new(
                text.clone(),
                (16, 12 + line as i32 * (size + 6)),
                (PLOT_FONT, size).into_font().color(&BLACK),
            ))
            .map_err(draw_error)?;
        }
        Ok(())
    })
}

fn screenshot(rng: &mut Rng, width: u32, height: u32) -> MlResult<RgbImage> {
    let bar = plot_colour(rng);
    let accent = plot_colour(rng);
    let title = sentence(rng, 3);
    let paragraphs: Vec<String> = (0..6).map(|_| sentence(rng, 6)).collect();
    let (w, h) = (width as i32, height as i32);
    render_rgb(width, height, |root| {
        root.draw(&Rectangle::new([(0, 0), (w, 44)], bar.filled()))
            .map_err(draw_error)?;
        root.draw(&Text::new(
            title.clone(),
            (14, 12),
            (PLOT_FONT, 18).into_font().color(&WHITE),
        ))
        .map_err(draw_error)?;
        root.draw(&Rectangle::new(
            [(0, 44), (w / 5, h)],
            RGBColor(238, 238, 242).filled(),
        ))
        .map_err(draw_error)?;
        for (i, text) in paragraphs.iter().enumerate() {
            let y = 60 + i as i32 * 28;
            root.draw(&Text::new(
                text.clone(),
                (w / 5 + 16, y),
                (PLOT_FONT, 14).into_font().color(&BLACK),
            ))
            .map_err(draw_error)?;
        }
        root.draw(&Rectangle::new(
            [(w / 5 + 16, h - 60), (w / 5 + 136, h - 24)],
            accent.filled(),
        ))
        .map_err(draw_error)?;
        Ok(())
    })
}

fn cartoon(rng: &mut Rng, width: u32, height: u32) -> MlResult<RgbImage> {
    let sky = Rgb([
        60 + rng.below(80) as u8,
        120 + rng.below(100) as u8,
        200 + rng.below(55) as u8,
    ]);
    let ground = colour(rng);
    let horizon = height as f32 * rng.uniform(0.55, 0.8);
    let (sun_x, sun_y) = (
        width as f32 * rng.uniform(0.15, 0.85),
        horizon * rng.uniform(0.2, 0.6),
    );
    let sun_r = width.min(height) as f32 * rng.uniform(0.08, 0.2);
    let shapes: Vec<(f32, f32, f32, Rgb<u8>)> = (0..3 + rng.below(5))
        .map(|_| {
            (
                width as f32 * rng.next_f32(),
                horizon + (height as f32 - horizon) * rng.next_f32(),
                width.min(height) as f32 * rng.uniform(0.04, 0.12),
                colour(rng),
            )
        })
        .collect();
    Ok(RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        for &(cx, cy, r, fill) in &shapes {
            if (fx - cx).abs() < r && (fy - cy).abs() < r {
                return fill;
            }
        }
        if (fx - sun_x).powi(2) + (fy - sun_y).powi(2) < sun_r * sun_r {
            Rgb([250, 215, 40])
        } else if fy > horizon {
            ground
        } else {
            sky
        }
    }))
}

/// `count` seeded crops (random position, size, mirror) of the photograph at `path`.
pub fn photo_crops(path: &Path, count: u64) -> MlResult<Vec<RgbImage>> {
    let photo = image::open(path)
        .map_err(|e| MlError::Decode(format!("{}: {e}", path.display())))?
        .into_rgb8();
    let (width, height) = photo.dimensions();
    let mut rng = Rng::new(count ^ u64::from(width) << 16 ^ u64::from(height));
    Ok((0..count)
        .map(|i| {
            if i == 0 {
                return photo.clone();
            }
            let share = rng.uniform(0.4, 0.9);
            let (w, h) = (
                (width as f32 * share) as u32,
                (height as f32 * share) as u32,
            );
            let x = rng.below((width - w + 1) as usize) as u32;
            let y = rng.below((height - h + 1) as usize) as u32;
            let crop = image::imageops::crop_imm(&photo, x, y, w, h).to_image();
            if i.is_multiple_of(2) {
                image::imageops::flip_horizontal(&crop)
            } else {
                crop
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_seeded_and_differs_between_indices() {
        for kind in KINDS {
            let first = generate(kind, 1).unwrap();
            assert_eq!(
                first,
                generate(kind, 1).unwrap(),
                "{kind} is not reproducible"
            );
            assert_ne!(first, generate(kind, 2).unwrap(), "{kind} repeats itself");
        }
        assert!(generate("mri", 1).is_err());
    }

    #[test]
    fn text_kinds_carry_dark_text_on_a_light_page() {
        let page = generate("document", 3).unwrap();
        let dark = page.pixels().filter(|p| p.0[0] < 100).count();
        let total = (page.width() * page.height()) as usize;
        assert!(dark > total / 200 && dark < total / 2, "{dark} of {total}");
    }
}
