//! The whole pipeline on generated images, in seconds: train, save, load, predict.

use ml::artifact::{Manifest, ModelArtifact, MANIFEST_FILE};
use ml::dataset::ImageCache;
use ml::model::{Architecture, ModelConfig};
use ml::preprocess::PreprocessConfig;
use ml::rng::Rng;
use ml::train::{self, Silent, TrainConfig};
use ml::{Backend, Classifier, MlError};

const SIZE: usize = 32;

/// One easy, distinct pattern per class plus noise: a blob on the left, a blob on the right, nothing,
/// a horizontal bar.
fn synthetic_image(label: usize, rng: &mut Rng) -> Vec<u8> {
    let (cx, cy) = (rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0));
    (0..SIZE * SIZE)
        .map(|i| {
            let (x, y) = ((i % SIZE) as f32, (i / SIZE) as f32);
            let blob = |bx: f32, by: f32| (x - bx - cx).powi(2) + (y - by - cy).powi(2) < 30.0;
            let on = match label {
                0 => blob(9.0, 16.0),
                1 => blob(23.0, 16.0),
                2 => false,
                _ => (y - 16.0 - cy).abs() < 3.0 && (4.0..28.0).contains(&x),
            };
            let noise = rng.uniform(0.0, 40.0);
            (if on { 180.0 } else { 30.0 } + noise) as u8
        })
        .collect()
}

fn synthetic_cache(per_class: usize, seed: u64) -> ImageCache {
    let mut rng = Rng::new(seed);
    let mut cache = ImageCache {
        size: SIZE,
        ..Default::default()
    };
    for i in 0..per_class * 4 {
        let label = i % 4;
        cache.push(&synthetic_image(label, &mut rng), label);
    }
    cache
}

/// `epochs` over batches of `batch_size`, with early stopping out of the way.
fn config_of(epochs: usize, batch_size: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        patience: 10,
        ..TrainConfig::default()
    }
}

/// An uninterrupted run on `SIZE`-pixel images that reports nothing.
fn train_quietly(
    model: ml::model::Model,
    train_images: &ImageCache,
    validation_images: &ImageCache,
    config: &TrainConfig,
    device: &burn::tensor::Device,
) -> train::TrainingOutcome {
    train::train(
        model,
        train_images,
        validation_images,
        &PreprocessConfig::new(SIZE),
        config,
        device,
        &mut Silent,
        None,
    )
    .unwrap()
}

fn train_tiny() -> (ml::model::Model, Manifest, f64) {
    let device = Backend::Cpu.device().unwrap().autodiff();
    device.seed(7);
    let model_config = ModelConfig::new()
        .with_widths([8, 16, 16, 32])
        .with_dropout(0.0);
    let model = Architecture::Cnn.init(&model_config, &device);
    let parameters = model.parameter_count();
    let train_images = synthetic_cache(40, 1);
    let validation_images = synthetic_cache(12, 2);
    let preprocess = PreprocessConfig::new(SIZE);
    let config = config_of(6, 16);
    let outcome = train_quietly(model, &train_images, &validation_images, &config, &device);
    assert!(!outcome.history.is_empty());
    let mut manifest = Manifest::new(
        "test",
        preprocess,
        Architecture::Cnn,
        model_config,
        parameters,
    );
    manifest.temperature = outcome.temperature;
    (outcome.model, manifest, outcome.validation.accuracy)
}

/// `expected` and `actual` give the same class and probabilities (summing to 1) on `images` generated
/// slices, one of each class in turn.
fn assert_predict_identically(expected: &Classifier, actual: &Classifier, images: usize) {
    let mut rng = Rng::new(99);
    let mut inputs = Vec::new();
    for label in (0..4).cycle().take(images) {
        let pixels = synthetic_image(label, &mut rng);
        let mut normalised = vec![0.0; pixels.len()];
        ml::preprocess::normalise_into(&pixels, &expected.manifest().preprocess, &mut normalised);
        inputs.extend(normalised);
    }
    let expected = expected.predict_inputs(inputs.clone()).unwrap();
    let actual = actual.predict_inputs(inputs).unwrap();
    assert_eq!(expected.len(), images);
    for (e, a) in expected.iter().zip(&actual) {
        let (e, a) = (e.as_ref().unwrap(), a.as_ref().unwrap());
        assert_eq!(e.predicted_class, a.predicted_class);
        for ((_, pe), (_, pa)) in e.probabilities.iter().zip(&a.probabilities) {
            assert!((pe - pa).abs() < 1e-5, "{pe} vs {pa}");
        }
        let total: f32 = a.probabilities.iter().map(|(_, p)| p).sum();
        assert!((total - 1.0).abs() < 1e-4);
    }
}

