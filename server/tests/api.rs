//! The MLOps loop through real HTTP: predict, upload, retrain, model versions, and every bad input
//! the original service's clients could send.

mod common;

use std::time::{Duration, Instant};

use common::{file_part, slice_jpeg, TestServer};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

fn assert_error(status: u16, body: &Value, expected_status: u16, detail_contains: &str) {
    assert_eq!(status, expected_status, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(detail_contains),
        "detail {detail:?} should mention {detail_contains:?}"
    );
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn predict_answers_with_the_original_fields_and_records_the_prediction() {
    let server = TestServer::start().await;
    let form = Form::new().part("file", file_part(slice_jpeg(0), "scan.jpg"));
    let (status, body) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{body}");
    let classes = ["glioma", "meningioma", "notumor", "pituitary"];
    assert!(classes.contains(&body["predicted_class"].as_str().unwrap()));
    let probabilities = body["probabilities"].as_object().unwrap();
    let keys: Vec<&str> = probabilities.keys().map(String::as_str).collect();
    assert_eq!(keys, classes);
    let sum: f64 = probabilities.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-3, "probabilities sum to {sum}");
    let best = probabilities[body["predicted_class"].as_str().unwrap()]
        .as_f64()
        .unwrap();
    assert!((body["confidence"].as_f64().unwrap() - best).abs() < 1e-9);
    assert!(body["prediction_time_seconds"].as_f64().unwrap() > 0.0);
    chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).unwrap();

    let (_, models) = server.get_json("/models").await;
    assert_eq!(body["model_version"], models["active_version"]);
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["total_predictions"], 1);
}

#[tokio::test]
async fn batch_prediction_reports_each_file_including_the_bad_ones() {
    let server = TestServer::start().await;
    let form = Form::new()
        .part("files", file_part(slice_jpeg(1), "a.jpg"))
        .part("files", file_part(b"not an image".to_vec(), "notes.jpg"))
        .part("files", file_part(slice_jpeg(2), "b.jpg"));
    let (status, body) = server.post_form("/predict/batch", form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total_images"], 3);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["filename"], "a.jpg");
    assert!(results[0]["predicted_class"].is_string());
    assert_eq!(results[1]["filename"], "notes.jpg");
    assert!(results[1]["error"]
        .as_str()
        .unwrap()
        .contains("not a readable image"));
    assert!(results[2]["probabilities"].is_object());
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["total_predictions"], 2);
}

/// `?format=csv` answers the same batch as a CSV download, one row per file, the JSON fields in
/// columns; an unknown format is a 400 before anything is classified.
#[tokio::test]
async fn a_batch_is_exported_as_csv_on_request() {
    let server = TestServer::start().await;
    let form = || {
        Form::new()
            .part("files", file_part(slice_jpeg(1), "a,1.jpg"))
            .part("files", file_part(b"not an image".to_vec(), "=notes.jpg"))
    };
    let response = reqwest::Client::new()
        .post(server.url("/predict/batch?format=csv"))
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("predictions.csv"));
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("filename,frame,status,predicted_class,confidence"));
    let (_, json) = server.post_form("/predict/batch", form()).await;
    let first = &json["results"][0];
    let expected = format!(
        "\"a,1.jpg\",,predicted,{},{:.6},{},",
        first["predicted_class"].as_str().unwrap(),
        first["confidence"].as_f64().unwrap(),
        first["needs_review"]
    );
    assert!(
        lines[1].starts_with(&expected),
        "{} vs {expected}",
        lines[1]
    );
    assert!(lines[2].starts_with("'=notes.jpg,,failed,"), "{}", lines[2]);

    let (_, before) = server.get_json("/database/stats").await;
    let response = reqwest::Client::new()
        .post(server.url("/predict/batch?format=xlsx"))
        .multipart(form())
        .send()
        .await
        .unwrap();
    let (status, body) = common::json_of(response).await;
    assert_error(status, &body, 400, "format must be json or csv");
    let (_, after) = server.get_json("/database/stats").await;
    assert_eq!(before["total_predictions"], after["total_predictions"]);
}

