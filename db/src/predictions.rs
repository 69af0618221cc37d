//! The `predictions` table: one row per image the model classified.

use serde::Serialize;
use sqlx::AnyExecutor;

use crate::DbResult;

/// Where a prediction request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Api,
    Batch,
    Ui,
    Cli,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Batch => "batch",
            Source::Ui => "ui",
            Source::Cli => "cli",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewPrediction<'a> {
    pub model_version: &'a str,
    pub predicted_class: &'a str,
    pub confidence: f64,
    pub latency_ms: f64,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Prediction {
    pub id: i64,
    pub predicted_at: String,
    pub model_version: String,
    pub predicted_class: String,
    pub confidence: f64,
    pub latency_ms: f64,
    pub source: String,
}

pub async fn insert(db: impl AnyExecutor<'_>, row: &NewPrediction<'_>) -> DbResult<i64> {
    let id = sqlx::query_scalar(
        "INSERT INTO predictions (predicted_at, model_version, predicted_class, confidence, latency_ms, source)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(crate::now_rfc3339())
    .bind(row.model_version)
    .bind(row.predicted_class)
    .bind(row.confidence)
    .bind(row.latency_ms)
    .bind(row.source.as_str())
    .fetch_one(db)
    .await?;
    Ok(id)
}

pub async fn count(db: impl AnyExecutor<'_>) -> DbResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM predictions")
        .fetch_one(db)
        .await?)
}

pub async fn list_recent(db: impl AnyExecutor<'_>, limit: i64) -> DbResult<Vec<Prediction>> {
    Ok(sqlx::query_as(
        "SELECT id, predicted_at, model_version, predicted_class, confidence, latency_ms, source
         FROM predictions ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Predictions per class, all time.
pub async fn count_by_class(db: impl AnyExecutor<'_>) -> DbResult<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT predicted_class, COUNT(*) FROM predictions GROUP BY predicted_class ORDER BY predicted_class",
    )
    .fetch_all(db)
    .await?)
}

/// `(minute "YYYY-MM-DDTHH:MM", class, count)` for predictions at or after `since` (RFC 3339).
pub async fn per_minute_since(
    db: impl AnyExecutor<'_>,
    since: &str,
) -> DbResult<Vec<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT substr(predicted_at, 1, 16) AS minute, predicted_class, COUNT(*)
         FROM predictions WHERE predicted_at >= $1
         GROUP BY minute, predicted_class ORDER BY minute, predicted_class",
    )
    .bind(since)
    .fetch_all(db)
    .await?)
}
