//! A real server on a random port with its own temporary database, uploads and model store: a
//! SQLite file and local folders, or, with `TEST_SCALE_OUT=1` (scripts/test.sh's second run of the
//! HTTP suites), a fresh PostgreSQL database and a fresh prefix of the S3 bucket the script started.

#![allow(dead_code)]

#[path = "../../../db/tests/common/postgres.rs"]
pub mod postgres_server;

use std::net::SocketAddr;
use std::path::PathBuf;

use brainscan::cli::{Cli, Command};
use clap::Parser;
use serde_json::Value;

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub database_url: String,
    /// `--storage-url`, when the test keeps uploads and versions in a bucket.
    pub storage_url: Option<String>,
    /// An admin API token, which `post_json` and `post_form` send.
    pub admin_token: String,
    pub state: app::ssr::AppState,
}

/// The committed features of the training images, for `/visualizations/data`.
const FEATURES_CSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/processed/image_features_train.csv"
);

/// The model shipped in the repository.
pub fn shipped_model_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../models"))
}

/// Whether the HTTP suites run against PostgreSQL and S3 (`TEST_SCALE_OUT=1`, set by
/// scripts/test.sh with both servers running) instead of SQLite and local folders.
pub fn scale_out_mode() -> bool {
    std::env::var("TEST_SCALE_OUT").is_ok_and(|value| value == "1")
}

/// A fresh PostgreSQL database and bucket prefix for the server in `dir`, remembered there so that
/// a restart over the same directory finds the same records and objects.
async fn scale_out_services(dir: &std::path::Path) -> (String, String) {
    let remembered = dir.join("scale-out-services");
    if let Ok(text) = std::fs::read_to_string(&remembered) {
        if let Some((database_url, storage_url)) = text.split_once('\n') {
            return (database_url.to_owned(), storage_url.to_owned());
        }
    }
    let database = postgres_server::ScratchDatabase::create().await;
    let bucket = std::env::var("TEST_S3_URL")
        .expect("TEST_SCALE_OUT=1 needs TEST_S3_URL: source scripts/s3.sh and start_test_s3");
    let storage_url = format!("{bucket}/{}", unique_name("http"));
    std::fs::write(&remembered, format!("{}\n{storage_url}", database.url)).unwrap();
    (database.url, storage_url)
}

/// Unique in this run and across runs sharing a bucket.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let next = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{}-{millis}-{next}", std::process::id())
}

/// The real dataset's root (with `train/<class>/`), for the tests marked `#[ignore]` that need it;
/// `scripts/test-dataset.sh` runs them. Asking for it without `DATA_DIR` is a failure, not a skip.
pub fn dataset_dir() -> PathBuf {
    let dir = std::env::var_os("DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!("this test needs the dataset: set DATA_DIR to its root (with train/<class>/)")
        });
    assert!(
        dir.join("train").is_dir(),
        "DATA_DIR={} has no train/ folder",
        dir.display()
    );
    dir
}

