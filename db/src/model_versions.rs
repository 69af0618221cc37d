//! The `model_versions` table: every trained model, which one serves (at most one is `active`),
//! and the metrics each scored on the validation set.

use serde::Serialize;
use sqlx::AnyExecutor;

pub use domain::ModelStatus;

use crate::{DbResult, Pool};

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
    db: impl AnyExecutor<'_>,
    row: &NewModelVersion<'_>,
) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO model_versions (version, path, created_at, metrics, status, parent_version)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
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
pub async fn activate(db: &Pool, version: &str) -> DbResult<bool> {
    let mut tx = db.begin().await?;
    // The transaction's first statement writes, so SQLite takes the write lock at once and waits its
    // busy timeout for another writer. A read first would make the write an upgrade, which SQLite
    // refuses at once ("database is locked") while another connection writes. The partial unique
    // index allows one active row, so the old one is archived first; a rollback undoes that when
    // `version` does not exist.
    sqlx::query("UPDATE model_versions SET status = $1 WHERE status = $2 AND version != $3")
        .bind(ModelStatus::Archived)
        .bind(ModelStatus::Active)
        .bind(version)
        .execute(&mut *tx)
        .await?;
    let activated =
        sqlx::query("UPDATE model_versions SET status = $1, activated_at = $2 WHERE version = $3")
            .bind(ModelStatus::Active)
            .bind(crate::now_rfc3339())
            .bind(version)
            .execute(&mut *tx)
            .await?;
    if activated.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

pub async fn find(db: impl AnyExecutor<'_>, version: &str) -> DbResult<Option<ModelVersion>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM model_versions WHERE version = $1"
    ))
    .bind(version)
    .fetch_optional(db)
    .await?)
}

pub async fn active(db: impl AnyExecutor<'_>) -> DbResult<Option<ModelVersion>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM model_versions WHERE status = $1"
    ))
    .bind(ModelStatus::Active)
    .fetch_optional(db)
    .await?)
}

/// Newest first.
pub async fn list(db: impl AnyExecutor<'_>) -> DbResult<Vec<ModelVersion>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM model_versions ORDER BY id DESC"
    ))
    .fetch_all(db)
    .await?)
}
