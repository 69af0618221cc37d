//! Past one machine: two web replicas (`serve --no-worker`) and a separate `brainscan worker`, all on
//! one PostgreSQL database and one S3 bucket, sharing no folder (each has its own data root and
//! cache, as on separate machines). An upload through one replica is
//! trained on after a trigger through the other; both show the job's live progress and then serve the
//! new version; a worker killed with SIGKILL mid-job leaves a job that is failed once its heartbeat
//! is too old, and the next job completes on a new worker.
//!
//! Needs the PostgreSQL and S3 servers `scripts/test.sh` starts (`TEST_POSTGRES_URL`, `TEST_S3_URL`
//! and the AWS variables: scripts/postgres.sh, scripts/s3.sh); a plain `cargo test` lists it as
//! ignored.

mod common;

use std::time::{Duration, Instant};

use common::{file_part, postgres_server, slice_jpeg, with_token, Replica, TestServer};
use reqwest::multipart::Form;
use serde_json::Value;

/// One of the web replicas, seen from outside: its base URL.
#[derive(Clone, Copy)]
struct Web<'a> {
    name: &'a str,
    url: &'a str,
}

impl Web<'_> {
    async fn get(&self, path: &str) -> Value {
        let response = reqwest::get(format!("{}{path}", self.url)).await.unwrap();
        common::json_of(response).await.1
    }

    async fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        let client = reqwest::Client::new();
        let builder = with_token(client.get(format!("{}{path}", self.url)), Some(token));
        common::json_of(builder.send().await.unwrap()).await
    }

    async fn post(&self, token: &str, path: &str, request: RequestBody) -> (u16, Value) {
        let client = reqwest::Client::new();
        let builder = with_token(client.post(format!("{}{path}", self.url)), Some(token));
        let builder = match request {
            RequestBody::Json(json) => builder
                .header("content-type", "application/json")
                .body(json),
            RequestBody::Form(form) => builder.multipart(form),
        };
        common::json_of(builder.send().await.unwrap()).await
    }

    /// Uploads generated slices `variants` as no tumour (the model agrees, so none is held).
    async fn upload(&self, token: &str, variants: std::ops::Range<u32>) {
        let form = variants.fold(
            Form::new().text("class_name", "notumor"),
            |form, variant| {
                form.part(
                    "files",
                    file_part(slice_jpeg(variant), &format!("slice-{variant}.jpg")),
                )
            },
        );
        let (status, uploaded) = self.post(token, "/retrain", RequestBody::Form(form)).await;
        assert_eq!(status, 200, "{}: {uploaded}", self.name);
    }

    async fn predict(&self, token: &str, variant: u32) -> Value {
        let form = Form::new().part("file", file_part(slice_jpeg(variant), "scan.jpg"));
        let (status, prediction) = self.post(token, "/predict", RequestBody::Form(form)).await;
        assert_eq!(status, 200, "{}: {prediction}", self.name);
        prediction
    }
}

enum RequestBody {
    Json(String),
    Form(Form),
}

