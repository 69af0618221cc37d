//! Traffic over time for the Monitor: every answered request, image classified, refusal and review
//! flag is counted per minute in memory, written to `traffic_minutes` every few seconds (one row per
//! minute and process), and read back as rates and latency percentiles over 1 hour to 7 days.
//! Latency is kept as counts per bucket, so replicas' minutes add up and percentiles stay honest.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use db::traffic::TrafficMinute;

use crate::error::AppError;
use crate::types::monitor::{HistoryPoint, HistoryWindow, MetricsHistory, TrafficTotals};

/// Upper bounds of the latency buckets, in milliseconds per image; a last bucket holds the rest.
pub const LATENCY_BOUNDS_MS: [f64; 11] = [
    2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
];
/// How often a process writes its counts.
const FLUSH_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
struct MinuteTally {
    requests: i64,
    client_errors: i64,
    server_errors: i64,
    predictions: i64,
    refused: i64,
    flagged: i64,
    latency_counts: Vec<i64>,
    /// Kept for the totals only (Prometheus' `_sum`); minutes do not store it.
    latency_sum_ms: f64,
}

/// This process's counts not yet written, per minute, and its totals since start-up.
#[derive(Clone)]
pub struct TrafficTally {
    minutes: Arc<Mutex<BTreeMap<String, MinuteTally>>>,
    totals: Arc<Mutex<MinuteTally>>,
    /// Names this process's rows: its id and start time.
    instance: Arc<str>,
}

impl Default for TrafficTally {
    fn default() -> Self {
        Self {
            minutes: Arc::default(),
            totals: Arc::default(),
            instance: format!("{}@{}", std::process::id(), db::now_rfc3339()).into(),
        }
    }
}

fn minute_of(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M").to_string()
}

fn bucket_of(milliseconds: f64) -> usize {
    LATENCY_BOUNDS_MS
        .iter()
        .position(|bound| milliseconds <= *bound)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

impl TrafficTally {
    fn update(&self, change: impl Fn(&mut MinuteTally)) {
        if let Ok(mut minutes) = self.minutes.lock() {
            change(minutes.entry(minute_of(Utc::now())).or_default());
        }
        if let Ok(mut totals) = self.totals.lock() {
            change(&mut totals);
        }
    }

    /// Everything counted since start-up.
    pub fn totals(&self) -> TrafficTotals {
        let totals = self
            .totals
            .lock()
            .map(|totals| totals.clone())
            .unwrap_or_default();
        let mut latency_counts = totals.latency_counts;
        latency_counts.resize(LATENCY_BOUNDS_MS.len() + 1, 0);
        TrafficTotals {
            requests: totals.requests,
            client_errors: totals.client_errors,
            server_errors: totals.server_errors,
            predictions: totals.predictions,
            refused: totals.refused,
            flagged: totals.flagged,
            latency_bounds_ms: LATENCY_BOUNDS_MS.to_vec(),
            latency_counts,
            latency_sum_ms: totals.latency_sum_ms,
        }
    }

    /// An answered request (monitoring polls are not counted by the caller).
    pub fn count_response(&self, status: u16) {
        self.update(|tally| {
            tally.requests += 1;
            match status {
                400..=499 => tally.client_errors += 1,
                500..=599 => tally.server_errors += 1,
                _ => {}
            }
        });
    }

    /// An image classified in `milliseconds` (its share of its request's time).
    pub fn count_prediction(&self, milliseconds: f64, flagged: bool) {
        self.update(|tally| {
            tally.predictions += 1;
            tally.flagged += i64::from(flagged);
            let bucket = bucket_of(milliseconds);
            if tally.latency_counts.len() <= LATENCY_BOUNDS_MS.len() {
                tally.latency_counts.resize(LATENCY_BOUNDS_MS.len() + 1, 0);
            }
            tally.latency_counts[bucket] += 1;
            tally.latency_sum_ms += milliseconds;
        });
    }

    /// An image refused as not a brain MRI.
    pub fn count_refusal(&self) {
        self.update(|tally| tally.refused += 1);
    }

    /// Writes and forgets what was counted; on a database error the counts are kept for the next try.
    pub async fn flush(&self, db: &db::Pool) {
        let taken = match self.minutes.lock() {
            Ok(mut minutes) => std::mem::take(&mut *minutes),
            Err(_) => return,
        };
        for (minute, tally) in taken {
            let delta = TrafficMinute {
                minute: minute.clone(),
                instance: self.instance.to_string(),
                requests: tally.requests,
                client_errors: tally.client_errors,
                server_errors: tally.server_errors,
                predictions: tally.predictions,
                refused: tally.refused,
                flagged: tally.flagged,
                latency_counts: serde_json::to_string(&tally.latency_counts)
                    .unwrap_or_else(|_| "[]".into()),
            };
            if let Err(error) = db::traffic::add(db, &delta).await {
                tracing::warn!(%error, minute, "traffic counts not written; kept for the next try");
                if let Ok(mut minutes) = self.minutes.lock() {
                    let kept = minutes.entry(minute).or_default();
                    merge(kept, &tally);
                }
            }
        }
    }
}

fn merge(into: &mut MinuteTally, from: &MinuteTally) {
    into.requests += from.requests;
    into.client_errors += from.client_errors;
    into.server_errors += from.server_errors;
    into.predictions += from.predictions;
    into.refused += from.refused;
    into.flagged += from.flagged;
    if into.latency_counts.len() < from.latency_counts.len() {
        into.latency_counts.resize(from.latency_counts.len(), 0);
    }
    for (total, added) in into.latency_counts.iter_mut().zip(&from.latency_counts) {
        *total += added;
    }
}

/// Writes `tally` to `db` every few seconds for the life of the process.
pub fn spawn_flush(tally: TrafficTally, db: db::Pool) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(FLUSH_INTERVAL);
        loop {
            ticks.tick().await;
            tally.flush(&db).await;
        }
    });
}

