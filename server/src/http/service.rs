//! Service-level routes kept from the original API: `/health`, `/uptime` and the `/api` index.

use app::api::status::{HealthReport, UptimeReport};
use app::error::ErrorBody;
use app::ssr::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/uptime", get(uptime))
        .route("/api", get(api_index))
        .route("/metrics/prometheus", get(prometheus_metrics))
        .route("/models/{version}/activate", post(activate_model))
}

/// `POST /models/{version}/activate`: the REST form of the `activate_model` server function (server
/// functions cannot take path parameters), sharing its code.
async fn activate_model(State(state): State<AppState>, Path(version): Path<String>) -> Response {
    let result = match app::ssr::models::activate(&state, &version).await {
        Ok(()) => app::ssr::retrain::list_models(&state).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(models) => Json(models).into_response(),
        Err(error) => error_response(error),
    }
}

/// `GET /metrics/prometheus`: `/metrics` in Prometheus' text format.
async fn prometheus_metrics(State(state): State<AppState>) -> Response {
    match app::ssr::monitor::metrics(&state).await {
        Ok(report) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            app::ssr::monitor::prometheus_text(&report),
        )
            .into_response(),
        Err(error) => error_response(error),
    }
}

fn error_response(error: app::error::AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(ErrorBody::from(error))).into_response()
}

async fn health(State(state): State<AppState>) -> Json<HealthReport> {
    Json(state.health())
}

async fn uptime(State(state): State<AppState>) -> Json<UptimeReport> {
    Json(state.uptime())
}

#[derive(Debug, Serialize)]
struct Endpoint {
    method: &'static str,
    path: &'static str,
    description: &'static str,
}

#[derive(Debug, Serialize)]
struct ApiIndex {
    service: &'static str,
    version: &'static str,
    endpoints: &'static [Endpoint],
}

/// Every endpoint the service answers; later features add theirs here.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "GET",
        path: "/health",
        description: "Liveness and whether a model is loaded",
    },
    Endpoint {
        method: "GET",
        path: "/uptime",
        description: "Uptime and total requests served",
    },
    Endpoint {
        method: "GET",
        path: "/api",
        description: "This list",
    },
    Endpoint {
        method: "POST",
        path: "/api/server_status",
        description: "Server function behind the Home page's status cards",
    },
    Endpoint {
        method: "POST",
        path: "/predict",
        description: "Classify one image (multipart field `file`)",
    },
    Endpoint {
        method: "POST",
        path: "/predict/batch",
        description: "Classify several images (multipart field `files`)",
    },
    Endpoint {
        method: "POST",
        path: "/retrain",
        description: "Upload labelled images for retraining (multipart `files` + `class_name`)",
    },
    Endpoint {
        method: "POST",
        path: "/retrain/trigger",
        description: "Start a retraining job (JSON {\"epochs\":3,\"fine_tune_epochs\":1}); 202",
    },
    Endpoint {
        method: "GET",
        path: "/retrain/status",
        description: "The latest retraining session with live progress",
    },
    Endpoint {
        method: "GET",
        path: "/retrain/sessions?limit=5",
        description: "Recent retraining sessions with before/after metrics",
    },
    Endpoint {
        method: "GET",
        path: "/database/stats",
        description: "Uploads, sessions and predictions counts",
    },
    Endpoint {
        method: "GET",
        path: "/models",
        description: "Model versions with their validation metrics",
    },
    Endpoint {
        method: "GET",
        path: "/metrics",
        description:
            "Live metrics: requests/min, prediction latency, predictions per class, memory",
    },
    Endpoint {
        method: "GET",
        path: "/metrics/prometheus",
        description: "The same live metrics in Prometheus' text format",
    },
    Endpoint {
        method: "GET",
        path: "/models/active/report",
        description: "The serving model's confusion matrix, per-class scores and training curves",
    },
    Endpoint {
        method: "GET",
        path: "/visualizations/data",
        description: "Feature summaries, histograms and a bounded scatter sample for the charts",
    },
    Endpoint {
        method: "POST",
        path: "/models/{version}/activate",
        description: "Serve another model version, swapped without a restart",
    },
];

async fn api_index() -> Json<ApiIndex> {
    Json(ApiIndex {
        service: app::PRODUCT_NAME,
        version: env!("CARGO_PKG_VERSION"),
        endpoints: ENDPOINTS,
    })
}
