//! `GET /metrics`: what a team running the model needs to see, as JSON; the Monitor page polls it.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

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
    pub timestamp: String,
}

#[server(prefix = "", endpoint = "metrics", input = GetUrl)]
pub async fn get_metrics() -> Result<MetricsReport, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::monitor::metrics(&state).await
}
