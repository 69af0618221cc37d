//! The training loop: AdamW with warm-up and cosine decay, label smoothing, early stopping on
//! validation accuracy, the best epoch kept, and a per-epoch history.

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, RunState};
use crate::classes::CLASS_NAMES;
use crate::dataset::{batch_tensors, AugmentConfig, Augmentation, ImageCache};
use crate::metrics::{ConfusionMatrix, EvaluationReport};
use crate::model::Model;
use crate::preprocess::PreprocessConfig;
use crate::rng::Rng;
use crate::{MlError, MlResult};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// The cosine schedule ends at this fraction of the peak learning rate.
    pub final_learning_rate_fraction: f64,
    pub warmup_epochs: f64,
    /// A warm-up counted in steps, which replaces `warmup_epochs` when set.
    #[serde(default)]
    pub warmup_steps: Option<usize>,
    pub weight_decay: f32,
    /// AdamW's epsilon. Burn's default (1e-5, what the CNN was tuned with) is 1000x PyTorch's
    /// (1e-8), which fine-tuning pretrained weights with small gradients notices.
    #[serde(default = "burn_adam_epsilon")]
    pub optimizer_epsilon: f32,
    pub label_smoothing: f32,
    /// Stop after this many epochs without a better validation accuracy.
    pub patience: usize,
    pub seed: u64,
    pub augment: AugmentConfig,
    /// Train the first epochs on smaller images (fast.ai's progressive resizing): they cost a
    /// fraction of full-size ones, and the last full-size epochs adapt the model to the real size.
    #[serde(default)]
    pub progressive_resize: Option<ProgressiveResize>,
    /// Learn from a teacher model's softened outputs as well as the true labels (Hinton et al.
    /// 2015); the teacher's logits travel with the training images ([`ImageCache::teacher_logits`]).
    #[serde(default)]
    pub distillation: Option<Distillation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Distillation {
    /// Share of the loss that comes from the teacher; the rest is the usual cross-entropy.
    pub weight: f32,
    /// Both models' logits are divided by it, so the teacher's view of the wrong classes counts.
    pub temperature: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProgressiveResize {
    /// Side of the training images during the first `epochs` epochs.
    pub size: usize,
    pub epochs: usize,
}

fn burn_adam_epsilon() -> f32 {
    1e-5
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 12,
            batch_size: 32,
            learning_rate: 3e-3,
            final_learning_rate_fraction: 0.02,
            warmup_epochs: 0.5,
            warmup_steps: None,
            weight_decay: 1e-4,
            optimizer_epsilon: burn_adam_epsilon(),
            label_smoothing: 0.05,
            patience: 4,
            seed: 42,
            augment: AugmentConfig::default(),
            progressive_resize: None,
            distillation: None,
        }
    }
}

impl TrainConfig {
    /// The recipe that fine-tunes EfficientNet-Lite0 from its ImageNet weights, as the PyTorch
    /// reference run of `transfer-check.md` did it: AdamW 6e-4 (epsilon 1e-8, weight decay 1e-4),
    /// 100 warm-up steps then cosine to zero, label smoothing 0.05, batch 32, 7 epochs, and its
    /// augmentation ([`AugmentConfig::lite0_recipe`]). Stochastic depth and the batch-norm momentum
    /// live in the model ([`crate::efficientnet`]).
    pub fn lite0_recipe() -> Self {
        Self {
            epochs: 7,
            batch_size: 32,
            learning_rate: 6e-4,
            final_learning_rate_fraction: 0.0,
            warmup_epochs: 0.0,
            warmup_steps: Some(100),
            weight_decay: 1e-4,
            optimizer_epsilon: 1e-8,
            label_smoothing: 0.05,
            // Every epoch runs: the cosine schedule only ends well if it reaches its end.
            patience: 7,
            seed: 42,
            augment: AugmentConfig::lite0_recipe(),
            progressive_resize: None,
            distillation: None,
        }
    }

