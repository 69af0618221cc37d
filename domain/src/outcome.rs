//! How a retraining job ended, in fields a page can lay out: what happened, why, and what a person
//! can do next, instead of one paragraph.

use serde::{Deserialize, Serialize};

/// The kinds of ending a job can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The gate accepted the new version and it serves.
    Activated,
    /// Kept as a candidate: judged only on uploads, which cannot vouch for their own labels.
    KeptUntrusted,
    /// Kept as a candidate: too few validation images to tell.
    KeptTooFewImages,
    /// Kept as a candidate: it scored worse than the serving version.
    KeptWorse,
    Failed,
    /// An admin cancelled it.
    Cancelled,
}

/// A link to where the next step is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NextStepLink {
    pub label: String,
    /// A path in this app, e.g. `/upload?purpose=reference`.
    pub href: String,
}

/// How one job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobOutcome {
    pub kind: OutcomeKind,
    /// One line: what happened.
    pub headline: String,
    /// Why, with the figures it was decided on.
    pub reason: String,
    /// What a person can do about it.
    pub next_step: String,
    #[serde(default)]
    pub link: Option<NextStepLink>,
}