/// Writes `manifest` beside the weights in `dir`: loading must refuse the pair as a mismatch.
fn assert_refused_with(dir: &std::path::Path, manifest: &ml::artifact::Manifest) {
    std::fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_string(manifest).unwrap(),
    )
    .unwrap();
    let error = Classifier::load(dir, Backend::Cpu.device().unwrap())
        .err()
        .expect("the mismatch is detected");
    assert!(matches!(error, MlError::ModelMismatch { .. }), "{error}");
}

#[test]
fn tiny_training_learns_then_save_and_load_predict_identically() {
    let (model, manifest, accuracy) = train_tiny();
    assert!(
        accuracy > 0.6,
        "validation accuracy {accuracy} is not well above chance (0.25)"
    );

    let dir = tempfile::tempdir().unwrap();
    ModelArtifact::save(dir.path(), &model, &manifest).unwrap();
    let device = Backend::Cpu.device().unwrap();
    let in_memory = Classifier::from_parts(model, manifest.clone(), device.clone());
    let loaded = Classifier::load(dir.path(), device).unwrap();
    assert_eq!(loaded.manifest(), &manifest);

    assert_predict_identically(&in_memory, &loaded, 4);

    // A manifest describing a different network is refused with a clear message.
    let mut altered = manifest.clone();
    altered.model = altered.model.with_widths([8, 16, 16, 64]);
    assert_refused_with(dir.path(), &altered);
}

#[test]
fn missing_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = Classifier::load(&dir.path().join("nothing"), Backend::Cpu.device().unwrap())
        .err()
        .unwrap();
    assert!(matches!(error, MlError::ModelMissing { .. }));
    assert!(error.to_string().contains("no model found"), "{error}");
}

#[test]
fn a_trust_check_fitted_for_another_network_is_refused_at_load() {
    let device = Backend::Cpu.device().unwrap();
    let config = ModelConfig::new().with_widths([4, 8, 8, 16]);
    let model = Architecture::Cnn.init(&config, &device);
    let parameters = model.parameter_count();
    let manifest = Manifest::new(
        "t",
        PreprocessConfig::new(32),
        Architecture::Cnn,
        config,
        parameters,
    );
    let dir = tempfile::tempdir().unwrap();
    ModelArtifact::save(dir.path(), &model, &manifest).unwrap();
    // A consistent check of 3-wide features, beside a network whose head reads 16.
    let labels: Vec<usize> = (0..40).map(|i| i % 4).collect();
    let features: Vec<f32> = (0..40 * 3)
        .map(|i| (i % 7) as f32 + (i % 3) as f32 * 0.1)
        .collect();
    let mut ood = ml::trust::OodDetector::fit(&features, 3, &labels).unwrap();
    ood.threshold = 1.5;
    let (bins, ece) = ml::trust::reliability(&[]);
    let trust = ml::trust::Trust {
        ood,
        review_threshold: 0.9,
        report: ml::trust::TrustReport {
            validation_images: 0,
            mri_pass_rate: 1.0,
            altered_pass_rate: None,
            flagged_share: 0.0,
            unflagged_accuracy: 1.0,
            ece_uncalibrated: ece,
            ece_calibrated: ece,
            reliability_uncalibrated: bins.clone(),
            reliability_calibrated: bins,
        },
        drift_baseline: None,
    };
    trust.save(dir.path()).unwrap();
    let error = Classifier::load(dir.path(), device).err().unwrap();
    assert!(matches!(error, MlError::ModelMismatch { .. }), "{error}");
    assert!(error.to_string().contains("3-wide features"), "{error}");
}

