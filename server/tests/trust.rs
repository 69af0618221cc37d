//! Trust through real HTTP with the shipped model: what is not a brain MRI slice is refused (422
//! `not_brain_mri`, per file in a batch, `rejected` as a training upload) and nothing of it is
//! recorded, while slices still get their answer, flagged for review exactly when the model's
//! review threshold says so, and explained with a Grad-CAM heatmap on request.

mod common;

use std::io::Cursor;

use base64::Engine;

use common::{file_part, shipped_model_dir, slice_jpeg, TestServer};
use reqwest::multipart::Form;
use serde_json::{json, Value};

fn png(image: image::RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

/// Things a user could upload by mistake: the project's own confusion-matrix plot, a blank white
/// page, and generated cartoons, charts, documents and noise.
fn not_mri_images() -> Vec<(String, Vec<u8>)> {
    let mut images = vec![
        (
            "confusion_matrix.png".to_owned(),
            std::fs::read(shipped_model_dir().join("confusion_matrix.png")).unwrap(),
        ),
        (
            "white.png".to_owned(),
            png(image::RgbImage::from_pixel(
                300,
                300,
                image::Rgb([255, 255, 255]),
            )),
        ),
    ];
    for kind in ["cartoon", "chart", "document", "noise", "screenshot"] {
        images.push((
            format!("{kind}.png"),
            png(ml::non_mri::generate(kind, 11).unwrap()),
        ));
    }
    images
}

fn trust_file() -> Value {
    let text = std::fs::read_to_string(shipped_model_dir().join("trust.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn assert_refusal(body: &Value, threshold: f64) {
    assert_eq!(body["error"], "not_brain_mri", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("does not look like a brain MRI slice"),
        "{body}"
    );
    let score = body["score"].as_f64().unwrap();
    assert!(score > threshold, "{body}");
    assert!((body["threshold"].as_f64().unwrap() - threshold).abs() < 1e-4);
}

#[tokio::test]
async fn images_that_are_not_brain_mri_are_refused_and_slices_still_answered() {
    let server = TestServer::start().await;
    let threshold = trust_file()["ood"]["threshold"].as_f64().unwrap();
    for (name, bytes) in not_mri_images() {
        let form = Form::new().part("file", file_part(bytes, &name));
        let (status, body) = server.post_form("/predict", form).await;
        assert_eq!(status, 422, "{name}: {body}");
        assert_refusal(&body, threshold);
    }
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(
        stats["total_predictions"], 0,
        "refusals are not predictions"
    );

    let form = Form::new().part("file", file_part(slice_jpeg(0), "scan.jpg"));
    let (status, body) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["ood_score"].as_f64().unwrap() <= threshold, "{body}");
}

#[tokio::test]
async fn a_batch_refuses_only_the_files_that_are_not_mri() {
    let server = TestServer::start().await;
    let threshold = trust_file()["ood"]["threshold"].as_f64().unwrap();
    let cartoon = png(ml::non_mri::generate("cartoon", 4).unwrap());
    let form = Form::new()
        .part("files", file_part(slice_jpeg(1), "a.jpg"))
        .part("files", file_part(cartoon, "sun.png"))
        .part("files", file_part(slice_jpeg(2), "b.jpg"));
    let (status, body) = server.post_form("/predict/batch", form).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert!(results[0]["predicted_class"].is_string(), "{body}");
    assert_eq!(results[1]["filename"], "sun.png");
    assert_refusal(&results[1], threshold);
    assert!(results[2]["predicted_class"].is_string(), "{body}");
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["total_predictions"], 2);
}

#[tokio::test]
async fn a_training_upload_that_is_not_mri_is_rejected_with_the_reason() {
    let server = TestServer::start().await;
    let chart = png(ml::non_mri::generate("chart", 2).unwrap());
    let form = Form::new()
        .text("class_name", "notumor")
        .part("files", file_part(chart, "chart.png"))
        .part("files", file_part(slice_jpeg(21), "scan.jpg"));
    let (status, body) = server.post_form("/retrain", form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["outcome"], "rejected", "{body}");
    assert!(body["results"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("does not look like a brain MRI slice"));
    assert_eq!(body["results"][1]["outcome"], "stored", "{body}");
    assert_eq!(body["pending_images"], 1);
}

#[tokio::test]
async fn answers_below_the_review_threshold_are_flagged_with_the_runner_up() {
    // The shipped model answers the generated slices with 0.987-0.995 confidence, all above its
    // review threshold; a copy of it whose threshold sits inside that range flags some and not
    // others, so both sides of the rule are seen.
    let model = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(shipped_model_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, model.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let review_threshold = 0.992;
    let mut trust = trust_file();
    trust["review_threshold"] = json!(review_threshold);
    std::fs::write(model.path().join("trust.json"), trust.to_string()).unwrap();
    let server = TestServer::start_with(&["--model-dir", model.path().to_str().unwrap()]).await;
    let variants = 0..12;
    let mut flagged = 0;
    for variant in variants.clone() {
        let form = Form::new().part("file", file_part(slice_jpeg(variant), "scan.jpg"));
        let (status, body) = server.post_form("/predict", form).await;
        assert_eq!(status, 200, "{body}");
        let confidence = body["confidence"].as_f64().unwrap();
        let needs_review = body["needs_review"].as_bool().unwrap();
        assert_eq!(needs_review, confidence < review_threshold, "{body}");
        flagged += usize::from(needs_review);
        // The runner-up is the second most probable class, never the answer itself.
        let runner_up = body["runner_up"].as_str().unwrap();
        assert_ne!(runner_up, body["predicted_class"].as_str().unwrap());
        let probabilities = body["probabilities"].as_object().unwrap();
        let second = probabilities
            .iter()
            .filter(|(class, _)| class.as_str() != body["predicted_class"])
            .max_by(|a, b| a.1.as_f64().unwrap().total_cmp(&b.1.as_f64().unwrap()))
            .unwrap();
        assert_eq!(second.0, runner_up);
    }
    assert!(
        flagged > 0 && flagged < variants.len(),
        "{flagged} of {} flagged",
        variants.len()
    );
}

fn decode_png(base64_png: &Value) -> image::DynamicImage {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_png.as_str().unwrap())
        .unwrap();
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap()
}

#[tokio::test]
async fn an_explanation_carries_the_prediction_and_a_heatmap_over_the_slice() {
    let server = TestServer::start().await;
    let form = Form::new().part("file", file_part(slice_jpeg(3), "scan.jpg"));
    let (status, plain) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{plain}");
    let form = Form::new().part("file", file_part(slice_jpeg(3), "scan.jpg"));
    let (status, body) = server.post_form("/predict/explain", form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["predicted_class"], plain["predicted_class"]);
    assert!(
        (body["confidence"].as_f64().unwrap() - plain["confidence"].as_f64().unwrap()).abs() < 1e-5
    );

    let (width, height) = (
        body["grid_width"].as_u64().unwrap() as usize,
        body["grid_height"].as_u64().unwrap() as usize,
    );
    assert!(width >= 3 && height >= 3, "{width}x{height}");
    let rows = body["heatmap"].as_array().unwrap();
    assert_eq!(rows.len(), height);
    let cells: Vec<f64> = rows
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    assert_eq!(cells.len(), width * height);
    assert!(cells.iter().all(|&c| (0.0..=1.0).contains(&c)), "{cells:?}");
    let hottest = cells.iter().copied().fold(0.0, f64::max);
    assert!(
        (hottest - 1.0).abs() < 1e-6,
        "the hottest cell is 1: {hottest}"
    );

    let side = body["slice_size"].as_u64().unwrap() as u32;
    let slice = decode_png(&body["slice_png"]);
    let overlay = decode_png(&body["overlay_png"]).into_rgb8();
    assert_eq!((slice.width(), slice.height()), (side, side));
    assert_eq!(overlay.dimensions(), (side, side));
    // The overlay is the grey slice tinted red where the heat is: the hottest cell's centre is
    // redder than the slice there.
    let hot = cells.iter().position(|&c| c == hottest).unwrap();
    let (cx, cy) = (
        ((hot % width) as f32 + 0.5) / width as f32 * side as f32,
        ((hot / width) as f32 + 0.5) / height as f32 * side as f32,
    );
    let tinted = overlay.get_pixel(cx as u32, cy as u32).0;
    assert!(tinted[0] > tinted[2] + 40, "{tinted:?}");

    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(
        stats["total_predictions"], 2,
        "an explanation is a prediction too"
    );

    // A large scan is shown from its own pixels, not blown up from the model's small input: the
    // slice a person looks at is sharper than what the model saw, the heatmap still over it.
    let serving = app::ssr::predictions::serving_model(&server.state).expect("a model serves");
    let model_side = serving.classifier.manifest().preprocess.input_size as u64;
    let large = ml::phantom::slice_jpeg(3, 640).expect("a phantom encodes");
    let form = Form::new().part("file", file_part(large, "large.jpg"));
    let (status, body) = server.post_form("/predict/explain", form).await;
    assert_eq!(status, 200, "{body}");
    let view_side = body["slice_size"].as_u64().unwrap();
    assert!(
        view_side > model_side && view_side <= 448,
        "shown at {view_side} px, the model's input is {model_side} px"
    );
    assert_eq!(decode_png(&body["overlay_png"]).width() as u64, view_side);

    let chart = png(ml::non_mri::generate("chart", 5).unwrap());
    let form = Form::new().part("file", file_part(chart, "chart.png"));
    let (status, body) = server.post_form("/predict/explain", form).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "not_brain_mri");
}

/// The not-an-MRI check can be wrong about a real slice from another scanner. An annotator may
/// have a refused image classified anyway (`override_refusal=true`): the answer says so and needs
/// review, and the audit trail records who, on what and with which score. A viewer may not, and a
/// malformed flag is a clear 400.
#[tokio::test]
async fn an_annotator_may_override_a_refusal_and_the_override_is_audited() {
    use app::types::auth::Role;
    let server = TestServer::start().await;
    let threshold = trust_file()["ood"]["threshold"].as_f64().unwrap();
    let noise = png(ml::non_mri::generate("noise", 11).unwrap());
    let form = |flag: &str| {
        Form::new()
            .text("override_refusal", flag.to_owned())
            .part("file", file_part(noise.clone(), "other-scanner.png"))
    };
    let viewer = server.token(Role::Viewer).await;
    let annotator = server.token(Role::Annotator).await;

    let server = &server;
    let predict = |token: &str, flag: &str| {
        let (token, form) = (token.to_owned(), form(flag));
        async move { server.post_form_as(Some(&token), "/predict", form).await }
    };

    let (status, body) = predict(&viewer, "true").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = predict(&annotator, "yes").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].to_string().contains("override_refusal"),
        "{body}"
    );
    let (status, body) = predict(&annotator, "false").await;
    assert_eq!(status, 422, "without the flag it is still refused: {body}");

    let (status, body) = predict(&annotator, "true").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refusal_overridden"], true, "{body}");
    assert_eq!(body["needs_review"], true, "{body}");
    assert!(body["ood_score"].as_f64().unwrap() > threshold, "{body}");

    let events = server.audit_events().await;
    let overrides: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "predict.override_refusal")
        .collect();
    assert_eq!(overrides.len(), 1, "{events:#?}");
    assert_eq!(overrides[0]["actor"], "token:annotator");
    assert_eq!(overrides[0]["target"], "other-scanner.png");
    assert!(
        overrides[0]["detail"]
            .as_str()
            .unwrap()
            .contains("refused as not a brain MRI"),
        "{:#}",
        overrides[0]
    );
    // An ordinary slice through the same path is answered without the mark.
    let ordinary = Form::new()
        .text("override_refusal", "true")
        .part("file", file_part(slice_jpeg(0), "scan.jpg"));
    let (status, body) = server
        .post_form_as(Some(&annotator), "/predict", ordinary)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refusal_overridden").is_none(), "{body}");
}
