//! Serving: a loaded model that turns image bytes into class probabilities.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Manifest, ModelArtifact};
use crate::dataset::ImageCache;
use crate::metrics::EvaluationReport;
use crate::model::Model;
use crate::preprocess::preprocess_bytes;
use crate::train::{argmax, evaluate, predict_probabilities, softmax_row};
use crate::{MlError, MlResult};

/// One image's answer: the most likely class and every class's calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub predicted_class: String,
    pub confidence: f32,
    /// `(class, probability)` in the model's class order.
    pub probabilities: Vec<(String, f32)>,
}

pub struct Classifier {
    model: Model,
    manifest: Manifest,
    device: Device,
}

impl Classifier {
    pub fn load(dir: &Path, device: Device) -> MlResult<Self> {
        let (model, manifest) = ModelArtifact::load(dir, &device)?;
        Ok(Self::from_parts(model, manifest, device))
    }

    /// Serves `model` in its inference form (batch norms folded into the convolutions).
    pub fn from_parts(model: Model, manifest: Manifest, device: Device) -> Self {
        Self {
            model: model.valid().fold_batch_norms(),
            manifest,
            device,
        }
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// Decodes, preprocesses and classifies one encoded image.
    pub fn predict_bytes(&self, bytes: &[u8]) -> MlResult<Prediction> {
        let input = preprocess_bytes(bytes, &self.manifest.preprocess)?;
        self.predict_inputs(input)?
            .pop()
            .ok_or_else(|| MlError::Training("the model returned no prediction".into()))
    }

    /// Classifies already-preprocessed inputs (concatenated `size*size` blocks) in one forward pass.
    pub fn predict_inputs(&self, inputs: Vec<f32>) -> MlResult<Vec<Prediction>> {
        let size = self.manifest.preprocess.input_size;
        let rows = predict_probabilities(
            &self.model,
            inputs,
            size,
            self.manifest.temperature,
            &self.device,
        )?;
        Ok(rows
            .iter()
            .map(|probabilities| self.to_prediction(probabilities))
            .collect())
    }

    /// Scores the model on preprocessed, labelled images.
    pub fn evaluate(&self, images: &ImageCache, batch_size: usize) -> MlResult<EvaluationReport> {
        Ok(self.evaluate_with_probabilities(images, batch_size)?.0)
    }

    /// Like [`Classifier::evaluate`], also answering each image's calibrated probabilities (in
    /// [`crate::CLASS_NAMES`] order) for checks that need more than the top class.
    pub fn evaluate_with_probabilities(
        &self,
        images: &ImageCache,
        batch_size: usize,
    ) -> MlResult<(EvaluationReport, Vec<Vec<f32>>)> {
        let temperature = self.manifest.temperature;
        let evaluation = evaluate(
            &self.model,
            images,
            &self.manifest.preprocess,
            temperature,
            batch_size,
            &self.device,
        )?;
        let probabilities = evaluation
            .logits
            .chunks(self.manifest.classes.len().max(1))
            .map(|row| softmax_row(row, temperature))
            .collect();
        Ok((evaluation.report, probabilities))
    }

    fn to_prediction(&self, probabilities: &[f32]) -> Prediction {
        let best = argmax(probabilities);
        Prediction {
            predicted_class: self.manifest.classes[best].clone(),
            confidence: probabilities[best],
            probabilities: self
                .manifest
                .classes
                .iter()
                .cloned()
                .zip(probabilities.iter().copied())
                .collect(),
        }
    }
}
