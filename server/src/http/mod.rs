//! The HTTP surface: the original service's REST routes, the Leptos server functions and pages, and
//! the static site, behind one request-logging layer.

mod service;

use std::time::Instant;

use app::ssr::{AppState, RequestCounter};
use app::{shell, App};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
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
        .layer(middleware::from_fn_with_state(
            state.requests.clone(),
            log_and_count,
        ))
        .with_state(state)
}

async fn server_fn_handler(State(state): State<AppState>, request: Request) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_context(state.clone()), request).await
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
