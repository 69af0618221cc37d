//! The `model_versions` table: every trained model, which one serves (at most one is `active`),
//! and the metrics each scored on the validation set.

use serde::Serialize;
use sqlx::{SqliteExecutor, SqlitePool};

pub use domain::ModelStatus;

use crate::DbResult;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ModelVersion {
    pub id: i64,
    pub version: String,
    pub path: String,
    pub created_at: String,
    pub activated_at: Option<String>,
    /// JSON object: the validation report of this version.
    pub metrics: String,
    pub status: ModelStatus,
    pub parent_version: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewModelVersion<'a> {
    pub version: &'a str,
    pub path: &'a str,
    pub metrics_json: &'a str,
    pub parent_version: Option<&'a str>,
}

const COLUMNS: &str =
    "id, version, path, created_at, activated_at, metrics, status, parent_version";

/// Records a new version as a candidate; `activate` makes it serve.
pub async fn insert_candidate(
    db: impl SqliteExecutor<'_>,
    row: &NewModelVersion<'_>,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO model_versions (version, path, created_at, metrics, status, parent_version)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(row.version)
    .bind(row.path)
    .bind(crate::now_rfc3339())
    .bind(row.metrics_json)
    .bind(ModelStatus::Candidate)
    .bind(row.parent_version)
    .fetch_one(db)
    .await?)
}

/// Makes `version` the only active one (the previous one is archived), in one transaction.
/// Returns `false` if no such version exists.
pub async fn activate(db: &SqlitePool, version: &str) -> DbResult<bool> {
    let mut tx = db.begin().await?;
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM model_versions WHERE version = ?")
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Ok(false);
    }
    sqlx::query("UPDATE model_versions SET status = ? WHERE status = ? AND version != ?")
        .bind(ModelStatus::Archived)
        .bind(ModelStatus::Active)
        .bind(version)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE model_versions SET status = ?, activated_at = ? WHERE version = ?")
        .bind(ModelStatus::Active)
        .bind(crate::now_rfc3339())
        .bind(version)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn find(db: impl SqliteExecutor<'_>, version: &str) -> DbResult<Option<ModelVersion>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM model_versions WHERE version = ?"
    ))
    .bind(version)
    .fetch_optional(db)
    .await?)
}

pub async fn active(db: impl SqliteExecutor<'_>) -> DbResult<Option<ModelVersion>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM model_versions WHERE status = ?"
    ))
    .bind(ModelStatus::Active)
    .fetch_optional(db)
    .await?)
}

/// Newest first.
pub async fn list(db: impl SqliteExecutor<'_>) -> DbResult<Vec<ModelVersion>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM model_versions ORDER BY id DESC"
    ))
    .fetch_all(db)
    .await?)
}
