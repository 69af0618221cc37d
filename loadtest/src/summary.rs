//! What one run measured, in the terms the README reports: requests/s, predictions/s, latency
//! percentiles over all requests and per endpoint, failures, and the server's memory afterwards.

use std::collections::BTreeMap;
use std::time::Duration;

use goose::metrics::GooseMetrics;
use serde::Serialize;

/// Images per `POST /predict/batch` (`LOADTEST_BATCH_SIZE`, default 4).
pub fn batch_size() -> usize {
    std::env::var("LOADTEST_BATCH_SIZE")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(4)
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub requests: usize,
    pub failures: usize,
    pub per_second: f64,
    pub p50_ms: usize,
    pub p95_ms: usize,
    pub p99_ms: usize,
    pub max_ms: usize,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub users: usize,
    pub seconds: usize,
    pub wait_ms: (u128, u128),
    pub batch_size: usize,
    pub images: usize,
    pub overall: Latency,
    /// Images classified per second: single predictions plus batch images.
    pub predictions_per_second: f64,
    pub endpoints: BTreeMap<String, Latency>,
    /// The server's resident memory after the run, from its `/metrics`.
    pub server_rss_mb: Option<f64>,
    pub server_predictions_total: Option<i64>,
}

/// The smallest recorded time at or above the `fraction` quantile of `times` (ms -> count).
fn percentile(times: &BTreeMap<usize, usize>, fraction: f64) -> usize {
    let total: usize = times.values().sum();
    let wanted = (total as f64 * fraction).ceil() as usize;
    let mut seen = 0;
    for (&ms, &count) in times {
        seen += count;
        if seen >= wanted.max(1) {
            return ms;
        }
    }
    0
}

fn latency(times: &BTreeMap<usize, usize>, failures: usize, seconds: f64) -> Latency {
    let requests: usize = times.values().sum();
    Latency {
        requests,
        failures,
        per_second: requests as f64 / seconds,
        p50_ms: percentile(times, 0.50),
        p95_ms: percentile(times, 0.95),
        p99_ms: percentile(times, 0.99),
        max_ms: times.keys().next_back().copied().unwrap_or(0),
    }
}

impl Summary {
    pub async fn from_metrics(
        metrics: &GooseMetrics,
        images: usize,
        (min_wait, max_wait): (Duration, Duration),
        host: &str,
    ) -> Self {
        let seconds = metrics.duration.max(1) as f64;
        let mut all = BTreeMap::new();
        let mut failures = 0;
        let mut endpoints = BTreeMap::new();
        for (name, aggregate) in &metrics.requests {
            for (&ms, &count) in &aggregate.raw_data.times {
                *all.entry(ms).or_insert(0) += count;
            }
            failures += aggregate.fail_count;
            endpoints.insert(
                name.clone(),
                latency(&aggregate.raw_data.times, aggregate.fail_count, seconds),
            );
        }
        let succeeded = |name: &str| {
            metrics
                .requests
                .iter()
                .filter(|(key, _)| key.ends_with(name))
                .map(|(_, a)| a.success_count)
                .sum::<usize>()
        };
        let predictions =
            succeeded("POST /predict") + succeeded("POST /predict/batch") * batch_size();
        let server = reqwest::get(format!("{}/metrics", host.trim_end_matches('/')))
            .await
            .ok();
        let server: Option<serde_json::Value> = match server {
            Some(response) => response.json().await.ok(),
            None => None,
        };
        Summary {
            users: metrics.maximum_users,
            seconds: metrics.duration,
            wait_ms: (min_wait.as_millis(), max_wait.as_millis()),
            batch_size: batch_size(),
            images,
            overall: latency(&all, failures, seconds),
            predictions_per_second: predictions as f64 / seconds,
            endpoints,
            server_rss_mb: server
                .as_ref()
                .and_then(|m| m["memory_rss_bytes"].as_f64())
                .map(|b| (b / 1024.0 / 1024.0 * 10.0).round() / 10.0),
            server_predictions_total: server
                .as_ref()
                .and_then(|m| m["predictions_total"].as_i64()),
        }
    }

    pub fn print(&self) {
        println!(
            "\n| users | requests/s | predictions/s | p50 ms | p95 ms | p99 ms | failures | server RSS MB |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        println!(
            "| {} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
            self.users,
            self.overall.per_second,
            self.predictions_per_second,
            self.overall.p50_ms,
            self.overall.p95_ms,
            self.overall.p99_ms,
            self.overall.failures,
            self.server_rss_mb.map_or("-".into(), |m| format!("{m:.0}")),
        );
        for (name, l) in &self.endpoints {
            println!(
                "  {name}: {} requests, {:.1}/s, p50 {} ms, p95 {} ms, p99 {} ms, {} failed",
                l.requests, l.per_second, l.p50_ms, l.p95_ms, l.p99_ms, l.failures
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    #[test]
    fn percentiles_walk_the_histogram() {
        let times: BTreeMap<usize, usize> = [(10, 50), (20, 45), (90, 4), (300, 1)].into();
        assert_eq!(super::percentile(&times, 0.5), 10);
        assert_eq!(super::percentile(&times, 0.95), 20);
        assert_eq!(super::percentile(&times, 0.99), 90);
        assert_eq!(super::percentile(&times, 1.0), 300);
        assert_eq!(super::percentile(&BTreeMap::new(), 0.5), 0);
    }
}
