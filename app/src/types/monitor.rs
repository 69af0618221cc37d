//! Live metrics and their history: latency, traffic per minute, totals and the history windows.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Minutes of history in `predictions_per_minute`.
pub const HISTORY_MINUTES: i64 = 30;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LatencyReport {
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// How many recent predictions the percentiles cover.
    pub samples: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MinuteCount {
    /// UTC minute, `YYYY-MM-DDTHH:MM`.
    pub minute: String,
    /// Whole minutes between this minute and the report's timestamp (0 = the current minute).
    pub minutes_ago: i64,
    pub class_name: String,
    pub count: i64,
}

/// What this process counted since start-up: the counters behind the Monitor's rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TrafficTotals {
    /// Requests answered, the Monitor's own polls, scrapes and health checks left out.
    pub requests: i64,
    pub client_errors: i64,
    pub server_errors: i64,
    pub predictions: i64,
    pub refused: i64,
    pub flagged: i64,
    /// Upper bounds of the time-per-image buckets, in milliseconds.
    pub latency_bounds_ms: Vec<f64>,
    /// Images per bucket; one more than the bounds (the last has no upper bound).
    pub latency_counts: Vec<i64>,
    pub latency_sum_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MetricsReport {
    pub uptime_seconds: f64,
    pub uptime_formatted: String,
    pub total_requests: u64,
    pub requests_last_minute: usize,
    /// Time per image classified (a batch's time over its images); `None` until the first
    /// prediction since start-up.
    pub prediction_latency: Option<LatencyReport>,
    /// Time per prediction request (single, batch or explanation-free), whatever it held.
    #[serde(default)]
    pub request_latency: Option<LatencyReport>,
    pub predictions_total: i64,
    pub predictions_by_class: BTreeMap<String, i64>,
    pub predictions_per_minute: Vec<MinuteCount>,
    pub active_model_version: Option<String>,
    pub active_model_activated_at: Option<String>,
    /// Resident set size of the server process (Linux), in bytes.
    pub memory_rss_bytes: Option<u64>,
    /// Logins refused since start-up because their account was locked after repeated failures.
    #[serde(default)]
    pub login_lockouts_total: u64,
    /// This process's counts since start-up (Prometheus turns them into rates).
    #[serde(default)]
    pub traffic_totals: TrafficTotals,
    pub timestamp: String,
}

/// How far back `GET /metrics/history` looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum HistoryWindow {
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
}

impl HistoryWindow {
    /// How many points and how many minutes each: 60 of 1, 96 of 15, 84 of 120.
    pub fn shape(self) -> (i64, i64) {
        match self {
            HistoryWindow::Hour => (60, 1),
            HistoryWindow::Day => (96, 15),
            HistoryWindow::Week => (84, 120),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HistoryWindow::Hour => "1h",
            HistoryWindow::Day => "24h",
            HistoryWindow::Week => "7d",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Hour, Self::Day, Self::Week]
            .into_iter()
            .find(|window| window.as_str() == value)
    }
}

/// One stretch of time, every server process added up. Rates are `None` with nothing to divide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HistoryPoint {
    /// UTC minute the stretch starts, `YYYY-MM-DDTHH:MM`.
    pub start: String,
    /// Requests answered (the Monitor's own polls, scrapes and health checks left out).
    pub requests: i64,
    /// Images classified.
    pub predictions: i64,
    /// Shares of requests answered 4xx and 5xx.
    pub client_error_rate: Option<f64>,
    pub server_error_rate: Option<f64>,
    /// Share of images refused as not a brain MRI.
    pub refusal_rate: Option<f64>,
    /// Share of answers flagged for review.
    pub review_rate: Option<f64>,
    /// Time per image classified, from latency buckets.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MetricsHistory {
    pub window: HistoryWindow,
    pub minutes_per_point: i64,
    /// Oldest first.
    pub points: Vec<HistoryPoint>,
}
