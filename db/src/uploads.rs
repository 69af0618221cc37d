//! The `uploaded_images` table: labelled images sent for retraining, stored once per content hash.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{AnyConnection, AnyExecutor};

use crate::{count_where, DbResult, Pool};

#[derive(Debug, Clone)]
pub struct NewUpload<'a> {
    pub filename: &'a str,
    pub class_name: &'a str,
    pub stored_path: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub width: i64,
    pub height: i64,
    /// JSON object with anything worth keeping about the image.
    pub metadata: &'a str,
    pub purpose: Purpose,
    /// Who uploaded it (a user name or `token:<name>`).
    pub uploaded_by: Option<&'a str>,
    /// [`Review::Held`] when the serving model contradicted the label; `review_detail` says why.
    pub review: Review,
    pub review_detail: Option<&'a str>,
}

/// Where an upload stands with the suspect-label check. Only `None`, `Confirmed` and `Relabelled`
/// images are trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Review {
    /// Not contradicted (or no model was serving to judge it).
    #[default]
    None,
    /// Waiting for an annotator.
    Held,
    /// An annotator kept the uploaded label.
    Confirmed,
    /// An annotator chose another class.
    Relabelled,
    /// An annotator decided it must not be trained on.
    Discarded,
}

impl Review {
    pub fn as_str(self) -> &'static str {
        match self {
            Review::None => "none",
            Review::Held => "held",
            Review::Confirmed => "confirmed",
            Review::Relabelled => "relabelled",
            Review::Discarded => "discarded",
        }
    }
}

/// Excludes uploads that must not be trained on (yet).
const TRAINABLE: &str = "purpose = 'training' AND review NOT IN ('held', 'discarded')";

/// What an upload is for: training, or the trusted reference set new versions are judged on (never
/// trained on, so wrong labels in training uploads cannot vouch for themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Purpose {
    #[default]
    Training,
    Reference,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Training => "training",
            Purpose::Reference => "reference",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct UploadedImage {
    pub id: i64,
    pub filename: String,
    pub class_name: String,
    pub stored_path: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub width: i64,
    pub height: i64,
    pub uploaded_at: String,
    pub training_session_id: Option<i64>,
    /// JSON object: the image format and its extracted features.
    pub metadata: String,
}

/// What happened to an upload: a new row, or the row that already holds the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Stored(i64),
    Duplicate(i64),
}

const COLUMNS: &str = "id, filename, class_name, stored_path, size_bytes, sha256, width, height, \
                       uploaded_at, training_session_id, metadata";

/// Inserts the upload unless its content hash is already stored (atomic: two concurrent uploads of
/// the same bytes yield one row and one duplicate).
pub async fn insert(db: &Pool, row: &NewUpload<'_>) -> DbResult<InsertOutcome> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO uploaded_images
             (filename, class_name, stored_path, size_bytes, sha256, width, height, uploaded_at,
              metadata, purpose, uploaded_by, review, review_detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (sha256) DO NOTHING
         RETURNING id",
    )
    .bind(row.filename)
    .bind(row.class_name)
    .bind(row.stored_path)
    .bind(row.size_bytes)
    .bind(row.sha256)
    .bind(row.width)
    .bind(row.height)
    .bind(crate::now_rfc3339())
    .bind(row.metadata)
    .bind(row.purpose.as_str())
    .bind(row.uploaded_by)
    .bind(row.review.as_str())
    .bind(row.review_detail)
    .fetch_optional(db)
    .await?;
    if let Some(id) = inserted {
        return Ok(InsertOutcome::Stored(id));
    }
    let existing: i64 = sqlx::query_scalar("SELECT id FROM uploaded_images WHERE sha256 = $1")
        .bind(row.sha256)
        .fetch_one(db)
        .await?;
    Ok(InsertOutcome::Duplicate(existing))
}

/// Training images not yet used by any training session, oldest first.
pub async fn pending(db: impl AnyExecutor<'_>) -> DbResult<Vec<UploadedImage>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM uploaded_images
         WHERE used_for_training = 0 AND {TRAINABLE} ORDER BY id"
    ))
    .fetch_all(db)
    .await?)
}