/// The `quantile` of the latencies counted in `counts`, interpolated inside its bucket; `None`
/// without any count. The last (open) bucket reports its lower bound.
pub fn quantile(counts: &[i64], quantile: f64) -> Option<f64> {
    let total: i64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = quantile * total as f64;
    let mut below = 0.0;
    for (bucket, &count) in counts.iter().enumerate() {
        let count = count as f64;
        if count > 0.0 && below + count >= rank {
            let lower = if bucket == 0 {
                0.0
            } else {
                LATENCY_BOUNDS_MS[bucket - 1]
            };
            let Some(&upper) = LATENCY_BOUNDS_MS.get(bucket) else {
                return Some(lower);
            };
            let within = ((rank - below) / count).clamp(0.0, 1.0);
            return Some(lower + (upper - lower) * within);
        }
        below += count;
    }
    LATENCY_BOUNDS_MS.last().copied()
}

/// `window`'s points, oldest first, from the rows of every process.
pub fn history(
    window: HistoryWindow,
    rows: &[TrafficMinute],
    now: DateTime<Utc>,
) -> MetricsHistory {
    let (points, minutes_each) = window.shape();
    // The current minute is the last one of the last point.
    let this_minute = now
        .with_second(0)
        .and_then(|time| time.with_nanosecond(0))
        .unwrap_or(now);
    let start = this_minute - chrono::Duration::minutes(points * minutes_each - 1);
    let index_of = |minute: &str| -> Option<usize> {
        let time = DateTime::parse_from_rfc3339(&format!("{minute}:00Z")).ok()?;
        let offset = (time.with_timezone(&Utc) - start).num_minutes();
        (offset >= 0 && offset < points * minutes_each).then(|| (offset / minutes_each) as usize)
    };
    let mut buckets = vec![MinuteTally::default(); points as usize];
    for row in rows {
        if let Some(index) = index_of(&row.minute) {
            let tally = MinuteTally {
                requests: row.requests,
                client_errors: row.client_errors,
                server_errors: row.server_errors,
                predictions: row.predictions,
                refused: row.refused,
                flagged: row.flagged,
                latency_counts: serde_json::from_str(&row.latency_counts).unwrap_or_default(),
                latency_sum_ms: 0.0,
            };
            merge(&mut buckets[index], &tally);
        }
    }
    let rate = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    let points = buckets
        .into_iter()
        .enumerate()
        .map(|(index, tally)| HistoryPoint {
            start: minute_of(start + chrono::Duration::minutes(index as i64 * minutes_each)),
            requests: tally.requests,
            predictions: tally.predictions,
            client_error_rate: rate(tally.client_errors, tally.requests),
            server_error_rate: rate(tally.server_errors, tally.requests),
            refusal_rate: rate(tally.refused, tally.predictions + tally.refused),
            review_rate: rate(tally.flagged, tally.predictions),
            p50_ms: quantile(&tally.latency_counts, 0.5),
            p95_ms: quantile(&tally.latency_counts, 0.95),
        })
        .collect();
    MetricsHistory {
        window,
        minutes_per_point: minutes_each,
        points,
    }
}