#[test]
fn fine_tuning_writes_a_new_version_scored_before_and_after() {
    let (model, manifest, _) = train_tiny();
    let root = tempfile::tempdir().unwrap();
    let base = root.path().join("base");
    ModelArtifact::save(&base, &model, &manifest).unwrap();
    let out = root.path().join("v2");
    let request = ml::finetune::FineTuneRequest {
        base_dir: &base,
        out_dir: &out,
        version: "v2",
        train_images: &synthetic_cache(10, 5),
        validation_images: &synthetic_cache(6, 6),
        epochs: 1,
        fine_tune_epochs: 1,
        learning_rate: Some(1e-3),
        seed: 3,
        data_description: "synthetic".into(),
    };
    let outcome =
        ml::finetune::fine_tune(&request, &Backend::Cpu.device().unwrap(), &mut Silent).unwrap();
    assert_eq!(outcome.history.len(), 2);
    assert_eq!(outcome.before.images, 24);
    assert_eq!(outcome.after.images, 24);
    assert!(outcome.after.accuracy > 0.5, "{}", outcome.after.accuracy);
    let loaded = Classifier::load(&out, Backend::Cpu.device().unwrap()).unwrap();
    assert_eq!(loaded.version(), "v2");
    assert_eq!(loaded.manifest().history.len(), 2);
    assert!(!root.path().join("v2.partial").exists());

    // Versions are never overwritten.
    let again = ml::finetune::fine_tune(&request, &Backend::Cpu.device().unwrap(), &mut Silent);
    assert!(again.is_err());
}

/// EfficientNet-Lite0 goes through the same pipeline: a short training run, saved with its
/// architecture in the manifest, loaded back as that architecture, predicting identically; a
/// manifest naming the other architecture does not load its weights.
#[test]
fn an_efficientnet_lite_model_trains_saves_and_loads_as_itself() {
    let device = Backend::Cpu.device().unwrap().autodiff();
    device.seed(11);
    let model_config = ModelConfig::new().with_dropout(0.0);
    let model = Architecture::EfficientNetLite0.init(&model_config, &device);
    assert_eq!(model.architecture(), Architecture::EfficientNetLite0);
    let preprocess = PreprocessConfig::new(SIZE);
    let config = config_of(1, 8);
    let outcome = train_quietly(
        model,
        &synthetic_cache(4, 1),
        &synthetic_cache(2, 2),
        &config,
        &device,
    );
    let parameters = outcome.model.parameter_count();
    let manifest = Manifest::new(
        "lite",
        preprocess,
        Architecture::EfficientNetLite0,
        model_config,
        parameters,
    );
    let dir = tempfile::tempdir().unwrap();
    ModelArtifact::save(dir.path(), &outcome.model, &manifest).unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap())
            .unwrap();
    assert_eq!(saved["architecture"], "efficientnet-lite0");

    let cpu = Backend::Cpu.device().unwrap();
    let in_memory = Classifier::from_parts(outcome.model, manifest.clone(), cpu.clone());
    let loaded = Classifier::load(dir.path(), cpu).unwrap();
    assert_predict_identically(&in_memory, &loaded, 4);

    // The CNN cannot take Lite0's weights.
    let mut as_cnn = manifest;
    as_cnn.architecture = Architecture::Cnn;
    assert_refused_with(dir.path(), &as_cnn);
}

