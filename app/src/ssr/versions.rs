//! Version against version, on the same images or not at all.
//!
//! A retrained version's stored metrics carry the set it was scored on and its parent's scores on
//! the very same images (the "before" of its retraining run). Two versions are compared on those
//! paired scores when one is the other's parent, or on their own figures when both come from the
//! same fixed set; otherwise the answer is "not comparable", with the two sets named.

use domain::comparison::{
    difference_interval, AccuracyDifference, EvaluationSet, EvaluationSetKind, ScoresOnSet,
    VersionComparison,
};
use ml::EvaluationReport;
use serde_json::{json, Value};

/// The metrics JSON stored with a retrained version: its own report, the set it was scored on and
/// the parent's report on that set.
pub fn stored_metrics(
    report: &EvaluationReport,
    evaluated_on: EvaluationSet,
    parent_version: &str,
    parent_report: &EvaluationReport,
) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(report)?;
    if let Some(fields) = value.as_object_mut() {
        fields.insert("evaluated_on".into(), serde_json::to_value(evaluated_on)?);
        fields.insert(
            "baseline".into(),
            json!({ "version": parent_version, "report": parent_report }),
        );
    }
    serde_json::to_string(&value)
}

/// What the database holds about one version's scores, read back.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub version: String,
    pub report: Option<EvaluationReport>,
    pub evaluated_on: Option<EvaluationSet>,
    /// The parent's version and its report on the same images.
    pub baseline: Option<(String, EvaluationReport)>,
}

impl StoredVersion {
    /// A version without a parent is a shipped model, scored on the original split when it was
    /// trained; a retrained one saved before the set was recorded has no known set.
    pub fn parse(version: &str, parent_version: Option<&str>, metrics: &Value) -> Self {
        let report: Option<EvaluationReport> = serde_json::from_value(metrics.clone()).ok();
        let evaluated_on = metrics
            .get("evaluated_on")
            .and_then(|set| serde_json::from_value(set.clone()).ok())
            .or_else(|| {
                let report = report.as_ref()?;
                parent_version.is_none().then_some(EvaluationSet {
                    kind: EvaluationSetKind::OriginalSplit,
                    images: report.images,
                })
            });
        let baseline = metrics.get("baseline").and_then(|baseline| {
            let version = baseline.get("version")?.as_str()?.to_owned();
            let report = serde_json::from_value(baseline.get("report")?.clone()).ok()?;
            Some((version, report))
        });
        Self {
            version: version.to_owned(),
            report,
            evaluated_on,
            baseline,
        }
    }

    fn set_words(&self) -> String {
        self.evaluated_on.map_or_else(
            || "a set it did not record".to_owned(),
            |set| set.describe(),
        )
    }
}

/// The child's own report, its parent's report on the same images and that set, when `parent` is
/// the version the child's retraining started from.
fn paired<'a>(
    child: &'a StoredVersion,
    parent: &StoredVersion,
) -> Option<(&'a EvaluationReport, &'a EvaluationReport, EvaluationSet)> {
    let (baseline_version, baseline) = child.baseline.as_ref()?;
    (baseline_version == &parent.version).then_some(())?;
    Some((child.report.as_ref()?, baseline, child.evaluated_on?))
}

/// `first` against `second`: paired scores when one is the other's parent, else their own figures
/// when both come from the same fixed set.
pub fn compare(first: &StoredVersion, second: &StoredVersion) -> VersionComparison {
    let pair = if let Some((report, baseline, set)) = paired(first, second) {
        Some((report, baseline, set, true))
    } else if let Some((report, baseline, set)) = paired(second, first) {
        Some((baseline, report, set, true))
    } else {
        match (
            &first.report,
            &second.report,
            first.evaluated_on,
            second.evaluated_on,
        ) {
            (Some(a), Some(b), Some(set_a), Some(set_b)) if set_a.comparable_with(&set_b) => {
                Some((a, b, set_a, false))
            }
            _ => None,
        }
    };
    let Some((first_report, second_report, set, during_retraining)) = pair else {
        return VersionComparison {
            version: first.version.clone(),
            against: second.version.clone(),
            comparable: false,
            explanation: format!(
                "Not comparable: {} was scored on {}, {} on {}. Figures from different images \
                 cannot be set side by side.",
                first.version,
                first.set_words(),
                second.version,
                second.set_words()
            ),
            evaluated_on: None,
            classes: Vec::new(),
            first: None,
            second: None,
            difference: None,
        };
    };
    let difference = accuracy_difference(first_report, second_report);
    let when = if during_retraining {
        " during the retraining that made the newer one"
    } else {
        ""
    };
    let verdict = if difference.is_clear() {
        "the interval excludes zero: a real difference on these images"
    } else {
        "the interval includes zero: no difference these images can show"
    };
    let explanation = format!(
        "Both scored on the same {}{when}: {} {:.2}%, {} {:.2}%; difference {:+.2} points \
         (95% interval {:+.2} to {:+.2}), {verdict}.",
        set.describe(),
        first.version,
        first_report.accuracy * 100.0,
        second.version,
        second_report.accuracy * 100.0,
        difference.difference * 100.0,
        difference.lower * 100.0,
        difference.upper * 100.0,
    );
    VersionComparison {
        version: first.version.clone(),
        against: second.version.clone(),
        comparable: true,
        explanation,
        evaluated_on: Some(set),
        classes: first_report.classes.clone(),
        first: Some(scores(&first.version, first_report)),
        second: Some(scores(&second.version, second_report)),
        difference: Some(difference),
    }
}

