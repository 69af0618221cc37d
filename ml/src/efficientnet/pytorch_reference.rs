//! The ImageNet weights against the PyTorch package they come from: logits on a picture drawn from
//! a formula, computed once by `efficientnet-lite-pytorch` 0.1.0 and stated here, matched within
//! 1e-3. A top-1 check on photographs (ml/tests/pretrained.rs) also passes with the subtle errors a
//! port makes (symmetric padding, PyTorch's batch-norm epsilon, a wrong stride); these logits do
//! not, and the test shows it by making each error and watching the match fail.
//!
//! Needs the weights in the cache (`scripts/fetch-pretrained.sh`, run by `scripts/install-tools.sh`).

use std::path::PathBuf;

use burn::nn::PaddingConfig2d;

use super::*;

const SIDE: usize = 224;
const TOLERANCE: f32 = 1e-3;

/// Made by `ml/tests/reference/lite0_imagenet_logits.py` (PyTorch 2.15 CPU, the package's
/// `EfficientNet.from_name("efficientnet-lite0")` with the cached `.pth`, `eval()`):
/// every 50th ImageNet class, then the five largest logits.
const REFERENCE_LOGITS: [(usize, f32); 25] = [
    (0, -0.081549),
    (50, -0.690318),
    (100, -0.4629),
    (150, -0.240494),
    (200, -2.340855),
    (250, -0.279528),
    (300, 2.138507),
    (350, 0.634747),
    (400, -0.234764),
    (450, -0.822303),
    (500, -3.079951),
    (550, -3.141682),
    (600, 1.502795),
    (650, 1.645729),
    (700, -1.685543),
    (750, 0.611004),
    (800, -0.468567),
    (850, -1.422036),
    (900, -0.283284),
    (950, -0.152137),
    (807, 10.058441),
    (906, 7.43049),
    (885, 6.677793),
    (699, 6.078603),
    (783, 5.489736),
];

fn weights() -> PathBuf {
    std::env::var_os("PRETRAINED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.cache/pretrained"))
        })
        .join("efficientnet-lite0.pth")
}

/// Three planes in [-1, 1]: stripes, a disc and a checker, different in each channel, so that the
/// padding, every stride and every input channel of the stem change the answer. Kept in step with
/// `formula_picture` in the Python script.
fn formula_picture(device: &Device) -> Tensor<4> {
    let mut values = Vec::with_capacity(3 * SIDE * SIDE);
    for c in 0..3 {
        for y in 0..SIDE {
            for x in 0..SIDE {
                let (xf, yf, cf) = (x as f64, y as f64, c as f64);
                let stripes = (0.11 * xf * (cf + 1.0) + 0.07 * yf).sin();
                let radius = (xf - 90.0 - 20.0 * cf).hypot(yf - 130.0);
                let disc = if radius < 40.0 { 1.0 } else { -0.5 };
                let checker = if (x / 16 + y / 16 + c) % 2 == 0 {
                    1.0
                } else {
                    -1.0
                };
                values.push((0.5 * stripes + 0.3 * disc + 0.2 * checker) as f32);
            }
        }
    }
    Tensor::<1>::from_floats(values.as_slice(), device).reshape([1, 3, SIDE, SIDE])
}

/// The largest difference from the reference over the stated classes.
fn worst_difference(logits: Tensor<2>) -> f32 {
    let logits = crate::train::to_f32_vec(logits).expect("f32 logits");
    REFERENCE_LOGITS
        .iter()
        .map(|&(class, expected)| (logits[class] - expected).abs())
        .fold(0.0, f32::max)
}

fn imagenet_model(device: &Device) -> EfficientNetLite {
    let path = weights();
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-pretrained.sh",
        path.display()
    );
    EfficientNetLite::from_imagenet_pth(&path, device).expect("the pinned weights load")
}

#[test]
fn imagenet_logits_match_the_pytorch_package_and_subtle_errors_do_not() {
    let device = Device::flex();
    let model = imagenet_model(&device);
    let picture = formula_picture(&device);

    let standard = worst_difference(model.forward_standard(picture.clone()));
    assert!(standard < TOLERANCE, "standard path: {standard}");
    let kernels = worst_difference(model.forward(picture.clone()));
    assert!(kernels < TOLERANCE, "kernel path: {kernels}");
    let folded = worst_difference(model.clone().fold_batch_norms().forward(picture.clone()));
    assert!(folded < TOLERANCE, "folded and fused: {folded}");
    println!("worst difference from PyTorch: standard {standard:.2e}, kernels {kernels:.2e}, folded {folded:.2e}");

    // Each error a port can make, on the standard path (which reads padding and stride from the
    // convolutions themselves): the logits must move well past the tolerance.
    let mut pytorch_epsilon = model.clone();
    pytorch_epsilon
        .conv_norms_mut()
        .for_each(|layer| layer.norm.epsilon = 1e-5);
    let mut symmetric = model.clone();
    for ConvNorm { conv, .. } in symmetric.conv_norms_mut() {
        let [kernel, _] = conv.kernel_size;
        if conv.stride[0] == 2 {
            let half = (kernel - 1) / 2;
            conv.padding = PaddingConfig2d::Explicit(half, half, half, half);
        }
    }
    let mut wrong_stride = model.clone();
    // The 5x5 depthwise that opens the 40-channel stage, at stride 1 instead of 2.
    wrong_stride.blocks[3].depthwise.conv.stride = [1, 1];
    for (error, variant) in [
        ("batch-norm epsilon 1e-5", pytorch_epsilon),
        ("symmetric padding", symmetric),
        ("a stride-1 depthwise where 2 belongs", wrong_stride),
    ] {
        let difference = worst_difference(variant.forward_standard(picture.clone()));
        println!("{error}: worst difference {difference:.3}");
        assert!(
            difference > 10.0 * TOLERANCE,
            "{error} still matches the reference (worst difference {difference})"
        );
    }
}