#[tokio::test]
async fn bad_prediction_requests_get_clear_4xx_json_errors() {
    let server = TestServer::start_with(&["--max-upload-mb", "1"]).await;
    let jpeg = slice_jpeg(3);
    let cases: Vec<(Form, u16, &str)> = vec![
        (
            Form::new().part("file", file_part(b"hello".to_vec(), "x.jpg")),
            400,
            "not a readable image",
        ),
        (
            Form::new().part("file", file_part(Vec::new(), "empty.jpg")),
            400,
            "empty",
        ),
        (
            Form::new().part(
                "file",
                file_part(jpeg[..jpeg.len() / 2].to_vec(), "cut.jpg"),
            ),
            400,
            "not a readable image",
        ),
        (Form::new().text("note", "no file here"), 400, "no file"),
        (
            Form::new().part("file", file_part(vec![0xFF; 1_500_000], "huge.jpg")),
            413,
            "limit",
        ),
    ];
    for (form, expected, detail) in cases {
        let (status, body) = server.post_form("/predict", form).await;
        assert_error(status, &body, expected, detail);
    }
    let response = reqwest::Client::new()
        .post(server.url("/predict"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
    // Still serving, nothing recorded for the failures.
    let form = Form::new().part("file", file_part(jpeg, "ok.jpg"));
    assert_eq!(server.post_form("/predict", form).await.0, 200);
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["total_predictions"], 1);
}

/// Text fields and the files of one request are bounded while they stream in: 413 with a JSON
/// error, nothing stored, and the server keeps serving.
#[tokio::test]
async fn oversized_text_fields_and_requests_are_refused_with_json_413() {
    let server = TestServer::start_with(&["--max-upload-mb", "1", "--max-request-mb", "1"]).await;
    let long_class_name = "glioma".repeat(1000);
    let form = Form::new()
        .text("class_name", long_class_name)
        .part("files", file_part(slice_jpeg(1), "a.jpg"));
    let (status, body) = server.post_form("/retrain", form).await;
    assert_error(
        status,
        &body,
        413,
        "text field \"class_name\" is longer than 1024 bytes",
    );

    // Two files under the per-file limit whose sum is over the per-request one.
    let big = |name: &str| file_part(vec![0xFF; 700_000], name);
    let form = Form::new()
        .part("files", big("a.jpg"))
        .part("files", big("b.jpg"));
    let (status, body) = server.post_form("/predict/batch", form).await;
    assert_error(status, &body, 413, "may add up to 1 MB at most");
    let form = Form::new()
        .text("class_name", "glioma")
        .part("files", big("a.jpg"))
        .part("files", big("b.jpg"));
    let (status, body) = server.post_form("/retrain", form).await;
    assert_error(status, &body, 413, "may add up to 1 MB at most");

    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["total_uploaded_images"], 0);
    assert_eq!(stats["total_predictions"], 0);
    let form = Form::new().part("file", file_part(slice_jpeg(2), "ok.jpg"));
    assert_eq!(server.post_form("/predict", form).await.0, 200);
}

