//! Service-level routes kept from the original API: `/health`, `/uptime` and the `/api` index.

use app::api::status::{HealthReport, UptimeReport};
use app::ssr::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/uptime", get(uptime))
        .route("/api", get(api_index))
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
];

async fn api_index() -> Json<ApiIndex> {
    Json(ApiIndex {
        service: app::PRODUCT_NAME,
        version: env!("CARGO_PKG_VERSION"),
        endpoints: ENDPOINTS,
    })
}