fn accuracy_difference(first: &EvaluationReport, second: &EvaluationReport) -> AccuracyDifference {
    let (right_first, right_second) = (
        first.confusion_matrix.correct(),
        second.confusion_matrix.correct(),
    );
    let (images_first, images_second) = (
        first.confusion_matrix.total(),
        second.confusion_matrix.total(),
    );
    let (lower, upper) =
        difference_interval(right_first, images_first, right_second, images_second);
    AccuracyDifference {
        difference: first.confusion_matrix.accuracy() - second.confusion_matrix.accuracy(),
        lower,
        upper,
    }
}

fn scores(version: &str, report: &EvaluationReport) -> ScoresOnSet {
    ScoresOnSet {
        version: version.to_owned(),
        accuracy: report.accuracy,
        recall: report
            .classes
            .iter()
            .map(|class| {
                report
                    .per_class
                    .get(class)
                    .filter(|scores| scores.support > 0)
                    .map(|scores| scores.recall)
            })
            .collect(),
        confusion_matrix: report.confusion_matrix.0.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ml::metrics::ConfusionMatrix;

    const CLASSES: [&str; 2] = ["glioma", "notumor"];

    fn report(matrix: Vec<Vec<u64>>) -> EvaluationReport {
        EvaluationReport::new(&CLASSES, ConfusionMatrix(matrix), None, 0.0)
    }

    fn stored(version: &str, parent: Option<&str>, metrics: Value) -> StoredVersion {
        StoredVersion::parse(version, parent, &metrics)
    }

    #[test]
    fn a_child_is_compared_with_its_parent_on_the_parents_scores_from_the_same_run() {
        let shipped_report = report(vec![vec![400, 20], vec![10, 427]]);
        let shipped = stored("v1", None, serde_json::to_value(&shipped_report).unwrap());
        let before = report(vec![vec![9, 1], vec![0, 10]]);
        let after = report(vec![vec![10, 0], vec![0, 10]]);
        let uploads = EvaluationSet {
            kind: EvaluationSetKind::HeldOutUploads,
            images: 20,
        };
        let metrics = stored_metrics(&after, uploads, "v1", &before).unwrap();
        let child = stored("v2", Some("v1"), serde_json::from_str(&metrics).unwrap());

        let comparison = compare(&child, &shipped);
        assert!(comparison.comparable, "{}", comparison.explanation);
        assert_eq!(comparison.evaluated_on, Some(uploads));
        let first = comparison.first.unwrap();
        let second = comparison.second.unwrap();
        assert_eq!((first.version.as_str(), first.accuracy), ("v2", 1.0));
        // The parent's figure is the one from the same 20 images, not its 857-image one.
        assert_eq!((second.version.as_str(), second.accuracy), ("v1", 0.95));
        assert_eq!(second.recall, vec![Some(0.9), Some(1.0)]);
        let difference = comparison.difference.unwrap();
        assert!((difference.difference - 0.05).abs() < 1e-12);
        assert!(!difference.is_clear(), "20 images cannot show 5 points");
        assert!(
            comparison
                .explanation
                .contains("20 images of the held-out uploads"),
            "{}",
            comparison.explanation
        );

        // The other way round gives the same figures, mirrored.
        let mirrored = compare(&shipped, &child);
        assert_eq!(mirrored.first.unwrap().accuracy, 0.95);
        assert!((mirrored.difference.unwrap().difference + 0.05).abs() < 1e-12);
    }

    #[test]
    fn figures_from_different_images_are_not_comparable() {
        let shipped = stored(
            "v1",
            None,
            serde_json::to_value(report(vec![vec![400, 20], vec![10, 427]])).unwrap(),
        );
        let perfect = report(vec![vec![1, 0], vec![0, 1]]);
        let uploads = EvaluationSet {
            kind: EvaluationSetKind::HeldOutUploads,
            images: 2,
        };
        // A grandchild: its baseline is its parent v2, not the serving v1.
        let metrics = stored_metrics(&perfect, uploads, "v2", &perfect).unwrap();
        let grandchild = stored("v3", Some("v2"), serde_json::from_str(&metrics).unwrap());
        let comparison = compare(&grandchild, &shipped);
        assert!(!comparison.comparable);
        assert!(comparison.difference.is_none() && comparison.first.is_none());
        assert_eq!(
            comparison.explanation,
            "Not comparable: v3 was scored on 2 images of the held-out uploads, v1 on 857 images \
             of the original validation split. Figures from different images cannot be set side \
             by side."
        );
        // A version saved before the set was recorded names that.
        let old = stored(
            "v0",
            Some("v1"),
            serde_json::to_value(report(vec![vec![1, 0], vec![0, 1]])).unwrap(),
        );
        assert!(compare(&old, &shipped)
            .explanation
            .contains("v0 was scored on a set it did not record"));
    }

    #[test]
    fn two_versions_on_the_same_original_split_are_compared_directly() {
        let split = EvaluationSet {
            kind: EvaluationSetKind::OriginalSplit,
            images: 857,
        };
        let a = report(vec![vec![420, 0], vec![10, 427]]);
        let b = report(vec![vec![380, 40], vec![10, 427]]);
        let metrics_a = stored_metrics(&a, split, "v0", &a).unwrap();
        let metrics_b = stored_metrics(&b, split, "v9", &b).unwrap();
        let first = stored("va", Some("v0"), serde_json::from_str(&metrics_a).unwrap());
        let second = stored("vb", Some("v9"), serde_json::from_str(&metrics_b).unwrap());
        let comparison = compare(&first, &second);
        assert!(comparison.comparable);
        let difference = comparison.difference.unwrap();
        assert!(difference.is_clear(), "40 of 857 is a real difference");
        assert!(comparison
            .explanation
            .contains("857 images of the original validation split"));
        assert!(!comparison.explanation.contains("during the retraining"));
    }
}
