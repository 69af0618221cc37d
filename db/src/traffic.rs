//! The `traffic_minutes` table: per minute and server process, the counts the Monitor draws over
//! time. Each process adds to its own rows only.

use serde::{Deserialize, Serialize};

use crate::{DbResult, Pool};

/// One process's counts for one minute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct TrafficMinute {
    /// UTC minute, `YYYY-MM-DDTHH:MM`.
    pub minute: String,
    pub instance: String,
    pub requests: i64,
    pub client_errors: i64,
    pub server_errors: i64,
    pub predictions: i64,
    pub refused: i64,
    pub flagged: i64,
    /// JSON array: images per latency bucket.
    pub latency_counts: String,
}

fn add_counts(stored: &str, new: &[i64]) -> String {
    let mut counts: Vec<i64> = serde_json::from_str(stored).unwrap_or_default();
    if counts.len() < new.len() {
        counts.resize(new.len(), 0);
    }
    for (total, added) in counts.iter_mut().zip(new) {
        *total += added;
    }
    serde_json::to_string(&counts).unwrap_or_else(|_| "[]".into())
}

/// Adds `delta` (its latency counts as a JSON array) to the row of its minute and instance.
pub async fn add(db: &Pool, delta: &TrafficMinute) -> DbResult<()> {
    let new_counts: Vec<i64> = serde_json::from_str(&delta.latency_counts).unwrap_or_default();
    let mut tx = db.begin().await?;
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT latency_counts FROM traffic_minutes WHERE minute = $1 AND instance = $2",
    )
    .bind(&delta.minute)
    .bind(&delta.instance)
    .fetch_optional(&mut *tx)
    .await?;
    match stored {
        Some(stored) => {
            sqlx::query(
                "UPDATE traffic_minutes SET requests = requests + $1,
                     client_errors = client_errors + $2, server_errors = server_errors + $3,
                     predictions = predictions + $4, refused = refused + $5,
                     flagged = flagged + $6, latency_counts = $7
                 WHERE minute = $8 AND instance = $9",
            )
            .bind(delta.requests)
            .bind(delta.client_errors)
            .bind(delta.server_errors)
            .bind(delta.predictions)
            .bind(delta.refused)
            .bind(delta.flagged)
            .bind(add_counts(&stored, &new_counts))
            .bind(&delta.minute)
            .bind(&delta.instance)
            .execute(&mut *tx)
            .await?;
        }
        None => {
            sqlx::query(
                "INSERT INTO traffic_minutes (minute, instance, requests, client_errors,
                     server_errors, predictions, refused, flagged, latency_counts)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&delta.minute)
            .bind(&delta.instance)
            .bind(delta.requests)
            .bind(delta.client_errors)
            .bind(delta.server_errors)
            .bind(delta.predictions)
            .bind(delta.refused)
            .bind(delta.flagged)
            .bind(add_counts("[]", &new_counts))
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Every process's rows from `first_minute` on, oldest first.
pub async fn since(db: &Pool, first_minute: &str) -> DbResult<Vec<TrafficMinute>> {
    Ok(sqlx::query_as(
        "SELECT minute, instance, requests, client_errors, server_errors, predictions, refused,
             flagged, latency_counts
         FROM traffic_minutes WHERE minute >= $1 ORDER BY minute",
    )
    .bind(first_minute)
    .fetch_all(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::add_counts;

    #[test]
    fn latency_counts_add_bucket_by_bucket() {
        assert_eq!(add_counts("[1,2]", &[1, 0, 5]), "[2,2,5]");
        assert_eq!(add_counts("[]", &[3]), "[3]");
        assert_eq!(add_counts("not json", &[1]), "[1]");
    }
}
