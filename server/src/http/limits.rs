//! Per-client rate limits (429 with `Retry-After`) and a deadline on every request, so one client
//! can neither monopolise the model nor hold a connection open with a body that never ends.
//!
//! The limits run before authentication, keyed by the client's address: a request nobody may make
//! still costs its sender, and once a client has spent its budget of refused requests, everything
//! it sends is answered 429 without a database lookup, an audit row or a log line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::error::AppError;
use app::ssr::{ImageBudget, RequestBudgets};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::access::{is_static, required_access, Access};
use super::client::client_address;
use super::guard::error_response;
use domain::text::clipped;

/// Marks an answer not to be logged: the answers to a client that has spent its budget of refused
/// requests (one warning said the budget was spent).
#[derive(Debug, Clone, Copy)]
pub struct Unlogged;

/// What one explanation costs of the prediction budget: its backward pass and heatmap take about
/// four forward passes' time.
pub const EXPLAIN_COST: f64 = 4.0;

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Budget {
    /// Images classified.
    Predict,
    Upload,
    Login,
    /// Other changes.
    Write,
    Read,
    /// Requests the access guard refused (401, 403).
    Refused,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets per (budget, client): each holds a minute's allowance and refills continuously.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    budgets: RequestBudgets,
    trust_proxy: bool,
    buckets: Arc<Mutex<HashMap<(Budget, String), Bucket>>>,
}

/// Past this many tracked clients, full (idle) buckets are forgotten.
const MAX_TRACKED: usize = 10_000;

impl RateLimiter {
    pub fn new(budgets: RequestBudgets, trust_proxy: bool) -> Self {
        Self {
            budgets,
            trust_proxy,
            buckets: Arc::default(),
        }
    }

    fn capacity(&self, budget: Budget) -> f64 {
        let per_minute = match budget {
            Budget::Predict => self.budgets.predict_images,
            Budget::Upload => self.budgets.uploads,
            Budget::Login => self.budgets.logins,
            Budget::Write => self.budgets.writes,
            Budget::Read => self.budgets.reads,
            Budget::Refused => self.budgets.refused,
        };
        f64::from(per_minute.max(1))
    }

    /// The bucket's tokens at `now`: what it held plus the refill since, at most a minute's worth.
    fn refilled(&self, budget: Budget, bucket: &Bucket, now: Instant) -> f64 {
        let capacity = self.capacity(budget);
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * capacity / 60.0).min(capacity)
    }

    /// Takes `cost` tokens, or answers how long until that many are available (nothing is taken).
    fn take(&self, budget: Budget, client: &str, cost: f64, now: Instant) -> Result<(), Duration> {
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
        bucket.tokens = tokens;
        if tokens >= cost {
            bucket.tokens = tokens - cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (cost.min(capacity) - tokens) * 60.0 / capacity,
            ))
        }
    }

    /// Whether `client` has refused requests left to spend; if not, how long until it has.
    fn refusals_left(&self, client: &str, now: Instant) -> Result<(), Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        match buckets.get(&(Budget::Refused, client.to_owned())) {
            Some(bucket) => {
                let tokens = self.refilled(Budget::Refused, bucket, now);
                if tokens >= 1.0 {
                    Ok(())
                } else {
                    let capacity = self.capacity(Budget::Refused);
                    Err(Duration::from_secs_f64((1.0 - tokens) * 60.0 / capacity))
                }
            }
            None => Ok(()),
        }
    }

    /// Spends one refused request; the first one past the budget is logged, the rest not.
    fn spend_refusal(&self, client: &str, now: Instant) {
        if let Err(wait) = self.take(Budget::Refused, client, 1.0, now) {
            tracing::warn!(
                client = clipped(client, 64),
                "refused-request budget spent: this client's requests are answered 429 unlogged \
                 for {} s",
                wait.as_secs().max(1)
            );
        }
    }
}

/// Which budget a request spends, and how much of it.
fn budget_of(method: &Method, path: &str) -> Option<(Budget, f64)> {
    if is_static(method, path) {
        return None;
    }
    let writes = *method != Method::GET && *method != Method::HEAD;
    let budget = match (required_access(method, path), path) {
        (_, "/predict/explain" | "/predictions/explain" | "/pacs/explain") if writes => {
            return Some((Budget::Predict, EXPLAIN_COST))
        }
        (
            _,
            "/predict" | "/predict/batch" | "/predict/series" | "/pacs/classify" | "/pacs/store",
        ) if writes => Budget::Predict,
        (_, "/auth/login") if writes => Budget::Login,
        (_, "/retrain") if writes => Budget::Upload,
        (Access::Read, _) => Budget::Read,
        _ if writes => Budget::Write,
        _ => Budget::Read,
    };
    Some((budget, 1.0))
}

