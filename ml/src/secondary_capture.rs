//! A classification result as DICOM Secondary Capture images, to store back in the PACS beside the
//! series it came from: each slice's heatmap overlay with the answer and "research use only" burned
//! into the pixels (a banner above the image), in a new series of the source study.
//!
//! To file the result under the same patient and study, the images carry the source's Patient and
//! General Study modules, copied element by element from one source instance ([`StudyLink`]). Those
//! values only pass through memory on their way back to the PACS that sent them: [`StudyLink`] has
//! no accessor and prints as a count.

use std::io::Cursor;
use std::time::{SystemTime, UNIX_EPOCH};

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::file::{OpenFileOptions, ReadPreamble};
use dicom_object::mem::InMemElement;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use image::{Rgb, RgbImage};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use sha2::{Digest, Sha256};

use crate::{MlError, MlResult};

/// Burned into every image.
pub const RESEARCH_USE_ONLY: &str = "RESEARCH USE ONLY - not for diagnosis";
/// Series Description of a stored result.
pub const SERIES_DESCRIPTION: &str = "BrainScan result (research use only)";

/// Height of one banner line, pixels.
const LINE_HEIGHT: u32 = 18;
const FONT_SIZE: f64 = 14.0;
/// Narrowest image stored: wide enough for the probability line.
const MIN_WIDTH: u32 = 448;

/// The elements that file an image under its source's patient and study.
const LINKED_TAGS: [Tag; 11] = [
    tags::PATIENT_NAME,
    tags::PATIENT_ID,
    tags::PATIENT_BIRTH_DATE,
    tags::PATIENT_SEX,
    tags::STUDY_INSTANCE_UID,
    tags::STUDY_DATE,
    tags::STUDY_TIME,
    tags::ACCESSION_NUMBER,
    tags::STUDY_ID,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::STUDY_DESCRIPTION,
];

/// A source instance's Patient and General Study modules, to copy into the result's images.
#[derive(Clone)]
pub struct StudyLink {
    elements: Vec<InMemElement>,
    study_uid: String,
}

impl std::fmt::Debug for StudyLink {
    // Patient identifiers never reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StudyLink({} elements)", self.elements.len())
    }
}

impl StudyLink {
    /// Reads the link from a DICOM Part 10 file of the source series.
    pub fn from_instance(bytes: &[u8]) -> MlResult<StudyLink> {
        if !crate::dicom::is_dicom(bytes) {
            return Err(MlError::Decode(
                "not a DICOM file (no DICM preamble)".into(),
            ));
        }
        let object = OpenFileOptions::new()
            .read_preamble(ReadPreamble::Never)
            .read_until(tags::PIXEL_DATA)
            .from_reader(Cursor::new(&bytes[128..]))
            .map_err(|e| MlError::Decode(format!("not a readable DICOM file: {e}")))?;
        let elements: Vec<InMemElement> = LINKED_TAGS
            .iter()
            .filter_map(|&tag| object.element(tag).ok().cloned())
            .collect();
        let study_uid = object
            .element(tags::STUDY_INSTANCE_UID)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|uid| uid.trim_end_matches(['\0', ' ']).to_owned())
            .filter(|uid| !uid.is_empty())
            .ok_or_else(|| MlError::Decode("the instance has no Study Instance UID".into()))?;
        Ok(StudyLink {
            elements,
            study_uid,
        })
    }

    /// The Study Instance UID the result is filed under.
    pub fn study_uid(&self) -> &str {
        &self.study_uid
    }
}

