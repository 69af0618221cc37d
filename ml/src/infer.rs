//! Serving: a loaded model that turns image bytes into class probabilities.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Manifest, ModelArtifact};
use crate::dataset::ImageCache;
use crate::drift::DriftBaseline;
use crate::metrics::EvaluationReport;
use crate::model::Model;
use crate::preprocess::preprocess_bytes;
use crate::train::{argmax, evaluate, features_and_logits, softmax_row, to_f32_vec};
use crate::trust::Trust;
use crate::{MlError, MlResult};

/// One image's answer: the most likely class and every class's calibrated probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub predicted_class: String,
    pub confidence: f32,
    /// `(class, probability)` in the model's class order.
    pub probabilities: Vec<(String, f32)>,
    /// The top probability is below the model's review threshold: a radiologist should look.
    #[serde(default)]
    pub needs_review: bool,
    /// The second most likely class, shown beside an answer that needs review.
    #[serde(default)]
    pub runner_up: Option<String>,
    /// Distance of the slice's features from the training slices' (about 1 for a typical one);
    /// absent for models without a trust check.
    #[serde(default)]
    pub ood_distance: Option<f32>,
    /// The trust check refused the slice as not a brain MRI and a person classified it anyway
    /// ([`Classifier::predict_bytes_past_refusal`]); such an answer always needs review.
    #[serde(default)]
    pub refusal_overridden: bool,
}

/// Whether a slice the trust check refuses is refused, or answered because a person said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Enforced,
    Overridden,
}

pub struct Classifier {
    model: Model,
    manifest: Manifest,
    trust: Option<Trust>,
    device: Device,
}

impl Classifier {
    pub fn load(dir: &Path, device: Device) -> MlResult<Self> {
        let (model, manifest) = ModelArtifact::load(dir, &device)?;
        let trust = Trust::load(dir)?;
        if let Some(trust) = &trust {
            // A check fitted for another network would measure distances in the wrong space.
            let width = model.feature_width();
            if trust.ood.feature_width != width {
                return Err(MlError::ModelMismatch {
                    dir: dir.to_path_buf(),
                    reason: format!(
                        "{} describes {}-wide features but the network has {width}",
                        crate::trust::TRUST_FILE,
                        trust.ood.feature_width
                    ),
                });
            }
        }
        Ok(Self::from_parts(model, manifest, device).with_trust(trust))
    }

    /// Serves `model` in its inference form (batch norms folded into the convolutions).
    pub fn from_parts(model: Model, manifest: Manifest, device: Device) -> Self {
        Self {
            model: model.valid().fold_batch_norms(),
            manifest,
            trust: None,
            device,
        }
    }

    pub fn with_trust(mut self, trust: Option<Trust>) -> Self {
        self.trust = trust;
        self
    }

    pub fn trust(&self) -> Option<&Trust> {
        self.trust.as_ref()
    }

    /// Fits the out-of-distribution check and the review threshold for this model (see
    /// [`Trust::fit`]); the caller decides whether to keep it.
    pub fn fit_trust(
        &self,
        train: &ImageCache,
        validation: &ImageCache,
        altered: Option<&ImageCache>,
    ) -> MlResult<Trust> {
        Trust::fit(
            &self.model,
            train,
            validation,
            altered,
            &self.manifest.preprocess,
            self.manifest.temperature,
            &self.device,
        )
    }

    /// The drift baseline ([`crate::drift`]) of this model on `validation`, its validation split
    /// preprocessed as the manifest says: for a model whose check predates drift measurement
    /// (a fresh fit of the check measures it too).
    pub fn drift_baseline(&self, validation: &ImageCache) -> MlResult<DriftBaseline> {
        let scored = features_and_logits(
            &self.model,
            validation,
            &self.manifest.preprocess,
            32,
            &self.device,
        )?;
        let distances: Vec<f32> = match &self.trust {
            Some(trust) => scored
                .features
                .chunks(scored.feature_width.max(1))
                .map(|row| trust.ood.distance(row))
                .collect(),
            None => Vec::new(),
        };
        let probabilities: Vec<Vec<f32>> = scored
            .logits
            .chunks(self.manifest.classes.len().max(1))
            .map(|row| softmax_row(row, self.manifest.temperature))
            .collect();
        Ok(DriftBaseline::from_validation(
            validation,
            &distances,
            &probabilities,
        ))
    }

