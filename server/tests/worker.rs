//! Two processes, one database: a web server started with `--no-worker` queues the job, and a
//! separate `brainscan worker` process runs it; the web server shows its live progress (read from
//! the database) and then serves whatever the job activated.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{file_part, slice_jpeg, TestServer};
use reqwest::multipart::Form;

/// The worker process, killed when the test ends however it ends.
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_worker(server: &TestServer) -> WorkerProcess {
    let dir = server.dir.path();
    let log = std::fs::File::create(dir.join("worker.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_brainscan"))
        .arg("worker")
        .args(["--database-url", &server.database_url])
        .args([
            "--model-dir",
            &common::shipped_model_dir().to_string_lossy(),
        ])
        .args(["--upload-dir", &dir.join("uploads").to_string_lossy()])
        .args(["--model-store", &dir.join("models").to_string_lossy()])
        .env("RUST_LOG", "info")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    WorkerProcess(child)
}

#[tokio::test]
async fn a_web_server_without_a_worker_queues_and_a_worker_process_runs_the_job() {
    let server = TestServer::start_with(&["--no-worker"]).await;
    let form = (0..3).fold(Form::new().text("class_name", "notumor"), |form, i| {
        form.part(
            "files",
            file_part(slice_jpeg(700 + i), &format!("n{i}.jpg")),
        )
    });
    let (status, body) = server.post_form("/retrain", form).await;
    assert_eq!(status, 200, "{body}");
    let (status, started) = server
        .post_json("/retrain/trigger", r#"{"epochs":2,"fine_tune_epochs":0}"#)
        .await;
    assert_eq!(status, 202, "{started}");
    let session_id = started["session_id"].as_i64().unwrap();

    // Nobody here runs it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, status) = server.get_json("/retrain/status").await;
    assert_eq!(status["status"], "queued", "{status}");

    let _worker = start_worker(&server);
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut saw_running = false;
    let finished = loop {
        let (_, status) = server.get_json("/retrain/status").await;
        assert_eq!(status["session"]["id"], session_id);
        if status["status"] == "running" {
            saw_running = true;
            assert!(status["progress"]["phase"].is_string(), "{status}");
        }
        if ["completed", "rejected", "failed"].contains(&status["status"].as_str().unwrap()) {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never finished: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        saw_running,
        "the web server showed the other process's progress"
    );
    assert_ne!(finished["status"], "failed", "{finished}");
    assert!(finished["progress"].is_null());
    let version = finished["session"]["model_version"].as_str().unwrap();
    let (_, models) = server.get_json("/models").await;
    assert!(
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|model| model["version"] == version),
        "the worker's version is registered in the shared database: {models}"
    );
}
