//! A 1x1 convolution on channels-last data is one matrix product: the `[pixels, channels_in]`
//! activations times the transposed `[channels_out, channels_in]` weights. This module is the
//! inference form, with everything that follows the product fused into it:
//!
//! `y[p, o] = act(bias[o] + residual[p, o] + sum_i x[p, i] * wt[i, o])`
//!
//! The output is first filled with `bias` (plus the residual row), then `gemm` accumulates the
//! product into it (`dst = dst + lhs * rhs`), and ReLU6, when asked for, clamps each row block
//! while it is still in cache. The weights come transposed, `wt = w^T` as `[in, out]`, written
//! once at load ([`super::pack_pointwise`]): `gemm` computes a row-major product as the transposed
//! one, in which `wt`'s columns are then contiguous, so it never repacks the weights per call.
//!
//! Blocking and threading: the rows are cut into blocks whose output fits in cache
//! ([`BLOCK_VALUES`]), so filling, multiplying and clamping a block touch memory once; blocks are
//! shared between threads. Burn's matmul lets `gemm` use threads only above ~7 M multiply-adds,
//! which leaves most of Lite0's batch-1 layers (0.5-7 M) on one core; here anything above
//! [`SPLIT_WORK`] is shared, by output channels when there are too few rows (5x5 maps).

use rayon::prelude::*;

/// Multiply-adds above which a product is shared between threads.
const SPLIT_WORK: usize = 1 << 18;
/// Output values per block of rows: 32 KB, so a block stays in the core's cache.
const BLOCK_VALUES: usize = 8192;
/// Fewer rows than this per block and `gemm`'s row-panel tiling starts to waste work.
const MIN_BLOCK_ROWS: usize = 16;

/// `y = act(x * wt + bias (+ residual))`. `x`: `[rows, inputs]`, `wt`: `[inputs, outputs]`,
/// `bias`: `[outputs]`, `residual` and `y`: `[rows, outputs]`, all row-major.
pub fn forward(
    x: &[f32],
    rows: usize,
    wt: &[f32],
    bias: &[f32],
    residual: Option<&[f32]>,
    relu6: bool,
    y: &mut [f32],
) {
    let outputs = bias.len();
    let inputs = wt.len() / outputs.max(1);
    assert_eq!(wt.len(), outputs * inputs, "pointwise weights size");
    assert_eq!(x.len(), rows * inputs, "pointwise input size");
    assert_eq!(y.len(), rows * outputs, "pointwise output size");
    if let Some(residual) = residual {
        assert_eq!(residual.len(), rows * outputs, "pointwise residual size");
    }
    if rows == 0 || outputs == 0 {
        return;
    }
    let threads = rayon::current_num_threads().max(1);
    let work = rows * outputs * inputs;
    if work < SPLIT_WORK || rows >= 2 * MIN_BLOCK_ROWS {
        // Blocks of whole rows, small enough that a block's output stays in cache from the bias
        // fill through the product to the clamp, and at least one block per thread.
        let parts = if work < SPLIT_WORK { 1 } else { threads };
        let block = (BLOCK_VALUES / outputs)
            .max(MIN_BLOCK_ROWS)
            .min(rows.div_ceil(parts));
        y.par_chunks_mut(block * outputs)
            .enumerate()
            .for_each(|(index, y_block)| {
                let first = index * block;
                let count = y_block.len() / outputs;
                let x_block = &x[first * inputs..(first + count) * inputs];
                let residual_block =
                    residual.map(|r| &r[first * outputs..(first + count) * outputs]);
                fill_bias(y_block, bias, residual_block);
                // SAFETY: every pointer and stride describes the slices checked above.
                unsafe {
                    product(
                        count,
                        outputs,
                        inputs,
                        x_block.as_ptr(),
                        wt.as_ptr(),
                        outputs,
                        y_block.as_mut_ptr(),
                        outputs,
                    );
                }
                if relu6 {
                    clamp_relu6(y_block);
                }
            });
    } else {
        // Few rows, many output channels (batch 1 at 5x5): split the output channels instead.
        fill_bias(y, bias, residual);
        let parts = threads;
        let block = outputs.div_ceil(parts).next_multiple_of(8);
        let y_address = y.as_mut_ptr() as usize;
        (0..parts).into_par_iter().for_each(|part| {
            let first = part * block;
            if first >= outputs {
                return;
            }
            let count = block.min(outputs - first);
            // SAFETY: each part writes only its own columns `first..first + count` of `y`, which
            // stays borrowed for the whole parallel loop.
            unsafe {
                product(
                    rows,
                    count,
                    inputs,
                    x.as_ptr(),
                    wt.as_ptr().add(first),
                    outputs,
                    (y_address as *mut f32).add(first),
                    outputs,
                );
            }
        });
        if relu6 {
            clamp_relu6(y);
        }
    }
}

fn fill_bias(y: &mut [f32], bias: &[f32], residual: Option<&[f32]>) {
    match residual {
        Some(residual) => {
            for (y_row, r_row) in y
                .chunks_exact_mut(bias.len())
                .zip(residual.chunks_exact(bias.len()))
            {
                for ((y, &b), &r) in y_row.iter_mut().zip(bias).zip(r_row) {
                    *y = b + r;
                }
            }
        }
        None => {
            for y_row in y.chunks_exact_mut(bias.len()) {
                y_row.copy_from_slice(bias);
            }
        }
    }
}

fn clamp_relu6(values: &mut [f32]) {
    for value in values {
        *value = value.clamp(0.0, 6.0);
    }
}

/// `y[r, o] += sum_i x[r, i] * wt[i, o]` for `rows x outputs`; `wt`'s rows are `wt_stride`
/// apart, `y`'s `y_stride`.
///
/// # Safety
/// `x` must hold `rows * inputs` values, `wt` `inputs` rows of `outputs` values `wt_stride` apart,
/// and `y` `rows` rows of `outputs` values `y_stride` apart.
#[allow(clippy::too_many_arguments)]
unsafe fn product(
    rows: usize,
    outputs: usize,
    inputs: usize,
    x: *const f32,
    wt: *const f32,
    wt_stride: usize,
    y: *mut f32,
    y_stride: usize,
) {
    unsafe {
        gemm::gemm(
            rows,
            outputs,
            inputs,
            y,
            1,
            y_stride as isize,
            true,
            x,
            1,
            inputs as isize,
            wt,
            1,
            wt_stride as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
