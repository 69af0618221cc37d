//! Service-level routes kept from the original API: `/health`, `/uptime` and the `/api` index.

use app::error::{AppError, ErrorBody};
use app::ssr::auth::Principal;
use app::ssr::AppState;
use app::types::auth::Role;
use app::types::feedback::FeedbackRequest;
use app::types::retrain::ActivateRequest;
use app::types::status::{HealthReport, UptimeReport};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Json, Router};
use serde::Serialize;

/// The routes this module serves (the others are Leptos server functions), each registered with
/// the method it is recorded under, so the documentation test reads what the router really serves.
pub struct Routes {
    pub router: Router<AppState>,
    pub served: Vec<(Method, &'static str)>,
}

impl Routes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            served: Vec::new(),
        }
    }

    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, route);
        self.served.push((method, path));
        self
    }

    fn get<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, get(handler))
    }

    fn post<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, post(handler))
    }
}

pub fn routes() -> Routes {
    Routes::new()
        .get("/health", health)
        .get("/uptime", uptime)
        .get("/api", api_index)
        .get("/metrics/prometheus", prometheus_metrics)
        .get("/openapi.json", super::openapi::openapi_json)
        .get("/docs", super::openapi::docs)
        .get("/docs.js", super::openapi::docs_script)
        .get("/redoc", super::openapi::redoc)
        .post("/models/{version}/activate", activate_model)
        .get("/retrain/review/{id}/image", held_image)
        .get("/uploads/{id}/image", upload_image)
        .post("/predictions/{id}/feedback", prediction_feedback)
        .get("/predictions/{id}/slice", prediction_slice)
}

/// A path's `{id}`, or a clear 400.
fn parse_id(id: &str, what: &str) -> Result<i64, AppError> {
    id.parse::<i64>().map_err(|_| {
        AppError::BadRequest(format!(
            "the {what} id must be a number (got {:?})",
            domain::text::clipped(id, 40)
        ))
    })
}

/// `POST /predictions/{id}/feedback {"verdict": "right"|"wrong", "class_name": ...}` (annotator,
/// audited): the REST form of the `give_feedback` server function.
async fn prediction_feedback(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let result = async {
        app::ssr::auth::check(&caller, Role::Annotator)?;
        let id = parse_id(&id, "prediction")?;
        let request: FeedbackRequest = serde_json::from_slice(&body).map_err(|error| {
            AppError::BadRequest(format!(
                "the body must be {{\"verdict\": \"right\" or \"wrong\", \"class_name\": \
                 one of {}}}: {error}",
                domain::CLASS_NAMES.join(", ")
            ))
        })?;
        app::ssr::feedback::submit(&state, &caller, id, request).await
    }
    .await;
    match result {
        Ok(feedback) => Json(feedback).into_response(),
        Err(error) => error_response(error),
    }
}

/// `GET /predictions/{id}/slice`: a kept prediction slice (PNG) for a signed-in reader, never cached
/// by anything shared: it is a patient's image.
async fn prediction_slice(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        app::ssr::auth::check(&caller, Role::Viewer)?;
        app::ssr::feedback::slice(&state, parse_id(&id, "prediction")?).await
    }
    .await;
    match result {
        Ok(png) => (
            [
                (axum::http::header::CONTENT_TYPE, "image/png"),
                (axum::http::header::CACHE_CONTROL, "private, no-store"),
            ],
            png,
        )
            .into_response(),
        Err(error) => error_response(error),
    }
}

/// `GET /uploads/{id}/image`: any stored upload's image, for the Data page (annotators and admins).
async fn upload_image(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    annotator_image(&caller, &id, |id| app::ssr::data::image(&state, id)).await
}

/// `GET /retrain/review/{id}/image`: a held upload's image, for the annotator deciding on it.
async fn held_image(
    State(state): State<AppState>,
    Extension(caller): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    annotator_image(&caller, &id, |id| app::ssr::review::held_image(&state, id)).await
}

/// An upload's image for an annotator: the role checked, the id parsed, the bytes `load` finds
/// served privately (only for the annotator who asked: no shared cache may keep them).
async fn annotator_image<F, Loading>(caller: &Principal, id: &str, load: F) -> Response
where
    F: FnOnce(i64) -> Loading,
    Loading: std::future::Future<Output = Result<(Vec<u8>, &'static str), AppError>>,
{
    if let Err(error) = app::ssr::auth::check(caller, Role::Annotator) {
        return error_response(error);
    }
    let id = match parse_id(id, "upload") {
        Ok(id) => id,
        Err(error) => return error_response(error),
    };
    match load(id).await {
        Ok((bytes, content_type)) => (
            [
                (axum::http::header::CONTENT_TYPE, content_type),
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
    let figures = async {
        let report = app::ssr::monitor::metrics(&state).await?;
        let live = app::ssr::feedback::live_accuracy(&state).await?;
        Ok::<_, AppError>(
            app::ssr::monitor::prometheus_text(&report)
                + &app::ssr::feedback::prometheus_text(&live)
                + &app::ssr::drift::prometheus_text(&state),
        )
    };
    match figures.await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
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
