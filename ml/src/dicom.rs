//! DICOM Part 10 input: a scanner's file becomes the same 8-bit grey slices a JPEG would, with the
//! radiologist's window, and a summary that carries no patient-identifying attribute.
//!
//! dicom-rs parses the file and decompresses the pixel data; the pixel pipeline (rescale, window,
//! MONOCHROME1 inversion) is ours, so each step is explicit and tested:
//! stored value -> Rescale Slope/Intercept (signed values honoured) -> the file's first window
//! (Window Center/Width, DICOM's linear function) or the whole file's min-max -> 0-255 -> inverted
//! for MONOCHROME1, where the smallest value is white.
//!
//! Only the attributes in [`DicomSummary`] are read out of the parsed object, which is dropped
//! before this module returns: names, IDs, dates, accession numbers, institutions and physicians
//! never leave it, and no error message quotes a value from the file.

use std::io::Cursor;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::file::{OpenFileOptions, ReadPreamble};
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use image::GrayImage;

use crate::preprocess::{check_pixel_budget, DECODE_PERMITS, MAX_DECODE_BYTES};
use crate::{MlError, MlResult};

const PREAMBLE_LEN: usize = 128;

/// Whether `bytes` are a DICOM Part 10 file: a 128-byte preamble, then `DICM`.
pub fn is_dicom(bytes: &[u8]) -> bool {
    bytes.get(PREAMBLE_LEN..PREAMBLE_LEN + 4) == Some(b"DICM".as_slice())
}

pub use domain::dicom::{DicomSummary, WindowUsed};

/// Which DICOM file and frame an answer read.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomFrame {
    pub summary: DicomSummary,
    /// 0-based.
    pub index: usize,
}

/// A decoded DICOM file: one 8-bit grey image per frame, and its summary.
#[derive(Debug, Clone)]
pub struct DicomImage {
    pub frames: Vec<GrayImage>,
    pub summary: DicomSummary,
    pub place: SeriesPlace,
}

/// Where an instance belongs: its study and series, and its place in the stack. Identifiers of a
/// patient's examination: for grouping and ordering a request's files, never stored as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesPlace {
    pub study_uid: Option<String>,
    pub series_uid: Option<String>,
    /// SOP Instance UID: which instance, to fetch it again from the PACS it came from.
    pub instance_uid: Option<String>,
    pub instance_number: Option<i64>,
    /// Millimetres along the slice normal (Image Position (Patient) projected on the cross product
    /// of Image Orientation (Patient)'s two directions; its z without an orientation).
    pub slice_position: Option<f64>,
}

/// Parses, checks and decodes a DICOM Part 10 file. Refuses a modality other than MR before
/// touching the pixel data, and a transfer syntax this build cannot decode by name.
pub fn read(bytes: &[u8]) -> MlResult<DicomImage> {
    if !is_dicom(bytes) {
        return Err(MlError::Decode(
            "not a DICOM file (no DICM preamble)".into(),
        ));
    }
    // A third-party parser on untrusted bytes: a panic in it is a bad file, not a dead worker.
    std::panic::catch_unwind(|| read_checked(bytes, None).map(|(image, _)| image)).unwrap_or_else(
        |_| {
            Err(MlError::Decode(
                "the DICOM file is malformed (its parser gave up)".into(),
            ))
        },
    )
}

/// A frame's modality values (rescaled, before any window), averaged down to at most a given side
/// and quantised to 16 bits over their own range: what a viewer needs to window a slice itself.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameValues {
    pub width: u32,
    pub height: u32,
    /// Row-major; `low + (high - low) * v / 65535` is the modality value.
    pub values: Vec<u16>,
    pub low: f32,
    pub high: f32,
}

/// [`read`], and each frame's values at most `side` pixels a side ([`FrameValues`]).
pub fn read_with_values(bytes: &[u8], side: u32) -> MlResult<(DicomImage, Vec<FrameValues>)> {
    if !is_dicom(bytes) {
        return Err(MlError::Decode(
            "not a DICOM file (no DICM preamble)".into(),
        ));
    }
    std::panic::catch_unwind(|| read_checked(bytes, Some(side))).unwrap_or_else(|_| {
        Err(MlError::Decode(
            "the DICOM file is malformed (its parser gave up)".into(),
        ))
    })
}

