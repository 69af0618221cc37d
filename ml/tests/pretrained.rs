//! The ImageNet weights land where they belong: loaded from the pinned `.pth`, the 1000-class network
//! names the photographs scikit-image ships (a cat, a cup of coffee) with their ImageNet classes.
//! `scripts/fetch-pretrained.sh` (run by `scripts/install-tools.sh`) puts the files in the cache.

use std::path::PathBuf;

use burn::prelude::*;
use ml::efficientnet::{EfficientNetLite, IMAGENET_CLASSES};

fn cache() -> PathBuf {
    std::env::var_os("PRETRAINED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.cache/pretrained"))
        })
}

fn cached(name: &str) -> PathBuf {
    let path = cache().join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-pretrained.sh",
        path.display()
    );
    path
}

/// The photograph as the TensorFlow recipe feeds it: the short side resized to 256, the centre
/// 224 x 224 cropped, RGB planes in `(x - 127) / 128`.
fn imagenet_input(name: &str, device: &Device) -> Tensor<4> {
    let photo = image::open(cached(name))
        .expect("decodable photo")
        .to_rgb8();
    let (width, height) = photo.dimensions();
    let scale = 256.0 / width.min(height) as f32;
    let (w, h) = (
        (width as f32 * scale).round() as u32,
        (height as f32 * scale).round() as u32,
    );
    let resized = image::imageops::resize(&photo, w, h, image::imageops::FilterType::Triangle);
    let (left, top) = ((w - 224) / 2, (h - 224) / 2);
    let crop = image::imageops::crop_imm(&resized, left, top, 224, 224).to_image();
    let mut planes = vec![0.0f32; 3 * 224 * 224];
    for (x, y, pixel) in crop.enumerate_pixels() {
        for channel in 0..3 {
            planes[channel * 224 * 224 + (y * 224 + x) as usize] =
                (f32::from(pixel[channel]) - 127.0) / 128.0;
        }
    }
    Tensor::<1>::from_floats(planes.as_slice(), device).reshape([1, 3, 224, 224])
}

/// The five most likely ImageNet classes, best first.
fn top5(model: &EfficientNetLite, input: Tensor<4>) -> Vec<usize> {
    let logits = ml::train::to_f32_vec(model.forward(input)).expect("f32 logits");
    assert_eq!(logits.len(), IMAGENET_CLASSES);
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|a, b| logits[*b].total_cmp(&logits[*a]));
    order.truncate(5);
    order
}

#[test]
fn imagenet_weights_recognise_a_cat_and_a_cup_of_coffee() {
    let device = Device::flex();
    let model = EfficientNetLite::from_imagenet_pth(&cached("efficientnet-lite0.pth"), &device)
        .expect("the pinned weights load into EfficientNet-Lite0");
    // ImageNet's cats: 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat.
    let cat = top5(&model, imagenet_input("chelsea.png", &device));
    println!("chelsea.png top 5: {cat:?}");
    assert!(
        (281..=285).contains(&cat[0]),
        "the cat photo's top 5: {cat:?}"
    );
    // 504 coffee mug, 967 espresso, 968 cup.
    let coffee = top5(&model, imagenet_input("coffee.png", &device));
    println!("coffee.png top 5: {coffee:?}");
    assert!(
        [504, 967, 968].contains(&coffee[0]),
        "the coffee photo's top 5: {coffee:?}"
    );
}

#[test]
fn a_missing_or_foreign_weights_file_is_a_clear_error() {
    let device = Device::flex();
    let missing = EfficientNetLite::from_imagenet_pth(&cache().join("nope.pth"), &device)
        .expect_err("a missing file fails");
    assert!(
        missing.to_string().contains("fetch-pretrained.sh"),
        "{missing}"
    );
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.pth");
    std::fs::write(&foreign, b"not a pytorch checkpoint").unwrap();
    let error =
        EfficientNetLite::from_imagenet_pth(&foreign, &device).expect_err("a foreign file fails");
    assert!(
        error
            .to_string()
            .contains("does not fit EfficientNet-Lite0"),
        "{error}"
    );
}

/// The real weights through both paths: Flex's channels-last kernels (unfolded, and folded and
/// fused as serving runs them) give Burn's standard operations' logits on both photographs.
#[test]
fn the_kernels_give_the_standard_imagenet_logits() {
    let device = Device::flex();
    let model = EfficientNetLite::from_imagenet_pth(&cached("efficientnet-lite0.pth"), &device)
        .expect("the pinned weights load into EfficientNet-Lite0");
    let folded = ml::model::Model::EfficientNetLite(model.clone()).fold_batch_norms();
    for photo in ["chelsea.png", "coffee.png"] {
        let input = imagenet_input(photo, &device);
        let reference = model.forward_standard(input.clone());
        let scale: f32 = reference.clone().abs().max().into_scalar();
        for (path, logits) in [
            ("kernels", model.forward(input.clone())),
            ("folded and fused", folded.forward(input.clone())),
        ] {
            let difference: f32 = (logits - reference.clone()).abs().max().into_scalar();
            assert!(
                difference <= 1e-4 * scale,
                "{photo}, {path}: largest difference {difference} against logits up to {scale}"
            );
        }
    }
}
