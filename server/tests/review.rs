//! Suspect labels over real HTTP with the shipped model: a training upload whose label the serving
//! model confidently contradicts is held, listed for annotators only, and trained on only after one
//! confirms or relabels it.

mod common;

use app::types::auth::Role;
use common::{file_part, json_of, slice_jpeg, TestServer};
use reqwest::multipart::Form;
use serde_json::Value;

const CLASSES: [&str; 4] = ["glioma", "meningioma", "notumor", "pituitary"];

/// A generated slice the shipped model is sure about, and the class it gives (almost) nothing.
struct Confident {
    bytes: Vec<u8>,
    predicted: String,
    least_likely: &'static str,
}

/// Asks the server itself which generated slices its model reads with confidence, leaving a margin
/// around the hold's thresholds (at most 5% to the label, at least 70% to the top class).
async fn confident_slices(server: &TestServer, wanted: usize) -> Vec<Confident> {
    let variants: Vec<u32> = (0..48).collect();
    let form = variants.iter().fold(Form::new(), |form, v| {
        form.part("files", file_part(slice_jpeg(*v), &format!("v{v}.jpg")))
    });
    let (status, body) = server.post_form("/predict/batch", form).await;
    assert_eq!(status, 200, "{body}");
    let mut found = Vec::new();
    for (variant, result) in variants.iter().zip(body["results"].as_array().unwrap()) {
        let probability = |class: &str| result["probabilities"][class].as_f64().unwrap();
        let least_likely = *CLASSES
            .iter()
            .min_by(|a, b| probability(a).total_cmp(&probability(b)))
            .unwrap();
        if result["confidence"].as_f64().unwrap() >= 0.8 && probability(least_likely) <= 0.02 {
            found.push(Confident {
                bytes: slice_jpeg(*variant),
                predicted: result["predicted_class"].as_str().unwrap().to_owned(),
                least_likely,
            });
        }
    }
    assert!(
        found.len() >= wanted,
        "only {} of {} generated slices are read with confidence: {body}",
        found.len(),
        variants.len()
    );
    found.truncate(wanted);
    found
}