/// `values` (`width` x `height`) averaged over square blocks so that neither side exceeds `side`,
/// then quantised to 16 bits over their range.
fn frame_values_at(values: &[f32], width: u32, height: u32, side: u32) -> FrameValues {
    let block = width.max(height).div_ceil(side.max(1)).max(1);
    let (out_w, out_h) = (width.div_ceil(block), height.div_ceil(block));
    let mut averaged = Vec::with_capacity((out_w * out_h) as usize);
    for by in 0..out_h {
        for bx in 0..out_w {
            let (mut sum, mut count) = (0.0f64, 0u32);
            for y in by * block..((by + 1) * block).min(height) {
                let row = (y * width) as usize;
                for x in bx * block..((bx + 1) * block).min(width) {
                    sum += f64::from(values[row + x as usize]);
                    count += 1;
                }
            }
            averaged.push((sum / f64::from(count.max(1))) as f32);
        }
    }
    let (low, high) = extend_range(EMPTY_RANGE, &averaged);
    let (low, high) = if low.is_finite() {
        (low, high)
    } else {
        (0.0, 0.0)
    };
    let span = (high - low).max(f32::EPSILON);
    FrameValues {
        width: out_w,
        height: out_h,
        values: averaged
            .iter()
            .map(|&v| (((v - low) / span) * 65535.0).round().clamp(0.0, 65535.0) as u16)
            .collect(),
        low,
        high,
    }
}

