//! Training-mode batch norm over channels-last rows, with the ReLU6 that usually follows it fused
//! in, forward and backward. Plain slices; the Burn glue is in [`super::extension`].
//!
//! Layout: `x`, `y`, `dy`, `dx` are `[rows, channels]` row-major (an NHWC activation seen as
//! `[n * h * w, c]`), per-channel vectors are `[channels]`.
//!
//! Maths, per channel over the `m` rows:
//! - statistics: `mean = sum(x) / m`, `var = sum((x - mean)^2) / m` (biased, as Burn's batch norm);
//! - forward: `x^ = (x - mean) * inv_std` with `inv_std = 1 / sqrt(var + eps)`,
//!   `z = gamma * x^ + beta`, `y = z` or `min(max(z, 0), 6)`;
//! - backward: `g = dy`, zeroed where ReLU6 clamped `z`; `dbeta = sum(g)`, `dgamma = sum(g * x^)`,
//!   `dx = gamma * inv_std * (g - dbeta / m - x^ * dgamma / m)` (the mean and variance depend on
//!   every `x`, which the last two terms account for).
//!
//! Burn's generic batch norm makes about eight passes over the activation forward and ten backward
//! (transposes to channels-first, reductions, broadcasts) and ReLU6 two more each way; here the
//! statistics take two passes (the mean, then the centred squares, which keeps the variance
//! accurate), the forward one, and the backward two (sums, then `dx`).
//! Sums are taken in f32 over blocks of [`BLOCK_ROWS`] rows (the statistics in f64), and the
//! blocks' sums combined in f64; every inner loop runs along contiguous channels and vectorises.

use rayon::prelude::*;

/// Rows per parallel task: enough to amortise the per-task accumulators.
const BLOCK_ROWS: usize = 256;

/// Per-channel `(mean, variance)` of `x` `[rows, channels]`.
pub fn statistics(x: &[f32], channels: usize) -> (Vec<f32>, Vec<f32>) {
    assert!(
        channels > 0 && x.len().is_multiple_of(channels),
        "batch-norm input size"
    );
    let rows = x.len() / channels;
    let sums = x
        .par_chunks(BLOCK_ROWS * channels)
        .map(|block| {
            let mut sum = vec![0.0f64; channels];
            for row in block.chunks_exact(channels) {
                for (total, &value) in sum.iter_mut().zip(row) {
                    *total += f64::from(value);
                }
            }
            sum
        })
        .reduce(|| vec![0.0f64; channels], add_into);
    let mean: Vec<f64> = sums.iter().map(|sum| sum / rows.max(1) as f64).collect();
    let squares = x
        .par_chunks(BLOCK_ROWS * channels)
        .map(|block| {
            let mut sum = vec![0.0f64; channels];
            for row in block.chunks_exact(channels) {
                for ((total, &value), &mean) in sum.iter_mut().zip(row).zip(&mean) {
                    let centred = f64::from(value) - mean;
                    *total += centred * centred;
                }
            }
            sum
        })
        .reduce(|| vec![0.0f64; channels], add_into);
    let variance = squares
        .iter()
        .map(|sum| (sum / rows.max(1) as f64) as f32)
        .collect();
    (mean.iter().map(|&mean| mean as f32).collect(), variance)
}

fn add_into(mut total: Vec<f64>, part: Vec<f64>) -> Vec<f64> {
    for (total, part) in total.iter_mut().zip(part) {
        *total += part;
    }
    total
}

/// `1 / sqrt(var + epsilon)` per channel.
pub fn inverse_std(variance: &[f32], epsilon: f64) -> Vec<f32> {
    variance
        .iter()
        .map(|&var| (1.0 / (f64::from(var) + epsilon).sqrt()) as f32)
        .collect()
}