    /// Side of the cached training images for a model input of `input_size`: larger by the
    /// augmentation's base zoom, so that its random crop samples the slice at full resolution
    /// (a crop magnified out of a model-sized image would be blurrier than anything served).
    pub fn train_cache_size(&self, input_size: usize) -> usize {
        if self.augment.base_zoom > 1.0 {
            (input_size as f32 * self.augment.base_zoom).round() as usize
        } else {
            input_size
        }
    }

    /// Side of the training images in `epoch` (from 1) when the model's input is `full_size`.
    pub fn image_size_for_epoch(&self, epoch: usize, full_size: usize) -> usize {
        match self.progressive_resize {
            Some(phase) if epoch <= phase.epochs => phase.size.min(full_size),
            _ => full_size,
        }
    }

    /// Learning rate at `step` of `total_steps`: linear warm-up, then cosine decay.
    pub fn learning_rate_at(&self, step: usize, total_steps: usize, steps_per_epoch: usize) -> f64 {
        let warmup = self
            .warmup_steps
            .unwrap_or((self.warmup_epochs * steps_per_epoch as f64).round() as usize);
        if step < warmup {
            return self.learning_rate * (step + 1) as f64 / warmup as f64;
        }
        let progress = (step - warmup) as f64 / (total_steps - warmup).max(1) as f64;
        let floor = self.learning_rate * self.final_learning_rate_fraction;
        floor
            + (self.learning_rate - floor)
                * 0.5
                * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
    }
}

/// One row of the training history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub validation_loss: f64,
    pub validation_accuracy: f64,
    pub learning_rate: f64,
    pub seconds: f64,
}

/// Where a running training job is, for progress bars and live UIs.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchProgress {
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub images_per_second: f64,
}

