//! The classifiers the project trains, chosen by [`Architecture`]: the compact CNN below, or
//! EfficientNet-Lite0 started from ImageNet weights ([`crate::efficientnet`]).
//!
//! The CNN: batch norm, sized for CPU training: a strided stem and early pooling bring a
//! 112x112 slice down to 28x28 before the wide layers, so most compute runs at low resolution. Each
//! stage is two 3x3 convolutions, optionally with a ResNet-style shortcut around them (a 1x1
//! projection where the width changes), which trains faster and deeper for almost no extra compute.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::store::{ModuleRecord, RecordError};
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::efficientnet::{EfficientNetLite, EfficientNetLiteConfig};

/// Which network a model is; recorded in its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Architecture {
    /// The compact CNN, trained from scratch ([`ModelConfig`]).
    #[default]
    #[serde(rename = "cnn")]
    Cnn,
    /// EfficientNet-Lite0 on one-channel slices ([`crate::efficientnet`]).
    #[serde(rename = "efficientnet-lite0")]
    EfficientNetLite0,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Cnn => "cnn",
            Architecture::EfficientNetLite0 => "efficientnet-lite0",
        }
    }

    /// A fresh (randomly initialised) network of this architecture; `config` gives the CNN's shape,
    /// and for every architecture the number of classes and the dropout before the head.
    pub fn init(self, config: &ModelConfig, device: &Device) -> Model {
        match self {
            Architecture::Cnn => Model::Cnn(config.init(device)),
            Architecture::EfficientNetLite0 => Model::EfficientNetLite(
                EfficientNetLiteConfig::new()
                    .with_num_classes(config.num_classes)
                    .with_dropout(config.dropout)
                    .init(device),
            ),
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any of the project's classifiers: training, evaluation and serving take this.
// A model is built a handful of times per run and lives behind an `Arc` while serving; the size
// difference costs nothing measurable, and `Module`'s derive wants the networks by value.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    Cnn(Cnn),
    EfficientNetLite(EfficientNetLite),
}

impl Model {
    pub fn architecture(&self) -> Architecture {
        match self {
            Model::Cnn(_) => Architecture::Cnn,
            Model::EfficientNetLite(_) => Architecture::EfficientNetLite0,
        }
    }

    pub fn parameter_count(&self) -> usize {
        self.num_params()
    }

    /// `images`: `[batch, 1, size, size]` normalised pixels -> `[batch, num_classes]` logits.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.classify(self.features(images))
    }

    /// The globally pooled last feature map, `[batch, feature_width]`: what the head reads, and
    /// what the out-of-distribution check measures distances in.
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        self.pool(self.feature_map(images))
    }

    /// The last convolutional feature map, `[batch, channels, h, w]`: what Grad-CAM weighs.
    pub fn feature_map(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            Model::Cnn(model) => model.feature_map(images),
            Model::EfficientNetLite(model) => model.feature_map(images),
        }
    }

    /// The map Grad-CAM explains, `[batch, channels, h, w]`: the CNN's last map; Lite0's
    /// stride-16 map (its last one is too coarse; see `EfficientNetLite::explained_map`).
    pub fn explained_map(&self, images: Tensor<4>) -> Tensor<4> {
        match self {
            Model::Cnn(model) => model.feature_map(images),
            Model::EfficientNetLite(model) => model.explained_map(images),
        }
    }

    /// [`Model::features`] from an [`Model::explained_map`]: the rest of the network up to the
    /// head. Differentiable in the map even when the model itself is not.
    pub fn features_from_explained_map(&self, map: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Cnn(model) => model.pool(map),
            Model::EfficientNetLite(model) => model.features_from_explained_map(map),
        }
    }

    /// The network's own global pooling of a [`Model::feature_map`]: its [`Model::features`].
    pub fn pool(&self, feature_map: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Cnn(model) => model.pool(feature_map),
            Model::EfficientNetLite(model) => model.pool(feature_map),
        }
    }

    /// Width of [`Model::features`]: what the head reads.
    pub fn feature_width(&self) -> usize {
        match self {
            Model::Cnn(model) => model.head.weight.dims()[0],
            Model::EfficientNetLite(model) => model.feature_width(),
        }
    }

    /// The head alone: pooled features -> logits (dropout while training).
    pub fn classify(&self, features: Tensor<2>) -> Tensor<2> {
        match self {
            Model::Cnn(model) => model.classify(features),
            Model::EfficientNetLite(model) => model.classify(features),
        }
    }

    /// The inference form: every batch norm folded into its convolution (same outputs, fewer
    /// passes over the activations). For serving only: it cannot be trained or saved as it is.
    pub fn fold_batch_norms(self) -> Self {
        match self {
            Model::Cnn(model) => Model::Cnn(model.fold_batch_norms()),
            Model::EfficientNetLite(model) => Model::EfficientNetLite(model.fold_batch_norms()),
        }
    }

    /// Writes the network's own weights (no enum wrapper), so a CNN's file is what it always was.
    /// [`Precision::Half`] stores the learned parameters as f16 (half the file; the running
    /// batch-norm statistics stay f32, as a variance can sit below f16's normal range).
    pub fn save_weights(
        &self,
        path: &std::path::Path,
        precision: Precision,
    ) -> Result<(), RecordError> {
        fn save<M: Module>(
            model: M,
            path: &std::path::Path,
            precision: Precision,
        ) -> Result<(), RecordError> {
            match precision {
                Precision::Full => model.save_file(path),
                Precision::Half => model.map(&mut HalfParameters::default()).save_file(path),
            }
        }
        match self {
            Model::Cnn(model) => save(model.clone(), path, precision),
            Model::EfficientNetLite(model) => save(model.clone(), path, precision),
        }
    }

    /// Loads weights [`Model::save_weights`] wrote into this (freshly initialised) network, in
    /// its own precision whatever the file's.
    pub fn load_weights(self, path: &std::path::Path) -> Result<Self, RecordError> {
        fn load<M: Module>(model: M, path: &std::path::Path) -> Result<M, RecordError> {
            model.try_load_record(ModuleRecord::load(path)?.cast_to_module_dtype())
        }
        Ok(match self {
            Model::Cnn(model) => Model::Cnn(load(model, path)?),
            Model::EfficientNetLite(model) => Model::EfficientNetLite(load(model, path)?),
        })
    }
}

