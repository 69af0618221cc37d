//! Server-only parts of the app: the shared state that server functions reach through context.

pub mod insights;
pub mod model_report;
pub mod models;
pub mod monitor;
pub mod multipart;
pub mod predictions;
pub mod retrain;
mod state;
pub mod uploads;

pub use state::{AppState, LatencyWindow, RequestCounter, ServiceConfig};

use crate::error::AppError;

/// The [`AppState`] the server provided to this request's context.
pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        leptos::logging::error!("AppState missing from the server-function context");
        AppError::Internal
    })
}
