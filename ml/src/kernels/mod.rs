//! Kernels of our own for the layers of EfficientNet-Lite that Burn's Flex CPU backend runs slowly
//! (measured per layer by `ml/examples/lite0_profile.rs`; the figures are in the README):
//!
//! - [`depthwise_nhwc`]: depthwise convolution on channels-last tensors, any stride, kernels up to
//!   8x8, asymmetric ("SAME") padding read in place; with its backward pass, so training uses it.
//! - [`depthwise_nhwc_fused`]: the same at inference with the folded batch norm's bias and ReLU6
//!   applied as each output is stored.
//! - [`pointwise_fused`], [`pointwise_fused_residual`]: a 1x1 convolution on channels-last data as
//!   one matrix product, bias, shortcut and ReLU6 fused, threaded at batch 1.
//! - [`stem_fused`]: the first convolution at inference, channels-first image in, channels-last
//!   activation out, bias and ReLU6 fused.
//! - [`batch_norm_rows`]: training batch norm on channels-last rows with ReLU6 fused, and its
//!   backward, in five passes over the activation where Burn's generic one takes about twenty.
//!
//! Layout: activations are `[batch, height, width, channels]` (a 1x1 convolution sees them as
//! `[batch * height * width, channels]`); depthwise weights are packed `[kernel * kernel, channels]`
//! ([`pack_depthwise`]). The maths of each kernel is in its module: [`depthwise`], [`pointwise`],
//! [`batch_norm`].
//!
//! Only Flex (with or without autodiff) runs them; [`available_on`] says whether a device does,
//! and callers keep Burn's standard operations for every other device (wgpu, NdArray). Each
//! kernel is tested against Burn's own operation on random inputs (`tests` below).

pub mod batch_norm;
pub mod depthwise;
mod extension;
pub mod pointwise;
pub mod stem;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::Dispatch;
use burn::nn::BatchNorm;
use burn::prelude::*;

pub use depthwise::Geometry;
use extension::{InferenceKernels, TrainingKernels};

static DISABLED: AtomicBool = AtomicBool::new(false);

/// Turns the kernels off (or back on) for the whole process: every caller then takes Burn's
/// standard operations. For measuring one path against the other (the profile, the tests).
pub fn set_enabled(enabled: bool) {
    DISABLED.store(!enabled, Ordering::Relaxed);
}

/// Whether the kernels run on `device`: Flex, plain or with autodiff, unless turned off.
pub fn available_on(device: &Device) -> bool {
    !DISABLED.load(Ordering::Relaxed) && device.clone().inner() == Device::flex()
}

/// `x` `[n, h, w, c]` convolved per channel with `weights` `[kernel * kernel, c]`. Differentiable
/// in both. Only on a device for which [`available_on`] holds.
pub fn depthwise_nhwc(x: Tensor<4>, weights: Tensor<2>, geometry: Geometry) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as TrainingKernels>::depthwise_nhwc(
        x.into_dispatch(),
        weights.into_dispatch(),
        geometry,
    ))
}

/// Training-mode batch norm of `x` `[rows, c]` (channels-last rows), then ReLU6 if asked, with
/// `norm`'s running statistics updated as Burn's own batch norm updates them. Differentiable in
/// `x` and in `norm`'s scale and shift.
pub fn batch_norm_rows(norm: &BatchNorm, x: Tensor<2>, relu6: bool) -> Tensor<2> {
    let device = x.device();
    let statistics: Tensor<2> = Tensor::from_dispatch(
        <Dispatch as TrainingKernels>::batch_norm_statistics(x.clone().into_dispatch()),
    );
    let output = Tensor::from_dispatch(<Dispatch as TrainingKernels>::batch_norm_rows(
        x.into_dispatch(),
        norm.gamma.val().into_dispatch(),
        norm.beta.val().into_dispatch(),
        statistics.clone().into_dispatch(),
        norm.epsilon,
        relu6,
    ));
    let [_, channels] = statistics.dims();
    let batch_mean = statistics.clone().narrow(0, 0, 1).reshape([channels]);
    let batch_var = statistics.narrow(0, 1, 1).reshape([channels]);
    let momentum = norm.momentum;
    let running_mean = norm.running_mean.value_sync().to_device(&device);
    let running_var = norm.running_var.value_sync().to_device(&device);
    norm.running_mean.update(
        running_mean
            .mul_scalar(1.0 - momentum)
            .add(batch_mean.mul_scalar(momentum))
            .detach(),
    );
    norm.running_var.update(
        running_var
            .mul_scalar(1.0 - momentum)
            .add(batch_var.mul_scalar(momentum))
            .detach(),
    );
    output
}

