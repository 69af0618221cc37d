//! The model on disk: Burn weights (`model.bpk`) plus a JSON manifest that says how to use them.
//! Together they are the artifact; loading refuses a pair that does not agree.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classes::CLASS_NAMES;
use crate::dataset::ImageCache;
use crate::metrics::EvaluationReport;
use crate::model::{Architecture, Model, ModelConfig};
use crate::preprocess::PreprocessConfig;
use crate::train::{EpochRecord, TrainConfig, TrainingOutcome};
use crate::trust::Trust;
use crate::{MlError, MlResult};

pub const MANIFEST_FILE: &str = "manifest.json";
pub const WEIGHTS_FILE: &str = "model.bpk";
pub const FORMAT_VERSION: u32 = 1;

/// What produced the weights, for people and for reproducing them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    pub data_dir: String,
    pub train_images: usize,
    pub validation_images: usize,
    pub validation_fraction: f64,
    pub class_counts: Vec<usize>,
    pub skipped_images: usize,
    pub config: TrainConfig,
    pub backend: String,
    pub best_epoch: usize,
    pub seconds: f64,
    pub images_per_second: f64,
}

/// How the original dataset was split into training and validation images. Every version that
/// descends from a model is judged on that model's validation images, so the split travels with the
/// lineage instead of being repeated as constants.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DataSplit {
    pub validation_fraction: f64,
    pub seed: u64,
}

/// The parts of a manifest that come from the network, not from training it.
#[derive(Debug, Clone)]
pub struct ModelShape {
    pub preprocess: PreprocessConfig,
    pub architecture: Architecture,
    pub model: ModelConfig,
    pub parameters: usize,
}

/// What a training run was given, for its manifest.
pub struct TrainingRecord<'a> {
    pub version: &'a str,
    /// Where the images came from (a folder, or a description of uploads and replayed images).
    pub data_description: String,
    pub train_images: &'a ImageCache,
    pub validation_images: &'a ImageCache,
    /// The part of this run's data held out for validation (0 when validation came from elsewhere).
    pub validation_fraction: f64,
    /// The original dataset's split this version is judged on.
    pub split: Option<DataSplit>,
    pub skipped_images: usize,
    pub config: TrainConfig,
    pub backend: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub version: String,
    pub created_at: String,
    /// Output order of the model.
    pub classes: Vec<String>,
    pub preprocess: PreprocessConfig,
    /// Which network the weights are for (manifests written before there was a choice: the CNN).
    #[serde(default)]
    pub architecture: Architecture,
    /// The CNN's shape; for every architecture, the number of classes and the head's dropout.
    pub model: ModelConfig,
    /// Softmax temperature fitted on validation data (1.0 = uncalibrated).
    pub temperature: f32,
    pub parameters: usize,
    pub training: Option<TrainingSummary>,
    pub validation: Option<EvaluationReport>,
    #[serde(default)]
    pub history: Vec<EpochRecord>,
    /// The original dataset's split (absent in manifests written before it was recorded: see
    /// [`Manifest::dataset_split`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<DataSplit>,
}

impl Manifest {
    pub fn new(
        version: impl Into<String>,
        preprocess: PreprocessConfig,
        architecture: Architecture,
        model: ModelConfig,
        parameters: usize,
    ) -> Self {
        Self {
            format: FORMAT_VERSION,
            version: version.into(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            classes: CLASS_NAMES.iter().map(|c| c.to_string()).collect(),
            preprocess,
            architecture,
            model,
            temperature: 1.0,
            parameters,
            training: None,
            validation: None,
            history: Vec::new(),
            split: None,
        }
    }

    /// The manifest of a model a training run produced: the one place `brainscan train` and
    /// fine-tuning assemble it.
    pub fn after_training(
        shape: ModelShape,
        record: TrainingRecord<'_>,
        outcome: &TrainingOutcome,
    ) -> Self {
        let mut manifest = Self::new(
            record.version,
            shape.preprocess,
            shape.architecture,
            shape.model,
            shape.parameters,
        );
        manifest.temperature = outcome.temperature;
        manifest.training = Some(TrainingSummary {
            data_dir: record.data_description,
            train_images: record.train_images.len(),
            validation_images: record.validation_images.len(),
            validation_fraction: record.validation_fraction,
            class_counts: record.train_images.class_counts(),
            skipped_images: record.skipped_images,
            config: record.config,
            backend: record.backend,
            best_epoch: outcome.best_epoch,
            seconds: outcome.seconds,
            images_per_second: outcome.images_per_second,
        });
        manifest.validation = Some(outcome.validation.clone());
        manifest.history = outcome.history.clone();
        manifest.split = record.split;
        manifest
    }

    /// The network's shape, for a model trained further from this one.
    pub fn shape(&self) -> ModelShape {
        ModelShape {
            preprocess: self.preprocess,
            architecture: self.architecture,
            model: self.model.clone(),
            parameters: self.parameters,
        }
    }

    /// The split of the original dataset this model was validated on: recorded, or for a manifest
    /// written by `brainscan train` before it was recorded, the fraction and seed it trained with.
    pub fn dataset_split(&self) -> Option<DataSplit> {
        self.split.or_else(|| {
            self.training
                .as_ref()
                .filter(|training| training.validation_fraction > 0.0)
                .map(|training| DataSplit {
                    validation_fraction: training.validation_fraction,
                    seed: training.config.seed,
                })
        })
    }
}

pub struct ModelArtifact;

impl ModelArtifact {
    /// Writes weights then manifest into `dir` (created if needed). Each file is written under a
    /// temporary name and renamed, so a crash never leaves a half-written file in place.
    pub fn save(dir: &Path, model: &Model, manifest: &Manifest) -> MlResult<()> {
        std::fs::create_dir_all(dir).map_err(|e| MlError::io(dir, e))?;
        let weights_tmp = dir.join(format!("{WEIGHTS_FILE}.tmp"));
        let precision = manifest.architecture.release_precision();
        model.save_weights(&weights_tmp, precision).map_err(|e| {
            MlError::Training(format!("saving weights to {}: {e}", weights_tmp.display()))
        })?;
        rename(&weights_tmp, &dir.join(WEIGHTS_FILE))?;
        let manifest_tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let json =
            serde_json::to_string_pretty(manifest).map_err(|e| MlError::Training(e.to_string()))?;
        std::fs::write(&manifest_tmp, json + "\n").map_err(|e| MlError::io(&manifest_tmp, e))?;
        rename(&manifest_tmp, &dir.join(MANIFEST_FILE))
    }

