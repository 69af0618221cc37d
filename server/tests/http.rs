//! The server's HTTP surface through real sockets, on a temporary database.

mod common;

use common::TestServer;
use serde_json::Value;

/// No model: the service must still start and say so.
const NO_MODEL: &[&str] = &["--model-dir", "/nonexistent/brainscan-models"];

fn assert_rfc3339(value: &Value) {
    let text = value.as_str().expect("timestamp is a string");
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"));
}

#[tokio::test]
async fn health_reports_the_original_fields() {
    let server = TestServer::start_with(NO_MODEL).await;
    let (status, body) = server.get_json("/health").await;
    assert_eq!(status, 200);
    let mut fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["model_loaded", "status", "timestamp"]);
    assert_eq!(body["model_loaded"], false);
    assert_eq!(body["status"], "model_not_loaded");
    assert_rfc3339(&body["timestamp"]);
}

#[tokio::test]
async fn uptime_counts_requests_and_grows() {
    let server = TestServer::start().await;
    let (_, first) = server.get_json("/uptime").await;
    for field in [
        "uptime_seconds",
        "uptime_formatted",
        "total_requests",
        "model_loaded",
        "timestamp",
    ] {
        assert!(first.get(field).is_some(), "missing {field} in {first}");
    }
    assert_rfc3339(&first["timestamp"]);
    server.get_json("/health").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (_, second) = server.get_json("/uptime").await;

    let first_count = first["total_requests"].as_u64().unwrap();
    assert_eq!(
        second["total_requests"].as_u64().unwrap(),
        first_count + 2,
        "every request counts"
    );
    assert!(second["uptime_seconds"].as_f64().unwrap() > first["uptime_seconds"].as_f64().unwrap());
    assert!(second["uptime_formatted"].as_str().unwrap().ends_with('s'));
}

