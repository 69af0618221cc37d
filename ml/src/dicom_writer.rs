//! Writes synthetic DICOM Part 10 files, so that tests (here, in the server and in CI) and
//! `cargo run -p ml --example dicom_slice` have scanner-like files without any real patient's:
//! MR or another modality, 8- or 16-bit, signed or not, MONOCHROME1 or 2, rescaled, windowed,
//! multi-frame, uncompressed or JPEG baseline, optionally with identifying tags set (to prove
//! they never leave [`crate::dicom`]).

use dicom_core::value::PixelFragmentSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use image::GrayImage;

use crate::{MlError, MlResult};

/// Identifying values [`DicomWriter::with_patient`] writes, for tests that look for them.
pub const PATIENT_NAME: &str = "Doe^Jane";
pub const PATIENT_ID: &str = "PID-7734-SECRET";
pub const PATIENT_BIRTH_DATE: &str = "19610214";
pub const ACCESSION_NUMBER: &str = "ACC-99812";
pub const INSTITUTION_NAME: &str = "St Example Hospital";
pub const PHYSICIAN_NAME: &str = "Smith^Referring";
/// Every identifying value above, for tests that search what the server kept.
pub const IDENTIFYING_VALUES: [&str; 6] = [
    PATIENT_NAME,
    PATIENT_ID,
    PATIENT_BIRTH_DATE,
    ACCESSION_NUMBER,
    INSTITUTION_NAME,
    PHYSICIAN_NAME,
];

/// How to encode the pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    ExplicitLittleEndian,
    ImplicitLittleEndian,
    /// Each frame as a baseline JPEG fragment (8-bit only).
    JpegBaseline,
}

/// One file's settings; [`DicomWriter::write`] takes the stored values of each frame.
#[derive(Debug, Clone)]
pub struct DicomWriter {
    pub modality: String,
    pub bits: u16,
    pub signed: bool,
    pub monochrome1: bool,
    pub rescale: Option<(f64, f64)>,
    /// Window Center/Width (first one; a second is written after it to check "the first").
    pub window: Option<(f64, f64)>,
    pub patient: bool,
    pub encoding: Encoding,
    /// Written as the transfer syntax instead of `encoding`'s, to test refusals.
    pub transfer_syntax_override: Option<String>,
    /// The instance's study, series and place in it; without, fixed UIDs and no place.
    pub place: Option<InstancePlace>,
}

/// An instance's study, series, number and position, for writing whole series.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePlace {
    pub study_uid: String,
    pub series_uid: String,
    pub instance_number: u32,
    /// z of Image Position (Patient), millimetres (axial slices: orientation 1\0\0\0\1\0).
    pub z: f64,
}

impl Default for DicomWriter {
    fn default() -> Self {
        Self {
            modality: "MR".into(),
            bits: 16,
            signed: false,
            monochrome1: false,
            rescale: None,
            window: None,
            patient: false,
            encoding: Encoding::ExplicitLittleEndian,
            transfer_syntax_override: None,
            place: None,
        }
    }
}

impl DicomWriter {
    pub fn with_patient(mut self) -> Self {
        self.patient = true;
        self
    }

