use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;

use crate::api::status::{format_uptime, HealthReport, ServerStatus, UptimeReport};

/// Counts every HTTP request the server answers, for `/uptime`.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicU64>);

impl RequestCounter {
    pub fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything a request handler or server function may need, cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: db::SqlitePool,
    pub requests: RequestCounter,
    started: Instant,
    started_at: String,
}

impl AppState {
    pub fn new(leptos_options: LeptosOptions, db: db::SqlitePool) -> Self {
        Self {
            leptos_options,
            db,
            requests: RequestCounter::default(),
            started: Instant::now(),
            started_at: db::now_rfc3339(),
        }
    }

    /// Whether a classifier is loaded and able to serve predictions. The classifier arrives with the
    /// ML module; until then the service honestly reports that it has none.
    pub fn model_loaded(&self) -> bool {
        false
    }

    pub fn health(&self) -> HealthReport {
        let model_loaded = self.model_loaded();
        HealthReport {
            status: if model_loaded {
                "healthy"
            } else {
                "model_not_loaded"
            }
            .to_owned(),
            model_loaded,
            timestamp: db::now_rfc3339(),
        }
    }

    pub fn uptime(&self) -> UptimeReport {
        let elapsed = self.started.elapsed();
        UptimeReport {
            uptime_seconds: (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            uptime_formatted: format_uptime(elapsed.as_secs()),
            total_requests: self.requests.get(),
            model_loaded: self.model_loaded(),
            timestamp: db::now_rfc3339(),
        }
    }

    pub async fn server_status(&self) -> ServerStatus {
        let predictions = db::predictions::count(&self.db).await;
        if let Err(error) = &predictions {
            leptos::logging::error!("status check could not read the database: {error}");
        }
        ServerStatus {
            health: self.health(),
            uptime: self.uptime(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: self.started_at.clone(),
            database_ok: predictions.is_ok(),
            predictions_recorded: predictions.unwrap_or(0),
        }
    }
}
