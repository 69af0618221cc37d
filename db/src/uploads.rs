//! The `uploaded_images` table: labelled images sent for retraining, stored once per content hash.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::{AnyConnection, AnyExecutor};

pub use domain::TrainingSources;

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
    /// The prediction a reviewer corrected into this upload; `None` for a bulk upload.
    pub prediction_id: Option<i64>,
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
    /// The prediction a reviewer corrected into this upload; `None` for a bulk upload.
    pub prediction_id: Option<i64>,
}

/// What happened to an upload: a new row, or the row that already holds the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Stored(i64),
    Duplicate(i64),
}

const COLUMNS: &str = "id, filename, class_name, stored_path, size_bytes, sha256, width, height, \
                       uploaded_at, training_session_id, metadata, prediction_id";

/// Inserts the upload unless its content hash is already stored (atomic: two concurrent uploads of
/// the same bytes yield one row and one duplicate).
pub async fn insert(db: &Pool, row: &NewUpload<'_>) -> DbResult<InsertOutcome> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO uploaded_images
             (filename, class_name, stored_path, size_bytes, sha256, width, height, uploaded_at,
              metadata, purpose, uploaded_by, review, review_detail, prediction_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
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
    .bind(row.prediction_id)
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

/// The uploads `sources` names: bulk uploads, reviewers' corrections, or both.
fn from_sources(sources: TrainingSources) -> &'static str {
    match sources {
        TrainingSources::Both => "1 = 1",
        TrainingSources::Uploads => "prediction_id IS NULL",
        TrainingSources::Feedback => "prediction_id IS NOT NULL",
    }
}

/// Training images from `sources` not yet used by any training session, oldest first.
pub async fn pending(
    db: impl AnyExecutor<'_>,
    sources: TrainingSources,
) -> DbResult<Vec<UploadedImage>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM uploaded_images
         WHERE used_for_training = 0 AND {TRAINABLE} AND {} ORDER BY id",
        from_sources(sources)
    ))
    .fetch_all(db)
    .await?)
}

pub async fn count_pending(db: impl AnyExecutor<'_>, sources: TrainingSources) -> DbResult<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM uploaded_images WHERE used_for_training = 0 AND {TRAINABLE} AND {}",
        from_sources(sources)
    ))
    .fetch_one(db)
    .await?)
}

/// The trusted reference set, oldest first.
pub async fn reference(db: impl AnyExecutor<'_>) -> DbResult<Vec<UploadedImage>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM uploaded_images
         WHERE purpose = 'reference' AND review <> 'discarded' ORDER BY id"
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
            count_where("purpose = 'reference' AND review <> 'discarded'"),
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

/// Where an upload stands, as the Data page filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStatus {
    /// A training upload waiting for the next retraining.
    Pending,
    /// Trained on by a retraining session: kept as it is, since a version depends on it.
    Used,
    /// Waiting for an annotator (its label was contradicted by the model).
    Held,
    /// Discarded by an annotator or deleted on the Data page: never trained on, kept for the record.
    Discarded,
    /// In the trusted reference set.
    Reference,
}

impl UploadStatus {
    pub const ALL: [UploadStatus; 5] = [
        Self::Pending,
        Self::Used,
        Self::Held,
        Self::Discarded,
        Self::Reference,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Used => "used",
            Self::Held => "held",
            Self::Discarded => "discarded",
            Self::Reference => "reference",
        }
    }

    fn condition(self) -> String {
        match self {
            Self::Pending => format!("used_for_training = 0 AND {TRAINABLE}"),
            Self::Used => "used_for_training = 1".into(),
            Self::Held => "review = 'held'".into(),
            Self::Discarded => "review = 'discarded'".into(),
            Self::Reference => "purpose = 'reference' AND review <> 'discarded'".into(),
        }
    }

    /// Where a stored row stands.
    pub fn of(row: &ListedUpload) -> Self {
        if row.review == "discarded" {
            Self::Discarded
        } else if row.used_for_training == 1 {
            Self::Used
        } else if row.review == "held" {
            Self::Held
        } else if row.purpose == "reference" {
            Self::Reference
        } else {
            Self::Pending
        }
    }
}

/// An upload as the Data page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ListedUpload {
    pub id: i64,
    pub filename: String,
    pub class_name: String,
    pub purpose: String,
    pub review: String,
    pub used_for_training: i64,
    pub uploaded_by: Option<String>,
    pub uploaded_at: String,
    pub width: i64,
    pub height: i64,
    pub size_bytes: i64,
    pub stored_path: String,
    /// The prediction a reviewer corrected into this upload.
    pub prediction_id: Option<i64>,
}

