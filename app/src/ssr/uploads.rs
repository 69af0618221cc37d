//! Storing labelled uploads for retraining: validated as images, written content-addressed under
//! `UPLOAD_DIR` (never at a client-chosen path), recorded once per content hash.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::api::retrain::{UploadFileResult, UploadOutcome};
use crate::error::AppError;
use std::sync::Arc;

use crate::ssr::models::ServingModel;
use crate::ssr::multipart::UploadedFile;
use crate::ssr::review::Hold;
use crate::ssr::{predictions, AppState};

/// Stores each file for `class_name`, answering stored, held, duplicate or rejected (with the
/// reason) per file. Training uploads whose label the serving model confidently contradicts are
/// stored but held for an annotator ([`ml::label_check`]) instead of being queued for training.
pub async fn store_all(
    state: &AppState,
    class_name: &str,
    purpose: db::uploads::Purpose,
    uploaded_by: &str,
    files: Vec<UploadedFile>,
) -> Result<Vec<UploadFileResult>, AppError> {
    // Every upload to a serving model must be a brain MRI slice; its label is second-guessed only
    // for training uploads, since the reference set is the admins' trusted ground truth. With no
    // model there is no check to run.
    let serving = state.models.current();
    let min_side = serving.as_ref().map_or(DEFAULT_MIN_SIDE, |model| {
        model.classifier.manifest().preprocess.input_size as u32
    });
    let check_label = purpose == db::uploads::Purpose::Training;
    let model_config = serving
        .as_ref()
        .map(|model| model.classifier.manifest().preprocess);
    let mut inspected = Vec::with_capacity(files.len());
    for file in files {
        let bytes = file.bytes;
        let checked = tokio::task::spawn_blocking(move || inspect(bytes, min_side, model_config))
            .await
            .map_err(|error| {
                leptos::logging::error!("upload inspection panicked: {error}");
                AppError::Internal
            })?;
        inspected.push((file.filename, checked));
    }
    let opinions = match &serving {
        Some(model) => {
            let inputs = inspected
                .iter_mut()
                .filter_map(|(_, checked)| checked.as_mut().ok())
                .map(|image| std::mem::take(&mut image.model_input))
                .collect();
            second_opinions(state, model, class_name, check_label, inputs).await?
        }
        None => Vec::new(),
    };
    // One opinion per readable image, in order; none at all without a serving model.
    let mut opinions = opinions.into_iter();
    let mut results = Vec::with_capacity(inspected.len());
    for (filename, checked) in inspected {
        let checked = checked.and_then(|image| match opinions.next() {
            Some(opinion) => opinion.map(|hold| (image, hold)),
            None => Ok((image, None)),
        });
        let result = match checked {
            Ok((image, hold)) => {
                store_one(
                    state,
                    class_name,
                    purpose,
                    uploaded_by,
                    filename,
                    image,
                    hold,
                )
                .await?
            }
            Err(reason) => UploadFileResult {
                filename,
                outcome: UploadOutcome::Rejected,
                id: None,
                reason: Some(reason),
            },
        };
        results.push(result);
    }
    Ok(results)
}

/// The serving model's opinion of each image, in order: the reason to reject one that is not a
/// brain MRI slice, else the hold when the model confidently contradicts `class_name` (only when
/// `check_label`). `inputs` are the images' model inputs, made while they were decoded for
/// inspection; they go through the inference thread in model-sized batches, and nothing is
/// recorded as a prediction.
async fn second_opinions(
    state: &AppState,
    model: &Arc<ServingModel>,
    class_name: &str,
    check_label: bool,
    inputs: Vec<Vec<f32>>,
) -> Result<Vec<Result<Option<Hold>, String>>, AppError> {
    let Some(label) = ml::classes::class_index(class_name) else {
        return Ok(Vec::new());
    };
    let check = ml::label_check::LabelCheck::default();
    let mut opinions = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(state.inference.max_batch_images().max(1)) {
        for prediction in predictions::forward(state, model, chunk.concat()).await? {
            let prediction = match prediction {
                Ok(prediction) => prediction,
                Err(AppError::NotBrainMri { detail, .. }) => {
                    opinions.push(Err(detail));
                    continue;
                }
                Err(other) => return Err(other),
            };
            let probabilities: Vec<f32> =
                prediction.probabilities.iter().map(|(_, p)| *p).collect();
            let contradiction = check
                .contradiction(&probabilities, label)
                .filter(|_| check_label);
            opinions.push(Ok(contradiction.map(|contradiction| Hold {
                model_version: model.version.clone(),
                uploaded_label: class_name.to_owned(),
                contradiction,
            })));
        }
    }
    Ok(opinions)
}

