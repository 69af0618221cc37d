//! Storing labelled uploads for retraining: validated as images, written content-addressed under
//! `UPLOAD_DIR` (never at a client-chosen path), recorded once per content hash.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::api::retrain::{UploadFileResult, UploadOutcome};
use crate::error::AppError;
use crate::ssr::multipart::{check_filename, UploadedFile};
use crate::ssr::AppState;

/// Stores one file for `class_name`, answering stored, duplicate or rejected (with the reason).
pub async fn store(
    state: &AppState,
    class_name: &str,
    file: UploadedFile,
) -> Result<UploadFileResult, AppError> {
    let filename = file.filename.clone();
    let rejected = |reason: String| UploadFileResult {
        filename: filename.clone(),
        outcome: UploadOutcome::Rejected,
        id: None,
        reason: Some(reason),
    };
    if let Err(error) = check_filename(&file.filename) {
        return Ok(rejected(error.to_string()));
    }
    let bytes = file.bytes;
    let checked = tokio::task::spawn_blocking(move || inspect(bytes))
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

/// Decodes the whole image (a truncated file fails here, not at training time) and hashes it.
fn inspect(bytes: Vec<u8>) -> Result<CheckedImage, String> {
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
    let features = ml::features::extract(&decoded);
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

    #[test]
    fn non_images_and_empty_files_are_rejected_with_a_reason() {
        assert!(inspect(Vec::new()).unwrap_err().contains("empty"));
        assert!(inspect(b"hello".to_vec())
            .unwrap_err()
            .contains("not an image"));
        let mut png = Vec::new();
        image::DynamicImage::ImageLuma8(image::GrayImage::new(4, 4))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let checked = inspect(png.clone()).unwrap();
        assert_eq!(
            (checked.width, checked.height, checked.extension),
            (4, 4, "png")
        );
        assert_eq!(checked.sha256.len(), 64);
        assert!(inspect(png[..png.len() / 2].to_vec()).is_err());
    }
}
