//! What the HTTP protocol itself refuses, answered in the JSON error shape every other error has:
//! request targets and header blocks past our limits (414, 431), and the bodiless errors that axum
//! sends on its own (405 for a method a route does not take, 400 for an unreadable query).
//!
//! hyper answers requests past its own, larger, limits (a request line over 64 KB, headers over
//! about 400 KB, bytes that are not HTTP) before any of this runs, with a bare status line: those
//! never reach the application.

use app::error::ErrorBody;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// The longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes (names and values) accepted.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

fn json_error(status: StatusCode, error: &str, detail: String) -> Response {
    let body = ErrorBody {
        error: error.to_owned(),
        detail,
        session_id: None,
        score: None,
        threshold: None,
    };
    (status, Json(body)).into_response()
}

pub async fn protocol_limits(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_URI_BYTES {
        return json_error(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the request's path and query are {target} bytes; the limit is {MAX_URI_BYTES}"
            ),
        );
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return json_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request's headers are {header_bytes} bytes; the limit is {MAX_HEADER_BYTES}"
            ),
        );
    }
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    // An error without a body of ours: give it one, keeping its headers (`Allow` on a 405).
    let (kind, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("{method} is not accepted here; the Allow header lists what is"),
        ),
        StatusCode::NOT_FOUND => ("not_found", "nothing is served at this path".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is larger than this endpoint accepts".to_owned(),
        ),
        status if status.is_client_error() => (
            "bad_request",
            format!(
                "the request was refused ({})",
                status.canonical_reason().unwrap_or("client error")
            ),
        ),
        _ => (
            "internal",
            "the server could not complete the request; details are in the server log".to_owned(),
        ),
    };
    let (mut parts, _) = response.into_parts();
    let replacement = json_error(status, kind, detail);
    parts.headers.remove(header::CONTENT_LENGTH);
    let (new_parts, body) = replacement.into_parts();
    parts.headers.extend(new_parts.headers);
    Response::from_parts(parts, body)
}
