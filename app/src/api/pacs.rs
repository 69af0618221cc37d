//! The PACS over DICOMweb: `GET /pacs/studies`, `GET /pacs/series` (viewers and above: they show
//! patient names and IDs), `POST /pacs/classify` and `/pacs/explain` (viewers and above) and
//! `POST /pacs/store`
//! (annotators and admins: it writes into the hospital's PACS). Without `DICOMWEB_URL` each answers
//! 503; a PACS that is down or refuses our credentials is 502, a study or series it lacks 404.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use crate::error::AppError;
use crate::types::pacs::{PacsClassification, StudyList, StudySeries};

/// `GET /pacs/studies?limit=&offset=&mr_only=&patient_id=&patient_name=`: a page of the PACS's
/// studies (QIDO-RS), each with the newest verdict recorded for it.
#[server(prefix = "", endpoint = "pacs/studies", input = GetUrl)]
pub async fn pacs_studies(
    #[server(default)] limit: Option<usize>,
    #[server(default)] offset: Option<usize>,
    #[server(default)] mr_only: Option<bool>,
    #[server(default)] patient_id: Option<String>,
    #[server(default)] patient_name: Option<String>,
) -> Result<StudyList, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(crate::types::auth::Role::Viewer)?;
    let search = crate::ssr::pacs::StudySearch {
        limit: limit.unwrap_or(25),
        offset: offset.unwrap_or(0),
        mr_only: mr_only.unwrap_or(false),
        patient_id,
        patient_name,
    };
    crate::ssr::pacs::studies(&state, search).await
}

/// `GET /pacs/series?study_uid=`: a study's series (QIDO-RS), MR ones classifiable.
#[server(prefix = "", endpoint = "pacs/series", input = GetUrl)]
pub async fn pacs_series(study_uid: String) -> Result<StudySeries, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(crate::types::auth::Role::Viewer)?;
    crate::ssr::pacs::series(&state, &study_uid).await
}

/// `POST /pacs/classify` `{study_uid, series_uid, images}`: the series fetched with WADO-RS and
/// classified slice by slice, with its verdict (as `/predict/series`).
#[server(prefix = "", endpoint = "pacs/classify", input = Json)]
pub async fn pacs_classify(
    study_uid: String,
    series_uid: String,
    #[server(default)] images: bool,
) -> Result<PacsClassification, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(crate::types::auth::Role::Viewer)?;
    crate::ssr::pacs::classify(&state, &study_uid, &series_uid, images, false).await
}

/// `POST /pacs/store` `{study_uid, series_uid, images}`: classified as by `/pacs/classify`, then every
/// answered slice's heatmap, with the answer and "research use only" burned in, stored in the PACS
/// as a Secondary Capture series of the same study (STOW-RS).
#[server(prefix = "", endpoint = "pacs/store", input = Json)]
pub async fn pacs_store(
    study_uid: String,
    series_uid: String,
    #[server(default)] images: bool,
) -> Result<PacsClassification, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(crate::types::auth::Role::Annotator)?;
    crate::ssr::pacs::classify(&state, &study_uid, &series_uid, images, true).await
}

/// `POST /pacs/explain` `{study_uid, series_uid, instance_uid}`: where the serving model looks on
/// one instance of a PACS series (the Studies viewer's heatmap); records no prediction.
#[server(prefix = "", endpoint = "pacs/explain", input = Json)]
pub async fn pacs_explain(
    study_uid: String,
    series_uid: String,
    instance_uid: String,
) -> Result<crate::types::predict::ExplanationResponse, AppError> {
    let state = crate::ssr::state()?;
    crate::ssr::auth::require(crate::types::auth::Role::Viewer)?;
    crate::ssr::pacs::explain(&state, &study_uid, &series_uid, &instance_uid).await
}
