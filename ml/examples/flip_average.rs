//! What test-time flips would give (issue 29): the validation split scored as served, then with
//! the softmax averaged over the slice and its mirror image, with the cost of the second forward.
//!
//!   cargo run --release -p ml --example flip_average -- models ../shared/data/brain-tumor-mri/train

use std::path::PathBuf;

use ml::dataset::{self, ImageCache};
use ml::{Backend, ModelArtifact, CLASS_NAMES};

/// Accuracy, per-class recall and mean negative log-likelihood of probability rows.
fn score(probabilities: &[Vec<f32>], labels: &[usize]) -> (f64, Vec<f64>, f64) {
    let classes = CLASS_NAMES.len();
    let (mut right, mut per_class_right, mut per_class) = (0, vec![0; classes], vec![0; classes]);
    let mut loss = 0.0;
    for (row, &label) in probabilities.iter().zip(labels) {
        let best = (0..classes)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0);
        per_class[label] += 1;
        if best == label {
            right += 1;
            per_class_right[label] += 1;
        }
        loss -= f64::from(row[label].max(1e-7)).ln();
    }
    let recall = per_class_right
        .iter()
        .zip(&per_class)
        .map(|(&r, &n)| r as f64 / n.max(1) as f64)
        .collect();
    (
        right as f64 / labels.len().max(1) as f64,
        recall,
        loss / labels.len().max(1) as f64,
    )
}

fn main() {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [model_dir, data] = args.as_slice() else {
        eprintln!("usage: flip_average MODEL_DIR DATA_DIR");
        std::process::exit(2);
    };
    let device = Backend::Cpu.device().expect("cpu");
    let (model, manifest) = ModelArtifact::load(model_dir, &device).expect("model");
    let model = model.fold_batch_norms();
    let preprocess = manifest.preprocess;
    let training = manifest.training.as_ref().expect("recorded split");
    let items = dataset::scan_class_folders(data).expect("dataset");
    let (_, validation_items) =
        dataset::stratified_split(&items, training.validation_fraction, training.config.seed);
    let (validation, _) = dataset::build_cache(&validation_items, &preprocess, &|_| {});
    let size = validation.size;
    let mut mirrored = ImageCache {
        size,
        ..Default::default()
    };
    for index in 0..validation.len() {
        let image = validation.image(index);
        let flipped: Vec<u8> = image
            .chunks(size)
            .flat_map(|row| row.iter().rev().copied())
            .collect();
        mirrored.push(&flipped, validation.labels[index]);
    }
    let logits = |cache: &ImageCache| {
        let started = std::time::Instant::now();
        let computed = ml::train::features_and_logits(&model, cache, &preprocess, 32, &device)
            .expect("logits");
        (computed.logits, started.elapsed().as_secs_f64())
    };
    let (plain, plain_seconds) = logits(&validation);
    let (flipped, flipped_seconds) = logits(&mirrored);
    let classes = CLASS_NAMES.len();
    let temperature = manifest.temperature;
    let plain_probabilities: Vec<Vec<f32>> = plain
        .chunks(classes)
        .map(|row| ml::train::softmax_row(row, temperature))
        .collect();
    let averaged: Vec<Vec<f32>> = plain
        .chunks(classes)
        .zip(flipped.chunks(classes))
        .map(|(a, b)| {
            ml::train::softmax_row(a, temperature)
                .iter()
                .zip(ml::train::softmax_row(b, temperature))
                .map(|(x, y)| (x + y) / 2.0)
                .collect()
        })
        .collect();
    println!(
        "| | accuracy | recall glioma / meningioma / no tumour / pituitary | loss | forward time |"
    );
    println!("|---|---|---|---|---|");
    for (name, rows, seconds) in [
        ("as served", &plain_probabilities, plain_seconds),
        (
            "averaged with the mirror image",
            &averaged,
            plain_seconds + flipped_seconds,
        ),
    ] {
        let (accuracy, recall, loss) = score(rows, &validation.labels);
        let recall: Vec<String> = recall.iter().map(|r| format!("{r:.3}")).collect();
        println!(
            "| {name} | {:.2}% | {} | {loss:.4} | {seconds:.1} s for {} slices |",
            accuracy * 100.0,
            recall.join(" / "),
            validation.len()
        );
    }
}
