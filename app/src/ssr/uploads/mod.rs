//! Storing labelled uploads for retraining: validated as images, written content-addressed to the
//! uploads area of the store (`UPLOAD_DIR` or the `STORAGE_URL` bucket; never at a client-chosen
//! name), recorded once per content hash.

use std::sync::Arc;

use crate::error::AppError;
use crate::types::retrain::{UploadFileResult, UploadOutcome};

use crate::ssr::models::ServingModel;
use crate::ssr::multipart::UploadedFile;
use crate::ssr::review::Hold;
use crate::ssr::{predictions, AppState};

mod inspect;

use inspect::{inspect, CheckedImage, DEFAULT_MIN_SIDE};

/// The `class_name` field of an upload or a review decision: one of the model's classes.
pub fn parse_class_name(value: Option<&str>) -> Result<String, AppError> {
    let value = value.map(str::trim).unwrap_or_default();
    let expected = domain::CLASS_NAMES.join(", ");
    if value.is_empty() {
        return Err(AppError::BadRequest(format!(
            "class_name is required: one of {expected}"
        )));
    }
    domain::class_index(value)
        .map(|index| domain::CLASS_NAMES[index].to_owned())
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "unknown class_name {value:?}: expected one of {expected}"
            ))
        })
}

/// The optional `purpose` field of an upload: `training` (the default) or `reference`.
pub fn parse_purpose(value: Option<&str>) -> Result<db::uploads::Purpose, AppError> {
    match value.map(str::trim).unwrap_or_default() {
        "" | "training" => Ok(db::uploads::Purpose::Training),
        "reference" => Ok(db::uploads::Purpose::Reference),
        other => Err(AppError::BadRequest(format!(
            "purpose must be training or reference (got {other:?})"
        ))),
    }
}

/// What every file of one upload request is labelled with, and by whom.
#[derive(Debug, Clone, Copy)]
pub struct Labelling<'a> {
    pub class_name: &'a str,
    pub purpose: db::uploads::Purpose,
    /// A user name or `token:<name>`.
    pub uploaded_by: &'a str,
    /// The prediction a reviewer corrected into this upload; `None` for a bulk upload.
    pub prediction_id: Option<i64>,
}

/// Stores each file with its labelling, answering stored, held, duplicate or rejected (with the
/// reason) per file. Training uploads whose label the serving model confidently contradicts are
/// stored but held for an annotator ([`ml::label_check`]) instead of being queued for training.
pub async fn store_all(
    state: &AppState,
    labelling: Labelling<'_>,
    files: Vec<UploadedFile>,
) -> Result<Vec<UploadFileResult>, AppError> {
    let Labelling {
        class_name,
        purpose,
        ..
    } = labelling;
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
                tracing::error!("upload inspection panicked: {error}");
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
            Ok((image, hold)) => store_one(state, labelling, filename, image, hold).await?,
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
    labelling: Labelling<'_>,
    filename: String,
    image: CheckedImage,
    hold: Option<Hold>,
) -> Result<UploadFileResult, AppError> {
    let class_name = labelling.class_name;
    let key = content_key(&image.sha256, image.extension);
    let size_bytes = image.bytes.len() as i64;
    // Write-once under a content-derived name: an object already there holds these very bytes.
    state
        .service
        .storage
        .uploads
        .put_once(&key, image.bytes)
        .await
        .map_err(|error| {
            tracing::error!(%key, %error, "cannot store an upload");
            AppError::Internal
        })?;
    let hold_detail = hold
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|error| {
            tracing::error!("cannot encode a label hold: {error}");
            AppError::Internal
        })?;
    let outcome = db::uploads::insert(
        &state.db,
        &db::uploads::NewUpload {
            filename: &filename,
            class_name,
            stored_path: &key,
            size_bytes,
            sha256: &image.sha256,
            width: i64::from(image.width),
            height: i64::from(image.height),
            metadata: &serde_json::json!({
                "format": if image.dicom.is_some() { "dicom" } else { image.extension },
                "features": image.features,
                "dicom": image.dicom,
            })
            .to_string(),
            purpose: labelling.purpose,
            uploaded_by: Some(labelling.uploaded_by),
            review: if hold.is_some() {
                db::uploads::Review::Held
            } else {
                db::uploads::Review::None
            },
            review_detail: hold_detail.as_deref(),
            prediction_id: labelling.prediction_id,
        },
    )
    .await?;
    // A duplicate names the stored file it repeats, as the uploader knows it.
    let existing = match outcome {
        db::uploads::InsertOutcome::Duplicate(id) => db::uploads::listed(&state.db, id).await?,
        db::uploads::InsertOutcome::Stored(_) => None,
    };
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
            reason: Some(match existing {
                Some(stored) => format!(
                    "the same image is already stored as {} ({}, uploaded {}{}, id {id})",
                    domain::text::clipped(&stored.filename, 120),
                    crate::class_label(&stored.class_name),
                    stored.uploaded_at.get(..10).unwrap_or(&stored.uploaded_at),
                    stored
                        .uploaded_by
                        .as_deref()
                        .map(|by| format!(" by {by}"))
                        .unwrap_or_default(),
                ),
                None => format!("the same image is already stored as upload {id}"),
            }),
        },
    })
}

/// `ab/abcdef....jpg`: two-level fan-out keeps directories small.
fn content_key(sha256: &str, extension: &str) -> String {
    format!("{}/{sha256}.{extension}", &sha256[..2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_keys_fan_out_by_hash_prefix_and_never_use_client_names() {
        let hash = "ab".repeat(32);
        assert_eq!(content_key(&hash, "png"), format!("ab/{hash}.png"));
    }
}