/// Receives progress from [`train`]; every method has a do-nothing default.
pub trait TrainingObserver {
    fn on_batch(&mut self, _progress: &BatchProgress) {}
    fn on_epoch(&mut self, _record: &EpochRecord, _is_best: bool) {}
    /// Checked between batches; returning true stops training early with the best model so far.
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct Silent;
impl TrainingObserver for Silent {}

pub struct TrainingOutcome {
    /// The best epoch's model, in inference mode.
    pub model: Model,
    pub history: Vec<EpochRecord>,
    pub best_epoch: usize,
    /// The best model on the validation images, with its logits' calibrated temperature applied.
    pub validation: EvaluationReport,
    /// Divides logits before the softmax so confidences match observed accuracy.
    pub temperature: f32,
    pub seconds: f64,
    pub images_per_second: f64,
}

/// Trains `model` (fresh or loaded, for fine-tuning) on `train_images`, selecting the epoch with the
/// best accuracy on `validation_images`. `device` must be an autodiff device. With a `checkpoint`,
/// the run's state is saved there after every epoch, and a run that finds a saved epoch continues
/// from it (same configuration and data size, or an error).
#[allow(clippy::too_many_arguments)]
pub fn train(
    model: Model,
    train_images: &ImageCache,
    validation_images: &ImageCache,
    preprocess: &PreprocessConfig,
    config: &TrainConfig,
    device: &Device,
    observer: &mut dyn TrainingObserver,
    checkpoint: Option<&Checkpoint>,
) -> MlResult<TrainingOutcome> {
    if train_images.is_empty() || validation_images.is_empty() {
        return Err(MlError::Training(
            "training and validation sets must both contain images".into(),
        ));
    }
    if config.epochs == 0 || config.batch_size == 0 {
        return Err(MlError::Training(
            "epochs and batch size must be at least 1".into(),
        ));
    }
    if config.distillation.is_some() && !train_images.has_teacher_logits() {
        return Err(MlError::Training(
            "distillation needs the teacher's logits for every training image".into(),
        ));
    }
    let started = Instant::now();
    let mut rng = Rng::new(config.seed);
    let loss_fn = CrossEntropyLossConfig::new()
        .with_smoothing((config.label_smoothing > 0.0).then_some(config.label_smoothing))
        .init(device);
    let mut optimizer = AdamWConfig::new()
        .with_weight_decay(config.weight_decay)
        .with_epsilon(config.optimizer_epsilon)
        .init();

    let steps_per_epoch = train_images.len().div_ceil(config.batch_size);
    let total_steps = steps_per_epoch * config.epochs;
    let mut order: Vec<usize> = (0..train_images.len()).collect();
    let mut model = model;
    let mut history = Vec::new();
    // The best epoch so far: its validation accuracy, number, model and validation logits.
    let mut best: Option<(f64, usize, Model, Vec<f32>)> = None;
    let mut images_seen = 0usize;
    let mut training_seconds = 0.0;
    let mut first_epoch = 1;
    if let Some(saved) = checkpoint.map(Checkpoint::latest).transpose()?.flatten() {
        let state = &saved.state;
        if state.config != *config || state.train_images != train_images.len() {
            return Err(MlError::Training(format!(
                "the checkpoint was saved by a run with other settings or data ({} training \
                 images, {} epochs); remove it or use the same command",
                state.train_images, state.config.epochs
            )));
        }
        let best_model = saved.best_model(model.clone())?.valid();
        model = saved.model(model)?;
        optimizer = saved.optimizer(optimizer)?;
        rng = Rng::new(state.rng_state);
        order.clone_from(&state.order);
        history.clone_from(&state.history);
        images_seen = state.images_seen;
        training_seconds = state.training_seconds;
        first_epoch = state.epochs_done + 1;
        best = Some((
            state.best_accuracy,
            state.best_epoch,
            best_model,
            state.best_logits.clone(),
        ));
        for record in &history {
            let is_best = record.epoch == state.best_epoch;
            observer.on_epoch(record, is_best);
        }
    }

    'epochs: for epoch in first_epoch..=config.epochs {
        let epoch_started = Instant::now();
        rng.shuffle(&mut order);
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut learning_rate = config.learning_rate;
        for (batch, indices) in order.chunks(config.batch_size).enumerate() {
            if observer.should_stop() {
                break 'epochs;
            }
            let step = (epoch - 1) * steps_per_epoch + batch;
            learning_rate = config.learning_rate_at(step, total_steps, steps_per_epoch);
            let augmentation = Augmentation {
                config: &config.augment,
                rng: &mut rng,
                output_size: config.image_size_for_epoch(epoch, preprocess.input_size),
            };
            let (images, targets) = batch_tensors(
                train_images,
                indices,
                preprocess,
                Some(augmentation),
                device,
            );
            let logits = model.forward(images);
            let mut loss = loss_fn.forward(logits.clone(), targets.clone());
            if let Some(distillation) = &config.distillation {
                let teacher = teacher_batch(train_images, indices, device);
                loss = loss * (1.0 - distillation.weight)
                    + distillation_loss(logits.clone(), teacher, distillation.temperature)
                        * distillation.weight;
            }
            let batch_correct: i64 = logits
                .argmax(1)
                .flatten::<1>(0, 1)
                .equal(targets)
                .int()
                .sum()
                .into_scalar();
            let batch_loss: f32 = loss.clone().into_scalar();
            let gradients = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(learning_rate, model, gradients);

            loss_sum += batch_loss as f64 * indices.len() as f64;
            correct += batch_correct as usize;
            seen += indices.len();
            images_seen += indices.len();
            let elapsed = training_seconds + epoch_started.elapsed().as_secs_f64();
            observer.on_batch(&BatchProgress {
                epoch,
                epochs: config.epochs,
                batch: batch + 1,
                batches: steps_per_epoch,
                loss: loss_sum / seen as f64,
                accuracy: correct as f64 / seen as f64,
                images_per_second: images_seen as f64 / elapsed.max(1e-9),
            });
        }
        training_seconds += epoch_started.elapsed().as_secs_f64();

        let inference_model = model.valid();
        let validation = evaluate(
            &inference_model,
            validation_images,
            preprocess,
            1.0,
            config.batch_size,
            device,
        )?;
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            validation_loss: validation.report.loss.unwrap_or(f64::NAN),
            validation_accuracy: validation.report.accuracy,
            learning_rate,
            seconds: epoch_started.elapsed().as_secs_f64(),
        };
        let is_best = best
            .as_ref()
            .is_none_or(|(accuracy, ..)| record.validation_accuracy > *accuracy);
        observer.on_epoch(&record, is_best);
        history.push(record);
        if is_best {
            best = Some((
                validation.report.accuracy,
                epoch,
                inference_model,
                validation.logits,
            ));
        }
        if let (Some(checkpoint), Some((best_accuracy, best_epoch, best_model, best_logits))) =
            (checkpoint, &best)
        {
            let state = RunState {
                config: config.clone(),
                train_images: train_images.len(),
                epochs_done: epoch,
                rng_state: rng.state(),
                order: order.clone(),
                history: history.clone(),
                best_epoch: *best_epoch,
                best_accuracy: *best_accuracy,
                best_logits: best_logits.clone(),
                images_seen,
                training_seconds,
            };
            checkpoint.save(&state, &model, &optimizer, best_model)?;
        }
        if !is_best
            && best
                .as_ref()
                .is_some_and(|(_, best_epoch, ..)| epoch - best_epoch >= config.patience)
        {
            break;
        }
    }

    let (_, best_epoch, best_model, best_logits) =
        best.ok_or_else(|| MlError::Training("stopped before the first epoch finished".into()))?;
    // The best epoch's validation logits are reused: calibration needs no second pass over the data.
    let calibration_started = Instant::now();
    let temperature = fit_temperature(&best_logits, &validation_images.labels);
    let validation = Evaluation::from_logits(
        best_logits,
        &validation_images.labels,
        temperature,
        calibration_started.elapsed().as_secs_f64(),
    );
    Ok(TrainingOutcome {
        model: best_model,
        history,
        best_epoch,
        validation: validation.report,
        temperature,
        seconds: started.elapsed().as_secs_f64(),
        images_per_second: images_seen as f64 / training_seconds.max(1e-9),
    })
}

