//! A DICOM series as the unit of work: its slices in order, each answered, and one verdict.

use serde::{Deserialize, Serialize};

use crate::types::predict::{DicomInfo, PredictionResponse};

/// How the verdict is reached, as every answer states it (`ml::series` implements it).
pub const SERIES_RULE: &str = "A tumour class counts when at least two adjacent slices both \
    answer it at or above the review threshold; the verdict is the counted class with the longest \
    run. A tumour class reaching the threshold on a single slice is the verdict too, flagged for \
    review: \"no tumour\" is answered only when no tumour class reaches the threshold anywhere.";

/// `POST /predict/series`: every series found in the upload, and the files that are in none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesPredictionResponse {
    pub series: Vec<SeriesResult>,
    /// Files not classified: unreadable, not DICOM, not MR.
    pub rejected: Vec<RejectedFile>,
    /// Files received (a zip counts its DICOM files).
    pub total_files: usize,
    pub rule: String,
    pub model_version: String,
    pub timestamp: String,
}

/// One series: its slices in anatomical order and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesResult {
    /// As the files carry them (echoed to the sender, never stored).
    pub study_instance_uid: Option<String>,
    pub series_instance_uid: Option<String>,
    pub series_description: Option<String>,
    /// `instance_number`, `image_position` (along the slice normal) or `upload` (neither known).
    pub ordered_by: String,
    pub slices: Vec<SeriesSlice>,
    /// `None` when no slice could be answered.
    pub verdict: Option<SeriesVerdict>,
    /// The recorded verdict's id (UIDs kept only hashed); `None` if it could not be recorded.
    #[serde(default)]
    pub result_id: Option<i64>,
}

/// One slice (one frame of a file) and its answer, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesSlice {
    /// 1-based position in the series as ordered.
    pub position: usize,
    pub filename: String,
    /// SOP Instance UID, echoed like the other UIDs (never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sop_instance_uid: Option<String>,
    pub instance_number: Option<i64>,
    /// Millimetres along the slice normal.
    pub slice_position: Option<f64>,
    pub dicom: DicomInfo,
    /// The slice as the viewer shows it (8-bit PNG, base64, at most 256 px), when the request
    /// asked for pictures (`images=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_png: Option<String>,
    /// For a file storing more than 8 bits, instead of `image_png`: the slice's values, so that
    /// the viewer sets the window itself (`images=true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<SliceValues>,
    pub prediction: Option<PredictionResponse>,
    /// `not_brain_mri` when the model refused the slice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The series' answer, per [`SERIES_RULE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesVerdict {
    pub class_name: String,
    pub confidence: f64,
    /// Positions (1-based, as in `slices`) the verdict rests on.
    pub driving_slices: Vec<usize>,
    pub needs_review: bool,
    pub reason: String,
    /// The confidence a slice's answer needed to count.
    pub threshold: f64,
}

/// A file that is in no series' answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RejectedFile {
    pub filename: String,
    /// `unreadable`, `not_dicom`, `not_mr` or `unsupported_transfer_syntax`.
    pub error: String,
    pub detail: String,
}

/// A slice's modality values at most 256 px a side, quantised to 16 bits over their range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SliceValues {
    pub width: u32,
    pub height: u32,
    /// Base64 of `width * height` little-endian u16, row-major; `low + (high - low) * v / 65535`
    /// is the modality value.
    pub data: String,
    pub low: f64,
    pub high: f64,
}

impl SliceValues {
    /// The modality values, decoded; `None` if `data` is not `width * height` values.
    pub fn decode(&self, base64: impl Fn(&str) -> Option<Vec<u8>>) -> Option<Vec<f64>> {
        let bytes = base64(&self.data)?;
        let count = (self.width * self.height) as usize;
        if bytes.len() != count * 2 {
            return None;
        }
        let span = self.high - self.low;
        Some(
            bytes
                .chunks_exact(2)
                .map(|pair| {
                    self.low + span * f64::from(u16::from_le_bytes([pair[0], pair[1]])) / 65535.0
                })
                .collect(),
        )
    }
}

/// DICOM's linear window (PS3.3 C.11.2.1.2.1) to a grey level, inverted for MONOCHROME1.
pub fn windowed(value: f64, center: f64, width: f64, inverted: bool) -> u8 {
    let (center, width) = (center - 0.5, (width - 1.0).max(f64::EPSILON));
    let level = (((value - center) / width + 0.5) * 255.0)
        .round()
        .clamp(0.0, 255.0) as u8;
    if inverted {
        255 - level
    } else {
        level
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode_and_window_as_dicom_says() {
        let values = SliceValues {
            width: 2,
            height: 1,
            // 0 and 65535, little-endian.
            data: String::new(),
            low: 100.0,
            high: 1100.0,
        };
        let decoded = values.decode(|_| Some(vec![0, 0, 255, 255])).unwrap();
        assert_eq!(decoded, vec![100.0, 1100.0]);
        assert!(
            values.decode(|_| Some(vec![0, 0])).is_none(),
            "one value short"
        );
        assert_eq!(windowed(100.0, 600.0, 1001.0, false), 0);
        assert_eq!(windowed(1100.0, 600.0, 1001.0, false), 255);
        assert_eq!(windowed(1100.0, 600.0, 1001.0, true), 0);
        // A narrow window saturates what lies outside it.
        assert_eq!(windowed(700.0, 400.0, 100.0, false), 255);
    }
}