/// `act(depthwise(x, weights) + bias)` for inference (no autodiff device).
pub fn depthwise_nhwc_fused(
    x: Tensor<4>,
    weights: Tensor<2>,
    bias: Tensor<1>,
    geometry: Geometry,
    relu6: bool,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as InferenceKernels>::depthwise_nhwc_fused(
        x.into_dispatch(),
        weights.into_dispatch(),
        bias.into_dispatch(),
        geometry,
        relu6,
    ))
}

/// `act(x * weights + bias)`: `x` `[rows, in]`, `weights` `[in, out]` ([`pack_pointwise`]), for
/// inference (no autodiff device).
pub fn pointwise_fused(
    x: Tensor<2>,
    weights: Tensor<2>,
    bias: Tensor<1>,
    relu6: bool,
) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as InferenceKernels>::pointwise_fused(
        x.into_dispatch(),
        weights.into_dispatch(),
        bias.into_dispatch(),
        relu6,
    ))
}

/// `act(conv(images) + bias)` from `[n, c, h, w]` images to a `[n, out_h, out_w, c_out]`
/// activation, `weights` packed by [`pack_stem`], for inference (no autodiff device).
pub fn stem_fused(
    images: Tensor<4>,
    weights: Tensor<2>,
    bias: Tensor<1>,
    geometry: Geometry,
    relu6: bool,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as InferenceKernels>::stem_fused(
        images.into_dispatch(),
        weights.into_dispatch(),
        bias.into_dispatch(),
        geometry,
        relu6,
    ))
}

/// A convolution's weights as Burn stores them, `[out, in, k, k]`, as [`stem_fused`] reads them,
/// `[in * k * k, out]` (a view; see [`dense`]).
pub fn pack_stem(weight: Tensor<4>) -> Tensor<2> {
    let [channels_out, channels_in, kernel, _] = weight.dims();
    weight
        .reshape([channels_out, channels_in * kernel * kernel])
        .transpose()
}

/// `x * weights + bias + residual`, for inference (no autodiff device).
pub fn pointwise_fused_residual(
    x: Tensor<2>,
    weights: Tensor<2>,
    bias: Tensor<1>,
    residual: Tensor<2>,
) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as InferenceKernels>::pointwise_fused_residual(
        x.into_dispatch(),
        weights.into_dispatch(),
        bias.into_dispatch(),
        residual.into_dispatch(),
    ))
}

/// A depthwise convolution's weights as Burn stores them, `[c, 1, k, k]`, as the kernels read
/// them, tap-major `[k * k, c]`. A view: differentiable, so training packs on every step (the
/// kernel copies it, a few thousand values); [`dense`] writes it out once for inference.
pub fn pack_depthwise(weight: Tensor<4>) -> Tensor<2> {
    let [channels, _, kernel, _] = weight.dims();
    weight.reshape([channels, kernel * kernel]).transpose()
}

/// A 1x1 convolution's weights as Burn stores them, `[out, in, 1, 1]`, as the fused kernel reads
/// them, `[in, out]` (a view; see [`dense`]).
pub fn pack_pointwise(weight: Tensor<4>) -> Tensor<2> {
    let [channels_out, channels_in, _, _] = weight.dims();
    weight.reshape([channels_out, channels_in]).transpose()
}

/// `tensor`'s values written out in its logical row-major order, so that a packed view costs
/// nothing when the kernels read it.
pub fn dense<const D: usize>(tensor: Tensor<D>) -> Tensor<D> {
    let device = tensor.device();
    Tensor::from_data(tensor.into_data(), &device)
}

#[cfg(test)]
mod tests;