    pub fn read_manifest(dir: &Path) -> MlResult<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| MlError::ModelMissing {
            dir: dir.to_path_buf(),
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| MlError::Manifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if manifest.format != FORMAT_VERSION {
            return Err(MlError::Manifest {
                path,
                reason: format!(
                    "format {} is not the supported format {FORMAT_VERSION}",
                    manifest.format
                ),
            });
        }
        Ok(manifest)
    }

    /// Loads and cross-checks manifest and weights; the model comes back in inference mode.
    /// Loads a model for inference: cross-checked against its manifest, in evaluation mode.
    pub fn load(dir: &Path, device: &Device) -> MlResult<(Model, Manifest)> {
        let (model, manifest) = Self::load_trainable(dir, device)?;
        // Frozen as well: Grad-CAM runs the head (and Lite0's last blocks) on a map that tracks
        // gradients, where dropout and stochastic depth would otherwise act at random.
        Ok((model.valid().freeze(), manifest))
    }

    /// Loads a model to train further; `device` should be an autodiff device.
    pub fn load_trainable(dir: &Path, device: &Device) -> MlResult<(Model, Manifest)> {
        let manifest = Self::read_manifest(dir)?;
        let mismatch = |reason: String| MlError::ModelMismatch {
            dir: dir.to_path_buf(),
            reason,
        };
        if manifest.classes != CLASS_NAMES {
            return Err(mismatch(format!(
                "manifest classes {:?} differ from the supported {:?}",
                manifest.classes, CLASS_NAMES
            )));
        }
        if manifest.model.num_classes != manifest.classes.len() {
            return Err(mismatch(format!(
                "model has {} outputs but the manifest lists {} classes",
                manifest.model.num_classes,
                manifest.classes.len()
            )));
        }
        let weights: PathBuf = dir.join(WEIGHTS_FILE);
        if !weights.is_file() {
            return Err(MlError::ModelMissing {
                dir: dir.to_path_buf(),
                reason: format!("{} is missing", weights.display()),
            });
        }
        let model = manifest
            .architecture
            .init(&manifest.model, device)
            .load_weights(&weights)
            .map_err(|e| {
                mismatch(format!(
                    "weights do not fit the manifest's {} model: {e}",
                    manifest.architecture
                ))
            })?;
        if model.num_params() != manifest.parameters {
            return Err(mismatch(format!(
                "weights have {} parameters, the manifest says {}",
                model.num_params(),
                manifest.parameters
            )));
        }
        Ok((model, manifest))
    }
}

/// Extension of a model directory still being written; see [`write_version`].
pub(crate) const PARTIAL_EXTENSION: &str = "partial";

/// What [`write_version`] does when the directory already holds a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Model versions in the store are write-once.
    Refuse,
    /// `brainscan train --out models` replaces the model there, but only once the new one is complete.
    Replace,
}

/// Writes a complete model (weights, manifest, trust check) into a sibling `.partial` directory and
/// renames it into place, so a crash mid-write never leaves a directory that looks like a complete
/// model, and a replaced model stays in place until its successor is whole.
pub fn write_version(
    dir: &Path,
    model: &Model,
    manifest: &Manifest,
    trust: Option<&Trust>,
    existing: Existing,
) -> MlResult<()> {
    if existing == Existing::Refuse && dir.exists() {
        return Err(MlError::Training(format!(
            "{} already exists; model versions are never overwritten",
            dir.display()
        )));
    }
    let partial = dir.with_extension(PARTIAL_EXTENSION);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| MlError::io(&partial, e))?;
    }
    ModelArtifact::save(&partial, model, manifest)?;
    if let Some(trust) = trust {
        trust.save(&partial)?;
    }
    if dir.exists() {
        // Only the files a model consists of are replaced: `--out` may be a folder with other
        // things in it (the shipped `models/` holds plots and reports too).
        for entry in std::fs::read_dir(&partial).map_err(|e| MlError::io(&partial, e))? {
            let from = entry.map_err(|e| MlError::io(&partial, e))?.path();
            if let Some(name) = from.file_name() {
                rename(&from, &dir.join(name))?;
            }
        }
        if trust.is_none() {
            let stale = dir.join(crate::trust::TRUST_FILE);
            if stale.exists() {
                std::fs::remove_file(&stale).map_err(|e| MlError::io(&stale, e))?;
            }
        }
        std::fs::remove_dir(&partial).map_err(|e| MlError::io(&partial, e))
    } else {
        rename(&partial, dir)
    }
}

fn rename(from: &Path, to: &Path) -> MlResult<()> {
    std::fs::rename(from, to).map_err(|e| MlError::io(to, e))
}
