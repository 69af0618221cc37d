//! The PACS over DICOMweb against a real Orthanc (Debian's `orthanc` with `orthanc-dicomweb`, started
//! by scripts/orthanc.sh on a private port with basic authentication): studies listed (QIDO-RS), a
//! series fetched (WADO-RS) and classified, its result stored back as Secondary Capture (STOW-RS)
//! and found in Orthanc, the PACS's failures answered as 502/404, and no patient identifier kept.
//! A plain `cargo test` lists these as ignored; scripts/test.sh runs them with Orthanc up, on SQLite
//! and again on PostgreSQL + S3.

mod common;

use app::types::auth::Role;
use common::{file_part, json_of, TestServer};
use ml::dicom_writer::{self, DicomWriter, InstancePlace};
use reqwest::multipart::Form;
use serde_json::{json, Value};

const SIDE: u16 = 128;

/// Orthanc's REST root, its DICOMweb root, user and password, from scripts/orthanc.sh.
struct Orthanc {
    rest: String,
    dicomweb: String,
    user: String,
    password: String,
}

fn orthanc() -> Orthanc {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is unset: source scripts/orthanc.sh && start_test_orthanc")
        })
    };
    Orthanc {
        rest: var("TEST_ORTHANC_URL"),
        dicomweb: var("TEST_DICOMWEB_URL"),
        user: var("TEST_DICOMWEB_USER"),
        password: var("TEST_DICOMWEB_PASSWORD"),
    }
}

impl Orthanc {
    async fn upload(&self, instance: Vec<u8>) {
        let response = reqwest::Client::new()
            .post(format!("{}/instances", self.rest))
            .basic_auth(&self.user, Some(&self.password))
            .body(instance)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "Orthanc refused an instance: {}",
            response.status()
        );
    }

    /// QIDO-RS series of `study`, straight from Orthanc.
    async fn series_of(&self, study: &str) -> Vec<Value> {
        let response = reqwest::Client::new()
            .get(format!("{}/studies/{study}/series", self.dicomweb))
            .basic_auth(&self.user, Some(&self.password))
            .header("accept", "application/dicom+json")
            .send()
            .await
            .unwrap();
        response.json::<Vec<Value>>().await.unwrap_or_default()
    }

    /// The server flags that point it at this Orthanc, with `password`.
    fn flags(&self, password: &str) -> Vec<String> {
        [
            ("--dicomweb-url", self.dicomweb.as_str()),
            ("--dicomweb-user", self.user.as_str()),
            ("--dicomweb-password", password),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value.to_owned()])
        .collect()
    }

    async fn server(&self) -> TestServer {
        let flags = self.flags(&self.password);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        TestServer::start_with(&flags).await
    }
}

/// A study UID no other test run uses (the PACS outlives each test).
fn fresh_study_uid() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("1.2.826.0.1.3680043.8.498.{}.{nanos}", std::process::id())
}

/// Instance `number` of `series` in `study`, z = 5 mm per instance, written with `writer`.
fn instance(writer: &DicomWriter, study: &str, series: &str, number: u32) -> Vec<u8> {
    DicomWriter {
        place: Some(InstancePlace {
            study_uid: study.into(),
            series_uid: series.into(),
            instance_number: number,
            z: f64::from(number) * 5.0,
        }),
        ..writer.clone()
    }
    .write(&[frame(writer, number)], SIDE, SIDE)
    .unwrap()
}

/// Phantom slice `number`'s stored values; for MONOCHROME1 (low is white) stored inverted, so a
/// viewer shows the same picture.
fn frame(writer: &DicomWriter, number: u32) -> Vec<i32> {
    let values = dicom_writer::phantom_frame(number, u32::from(SIDE));
    if writer.monochrome1 {
        values.into_iter().map(|v| 4000 - v).collect()
    } else {
        values
    }
}