/// `GET /metrics/history`: what every process wrote for `window`, plus this process's unwritten
/// counts (so a prediction shows at once, not after the next flush).
pub async fn load(
    state: &super::AppState,
    window: HistoryWindow,
) -> Result<MetricsHistory, AppError> {
    state.traffic.flush(&state.db).await;
    let now = Utc::now();
    let (points, minutes_each) = window.shape();
    let first = minute_of(now - chrono::Duration::minutes(points * minutes_each));
    let rows = db::traffic::since(&state.db, &first).await?;
    Ok(history(window, &rows, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets() {
        // 100 images: 50 in (5, 10] ms, 50 in (10, 20] ms.
        let mut counts = vec![0; LATENCY_BOUNDS_MS.len() + 1];
        counts[2] = 50;
        counts[3] = 50;
        assert_eq!(quantile(&counts, 0.5), Some(10.0));
        // The 95th image of 100 lies 45 of 50 into (10, 20]: 19 ms.
        assert!((quantile(&counts, 0.95).unwrap() - 19.0).abs() < 1e-9);
        assert_eq!(quantile(&[0, 0], 0.5), None);
        let mut slow = vec![0; LATENCY_BOUNDS_MS.len() + 1];
        slow[LATENCY_BOUNDS_MS.len()] = 1;
        assert_eq!(quantile(&slow, 0.5), Some(5000.0));
        assert_eq!(bucket_of(7.0), 2);
        assert_eq!(bucket_of(1e6), LATENCY_BOUNDS_MS.len());
    }

    #[test]
    fn minutes_of_every_process_fall_into_their_points() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T12:00:30Z")
            .unwrap()
            .with_timezone(&Utc);
        let row = |minute: &str, instance: &str, requests, client_errors, predictions, refused| {
            TrafficMinute {
                minute: minute.into(),
                instance: instance.into(),
                requests,
                client_errors,
                server_errors: 0,
                predictions,
                refused,
                flagged: 1,
                latency_counts: "[0,0,4]".into(),
            }
        };
        let rows = [
            row("2026-12-03T12:00", "a", 10, 1, 4, 0),
            row("2026-12-03T12:00", "b", 10, 3, 4, 2),
            row("2026-12-03T11:30", "a", 5, 0, 2, 0),
            // Older than the hour: left out.
            row("2026-12-03T10:59", "a", 99, 99, 99, 99),
        ];
        let history = history(HistoryWindow::Hour, &rows, now);
        assert_eq!(history.points.len(), 60);
        assert_eq!(history.points[0].start, "2026-12-03T11:01");
        let last = history.points.last().unwrap();
        assert_eq!(last.start, "2026-12-03T12:00");
        assert_eq!((last.requests, last.predictions), (20, 8));
        assert_eq!(last.client_error_rate, Some(0.2));
        assert_eq!(last.refusal_rate, Some(0.2), "2 refused of 10 images");
        assert_eq!(last.review_rate, Some(0.25), "2 flagged of 8 answered");
        assert_eq!(history.points[29].requests, 5);
        assert_eq!(
            history.points[10].client_error_rate, None,
            "no requests, no rate"
        );
        let total: i64 = history.points.iter().map(|p| p.requests).sum();
        assert_eq!(total, 25);

        let day = super::history(HistoryWindow::Day, &rows, now);
        assert_eq!(day.points.len(), 96);
        assert_eq!(day.minutes_per_point, 15);
        let total: i64 = day.points.iter().map(|p| p.requests).sum();
        assert_eq!(total, 124, "the 10:59 row is within the day");
    }
}
