//! Where EfficientNet-Lite0 spends its time on the Flex CPU backend, layer kind by layer kind, with
//! Burn's standard operations (channels-first, what every other backend runs) and with
//! `ml::kernels` (channels-last, fused at inference), then the whole network both ways:
//!
//! `cargo run --release -p ml --example lite0_profile` (`SIDE=128` for another input size,
//! `BATCH=16` for another training batch, `LAYERS=0` to skip the per-layer table, `TRAINING=0` for
//! inference only, `LOOP_SECONDS=10` to run batch-1 inference alone for a sampling profiler).
//!
//! Per-layer figures time each of Lite0's layers on its own input of the right shape and add them
//! up by kind: batch 1 as inference runs it (batch norms folded into the convolutions), and batch 32
//! forward, and forward plus backward (the gradient of the output's sum), as training runs it.
use std::time::Instant;

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::Distribution;
use ml::efficientnet::{
    lite0_blocks, BlockShape, EfficientNetLiteConfig, HEAD_CHANNELS, HEAD_CHANNELS_IN,
    STEM_CHANNELS,
};
use ml::kernels;
use ml::model::Model;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Median milliseconds of `repeats` runs after one warm-up.
fn median_ms(repeats: usize, mut step: impl FnMut()) -> f64 {
    step();
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let started = Instant::now();
            step();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Uniform(-1.0, 1.0), device)
}

/// The layer kinds of the table, in its order.
const KINDS: [&str; 10] = [
    "stem 3x3 conv",
    "expand 1x1",
    "depthwise",
    "padding copies",
    "project 1x1",
    "head 1x1",
    "batch norm",
    "ReLU6",
    "residual add",
    "pool + classifier",
];

#[derive(Clone, Copy)]
enum Mode {
    /// Batch 1, batch norms folded, no gradients.
    Inference,
    /// Forward only on an autodiff device (batch norms in training mode).
    TrainForward,
    /// Forward and backward.
    TrainStep,
}

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Standard,
    Kernels,
}

struct Profiler {
    mode: Mode,
    path: Path,
    batch: usize,
    device: Device,
    totals: [f64; KINDS.len()],
}

impl Profiler {
    fn repeats(&self) -> usize {
        match self.mode {
            Mode::Inference => 100,
            Mode::TrainForward => 3,
            Mode::TrainStep => 2,
        }
    }

    /// Times `layer` on `input` as this mode runs it and adds the time to `kind`.
    fn time<const D: usize, const E: usize>(
        &mut self,
        kind: &str,
        input: Tensor<D>,
        layer: impl Fn(Tensor<D>) -> Tensor<E>,
    ) {
        let index = KINDS
            .iter()
            .position(|name| *name == kind)
            .expect("a known kind");
        let mode = self.mode;
        let milliseconds = median_ms(self.repeats(), || match mode {
            Mode::Inference | Mode::TrainForward => {
                let _ = layer(input.clone()).into_data();
            }
            Mode::TrainStep => {
                let _ = layer(input.clone().require_grad()).sum().backward();
            }
        });
        self.totals[index] += milliseconds;
        if env_usize("DETAIL", 0) != 0
            && matches!(self.mode, Mode::Inference)
            && self.path == Path::Kernels
        {
            eprintln!("{kind:<16} {:?} {milliseconds:.3} ms", input.dims());
        }
    }

    fn training(&self) -> bool {
        !matches!(self.mode, Mode::Inference)
    }

    /// Inference on the kernel path: bias, ReLU6 and the shortcut are fused into the convolutions.
    fn fused(&self) -> bool {
        self.path == Path::Kernels && !self.training()
    }

    fn conv(
        &self,
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        groups: usize,
        padding: PaddingConfig2d,
    ) -> Conv2d {
        Conv2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(padding)
            .with_groups(groups)
            // Folded convolutions carry the batch norm's shift as a bias.
            .with_bias(!self.training())
            .init(&self.device)
    }

    fn norm(&self, channels: usize) -> BatchNorm {
        BatchNormConfig::new(channels).init(&self.device)
    }

