//! Service-level routes kept from the original API: `/health`, `/uptime` and the `/api` index.

use app::api::auth::Role;
use app::api::retrain::ActivateRequest;
use app::api::status::{HealthReport, UptimeReport};
use app::error::{AppError, ErrorBody};
use app::ssr::auth::Principal;
use app::ssr::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Serialize;

/// The routes this module serves (the others are Leptos server functions); the OpenAPI tests check
/// that each is documented.
#[cfg(test)]
pub const ROUTES: [(&str, &str); 10] = [
    ("GET", "/health"),
    ("GET", "/uptime"),
    ("GET", "/api"),
    ("GET", "/metrics/prometheus"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs.js"),
    ("GET", "/redoc"),
    ("POST", "/models/{version}/activate"),
    ("GET", "/retrain/review/{id}/image"),
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/uptime", get(uptime))
        .route("/api", get(api_index))
        .route("/metrics/prometheus", get(prometheus_metrics))
        .route("/openapi.json", get(super::openapi::openapi_json))
        .route("/docs", get(super::openapi::docs))
        .route("/docs.js", get(super::openapi::docs_script))
        .route("/redoc", get(super::openapi::redoc))
        .route("/models/{version}/activate", post(activate_model))
        .route("/retrain/review/{id}/image", get(held_image))
}

/// `GET /retrain/review/{id}/image`: a held upload's image, for the annotator deciding on it.
async fn held_image(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    if let Err(error) = app::ssr::auth::check(&caller, Role::Annotator) {
        return error_response(error);
    }
    let Ok(id) = id.parse::<i64>() else {
        return error_response(AppError::BadRequest(format!(
            "the upload id must be a number (got {id:?})"
        )));
    };
    match app::ssr::review::held_image(&state, id).await {
        Ok((bytes, content_type)) => (
            [
                (axum::http::header::CONTENT_TYPE, content_type),
                // Only for the annotator who asked: no shared cache may keep it.
                (axum::http::header::CACHE_CONTROL, "private, max-age=300"),
            ],
            bytes,
        )
            .into_response(),
        Err(error) => error_response(error),
    }
}

/// `POST /models/{version}/activate`: the REST form of the `activate_model` server function (server
/// functions cannot take path parameters), sharing its code.
async fn activate_model(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(version): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(error) = app::ssr::auth::check(&caller, Role::Admin) {
        return error_response(error);
    }
    let request: ActivateRequest = if body.is_empty() {
        ActivateRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(request) => request,
            Err(error) => {
                return error_response(AppError::BadRequest(format!(
                    "the body must be {{\"force\": bool, \"reason\": string}}: {error}"
                )))
            }
        }
    };
    let activated = app::ssr::models::activate_as(
        &state,
        &caller,
        &version,
        request.force,
        request.reason.as_deref(),
    )
    .await;
    let result = match activated {
        Ok(()) => app::ssr::models::list(&state).await,
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

fn error_response(error: AppError) -> Response {
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
    method: String,
    path: String,
    description: String,
}

#[derive(Debug, Serialize)]
struct ApiIndex {
    service: &'static str,
    version: &'static str,
    docs: &'static str,
    openapi: &'static str,
    endpoints: Vec<Endpoint>,
}

/// The index lists what the OpenAPI document declares, so the two cannot drift apart.
async fn api_index() -> Json<ApiIndex> {
    let document = super::openapi::document();
    let mut endpoints = Vec::new();
    for (path, item) in &document.paths.paths {
        let operations = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
        ];
        for (method, operation) in operations {
            if let Some(operation) = operation {
                endpoints.push(Endpoint {
                    method: method.to_owned(),
                    path: path.clone(),
                    description: operation.summary.clone().unwrap_or_default(),
                });
            }
        }
    }
    Json(ApiIndex {
        service: app::PRODUCT_NAME,
        version: env!("CARGO_PKG_VERSION"),
        docs: "/docs",
        openapi: "/openapi.json",
        endpoints,
    })
}