/// A run cut off after its first epoch and resumed from the checkpoint ends where an uninterrupted
/// run of the same command ends: same history, same weights.
#[test]
fn a_resumed_run_continues_from_its_last_saved_epoch() {
    let train_images = synthetic_cache(10, 1);
    let validation_images = synthetic_cache(4, 2);
    let preprocess = PreprocessConfig::new(SIZE);
    let config = config_of(2, 8);
    let model_config = ModelConfig::new()
        .with_widths([4, 8, 8, 8])
        .with_dropout(0.0);
    // One initial network for every run, each its own copy read from a file: the device's random
    // seed is shared with the tests running in parallel, and a module's clone shares its batch-norm
    // running statistics with the original.
    let device = Backend::Cpu.device().unwrap().autodiff();
    let weights_dir = tempfile::tempdir().unwrap();
    let initial = weights_dir.path().join("initial.bpk");
    Architecture::Cnn
        .init(&model_config, &device)
        .save_weights(&initial, ml::model::Precision::Full)
        .unwrap();
    // Trains a fresh copy of the initial network with `config`.
    let run = |config: &TrainConfig,
               observer: &mut dyn train::TrainingObserver,
               checkpoint: Option<&ml::checkpoint::Checkpoint>| {
        let model = Architecture::Cnn
            .init(&model_config, &device)
            .load_weights(&initial)
            .unwrap();
        train::train(
            model,
            &train_images,
            &validation_images,
            &preprocess,
            config,
            &device,
            observer,
            checkpoint,
        )
    };
    let straight = run(&config, &mut Silent, None).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let checkpoint = ml::checkpoint::Checkpoint::new(dir.path().join("run"));
    // "Cut off" after epoch 1: a stop request the moment epoch 2 starts.
    struct StopAfterFirstEpoch(bool);
    impl train::TrainingObserver for StopAfterFirstEpoch {
        fn on_epoch(&mut self, _: &train::EpochRecord, _: bool) {
            self.0 = true;
        }
        fn should_stop(&self) -> bool {
            self.0
        }
    }
    let cut = run(&config, &mut StopAfterFirstEpoch(false), Some(&checkpoint)).unwrap();
    assert_eq!(cut.history.len(), 1);
    assert_eq!(checkpoint.latest().unwrap().unwrap().state.epochs_done, 1);

    // Only the second epoch's batches run again.
    struct CountBatches(Vec<usize>);
    impl train::TrainingObserver for CountBatches {
        fn on_batch(&mut self, progress: &train::BatchProgress) {
            self.0.push(progress.epoch);
        }
    }
    let mut batches = CountBatches(Vec::new());
    let resumed = run(&config, &mut batches, Some(&checkpoint)).unwrap();
    assert_eq!(batches.0, vec![2; train_images.len().div_ceil(8)]);
    assert_eq!(resumed.history.len(), 2);
    // Everything but the wall time, epoch by epoch (rounded: sums may run in another order).
    let measured = |outcome: &train::TrainingOutcome| {
        outcome
            .history
            .iter()
            .map(|r| {
                [r.train_loss, r.validation_loss, r.validation_accuracy]
                    .map(|value| (value * 1e5).round() as i64)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(measured(&resumed), measured(&straight));

    // Another command on the same checkpoint is refused rather than mixed in.
    let other = TrainConfig {
        epochs: 3,
        ..config.clone()
    };
    let error = run(&other, &mut Silent, Some(&checkpoint))
        .err()
        .expect("a different run");
    assert!(error.to_string().contains("other settings"), "{error}");
}

#[test]
fn a_distilled_student_follows_its_teacher_over_the_labels() {
    // A teacher that reads every empty slice as a bar and the reverse (a swap that horizontal
    // flips cannot blur, unlike left and right blobs): with the whole loss on the teacher, the
    // student must learn the teacher's view, not the training labels'. Validation is scored
    // against the teacher's view, so the best epoch is the one that learned it.
    let teacher_class = |label: usize| match label {
        2 => 3,
        3 => 2,
        other => other,
    };
    let mut train_images = synthetic_cache(40, 1);
    for &label in &train_images.labels.clone() {
        let mut logits = [0.0f32; 4];
        logits[teacher_class(label)] = 8.0;
        train_images.teacher_logits.extend(logits);
    }
    let mut validation_images = synthetic_cache(12, 2);
    for label in &mut validation_images.labels {
        *label = teacher_class(*label);
    }
    let device = Backend::Cpu.device().unwrap().autodiff();
    device.seed(7);
    let model_config = ModelConfig::new()
        .with_widths([8, 16, 16, 32])
        .with_dropout(0.0);
    let config = TrainConfig {
        distillation: Some(train::Distillation {
            weight: 1.0,
            temperature: 1.0,
        }),
        ..config_of(6, 16)
    };
    let outcome = train_quietly(
        Architecture::Cnn.init(&model_config, &device),
        &train_images,
        &validation_images,
        &config,
        &device,
    );
    let matrix = &outcome.validation.confusion_matrix.0;
    let (as_teacher, as_label) = (matrix[2][2] + matrix[3][3], matrix[2][3] + matrix[3][2]);
    assert!(
        as_teacher >= 20 && as_label <= 2,
        "empty and bar slices read the teacher's way {as_teacher} times, the labels' way {as_label}"
    );
}