#[tokio::test]
async fn uploads_are_stored_once_and_bad_ones_refused() {
    let server = TestServer::start().await;
    let form = |class: &str, variants: &[u32]| {
        variants.iter().fold(
            Form::new().text("class_name", class.to_owned()),
            |form, v| form.part("files", file_part(slice_jpeg(*v), &format!("scan-{v}.jpg"))),
        )
    };
    // The shipped model reads the generated slices as no tumour; another label would be held for
    // review (`tests/review.rs`) instead of queued.
    let (status, body) = server
        .post_form("/retrain", form("notumor", &[10, 11]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["stored"].as_u64(), body["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(body["results"][0]["outcome"], "stored");
    assert!(body["results"][0]["id"].as_i64().is_some());

    let (status, body) = server
        .post_form("/retrain", form("notumor", &[10, 12]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["outcome"], "duplicate");
    // Said in the uploader's terms: the file it repeats, its label, when and by whom.
    let reason = body["results"][0]["reason"].as_str().unwrap();
    assert!(
        reason
            .starts_with("the same image is already stored as scan-10.jpg (No tumour, uploaded 20"),
        "{reason}"
    );
    assert!(reason.contains("by token:tests"), "{reason}");
    assert_eq!(body["results"][1]["outcome"], "stored");
    assert_eq!(body["pending_images"], 3);

    // Objects are named by their content, never by the client's name.
    let stored = server.state.service.storage.uploads.keys().await.unwrap();
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert!(
        stored.iter().all(|key| !key.contains("scan-")),
        "{stored:?}"
    );
    if server.storage_url.is_none() {
        // The default layout: files under the upload dir, fanned out by hash.
        let files: Vec<_> = common::files_under(&server.dir.path().join("uploads"));
        assert_eq!(files.len(), 3, "{files:?}");
    }

    let (status, body) = server.post_form("/retrain", form("banana", &[13])).await;
    assert_error(status, &body, 400, "unknown class_name");
    let no_class = Form::new().part("files", file_part(slice_jpeg(13), "a.jpg"));
    let (status, body) = server.post_form("/retrain", no_class).await;
    assert_error(status, &body, 400, "class_name is required");
    // One filename policy everywhere: a path is cut down to its last component, stored and echoed.
    let traversal = Form::new()
        .text("class_name", "pituitary")
        .part("files", file_part(slice_jpeg(14), "../../etc/passwd.jpg"));
    let (status, body) = server.post_form("/retrain", traversal).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["filename"], "passwd.jpg");
    let batch = Form::new().part("files", file_part(slice_jpeg(15), "../../etc/passwd.jpg"));
    let (status, body) = server.post_form("/predict/batch", batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["filename"], "passwd.jpg");
    let not_image = Form::new().text("class_name", "pituitary").part(
        "files",
        Part::bytes(b"GIF89 nope".to_vec()).file_name("x.gif"),
    );
    let (status, body) = server.post_form("/retrain", not_image).await;
    assert_error(status, &body, 400, "no file was stored");
    let (status, body) = server
        .post_form("/retrain", Form::new().text("class_name", "glioma"))
        .await;
    assert_error(status, &body, 400, "no files");

    // Each stored upload carries its features, computed once at upload time.
    let pool = db::connect(&server.database_url).await.unwrap();
    for row in db::uploads::pending(&pool, db::uploads::TrainingSources::Both)
        .await
        .unwrap()
    {
        let metadata: Value = serde_json::from_str(&row.metadata).unwrap();
        assert_eq!(metadata["format"], "jpg");
        assert!(
            metadata["features"]["glcm_contrast"].as_f64().unwrap() > 0.0,
            "{metadata}"
        );
    }

    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["total_uploaded_images"], 4);
    assert_eq!(stats["images_by_class"]["notumor"], 3);
    assert_eq!(stats["images_by_class"]["pituitary"], 1);
    assert_eq!(stats["held_for_review"], 1, "the slice labelled pituitary");
}

/// Before the click the server says whether a new version could serve by itself; an admin can
/// stop a running job, which then keeps nothing, ends with a structured outcome and is audited.
#[tokio::test]
async fn the_retrain_outlook_is_said_before_and_a_running_job_can_be_cancelled() {
    let server = TestServer::start().await;
    let (status, outlook) = server.get_json("/retrain/readiness").await;
    assert_eq!(status, 200, "{outlook}");
    assert_eq!(outlook["can_activate"], false, "{outlook}");
    assert_eq!(outlook["judged_on"], "held_out_uploads");
    assert_eq!(outlook["reference_needed"], 300);
    let explanation = outlook["explanation"].as_str().unwrap();
    assert!(explanation.contains("kept as a candidate"), "{explanation}");
    assert!(explanation.contains("0 of 300"), "{explanation}");

    let (_, models_before) = server.get_json("/models").await;
    let session_id = common::queue_retraining(&server, 0..12, 50).await;
    common::poll_retrain_status(&server, Duration::from_secs(120), |status| {
        status["progress"]["batch"].as_u64().unwrap_or(0) > 0
    })
    .await;
    // Only admins may stop a job.
    let annotator = server.token(app::types::auth::Role::Annotator).await;
    let body = format!(r#"{{"session_id":{session_id}}}"#);
    let (status, refused) = server
        .post_json_as(Some(&annotator), "/retrain/cancel", &body)
        .await;
    assert_eq!(status, 403, "{refused}");
    let (status, stopping) = server.post_json("/retrain/cancel", &body).await;
    assert_eq!(status, 200, "{stopping}");
    assert_eq!(stopping["status"], "running", "{stopping}");

    let ended = common::poll_retrain_status(&server, Duration::from_secs(60), |status| {
        status["status"] != "running"
    })
    .await;
    assert_eq!(ended["status"], "failed", "{ended}");
    let outcome = &ended["session"]["outcome"];
    assert_eq!(outcome["kind"], "cancelled", "{ended}");
    // Named as the audit trail names callers (here the test's admin token).
    assert!(
        outcome["headline"]
            .as_str()
            .unwrap()
            .starts_with("Cancelled by token:"),
        "{ended}"
    );
    // Nothing it trained is kept, and the uploads still wait.
    let (_, models_after) = server.get_json("/models").await;
    assert_eq!(models_after["models"], models_before["models"]);
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["pending_images"], 12, "{stats}");
    let (status, again) = server.post_json("/retrain/cancel", &body).await;
    assert_error(status, &again, 404, "not queued or running");
    let events = server.audit_events().await;
    let cancels: Vec<&Value> = events
        .iter()
        .filter(|event| event["action"] == "retrain.cancel")
        .collect();
    assert!(
        cancels
            .iter()
            .any(|e| e["outcome"] == "ok" && e["target"] == format!("session {session_id}")),
        "{cancels:?}"
    );
    // The annotator's attempt is in the trail too, as the guard records refusals.
    assert!(
        events
            .iter()
            .any(|e| e["outcome"] == "refused" && e.to_string().contains("/retrain/cancel")),
        "{events:?}"
    );
}

/// A GET as the test's admin (the Data page's reads need an annotator).
async fn admin_get(server: &TestServer, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    common::json_of(response).await
}

async fn count(server: &TestServer, query: &str) -> i64 {
    let (_, page) = admin_get(server, &format!("/uploads?{query}")).await;
    page["total"].as_i64().unwrap()
}

/// The Data page's endpoints: uploads listed with filters, relabelled and softly deleted while no
/// version was trained on them, refused (409) once one was, audited, for annotators only.
#[tokio::test]
async fn uploads_are_browsed_relabelled_and_deleted_until_a_version_depends_on_them() {
    let server = TestServer::start().await;
    let upload = |class: &str, variants: std::ops::Range<u32>| {
        variants.fold(
            Form::new().text("class_name", class.to_owned()),
            |form, variant| {
                form.part(
                    "files",
                    file_part(slice_jpeg(variant), &format!("{class}-{variant}.jpg")),
                )
            },
        )
    };
    // The model reads the generated slices as no tumour: these are stored, the glioma one held.
    let (status, body) = server
        .post_form("/retrain", upload("notumor", 500..503))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .post_form("/retrain", upload("glioma", 510..511))
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, all) = admin_get(&server, "/uploads").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"], 4);
    assert_eq!(count(&server, "status=pending").await, 3);
    assert_eq!(count(&server, "status=held").await, 1);
    assert_eq!(count(&server, "class_name=glioma").await, 1);
    assert_eq!(
        count(&server, "class_name=notumor&status=pending&limit=1").await,
        3
    );
    let (_, one) = admin_get(&server, "/uploads?limit=1").await;
    assert_eq!(one["uploads"].as_array().unwrap().len(), 1);
    let (status, bad) = admin_get(&server, "/uploads?status=lost").await;
    assert_error(status, &bad, 400, "status must be one of");
    let (status, bad) = admin_get(&server, "/uploads?limit=0").await;
    assert_error(status, &bad, 400, "limit");
    // By purpose and by upload day (UTC, both ends included).
    assert_eq!(count(&server, "purpose=training").await, 4);
    assert_eq!(count(&server, "purpose=reference").await, 0);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(
        count(&server, &format!("from={today}&until={today}")).await,
        4
    );
    assert_eq!(count(&server, "until=2000-01-01").await, 0);
    assert_eq!(count(&server, "from=2999-01-01").await, 0);
    let (status, bad) = admin_get(&server, "/uploads?from=yesterday").await;
    assert_error(status, &bad, 400, "YYYY-MM-DD");
    let (status, bad) = admin_get(&server, "/uploads?purpose=fun").await;
    assert_error(status, &bad, 400, "purpose");

    let id_of = |status_wanted: &str| -> Vec<i64> {
        all["uploads"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["status"] == status_wanted)
            .map(|u| u["id"].as_i64().unwrap())
            .collect()
    };
    let pending = id_of("pending");
    let held = id_of("held")[0];

    // Viewers may not look, let alone change.
    let viewer = server.token(app::types::auth::Role::Viewer).await;
    let response = reqwest::Client::new()
        .get(server.url("/uploads"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let (status, _) = server
        .post_json_as(
            Some(&viewer),
            "/uploads/delete",
            &format!(r#"{{"id":{}}}"#, pending[0]),
        )
        .await;
    assert_eq!(status, 403);

    let image = reqwest::Client::new()
        .get(server.url(&format!("/uploads/{}/image", pending[0])))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/jpeg");

    let (status, relabelled) = server
        .post_json(
            "/uploads/relabel",
            &format!(r#"{{"id":{},"class_name":"meningioma"}}"#, pending[0]),
        )
        .await;
    assert_eq!(status, 200, "{relabelled}");
    assert_eq!(relabelled["class_name"], "meningioma");
    assert_eq!(relabelled["status"], "pending");
    let (status, deleted) = server
        .post_json("/uploads/delete", &format!(r#"{{"id":{}}}"#, pending[1]))
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["status"], "discarded");
    assert_eq!(deleted["editable"], false);
    let (status, again) = server
        .post_json("/uploads/delete", &format!(r#"{{"id":{}}}"#, pending[1]))
        .await;
    assert_error(status, &again, 409, "already deleted");
    let (status, body) = server
        .post_json(
            "/uploads/relabel",
            &format!(r#"{{"id":{held},"class_name":"notumor"}}"#),
        )
        .await;
    assert_error(status, &body, 409, "held for review");
    let (status, body) = server.post_json("/uploads/delete", r#"{"id":99999}"#).await;
    assert_error(status, &body, 404, "no upload 99999");
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(
        stats["pending_images"], 2,
        "the deleted one is not trained on"
    );

    // Once a retraining used them, they stay as they are.
    let (status, started) = server
        .post_json("/retrain/trigger", r#"{"epochs":1,"fine_tune_epochs":0}"#)
        .await;
    assert_eq!(status, 202, "{started}");
    common::poll_retrain_status(&server, Duration::from_secs(300), |status| {
        ["completed", "rejected", "failed"].contains(&status["status"].as_str().unwrap_or(""))
    })
    .await;
    let (status, body) = server
        .post_json("/uploads/delete", &format!(r#"{{"id":{}}}"#, pending[0]))
        .await;
    assert_error(status, &body, 409, "trained on it");
    assert_eq!(count(&server, "status=used").await, 2);
    assert_eq!(count(&server, "status=discarded").await, 1);

    let actions: Vec<String> = server
        .audit_events()
        .await
        .iter()
        .map(|e| format!("{} {}", e["action"], e["outcome"]))
        .collect();
    assert!(
        actions.contains(&r#""upload.relabel" "ok""#.to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&r#""upload.delete" "ok""#.to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&r#""upload.delete" "failed""#.to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn trigger_refuses_bad_requests_before_starting_anything() {
    let server = TestServer::start().await;
    let (status, body) = server
        .post_json("/retrain/trigger", r#"{"epochs":3,"fine_tune_epochs":1}"#)
        .await;
    assert_error(status, &body, 400, "no new uploaded images");
    let (status, body) = server
        .post_json("/retrain/trigger", r#"{"epochs":3,"#)
        .await;
    assert_eq!(status, 400, "{body}");
    for bad in [
        r#"{"epochs":0}"#,
        r#"{"epochs":51}"#,
        r#"{"epochs":3,"fine_tune_epochs":99}"#,
    ] {
        let (status, body) = server.post_json("/retrain/trigger", bad).await;
        assert_error(status, &body, 400, "between 1 and 50");
    }
    let (status, body) = server.get_json("/retrain/sessions?limit=0").await;
    assert_error(status, &body, 400, "limit");
    let (_, status_body) = server.get_json("/retrain/status").await;
    assert_eq!(status_body["status"], "idle");
    let response = reqwest::Client::new()
        .post(server.url("/models/v-does-not-exist/activate"))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    let (status, body) = common::json_of(response).await;
    assert_error(status, &body, 404, "no model version");
}

/// A newcomer's server (no training data): the job validates on a fifth of the 20 uploads, too few
/// to judge, so the new version is kept as a candidate and the shipped one keeps serving.
#[tokio::test]
async fn a_short_real_retrain_records_a_session_and_a_new_version() {
    let finished = short_real_retrain(None).await;
    assert_eq!(finished["status"], "rejected", "{finished}");
    let message = finished["session"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("held-out uploads"), "{message}");
    // The same ending in fields the page lays out, with the step it links.
    let outcome = &finished["session"]["outcome"];
    assert_eq!(outcome["kind"], "kept_untrusted", "{outcome}");
    assert!(
        outcome["reason"]
            .as_str()
            .unwrap()
            .contains("images of the held-out uploads"),
        "{outcome}"
    );
    assert_eq!(outcome["link"]["href"], "/upload?purpose=reference");
}

/// With the real dataset the job replays it and validates on the shipped model's held-out split, so
/// the before/after comparison is meaningful.
#[tokio::test]
#[ignore = "needs the dataset: DATA_DIR=<dataset root> bash scripts/test-dataset.sh"]
async fn a_short_real_retrain_with_the_dataset_validates_on_the_original_split() {
    let data = common::dataset_dir().join("train");
    let finished = short_real_retrain(Some(data.to_str().unwrap())).await;
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(common::shipped_model_dir().join("manifest.json")).unwrap(),
    )
    .unwrap();
    let held_out = manifest["training"]["validation_images"].as_u64().unwrap();
    let message = finished["session"]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("too few"), "{message}");
    assert!(!message.contains("held-out uploads"), "{message}");
    if finished["status"] == "completed" {
        assert!(
            message.contains(&format!("on {held_out} images")),
            "{message}"
        );
    }
}

/// Every version's figure names its images; the new one is compared with its parent on the images
/// both were scored on during the run, and a version that cannot be compared says so.
async fn check_versions_compare_on_the_same_images(
    server: &TestServer,
    models: &Value,
    new_version: &str,
    shipped_version: &str,
) {
    let row = |version: &str| {
        models["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["version"] == version)
            .unwrap()
            .clone()
    };
    let (shipped, new) = (row(shipped_version), row(new_version));
    assert_eq!(
        shipped["evaluated_on"]["kind"], "original_split",
        "{shipped}"
    );
    let set = &new["evaluated_on"];
    let images = set["images"].as_u64().unwrap();
    assert!(images > 0, "{new}");
    // Whichever serves, the other is compared with it, on the new version's images.
    let other = if new["serving"] == true {
        &shipped
    } else {
        &new
    };
    let versus = &other["versus_serving"];
    assert_eq!(versus["comparable"], true, "{versus}");
    assert_eq!(versus["evaluated_on"], *set, "{versus}");
    let (lower, upper) = (
        versus["difference"]["lower"].as_f64().unwrap(),
        versus["difference"]["upper"].as_f64().unwrap(),
    );
    let difference = versus["difference"]["difference"].as_f64().unwrap();
    assert!(lower <= difference && difference <= upper, "{versus}");

    let (status, comparison) = server
        .get_json(&format!(
            "/models/compare?version={new_version}&against={shipped_version}"
        ))
        .await;
    assert_eq!(status, 200, "{comparison}");
    assert_eq!(comparison["comparable"], true, "{comparison}");
    let (first, second) = (&comparison["first"], &comparison["second"]);
    assert_eq!(first["version"], new_version);
    assert_eq!(second["version"], shipped_version);
    // The parent's figure is its score on the run's images, not the one from its own training.
    let counted: u64 = second["confusion_matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .map(|cell| cell.as_u64().unwrap())
        .sum();
    assert_eq!(counted, images, "{comparison}");
    assert_eq!(first["recall"].as_array().unwrap().len(), 4);
    assert!(
        (first["accuracy"].as_f64().unwrap() - new["accuracy"].as_f64().unwrap()).abs() < 1e-9,
        "{comparison}"
    );

    let (status, missing) = server
        .get_json("/models/compare?version=v-does-not-exist")
        .await;
    assert_eq!(status, 404, "{missing}");
    assert!(
        missing["detail"]
            .as_str()
            .unwrap()
            .contains("v-does-not-exist"),
        "{missing}"
    );
}

/// Uploads a few images per class, retrains for real, follows the job to its end and checks what
/// every endpoint then reports; answers the final `/retrain/status` body.
async fn short_real_retrain(data_dir: Option<&str>) -> Value {
    let mut extra = vec![];
    if let Some(dir) = data_dir {
        extra.extend(["--data-dir", dir]);
    }
    let server = TestServer::start_with(&extra).await;
    let (_, before) = server.get_json("/models").await;
    let shipped_version = before["active_version"].as_str().unwrap().to_owned();

    for (index, class) in ["glioma", "meningioma", "notumor", "pituitary"]
        .iter()
        .enumerate()
    {
        let form = (0..5).fold(
            Form::new().text("class_name", class.to_string()),
            |form, i| {
                let variant = 100 + index as u32 * 10 + i;
                form.part(
                    "files",
                    file_part(slice_jpeg(variant), &format!("{class}-{i}.jpg")),
                )
            },
        );
        let (status, body) = server.post_form("/retrain", form).await;
        assert_eq!(status, 200, "{body}");
    }
    // The model reads every generated slice as no tumour, so the other classes' uploads are held;
    // a person vouches for them, as the Upload page lets an annotator do.
    assert_eq!(common::confirm_held(&server).await, 15);

    let (status, started) = server
        .post_json("/retrain/trigger", r#"{"epochs":1,"fine_tune_epochs":1}"#)
        .await;
    assert_eq!(status, 202, "{started}");
    let session_id = started["session_id"].as_i64().unwrap();
    let (status, busy) = server
        .post_json("/retrain/trigger", r#"{"epochs":1,"fine_tune_epochs":0}"#)
        .await;
    assert_eq!(status, 409, "{busy}");
    assert_eq!(busy["session_id"], session_id);

    let deadline = Instant::now() + Duration::from_secs(600);
    let mut saw_progress = false;
    let finished = loop {
        let (status, body) = server.get_json("/retrain/status").await;
        assert_eq!(status, 200);
        assert_eq!(body["session"]["id"], session_id);
        saw_progress |= body["progress"].is_object();
        let state = body["status"].as_str().unwrap().to_owned();
        if ["completed", "rejected", "failed"].contains(&state.as_str()) {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "retraining did not finish: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(saw_progress, "the status never showed live progress");
    let session = &finished["session"];
    assert_ne!(finished["status"], "failed", "{finished}");
    for field in ["accuracy_before", "accuracy_after", "f1_before", "f1_after"] {
        let value = session[field].as_f64().unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&value), "{field} = {value}");
    }
    assert_eq!(session["history"].as_array().unwrap().len(), 2, "{session}");
    let new_version = session["model_version"].as_str().unwrap().to_owned();

    let (_, sessions) = server.get_json("/retrain/sessions?limit=5").await;
    assert_eq!(sessions["sessions"][0]["id"], session_id);
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["processed_images"], 20);
    assert_eq!(stats["pending_images"], 0);
    assert_eq!(stats["total_training_sessions"], 1);

    let (_, models) = server.get_json("/models").await;
    let versions: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert!(versions.contains(&new_version.as_str()), "{versions:?}");
    assert!(versions.contains(&shipped_version.as_str()));
    let expected_active = if finished["status"] == "completed" {
        &new_version
    } else {
        &shipped_version
    };
    assert_eq!(
        models["active_version"].as_str(),
        Some(expected_active.as_str())
    );
    check_versions_compare_on_the_same_images(&server, &models, &new_version, &shipped_version)
        .await;

    // Switching back to the shipped version takes effect without a restart.
    let response = reqwest::Client::new()
        .post(server.url(&format!("/models/{shipped_version}/activate")))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    let (status, body) = common::json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active_version"], shipped_version.as_str());
    // The model report carries the session's curve beside the serving model's own.
    let (_, report) = server.get_json("/models/active/report").await;
    assert_eq!(report["version"], shipped_version.as_str());
    let session_curve = report["curves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["session_id"] == session_id)
        .unwrap_or_else(|| panic!("no curve for session {session_id}: {report}"));
    assert_eq!(session_curve["epochs"].as_array().unwrap().len(), 2);
    let form = Form::new().part("file", file_part(slice_jpeg(7), "after.jpg"));
    let (_, prediction) = server.post_form("/predict", form).await;
    assert_eq!(prediction["model_version"], shipped_version.as_str());

    // Nothing left to learn from: a new trigger is refused.
    let (status, _) = server
        .post_json("/retrain/trigger", r#"{"epochs":1,"fine_tune_epochs":0}"#)
        .await;
    assert_eq!(status, 400);
    finished
}

#[tokio::test]
async fn a_restart_marks_an_interrupted_session_failed_cleans_partial_versions_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/app.db", dir.path().display());
    let pool = db::connect(&url).await.unwrap();
    let session = db::training_sessions::create(&pool, 3, 1, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    assert_eq!(
        db::training_sessions::claim_next(&pool, "killed-server")
            .await
            .unwrap(),
        Some(session)
    );
    pool.close().await;
    // A version killed mid-write, beside a complete one.
    let store = dir.path().join("models");
    std::fs::create_dir_all(store.join("v-killed.partial")).unwrap();
    std::fs::write(store.join("v-killed.partial/model.bpk"), b"half").unwrap();
    std::fs::create_dir_all(store.join("v-complete")).unwrap();

    // Restart recovery belongs to the embedded mode (SQLite, the worker in the server): with
    // PostgreSQL, heartbeats decide instead (scale_out.rs).
    let server = TestServer::start_in(dir, &["--database-url", &url]).await;
    let (_, status) = server.get_json("/retrain/status").await;
    assert_eq!(status["status"], "failed");
    assert!(status["message"].as_str().unwrap().contains("interrupted"));
    let (_, health) = server.get_json("/health").await;
    assert_eq!(health["model_loaded"], true);
    assert!(!store.join("v-killed.partial").exists(), "leftover removed");
    assert!(store.join("v-complete").is_dir(), "complete versions kept");
}

#[tokio::test]
async fn visualization_data_keeps_the_original_keys_and_stays_small() {
    let server = TestServer::start().await;
    let form = Form::new()
        .text("class_name", "pituitary")
        .part("files", file_part(slice_jpeg(40), "p.jpg"));
    assert_eq!(server.post_form("/retrain", form).await.0, 200);

    let response = reqwest::get(server.url("/visualizations/data"))
        .await
        .unwrap();
    let bytes = response.content_length();
    let (status, body) = common::json_of(response).await;
    assert_eq!(status, 200, "{body}");
    for key in [
        "features",
        "total_samples",
        "source",
        "class_distribution",
        "mean_intensity_data",
        "std_intensity_data",
        "gradient_data",
    ] {
        assert!(body.get(key).is_some(), "missing {key}");
    }
    // The committed CSV holds the 5,712 training images.
    assert_eq!(body["total_samples"], 5712);
    let training: u64 = body["class_distribution"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(training, 5712);
    assert_eq!(body["upload_class_distribution"]["pituitary"], 1);
    let histograms = body["mean_intensity_data"]["histograms"]
        .as_object()
        .unwrap();
    assert_eq!(histograms.len(), 4);
    let points = body["gradient_data"]["points"].as_array().unwrap();
    assert!(
        points.len() <= 4 * 150 && points.len() >= 4 * 100,
        "{}",
        points.len()
    );
    let size = bytes.unwrap_or_else(|| body.to_string().len() as u64);
    assert!(size < 100_000, "response is {size} bytes");

    let missing = TestServer::start_with(&["--features-csv", "/nonexistent/features.csv"]).await;
    let (status, body) = missing.get_json("/visualizations/data").await;
    assert_error(status, &body, 503, "extract-features");
}

/// The Monitor's history counts what happened (images, refusals, 4xx) in the current minute,
/// from the database, and Prometheus carries the same counters.
#[tokio::test]
async fn the_traffic_history_counts_answers_refusals_and_errors() {
    let server = TestServer::start().await;
    for variant in [1, 2] {
        let form = Form::new().part("file", file_part(slice_jpeg(variant), "slice.jpg"));
        let (status, body) = server.post_form("/predict", form).await;
        assert_eq!(status, 200, "{body}");
    }
    let chart = std::fs::read(common::shipped_model_dir().join("confusion_matrix.png")).unwrap();
    let form = Form::new().part("file", file_part(chart, "chart.png"));
    let (status, body) = server.post_form("/predict", form).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = server.get_json("/retrain/sessions?limit=0").await;
    assert_eq!(status, 400);
    // Monitoring polls are not traffic.
    for _ in 0..3 {
        server.get_json("/metrics").await;
    }

    let (status, history) = server.get_json("/metrics/history?window=1h").await;
    assert_eq!(status, 200, "{history}");
    let points = history["points"].as_array().unwrap();
    assert_eq!(points.len(), 60);
    let requests: i64 = points.iter().map(|p| p["requests"].as_i64().unwrap()).sum();
    let predictions: i64 = points
        .iter()
        .map(|p| p["predictions"].as_i64().unwrap())
        .sum();
    assert_eq!(predictions, 2, "{history}");
    assert!(requests >= 4, "{history}");
    let busy: Vec<&Value> = points
        .iter()
        .filter(|p| p["requests"].as_i64() > Some(0))
        .collect();
    let refusal = busy
        .iter()
        .filter_map(|p| p["refusal_rate"].as_f64())
        .fold(0.0, f64::max);
    assert!(
        (refusal - 1.0 / 3.0).abs() < 1e-9 || busy.len() > 1,
        "{history}"
    );
    // Exactly one image refused in the window: each point's refusals follow from its rate and its
    // answered images (rate = refused / (answered + refused)).
    let refused: f64 = busy
        .iter()
        .filter_map(|p| {
            let rate = p["refusal_rate"].as_f64()?;
            let answered = p["predictions"].as_f64()?;
            Some(if rate >= 1.0 {
                1.0
            } else {
                rate * answered / (1.0 - rate)
            })
        })
        .sum();
    assert!((refused - 1.0).abs() < 1e-9, "{refused} refused: {history}");
    assert!(
        busy.iter()
            .any(|p| p["client_error_rate"].as_f64().unwrap_or(0.0) > 0.0),
        "{history}"
    );
    assert!(
        busy.iter().any(|p| p["p50_ms"].as_f64().is_some()),
        "{history}"
    );

    let (status, week) = server.get_json("/metrics/history?window=7d").await;
    assert_eq!(status, 200);
    assert_eq!(week["minutes_per_point"], 120);
    let (status, bad) = server.get_json("/metrics/history?window=2h").await;
    assert_error(status, &bad, 400, "1h, 24h or 7d");

    let text = reqwest::get(server.url("/metrics/prometheus"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("brainscan_images_refused_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains("brainscan_image_latency_seconds_count 2\n"),
        "{text}"
    );
    // The Grafana dashboard in docs/ asks only for series this server serves.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../docs/monitoring/grafana-dashboard.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut asked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|word| word.starts_with("brainscan_"))
            {
                asked += 1;
                assert!(text.contains(&format!("\n{name}")), "{name} is not served");
            }
        }
    }
    assert!(asked >= 10, "{asked}");
}

#[tokio::test]
async fn metrics_follow_live_traffic() {
    let server = TestServer::start().await;
    let (status, before) = server.get_json("/metrics").await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["predictions_total"], 0);
    assert!(before["prediction_latency"].is_null());
    assert!(before["memory_rss_bytes"].as_u64().unwrap_or(0) > 1_000_000);
    assert!(before["active_model_version"].is_string());
    assert!(before["active_model_activated_at"].is_string());

    for variant in [50, 51] {
        let form = Form::new().part("file", file_part(slice_jpeg(variant), "m.jpg"));
        assert_eq!(server.post_form("/predict", form).await.0, 200);
    }
    // The Predict page classifies one slice through the explanation: it is timed as a prediction.
    let form = Form::new().part("file", file_part(slice_jpeg(52), "m.jpg"));
    assert_eq!(server.post_form("/predict/explain", form).await.0, 200);
    let (_, after) = server.get_json("/metrics").await;
    assert_eq!(after["predictions_total"], 3);
    assert_eq!(after["prediction_latency"]["samples"], 3);
    assert!(after["prediction_latency"]["p95_ms"].as_f64().unwrap() > 0.0);
    let minutes: i64 = after["predictions_per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["count"].as_i64().unwrap())
        .sum();
    assert_eq!(minutes, 3);
    assert!(after["predictions_per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["minutes_ago"]
            .as_i64()
            .is_some_and(|ago| (0..=1).contains(&ago))));
    // The two predictions; the Monitor's own /metrics polls are left out of the figure.
    assert!(after["requests_last_minute"].as_u64().unwrap() >= 2);
    assert!(after["total_requests"].as_u64().unwrap() > before["total_requests"].as_u64().unwrap());

    let response = reqwest::get(server.url("/metrics/prometheus"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let predicted: f64 = text
        .lines()
        .filter(|l| l.starts_with("brainscan_predictions_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(predicted, 3.0, "{text}");
    assert!(
        text.contains("# TYPE brainscan_prediction_latency_milliseconds gauge"),
        "{text}"
    );
}

#[tokio::test]
async fn the_model_report_describes_the_serving_model() {
    let server = TestServer::start().await;
    let (status, report) = server.get_json("/models/active/report").await;
    assert_eq!(status, 200, "{report}");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(common::shipped_model_dir().join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["version"], manifest["version"]);
    assert_eq!(report["accuracy"], manifest["validation"]["accuracy"]);
    assert_eq!(
        report["confusion_matrix"],
        manifest["validation"]["confusion_matrix"]
    );
    let per_class = report["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 4);
    let support: u64 = per_class
        .iter()
        .map(|c| c["support"].as_u64().unwrap())
        .sum();
    assert_eq!(support, report["validation_images"].as_u64().unwrap());
    // The shipped model's own training is the first curve, one point per recorded epoch.
    let curves = report["curves"].as_array().unwrap();
    assert_eq!(curves[0]["session_id"], Value::Null);
    assert_eq!(
        curves[0]["epochs"].as_array().unwrap().len(),
        manifest["history"].as_array().unwrap().len()
    );
    assert!(curves[0]["epochs"][0]["validation_accuracy"]
        .as_f64()
        .is_some());
}

/// A job claimed by a worker that then fell silent (killed, machine lost) must not block retraining
/// forever: this server's worker fails it once its heartbeat is older than the limit, with that
/// reason, and the next trigger is accepted.
#[tokio::test]
async fn a_job_whose_worker_stopped_heartbeating_is_failed_and_the_next_trigger_runs() {
    let server = TestServer::start().await;
    let silent = common::insert_silent_job(&server).await;

    let failed = common::poll_retrain_status(&server, Duration::from_secs(20), |status| {
        status["status"] == "failed"
    })
    .await;
    assert!(
        failed["message"].as_str().unwrap().contains("heartbeats"),
        "{failed}"
    );
    assert!(failed["progress"].is_null());

    assert!(common::queue_retraining(&server, 900..901, 1).await > silent);
}

/// Another process (a replica, or a worker whose job passed the gate) activates a version in the
/// shared database: this server serves it within a few seconds, without a restart.
#[tokio::test]
async fn a_version_activated_by_another_process_serves_here_without_a_restart() {
    let server = TestServer::start().await;
    let shipped = common::shipped_model_dir();
    db::model_versions::insert_candidate(
        &server.state.db,
        &db::model_versions::NewModelVersion {
            version: "v-activated-elsewhere",
            path: &shipped.to_string_lossy(),
            metrics_json: "{}",
            parent_version: None,
        },
    )
    .await
    .unwrap();
    assert!(
        db::model_versions::activate(&server.state.db, "v-activated-elsewhere")
            .await
            .unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, models) = server.get_json("/models").await;
        if models["active_version"] == "v-activated-elsewhere" {
            break;
        }
        assert!(Instant::now() < deadline, "never rolled out: {models}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let form = Form::new().part("file", file_part(slice_jpeg(901), "scan.jpg"));
    let (status, prediction) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{prediction}");
    assert_eq!(prediction["model_version"], "v-activated-elsewhere");
}
