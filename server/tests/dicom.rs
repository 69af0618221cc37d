//! DICOM through real HTTP with the shipped model: an MR slice gets the same answer as the same
//! slice exported as PNG with the same window; other modalities and undecodable encodings are
//! refused by name; a multi-frame file is answered frame by frame in a batch; and a file carrying
//! a patient's name, ID, birth date, accession number, institution and physician leaves none of
//! them in the database, the stored uploads or the server's log.

mod common;

use std::io::Cursor;

use common::{file_part, slice_jpeg, with_token, TestServer};
use ml::dicom_writer::{self, DicomWriter};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

const SIDE: u16 = 512;
/// The window the radiologist chose: stored values 0-4000 spread over the grey levels.
const WINDOW: (f64, f64) = (2000.0, 4001.0);

/// A study's UID: it identifies a patient's examination, so it is never kept either.
const SERIES_STUDY_UID: &str = "1.2.826.0.1.3680043.2.1125.77341";

fn windowed_writer() -> DicomWriter {
    DicomWriter {
        window: Some(WINDOW),
        ..Default::default()
    }
}

fn dicom_part(bytes: Vec<u8>, name: &str) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("application/dicom")
        .unwrap()
}

/// The slice a viewer shows for `stored` with [`WINDOW`] (DICOM's linear function), as a PNG:
/// computed here, independently of the server's decoder.
fn png_with_window(stored: &[i32]) -> Vec<u8> {
    let (center, width) = (WINDOW.0 - 0.5, WINDOW.1 - 1.0);
    let grey = stored
        .iter()
        .map(|&v| {
            ((((f64::from(v) - center) / width) + 0.5) * 255.0)
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect();
    let image = image::GrayImage::from_raw(u32::from(SIDE), u32::from(SIDE), grey).unwrap();
    let mut bytes = Vec::new();
    image::DynamicImage::ImageLuma8(image)
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

#[tokio::test]
async fn an_mr_slice_answers_as_its_png_export_and_says_what_it_read() {
    let server = TestServer::start().await;
    let stored = dicom_writer::phantom_frame(3, u32::from(SIDE));
    let dicom = windowed_writer()
        .write(std::slice::from_ref(&stored), SIDE, SIDE)
        .unwrap();
    let form = Form::new().part("file", dicom_part(dicom, "1.2.840.113619.2.55"));
    let (status, from_dicom) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{from_dicom}");
    let form = Form::new().part("file", file_part(png_with_window(&stored), "export.png"));
    let (status, from_png) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{from_png}");
    assert_eq!(from_dicom["predicted_class"], from_png["predicted_class"]);
    assert_eq!(from_dicom["probabilities"], from_png["probabilities"]);
    assert_eq!(from_dicom["ood_score"], from_png["ood_score"]);
    let info = &from_dicom["dicom"];
    assert_eq!(info["frame"], 1, "{info}");
    assert_eq!(info["frames"], 1);
    assert_eq!(info["modality"], "MR");
    assert_eq!(info["manufacturer"], "SynthScan");
    assert_eq!(info["magnetic_field_strength"], 3.0);
    assert_eq!(info["window_center"], 2000.0);
    assert_eq!(info["window_from_file"], true);
    assert_eq!(info["transfer_syntax"], "Explicit VR Little Endian");
    assert!(from_png.get("dicom").is_none(), "{from_png}");

    // The explanation reads the same frame and says so.
    let dicom = windowed_writer().write(&[stored], SIDE, SIDE).unwrap();
    let form = Form::new().part("file", dicom_part(dicom, "slice.dcm"));
    let (status, explained) = server.post_form("/predict/explain", form).await;
    assert_eq!(status, 200, "{}", explained["detail"]);
    assert_eq!(explained["predicted_class"], from_png["predicted_class"]);
    assert_eq!(explained["dicom"]["modality"], "MR");
}

#[tokio::test]
async fn ct_and_undecodable_files_are_refused_by_name_and_nothing_is_recorded() {
    let server = TestServer::start().await;
    let (_, before) = server.get_json("/database/stats").await;
    let stored = dicom_writer::phantom_frame(3, 128);
    for modality in ["CT", "CR"] {
        let ct = DicomWriter {
            modality: modality.into(),
            ..windowed_writer()
        }
        .write(std::slice::from_ref(&stored), 128, 128)
        .unwrap();
        let form = Form::new().part("file", dicom_part(ct, "ct.dcm"));
        let (status, body) = server.post_form("/predict", form).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"], "not_brain_mri");
        assert!(
            body["detail"].as_str().unwrap().contains(modality),
            "{body}"
        );
        assert!(body.get("score").is_none(), "the model did not run: {body}");
    }
    let jpeg_ls = DicomWriter {
        transfer_syntax_override: Some("1.2.840.10008.1.2.4.80".into()),
        ..windowed_writer()
    }
    .write(std::slice::from_ref(&stored), 128, 128)
    .unwrap();
    let form = Form::new().part("file", dicom_part(jpeg_ls, "ls.dcm"));
    let (status, body) = server.post_form("/predict", form).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"], "unsupported_media_type");
    assert!(
        body["detail"].as_str().unwrap().contains("JPEG-LS"),
        "{body}"
    );

    let whole = windowed_writer().write(&[stored], 128, 128).unwrap();
    let mut garbage = vec![0u8; 128];
    garbage.extend_from_slice(b"DICM");
    garbage.extend((0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8));
    for (name, bytes) in [
        ("truncated.dcm", whole[..whole.len() * 2 / 3].to_vec()),
        ("garbage.dcm", garbage),
    ] {
        let form = Form::new().part("file", dicom_part(bytes, name));
        let (status, body) = server.post_form("/predict", form).await;
        assert_eq!(status, 400, "{name}: {body}");
    }
    let (_, after) = server.get_json("/database/stats").await;
    assert_eq!(before["total_predictions"], after["total_predictions"]);
    // The server is still serving.
    let (status, _) = server.get_json("/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_batch_answers_every_frame_of_a_multi_frame_file() {
    let server = TestServer::start().await;
    let frames: Vec<Vec<i32>> = [1, 3, 5]
        .iter()
        .map(|&variant| dicom_writer::phantom_frame(variant, u32::from(SIDE)))
        .collect();
    let volume = windowed_writer().write(&frames, SIDE, SIDE).unwrap();
    let form = Form::new()
        .part("files", dicom_part(volume.clone(), "volume.dcm"))
        .part("files", file_part(slice_jpeg(2), "plain.jpg"));
    let (status, body) = server.post_form("/predict/batch", form).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(body["total_images"], 2);
    assert_eq!(results.len(), 4, "{body}");
    for (index, result) in results[..3].iter().enumerate() {
        assert_eq!(result["filename"], "volume.dcm");
        assert_eq!(result["dicom"]["frame"], index + 1, "{result}");
        assert_eq!(result["dicom"]["frames"], 3);
    }
    assert_eq!(results[3]["filename"], "plain.jpg");
    // A single prediction reads the middle frame: the batch's second answer.
    let form = Form::new().part("file", dicom_part(volume, "volume.dcm"));
    let (status, single) = server.post_form("/predict", form).await;
    assert_eq!(status, 200, "{single}");
    assert_eq!(single["dicom"]["frame"], 2);
    // The same frame, forwarded alone rather than in a batch of four: Lite0's kernels block the
    // batch differently, so the sums may differ in the last bits.
    for class in ["glioma", "meningioma", "notumor", "pituitary"] {
        let (alone, batched) = (
            single["probabilities"][class].as_f64().unwrap(),
            results[1]["probabilities"][class].as_f64().unwrap(),
        );
        assert!(
            (alone - batched).abs() < 1e-5,
            "{class}: {alone} vs {batched}"
        );
    }
    assert_ne!(
        single["probabilities"], results[0]["probabilities"],
        "the middle frame, not the first"
    );
}

#[tokio::test]
async fn no_patient_identifier_reaches_the_database_the_uploads_or_the_log() {
    let server = TestServer::start().await;
    // Prediction slices kept too: they must hold no identifier either.
    let logged =
        common::spawn_replica(&server, "server", &["--keep-prediction-slices", "true"]).await;
    let token = server.admin_token.clone();
    let client = reqwest::Client::new();
    let post = |path: &str, form: Form| {
        with_token(client.post(format!("{}{path}", logged.url)), Some(&token))
            .multipart(form)
            .send()
    };
    let stored = dicom_writer::phantom_frame(1, u32::from(SIDE));
    let identified = windowed_writer().with_patient();
    let dicom = identified
        .write(std::slice::from_ref(&stored), SIDE, SIDE)
        .unwrap();
    assert!(String::from_utf8_lossy(&dicom).contains(dicom_writer::PATIENT_ID));

    let form = Form::new()
        .text("class_name", "notumor")
        .part("files", dicom_part(dicom.clone(), "slice.dcm"));
    let (status, upload) = common::json_of(post("/retrain", form).await.unwrap()).await;
    assert_eq!(status, 200, "{upload}");
    let outcome = &upload["results"][0];
    assert!(
        ["stored", "held"].contains(&outcome["outcome"].as_str().unwrap()),
        "{upload}"
    );
    // The same slice exported again (another transfer syntax, same pixels) is one image.
    let again = DicomWriter {
        encoding: dicom_writer::Encoding::ImplicitLittleEndian,
        ..identified.clone()
    }
    .write(std::slice::from_ref(&stored), SIDE, SIDE)
    .unwrap();
    assert_ne!(again, dicom);
    let form = Form::new()
        .text("class_name", "notumor")
        .part("files", dicom_part(again, "slice-again.dcm"));
    let (_, upload) = common::json_of(post("/retrain", form).await.unwrap()).await;
    assert_eq!(upload["results"][0]["outcome"], "duplicate", "{upload}");
    // Predictions, explanations and a refused CT file with the same tags.
    for path in ["/predict", "/predict/explain"] {
        let form = Form::new().part("file", dicom_part(dicom.clone(), "slice.dcm"));
        let response = post(path, form).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    // A series of two identified instances, whose UIDs are echoed to the sender only.
    let series_form = (1..=2).fold(Form::new(), |form, number| {
        let instance = DicomWriter {
            place: Some(dicom_writer::InstancePlace {
                study_uid: SERIES_STUDY_UID.into(),
                series_uid: format!("{SERIES_STUDY_UID}.1"),
                instance_number: number,
                z: f64::from(number),
            }),
            ..identified.clone()
        }
        .write(std::slice::from_ref(&stored), SIDE, SIDE)
        .unwrap();
        form.part("files", dicom_part(instance, &format!("{number}.dcm")))
    });
    let response = post("/predict/series", series_form).await.unwrap();
    assert_eq!(response.status(), 200);
    let ct = DicomWriter {
        modality: "CT".into(),
        ..identified
    }
    .write(&[stored], SIDE, SIDE)
    .unwrap();
    let form = Form::new().part("file", dicom_part(ct, "ct.dcm"));
    assert_eq!(post("/predict", form).await.unwrap().status(), 422);

    // Slices are kept in the background: wait for both predictions' slices.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let kept: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM predictions WHERE slice_key IS NOT NULL")
                .fetch_one(&server.state.db)
                .await
                .unwrap();
        if kept == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{kept} of 2 slices kept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let metadata: String =
        sqlx::query_scalar("SELECT metadata FROM uploaded_images ORDER BY id LIMIT 1")
            .fetch_one(&server.state.db)
            .await
            .unwrap();
    let metadata: Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["format"], "dicom", "{metadata}");
    assert_eq!(metadata["dicom"]["manufacturer"], "SynthScan");
    assert_eq!(metadata["dicom"]["series_description"], "AX T1 POST");
    let log_path = logged.process.log.clone();
    // Dropping it stops the server, so the log is complete.
    drop(logged);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("/predict"),
        "the log records the requests: {log}"
    );
    // Everything kept: the log and every file of the server (a SQLite database, local uploads,
    // the cache), and in the scale-out mode the objects in the bucket and every row PostgreSQL holds.
    let storage = &server.state.service.storage;
    let tables = [
        "uploaded_images",
        "predictions",
        "audit_events",
        "preprocessing_logs",
    ];
    let places = common::everything_kept(&server, &log_path, &[&storage.uploads], &tables).await;
    let (mut stored_pngs, mut kept_slices) = (0, 0);
    for (place, bytes) in &places {
        if bytes.starts_with(b"\x89PNG") {
            if place.contains("/slices/") {
                kept_slices += 1;
            } else {
                stored_pngs += 1;
            }
        }
        assert!(
            !ml::dicom::is_dicom(bytes),
            "a DICOM file was kept: {place}"
        );
        let text = String::from_utf8_lossy(bytes);
        for secret in dicom_writer::IDENTIFYING_VALUES
            .into_iter()
            .chain([SERIES_STUDY_UID])
        {
            assert!(!text.contains(secret), "{secret} found in {place}");
        }
    }
    let names: Vec<&String> = places.iter().map(|(place, _)| place).collect();
    assert_eq!(
        stored_pngs, 1,
        "the slice is stored once, as a PNG: {names:?}"
    );
    assert_eq!(
        kept_slices, 2,
        "each prediction's slice is kept as a PNG: {names:?}"
    );
}
