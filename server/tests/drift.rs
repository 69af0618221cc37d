//! Drift over real HTTP: predictions record their signals, `GET /metrics/drift` compares the
//! serving model's recent ones with the baseline in its trust.json, and a drift shows in
//! `/health`'s details and the Prometheus scrape.

mod common;

use common::{file_part, shipped_model_dir, slice_jpeg, TestServer};
use reqwest::multipart::Form;
use serde_json::Value;

const WINDOW: usize = 24;

/// The largest gap between the two samples' empirical distribution functions, by brute force over
/// every value either holds (the server's computation walks two sorted lists instead).
fn ks_by_brute_force(a: &[f64], b: &[f64]) -> f64 {
    let below = |sample: &[f64], x: f64| sample.iter().filter(|&&v| v <= x).count() as f64;
    a.iter()
        .chain(b)
        .map(|&x| (below(a, x) / a.len() as f64 - below(b, x) / b.len() as f64).abs())
        .fold(0.0, f64::max)
}

fn baseline() -> Value {
    let text = std::fs::read_to_string(shipped_model_dir().join("trust.json")).unwrap();
    let trust: Value = serde_json::from_str(&text).unwrap();
    trust["drift_baseline"].clone()
}

fn signal<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["signal"] == name)
        .unwrap_or_else(|| panic!("no {name} signal in {report}"))
}

#[tokio::test]
async fn recent_predictions_are_compared_with_the_validation_baseline() {
    let server = TestServer::start_with(&["--drift-window", &WINDOW.to_string()]).await;

    let (status, empty) = server.get_json("/metrics/drift").await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["status"], "collecting", "{empty}");
    assert_eq!(empty["recent_predictions"], 0);
    assert_eq!(empty["min_predictions"], WINDOW);
    assert_eq!(
        empty["baseline_images"], 857,
        "the shipped model's validation split"
    );
    let (_, health) = server.get_json("/health").await;
    assert!(health["details"]["drift"].is_null(), "{health}");

    // The phantoms are 256 px squares; nearly every validation slice is 512 px or more.
    let mut form = Form::new();
    for variant in 0..WINDOW as u32 {
        form = form.part(
            "files",
            file_part(slice_jpeg(variant), &format!("{variant}.jpg")),
        );
    }
    let (status, batch) = server.post_form("/predict/batch", form).await;
    assert_eq!(status, 200, "{batch}");
    let answers = batch["results"].as_array().unwrap();
    assert_eq!(answers.len(), WINDOW);

    // A report is answered again for a second; the one above is stale after the wait.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, report) = server.get_json("/metrics/drift").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["recent_predictions"], WINDOW, "{report}");
    assert_eq!(report["status"], "drifting", "{report}");
    let size = signal(&report, "size");
    assert_eq!(size["drifting"], true, "{size}");
    assert!(size["psi"].as_f64().unwrap() > 1.0, "{size}");

    // The class mix's PSI, computed here from the answers and the stored baseline shares.
    let baseline = baseline();
    let classes = ["glioma", "meningioma", "notumor", "pituitary"];
    let answered: Vec<&str> = answers
        .iter()
        .map(|a| a["predicted_class"].as_str().unwrap())
        .collect();
    let expected_psi: f64 = classes
        .iter()
        .enumerate()
        .map(|(i, class)| {
            let recent = answered.iter().filter(|c| *c == class).count() as f64 / WINDOW as f64;
            let (e, a) = (
                baseline["class_mix"][i].as_f64().unwrap().max(1e-4),
                recent.max(1e-4),
            );
            (a - e) * (a / e).ln()
        })
        .sum();
    let class_mix = signal(&report, "class_mix");
    assert!(
        (class_mix["psi"].as_f64().unwrap() - expected_psi).abs() < 1e-9,
        "{class_mix} against {expected_psi}"
    );
    assert!(class_mix["ks"].is_null());

    // The top probability's KS statistic, from the answers' confidences and the baseline's values.
    let confidences: Vec<f64> = answers
        .iter()
        .map(|a| a["confidence"].as_f64().unwrap())
        .collect();
    let validation: Vec<f64> = baseline["top_probability"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let expected_ks = ks_by_brute_force(&validation, &confidences);
    let top = signal(&report, "top_probability");
    assert!(
        (top["ks"].as_f64().unwrap() - expected_ks).abs() < 1e-6,
        "{top} against {expected_ks}"
    );
    let shares: f64 = top["recent_shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "{top}");

    let (_, health) = server.get_json("/health").await;
    assert_eq!(
        health["status"], "healthy",
        "drift is not ill health: {health}"
    );
    let alert = &health["details"]["drift"];
    assert!(
        alert["signals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("size (PSI")),
        "{health}"
    );
    assert_eq!(alert["recent_predictions"], WINDOW);

    let scrape = reqwest::Client::new()
        .get(server.url("/metrics/prometheus"))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scrape.contains("brainscan_drift_psi{") && scrape.contains("signal=\"size\"} "),
        "{scrape}"
    );
    assert!(scrape.contains("brainscan_drift_alert{"), "{scrape}");
}

#[tokio::test]
async fn a_window_that_is_neither_a_count_nor_a_period_stops_the_server_with_a_reason() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_brainscan"))
        .args(["serve", "--drift-window", "5 weeks"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("neither a count of predictions"),
        "{stderr}"
    );
}