fn read_checked(
    bytes: &[u8],
    values_side: Option<u32>,
) -> MlResult<(DicomImage, Vec<FrameValues>)> {
    let object = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(Cursor::new(&bytes[PREAMBLE_LEN..]))
        .map_err(|e| MlError::Decode(format!("not a readable DICOM file: {e}")))?;
    let transfer_syntax = check_transfer_syntax(&object)?;
    let modality = text(&object, tags::MODALITY).unwrap_or_default();
    if modality != "MR" {
        return Err(MlError::NotMrModality {
            modality: if modality.is_empty() {
                "none".into()
            } else {
                modality
            },
        });
    }
    let rows = number(&object, tags::ROWS).unwrap_or(0.0) as u32;
    let columns = number(&object, tags::COLUMNS).unwrap_or(0.0) as u32;
    let frames = number(&object, tags::NUMBER_OF_FRAMES)
        .unwrap_or(1.0)
        .max(1.0) as u32;
    let bits_allocated = number(&object, tags::BITS_ALLOCATED).unwrap_or(16.0) as u64;
    let samples = number(&object, tags::SAMPLES_PER_PIXEL).unwrap_or(1.0) as u64;
    if rows == 0 || columns == 0 {
        return Err(MlError::Decode("the DICOM file has no Rows/Columns".into()));
    }
    check_pixel_budget(u64::from(columns), u64::from(rows))?;
    let pixels = u64::from(rows) * u64::from(columns) * u64::from(frames);
    let decoded_bytes = pixels * samples.max(1) * bits_allocated.div_ceil(8).max(1);
    if decoded_bytes > MAX_DECODE_BYTES {
        return Err(MlError::Decode(format!(
            "the DICOM file's {frames} frame(s) of {columns}x{rows} would take {} MiB to decode; \
             the limit is {} MiB",
            decoded_bytes / (1024 * 1024),
            MAX_DECODE_BYTES / (1024 * 1024)
        )));
    }
    let photometric = text(&object, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default();
    let inverted = match photometric.as_str() {
        "MONOCHROME2" => false,
        "MONOCHROME1" => true,
        other => {
            return Err(MlError::Decode(format!(
                "DICOM photometric interpretation {other:?} is not supported: MR slices are \
                 MONOCHROME1 or MONOCHROME2"
            )))
        }
    };
    let _permit = DECODE_PERMITS.acquire(pixels);
    let decoded = object.decode_pixel_data().map_err(|e| {
        MlError::Decode(format!(
            "the DICOM pixel data ({transfer_syntax}) did not decode: {e}"
        ))
    })?;
    // One frame's modality values at a time: holding every frame as f32 would cost 4 bytes a pixel
    // of the whole file on top of the decoded data, so a file without a window is read twice.
    let frame_values = |frame: u32| {
        decoded
            .to_vec_frame::<f32>(frame)
            .map_err(|e| MlError::Decode(format!("DICOM frame {}: {e}", frame + 1)))
    };
    let window = match decoded.window().ok().flatten().and_then(|w| w.first()) {
        Some(first) if first.width >= 1.0 => WindowUsed {
            center: first.center as f32,
            width: first.width as f32,
            from_file: true,
        },
        _ => {
            let mut range = EMPTY_RANGE;
            for frame in 0..decoded.number_of_frames() {
                range = extend_range(range, &frame_values(frame)?);
            }
            spanning_window(range)
        }
    };
    let (width, height) = (decoded.columns(), decoded.rows());
    let mut kept_values = Vec::new();
    let images = (0..decoded.number_of_frames())
        .map(|frame| {
            let values = frame_values(frame)?;
            if let Some(side) = values_side {
                if values.len() == (width * height) as usize {
                    kept_values.push(frame_values_at(&values, width, height, side));
                }
            }
            let grey = values
                .iter()
                .map(|&value| {
                    let level = apply_window(value, &window);
                    if inverted {
                        255 - level
                    } else {
                        level
                    }
                })
                .collect();
            GrayImage::from_raw(width, height, grey).ok_or_else(|| {
                MlError::Decode("DICOM frame size does not match Rows x Columns".into())
            })
        })
        .collect::<MlResult<Vec<_>>>()?;
    let image = DicomImage {
        summary: DicomSummary {
            modality,
            manufacturer: text(&object, tags::MANUFACTURER),
            magnetic_field_strength: number(&object, tags::MAGNETIC_FIELD_STRENGTH)
                .map(|v| v as f32),
            series_description: text(&object, tags::SERIES_DESCRIPTION),
            slice_thickness: number(&object, tags::SLICE_THICKNESS).map(|v| v as f32),
            rows,
            columns,
            frames: images.len() as u32,
            bits_stored: number(&object, tags::BITS_STORED).unwrap_or(0.0) as u16,
            photometric_interpretation: photometric,
            transfer_syntax,
            window,
        },
        frames: images,
        place: series_place(&object),
    };
    Ok((image, kept_values))
}

fn series_place(object: &DefaultDicomObject) -> SeriesPlace {
    let floats = |tag| -> Option<Vec<f64>> {
        let values = object
            .element_opt(tag)
            .ok()
            .flatten()?
            .to_multi_float64()
            .ok()?;
        values.iter().all(|v| v.is_finite()).then_some(values)
    };
    let position = floats(tags::IMAGE_POSITION_PATIENT).filter(|p| p.len() == 3);
    let orientation = floats(tags::IMAGE_ORIENTATION_PATIENT).filter(|o| o.len() == 6);
    let slice_position = position.map(|p| match orientation {
        Some(o) => {
            let normal = [
                o[1] * o[5] - o[2] * o[4],
                o[2] * o[3] - o[0] * o[5],
                o[0] * o[4] - o[1] * o[3],
            ];
            p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2]
        }
        None => p[2],
    });
    SeriesPlace {
        study_uid: text(object, tags::STUDY_INSTANCE_UID),
        series_uid: text(object, tags::SERIES_INSTANCE_UID),
        instance_uid: text(object, tags::SOP_INSTANCE_UID),
        instance_number: number(object, tags::INSTANCE_NUMBER).map(|n| n as i64),
        slice_position,
    }
}

/// The transfer syntax's name when this build can decode its pixel data; 415-worthy otherwise.
fn check_transfer_syntax(object: &DefaultDicomObject) -> MlResult<String> {
    let uid = object
        .meta()
        .transfer_syntax()
        .trim_end_matches(['\0', ' '])
        .to_owned();
    match TransferSyntaxRegistry.get(&uid) {
        Some(syntax) if syntax.can_decode_all() => Ok(syntax.name().to_owned()),
        Some(syntax) => Err(MlError::UnsupportedTransferSyntax {
            uid,
            name: syntax.name().to_owned(),
        }),
        None => Err(MlError::UnsupportedTransferSyntax {
            uid,
            name: "unknown".into(),
        }),
    }
}