impl TestServer {
    /// With the shipped model.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// `extra` flags are appended to the serve command line (later flags win).
    pub async fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir, extra).await
    }

    /// Starts on an existing directory, e.g. to restart over the same database.
    pub async fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Self {
        let flag_value = |name: &str| {
            extra
                .iter()
                .position(|flag| *flag == name)
                .and_then(|at| extra.get(at + 1))
                .map(|value| value.to_string())
        };
        let explicit_storage_url = flag_value("--storage-url");
        let (database_url, storage_url) = match flag_value("--database-url") {
            Some(database_url) => (database_url, explicit_storage_url),
            None if scale_out_mode() => {
                let (database_url, storage_url) = scale_out_services(dir.path()).await;
                (database_url, explicit_storage_url.or(Some(storage_url)))
            }
            None => (
                format!("sqlite://{}/app.db", dir.path().display()),
                explicit_storage_url,
            ),
        };
        let model_dir = shipped_model_dir();
        let uploads = dir.path().join("uploads");
        let store = dir.path().join("models");
        let mut defaults = vec![
            ("--port", "0".to_owned()),
            ("--database-url", database_url.clone()),
            ("--model-dir", model_dir.to_string_lossy().into_owned()),
            ("--upload-dir", uploads.to_string_lossy().into_owned()),
            ("--model-store", store.to_string_lossy().into_owned()),
            ("--features-csv", FEATURES_CSV.to_owned()),
            (
                "--cache-dir",
                dir.path().join("cache").to_string_lossy().into_owned(),
            ),
            // Every test's requests come from 127.0.0.1, many of them refused or polling on
            // purpose; the tests of these budgets set their own.
            ("--refused-per-minute", "100000".to_owned()),
            ("--reads-per-minute", "100000".to_owned()),
        ];
        if let Some(storage_url) = &storage_url {
            defaults.push(("--storage-url", storage_url.clone()));
        }
        // Flags given in `extra` replace the defaults (clap refuses a repeated flag).
        let mut args = vec!["brainscan".to_owned()];
        for (flag, value) in defaults {
            if !extra.contains(&flag) {
                args.extend([flag.to_owned(), value]);
            }
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let Command::Serve(config) = Cli::try_parse_from(args).unwrap().command() else {
            panic!("no subcommand means serve");
        };
        let state = brainscan::build_state(&config).await.expect("state");
        let admin_token = app::ssr::auth::create_token(
            &state.db,
            "tests",
            app::types::auth::Role::Admin,
            "tests",
        )
        .await
        .expect("admin token")
        .token;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = brainscan::build_app(state.clone());
        let header_timeout = std::time::Duration::from_secs(config.header_timeout_secs);
        tokio::spawn(brainscan::serve_on(
            listener,
            app,
            header_timeout,
            std::future::pending(),
        ));
        Self {
            addr,
            dir,
            database_url,
            storage_url,
            admin_token,
            state,
        }
    }

    /// The options that make another `brainscan` process, `name`, share this server's database,
    /// model and stored objects (a second server, a worker). With a bucket, the process shares no
    /// folder with this one: its data root and cache are its own, as on another machine.
    pub fn shared_state_args(&self, name: &str) -> Vec<String> {
        let dir = self.dir.path();
        let path = |path: PathBuf| path.to_string_lossy().into_owned();
        let mut flags = vec![
            ("--database-url", self.database_url.clone()),
            ("--model-dir", path(shipped_model_dir())),
        ];
        match &self.storage_url {
            Some(storage_url) => flags.extend([
                ("--storage-url", storage_url.clone()),
                ("--data-root", path(dir.join(name))),
            ]),
            None => flags.extend([
                ("--upload-dir", path(dir.join("uploads"))),
                ("--model-store", path(dir.join("models"))),
            ]),
        }
        flags
            .into_iter()
            .flat_map(|(flag, value)| [flag.to_owned(), value])
            .collect()
    }

    /// A token with `role`, for tests of who may do what.
    pub async fn token(&self, role: app::types::auth::Role) -> String {
        app::ssr::auth::create_token(&self.state.db, role.as_str(), role, "tests")
            .await
            .expect("token")
            .token
    }

    /// The newest audit events (up to 200), read as the admin.
    pub async fn audit_events(&self) -> Vec<Value> {
        let response = reqwest::Client::new()
            .get(self.url("/audit?limit=200"))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("request");
        let (status, body) = json_of(response).await;
        assert_eq!(status, 200, "{body}");
        body.as_array().expect("a list of events").clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// GET `path`, asserting a JSON answer.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        json_of(reqwest::get(self.url(path)).await.expect("request")).await
    }

    /// POST a JSON body as the admin.
    pub async fn post_json(&self, path: &str, body: &str) -> (u16, Value) {
        self.post_json_as(Some(&self.admin_token), path, body).await
    }

    /// POST a JSON body with `token` (or none).
    pub async fn post_json_as(&self, token: Option<&str>, path: &str, body: &str) -> (u16, Value) {
        let response = with_token(reqwest::Client::new().post(self.url(path)), token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        json_of(response).await
    }

    /// POST a multipart form as the admin.
    pub async fn post_form(&self, path: &str, form: reqwest::multipart::Form) -> (u16, Value) {
        self.post_form_as(Some(&self.admin_token), path, form).await
    }

    /// POST a multipart form with `token` (or none).
    pub async fn post_form_as(
        &self,
        token: Option<&str>,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> (u16, Value) {
        let response = with_token(reqwest::Client::new().post(self.url(path)), token)
            .multipart(form)
            .send()
            .await
            .expect("request");
        json_of(response).await
    }
}

/// Confirms every upload held for review, as the admin; answers how many there were.
pub async fn confirm_held(server: &TestServer) -> usize {
    let response = reqwest::Client::new()
        .get(server.url("/retrain/review?limit=200"))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .expect("request");
    let (status, queue) = json_of(response).await;
    assert_eq!(status, 200, "{queue}");
    let held = queue["held"].as_array().expect("held list").clone();
    for item in &held {
        let body = serde_json::json!({"id": item["id"], "decision": "confirm"}).to_string();
        let (status, answer) = server.post_json("/retrain/review/decide", &body).await;
        assert_eq!(status, 200, "{answer}");
    }
    held.len()
}

pub fn with_token(
    request: reqwest::RequestBuilder,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Status and JSON body; fails the test if the body is not JSON.
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let text = response.text().await.expect("body");
    assert!(
        content_type.starts_with("application/json"),
        "expected JSON, got {content_type:?}: {text}"
    );
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body)
}

/// A 256x256 MRI-like JPEG (`ml::phantom`, the load test's slices); `variant` changes the anatomy,
/// so every variant has different bytes. The shipped model accepts every variant as an MRI slice.
pub fn slice_jpeg(variant: u32) -> Vec<u8> {
    ml::phantom::slice_jpeg(variant, 256).expect("a phantom encodes")
}

pub fn file_part(bytes: Vec<u8>, filename: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes)
        .file_name(filename.to_owned())
        .mime_str("image/jpeg")
        .unwrap()
}