/// A fresh UID under the `2.25` root (PS3.5 B.2: a UUID-sized number): `seed` makes UIDs asked for
/// at the same instant differ.
pub fn new_uid(seed: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let digest = Sha256::new()
        .chain_update(seed.as_bytes())
        .chain_update(nanos.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .finalize();
    let mut number = [0u8; 16];
    number.copy_from_slice(&digest[..16]);
    format!("2.25.{}", u128::from_be_bytes(number))
}

/// `image` below a black banner holding [`RESEARCH_USE_ONLY`] and then `lines`, in white.
pub fn annotate(image: &RgbImage, lines: &[String]) -> MlResult<RgbImage> {
    // A small view is scaled up so the banner's lines fit its width and read at a viewer's size.
    let scaled;
    let image = if image.width() < MIN_WIDTH {
        let height = (u64::from(image.height()) * u64::from(MIN_WIDTH)
            / u64::from(image.width().max(1))) as u32;
        scaled = image::imageops::resize(
            image,
            MIN_WIDTH,
            height.max(1),
            image::imageops::FilterType::Triangle,
        );
        &scaled
    } else {
        image
    };
    let width = image.width();
    let banner = LINE_HEIGHT * (lines.len() as u32 + 1) + 6;
    let height = image.height() + banner;
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([0, 0, 0]));
    image::imageops::overlay(
        &mut canvas,
        image,
        i64::from((width - image.width()) / 2),
        i64::from(banner),
    );
    crate::plots::ensure_font();
    let plot_error = |e: &dyn std::fmt::Display| MlError::Plot(e.to_string());
    {
        let (w, h) = canvas.dimensions();
        let root = BitMapBackend::with_buffer(&mut canvas, (w, h)).into_drawing_area();
        let style = (crate::plots::FONT_FAMILY, FONT_SIZE)
            .into_font()
            .color(&WHITE)
            .pos(Pos::new(HPos::Left, VPos::Top));
        let warning = (crate::plots::FONT_FAMILY, FONT_SIZE)
            .into_font()
            .color(&RGBColor(255, 200, 0))
            .pos(Pos::new(HPos::Left, VPos::Top));
        root.draw_text(RESEARCH_USE_ONLY, &warning, (6, 4))
            .map_err(|e| plot_error(&e))?;
        for (index, line) in lines.iter().enumerate() {
            let y = 4 + LINE_HEIGHT * (index as u32 + 1);
            root.draw_text(line, &style, (6, y as i32))
                .map_err(|e| plot_error(&e))?;
        }
        root.present().map_err(|e| plot_error(&e))?;
    }
    Ok(canvas)
}

/// One image of a result series.
#[derive(Debug, Clone)]
pub struct CaptureImage<'a> {
    pub series_uid: &'a str,
    pub instance_number: u32,
    /// The annotated picture ([`annotate`]).
    pub image: &'a RgbImage,
    /// Image Comments: the answer in words.
    pub comment: &'a str,
}

