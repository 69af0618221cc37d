//! Every kernel against Burn's own operation on random inputs: forward values and, for the
//! depthwise convolution, the gradients of a random projection of its output with respect to the
//! input and the weights. Tolerance: 1e-4 of the reference's largest magnitude.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::Distribution;

use super::*;

const TOLERANCE: f32 = 1e-4;

fn assert_close<const D: usize>(ours: Tensor<D>, reference: Tensor<D>, what: &str) {
    assert_eq!(ours.dims(), reference.dims(), "{what}: shapes differ");
    let scale: f32 = reference.clone().abs().max().into_scalar();
    let difference: f32 = (ours - reference).abs().max().into_scalar();
    assert!(
        difference <= TOLERANCE * scale.max(1.0),
        "{what}: largest difference {difference} against a largest value {scale}"
    );
}

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), device)
}

/// TensorFlow's "SAME" padding (extra row and column after) and the symmetric kind.
fn geometries(kernel: usize, stride: usize) -> [Geometry; 2] {
    let total = kernel.saturating_sub(stride);
    let same = Geometry {
        kernel,
        stride,
        pad_top: total / 2,
        pad_left: total / 2,
        pad_bottom: total - total / 2,
        pad_right: total - total / 2,
    };
    let half = kernel / 2;
    let symmetric = Geometry {
        kernel,
        stride,
        pad_top: half,
        pad_left: half,
        pad_bottom: half,
        pad_right: half,
    };
    [same, symmetric]
}

/// Burn's convolution with `weight` (`[out, in / groups, k, k]`), `bias` and `geometry`.
fn burn_conv(
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    groups: usize,
    geometry: Geometry,
) -> Conv2d {
    let [channels_out, channels_in_per_group, kernel, _] = weight.dims();
    let mut conv = Conv2dConfig::new(
        [channels_in_per_group * groups, channels_out],
        [kernel, kernel],
    )
    .with_stride([geometry.stride, geometry.stride])
    .with_padding(PaddingConfig2d::Explicit(
        geometry.pad_top,
        geometry.pad_left,
        geometry.pad_bottom,
        geometry.pad_right,
    ))
    .with_groups(groups)
    .with_bias(bias.is_some())
    .init(&weight.device());
    conv.weight = Param::from_tensor(weight);
    conv.bias = bias.map(Param::from_tensor);
    conv
}

/// Burn's grouped convolution (NCHW) on NHWC data: the reference.
fn burn_depthwise(x: Tensor<4>, weight: Tensor<4>, geometry: Geometry) -> Tensor<4> {
    let [channels, ..] = weight.dims();
    burn_conv(weight, None, channels, geometry)
        .forward(x.permute([0, 3, 1, 2]))
        .permute([0, 2, 3, 1])
}

/// Batch 1 and 3, odd and even sides, stride 1 and 2, kernels 3 and 5, channel counts that are
/// and are not multiples of the vector width.
fn cases() -> Vec<([usize; 4], usize, usize)> {
    let mut cases = Vec::new();
    for (batch, side, channels) in [(1, 10, 16), (3, 7, 19), (1, 9, 37), (3, 8, 40), (1, 5, 3)] {
        for kernel in [3, 5] {
            for stride in [1, 2] {
                cases.push(([batch, side, side + 1, channels], kernel, stride));
            }
        }
    }
    cases
}

#[test]
fn depthwise_forward_matches_burn() {
    let device = Device::flex();
    for (shape, kernel, stride) in cases() {
        for geometry in geometries(kernel, stride) {
            let x = random(shape, &device);
            let weight = random([shape[3], 1, kernel, kernel], &device);
            let ours = depthwise_nhwc(x.clone(), pack_depthwise(weight.clone()), geometry);
            let reference = burn_depthwise(x, weight, geometry);
            assert_close(ours, reference, &format!("forward {shape:?} {geometry:?}"));
        }
    }
}

