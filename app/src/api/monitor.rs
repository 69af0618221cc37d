//! `GET /metrics`: what a team running the model needs to see, as JSON; the Monitor page polls it.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::types::monitor::{MetricsHistory, MetricsReport};

use crate::error::AppError;

/// `GET /metrics/history?window=1h|24h|7d`: rates and latency over time, from the database.
#[server(prefix = "", endpoint = "metrics/history", input = GetUrl)]
pub async fn get_metrics_history(window: String) -> Result<MetricsHistory, AppError> {
    use crate::types::monitor::HistoryWindow;
    let state = crate::ssr::state()?;
    let window = HistoryWindow::parse(&window).ok_or_else(|| {
        AppError::BadRequest(format!(
            "window must be 1h, 24h or 7d (got {})",
            domain::text::clipped(&window, 20)
        ))
    })?;
    crate::ssr::traffic::load(&state, window).await
}

#[server(prefix = "", endpoint = "metrics", input = GetUrl)]
pub async fn get_metrics() -> Result<MetricsReport, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::monitor::metrics(&state).await
}
