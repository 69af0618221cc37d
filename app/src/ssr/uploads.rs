//! Storing labelled uploads for retraining: validated as images, written content-addressed under
//! `UPLOAD_DIR` (never at a client-chosen path), recorded once per content hash.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::api::retrain::{UploadFileResult, UploadOutcome};
use crate::error::AppError;
use crate::ssr::multipart::UploadedFile;
use crate::ssr::AppState;

/// Stores one file for `class_name`, answering stored, duplicate or rejected (with the reason).
pub async fn store(
    state: &AppState,
    class_name: &str,
    purpose: db::uploads::Purpose,
    uploaded_by: &str,
    file: UploadedFile,
) -> Result<UploadFileResult, AppError> {
    let filename = file.filename.clone();
    let rejected = |reason: String| UploadFileResult {
        filename: filename.clone(),
        outcome: UploadOutcome::Rejected,
        id: None,
        reason: Some(reason),
    };
    let bytes = file.bytes;
    let min_side = state.models.current().map_or(DEFAULT_MIN_SIDE, |model| {
        model.classifier.manifest().preprocess.input_size as u32
    });
    let checked = tokio::task::spawn_blocking(move || inspect(bytes, min_side))
        .await
        .map_err(|error| {
            leptos::logging::error!("upload inspection panicked: {error}");
            AppError::Internal
        })?;
    let image = match checked {
        Ok(image) => image,
        Err(reason) => return Ok(rejected(reason)),
    };

    let relative = content_path(&image.sha256, image.extension);
    let absolute = state.service.upload_dir.join(&relative);
    write_once(&absolute, &image.bytes).await.map_err(|error| {
        leptos::logging::error!("cannot store upload at {}: {error}", absolute.display());
        AppError::Internal
    })?;
    let outcome = db::uploads::insert(
        &state.db,
        &db::uploads::NewUpload {
            filename: &file.filename,
            class_name,
            stored_path: &relative.to_string_lossy(),
            size_bytes: image.bytes.len() as i64,
            sha256: &image.sha256,
            width: i64::from(image.width),
            height: i64::from(image.height),
            metadata: &serde_json::json!({
                "format": image.extension,
                "features": image.features,
            })
            .to_string(),
            purpose,
            uploaded_by: Some(uploaded_by),
        },
    )
    .await?;
    Ok(match outcome {
        db::uploads::InsertOutcome::Stored(id) => UploadFileResult {
            filename,
            outcome: UploadOutcome::Stored,
            id: Some(id),
            reason: None,
        },
        db::uploads::InsertOutcome::Duplicate(id) => UploadFileResult {
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
}

/// The smallest side a training image may have when no model is loaded to say its input size.
const DEFAULT_MIN_SIDE: u32 = 112;
/// Below this standard deviation of grey levels (0-255) an image is blank or nearly uniform: nothing
/// to learn from. Real slices measure 30-80; a JPEG of a flat colour, under 1.
const MIN_INTENSITY_STD: f64 = 4.0;

/// Decodes the whole image (a truncated file fails here, not at training time) and hashes it;
/// refuses images too small for the model's input or with nothing in them.
fn inspect(bytes: Vec<u8>, min_side: u32) -> Result<CheckedImage, String> {
    let extension = match image::guess_format(&bytes) {
        Ok(image::ImageFormat::Jpeg) => "jpg",
        Ok(image::ImageFormat::Png) => "png",
        Ok(image::ImageFormat::Bmp) => "bmp",
        Ok(image::ImageFormat::WebP) => "webp",
        Ok(image::ImageFormat::Gif) => "gif",
        _ if bytes.is_empty() => return Err("the file is empty (0 bytes)".into()),
        _ => return Err("not an image: expected JPEG, PNG, BMP, WebP or GIF".into()),
    };
    let decoded = ml::preprocess::decode(&bytes).map_err(|error| error.to_string())?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
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
    Ok(CheckedImage {
        features,
        width: decoded.width(),
        height: decoded.height(),
        bytes,
        sha256,
        extension,
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
        assert!(inspect(Vec::new(), 112).unwrap_err().contains("empty"));
        assert!(inspect(b"hello".to_vec(), 112)
            .unwrap_err()
            .contains("not an image"));
        let slice = png(textured(128));
        let checked = inspect(slice.clone(), 112).unwrap();
        assert_eq!(
            (checked.width, checked.height, checked.extension),
            (128, 128, "png")
        );
        assert_eq!(checked.sha256.len(), 64);
        assert!(inspect(slice[..slice.len() / 2].to_vec(), 112).is_err());
    }

    #[test]
    fn tiny_blank_and_uniform_images_are_useless_for_training() {
        let tiny = inspect(png(textured(1)), 112).unwrap_err();
        assert!(tiny.contains("too small") && tiny.contains("1x1"), "{tiny}");
        let small = inspect(png(textured(100)), 112).unwrap_err();
        assert!(small.contains("112x112"), "{small}");
        for (name, level) in [("black", 0u8), ("white", 255), ("grey", 128)] {
            let blank = image::GrayImage::from_pixel(256, 256, image::Luma([level]));
            let reason = inspect(png(blank), 112).unwrap_err();
            assert!(reason.contains("nearly uniform"), "{name}: {reason}");
        }
    }
}
