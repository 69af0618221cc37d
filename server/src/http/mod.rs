//! The HTTP surface: the original service's REST routes, the Leptos server functions and pages, and
//! the static site, behind one request-logging layer.

mod openapi;
mod service;

use std::time::Instant;

use app::error::{AppError, ErrorBody};
use app::ssr::{AppState, RequestCounter};
use app::{shell, App};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let shell_options = state.leptos_options.clone();

    Router::new()
        .merge(service::router())
        .route(
            "/api/{*fn_name}",
            get(server_fn_handler).post(server_fn_handler),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_state.clone()),
            move || shell(shell_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(server_fn_error_status))
        .layer(middleware::from_fn(require_multipart_uploads))
        .layer(middleware::from_fn_with_state(
            state.requests.clone(),
            log_and_count,
        ))
        .with_state(state)
}

async fn server_fn_handler(State(state): State<AppState>, request: Request) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.clone()), request).await
}

/// The upload endpoints, which take `multipart/form-data`.
const MULTIPART_PATHS: [&str; 3] = ["/predict", "/predict/batch", "/retrain"];

/// Server functions expect a multipart body on the upload endpoints and would fail without a proper
/// answer on anything else; this answers 400 with the error shape every endpoint uses.
async fn require_multipart_uploads(request: Request, next: Next) -> Response {
    let is_upload =
        request.method() == Method::POST && MULTIPART_PATHS.contains(&request.uri().path());
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if is_upload
        && !(content_type.starts_with("multipart/form-data") && content_type.contains("boundary="))
    {
        let error = AppError::BadRequest(format!(
            "expected a multipart/form-data body (got {:?}); send images as form fields",
            if content_type.is_empty() {
                "no content type"
            } else {
                content_type
            }
        ));
        return (StatusCode::BAD_REQUEST, Json(ErrorBody::from(error))).into_response();
    }
    next.run(request).await
}

/// Server functions answer every error with 500; this gives each the status its kind calls for
/// (400, 404, 409, 413, 503...) and a JSON content type. A layer, because Leptos registers the
/// server functions' own routes (`/predict`, `/retrain/status`, ...) itself.
async fn server_fn_error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if !response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let status = serde_json::from_slice::<ErrorBody>(&bytes)
        .map(|body| AppError::from(body).status())
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    parts.status = status;
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(bytes))
}

/// One log line per request, and the count `/uptime` reports.
async fn log_and_count(
    State(requests): State<RequestCounter>,
    request: Request,
    next: Next,
) -> Response {
    requests.increment();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        "request"
    );
    response
}