    pub(crate) fn model(&self) -> &Model {
        &self.model
    }

    pub(crate) fn device(&self) -> &Device {
        &self.device
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// Decodes, preprocesses and classifies one encoded image; refuses one that is not a brain MRI
    /// slice ([`MlError::NotBrainMri`]) when the model has a trust check.
    pub fn predict_bytes(&self, bytes: &[u8]) -> MlResult<Prediction> {
        let input = preprocess_bytes(bytes, &self.manifest.preprocess)?;
        self.predict_inputs(input)?
            .pop()
            .ok_or_else(|| MlError::Training("the model returned no prediction".into()))?
    }

    /// Classifies already-preprocessed inputs (concatenated `size*size` blocks) in one forward pass.
    /// Images outside the training distribution come back as [`MlError::NotBrainMri`] in their
    /// place, so one such image does not sink a batch.
    pub fn predict_inputs(&self, inputs: Vec<f32>) -> MlResult<Vec<MlResult<Prediction>>> {
        self.answer_inputs(inputs, Refusal::Enforced)
    }

    /// Like [`Classifier::predict_bytes`], but a slice the trust check refuses as not a brain MRI
    /// is answered anyway, marked [`Prediction::refusal_overridden`] and flagged for review: for
    /// a person who knows it is a real slice (the check is fitted on one archive's exports and
    /// can be wrong about another scanner's). The caller decides who may and records who did.
    pub fn predict_bytes_past_refusal(&self, bytes: &[u8]) -> MlResult<Prediction> {
        let input = preprocess_bytes(bytes, &self.manifest.preprocess)?;
        self.answer_inputs(input, Refusal::Overridden)?
            .pop()
            .ok_or_else(|| MlError::Training("the model returned no prediction".into()))?
    }

    /// One forward pass over preprocessed inputs (concatenated `size*size` blocks), each answer
    /// assessed by the trust check as `refusal` says.
    fn answer_inputs(
        &self,
        inputs: Vec<f32>,
        refusal: Refusal,
    ) -> MlResult<Vec<MlResult<Prediction>>> {
        let size = self.manifest.preprocess.input_size;
        let count = inputs.len() / (size * size);
        let images = Tensor::<4>::from_data(
            TensorData::new(inputs, [count, 1, size, size]),
            &self.device,
        );
        let features = self.model.features(images);
        let logits = to_f32_vec(self.model.classify(features.clone()))?;
        let features = to_f32_vec(features)?;
        Ok(logits
            .chunks(self.manifest.classes.len().max(1))
            .zip(features.chunks(self.model.feature_width().max(1)))
            .map(|(logits, features)| self.assess_with(logits, features, refusal))
            .collect())
    }

    /// One image's answer from its logits and pooled features: refused when the trust check
    /// says it is not a brain MRI slice, flagged when the answer is too unsure.
    pub(crate) fn assess(&self, logits: &[f32], features: &[f32]) -> MlResult<Prediction> {
        self.assess_with(logits, features, Refusal::Enforced)
    }

    fn assess_with(
        &self,
        logits: &[f32],
        features: &[f32],
        refusal: Refusal,
    ) -> MlResult<Prediction> {
        let probabilities = softmax_row(logits, self.manifest.temperature);
        let mut prediction = self.to_prediction(&probabilities);
        if let Some(trust) = &self.trust {
            let distance = trust.ood.distance(features);
            prediction.ood_distance = Some(distance);
            prediction.needs_review = trust.needs_review(prediction.confidence);
            if !trust.ood.is_brain_mri(distance) {
                match refusal {
                    Refusal::Enforced => {
                        return Err(MlError::NotBrainMri {
                            distance,
                            threshold: trust.ood.threshold,
                        })
                    }
                    Refusal::Overridden => {
                        prediction.refusal_overridden = true;
                        prediction.needs_review = true;
                    }
                }
            }
        }
        Ok(prediction)
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
        let runner_up = (0..probabilities.len())
            .filter(|&i| i != best)
            .max_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
        Prediction {
            needs_review: false,
            runner_up: runner_up.map(|i| self.manifest.classes[i].clone()),
            ood_distance: None,
            refusal_overridden: false,
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
