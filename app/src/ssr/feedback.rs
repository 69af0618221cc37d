//! Closing the loop from predictions: the slices kept for reviewers (and deleted when their
//! retention ends), reviewers' verdicts, corrections made into training uploads, the review queue
//! and the accuracy the reviewed answers show per model version.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::AppError;
use crate::ssr::auth::Principal;
use crate::ssr::multipart::UploadedFile;
use crate::ssr::uploads::{self, Labelling};
use crate::ssr::AppState;
use crate::types::feedback::{
    FeedbackRequest, FeedbackResponse, LiveAccuracy, QueuedPrediction, ReviewQueue, ReviewedRecall,
    Verdict, VersionAccuracy, MAX_QUEUE_PAGE,
};

/// Longest side of a kept slice: DICOM and JPEG slices are at most this size in practice; a larger
/// picture is scaled down rather than kept at any size a client sends.
const KEPT_SIDE_MAX: u32 = 1024;
/// Slices being written at once, at most. Past it a slice is not kept (logged): a burst of
/// predictions must not queue unbounded image copies in memory.
static KEEPING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(32);
/// How often expired slices are looked for.
const RETENTION_SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);
/// Expired slices deleted per database query.
const SWEEP_BATCH: i64 = 500;

/// What a prediction's slice is kept from.
pub enum SliceSource {
    /// The decoded frame the model classified (windowed, for DICOM).
    Frame(image::GrayImage),
    /// The uploaded file, decoded again in the background (paths that decode inside the model).
    Bytes(Vec<u8>),
}

/// Keeps the slice of prediction `id` in the background: an 8-bit PNG of the pixels only (no
/// DICOM header, so nothing about the patient), under `slices/` in the uploads area, recorded
/// with its expiry. Answers that expiry (RFC 3339), the one the answer reports, or `None` when
/// this slice is not kept (the server keeps none, or too many are being written). Never fails the
/// prediction: a slice that cannot be kept is logged.
pub fn keep_slice(state: &AppState, id: i64, source: SliceSource) -> Option<String> {
    let retention = state.service.slice_retention?;
    let Ok(permit) = KEEPING.try_acquire() else {
        tracing::warn!(
            prediction = id,
            "too many slices being kept; this one is not"
        );
        return None;
    };
    let expires = expiry(retention);
    let recorded = expires.clone();
    let state = state.clone();
    tokio::spawn(async move {
        let _permit = permit;
        let encoded = tokio::task::spawn_blocking(move || slice_png(source)).await;
        let png = match encoded {
            Ok(Ok(png)) => png,
            Ok(Err(error)) => {
                tracing::warn!(prediction = id, %error, "cannot keep a prediction's slice");
                return;
            }
            Err(error) => {
                tracing::error!(prediction = id, %error, "slice encoding task failed");
                return;
            }
        };
        let digest = hex::encode(Sha256::digest(&png));
        let key = format!("slices/{id}-{}.png", &digest[..16]);
        if let Err(error) = state.service.storage.uploads.put_once(&key, png).await {
            tracing::error!(prediction = id, %key, %error, "cannot store a prediction's slice");
            return;
        }
        if let Err(error) = db::predictions::keep_slice(&state.db, id, &key, &recorded).await {
            tracing::error!(prediction = id, %error, "cannot record a kept slice");
        }
    });
    Some(expires)
}

fn expiry(retention: Duration) -> String {
    let until = chrono::Utc::now()
        + chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(30));
    until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn slice_png(source: SliceSource) -> Result<Vec<u8>, String> {
    let frame = match source {
        SliceSource::Frame(frame) => frame,
        SliceSource::Bytes(bytes) => ml::preprocess::decode_input(&bytes)
            .map_err(|error| error.to_string())?
            .into_middle_frame(),
    };
    let (width, height) = frame.dimensions();
    let frame = if width.max(height) > KEPT_SIDE_MAX {
        let scale = f64::from(KEPT_SIDE_MAX) / f64::from(width.max(height));
        let side = |extent: u32| ((f64::from(extent) * scale).round() as u32).max(1);
        image::imageops::resize(
            &frame,
            side(width),
            side(height),
            image::imageops::FilterType::Triangle,
        )
    } else {
        frame
    };
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(frame)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|error| error.to_string())?;
    Ok(png)
}

/// The kept slice of prediction `id` as PNG bytes: 404 for an unknown prediction, 410 once its
/// retention ended, 404 when none was kept.
pub async fn slice(state: &AppState, id: i64) -> Result<Vec<u8>, AppError> {
    read_slice(state, &find(state, id).await?).await
}

async fn find(state: &AppState, id: i64) -> Result<db::predictions::ReviewedPrediction, AppError> {
    db::predictions::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no prediction {id}")))
}

