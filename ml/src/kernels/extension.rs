//! The kernels as Burn backend extensions on Flex (Burn's `extension` feature): the slices of
//! [`super::depthwise`] and [`super::pointwise`] wrapped as operations on Flex tensors, and, for the
//! depthwise convolution that training uses, its backward pass registered with Burn's autodiff.
//! Callers go through [`super`], which checks the device first: calling an extension on a backend
//! it was not implemented for panics.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, AutodiffBackend, Backend, Flex};
use burn::tensor::{Shape, TensorData};

use super::batch_norm;
use super::depthwise::{self, Activation, Geometry, Nhwc};
use super::pointwise;
use super::stem;

/// Operations training differentiates through.
#[backend_extension(Flex, Autodiff)]
pub trait TrainingKernels: Backend {
    /// Depthwise convolution, NHWC: `x` `[n, h, w, c]`, `weights` `[kernel * kernel, c]`.
    fn depthwise_nhwc(
        x: FloatTensor<Self>,
        weights: FloatTensor<Self>,
        geometry: Geometry,
    ) -> FloatTensor<Self>;

    /// Per-channel mean and (biased) variance of `x` `[rows, c]`, as `[2, c]`. Not differentiated:
    /// [`TrainingKernels::batch_norm_rows`]'s backward accounts for them.
    fn batch_norm_statistics(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Training batch norm of `x` `[rows, c]` with the `statistics` of `x`, then ReLU6 if asked.
    fn batch_norm_rows(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        statistics: FloatTensor<Self>,
        epsilon: f64,
        relu6: bool,
    ) -> FloatTensor<Self>;
}

/// Inference-only operations, with bias and activation fused.
#[backend_extension(Flex)]
pub trait InferenceKernels: Backend {
    /// `act(depthwise(x, weights) + bias)`, NHWC.
    fn depthwise_nhwc_fused(
        x: FloatTensor<Self>,
        weights: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: Geometry,
        relu6: bool,
    ) -> FloatTensor<Self>;

    /// `act(x * weights + bias)`: `x` `[rows, in]`, `weights` `[in, out]`, `bias` `[out]`.
    fn pointwise_fused(
        x: FloatTensor<Self>,
        weights: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        relu6: bool,
    ) -> FloatTensor<Self>;

    /// `act(conv(x) + bias)`: `x` `[n, c_in, h, w]` (channels-first), `weights`
    /// `[c_in * k * k, c_out]`, output `[n, out_h, out_w, c_out]` (channels-last).
    fn stem_fused(
        x: FloatTensor<Self>,
        weights: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        geometry: Geometry,
        relu6: bool,
    ) -> FloatTensor<Self>;

