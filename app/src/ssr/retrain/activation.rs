//! The activation gate: whether a retrained version may serve by itself, decided from its scores
//! alone (no I/O), so every branch is tested directly.

use domain::comparison::EvaluationSet;
use domain::outcome::{JobOutcome, NextStepLink, OutcomeKind};
use domain::SessionStatus;
use ml::finetune::data::MIN_REFERENCE_IMAGES;

/// Below this many held-out images a before/after comparison is noise: the new version is kept as a
/// candidate for a person to judge.
pub const MIN_VALIDATION_IMAGES: u64 = 20;

/// What the gate sees of one retraining run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// Validation accuracy of the serving model and of the new version, on the same images.
    pub before: f64,
    pub after: f64,
    pub validation_images: u64,
    /// Whether those images are a set uploads cannot change (see `ValidationSet::is_trusted`).
    pub trusted: bool,
    /// Accuracy the new version may lose and still serve (0.005 = half a point).
    pub tolerance: f64,
}

/// The gate's verdict, in the order the rules are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Activate,
    /// Judged on uploads only, which cannot vouch for themselves.
    KeepUntrusted,
    /// Too few validation images to tell.
    KeepTooFewImages,
    /// Scored worse than the serving model by more than the tolerance.
    KeepWorse,
}

pub fn decide(evidence: &Evidence) -> Decision {
    if !evidence.trusted {
        Decision::KeepUntrusted
    } else if evidence.validation_images < MIN_VALIDATION_IMAGES {
        Decision::KeepTooFewImages
    } else if evidence.after + evidence.tolerance >= evidence.before {
        Decision::Activate
    } else {
        Decision::KeepWorse
    }
}

impl Decision {
    /// The session's final status: only an activated version completes it.
    pub fn session_status(self) -> SessionStatus {
        match self {
            Decision::Activate => SessionStatus::Completed,
            _ => SessionStatus::Rejected,
        }
    }

    /// The session's ending in fields: what happened, on which images, and what to do next in the
    /// app's own words (the page links the step).
    pub fn outcome(self, version: &str, evidence: &Evidence, set: EvaluationSet) -> JobOutcome {
        let figures = format!(
            "validation accuracy {:.2}% before, {:.2}% after, on the same {}",
            evidence.before * 100.0,
            evidence.after * 100.0,
            set.describe()
        );
        let force = "or, if you have checked it yourself, force-activate it in the versions table \
                     below, giving a reason";
        let reference_link = Some(NextStepLink {
            label: "Upload reference images".into(),
            href: "/upload?purpose=reference".into(),
        });
        match self {
            Decision::Activate => JobOutcome {
                kind: OutcomeKind::Activated,
                headline: format!("{version} is now serving"),
                reason: format!(
                    "It scored at least as well as the version it replaces ({figures}; tolerance \
                     {:.2} points).",
                    evidence.tolerance * 100.0
                ),
                next_step: "Watch the Monitor page; if anything looks wrong, activate the \
                            previous version in the versions table below."
                    .into(),
                link: Some(NextStepLink {
                    label: "Open the Monitor".into(),
                    href: "/monitor".into(),
                }),
            },
            Decision::KeepUntrusted => JobOutcome {
                kind: OutcomeKind::KeptUntrusted,
                headline: format!("{version} kept as a candidate, not activated"),
                reason: format!(
                    "It could only be judged on uploads ({figures}), and uploads cannot vouch \
                     for themselves: wrong labels would confirm themselves."
                ),
                next_step: format!(
                    "Give the server a trusted set to judge on: an admin uploads at least \
                     {MIN_REFERENCE_IMAGES} labelled images as the reference set, then retrains; \
                     {force}."
                ),
                link: reference_link,
            },
            Decision::KeepTooFewImages => JobOutcome {
                kind: OutcomeKind::KeptTooFewImages,
                headline: format!("{version} kept as a candidate, not activated"),
                reason: format!(
                    "Only {} validation images: too few to tell whether it is better ({figures}).",
                    evidence.validation_images
                ),
                next_step: format!(
                    "Upload more labelled images (at least {MIN_VALIDATION_IMAGES} to judge on), \
                     then retrain; {force}."
                ),
                link: reference_link,
            },
            Decision::KeepWorse => JobOutcome {
                kind: OutcomeKind::KeptWorse,
                headline: format!("{version} kept as a candidate, not activated"),
                reason: format!(
                    "It scored worse than the serving version by more than the tolerance of \
                     {:.2} points ({figures}).",
                    evidence.tolerance * 100.0
                ),
                next_step: "Check the new uploads' labels on the Upload page (the held-for-review \
                            queue), then retrain with more epochs; the serving version is \
                            unchanged."
                    .into(),
                link: Some(NextStepLink {
                    label: "Review uploads".into(),
                    href: "/upload".into(),
                }),
            },
        }
    }

