//! The `preprocessing_logs` table: one row per batch of images decoded and preprocessed.

use sqlx::AnyExecutor;

use crate::DbResult;
pub use domain::PreprocessingStatus;

#[derive(Debug, Clone)]
pub struct NewPreprocessingLog<'a> {
    pub training_session_id: Option<i64>,
    pub images_processed: i64,
    pub features_extracted: i64,
    pub seconds: f64,
    pub status: PreprocessingStatus,
    pub error: Option<&'a str>,
}

pub async fn insert(db: impl AnyExecutor<'_>, row: &NewPreprocessingLog<'_>) -> DbResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO preprocessing_logs
             (training_session_id, images_processed, features_extracted, seconds, status, error, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(row.training_session_id)
    .bind(row.images_processed)
    .bind(row.features_extracted)
    .bind(row.seconds)
    .bind(row.status)
    .bind(row.error)
    .bind(crate::now_rfc3339())
    .fetch_one(db)
    .await?)
}

pub async fn count_all(db: impl AnyExecutor<'_>) -> DbResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM preprocessing_logs")
            .fetch_one(db)
            .await?,
    )
}
