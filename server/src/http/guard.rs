//! The checks every request passes before a handler runs: who is calling (API token or session
//! cookie), whether a state-changing browser request comes from our own site, whether the body has
//! the content type the endpoint takes, and whether the caller's role allows the route.

use app::error::{AppError, ErrorBody};
use app::ssr::auth::{self, Principal, SESSION_COOKIE};
use app::ssr::AppState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use super::access::{is_static, required_access};
use super::client::{client_address, is_https};
use super::openapi::BodyKind;
use domain::text::clipped;

pub fn error_response(error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(ErrorBody::from(error))).into_response()
}

pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // The WASM bundle, styles and health checks: no database lookup for who is asking.
    if is_static(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    let trust_proxy = state.service.trust_proxy;
    let client = client_address(&request, trust_proxy);
    let https = is_https(request.headers(), trust_proxy);
    let mut caller = match identify(&state, request.headers(), client, https).await {
        Ok(caller) => caller,
        Err(error) => return error_response(error),
    };
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // The path is the client's to choose: what is recorded of it is bounded.
    let recorded_path = clipped(&path, 120);
    let changes_state = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);

    if changes_state {
        if let Err(error) = check_same_origin(request.headers()) {
            auth::audit_refusal(
                &state,
                &caller,
                "cross-site request",
                Some(recorded_path),
                None,
            )
            .await;
            return error_response(error);
        }
        // Browsers name the origin of every state-changing request they send; a session cookie on a
        // request that names none is not trusted to authorise anything. It still names the session
        // to end, should the request be a logout.
        if caller.session_digest.is_some() && !names_its_origin(request.headers()) {
            caller = Principal {
                session_digest: caller.session_digest.take(),
                ..Principal::anonymous(caller.client.clone(), caller.https)
            };
        }
        if let Err(error) = check_content_type(&path, request.headers()) {
            return error_response(error);
        }
    }

    let needed = required_access(&method, &path).required_role(state.service.public_read);
    if let Some(needed) = needed {
        if let Err(error) = auth::check(&caller, needed) {
            if changes_state {
                let detail = error.to_string();
                let action = format!("{method} {recorded_path}");
                auth::audit_refusal(&state, &caller, &action, None, Some(&detail)).await;
            } else if caller.role.is_none() && wants_html(request.headers()) {
                // A person opening a page on a closed deployment gets the login form, not JSON.
                return Redirect::to(&format!("/login?next={}", encode_path(&path)))
                    .into_response();
            }
            return error_response(error);
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The caller: a valid `Authorization: Bearer` token (an invalid one is refused outright, so a
/// client never silently runs as anonymous), else a live session cookie, else anonymous.
async fn identify(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<String>,
    https: bool,
) -> Result<Principal, AppError> {
    let anonymous = Principal::anonymous(client, https);

    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        let token = authorization
            .to_str()
            .ok()
            .and_then(bearer_token)
            .ok_or_else(|| {
                AppError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        let Some((subject, role)) = auth::token_caller(&state.db, token).await? else {
            return Err(AppError::Unauthorized(
                "unknown or revoked API token".to_owned(),
            ));
        };
        return Ok(Principal {
            subject,
            role: Some(role),
            ..anonymous
        });
    }
    if let Some(secret) = session_cookie(headers) {
        let digest = auth::digest(&secret);
        if let Some((subject, role)) = auth::session_caller(&state.db, &digest).await? {
            return Ok(Principal {
                subject,
                role: Some(role),
                session_digest: Some(digest),
                ..anonymous
            });
        }
    }
    Ok(anonymous)
}

/// The token of an `Authorization: Bearer <token>` value; the scheme's case does not matter
/// (RFC 7235).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// A state-changing request that names its origin (browsers always do) must name ours. Token and
/// anonymous clients (`curl`) usually send neither header.
fn check_same_origin(headers: &HeaderMap) -> Result<(), AppError> {
    let refuse = |why: &str| {
        Err(AppError::Forbidden(format!(
            "cross-site request refused: {why}"
        )))
    };
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|site| site == "cross-site")
    {
        return refuse("the browser reports it as cross-site");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match origin_of(headers) {
        Some(source) if authority(source) == Some(host) && !host.is_empty() => Ok(()),
        Some(source) => refuse(&format!("it comes from {source:?}, not from this site")),
        None => Ok(()),
    }
}

fn origin_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .map(|v| v.to_str().unwrap_or_default())
}

fn names_its_origin(headers: &HeaderMap) -> bool {
    origin_of(headers).is_some()
}

/// `host[:port]` of an absolute http(s) URL or origin.
fn authority(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Upload endpoints take multipart, JSON endpoints JSON; a body of another type never reaches them.
fn check_content_type(path: &str, headers: &HeaderMap) -> Result<(), AppError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let shown = if content_type.is_empty() {
        "no content type"
    } else {
        content_type
    };
    let kind = super::openapi::post_body_kind(path);
    if kind == Some(BodyKind::Multipart)
        && !(content_type.starts_with("multipart/form-data") && content_type.contains("boundary="))
    {
        return Err(AppError::BadRequest(format!(
            "expected a multipart/form-data body (got {shown:?}); send images as form fields"
        )));
    }
    let json_path = kind == Some(BodyKind::Json);
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|length| length != "0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    // An activation may come without a body; anything with a body must say it is JSON.
    let body_optional = path.starts_with("/models/");
    if json_path && (has_body || !body_optional) && !content_type.starts_with("application/json") {
        return Err(AppError::BadRequest(format!(
            "expected an application/json body (got {shown:?})"
        )));
    }
    Ok(())
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The path as a query value: only characters that need no escaping pass through.
fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'.') {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn only_our_own_origin_may_change_state_from_a_browser() {
        let ours = headers(&[("host", "scan.example"), ("origin", "https://scan.example")]);
        assert!(check_same_origin(&ours).is_ok());
        let evil = headers(&[("host", "scan.example"), ("origin", "https://evil.example")]);
        assert_eq!(check_same_origin(&evil).unwrap_err().status(), 403);
        let lookalike = headers(&[
            ("host", "scan.example"),
            ("origin", "https://scan.example.evil.io"),
        ]);
        assert!(check_same_origin(&lookalike).is_err());
        let referer = headers(&[
            ("host", "scan.example"),
            ("referer", "https://scan.example/upload"),
        ]);
        assert!(check_same_origin(&referer).is_ok());
        let bare = headers(&[("host", "scan.example")]);
        assert!(check_same_origin(&bare).is_ok(), "curl");
        assert!(!names_its_origin(&bare));
        let fetch = headers(&[("host", "scan.example"), ("sec-fetch-site", "cross-site")]);
        assert!(check_same_origin(&fetch).is_err());
    }

    #[test]
    fn json_endpoints_refuse_other_content_types() {
        let text = headers(&[("content-type", "text/plain"), ("content-length", "2")]);
        assert!(check_content_type("/retrain/trigger", &text).is_err());
        let json = headers(&[
            ("content-type", "application/json"),
            ("content-length", "2"),
        ]);
        assert!(check_content_type("/retrain/trigger", &json).is_ok());
        let empty = headers(&[("content-length", "0")]);
        assert!(check_content_type("/models/v1/activate", &empty).is_ok());
        assert!(check_content_type("/models/v1/activate", &text).is_err());
        assert!(check_content_type("/predict", &json).is_err());
    }

    #[test]
    fn the_login_redirect_keeps_any_path_as_a_query_value() {
        assert_eq!(encode_path("/retrain"), "/retrain");
        assert_eq!(encode_path("/a b?x=1&y"), "/a%20b%3Fx%3D1%26y");
        assert_eq!(encode_path("/é"), "/%C3%A9");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("BEARER abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