/// A study in the PACS: an identified 16-bit MONOCHROME2 MR series of `slices` (sent to Orthanc
/// shuffled), a MONOCHROME1 MR series of three, and a CT series; answers the study and the series
/// UIDs and the MR instances in order.
async fn fill_pacs(pacs: &Orthanc, slices: u32) -> (String, [String; 3], Vec<Vec<u8>>) {
    let study = fresh_study_uid();
    let series = [
        format!("{study}.1"),
        format!("{study}.2"),
        format!("{study}.3"),
    ];
    let identified = DicomWriter {
        window: Some((2000.0, 4001.0)),
        ..DicomWriter::default()
    }
    .with_patient();
    let in_order: Vec<Vec<u8>> = (1..=slices)
        .map(|number| instance(&identified, &study, &series[0], number))
        .collect();
    // Sent out of order: odd places from the end, then even places.
    let n = slices as usize;
    let shuffled = (0..n)
        .rev()
        .filter(|i| i % 2 == 1)
        .chain((0..n).filter(|i| i % 2 == 0));
    for index in shuffled {
        pacs.upload(in_order[index].clone()).await;
    }
    let inverted = DicomWriter {
        monochrome1: true,
        ..identified.clone()
    };
    for number in 1..=3 {
        pacs.upload(instance(&inverted, &study, &series[1], number))
            .await;
    }
    let ct = DicomWriter {
        modality: "CT".into(),
        ..identified
    };
    pacs.upload(instance(&ct, &study, &series[2], 1)).await;
    (study, series, in_order)
}

async fn get_as(server: &TestServer, token: Option<&str>, path: &str) -> (u16, Value) {
    let request = common::with_token(reqwest::Client::new().get(server.url(path)), token);
    json_of(request.send().await.unwrap()).await
}

fn request(study: &str, series: &str) -> String {
    json!({"study_uid": study, "series_uid": series}).to_string()
}