fn too_many(message: String, wait: Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let mut response = error_response(AppError::TooManyRequests(format!(
        "{message}; try again in {seconds} s"
    )));
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

/// Runs before the access guard: every budget is per client address, whoever the caller claims
/// to be.
pub async fn rate_limit(
    State(limiter): State<RateLimiter>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some((budget, cost)) = budget_of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let client = client_address(&request, limiter.trust_proxy).unwrap_or_default();
    let now = Instant::now();
    if let Err(wait) = limiter.refusals_left(&client, now) {
        let mut response = too_many(
            "too many refused requests from this address".to_owned(),
            wait,
        );
        response.extensions_mut().insert(Unlogged);
        return response;
    }
    if let Err(wait) = limiter.take(budget, &client, cost, now) {
        return too_many(
            format!("too many requests from {}", clipped(&client, 64)),
            wait,
        );
    }
    if budget == Budget::Predict {
        // The request paid for one image at the door; a batch pays for the rest once it is read.
        let (limiter, client) = (limiter.clone(), client.clone());
        let per_minute = limiter.budgets.predict_images;
        request
            .extensions_mut()
            .insert(ImageBudget::new(per_minute, move |images| {
                limiter.take(Budget::Predict, &client, images as f64, Instant::now())
            }));
    }
    let response = next.run(request).await;
    if matches!(
        response.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        limiter.spend_refusal(&client, Instant::now());
    }
    response
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

    fn budgets() -> RequestBudgets {
        RequestBudgets {
            predict_images: 60,
            uploads: 3,
            logins: 2,
            writes: 3,
            reads: 100,
            refused: 2,
        }
    }

    #[test]
    fn a_client_gets_a_minutes_allowance_then_waits_for_refill() {
        let limiter = RateLimiter::new(budgets(), false);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take(Budget::Write, "a", 1.0, start).is_ok());
        }
        let wait = limiter.take(Budget::Write, "a", 1.0, start).unwrap_err();
        assert!(wait > Duration::from_secs(19) && wait <= Duration::from_secs(20));
        assert!(
            limiter.take(Budget::Write, "b", 1.0, start).is_ok(),
            "per client"
        );
        assert!(
            limiter.take(Budget::Upload, "a", 1.0, start).is_ok(),
            "per budget"
        );
        assert!(limiter
            .take(Budget::Write, "a", 1.0, start + Duration::from_secs(21))
            .is_ok());
    }

    #[test]
    fn a_cost_larger_than_what_is_left_takes_nothing() {
        let limiter = RateLimiter::new(budgets(), false);
        let start = Instant::now();
        assert!(limiter.take(Budget::Predict, "a", 58.0, start).is_ok());
        let wait = limiter.take(Budget::Predict, "a", 4.0, start).unwrap_err();
        assert_eq!(wait.as_secs(), 2);
        assert!(limiter.take(Budget::Predict, "a", 2.0, start).is_ok());
    }

    #[test]
    fn logins_uploads_and_other_changes_spend_separate_budgets() {
        let post = Method::POST;
        assert_eq!(
            budget_of(&post, "/auth/login").map(|b| b.0),
            Some(Budget::Login)
        );
        assert_eq!(
            budget_of(&post, "/retrain").map(|b| b.0),
            Some(Budget::Upload)
        );
        assert_eq!(
            budget_of(&post, "/retrain/trigger").map(|b| b.0),
            Some(Budget::Write)
        );
        assert_eq!(
            budget_of(&post, "/predict/batch"),
            Some((Budget::Predict, 1.0))
        );
        assert_eq!(
            budget_of(&post, "/predict/explain"),
            Some((Budget::Predict, EXPLAIN_COST))
        );
        assert_eq!(
            budget_of(&post, "/predictions/explain"),
            Some((Budget::Predict, EXPLAIN_COST))
        );
        assert_eq!(
            budget_of(&Method::GET, "/retrain/sessions").map(|b| b.0),
            Some(Budget::Read)
        );
        assert_eq!(budget_of(&Method::GET, "/pkg/brainscan.wasm"), None);
    }

    #[test]
    fn a_spent_refusal_budget_closes_the_door_until_it_refills() {
        let limiter = RateLimiter::new(budgets(), false);
        let start = Instant::now();
        assert!(limiter.refusals_left("a", start).is_ok());
        limiter.spend_refusal("a", start);
        limiter.spend_refusal("a", start);
        assert!(limiter.refusals_left("a", start).is_err());
        assert!(limiter.refusals_left("b", start).is_ok());
        assert!(limiter
            .refusals_left("a", start + Duration::from_secs(31))
            .is_ok());
    }
}
