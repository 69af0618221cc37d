//! What an upload must be to be stored: a whole, readable image (or one DICOM MR slice), large
//! enough for the model's input and not blank.

use sha2::{Digest, Sha256};

use crate::ssr::predictions;

/// The reason a file cannot be used, as the same words `/predict` would answer (server-side
/// failures stay in the log).
fn client_reason(error: ml::MlError) -> String {
    predictions::image_error(error).to_string()
}

#[derive(Debug)]
pub(super) struct CheckedImage {
    pub(super) bytes: Vec<u8>,
    pub(super) sha256: String,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) extension: &'static str,
    /// Computed at upload so the insights never decode stored images again.
    pub(super) features: ml::features::ImageFeatures,
    /// What the serving model reads, when the label is to be checked (empty otherwise): made from
    /// the decode done here, so the check decodes nothing again.
    pub(super) model_input: Vec<f32>,
    /// A DICOM upload's de-identified summary (its `bytes` are then the decoded slice as PNG).
    pub(super) dicom: Option<ml::dicom::DicomSummary>,
}

/// The smallest side a training image may have when no model is loaded to say its input size.
pub(super) const DEFAULT_MIN_SIDE: u32 = 112;
/// Below this standard deviation of grey levels (0-255) an image is blank or nearly uniform: nothing
/// to learn from. Real slices measure 30-80; a JPEG of a flat colour, under 1.
const MIN_INTENSITY_STD: f64 = 4.0;

/// Decodes the whole image (a truncated file fails here, not at training time) and hashes it;
/// refuses images too small for the model's input or with nothing in them. With `model_config`,
/// also prepares the model's input for the label check.
pub(super) fn inspect(
    bytes: Vec<u8>,
    min_side: u32,
    model_config: Option<ml::preprocess::PreprocessConfig>,
) -> Result<CheckedImage, String> {
    if ml::dicom::is_dicom(&bytes) {
        return inspect_dicom(&bytes, min_side, model_config);
    }
    let extension = match image::guess_format(&bytes) {
        Ok(image::ImageFormat::Jpeg) => "jpg",
        Ok(image::ImageFormat::Png) => "png",
        Ok(image::ImageFormat::Bmp) => "bmp",
        Ok(image::ImageFormat::WebP) => "webp",
        Ok(image::ImageFormat::Gif) => "gif",
        _ if bytes.is_empty() => return Err("the file is empty (0 bytes)".into()),
        _ => return Err("not an image: expected JPEG, PNG, BMP, WebP, GIF or DICOM".into()),
    };
    let decoded = ml::preprocess::decode(&bytes).map_err(client_reason)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    check_decoded(
        bytes,
        sha256,
        extension,
        decoded,
        None,
        min_side,
        model_config,
    )
}

/// A DICOM slice is kept as the windowed 8-bit PNG that training reads, never as the file (whose
/// other tags may name the patient), and hashed by its pixels, so the same slice exported twice is
/// one image. One slice per file: a volume's frames do not share one label.
fn inspect_dicom(
    bytes: &[u8],
    min_side: u32,
    model_config: Option<ml::preprocess::PreprocessConfig>,
) -> Result<CheckedImage, String> {
    let input = ml::preprocess::decode_input(bytes).map_err(client_reason)?;
    let summary = input.dicom.clone();
    if input.frames.len() > 1 {
        return Err(format!(
            "a multi-frame DICOM file ({} frames): upload one slice per file, since a volume's \
             slices do not all show what its label says",
            input.frames.len()
        ));
    }
    let decoded = input.into_middle_frame();
    let mut hasher = Sha256::new();
    hasher.update(decoded.width().to_le_bytes());
    hasher.update(decoded.height().to_le_bytes());
    hasher.update(decoded.as_raw());
    let sha256 = hex::encode(hasher.finalize());
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        decoded.as_raw(),
        decoded.width(),
        decoded.height(),
        image::ExtendedColorType::L8,
    )
    .map_err(|error| format!("cannot re-encode the slice as PNG: {error}"))?;
    check_decoded(png, sha256, "png", decoded, summary, min_side, model_config)
}

fn check_decoded(
    bytes: Vec<u8>,
    sha256: String,
    extension: &'static str,
    decoded: image::GrayImage,
    dicom: Option<ml::dicom::DicomSummary>,
    min_side: u32,
    model_config: Option<ml::preprocess::PreprocessConfig>,
) -> Result<CheckedImage, String> {
    if decoded.width() < min_side || decoded.height() < min_side {
        return Err(format!(
            "too small to train on: {}x{} pixels; the model's input is {min_side}x{min_side}",
            decoded.width(),
            decoded.height()
        ));
    }
    let features = ml::features::extract(&decoded);
    if features.std_intensity < MIN_INTENSITY_STD {
        return Err(format!(
            "blank or nearly uniform (grey-level spread {:.1}, mean {:.0}): nothing to learn from",
            features.std_intensity, features.mean_intensity
        ));
    }
    let model_input = model_config
        .map(|config| ml::preprocess::model_input(&decoded, &config))
        .unwrap_or_default();
    Ok(CheckedImage {
        model_input,
        features,
        width: decoded.width(),
        height: decoded.height(),
        bytes,
        sha256,
        extension,
        dicom,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(image: image::GrayImage) -> Vec<u8> {
        let mut bytes = Vec::new();
        image::DynamicImage::ImageLuma8(image)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        bytes
    }

    /// A textured 128 x 128 slice: large enough, and with something in it.
    fn textured(side: u32) -> image::GrayImage {
        image::GrayImage::from_fn(side, side, |x, y| {
            image::Luma([((x * 7 + y * 13) % 200) as u8])
        })
    }

    #[test]
    fn non_images_and_empty_files_are_rejected_with_a_reason() {
        assert!(inspect(Vec::new(), 112, None)
            .unwrap_err()
            .contains("empty"));
        assert!(inspect(b"hello".to_vec(), 112, None)
            .unwrap_err()
            .contains("not an image"));
        let slice = png(textured(128));
        let checked = inspect(slice.clone(), 112, None).unwrap();
        assert_eq!(
            (checked.width, checked.height, checked.extension),
            (128, 128, "png")
        );
        assert_eq!(checked.sha256.len(), 64);
        assert!(inspect(slice[..slice.len() / 2].to_vec(), 112, None).is_err());
    }

    #[test]
    fn the_label_check_input_is_what_serving_would_compute_from_the_bytes() {
        let slice = png(textured(160));
        let config = ml::preprocess::PreprocessConfig::new(112);
        let checked = inspect(slice.clone(), 112, Some(config)).unwrap();
        let served = ml::preprocess::preprocess_bytes(&slice, &config).unwrap();
        assert_eq!(checked.model_input, served);
        assert!(inspect(slice, 112, None).unwrap().model_input.is_empty());
    }

    #[test]
    fn tiny_blank_and_uniform_images_are_useless_for_training() {
        let tiny = inspect(png(textured(1)), 112, None).unwrap_err();
        assert!(tiny.contains("too small") && tiny.contains("1x1"), "{tiny}");
        let small = inspect(png(textured(100)), 112, None).unwrap_err();
        assert!(small.contains("112x112"), "{small}");
        for (name, level) in [("black", 0u8), ("white", 255), ("grey", 128)] {
            let blank = image::GrayImage::from_pixel(256, 256, image::Luma([level]));
            let reason = inspect(png(blank), 112, None).unwrap_err();
            assert!(reason.contains("nearly uniform"), "{name}: {reason}");
        }
    }
}
