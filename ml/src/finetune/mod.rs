//! Retraining a shipped or earlier model on newly labelled images: scored on a held-out set before
//! and after, trained on the new images mixed with replayed original ones (so it does not forget),
//! and written as a new model version atomically.

use std::path::Path;

use burn::prelude::*;

pub mod data;

use crate::artifact::{
    write_version, Existing, Manifest, ModelArtifact, TrainingRecord, PARTIAL_EXTENSION,
};
use crate::dataset::ImageCache;
use crate::metrics::EvaluationReport;
use crate::model::Architecture;
use crate::train::{evaluate, train, EpochRecord, TrainConfig, TrainingObserver};
use crate::trust::Trust;
use crate::{MlError, MlResult};

pub struct FineTuneRequest<'a> {
    /// The model to start from (a directory with its manifest and weights).
    pub base_dir: &'a Path,
    /// Where the new version is written; it appears there complete or not at all.
    pub out_dir: &'a Path,
    pub version: &'a str,
    /// Preprocessed with the base model's preprocessing (its manifest's `preprocess`).
    pub train_images: &'a ImageCache,
    pub validation_images: &'a ImageCache,
    /// Epochs at the full fine-tuning learning rate, then `fine_tune_epochs` more as the cosine
    /// schedule decays towards its floor.
    pub epochs: usize,
    pub fine_tune_epochs: usize,
    /// The peak rate; `None` takes a tenth of the base architecture's from-scratch peak (weights
    /// that are already trained need small steps: for the CNN, 1e-3 instead of 3e-4 cost 0.7
    /// points of validation accuracy on a 3+1 epoch run on 100 uploads).
    pub learning_rate: Option<f64>,
    pub seed: u64,
    /// Where the training images came from, recorded in the manifest.
    pub data_description: String,
}

pub struct FineTuneOutcome {
    pub before: EvaluationReport,
    pub after: EvaluationReport,
    pub history: Vec<EpochRecord>,
    pub manifest: Manifest,
    /// Set when the new version keeps its base model's trust check because its own images could
    /// not support a fit (too few, or a class missing), saying why.
    pub trust_note: Option<String>,
}

/// Runs the whole retraining on `device` (a CPU or GPU device; autodiff is added here).
pub fn fine_tune(
    request: &FineTuneRequest<'_>,
    device: &Device,
    observer: &mut dyn TrainingObserver,
) -> MlResult<FineTuneOutcome> {
    if request.epochs + request.fine_tune_epochs == 0 {
        return Err(MlError::Training("at least one epoch is needed".into()));
    }
    let (base_model, base_manifest) = ModelArtifact::load(request.base_dir, device)?;
    if request.train_images.size != base_manifest.preprocess.input_size {
        return Err(MlError::Training(format!(
            "images were preprocessed at {} px but the model expects {} px",
            request.train_images.size, base_manifest.preprocess.input_size
        )));
    }
    let before = evaluate(
        &base_model,
        request.validation_images,
        &base_manifest.preprocess,
        base_manifest.temperature,
        32,
        device,
    )?
    .report;
    drop(base_model);

    let autodiff = device.clone().autodiff();
    autodiff.seed(request.seed);
    let (model, _) = ModelArtifact::load_trainable(request.base_dir, &autodiff)?;
    let epochs = request.epochs + request.fine_tune_epochs;
    // The recipe the base architecture was trained with (its optimizer and augmentation), but the
    // weights are already trained: no warm-up, and every epoch runs (the best one is kept).
    let recipe = match base_manifest.architecture {
        Architecture::Cnn => TrainConfig::default(),
        Architecture::EfficientNetLite0 => TrainConfig::lite0_recipe(),
    };
    let config = TrainConfig {
        epochs,
        learning_rate: request.learning_rate.unwrap_or(recipe.learning_rate / 10.0),
        warmup_epochs: 0.0,
        warmup_steps: None,
        patience: epochs,
        seed: request.seed,
        ..recipe
    };
    let outcome = train(
        model,
        request.train_images,
        request.validation_images,
        &base_manifest.preprocess,
        &config,
        &autodiff,
        observer,
        None,
    )?;

    let manifest = Manifest::after_training(
        base_manifest.shape(),
        TrainingRecord {
            version: request.version,
            data_description: request.data_description.clone(),
            train_images: request.train_images,
            validation_images: request.validation_images,
            validation_fraction: 0.0,
            split: base_manifest.dataset_split(),
            skipped_images: 0,
            config,
            backend: format!("{device:?}"),
        },
        &outcome,
    );
    let (trust, trust_note) = match Trust::fit(
        &outcome.model.valid(),
        request.train_images,
        request.validation_images,
        None,
        &base_manifest.preprocess,
        outcome.temperature,
        device,
    ) {
        Ok(trust) => (Some(trust), None),
        Err(error) => (
            Trust::load(request.base_dir)?,
            Some(format!(
                "the trust check was not refitted ({error}); the base model's is kept"
            )),
        ),
    };
    write_version(
        request.out_dir,
        &outcome.model,
        &manifest,
        trust.as_ref(),
        Existing::Refuse,
    )?;
    Ok(FineTuneOutcome {
        before,
        after: outcome.validation,
        history: outcome.history,
        manifest,
        trust_note,
    })
}

/// Removes the `.partial` directories that [`write_version`] leaves behind when the process dies
/// mid-write (never complete models); answers how many were removed. A missing store is empty.
pub fn remove_partial_versions(store: &Path) -> MlResult<usize> {
    let entries = match std::fs::read_dir(store) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(MlError::io(store, error)),
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry.map_err(|e| MlError::io(store, e))?.path();
        if path.is_dir() && path.extension().is_some_and(|ext| ext == PARTIAL_EXTENSION) {
            std::fs::remove_dir_all(&path).map_err(|e| MlError::io(&path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}
