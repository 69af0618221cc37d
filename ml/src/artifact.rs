//! The model on disk: Burn weights (`model.bpk`) plus a JSON manifest that says how to use them.
//! Together they are the artifact; loading refuses a pair that does not agree.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classes::CLASS_NAMES;
use crate::metrics::EvaluationReport;
use crate::model::{Architecture, Model, ModelConfig};
use crate::preprocess::PreprocessConfig;
use crate::train::{EpochRecord, TrainConfig};
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
        }
    }
}

pub struct ModelArtifact;

impl ModelArtifact {
    /// Writes weights then manifest into `dir` (created if needed). Each file is written under a
    /// temporary name and renamed, so a crash never leaves a half-written file in place.
    pub fn save(dir: &Path, model: &Model, manifest: &Manifest) -> MlResult<()> {
        std::fs::create_dir_all(dir).map_err(|e| MlError::io(dir, e))?;
        let weights_tmp = dir.join(format!("{WEIGHTS_FILE}.tmp"));
        model.save_weights(&weights_tmp).map_err(|e| {
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
        Ok((model.valid(), manifest))
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

fn rename(from: &Path, to: &Path) -> MlResult<()> {
    std::fs::rename(from, to).map_err(|e| MlError::io(to, e))
}