#[tokio::test]
async fn api_index_lists_the_endpoints() {
    let server = TestServer::start().await;
    let (status, body) = server.get_json("/api").await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    let paths: Vec<&str> = body["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for path in [
        "/health",
        "/uptime",
        "/api",
        "/predict",
        "/predict/batch",
        "/predict/explain",
        "/retrain",
        "/retrain/trigger",
        "/retrain/status",
        "/retrain/sessions",
        "/database/stats",
        "/models",
        "/models/{version}/activate",
        "/docs",
        "/openapi.json",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
}

#[tokio::test]
async fn every_documented_path_is_served() {
    let server = TestServer::start().await;
    let (status, document) = server.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let (_, models) = server.get_json("/models").await;
    let version = models["active_version"].as_str().unwrap().to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{}", paths.len());
    for (path, operations) in paths {
        let url = server.url(&path.replace("{version}", &version));
        for method in operations.as_object().unwrap().keys() {
            // An empty body is enough to reach the handler: a missing route answers the app's 404
            // page, a real one answers or refuses the request with its own status.
            let response = match method.as_str() {
                "get" => client.get(&url).send().await.unwrap(),
                "post" => client.post(&url).send().await.unwrap(),
                other => panic!("unexpected method {other} on {path}"),
            };
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            let not_found_page = status == 404 && body.contains("<html");
            assert!(
                !not_found_page,
                "{method} {path} is documented but not served"
            );
            assert!(status < 500, "{method} {path} answered {status}: {body}");
        }
    }
}

#[tokio::test]
async fn docs_are_served_from_this_server() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/docs")).await.unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("/openapi.json"));
    // Every script and stylesheet is a path on this server, never another host.
    for attribute in ["src=\"", "href=\""] {
        for reference in html.split(attribute).skip(1) {
            let target = reference.split('"').next().unwrap();
            assert!(
                target.starts_with('/'),
                "/docs loads {target} from elsewhere"
            );
        }
    }
    let redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url("/redoc"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/docs");
}

#[tokio::test]
async fn server_status_function_answers_over_http() {
    let server = TestServer::start_with(NO_MODEL).await;
    let response = reqwest::Client::new()
        .post(server.url("/api/server_status"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database_ok"], true);
    assert_eq!(body["predictions_recorded"], 0);
    assert_eq!(body["health"]["status"], "model_not_loaded");
}

#[tokio::test]
async fn pages_are_rendered_on_the_server() {
    let server = TestServer::start().await;
    // A streamed page that never finishes must fail the test, not hang the suite.
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    for (path, heading) in [
        ("/", "Home"),
        ("/predict", "Predict"),
        ("/upload", "Upload"),
        ("/retrain", "Retrain"),
        ("/monitor", "Monitor"),
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!("<h1>{heading}</h1>")),
            "{path} lacks its heading"
        );
        assert!(
            html.contains("href=\"/upload\""),
            "{path} lacks the sidebar"
        );
    }
    let missing = client
        .get(server.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // The not-found page is rendered with the server's state too: a signed-in caller stays signed
    // in there (the sidebar still shows the account, not "Log in").
    for path in ["/users", "/no-such-page"] {
        let html = client
            .get(server.url(path))
            .bearer_auth(&server.admin_token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("&quot;role&quot;:&quot;admin&quot;")
                || html.contains("\"role\":\"admin\""),
            "{path} renders without the caller's session"
        );
    }
}

#[tokio::test]
async fn health_is_healthy_once_the_shipped_model_is_loaded() {
    let server = TestServer::start().await;
    let (status, body) = server.get_json("/health").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["model_loaded"], true);
}

#[tokio::test]
async fn the_healthcheck_command_tells_a_healthy_server_from_none() {
    let server = TestServer::start().await;
    let port = server.addr.port().to_string();
    // Blocking, on its own thread: the server under test runs on this test's runtime.
    let check = |port: String| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_brainscan"))
                .args(["healthcheck", "--port", &port, "--timeout", "5"])
                .output()
                .unwrap()
        })
    };
    let healthy = check(port).await.unwrap();
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    // A port nothing listens on: bind one, note it, let it go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = check(closed.to_string()).await.unwrap();
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("nothing answers"));

    let no_model = TestServer::start_with(NO_MODEL).await;
    let unhealthy = check(no_model.addr.port().to_string()).await.unwrap();
    assert!(!unhealthy.status.success());
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("model_not_loaded"));
}

#[tokio::test]
async fn a_clean_start_and_a_page_view_log_no_error() {
    let server = TestServer::start().await;
    let replica = common::spawn_replica(&server, "clean-start", &[]).await;
    let page = reqwest::get(format!("{}/predict", replica.url))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let log = std::fs::read_to_string(&replica.process.log).unwrap();
    let errors: Vec<&str> = log.lines().filter(|line| line.contains("ERROR")).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[tokio::test]
async fn the_monitor_tells_time_per_image_from_time_per_request_and_ignores_its_own_polling() {
    let server = TestServer::start().await;
    let form = (0..8).fold(reqwest::multipart::Form::new(), |form, v| {
        form.part(
            "files",
            common::file_part(common::slice_jpeg(v), &format!("m{v}.jpg")),
        )
    });
    let (status, body) = server.post_form_as(None, "/predict/batch", form).await;
    assert_eq!(status, 200, "{body}");
    let (_, first) = server.get_json("/metrics").await;
    let per_image = first["prediction_latency"]["p50_ms"].as_f64().unwrap();
    let per_request = first["request_latency"]["p50_ms"].as_f64().unwrap();
    let ratio = per_request / per_image;
    assert!((7.9..8.1).contains(&ratio), "{first}");
    // The Monitor page polls /metrics: its polls are not the traffic it reports.
    for _ in 0..5 {
        server.get_json("/metrics").await;
    }
    let (_, last) = server.get_json("/metrics").await;
    assert_eq!(
        last["requests_last_minute"], first["requests_last_minute"],
        "{first} then {last}"
    );
}