    /// An activation as this path lays it out: `[n, c, h, w]` or `[n, h, w, c]`.
    fn activation(&self, channels: usize, side: usize) -> Tensor<4> {
        match self.path {
            Path::Standard => random([self.batch, channels, side, side], &self.device),
            Path::Kernels => random([self.batch, side, side, channels], &self.device),
        }
    }

    /// A 1x1 convolution of `channels` at `side`, then (training) its batch norm, then ReLU6.
    fn pointwise(&mut self, kind: &str, [cin, cout]: [usize; 2], side: usize, relu6: bool) {
        let conv = self.conv([cin, cout], 1, 1, 1, PaddingConfig2d::Valid);
        let x = self.activation(cin, side);
        let fused = self.fused();
        match self.path {
            Path::Standard => self.time(kind, x, |x| conv.forward(x)),
            Path::Kernels if fused => {
                let weight = kernels::dense(kernels::pack_pointwise(conv.weight.val()));
                let bias = conv
                    .bias
                    .as_ref()
                    .map(Param::val)
                    .expect("inference convolutions have a bias");
                let rows = x.reshape([self.batch * side * side, cin]);
                self.time(kind, rows, |x| {
                    kernels::pointwise_fused(x, weight.clone(), bias.clone(), relu6)
                });
            }
            Path::Kernels => {
                let rows = x.reshape([self.batch * side * side, cin]);
                self.time(kind, rows, |x| {
                    x.matmul(conv.weight.val().reshape([cout, cin]).transpose())
                });
            }
        }
        self.after_conv(cout, side, relu6 && !fused);
    }

    /// Batch norm (training only: folded at inference) and ReLU6 when the layer has one; on the
    /// kernel path in training the two are one fused kernel, timed as "batch norm".
    fn after_conv(&mut self, channels: usize, side: usize, relu6: bool) {
        if self.training() {
            let norm = self.norm(channels);
            match self.path {
                Path::Standard => self.time("batch norm", self.activation(channels, side), |x| {
                    norm.forward(x)
                }),
                Path::Kernels => {
                    let rows = random([self.batch * side * side, channels], &self.device);
                    self.time("batch norm", rows, |x| {
                        kernels::batch_norm_rows(&norm, x, relu6)
                    });
                    return;
                }
            }
        }
        if relu6 {
            self.time("ReLU6", self.activation(channels, side), |x| {
                x.clamp(0.0, 6.0)
            });
        }
    }

    fn depthwise(&mut self, block: &BlockShape) {
        let geometry = block.depthwise_geometry();
        let padding = PaddingConfig2d::Explicit(
            geometry.pad_top,
            geometry.pad_left,
            geometry.pad_bottom,
            geometry.pad_right,
        );
        let conv = self.conv(
            [block.hidden, block.hidden],
            block.kernel,
            block.stride,
            block.hidden,
            padding,
        );
        let x = self.activation(block.hidden, block.side_in);
        let fused = self.fused();
        match self.path {
            Path::Standard => {
                self.time("depthwise", x.clone(), |x| conv.forward(x));
                if geometry.pad_top != geometry.pad_bottom {
                    let pads = [
                        (geometry.pad_top, geometry.pad_bottom),
                        (geometry.pad_left, geometry.pad_right),
                    ];
                    self.time("padding copies", x, |x| x.pad(pads, 0.0));
                }
            }
            Path::Kernels => {
                if fused {
                    let weights = kernels::dense(kernels::pack_depthwise(conv.weight.val()));
                    let bias = conv
                        .bias
                        .as_ref()
                        .map(Param::val)
                        .expect("inference convolutions have a bias");
                    self.time("depthwise", x, |x| {
                        kernels::depthwise_nhwc_fused(
                            x,
                            weights.clone(),
                            bias.clone(),
                            geometry,
                            true,
                        )
                    });
                } else {
                    // Training packs the weights on every step, as the model does.
                    self.time("depthwise", x, |x| {
                        kernels::depthwise_nhwc(
                            x,
                            kernels::pack_depthwise(conv.weight.val()),
                            geometry,
                        )
                    });
                }
            }
        }
        self.after_conv(block.hidden, block.side_out(), !fused);
    }

