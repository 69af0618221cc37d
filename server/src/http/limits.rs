//! Per-client rate limits (429 with `Retry-After`) and a deadline on every request, so one client
//! can neither monopolise the model nor hold a connection open with a body that never ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::error::AppError;
use app::ssr::auth::Principal;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::access::{required_access, Access};
use super::guard::error_response;

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Budget {
    Predict,
    Write,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets per (budget, client): each holds a minute's allowance and refills continuously.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    predict_per_minute: f64,
    writes_per_minute: f64,
    buckets: Arc<Mutex<HashMap<(Budget, String), Bucket>>>,
}

/// Past this many tracked clients, full (idle) buckets are forgotten.
const MAX_TRACKED: usize = 10_000;

impl RateLimiter {
    pub fn new(predict_per_minute: u32, writes_per_minute: u32) -> Self {
        Self {
            predict_per_minute: f64::from(predict_per_minute.max(1)),
            writes_per_minute: f64::from(writes_per_minute.max(1)),
            buckets: Arc::default(),
        }
    }

    fn capacity(&self, budget: Budget) -> f64 {
        match budget {
            Budget::Predict => self.predict_per_minute,
            Budget::Write => self.writes_per_minute,
        }
    }

    /// The bucket's tokens at `now`: what it held plus the refill since, at most a minute's worth.
    fn refilled(&self, budget: Budget, bucket: &Bucket, now: Instant) -> f64 {
        let capacity = self.capacity(budget);
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * capacity / 60.0).min(capacity)
    }

    /// Takes one token, or answers how long until one is available.
    fn take(&self, budget: Budget, client: &str, now: Instant) -> Result<(), Duration> {
        let capacity = self.capacity(budget);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > MAX_TRACKED {
            buckets.retain(|(b, _), bucket| self.refilled(*b, bucket, now) < self.capacity(*b));
        }
        let bucket = buckets
            .entry((budget, client.to_owned()))
            .or_insert(Bucket {
                tokens: capacity,
                updated: now,
            });
        let tokens = self.refilled(budget, bucket, now);
        bucket.updated = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            Ok(())
        } else {
            bucket.tokens = tokens;
            Err(Duration::from_secs_f64((1.0 - tokens) * 60.0 / capacity))
        }
    }
}

/// Predictions spend their own budget; other requests that need a role to change something spend
/// the writes budget; reads (including reads sent as POST) are not rationed.
fn budget_of(method: &Method, path: &str) -> Option<Budget> {
    match required_access(method, path) {
        Access::Read if matches!(path, "/predict" | "/predict/batch" | "/predict/explain") => {
            Some(Budget::Predict)
        }
        Access::Read => None,
        Access::Public | Access::Role(_) if *method != Method::GET && *method != Method::HEAD => {
            Some(Budget::Write)
        }
        _ => None,
    }
}

/// Runs after the guard, so the client address is the one it resolved.
pub async fn rate_limit(
    State(limiter): State<RateLimiter>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(budget) = budget_of(request.method(), request.uri().path()) {
        let client = request
            .extensions()
            .get::<Principal>()
            .and_then(|caller| caller.client.clone())
            .unwrap_or_default();
        if let Err(wait) = limiter.take(budget, &client, Instant::now()) {
            let seconds = wait.as_secs().max(1);
            let mut response = error_response(AppError::TooManyRequests(format!(
                "too many requests from {client}; try again in {seconds} s"
            )));
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
            return response;
        }
    }
    next.run(request).await
}

/// Answers 408 when a request (its body included) takes longer than the deadline.
pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error_response(AppError::RequestTimeout(format!(
            "the request took longer than {} s; the connection was too slow or stalled",
            limit.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_a_minutes_allowance_then_waits_for_refill() {
        let limiter = RateLimiter::new(60, 3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(Budget::Write, "a", start).is_ok());
        }
        let wait = limiter.take(Budget::Write, "a", start).unwrap_err();
        assert!(wait > Duration::from_secs(19) && wait <= Duration::from_secs(20));
        assert!(
            limiter.take(Budget::Write, "b", start).is_ok(),
            "per client"
        );
        assert!(
            limiter.take(Budget::Predict, "a", start).is_ok(),
            "per budget"
        );
        assert!(limiter
            .take(Budget::Write, "a", start + Duration::from_secs(21))
            .is_ok());
    }
}
