//! Where a Lite0 training step spends its time on the CPU backend.
use std::time::Instant;

use burn::nn::conv::Conv2dConfig;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;

fn time<F: FnMut()>(label: &str, reps: usize, mut f: F) {
    f();
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    println!(
        "{label:<50} {:8.1} ms",
        start.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
}

fn main() {
    let device = Device::flex().autodiff();
    let batch = 32;
    // Depthwise shapes of Lite0 at 160 px: (channels, size, kernel, stride)
    for (channels, size, kernel, stride) in [(1usize, 1usize, 1usize, 1usize); 0]
        .into_iter()
        .chain([
            (96, 80, 3, 2),
            (144, 40, 3, 1),
            (144, 40, 5, 2),
            (480, 10, 5, 1),
            (672, 10, 5, 2),
            (1152, 5, 5, 1),
        ])
        .filter(|_| std::env::var("LAYERS").is_ok())
    {
        for asym in [true, false] {
            let padding = if asym {
                let total = kernel - stride.min(kernel);
                PaddingConfig2d::Explicit(
                    total / 2,
                    total / 2,
                    total - total / 2,
                    total - total / 2,
                )
            } else {
                PaddingConfig2d::Explicit(kernel / 2, kernel / 2, kernel / 2, kernel / 2)
            };
            let conv = Conv2dConfig::new([channels, channels], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(padding)
                .with_groups(channels)
                .with_bias(false)
                .init(&device);
            let x = Tensor::<4>::random(
                [batch, channels, size, size],
                burn::tensor::Distribution::Default,
                &device,
            )
            .require_grad();
            time(
                &format!("dw c{channels} s{size} k{kernel} st{stride} asym={asym} fwd"),
                3,
                || {
                    let y = conv.forward(x.clone());
                    let _ = y.into_data();
                },
            );
            time(
                &format!("dw c{channels} s{size} k{kernel} st{stride} asym={asym} fwd+bwd"),
                3,
                || {
                    let y = conv.forward(x.clone());
                    let _ = y.sum().backward();
                },
            );
        }
        let conv = Conv2dConfig::new([channels, channels / 6], [1, 1])
            .with_bias(false)
            .init(&device);
        let x = Tensor::<4>::random(
            [batch, channels, size / stride, size / stride],
            burn::tensor::Distribution::Default,
            &device,
        )
        .require_grad();
        time(
            &format!(
                "1x1 c{channels}->{} s{} fwd+bwd",
                channels / 6,
                size / stride
            ),
            3,
            || {
                let y = conv.forward(x.clone());
                let _ = y.sum().backward();
            },
        );
    }
    let model = ml::efficientnet::EfficientNetLiteConfig::new().init(&device);
    let inner = model.valid();
    let plain = Device::flex();
    for (batch, size) in [(1, 128), (1, 160), (32, 160)] {
        let x = Tensor::<4>::random(
            [batch, 1, size, size],
            burn::tensor::Distribution::Default,
            &plain,
        );
        time(&format!("lite0 inference b{batch} {size} fwd"), 3, || {
            let _ = inner.forward(x.clone()).into_data();
        });
    }
    for size in [128, 160] {
        for frozen in [0, 1, 3, 5, 8] {
            let x = Tensor::<4>::random(
                [batch, 1, size, size],
                burn::tensor::Distribution::Default,
                &plain,
            );
            time(
                &format!("lite0 b32 {size} frozen {frozen} fwd+bwd"),
                1,
                || {
                    let prefix = model.valid().forward_prefix(x.clone(), frozen);
                    let prefix = Tensor::from_inner(prefix);
                    let _ = model.forward_suffix(prefix, frozen).sum().backward();
                },
            );
        }
    }
}
