//! The original service's `/health` and `/uptime` payloads and the Home page's server status.

use serde::{Deserialize, Serialize};

/// `GET /health`, field for field as the original service returned it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HealthReport {
    /// `"healthy"` when a model is loaded, `"model_not_loaded"` otherwise.
    pub status: String,
    pub model_loaded: bool,
    pub timestamp: String,
    /// What an operator should see but a load balancer need not act on (the status stays
    /// `healthy`): a `drift` entry while the serving model's inputs drift. Absent when there is
    /// nothing to say, so the answer is field for field the original service's.
    #[serde(default, skip_serializing_if = "HealthDetails::is_empty")]
    pub details: HealthDetails,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HealthDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<crate::types::drift::DriftAlert>,
}

impl HealthDetails {
    pub fn is_empty(&self) -> bool {
        self.drift.is_none()
    }
}

/// `GET /uptime`, field for field as the original service returned it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UptimeReport {
    pub uptime_seconds: f64,
    pub uptime_formatted: String,
    pub total_requests: u64,
    pub model_loaded: bool,
    pub timestamp: String,
}

/// Everything the Home page shows about the running server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServerStatus {
    pub health: HealthReport,
    pub uptime: UptimeReport,
    pub version: String,
    pub started_at: String,
    pub database_ok: bool,
    pub predictions_recorded: i64,
}

/// Formats a duration the way the original service did: `"2d 3h 4m 5s"`, leading zero units omitted.
pub fn format_uptime(total_seconds: u64) -> String {
    let (days, rest) = (total_seconds / 86_400, total_seconds % 86_400);
    let (hours, rest) = (rest / 3_600, rest % 3_600);
    let (minutes, seconds) = (rest / 60, rest % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds}s"),
        (0, _, _) => format!("{hours}h {minutes}m {seconds}s"),
        _ => format!("{days}d {hours}h {minutes}m {seconds}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::format_uptime;

    #[test]
    fn uptime_is_formatted_with_the_largest_units_first() {
        assert_eq!(format_uptime(0), "0s");
        assert_eq!(format_uptime(59), "59s");
        assert_eq!(format_uptime(61), "1m 1s");
        assert_eq!(format_uptime(3_600), "1h 0m 0s");
        assert_eq!(format_uptime(90_061), "1d 1h 1m 1s");
    }
}
