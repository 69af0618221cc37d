//! The PACS over DICOMweb: its studies and series as the Studies page lists them, a series
//! classified from it, and a result stored back in it.

use serde::{Deserialize, Serialize};

use crate::types::series::SeriesPredictionResponse;

/// `GET /pacs/studies`: a page of the PACS's studies, newest as the PACS orders them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StudyList {
    pub studies: Vec<StudyRow>,
    pub limit: usize,
    pub offset: usize,
    /// Only MR studies were asked for.
    pub mr_only: bool,
}

/// One study. Patient name and ID are shown to signed-in users (every caller of `/pacs/*` is one),
/// never stored and never logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StudyRow {
    pub study_instance_uid: String,
    /// `YYYY-MM-DD`.
    pub study_date: Option<String>,
    pub study_description: Option<String>,
    pub modalities: Vec<String>,
    pub patient_name: Option<String>,
    pub patient_id: Option<String>,
    pub series_count: Option<u64>,
    pub instance_count: Option<u64>,
    /// The newest verdict recorded for any of the study's series (found by the hashed UID).
    pub last_result: Option<StoredSeriesResult>,
}

/// `GET /pacs/series?study_uid=`: a study's series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StudySeries {
    pub study_instance_uid: String,
    pub series: Vec<SeriesRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeriesRow {
    pub series_instance_uid: String,
    pub modality: Option<String>,
    pub series_description: Option<String>,
    pub series_number: Option<u64>,
    pub instance_count: Option<u64>,
    /// Only MR series are classified (others are listed, greyed out).
    pub classifiable: bool,
    /// This series' newest recorded verdict.
    pub last_result: Option<StoredSeriesResult>,
}

/// A verdict as recorded (no UID: those are kept hashed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StoredSeriesResult {
    pub id: i64,
    /// `None`: no slice could be answered.
    pub class_name: Option<String>,
    pub confidence: Option<f64>,
    pub needs_review: bool,
    pub slices: i64,
    pub model_version: String,
    /// `upload` or `pacs`.
    pub source: String,
    pub sent_to_pacs_at: Option<String>,
    pub created_at: String,
}

/// `POST /pacs/classify` and `POST /pacs/store`: the series fetched with WADO-RS and classified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PacsClassification {
    #[serde(flatten)]
    pub result: SeriesPredictionResponse,
    /// Fetching the series from the PACS (WADO-RS), seconds.
    pub fetch_seconds: f64,
    /// Classifying it once fetched, seconds.
    pub classify_seconds: f64,
    /// Set by `POST /pacs/store`: what was stored in the PACS.
    pub stored: Option<StoredInPacs>,
}

/// The result stored in the PACS as a Secondary Capture series of the source study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StoredInPacs {
    pub study_instance_uid: String,
    /// The new series' UID.
    pub series_instance_uid: String,
    pub images: usize,
    /// Images the PACS refused.
    pub failed: usize,
    pub seconds: f64,
}