    fn block(&mut self, block: &BlockShape) {
        if block.expands {
            self.pointwise(
                "expand 1x1",
                [block.channels_in, block.hidden],
                block.side_in,
                true,
            );
        }
        self.depthwise(block);
        self.pointwise(
            "project 1x1",
            [block.hidden, block.channels_out],
            block.side_out(),
            false,
        );
        // Fused into the projection at inference on the kernel path.
        if block.shortcut && !self.fused() {
            let skip = self.activation(block.channels_out, block.side_out());
            self.time(
                "residual add",
                self.activation(block.channels_out, block.side_out()),
                |x| x + skip.clone(),
            );
        }
    }

    fn network(&mut self, side: usize) {
        let stem = self.conv(
            [1, STEM_CHANNELS],
            3,
            2,
            1,
            PaddingConfig2d::Explicit(0, 0, 1, 1),
        );
        let images = random([self.batch, 1, side, side], &self.device);
        match self.path {
            Path::Standard => self.time("stem 3x3 conv", images, |x| stem.forward(x)),
            Path::Kernels if self.fused() => {
                let weights = kernels::dense(kernels::pack_stem(stem.weight.val()));
                let bias = stem
                    .bias
                    .as_ref()
                    .map(Param::val)
                    .expect("inference convolutions have a bias");
                let geometry = kernels::Geometry {
                    kernel: 3,
                    stride: 2,
                    pad_top: 0,
                    pad_left: 0,
                    pad_bottom: 1,
                    pad_right: 1,
                };
                self.time("stem 3x3 conv", images, |x| {
                    kernels::stem_fused(x, weights.clone(), bias.clone(), geometry, true)
                });
            }
            // Training keeps Burn's convolution; the kernel path adds the one layout change.
            Path::Kernels => {
                let rows = self.batch * (side / 2) * (side / 2);
                self.time("stem 3x3 conv", images, |x| {
                    stem.forward(x)
                        .permute([0, 2, 3, 1])
                        .reshape([rows, STEM_CHANNELS])
                })
            }
        }
        // Fused into the stem kernel at inference on the kernel path.
        if !self.fused() {
            self.after_conv(STEM_CHANNELS, side / 2, true);
        }
        for block in lite0_blocks(side) {
            self.block(&block);
        }
        let head_side = side / 32;
        self.pointwise(
            "head 1x1",
            [HEAD_CHANNELS_IN, HEAD_CHANNELS],
            head_side,
            true,
        );
        let classifier = random([HEAD_CHANNELS, 4], &self.device);
        let map = self.activation(HEAD_CHANNELS, head_side);
        let path = self.path;
        self.time("pool + classifier", map, |x| {
            let [batch, a, b, c] = x.dims();
            let pooled = match path {
                Path::Standard => x.reshape([batch, a, b * c]).mean_dim(2).reshape([batch, a]),
                Path::Kernels => x.reshape([batch, a * b, c]).mean_dim(1).reshape([batch, c]),
            };
            pooled.matmul(classifier.clone())
        });
    }
}

