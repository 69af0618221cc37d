//! The HTTP surface: the original service's REST routes, the Leptos server functions and pages, and
//! the static site, behind the layers every request passes: logging, compression, security headers,
//! a deadline, the access guard and per-client rate limits.

mod access;
mod client;
mod export;
mod guard;
mod headers;
mod limits;
mod openapi;
mod protocol;
mod service;

use std::time::Instant;

use app::error::{AppError, ErrorBody};
use app::ssr::traffic::TrafficTally;
use app::ssr::{AppState, RequestCounter};
use app::{shell, App};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower_http::compression::CompressionLayer;

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let limiter = limits::RateLimiter::new(state.service.budgets, state.service.trust_proxy);
    let request_timeout = state.service.request_timeout;
    let context_state = state.clone();
    let shell_options = state.leptos_options.clone();

    Router::new()
        .merge(service::routes().router)
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
        .layer(middleware::from_fn(export::batch_csv))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        // Before the guard: a request nobody may make still spends its sender's budget.
        .layer(middleware::from_fn_with_state(limiter, limits::rate_limit))
        .layer(middleware::from_fn_with_state(
            request_timeout,
            limits::deadline,
        ))
        .layer(middleware::from_fn(protocol::protocol_limits))
        .layer(middleware::from_fn_with_state(
            state.service.trust_proxy,
            headers::security_headers,
        ))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn_with_state(
            (state.requests.clone(), state.traffic.clone()),
            log_and_count,
        ))
        .with_state(state)
}

/// Server functions under `/api/`; an unknown name gets our JSON 404 rather than Leptos's
/// developer help text.
async fn server_fn_handler(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let known = leptos::server_fn::axum::server_fn_paths()
        .any(|(fn_path, method)| fn_path == path && method == request.method());
    if !known {
        return guard::error_response(AppError::NotFound(format!(
            "no API endpoint {} {path}; GET /api lists them",
            request.method()
        )));
    }
    handle_server_fns_with_context(move || provide_context(state.clone()), request)
        .await
        .into_response()
}

/// Server functions answer every error with 500; this gives each the status its kind calls for
/// (400, 404, 409, 413, 503...) and a JSON content type. A layer, because Leptos registers the
/// server functions' own routes (`/predict`, `/retrain/status`, ...) itself.
async fn server_fn_error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if !response
        .headers()
        .contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return guard::error_response(AppError::Internal);
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

/// The most of a request path a log line holds.
const LOGGED_PATH_CHARS: usize = 200;

/// One log line per request, the count `/uptime` reports, and the per-minute tally the Monitor
/// draws over time.
async fn log_and_count(
    State((requests, traffic)): State<(RequestCounter, TrafficTally)>,
    request: Request,
    next: Next,
) -> Response {
    // The Monitor page's polls, scrapers and health checks are not the traffic it reports.
    let monitoring = request.method() == axum::http::Method::GET
        && matches!(
            request.uri().path(),
            "/metrics" | "/metrics/prometheus" | "/metrics/history" | "/health" | "/uptime"
        );
    requests.increment(!monitoring);
    let method = request.method().clone();
    let path = domain::text::clipped(request.uri().path(), LOGGED_PATH_CHARS).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    if !monitoring {
        traffic.count_response(response.status().as_u16());
    }
    if response.extensions().get::<limits::Unlogged>().is_some() {
        return response;
    }
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        "request"
    );
    response
}
