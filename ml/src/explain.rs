//! Where the model looked: Grad-CAM (Selvaraju et al. 2017) on a convolutional feature map (the
//! CNN's last; Lite0's stride-16 one, see [`Model::explained_map`]). The class score's gradient
//! with respect to that map comes from Burn's autodiff; each channel is weighted by its mean
//! gradient and the weighted sum, clipped at zero, is the heatmap.

use burn::prelude::*;
use image::{GrayImage, Rgb, RgbImage};

use crate::dicom::DicomFrame;
use crate::infer::{Classifier, Prediction};
use crate::model::Model;
use crate::preprocess::{crop_to_head, decode_input, normalise_into, resize_square};
use crate::train::to_f32_vec;
use crate::{MlError, MlResult};

/// Most pixels a side of [`Explanation::view`]: sharp on a screen, small enough to send as PNG.
pub const VIEW_SIDE_MAX: u32 = 448;

/// A prediction with the heatmap of the class it answered.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub prediction: Prediction,
    /// Heat per cell of the explained feature map, row-major, scaled so the hottest cell is 1 (all 0
    /// when no cell speaks for the class).
    pub heatmap: Vec<f32>,
    pub grid_width: usize,
    pub grid_height: usize,
    /// The slice as the model saw it: cropped to the head, square, `input_size` pixels.
    pub slice: GrayImage,
    /// The same square from the original pixels, for people to look at: up to [`VIEW_SIDE_MAX`]
    /// pixels a side (never fewer than the model's input), so a large scan is not shown blurred
    /// at the model's resolution. The heatmap covers it exactly as it covers `slice`.
    pub view: GrayImage,
    /// For a DICOM input, its summary and the frame explained (the middle one).
    pub dicom: Option<DicomFrame>,
}

/// Grad-CAM of `class` on an already computed [`Model::explained_map`] (the raw, unscaled map and
/// its width and height), so a prediction and its explanation share one forward pass. Only the map
/// is tracked by autodiff: the backward pass runs through what follows the map alone.
fn grad_cam_of_map(
    model: &Model,
    feature_map: Tensor<4>,
    class: usize,
) -> MlResult<(Vec<f32>, usize, usize)> {
    let map = feature_map.autodiff().require_grad();
    let [_, channels, height, width] = map.dims();
    let logits = model.classify(model.features_from_explained_map(map.clone()));
    let score = logits.slice([0..1, class..class + 1]).sum();
    let gradients = score.backward();
    let gradient = map
        .grad(&gradients)
        .ok_or_else(|| MlError::Training("no gradient reached the feature map".into()))?;
    let weights = gradient
        .mean_dim(3)
        .mean_dim(2)
        .reshape([1, channels, 1, 1]);
    let cam = (map.inner() * weights)
        .sum_dim(1)
        .clamp_min(0.0)
        .reshape([height * width]);
    Ok((to_f32_vec(cam)?, width, height))
}

impl Classifier {
    /// Classifies one encoded image and explains the answer, from one forward pass. Refuses what
    /// the prediction refuses (e.g. not a brain MRI slice) before any backward pass.
    pub fn explain_bytes(&self, bytes: &[u8]) -> MlResult<Explanation> {
        let config = self.manifest().preprocess;
        let size = config.input_size;
        let input = decode_input(bytes)?;
        let index = input.middle_index();
        let dicom = input
            .dicom
            .clone()
            .map(|summary| DicomFrame { summary, index });
        let square = crop_to_head(&input.into_middle_frame(), &config);
        let view_side = square
            .width()
            .clamp(size as u32, VIEW_SIDE_MAX.max(size as u32));
        let view = resize_square(square.clone(), view_side);
        let pixels = resize_square(square, size as u32).into_raw();
        let mut input = vec![0.0; pixels.len()];
        normalise_into(&pixels, &config, &mut input);
        let images =
            Tensor::<4>::from_data(TensorData::new(input, [1, 1, size, size]), self.device());
        let model = self.model();
        let feature_map = model.explained_map(images);
        let features = model.features_from_explained_map(feature_map.clone());
        let logits = to_f32_vec(model.classify(features.clone()))?;
        let prediction = self.assess(&logits, &to_f32_vec(features)?)?;
        let class = self
            .manifest()
            .classes
            .iter()
            .position(|c| *c == prediction.predicted_class)
            .ok_or_else(|| MlError::Training("the answer is not one of the classes".into()))?;
        let (mut heatmap, grid_width, grid_height) = grad_cam_of_map(model, feature_map, class)?;
        let hottest = heatmap.iter().copied().fold(0.0f32, f32::max);
        if hottest > 0.0 {
            heatmap.iter_mut().for_each(|h| *h /= hottest);
        }
        let slice = GrayImage::from_raw(size as u32, size as u32, pixels)
            .ok_or_else(|| MlError::Training("preprocessing gave the wrong size".into()))?;
        Ok(Explanation {
            prediction,
            heatmap,
            grid_width,
            grid_height,
            slice,
            view,
            dicom,
        })
    }
}

