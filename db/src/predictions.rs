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
    /// JSON object, class -> probability.
    pub probabilities: &'a str,
    pub needs_review: bool,
    /// Top probability minus the runner-up's: small means the model hesitated.
    pub margin: f64,
    /// What the slice showed of its source, for drift; `None` where it was not measured.
    pub signals: Option<InputSignals>,
}

/// A prediction's drift signals besides its answer (see the `0010_drift_signals` migration).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, sqlx::FromRow)]
pub struct InputSignals {
    /// The not-an-MRI distance; `None` for a model without that check.
    pub ood_distance: Option<f64>,
    pub mean_intensity: f64,
    pub contrast: f64,
    pub slice_size: f64,
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
        "INSERT INTO predictions (predicted_at, model_version, predicted_class, confidence, latency_ms,
                                  source, probabilities, needs_review, margin, ood_distance,
                                  mean_intensity, contrast, slice_size)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10, 'NaN'), NULLIF($11, 'NaN'),
                 NULLIF($12, 'NaN'), NULLIF($13, 'NaN')) RETURNING id",
    )
    .bind(crate::now_rfc3339())
    .bind(row.model_version)
    .bind(row.predicted_class)
    .bind(row.confidence)
    .bind(row.latency_ms)
    .bind(row.source.as_str())
    .bind(row.probabilities)
    .bind(i64::from(row.needs_review))
    .bind(row.margin.clamp(0.0, 1.0))
    // A missing figure is bound as NaN and made NULL in SQL: sqlx 0.8.6's Any driver declares a
    // NULL f64 as PostgreSQL FLOAT4, so a later row's value in the same cached statement failed
    // ("incorrect binary data format"). SQLite stores a NaN as NULL by itself.
    .bind(not_measured(row.signals.and_then(|s| s.ood_distance)))
    .bind(not_measured(row.signals.map(|s| s.mean_intensity)))
    .bind(not_measured(row.signals.map(|s| s.contrast)))
    .bind(not_measured(row.signals.map(|s| s.slice_size)))
    .fetch_one(db)
    .await?;
    Ok(id)
}

fn not_measured(value: Option<f64>) -> f64 {
    value.unwrap_or(f64::NAN)
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

/// A prediction as a reviewer sees it: what the model answered and whether its slice is kept.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ReviewedPrediction {
    pub id: i64,
    pub predicted_at: String,
    pub model_version: String,
    pub predicted_class: String,
    pub confidence: f64,
    /// JSON object, class -> probability (absent on rows older than the feedback loop).
    pub probabilities: Option<String>,
    pub needs_review: i64,
    pub margin: Option<f64>,
    /// Storage key of the kept slice; `None` when none was kept or retention deleted it.
    pub slice_key: Option<String>,
    pub slice_expires_at: Option<String>,
}

const REVIEWED_COLUMNS: &str = "id, predicted_at, model_version, predicted_class, confidence, \
                                probabilities, needs_review, margin, slice_key, slice_expires_at";

pub async fn get(db: impl AnyExecutor<'_>, id: i64) -> DbResult<Option<ReviewedPrediction>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {REVIEWED_COLUMNS} FROM predictions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Records that the prediction's slice is kept as `key` until `expires_at` (RFC 3339).
pub async fn keep_slice(
    db: impl AnyExecutor<'_>,
    id: i64,
    key: &str,
    expires_at: &str,
) -> DbResult<()> {
    sqlx::query("UPDATE predictions SET slice_key = $1, slice_expires_at = $2 WHERE id = $3")
        .bind(key)
        .bind(expires_at)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// `(id, slice key)` of kept slices whose retention ended before `now` (RFC 3339), oldest first.
pub async fn expired_slices(
    db: impl AnyExecutor<'_>,
    now: &str,
    limit: i64,
) -> DbResult<Vec<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, slice_key FROM predictions
         WHERE slice_key IS NOT NULL AND slice_expires_at < $1
         ORDER BY slice_expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Forgets a deleted slice; its expiry stays, so a late reviewer is told it expired (410).
pub async fn forget_slice(db: impl AnyExecutor<'_>, id: i64) -> DbResult<()> {
    sqlx::query("UPDATE predictions SET slice_key = NULL WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Which kept, unreviewed predictions the review queue shows.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter<'a> {
    pub model_version: Option<&'a str>,
    pub predicted_class: Option<&'a str>,
    pub limit: i64,
}

/// Kept predictions nobody reviewed yet, those flagged for review first, then by the smallest
/// margin between the top two classes (uncertainty sampling), then newest; with their total.
pub async fn review_queue(
    db: &crate::Pool,
    filter: &QueueFilter<'_>,
) -> DbResult<(Vec<ReviewedPrediction>, i64)> {
    let mut conditions = vec![
        "slice_key IS NOT NULL".to_owned(),
        "NOT EXISTS (SELECT 1 FROM prediction_feedback f WHERE f.prediction_id = predictions.id)"
            .to_owned(),
    ];
    let mut texts: Vec<&str> = Vec::new();
    if let Some(version) = filter.model_version {
        texts.push(version);
        conditions.push(format!("model_version = ${}", texts.len()));
    }
    if let Some(class) = filter.predicted_class {
        texts.push(class);
        conditions.push(format!("predicted_class = ${}", texts.len()));
    }
    let matching = conditions.join(" AND ");
    let list_sql = format!(
        "SELECT {REVIEWED_COLUMNS} FROM predictions WHERE {matching}
         ORDER BY needs_review DESC, COALESCE(margin, 1) ASC, id DESC LIMIT ${}",
        texts.len() + 1
    );
    let mut list = sqlx::query_as::<_, ReviewedPrediction>(&list_sql);
    for text in &texts {
        list = list.bind(*text);
    }
    let rows = list.bind(filter.limit).fetch_all(db).await?;
    let count_sql = format!("SELECT COUNT(*) FROM predictions WHERE {matching}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for text in &texts {
        count = count.bind(*text);
    }
    Ok((rows, count.fetch_one(db).await?))
}

/// Which of a version's predictions count as recent for drift.
#[derive(Debug, Clone, PartialEq)]
pub enum RecentWindow {
    /// Its newest `n`.
    Last(i64),
    /// Those made at or after this RFC 3339 time.
    Since(String),
}

/// One recent prediction's drift signals and answer.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct SignalRow {
    pub predicted_class: String,
    pub confidence: f64,
    pub ood_distance: Option<f64>,
    pub mean_intensity: f64,
    pub contrast: f64,
    pub slice_size: f64,
}

/// The drift signals of `version`'s recent predictions, newest first; predictions recorded before
/// signals were measured are left out.
pub async fn recent_signals(
    db: impl AnyExecutor<'_>,
    version: &str,
    window: &RecentWindow,
) -> DbResult<Vec<SignalRow>> {
    const COLUMNS: &str =
        "SELECT predicted_class, confidence, ood_distance, mean_intensity, contrast,
                                  slice_size
                           FROM predictions
                           WHERE model_version = $1 AND mean_intensity IS NOT NULL";
    let rows = match window {
        RecentWindow::Last(n) => {
            sqlx::query_as(&format!("{COLUMNS} ORDER BY id DESC LIMIT $2"))
                .bind(version)
                .bind(*n)
                .fetch_all(db)
                .await?
        }
        RecentWindow::Since(time) => {
            sqlx::query_as(&format!(
                "{COLUMNS} AND predicted_at >= $2 ORDER BY id DESC"
            ))
            .bind(version)
            .bind(time.as_str())
            .fetch_all(db)
            .await?
        }
    };
    Ok(rows)
}