/// The teacher's logits of the images at `indices`, as a `[batch, classes]` tensor.
fn teacher_batch(images: &ImageCache, indices: &[usize], device: &Device) -> Tensor<2> {
    let classes = CLASS_NAMES.len();
    let rows: Vec<f32> = indices
        .iter()
        .flat_map(|&index| images.teacher_logits(index).unwrap_or(&[]).iter().copied())
        .collect();
    Tensor::from_data(TensorData::new(rows, [indices.len(), classes]), device)
}

/// Kullback-Leibler divergence of the student's softened distribution from the teacher's (0 when
/// they agree, so the reported loss stays readable), times the squared temperature so its
/// gradients keep their scale whatever the temperature (Hinton et al. 2015).
pub fn distillation_loss(student: Tensor<2>, teacher: Tensor<2>, temperature: f32) -> Tensor<1> {
    let teacher = teacher / temperature;
    let teacher_log = log_softmax(teacher.clone(), 1);
    let student_log = log_softmax(student / temperature, 1);
    (softmax(teacher, 1) * (teacher_log - student_log))
        .sum_dim(1)
        .mean()
        * (temperature * temperature)
}

/// An evaluation's report plus the raw logits it was computed from (row-major, one row per image).
pub struct Evaluation {
    pub report: EvaluationReport,
    pub logits: Vec<f32>,
}

/// Scores an inference-mode model on cached images, without augmentation.
pub fn evaluate(
    model: &Model,
    images: &ImageCache,
    preprocess: &PreprocessConfig,
    temperature: f32,
    batch_size: usize,
    device: &Device,
) -> MlResult<Evaluation> {
    let started = Instant::now();
    let computed = features_and_logits(model, images, preprocess, batch_size, device)?;
    Ok(Evaluation::from_logits(
        computed.logits,
        &images.labels,
        temperature,
        started.elapsed().as_secs_f64(),
    ))
}

/// Pooled features and logits of an inference-mode model on cached images, row-major.
pub struct FeaturesAndLogits {
    pub features: Vec<f32>,
    pub feature_width: usize,
    pub logits: Vec<f32>,
}

