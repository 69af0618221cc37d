//! The `prediction_feedback` table: reviewers' verdicts on predictions, once per reviewer and
//! prediction, and what the verdicts say about each model version's accuracy.

use serde::Serialize;
use sqlx::AnyExecutor;

use crate::DbResult;

/// A reviewer's word on a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Right,
    Wrong,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Right => "right",
            Verdict::Wrong => "wrong",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewFeedback<'a> {
    pub prediction_id: i64,
    pub reviewer: &'a str,
    pub verdict: Verdict,
    /// The predicted class when right, the reviewer's class when wrong.
    pub true_class: &'a str,
}

/// Records a verdict; `None` when this reviewer already gave one on this prediction.
pub async fn insert(db: impl AnyExecutor<'_>, row: &NewFeedback<'_>) -> DbResult<Option<i64>> {
    let inserted = sqlx::query_scalar(
        "INSERT INTO prediction_feedback (prediction_id, reviewer, verdict, true_class, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (prediction_id, reviewer) DO NOTHING
         RETURNING id",
    )
    .bind(row.prediction_id)
    .bind(row.reviewer)
    .bind(row.verdict.as_str())
    .bind(row.true_class)
    .bind(crate::now_rfc3339())
    .fetch_optional(db)
    .await?;
    Ok(inserted)
}

/// Links a correction to the training upload made from it.
pub async fn link_upload(
    db: impl AnyExecutor<'_>,
    feedback_id: i64,
    upload_id: i64,
) -> DbResult<()> {
    sqlx::query("UPDATE prediction_feedback SET upload_id = $1 WHERE id = $2")
        .bind(upload_id)
        .bind(feedback_id)
        .execute(db)
        .await?;
    Ok(())
}

/// One reviewed answer: the version that gave it, what it said and what the reviewer said it is.
/// With several reviewers on one prediction, each verdict counts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewedAnswer {
    pub model_version: String,
    pub predicted_class: String,
    pub true_class: String,
    pub count: i64,
}

/// Reviewed answers per model version, predicted class and true class.
pub async fn reviewed_answers(db: impl AnyExecutor<'_>) -> DbResult<Vec<ReviewedAnswer>> {
    Ok(sqlx::query_as(
        "SELECT p.model_version, p.predicted_class, f.true_class, COUNT(*) AS count
         FROM prediction_feedback f JOIN predictions p ON p.id = f.prediction_id
         GROUP BY p.model_version, p.predicted_class, f.true_class
         ORDER BY p.model_version, p.predicted_class, f.true_class",
    )
    .fetch_all(db)
    .await?)
}
