//! Drift: whether the slices reaching the serving model still look like its validation split.

use serde::{Deserialize, Serialize};

/// Where the serving model's drift stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DriftStatus {
    /// No model serves, or its trust check has no baseline to compare with.
    NoBaseline,
    /// Too few measured predictions in the window for the figures to mean anything yet.
    Collecting,
    /// Every signal's PSI is at or below the alert level.
    Stable,
    /// At least one signal's PSI is above the alert level.
    Drifting,
}

/// `GET /metrics/drift`: the serving model's recent predictions against its validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DriftReport {
    /// The serving version; `None` when no model serves.
    pub model_version: Option<String>,
    pub status: DriftStatus,
    /// Which predictions are recent, in words ("the last 500 predictions").
    pub window: String,
    /// Measured predictions of the serving version in the window.
    pub recent_predictions: usize,
    /// Fewest recent predictions before a status other than `collecting` is given.
    pub min_predictions: usize,
    /// Validation slices the baseline was measured on (0 without one).
    pub baseline_images: usize,
    /// A signal whose PSI is above this drifts.
    pub psi_alert: f64,
    /// One per signal the baseline has, when there are recent predictions.
    pub signals: Vec<SignalDrift>,
    pub computed_at: String,
}

/// One signal: its bins' shares on the baseline and recently, and how far apart they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SignalDrift {
    /// `not_mri_distance`, `top_probability`, `class_mix`, `mean_intensity`, `contrast`, `size`.
    pub signal: String,
    pub label: String,
    /// A label per bin: a range of values (the baseline's deciles), or a class.
    pub bins: Vec<String>,
    pub baseline_shares: Vec<f64>,
    pub recent_shares: Vec<f64>,
    /// Population stability index.
    pub psi: f64,
    /// Two-sample Kolmogorov-Smirnov statistic; absent for the class mix.
    pub ks: Option<f64>,
    pub recent_values: usize,
    /// The PSI is above the alert level (and enough predictions were measured).
    pub drifting: bool,
}

/// The `drift` entry of `/health`'s details while the serving model's inputs drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DriftAlert {
    pub model_version: String,
    /// The drifting signals with their PSI, e.g. `"size (PSI 0.84)"`.
    pub signals: Vec<String>,
    pub largest_psi: f64,
    pub psi_alert: f64,
    pub window: String,
    pub recent_predictions: usize,
    pub computed_at: String,
}

impl DriftReport {
    /// The alert this report raises, when it drifts.
    pub fn alert(&self) -> Option<DriftAlert> {
        if self.status != DriftStatus::Drifting {
            return None;
        }
        let drifting: Vec<&SignalDrift> = self.signals.iter().filter(|s| s.drifting).collect();
        Some(DriftAlert {
            model_version: self.model_version.clone().unwrap_or_default(),
            signals: drifting
                .iter()
                .map(|s| format!("{} (PSI {:.2})", s.label, s.psi))
                .collect(),
            largest_psi: drifting.iter().map(|s| s.psi).fold(0.0, f64::max),
            psi_alert: self.psi_alert,
            window: self.window.clone(),
            recent_predictions: self.recent_predictions,
            computed_at: self.computed_at.clone(),
        })
    }
}