impl Classifier {
    /// The same architecture and preprocessing with freshly initialised weights and no trust
    /// check: the baseline a saliency method must differ from (Adebayo et al. 2018, "Sanity
    /// checks for saliency maps").
    pub fn with_random_weights(&self, seed: u64) -> Classifier {
        let device = self.device().clone();
        device.seed(seed);
        let manifest = self.manifest().clone();
        let model = manifest.architecture.init(&manifest.model, &device);
        Classifier::from_parts(model, manifest, device)
    }
}

/// Pearson correlation of two heatmaps of the same grid (0 when either is flat).
pub fn heatmap_correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len()) as f32;
    if n == 0.0 {
        return 0.0;
    }
    let (mean_a, mean_b) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut cov, mut var_a, mut var_b) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        cov += (x - mean_a) * (y - mean_b);
        var_a += (x - mean_a).powi(2);
        var_b += (y - mean_b).powi(2);
    }
    if var_a <= f32::EPSILON || var_b <= f32::EPSILON {
        0.0
    } else {
        cov / (var_a.sqrt() * var_b.sqrt())
    }
}

impl Explanation {
    /// Heat at a pixel of the slice, bilinearly interpolated between cell centres.
    pub fn heat_at(&self, x: f32, y: f32) -> f32 {
        let side = self.slice.width() as f32;
        let gx = (x + 0.5) * self.grid_width as f32 / side - 0.5;
        let gy = (y + 0.5) * self.grid_height as f32 / side - 0.5;
        let clamp = |v: f32, n: usize| v.clamp(0.0, (n - 1) as f32);
        let (gx, gy) = (clamp(gx, self.grid_width), clamp(gy, self.grid_height));
        let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
        let (x1, y1) = (
            (x0 + 1).min(self.grid_width - 1),
            (y0 + 1).min(self.grid_height - 1),
        );
        let (fx, fy) = (gx - x0 as f32, gy - y0 as f32);
        let cell = |cx: usize, cy: usize| self.heatmap[cy * self.grid_width + cx];
        let top = cell(x0, y0) * (1.0 - fx) + cell(x1, y0) * fx;
        let bottom = cell(x0, y1) * (1.0 - fx) + cell(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// The view in grey with the heatmap blended over it (`opacity` 0-1, red = hot), for the
    /// PNG the API and CLI return.
    pub fn overlay(&self, opacity: f32) -> RgbImage {
        // View pixels to slice pixels: both are the same square at different sizes.
        let scale = self.slice.width() as f32 / self.view.width().max(1) as f32;
        RgbImage::from_fn(self.view.width(), self.view.height(), |x, y| {
            let grey = f32::from(self.view.get_pixel(x, y).0[0]);
            let heat = self.heat_at(
                (x as f32 + 0.5) * scale - 0.5,
                (y as f32 + 0.5) * scale - 0.5,
            );
            let [r, g, b] = heat_colour(heat);
            let alpha = opacity.clamp(0.0, 1.0) * heat.sqrt();
            let mix = |c: f32| (grey * (1.0 - alpha) + c * alpha).round() as u8;
            Rgb([mix(r), mix(g), mix(b)])
        })
    }

    /// Share of the heat that falls on the head: near 1 when the model looks at the anatomy.
    /// The head is the slice's silhouette of pixels brighter than `threshold` (the
    /// preprocessing's crop rule), filled along rows and columns so that dark tissue inside it
    /// (ventricles, a necrotic core) counts as head.
    pub fn share_in_head(&self, threshold: u8) -> f32 {
        let mask = head_mask(&self.slice, threshold);
        let width = self.slice.width() as usize;
        let (mut inside, mut total) = (0.0f32, 0.0f32);
        for (x, y, _) in self.slice.enumerate_pixels() {
            let heat = self.heat_at(x as f32, y as f32);
            total += heat;
            if mask[y as usize * width + x as usize] {
                inside += heat;
            }
        }
        if total > 0.0 {
            inside / total
        } else {
            0.0
        }
    }
}

impl Explanation {
    /// The best [`Explanation::share_in_head`] a map on this grid can reach while covering the
    /// whole head: the share of a heatmap whose cells hold the fraction of their pixels inside
    /// the head. Cells straddling the skull's edge are partly hot by construction, so on a
    /// coarse grid this ceiling sits well below 1 and an honest map cannot beat it by much.
    pub fn head_share_ceiling(&self, threshold: u8) -> f32 {
        let mask = head_mask(&self.slice, threshold);
        let (width, height) = (self.slice.width() as usize, self.slice.height() as usize);
        let mut inside = vec![0.0f32; self.grid_width * self.grid_height];
        let mut pixels = vec![0.0f32; self.grid_width * self.grid_height];
        for y in 0..height {
            for x in 0..width {
                let cell =
                    (y * self.grid_height / height) * self.grid_width + x * self.grid_width / width;
                pixels[cell] += 1.0;
                if mask[y * width + x] {
                    inside[cell] += 1.0;
                }
            }
        }
        let coverage = Explanation {
            heatmap: inside
                .iter()
                .zip(&pixels)
                .map(|(i, p)| if *p > 0.0 { i / p } else { 0.0 })
                .collect(),
            ..self.clone()
        };
        coverage.share_in_head(threshold)
    }
}

/// Pixels between the first and last bright pixel of both their row and their column.
fn head_mask(slice: &GrayImage, threshold: u8) -> Vec<bool> {
    let (width, height) = (slice.width() as usize, slice.height() as usize);
    let bright = |x: usize, y: usize| slice.get_pixel(x as u32, y as u32).0[0] > threshold;
    let span = |cells: &mut dyn Iterator<Item = bool>| {
        let flags: Vec<bool> = cells.collect();
        let first = flags.iter().position(|&b| b);
        let last = flags.iter().rposition(|&b| b);
        first.zip(last)
    };
    let rows: Vec<Option<(usize, usize)>> = (0..height)
        .map(|y| span(&mut (0..width).map(|x| bright(x, y))))
        .collect();
    let columns: Vec<Option<(usize, usize)>> = (0..width)
        .map(|x| span(&mut (0..height).map(|y| bright(x, y))))
        .collect();
    let within =
        |range: Option<(usize, usize)>, v: usize| range.is_some_and(|(a, b)| a <= v && v <= b);
    (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .map(|(x, y)| within(rows[y], x) && within(columns[x], y))
        .collect()
}

/// Red to yellow as heat goes from 0 to 1, as the Predict page draws it; the grey slice shows
/// through where the heat is low.
fn heat_colour(heat: f32) -> [f32; 3] {
    let h = heat.clamp(0.0, 1.0);
    [255.0, ((h * 3.0 - 1.0).clamp(0.0, 1.0)) * 255.0, 0.0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Architecture, ModelConfig};
    use burn::tensor::Distribution;

    /// With global average pooling and a linear head, the class score is linear in the map, so
    /// Grad-CAM must equal `relu(sum_k w_ck * A_k) / (h * w)`, with `w_ck` read off the head by
    /// probing it with one-hot features.
    #[test]
    fn grad_cam_matches_the_head_weights_times_the_feature_map() {
        let device = Device::flex();
        device.seed(3);
        let config = ModelConfig::new().with_widths([4, 8, 8, 8]);
        let model = Architecture::Cnn.init(&config, &device).valid();
        let size = 32;
        let input = Tensor::<4>::random([1, 1, size, size], Distribution::Default, &device);
        let map = model.feature_map(input.clone());
        let [_, channels, height, width] = map.dims();
        let map_values = to_f32_vec(map).unwrap();
        let head = |features: Vec<f32>| {
            to_f32_vec(model.classify(Tensor::<2>::from_data(
                TensorData::new(features, [1, channels]),
                &device,
            )))
            .unwrap()
        };
        let bias = head(vec![0.0; channels]);
        for (class, class_bias) in bias.iter().enumerate() {
            let weights: Vec<f32> = (0..channels)
                .map(|k| {
                    let mut one_hot = vec![0.0; channels];
                    one_hot[k] = 1.0;
                    head(one_hot)[class] - class_bias
                })
                .collect();
            let (cam, w, h) =
                grad_cam_of_map(&model, model.feature_map(input.clone()), class).unwrap();
            assert_eq!((w, h), (width, height));
            for cell in 0..w * h {
                let expected = (0..channels)
                    .map(|k| weights[k] * map_values[k * w * h + cell])
                    .sum::<f32>()
                    .max(0.0)
                    / (w * h) as f32;
                assert!(
                    (cam[cell] - expected).abs() <= 1e-4 * expected.abs().max(1e-2),
                    "class {class} cell {cell}: {} vs {expected}",
                    cam[cell]
                );
            }
        }
    }

    fn certain_glioma() -> Prediction {
        Prediction {
            predicted_class: "glioma".into(),
            confidence: 1.0,
            probabilities: vec![],
            needs_review: false,
            runner_up: None,
            ood_distance: None,
            refusal_overridden: false,
        }
    }

    #[test]
    fn the_overlay_is_hot_where_the_heat_is() {
        let explanation = Explanation {
            prediction: certain_glioma(),
            heatmap: vec![0.0, 0.0, 0.0, 1.0],
            grid_width: 2,
            grid_height: 2,
            slice: GrayImage::from_pixel(64, 64, image::Luma([100])),
            view: GrayImage::from_pixel(128, 128, image::Luma([100])),
            dicom: None,
        };
        let overlay = explanation.overlay(0.8);
        // Drawn at the view's size, the heat placed as on the slice.
        assert_eq!(overlay.dimensions(), (128, 128));
        let cold = overlay.get_pixel(10, 10).0;
        let hot = overlay.get_pixel(120, 120).0;
        assert_eq!(cold, [100, 100, 100]);
        assert!(hot[0] > 200 && hot[2] < 60, "{hot:?}");
        // The whole slice is brighter than the head threshold: all the heat is in the head.
        assert!((explanation.share_in_head(20) - 1.0).abs() < 1e-6);
        // A ring-shaped head (dark inside) still owns its inside; the black border does not.
        let ring = GrayImage::from_fn(64, 64, |x, y| {
            let r = ((x as f32 - 31.5).powi(2) + (y as f32 - 31.5).powi(2)).sqrt();
            image::Luma([if (20.0..26.0).contains(&r) { 200 } else { 0 }])
        });
        let mask = head_mask(&ring, 20);
        assert!(mask[32 * 64 + 32], "the centre is inside the head");
        assert!(!mask[0], "the corner is outside");
        assert!(!mask[2 * 64 + 32], "above the ring is outside");
        assert!(explanation
            .overlay(0.0)
            .pixels()
            .all(|pixel| pixel.0 == [100, 100, 100]));
    }

    #[test]
    fn a_coarse_grid_caps_the_share_a_whole_head_map_can_reach() {
        let disc = GrayImage::from_fn(64, 64, |x, y| {
            let r = ((x as f32 - 31.5).powi(2) + (y as f32 - 31.5).powi(2)).sqrt();
            image::Luma([if r < 26.0 { 150 } else { 0 }])
        });
        let with_heat = |heatmap: Vec<f32>| Explanation {
            prediction: certain_glioma(),
            heatmap,
            grid_width: 4,
            grid_height: 4,
            slice: disc.clone(),
            view: disc.clone(),
            dicom: None,
        };
        let uniform = with_heat(vec![1.0; 16]);
        let ceiling = uniform.head_share_ceiling(20);
        let mut centre = vec![0.0; 16];
        for cell in [5, 6, 9, 10] {
            centre[cell] = 1.0;
        }
        let centre_share = with_heat(centre).share_in_head(20);
        let area_share = uniform.share_in_head(20);
        assert!(
            (area_share - 0.52).abs() < 0.03,
            "the disc is ~52% of the slice: {area_share}"
        );
        assert!(ceiling > area_share && ceiling < 1.0, "ceiling {ceiling}");
        assert!(centre_share > ceiling, "{centre_share} vs {ceiling}");
    }
}
