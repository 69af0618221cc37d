//! Resumable training. After every epoch the run's whole state goes to disk: the training weights,
//! the optimizer's moments, the best epoch's weights and validation logits, the data order and the
//! random generator, so a run cut off (a session ending, a killed process) continues from its last
//! finished epoch as if it had never stopped, instead of starting over.
//!
//! Layout: `DIR/epoch-N/` holds epoch N's state; `DIR/LATEST` names the newest complete one. Each
//! epoch's directory is written under a `.partial` name and renamed, and `LATEST` is replaced by a
//! rename, so a crash at any moment leaves the previous checkpoint intact.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use crate::model::{Model, Precision};
use crate::train::{EpochRecord, TrainConfig};
use crate::{MlError, MlResult};

const LATEST: &str = "LATEST";
const STATE: &str = "state.json";
const WEIGHTS: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const BEST_WEIGHTS: &str = "best.bpk";

/// Everything but the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// The run this state belongs to: resuming with another configuration is refused.
    pub config: TrainConfig,
    pub train_images: usize,
    pub epochs_done: usize,
    pub rng_state: u64,
    /// The training images' order after the last shuffle (each epoch shuffles the previous order).
    pub order: Vec<usize>,
    pub history: Vec<EpochRecord>,
    pub best_epoch: usize,
    pub best_accuracy: f64,
    pub best_logits: Vec<f32>,
    pub images_seen: usize,
    pub training_seconds: f64,
}

/// A checkpoint directory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    dir: PathBuf,
}

/// A saved epoch: its state and where its tensors are.
pub struct SavedEpoch {
    pub state: RunState,
    dir: PathBuf,
}

impl SavedEpoch {
    /// `model` (a fresh network of the run's architecture) with the training weights.
    pub fn model(&self, model: Model) -> MlResult<Model> {
        load_weights(model, &self.dir.join(WEIGHTS))
    }

    /// `model` with the best epoch's weights.
    pub fn best_model(&self, model: Model) -> MlResult<Model> {
        load_weights(model, &self.dir.join(BEST_WEIGHTS))
    }

    pub fn optimizer(&self, optimizer: ModuleOptimizer) -> MlResult<ModuleOptimizer> {
        let path = self.dir.join(OPTIMIZER);
        optimizer
            .load(&path)
            .map_err(|e| MlError::Training(format!("checkpoint {}: {e}", path.display())))
    }
}

fn load_weights(model: Model, path: &Path) -> MlResult<Model> {
    model
        .load_weights(path)
        .map_err(|e| MlError::Training(format!("checkpoint {}: {e}", path.display())))
}

impl Checkpoint {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The newest complete epoch, if any was saved.
    pub fn latest(&self) -> MlResult<Option<SavedEpoch>> {
        let pointer = self.dir.join(LATEST);
        let name = match std::fs::read_to_string(&pointer) {
            Ok(name) => name.trim().to_owned(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(MlError::io(&pointer, error)),
        };
        let dir = self.dir.join(&name);
        let state_path = dir.join(STATE);
        let text = std::fs::read_to_string(&state_path).map_err(|e| MlError::io(&state_path, e))?;
        let state = serde_json::from_str(&text)
            .map_err(|e| MlError::Training(format!("checkpoint {}: {e}", state_path.display())))?;
        Ok(Some(SavedEpoch { state, dir }))
    }

    /// Writes epoch `state.epochs_done` and makes it the latest; older epochs are removed.
    pub fn save(
        &self,
        state: &RunState,
        model: &Model,
        optimizer: &ModuleOptimizer,
        best_model: &Model,
    ) -> MlResult<()> {
        let name = format!("epoch-{}", state.epochs_done);
        let partial = self.dir.join(format!("{name}.partial"));
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(|e| MlError::io(&partial, e))?;
        }
        std::fs::create_dir_all(&partial).map_err(|e| MlError::io(&partial, e))?;
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            MlError::Training(format!("checkpoint {}: {e}", partial.join(what).display()))
        };
        model
            .save_weights(&partial.join(WEIGHTS), Precision::Full)
            .map_err(|e| failed(WEIGHTS, &e))?;
        best_model
            .save_weights(&partial.join(BEST_WEIGHTS), Precision::Full)
            .map_err(|e| failed(BEST_WEIGHTS, &e))?;
        optimizer
            .save(partial.join(OPTIMIZER))
            .map_err(|e| failed(OPTIMIZER, &e))?;
        let json = serde_json::to_string(state).map_err(|e| failed(STATE, &e))?;
        std::fs::write(partial.join(STATE), json)
            .map_err(|e| MlError::io(partial.join(STATE), e))?;
        let complete = self.dir.join(&name);
        if complete.exists() {
            std::fs::remove_dir_all(&complete).map_err(|e| MlError::io(&complete, e))?;
        }
        std::fs::rename(&partial, &complete).map_err(|e| MlError::io(&complete, e))?;
        let pointer = self.dir.join(LATEST);
        let pointer_tmp = self.dir.join(format!("{LATEST}.tmp"));
        std::fs::write(&pointer_tmp, &name).map_err(|e| MlError::io(&pointer_tmp, e))?;
        std::fs::rename(&pointer_tmp, &pointer).map_err(|e| MlError::io(&pointer, e))?;
        self.remove_older_than(&name)
    }

    fn remove_older_than(&self, keep: &str) -> MlResult<()> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| MlError::io(&self.dir, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() && name.starts_with("epoch-") && name != keep {
                std::fs::remove_dir_all(&path).map_err(|e| MlError::io(&path, e))?;
            }
        }
        Ok(())
    }
}
