//! Suspect labels: an uploaded training image whose label the serving model confidently contradicts
//! is held for a person to look at instead of being trained on. Wrong labels are how a few uploads
//! can undo a model (a batch with every label shifted by one class halved the accuracy of a version
//! trained on it); the model that already serves is a cheap, independent second opinion.

use serde::{Deserialize, Serialize};

use crate::classes::{CLASS_NAMES, NUM_CLASSES};
use crate::train::argmax;

/// When the model's disagreement with a label is strong enough to hold the image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LabelCheck {
    /// Hold only when the model gives the label at most this probability...
    pub max_label_probability: f32,
    /// ...and is at least this sure of another class.
    pub min_top_probability: f32,
}

impl Default for LabelCheck {
    /// Chosen on the shipped model's validation split (857 slices it never trained on; `brainscan
    /// evaluate --split validation` prints the sweep): this holds 1.05% of correctly labelled slices
    /// and catches 91.4% of labels shifted by one class. 0.05 / 0.9 holds 0.70% but lets 12.3% of
    /// shifted labels through; looser settings hold two to three times as many good slices for a
    /// few points more.
    fn default() -> Self {
        Self {
            max_label_probability: 0.05,
            min_top_probability: 0.7,
        }
    }
}

/// Why an image was held: what the model thinks instead of the label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contradiction {
    pub predicted_class: String,
    pub predicted_probability: f32,
    pub label_probability: f32,
}

impl LabelCheck {
    /// `Some` when `probabilities` (in [`CLASS_NAMES`] order) confidently contradict `label`.
    pub fn contradiction(&self, probabilities: &[f32], label: usize) -> Option<Contradiction> {
        let label_probability = *probabilities.get(label)?;
        let top = argmax(probabilities);
        let top_probability = probabilities[top];
        (top != label
            && label_probability <= self.max_label_probability
            && top_probability >= self.min_top_probability)
            .then(|| Contradiction {
                predicted_class: CLASS_NAMES.get(top).unwrap_or(&"unknown").to_string(),
                predicted_probability: top_probability,
                label_probability,
            })
    }

    /// How this check behaves on labelled images: the share of correctly labelled ones it would
    /// hold (the cost) and the share of wrong labels it would catch (the benefit), for labels shifted
    /// by one class (the poisoning batch the issue describes) and for every wrong class.
    pub fn measure(&self, probability_rows: &[Vec<f32>], labels: &[usize]) -> LabelCheckReport {
        let mut report = LabelCheckReport {
            check: *self,
            images: labels.len(),
            ..LabelCheckReport::default()
        };
        let (mut held, mut shifted_caught, mut wrong_caught, mut wrong_total) = (0, 0, 0, 0);
        for (probabilities, &label) in probability_rows.iter().zip(labels) {
            if self.contradiction(probabilities, label).is_some() {
                held += 1;
            }
            if self
                .contradiction(probabilities, (label + 1) % NUM_CLASSES)
                .is_some()
            {
                shifted_caught += 1;
            }
            for wrong in (0..NUM_CLASSES).filter(|&class| class != label) {
                wrong_total += 1;
                if self.contradiction(probabilities, wrong).is_some() {
                    wrong_caught += 1;
                }
            }
        }
        let share = |count: usize, total: usize| count as f64 / total.max(1) as f64;
        report.held_correct_labels = held;
        report.held_share = share(held, labels.len());
        report.caught_shifted_labels = shifted_caught;
        report.caught_shifted_share = share(shifted_caught, labels.len());
        report.caught_any_wrong_share = share(wrong_caught, wrong_total);
        report
    }
}

/// What [`LabelCheck::measure`] found.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LabelCheckReport {
    pub check: LabelCheck,
    pub images: usize,
    /// Correctly labelled images the check would hold.
    pub held_correct_labels: usize,
    pub held_share: f64,
    /// Images caught when each label is replaced by the next class.
    pub caught_shifted_labels: usize,
    pub caught_shifted_share: f64,
    /// Share caught over every (image, wrong class) pair.
    pub caught_any_wrong_share: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: LabelCheck = LabelCheck {
        max_label_probability: 0.05,
        min_top_probability: 0.9,
    };

    #[test]
    fn only_a_confident_contradiction_holds_an_image() {
        let sure_glioma = [0.96, 0.02, 0.01, 0.01];
        let held = CHECK.contradiction(&sure_glioma, 3).unwrap();
        assert_eq!(held.predicted_class, "glioma");
        assert!((held.label_probability - 0.01).abs() < 1e-6);
        assert!(CHECK.contradiction(&sure_glioma, 0).is_none(), "agrees");
        let unsure = [0.85, 0.10, 0.03, 0.02];
        assert!(CHECK.contradiction(&unsure, 3).is_none(), "top below 0.9");
        let label_plausible = [0.90, 0.08, 0.01, 0.01];
        assert!(
            CHECK.contradiction(&label_plausible, 1).is_none(),
            "label keeps 8%"
        );
        assert!(CHECK.contradiction(&sure_glioma, 7).is_none(), "no class 7");
    }

    #[test]
    fn measuring_counts_held_good_labels_and_caught_wrong_ones() {
        let rows = vec![
            vec![0.97, 0.01, 0.01, 0.01], // right and sure: shifted label caught
            vec![0.01, 0.01, 0.97, 0.01], // sure of notumor, labelled glioma: held
            vec![0.40, 0.30, 0.20, 0.10], // unsure: nothing held or caught
        ];
        let report = CHECK.measure(&rows, &[0, 0, 0]);
        assert_eq!(report.images, 3);
        assert_eq!(report.held_correct_labels, 1);
        assert_eq!(report.caught_shifted_labels, 2);
        assert!((report.held_share - 1.0 / 3.0).abs() < 1e-9);
        // Row 0: meningioma, notumor, pituitary all caught (3); row 1: meningioma and pituitary
        // caught, notumor is what it sees (2); row 2: none. 5 of 9.
        assert!((report.caught_any_wrong_share - 5.0 / 9.0).abs() < 1e-9);
    }
}