/// Polls `GET /retrain/status` every 100 ms, showing each answer to `seen`, until `seen` answers
/// true; fails after `timeout`. Answers the last status.
pub async fn poll_retrain_status(
    server: &TestServer,
    timeout: std::time::Duration,
    mut seen: impl FnMut(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let (_, status) = server.get_json("/retrain/status").await;
        if seen(&status) {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting; the last status: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A `brainscan` child process (a server replica or a worker), killed when dropped, however the
/// test ends.
pub struct Process {
    pub child: std::process::Child,
    pub log: PathBuf,
}

impl Process {
    /// Kills it at once (SIGKILL), as a lost machine would stop.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `brainscan` with `args`, its output in `log` (at `rust_log`).
pub fn spawn_brainscan(args: &[String], log: &std::path::Path, rust_log: &str) -> Process {
    let out = std::fs::File::create(log).unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_brainscan"))
        .args(args)
        .env("RUST_LOG", rust_log)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Process {
        child,
        log: log.to_owned(),
    }
}

/// A `brainscan worker` process sharing `server`'s database and folders, logging into `<name>.log`.
pub fn spawn_worker(server: &TestServer, name: &str) -> Process {
    let mut args = vec!["worker".to_owned()];
    args.extend(server.shared_state_args(name));
    let log = server.dir.path().join(format!("{name}.log"));
    spawn_brainscan(&args, &log, "info")
}

/// Another `brainscan serve` process sharing `server`'s database and folders (a replica behind the
/// same load balancer), with `extra` flags; answers once it is healthy.
pub async fn spawn_replica(server: &TestServer, name: &str, extra: &[&str]) -> Replica {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args = vec!["serve".to_owned(), "--port".to_owned(), port.to_string()];
    args.extend(server.shared_state_args(name));
    args.extend(["--features-csv".to_owned(), FEATURES_CSV.to_owned()]);
    args.extend(extra.iter().map(|flag| flag.to_string()));
    let log = server.dir.path().join(format!("{name}.log"));
    let process = spawn_brainscan(&args, &log, "debug");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while reqwest::get(format!("{url}/health")).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "replica {name} never answered; its log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Replica { process, url }
}

pub struct Replica {
    pub process: Process,
    /// `http://127.0.0.1:<port>`
    pub url: String,
}

/// Uploads generated slices `variants` as no tumour (the shipped model agrees, so none is held) and
/// starts a retraining job of `epochs` epochs; answers its session id.
pub async fn queue_retraining(
    server: &TestServer,
    variants: std::ops::Range<u32>,
    epochs: u32,
) -> i64 {
    let form = variants.fold(
        reqwest::multipart::Form::new().text("class_name", "notumor"),
        |form, variant| {
            form.part(
                "files",
                file_part(slice_jpeg(variant), &format!("slice-{variant}.jpg")),
            )
        },
    );
    let (status, body) = server.post_form("/retrain", form).await;
    assert_eq!(status, 200, "{body}");
    let (status, started) = server
        .post_json(
            "/retrain/trigger",
            &format!(r#"{{"epochs":{epochs},"fine_tune_epochs":0}}"#),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    started["session_id"].as_i64().unwrap()
}

/// A running job claimed by a worker on another machine whose last heartbeat is just past the
/// silence limit; inserted in one statement, so no worker here can claim it first.
pub async fn insert_silent_job(server: &TestServer) -> i64 {
    let long_ago = chrono::Utc::now()
        - chrono::Duration::from_std(app::ssr::retrain::SILENCE_LIMIT).unwrap()
        - chrono::Duration::seconds(1);
    let long_ago = long_ago.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query_scalar(
        "INSERT INTO training_sessions
             (status, epochs, fine_tune_epochs, created_at, started_at, worker, heartbeat_at)
         VALUES ('running', 1, 0, $1, $2, 'a-worker-on-another-machine', $3) RETURNING id",
    )
    .bind(&long_ago)
    .bind(&long_ago)
    .bind(&long_ago)
    .fetch_one(&server.state.db)
    .await
    .unwrap()
}

/// Every file below `dir`, at any depth (none when it does not exist).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Logs in over HTTP from the server's own origin, as the login page does; answers the status, the
/// `Set-Cookie` value (if any) and the JSON body.
pub async fn login(
    server: &TestServer,
    username: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/auth/login"))
        .header("content-type", "application/json")
        .header("origin", format!("http://{}", server.addr))
        .body(serde_json::json!({"username": username, "password": password}).to_string())
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = json_of(response).await;
    (status, cookie, body)
}

/// Everything a server kept, for privacy searches: `log`, every file under its folder (a SQLite
/// database, local uploads, the cache), the objects of `areas` when they are in a bucket, and in
/// PostgreSQL the rows of `tables` as JSON. Each with where it was found.
pub async fn everything_kept(
    server: &TestServer,
    log: &std::path::Path,
    areas: &[&storage::Area],
    tables: &[&str],
) -> Vec<(String, Vec<u8>)> {
    let mut places: Vec<(String, Vec<u8>)> = [log.to_path_buf()]
        .into_iter()
        .chain(files_under(server.dir.path()))
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap_or_default();
            (path.display().to_string(), bytes)
        })
        .collect();
    for area in areas {
        if !area.is_local() {
            for key in area.keys().await.unwrap() {
                let bytes = area.read(&key).await.unwrap();
                places.push((format!("{}/{key}", area.url()), bytes));
            }
        }
    }
    if server.database_url.starts_with("postgres") {
        for table in tables {
            let rows: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT CAST(row_to_json(t) AS TEXT) FROM {table} t"
            ))
            .fetch_all(&server.state.db)
            .await
            .unwrap();
            places.push((format!("PostgreSQL {table}"), rows.join("\n").into_bytes()));
        }
    }
    places
}