pub async fn count_pending(db: impl AnyExecutor<'_>) -> DbResult<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM uploaded_images WHERE used_for_training = 0 AND {TRAINABLE}"
    ))
    .fetch_one(db)
    .await?)
}

/// The trusted reference set, oldest first.
pub async fn reference(db: impl AnyExecutor<'_>) -> DbResult<Vec<UploadedImage>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM uploaded_images WHERE purpose = 'reference' ORDER BY id"
    ))
    .fetch_all(db)
    .await?)
}

/// Marks images as preprocessed and consumed by `session_id`.
pub async fn mark_used(
    connection: &mut AnyConnection,
    ids: &[i64],
    session_id: i64,
) -> DbResult<()> {
    for id in ids {
        sqlx::query(
            "UPDATE uploaded_images SET processed = 1, used_for_training = 1, training_session_id = $1
             WHERE id = $2",
        )
        .bind(session_id)
        .bind(id)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UploadStats {
    pub total: i64,
    pub processed: i64,
    pub pending: i64,
    pub reference: i64,
    /// Waiting for an annotator's decision.
    pub held: i64,
    pub by_class: BTreeMap<String, i64>,
    pub total_bytes: i64,
}

pub async fn stats(db: &Pool) -> DbResult<UploadStats> {
    let (total, processed, pending, reference, held, total_bytes): (i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(&format!(
            "SELECT COUNT(*), {},
                {}, {}, {},
                CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)
             FROM uploaded_images",
            count_where("processed = 1"),
            count_where(&format!("used_for_training = 0 AND {TRAINABLE}")),
            count_where("purpose = 'reference'"),
            count_where("review = 'held'"),
        ))
        .fetch_one(db)
        .await?;
    let by_class: Vec<(String, i64)> = sqlx::query_as(
        "SELECT class_name, COUNT(*) FROM uploaded_images GROUP BY class_name ORDER BY class_name",
    )
    .fetch_all(db)
    .await?;
    Ok(UploadStats {
        total,
        processed,
        pending,
        reference,
        held,
        by_class: by_class.into_iter().collect(),
        total_bytes,
    })
}

/// A held upload as an annotator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct HeldUpload {
    pub id: i64,
    pub filename: String,
    pub class_name: String,
    pub uploaded_at: String,
    pub uploaded_by: Option<String>,
    /// JSON: why it was held.
    pub review_detail: Option<String>,
    pub stored_path: String,
}

const HELD_COLUMNS: &str =
    "id, filename, class_name, uploaded_at, uploaded_by, review_detail, stored_path";

/// Uploads waiting for an annotator, oldest first, at most `limit`; and how many are waiting.
pub async fn held(db: &Pool, limit: i64) -> DbResult<(Vec<HeldUpload>, i64)> {
    let rows = sqlx::query_as(&format!(
        "SELECT {HELD_COLUMNS} FROM uploaded_images WHERE review = 'held' ORDER BY id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar("SELECT COUNT(*) FROM uploaded_images WHERE review = 'held'")
        .fetch_one(db)
        .await?;
    Ok((rows, total))
}

/// One held upload, or `None` when `id` is not (or no longer) held.
pub async fn held_one(db: &Pool, id: i64) -> DbResult<Option<HeldUpload>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {HELD_COLUMNS} FROM uploaded_images WHERE id = $1 AND review = 'held'"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Records an annotator's decision on a held upload: `class_name` is the label it keeps (the
/// uploaded one when confirmed), `detail` the JSON kept with it. Answers `false` when the upload is
/// not held (already decided, or never held), so two annotators cannot both decide it.
pub async fn decide(
    db: &Pool,
    id: i64,
    decision: Review,
    class_name: &str,
    detail: &str,
) -> DbResult<bool> {
    let changed = sqlx::query(
        "UPDATE uploaded_images SET review = $1, class_name = $2, review_detail = $3
         WHERE id = $4 AND review = 'held'",
    )
    .bind(decision.as_str())
    .bind(class_name)
    .bind(detail)
    .bind(id)
    .execute(db)
    .await?
    .rows_affected();
    Ok(changed == 1)
}
