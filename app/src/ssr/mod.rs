//! Server-only parts of the app: the shared state that server functions reach through context.

pub mod auth;
pub mod budget;
pub mod data;
pub mod drift;
pub mod explanations;
pub mod feedback;
pub mod insights;
pub mod model_report;
pub mod models;
pub mod monitor;
pub mod multipart;
pub mod pacs;
pub mod predictions;
pub mod retrain;
pub mod review;
pub mod series;
mod state;
pub mod stats;
pub mod traffic;
pub mod uploads;
pub mod versions;

pub use budget::ImageBudget;
pub use state::{
    AppState, LatencyWindow, RequestBudgets, RequestCounter, SecurityCounters, ServiceConfig,
};

use crate::error::AppError;

/// Sets this response's status when it is not 200 and not an error (errors get theirs from their
/// kind, in the server's error layer): 202 for accepted jobs, 404 for the not-found page.
pub fn set_status(status: axum::http::StatusCode) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

/// The [`AppState`] the server provided to this request's context.
pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the server-function context");
        AppError::Internal
    })
}

/// The content security policy of a page whose inline scripts carry `nonce`: our own scripts and
/// WASM, our styles (components set inline `style` attributes for bar widths), images from us or
/// `data:`/`blob:` URLs (previews of files being uploaded); no framing, no other site.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}