const LISTED_COLUMNS: &str = "id, filename, class_name, purpose, review, used_for_training, \
                              uploaded_by, uploaded_at, width, height, size_bytes, stored_path, \
                              prediction_id";

/// Which uploads to list: every field narrows, `before_id` pages back (newest first).
#[derive(Debug, Clone, Default)]
pub struct UploadFilter<'a> {
    pub class_name: Option<&'a str>,
    pub status: Option<UploadStatus>,
    pub uploaded_by: Option<&'a str>,
    /// `training` or `reference`.
    pub purpose: Option<&'a str>,
    /// Uploaded on or after this day, `YYYY-MM-DD` (UTC).
    pub uploaded_from: Option<&'a str>,
    /// Uploaded on or before this day, `YYYY-MM-DD` (UTC).
    pub uploaded_until: Option<&'a str>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// The uploads `filter` keeps, newest first, at most `filter.limit`; and how many it keeps in all.
pub async fn browse(db: &Pool, filter: &UploadFilter<'_>) -> DbResult<(Vec<ListedUpload>, i64)> {
    let mut conditions = vec!["1 = 1".to_owned()];
    let mut texts: Vec<&str> = Vec::new();
    if let Some(class_name) = filter.class_name {
        texts.push(class_name);
        conditions.push(format!("class_name = ${}", texts.len()));
    }
    if let Some(uploaded_by) = filter.uploaded_by {
        texts.push(uploaded_by);
        conditions.push(format!("uploaded_by = ${}", texts.len()));
    }
    if let Some(purpose) = filter.purpose {
        texts.push(purpose);
        conditions.push(format!("purpose = ${}", texts.len()));
    }
    // Timestamps are stored as RFC 3339 UTC text: their first ten characters are the day.
    if let Some(day) = filter.uploaded_from {
        texts.push(day);
        conditions.push(format!("substr(uploaded_at, 1, 10) >= ${}", texts.len()));
    }
    if let Some(day) = filter.uploaded_until {
        texts.push(day);
        conditions.push(format!("substr(uploaded_at, 1, 10) <= ${}", texts.len()));
    }
    if let Some(status) = filter.status {
        conditions.push(format!("({})", status.condition()));
    }
    let matching = conditions.join(" AND ");
    let page_condition = match filter.before_id {
        Some(_) => format!("{matching} AND id < ${}", texts.len() + 1),
        None => matching.clone(),
    };
    let limit_param = texts.len() + 1 + usize::from(filter.before_id.is_some());
    let list_sql = format!(
        "SELECT {LISTED_COLUMNS} FROM uploaded_images
         WHERE {page_condition} ORDER BY id DESC LIMIT ${limit_param}"
    );
    let mut list = sqlx::query_as::<_, ListedUpload>(&list_sql);
    for text in &texts {
        list = list.bind(*text);
    }
    if let Some(before) = filter.before_id {
        list = list.bind(before);
    }
    let rows = list.bind(filter.limit).fetch_all(db).await?;
    let count_sql = format!("SELECT COUNT(*) FROM uploaded_images WHERE {matching}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for text in &texts {
        count = count.bind(*text);
    }
    let total = count.fetch_one(db).await?;
    Ok((rows, total))
}

/// One upload as listed, or `None`.
pub async fn listed(db: &Pool, id: i64) -> DbResult<Option<ListedUpload>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {LISTED_COLUMNS} FROM uploaded_images WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// Gives an upload no version was trained on a new label (`detail`: the JSON kept with it).
/// `false` when it was trained on, is held (the review queue decides those) or was discarded.
pub async fn relabel(db: &Pool, id: i64, class_name: &str, detail: &str) -> DbResult<bool> {
    let changed = sqlx::query(
        "UPDATE uploaded_images SET class_name = $1, review = 'relabelled', review_detail = $2
         WHERE id = $3 AND used_for_training = 0 AND review NOT IN ('held', 'discarded')",
    )
    .bind(class_name)
    .bind(detail)
    .bind(id)
    .execute(db)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Deletes an upload no version was trained on, softly: it is discarded (never trained on or
/// judged with again) and its row and file stay for the record. `false` when it was trained on or
/// is already discarded.
pub async fn discard(db: &Pool, id: i64, detail: &str) -> DbResult<bool> {
    let changed = sqlx::query(
        "UPDATE uploaded_images SET review = 'discarded', review_detail = $1
         WHERE id = $2 AND used_for_training = 0 AND review <> 'discarded'",
    )
    .bind(detail)
    .bind(id)
    .execute(db)
    .await?
    .rows_affected();
    Ok(changed == 1)
}