fn text(object: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let element = object.element_opt(tag).ok().flatten()?;
    let value = element.to_str().ok()?;
    let value = value.trim_matches(['\0', ' ']);
    (!value.is_empty()).then(|| value.to_owned())
}

fn number(object: &DefaultDicomObject, tag: Tag) -> Option<f64> {
    object
        .element_opt(tag)
        .ok()
        .flatten()?
        .to_float64()
        .ok()
        .filter(|v| v.is_finite())
}

/// The range of no values, which [`extend_range`] widens.
const EMPTY_RANGE: (f32, f32) = (f32::INFINITY, f32::NEG_INFINITY);

fn extend_range((low, high): (f32, f32), values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .fold((low, high), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// The window spanning `(low, high)`, the values of every frame, so all frames of a file share one
/// grey scale.
fn spanning_window((low, high): (f32, f32)) -> WindowUsed {
    if !low.is_finite() || !high.is_finite() {
        return WindowUsed {
            center: 0.0,
            width: 1.0,
            from_file: false,
        };
    }
    // With DICOM's linear function below, width w maps [c - w/2, c + w/2] onto 0-255.
    WindowUsed {
        center: (low + high) / 2.0 + 0.5,
        width: (high - low) + 1.0,
        from_file: false,
    }
}

/// DICOM PS3.3 C.11.2.1.2.1, the LINEAR VOI function, to 8 bits.
fn apply_window(value: f32, window: &WindowUsed) -> u8 {
    let (center, width) = (window.center - 0.5, (window.width - 1.0).max(f32::EPSILON));
    let level = ((value - center) / width + 0.5) * 255.0;
    level.round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linear_window_maps_its_edges_to_black_and_white() {
        let window = WindowUsed {
            center: 40.0,
            width: 80.0,
            from_file: true,
        };
        assert_eq!(apply_window(-1000.0, &window), 0);
        assert_eq!(apply_window(0.0, &window), 0);
        // (40 - 39.5) / 79 + 0.5 of 255.
        assert_eq!(apply_window(40.0, &window), 129);
        assert_eq!(apply_window(80.0, &window), 255);
        assert_eq!(apply_window(3000.0, &window), 255);
    }

    #[test]
    fn min_max_spans_every_frame() {
        let range = [vec![100.0, 200.0], vec![150.0, 1100.0]]
            .iter()
            .fold(EMPTY_RANGE, |range, frame| extend_range(range, frame));
        let window = spanning_window(range);
        assert!(!window.from_file);
        assert_eq!(apply_window(100.0, &window), 0);
        assert_eq!(apply_window(1100.0, &window), 255);
        assert_eq!(apply_window(600.0, &window), 128);
    }

    #[test]
    fn values_are_averaged_down_and_quantised_over_their_range() {
        // 4x2 values, halved to 2x1: the block means are 150 and 1100.
        let values = [100.0, 200.0, 1000.0, 1200.0, 100.0, 200.0, 1000.0, 1200.0];
        let kept = frame_values_at(&values, 4, 2, 2);
        assert_eq!((kept.width, kept.height), (2, 1));
        assert_eq!((kept.low, kept.high), (150.0, 1100.0));
        assert_eq!(kept.values, vec![0, 65535]);
        // Small enough already: kept as it is.
        let kept = frame_values_at(&values, 4, 2, 256);
        assert_eq!((kept.width, kept.height), (4, 2));
        assert_eq!(kept.values[0], 0);
        assert_eq!(kept.values[3], 65535);
        let middle = kept.low + (kept.high - kept.low) * f32::from(kept.values[1]) / 65535.0;
        assert!((middle - 200.0).abs() < 0.1, "{middle}");
    }

    #[test]
    fn only_a_dicm_preamble_is_dicom() {
        let mut bytes = vec![0u8; 132];
        assert!(!is_dicom(&bytes));
        bytes[128..132].copy_from_slice(b"DICM");
        assert!(is_dicom(&bytes));
        assert!(!is_dicom(b"DICM"));
        assert!(matches!(read(&bytes), Err(MlError::Decode(_))));
    }
}
