//! The four diagnoses, in the order the model's outputs use.

/// Class names as the dataset's folders and the original API spell them, in output order.
pub const CLASS_NAMES: [&str; 4] = ["glioma", "meningioma", "notumor", "pituitary"];

pub const NUM_CLASSES: usize = CLASS_NAMES.len();

/// Index of a class name in [`CLASS_NAMES`].
pub fn class_index(name: &str) -> Option<usize> {
    CLASS_NAMES.iter().position(|class| *class == name)
}

/// How people read a class name (the API keeps the dataset's spelling); an unknown name as it is.
pub fn class_label(name: &str) -> String {
    match name {
        "glioma" => "Glioma",
        "meningioma" => "Meningioma",
        "notumor" => "No tumour",
        "pituitary" => "Pituitary",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_an_index_and_a_readable_name() {
        for (index, name) in CLASS_NAMES.iter().enumerate() {
            assert_eq!(class_index(name), Some(index));
            assert_ne!(class_label(name), *name, "{name} has no label");
        }
        assert_eq!(class_index("Glioma"), None, "names are case-sensitive");
        assert_eq!(class_label("other"), "other");
    }
}
