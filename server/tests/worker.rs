//! Two processes, one database: a web server started with `--no-worker` queues the job, and a
//! separate `brainscan worker` process runs it; the web server shows its live progress (read from
//! the database) and then serves whatever the job activated.

mod common;

use std::time::Duration;

use common::TestServer;

#[tokio::test]
async fn a_web_server_without_a_worker_queues_and_a_worker_process_runs_the_job() {
    let server = TestServer::start_with(&["--no-worker"]).await;
    let session_id = common::queue_retraining(&server, 700..703, 2).await;

    // Nobody here runs it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, status) = server.get_json("/retrain/status").await;
    assert_eq!(status["status"], "queued", "{status}");

    let _worker = common::spawn_worker(&server, "worker");
    let mut saw_running = false;
    let finished = common::poll_retrain_status(&server, Duration::from_secs(300), |status| {
        assert_eq!(status["session"]["id"], session_id);
        if status["status"] == "running" {
            saw_running = true;
            assert!(status["progress"]["phase"].is_string(), "{status}");
        }
        ["completed", "rejected", "failed"].contains(&status["status"].as_str().unwrap())
    })
    .await;
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

/// With no worker left anywhere to notice, a job whose worker died must still not block retraining:
/// the next trigger fails it (with the heartbeat reason) and is queued.
#[tokio::test]
async fn a_trigger_fails_a_silent_job_even_where_no_worker_runs() {
    let server = TestServer::start_with(&["--no-worker"]).await;
    let silent = common::insert_silent_job(&server).await;
    let queued = common::queue_retraining(&server, 710..711, 1).await;
    assert!(queued > silent);
    let (_, sessions) = server.get_json("/retrain/sessions?limit=2").await;
    let silent_row = &sessions["sessions"][1];
    assert_eq!(silent_row["id"], silent);
    assert_eq!(silent_row["status"], "failed");
    assert!(
        silent_row["error"].as_str().unwrap().contains("heartbeats"),
        "{silent_row}"
    );
}

/// A worker asked for a backend this build lacks refuses to start, saying which feature it needs,
/// instead of failing every job it claims later.
#[test]
fn a_worker_refuses_a_backend_this_build_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_brainscan"))
        .args(["worker", "--backend", "wgpu", "--data-root"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--backend wgpu"), "{stderr}");
    assert!(stderr.contains("feature"), "{stderr}");
}
