//! Depthwise convolution on channels-last (NHWC) `f32` data: the forward pass (bias and ReLU6
//! fused at the store) and both halves of the backward pass. Plain slices in, plain slices out; the
//! Burn glue is in [`super::extension`].
//!
//! Layout (all row-major, channels innermost):
//! - input `x`: `[batch, height, width, channels]`;
//! - weights, packed "tap-major": `[kernel * kernel, channels]`, tap `t = ky * kernel + kx`, so the
//!   weights of one tap for consecutive channels are consecutive, like the activations they meet;
//! - output `y`: `[batch, out_height, out_width, channels]`.
//!
//! Maths, with `(pad_top, pad_left)` the zero rows/columns before the image (TensorFlow's "SAME"
//! puts the odd one after, which only changes which taps fall outside; nothing is copied):
//! - forward: `y[n,oy,ox,c] = b[c] + sum_{ky,kx} x[n, oy*s+ky-pad_top, ox*s+kx-pad_left, c] * w[ky*k+kx, c]`,
//!   out-of-image taps contributing zero, then optionally `min(max(y, 0), 6)`;
//! - input gradient: `dx[n,iy,ix,c] = sum over taps with iy = oy*s+ky-pad_top, ix = ox*s+kx-pad_left
//!   of dy[n,oy,ox,c] * w[ky*k+kx, c]`;
//! - weight gradient: `dw[ky*k+kx, c] = sum_{n,oy,ox} dy[n,oy,ox,c] * x[n, oy*s+ky-pad_top, ox*s+kx-pad_left, c]`.
//!
//! Every inner loop runs along channels, which are contiguous in every operand, so stride 2 costs
//! no more per output than stride 1 and any channel count vectorises (blocks of 32 channels, then
//! 8, then single ones). Each output pixel's channels are accumulated in registers over all taps,
//! a block at a time (four 8-wide registers hide the multiply-add latency), and written once; the
//! pixel's valid taps are listed once, so the image border costs nothing inside the loops. Work is split across threads by output rows (forward, weight gradient)
//! or input rows (input gradient); the weight gradient sums per-thread partial results.
//! On x86-64 with AVX2 and FMA (checked at run time) the same code is compiled for those
//! instructions; elsewhere it is portable Rust that the compiler vectorises as it can.

use rayon::prelude::*;

/// Channels accumulated together in the gradient kernels: two 8-wide AVX registers.
const LANES: usize = 16;

/// The largest kernel side the kernels take (their per-row tap lists live on the stack).
pub const MAX_KERNEL: usize = 8;

/// Where a depthwise kernel sits on its input: size, stride and the zero padding on each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub kernel: usize,
    pub stride: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub pad_bottom: usize,
    pub pad_right: usize,
}

impl Geometry {
    /// `(out_height, out_width)` for an input of `height x width`.
    pub fn output_size(&self, height: usize, width: usize) -> (usize, usize) {
        let side = |size: usize, before: usize, after: usize| {
            (size + before + after).saturating_sub(self.kernel) / self.stride + 1
        };
        (
            side(height, self.pad_top, self.pad_bottom),
            side(width, self.pad_left, self.pad_right),
        )
    }

    /// Panics on a geometry the kernels were not written for (a programming error: geometries come
    /// from the network's definition, never from input).
    fn check(&self) {
        assert!(
            (1..=MAX_KERNEL).contains(&self.kernel) && self.stride >= 1,
            "depthwise kernel {}x{} stride {} is not supported",
            self.kernel,
            self.kernel,
            self.stride
        );
    }

    fn taps(&self) -> usize {
        self.kernel * self.kernel
    }

    /// The input coordinate tap `k` of output `o` reads along one axis, if it is inside `size`.
    #[inline(always)]
    fn input_index(&self, output: usize, tap: usize, pad: usize, size: usize) -> Option<usize> {
        (output * self.stride + tap)
            .checked_sub(pad)
            .filter(|&index| index < size)
    }
}

