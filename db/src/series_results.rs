//! The `series_results` table: each classified series' verdict. Study and Series Instance UIDs are
//! kept only as SHA-256 hashes keyed with a secret made once per database (`series_uid_key`), so a
//! result is found again from its study's UID, but a row names no study, let alone a patient, and a
//! guessed UID cannot be checked against a leaked table without the key.

use sha2::{Digest, Sha256};
use sqlx::AnyExecutor;

use crate::DbResult;

/// The database's key for [`hash_uid`].
pub async fn uid_key(db: impl AnyExecutor<'_>) -> DbResult<String> {
    Ok(
        sqlx::query_scalar("SELECT key FROM series_uid_key WHERE id = 1")
            .fetch_one(db)
            .await?,
    )
}

/// A UID as stored: hex SHA-256 of the key, a separator no UID holds, and the UID.
pub fn hash_uid(key: &str, uid: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update(b"\n");
    hasher.update(uid.trim().as_bytes());
    hex::encode(hasher.finalize())
}

/// Where a series came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Upload,
    Pacs,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Upload => "upload",
            Source::Pacs => "pacs",
        }
    }
}

/// A verdict to record; UIDs in the clear, hashed here.
#[derive(Debug, Clone)]
pub struct NewSeriesResult<'a> {
    pub study_uid: Option<&'a str>,
    pub series_uid: Option<&'a str>,
    pub source: Source,
    pub model_version: &'a str,
    /// `None` when no slice could be answered.
    pub class_name: Option<&'a str>,
    pub confidence: Option<f64>,
    pub needs_review: bool,
    pub slices: usize,
    pub answered: usize,
    pub driving_slices: &'a [usize],
    /// The de-identified acquisition summary (JSON).
    pub summary: Option<String>,
    pub requested_by: Option<&'a str>,
}

pub async fn insert(db: &crate::Pool, key: &str, row: &NewSeriesResult<'_>) -> DbResult<i64> {
    let driving = serde_json::to_string(row.driving_slices).unwrap_or_else(|_| "[]".into());
    Ok(sqlx::query_scalar(
        "INSERT INTO series_results (study_uid_hash, series_uid_hash, source, model_version,
             class_name, confidence, needs_review, slices, answered, driving_slices, summary,
             requested_by, created_at)
         VALUES ($1, $2, $3, $4, $5, NULLIF($6, 'NaN'), $7, $8, $9, $10, $11, $12, $13)
         RETURNING id",
    )
    .bind(row.study_uid.map(|uid| hash_uid(key, uid)))
    .bind(row.series_uid.map(|uid| hash_uid(key, uid)))
    .bind(row.source.as_str())
    .bind(row.model_version)
    .bind(row.class_name)
    // See predictions::insert: a missing figure travels as NaN.
    .bind(row.confidence.unwrap_or(f64::NAN))
    .bind(i64::from(row.needs_review))
    .bind(row.slices as i64)
    .bind(row.answered as i64)
    .bind(driving)
    .bind(row.summary.as_deref())
    .bind(row.requested_by)
    .bind(crate::now_rfc3339())
    .fetch_one(db)
    .await?)
}

/// A stored verdict, without its hashes.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SeriesResultRow {
    pub id: i64,
    pub source: String,
    pub model_version: String,
    pub class_name: Option<String>,
    pub confidence: Option<f64>,
    pub needs_review: i64,
    pub slices: i64,
    pub answered: i64,
    pub driving_slices: String,
    pub sent_to_pacs_at: Option<String>,
    pub created_at: String,
}

/// The verdicts recorded for a study (newest first), found by its UID.
pub async fn for_study(
    db: &crate::Pool,
    key: &str,
    study_uid: &str,
) -> DbResult<Vec<SeriesResultRow>> {
    Ok(sqlx::query_as(
        "SELECT id, source, model_version, class_name, confidence, needs_review, slices, answered,
                driving_slices, sent_to_pacs_at, created_at
         FROM series_results WHERE study_uid_hash = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(hash_uid(key, study_uid))
    .fetch_all(db)
    .await?)
}

/// The newest verdict of a series, found by its study's and its own UID.
pub async fn latest_for_series(
    db: &crate::Pool,
    key: &str,
    study_uid: &str,
    series_uid: &str,
) -> DbResult<Option<SeriesResultRow>> {
    Ok(sqlx::query_as(
        "SELECT id, source, model_version, class_name, confidence, needs_review, slices, answered,
                driving_slices, sent_to_pacs_at, created_at
         FROM series_results WHERE study_uid_hash = $1 AND series_uid_hash = $2
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(hash_uid(key, study_uid))
    .bind(hash_uid(key, series_uid))
    .fetch_optional(db)
    .await?)
}

/// Notes that a verdict was stored in the PACS.
pub async fn mark_sent(db: impl AnyExecutor<'_>, id: i64) -> DbResult<()> {
    sqlx::query("UPDATE series_results SET sent_to_pacs_at = $1 WHERE id = $2")
        .bind(crate::now_rfc3339())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_depends_on_the_key_and_the_uid_only() {
        let uid = "1.2.826.0.1.3680043.8.498.1";
        assert_eq!(hash_uid("k1", uid), hash_uid("k1", &format!(" {uid} ")));
        assert_ne!(hash_uid("k1", uid), hash_uid("k2", uid));
        assert_ne!(
            hash_uid("k1", uid),
            hash_uid("k1", "1.2.826.0.1.3680043.8.498.2")
        );
        assert_eq!(hash_uid("k1", uid).len(), 64);
        assert!(!hash_uid("k1", uid).contains("3680043"));
    }
}