/// How a model's weights are stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Full,
    Half,
}

impl Architecture {
    /// What a released model of this architecture is stored in: Lite0's 3.4 M parameters in f16
    /// keep its file under 10 MB; the CNN's 0.7 M stay f32.
    pub fn release_precision(self) -> Precision {
        match self {
            Architecture::Cnn => Precision::Full,
            Architecture::EfficientNetLite0 => Precision::Half,
        }
    }
}

/// Casts a module's learned float parameters to f16, leaving its running statistics alone.
#[derive(Default)]
struct HalfParameters {
    path: Vec<String>,
}

impl burn::module::ModuleMapper for HalfParameters {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let running_statistic = self
            .path
            .last()
            .is_some_and(|field| field.starts_with("running_"));
        if running_statistic {
            param
        } else {
            param.map(|tensor| tensor.cast(burn::tensor::DType::F16))
        }
    }
}

#[derive(Config, Debug, PartialEq)]
pub struct ModelConfig {
    #[config(default = 4)]
    pub num_classes: usize,
    /// Channels of the stem, then of each of the three stages.
    #[config(default = "[24, 48, 96, 192]")]
    pub widths: [usize; 4],
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Shortcut connections around each stage.
    #[config(default = false)]
    pub residual: bool,
}

/// 3x3 convolution (no bias: batch norm supplies it), batch norm, ReLU.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: BatchNorm,
}

impl ConvBlock {
    fn new(channels_in: usize, channels_out: usize, stride: usize, device: &Device) -> Self {
        let conv = Conv2dConfig::new([channels_in, channels_out], [3, 3])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .init(device);
        Self {
            conv,
            norm: BatchNormConfig::new(channels_out).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.normalised(x))
    }

    /// Convolution and batch norm without the activation, for the end of a residual branch.
    fn normalised(&self, x: Tensor<4>) -> Tensor<4> {
        conv_then_norm(&self.conv, &self.norm, x)
    }
}

/// A convolution followed by its batch norm. A convolution with a bias has had its batch norm
/// folded in ([`fold_batch_norm`]): every convolution the project trains has none, batch norm
/// supplying it.
pub(crate) fn conv_then_norm(conv: &Conv2d, norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let convolved = conv.forward(x);
    if conv.bias.is_some() {
        convolved
    } else {
        norm.forward(convolved)
    }
}

/// Multiplies an inference-mode batch norm (a fixed per-channel scale and shift) into the
/// convolution before it, once at load time, instead of paying for its several passes over every
/// activation on every request. Only for inference: a folded model is never trained or saved.
pub(crate) fn fold_batch_norm(conv: &mut Conv2d, norm: &BatchNorm) {
    if conv.bias.is_some() {
        return;
    }
    let scale = norm.gamma.val() / (norm.running_var.value() + norm.epsilon).sqrt();
    let shift = norm.beta.val() - norm.running_mean.value() * scale.clone();
    let [channels_out, ..] = conv.weight.dims();
    let weight = conv.weight.val() * scale.reshape([channels_out, 1, 1, 1]);
    conv.weight = Param::from_tensor(weight);
    conv.bias = Some(Param::from_tensor(shift));
}

/// 1x1 convolution and batch norm that bring a shortcut to the branch's channel count.
#[derive(Module, Debug)]
pub struct Projection {
    conv: Conv2d,
    norm: BatchNorm,
}

impl Projection {
    fn new(channels_in: usize, channels_out: usize, device: &Device) -> Self {
        Self {
            conv: Conv2dConfig::new([channels_in, channels_out], [1, 1])
                .with_bias(false)
                .init(device),
            norm: BatchNormConfig::new(channels_out).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv_then_norm(&self.conv, &self.norm, x)
    }
}

/// Two conv blocks; the first changes the channel count. With a shortcut, the block computes
/// `relu(branch(x) + shortcut(x))` as in ResNet's basic block.
#[derive(Module, Debug)]
pub struct Stage {
    first: ConvBlock,
    second: ConvBlock,
    shortcut: Option<Projection>,
    residual: bool,
}

impl Stage {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if !self.residual {
            return self.second.forward(self.first.forward(x));
        }
        let identity = match &self.shortcut {
            Some(projection) => projection.forward(x.clone()),
            None => x.clone(),
        };
        relu(self.second.normalised(self.first.forward(x)) + identity)
    }
}

