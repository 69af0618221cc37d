//! Where EfficientNet-Lite0 spends its time on the CPU backend: inference at batch 1 and 32, and a
//! training step (batch 32) with the first blocks frozen or not. `LAYERS=1` adds the depthwise and
//! 1x1 convolutions of Lite0's shapes one by one. Run it with the release build:
//! `cargo run --release -p ml --example lite0_profile`.
use std::time::Instant;

use burn::nn::conv::Conv2dConfig;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use burn::tensor::Distribution;
use ml::efficientnet::EfficientNetLiteConfig;
use ml::model::Model;

const BATCH: usize = 32;

fn time(label: &str, repeats: usize, mut step: impl FnMut()) {
    step();
    let started = Instant::now();
    for _ in 0..repeats {
        step();
    }
    let milliseconds = started.elapsed().as_secs_f64() * 1e3 / repeats as f64;
    println!("{label:<50} {milliseconds:8.1} ms");
}

/// Depthwise convolutions of Lite0 at 160 px, `(channels, side, kernel, stride)`, each with and
/// without TensorFlow's asymmetric "SAME" padding, and the 1x1 projection after it.
fn layers(device: &Device) {
    for (channels, side, kernel, stride) in [
        (96, 80, 3, 2),
        (144, 40, 5, 2),
        (480, 10, 5, 1),
        (1152, 5, 5, 1),
    ] {
        let total = kernel - stride;
        for (name, padding) in [
            (
                "same",
                PaddingConfig2d::Explicit(
                    total / 2,
                    total / 2,
                    total - total / 2,
                    total - total / 2,
                ),
            ),
            (
                "symmetric",
                PaddingConfig2d::Explicit(kernel / 2, kernel / 2, kernel / 2, kernel / 2),
            ),
        ] {
            let conv = Conv2dConfig::new([channels, channels], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(padding)
                .with_groups(channels)
                .with_bias(false)
                .init(device);
            let x =
                Tensor::<4>::random([BATCH, channels, side, side], Distribution::Default, device)
                    .require_grad();
            let label = format!("depthwise c{channels} {side}px k{kernel} s{stride} {name}");
            time(&format!("{label} forward"), 3, || {
                let _ = conv.forward(x.clone()).into_data();
            });
            time(&format!("{label} forward+backward"), 3, || {
                let _ = conv.forward(x.clone()).sum().backward();
            });
        }
        let side = side / stride;
        let conv = Conv2dConfig::new([channels, channels / 6], [1, 1])
            .with_bias(false)
            .init(device);
        let x = Tensor::<4>::random([BATCH, channels, side, side], Distribution::Default, device)
            .require_grad();
        time(
            &format!(
                "1x1 c{channels}->{} {side}px forward+backward",
                channels / 6
            ),
            3,
            || {
                let _ = conv.forward(x.clone()).sum().backward();
            },
        );
    }
}

fn main() {
    let device = Device::flex().autodiff();
    if std::env::var_os("LAYERS").is_some() {
        layers(&device);
    }
    let model = EfficientNetLiteConfig::new().init(&device);
    let inference = Model::EfficientNetLite(model.valid());
    let folded = inference.clone().fold_batch_norms();
    let plain = Device::flex();
    for (batch, side) in [(1, 128), (1, 160), (BATCH, 160)] {
        let x = Tensor::<4>::random([batch, 1, side, side], Distribution::Default, &plain);
        time(&format!("inference batch {batch} {side}px"), 5, || {
            let _ = inference.forward(x.clone()).into_data();
        });
        time(
            &format!("inference batch {batch} {side}px, batch norm folded"),
            5,
            || {
                let _ = folded.forward(x.clone()).into_data();
            },
        );
    }
    for side in [128, 160] {
        let x = Tensor::<4>::random([BATCH, 1, side, side], Distribution::Default, &plain);
        for frozen in [0, 3, 5, 8] {
            time(
                &format!("training step batch {BATCH} {side}px, {frozen} blocks frozen"),
                1,
                || {
                    // The frozen blocks run without autodiff, as fine-tuning with them frozen would.
                    let prefix =
                        Tensor::from_inner(model.valid().forward_prefix(x.clone(), frozen));
                    let _ = model.forward_suffix(prefix, frozen).sum().backward();
                },
            );
        }
    }
}