/// The shape of an NHWC tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nhwc {
    pub batch: usize,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl Nhwc {
    pub fn len(&self) -> usize {
        self.batch * self.height * self.width * self.channels
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How to finish each output value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu6,
}

/// `y = act(depthwise(x, w) + bias)`; `y` must hold `batch * out_height * out_width * channels`.
pub fn forward(
    x: &[f32],
    shape: Nhwc,
    weights: &[f32],
    bias: Option<&[f32]>,
    geometry: Geometry,
    activation: Activation,
    y: &mut [f32],
) {
    geometry.check();
    let (out_height, out_width) = geometry.output_size(shape.height, shape.width);
    let channels = shape.channels;
    assert_eq!(x.len(), shape.len(), "depthwise input size");
    assert_eq!(
        weights.len(),
        geometry.taps() * channels,
        "depthwise weights size"
    );
    assert_eq!(
        y.len(),
        shape.batch * out_height * out_width * channels,
        "depthwise output size"
    );
    if let Some(bias) = bias {
        assert_eq!(bias.len(), channels, "depthwise bias size");
    }
    let row_len = out_width * channels;
    if row_len == 0 {
        return;
    }
    y.par_chunks_mut(row_len)
        .with_min_len(rows_per_task(row_len * geometry.taps()))
        .enumerate()
        .for_each(|(row, y_row)| {
            let (n, oy) = (row / out_height, row % out_height);
            let image = &x[n * shape.height * shape.width * channels..]
                [..shape.height * shape.width * channels];
            dispatch!(forward_row(
                image, shape, weights, bias, geometry, activation, oy, y_row
            ));
        });
}

/// `dx` for a given `dy` (the shapes of `x` and `y` above).
pub fn backward_input(
    dy: &[f32],
    shape: Nhwc,
    weights: &[f32],
    geometry: Geometry,
    dx: &mut [f32],
) {
    geometry.check();
    let (out_height, out_width) = geometry.output_size(shape.height, shape.width);
    let channels = shape.channels;
    assert_eq!(dx.len(), shape.len(), "depthwise input-gradient size");
    assert_eq!(
        dy.len(),
        shape.batch * out_height * out_width * channels,
        "depthwise output-gradient size"
    );
    assert_eq!(
        weights.len(),
        geometry.taps() * channels,
        "depthwise weights size"
    );
    let row_len = shape.width * channels;
    if row_len == 0 {
        return;
    }
    let out_image = out_height * out_width * channels;
    dx.par_chunks_mut(row_len)
        .with_min_len(rows_per_task(row_len * geometry.taps()))
        .enumerate()
        .for_each(|(row, dx_row)| {
            let (n, iy) = (row / shape.height, row % shape.height);
            let dy_image = &dy[n * out_image..][..out_image];
            dispatch!(backward_input_row(
                dy_image,
                shape,
                (out_height, out_width),
                weights,
                geometry,
                iy,
                dx_row
            ));
        });
}

/// `dw` (packed like the weights) for a given `dy` and the forward input `x`.
pub fn backward_weight(x: &[f32], shape: Nhwc, dy: &[f32], geometry: Geometry, dw: &mut [f32]) {
    geometry.check();
    let (out_height, out_width) = geometry.output_size(shape.height, shape.width);
    let channels = shape.channels;
    assert_eq!(x.len(), shape.len(), "depthwise input size");
    assert_eq!(
        dy.len(),
        shape.batch * out_height * out_width * channels,
        "depthwise output-gradient size"
    );
    assert_eq!(
        dw.len(),
        geometry.taps() * channels,
        "depthwise weight-gradient size"
    );
    let rows = shape.batch * out_height;
    let threads = rayon::current_num_threads().max(1);
    // A few large chunks: each thread sums into its own weight-sized buffer, added up at the end.
    let chunk = rows.div_ceil(threads).max(1);
    let partials: Vec<Vec<f32>> = (0..rows)
        .step_by(chunk)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|first| {
            let mut partial = vec![0.0f32; dw.len()];
            for row in first..(first + chunk).min(rows) {
                let (n, oy) = (row / out_height, row % out_height);
                let image = &x[n * shape.height * shape.width * channels..]
                    [..shape.height * shape.width * channels];
                let dy_row = &dy[row * out_width * channels..][..out_width * channels];
                dispatch!(backward_weight_row(
                    image,
                    shape,
                    dy_row,
                    geometry,
                    oy,
                    &mut partial
                ));
            }
            partial
        })
        .collect();
    dw.fill(0.0);
    for partial in partials {
        for (total, value) in dw.iter_mut().zip(partial) {
            *total += value;
        }
    }
}

