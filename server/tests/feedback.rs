//! The feedback loop over real HTTP: a prediction's slice is kept for reviewers, an annotator says
//! whether the answer was right, a correction becomes a pending training upload through the upload
//! checks, the review queue and the live accuracy follow, and retention deletes expired slices.

mod common;

use app::types::auth::Role;
use common::{file_part, json_of, slice_jpeg, TestServer};
use reqwest::multipart::Form;
use serde_json::{json, Value};

/// Slices are kept whatever database the suite runs on (PostgreSQL turns them off by default).
const KEEP: [&str; 2] = ["--keep-prediction-slices", "true"];

/// Classifies `jpeg` and answers the prediction once its slice is kept (kept in the background).
async fn predict_and_keep(server: &TestServer, jpeg: Vec<u8>) -> Value {
    let form = Form::new().part("file", file_part(jpeg, "scan.jpg"));
    let (status, prediction) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{prediction}");
    assert!(prediction["slice_kept_until"].is_string(), "{prediction}");
    let id = prediction["prediction_id"]
        .as_i64()
        .expect("a prediction id");
    wait_for_slice(server, id).await;
    prediction
}

async fn wait_for_slice(server: &TestServer, id: i64) -> Vec<u8> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let response = reqwest::Client::new()
            .get(server.url(&format!("/predictions/{id}/slice")))
            .bearer_auth(&server.admin_token)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            return response.bytes().await.unwrap().to_vec();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slice of prediction {id} was never kept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn another_class(class: &str) -> &'static str {
    if class == "meningioma" {
        "glioma"
    } else {
        "meningioma"
    }
}

async fn feedback(server: &TestServer, token: Option<&str>, id: i64, body: Value) -> (u16, Value) {
    server
        .post_json_as(
            token,
            &format!("/predictions/{id}/feedback"),
            &body.to_string(),
        )
        .await
}

/// The admin says `prediction` was wrong: it is another class than the one answered.
async fn correct_as_admin(server: &TestServer, prediction: &Value) -> (u16, Value) {
    let id = prediction["prediction_id"]
        .as_i64()
        .expect("a prediction id");
    let truth = another_class(prediction["predicted_class"].as_str().unwrap());
    let token = server.admin_token.clone();
    let body = json!({"verdict": "wrong", "class_name": truth});
    feedback(server, Some(&token), id, body).await
}

