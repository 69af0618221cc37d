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
    per_minute: [(Budget, u32); 2],
    buckets: Arc<Mutex<HashMap<(Budget, String), Bucket>>>,
}

/// Past this many tracked clients, full (idle) buckets are forgotten.
const MAX_TRACKED: usize = 10_000;

impl RateLimiter {
    pub fn new(predict_per_minute: u32, writes_per_minute: u32) -> Self {
        Self {
            per_minute: [
                (Budget::Predict, predict_per_minute.max(1)),
                (Budget::Write, writes_per_minute.max(1)),
            ],
            buckets: Arc::default(),
        }
    }

    fn capacity(&self, budget: Budget) -> f64 {
        f64::from(
            self.per_minute
                .iter()
                .find(|(b, _)| *b == budget)
                .map_or(1, |(_, n)| *n),
        )
    }

    /// Takes one token, or answers how long until one is available.
    fn take(&self, budget: Budget, client: &str, now: Instant) -> Result<(), Duration> {
        let capacity = self.capacity(budget);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > MAX_TRACKED {
            buckets.retain(|(b, _), bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second
                    < self.capacity(*b)
            });
        }
        let bucket = buckets
            .entry((budget, client.to_owned()))
            .or_insert(Bucket {
                tokens: capacity,
                updated: now,
            });
        let refilled = (bucket.tokens
            + now.duration_since(bucket.updated).as_secs_f64() * per_second)
            .min(capacity);
        bucket.updated = now;
        if refilled >= 1.0 {
            bucket.tokens = refilled - 1.0;
            Ok(())
        } else {
            bucket.tokens = refilled;
            Err(Duration::from_secs_f64((1.0 - refilled) / per_second))
        }
    }
}

fn budget_of(method: &Method, path: &str) -> Option<Budget> {
    match (method, path) {
        (&Method::POST, "/predict" | "/predict/batch") => Some(Budget::Predict),
        (&Method::GET | &Method::HEAD | &Method::OPTIONS, _) => None,
        // The status page's poll is a read that happens to be a POST.
        (_, "/api/server_status") => None,
        _ => Some(Budget::Write),
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
        Err(_) => {
            let mut response = error_response(AppError::BadRequest(format!(
                "the request took longer than {} s; the connection was too slow or stalled",
                limit.as_secs()
            )));
            *response.status_mut() = axum::http::StatusCode::REQUEST_TIMEOUT;
            response
        }
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
