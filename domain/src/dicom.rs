//! What the platform keeps of a DICOM file: acquisition facts, never who the patient is.

use serde::{Deserialize, Serialize};

/// What a prediction may say about its DICOM input: acquisition facts, nothing about the patient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DicomSummary {
    pub modality: String,
    pub manufacturer: Option<String>,
    /// Tesla.
    pub magnetic_field_strength: Option<f32>,
    pub series_description: Option<String>,
    /// Millimetres.
    pub slice_thickness: Option<f32>,
    pub rows: u32,
    pub columns: u32,
    pub frames: u32,
    pub bits_stored: u16,
    pub photometric_interpretation: String,
    /// The transfer syntax's name, e.g. "Explicit VR Little Endian" or "JPEG Baseline (Process 1)".
    pub transfer_syntax: String,
    /// Sent as `window_center`, `window_width` and `window_from_file` beside the other fields.
    #[serde(flatten)]
    pub window: WindowUsed,
}

/// The window that mapped the file's values to grey levels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowUsed {
    #[serde(rename = "window_center")]
    pub center: f32,
    #[serde(rename = "window_width")]
    pub width: f32,
    /// `true`: the file's own Window Center/Width (its first one); `false`: the file's min-max.
    #[serde(rename = "window_from_file")]
    pub from_file: bool,
}