    /// The session's message; `note` says how validation was done when that matters.
    pub fn message(self, version: &str, evidence: &Evidence, note: &str) -> String {
        let before = evidence.before * 100.0;
        let after = evidence.after * 100.0;
        let images = evidence.validation_images;
        match self {
            Decision::Activate => format!(
                "{version} is now serving: validation accuracy {before:.2}% -> {after:.2}% on \
                 {images} images{note}"
            ),
            Decision::KeepUntrusted => format!(
                "{version} kept as a candidate, not activated: there is no trusted reference set \
                 to judge it on (validation accuracy {before:.2}% -> {after:.2}% on {images} \
                 images{note}). Uploads cannot vouch for themselves, since wrong labels would \
                 confirm themselves; start the server with --data-dir (TRAINING_DATA_DIR), or have \
                 an admin upload at least {MIN_REFERENCE_IMAGES} labelled images with \
                 purpose=reference. An admin can still force-activate it, giving a reason"
            ),
            Decision::KeepTooFewImages => format!(
                "{version} kept as a candidate, not activated: only {images} validation \
                 images{note}, too few to tell whether it is better (validation accuracy \
                 {before:.2}% -> {after:.2}%); activate it by hand if you trust it"
            ),
            Decision::KeepWorse => format!(
                "{version} kept as a candidate, not activated: validation accuracy fell from \
                 {before:.2}% to {after:.2}% (tolerance {:.2} points){note}",
                evidence.tolerance * 100.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::comparison::EvaluationSetKind;

    #[test]
    fn every_ending_says_what_happened_why_and_what_next() {
        let uploads = EvaluationSet {
            kind: EvaluationSetKind::HeldOutUploads,
            images: 3,
        };
        let untrusted = Evidence {
            trusted: false,
            validation_images: 3,
            ..TRUSTED
        };
        let outcome = Decision::KeepUntrusted.outcome("v2", &untrusted, uploads);
        assert_eq!(outcome.kind, OutcomeKind::KeptUntrusted);
        assert_eq!(outcome.headline, "v2 kept as a candidate, not activated");
        assert!(
            outcome.reason.contains(
                "95.00% before, 95.00% after, on the same 3 images of the held-out uploads"
            ),
            "{}",
            outcome.reason
        );
        assert!(
            outcome.next_step.contains("at least 300 labelled images"),
            "{}",
            outcome.next_step
        );
        // The page's words, not the command line's.
        assert!(
            !outcome.next_step.contains("--data-dir"),
            "{}",
            outcome.next_step
        );
        assert_eq!(outcome.link.unwrap().href, "/upload?purpose=reference");

        let split = EvaluationSet {
            kind: EvaluationSetKind::OriginalSplit,
            images: 857,
        };
        let activated = Decision::Activate.outcome("v3", &TRUSTED, split);
        assert_eq!(activated.kind, OutcomeKind::Activated);
        assert_eq!(activated.headline, "v3 is now serving");
        assert_eq!(activated.link.unwrap().href, "/monitor");
        for decision in [Decision::KeepTooFewImages, Decision::KeepWorse] {
            let outcome = decision.outcome("v4", &TRUSTED, split);
            assert!(!outcome.reason.is_empty() && !outcome.next_step.is_empty());
            assert!(outcome.link.is_some());
        }
    }

    const TRUSTED: Evidence = Evidence {
        before: 0.95,
        after: 0.95,
        validation_images: 857,
        trusted: true,
        tolerance: 0.005,
    };

    #[test]
    fn an_equal_or_better_version_on_trusted_images_serves() {
        assert_eq!(decide(&TRUSTED), Decision::Activate);
        let better = Evidence {
            after: 0.97,
            ..TRUSTED
        };
        assert_eq!(decide(&better), Decision::Activate);
        assert_eq!(
            Decision::Activate.session_status(),
            SessionStatus::Completed
        );
    }

    #[test]
    fn a_loss_within_the_tolerance_serves_and_beyond_it_does_not() {
        let within = Evidence {
            after: 0.946,
            ..TRUSTED
        };
        assert_eq!(decide(&within), Decision::Activate);
        let beyond = Evidence {
            after: 0.944,
            ..TRUSTED
        };
        assert_eq!(decide(&beyond), Decision::KeepWorse);
        let message = Decision::KeepWorse.message("v2", &beyond, "");
        assert!(
            message.contains("fell from 95.00% to 94.40% (tolerance 0.50 points)"),
            "{message}"
        );
        assert_eq!(
            Decision::KeepWorse.session_status(),
            SessionStatus::Rejected
        );
    }

    #[test]
    fn uploads_cannot_vouch_for_themselves_even_when_better() {
        let untrusted = Evidence {
            after: 1.0,
            trusted: false,
            ..TRUSTED
        };
        assert_eq!(decide(&untrusted), Decision::KeepUntrusted);
        let message = Decision::KeepUntrusted.message("v2", &untrusted, "");
        assert!(message.contains("purpose=reference"), "{message}");
        assert!(
            message.contains(&MIN_REFERENCE_IMAGES.to_string()),
            "{message}"
        );
    }

    #[test]
    fn too_few_images_is_not_evidence() {
        let few = Evidence {
            validation_images: MIN_VALIDATION_IMAGES - 1,
            after: 1.0,
            ..TRUSTED
        };
        assert_eq!(decide(&few), Decision::KeepTooFewImages);
        let enough = Evidence {
            validation_images: MIN_VALIDATION_IMAGES,
            ..few
        };
        assert_eq!(decide(&enough), Decision::Activate);
        assert!(Decision::KeepTooFewImages
            .message("v2", &few, "")
            .contains("only 19 validation images"));
    }
}