#[test]
fn fused_depthwise_adds_the_bias_and_clamps() {
    let device = Device::flex();
    for (shape, kernel, stride) in cases() {
        let geometry = geometries(kernel, stride)[0];
        let x = random(shape, &device).mul_scalar(4.0);
        let weight = random([shape[3], 1, kernel, kernel], &device);
        let bias = random([shape[3]], &device).mul_scalar(3.0);
        let reference = burn_depthwise(x.clone(), weight.clone(), geometry);
        let with_bias = reference.clone() + bias.clone().reshape([1, 1, 1, shape[3]]);
        let plain = depthwise_nhwc_fused(
            x.clone(),
            pack_depthwise(weight.clone()),
            bias.clone(),
            geometry,
            false,
        );
        assert_close(
            plain,
            with_bias.clone(),
            &format!("bias {shape:?} {geometry:?}"),
        );
        let clamped = depthwise_nhwc_fused(x, pack_depthwise(weight), bias, geometry, true);
        assert_close(
            clamped,
            with_bias.clamp(0.0, 6.0),
            &format!("ReLU6 {shape:?} {geometry:?}"),
        );
    }
}

#[test]
fn depthwise_gradients_match_burn() {
    let device = Device::flex().autodiff();
    for (shape, kernel, stride) in cases() {
        for geometry in geometries(kernel, stride) {
            let x = random(shape, &device);
            let weight = random([shape[3], 1, kernel, kernel], &device);
            let (out_height, out_width) = geometry.output_size(shape[1], shape[2]);
            // A random projection of the output, so every output element gets its own gradient.
            let probe = random([shape[0], out_height, out_width, shape[3]], &device).detach();

            let gradients = |ours: bool| {
                let x = x.clone().detach().require_grad();
                let weight = weight.clone().detach().require_grad();
                let y = if ours {
                    depthwise_nhwc(x.clone(), pack_depthwise(weight.clone()), geometry)
                } else {
                    burn_depthwise(x.clone(), weight.clone(), geometry)
                };
                let grads = (y * probe.clone()).sum().backward();
                let dx = x.grad(&grads).expect("the input takes part in the graph");
                let dw = weight
                    .grad(&grads)
                    .expect("the weights take part in the graph");
                (dx, dw)
            };
            let (ours_dx, ours_dw) = gradients(true);
            let (burn_dx, burn_dw) = gradients(false);
            let what = format!("{shape:?} {geometry:?}");
            assert_close(ours_dx, burn_dx, &format!("input gradient {what}"));
            assert_close(ours_dw, burn_dw, &format!("weight gradient {what}"));
        }
    }
}

#[test]
fn pointwise_matches_a_matrix_product() {
    let device = Device::flex();
    // Few rows (split by output channels), many rows (split by rows), small (one call), and
    // widths that are not multiples of the vector width.
    for (rows, inputs, outputs) in [
        (25, 192, 1152),
        (6400, 16, 96),
        (3, 5, 7),
        (100, 480, 80),
        (77, 33, 19),
    ] {
        let x = random([rows, inputs], &device);
        let weight = random([outputs, inputs, 1, 1], &device);
        let weights = dense(pack_pointwise(weight.clone()));
        let bias = random([outputs], &device).mul_scalar(4.0);
        let residual = random([rows, outputs], &device);
        let product = x
            .clone()
            .matmul(weight.reshape([outputs, inputs]).transpose())
            + bias.clone().unsqueeze();
        let what = format!("{rows}x{inputs} -> {outputs}");
        assert_close(
            pointwise_fused(x.clone(), weights.clone(), bias.clone(), false),
            product.clone(),
            &format!("plain {what}"),
        );
        assert_close(
            pointwise_fused(x.clone(), weights.clone(), bias.clone(), true),
            product.clone().clamp(0.0, 6.0),
            &format!("ReLU6 {what}"),
        );
        assert_close(
            pointwise_fused_residual(x, weights, bias, residual.clone()),
            product + residual,
            &format!("residual {what}"),
        );
    }
}