async fn read_slice(
    state: &AppState,
    prediction: &db::predictions::ReviewedPrediction,
) -> Result<Vec<u8>, AppError> {
    let id = prediction.id;
    let key = kept_key(prediction)?;
    state
        .service
        .storage
        .uploads
        .read(&key)
        .await
        .map_err(|error| match error {
            storage::StorageError::NotFound(_) => expired(prediction),
            error => {
                tracing::error!(prediction = id, %key, %error, "cannot read a kept slice");
                AppError::Internal
            }
        })
}

fn kept_key(prediction: &db::predictions::ReviewedPrediction) -> Result<String, AppError> {
    match (&prediction.slice_key, &prediction.slice_expires_at) {
        (Some(key), _) => Ok(key.clone()),
        (None, Some(_)) => Err(expired(prediction)),
        (None, None) => Err(AppError::NotFound(format!(
            "the slice of prediction {} was not kept (KEEP_PREDICTION_SLICES was off, or the \
             image could not be kept)",
            prediction.id
        ))),
    }
}

fn expired(prediction: &db::predictions::ReviewedPrediction) -> AppError {
    AppError::Gone(format!(
        "the slice of prediction {} was deleted when its retention ended{}; it can no longer be \
         reviewed or made into training data",
        prediction.id,
        prediction
            .slice_expires_at
            .as_deref()
            .map(|at| format!(" ({})", at.get(..10).unwrap_or(at)))
            .unwrap_or_default()
    ))
}

/// Records `caller`'s verdict on prediction `id` (once per reviewer, audited); a correction becomes
/// a pending training upload of the kept slice, through every upload check, with the prediction as
/// its provenance.
pub async fn submit(
    state: &AppState,
    caller: &Principal,
    id: i64,
    request: FeedbackRequest,
) -> Result<FeedbackResponse, AppError> {
    let prediction = find(state, id).await?;
    let true_class = match request.verdict {
        Verdict::Right => {
            if let Some(class) = request
                .class_name
                .as_deref()
                .filter(|c| !c.trim().is_empty())
            {
                if class.trim() != prediction.predicted_class {
                    return Err(AppError::BadRequest(format!(
                        "verdict right means the answer {} is right; send verdict wrong with \
                         class_name {class:?} to correct it",
                        prediction.predicted_class
                    )));
                }
            }
            prediction.predicted_class.clone()
        }
        Verdict::Wrong => {
            let class = uploads::parse_class_name(request.class_name.as_deref())?;
            if class == prediction.predicted_class {
                return Err(AppError::BadRequest(format!(
                    "the model answered {class}; a correction names another class (or send \
                     verdict right)"
                )));
            }
            class
        }
    };
    // A correction needs the slice: find out before anything is recorded.
    let slice = match request.verdict {
        Verdict::Wrong => Some(read_slice(state, &prediction).await?),
        Verdict::Right => None,
    };
    let verdict = match request.verdict {
        Verdict::Right => db::feedback::Verdict::Right,
        Verdict::Wrong => db::feedback::Verdict::Wrong,
    };
    let feedback_id = db::feedback::insert(
        &state.db,
        &db::feedback::NewFeedback {
            prediction_id: id,
            reviewer: &caller.subject,
            verdict,
            true_class: &true_class,
        },
    )
    .await?
    .ok_or_else(|| {
        AppError::Conflict(format!(
            "{} already gave a verdict on prediction {id}; one per reviewer",
            caller.subject
        ))
    })?;
    let upload = match slice {
        Some(bytes) => {
            let labelling = Labelling {
                class_name: &true_class,
                purpose: db::uploads::Purpose::Training,
                uploaded_by: &caller.subject,
                prediction_id: Some(id),
            };
            let file = UploadedFile {
                field: "files".into(),
                filename: format!("prediction-{id}.png"),
                bytes,
            };
            let result = uploads::store_all(state, labelling, vec![file])
                .await?
                .pop()
                .ok_or(AppError::Internal)?;
            if let Some(upload_id) = result.id {
                db::feedback::link_upload(&state.db, feedback_id, upload_id).await?;
            }
            Some(result)
        }
        None => None,
    };
    let detail = format!(
        "{} ({} answered {}){}",
        verdict.as_str(),
        prediction.model_version,
        prediction.predicted_class,
        match &upload {
            Some(upload) => format!(
                "; correction to {true_class}: upload {:?}{}",
                upload.outcome,
                upload.id.map(|id| format!(" {id}")).unwrap_or_default()
            ),
            None => String::new(),
        }
    );
    crate::ssr::auth::audit(
        &state.db,
        caller,
        "prediction.feedback",
        Some(&format!("prediction {id}")),
        domain::AuditOutcome::Ok,
        Some(&detail),
    )
    .await;
    Ok(FeedbackResponse {
        feedback_id,
        prediction_id: id,
        verdict: request.verdict,
        true_class,
        upload,
    })
}