#[derive(Module, Debug)]
pub struct Cnn {
    stem: ConvBlock,
    stages: Vec<Stage>,
    pool: MaxPool2d,
    global_pool: AdaptiveAvgPool2d,
    dropout: Dropout,
    head: Linear,
}

impl ModelConfig {
    pub fn init(&self, device: &Device) -> Cnn {
        let [stem, a, b, c] = self.widths;
        let stages = [(stem, a), (a, b), (b, c)]
            .into_iter()
            .map(|(channels_in, channels_out)| Stage {
                first: ConvBlock::new(channels_in, channels_out, 1, device),
                second: ConvBlock::new(channels_out, channels_out, 1, device),
                shortcut: (self.residual && channels_in != channels_out)
                    .then(|| Projection::new(channels_in, channels_out, device)),
                residual: self.residual,
            })
            .collect();
        Cnn {
            stem: ConvBlock::new(1, stem, 2, device),
            stages,
            pool: MaxPool2dConfig::new([2, 2]).init(),
            global_pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(c, self.num_classes).init(device),
        }
    }
}

impl ConvBlock {
    fn fold(&mut self) {
        fold_batch_norm(&mut self.conv, &self.norm);
    }
}

impl Projection {
    fn fold(&mut self) {
        fold_batch_norm(&mut self.conv, &self.norm);
    }
}

impl Cnn {
    fn fold_batch_norms(mut self) -> Self {
        self.stem.fold();
        for stage in &mut self.stages {
            stage.first.fold();
            stage.second.fold();
            if let Some(projection) = &mut stage.shortcut {
                projection.fold();
            }
        }
        self
    }

    /// `images`: `[batch, 1, size, size]` normalised pixels -> `[batch, num_classes]` logits.
    /// Any size divisible by 16 works; the global pool makes the head size-independent.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.classify(self.pool(self.feature_map(images)))
    }

    fn pool(&self, feature_map: Tensor<4>) -> Tensor<2> {
        self.global_pool.forward(feature_map).flatten::<2>(1, 3)
    }

    fn feature_map(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = self.pool.forward(self.stem.forward(images));
        let last = self.stages.len().saturating_sub(1);
        for (index, stage) in self.stages.iter().enumerate() {
            x = stage.forward(x);
            if index < last {
                x = self.pool.forward(x);
            }
        }
        x
    }

    fn classify(&self, features: Tensor<2>) -> Tensor<2> {
        self.head.forward(self.dropout.forward(features))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn folded_batch_norms_give_the_same_logits() {
        let device = Device::flex().autodiff();
        let config = ModelConfig::new().with_residual(true);
        for architecture in [Architecture::Cnn, Architecture::EfficientNetLite0] {
            let model = architecture.init(&config, &device);
            // Training-mode passes move the running statistics away from 0 and 1, so the fold
            // has something to fold.
            for _ in 0..3 {
                let images =
                    Tensor::<4>::random([4, 1, 64, 64], Distribution::Normal(0.5, 2.0), &device);
                let _ = model.forward(images);
            }
            let model = model.valid();
            let images =
                Tensor::<4>::random([2, 1, 64, 64], Distribution::Default, &Device::flex());
            let expected = model.forward(images.clone());
            let folded = model.fold_batch_norms().forward(images);
            let scale: f32 = expected.clone().abs().max().into_scalar();
            let difference: f32 = (expected - folded).abs().max().into_scalar();
            assert!(
                difference <= 1e-4 * scale.max(1.0),
                "{architecture}: {difference} (logits up to {scale})"
            );
        }
    }

    #[test]
    fn forward_maps_images_to_one_logit_per_class() {
        let device = Device::flex();
        let model = ModelConfig::new().with_widths([4, 8, 8, 16]).init(&device);
        let images = Tensor::<4>::zeros([3, 1, 32, 32], &device);
        assert_eq!(model.forward(images).dims(), [3, 4]);
        assert!(model.num_params() > 0);
    }

    #[test]
    fn residual_stages_add_projections_and_keep_the_output_shape() {
        let device = Device::flex();
        let plain = ModelConfig::new().with_widths([4, 8, 8, 16]);
        let residual = plain.clone().with_residual(true);
        let (plain, residual) = (plain.init(&device), residual.init(&device));
        // Projections where the width changes (4->8 and 8->16), none for 8->8: a 1x1 kernel plus batch
        // norm's scale, shift and two running statistics per output channel.
        let projections = (4 * 8 + 4 * 8) + (8 * 16 + 4 * 16);
        assert_eq!(residual.num_params(), plain.num_params() + projections);
        let images = Tensor::<4>::zeros([2, 1, 32, 32], &device);
        assert_eq!(residual.forward(images).dims(), [2, 4]);
    }
}