async fn get_as(server: &TestServer, token: Option<&str>, path: &str) -> (u16, Value) {
    let request = common::with_token(reqwest::Client::new().get(server.url(path)), token);
    json_of(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_correction_becomes_a_pending_upload_with_its_provenance_once_per_reviewer() {
    let server = TestServer::start_with(&KEEP).await;
    let prediction = predict_and_keep(&server, slice_jpeg(4)).await;
    let id = prediction["prediction_id"].as_i64().unwrap();
    let answered = prediction["predicted_class"].as_str().unwrap().to_owned();
    let truth = another_class(&answered);

    // The kept slice is a PNG of the pixels (no DICOM, no JPEG metadata), for signed-in readers.
    let slice = wait_for_slice(&server, id).await;
    assert!(slice.starts_with(b"\x89PNG"), "the slice is a PNG");
    let anonymous = reqwest::get(server.url(&format!("/predictions/{id}/slice")))
        .await
        .unwrap();
    assert_eq!(
        anonymous.status(),
        401,
        "a patient's slice is not public, even on a public-read server"
    );

    let viewer = server.token(Role::Viewer).await;
    let annotator = server.token(Role::Annotator).await;
    let correction = json!({"verdict": "wrong", "class_name": truth});
    let (status, body) = feedback(&server, None, id, correction.clone()).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = feedback(&server, Some(&viewer), id, correction.clone()).await;
    assert_eq!(status, 403, "{body}");

    // The review queue lists the kept, unreviewed prediction.
    let (status, queue) = get_as(&server, Some(&annotator), "/predictions/review").await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["items"][0]["prediction_id"], id, "{queue}");
    assert_eq!(
        queue["items"][0]["slice_url"],
        format!("/predictions/{id}/slice")
    );
    let (status, _) = get_as(&server, Some(&viewer), "/predictions/review").await;
    assert_eq!(status, 403, "the queue is for annotators");

    let (status, body) = feedback(&server, Some(&annotator), id, correction.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["true_class"], truth);
    let upload = &body["upload"];
    let outcome = upload["outcome"].as_str().unwrap();
    assert!(
        outcome == "stored" || outcome == "held",
        "a correction goes through the upload checks: {upload}"
    );
    let upload_id = upload["id"].as_i64().unwrap();

    // The upload carries its provenance: the prediction, its model version, the reviewer.
    let row: (String, Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT class_name, prediction_id, uploaded_by FROM uploaded_images WHERE id = $1",
    )
    .bind(upload_id)
    .fetch_one(&server.state.db)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            truth.to_owned(),
            Some(id),
            Some("token:annotator".to_owned())
        )
    );
    let (status, listed) = get_as(&server, Some(&annotator), "/uploads?limit=5").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["uploads"][0]["id"], upload_id, "{listed}");

    // Once per reviewer; another reviewer may still judge it.
    let (status, again) =
        feedback(&server, Some(&annotator), id, json!({"verdict": "right"})).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"], "conflict");
    let (status, second) = feedback(&server, None, id, json!({"verdict": "right"})).await;
    assert_eq!(status, 401, "{second}");
    let (status, second) = server
        .post_json(
            "/predictions/feedback",
            &json!({"prediction_id": id, "verdict": "wrong", "class_name": truth}).to_string(),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["upload"]["outcome"], "duplicate",
        "the same slice is stored once: {second}"
    );
    assert_eq!(second["upload"]["id"], upload_id);

    // Reviewed predictions leave the queue; the version's live accuracy counts both verdicts.
    let (_, queue) = get_as(&server, Some(&annotator), "/predictions/review").await;
    assert_eq!(queue["total"], 0, "{queue}");
    let (status, live) = server.get_json("/metrics/accuracy").await;
    assert_eq!(status, 200, "{live}");
    let version = &live["versions"][0];
    assert_eq!(version["model_version"], prediction["model_version"]);
    assert_eq!(version["serving"], true);
    assert_eq!(
        (version["reviewed"].as_i64(), version["confirmed"].as_i64()),
        (Some(2), Some(0))
    );
    let truth_row = domain::class_index(truth).unwrap();
    let answer_column = domain::class_index(&answered).unwrap();
    assert_eq!(version["confusion"][truth_row][answer_column], 2);

    let prometheus = reqwest::get(server.url("/metrics/prometheus"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = format!(
        "brainscan_reviewed_answers{{version=\"{}\"}} 2\n",
        prediction["model_version"].as_str().unwrap()
    );
    assert!(prometheus.contains(&gauge), "{prometheus}");

    let audited = server
        .audit_events()
        .await
        .into_iter()
        .filter(|event| event["action"] == "prediction.feedback")
        .count();
    assert_eq!(audited, 2);
}

#[tokio::test]
async fn bad_feedback_gets_a_clear_answer_and_changes_nothing() {
    let server = TestServer::start_with(&KEEP).await;
    let prediction = predict_and_keep(&server, slice_jpeg(5)).await;
    let id = prediction["prediction_id"].as_i64().unwrap();
    let answered = prediction["predicted_class"].as_str().unwrap();
    let admin = server.admin_token.clone();
    for (body, status, says) in [
        (json!({"verdict": "wrong"}), 400, "class_name is required"),
        (
            json!({"verdict": "wrong", "class_name": "banana"}),
            400,
            "unknown class_name",
        ),
        (
            json!({"verdict": "wrong", "class_name": answered}),
            400,
            "another class",
        ),
        (json!({"verdict": "maybe"}), 400, "verdict"),
    ] {
        let (got, answer) = feedback(&server, Some(&admin), id, body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(
            answer["detail"].as_str().unwrap().contains(says),
            "{body}: {answer}"
        );
    }
    let (status, answer) =
        feedback(&server, Some(&admin), 999_999, json!({"verdict": "right"})).await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = server
        .post_json_as(
            Some(&admin),
            "/predictions/abc/feedback",
            r#"{"verdict":"right"}"#,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = get_as(&server, Some(&admin), "/predictions/review?limit=0").await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = get_as(&server, Some(&admin), "/predictions/review?class_name=x").await;
    assert_eq!(status, 400, "{answer}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM prediction_feedback")
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    assert_eq!(count, 0, "no refused request recorded a verdict");
    // The queue's class filter keeps what it names.
    let (_, queue) = get_as(
        &server,
        Some(&admin),
        &format!("/predictions/review?class_name={}", another_class(answered)),
    )
    .await;
    assert_eq!(queue["total"], 0, "{queue}");
}

#[tokio::test]
async fn a_slice_that_is_not_an_mri_never_becomes_training_data() {
    let server = TestServer::start_with(&KEEP).await;
    // An annotator had a refused picture classified anyway: the answer is recorded and kept.
    let noise = {
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(ml::non_mri::generate("noise", 3).unwrap())
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        png
    };
    let form = Form::new()
        .text("override_refusal", "true")
        .part("file", file_part(noise, "other-scanner.png"));
    let (status, prediction) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{prediction}");
    let id = prediction["prediction_id"].as_i64().unwrap();
    wait_for_slice(&server, id).await;
    let (status, body) = correct_as_admin(&server, &prediction).await;
    assert_eq!(status, 200, "the verdict itself is recorded: {body}");
    assert_eq!(body["upload"]["outcome"], "rejected", "{body}");
    assert!(body["upload"]["reason"].as_str().is_some(), "{body}");
    let uploads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploaded_images")
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    assert_eq!(uploads, 0);
}

#[tokio::test]
async fn retention_deletes_expired_slices_and_nothing_else() {
    let server = TestServer::start_with(&KEEP).await;
    let old = predict_and_keep(&server, slice_jpeg(6)).await;
    let recent = predict_and_keep(&server, slice_jpeg(7)).await;
    let (old_id, recent_id) = (
        old["prediction_id"].as_i64().unwrap(),
        recent["prediction_id"].as_i64().unwrap(),
    );
    let key_of = |id: i64| {
        let db = server.state.db.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT slice_key FROM predictions WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    let old_key = key_of(old_id).await.expect("kept");
    sqlx::query("UPDATE predictions SET slice_expires_at = $1 WHERE id = $2")
        .bind("2020-01-01T00:00:00.000Z")
        .bind(old_id)
        .execute(&server.state.db)
        .await
        .unwrap();

    let deleted = app::ssr::feedback::sweep_expired_slices(&server.state, &db::now_rfc3339())
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let uploads = &server.state.service.storage.uploads;
    assert!(
        uploads.read(&old_key).await.is_err(),
        "the expired slice is deleted"
    );
    let recent_key = key_of(recent_id)
        .await
        .expect("the other slice is still kept");
    assert!(uploads.read(&recent_key).await.is_ok());
    assert_eq!(key_of(old_id).await, None);

    let (status, gone) = correct_as_admin(&server, &old).await;
    assert_eq!(status, 410, "{gone}");
    assert_eq!(gone["error"], "gone");
    assert!(
        gone["detail"].as_str().unwrap().contains("retention"),
        "{gone}"
    );
    let response = reqwest::Client::new()
        .get(server.url(&format!("/predictions/{old_id}/slice")))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 410);
    // Saying an answer was right needs no slice.
    let (status, right) = server
        .post_json(
            &format!("/predictions/{old_id}/feedback"),
            r#"{"verdict":"right"}"#,
        )
        .await;
    assert_eq!(status, 200, "{right}");
    // A second sweep finds nothing more to delete.
    let again = app::ssr::feedback::sweep_expired_slices(&server.state, &db::now_rfc3339())
        .await
        .unwrap();
    assert_eq!(again, 0);
}

#[tokio::test]
async fn without_kept_slices_answers_say_so_and_corrections_are_refused() {
    let server = TestServer::start_with(&["--keep-prediction-slices", "false"]).await;
    let form = Form::new().part("file", file_part(slice_jpeg(8), "scan.jpg"));
    let (status, prediction) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{prediction}");
    assert_eq!(prediction.get("slice_kept_until"), None, "{prediction}");
    let (status, body) = correct_as_admin(&server, &prediction).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("not kept"),
        "{body}"
    );
}

#[tokio::test]
async fn a_retraining_may_learn_from_corrections_only_and_says_how_many_it_used() {
    let server = TestServer::start_with(&KEEP).await;
    // A bulk upload waits too; a job that learns from feedback only must leave it pending.
    let form = Form::new()
        .text("class_name", "glioma")
        .part("files", file_part(slice_jpeg(20), "bulk.jpg"));
    let (status, upload) = server.post_form("/retrain", form).await;
    assert_eq!(status, 200, "{upload}");
    common::confirm_held(&server).await;
    let (status, body) = server
        .post_json(
            "/retrain/trigger",
            r#"{"epochs":1,"fine_tune_epochs":0,"sources":"feedback"}"#,
        )
        .await;
    assert_eq!(status, 400, "no correction yet: {body}");
    assert!(
        body["detail"].as_str().unwrap().contains("corrected"),
        "{body}"
    );

    let prediction = predict_and_keep(&server, slice_jpeg(21)).await;
    let (status, body) = correct_as_admin(&server, &prediction).await;
    assert_eq!(status, 200, "{body}");
    common::confirm_held(&server).await;

    let (status, started) = server
        .post_json(
            "/retrain/trigger",
            r#"{"epochs":1,"fine_tune_epochs":0,"sources":"feedback"}"#,
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let ended =
        common::poll_retrain_status(&server, std::time::Duration::from_secs(300), |status| {
            ["completed", "rejected", "failed"].contains(&status["status"].as_str().unwrap_or(""))
        })
        .await;
    let (_, sessions) = server.get_json("/retrain/sessions?limit=1").await;
    let session = &sessions["sessions"][0];
    assert_eq!(session["sources"], "feedback", "{sessions}");
    assert_eq!(session["feedback_images"], 1, "{ended} {sessions}");
    let bulk_pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM uploaded_images WHERE prediction_id IS NULL AND used_for_training = 0",
    )
    .fetch_one(&server.state.db)
    .await
    .unwrap();
    assert_eq!(bulk_pending, 1, "the bulk upload still waits");
}

#[tokio::test]
async fn a_reviewer_sees_where_the_model_looked_on_a_kept_slice_without_a_new_prediction() {
    let server = TestServer::start_with(&KEEP).await;
    let prediction = predict_and_keep(&server, slice_jpeg(8)).await;
    let id = prediction["prediction_id"].as_i64().unwrap();
    let (_, before) = server.get_json("/metrics").await;
    let annotator = server.token(Role::Annotator).await;
    let viewer = server.token(Role::Viewer).await;
    let body = json!({ "prediction_id": id }).to_string();

    let (status, explained) = server
        .post_json_as(Some(&annotator), "/predictions/explain", &body)
        .await;
    assert_eq!(status, 200, "{explained}");
    assert_eq!(explained["prediction_id"], id);
    assert_eq!(explained["predicted_class"], prediction["predicted_class"]);
    let rows = explained["heatmap"].as_array().unwrap();
    assert_eq!(
        rows.len() as u64,
        explained["grid_height"].as_u64().unwrap()
    );
    assert!(explained["slice_png"].as_str().unwrap().len() > 100);
    let (_, after) = server.get_json("/metrics").await;
    assert_eq!(
        after["predictions_total"], before["predictions_total"],
        "explaining a kept slice records no prediction"
    );

    let (status, refused) = server
        .post_json_as(Some(&viewer), "/predictions/explain", &body)
        .await;
    assert_eq!(
        status, 403,
        "a patient's slice is for annotators: {refused}"
    );
    let (status, _) = server
        .post_json_as(None, "/predictions/explain", &body)
        .await;
    assert_eq!(status, 401);
    let (status, missing) = server
        .post_json_as(
            Some(&annotator),
            "/predictions/explain",
            &json!({ "prediction_id": 999_999 }).to_string(),
        )
        .await;
    assert_eq!(status, 404, "{missing}");
    assert!(
        missing["detail"].as_str().unwrap().contains("999999"),
        "{missing}"
    );
}