/// Runs cached images through `model` in batches, without augmentation, keeping what the head
/// read as well as what it answered.
pub fn features_and_logits(
    model: &Model,
    images: &ImageCache,
    preprocess: &PreprocessConfig,
    batch_size: usize,
    device: &Device,
) -> MlResult<FeaturesAndLogits> {
    let mut features = Vec::new();
    let mut logits = Vec::with_capacity(images.len() * CLASS_NAMES.len());
    let indices: Vec<usize> = (0..images.len()).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let (inputs, _) = batch_tensors(images, chunk, preprocess, None, device);
        let pooled = model.features(inputs);
        logits.extend(to_f32_vec(model.classify(pooled.clone()))?);
        features.extend(to_f32_vec(pooled)?);
    }
    Ok(FeaturesAndLogits {
        features,
        feature_width: model.feature_width(),
        logits,
    })
}

impl Evaluation {
    /// Scores row-major logits against true labels after dividing by `temperature`.
    pub fn from_logits(logits: Vec<f32>, labels: &[usize], temperature: f32, seconds: f64) -> Self {
        let num_classes = CLASS_NAMES.len();
        let mut matrix = ConfusionMatrix::new(num_classes);
        let mut loss = 0.0f64;
        for (row, &label) in logits.chunks(num_classes).zip(labels) {
            let probabilities = softmax_row(row, temperature);
            matrix.add(label, argmax(&probabilities));
            loss -= (probabilities[label].max(1e-12) as f64).ln();
        }
        let loss = loss / labels.len().max(1) as f64;
        Self {
            report: EvaluationReport::new(&CLASS_NAMES, matrix, Some(loss), seconds),
            logits,
        }
    }
}

/// Reads a tensor back as `f32`s, whatever precision it was computed in.
pub fn to_f32_vec<const D: usize>(tensor: Tensor<D>) -> MlResult<Vec<f32>> {
    tensor
        .into_data()
        .try_to_vec_as::<f32>()
        .map_err(|e| MlError::Training(format!("reading model output: {e:?}")))
}

/// Softmax of one row of logits divided by `temperature`.
pub fn softmax_row(logits: &[f32], temperature: f32) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits
        .iter()
        .map(|&l| ((l - max) / temperature).exp())
        .collect();
    let sum: f32 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

pub fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > values[best] { i } else { best })
}