fn per_layer_table(side: usize, batch: usize) {
    let columns: [(Mode, Path, usize, &str); 6] = [
        (Mode::Inference, Path::Standard, 1, "b1 inference, standard"),
        (Mode::Inference, Path::Kernels, 1, "b1 inference, kernels"),
        (
            Mode::TrainForward,
            Path::Standard,
            batch,
            "forward, standard",
        ),
        (Mode::TrainForward, Path::Kernels, batch, "forward, kernels"),
        (Mode::TrainStep, Path::Standard, batch, "fwd+bwd, standard"),
        (Mode::TrainStep, Path::Kernels, batch, "fwd+bwd, kernels"),
    ];
    let columns: Vec<_> = columns
        .into_iter()
        .filter(|(mode, ..)| matches!(mode, Mode::Inference) || env_usize("TRAINING", 1) != 0)
        .collect();
    let mut results = Vec::new();
    for &(mode, path, batch, label) in &columns {
        let device = match mode {
            Mode::Inference => Device::flex(),
            _ => Device::flex().autodiff(),
        };
        let mut profiler = Profiler {
            mode,
            path,
            batch,
            device,
            totals: [0.0; KINDS.len()],
        };
        profiler.network(side);
        eprintln!("measured: {label}");
        results.push(profiler.totals);
    }
    println!("\nPer layer kind, {side} px, milliseconds summed over Lite0's layers (training columns: batch {batch}):\n");
    print!("| layer kind |");
    for (.., label) in &columns {
        print!(" {label} |");
    }
    println!();
    println!("|---|{}", "---|".repeat(columns.len()));
    let mut sums = vec![0.0; columns.len()];
    for (kind_index, kind) in KINDS.iter().enumerate() {
        print!("| {kind} |");
        for (column, totals) in results.iter().enumerate() {
            sums[column] += totals[kind_index];
            print!(" {:.2} |", totals[kind_index]);
        }
        println!();
    }
    print!("| **sum** |");
    for sum in sums {
        print!(" **{sum:.1}** |");
    }
    println!();
}

fn whole_network(side: usize, batch: usize) {
    println!("\nWhole network, {side} px:\n");
    println!("| path | batch-1 inference p50 (folded) | batch-1 p50 (not folded) | training step, batch {batch} | training images/s |");
    println!("|---|---|---|---|---|");
    let training = Device::flex().autodiff();
    let model = EfficientNetLiteConfig::new().init(&training);
    let plain = Device::flex();
    for (label, enabled) in [("Burn standard ops", false), ("ml::kernels", true)] {
        kernels::set_enabled(enabled);
        let inference = Model::EfficientNetLite(model.valid());
        let folded = inference.clone().fold_batch_norms();
        let image = random([1, 1, side, side], &plain);
        let p50 = |model: &Model| {
            let mut times: Vec<f64> = (0..200)
                .map(|_| {
                    let started = Instant::now();
                    let _ = model.forward(image.clone()).into_data();
                    started.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            times[times.len() / 2]
        };
        let folded_p50 = p50(&folded);
        let plain_p50 = p50(&inference);
        let images = random([batch, 1, side, side], &training);
        let step = if env_usize("TRAINING", 1) != 0 {
            median_ms(3, || {
                let _ = model.forward(images.clone()).sum().backward();
            })
        } else {
            f64::NAN
        };
        println!(
            "| {label} | {folded_p50:.2} ms | {plain_p50:.2} ms | {step:.0} ms | {:.1} |",
            batch as f64 * 1e3 / step
        );
    }
    kernels::set_enabled(true);
}

/// Batch-1 inference on the fused path for `seconds`, for a sampling profiler (`perf record`).
fn inference_loop(side: usize, seconds: usize) {
    let device = Device::flex();
    let model =
        Model::EfficientNetLite(EfficientNetLiteConfig::new().init(&device)).fold_batch_norms();
    let image = random([1, 1, side, side], &device);
    let started = Instant::now();
    let mut runs = 0;
    while started.elapsed().as_secs() < seconds as u64 {
        let _ = model.forward(image.clone()).into_data();
        runs += 1;
    }
    println!("{runs} batch-1 inferences in {seconds} s");
}

fn main() {
    let side = env_usize("SIDE", 160);
    let batch = env_usize("BATCH", 32);
    let loop_seconds = env_usize("LOOP_SECONDS", 0);
    if loop_seconds > 0 {
        inference_loop(side, loop_seconds);
        return;
    }
    println!(
        "EfficientNet-Lite0 on Flex, {} threads, 1-channel {side} px input, f32",
        rayon::current_num_threads()
    );
    if env_usize("LAYERS", 1) != 0 {
        per_layer_table(side, batch);
    }
    whole_network(side, batch);
}