fn trigger(epochs: u32) -> RequestBody {
    RequestBody::Json(format!(r#"{{"epochs":{epochs},"fine_tune_epochs":0}}"#))
}

/// Polls both replicas' `/retrain/status` until `done` holds on replica A's answer; answers the
/// statuses each replica showed along the way.
async fn watch_job(
    replicas: [Web<'_>; 2],
    timeout: Duration,
    mut done: impl FnMut(&Value) -> bool,
) -> [Vec<Value>; 2] {
    let deadline = Instant::now() + timeout;
    let mut seen: [Vec<Value>; 2] = [Vec::new(), Vec::new()];
    loop {
        for (index, replica) in replicas.iter().enumerate() {
            seen[index].push(replica.get("/retrain/status").await);
        }
        if done(seen[0].last().unwrap()) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "gave up; last statuses: {} / {}",
            seen[0].last().unwrap(),
            seen[1].last().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn finished(status: &Value) -> bool {
    ["completed", "rejected", "failed"].contains(&status["status"].as_str().unwrap_or_default())
}

fn showed_live_progress(statuses: &[Value]) -> bool {
    statuses
        .iter()
        .any(|status| status["status"] == "running" && status["progress"]["phase"].is_string())
}

/// Serves `version` on every replica within a few seconds (each polls the active version).
async fn assert_all_serve(replicas: [Web<'_>; 2], token: &str, version: &str) {
    for replica in replicas {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let prediction = replica.predict(token, 950).await;
            if prediction["model_version"] == version {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} still serves {} instead of {version}",
                replica.name,
                prediction["model_version"]
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and S3: scripts/test.sh starts both (TEST_POSTGRES_URL, TEST_S3_URL)"]
async fn two_replicas_and_a_worker_share_postgres_and_s3_and_survive_a_killed_worker() {
    let database = postgres_server::ScratchDatabase::create().await;
    let bucket = std::env::var("TEST_S3_URL")
        .expect("TEST_S3_URL: run scripts/test.sh, or source scripts/s3.sh and start_test_s3");
    // A fresh prefix per run: the bucket outlives the test.
    let storage_url = format!("{bucket}/{}", common::unique_name("scale-out"));
    // Replica A runs in this process, replica B and the worker are separate processes.
    let replica_a = TestServer::start_with(&[
        "--no-worker",
        "--database-url",
        &database.url,
        "--storage-url",
        &storage_url,
    ])
    .await;
    let replica_b: Replica = common::spawn_replica(&replica_a, "replica-b", &["--no-worker"]).await;
    let url_a = replica_a.url("");
    let a = Web {
        name: "replica A",
        url: &url_a,
    };
    let b = Web {
        name: "replica B",
        url: &replica_b.url,
    };
    let token = replica_a.admin_token.clone();
    let shipped = a.predict(&token, 950).await["model_version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(b.predict(&token, 950).await["model_version"], shipped);

    // Upload through A; the images are in the bucket, and B sees the same pending images, then
    // queues the job.
    a.upload(&token, 800..803).await;
    assert_eq!(b.get("/database/stats").await["pending_images"], 3);
    let bucket_view = tempfile::tempdir().unwrap();
    let stored = storage::Storage::open(&storage_url, bucket_view.path()).unwrap();
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT stored_path FROM uploaded_images ORDER BY id")
            .fetch_all(&replica_a.state.db)
            .await
            .unwrap();
    assert_eq!(keys.len(), 3);
    for key in &keys {
        let bytes = stored.uploads.read(key).await.unwrap();
        assert!(
            bytes.starts_with(&[0xFF, 0xD8]),
            "{key} is the uploaded JPEG"
        );
    }
    let (status, queued) = b.post(&token, "/retrain/trigger", trigger(2)).await;
    assert_eq!(status, 202, "{queued}");
    // A second trigger, through the other replica, is refused by the database.
    let (status, refused) = a.post(&token, "/retrain/trigger", trigger(1)).await;
    assert_eq!(status, 409, "{refused}");

    let mut worker = common::spawn_worker(&replica_a, "worker-1");
    let seen = watch_job([a, b], Duration::from_secs(300), finished).await;
    for (replica, statuses) in [a, b].iter().zip(&seen) {
        assert!(
            showed_live_progress(statuses),
            "{} showed the worker's progress: {:?}",
            replica.name,
            statuses.last()
        );
    }
    let done = seen[0].last().unwrap();
    assert_ne!(done["status"], "failed", "{done}");
    let version = done["session"]["model_version"]
        .as_str()
        .unwrap()
        .to_owned();
    if done["status"] == "rejected" {
        // The gate kept the serving model: an admin forces the candidate live through replica B.
        let (status, body) = b
            .post(
                &token,
                &format!("/models/{version}/activate"),
                RequestBody::Json(
                    r#"{"force":true,"reason":"scale-out test: serve it everywhere"}"#.to_owned(),
                ),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_all_serve([a, b], &token, &version).await;
    // The worker published the version to the bucket; replica B, which shares no folder with it,
    // fetched it from there into its own cache.
    let registered: String =
        sqlx::query_scalar("SELECT path FROM model_versions WHERE version = $1")
            .bind(&version)
            .fetch_one(&replica_a.state.db)
            .await
            .unwrap();
    assert_eq!(registered, format!("{storage_url}/models/{version}"));
    let cached_by_b = replica_a
        .dir
        .path()
        .join("replica-b/cache/models")
        .join(&version);
    assert!(
        cached_by_b.join("manifest.json").is_file() && cached_by_b.join("model.bpk").is_file(),
        "replica B's cache holds the version: {}",
        cached_by_b.display()
    );

    // Every read endpoint answers on PostgreSQL, and both replicas see the same records.
    for path in [
        "/retrain/sessions?limit=5",
        "/database/stats",
        "/visualizations/data",
        "/models",
        "/models/active/report",
        "/metrics",
        "/retrain/review",
        "/audit",
        "/auth/users",
        "/auth/tokens",
    ] {
        let (status_a, body_a) = a.get_as(&token, path).await;
        let (status_b, body_b) = b.get_as(&token, path).await;
        let short = |body: &Value| body.to_string().chars().take(300).collect::<String>();
        assert_eq!(
            (status_a, status_b),
            (200, 200),
            "{path}: {} / {}",
            short(&body_a),
            short(&body_b)
        );
        if path == "/retrain/sessions?limit=5" || path == "/models" {
            assert_eq!(body_a, body_b, "{path}");
        }
    }

    // The worker dies mid-job (SIGKILL: no chance to record anything).
    b.upload(&token, 805..808).await;
    let (status, queued) = a.post(&token, "/retrain/trigger", trigger(3)).await;
    assert_eq!(status, 202, "{queued}");
    let killed_job = queued["session_id"].as_i64().unwrap();
    watch_job([a, b], Duration::from_secs(120), |status| {
        status["status"] == "running" && status["progress"]["phase"].is_string()
    })
    .await;
    worker.kill();
    // A new worker fails the silent job once its heartbeat is older than the limit.
    let _worker = common::spawn_worker(&replica_a, "worker-2");
    let limit = app::ssr::retrain::SILENCE_LIMIT;
    let seen = watch_job([a, b], limit + Duration::from_secs(30), |status| {
        status["session"]["id"] == killed_job && status["status"] == "failed"
    })
    .await;
    let failed = seen[0].last().unwrap();
    assert!(
        failed["message"].as_str().unwrap().contains("heartbeats"),
        "{failed}"
    );
    assert_eq!(seen[1].last().unwrap()["status"], "failed");

    // And the next job runs to the end on the new worker (the killed job's uploads are pending
    // again: it never finished).
    let (status, queued) = b.post(&token, "/retrain/trigger", trigger(1)).await;
    assert_eq!(status, 202, "{queued}");
    let seen = watch_job([a, b], Duration::from_secs(300), finished).await;
    let done = seen[0].last().unwrap();
    assert_ne!(done["status"], "failed", "{done}");
    assert!(done["session"]["id"].as_i64().unwrap() > killed_job);
}