/// `y = act(gamma * (x - mean) * inv_std + beta)`, written as one scale and shift per channel.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    x: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    beta: &[f32],
    relu6: bool,
    y: &mut [f32],
) {
    let channels = mean.len();
    assert_eq!(x.len(), y.len(), "batch-norm output size");
    let scale: Vec<f32> = gamma.iter().zip(inv_std).map(|(g, s)| g * s).collect();
    let shift: Vec<f32> = beta
        .iter()
        .zip(mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    y.par_chunks_mut(BLOCK_ROWS * channels)
        .zip(x.par_chunks(BLOCK_ROWS * channels))
        .for_each(|(y_block, x_block)| {
            for (y_row, x_row) in y_block
                .chunks_exact_mut(channels)
                .zip(x_block.chunks_exact(channels))
            {
                for (((y, &x), &scale), &shift) in
                    y_row.iter_mut().zip(x_row).zip(&scale).zip(&shift)
                {
                    let z = x * scale + shift;
                    *y = if relu6 { z.clamp(0.0, 6.0) } else { z };
                }
            }
        });
}

/// The gradients `(dx, dgamma, dbeta)` for the output gradient `dy`, given the forward input and
/// the statistics the forward pass used.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    dy: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    beta: &[f32],
    relu6: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let channels = mean.len();
    assert_eq!(x.len(), dy.len(), "batch-norm gradient size");
    let rows = x.len() / channels;
    // ReLU6 passes the gradient only where it did not clamp z = gamma * x^ + beta; without it,
    // the bounds are infinite and every value passes.
    let (low, high) = if relu6 {
        (0.0f32, 6.0f32)
    } else {
        (f32::NEG_INFINITY, f32::INFINITY)
    };
    let block_sums = |x_block: &[f32], dy_block: &[f32]| {
        // f32 sums over one block of rows (at most BLOCK_ROWS terms each), combined in f64.
        let mut sum_g = vec![0.0f32; channels];
        let mut sum_gx = vec![0.0f32; channels];
        for (x_row, dy_row) in x_block
            .chunks_exact(channels)
            .zip(dy_block.chunks_exact(channels))
        {
            for ((((((sum_g, sum_gx), &x), &dy), &mean), &inv_std), (&gamma, &beta)) in sum_g
                .iter_mut()
                .zip(sum_gx.iter_mut())
                .zip(x_row)
                .zip(dy_row)
                .zip(mean)
                .zip(inv_std)
                .zip(gamma.iter().zip(beta))
            {
                let normalised = (x - mean) * inv_std;
                let z = gamma * normalised + beta;
                let g = if z >= low && z <= high { dy } else { 0.0 };
                *sum_g += g;
                *sum_gx += g * normalised;
            }
        }
        (widen(sum_g), widen(sum_gx))
    };
    let (sum_g, sum_gx) = x
        .par_chunks(BLOCK_ROWS * channels)
        .zip(dy.par_chunks(BLOCK_ROWS * channels))
        .map(|(x_block, dy_block)| block_sums(x_block, dy_block))
        .reduce(
            || (vec![0.0f64; channels], vec![0.0f64; channels]),
            |(g1, gx1), (g2, gx2)| (add_into(g1, g2), add_into(gx1, gx2)),
        );
    let count = rows.max(1) as f64;
    let mean_g: Vec<f32> = sum_g.iter().map(|s| (s / count) as f32).collect();
    let mean_gx: Vec<f32> = sum_gx.iter().map(|s| (s / count) as f32).collect();
    let scale: Vec<f32> = gamma.iter().zip(inv_std).map(|(g, s)| g * s).collect();
    let mut dx = vec![0.0f32; x.len()];
    dx.par_chunks_mut(BLOCK_ROWS * channels)
        .zip(x.par_chunks(BLOCK_ROWS * channels))
        .zip(dy.par_chunks(BLOCK_ROWS * channels))
        .for_each(|((dx_block, x_block), dy_block)| {
            for ((dx_row, x_row), dy_row) in dx_block
                .chunks_exact_mut(channels)
                .zip(x_block.chunks_exact(channels))
                .zip(dy_block.chunks_exact(channels))
            {
                for (
                    ((((dx, &x), &dy), (&mean, &inv_std)), (&gamma, &beta)),
                    ((&scale, &mean_g), &mean_gx),
                ) in dx_row
                    .iter_mut()
                    .zip(x_row)
                    .zip(dy_row)
                    .zip(mean.iter().zip(inv_std))
                    .zip(gamma.iter().zip(beta))
                    .zip(scale.iter().zip(&mean_g).zip(&mean_gx))
                {
                    let normalised = (x - mean) * inv_std;
                    let z = gamma * normalised + beta;
                    let g = if z >= low && z <= high { dy } else { 0.0 };
                    *dx = scale * (g - mean_g - normalised * mean_gx);
                }
            }
        });
    let dgamma = sum_gx.iter().map(|&s| s as f32).collect();
    let dbeta = sum_g.iter().map(|&s| s as f32).collect();
    (dx, dgamma, dbeta)
}

fn widen(values: Vec<f32>) -> Vec<f64> {
    values.into_iter().map(f64::from).collect()
}