    /// A Part 10 file of `frames` (stored values, row-major, `columns` x `rows` each).
    pub fn write(&self, frames: &[Vec<i32>], columns: u16, rows: u16) -> MlResult<Vec<u8>> {
        let encode =
            |what: &str, e: &dyn std::fmt::Display| MlError::Encode(format!("{what}: {e}"));
        let mut object = InMemDicomObject::new_empty();
        let mut put_str = |tag, vr, value: &str| {
            object.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
        };
        put_str(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE);
        match &self.place {
            Some(place) => {
                let instance = format!("{}.{}", place.series_uid, place.instance_number);
                put_str(tags::SOP_INSTANCE_UID, VR::UI, &instance);
                put_str(tags::STUDY_INSTANCE_UID, VR::UI, &place.study_uid);
                put_str(tags::SERIES_INSTANCE_UID, VR::UI, &place.series_uid);
                put_str(
                    tags::INSTANCE_NUMBER,
                    VR::IS,
                    &place.instance_number.to_string(),
                );
                put_str(
                    tags::IMAGE_POSITION_PATIENT,
                    VR::DS,
                    &format!("-120\\-120\\{}", place.z),
                );
                put_str(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, "1\\0\\0\\0\\1\\0");
            }
            None => put_str(
                tags::SOP_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.2.1125.7734.1",
            ),
        }
        put_str(tags::MODALITY, VR::CS, &self.modality);
        put_str(tags::MANUFACTURER, VR::LO, "SynthScan");
        put_str(tags::MAGNETIC_FIELD_STRENGTH, VR::DS, "3");
        put_str(tags::SERIES_DESCRIPTION, VR::LO, "AX T1 POST");
        put_str(tags::SLICE_THICKNESS, VR::DS, "5");
        put_str(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            if self.monochrome1 {
                "MONOCHROME1"
            } else {
                "MONOCHROME2"
            },
        );
        if frames.len() > 1 {
            put_str(tags::NUMBER_OF_FRAMES, VR::IS, &frames.len().to_string());
        }
        if let Some((slope, intercept)) = self.rescale {
            put_str(tags::RESCALE_SLOPE, VR::DS, &slope.to_string());
            put_str(tags::RESCALE_INTERCEPT, VR::DS, &intercept.to_string());
        }
        if let Some((center, width)) = self.window {
            // Two windows: readers must take the first.
            put_str(
                tags::WINDOW_CENTER,
                VR::DS,
                &format!("{center}\\{}", center * 3.0),
            );
            put_str(
                tags::WINDOW_WIDTH,
                VR::DS,
                &format!("{width}\\{}", width * 5.0),
            );
        }
        if self.patient {
            put_str(tags::PATIENT_NAME, VR::PN, PATIENT_NAME);
            put_str(tags::PATIENT_ID, VR::LO, PATIENT_ID);
            put_str(tags::PATIENT_BIRTH_DATE, VR::DA, PATIENT_BIRTH_DATE);
            put_str(tags::ACCESSION_NUMBER, VR::SH, ACCESSION_NUMBER);
            put_str(tags::INSTITUTION_NAME, VR::LO, INSTITUTION_NAME);
            put_str(tags::REFERRING_PHYSICIAN_NAME, VR::PN, PHYSICIAN_NAME);
        }
        let mut put_u16 = |tag, value: u16| {
            object.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
        };
        put_u16(tags::SAMPLES_PER_PIXEL, 1);
        put_u16(tags::ROWS, rows);
        put_u16(tags::COLUMNS, columns);
        put_u16(tags::BITS_ALLOCATED, self.bits);
        put_u16(tags::BITS_STORED, self.bits);
        put_u16(tags::HIGH_BIT, self.bits - 1);
        put_u16(tags::PIXEL_REPRESENTATION, u16::from(self.signed));
        let transfer_syntax = match self.encoding {
            Encoding::ExplicitLittleEndian => uids::EXPLICIT_VR_LITTLE_ENDIAN,
            Encoding::ImplicitLittleEndian => uids::IMPLICIT_VR_LITTLE_ENDIAN,
            Encoding::JpegBaseline => uids::JPEG_BASELINE8_BIT,
        };
        match self.encoding {
            Encoding::JpegBaseline => {
                let fragments = frames
                    .iter()
                    .map(|values| {
                        let grey = values.iter().map(|&v| v.clamp(0, 255) as u8).collect();
                        let image = GrayImage::from_raw(u32::from(columns), u32::from(rows), grey)
                            .ok_or_else(|| MlError::Encode("frame size".into()))?;
                        let mut jpeg = Vec::new();
                        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
                            .encode_image(&image)
                            .map_err(|e| encode("JPEG frame", &e))?;
                        if jpeg.len() % 2 == 1 {
                            jpeg.push(0);
                        }
                        Ok(jpeg)
                    })
                    .collect::<MlResult<Vec<Vec<u8>>>>()?;
                object.put(DataElement::new(
                    tags::PIXEL_DATA,
                    VR::OB,
                    PixelFragmentSequence::new(Vec::<u32>::new(), fragments),
                ));
            }
            _ => {
                let mut bytes = Vec::new();
                for &value in frames.iter().flatten() {
                    match (self.bits, self.signed) {
                        (8, false) => bytes.push(value.clamp(0, 255) as u8),
                        (8, true) => bytes.push(value.clamp(-128, 127) as i8 as u8),
                        (_, false) => bytes.extend((value.clamp(0, 65_535) as u16).to_le_bytes()),
                        (_, true) => {
                            bytes.extend((value.clamp(-32_768, 32_767) as i16).to_le_bytes())
                        }
                    }
                }
                if bytes.len() % 2 == 1 {
                    bytes.push(0);
                }
                let vr = if self.bits == 8 { VR::OB } else { VR::OW };
                object.put(DataElement::new(
                    tags::PIXEL_DATA,
                    vr,
                    PrimitiveValue::from(bytes),
                ));
            }
        }
        let file = object
            .with_meta(
                FileMetaTableBuilder::new().transfer_syntax(
                    self.transfer_syntax_override
                        .as_deref()
                        .unwrap_or(transfer_syntax),
                ),
            )
            .map_err(|e| encode("DICOM meta", &e))?;
        let mut out = Vec::new();
        file.write_all(&mut out)
            .map_err(|e| encode("DICOM file", &e))?;
        Ok(out)
    }
}

/// A phantom slice ([`crate::phantom::slice`]) as 16-bit stored values spanning 0-4000, the
/// range an MR scanner writes, and the 8-bit image a viewer shows with `window`.
pub fn phantom_frame(variant: u32, size: u32) -> Vec<i32> {
    crate::phantom::slice(variant, size)
        .pixels()
        .map(|p| i32::from(p.0[0]) * 4000 / 255)
        .collect()
}