#[tokio::test]
#[ignore = "needs Orthanc: scripts/test.sh starts one (scripts/orthanc.sh) and runs these"]
async fn pacs_studies_are_listed_and_a_series_from_the_pacs_is_classified_as_an_upload_would_be() {
    let pacs = orthanc();
    let server = pacs.server().await;
    let (study, series, in_order) = fill_pacs(&pacs, 8).await;
    let viewer = server.token(Role::Viewer).await;

    let (status, list) = get_as(&server, Some(&viewer), "/pacs/studies?limit=100").await;
    assert_eq!(status, 200, "{list}");
    let row = list["studies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["study_instance_uid"] == study.as_str())
        .unwrap_or_else(|| panic!("study {study} not listed: {list}"));
    // Shown to the signed-in caller (never stored: see the privacy test).
    assert_eq!(row["patient_name"], "Doe Jane", "{row}");
    assert_eq!(row["patient_id"], dicom_writer::PATIENT_ID);
    assert_eq!(row["series_count"], 3);
    assert_eq!(row["instance_count"], 12);
    assert!(row["last_result"].is_null());
    // Looked up by the patient: by name (family given, prefix) or ID; another patient finds nothing.
    for search in [
        "patient_name=doe%20jan",
        &format!("patient_id={}", dicom_writer::PATIENT_ID),
    ] {
        let (status, found) = get_as(
            &server,
            Some(&viewer),
            &format!("/pacs/studies?limit=100&{search}"),
        )
        .await;
        assert_eq!(status, 200, "{found}");
        let uids: Vec<&str> = found["studies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["study_instance_uid"].as_str().unwrap())
            .collect();
        assert!(uids.contains(&study.as_str()), "{search}: {found}");
    }
    let (_, nobody) = get_as(&server, Some(&viewer), "/pacs/studies?patient_id=NOBODY-1").await;
    assert_eq!(nobody["studies"], json!([]), "{nobody}");

    let (status, listed) = get_as(
        &server,
        Some(&viewer),
        &format!("/pacs/series?study_uid={study}"),
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let classifiable: Vec<(String, bool)> = listed["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["series_instance_uid"].as_str().unwrap().to_owned(),
                s["classifiable"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(classifiable.len(), 3, "{listed}");
    for (uid, can) in &classifiable {
        assert_eq!(
            *can,
            uid != &series[2],
            "only MR series are classifiable: {listed}"
        );
    }

    let (status, fetched) = server
        .post_json_as(
            Some(&viewer),
            "/pacs/classify",
            &request(&study, &series[0]),
        )
        .await;
    assert_eq!(status, 200, "{fetched}");
    let result = &fetched["series"][0];
    assert_eq!(result["series_instance_uid"], series[0].as_str());
    let numbers: Vec<i64> = result["slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["instance_number"].as_i64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (1..=8).collect::<Vec<i64>>(),
        "put in order whatever order the PACS holds"
    );
    assert!(result["verdict"]["class_name"].is_string(), "{result}");
    assert!(result["result_id"].is_i64());
    assert!(fetched["fetch_seconds"].as_f64().unwrap() > 0.0);

    // The same instances uploaded as files answer the same, slice for slice.
    let form = in_order
        .iter()
        .enumerate()
        .fold(Form::new(), |form, (i, bytes)| {
            form.part("files", file_part(bytes.clone(), &format!("{i}.dcm")))
        });
    let (status, uploaded) = server.post_form("/predict/series", form).await;
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(uploaded["series"][0]["verdict"], result["verdict"]);
    let probabilities = |answer: &Value| -> Vec<Value> {
        answer["slices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["prediction"]["probabilities"].clone())
            .collect()
    };
    assert_eq!(probabilities(&uploaded["series"][0]), probabilities(result));

    // MONOCHROME1 instances are read too; a CT series is refused.
    let (status, inverted) = server
        .post_json_as(
            Some(&viewer),
            "/pacs/classify",
            &request(&study, &series[1]),
        )
        .await;
    assert_eq!(status, 200, "{inverted}");
    let inverted_slices = inverted["series"][0]["slices"].as_array().unwrap();
    assert_eq!(inverted_slices.len(), 3);
    for slice in inverted_slices {
        assert!(
            slice["prediction"].is_object(),
            "an inverted slice read the right way round: {slice}"
        );
    }
    let (status, ct) = server
        .post_json_as(
            Some(&viewer),
            "/pacs/classify",
            &request(&study, &series[2]),
        )
        .await;
    assert_eq!(status, 400, "{ct}");
    assert!(
        ct["detail"].as_str().unwrap().contains("modality is CT"),
        "{ct}"
    );

    // The verdict is found again from the study (by its hashed UID).
    let (_, list) = get_as(&server, Some(&viewer), "/pacs/studies?limit=100").await;
    let row = list["studies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["study_instance_uid"] == study.as_str())
        .unwrap();
    assert_eq!(row["last_result"]["source"], "pacs", "{row}");
    let (_, listed) = get_as(
        &server,
        Some(&viewer),
        &format!("/pacs/series?study_uid={study}"),
    )
    .await;
    let first = listed["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["series_instance_uid"] == series[0].as_str())
        .unwrap();
    // Its newest verdict is the upload's: an uploaded series is found from its UIDs as well.
    assert_eq!(
        first["last_result"]["id"], uploaded["series"][0]["result_id"],
        "{first}"
    );
    assert_eq!(first["last_result"]["source"], "upload");
    assert_eq!(
        first["last_result"]["class_name"],
        result["verdict"]["class_name"]
    );

    // The viewer's heatmap: one instance fetched again and explained, recording no prediction.
    let predictions = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM predictions")
            .fetch_one(&server.state.db)
            .await
            .unwrap()
    };
    let before = predictions().await;
    let third = &result["slices"][2];
    let explain = json!({
        "study_uid": study,
        "series_uid": series[0],
        "instance_uid": third["sop_instance_uid"],
    });
    let (status, explained) = server
        .post_json_as(Some(&viewer), "/pacs/explain", &explain.to_string())
        .await;
    assert_eq!(status, 200, "{explained}");
    // The same slice, answered alone rather than in a batch: the same class, near-equal figures.
    assert_eq!(
        explained["predicted_class"],
        third["prediction"]["predicted_class"]
    );
    let confidence = |answer: &Value| answer["confidence"].as_f64().unwrap();
    assert!((confidence(&explained) - confidence(&third["prediction"])).abs() < 1e-3);
    assert!(explained["heatmap"]
        .as_array()
        .is_some_and(|rows| !rows.is_empty()));
    assert_eq!(
        predictions().await,
        before,
        "an explanation of a PACS slice records nothing"
    );
    let missing = json!({"study_uid": study, "series_uid": series[0], "instance_uid": "1.2.3.404"});
    let (status, body) = server
        .post_json_as(Some(&viewer), "/pacs/explain", &missing.to_string())
        .await;
    assert_eq!(status, 404, "{body}");

    // Patient names are for signed-in users: no token, no list (even on a public-read server).
    let (status, body) = get_as(&server, None, "/pacs/studies").await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
#[ignore = "needs Orthanc: scripts/test.sh starts one (scripts/orthanc.sh) and runs these"]
async fn pacs_a_result_is_stored_in_the_pacs_as_secondary_capture_of_the_source_study() {
    let pacs = orthanc();
    let server = pacs.server().await;
    let (study, series, _) = fill_pacs(&pacs, 4).await;

    let viewer = server.token(Role::Viewer).await;
    let (status, body) = server
        .post_json_as(Some(&viewer), "/pacs/store", &request(&study, &series[0]))
        .await;
    assert_eq!(status, 403, "a viewer cannot write into the PACS: {body}");
    assert_eq!(pacs.series_of(&study).await.len(), 3, "nothing was stored");

    let annotator = server.token(Role::Annotator).await;
    let (status, stored) = server
        .post_json_as(
            Some(&annotator),
            "/pacs/store",
            &request(&study, &series[0]),
        )
        .await;
    assert_eq!(status, 200, "{stored}");
    let outcome = &stored["stored"];
    assert_eq!(outcome["images"], 4, "{outcome}");
    assert_eq!(outcome["failed"], 0);
    assert_eq!(outcome["study_instance_uid"], study.as_str());

    let in_pacs = pacs.series_of(&study).await;
    let result = in_pacs
        .iter()
        .find(|s| s["0020000E"]["Value"][0] == outcome["series_instance_uid"])
        .unwrap_or_else(|| panic!("the stored series is not in the study: {in_pacs:?}"));
    assert_eq!(result["00080060"]["Value"][0], "OT");
    assert_eq!(result["00201209"]["Value"][0], 4, "{result}");
    // Its images are Secondary Capture, with the answer burned in and said so.
    let instances: Vec<Value> = reqwest::Client::new()
        .get(format!(
            "{}/studies/{study}/series/{}/instances?includefield=00280301&includefield=00204000",
            pacs.dicomweb,
            outcome["series_instance_uid"].as_str().unwrap()
        ))
        .basic_auth(&pacs.user, Some(&pacs.password))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(instances.len(), 4);
    for instance in &instances {
        assert_eq!(
            instance["00080016"]["Value"][0], "1.2.840.10008.5.1.4.1.1.7",
            "{instance}"
        );
    }
    // Writing into the PACS is audited, without a UID.
    let events = server.audit_events().await;
    let stored_event = events
        .iter()
        .find(|e| e["action"] == "pacs_store")
        .unwrap_or_else(|| panic!("no pacs_store event: {events:?}"));
    assert_eq!(stored_event["outcome"], "ok", "{stored_event}");
    assert!(!stored_event.to_string().contains(&study), "{stored_event}");
    // The recorded verdict says it was sent.
    let (_, listed) = get_as(
        &server,
        Some(&viewer),
        &format!("/pacs/series?study_uid={study}"),
    )
    .await;
    let source = listed["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["series_instance_uid"] == series[0].as_str())
        .unwrap();
    assert!(
        source["last_result"]["sent_to_pacs_at"].is_string(),
        "{source}"
    );
}

#[tokio::test]
#[ignore = "needs Orthanc: scripts/test.sh starts one (scripts/orthanc.sh) and runs these"]
async fn pacs_a_failing_pacs_is_a_clear_502_and_what_it_lacks_a_404() {
    let pacs = orthanc();
    let (study, series, _) = fill_pacs(&pacs, 2).await;

    let server = pacs.server().await;
    let (status, body) = get_as(
        &server,
        Some(&server.admin_token),
        "/pacs/series?study_uid=1.2.3.404",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (status, body) = server
        .post_json("/pacs/classify", &request(&study, "1.2.3.404"))
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = get_as(
        &server,
        Some(&server.admin_token),
        "/pacs/series?study_uid=1.2/../tools",
    )
    .await;
    assert_eq!(
        status, 400,
        "a UID that would change the PACS path is refused: {body}"
    );

    // Wrong password: the PACS answers 401; we answer 502 saying so, without the password.
    let flags = pacs.flags("not-the-password");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let refused = TestServer::start_with(&flags).await;
    let (status, body) = get_as(&refused, Some(&refused.admin_token), "/pacs/studies").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("bad_gateway")),
        "{body}"
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("401") && detail.contains("credentials"),
        "{detail}"
    );
    assert!(!detail.contains("not-the-password"));
    let (status, _) = refused
        .post_json("/pacs/classify", &request(&study, &series[0]))
        .await;
    assert_eq!(status, 502);

    // A PACS that is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down_url = format!("http://127.0.0.1:{port}/dicom-web");
    let down = TestServer::start_with(&["--dicomweb-url", &down_url]).await;
    let (status, body) = get_as(&down, Some(&down.admin_token), "/pacs/studies").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{body}"
    );

    // No PACS configured.
    let without = TestServer::start().await;
    let (status, body) = get_as(&without, Some(&without.admin_token), "/pacs/studies").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("DICOMWEB_URL"),
        "{body}"
    );
    // Every server kept serving.
    for answering in [&server, &refused, &down, &without] {
        assert_eq!(answering.get_json("/health").await.0, 200);
    }
}

#[tokio::test]
#[ignore = "needs Orthanc: scripts/test.sh starts one (scripts/orthanc.sh) and runs these"]
async fn pacs_no_patient_identifier_or_uid_from_the_pacs_is_kept_in_the_database_storage_or_log() {
    let pacs = orthanc();
    let server = TestServer::start().await;
    let flags = pacs.flags(&pacs.password);
    let mut flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    flags.extend(["--keep-prediction-slices", "true"]);
    let logged = common::spawn_replica(&server, "server", &flags).await;
    let (study, series, _) = fill_pacs(&pacs, 3).await;
    let client = reqwest::Client::new();
    let token = server.admin_token.clone();

    let list = client
        .get(format!(
            "{}/pacs/studies?limit=100&patient_id={}",
            logged.url,
            dicom_writer::PATIENT_ID
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, list) = json_of(list).await;
    assert_eq!(status, 200);
    assert!(
        list.to_string().contains(dicom_writer::PATIENT_ID),
        "shown to the caller"
    );
    for path in ["/pacs/classify", "/pacs/store"] {
        let response = client
            .post(format!("{}{path}", logged.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(request(&study, &series[0]))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let log_path = logged.process.log.clone();
    drop(logged);
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("/pacs/store"), "the log records the requests");

    let storage = &server.state.service.storage;
    let tables = ["predictions", "series_results", "audit_events"];
    let places = common::everything_kept(
        &server,
        &log_path,
        &[&storage.uploads, &storage.models],
        &tables,
    )
    .await;
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM series_results")
        .fetch_one(&server.state.db)
        .await
        .unwrap();
    assert_eq!(recorded, 2, "both requests recorded a verdict");
    for (place, bytes) in &places {
        assert!(
            !ml::dicom::is_dicom(bytes),
            "a DICOM file was kept: {place}"
        );
        let text = String::from_utf8_lossy(bytes);
        for secret in dicom_writer::IDENTIFYING_VALUES
            .iter()
            .copied()
            .chain([study.as_str(), series[0].as_str()])
        {
            assert!(!text.contains(secret), "{secret} found in {place}");
        }
    }
}

#[tokio::test]
#[ignore = "needs Orthanc: scripts/test.sh starts one (scripts/orthanc.sh) and runs these"]
async fn pacs_the_cli_classifies_a_study_from_the_pacs_as_the_server_does_and_stores_its_result() {
    let pacs = orthanc();
    let server = pacs.server().await;
    let (study, series, _) = fill_pacs(&pacs, 5).await;
    let (status, served) = server
        .post_json("/pacs/classify", &request(&study, &series[0]))
        .await;
    assert_eq!(status, 200, "{served}");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_brainscan"))
        .args([
            "pacs", "classify", "--study", &study, "--store", "--json", "--model",
        ])
        .arg(common::shipped_model_dir())
        .env("DICOMWEB_URL", &pacs.dicomweb)
        .env("DICOMWEB_USER", &pacs.user)
        .env("DICOMWEB_PASSWORD", &pacs.password)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    // Both MR series, not the CT one.
    let uids: Vec<&str> = printed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["series_instance_uid"].as_str().unwrap())
        .collect();
    assert_eq!(
        uids,
        vec![series[0].as_str(), series[1].as_str()],
        "{printed}"
    );
    let cli = &printed[0];
    let server_verdict = &served["series"][0]["verdict"];
    assert_eq!(cli["slices"], 5);
    assert_eq!(cli["ordered_by"], "image_position");
    assert_eq!(
        cli["verdict"]["class_name"], server_verdict["class_name"],
        "{cli}"
    );
    assert_eq!(
        cli["verdict"]["driving_slices"],
        server_verdict["driving_slices"]
    );
    let stored = cli["stored_series_instance_uid"].as_str().unwrap();
    let in_pacs = pacs.series_of(&study).await;
    assert!(
        in_pacs
            .iter()
            .any(|s| s["0020000E"]["Value"][0] == stored && s["00080060"]["Value"][0] == "OT"),
        "{in_pacs:?}"
    );
    // No patient tag is printed.
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in dicom_writer::IDENTIFYING_VALUES {
        assert!(!all.contains(secret), "{secret} printed");
    }

    // Without a PACS the CLI says what to set.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_brainscan"))
        .args(["pacs", "classify", "--study", &study])
        .env_remove("DICOMWEB_URL")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DICOMWEB_URL"));
}
