//! The stem at inference: a k x k convolution of a few-channel image, read channels-first as it
//! arrives (`[batch, c_in, h, w]`), written channels-last (`[batch, out_h, out_w, c_out]`) with the
//! folded batch norm's bias and ReLU6 applied at the store. It replaces Burn's convolution, a
//! separate clamp and the copy that changed the layout.
//!
//! Weights are packed `[c_in * k * k, c_out]`, row `t = (ci * k + ky) * k + kx`, so one input value
//! meets a contiguous row of output-channel weights:
//! `y[n,oy,ox,o] = act(b[o] + sum_{ci,ky,kx} x[n, ci, oy*s+ky-pad_top, ox*s+kx-pad_left] * w[t, o])`.
//! Padding is read in place, as in [`super::depthwise`].

use rayon::prelude::*;

use super::depthwise::Geometry;

/// `y = act(conv(x) + bias)` (see the module). `x`: `[batch, channels_in, height, width]`.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    x: &[f32],
    [batch, channels_in, height, width]: [usize; 4],
    weights: &[f32],
    bias: &[f32],
    geometry: Geometry,
    relu6: bool,
    y: &mut [f32],
) {
    let channels_out = bias.len();
    let k = geometry.kernel;
    let (out_height, out_width) = geometry.output_size(height, width);
    assert_eq!(
        x.len(),
        batch * channels_in * height * width,
        "stem input size"
    );
    assert_eq!(
        weights.len(),
        channels_in * k * k * channels_out,
        "stem weights size"
    );
    assert_eq!(
        y.len(),
        batch * out_height * out_width * channels_out,
        "stem output size"
    );
    let row_len = out_width * channels_out;
    if row_len == 0 {
        return;
    }
    y.par_chunks_mut(row_len)
        .enumerate()
        .for_each(|(row, y_row)| {
            let (n, oy) = (row / out_height, row % out_height);
            let image = &x[n * channels_in * height * width..][..channels_in * height * width];
            for (ox, out) in y_row.chunks_exact_mut(channels_out).enumerate() {
                out.copy_from_slice(bias);
                for ci in 0..channels_in {
                    for ky in 0..k {
                        let Some(iy) = (oy * geometry.stride + ky)
                            .checked_sub(geometry.pad_top)
                            .filter(|&iy| iy < height)
                        else {
                            continue;
                        };
                        for kx in 0..k {
                            let Some(ix) = (ox * geometry.stride + kx)
                                .checked_sub(geometry.pad_left)
                                .filter(|&ix| ix < width)
                            else {
                                continue;
                            };
                            let value = image[(ci * height + iy) * width + ix];
                            let tap =
                                &weights[((ci * k + ky) * k + kx) * channels_out..][..channels_out];
                            for (out, &weight) in out.iter_mut().zip(tap) {
                                *out += value * weight;
                            }
                        }
                    }
                }
                if relu6 {
                    for value in out.iter_mut() {
                        *value = value.clamp(0.0, 6.0);
                    }
                }
            }
        });
}
