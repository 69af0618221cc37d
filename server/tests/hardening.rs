//! The attacks of issue 30, each over real HTTP against a fresh server: refused requests flooding
//! the audit trail, batches that cost more than they count, logins ground down, sessions outliving
//! their logout, rotated slices, and protocol errors answered outside the JSON error shape.

mod common;

use app::types::auth::Role;
use common::{file_part, json_of, slice_jpeg, TestServer};
use reqwest::multipart::Form;
use serde_json::Value;
fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok()?.parse().ok())
}

/// A client bound to its own loopback address, so the server sees a distinct client.
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(address))
        .build()
        .expect("client")
}

#[tokio::test]
async fn refused_requests_are_rationed_before_authentication_and_audited_once_a_minute() {
    let server =
        TestServer::start_with(&["--public-read", "false", "--refused-per-minute", "30"]).await;
    let before = server.audit_events().await.len();
    let attacker = client_from([127, 0, 0, 7]);
    let long_path = format!("/retrain/trigger{}", "A".repeat(4000));
    let mut statuses = Vec::new();
    let mut waits = Vec::new();
    for attempt in 0..80 {
        let path = if attempt % 2 == 0 {
            "/retrain/trigger".to_owned()
        } else {
            long_path.clone()
        };
        let response = attacker
            .post(server.url(&path))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        if let Some(wait) = retry_after(&response) {
            waits.push(wait);
        }
        let (status, body) = json_of(response).await;
        if status == 429 {
            assert_eq!(body["error"], "too_many_requests", "{body}");
        }
        statuses.push(status);
    }
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let rationed = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        (1..=40).contains(&refused) && refused + rationed == 80,
        "refused {refused}, rationed {rationed}: {statuses:?}"
    );
    assert!(!waits.is_empty() && waits.iter().all(|w| (1..=120).contains(w)));

    // The refusals are on the record as counted rows, not one row per request, and bounded in size:
    // each row is written at the first refusal, the count at the next flush (every 10 s).
    let events = server.audit_events().await;
    let rows_before_flush = events.len() - before;
    assert!((1..=4).contains(&rows_before_flush), "{events:#?}");
    app::ssr::auth::flush_refusals(&server.state).await;
    let events = server.audit_events().await;
    assert_eq!(
        events.len() - before,
        rows_before_flush,
        "a flush adds counts, not rows"
    );
    let new = &events[..events.len() - before];
    assert!(new.len() <= 4, "{} rows for {refused} refusals", new.len());
    let counted: i64 = new.iter().map(|e| e["count"].as_i64().unwrap()).sum();
    assert_eq!(counted, refused as i64, "{new:#?}");
    for event in new {
        assert_eq!(event["client"], "127.0.0.7");
        assert!(event.to_string().len() < 1200, "{event}");
    }

    // Another client is not held to the attacker's budget.
    let (status, _) = json_of(
        client_from([127, 0, 0, 8])
            .post(server.url("/retrain/trigger"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_audit_trail_is_read_in_pages_of_bounded_size() {
    let server = TestServer::start().await;
    for n in 0..5 {
        let body = serde_json::json!({"name": format!("t{n}"), "role": "viewer"}).to_string();
        assert_eq!(server.post_json("/auth/tokens/create", &body).await.0, 200);
    }
    let get = |path: &str| {
        reqwest::Client::new()
            .get(server.url(path))
            .bearer_auth(&server.admin_token)
            .send()
    };
    let (status, body) = json_of(get("/audit?limit=100000").await.unwrap()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("500"), "{body}");
    let (_, first) = json_of(get("/audit?limit=2").await.unwrap()).await;
    let first = first.as_array().unwrap().clone();
    assert_eq!(first.len(), 2);
    let oldest_seen = first[1]["id"].as_i64().unwrap();
    let (status, next) = json_of(
        get(&format!("/audit?limit=2&before={oldest_seen}"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    let next = next.as_array().unwrap();
    assert_eq!(next.len(), 2);
    assert!(next.iter().all(|e| e["id"].as_i64().unwrap() < oldest_seen));
}

fn batch_form(images: u32) -> Form {
    (0..images).fold(Form::new(), |form, v| {
        form.part("files", file_part(slice_jpeg(v), &format!("b{v}.jpg")))
    })
}

#[tokio::test]
async fn a_batch_costs_one_prediction_per_image_and_an_explanation_more() {
    let server = TestServer::start_with(&["--predict-per-minute", "12"]).await;
    let send = |form: Form, path: &'static str| {
        reqwest::Client::new()
            .post(server.url(path))
            .multipart(form)
            .send()
    };
    let (status, body) = json_of(send(batch_form(9), "/predict/batch").await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    // About 3 of 12 left: a batch of 6 does not fit, with the reason and the time to wait.
    let response = send(batch_form(6), "/predict/batch").await.unwrap();
    let wait = retry_after(&response);
    let (status, body) = json_of(response).await;
    assert_eq!(status, 429, "a batch of 6 with 3 left: {body}");
    assert!(
        body["detail"].as_str().unwrap().contains("6 images"),
        "{body}"
    );
    assert!(wait.is_some_and(|w| (1..=60).contains(&w)), "{wait:?}");
    // About 2 left: an explanation costs 4 and does not fit; a single slice does.
    let one = || Form::new().part("file", file_part(slice_jpeg(1), "e.jpg"));
    let (status, body) = json_of(send(one(), "/predict/explain").await.unwrap()).await;
    assert_eq!(status, 429, "{body}");
    let (status, body) = json_of(send(one(), "/predict").await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn logins_are_throttled_per_account_whatever_the_address() {
    let server = TestServer::start_with(&["--trust-proxy", "true"]).await;
    app::ssr::auth::add_user(
        &server.state.db,
        "ana",
        "ana's long passphrase",
        Role::Admin,
    )
    .await
    .unwrap();
    let attempt = |password: &'static str, from: String| {
        reqwest::Client::new()
            .post(server.url("/auth/login"))
            .header("content-type", "application/json")
            .header("x-forwarded-for", from)
            .body(serde_json::json!({"username": "ana", "password": password}).to_string())
            .send()
    };
    let mut statuses = Vec::new();
    for n in 0..8 {
        // Each guess from another address: the per-address budget never applies.
        let from = format!("198.51.100.{n}");
        let (status, _) = json_of(attempt("wrong guess!!", from).await.unwrap()).await;
        statuses.push(status);
    }
    assert_eq!(&statuses[..5], [401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Locked: even the right password waits, with the time to wait.
    let response = attempt("ana's long passphrase", "203.0.113.50".to_owned())
        .await
        .unwrap();
    let wait = retry_after(&response).expect("Retry-After");
    let (status, body) = json_of(response).await;
    assert_eq!(status, 429, "{body}");
    assert!((1..=900).contains(&wait), "{wait}");
    let events = server.audit_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "login.locked" && e["target"] == "ana"),
        "{events:#?}"
    );
    let metrics = reqwest::get(server.url("/metrics/prometheus"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let locked = metrics
        .lines()
        .find_map(|line| line.strip_prefix("brainscan_login_lockouts_total "))
        .expect("the lock-out counter");
    assert!(locked.trim().parse::<f64>().unwrap() >= 1.0, "{metrics}");
}

#[tokio::test]
async fn an_upload_burst_does_not_lock_the_uploader_out_of_logging_in() {
    let server = TestServer::start_with(&["--uploads-per-minute", "2"]).await;
    app::ssr::auth::add_user(
        &server.state.db,
        "ana",
        "ana's long passphrase",
        Role::Annotator,
    )
    .await
    .unwrap();
    let token = server.token(Role::Annotator).await;
    let mut statuses = Vec::new();
    for variant in 0..4 {
        let form = Form::new().text("class_name", "notumor").part(
            "files",
            file_part(slice_jpeg(variant), &format!("u{variant}.jpg")),
        );
        statuses.push(server.post_form_as(Some(&token), "/retrain", form).await.0);
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
    let (status, _, body) = common::login(&server, "ana", "ana's long passphrase").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn weak_passwords_are_refused_with_the_reason() {
    let server = TestServer::start().await;
    for (username, password, reason) in [
        ("bob", "aaaaaaaaaaaa", "different characters"),
        ("radiology01", "radiology01", "user name"),
        ("carol", "Password123", "common"),
        ("dave", "1q2w3e4r5t", "common"),
    ] {
        let body =
            serde_json::json!({"username": username, "password": password, "role": "viewer"})
                .to_string();
        let (status, answer) = server.post_json("/auth/users/add", &body).await;
        assert_eq!(status, 400, "{password}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(detail.contains(reason), "{password}: {detail}");
    }
    let body = serde_json::json!({"username": "erin", "password": "violet tram at dusk", "role": "viewer"})
        .to_string();
    assert_eq!(server.post_json("/auth/users/add", &body).await.0, 200);
}

async fn login_cookie(server: &TestServer) -> String {
    app::ssr::auth::add_user(
        &server.state.db,
        "ana",
        "ana's long passphrase",
        Role::Viewer,
    )
    .await
    .unwrap();
    let (status, cookie, body) = common::login(server, "ana", "ana's long passphrase").await;
    assert_eq!(status, 200, "{body}");
    let cookie = cookie.expect("a session cookie");
    cookie.split(';').next().unwrap().to_owned()
}

async fn who_is(server: &TestServer, cookie: &str) -> Value {
    let response = reqwest::Client::new()
        .get(server.url("/auth/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    json_of(response).await.1["user"].clone()
}

#[tokio::test]
async fn logout_ends_the_session_whatever_headers_it_comes_with() {
    let server = TestServer::start().await;
    let cookie = login_cookie(&server).await;
    assert_eq!(who_is(&server, &cookie).await["username"], "ana");
    // No Origin, no Referer: as a script or an old client sends it.
    let response = reqwest::Client::new()
        .post(server.url("/auth/logout"))
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        who_is(&server, &cookie).await.is_null(),
        "the old cookie still authenticates"
    );
}

#[tokio::test]
async fn https_behind_a_trusted_proxy_gets_strict_transport_security() {
    let server = TestServer::start_with(&["--trust-proxy", "true"]).await;
    let get = |proto: Option<&'static str>| {
        let request = reqwest::Client::new().get(server.url("/health"));
        match proto {
            Some(proto) => request.header("x-forwarded-proto", proto),
            None => request,
        }
        .send()
    };
    let https = get(Some("https")).await.unwrap();
    let hsts = https.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        hsts.starts_with("max-age=") && hsts.contains("31536000"),
        "{hsts}"
    );
    let plain = get(None).await.unwrap();
    assert!(plain.headers().get("strict-transport-security").is_none());

    // Without a trusted proxy, a client's claim of https is not believed.
    let direct = TestServer::start().await;
    let claimed = reqwest::Client::new()
        .get(direct.url("/health"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(claimed.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn protocol_errors_answer_in_the_json_error_shape() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let response = client
        .put(server.url("/health"))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let long = format!("/database/stats?{}", "q".repeat(10_000));
    let (status, body) = json_of(client.get(server.url(&long)).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (414, Some("uri_too_long")),
        "{body}"
    );
    let (status, body) = json_of(
        client
            .get(server.url("/health"))
            .header("x-padding", "p".repeat(40_000))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (431, Some("headers_too_large")),
        "{body}"
    );
}

#[tokio::test]
async fn error_details_are_the_projects_own_words() {
    let server = TestServer::start().await;
    let mut truncated = slice_jpeg(3);
    truncated.truncate(truncated.len() / 2);
    let form = Form::new().part("file", file_part(truncated, "cut.jpg"));
    let (status, body) = server.post_form_as(None, "/predict", form).await;
    assert_eq!(status, 400, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("cut.jpg") || detail.contains("JPEG"),
        "says what was wrong: {detail}"
    );
    // Library wording: zune-jpeg's and image's error texts, serde's positions.
    for internal in ["Error", "EOF", "zune", "marker", "line 1 column"] {
        assert!(!detail.contains(internal), "{internal:?} in {detail}");
    }
    let (status, body) = server
        .post_json("/retrain/trigger", r#"{"epochs": "many"}"#)
        .await;
    assert_eq!(status, 400, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("whole number"), "{detail}");
    for internal in [
        "line 1 column",
        "u32",
        "ServerFnError",
        "deserializing",
        "serde",
    ] {
        assert!(!detail.contains(internal), "{internal:?} in {detail}");
    }
}

#[tokio::test]
async fn a_repeated_form_field_is_refused_not_silently_overwritten() {
    let server = TestServer::start().await;
    let form = Form::new()
        .text("class_name", "glioma")
        .text("class_name", "notumor")
        .part("files", file_part(slice_jpeg(2), "r.jpg"));
    let (status, body) = server.post_form("/retrain", form).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("class_name"),
        "{body}"
    );
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["total_uploaded_images"], 0, "nothing stored: {stats}");
}

#[tokio::test]
async fn direction_overrides_never_reach_stored_names() {
    let server = TestServer::start().await;
    let form = Form::new().text("class_name", "notumor").part(
        "files",
        file_part(slice_jpeg(4), "scan\u{202E}gpj.exe\u{2066}"),
    );
    let (status, body) = server.post_form("/retrain", form).await;
    assert_eq!(status, 200, "{body}");
    let shown = body["results"][0]["filename"].as_str().unwrap();
    assert_eq!(shown, "scangpj.exe", "{body}");
    let body = serde_json::json!({"name": "ci\u{202E}nimda", "role": "viewer"}).to_string();
    let (status, answer) = server.post_json("/auth/tokens/create", &body).await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let server = TestServer::start().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = reqwest::Client::new()
            .get(server.url("/auth/me"))
            .header("authorization", format!("{scheme} {}", server.admin_token))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, 200, "{scheme}: {body}");
        assert_eq!(body["user"]["role"], "admin", "{scheme}: {body}");
    }
}

#[tokio::test]
async fn explanations_are_bounded_per_client_and_a_busy_answer_says_when_to_retry() {
    let server = TestServer::start().await;
    let mut running = tokio::task::JoinSet::new();
    for variant in 0..4 {
        let url = server.url("/predict/explain");
        running.spawn(async move {
            let form = Form::new().part("file", file_part(slice_jpeg(variant), "x.jpg"));
            reqwest::Client::new()
                .post(url)
                .multipart(form)
                .send()
                .await
        });
    }
    let mut busy = 0;
    while let Some(response) = running.join_next().await {
        let response = response.unwrap().unwrap();
        if response.status() == 503 {
            busy += 1;
            assert!(retry_after(&response).is_some(), "503 without Retry-After");
        }
    }
    assert!(
        busy >= 1,
        "four explanations at once from one client were all run"
    );
}

#[tokio::test]
async fn a_slice_stored_rotated_with_an_orientation_tag_is_read_upright() {
    let server = TestServer::start().await;
    let upright = image::load_from_memory(&slice_jpeg(5))
        .unwrap()
        .into_luma8();
    // Stored rotated 90 degrees counter-clockwise; tag 6 tells a viewer to turn it clockwise.
    let stored = image::imageops::rotate270(&upright);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode_image(&stored)
        .unwrap();
    let predict = |bytes: Vec<u8>| {
        let form = Form::new().part("file", file_part(bytes, "p.jpg"));
        server.post_form_as(None, "/predict", form)
    };
    let (_, straight) = predict(slice_jpeg(5)).await;
    let (status, tagged) = predict(ml::exif::with_orientation(&jpeg, 6)).await;
    assert_eq!(status, 200, "{tagged}");
    let (_, raw) = predict(jpeg.clone()).await;
    let gap = |a: &Value, b: &Value| {
        ["glioma", "meningioma", "notumor", "pituitary"]
            .iter()
            .map(|c| {
                (a["probabilities"][c].as_f64().unwrap() - b["probabilities"][c].as_f64().unwrap())
                    .abs()
            })
            .fold(0.0, f64::max)
    };
    assert!(
        gap(&straight, &tagged) < gap(&straight, &raw) / 4.0 + 1e-3,
        "tagged {tagged} raw {raw} upright {straight}"
    );
}
