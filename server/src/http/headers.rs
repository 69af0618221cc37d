//! Headers every answer carries: a content security policy (pages set their own, see
//! [`app::ssr::page_csp`]), no MIME sniffing, no framing, no referrer leaking to other sites, and
//! over https, Strict-Transport-Security.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// For answers that are not pages (JSON, files): nothing may run or load from them.
const DEFAULT_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// A year, subdomains included: once a browser has reached us over https it never tries http.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// `trust_proxy`: whether a proxy's `X-Forwarded-Proto` says truthfully that a request is https.
pub async fn security_headers(
    State(trust_proxy): State<bool>,
    request: Request,
    next: Next,
) -> Response {
    let https = super::client::is_https(request.headers(), trust_proxy);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(DEFAULT_CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}