/// `W` values from `at` as an array: the lanes loops then carry no bounds checks.
#[inline(always)]
fn lanes<const W: usize>(values: &[f32], at: usize) -> &[f32; W] {
    values[at..at + W]
        .try_into()
        .expect("a slice of W values converts to [f32; W]")
}

#[inline(always)]
fn lanes_mut<const W: usize>(values: &mut [f32], at: usize) -> &mut [f32; W] {
    (&mut values[at..at + W])
        .try_into()
        .expect("a slice of W values converts to [f32; W]")
}

/// Rows per rayon task so that a task does at least ~16k multiply-adds.
fn rows_per_task(work_per_row: usize) -> usize {
    (16_384 / work_per_row.max(1)).max(1)
}

/// Calls the AVX2+FMA build of a row kernel when the CPU has it, the portable one otherwise.
macro_rules! dispatch {
    ($kernel:ident($($arg:expr),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if fma::available() {
                // SAFETY: the CPU was checked for AVX2 and FMA just above; the kernels' only
                // requirement is those instructions.
                unsafe { fma::$kernel($($arg),*) }
            } else {
                portable::$kernel($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            portable::$kernel($($arg),*)
        }
    }};
}
use dispatch;

/// The row kernels, written once and compiled twice (portable, and for AVX2+FMA).
macro_rules! row_kernels {
    ($($attr:meta)?; $madd:ident) => {
        /// `W` channels from `c0` of one output pixel: every valid tap accumulated in registers,
        /// then one store. `taps` lists the valid `(input offset, weight offset)` pairs.
        #[inline(always)]
        fn forward_block<const W: usize>(
            image: &[f32],
            weights: &[f32],
            taps: &[(usize, usize)],
            bias: Option<&[f32]>,
            activation: Activation,
            c0: usize,
            out: &mut [f32],
        ) {
            let mut acc = [0.0f32; W];
            if let Some(bias) = bias {
                acc.copy_from_slice(&bias[c0..c0 + W]);
            }
            for &(input_at, weight_at) in taps {
                let input = lanes::<W>(image, input_at + c0);
                let weight = lanes::<W>(weights, weight_at + c0);
                for lane in 0..W {
                    acc[lane] = $madd(input[lane], weight[lane], acc[lane]);
                }
            }
            let out = lanes_mut::<W>(out, c0);
            match activation {
                Activation::None => *out = acc,
                Activation::Relu6 => {
                    for lane in 0..W {
                        out[lane] = acc[lane].clamp(0.0, 6.0);
                    }
                }
            }
        }

        #[allow(clippy::too_many_arguments)]
        $(#[$attr])?
        pub(super) fn forward_row(
            image: &[f32],
            shape: Nhwc,
            weights: &[f32],
            bias: Option<&[f32]>,
            geometry: Geometry,
            activation: Activation,
            oy: usize,
            y_row: &mut [f32],
        ) {
            let channels = shape.channels;
            let k = geometry.kernel;
            let mut rows = [(0usize, 0usize); MAX_KERNEL];
            let mut row_count = 0;
            for ky in 0..k {
                if let Some(iy) = geometry.input_index(oy, ky, geometry.pad_top, shape.height) {
                    rows[row_count] = (ky, iy);
                    row_count += 1;
                }
            }
            let rows = &rows[..row_count];
            let mut taps = [(0usize, 0usize); MAX_KERNEL * MAX_KERNEL];
            for (ox, y_pixel) in y_row.chunks_exact_mut(channels).enumerate() {
                // The valid taps of this pixel, as offsets of their input pixel and weights.
                let mut count = 0;
                for &(ky, iy) in rows {
                    for kx in 0..k {
                        if let Some(ix) = geometry.input_index(ox, kx, geometry.pad_left, shape.width) {
                            taps[count] = ((iy * shape.width + ix) * channels, (ky * k + kx) * channels);
                            count += 1;
                        }
                    }
                }
                let taps = &taps[..count];
                let mut c0 = 0;
                while c0 + 32 <= channels {
                    forward_block::<32>(image, weights, taps, bias, activation, c0, y_pixel);
                    c0 += 32;
                }
                while c0 + 8 <= channels {
                    forward_block::<8>(image, weights, taps, bias, activation, c0, y_pixel);
                    c0 += 8;
                }
                while c0 < channels {
                    forward_block::<1>(image, weights, taps, bias, activation, c0, y_pixel);
                    c0 += 1;
                }
            }
        }

        $(#[$attr])?
        pub(super) fn backward_input_row(
            dy_image: &[f32],
            shape: Nhwc,
            (out_height, out_width): (usize, usize),
            weights: &[f32],
            geometry: Geometry,
            iy: usize,
            dx_row: &mut [f32],
        ) {
            let channels = shape.channels;
            let k = geometry.kernel;
            let s = geometry.stride;
            // Output rows (and the tap row linking them) that read input row `iy`.
            let mut rows = [(0usize, 0usize); MAX_KERNEL];
            let mut row_count = 0;
            for ky in 0..k {
                let Some(shifted) = (iy + geometry.pad_top).checked_sub(ky) else {
                    continue;
                };
                if shifted % s == 0 && shifted / s < out_height {
                    rows[row_count] = (ky, shifted / s);
                    row_count += 1;
                }
            }
            let rows = &rows[..row_count];
            for (ix, dx_pixel) in dx_row.chunks_exact_mut(channels).enumerate() {
                let columns = (0..k).filter_map(|kx| {
                    let shifted = (ix + geometry.pad_left).checked_sub(kx)?;
                    (shifted % s == 0 && shifted / s < out_width).then_some((kx, shifted / s))
                });
                let mut taps = [(0usize, 0usize); MAX_KERNEL * MAX_KERNEL];
                let mut count = 0;
                for &(ky, oy) in rows {
                    for (kx, ox) in columns.clone() {
                        taps[count] = ((ky * k + kx) * channels, (oy * out_width + ox) * channels);
                        count += 1;
                    }
                }
                let mut c0 = 0;
                while c0 < channels {
                    let width = LANES.min(channels - c0);
                    let mut acc = [0.0f32; LANES];
                    for &(weight_at, dy_at) in &taps[..count] {
                        let grad = &dy_image[dy_at + c0..][..width];
                        let weight = &weights[weight_at + c0..][..width];
                        if width == LANES {
                            for lane in 0..LANES {
                                acc[lane] = $madd(grad[lane], weight[lane], acc[lane]);
                            }
                        } else {
                            for lane in 0..width {
                                acc[lane] = $madd(grad[lane], weight[lane], acc[lane]);
                            }
                        }
                    }
                    dx_pixel[c0..c0 + width].copy_from_slice(&acc[..width]);
                    c0 += width;
                }
            }
        }

        $(#[$attr])?
        pub(super) fn backward_weight_row(
            image: &[f32],
            shape: Nhwc,
            dy_row: &[f32],
            geometry: Geometry,
            oy: usize,
            dw: &mut [f32],
        ) {
            let channels = shape.channels;
            let k = geometry.kernel;
            for ky in 0..k {
                let Some(iy) = geometry.input_index(oy, ky, geometry.pad_top, shape.height) else {
                    continue;
                };
                for kx in 0..k {
                    let dw_tap = &mut dw[(ky * k + kx) * channels..][..channels];
                    for (ox, grad) in dy_row.chunks_exact(channels).enumerate() {
                        let Some(ix) = geometry.input_index(ox, kx, geometry.pad_left, shape.width) else {
                            continue;
                        };
                        let input = &image[(iy * shape.width + ix) * channels..][..channels];
                        for ((total, &g), &v) in dw_tap.iter_mut().zip(grad).zip(input) {
                            *total = $madd(g, v, *total);
                        }
                    }
                }
            }
        }
    };
}

mod portable {
    use super::*;

    /// `a * b + c` in two roundings: without FMA hardware, `mul_add` would be a slow library call.
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }

    row_kernels!(; madd);
}

#[cfg(target_arch = "x86_64")]
pub(super) mod fma {
    use super::*;

    /// Whether this CPU runs the AVX2+FMA build (cached by the standard library).
    pub fn available() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    /// A fused multiply-add, one `vfmadd` when compiled with the FMA feature.
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }

    row_kernels!(target_feature(enable = "avx2,fma"); madd);
}
