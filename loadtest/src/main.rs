//! The original service's Locust scenario, written with goose (Locust's Rust counterpart): each
//! simulated radiologist predicts single images (weight 3), checks `/health` (1) and `/uptime` (1)
//! and sends a batch (1), pausing between requests.
//!
//! Goose's own flags choose the load (`--host`, `--users`, `--hatch-rate`, `--run-time`,
//! `--report-file x.md|x.html|x.json`); these environment variables shape the scenario:
//! - `DATA_DIR`: take the images from the dataset's class folders (else generated MRI-like slices);
//! - `LOADTEST_WAIT_MS`: the pause between a user's requests, `min-max` (default `100-300`);
//! - `LOADTEST_BATCH_SIZE`: images per batch request (default 4);
//! - `LOADTEST_SUMMARY`: where to write a JSON summary (throughput, percentiles, server memory).

mod summary;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use goose::prelude::*;
use reqwest::multipart::{Form, Part};

/// The images users send, loaded once: `(file name, JPEG bytes)`.
static IMAGES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
/// Spreads requests over the images in turn.
static NEXT_IMAGE: AtomicUsize = AtomicUsize::new(0);

const IMAGES_PER_CLASS: usize = 12;

fn load_images() -> Vec<(String, Vec<u8>)> {
    if let Some(root) = std::env::var_os("DATA_DIR") {
        let root = Path::new(&root);
        let root = if root.join("train").is_dir() {
            root.join("train")
        } else {
            root.to_path_buf()
        };
        let mut images = Vec::new();
        for class in domain::CLASS_NAMES {
            let Ok(entries) = std::fs::read_dir(root.join(class)) else {
                continue;
            };
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths.into_iter().take(IMAGES_PER_CLASS) {
                if let Ok(bytes) = std::fs::read(&path) {
                    let name = path.file_name().map_or_else(
                        || "slice.jpg".to_owned(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    images.push((name, bytes));
                }
            }
        }
        if !images.is_empty() {
            eprintln!("load test: {} images from {}", images.len(), root.display());
            return images;
        }
        eprintln!(
            "load test: no images under {}; generating slices",
            root.display()
        );
    }
    (0..IMAGES_PER_CLASS as u32 * 4)
        .map(|variant| {
            (
                format!("phantom-{variant}.jpg"),
                synthetic::phantom::slice_jpeg(variant, 512)
                    .expect("encoding an in-memory image cannot fail"),
            )
        })
        .collect()
}

fn next_image() -> (String, Vec<u8>) {
    let images = IMAGES.get_or_init(load_images);
    images[NEXT_IMAGE.fetch_add(1, Ordering::Relaxed) % images.len()].clone()
}

fn image_part((name, bytes): (String, Vec<u8>)) -> Result<Part, Box<TransactionError>> {
    Part::bytes(bytes)
        .file_name(name)
        .mime_str("image/jpeg")
        .map_err(|e| Box::new(TransactionError::Reqwest(e)))
}

async fn post_form(user: &mut GooseUser, path: &str, name: &str, form: Form) -> TransactionResult {
    let builder = user
        .get_request_builder(&GooseMethod::Post, path)?
        .multipart(form);
    let request = GooseRequest::builder()
        .method(GooseMethod::Post)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    user.request(request).await?;
    Ok(())
}

async fn predict(user: &mut GooseUser) -> TransactionResult {
    let form = Form::new().part("file", image_part(next_image())?);
    post_form(user, "/predict", "/predict", form).await
}

async fn predict_batch(user: &mut GooseUser) -> TransactionResult {
    let mut form = Form::new();
    for _ in 0..summary::batch_size() {
        form = form.part("files", image_part(next_image())?);
    }
    post_form(user, "/predict/batch", "/predict/batch", form).await
}

async fn health(user: &mut GooseUser) -> TransactionResult {
    user.get_named("/health", "/health").await?;
    Ok(())
}

async fn uptime(user: &mut GooseUser) -> TransactionResult {
    user.get_named("/uptime", "/uptime").await?;
    Ok(())
}

/// `LOADTEST_WAIT_MS` as `min-max` milliseconds.
fn wait_time() -> (Duration, Duration) {
    let spec = std::env::var("LOADTEST_WAIT_MS").unwrap_or_else(|_| "100-300".into());
    let mut bounds = spec.split('-').map(|n| n.trim().parse::<u64>());
    match (bounds.next(), bounds.next()) {
        (Some(Ok(min)), Some(Ok(max))) if min <= max => {
            (Duration::from_millis(min), Duration::from_millis(max))
        }
        _ => {
            eprintln!("load test: LOADTEST_WAIT_MS={spec:?} is not min-max; using 100-300");
            (Duration::from_millis(100), Duration::from_millis(300))
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), GooseError> {
    // Generate or read the images before the clock starts.
    let images = IMAGES.get_or_init(load_images).len();
    let (min_wait, max_wait) = wait_time();
    let radiologist = scenario!("Radiologist")
        .set_wait_time(min_wait, max_wait)?
        .register_transaction(transaction!(predict).set_name("predict").set_weight(3)?)
        .register_transaction(transaction!(health).set_name("health").set_weight(1)?)
        .register_transaction(transaction!(uptime).set_name("uptime").set_weight(1)?)
        .register_transaction(
            transaction!(predict_batch)
                .set_name("predict batch")
                .set_weight(1)?,
        );
    let metrics = GooseAttack::initialize()?
        .register_scenario(radiologist)
        .set_default(GooseDefault::Host, "http://127.0.0.1:8000")?
        .execute()
        .await?;
    let host = std::env::args()
        .skip_while(|a| a != "--host" && a != "-H")
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8000".into());
    let summary =
        summary::Summary::from_metrics(&metrics, images, (min_wait, max_wait), &host).await;
    summary.print();
    if let Ok(path) = std::env::var("LOADTEST_SUMMARY") {
        let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
        if let Err(error) = std::fs::write(&path, json) {
            eprintln!("load test: cannot write {path}: {error}");
        }
    }
    Ok(())
}
