//! How the not-an-MRI check's settings trade the slices it must let through against the images it
//! must refuse, on one trained model: for each covariance shrinkage, with and without feature
//! normalisation, the threshold is set as `Trust::fit` sets it (99.5% of the validation slices and
//! of the same slices altered as other scanners deliver them), then the non-MRI set is scored.
//!
//!   cargo run --release -p ml --example non_mri_set -- /tmp/non-mri 40
//!   cargo run --release -p ml --example ood_sweep -- models ../shared/data/brain-tumor-mri/train /tmp/non-mri
//!
//! What it chose is `OodConfig::default()`.

use std::path::{Path, PathBuf};

use ml::dataset::{self, ImageCache, LabeledImage};
use ml::trust::{mri_threshold, OodConfig, OodDetector};
use ml::{Backend, ModelArtifact};

fn features(
    model: &ml::model::Model,
    cache: &ImageCache,
    preprocess: &ml::preprocess::PreprocessConfig,
    device: &burn::prelude::Device,
) -> (Vec<f32>, usize) {
    let computed =
        ml::train::features_and_logits(model, cache, preprocess, 32, device).expect("features");
    (computed.features, computed.feature_width)
}

/// A kind of the non-MRI folder holding `ml::phantom` slices, reported on its own.
const PHANTOM_KIND: &str = "phantom";

fn main() {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [model_dir, data, non_mri] = args.as_slice() else {
        eprintln!("usage: ood_sweep MODEL_DIR DATA_DIR NON_MRI_DIR");
        std::process::exit(2);
    };
    let device = Backend::Cpu.device().expect("cpu");
    let (model, manifest) = ModelArtifact::load(model_dir, &device).expect("model");
    let model = model.fold_batch_norms();
    let preprocess = manifest.preprocess;
    let training = manifest.training.as_ref().expect("recorded split");
    let items = dataset::scan_class_folders(data).expect("dataset");
    let (train_items, validation_items) =
        dataset::stratified_split(&items, training.validation_fraction, training.config.seed);
    let (train, _) = dataset::build_cache(&train_items, &preprocess, &|_| {});
    let (validation, _) = dataset::build_cache(&validation_items, &preprocess, &|_| {});
    let altered =
        ml::scanner_variation::altered_cache(&validation_items, &preprocess, training.config.seed);
    let mut kinds: Vec<(String, ImageCache)> = Vec::new();
    let mut kind_dirs: Vec<PathBuf> = std::fs::read_dir(non_mri)
        .expect("non-MRI dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    kind_dirs.sort();
    for dir in kind_dirs {
        let mut files: Vec<LabeledImage> = std::fs::read_dir(&dir)
            .expect("kind dir")
            .filter_map(Result::ok)
            .map(|e| LabeledImage {
                path: e.path(),
                label: 0,
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let (cache, _) = dataset::build_cache(&files, &preprocess, &|_| {});
        kinds.push((name_of(&dir), cache));
    }
    let mut phantoms = ImageCache {
        size: preprocess.input_size,
        ..Default::default()
    };
    for variant in 0..32 {
        let bytes = ml::phantom::slice_jpeg(variant, 512).expect("phantom");
        let decoded = ml::preprocess::decode(&bytes).expect("decodes");
        phantoms.push(&ml::preprocess::prepare(&decoded, &preprocess), 0);
    }
    kinds.push((PHANTOM_KIND.to_owned(), phantoms));
    let started = std::time::Instant::now();
    let (train_features, width) = features(&model, &train, &preprocess, &device);
    let (validation_features, _) = features(&model, &validation, &preprocess, &device);
    let (altered_features, _) = features(&model, &altered, &preprocess, &device);
    let kind_features: Vec<(String, Vec<f32>)> = kinds
        .iter()
        .map(|(name, cache)| {
            (
                name.clone(),
                features(&model, cache, &preprocess, &device).0,
            )
        })
        .collect();
    eprintln!(
        "features of {} images in {:.0}s",
        train.len()
            + validation.len()
            + altered.len()
            + kinds.iter().map(|(_, c)| c.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );

    println!("| normalise | shrinkage | threshold | validation pass | altered pass | non-MRI refused | lowest kind | phantoms refused |");
    println!("|---|---|---|---|---|---|---|---|");
    for normalise in [false, true] {
        for shrinkage in [0.05, 0.2, 0.5, 0.8] {
            let config = OodConfig {
                shrinkage,
                normalise,
            };
            let detector =
                OodDetector::fit_with(&train_features, width, &train.labels, config).expect("fit");
            let distances = |rows: &[f32]| -> Vec<f32> {
                rows.chunks(width)
                    .map(|row| detector.distance(row))
                    .collect()
            };
            let validation_distances = distances(&validation_features);
            let altered_distances = distances(&altered_features);
            let threshold = mri_threshold(&[&validation_distances, &altered_distances]);
            let pass = |d: &[f32]| {
                d.iter().filter(|&&x| x <= threshold).count() as f64 / d.len().max(1) as f64
            };
            let (mut refused, mut total) = (0usize, 0usize);
            let mut lowest = (String::new(), 2.0f64);
            let mut phantoms = String::from("-");
            for (name, rows) in &kind_features {
                let d = distances(rows);
                let kind_refused = d.iter().filter(|&&x| x > threshold).count();
                // Drawn heads (what the load test sends) are reported apart: not refusing them is
                // a convenience for tests, not a safety requirement.
                if name == PHANTOM_KIND {
                    phantoms = format!("{kind_refused} of {}", d.len());
                    continue;
                }
                refused += kind_refused;
                total += d.len();
                let share = kind_refused as f64 / d.len().max(1) as f64;
                if share < lowest.1 {
                    lowest = (name.clone(), share);
                }
            }
            println!(
                "| {normalise} | {shrinkage} | {threshold:.3} | {:.2}% | {:.2}% | {:.1}% of {total} | {} {:.1}% | {phantoms} |",
                pass(&validation_distances) * 100.0,
                pass(&altered_distances) * 100.0,
                refused as f64 / total.max(1) as f64 * 100.0,
                lowest.0,
                lowest.1 * 100.0,
            );
        }
    }
}

fn name_of(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