/// The review queue: kept predictions nobody reviewed, flagged ones first, then the most hesitant.
pub async fn queue(
    state: &AppState,
    model_version: Option<&str>,
    class_name: Option<&str>,
    limit: Option<i64>,
) -> Result<ReviewQueue, AppError> {
    let class_name = match class_name.map(str::trim).filter(|c| !c.is_empty()) {
        Some(class) => Some(uploads::parse_class_name(Some(class))?),
        None => None,
    };
    let limit = limit.unwrap_or(20);
    if !(1..=MAX_QUEUE_PAGE).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be between 1 and {MAX_QUEUE_PAGE} (got {limit})"
        )));
    }
    let filter = db::predictions::QueueFilter {
        model_version: model_version.map(str::trim).filter(|v| !v.is_empty()),
        predicted_class: class_name.as_deref(),
        limit,
    };
    let (rows, total) = db::predictions::review_queue(&state.db, &filter).await?;
    let items = rows
        .into_iter()
        .map(|row| QueuedPrediction {
            slice_url: format!("/predictions/{}/slice", row.id),
            prediction_id: row.id,
            predicted_at: row.predicted_at,
            model_version: row.model_version,
            predicted_class: row.predicted_class,
            confidence: row.confidence,
            probabilities: row
                .probabilities
                .as_deref()
                .and_then(|json| serde_json::from_str(json).ok())
                .unwrap_or_default(),
            needs_review: row.needs_review != 0,
            margin: row.margin,
            slice_expires_at: row.slice_expires_at,
        })
        .collect();
    Ok(ReviewQueue { items, total })
}

/// Every version with reviewed answers: confirmed share and per-class recall with 95% Wilson
/// intervals, and the confusion matrix of reviewed answers; the serving version first.
pub async fn live_accuracy(state: &AppState) -> Result<LiveAccuracy, AppError> {
    let answers = db::feedback::reviewed_answers(&state.db).await?;
    let serving = state.models.current().map(|model| model.version.clone());
    Ok(accuracy_of(&answers, serving.as_deref()))
}

/// [`live_accuracy`] from the reviewed answers (pure, so the arithmetic is tested on its own).
pub fn accuracy_of(
    answers: &[db::feedback::ReviewedAnswer],
    serving: Option<&str>,
) -> LiveAccuracy {
    let classes: Vec<String> = domain::CLASS_NAMES.iter().map(|c| c.to_string()).collect();
    let mut by_version: BTreeMap<&str, Vec<Vec<i64>>> = BTreeMap::new();
    for answer in answers {
        let (Some(truth), Some(predicted)) = (
            domain::class_index(&answer.true_class),
            domain::class_index(&answer.predicted_class),
        ) else {
            continue;
        };
        let matrix = by_version
            .entry(answer.model_version.as_str())
            .or_insert_with(|| vec![vec![0; classes.len()]; classes.len()]);
        matrix[truth][predicted] += answer.count;
    }
    let share = |hits: i64, trials: i64| {
        if trials == 0 {
            return (None, None, None);
        }
        let (low, high) = domain::comparison::wilson_interval(hits as u64, trials as u64);
        (Some(hits as f64 / trials as f64), Some(low), Some(high))
    };
    let mut versions: Vec<VersionAccuracy> = by_version
        .into_iter()
        .map(|(version, confusion)| {
            let reviewed: i64 = confusion.iter().flatten().sum();
            let confirmed: i64 = (0..classes.len()).map(|i| confusion[i][i]).sum();
            let (accuracy, low, high) = share(confirmed, reviewed);
            let per_class = classes
                .iter()
                .enumerate()
                .map(|(i, class)| {
                    let of_class: i64 = confusion[i].iter().sum();
                    let (recall, low, high) = share(confusion[i][i], of_class);
                    ReviewedRecall {
                        class_name: class.clone(),
                        reviewed: of_class,
                        recall,
                        low,
                        high,
                    }
                })
                .collect();
            VersionAccuracy {
                model_version: version.to_owned(),
                serving: serving == Some(version),
                reviewed,
                confirmed,
                accuracy,
                low,
                high,
                per_class,
                confusion,
            }
        })
        .collect();
    versions.sort_by(|a, b| {
        b.serving
            .cmp(&a.serving)
            .then_with(|| b.model_version.cmp(&a.model_version))
    });
    LiveAccuracy { classes, versions }
}

