//! The attacks of issue 12, each over real HTTP against a real server: who may change what, requests
//! from other sites, sessions and their cookies, closed reads, rate limits, slow clients, headers
//! and what error answers may reveal.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use app::types::auth::Role;
use common::{file_part, json_of, login, slice_jpeg, with_token, TestServer};
use reqwest::multipart::Form;
use serde_json::Value;

/// One generated slice labelled as what the shipped model reads it as (no tumour), so it is stored,
/// not held for review.
fn upload_form(variant: u32) -> Form {
    Form::new().text("class_name", "notumor").part(
        "files",
        file_part(slice_jpeg(variant), &format!("s{variant}.jpg")),
    )
}

fn assert_refused(status: u16, body: &Value, expected: u16, kind: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"], kind, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

async fn post_raw(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    headers: &[(&'static str, &'static str)],
    body: &'static str,
) -> (u16, Value) {
    let mut request = with_token(reqwest::Client::new().post(server.url(path)), token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    json_of(request.body(body).send().await.expect("request")).await
}

#[tokio::test]
async fn every_change_needs_an_account_with_the_right_role() {
    let server = TestServer::start().await;
    let viewer = server.token(Role::Viewer).await;
    let annotator = server.token(Role::Annotator).await;

    // Nobody: 401 on every change, nothing stored.
    let (status, body) = server.post_form_as(None, "/retrain", upload_form(1)).await;
    assert_refused(status, &body, 401, "unauthorized");
    let trigger = r#"{"epochs":1,"fine_tune_epochs":0}"#;
    let (status, body) = server.post_json_as(None, "/retrain/trigger", trigger).await;
    assert_refused(status, &body, 401, "unauthorized");
    let (status, body) = post_raw(&server, "/models/anything/activate", None, &[], "").await;
    assert_refused(status, &body, 401, "unauthorized");
    let (status, body) = server
        .post_json_as(
            None,
            "/auth/tokens/create",
            r#"{"name":"x","role":"admin"}"#,
        )
        .await;
    assert_refused(status, &body, 401, "unauthorized");

    // A viewer predicts but may not upload; an annotator uploads but may not retrain or activate.
    let predict = Form::new().part("file", file_part(slice_jpeg(2), "p.jpg"));
    assert_eq!(
        server
            .post_form_as(Some(&viewer), "/predict", predict)
            .await
            .0,
        200
    );
    let (status, body) = server
        .post_form_as(Some(&viewer), "/retrain", upload_form(3))
        .await;
    assert_refused(status, &body, 403, "forbidden");
    let (status, body) = server
        .post_json_as(Some(&annotator), "/retrain/trigger", trigger)
        .await;
    assert_refused(status, &body, 403, "forbidden");
    let (status, body) = post_raw(
        &server,
        "/models/anything/activate",
        Some(&annotator),
        &[],
        "",
    )
    .await;
    assert_refused(status, &body, 403, "forbidden");
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["pending_images"], 0, "nothing refused was stored");
    let (status, body) = server
        .post_form_as(Some(&annotator), "/retrain", upload_form(4))
        .await;
    assert_eq!((status, body["stored"].as_i64()), (200, Some(1)), "{body}");

    // A token that does not exist, or an Authorization header of another kind, is refused outright.
    let (status, body) = server
        .post_form_as(Some("bsk_forged"), "/predict", Form::new())
        .await;
    assert_refused(status, &body, 401, "unauthorized");

    // The audit trail is for admins, and it recorded who did what and what was refused.
    let response = with_token(
        reqwest::Client::new().get(server.url("/audit")),
        Some(&viewer),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(json_of(response).await.0, 403);
    let events = server.audit_events().await;
    let refused_trigger = events.iter().any(|e| {
        e["actor"] == "token:annotator"
            && e["action"] == "POST /retrain/trigger"
            && e["outcome"] == "refused"
    });
    assert!(refused_trigger, "{events:#?}");
    let upload = events.iter().any(|e| {
        e["actor"] == "token:annotator" && e["action"] == "upload" && e["outcome"] == "ok"
    });
    assert!(upload, "{events:#?}");
    assert!(
        events.iter().all(|e| e["client"] == "127.0.0.1"),
        "{events:#?}"
    );
}

#[tokio::test]
async fn requests_from_other_sites_and_of_the_wrong_type_are_refused() {
    let server = TestServer::start().await;
    let evil = [("origin", "https://evil.example")];
    let token = server.admin_token.clone();

    let form = upload_form(5);
    let response = reqwest::Client::new()
        .post(server.url("/retrain"))
        .bearer_auth(&token)
        .header("origin", "https://evil.example")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_refused(status, &body, 403, "forbidden");
    let (status, body) = post_raw(
        &server,
        "/retrain/trigger",
        Some(&token),
        &[("content-type", "text/plain")],
        r#"{"epochs":1}"#,
    )
    .await;
    assert_refused(status, &body, 400, "bad_request");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("application/json"));
    let (status, body) = post_raw(&server, "/models/v1/activate", Some(&token), &evil, "").await;
    assert_refused(status, &body, 403, "forbidden");
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(stats["pending_images"], 0);
}

#[tokio::test]
async fn a_browser_session_is_a_strict_httponly_cookie_that_only_same_site_requests_can_use() {
    let server = TestServer::start().await;
    app::ssr::auth::add_user(
        &server.state.db,
        "ana",
        "annotator-password",
        Role::Annotator,
    )
    .await
    .unwrap();

    let (status, cookie, body) = login(&server, "ana", "wrong password!").await;
    assert_refused(status, &body, 401, "unauthorized");
    assert!(cookie.is_none());
    let (status, cookie, body) = login(&server, "nobody", "annotator-password").await;
    assert_eq!((status, cookie.is_none()), (401, true), "{body}");

    let (status, cookie, body) = login(&server, "ana", "annotator-password").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "annotator");
    let cookie = cookie.expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();

    let me = reqwest::Client::new()
        .get(server.url("/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let (_, me) = json_of(me).await;
    assert_eq!(me["user"]["username"], "ana");

    // The cookie alone (no Origin, as a forged cross-site request might arrive) authorises nothing;
    // from another site it is refused; with our own origin it works.
    let upload = |origin: Option<String>| {
        let mut request = reqwest::Client::new()
            .post(server.url("/retrain"))
            .header("cookie", &session);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.multipart(upload_form(6)).send()
    };
    let (status, body) = json_of(upload(None).await.unwrap()).await;
    assert_refused(status, &body, 401, "unauthorized");
    let (status, body) = json_of(upload(Some("https://evil.example".into())).await.unwrap()).await;
    assert_refused(status, &body, 403, "forbidden");
    let (status, body) = json_of(
        upload(Some(format!("http://{}", server.addr)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Logging out ends the session on the server, not just in the browser.
    let response = reqwest::Client::new()
        .post(server.url("/auth/logout"))
        .header("cookie", &session)
        .header("origin", format!("http://{}", server.addr))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, _) = json_of(
        upload(Some(format!("http://{}", server.addr)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);

    let events = server.audit_events().await;
    let failed_logins = events
        .iter()
        .filter(|e| e["action"] == "login" && e["outcome"] == "refused")
        .count();
    assert_eq!(failed_logins, 2, "{events:#?}");
    assert!(events
        .iter()
        .any(|e| e["action"] == "login" && e["actor"] == "ana" && e["outcome"] == "ok"));
}

#[tokio::test]
async fn behind_a_trusted_https_proxy_the_cookie_is_secure_and_the_client_is_the_forwarded_one() {
    let server = TestServer::start_with(&["--trust-proxy", "true"]).await;
    app::ssr::auth::add_user(&server.state.db, "root", "a-long-password", Role::Admin)
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .post(server.url("/auth/login"))
        .header("content-type", "application/json")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.9")
        .body(r#"{"username":"root","password":"a-long-password"}"#)
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let events = server.audit_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "login" && e["client"] == "203.0.113.9"),
        "{events:#?}"
    );
}

#[tokio::test]
async fn a_closed_deployment_answers_reads_only_to_accounts() {
    let server = TestServer::start_with(&["--public-read", "false"]).await;
    let (status, body) = server.get_json("/database/stats").await;
    assert_refused(status, &body, 401, "unauthorized");
    let predict = Form::new().part("file", file_part(slice_jpeg(1), "p.jpg"));
    let (status, _) = server.post_form_as(None, "/predict", predict).await;
    assert_eq!(status, 401);
    let viewer = server.token(Role::Viewer).await;
    let response = with_token(
        reqwest::Client::new().get(server.url("/database/stats")),
        Some(&viewer),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.get_json("/health").await.0, 200);

    // A person opening a page is sent to the login form.
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(server.url("/retrain"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/login?next=/retrain");
}

#[tokio::test]
async fn one_client_is_held_to_its_budget_with_429_and_retry_after() {
    let server = TestServer::start_with(&["--predict-per-minute", "3"]).await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for variant in 0..5 {
        let form = Form::new().part("file", file_part(slice_jpeg(variant), "p.jpg"));
        let response = reqwest::Client::new()
            .post(server.url("/predict"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        if let Some(value) = response.headers().get("retry-after") {
            retry_after = Some(value.to_str().unwrap().parse::<u64>().unwrap());
        }
        let (status, body) = json_of(response).await;
        if status == 429 {
            assert_eq!(body["error"], "too_many_requests");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let wait = retry_after.expect("Retry-After");
    assert!((1..=20).contains(&wait), "{wait}");
    // Reads are not rationed.
    assert_eq!(server.get_json("/health").await.0, 200);
}

/// Reads until the server closes the connection; answers what it sent and how long it took.
fn read_until_closed(stream: &mut std::net::TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    let server =
        TestServer::start_with(&["--header-timeout-secs", "1", "--request-timeout-secs", "2"])
            .await;
    let addr = server.addr;
    tokio::task::spawn_blocking(move || {
        // Idle: connects and says nothing.
        let mut idle = std::net::TcpStream::connect(addr).unwrap();
        let (_, took) = read_until_closed(&mut idle, Duration::from_secs(10));
        assert!(took < Duration::from_secs(4), "idle connection open for {took:?}");

        // Slowloris: one header byte every 200 ms never completes the headers.
        let mut slow = std::net::TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        let header = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let mut closed_after = None;
        for byte in header {
            if slow.write_all(&[*byte]).is_err() {
                closed_after = Some(started.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let closed_after = closed_after.unwrap_or_else(|| {
            read_until_closed(&mut slow, Duration::from_secs(10));
            started.elapsed()
        });
        assert!(closed_after < Duration::from_secs(8), "slowloris lasted {closed_after:?}");

        // A body at a byte a second meets the request deadline: 408 with a JSON body.
        let mut dribble = std::net::TcpStream::connect(addr).unwrap();
        dribble
            .write_all(
                b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n\
                  Content-Length: 1000\r\n\r\n--b\r\n",
            )
            .unwrap();
        let started = Instant::now();
        let mut answer = String::new();
        while started.elapsed() < Duration::from_secs(10) {
            let _ = dribble.write_all(b"x");
            dribble.set_read_timeout(Some(Duration::from_millis(900))).unwrap();
            let mut buffer = [0u8; 4096];
            if let Ok(n) = dribble.read(&mut buffer) {
                answer = String::from_utf8_lossy(&buffer[..n]).into_owned();
                break;
            }
        }
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert!(answer.contains("application/json"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    })
    .await
    .unwrap();
    assert_eq!(server.get_json("/health").await.0, 200, "still serving");
}

#[tokio::test]
async fn answers_carry_security_headers_and_never_reveal_server_paths() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/health")).await.unwrap();
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));

    // A page's policy allows exactly the nonce its inline hydration script carries.
    let page = reqwest::get(server.url("/")).await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the page's CSP");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"));

    // Unknown API paths get our JSON 404, not the framework's help text.
    let (status, body) = server.get_json("/api/no_such_function").await;
    assert_refused(status, &body, 404, "not_found");
    // Unknown changes are closed to strangers before anything else is said about them.
    let (status, _) = post_raw(&server, "/api/no_such_function", None, &[], "").await;
    assert_eq!(status, 401);
    let (status, body) = post_raw(
        &server,
        "/api/no_such_function",
        Some(&server.admin_token),
        &[],
        "",
    )
    .await;
    assert_refused(status, &body, 404, "not_found");

    // No absolute path of the server's in any answer.
    let root = env!("CARGO_MANIFEST_DIR")
        .rsplit_once('/')
        .unwrap()
        .0
        .to_owned();
    let tmp = server.dir.path().to_string_lossy().into_owned();
    for path in [
        "/visualizations/data",
        "/models",
        "/models/active/report",
        "/metrics",
        "/api",
    ] {
        let text = reqwest::get(server.url(path))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !text.contains(&root) && !text.contains(&tmp),
            "{path} reveals a path: {text:.300}"
        );
    }

    // Large JSON is compressed for clients that accept it.
    let compressed = reqwest::Client::new()
        .get(server.url("/openapi.json"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(compressed.headers()["content-encoding"], "br");
}

/// Waits for retraining session `id` to end; answers the final `/retrain/status`.
async fn wait_for_session(server: &TestServer, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, body) = server.get_json("/retrain/status").await;
        if body["session"]["id"] == id
            && ["completed", "rejected", "failed"].contains(&body["status"].as_str().unwrap_or(""))
        {
            return body;
        }
        assert!(Instant::now() < deadline, "the job did not end: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The newcomer's deployment (no training data, no reference set): uploads cannot vouch for
/// themselves, so a batch of wrongly labelled images never goes live by itself, and serving it
/// anyway takes an admin, `force` and a reason on the record.
#[tokio::test]
async fn a_poisoned_batch_is_never_activated_without_a_trusted_reference_set() {
    let server = TestServer::start().await;
    let (_, before) = server.get_json("/models").await;
    let shipped = before["active_version"].as_str().unwrap().to_owned();
    // Every slice labelled glioma, whatever it shows.
    let form = (0..24).fold(Form::new().text("class_name", "glioma"), |form, i| {
        form.part(
            "files",
            file_part(slice_jpeg(500 + i), &format!("p{i}.jpg")),
        )
    });
    // The serving model reads them as no tumour: all held for review, none queued.
    let (status, body) = server.post_form("/retrain", form).await;
    assert_eq!((status, body["held"].as_u64()), (200, Some(24)), "{body}");
    let (status, body) = server
        .post_json("/retrain/trigger", r#"{"epochs":1,"fine_tune_epochs":0}"#)
        .await;
    assert_eq!(status, 400, "nothing is pending: {body}");
    // A careless (or hostile) annotator vouches for every one: the gate still holds.
    assert_eq!(common::confirm_held(&server).await, 24);
    let (status, started) = server
        .post_json("/retrain/trigger", r#"{"epochs":1,"fine_tune_epochs":0}"#)
        .await;
    assert_eq!(status, 202, "{started}");
    let finished = wait_for_session(&server, started["session_id"].as_i64().unwrap()).await;
    assert_eq!(finished["status"], "rejected", "{finished}");
    let message = finished["session"]["message"].as_str().unwrap();
    assert!(message.contains("no trusted reference set"), "{message}");
    let candidate = finished["session"]["model_version"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, after) = server.get_json("/models").await;
    assert_eq!(
        after["active_version"],
        shipped.as_str(),
        "still the shipped model"
    );

    // Only admins add to the reference set the gate would trust.
    let annotator = server.token(Role::Annotator).await;
    let reference = Form::new()
        .text("class_name", "notumor")
        .text("purpose", "reference")
        .part("files", file_part(slice_jpeg(600), "r.jpg"));
    let (status, body) = server
        .post_form_as(Some(&annotator), "/retrain", reference)
        .await;
    assert_refused(status, &body, 403, "forbidden");

    // Serving the rejected version needs force and a reason.
    let path = format!("/models/{candidate}/activate");
    let token = server.admin_token.clone();
    let (status, body) = post_raw(&server, &path, Some(&token), &[], "").await;
    assert_refused(status, &body, 400, "bad_request");
    assert!(body["detail"].as_str().unwrap().contains("force"), "{body}");
    let json = [("content-type", "application/json")];
    let (status, _) = post_raw(&server, &path, Some(&token), &json, r#"{"force":true}"#).await;
    assert_eq!(status, 400, "force without a reason");
    let (status, body) = post_raw(
        &server,
        &path,
        Some(&token),
        &json,
        r#"{"force":true,"reason":"radiologist reviewed the batch"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active_version"], candidate.as_str());
    let events = server.audit_events().await;
    let forced = events
        .iter()
        .find(|e| e["action"] == "model.force_activate" && e["outcome"] == "ok");
    assert_eq!(
        forced.map(|e| e["detail"].clone()),
        Some(Value::from("radiologist reviewed the batch")),
        "{events:#?}"
    );
}

/// The attack of issue 12 on real slices, on a server started the way the Render Blueprint starts it
/// (no training data): 120 uploads from the shipped model's validation split (slices it never
/// trained on), each labelled as the next class round, then a trigger. Most must be held for
/// review at upload; whatever gets through must not make a version that goes live by itself, and
/// the shipped model must keep answering.
#[tokio::test]
#[ignore = "needs the dataset: DATA_DIR=<dataset root> bash scripts/test-dataset.sh"]
async fn a_label_shifted_batch_of_real_slices_is_not_activated() {
    const CLASSES: [&str; 4] = ["glioma", "meningioma", "notumor", "pituitary"];
    let train = common::dataset_dir().join("train");
    let manifest = ml::ModelArtifact::read_manifest(&common::shipped_model_dir()).unwrap();
    let split = manifest
        .training
        .as_ref()
        .expect("the shipped model records its split");
    let all = ml::dataset::scan_class_folders(&train).unwrap();
    let (_, validation) =
        ml::dataset::stratified_split(&all, split.validation_fraction, split.config.seed);
    let server = TestServer::start().await;
    let (_, before) = server.get_json("/models").await;
    let shipped = before["active_version"].as_str().unwrap().to_owned();
    let (mut uploaded, mut held) = (0, 0);
    for (index, _) in CLASSES.iter().enumerate() {
        let wrong = CLASSES[(index + 1) % CLASSES.len()];
        let form = validation
            .iter()
            .filter(|image| image.label == index)
            .take(30)
            .fold(Form::new().text("class_name", wrong), |form, image| {
                let name = image
                    .path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                form.part(
                    "files",
                    file_part(std::fs::read(&image.path).unwrap(), &name),
                )
            });
        let (status, body) = server.post_form("/retrain", form).await;
        assert_eq!(status, 200, "{body}");
        uploaded += body["results"].as_array().unwrap().len();
        held += body["held"].as_u64().unwrap() as usize;
    }
    assert_eq!(uploaded, 120);
    let caught = held as f64 / uploaded as f64;
    println!(
        "label-shifted uploads held for review: {held} of {uploaded} ({:.1}%)",
        caught * 100.0
    );
    // The validation split measured 91.4% (README); a much lower share means the hold broke.
    assert!(caught >= 0.8, "only {held} of {uploaded} wrong labels held");

    let (status, started) = server
        .post_json("/retrain/trigger", r#"{"epochs":3,"fine_tune_epochs":1}"#)
        .await;
    if held == uploaded {
        assert_eq!(status, 400, "nothing is pending to train on: {started}");
    } else {
        assert_eq!(status, 202, "{started}");
        let finished = wait_for_session(&server, started["session_id"].as_i64().unwrap()).await;
        println!(
            "poisoning run with what got through: {}",
            finished["session"]["message"]
        );
        assert_eq!(finished["status"], "rejected", "{finished}");
    }
    let (_, after) = server.get_json("/models").await;
    assert_eq!(after["active_version"], shipped.as_str());
    let slice = &validation.last().unwrap().path;
    let form = Form::new().part(
        "file",
        file_part(std::fs::read(slice).unwrap(), "check.jpg"),
    );
    let (_, prediction) = server.post_form("/predict", form).await;
    assert_eq!(prediction["model_version"], shipped.as_str());
}

fn png(image: image::DynamicImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

#[tokio::test]
async fn useless_and_oversized_images_are_refused_with_the_reason() {
    let server = TestServer::start().await;
    let cases = [
        (
            "dot.png",
            png(image::DynamicImage::ImageLuma8(image::GrayImage::new(1, 1))),
            "too small",
        ),
        (
            "white.png",
            png(image::DynamicImage::ImageLuma8(
                image::GrayImage::from_pixel(512, 512, image::Luma([255])),
            )),
            "nearly uniform",
        ),
        (
            "black.png",
            png(image::DynamicImage::ImageLuma8(image::GrayImage::new(
                2048, 2048,
            ))),
            "nearly uniform",
        ),
    ];
    for (name, bytes, reason) in cases {
        let form = Form::new()
            .text("class_name", "glioma")
            .part("files", file_part(bytes, name));
        let (status, body) = server.post_form("/retrain", form).await;
        assert_eq!(status, 400, "{name}: {body}");
        let detail = body["results"][0]["reason"]
            .as_str()
            .unwrap_or_else(|| body["detail"].as_str().unwrap());
        assert!(detail.contains(reason), "{name}: {detail}");
    }
    // A header claiming 8192 x 8192 RGBA (256 MB decoded) is refused before any pixel is decoded.
    let bomb = ml::phantom::png_claiming(8_192, 8_192);
    let form = Form::new().part("file", file_part(bomb, "bomb.png"));
    let (status, body) = server.post_form("/predict", form).await;
    assert_refused(status, &body, 400, "bad_request");
    assert!(
        body["detail"].as_str().unwrap().contains("67.1 MP"),
        "{body}"
    );
    let (_, stats) = server.get_json("/database/stats").await;
    assert_eq!(
        stats["total_uploaded_images"], 0,
        "nothing useless was stored"
    );
}
