//! Assembling `/metrics` from the in-memory counters and the database.

use crate::api::monitor::{LatencyReport, MetricsReport, MinuteCount, HISTORY_MINUTES};
use crate::api::status::format_uptime;
use crate::error::AppError;
use crate::ssr::AppState;

pub async fn metrics(state: &AppState) -> Result<MetricsReport, AppError> {
    let since = (chrono::Utc::now() - chrono::Duration::minutes(HISTORY_MINUTES))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut predictions_by_class = crate::zero_per_class::<i64>();
    predictions_by_class.extend(db::predictions::count_by_class(&state.db).await?);
    let per_minute = db::predictions::per_minute_since(&state.db, &since).await?;
    let active = db::model_versions::active(&state.db).await?;
    let uptime = state.uptime_seconds();
    Ok(MetricsReport {
        uptime_seconds: (uptime * 1000.0).round() / 1000.0,
        uptime_formatted: format_uptime(uptime as u64),
        total_requests: state.requests.get(),
        requests_last_minute: state.requests.last_minute(),
        prediction_latency: state.latencies.percentiles().map(|(p50, p95, samples)| {
            LatencyReport {
                p50_ms: p50,
                p95_ms: p95,
                samples,
            }
        }),
        predictions_total: predictions_by_class.values().sum(),
        predictions_by_class,
        predictions_per_minute: per_minute
            .into_iter()
            .map(|(minute, class_name, count)| MinuteCount {
                minute,
                class_name,
                count,
            })
            .collect(),
        active_model_version: state.models.current().map(|m| m.version.clone()),
        active_model_activated_at: active.and_then(|row| row.activated_at),
        memory_rss_bytes: resident_memory_bytes(),
        timestamp: db::now_rfc3339(),
    })
}

/// VmRSS from `/proc/self/status`; `None` where that file does not exist.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_knows_its_own_memory_on_linux() {
        if std::path::Path::new("/proc/self/status").exists() {
            let rss = super::resident_memory_bytes().unwrap();
            assert!(rss > 1024 * 1024, "{rss}");
        }
    }
}