/// Without this, a broken device check would send every test above through Burn's own operations
/// on both sides and they would still pass.
#[test]
fn flex_devices_with_and_without_autodiff_take_the_kernels() {
    assert!(available_on(&Device::flex()));
    assert!(available_on(&Device::flex().autodiff()));
}

#[test]
fn batch_norm_rows_matches_burn_with_and_without_relu6() {
    use burn::module::Param;
    use burn::nn::BatchNormConfig;

    let device = Device::flex().autodiff();
    // Rows not a multiple of the block size; channels not a multiple of the vector width.
    for (rows, channels) in [(300, 19), (1000, 40), (7, 3)] {
        for relu6 in [false, true] {
            let x = random([rows, channels], &device)
                .mul_scalar(3.0)
                .add_scalar(0.5);
            let probe = random([rows, channels], &device).detach();
            let gamma = random([channels], &device).add_scalar(1.5);
            let beta = random([channels], &device).mul_scalar(2.0);
            let run = |ours: bool| {
                let mut norm = BatchNormConfig::new(channels)
                    .with_epsilon(1e-3)
                    .with_momentum(0.1)
                    .init(&device);
                norm.gamma = Param::from_tensor(gamma.clone().detach().require_grad());
                norm.beta = Param::from_tensor(beta.clone().detach().require_grad());
                let x = x.clone().detach().require_grad();
                let y = if ours {
                    batch_norm_rows(&norm, x.clone(), relu6)
                } else {
                    let y = norm.forward(x.clone());
                    if relu6 {
                        y.clamp(0.0, 6.0)
                    } else {
                        y
                    }
                };
                let grads = (y.clone() * probe.clone()).sum().backward();
                let dx = x.grad(&grads).expect("x takes part");
                let dgamma = norm.gamma.val().grad(&grads).expect("gamma takes part");
                let dbeta = norm.beta.val().grad(&grads).expect("beta takes part");
                (
                    y.inner(),
                    dx,
                    dgamma,
                    dbeta,
                    norm.running_mean.value().inner(),
                    norm.running_var.value().inner(),
                )
            };
            let (y, dx, dgamma, dbeta, mean, var) = run(true);
            let (y_ref, dx_ref, dgamma_ref, dbeta_ref, mean_ref, var_ref) = run(false);
            let what = format!("{rows}x{channels} relu6={relu6}");
            assert_close(y, y_ref, &format!("output {what}"));
            assert_close(dx, dx_ref, &format!("input gradient {what}"));
            assert_close(dgamma, dgamma_ref, &format!("gamma gradient {what}"));
            assert_close(dbeta, dbeta_ref, &format!("beta gradient {what}"));
            assert_close(mean, mean_ref, &format!("running mean {what}"));
            assert_close(var, var_ref, &format!("running variance {what}"));
        }
    }
}

#[test]
fn the_fused_stem_matches_burn_convolution_bias_and_clamp() {
    let device = Device::flex();
    for (batch, channels_in, side) in [(1, 1, 32), (3, 3, 17), (2, 1, 10)] {
        for geometry in geometries(3, 2).into_iter().chain(geometries(3, 1)) {
            let images = random([batch, channels_in, side, side + 1], &device).mul_scalar(3.0);
            let weight = random([32, channels_in, 3, 3], &device);
            let bias = random([32], &device);
            let conv = burn_conv(weight.clone(), Some(bias.clone()), 1, geometry);
            let reference = conv
                .forward(images.clone())
                .clamp(0.0, 6.0)
                .permute([0, 2, 3, 1]);
            let ours = stem_fused(images, dense(pack_stem(weight)), bias, geometry, true);
            assert_close(
                ours,
                reference,
                &format!("stem {batch}x{channels_in}x{side} {geometry:?}"),
            );
        }
    }
}