/// Temperature scaling: the divisor of the logits that minimises validation cross-entropy, found by a
/// coarse-to-fine search over [0.25, 8]. It changes confidences, never the predicted class.
pub fn fit_temperature(logits: &[f32], labels: &[usize]) -> f32 {
    let num_classes = CLASS_NAMES.len();
    let nll = |t: f32| -> f64 {
        logits
            .chunks(num_classes)
            .zip(labels)
            .map(|(row, &label)| -(softmax_row(row, t)[label].max(1e-12) as f64).ln())
            .sum()
    };
    let (mut low, mut high) = (0.25f32, 8.0f32);
    for _ in 0..40 {
        let (a, b) = (low + (high - low) / 3.0, high - (high - low) / 3.0);
        if nll(a) <= nll(b) {
            high = b;
        } else {
            low = a;
        }
    }
    (low + high) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_the_floor() {
        let config = TrainConfig {
            learning_rate: 1.0,
            warmup_epochs: 1.0,
            ..TrainConfig::default()
        };
        let (steps_per_epoch, total) = (10, 100);
        assert!((config.learning_rate_at(0, total, steps_per_epoch) - 0.1).abs() < 1e-9);
        assert!((config.learning_rate_at(9, total, steps_per_epoch) - 1.0).abs() < 1e-9);
        let mid = config.learning_rate_at(55, total, steps_per_epoch);
        assert!(mid < 1.0 && mid > 0.4, "{mid}");
        let end = config.learning_rate_at(100, total, steps_per_epoch);
        assert!((end - config.final_learning_rate_fraction).abs() < 1e-9);
    }

    #[test]
    fn the_reference_crop_caches_training_images_an_eighth_larger() {
        assert_eq!(TrainConfig::lite0_recipe().train_cache_size(160), 180);
        assert_eq!(TrainConfig::default().train_cache_size(112), 112);
    }

    #[test]
    fn a_warmup_in_steps_replaces_the_one_in_epochs_and_cosine_reaches_zero() {
        let config = TrainConfig::lite0_recipe();
        let (steps_per_epoch, total) = (152, 152 * 7);
        let peak = config.learning_rate;
        assert!((config.learning_rate_at(0, total, steps_per_epoch) - peak / 100.0).abs() < 1e-12);
        assert!((config.learning_rate_at(99, total, steps_per_epoch) - peak).abs() < 1e-12);
        assert!(config.learning_rate_at(100, total, steps_per_epoch) <= peak);
        assert!(config.learning_rate_at(total, total, steps_per_epoch).abs() < 1e-12);
    }

    #[test]
    fn distillation_loss_is_least_where_the_student_agrees_with_the_teacher() {
        let device = Device::flex();
        let teacher =
            Tensor::<2>::from_floats([[3.0, 1.0, -1.0, 0.0], [0.0, 2.5, 0.5, -2.0]], &device);
        let loss = |student: [[f32; 4]; 2]| -> f32 {
            distillation_loss(Tensor::from_floats(student, &device), teacher.clone(), 4.0)
                .into_scalar()
        };
        let agreeing = loss([[3.0, 1.0, -1.0, 0.0], [0.0, 2.5, 0.5, -2.0]]);
        // Right top class but overconfident: the teacher's view of the other classes is lost.
        let overconfident = loss([[9.0, -3.0, -3.0, -3.0], [-3.0, 9.0, -3.0, -3.0]]);
        let wrong = loss([[0.0, 3.0, -1.0, 1.0], [2.5, 0.0, 0.5, -2.0]]);
        assert!(agreeing.abs() < 1e-5, "{agreeing}");
        assert!(
            overconfident > 0.5 && wrong > 0.5,
            "{overconfident} {wrong}"
        );
    }

    #[test]
    fn distillation_without_teacher_logits_is_refused() {
        let device = Device::flex().autodiff();
        let mut images = ImageCache {
            size: 16,
            ..Default::default()
        };
        images.push(&[128; 256], 0);
        let config = TrainConfig {
            distillation: Some(Distillation {
                weight: 0.5,
                temperature: 4.0,
            }),
            ..TrainConfig::default()
        };
        let model =
            crate::model::Architecture::Cnn.init(&crate::model::ModelConfig::new(), &device);
        let outcome = train(
            model,
            &images,
            &images,
            &PreprocessConfig::new(16),
            &config,
            &device,
            &mut Silent,
            None,
        );
        let Err(error) = outcome else {
            panic!("distillation without a teacher trained");
        };
        assert!(error.to_string().contains("teacher"), "{error}");
    }

    #[test]
    fn progressive_resize_shrinks_only_the_first_epochs() {
        let config = TrainConfig {
            progressive_resize: Some(ProgressiveResize {
                size: 80,
                epochs: 3,
            }),
            ..TrainConfig::default()
        };
        let sizes: Vec<usize> = (1..=5)
            .map(|epoch| config.image_size_for_epoch(epoch, 112))
            .collect();
        assert_eq!(sizes, [80, 80, 80, 112, 112]);
        assert_eq!(TrainConfig::default().image_size_for_epoch(1, 112), 112);
    }

    #[test]
    fn temperature_softens_overconfident_logits() {
        // Confident logits that are right only half the time: the best temperature is above 1.
        let logits = [8.0, 0.0, 0.0, 0.0, 8.0, 0.0, 0.0, 0.0];
        let labels = [0, 1];
        let t = fit_temperature(&logits, &labels);
        assert!(t > 2.0, "{t}");
        // Logits that are always right: the best temperature sharpens (below 1).
        assert!(fit_temperature(&[2.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0], &[0, 1]) < 1.0);
    }

    #[test]
    fn softmax_rows_sum_to_one() {
        let p = softmax_row(&[1.0, 2.0, 3.0, 4.0], 1.5);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(argmax(&p), 3);
    }
}
