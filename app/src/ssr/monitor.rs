//! Assembling `/metrics` from the in-memory counters and the database.

use crate::error::AppError;
use crate::ssr::AppState;
use crate::types::monitor::{LatencyReport, MetricsReport, MinuteCount, HISTORY_MINUTES};
use crate::types::status::format_uptime;

pub async fn metrics(state: &AppState) -> Result<MetricsReport, AppError> {
    let now = chrono::Utc::now();
    let since = (now - chrono::Duration::minutes(HISTORY_MINUTES))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut predictions_by_class = crate::zero_per_class::<i64>();
    predictions_by_class.extend(db::predictions::count_by_class(&state.db).await?);
    let per_minute = db::predictions::per_minute_since(&state.db, &since).await?;
    let active = db::model_versions::active(&state.db).await?;
    let uptime = state.uptime_seconds();
    Ok(MetricsReport {
        uptime_seconds: (uptime * 1000.0).round() / 1000.0,
        uptime_formatted: format_uptime(uptime as u64),
        total_requests: state.requests.get(),
        requests_last_minute: state.requests.last_minute(),
        prediction_latency: latency_report(&state.latencies),
        request_latency: latency_report(&state.request_latencies),
        predictions_total: predictions_by_class.values().sum(),
        predictions_by_class,
        predictions_per_minute: per_minute
            .into_iter()
            .map(|(minute, class_name, count)| MinuteCount {
                minutes_ago: minutes_before(&minute, now),
                minute,
                class_name,
                count,
            })
            .collect(),
        active_model_version: state.models.current().map(|m| m.version.clone()),
        active_model_activated_at: active.and_then(|row| row.activated_at),
        memory_rss_bytes: resident_memory_bytes(),
        login_lockouts_total: state.security.login_lockouts(),
        traffic_totals: state.traffic.totals(),
        timestamp: db::now_rfc3339(),
    })
}

fn latency_report(window: &crate::ssr::LatencyWindow) -> Option<LatencyReport> {
    window
        .percentiles()
        .map(|(p50, p95, samples)| LatencyReport {
            p50_ms: p50,
            p95_ms: p95,
            samples,
        })
}

/// The same report in Prometheus' text exposition format (version 0.0.4), for scrapers.
pub fn prometheus_text(report: &MetricsReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP brainscan_{name} {help}");
        let _ = writeln!(out, "# TYPE brainscan_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "brainscan_{name}{labels} {value}");
        }
    };
    metric(
        "uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        &[(String::new(), report.uptime_seconds)],
    );
    metric(
        "http_requests_total",
        "counter",
        "HTTP requests served since start-up.",
        &[(String::new(), report.total_requests as f64)],
    );
    metric(
        "login_lockouts_total",
        "counter",
        "Logins refused because the account was locked after repeated failed attempts.",
        &[(String::new(), report.login_lockouts_total as f64)],
    );
    metric(
        "http_requests_last_minute",
        "gauge",
        "HTTP requests in the last 60 seconds.",
        &[(String::new(), report.requests_last_minute as f64)],
    );
    if let Some(latency) = &report.prediction_latency {
        metric(
            "prediction_latency_milliseconds",
            "gauge",
            "Time per image classified, percentiles over the recent window.",
            &[
                ("{quantile=\"0.5\"}".into(), latency.p50_ms),
                ("{quantile=\"0.95\"}".into(), latency.p95_ms),
            ],
        );
    }
    if let Some(latency) = &report.request_latency {
        metric(
            "prediction_request_latency_milliseconds",
            "gauge",
            "Time per prediction request (a batch is one request), percentiles over the recent window.",
            &[
                ("{quantile=\"0.5\"}".into(), latency.p50_ms),
                ("{quantile=\"0.95\"}".into(), latency.p95_ms),
            ],
        );
    }
    let by_class: Vec<(String, f64)> = report
        .predictions_by_class
        .iter()
        .map(|(class, n)| (format!("{{class=\"{class}\"}}"), *n as f64))
        .collect();
    metric(
        "predictions_total",
        "counter",
        "Predictions recorded in the database, by predicted class.",
        &by_class,
    );
    let totals = &report.traffic_totals;
    metric(
        "http_responses_total",
        "counter",
        "Requests answered, by status class (the Monitor's polls, scrapes and health checks left out).",
        &[
            (
                "{class=\"2xx_3xx\"}".into(),
                (totals.requests - totals.client_errors - totals.server_errors) as f64,
            ),
            ("{class=\"4xx\"}".into(), totals.client_errors as f64),
            ("{class=\"5xx\"}".into(), totals.server_errors as f64),
        ],
    );
    metric(
        "images_refused_total",
        "counter",
        "Images refused as not a brain MRI slice.",
        &[(String::new(), totals.refused as f64)],
    );
    metric(
        "answers_flagged_total",
        "counter",
        "Answers flagged for review (confidence below the model's review threshold).",
        &[(String::new(), totals.flagged as f64)],
    );
    // A Prometheus histogram: cumulative counts per upper bound, then +Inf, the sum unknown.
    let mut cumulative = 0;
    let mut buckets: Vec<(String, f64)> = Vec::new();
    for (index, count) in totals.latency_counts.iter().enumerate() {
        cumulative += count;
        let bound = totals
            .latency_bounds_ms
            .get(index)
            .map_or("+Inf".to_owned(), |ms| (ms / 1000.0).to_string());
        buckets.push((format!("{{le=\"{bound}\"}}"), cumulative as f64));
    }
    if !buckets.is_empty() {
        let _ = writeln!(
            out,
            "# HELP brainscan_image_latency_seconds Time per image classified.\n\
             # TYPE brainscan_image_latency_seconds histogram"
        );
        for (labels, value) in &buckets {
            let _ = writeln!(
                out,
                "brainscan_image_latency_seconds_bucket{labels} {value}"
            );
        }
        let _ = writeln!(
            out,
            "brainscan_image_latency_seconds_sum {}",
            totals.latency_sum_ms / 1000.0
        );
        let _ = writeln!(out, "brainscan_image_latency_seconds_count {cumulative}");
    }
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP brainscan_{name} {help}");
        let _ = writeln!(out, "# TYPE brainscan_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "brainscan_{name}{labels} {value}");
        }
    };
    if let Some(version) = &report.active_model_version {
        metric(
            "model_info",
            "gauge",
            "The serving model version (always 1).",
            &[(format!("{{version=\"{version}\"}}"), 1.0)],
        );
    }
    if let Some(rss) = report.memory_rss_bytes {
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident set size of the server process.",
            &[(String::new(), rss as f64)],
        );
    }
    out
}

