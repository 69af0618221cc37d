//! The phantom slices that the load test, the benchmark and the HTTP tests send are accepted by the
//! shipped model as brain MRI, so those measure classification, not refusal; and the ones without a
//! lesion read as no tumour, which the upload tests' suspect-label hold relies on.

use std::path::Path;

use ml::{Backend, Classifier};

#[test]
fn the_shipped_model_accepts_every_phantom_slice_the_load_test_sends() {
    let models = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../models"));
    let classifier = Classifier::load(models, Backend::Cpu.device().unwrap()).unwrap();
    let threshold = classifier
        .trust()
        .expect("the shipped model has a not-an-MRI check")
        .ood
        .threshold;
    let mut refused = Vec::new();
    let mut misread = Vec::new();
    for variant in 0..32 {
        let bytes = ml::phantom::slice_jpeg(variant, 512).unwrap();
        match classifier.predict_bytes(&bytes) {
            Ok(prediction) => {
                let distance = prediction.ood_distance.expect("checked");
                eprintln!(
                    "variant {variant}: {distance:.3} {}",
                    prediction.predicted_class
                );
                let lesion_free = variant % 4 == 2;
                if lesion_free && prediction.predicted_class != "notumor" {
                    misread.push(format!("variant {variant}: {}", prediction.predicted_class));
                }
            }
            Err(error) => refused.push(format!("variant {variant}: {error}")),
        }
    }
    assert!(
        refused.is_empty(),
        "threshold {threshold}; refused: {refused:#?}"
    );
    assert!(
        misread.is_empty(),
        "lesion-free slices misread: {misread:#?}"
    );
}