async fn upload_as(
    server: &TestServer,
    token: &str,
    class_name: &str,
    purpose: &str,
    bytes: Vec<u8>,
) -> Value {
    let form = Form::new()
        .text("class_name", class_name.to_owned())
        .text("purpose", purpose.to_owned())
        .part("files", file_part(bytes, "slice.jpg"));
    let (status, body) = server.post_form_as(Some(token), "/retrain", form).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn get_as(server: &TestServer, token: Option<&str>, path: &str) -> reqwest::Response {
    common::with_token(reqwest::Client::new().get(server.url(path)), token)
        .send()
        .await
        .expect("request")
}

/// `POST /retrain/review/decide` with `token`: `decision` on upload `id` (a relabel names a class).
async fn decide(
    server: &TestServer,
    token: &str,
    id: i64,
    decision: &str,
    class_name: Option<&str>,
) -> (u16, Value) {
    let body = serde_json::json!({"id": id, "decision": decision, "class_name": class_name});
    server
        .post_json_as(Some(token), "/retrain/review/decide", &body.to_string())
        .await
}

#[tokio::test]
async fn a_confidently_contradicted_label_is_held_until_an_annotator_decides() {
    let server = TestServer::start().await;
    let annotator = server.token(Role::Annotator).await;
    // Four eyes: who uploaded a held slice does not decide on it; another annotator does.
    let reviewer = app::ssr::auth::create_token(
        &server.state.db,
        "second-annotator",
        Role::Annotator,
        "tests",
    )
    .await
    .unwrap()
    .token;
    let viewer = server.token(Role::Viewer).await;
    let slices = confident_slices(&server, 6).await;

    // The model's own reading is stored as usual; its least likely class is held.
    let agreed = upload_as(
        &server,
        &annotator,
        &slices[3].predicted,
        "training",
        slices[3].bytes.clone(),
    )
    .await;
    assert_eq!(agreed["results"][0]["outcome"], "stored", "{agreed}");
    let mut held_ids = Vec::new();
    for slice in &slices[..3] {
        let body = upload_as(
            &server,
            &annotator,
            slice.least_likely,
            "training",
            slice.bytes.clone(),
        )
        .await;
        let result = &body["results"][0];
        assert_eq!(result["outcome"], "held", "{body}");
        assert_eq!(
            (body["held"].as_i64(), body["stored"].as_i64()),
            (Some(1), Some(0))
        );
        let reason = result["reason"].as_str().unwrap();
        assert!(
            reason.contains("held for review") && reason.contains(&slice.predicted),
            "{reason}"
        );
        held_ids.push(result["id"].as_i64().unwrap());
    }
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(
        (
            stats["pending_images"].as_i64(),
            stats["held_for_review"].as_i64()
        ),
        (Some(1), Some(3)),
        "held uploads are not queued for training: {stats}"
    );

    // The queue and its images are the annotators' business only.
    assert_eq!(get_as(&server, None, "/retrain/review").await.status(), 401);
    assert_eq!(
        get_as(&server, Some(&viewer), "/retrain/review")
            .await
            .status(),
        403
    );
    let image_path = format!("/retrain/review/{}/image", held_ids[0]);
    assert_eq!(
        get_as(&server, Some(&viewer), &image_path).await.status(),
        403
    );
    let (status, queue) = json_of(get_as(&server, Some(&annotator), "/retrain/review").await).await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["total"], 3);
    let listed = queue["held"].as_array().unwrap();
    for ((item, id), slice) in listed.iter().zip(&held_ids).zip(&slices) {
        assert_eq!(item["id"].as_i64(), Some(*id));
        assert_eq!(item["class_name"], slice.least_likely);
        assert_eq!(item["predicted_class"], slice.predicted.as_str());
        assert!(
            item["label_probability"].as_f64().unwrap() <= 0.05,
            "{item}"
        );
        assert!(
            item["predicted_probability"].as_f64().unwrap() >= 0.7,
            "{item}"
        );
        assert!(item["model_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty()));
    }
    let image = get_as(&server, Some(&annotator), &image_path).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    assert_eq!(
        image.bytes().await.unwrap().as_ref(),
        slices[0].bytes.as_slice()
    );

    // Wrong requests are refused with the reason; nothing changes.
    let (status, body) = decide(&server, &annotator, held_ids[0], "confirm", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("forbidden")),
        "the uploader decided on their own held upload: {body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("another annotator"),
        "{body}"
    );
    let (status, body) = decide(&server, &viewer, held_ids[0], "confirm", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (status, body) = decide(
        &server,
        &reviewer,
        held_ids[1],
        "relabel",
        Some(slices[1].least_likely),
    )
    .await;
    assert_eq!(status, 400, "relabelling to the same class: {body}");
    let (status, body) = decide(
        &server,
        &reviewer,
        held_ids[1],
        "relabel",
        Some("astrocytoma"),
    )
    .await;
    assert_eq!(status, 400, "unknown class: {body}");
    let (status, body) = decide(&server, &reviewer, 999_999, "confirm", None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );

    // Confirm, relabel, discard: the first two become pending with the label a person chose.
    let (status, confirmed) = decide(&server, &reviewer, held_ids[0], "confirm", None).await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["class_name"], slices[0].least_likely);
    let (status, relabelled) = decide(
        &server,
        &reviewer,
        held_ids[1],
        "relabel",
        Some(&slices[1].predicted),
    )
    .await;
    assert_eq!(status, 200, "{relabelled}");
    assert_eq!(relabelled["class_name"], slices[1].predicted.as_str());
    let (status, discarded) = decide(&server, &reviewer, held_ids[2], "discard", None).await;
    assert_eq!(status, 200, "{discarded}");
    assert_eq!(
        (
            discarded["pending_images"].as_i64(),
            discarded["held_remaining"].as_i64()
        ),
        (Some(3), Some(0)),
        "{discarded}"
    );
    let (status, body) = decide(&server, &reviewer, held_ids[0], "discard", None).await;
    assert_eq!(status, 404, "a decision is final: {body}");
    assert_eq!(
        get_as(&server, Some(&annotator), &image_path)
            .await
            .status(),
        404
    );

    let pending = db::uploads::pending(&server.state.db, db::uploads::TrainingSources::Both)
        .await
        .unwrap();
    let labels: Vec<(i64, String)> = pending.into_iter().map(|i| (i.id, i.class_name)).collect();
    assert!(labels.contains(&(held_ids[0], slices[0].least_likely.to_owned())));
    assert!(labels.contains(&(held_ids[1], slices[1].predicted.clone())));
    assert!(
        !labels.iter().any(|(id, _)| *id == held_ids[2]),
        "discarded: {labels:?}"
    );

    // Each decision is on the record, with who made it.
    let (_, events) =
        json_of(get_as(&server, Some(&server.admin_token), "/audit?limit=100").await).await;
    let reviews: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "upload.review" && e["outcome"] == "ok")
        .collect();
    assert_eq!(reviews.len(), 3, "{events:#}");
    assert!(
        reviews
            .iter()
            .all(|e| e["actor"] == "token:second-annotator"),
        "{reviews:#?}"
    );

    // An admin may decide on their own held upload; the audit trail says it was their own.
    let own = upload_as(
        &server,
        &server.admin_token,
        slices[5].least_likely,
        "training",
        slices[5].bytes.clone(),
    )
    .await;
    assert_eq!(own["results"][0]["outcome"], "held", "{own}");
    let own_id = own["results"][0]["id"].as_i64().unwrap();
    let (status, body) = decide(&server, &server.admin_token, own_id, "discard", None).await;
    assert_eq!(status, 200, "{body}");
    let (_, events) =
        json_of(get_as(&server, Some(&server.admin_token), "/audit?limit=5").await).await;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "upload.review"
                && e["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("own upload")),
        "{events:#}"
    );

    // The reference set is the admin's own ground truth: never held.
    let reference = upload_as(
        &server,
        &server.admin_token,
        slices[4].least_likely,
        "reference",
        slices[4].bytes.clone(),
    )
    .await;
    assert_eq!(reference["results"][0]["outcome"], "stored", "{reference}");
}