/// A Secondary Capture Part 10 file (RGB, explicit VR little endian) of `capture`, filed under
/// `link`'s patient and study.
pub fn write(link: &StudyLink, capture: &CaptureImage<'_>) -> MlResult<Vec<u8>> {
    let encode = |what: &str, e: &dyn std::fmt::Display| MlError::Encode(format!("{what}: {e}"));
    let columns = u16::try_from(capture.image.width()).map_err(|e| encode("width", &e))?;
    let rows = u16::try_from(capture.image.height()).map_err(|e| encode("height", &e))?;
    let mut object = InMemDicomObject::new_empty();
    for element in &link.elements {
        object.put(element.clone());
    }
    let instance_uid = format!("{}.{}", capture.series_uid, capture.instance_number);
    let mut put_str = |tag, vr, value: &str| {
        object.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
    };
    put_str(
        tags::SOP_CLASS_UID,
        VR::UI,
        uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
    );
    put_str(tags::SOP_INSTANCE_UID, VR::UI, &instance_uid);
    put_str(tags::SERIES_INSTANCE_UID, VR::UI, capture.series_uid);
    put_str(tags::MODALITY, VR::CS, "OT");
    put_str(tags::CONVERSION_TYPE, VR::CS, "WSD");
    put_str(tags::SERIES_DESCRIPTION, VR::LO, SERIES_DESCRIPTION);
    put_str(tags::SERIES_NUMBER, VR::IS, "9901");
    put_str(
        tags::INSTANCE_NUMBER,
        VR::IS,
        &capture.instance_number.to_string(),
    );
    put_str(tags::BURNED_IN_ANNOTATION, VR::CS, "YES");
    put_str(tags::IMAGE_COMMENTS, VR::LT, capture.comment);
    put_str(tags::MANUFACTURER, VR::LO, "BrainScan MRI");
    put_str(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "RGB");
    let mut put_u16 = |tag, value: u16| {
        object.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
    };
    put_u16(tags::SAMPLES_PER_PIXEL, 3);
    put_u16(tags::PLANAR_CONFIGURATION, 0);
    put_u16(tags::ROWS, rows);
    put_u16(tags::COLUMNS, columns);
    put_u16(tags::BITS_ALLOCATED, 8);
    put_u16(tags::BITS_STORED, 8);
    put_u16(tags::HIGH_BIT, 7);
    put_u16(tags::PIXEL_REPRESENTATION, 0);
    let mut pixels = capture.image.as_raw().clone();
    if pixels.len() % 2 == 1 {
        pixels.push(0);
    }
    object.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(pixels),
    ));
    let file = object
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .map_err(|e| encode("DICOM meta", &e))?;
    let mut out = Vec::new();
    file.write_all(&mut out)
        .map_err(|e| encode("DICOM file", &e))?;
    Ok(out)
}

/// Opacity of the heatmap in the stored images.
const OVERLAY_OPACITY: f32 = 0.5;

/// What one slice's image says about it.
#[derive(Debug, Clone)]
pub struct SliceCaption {
    /// 1-based, in the series' order.
    pub position: usize,
    pub total: usize,
    pub class_name: String,
    pub confidence: f64,
    /// Class and probability, in the order shown.
    pub probabilities: Vec<(String, f64)>,
    pub needs_review: bool,
}

/// What every image says about the series.
#[derive(Debug, Clone)]
pub struct SeriesCaption {
    /// Class, confidence and whether it needs review; `None` when no slice was answered.
    pub verdict: Option<(String, f64, bool)>,
    pub model_version: String,
}

fn review_note(needs_review: bool) -> &'static str {
    if needs_review {
        " (needs review)"
    } else {
        ""
    }
}

impl SliceCaption {
    /// The answer in one line: the image's first caption line and its Image Comments.
    pub fn answer(&self) -> String {
        format!(
            "Slice {} of {}: {} {:.1}%{}",
            self.position,
            self.total,
            domain::classes::class_label(&self.class_name),
            self.confidence * 100.0,
            review_note(self.needs_review)
        )
    }

    fn lines(&self, series: &SeriesCaption) -> Vec<String> {
        let probabilities = self
            .probabilities
            .iter()
            .map(|(class, p)| format!("{} {:.1}", domain::classes::class_label(class), p * 100.0))
            .collect::<Vec<_>>()
            .join("  ");
        let verdict = match &series.verdict {
            Some((class, confidence, needs_review)) => format!(
                "Series: {} {:.1}%{} - model {}",
                domain::classes::class_label(class),
                confidence * 100.0,
                review_note(*needs_review),
                series.model_version
            ),
            None => format!("Series: no verdict - model {}", series.model_version),
        };
        vec![self.answer(), probabilities, verdict]
    }
}

