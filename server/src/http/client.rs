//! Who is on the other end of the connection: the client's address and whether it came over https.
//! Behind a trusted proxy both come from the proxy's headers; otherwise a client could claim any
//! address or scheme, so the socket's address is used and https is never assumed.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;

/// The client's address as the server sees it (behind a trusted proxy, the forwarded one).
pub fn client_address(request: &Request, trust_proxy: bool) -> Option<String> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    if trust_proxy {
        forwarded_client(request.headers()).or(peer)
    } else {
        peer
    }
}

/// Whether the request is known to have come over https (only a trusted proxy can say so).
pub fn is_https(headers: &HeaderMap, trust_proxy: bool) -> bool {
    trust_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// The address the (one, trusted) proxy in front of us saw: the last `X-Forwarded-For` entry, the
/// only one a client cannot forge.
fn forwarded_client(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .rfind(|entry| !entry.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_forwarded_client_is_the_last_hop() {
        let mut forwarded = HeaderMap::new();
        forwarded.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 10.0.0.1"),
        );
        forwarded.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        assert_eq!(forwarded_client(&forwarded).as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn https_is_believed_only_from_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert!(is_https(&headers, true));
        assert!(!is_https(&headers, false));
        assert!(!is_https(&HeaderMap::new(), true));
    }
}
