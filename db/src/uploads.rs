//! The `uploaded_images` table: labelled images sent for retraining, stored once per content hash.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{SqliteConnection, SqliteExecutor, SqlitePool};

use crate::DbResult;

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
}

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
    pub processed: bool,
    pub used_for_training: bool,
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
                       uploaded_at, processed, used_for_training, training_session_id, metadata";

/// Inserts the upload unless its content hash is already stored (atomic: two concurrent uploads of
/// the same bytes yield one row and one duplicate).
pub async fn insert(db: &SqlitePool, row: &NewUpload<'_>) -> DbResult<InsertOutcome> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO uploaded_images
             (filename, class_name, stored_path, size_bytes, sha256, width, height, uploaded_at,
              metadata, purpose, uploaded_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
    .fetch_optional(db)
    .await?;
    if let Some(id) = inserted {
        return Ok(InsertOutcome::Stored(id));
    }
    let existing: i64 = sqlx::query_scalar("SELECT id FROM uploaded_images WHERE sha256 = ?")
        .bind(row.sha256)
        .fetch_one(db)
        .await?;
    Ok(InsertOutcome::Duplicate(existing))
}

/// Training images not yet used by any training session, oldest first.
pub async fn pending(db: impl SqliteExecutor<'_>) -> DbResult<Vec<UploadedImage>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM uploaded_images
         WHERE used_for_training = 0 AND purpose = 'training' ORDER BY id"
    ))
    .fetch_all(db)
    .await?)
}

pub async fn count_pending(db: impl SqliteExecutor<'_>) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM uploaded_images WHERE used_for_training = 0 AND purpose = 'training'",
    )
    .fetch_one(db)
    .await?)
}

/// The trusted reference set, oldest first.
pub async fn reference(db: impl SqliteExecutor<'_>) -> DbResult<Vec<UploadedImage>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM uploaded_images WHERE purpose = 'reference' ORDER BY id"
    ))
    .fetch_all(db)
    .await?)
}

/// Marks images as preprocessed and consumed by `session_id`.
pub async fn mark_used(
    connection: &mut SqliteConnection,
    ids: &[i64],
    session_id: i64,
) -> DbResult<()> {
    for id in ids {
        sqlx::query(
            "UPDATE uploaded_images SET processed = 1, used_for_training = 1, training_session_id = ?
             WHERE id = ?",
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
    pub by_class: BTreeMap<String, i64>,
    pub total_bytes: i64,
}

pub async fn stats(db: &SqlitePool) -> DbResult<UploadStats> {
    let (total, processed, pending, reference, total_bytes): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(processed), 0),
                COALESCE(SUM(used_for_training = 0 AND purpose = 'training'), 0),
                COALESCE(SUM(purpose = 'reference'), 0), COALESCE(SUM(size_bytes), 0)
         FROM uploaded_images",
        )
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
        by_class: by_class.into_iter().collect(),
        total_bytes,
    })
}