/// The live accuracy in Prometheus' text format: per version, the verdicts, the share confirmed
/// right and each class's recall on reviewed answers (classes without a reviewed slice are left out).
pub fn prometheus_text(live: &LiveAccuracy) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut family = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP brainscan_{name} {help}");
        let _ = writeln!(out, "# TYPE brainscan_{name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "brainscan_{name}{{{labels}}} {value}");
        }
    };
    let version = |v: &VersionAccuracy| format!("version=\"{}\"", v.model_version);
    family(
        "reviewed_answers",
        "Reviewers' verdicts on this version's answers.",
        live.versions
            .iter()
            .map(|v| (version(v), v.reviewed as f64))
            .collect(),
    );
    family(
        "reviewed_accuracy",
        "Share of this version's reviewed answers that reviewers confirmed right.",
        live.versions
            .iter()
            .filter_map(|v| Some((version(v), v.accuracy?)))
            .collect(),
    );
    family(
        "reviewed_recall",
        "Recall per class on reviewed answers (slices reviewers said are this class).",
        live.versions
            .iter()
            .flat_map(|v| {
                v.per_class.iter().filter_map(move |class| {
                    Some((
                        format!("{},class=\"{}\"", version(v), class.class_name),
                        class.recall?,
                    ))
                })
            })
            .collect(),
    );
    out
}

/// Deletes the kept slices whose retention ended before `now` (RFC 3339) and forgets them; answers
/// how many. Safe to run in several processes at once.
pub async fn sweep_expired_slices(state: &AppState, now: &str) -> Result<usize, AppError> {
    let mut deleted = 0;
    loop {
        let expired = db::predictions::expired_slices(&state.db, now, SWEEP_BATCH).await?;
        if expired.is_empty() {
            return Ok(deleted);
        }
        for (id, key) in &expired {
            if let Err(error) = state.service.storage.uploads.delete(key).await {
                tracing::error!(prediction = id, %key, %error, "cannot delete an expired slice");
                return Err(AppError::Internal);
            }
            db::predictions::forget_slice(&state.db, *id).await?;
            deleted += 1;
        }
    }
}

/// Sweeps expired slices now and then every few minutes, for as long as the process runs.
pub fn spawn_retention(state: AppState) {
    if state.service.slice_retention.is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(RETENTION_SWEEP_EVERY);
        loop {
            ticks.tick().await;
            match sweep_expired_slices(&state, &db::now_rfc3339()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired prediction slices deleted"),
                Err(error) => tracing::warn!(%error, "the slice retention sweep failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(
        version: &str,
        predicted: &str,
        truth: &str,
        count: i64,
    ) -> db::feedback::ReviewedAnswer {
        db::feedback::ReviewedAnswer {
            model_version: version.into(),
            predicted_class: predicted.into(),
            true_class: truth.into(),
            count,
        }
    }

    #[test]
    fn reviewed_answers_make_a_confusion_matrix_and_recalls_with_intervals() {
        let answers = [
            answer("v1", "glioma", "glioma", 8),
            answer("v1", "glioma", "meningioma", 2),
            answer("v1", "meningioma", "meningioma", 6),
            answer("v2", "pituitary", "pituitary", 1),
        ];
        let live = accuracy_of(&answers, Some("v2"));
        assert_eq!(
            live.versions[0].model_version, "v2",
            "the serving version first"
        );
        let v1 = &live.versions[1];
        assert_eq!((v1.reviewed, v1.confirmed), (16, 14));
        assert!((v1.accuracy.unwrap() - 14.0 / 16.0).abs() < 1e-12);
        // Rows are the reviewers' classes, columns the answers.
        assert_eq!(v1.confusion[1][0], 2);
        assert_eq!(v1.confusion[0][0], 8);
        let meningioma = &v1.per_class[1];
        assert_eq!(meningioma.reviewed, 8);
        assert!((meningioma.recall.unwrap() - 0.75).abs() < 1e-12);
        // Wilson 95% for 6 of 8: 0.409 to 0.929 (Newcombe 1998's method, by hand).
        assert!((meningioma.low.unwrap() - 0.409).abs() < 0.001);
        assert!((meningioma.high.unwrap() - 0.929).abs() < 0.001);
        let notumor = &v1.per_class[2];
        assert_eq!((notumor.reviewed, notumor.recall), (0, None));

        let text = prometheus_text(&live);
        assert!(
            text.contains("brainscan_reviewed_answers{version=\"v1\"} 16\n"),
            "{text}"
        );
        assert!(
            text.contains("brainscan_reviewed_accuracy{version=\"v1\"} 0.875\n"),
            "{text}"
        );
        assert!(
            text.contains("brainscan_reviewed_recall{version=\"v1\",class=\"meningioma\"} 0.75\n"),
            "{text}"
        );
        assert!(
            !text.contains("class=\"notumor\""),
            "no recall without reviewed slices"
        );
    }
}
