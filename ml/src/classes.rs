//! The four diagnoses, in the order the model's outputs use.

/// Class names as the dataset's folders and the original API spell them, in output order.
pub const CLASS_NAMES: [&str; 4] = ["glioma", "meningioma", "notumor", "pituitary"];

pub const NUM_CLASSES: usize = CLASS_NAMES.len();

/// Index of a class name in [`CLASS_NAMES`].
pub fn class_index(name: &str) -> Option<usize> {
    CLASS_NAMES.iter().position(|class| *class == name)
}

/// How the UI should name a class.
pub fn display_name(name: &str) -> &str {
    match name {
        "glioma" => "Glioma",
        "meningioma" => "Meningioma",
        "notumor" => "No tumour",
        "pituitary" => "Pituitary",
        other => other,
    }
}
