//! Classification metrics as pure functions of true and predicted labels.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Rows are true classes, columns predicted classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix(pub Vec<Vec<u64>>);

impl ConfusionMatrix {
    pub fn new(num_classes: usize) -> Self {
        Self(vec![vec![0; num_classes]; num_classes])
    }

    pub fn from_labels(truth: &[usize], predicted: &[usize], num_classes: usize) -> Self {
        let mut matrix = Self::new(num_classes);
        for (&t, &p) in truth.iter().zip(predicted) {
            matrix.add(t, p);
        }
        matrix
    }

    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.0[truth][predicted] += 1;
    }

    pub fn num_classes(&self) -> usize {
        self.0.len()
    }

    pub fn total(&self) -> u64 {
        self.0.iter().flatten().sum()
    }

    pub fn correct(&self) -> u64 {
        (0..self.num_classes()).map(|i| self.0[i][i]).sum()
    }

    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    pub fn support(&self, class: usize) -> u64 {
        self.0[class].iter().sum()
    }

    pub fn predicted_count(&self, class: usize) -> u64 {
        self.0.iter().map(|row| row[class]).sum()
    }

    /// Precision, recall and F1 of one class; 0 where undefined (nothing predicted or present).
    pub fn class_scores(&self, class: usize) -> ClassScores {
        let true_positives = self.0[class][class];
        let precision = ratio(true_positives, self.predicted_count(class));
        let recall = ratio(true_positives, self.support(class));
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        ClassScores {
            precision,
            recall,
            f1,
            support: self.support(class),
        }
    }
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// Averages over classes: unweighted (macro) and weighted by support.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AveragedScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Everything `evaluate` reports; its JSON is the CLI's `--json` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationReport {
    pub images: u64,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub classes: Vec<String>,
    pub per_class: BTreeMap<String, ClassScores>,
    pub macro_avg: AveragedScores,
    pub weighted_avg: AveragedScores,
    pub confusion_matrix: ConfusionMatrix,
    /// Mean cross-entropy of the true class, when probabilities were available.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub loss: Option<f64>,
    pub seconds: f64,
}

impl EvaluationReport {
    pub fn new(classes: &[&str], matrix: ConfusionMatrix, loss: Option<f64>, seconds: f64) -> Self {
        let scores: Vec<ClassScores> = (0..classes.len()).map(|c| matrix.class_scores(c)).collect();
        let n = scores.len().max(1) as f64;
        let total = matrix.total();
        let mean = |f: fn(&ClassScores) -> f64| scores.iter().map(f).sum::<f64>() / n;
        let weighted = |f: fn(&ClassScores) -> f64| {
            scores.iter().map(|s| f(s) * s.support as f64).sum::<f64>() / total.max(1) as f64
        };
        let macro_avg = AveragedScores {
            precision: mean(|s| s.precision),
            recall: mean(|s| s.recall),
            f1: mean(|s| s.f1),
        };
        let weighted_avg = AveragedScores {
            precision: weighted(|s| s.precision),
            recall: weighted(|s| s.recall),
            f1: weighted(|s| s.f1),
        };
        Self {
            images: total,
            accuracy: matrix.accuracy(),
            macro_f1: macro_avg.f1,
            classes: classes.iter().map(|c| c.to_string()).collect(),
            per_class: classes.iter().map(|c| c.to_string()).zip(scores).collect(),
            macro_avg,
            weighted_avg,
            confusion_matrix: matrix,
            loss,
            seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn known_confusion_matrix_gives_known_scores() {
        // Class 0: 8 of 10 right; class 1: 5 of 5 right; class 2: 3 of 5 right.
        let matrix = ConfusionMatrix(vec![vec![8, 2, 0], vec![0, 5, 0], vec![1, 1, 3]]);
        assert_eq!(matrix.total(), 20);
        assert!(close(matrix.accuracy(), 16.0 / 20.0));
        let c0 = matrix.class_scores(0);
        assert!(close(c0.precision, 8.0 / 9.0) && close(c0.recall, 0.8));
        assert!(close(c0.f1, 2.0 * (8.0 / 9.0) * 0.8 / (8.0 / 9.0 + 0.8)));
        let c1 = matrix.class_scores(1);
        assert!(close(c1.precision, 5.0 / 8.0) && close(c1.recall, 1.0));
        let c2 = matrix.class_scores(2);
        assert!(close(c2.precision, 1.0) && close(c2.recall, 0.6) && close(c2.f1, 0.75));

        let report = EvaluationReport::new(&["a", "b", "c"], matrix, None, 1.0);
        assert_eq!(report.images, 20);
        let macro_f1 = (c0.f1 + c1.f1 + c2.f1) / 3.0;
        assert!(close(report.macro_f1, macro_f1));
        let weighted_recall = (0.8 * 10.0 + 1.0 * 5.0 + 0.6 * 5.0) / 20.0;
        assert!(close(report.weighted_avg.recall, weighted_recall));
        assert!(
            close(report.weighted_avg.recall, report.accuracy),
            "weighted recall equals accuracy"
        );
        assert_eq!(report.per_class["c"].support, 5);
    }

    #[test]
    fn labels_build_the_matrix_rows_true_columns_predicted() {
        let matrix = ConfusionMatrix::from_labels(&[0, 0, 1, 2], &[0, 1, 1, 0], 3);
        assert_eq!(matrix.0, vec![vec![1, 1, 0], vec![0, 1, 0], vec![1, 0, 0]]);
    }

    #[test]
    fn empty_and_never_predicted_classes_score_zero_not_nan() {
        let matrix = ConfusionMatrix(vec![vec![3, 0], vec![2, 0]]);
        let never_predicted = matrix.class_scores(1);
        assert_eq!(
            (
                never_predicted.precision,
                never_predicted.recall,
                never_predicted.f1
            ),
            (0.0, 0.0, 0.0)
        );
        let empty = EvaluationReport::new(&["a", "b"], ConfusionMatrix::new(2), None, 0.0);
        assert_eq!(empty.accuracy, 0.0);
        assert!(empty.macro_f1.is_finite());
    }

    #[test]
    fn json_has_the_documented_keys() {
        let report = EvaluationReport::new(
            &["x", "y"],
            ConfusionMatrix(vec![vec![1, 0], vec![0, 1]]),
            None,
            0.5,
        );
        let json = serde_json::to_value(&report).unwrap();
        for key in [
            "images",
            "accuracy",
            "macro_f1",
            "classes",
            "per_class",
            "confusion_matrix",
            "seconds",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        assert_eq!(
            json["confusion_matrix"],
            serde_json::json!([[1, 0], [0, 1]])
        );
        assert_eq!(json["per_class"]["x"]["support"], 1);
    }
}