/// Whole minutes from a `YYYY-MM-DDTHH:MM` UTC minute to `now`; 0 for an unparsable minute.
fn minutes_before(minute: &str, now: chrono::DateTime<chrono::Utc>) -> i64 {
    chrono::NaiveDateTime::parse_from_str(minute, "%Y-%m-%dT%H:%M")
        .map(|start| (now.naive_utc() - start).num_minutes().max(0))
        .unwrap_or(0)
}

/// VmRSS from `/proc/self/status`; `None` where that file does not exist.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn prometheus_text_has_one_typed_metric_per_figure() {
        let report = crate::types::monitor::MetricsReport {
            uptime_seconds: 12.5,
            uptime_formatted: "12s".into(),
            total_requests: 7,
            requests_last_minute: 3,
            prediction_latency: Some(crate::types::monitor::LatencyReport {
                p50_ms: 9.5,
                p95_ms: 14.0,
                samples: 4,
            }),
            request_latency: None,
            predictions_total: 4,
            predictions_by_class: [("glioma".to_string(), 3), ("notumor".to_string(), 1)].into(),
            predictions_per_minute: vec![],
            active_model_version: Some("v1".into()),
            active_model_activated_at: None,
            login_lockouts_total: 0,
            traffic_totals: crate::types::monitor::TrafficTotals {
                requests: 10,
                client_errors: 2,
                server_errors: 1,
                predictions: 4,
                refused: 1,
                flagged: 1,
                latency_bounds_ms: vec![5.0, 10.0],
                latency_counts: vec![1, 3, 0],
                latency_sum_ms: 30.0,
            },
            memory_rss_bytes: Some(1024),
            timestamp: String::new(),
        };
        let text = super::prometheus_text(&report);
        assert!(text.contains(
            "# TYPE brainscan_http_requests_total counter\nbrainscan_http_requests_total 7\n"
        ));
        assert!(text.contains("brainscan_prediction_latency_milliseconds{quantile=\"0.95\"} 14\n"));
        assert!(text.contains("brainscan_predictions_total{class=\"glioma\"} 3\n"));
        assert!(text.contains("brainscan_model_info{version=\"v1\"} 1\n"));
        assert!(text.contains("brainscan_process_resident_memory_bytes 1024\n"));
        assert!(text.contains("brainscan_http_responses_total{class=\"4xx\"} 2\n"));
        assert!(text.contains("brainscan_http_responses_total{class=\"2xx_3xx\"} 7\n"));
        assert!(text.contains("brainscan_images_refused_total 1\n"));
        // Cumulative buckets in seconds, ending at +Inf with the count.
        assert!(
            text.contains(
                "brainscan_image_latency_seconds_bucket{le=\"0.005\"} 1\n\
             brainscan_image_latency_seconds_bucket{le=\"0.01\"} 4\n\
             brainscan_image_latency_seconds_bucket{le=\"+Inf\"} 4\n\
             brainscan_image_latency_seconds_sum 0.03\n\
             brainscan_image_latency_seconds_count 4\n"
            ),
            "{text}"
        );
        // Every sample line belongs to a metric announced by a TYPE line.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = name
                .strip_suffix("_bucket")
                .or_else(|| name.strip_suffix("_count"))
                .or_else(|| name.strip_suffix("_sum"))
                .unwrap_or(name);
            assert!(text.contains(&format!("# TYPE {family} ")), "{line}");
        }
    }

    #[test]
    fn minutes_are_counted_back_from_now() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:15:42Z")
            .unwrap()
            .to_utc();
        assert_eq!(super::minutes_before("2026-11-27T10:15", now), 0);
        assert_eq!(super::minutes_before("2026-11-27T09:58", now), 17);
        assert_eq!(super::minutes_before("garbage", now), 0);
    }

    #[test]
    fn the_process_knows_its_own_memory_on_linux() {
        if std::path::Path::new("/proc/self/status").exists() {
            let rss = super::resident_memory_bytes().unwrap();
            assert!(rss > 1024 * 1024, "{rss}");
        }
    }
}