    /// `x * weights + bias + residual` (the projection closing a block with a shortcut).
    fn pointwise_fused_residual(
        x: FloatTensor<Self>,
        weights: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        residual: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// A tensor's values in row-major order, copied only when its layout is not already that.
fn dense(tensor: FlexTensor) -> FlexTensor {
    if tensor.as_slice::<f32>().is_some() {
        tensor
    } else {
        tensor.to_contiguous()
    }
}

fn values(tensor: &FlexTensor) -> &[f32] {
    tensor
        .as_slice::<f32>()
        .expect("the kernels take f32 tensors made dense by `dense`")
}

fn new_tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

fn nhwc_of(tensor: &FlexTensor) -> Nhwc {
    let dims = tensor.layout().shape();
    assert_eq!(
        dims.num_dims(),
        4,
        "the depthwise kernel takes [n, h, w, c] tensors"
    );
    Nhwc {
        batch: dims[0],
        height: dims[1],
        width: dims[2],
        channels: dims[3],
    }
}

fn depthwise_forward(
    x: FlexTensor,
    weights: FlexTensor,
    bias: Option<FlexTensor>,
    geometry: Geometry,
    activation: Activation,
) -> FlexTensor {
    let (x, weights, bias) = (dense(x), dense(weights), bias.map(dense));
    let shape = nhwc_of(&x);
    let (out_height, out_width) = geometry.output_size(shape.height, shape.width);
    let mut y = vec![0.0f32; shape.batch * out_height * out_width * shape.channels];
    depthwise::forward(
        values(&x),
        shape,
        values(&weights),
        bias.as_ref().map(values),
        geometry,
        activation,
        &mut y,
    );
    new_tensor(y, [shape.batch, out_height, out_width, shape.channels])
}

fn pointwise_forward(
    x: FlexTensor,
    weights: FlexTensor,
    bias: FlexTensor,
    residual: Option<FlexTensor>,
    relu6: bool,
) -> FlexTensor {
    let (x, weights, bias, residual) = (dense(x), dense(weights), dense(bias), residual.map(dense));
    let dims = x.layout().shape();
    assert_eq!(
        dims.num_dims(),
        2,
        "the pointwise kernel takes [rows, channels] tensors"
    );
    let rows = dims[0];
    let outputs = bias.layout().shape().num_elements();
    let mut y = vec![0.0f32; rows * outputs];
    pointwise::forward(
        values(&x),
        rows,
        values(&weights),
        values(&bias),
        residual.as_ref().map(values),
        relu6,
        &mut y,
    );
    new_tensor(y, [rows, outputs])
}

/// `(mean, inv_std)` from a `[2, c]` statistics tensor.
fn mean_and_inverse_std(statistics: &FlexTensor, epsilon: f64) -> (Vec<f32>, Vec<f32>) {
    let values = values(statistics);
    let channels = values.len() / 2;
    (
        values[..channels].to_vec(),
        batch_norm::inverse_std(&values[channels..], epsilon),
    )
}

fn rows_of(x: &FlexTensor, channels: usize) -> [usize; 2] {
    [
        x.layout().shape().num_elements() / channels.max(1),
        channels,
    ]
}

impl TrainingKernels for Flex {
    fn depthwise_nhwc(x: FlexTensor, weights: FlexTensor, geometry: Geometry) -> FlexTensor {
        depthwise_forward(x, weights, None, geometry, Activation::None)
    }

    fn batch_norm_statistics(x: FlexTensor) -> FlexTensor {
        let x = dense(x);
        let channels = x.layout().shape()[1];
        let (mut mean, variance) = batch_norm::statistics(values(&x), channels);
        mean.extend(variance);
        new_tensor(mean, [2, channels])
    }

    fn batch_norm_rows(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        statistics: FlexTensor,
        epsilon: f64,
        relu6: bool,
    ) -> FlexTensor {
        let (x, gamma, beta, statistics) = (dense(x), dense(gamma), dense(beta), dense(statistics));
        let (mean, inv_std) = mean_and_inverse_std(&statistics, epsilon);
        let mut y = vec![0.0f32; x.layout().shape().num_elements()];
        batch_norm::forward(
            values(&x),
            &mean,
            &inv_std,
            values(&gamma),
            values(&beta),
            relu6,
            &mut y,
        );
        new_tensor(y, rows_of(&x, mean.len()))
    }
}

impl InferenceKernels for Flex {
    fn stem_fused(
        x: FlexTensor,
        weights: FlexTensor,
        bias: FlexTensor,
        geometry: Geometry,
        relu6: bool,
    ) -> FlexTensor {
        let (x, weights, bias) = (dense(x), dense(weights), dense(bias));
        let dims = x.layout().shape();
        assert_eq!(dims.num_dims(), 4, "the stem takes [n, c, h, w] images");
        let shape = [dims[0], dims[1], dims[2], dims[3]];
        let channels_out = bias.layout().shape().num_elements();
        let (out_height, out_width) = geometry.output_size(shape[2], shape[3]);
        let mut y = vec![0.0f32; shape[0] * out_height * out_width * channels_out];
        stem::forward(
            values(&x),
            shape,
            values(&weights),
            values(&bias),
            geometry,
            relu6,
            &mut y,
        );
        new_tensor(y, [shape[0], out_height, out_width, channels_out])
    }

    fn depthwise_nhwc_fused(
        x: FlexTensor,
        weights: FlexTensor,
        bias: FlexTensor,
        geometry: Geometry,
        relu6: bool,
    ) -> FlexTensor {
        let activation = if relu6 {
            Activation::Relu6
        } else {
            Activation::None
        };
        depthwise_forward(x, weights, Some(bias), geometry, activation)
    }

    fn pointwise_fused(
        x: FlexTensor,
        weights: FlexTensor,
        bias: FlexTensor,
        relu6: bool,
    ) -> FlexTensor {
        pointwise_forward(x, weights, bias, None, relu6)
    }

    fn pointwise_fused_residual(
        x: FlexTensor,
        weights: FlexTensor,
        bias: FlexTensor,
        residual: FlexTensor,
    ) -> FlexTensor {
        pointwise_forward(x, weights, bias, Some(residual), false)
    }
}

/// The depthwise convolution's backward step: the input gradient is the convolution of the output
/// gradient with the same taps scattered back, the weight gradient the per-tap, per-channel sum of
/// output gradient times input (see [`super::depthwise`]).
#[derive(Debug)]
struct DepthwiseBackward;

impl Backward<Flex, 2> for DepthwiseBackward {
    /// The forward input, the packed weights and the geometry.
    type State = (FlexTensor, FlexTensor, Geometry);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [input_node, weight_node] = ops.parents;
        let output_grad = dense(grads.consume::<Flex>(&ops.node));
        let (x, weights, geometry) = ops.state;
        let shape = nhwc_of(&x);
        if let Some(node) = input_node {
            let weights = dense(weights.clone());
            let mut dx = vec![0.0f32; shape.len()];
            depthwise::backward_input(
                values(&output_grad),
                shape,
                values(&weights),
                geometry,
                &mut dx,
            );
            grads.register::<Flex>(
                node.id,
                new_tensor(dx, [shape.batch, shape.height, shape.width, shape.channels]),
            );
        }
        if let Some(node) = weight_node {
            let x = dense(x);
            let mut dw = vec![0.0f32; geometry.kernel * geometry.kernel * shape.channels];
            depthwise::backward_weight(values(&x), shape, values(&output_grad), geometry, &mut dw);
            grads.register::<Flex>(
                node.id,
                new_tensor(dw, [geometry.kernel * geometry.kernel, shape.channels]),
            );
        }
    }
}

impl<C: CheckpointStrategy> TrainingKernels for Autodiff<Flex, C> {
    fn depthwise_nhwc(
        x: FloatTensor<Self>,
        weights: FloatTensor<Self>,
        geometry: Geometry,
    ) -> FloatTensor<Self> {
        match DepthwiseBackward
            .prepare::<C>([x.node(), weights.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (x, weights) = (x.into_primitive(), weights.into_primitive());
                let output = Flex::depthwise_nhwc(x.clone(), weights.clone(), geometry);
                prep.finish((x, weights, geometry), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::depthwise_nhwc(
                x.into_primitive(),
                weights.into_primitive(),
                geometry,
            )),
        }
    }

    fn batch_norm_statistics(x: FloatTensor<Self>) -> FloatTensor<Self> {
        // A constant of the graph: the batch norm's own backward differentiates through it.
        Self::from_inner(Flex::batch_norm_statistics(x.into_primitive()))
    }

    fn batch_norm_rows(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        statistics: FloatTensor<Self>,
        epsilon: f64,
        relu6: bool,
    ) -> FloatTensor<Self> {
        let statistics = statistics.into_primitive();
        match BatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (x, gamma, beta) = (
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                );
                let output = Flex::batch_norm_rows(
                    x.clone(),
                    gamma.clone(),
                    beta.clone(),
                    statistics.clone(),
                    epsilon,
                    relu6,
                );
                prep.finish((x, gamma, beta, statistics, epsilon, relu6), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::batch_norm_rows(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                statistics,
                epsilon,
                relu6,
            )),
        }
    }
}

/// Batch norm's backward step: input, scale and shift gradients in two passes (see
/// [`super::batch_norm`]).
#[derive(Debug)]
struct BatchNormBackward;

impl Backward<Flex, 3> for BatchNormBackward {
    /// The forward input, gamma, beta, the statistics, epsilon and whether ReLU6 followed.
    type State = (FlexTensor, FlexTensor, FlexTensor, FlexTensor, f64, bool);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [input_node, gamma_node, beta_node] = ops.parents;
        let output_grad = dense(grads.consume::<Flex>(&ops.node));
        let (x, gamma, beta, statistics, epsilon, relu6) = ops.state;
        let (x, gamma, beta, statistics) = (dense(x), dense(gamma), dense(beta), dense(statistics));
        let (mean, inv_std) = mean_and_inverse_std(&statistics, epsilon);
        let channels = mean.len();
        let (dx, dgamma, dbeta) = batch_norm::backward(
            values(&x),
            values(&output_grad),
            &mean,
            &inv_std,
            values(&gamma),
            values(&beta),
            relu6,
        );
        if let Some(node) = input_node {
            grads.register::<Flex>(node.id, new_tensor(dx, rows_of(&x, channels)));
        }
        if let Some(node) = gamma_node {
            grads.register::<Flex>(node.id, new_tensor(dgamma, [channels]));
        }
        if let Some(node) = beta_node {
            grads.register::<Flex>(node.id, new_tensor(dbeta, [channels]));
        }
    }
}