async fn store_one(
    state: &AppState,
    class_name: &str,
    purpose: db::uploads::Purpose,
    uploaded_by: &str,
    filename: String,
    image: CheckedImage,
    hold: Option<Hold>,
) -> Result<UploadFileResult, AppError> {
    let relative = content_path(&image.sha256, image.extension);
    let absolute = state.service.upload_dir.join(&relative);
    write_once(&absolute, &image.bytes).await.map_err(|error| {
        leptos::logging::error!("cannot store upload at {}: {error}", absolute.display());
        AppError::Internal
    })?;
    let hold_detail = hold
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|error| {
            leptos::logging::error!("cannot encode a label hold: {error}");
            AppError::Internal
        })?;
    let outcome = db::uploads::insert(
        &state.db,
        &db::uploads::NewUpload {
            filename: &filename,
            class_name,
            stored_path: &relative.to_string_lossy(),
            size_bytes: image.bytes.len() as i64,
            sha256: &image.sha256,
            width: i64::from(image.width),
            height: i64::from(image.height),
            metadata: &serde_json::json!({
                "format": if image.dicom.is_some() { "dicom" } else { image.extension },
                "features": image.features,
                "dicom": image.dicom,
            })
            .to_string(),
            purpose,
            uploaded_by: Some(uploaded_by),
            review: if hold.is_some() {
                db::uploads::Review::Held
            } else {
                db::uploads::Review::None
            },
            review_detail: hold_detail.as_deref(),
        },
    )
    .await?;
    Ok(match (outcome, hold) {
        (db::uploads::InsertOutcome::Stored(id), Some(hold)) => UploadFileResult {
            filename,
            outcome: UploadOutcome::Held,
            id: Some(id),
            reason: Some(format!(
                "held for review: the serving model reads this slice as {} ({:.1}%) and gives \
                 {class_name} {:.1}%; an annotator must confirm or relabel it before it is \
                 trained on",
                hold.contradiction.predicted_class,
                hold.contradiction.predicted_probability * 100.0,
                hold.contradiction.label_probability * 100.0,
            )),
        },
        (db::uploads::InsertOutcome::Stored(id), None) => UploadFileResult {
            filename,
            outcome: UploadOutcome::Stored,
            id: Some(id),
            reason: None,
        },
        (db::uploads::InsertOutcome::Duplicate(id), _) => UploadFileResult {
            filename,
            outcome: UploadOutcome::Duplicate,
            id: Some(id),
            reason: Some(format!("the same image is already stored as upload {id}")),
        },
    })
}

#[derive(Debug)]
struct CheckedImage {
    bytes: Vec<u8>,
    sha256: String,
    width: u32,
    height: u32,
    extension: &'static str,
    /// Computed at upload so the insights never decode stored images again.
    features: ml::features::ImageFeatures,
    /// What the serving model reads, when the label is to be checked (empty otherwise): made from
    /// the decode done here, so the check decodes nothing again.
    model_input: Vec<f32>,
    /// A DICOM upload's de-identified summary (its `bytes` are then the decoded slice as PNG).
    dicom: Option<ml::dicom::DicomSummary>,
}

/// The smallest side a training image may have when no model is loaded to say its input size.
const DEFAULT_MIN_SIDE: u32 = 112;
/// Below this standard deviation of grey levels (0-255) an image is blank or nearly uniform: nothing
/// to learn from. Real slices measure 30-80; a JPEG of a flat colour, under 1.
const MIN_INTENSITY_STD: f64 = 4.0;

/// Decodes the whole image (a truncated file fails here, not at training time) and hashes it;
/// refuses images too small for the model's input or with nothing in them. With `model_config`,
/// also prepares the model's input for the label check.
fn inspect(
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
    let decoded = ml::preprocess::decode(&bytes).map_err(|error| error.to_string())?;
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
    let input = ml::preprocess::decode_input(bytes).map_err(|error| error.to_string())?;
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

/// `ab/abcdef....jpg`: two-level fan-out keeps directories small.
fn content_path(sha256: &str, extension: &str) -> PathBuf {
    Path::new(&sha256[..2]).join(format!("{sha256}.{extension}"))
}

/// Writes through a temporary file and a rename, so a crash never leaves a half-written image under
/// its final name; an existing file with this content-derived name already holds these bytes.
async fn write_once(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if tokio::fs::try_exists(path).await? {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    tokio::fs::write(&temporary, bytes).await?;
    tokio::fs::rename(&temporary, path).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_paths_fan_out_by_hash_prefix_and_never_use_client_names() {
        let hash = "ab".repeat(32);
        let path = content_path(&hash, "png");
        assert_eq!(path, Path::new("ab").join(format!("{hash}.png")));
    }

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