/// A classified series as a new Secondary Capture series of its study: each slice (its source
/// instance and caption) explained by `classifier`, its heatmap overlay captioned and filed under
/// `link`. Answers the new series' UID and its files, in slice order.
pub fn result_series(
    classifier: &crate::Classifier,
    link: &StudyLink,
    slices: &[(&[u8], SliceCaption)],
    series: &SeriesCaption,
) -> MlResult<(String, Vec<Vec<u8>>)> {
    let series_uid = new_uid(link.study_uid());
    let mut files = Vec::with_capacity(slices.len());
    for (number, (bytes, caption)) in slices.iter().enumerate() {
        let explanation = classifier.explain_bytes(bytes)?;
        let image = annotate(
            &explanation.overlay(OVERLAY_OPACITY),
            &caption.lines(series),
        )?;
        files.push(write(
            link,
            &CaptureImage {
                series_uid: &series_uid,
                instance_number: number as u32 + 1,
                image: &image,
                comment: &caption.answer(),
            },
        )?);
    }
    Ok((series_uid, files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dicom_writer::{DicomWriter, InstancePlace, PATIENT_ID, PATIENT_NAME};

    fn source() -> Vec<u8> {
        DicomWriter {
            place: Some(InstancePlace {
                study_uid: "1.2.826.0.1.3680043.8.498.5".into(),
                series_uid: "1.2.826.0.1.3680043.8.498.5.1".into(),
                instance_number: 1,
                z: 0.0,
            }),
            ..DicomWriter::default()
        }
        .with_patient()
        .write(&[vec![100; 16 * 16]], 16, 16)
        .unwrap()
    }

    #[test]
    fn a_capture_is_filed_under_the_source_study_and_says_research_use_only() {
        let link = StudyLink::from_instance(&source()).unwrap();
        assert_eq!(link.study_uid(), "1.2.826.0.1.3680043.8.498.5");
        assert!(!format!("{link:?}").contains(PATIENT_NAME));

        let picture = RgbImage::from_pixel(64, 64, Rgb([90, 90, 90]));
        let annotated = annotate(&picture, &["glioma 97.1%".into()]).unwrap();
        let banner = LINE_HEIGHT * 2 + 6;
        assert_eq!(annotated.width(), MIN_WIDTH, "scaled up to fit the banner");
        assert_eq!(annotated.height(), MIN_WIDTH + banner);
        // Text was drawn: the banner is not all black.
        let lit = (0..banner)
            .flat_map(|y| (0..annotated.width()).map(move |x| (x, y)))
            .filter(|&(x, y)| annotated.get_pixel(x, y).0.iter().any(|&c| c > 128))
            .count();
        assert!(lit > 50, "only {lit} lit pixels in the banner");

        let series_uid = new_uid("test");
        assert!(series_uid.starts_with("2.25.") && series_uid.len() <= 64);
        assert_ne!(series_uid, new_uid("test"));
        let bytes = write(
            &link,
            &CaptureImage {
                series_uid: &series_uid,
                instance_number: 3,
                image: &annotated,
                comment: "glioma 97.1%",
            },
        )
        .unwrap();
        let object = OpenFileOptions::new()
            .read_preamble(ReadPreamble::Never)
            .from_reader(Cursor::new(&bytes[128..]))
            .unwrap();
        let text = |tag| {
            object
                .element(tag)
                .unwrap()
                .to_str()
                .unwrap()
                .trim_end_matches(['\0', ' '])
                .to_owned()
        };
        assert_eq!(
            text(tags::SOP_CLASS_UID),
            uids::SECONDARY_CAPTURE_IMAGE_STORAGE
        );
        assert_eq!(
            text(tags::STUDY_INSTANCE_UID),
            "1.2.826.0.1.3680043.8.498.5"
        );
        assert_eq!(text(tags::SERIES_INSTANCE_UID), series_uid);
        assert_eq!(text(tags::SOP_INSTANCE_UID), format!("{series_uid}.3"));
        assert_eq!(text(tags::PHOTOMETRIC_INTERPRETATION), "RGB");
        assert_eq!(text(tags::BURNED_IN_ANNOTATION), "YES");
        // Filed under the same patient as the source.
        assert_eq!(text(tags::PATIENT_ID), PATIENT_ID);
        let pixels = object
            .element(tags::PIXEL_DATA)
            .unwrap()
            .to_bytes()
            .unwrap();
        assert_eq!(
            &pixels[..annotated.as_raw().len()],
            annotated.as_raw().as_slice()
        );
    }
}
