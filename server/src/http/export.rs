//! `POST /predict/batch?format=csv`: the batch's answers as a CSV download instead of JSON. The
//! server function answers JSON as always; this layer turns a successful answer into CSV, so the
//! endpoint has one implementation and the browser's download and the REST export are the same
//! text (`app::export::batch_csv`).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use app::error::AppError;
use app::types::predict::BatchPredictionResponse;

use super::guard;

const BATCH_PATH: &str = "/predict/batch";
/// A batch's JSON answer is small next to its images; this bounds what is buffered to convert it.
const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;

/// The `format` a request asked for: `None` for the default JSON.
fn requested_format(query: Option<&str>) -> Result<Option<&str>, AppError> {
    let Some(query) = query else { return Ok(None) };
    let mut format = None;
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("format=") {
            if format.is_some() {
                return Err(AppError::BadRequest("format is given twice".into()));
            }
            format = Some(value);
        }
    }
    match format {
        None | Some("json") => Ok(None),
        Some("csv") => Ok(Some("csv")),
        Some(other) => Err(AppError::BadRequest(format!(
            "format must be json or csv (got {})",
            domain::text::clipped(other, 40)
        ))),
    }
}

pub async fn batch_csv(request: Request, next: Next) -> Response {
    if request.uri().path() != BATCH_PATH {
        return next.run(request).await;
    }
    match requested_format(request.uri().query()) {
        Err(error) => return guard::error_response(error),
        Ok(None) => return next.run(request).await,
        Ok(Some(_)) => {}
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_JSON_BYTES).await else {
        return guard::error_response(AppError::Internal);
    };
    let Ok(batch) = serde_json::from_slice::<BatchPredictionResponse>(&bytes) else {
        tracing::error!("a batch answer could not be read back for its CSV form");
        return guard::error_response(AppError::Internal);
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    parts.headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"predictions.csv\""),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(app::export::batch_csv(&batch.results)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_and_csv_are_formats() {
        assert_eq!(requested_format(None).unwrap(), None);
        assert_eq!(requested_format(Some("format=json")).unwrap(), None);
        assert_eq!(
            requested_format(Some("a=1&format=csv")).unwrap(),
            Some("csv")
        );
        assert!(requested_format(Some("format=xlsx"))
            .unwrap_err()
            .to_string()
            .contains("json or csv"));
        assert!(requested_format(Some("format=csv&format=json")).is_err());
    }
}
